# scripts/kube/build.sh: the builds of scripts/kube.sh (sourced by it; uses its settings and helpers).
# Each part is built from its wrapper module in scripts/kube/<part> (go.mod + committed go.sum) into
# $AIPD_CACHE/kube/<part>-<version>/bin, next to a build.key; a part whose key matches is not rebuilt.
# go.mod/go.sum are committed and complete: -mod=readonly fails loudly instead of editing them.
go_env_ro() { go_env -mod=readonly; }

# build_key PART VERSION: what a cached build must match.
build_key() {
  {
    echo "part=$1 version=$2 recipe=$RECIPE go=$(go env GOVERSION 2>/dev/null || echo none)"
    cd "$here/kube/$1" && find . -type f ! -name '*~' | LC_ALL=C sort | while read -r f; do
      echo "$f $(sha256sum <"$f" | cut -d' ' -f1)"
    done
  } | sha256sum | cut -d' ' -f1
}

is_built() { # HOME KEY ENTRIES... (executables or folders that must be in HOME/bin)
  local home=$1 key=$2 b; shift 2
  [[ -f $home/build.key && $(<"$home/build.key") == "$key" ]] || return 1
  for b in "$@"; do [[ -x $home/bin/$b ]] || return 1; done
}

# finish_build HOME TMPDIR KEY: the new bin/ replaces the old one, then the key is written.
finish_build() {
  local home=$1 tmp=$2 key=$3
  rm -rf "$home/bin.old"
  [[ -d $home/bin ]] && mv "$home/bin" "$home/bin.old"
  mv "$tmp" "$home/bin"
  rm -rf "$home/bin.old"
  echo "$key" >"$home/build.key"
}

nice_cmd=()
command -v nice >/dev/null && nice_cmd=(nice -n 10)

# build_part LABEL PART VERSION HOME NOTE BUILDER WANT ENTRIES...: unless HOME holds PART's build of
# the current key (build_key) with every ENTRY in its bin/, run BUILDER TMP HOME in PART's wrapper module
# (with go_env_ro) to build into a fresh TMP folder; the first ENTRY's `--version` must then match the
# pattern WANT before TMP becomes HOME/bin. LABEL and NOTE are for the log.
build_part() {
  local label=$1 part=$2 version=$3 home=$4 note=$5 builder=$6 want=$7; shift 7
  local key start=$SECONDS tmp got
  key=$(go_env_ro; build_key "$part" "$version")
  is_built "$home" "$key" "$@" && return 0
  log "$label: building v$version $note"
  mkdir -p "$home"
  tmp=$(mktemp -d "$home/.bin.XXXXXX")
  (
    go_env_ro
    cd "$here/kube/$part"
    "$builder" "$tmp" "$home"
  ) || { rm -rf "$tmp"; exit 1; }
  # (Output captured first: `| grep -q` would end the pipe early, and pipefail see SIGPIPE.)
  got=$("$tmp/$1" --version 2>&1 || true)
  # shellcheck disable=SC2053 # WANT is a pattern
  [[ $got == $want ]] || { rm -rf "$tmp"; die "$label: built $1 reports '$got', not v$version"; }
  chmod 0755 "$tmp"
  finish_build "$home" "$tmp" "$key"
  log "$label: built in $((SECONDS - start))s"
}

install_etcd() {
  build_part etcd etcd "$ETCD_VERSION" "$ETCD_HOME" "(cold: ~1.5 min on 2 cores)" build_etcd \
    "*etcd Version: $ETCD_VERSION*" etcd
}
build_etcd() { # TMP HOME
  run_logged "$2/build.log" "${nice_cmd[@]}" go build -trimpath -ldflags "-s -w" -o "$1/etcd" .
}

K8S_BINS=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
install_kubernetes() {
  build_part kubernetes k8s "$K8S_VERSION" "$K8S_HOME" "${K8S_BINS[*]} (cold: ~8 min and 2 GB RSS on 2 cores)" \
    build_kubernetes "Kubernetes v$K8S_VERSION" "${K8S_BINS[@]}"
}
build_kubernetes() { # TMP HOME
  local b v=k8s.io/component-base/version t0=$SECONDS
  local ldflags="-s -w -X $v.gitVersion=v$K8S_VERSION -X $v.gitMajor=${K8S_VERSION%%.*}"
  ldflags+=" -X $v.gitMinor=$(cut -d. -f2 <<<"$K8S_VERSION") -X $v.gitTreeState=clean"
  # One binary per go build: the apiserver alone peaks near 2 GB; the others reuse its packages.
  for b in "${K8S_BINS[@]}"; do
    run_logged "$2/build-$b.log" "${nice_cmd[@]}" go build -trimpath -ldflags "$ldflags" \
      -o "$1/$b" "k8s.io/kubernetes/cmd/$b"
    log "kubernetes: $b built ($((SECONDS - t0))s)"
  done
}

install_kwok() {
  build_part kwok kwok "$KWOK_VERSION" "$KWOK_HOME" "(cold: a few minutes on 2 cores)" build_kwok \
    "*v$KWOK_VERSION*" kwok stages crds
}
build_kwok() { # TMP HOME
  local tmp=$1 mod
  run_logged "$2/build.log" "${nice_cmd[@]}" go build -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=v$KWOK_VERSION" -o "$tmp/kwok" sigs.k8s.io/kwok/cmd/kwok
  # The bare binary has no stages ("no stages found"): keep the module's own stage files and the
  # CRDs of the kinds enabled with --enable-crds beside it.
  mod=$(go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  [[ -d $mod/kustomize/stage ]] || die "kwok: module source without kustomize/stage ($mod)"
  mkdir -p "$tmp/stages" "$tmp/crds"
  cp "$mod/kustomize/stage/node/fast/node-initialize.yaml" \
    "$mod/kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml" \
    "$mod/kustomize/stage/pod/fast/pod-ready.yaml" \
    "$mod/kustomize/stage/pod/fast/pod-complete.yaml" \
    "$mod/kustomize/stage/pod/fast/pod-delete.yaml" "$tmp/stages/"
  cp "$mod/kustomize/crd/bases/kwok.x-k8s.io_portforwards.yaml" \
    "$mod/kustomize/crd/bases/kwok.x-k8s.io_clusterportforwards.yaml" "$tmp/crds/"
  chmod -R u+w,a+r "$tmp/stages" "$tmp/crds"
}

cmd_install() {
  mkdir -p "$CACHE/kube"
  # One build at a time per cache dir; a second caller waits, then finds the fresh keys.
  exec 7>"$CACHE/kube/.lock"
  wait_lock 7 "$CACHE/kube/.lock" 1800 "another kube.sh build"
  install_etcd
  install_kubernetes
  install_kwok
  exec 7>&-
}

