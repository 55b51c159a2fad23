#!/bin/sh
# PostgreSQL backup and restore drill, one file so that both speak of the same dump.
#
# backup (no argument: what the backup CronJob runs): one pg_dump in custom format (restorable table by
# table with pg_restore), written under a temporary name and renamed once complete, then old dumps pruned.
# Environment: PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE BACKUP_DIR RETENTION_DAYS.
#
# drill (what the restore-drill CronJob runs): restores the newest dump of PGDATABASE found in DRILL_DIR
# into a scratch PostgreSQL cluster made in SCRATCH_DIR (initdb, a unix socket there, no TCP port, gone
# when the pod ends), counts the rows of every table and reports them in one line, `drill passed: ...`,
# also the pod's termination message; or exits 1 saying why (`drill failed: ...`). It needs no login to
# the live server: initdb, pg_ctl, pg_restore and psql of PostgreSQL 16 with pgvector (the pgvector
# image), run as a user that is not root.
# Environment: PGDATABASE DRILL_DIR SCRATCH_DIR.
set -eu

backup() {
  # The dump holds every row of the database: readable by the job's user alone.
  umask 077
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  out="$BACKUP_DIR/postgres-$PGDATABASE-$stamp.dump"
  pg_dump --format=custom --no-password --file="$out.partial" "$PGDATABASE"
  mv "$out.partial" "$out"
  echo "backup written: $out ($(wc -c <"$out") bytes)"
  # .dump* takes the .partial of a killed run too (SIGKILL skips the EXIT trap).
  find "$BACKUP_DIR" -maxdepth 1 -name "postgres-$PGDATABASE-*.dump*" -mtime +"$RETENTION_DAYS" -print -delete
}

drill_fail() {
  echo "drill failed: postgres: $*" >&2
  if [ -w /dev/termination-log ]; then echo "drill failed: postgres: $*" >/dev/termination-log || true; fi
  exit 1
}

drill() {
  : "${PGDATABASE:?}" "${DRILL_DIR:?}" "${SCRATCH_DIR:?}"
  # The stamp in the name orders the dumps; a .partial is never one.
  dump=$(find "$DRILL_DIR" -maxdepth 1 -name "postgres-$PGDATABASE-*.dump" | sort | tail -n 1)
  [ -n "$dump" ] || drill_fail "no dump postgres-$PGDATABASE-*.dump in $DRILL_DIR"
  work="$SCRATCH_DIR/postgres-drill"
  rm -rf "$work"
  mkdir -p "$work"
  initdb -D "$work/data" -U drill --auth=trust --encoding=UTF8 >"$work/initdb.log" 2>&1 ||
    drill_fail "initdb of the scratch cluster failed: $(tail -n 2 "$work/initdb.log" | tr '\n' ' ')"
  pg_ctl -D "$work/data" -l "$work/server.log" -w -t 120 \
    -o "-c listen_addresses='' -c unix_socket_directories='$work' -c fsync=off" start >/dev/null ||
    drill_fail "the scratch server did not start: $(tail -n 2 "$work/server.log" | tr '\n' ' ')"
  trap 'pg_ctl -D "$work/data" -m immediate stop >/dev/null 2>&1 || true' EXIT
  export PGHOST="$work" PGUSER=drill PGDATABASE=drill
  unset PGPORT PGPASSWORD
  createdb drill
  # Roles and grants belong to the live server; the drill checks the data.
  pg_restore --no-owner --no-acl --exit-on-error -d drill "$dump" 2>"$work/restore.log" ||
    drill_fail "pg_restore of $(basename "$dump") failed: $(tail -n 2 "$work/restore.log" | tr '\n' ' ')"
  # count(*) of each table through a function of the session (pg_temp), whatever the server was built with.
  counts=$(psql -X -At -v ON_ERROR_STOP=1 -F= \
    -c "CREATE FUNCTION pg_temp.row_count(s name, t name) RETURNS bigint LANGUAGE plpgsql AS
        \$\$ DECLARE n bigint; BEGIN EXECUTE format('SELECT count(*) FROM %I.%I', s, t) INTO n; RETURN n; END \$\$" \
    -c "SELECT n.nspname || '.' || c.relname, pg_temp.row_count(n.nspname, c.relname)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
        ORDER BY 1" | grep = ) || drill_fail "counting the restored rows failed"
  tables=$(printf '%s\n' "$counts" | grep -c . || true)
  rows=$(printf '%s\n' "$counts" | awk -F= '{ n += $2 } END { print n + 0 }')
  summary="drill passed: postgres $(basename "$dump") ($(wc -c <"$dump" | tr -d ' ') bytes): $tables tables, $rows rows: $(printf '%s\n' "$counts" | paste -sd ' ' -)"
  echo "$summary"
  if [ -w /dev/termination-log ]; then printf '%s\n' "$summary" | cut -c1-4000 >/dev/termination-log || true; fi
}

case "${1:-backup}" in
  backup) backup ;;
  drill) drill ;;
  *)
    echo "usage: sh postgres.sh [backup | drill]" >&2
    exit 2
    ;;
esac
