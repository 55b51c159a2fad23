#!/usr/bin/env bash
# engine-build.sh: build (or reuse from cache) the real Pulumi engine for end-to-end runs.
#
#   BIN=$(bash scripts/engine-build.sh | tail -n1)    # progress on stderr, bin dir = last stdout line
#
# Builds, from the Go module proxy only, pinned to v3.248.0 (= our npm @pulumi/pulumi, newest for Node 20):
#   pulumi                         github.com/pulumi/pulumi/pkg/v3/cmd/pulumi: the real CLI + engine
#   pulumi-language-nodejs         OUR OWN host (scripts/engine/cmd/pulumi-language-nodejs): the proxy
#                                  serves no version of upstream's .../sdk/nodejs/cmd/pulumi-language-nodejs/v3
#                                  (403). Same gRPC protocol; runs the program's @pulumi/pulumi/cmd/run,
#                                  cmd/run-policy-pack (policy packs) and cmd/run-plugin.
#   pulumi-resource-pulumi-nodejs  dynamic-provider launcher (copied from scripts/engine/)
#   plugins/resource-random-v4.21.2/pulumi-resource-random
#                                  provider for @pulumi/random's RandomPassword (every component registers
#                                  some, external mode too). OUR OWN bridge build (scripts/engine/random):
#                                  the proxy serves no version of github.com/pulumi/pulumi-random (403), so
#                                  it bridges the upstream Terraform provider (terraform-providers/
#                                  terraform-provider-random @ c6e90de, 2023-12, the 3.6 line) with
#                                  pulumi-terraform-bridge v3.120.0 (newest served), tokens random:index/*
#                                  as in @pulumi/random. Schema generated at build time by pulumi-tfgen-random.
#                                  Reports version 4.21.2+aipd; the directory name (4.21.2, = the npm SDK's
#                                  pulumi.version, checked against package.json) is what the engine matches.
# No pulumi-analyzer-policy: v3.248 starts Node policy packs through the language host (RunPlugin).
# `pulumi` finds both helpers beside itself. The random plugin is in the plugin-cache layout, NOT beside
# `pulumi`: found on PATH the engine would use it but warn "using pulumi-resource-random from $PATH" in
# every command's output. Link it into your PULUMI_HOME: a real directory (the engine skips a symlinked
# one), the binary may be a link:
#   d=$PULUMI_HOME/plugins/resource-random-v4.21.2; mkdir -p "$d"
#   ln -sf "$BIN/plugins/resource-random-v4.21.2/pulumi-resource-random" "$d/"
#
# Cache: ${AIPD_CACHE:-$HOME/.cache/ai-platform-data}/engine/v3.248.0/bin, reused while the hash of
# scripts/engine/* and RECIPE below is unchanged (warm run < 0.1 s; AIPD_ENGINE_REBUILD=1 forces a build).
# Cold build, 2 cores, empty Go module + build caches (measured): 4.8 min = 3.5 min CLI + host, 1.4 min
# random plugin (2.6 GB modules, 2.2 GB GOCACHE in all); with a warm GOCACHE ~10 s.
# Needs Go >= 1.25.11 (CGO off); node + npm at run time.
#
# Environment for e2e runs (verified: stack init, config set --secret, up, preview --expect-no-changes,
# refresh, destroy, dynamic providers, policy packs):
#   PATH="$BIN:$PATH"
#   PULUMI_HOME=<tmp>                            no ~/.pulumi (plugins, credentials, workspaces)
#   PULUMI_BACKEND_URL=file://<tmp>/state        local state, no login
#   PULUMI_CONFIG_PASSPHRASE=<anything>          passphrase secrets provider
#   PULUMI_SKIP_UPDATE_CHECK=true
#   PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
#   $PULUMI_HOME/plugins/resource-random-v4.21.2/pulumi-resource-random -> $BIN/plugins/... (see above)
#     Provider packages in node_modules ({"pulumi":{"resource":true}}: @pulumi/random, @pulumi/kubernetes)
#     make the engine download their plugins. Offline that fails (5 tries each) but is NOT fatal: an
#     import with no resources of that provider runs either way; the flag just skips the attempts (~3 s
#     here; longer where connections hang). A resource that uses a missing provider fails: "no resource
#     plugin 'pulumi-resource-random' found". `pulumi install` downloads plugins regardless: use npm ci.
# Policy packs: `pulumi preview|up --policy-pack <dir>`; <dir> has PulumiPolicy.yaml (runtime: nodejs),
# package.json WITH a "version" (@pulumi/policy refuses to start without it), index.ts and installed
# node_modules (@pulumi/policy 1.21.0 + @pulumi/pulumi 3.248.0). A mandatory violation exits non-zero.
set -euo pipefail

VERSION=v3.248.0
# The random provider plugin's version: must equal package.json's @pulumi/random (its pulumi.version).
RANDOM_VERSION=4.21.2
# Bump when the build commands below change, so cached engines are rebuilt.
RECIPE=3

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
moddir=$here/engine
root=${AIPD_CACHE:-$HOME/.cache/ai-platform-data}/engine/$VERSION
bin=$root/bin
stamp=$root/build.key

log() { echo "engine-build: $*" >&2; }

pkgjson=$here/../package.json
if [[ -f "$pkgjson" ]] && ! grep -q "\"@pulumi/random\": \"$RANDOM_VERSION\"" "$pkgjson"; then
	log "package.json's @pulumi/random is not $RANDOM_VERSION: update RANDOM_VERSION (the plugin version the engine asks for)"
	exit 1
fi
randomdir=plugins/resource-random-v$RANDOM_VERSION

key=$( {
	echo "version=$VERSION recipe=$RECIPE random=$RANDOM_VERSION"
	cd "$moddir" && find . -type f ! -name '*~' | LC_ALL=C sort | while read -r f; do
		echo "$f $(sha256sum <"$f" | cut -d' ' -f1)"
	done
} | sha256sum | cut -d' ' -f1)

if [[ "${AIPD_ENGINE_REBUILD:-}" != 1 && -f "$stamp" && "$(cat "$stamp")" == "$key" &&
	-x "$bin/pulumi" && -x "$bin/pulumi-language-nodejs" && -x "$bin/pulumi-resource-pulumi-nodejs" && -x "$bin/$randomdir/pulumi-resource-random" ]]; then
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

log "building Pulumi $VERSION + random plugin into $bin (cold: ~5 min on 2 cores)"
start=$SECONDS
tmp=$(mktemp -d "$root/.build.XXXXXX")
src=$(mktemp -d "$root/.src.XXXXXX")
chmod 0755 "$tmp"
trap 'rm -rf "$tmp" "$src"' EXIT

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
log "CLI built in $((SECONDS - start))s; building the random provider plugin"

# The random provider: a copy of its module gets the generated schema.json + bridge-metadata.json (embedded
# by cmd/pulumi-resource-random), written by pulumi-tfgen-random from the same ProviderInfo.
cp -R "$moddir/random/." "$src/"
(
	cd "$src"
	CGO_ENABLED=0 GOFLAGS=-mod=readonly "${nice_cmd[@]}" go build -trimpath -ldflags "-s -w" \
		-o "$src/.bin/" ./cmd/pulumi-tfgen-random
	# No network: tfgen only looks for upstream docs in ./provider (absent), and carries on without them.
	if ! RANDOM_PROVIDER_VERSION=$RANDOM_VERSION "$src/.bin/pulumi-tfgen-random" schema \
		--out "$src/cmd/pulumi-resource-random" >"$src/tfgen.log" 2>&1; then
		cat "$src/tfgen.log"
		exit 1
	fi
	grep -q '"random:index/randomPassword:RandomPassword"' cmd/pulumi-resource-random/schema.json ||
		{ echo "engine-build: generated schema lacks random:index/randomPassword:RandomPassword"; exit 1; }
	CGO_ENABLED=0 GOFLAGS=-mod=readonly "${nice_cmd[@]}" go build -trimpath \
		-ldflags "-s -w -X main.version=$RANDOM_VERSION+aipd" \
		-o "$tmp/$randomdir/" ./cmd/pulumi-resource-random
) >&2

got=$("$tmp/pulumi" version)
if [[ "$got" != "$VERSION" ]]; then
	log "built pulumi reports version '$got', expected $VERSION"
	exit 1
fi
got=$("$tmp/$randomdir/pulumi-resource-random" -version)
if [[ "$got" != "$RANDOM_VERSION+aipd" ]]; then
	log "built pulumi-resource-random reports version '$got', expected $RANDOM_VERSION+aipd"
	exit 1
fi

rm -rf "$bin.old"
[[ -d "$bin" ]] && mv "$bin" "$bin.old"
mv "$tmp" "$bin"
trap - EXIT
rm -rf "$bin.old"
echo "$key" >"$stamp"
log "built in $((SECONDS - start))s: $(cd "$bin" && echo * "$randomdir"/*)"
echo "$bin"
