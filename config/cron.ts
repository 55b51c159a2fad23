/**
 * The longest time between two runs of a CronJob schedule, for alerts that must know how late "late"
 * is (BackupMissing: no success within twice that). Kubernetes' syntax: five fields (numbers, `*`,
 * ranges, steps, lists, month and weekday names, 7 for Sunday) or `@hourly` ... `@yearly`; the day of
 * month and the day of week match either when both are restricted, as cron does.
 */

const MACROS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};
const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

interface Field {
  values: Set<number>;
  /** The field was `*` (or `*` with a step of 1): it restricts nothing. */
  any: boolean;
}

function parseField(text: string, min: number, max: number, names: string[] = [], base = 0): Field {
  const value = (v: string): number => {
    const i = names.indexOf(v.toLowerCase());
    const n = i >= 0 ? i + base : Number(v);
    if (!Number.isInteger(n)) throw new Error(`"${v}" is not a number or a name`);
    return n;
  };
  const values = new Set<number>();
  for (const part of text.split(",")) {
    const [range, stepText] = part.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`bad step in "${part}"`);
    let lo: number;
    let hi: number;
    if (range === "*") [lo, hi] = [min, max];
    else if (range.includes("-")) [lo, hi] = range.split("-").map(value) as [number, number];
    else [lo, hi] = [value(range), stepText === undefined ? value(range) : max];
    if (lo < min || hi > max || lo > hi) throw new Error(`"${part}" is outside ${min}-${max}`);
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return { values, any: text === "*" || text === "*/1" };
}

/**
 * The longest gap in seconds between consecutive runs of `schedule` over two years of UTC time (a
 * `CRON_TZ=`/`TZ=` prefix is ignored: the gap does not depend on the zone, daylight saving aside).
 * Throws when the schedule cannot be read.
 */
export function cronMaxGapSeconds(schedule: string): number {
  const text = schedule.trim().replace(/^(CRON_TZ|TZ)=\S+\s+/, "");
  const fields = (MACROS[text] ?? text).split(/\s+/);
  if (fields.length !== 5) throw new Error(`"${schedule}" has ${fields.length} fields, not 5`);
  const minute = parseField(fields[0], 0, 59);
  const hour = parseField(fields[1], 0, 23);
  const dom = parseField(fields[2], 1, 31);
  const month = parseField(fields[3], 1, 12, MONTHS, 1);
  const dowRaw = parseField(fields[4], 0, 7, DAYS, 0);
  const dow = new Set([...dowRaw.values].map((d) => d % 7));
  const minutesOfDay = [...hour.values]
    .sort((a, b) => a - b)
    .flatMap((h) => [...minute.values].sort((a, b) => a - b).map((m) => h * 60 + m));
  const start = Date.UTC(2026, 0, 1);
  let last: number | undefined;
  let gap = 0;
  for (let day = 0; day < 731; day++) {
    const d = new Date(start + day * 86_400_000);
    if (!month.values.has(d.getUTCMonth() + 1)) continue;
    const domOk = dom.values.has(d.getUTCDate());
    const dowOk = dow.has(d.getUTCDay());
    const dayOk = dom.any || dowRaw.any ? domOk && dowOk : domOk || dowOk;
    if (!dayOk) continue;
    for (const m of minutesOfDay) {
      const t = start / 1000 + day * 86_400 + m * 60;
      if (last !== undefined) gap = Math.max(gap, t - last);
      last = t;
    }
  }
  if (gap === 0) throw new Error(`"${schedule}" runs at most once in two years`);
  return gap;
}
