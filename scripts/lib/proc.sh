# scripts/lib/proc.sh: the process helpers of the scripts that run test servers (services.sh and
# its services/*.sh, kube.sh, cluster-servers.sh), and the log/die/run_logged of the build scripts.
# Sourced, never run. The sourcing script sets, before calling them:
#   LOG_TAG  prefix of log and error lines ("services", "kube", ...)
#   PIDS     folder of the pid files NAME.pid (pid_alive, spawn, stop_pid, port_must_be_free)
#   SECRETS  folder of the generated passwords (secret)
#   HOST     address whose ports port_must_be_free checks
#
# Lock file descriptors: services.sh and cluster-servers.sh hold their run dir's lock on fd 9, kube.sh
# on fd 8, kube/build.sh its build lock on fd 7. Whatever these helpers start closes all three, so that
# a server (or a daemon a command forks) never holds a lock after the script has finished.

log() { printf '%s\n' "$LOG_TAG: $*" >&2; }
die() { printf '%s\n' "$LOG_TAG: ERROR: $*" >&2; exit 1; }

# run_logged LOGFILE CMD...: run quietly into LOGFILE; on failure show its tail and stop.
run_logged() {
  local logfile=$1; shift
  if ! "$@" >"$logfile" 2>&1 7>&- 8>&- 9>&-; then
    tail -n 40 "$logfile" >&2 || true
    die "command failed: $* (full log: $logfile)"
  fi
}

# proc_running PID: alive and not a zombie (an exited server can stay a zombie for a while when PID 1
# is slow to reap, and kill -0 still succeeds on a zombie).
proc_running() {
  local st
  kill -0 "$1" 2>/dev/null || return 1
  st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
  [[ -n $st && $st != Z && $st != X ]]
}

# tcp_open HOST PORT: something accepts connections there (bash's /dev/tcp: no client tool needed).
tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# wait_until SECONDS DESCRIPTION CMD...: poll CMD (output discarded) every 0.5 s until it succeeds;
# fails after SECONDS. DESCRIPTION only names what is awaited, for the reader of the call.
wait_until() {
  local deadline=$((SECONDS + $1)); shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# pid_alive NAME TOKEN: $PIDS/NAME.pid names a live process whose command line contains TOKEN (a pid
# file outlives its process, and the pid may since belong to another program).
pid_alive() {
  local f="$PIDS/$1.pid" pid
  [[ -s $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  proc_running "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -F -- "$2" >/dev/null
}

# spawn NAME LOGFILE CMD...: start CMD detached (own session, so a signal to the caller's process group
# does not reach it), output appended to LOGFILE, its pid into $PIDS/NAME.pid (written by the child
# itself before exec, so the pid is the server's own, not a wrapper's).
spawn() {
  local name=$1 logfile=$2 i; shift 2
  rm -f "$PIDS/$name.pid"
  # shellcheck disable=SC2016 # $$ and $1 are the child's
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PIDS/$name.pid" "$@" \
    </dev/null >>"$logfile" 2>&1 7>&- 8>&- 9>&- &
  for i in $(seq 50); do [[ -s $PIDS/$name.pid ]] && return 0; sleep 0.1; done
  die "$name did not start (log: $logfile)"
}

# kill_wait PID SIGNAL TIMEOUT NAME: send SIGNAL, wait until the process is gone; after TIMEOUT
# seconds, SIGKILL. NAME is for the log line.
kill_wait() {
  local pid=$1 sig=$2 timeout=$3 name=$4
  kill "-$sig" "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + timeout))
  while proc_running "$pid"; do
    if ((SECONDS >= deadline)); then
      log "$name (pid $pid) did not stop in ${timeout}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      return 0
    fi
    sleep 0.2
  done
}

# stop_pid NAME TOKEN SIGNAL TIMEOUT: stop the process of $PIDS/NAME.pid (if it is still ours, see
# pid_alive) with SIGNAL, SIGKILL after TIMEOUT seconds; the pid file goes either way. SIGNAL is the
# server's own "shut down cleanly" (PostgreSQL's fast shutdown is SIGINT; SIGTERM for the others).
stop_pid() {
  local name=$1 token=$2 sig=$3 timeout=$4 pid
  if pid_alive "$name" "$token"; then
    pid=$(<"$PIDS/$name.pid")
    kill_wait "$pid" "$sig" "$timeout" "$name"
    log "stopped $name (pid $pid)"
  fi
  rm -f "$PIDS/$name.pid"
}

# port_must_be_free NAME PORT: refuse to start NAME over a port some other process already holds.
port_must_be_free() {
  if tcp_open "$HOST" "$2"; then
    die "$1: port $2 on $HOST is already in use by a process this script does not know (no valid pid file in $PIDS)"
  fi
}

# secret NAME: random hex password (32 characters) made once, kept in $SECRETS/NAME, never printed
# elsewhere. Hex: it goes into configs and JSON without escaping.
secret() {
  local f="$SECRETS/$1"
  if [[ ! -s $f ]]; then
    mkdir -p "$SECRETS"
    chmod 700 "$SECRETS"
    (umask 077; od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"$f.tmp")
    mv "$f.tmp" "$f"
  fi
  cat "$f"
}

# wait_lock FD FILE SECONDS WHO: take the flock on FD (already opened on FILE by the caller: bash
# cannot open a descriptor whose number is in a variable without eval); when another WHO holds it,
# say so and wait up to SECONDS.
wait_lock() {
  flock -n "$1" && return 0
  log "waiting for $4 (lock $2)"
  flock -w "$3" "$1" || die "$4 still holds $2"
}

# go_env [GOFLAG...]: Go builds with their module and build caches under $CACHE/go (shared by every
# script that builds Go), static binaries, no VCS stamping; extra GOFLAGS appended.
go_env() {
  command -v go >/dev/null || die "go (>= 1.21) is needed for the builds of $LOG_TAG"
  export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" CGO_ENABLED=0
  export GOFLAGS="-modcacherw -buildvcs=false${1:+ $*}"
}
