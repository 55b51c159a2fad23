# scripts/services/promtool.sh: promtool, Prometheus' rule checker and rule unit tester, for the tests
# of the alert rules (`promtool check rules`, `promtool test rules`); sourced by scripts/services.sh
# (uses its settings and scripts/lib/proc.sh). Built from the Go module proxy: the module
# github.com/prometheus/prometheus tags Prometheus 3.x as v0.3xx (v0.316.0: Prometheus 3.16). No server.
PROMTOOL_VERSION=v0.316.0
PROMTOOL_BIN="$CACHE/prometheus-$PROMTOOL_VERSION/bin/promtool"

install_promtool() {
  [[ -x $PROMTOOL_BIN ]] && return 0
  log "promtool: building prometheus $PROMTOOL_VERSION from the Go module proxy (several minutes cold)"
  go_build_install "$PROMTOOL_BIN" build_promtool
}

build_promtool() { # DIR OUT
  run_logged "$1/build.log" env GOBIN="$2" \
    go install -trimpath -ldflags="-s -w" "github.com/prometheus/prometheus/cmd/promtool@$PROMTOOL_VERSION"
}
