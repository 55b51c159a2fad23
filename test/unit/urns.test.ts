/**
 * The URN of every resource the dev and prod stacks register (type chain and name; stack and project
 * left out). A changed URN makes the engine delete the old resource and create a new one: for a Helm
 * release, a credentials Secret or a backup PVC that loses data or locks applications out. A refactor
 * must keep this list as it is; a change that really means to move a resource adds `aliases` to it
 * and then updates the list here.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runOk } from "../support/program";

/** What both stacks register. */
const BOTH = [
  "ai-platform:data:DbCredentials$kubernetes:core/v1:Secret::db-credentials-secret",
  "ai-platform:data:DbCredentials::db-credentials",
  "ai-platform:data:Kafka$ai-platform:data:BackupJob$kubernetes:batch/v1:CronJob::kafka-backup-cronjob",
  "ai-platform:data:Kafka$ai-platform:data:BackupJob$kubernetes:batch/v1:CronJob::kafka-drill-cronjob",
  "ai-platform:data:Kafka$ai-platform:data:BackupJob$kubernetes:core/v1:PersistentVolumeClaim::kafka-backup-pvc",
  "ai-platform:data:Kafka$ai-platform:data:BackupJob::kafka-backup",
  "ai-platform:data:Kafka$kubernetes:core/v1:Secret::kafka-credentials",
  "ai-platform:data:Kafka$kubernetes:helm.sh/v3:Release::kafka-release",
  "ai-platform:data:Kafka$kubernetes:networking.k8s.io/v1:NetworkPolicy::kafka-network-policy",
  // Added with the Kafka authorizer: the client users' ACLs (the other URNs are as before).
  "ai-platform:data:Kafka$pulumi-nodejs:dynamic:Resource::kafka-acls",
  "ai-platform:data:Kafka$pulumi-nodejs:dynamic:Resource::kafka-scram-users",
  "ai-platform:data:Kafka$pulumi-nodejs:dynamic:Resource::kafka-topics",
  "ai-platform:data:Kafka$random:index/randomPassword:RandomPassword::kafka-client-password-admin",
  "ai-platform:data:Kafka$random:index/randomPassword:RandomPassword::kafka-client-password-app",
  "ai-platform:data:Kafka$random:index/randomPassword:RandomPassword::kafka-client-password-kafka_observer",
  "ai-platform:data:Kafka$random:index/randomPassword:RandomPassword::kafka-controller-password",
  "ai-platform:data:Kafka$random:index/randomPassword:RandomPassword::kafka-inter-broker-password",
  "ai-platform:data:Kafka::kafka",
  "ai-platform:data:MongoDB$ai-platform:data:BackupJob$kubernetes:batch/v1:CronJob::mongodb-backup-cronjob",
  "ai-platform:data:MongoDB$ai-platform:data:BackupJob$kubernetes:batch/v1:CronJob::mongodb-drill-cronjob",
  "ai-platform:data:MongoDB$ai-platform:data:BackupJob$kubernetes:core/v1:PersistentVolumeClaim::mongodb-backup-pvc",
  "ai-platform:data:MongoDB$ai-platform:data:BackupJob::mongodb-backup",
  "ai-platform:data:MongoDB$kubernetes:core/v1:Secret::mongodb-credentials",
  "ai-platform:data:MongoDB$kubernetes:helm.sh/v3:Release::mongodb-release",
  "ai-platform:data:MongoDB$kubernetes:networking.k8s.io/v1:NetworkPolicy::mongodb-network-policy",
  "ai-platform:data:MongoDB$pulumi-nodejs:dynamic:Resource::mongodb-collections",
  "ai-platform:data:MongoDB$random:index/randomPassword:RandomPassword::mongodb-app-password",
  "ai-platform:data:MongoDB$random:index/randomPassword:RandomPassword::mongodb-metrics-password",
  "ai-platform:data:MongoDB$random:index/randomPassword:RandomPassword::mongodb-replica-set-key",
  "ai-platform:data:MongoDB$random:index/randomPassword:RandomPassword::mongodb-root-password",
  "ai-platform:data:MongoDB::mongodb",
  "ai-platform:data:PostgreSQL$ai-platform:data:BackupJob$kubernetes:batch/v1:CronJob::postgres-backup-cronjob",
  "ai-platform:data:PostgreSQL$ai-platform:data:BackupJob$kubernetes:batch/v1:CronJob::postgres-drill-cronjob",
  "ai-platform:data:PostgreSQL$ai-platform:data:BackupJob$kubernetes:core/v1:PersistentVolumeClaim::postgres-backup-pvc",
  "ai-platform:data:PostgreSQL$ai-platform:data:BackupJob::postgres-backup",
  "ai-platform:data:PostgreSQL$kubernetes:core/v1:Secret::postgres-credentials",
  "ai-platform:data:PostgreSQL$kubernetes:helm.sh/v3:Release::postgres-release",
  "ai-platform:data:PostgreSQL$kubernetes:networking.k8s.io/v1:NetworkPolicy::postgres-network-policy",
  "ai-platform:data:PostgreSQL$pulumi-nodejs:dynamic:Resource::postgres-schema",
  "ai-platform:data:PostgreSQL$random:index/randomPassword:RandomPassword::postgres-admin-password",
  "ai-platform:data:PostgreSQL$random:index/randomPassword:RandomPassword::postgres-app-password",
  "ai-platform:data:PostgreSQL$random:index/randomPassword:RandomPassword::postgres-backup-password",
  "ai-platform:data:PostgreSQL$random:index/randomPassword:RandomPassword::postgres-metrics-password",
  "ai-platform:data:PostgreSQL$random:index/randomPassword:RandomPassword::postgres-replication-password",
  "ai-platform:data:PostgreSQL::postgres",
  "ai-platform:data:Redis$ai-platform:data:BackupJob$kubernetes:batch/v1:CronJob::redis-backup-cronjob",
  "ai-platform:data:Redis$ai-platform:data:BackupJob$kubernetes:batch/v1:CronJob::redis-drill-cronjob",
  "ai-platform:data:Redis$ai-platform:data:BackupJob$kubernetes:core/v1:PersistentVolumeClaim::redis-backup-pvc",
  "ai-platform:data:Redis$ai-platform:data:BackupJob::redis-backup",
  "ai-platform:data:Redis$kubernetes:core/v1:Secret::redis-credentials",
  // Added so Sentinels keep the users' discovery logins across restarts (the other URNs are as before).
  "ai-platform:data:Redis$kubernetes:core/v1:Secret::redis-sentinel-users",
  "ai-platform:data:Redis$kubernetes:helm.sh/v3:Release::redis-release",
  "ai-platform:data:Redis$kubernetes:networking.k8s.io/v1:NetworkPolicy::redis-network-policy",
  "ai-platform:data:Redis$pulumi-nodejs:dynamic:Resource::redis-acl-users",
  "ai-platform:data:Redis$random:index/randomPassword:RandomPassword::redis-acl-app-password",
  "ai-platform:data:Redis$random:index/randomPassword:RandomPassword::redis-backup-password",
  "ai-platform:data:Redis$random:index/randomPassword:RandomPassword::redis-metrics-password",
  "ai-platform:data:Redis$random:index/randomPassword:RandomPassword::redis-password",
  "ai-platform:data:Redis::redis",
  "ai-platform:data:Weaviate$ai-platform:data:BackupJob$kubernetes:batch/v1:CronJob::weaviate-backup-cronjob",
  "ai-platform:data:Weaviate$ai-platform:data:BackupJob$kubernetes:batch/v1:CronJob::weaviate-drill-cronjob",
  "ai-platform:data:Weaviate$ai-platform:data:BackupJob$kubernetes:core/v1:PersistentVolumeClaim::weaviate-backup-pvc",
  "ai-platform:data:Weaviate$ai-platform:data:BackupJob::weaviate-backup",
  "ai-platform:data:Weaviate$kubernetes:core/v1:Secret::weaviate-credentials",
  "ai-platform:data:Weaviate$kubernetes:helm.sh/v3:Release::weaviate-release",
  "ai-platform:data:Weaviate$kubernetes:networking.k8s.io/v1:NetworkPolicy::weaviate-network-policy",
  "ai-platform:data:Weaviate$pulumi-nodejs:dynamic:Resource::weaviate-classes",
  "ai-platform:data:Weaviate$random:index/randomPassword:RandomPassword::weaviate-admin-api-key",
  "ai-platform:data:Weaviate$random:index/randomPassword:RandomPassword::weaviate-app-api-key",
  "ai-platform:data:Weaviate::weaviate",
  "kubernetes:core/v1:Namespace::namespace",
];

/**
 * What prod adds: its alert rules, the PodMonitors, the NetworkPolicy of Weaviate's inference pods and
 * the read of backup.s3's Secret.
 */
const PROD_ONLY = [
  "ai-platform:data:PostgreSQL$kubernetes:monitoring.coreos.com/v1:PodMonitor::postgres-pod-monitor",
  "ai-platform:data:Redis$kubernetes:monitoring.coreos.com/v1:PodMonitor::redis-pod-monitor",
  "ai-platform:data:Kafka$kubernetes:monitoring.coreos.com/v1:PrometheusRule::kafka-alerts",
  "ai-platform:data:MongoDB$kubernetes:monitoring.coreos.com/v1:PrometheusRule::mongodb-alerts",
  "ai-platform:data:PostgreSQL$kubernetes:monitoring.coreos.com/v1:PrometheusRule::postgres-alerts",
  "ai-platform:data:Redis$kubernetes:monitoring.coreos.com/v1:PrometheusRule::redis-alerts",
  "ai-platform:data:Weaviate$kubernetes:monitoring.coreos.com/v1:PodMonitor::weaviate-pod-monitor",
  "ai-platform:data:Weaviate$kubernetes:monitoring.coreos.com/v1:PrometheusRule::weaviate-alerts",
  "ai-platform:data:Weaviate$kubernetes:networking.k8s.io/v1:NetworkPolicy::weaviate-inference-network-policy",
  "kubernetes:core/v1:Secret::backup-s3-credentials",
];

const EXPECTED: Record<string, string[]> = { dev: BOTH, prod: [...BOTH, ...PROD_ONLY].sort() };

describe("resource URNs", () => {
  for (const stack of ["dev", "prod"]) {
    it(`${stack}: every resource keeps its URN`, () => {
      const urns = runOk(stack).resources.map((r) => {
        assert.ok(r.urn, `${r.type} ${r.name}: no single URN (two resources share a type and name)`);
        return r.urn.split("::").slice(2).join("::");
      });
      assert.deepEqual(urns.sort(), EXPECTED[stack]);
    });
  }
});
