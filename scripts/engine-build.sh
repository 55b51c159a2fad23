#!/usr/bin/env bash
# engine-build.sh: build (or reuse from cache) a real Pulumi engine for local/CI end-to-end runs.
#
#   bash scripts/engine-build.sh          # last stdout line = the bin dir; progress goes to stderr
#   BIN=$(bash scripts/engine-build.sh | tail -n1); export PATH="$BIN:$PATH"
#
# What it builds, from the Go module proxy only (no other network), pinned to v3.248.0 (the release of the
# npm @pulumi/pulumi we pin, the newest that runs on Node 20):
#   pulumi                          github.com/pulumi/pulumi/pkg/v3/cmd/pulumi (the real CLI and engine)
#   pulumi-language-nodejs          OUR OWN host, scripts/engine/cmd/pulumi-language-nodejs: the proxy does
#                                   not serve upstream's .../sdk/nodejs/cmd/pulumi-language-nodejs/v3 (403 for
#                                   every version); ours speaks the same protocol and runs the program's
#                                   @pulumi/pulumi/cmd/{run,run-policy-pack,run-plugin}
#   pulumi-resource-pulumi-nodejs   dynamic-provider launcher (scripts/engine/, copied)
# No pulumi-analyzer-policy: v3.248 starts Node policy packs through the language host (RunPlugin).
# The CLI finds the two helper plugins beside itself, so only `pulumi` itself needs to be on PATH.
#
# Cache: ${AIPD_CACHE:-$HOME/.cache/ai-platform-data}/engine/v3.248.0/bin, reused while the hash of
# scripts/engine/* (go.mod, go.sum, host source, launcher) + the recipe below is unchanged (a warm run takes
# well under a second). Cold build on 2 cores: about 10 minutes with an empty Go module/build cache (most of
# it compiling; ~1.4 GB of modules downloaded), far less when GOCACHE is warm. AIPD_ENGINE_REBUILD=1 forces
# a rebuild. Needs Go >= 1.25.11 (CGO not needed) and, at run time, node + npm.
#
# Environment for e2e runs (all verified with `pulumi up/preview/refresh/destroy` and policy packs):
#   PATH="$BIN:$PATH"
#   PULUMI_HOME=<tmp dir>                       keeps ~/.pulumi (plugins, credentials) out of the run
#   PULUMI_BACKEND_URL=file://<tmp dir>/state   local state backend, no login
#   PULUMI_CONFIG_PASSPHRASE=<anything>         passphrase secrets provider (stack init, secrets)
#   PULUMI_SKIP_UPDATE_CHECK=true               no version check against the internet
#   PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
#                                               never download provider plugins. Without it, a program
#                                               whose node_modules holds a provider package
#                                               (@pulumi/random, @pulumi/kubernetes, ...) makes `pulumi
#                                               up` try to download that plugin and fail offline, even
#                                               if the program registers none of its resources. With
#                                               it, unused provider packages are harmless; a resource
#                                               that really uses a missing provider still fails.
#   PULUMI_DIY_BACKEND_NO_LEGACY_WARNING=true   (optional) quiets the file-backend notice
# Policy packs: `pulumi preview|up --policy-pack <dir>` where <dir> holds PulumiPolicy.yaml
# (runtime: nodejs), index.ts and node_modules with @pulumi/policy (1.21.0 works with @pulumi/pulumi
# 3.248.0); a mandatory violation makes the command exit non-zero. Nothing else is needed.
set -euo pipefail

VERSION=v3.248.0
# Bump when the build commands below change, so cached engines are rebuilt.
RECIPE=1

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
moddir=$here/engine
root=${AIPD_CACHE:-$HOME/.cache/ai-platform-data}/engine/$VERSION
bin=$root/bin
stamp=$root/build.key

log() { echo "engine-build: $*" >&2; }

key=$( {
	echo "version=$VERSION recipe=$RECIPE"
	cd "$moddir" && find . -type f ! -name '*~' | LC_ALL=C sort | while read -r f; do
		echo "$f $(sha256sum <"$f" | cut -d' ' -f1)"
	done
} | sha256sum | cut -d' ' -f1)

if [[ "${AIPD_ENGINE_REBUILD:-}" != 1 && -f "$stamp" && "$(cat "$stamp")" == "$key" &&
	-x "$bin/pulumi" && -x "$bin/pulumi-language-nodejs" && -x "$bin/pulumi-resource-pulumi-nodejs" ]]; then
	log "cached engine $VERSION ($key)"
	echo "$bin"
	exit 0
fi

command -v go >/dev/null || { log "go is not installed"; exit 1; }
gover=$(go env GOVERSION)
if [[ "$(printf '%s\n' go1.25.11 "$gover" | sort -V | head -n1)" != go1.25.11 ]]; then
	log "needs Go >= 1.25.11, found $gover"
	exit 1
fi

mkdir -p "$root"
# One build at a time per cache dir; a second caller waits, then finds the fresh stamp.
exec 9>"$root/.lock"
if ! flock -n 9; then
	log "another engine build is running; waiting"
	flock 9
	if [[ -f "$stamp" && "$(cat "$stamp")" == "$key" && "${AIPD_ENGINE_REBUILD:-}" != 1 ]]; then
		echo "$bin"
		exit 0
	fi
fi

log "building Pulumi $VERSION into $bin (cold: ~10 min on 2 cores)"
start=$SECONDS
tmp=$(mktemp -d "$root/.build.XXXXXX")
chmod 0755 "$tmp"
trap 'rm -rf "$tmp"' EXIT

ldflags="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$VERSION"
nice_cmd=()
command -v nice >/dev/null && nice_cmd=(nice -n 10)
(
	cd "$moddir"
	# go.mod/go.sum are committed and complete: -mod=readonly fails loudly instead of editing them.
	CGO_ENABLED=0 GOFLAGS=-mod=readonly "${nice_cmd[@]}" go build -trimpath -ldflags "$ldflags" \
		-o "$tmp/" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi ./cmd/pulumi-language-nodejs
) >&2
install -m 0755 "$moddir/pulumi-resource-pulumi-nodejs" "$tmp/"

got=$("$tmp/pulumi" version)
if [[ "$got" != "$VERSION" ]]; then
	log "built pulumi reports version '$got', expected $VERSION"
	exit 1
fi

rm -rf "$bin.old"
[[ -d "$bin" ]] && mv "$bin" "$bin.old"
mv "$tmp" "$bin"
trap - EXIT
rm -rf "$bin.old"
echo "$key" >"$stamp"
log "built in $((SECONDS - start))s: $(cd "$bin" && echo *)"
echo "$bin"
