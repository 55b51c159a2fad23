# scripts/lib/phases.sh: named phases with their elapsed time, for .ci/run and scripts/test.sh (sourced).
#
#   phase NAME CMD...          run CMD under a "== NAME" heading; its time is recorded
#   phase_bg NAME CMD...       start CMD in the background, its output kept in a log (printed by phase_wait)
#   phase_wait NAME            wait for a background phase, print its output; fails as it failed
#   phase_summary              each phase's time and the total (installed as the EXIT trap by phases_init)
# A phase that fails ends the script (errexit) and the summary still prints, naming the failed phase.
PHASE_LINES=()
PHASE_T0=$SECONDS
declare -A PHASE_PID=() PHASE_LOG=() PHASE_START=()

phases_init() { # TITLE
  PHASE_TITLE=$1
  PHASE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/aipd-phases.XXXXXX")
  trap 'rc=$?; phase_summary $rc; rm -rf "$PHASE_DIR"; exit $rc' EXIT
}

phase_record() { # NAME SECONDS RC
  local what=ok
  (($3 == 0)) || what="FAILED (exit $3)"
  PHASE_LINES+=("$(printf '%-34s %6ss  %s' "$1" "$2" "$what")")
}

phase() {
  local name=$1 t0=$SECONDS rc=0
  shift
  echo "== $name"
  "$@" || rc=$?
  phase_record "$name" $((SECONDS - t0)) $rc
  echo "== $name: $((SECONDS - t0))s"
  return $rc
}

phase_bg() {
  local name=$1 log
  shift
  log=$PHASE_DIR/$(tr -c 'A-Za-z0-9_.\n-' _ <<<"$name").log
  echo "== $name (in the background; output below when it ends)"
  PHASE_LOG[$name]=$log
  PHASE_START[$name]=$(date +%s)
  # The phase's own end time, so its figure is not the time the script waited for it.
  (
    rc=0
    "$@" || rc=$?
    date +%s >"$log.end"
    exit "$rc"
  ) >"$log" 2>&1 &
  PHASE_PID[$name]=$!
}

phase_wait() {
  local name=$1 rc=0
  wait "${PHASE_PID[$name]}" || rc=$?
  unset "PHASE_PID[$name]"
  echo "== $name (background) output:"
  cat "${PHASE_LOG[$name]}"
  local end
  end=$(cat "${PHASE_LOG[$name]}.end" 2>/dev/null || date +%s)
  phase_record "$name" $((end - PHASE_START[$name])) $rc
  echo "== $name: $((end - PHASE_START[$name]))s"
  return $rc
}

phase_summary() { # RC
  local line
  # A background phase still running when the script ends (another phase failed) is stopped.
  for line in "${!PHASE_PID[@]}"; do kill "${PHASE_PID[$line]}" 2>/dev/null || true; done
  echo "== ${PHASE_TITLE:-phases}: elapsed time per phase"
  for line in "${PHASE_LINES[@]}"; do echo "  $line"; done
  printf '  %-34s %6ss  %s\n' total $((SECONDS - PHASE_T0)) "$( (($1 == 0)) && echo ok || echo "FAILED (exit $1)")"
}
