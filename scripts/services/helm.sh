# scripts/services/helm.sh: Helm and the pinned charts as published, for the tests that check what the
# real charts render from the program's values (sourced by scripts/services.sh; uses its settings and
# scripts/lib/proc.sh). Helm is built from the Go module proxy at the version the Kubernetes provider
# embeds (scripts/engine/kubernetes/go.mod), so `helm template` renders as a release would.
#
# The charts are the archives of the shared charts folder (its README: source commits, SHA256SUMS),
# checked against their SHA256SUMS and copied into the cache, which services.json names. Where they are:
# AIPD_CHARTS, else ../shared/charts beside the project folder; once cached, a clone elsewhere reuses them.
HELM_VERSION=3.18.6
HELM_BIN="$CACHE/helm-$HELM_VERSION/bin/helm"
CHARTS_DIR=""   # set by install_charts

install_helm() {
  [[ -x $HELM_BIN ]] && return 0
  log "helm: building v$HELM_VERSION from the Go module proxy (about 1 min warm, 5 cold)"
  go_build_install "$HELM_BIN" build_helm
}

build_helm() { # DIR OUT
  run_logged "$1/build.log" env GOBIN="$2" \
    go install -trimpath -ldflags="-s -w" "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
}

# The published charts' folder, or nothing.
charts_source() {
  local d
  for d in "${AIPD_CHARTS:-}" "$HERE/../../shared/charts"; do
    [[ -n $d && -f $d/SHA256SUMS ]] && { (cd "$d" && pwd); return 0; }
  done
  return 1
}

# Copies the archives into $CACHE/charts/<sha256 of SHA256SUMS> once their sums check; a cached copy
# whose .complete mark is there is reused when no source folder is found.
install_charts() {
  local src key dest
  if src=$(charts_source); then
    key=$(sha256sum "$src/SHA256SUMS" | cut -c1-16)
    dest="$CACHE/charts/$key"
    if [[ ! -f $dest/.complete ]]; then
      (cd "$src" && sha256sum --quiet -c SHA256SUMS) || die "charts: $src/SHA256SUMS does not match its archives"
      rm -rf "$dest.tmp"; mkdir -p "$dest.tmp"
      cp "$src"/*.tgz "$src/SHA256SUMS" "$dest.tmp/"
      (cd "$dest.tmp" && sha256sum --quiet -c SHA256SUMS) || die "charts: copy into $dest.tmp is damaged"
      touch "$dest.tmp/.complete"
      rm -rf "$dest"; mv "$dest.tmp" "$dest"
      log "charts: published archives cached in $dest"
    fi
  else
    dest=$(charts_cached)
    [[ -n $dest ]] || die "charts: the published charts are not found (set AIPD_CHARTS to the folder with their SHA256SUMS; default ../shared/charts beside the project) and none are cached"
  fi
  CHARTS_DIR=$dest
}

# The newest complete copy in the cache, or nothing.
charts_cached() {
  find "$CACHE/charts" -mindepth 2 -maxdepth 2 -name .complete -printf '%T@ %h\n' 2>/dev/null | sort -n | tail -n1 | cut -d' ' -f2-
}

helm_json() {
  [[ -n $CHARTS_DIR ]] || CHARTS_DIR=$(charts_cached)
  printf '{"bin":"%s","version":"%s","charts":"%s"}' "$HELM_BIN" "$HELM_VERSION" "$CHARTS_DIR"
}
