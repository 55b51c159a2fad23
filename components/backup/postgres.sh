#!/bin/sh
# PostgreSQL backup: one pg_dump in custom format (restorable table by table with pg_restore),
# written under a temporary name and renamed once complete, then old dumps pruned.
# Environment: PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE BACKUP_DIR RETENTION_DAYS.
set -eu
# The dump holds every row of the database: readable by the job's user alone.
umask 077
stamp=$(date -u +%Y%m%dT%H%M%SZ)
out="$BACKUP_DIR/postgres-$PGDATABASE-$stamp.dump"
pg_dump --format=custom --no-password --file="$out.partial" "$PGDATABASE"
mv "$out.partial" "$out"
echo "backup written: $out ($(wc -c <"$out") bytes)"
# .dump* takes the .partial of a killed run too (SIGKILL skips the EXIT trap).
find "$BACKUP_DIR" -maxdepth 1 -name "postgres-$PGDATABASE-*.dump*" -mtime +"$RETENTION_DAYS" -print -delete
