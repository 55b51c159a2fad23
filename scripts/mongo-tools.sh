#!/usr/bin/env bash
# scripts/mongo-tools.sh: mongodump and mongorestore (MongoDB Database Tools) for the backup round-trip
# tests, built from the Go module github.com/mongodb/mongo-tools and cached. Prints the bin directory.
#
# Usage:  bash scripts/mongo-tools.sh            # build if missing, print the bin dir
#         PATH="$(bash scripts/mongo-tools.sh):$PATH" mongodump --version
#
# Debian has no package for the Database Tools, and the tools' tags ("100.10.0") are not Go module
# versions (no "v", and a major version above 1 without a /v100 suffix), so a release is fetched by the
# pseudo-version of its tagged commit. Release 100.10.0 is commit 6d4f001be3fc (2024-07-24); the Go
# module proxy serves that pseudo-version (it refuses the version list and the pseudo-versions of later
# releases here). It reads the password from --config (tools >= 100.3.0), which
# components/backup/mongodb.sh relies on.
#
# The checksum database has no entry for that pseudo-version (sum.golang.org answers 404), so it is
# skipped for this one module (GONOSUMDB; its dependencies are still checked against it) and the
# module's hash is pinned here instead: MONGO_TOOLS_SUM is the h1: hash of the module zip, checked
# before anything is built. It was taken from the proxy's zip after checking that zip's files are
# exactly the tree of tag 100.10.0 in the mongodb/mongo-tools repository (less vendor/, which module
# zips leave out).
#
# The main packages are github.com/mongodb/mongo-tools/{mongodump,mongorestore}/main. `go install
# pkg@version` cannot be used: it looks up the module's deprecation through the version list, which the
# proxy refuses. So both are built from a throwaway wrapper module that requires the tools at that
# version (`go get`, which records every dependency's hash from the checksum database in its go.sum),
# with `go build -o` (both packages are named main). Version strings are set as the tools' own build
# does (-X main.VersionStr / main.GitCommit).
#
# Environment:
#   AIPD_CACHE  cache root (default $HOME/.cache/ai-platform-data); this script uses
#               mongo-tools-<version>/bin and go/ (module + build cache, shared with services.sh).
# Needs: Go >= 1.21 and access to the Go module proxy on first run; nothing afterwards.
set -euo pipefail
umask 022

MONGO_TOOLS_VERSION=100.10.0
MONGO_TOOLS_MODULE=github.com/mongodb/mongo-tools
MONGO_TOOLS_PSEUDO=v0.0.0-20240724183527-6d4f001be3fc
MONGO_TOOLS_COMMIT=6d4f001be3fc
MONGO_TOOLS_SUM="h1:BOTtfrCNuPnXgnEDvmXYiP0K8WF5JzDh3dQwZ9QThF0="
TOOLS=(mongodump mongorestore)

CACHE="${AIPD_CACHE:-$HOME/.cache/ai-platform-data}"
DIR="$CACHE/mongo-tools-$MONGO_TOOLS_VERSION"
BIN="$DIR/bin"

LOG_TAG=mongo-tools
# shellcheck source=lib/proc.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/proc.sh"

installed() {
  local t
  for t in "${TOOLS[@]}"; do [[ -x $BIN/$t ]] || return 1; done
}

# In the wrapper module (the current directory): require the tools, then build each main package.
compile() {
  local t pkgs=()
  for t in "${TOOLS[@]}"; do pkgs+=("$MONGO_TOOLS_MODULE/$t/main@$MONGO_TOOLS_PSEUDO"); done
  go mod init aipd.local/mongo-tools || return 1
  # Naming the main packages (not just the module) records the hash of every module they import.
  go get "${pkgs[@]}" || return 1
  for t in "${TOOLS[@]}"; do
    go build -trimpath -o "out/$t" \
      -ldflags="-s -w -X main.VersionStr=$MONGO_TOOLS_VERSION -X main.GitCommit=$MONGO_TOOLS_COMMIT" \
      "$MONGO_TOOLS_MODULE/$t/main" || return 1
  done
}

build() {
  # shellcheck disable=SC2119 # no extra GOFLAGS
  go_env
  export GONOSUMDB="$MONGO_TOOLS_MODULE"
  local tmp t
  mkdir -p "$DIR"
  tmp=$(mktemp -d "$DIR/build.XXXXXX")
  # shellcheck disable=SC2064 # expand now: the path is fixed
  trap "rm -rf '$tmp'" EXIT
  log "building mongodump and mongorestore $MONGO_TOOLS_VERSION ($MONGO_TOOLS_MODULE@$MONGO_TOOLS_PSEUDO)"
  (
    cd "$tmp"
    go mod download -json "$MONGO_TOOLS_MODULE@$MONGO_TOOLS_PSEUDO" >"$DIR/download.log" 2>&1 ||
      die "downloading $MONGO_TOOLS_MODULE@$MONGO_TOOLS_PSEUDO failed (log: $DIR/download.log)"
    local sum
    sum=$(sed -n 's/^[[:space:]]*"Sum": "\(.*\)",$/\1/p' "$DIR/download.log")
    [[ $sum == "$MONGO_TOOLS_SUM" ]] ||
      die "$MONGO_TOOLS_MODULE@$MONGO_TOOLS_PSEUDO has hash '$sum', expected $MONGO_TOOLS_SUM: not building it"
    compile >"$DIR/build.log" 2>&1 || { tail -n 20 "$DIR/build.log" >&2; die "build failed (log: $DIR/build.log)"; }
  )
  mkdir -p "$BIN"
  # Each binary appears under its final name only when complete, so a killed build is simply redone.
  for t in "${TOOLS[@]}"; do mv -f "$tmp/out/$t" "$BIN/$t"; done
}

installed || build
version=$("$BIN/mongodump" --version) || die "$BIN/mongodump does not run"
[[ $version == *"version: $MONGO_TOOLS_VERSION"* ]] || die "$BIN/mongodump does not report version $MONGO_TOOLS_VERSION"
echo "$BIN"
