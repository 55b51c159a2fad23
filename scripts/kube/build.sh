# scripts/kube/build.sh: the builds of scripts/kube.sh (sourced by it; uses its settings and helpers).
# Each part is built from its wrapper module in scripts/kube/<part> (go.mod + committed go.sum) into
# $AIPD_CACHE/kube/<part>-<version>/bin, next to a build.key; a part whose key matches is not rebuilt.
go_env() {
  command -v go >/dev/null || die "go is needed to build the Kubernetes parts"
  export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" CGO_ENABLED=0
  # go.mod/go.sum are committed and complete: -mod=readonly fails loudly instead of editing them.
  export GOFLAGS="-modcacherw -buildvcs=false -mod=readonly"
}

# build_key PART VERSION: what a cached build must match.
build_key() {
  {
    echo "part=$1 version=$2 recipe=$RECIPE go=$(go env GOVERSION 2>/dev/null || echo none)"
    cd "$here/kube/$1" && find . -type f ! -name '*~' | LC_ALL=C sort | while read -r f; do
      echo "$f $(sha256sum <"$f" | cut -d' ' -f1)"
    done
  } | sha256sum | cut -d' ' -f1
}

is_built() { # HOME KEY BINARIES...
  local home=$1 key=$2 b; shift 2
  [[ -f $home/build.key && $(<"$home/build.key") == "$key" ]] || return 1
  for b in "$@"; do [[ -x $home/bin/$b ]] || return 1; done
}

# run_build HOME LOGNAME CMD...: run CMD in the part's wrapper module, output to HOME/LOGNAME.
run_build() {
  local home=$1 logname=$2; shift 2
  if ! "$@" >"$home/$logname" 2>&1 8>&- 9>&-; then
    tail -n 40 "$home/$logname" >&2 || true
    die "build failed: $* (full log: $home/$logname)"
  fi
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

install_etcd() {
  local key
  key=$(go_env; build_key etcd "$ETCD_VERSION")
  is_built "$ETCD_HOME" "$key" etcd && return 0
  log "etcd: building v$ETCD_VERSION (cold: ~1.5 min on 2 cores)"
  local start=$SECONDS tmp
  mkdir -p "$ETCD_HOME"
  tmp=$(mktemp -d "$ETCD_HOME/.bin.XXXXXX")
  (
    go_env
    cd "$here/kube/etcd"
    run_build "$ETCD_HOME" build.log "${nice_cmd[@]}" go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" .
  ) || { rm -rf "$tmp"; exit 1; }
  # (Output captured first: `| grep -q` would end the pipe early, and pipefail see SIGPIPE.)
  local got
  got=$("$tmp/etcd" --version 2>&1 || true)
  [[ $got == *"etcd Version: $ETCD_VERSION"* ]] ||
    { rm -rf "$tmp"; die "etcd: built binary does not report $ETCD_VERSION: $got"; }
  chmod 0755 "$tmp"
  finish_build "$ETCD_HOME" "$tmp" "$key"
  log "etcd: built in $((SECONDS - start))s"
}

install_kubernetes() {
  local key bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
  key=$(go_env; build_key k8s "$K8S_VERSION")
  is_built "$K8S_HOME" "$key" "${bins[@]}" && return 0
  log "kubernetes: building v$K8S_VERSION ${bins[*]} (cold: ~8 min and 2 GB RSS on 2 cores)"
  local start=$SECONDS tmp v=k8s.io/component-base/version
  mkdir -p "$K8S_HOME"
  tmp=$(mktemp -d "$K8S_HOME/.bin.XXXXXX")
  local ldflags="-s -w -X $v.gitVersion=v$K8S_VERSION -X $v.gitMajor=${K8S_VERSION%%.*}"
  ldflags+=" -X $v.gitMinor=$(cut -d. -f2 <<<"$K8S_VERSION") -X $v.gitTreeState=clean"
  (
    go_env
    cd "$here/kube/k8s"
    # One binary per go build: the apiserver alone peaks near 2 GB; the others reuse its packages.
    local b
    for b in "${bins[@]}"; do
      run_build "$K8S_HOME" "build-$b.log" "${nice_cmd[@]}" go build -trimpath -ldflags "$ldflags" \
        -o "$tmp/$b" "k8s.io/kubernetes/cmd/$b"
      log "kubernetes: $b built ($((SECONDS - start))s)"
    done
  ) || { rm -rf "$tmp"; exit 1; }
  local got
  got=$("$tmp/kube-apiserver" --version 2>&1 || true)
  [[ $got == "Kubernetes v$K8S_VERSION" ]] ||
    { rm -rf "$tmp"; die "kubernetes: built kube-apiserver reports '$got', not v$K8S_VERSION"; }
  chmod 0755 "$tmp"
  finish_build "$K8S_HOME" "$tmp" "$key"
  log "kubernetes: built in $((SECONDS - start))s"
}

install_kwok() {
  local key
  key=$(go_env; build_key kwok "$KWOK_VERSION")
  is_built "$KWOK_HOME" "$key" kwok && [[ -d $KWOK_HOME/bin/stages && -d $KWOK_HOME/bin/crds ]] && return 0
  log "kwok: building v$KWOK_VERSION (cold: a few minutes on 2 cores)"
  local start=$SECONDS tmp
  mkdir -p "$KWOK_HOME"
  tmp=$(mktemp -d "$KWOK_HOME/.bin.XXXXXX")
  (
    go_env
    cd "$here/kube/kwok"
    run_build "$KWOK_HOME" build.log "${nice_cmd[@]}" go build -trimpath \
      -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=v$KWOK_VERSION" -o "$tmp/kwok" sigs.k8s.io/kwok/cmd/kwok
    # The bare binary has no stages ("no stages found"): keep the module's own stage files and the
    # CRDs of the kinds enabled with --enable-crds beside it.
    local mod
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
  ) || { rm -rf "$tmp"; exit 1; }
  local got
  got=$("$tmp/kwok" --version 2>&1 || true)
  [[ $got == *"v$KWOK_VERSION"* ]] || { rm -rf "$tmp"; die "kwok: built binary does not report v$KWOK_VERSION: $got"; }
  chmod 0755 "$tmp"
  finish_build "$KWOK_HOME" "$tmp" "$key"
  log "kwok: built in $((SECONDS - start))s"
}

cmd_install() {
  mkdir -p "$CACHE/kube"
  # One build at a time per cache dir; a second caller waits, then finds the fresh keys.
  exec 7>"$CACHE/kube/.lock"
  if ! flock -n 7; then
    log "another kube.sh build is running; waiting"
    flock -w 1800 7 || die "another kube.sh still holds $CACHE/kube/.lock"
  fi
  install_etcd
  install_kubernetes
  install_kwok
  exec 7>&-
}

