/**
 * The alert rules as the program declares them (every PrometheusRule of the prod stack, under mocks),
 * through promtool of Prometheus 3.16 (scripts/services/promtool.sh): `promtool check rules` for every
 * rule of every service, and `promtool test rules` for the backup alerts (issue 23) on the
 * kube-state-metrics series they read. Under CI=true a missing promtool fails; locally it is skipped.
 * Not covered yet: unit tests of the services' own rules, and their metric names against the exporters.
 */
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it, type TestContext } from "node:test";
import { stringify } from "yaml";
import { byType, runOk } from "../support/program";
import { missing, recordedService, Services } from "../support/servers";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-alerts-"));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function requirePromtool(t: TestContext): Services["promtool"] | undefined {
  const promtool = recordedService("promtool");
  if (!promtool?.bin || !fs.existsSync(promtool.bin)) {
    return missing(t, "promtool", "promtool is not installed: run 'npm run services:start'");
  }
  return promtool;
}

/** The groups of every PrometheusRule of the prod stack, as one Prometheus rule file. */
function ruleFile(): string {
  const rules = byType(runOk("prod"), "kubernetes:monitoring.coreos.com/v1:PrometheusRule");
  assert.equal(rules.length, 5, "one PrometheusRule per service");
  const groups = rules.flatMap((r) => (r.inputs.spec as { groups: unknown[] }).groups);
  const file = path.join(dir, "rules.yaml");
  fs.writeFileSync(file, stringify({ groups }));
  return file;
}

function promtool(bin: string, args: string[]) {
  const r = spawnSync(bin, args, { cwd: dir, encoding: "utf8", timeout: 120_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const NS = "ai-platform-data";
const series = (name: string, labels: Record<string, string>, values: string) => ({
  series: `${name}{${Object.entries({ namespace: NS, ...labels })
    .map(([k, v]) => `${k}="${v}"`)
    .join(",")}}`,
  values,
});
const alert = (service: string, summary: string) => ({
  exp_labels: { severity: "critical", service },
  exp_annotations: { summary },
});

describe("alert rules (promtool)", () => {
  it("every rule of every service is valid for Prometheus", (t) => {
    const bin = requirePromtool(t)?.bin;
    if (!bin) return;
    const r = promtool(bin, ["check", "rules", ruleFile()]);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /SUCCESS: \d+ rules found/);
  });

  it("backup alerts: missing, failed, upload failed and restore drill failed, each cleared by a success", (t) => {
    const bin = requirePromtool(t)?.bin;
    if (!bin) return;
    const rules = ruleFile();
    // prod: PostgreSQL backs up daily at 02:00 (2x the gap: 48 h), MongoDB's never succeeded.
    const hour = 3600;
    const tests = {
      rule_files: [rules],
      evaluation_interval: "1m",
      tests: [
        {
          // Every minute: Prometheus looks back 5 minutes for a sample (sparser series would go stale).
          interval: "1m",
          input_series: [
            // PostgreSQL's last success at t=0; MongoDB's CronJob made at t=0 and never successful.
            series("kube_cronjob_status_last_successful_time", { cronjob: "postgresql-backup" }, "0x3000"),
            series("kube_cronjob_created", { cronjob: "postgresql-backup" }, "0x3000"),
            series("kube_cronjob_created", { cronjob: "mongodb-backup" }, "0x3000"),
          ],
          alert_rule_test: [
            { eval_time: "47h", alertname: "BackupMissing", exp_alerts: [] },
            {
              eval_time: "49h",
              alertname: "BackupMissing",
              exp_alerts: [
                alert("postgres", "No postgres backup has succeeded for twice its schedule (48 h)"),
                alert("mongodb", "No mongodb backup has succeeded for twice its schedule (48 h)"),
              ],
            },
          ],
        },
        {
          interval: "1m",
          input_series: [
            // Redis: last success at t=0 (then at 2 h); a backup Job started at 1 h failed, and its
            // upload container ended in error; the drill Job started at 1 h failed too.
            series(
              "kube_cronjob_status_last_successful_time",
              { cronjob: "redis-backup" },
              `0x119 ${2 * hour}x200`,
            ),
            series("kube_job_failed", { job_name: "redis-backup-29000000", condition: "true" }, "1x320"),
            series("kube_job_status_start_time", { job_name: "redis-backup-29000000" }, `${hour}x320`),
            series(
              "kube_pod_container_status_terminated_reason",
              { pod: "redis-backup-29000000-x7k2p", container: "offsite", reason: "Error" },
              "1x320",
            ),
            series("kube_pod_start_time", { pod: "redis-backup-29000000-x7k2p" }, `${hour}x320`),
            // The drill never succeeded: any failed drill Job fires.
            series(
              "kube_job_failed",
              { job_name: "redis-restore-drill-29000060", condition: "true" },
              "1x320",
            ),
            series("kube_job_status_start_time", { job_name: "redis-restore-drill-29000060" }, `${hour}x320`),
            // Kafka: a failed Job older than the last success stays in the history: no alert.
            series(
              "kube_cronjob_status_last_successful_time",
              { cronjob: "kafka-backup" },
              `${2 * hour}x320`,
            ),
            series("kube_job_failed", { job_name: "kafka-backup-28999999", condition: "true" }, "1x320"),
            series("kube_job_status_start_time", { job_name: "kafka-backup-28999999" }, `${hour}x320`),
          ],
          alert_rule_test: [
            {
              eval_time: "30m",
              alertname: "BackupFailed",
              exp_alerts: [
                alert(
                  "redis",
                  "The last redis backup failed (kubectl -n ai-platform-data logs job/<job> --all-containers)",
                ),
              ],
            },
            {
              eval_time: "30m",
              alertname: "BackupUploadFailed",
              exp_alerts: [
                alert(
                  "redis",
                  "The last redis backup has no checked copy in the bucket (the pod's termination message says why)",
                ),
              ],
            },
            {
              eval_time: "30m",
              alertname: "RestoreDrillFailed",
              exp_alerts: [
                alert(
                  "redis",
                  "The last redis restore drill failed: the newest backup may not restore (the pod's termination message says why)",
                ),
              ],
            },
            // The success at 2 h clears the backup alerts; the drill has not succeeded since.
            { eval_time: "3h", alertname: "BackupFailed", exp_alerts: [] },
            { eval_time: "3h", alertname: "BackupUploadFailed", exp_alerts: [] },
            {
              eval_time: "3h",
              alertname: "RestoreDrillFailed",
              exp_alerts: [
                alert(
                  "redis",
                  "The last redis restore drill failed: the newest backup may not restore (the pod's termination message says why)",
                ),
              ],
            },
          ],
        },
      ],
    };
    const testFile = path.join(dir, "backup-alerts.test.yaml");
    fs.writeFileSync(testFile, stringify(tests));
    const r = promtool(bin, ["test", "rules", testFile]);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /SUCCESS/);
  });
});
