/**
 * A `mongod` for the MongoDB restore drill's test: the drill starts a scratch mongod in its pod
 * (components/backup/mongodb.sh drill); here no mongod can be had, so a script named mongod, first on
 * the drill's PATH, starts FerretDB (the MongoDB-wire stand-in of scripts/services.sh) with the same
 * data directory, address and log file. What this cannot check: the real mongod's flags and start-up.
 */
import * as fs from "node:fs";
import * as path from "node:path";

/** Writes the `mongod` stand-in into `dir`; returns `dir`, to put first on PATH. */
export function mongodStandIn(dir: string, ferretdb: string): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, "mongod"),
    [
      "#!/bin/sh",
      "# mongod --dbpath D --bind_ip H --port P --logpath L, as FerretDB (sqlite handler, no users).",
      "while [ $# -gt 0 ]; do",
      "  case $1 in",
      "    --dbpath) db=$2 ;;",
      "    --bind_ip) ip=$2 ;;",
      "    --port) port=$2 ;;",
      "    --logpath) log=$2 ;;",
      '    *) echo "mongod stand-in: unexpected argument $1" >&2; exit 2 ;;',
      "  esac",
      "  shift 2",
      "done",
      `exec ${JSON.stringify(ferretdb)} --handler=sqlite --sqlite-url="file:$db/" --listen-addr="$ip:$port" \\`,
      '  --state-dir="$db" --debug-addr=- --telemetry=disable --log-level=warn >"$log" 2>&1',
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  return dir;
}
