#!/usr/bin/env bash
# scripts/ci-cold.sh (`npm run ci:cold`): what CI does on a fresh machine. Runs .ci/run on a clean clone
# of HEAD with every cache of this project and its tools empty, in a new temporary folder:
#   AIPD_CACHE (servers, engine, control plane, Node; Go's module and build caches are in it too),
#   GOMODCACHE, GOCACHE, npm's and pip's caches, where PostgreSQL 16 is unpacked (AIPD_OPT) and a new
#   run folder for the servers (AIPD_RUN).
# HOME stays (its Go, npm and pip settings name the registries); system packages may stay.
# .ci/run prints each phase's time and the total; this script adds its own total, the machine's peak
# memory in use during the run and the caches' size.
# Not part of .ci/run (it takes up to an hour on 2 cores): run it before any change to a build or
# download step.
#
#   bash scripts/ci-cold.sh [--cache DIR] [--keep]
#     --cache DIR  put AIPD_CACHE at DIR instead of the temporary folder. DIR must be empty or absent
#                  (that is what makes the check cold); on a fresh machine give the default
#                  (~/.cache/ai-platform-data) so that later runs find what this one built; AIPD_OPT
#                  then stays at its default (/opt/ai-platform-data), which must be empty too.
#     --keep       keep the temporary folder (clone, run folder, logs, caches) and leave the servers
#                  running; by default they are stopped and the folder removed.
# The servers listen on fixed loopback ports: stop any other set first (`npm run services:stop`).
set -euo pipefail
# All in one function, read whole before it runs: the script may be edited while a run takes its hour.
main() {
here=$(cd "$(dirname "$0")/.." && pwd)
cache="" keep=0
while (($#)); do
  case $1 in
    --cache) cache=${2:?--cache needs a folder}; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "ci-cold: unknown argument '$1' (--cache DIR, --keep)" >&2; exit 2 ;;
  esac
done
log() { echo "ci-cold: $*" >&2; }

# With --cache, PostgreSQL 16 is unpacked where services.sh puts it by default (AIPD_OPT, outside the
# cache: the postgres user runs it), which must then be empty too.
opt=${cache:+/opt/ai-platform-data}
for d in "$cache" "$opt"; do
  if [[ -n $d && -e $d && -n "$(ls -A "$d" 2>/dev/null)" ]]; then
    log "$d is not empty: a cold check needs empty caches (give another --cache, or remove it)"
    exit 2
  fi
done
for port in 25432 26379 27217 28088 29092 26443 28333; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    log "something already listens on 127.0.0.1:$port: stop the other servers first (npm run services:stop)"
    exit 2
  fi
done

root=$(mktemp -d /tmp/aipd-cold.XXXXXX)
chmod 755 "$root" # the run folder inside must be traversable by the postgres user
export AIPD_CACHE=${cache:-$root/cache}
export AIPD_RUN=$root/run AIPD_OPT=${opt:-$root/opt}
export GOMODCACHE=$root/go-mod GOCACHE=$root/go-build
export npm_config_cache=$root/npm PIP_CACHE_DIR=$root/pip
mkdir -p "$AIPD_CACHE"
# A clean clone of what is committed, with shared/ beside it as CI has it.
mkdir -p "$root/work"
git clone --quiet "$here" "$root/work/main"
[[ -d $here/../shared ]] && ln -s "$(cd "$here/../shared" && pwd)" "$root/work/shared"
log "clone of $(git -C "$here" rev-parse --short HEAD) in $root/work/main; AIPD_CACHE=$AIPD_CACHE (empty)"

cleanup() {
  local rc=$?
  if ((keep)); then
    log "kept $root (servers still running: AIPD_RUN=$AIPD_RUN npm run services:stop)"
  else
    (cd "$root/work/main" && PATH="$(bash scripts/node.sh 24 2>/dev/null | tail -n1):$PATH" \
      npm run --silent services:stop >/dev/null 2>&1) || true
    chmod -R u+w "$root" 2>/dev/null || true
    rm -rf "$root"
  fi
  exit "$rc"
}
trap cleanup EXIT

start=$SECONDS rc=0
# The machine's peak memory in use (free's "used", page cache excluded) while the run lasts.
(
  peak=0
  while :; do
    used=$(free -m | awk '/^Mem:/ {print $3}')
    ((used > peak)) && peak=$used && echo "$peak" >"$root/mem-peak"
    sleep 3
  done
) &
sampler=$!
(cd "$root/work/main" && CI=true bash .ci/run </dev/null) 2>&1 | tee "$root/ci.log" || rc=$?
kill "$sampler" 2>/dev/null || true
log "cold .ci/run: exit $rc after $(((SECONDS - start) / 60)) min $(((SECONDS - start) % 60)) s"
log "peak memory in use on the machine: $(cat "$root/mem-peak" 2>/dev/null || echo "?") MiB"
log "caches: $(du -sh "$AIPD_CACHE" "$GOMODCACHE" "$GOCACHE" "$npm_config_cache" "$PIP_CACHE_DIR" 2>/dev/null | awk '{printf "%s %s; ", $2, $1}')"
exit "$rc"
}
main "$@"
exit
