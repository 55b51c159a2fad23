/**
 * Config checks that need a component's knowledge of its chart (reserved user names, rule syntax the
 * chart passes through). `loadConfig` runs them with the schema's own checks, before any resource is
 * registered, so every problem is reported at once.
 */
import { PlatformConfig } from "../config";
import { postgresSettingValueProblem } from "../policies/lib/data-rules";
import { kafkaConfigProblems } from "./kafka";
import { mongodbUserProblem } from "./mongodb";
import { POSTGRES_BACKUP_USER, POSTGRES_METRICS_USER, postgresSettingsByPlace } from "./postgres";
import { CHARTS, chartSourceProblems } from "./shared/charts";
import { pgvectorConfigProblems } from "./shared/pgvector";
import { REDIS_BACKUP_USER, REDIS_METRICS_USER, redisConfigProblems } from "./redis/values";
import { weaviateConfigProblems } from "./weaviate";

/** Problems of the deployed (`helm` mode) services, one line each naming the key. */
export function componentConfigProblems(c: PlatformConfig): string[] {
  const problems: string[] = [];
  const helm = (s: { enabled: boolean; mode: string }) => s.enabled && s.mode === "helm";
  if (helm(c.postgres) && c.postgres.adminUser !== "postgres") {
    problems.push(
      `ai-platform-data:postgres.adminUser: "${c.postgres.adminUser}" is only for external servers; the chart's administrator is always "postgres"`,
    );
  }
  for (const [reserved, whose] of [
    [POSTGRES_METRICS_USER, "the exporter's"],
    [POSTGRES_BACKUP_USER, "the backup job's"],
  ]) {
    if (helm(c.postgres) && c.postgres.appUser === reserved) {
      problems.push(
        `ai-platform-data:postgres.appUser: "${reserved}" is ${whose} login, which the program creates itself; choose another name`,
      );
    }
  }
  if (helm(c.postgres)) {
    for (const [name, value] of Object.entries(postgresSettingsByPlace(c.postgres).deferred)) {
      const problem = postgresSettingValueProblem(value);
      if (problem) {
        problems.push(
          `ai-platform-data:postgres.settings.${name}: ${problem}; log_statement takes none, ddl, mod or all`,
        );
      }
    }
    problems.push(...pgvectorConfigProblems(c.postgres));
  }
  if (helm(c.mongodb)) {
    const p = mongodbUserProblem(c.mongodb);
    if (p) problems.push(p);
  }
  if (helm(c.redis)) problems.push(...redisConfigProblems(c.redis));
  for (const [reserved, whose] of [
    [REDIS_METRICS_USER, "the exporter's"],
    [REDIS_BACKUP_USER, "the backup job's"],
  ]) {
    if (helm(c.redis) && c.redis.aclUsers.some((u) => u.name === reserved)) {
      problems.push(
        `ai-platform-data:redis.aclUsers: "${reserved}" is ${whose} user, which the program adds itself; choose another name`,
      );
    }
  }
  if (helm(c.kafka)) problems.push(...kafkaConfigProblems(c.kafka).map((p) => `ai-platform-data:${p}`));
  if (helm(c.weaviate)) problems.push(...weaviateConfigProblems(c.weaviate, c.backup.s3 !== undefined));
  // A local chart folder must be the pinned chart (name and version in its Chart.yaml).
  const charts = [
    ["postgres", CHARTS.postgresql],
    ["mongodb", CHARTS.mongodb],
    ["redis", CHARTS.redis],
    ["kafka", CHARTS.kafka],
    ["weaviate", CHARTS.weaviate],
  ] as const;
  for (const [key, pinned] of charts) {
    if (helm(c[key])) problems.push(...chartSourceProblems(key, pinned, c[key].chart));
  }
  return problems;
}
