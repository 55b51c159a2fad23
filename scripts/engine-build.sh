#!/usr/bin/env bash
# engine-build.sh: build (or reuse from cache) the real Pulumi engine for end-to-end runs.
#
#   BIN=$(bash scripts/engine-build.sh | tail -n1)    # progress on stderr, bin dir = last stdout line
#
# Builds, from the Go module proxy only, pinned to v3.274.1: the newest release whose pkg/v3 and sdk/v3
# the proxy serves (v3.275.0 and v3.276.0 answer 403). npm has no @pulumi/pulumi 3.271-3.275, so the
# SDK is 3.270.0, the newest not newer than this engine (a newer engine runs an older SDK, not always
# the other way round):
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
#   plugins/resource-kubernetes-v4.25.0/pulumi-resource-kubernetes
#                                  provider for every `kubernetes:` resource (@pulumi/kubernetes 4.25.0,
#                                  checked against package.json: the SDK asks for exactly this version).
#                                  Built from github.com/pulumi/pulumi-kubernetes/provider/v4 at the
#                                  pseudo-version v4.0.0-20260115033456-f47bc2d6f199 (= release 4.25.0;
#                                  tagged provider versions are refused by the proxy) in the wrapper module
#                                  scripts/engine/kubernetes: its go.mod's `sdk/v4 => ../sdk` becomes the
#                                  published sdk/v4 v4.25.0; cmd/pulumi-resource-kubernetes is copied from
#                                  the module at build time and its embedded schema-embed.json and
#                                  terraform-mapping-embed.json made with its own generate.go (they are
#                                  go:generate outputs, missing from the module). Helm v3.18.6 inside.
#                                  Reports 4.25.0 (GetPluginInfo; no -version flag). A link to its own
#                                  cache (below), so an engine rebuild does not rebuild it.
# No pulumi-analyzer-policy: v3.274 starts Node policy packs through the language host (RunPlugin).
# `pulumi` finds both helpers beside itself. The provider plugins are in the plugin-cache layout, NOT
# beside `pulumi`: found on PATH the engine would use them but warn "using pulumi-resource-random from
# $PATH" in every command's output. Link each into your PULUMI_HOME (test/e2e/harness.ts does): a real
# directory (the engine skips a symlinked one), the binary may be a link:
#   for p in resource-random-v4.21.2 resource-kubernetes-v4.25.0; do
#     mkdir -p "$PULUMI_HOME/plugins/$p"; ln -sf "$BIN/plugins/$p"/pulumi-resource-* "$PULUMI_HOME/plugins/$p/"
#   done
#
# Cache (${AIPD_CACHE:-$HOME/.cache/ai-platform-data}/engine/; Go's module and build caches in go/ beside it):
#   v3.274.1/bin                   the engine and random plugin, reused while the hash of scripts/engine/*
#                                  (scripts/engine/kubernetes excluded) and RECIPE is unchanged.
#   pulumi-kubernetes-4.25.0/bin   the Kubernetes provider, reused while the hash of scripts/engine/kubernetes/*
#                                  and KUBERNETES_RECIPE is unchanged; an interrupted build resumes from the
#                                  Go build cache.
# Warm run < 0.1 s; AIPD_ENGINE_REBUILD=1 forces both builds.
# Cold build, 2 cores, empty Go module + build caches (measured): 4.8 min = 3.5 min CLI + host, 1.4 min
# random plugin (2.6 GB modules, 2.2 GB GOCACHE in all); with a warm GOCACHE ~10 s. The Kubernetes
# provider adds ~10 min (4.5 GB RSS peak, 295 MB binary).
# Needs Go >= 1.26.6 (pkg/v3 v3.274.1's go directive; CGO off); node + npm at run time.
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
# node_modules (@pulumi/policy 1.21.0 + @pulumi/pulumi 3.270.0). A mandatory violation exits non-zero.
set -euo pipefail

VERSION=v3.274.1
# The random provider plugin's version: must equal package.json's @pulumi/random (its pulumi.version).
RANDOM_VERSION=4.21.2
# Bump when the build commands below change, so cached engines are rebuilt.
RECIPE=3
# The Kubernetes provider plugin's version: must equal package.json's @pulumi/kubernetes. The module
# version it is built from is pinned in scripts/engine/kubernetes/go.mod.
KUBERNETES_VERSION=4.25.0
# Bump when the Kubernetes provider's build commands change (its cache only).
KUBERNETES_RECIPE=1

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
moddir=$here/engine
kmoddir=$moddir/kubernetes
cache=${AIPD_CACHE:-$HOME/.cache/ai-platform-data}/engine
# The module and build caches every build script of this project shares (scripts/lib/proc.sh go_env):
# the engine, the providers, the control plane and the servers download a module once, and a cold
# check that empties AIPD_CACHE empties them too.
export GOMODCACHE=${cache%/engine}/go/mod GOCACHE=${cache%/engine}/go/build
root=$cache/$VERSION
bin=$root/bin
stamp=$root/build.key
kroot=$cache/pulumi-kubernetes-$KUBERNETES_VERSION
kbin=$kroot/bin
kstamp=$kroot/build.key

log() { echo "engine-build: $*" >&2; }

pkgjson=$here/../package.json
if [[ -f "$pkgjson" ]] && ! grep -q "\"@pulumi/random\": \"$RANDOM_VERSION\"" "$pkgjson"; then
	log "package.json's @pulumi/random is not $RANDOM_VERSION: update RANDOM_VERSION (the plugin version the engine asks for)"
	exit 1
fi
if [[ -f "$pkgjson" ]] && ! grep -q "\"@pulumi/kubernetes\": \"$KUBERNETES_VERSION\"" "$pkgjson"; then
	log "package.json's @pulumi/kubernetes is not $KUBERNETES_VERSION: the SDK asks the engine for the plugin of its own version; pin it to $KUBERNETES_VERSION (or build that version here)"
	exit 1
fi
randomdir=plugins/resource-random-v$RANDOM_VERSION
kubernetesdir=plugins/resource-kubernetes-v$KUBERNETES_VERSION

# hash_dir DIR [PRUNE]: the files under DIR (PRUNE, a subfolder, left out) with their hashes.
hash_dir() {
	(cd "$1" && find . ${2:+-path "./$2" -prune -o} -type f ! -name '*~' -print | LC_ALL=C sort | while read -r f; do
		echo "$f $(sha256sum <"$f" | cut -d' ' -f1)"
	done)
}

# The engine's key leaves scripts/engine/kubernetes out: the Kubernetes provider has its own.
key=$( {
	echo "version=$VERSION recipe=$RECIPE random=$RANDOM_VERSION"
	hash_dir "$moddir" kubernetes
} | sha256sum | cut -d' ' -f1)
kkey=$( {
	echo "kubernetes=$KUBERNETES_VERSION recipe=$KUBERNETES_RECIPE"
	hash_dir "$kmoddir"
} | sha256sum | cut -d' ' -f1)

engine_cached() {
	[[ "${AIPD_ENGINE_REBUILD:-}" != 1 && -f "$stamp" && "$(cat "$stamp")" == "$key" &&
		-x "$bin/pulumi" && -x "$bin/pulumi-language-nodejs" && -x "$bin/pulumi-resource-pulumi-nodejs" &&
		-x "$bin/$randomdir/pulumi-resource-random" ]]
}
kubernetes_cached() {
	[[ "${AIPD_ENGINE_REBUILD:-}" != 1 && -f "$kstamp" && "$(cat "$kstamp")" == "$kkey" &&
		-x "$kbin/pulumi-resource-kubernetes" ]]
}
# The engine's bin dir holds a link to the provider's own cache (replaced with bin/ on an engine build).
link_kubernetes() {
	mkdir -p "$bin/$kubernetesdir"
	ln -sfn "$kbin/pulumi-resource-kubernetes" "$bin/$kubernetesdir/pulumi-resource-kubernetes"
}

if engine_cached && kubernetes_cached; then
	[[ -L "$bin/$kubernetesdir/pulumi-resource-kubernetes" ]] || link_kubernetes
	log "cached engine $VERSION ($key) + kubernetes provider $KUBERNETES_VERSION ($kkey)"
	echo "$bin"
	exit 0
fi

command -v go >/dev/null || { log "go is not installed"; exit 1; }
gover=$(go env GOVERSION)
if [[ "$(printf '%s\n' go1.26.6 "$gover" | sort -V | head -n1)" != go1.26.6 ]]; then
	log "needs Go >= 1.26.6, found $gover"
	exit 1
fi

mkdir -p "$root" "$kroot"
# One build at a time per cache dir; a second caller waits, then finds the fresh stamps.
exec 9>"$root/.lock"
if ! flock -n 9; then
	log "another engine build is running; waiting"
	flock 9
fi

nice_cmd=()
command -v nice >/dev/null && nice_cmd=(nice -n 10)
tmpdirs=()
trap 'rm -rf "${tmpdirs[@]}"' EXIT

build_engine() {
	log "building Pulumi $VERSION + random plugin into $bin (cold: ~5 min on 2 cores)"
	local start=$SECONDS tmp src
	tmp=$(mktemp -d "$root/.build.XXXXXX")
	src=$(mktemp -d "$root/.src.XXXXXX")
	tmpdirs+=("$tmp" "$src")
	chmod 0755 "$tmp"

	local ldflags="-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$VERSION"
	(
		cd "$moddir"
		# go.mod/go.sum are committed and complete: -mod=readonly fails loudly instead of editing them.
		CGO_ENABLED=0 GOFLAGS="-mod=readonly -modcacherw" "${nice_cmd[@]}" go build -trimpath -ldflags "$ldflags" \
			-o "$tmp/" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi ./cmd/pulumi-language-nodejs
	) >&2
	install -m 0755 "$moddir/pulumi-resource-pulumi-nodejs" "$tmp/"
	log "CLI built in $((SECONDS - start))s; building the random provider plugin"

	# The random provider: a copy of its module gets the generated schema.json + bridge-metadata.json (embedded
	# by cmd/pulumi-resource-random), written by pulumi-tfgen-random from the same ProviderInfo.
	cp -R "$moddir/random/." "$src/"
	(
		cd "$src"
		CGO_ENABLED=0 GOFLAGS="-mod=readonly -modcacherw" "${nice_cmd[@]}" go build -trimpath -ldflags "-s -w" \
			-o "$src/.bin/" ./cmd/pulumi-tfgen-random
		# No network: tfgen only looks for upstream docs in ./provider (absent), and carries on without them.
		if ! RANDOM_PROVIDER_VERSION=$RANDOM_VERSION "$src/.bin/pulumi-tfgen-random" schema \
			--out "$src/cmd/pulumi-resource-random" >"$src/tfgen.log" 2>&1; then
			cat "$src/tfgen.log"
			exit 1
		fi
		grep -q '"random:index/randomPassword:RandomPassword"' cmd/pulumi-resource-random/schema.json ||
			{ echo "engine-build: generated schema lacks random:index/randomPassword:RandomPassword"; exit 1; }
		CGO_ENABLED=0 GOFLAGS="-mod=readonly -modcacherw" "${nice_cmd[@]}" go build -trimpath \
			-ldflags "-s -w -X main.version=$RANDOM_VERSION+aipd" \
			-o "$tmp/$randomdir/" ./cmd/pulumi-resource-random
	) >&2

	local got
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
	rm -rf "$bin.old"
	echo "$key" >"$stamp"
	log "engine built in $((SECONDS - start))s: $(cd "$bin" && echo * "$randomdir"/*)"
}

# The Kubernetes provider: one long `go build` (~10 min cold, 4.5 GB RSS). Progress every minute on
# stderr; the Go build cache keeps what was compiled, so a build that is stopped resumes where it was.
build_kubernetes() {
	log "building the Kubernetes provider $KUBERNETES_VERSION into $kbin (cold: ~10 min, 4.5 GB RSS on 2 cores)"
	local start=$SECONDS tmp src mod
	tmp=$(mktemp -d "$kroot/.build.XXXXXX")
	src=$(mktemp -d "$kroot/.src.XXXXXX")
	tmpdirs+=("$tmp" "$src")
	chmod 0755 "$tmp"
	cp -R "$kmoddir/." "$src/"
	# `go list -m` only reports a module already in the module cache (it prints an empty Dir on a fresh
	# machine): `go mod download -json` fetches it and says where it put it, or why the proxy refused.
	local kmod=github.com/pulumi/pulumi-kubernetes/provider/v4 dl
	if ! dl=$(cd "$src" && GOFLAGS="-mod=readonly -modcacherw" go mod download -json "$kmod" 2>&1); then
		log "kubernetes provider: go mod download $kmod failed: $(grep -m1 -o '"Error": *"[^"]*"' <<<"$dl" || tail -n1 <<<"$dl")"
		exit 1
	fi
	mod=$(sed -n 's/^[[:space:]]*"Dir": *"\(.*\)",*$/\1/p' <<<"$dl" | head -n1)
	if [[ -z "$mod" || ! -f "$mod/cmd/pulumi-resource-kubernetes/generate.go" ]]; then
		log "kubernetes provider: module source lacks cmd/pulumi-resource-kubernetes/generate.go ($mod)"
		exit 1
	fi
	mkdir -p "$src/cmd"
	cp -R "$mod/cmd/pulumi-resource-kubernetes" "$src/cmd/"
	chmod -R u+w "$src/cmd"
	(
		cd "$src/cmd/pulumi-resource-kubernetes"
		# generate.go: schema.json with the version set -> schema-embed.json, terraform-mapping-embed.json.
		VERSION=$KUBERNETES_VERSION CGO_ENABLED=0 GOFLAGS="-mod=readonly -modcacherw" "${nice_cmd[@]}" go run ./generate.go
		grep -q "\"version\":\"$KUBERNETES_VERSION\"" schema-embed.json ||
			{ echo "engine-build: schema-embed.json does not carry version $KUBERNETES_VERSION"; exit 1; }
		[[ -s terraform-mapping-embed.json ]] || { echo "engine-build: terraform-mapping-embed.json missing"; exit 1; }
	) >&2
	log "kubernetes provider: schema generated ($((SECONDS - start))s); compiling"
	(
		cd "$src"
		CGO_ENABLED=0 GOFLAGS="-mod=readonly -modcacherw" "${nice_cmd[@]}" go build -v -trimpath \
			-ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$KUBERNETES_VERSION" \
			-o "$tmp/" ./cmd/pulumi-resource-kubernetes
	) >"$src/build.log" 2>&1 &
	local pid=$! rc=0 ticks=0
	while kill -0 "$pid" 2>/dev/null; do
		sleep 5
		if (((ticks += 1) % 12 == 0)); then
			log "kubernetes provider: compiling, $(grep -c . "$src/build.log" || true) packages so far, $((SECONDS - start))s"
		fi
	done
	wait "$pid" || rc=$?
	if ((rc != 0)); then
		tail -n 40 "$src/build.log" >&2
		log "kubernetes provider: go build failed (exit $rc)"
		exit 1
	fi
	[[ -x "$tmp/pulumi-resource-kubernetes" ]] || { log "kubernetes provider: no binary after go build"; exit 1; }
	rm -rf "$kbin.old"
	[[ -d "$kbin" ]] && mv "$kbin" "$kbin.old"
	mv "$tmp" "$kbin"
	rm -rf "$kbin.old"
	echo "$kkey" >"$kstamp"
	log "kubernetes provider built in $((SECONDS - start))s ($(du -h "$kbin/pulumi-resource-kubernetes" | cut -f1))"
}

# A second caller that waited on the lock finds the stamps fresh and builds nothing. (`if`, not `||`:
# errexit must stay on inside the build functions.)
if ! engine_cached; then build_engine; fi
if ! kubernetes_cached; then build_kubernetes; fi
link_kubernetes
echo "$bin"
