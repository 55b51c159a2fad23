/**
 * The backup alerts' pieces that need no Prometheus (their behaviour on series is
 * test/integration/alert-rules.test.ts, with promtool): the longest gap of a cron schedule, which
 * alerts come with which settings, and the config check of a schedule the gap cannot be read from.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backupAlertRules } from "../../components/shared/backup-alerts";
import { backupSchema, cronMaxGapSeconds } from "../../config";
import { configProblems } from "../support/unit-config";

const H = 3600;

describe("backup alerts", () => {
  it("reads the longest gap between runs of a schedule", () => {
    const cases: [string, number][] = [
      ["0 2 * * *", 24 * H],
      ["*/15 * * * *", 0.25 * H],
      ["0 6 * * 1-5", 72 * H],
      ["30 4 * * sun", 168 * H],
      ["@weekly", 168 * H],
      ["0 0 1 * *", 31 * 24 * H],
      ["0 3,15 * * *", 12 * H],
      ["CRON_TZ=Europe/Berlin 0 2 * * *", 24 * H],
      // Day of month and day of week both restricted: either matches (the 13th, or a Friday).
      ["0 0 13 * 5", 168 * H],
    ];
    for (const [schedule, gap] of cases) assert.equal(cronMaxGapSeconds(schedule), gap, schedule);
    assert.throws(() => cronMaxGapSeconds("61 * * * *"), /"61" is outside 0-59/);
    assert.throws(() => cronMaxGapSeconds("0 0 31 2 *"), /runs at most once in two years/);
  });

  it("alerts on a missing and a failed backup, a failed upload with backup.s3, a failed drill when on", () => {
    const args = {
      service: "redis",
      releaseName: "redis",
      namespace: "ns",
      backup: backupSchema.parse({ schedule: "0 */6 * * *" }),
      offsite: true,
    };
    const rules = backupAlertRules(args);
    assert.deepEqual(
      rules.map((r) => r.alert),
      ["BackupMissing", "BackupFailed", "BackupUploadFailed", "RestoreDrillFailed"],
    );
    // Twice the 6-hour gap.
    assert.match(
      rules[0].expr,
      /kube_cronjob_status_last_successful_time\{namespace="ns",cronjob="redis-backup"\}\) > 43200/,
    );
    assert.match(rules[3].expr, /job_name=~"redis-restore-drill-\[0-9\]\+"/);
    const plain = backupAlertRules({
      ...args,
      offsite: false,
      backup: backupSchema.parse({ drill: { enabled: false } }),
    });
    assert.deepEqual(
      plain.map((r) => r.alert),
      ["BackupMissing", "BackupFailed"],
    );
  });

  it("refuses a backup or drill schedule whose runs cannot be read, naming the key", () => {
    assert.match(
      configProblems({ redis: { backup: { schedule: "0 0 31 2 *" } } }),
      /ai-platform-data:redis\.backup\.schedule: "0 0 31 2 \*" cannot be read \(.*runs at most once in two years\); write five cron fields/,
    );
    assert.match(
      configProblems({ kafka: { backup: { drill: { schedule: "0 25 * * *" } } } }),
      /ai-platform-data:kafka\.backup\.drill\.schedule: "0 25 \* \* \*" cannot be read \("25" is outside 0-23\)/,
    );
  });
});
