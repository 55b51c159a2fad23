/** Redis's alert rules, on the redis_exporter metrics of the pinned chart. */
import { AlertRule } from "../shared/monitoring";
import { REDIS_MAXCLIENTS } from "./values";

/**
 * Alerts on the redis_exporter 1.52 metrics (the chart's `metrics.image`) for seed §8.1: hit ratio, memory,
 * clients, latency, plus the replication a Sentinel setup depends on. Metric names checked in
 * oliver006/redis_exporter v1.52.0 `exporter/exporter.go`, `exporter/info.go`.
 */
export function redisAlertRules(namespace: string, nodes: number): AlertRule[] {
  const sel = `namespace="${namespace}"`;
  const rules: AlertRule[] = [
    {
      alert: "RedisDown",
      expr: `redis_up{${sel}} == 0`,
      for: "1m",
      severity: "critical",
      summary: "The Redis exporter cannot reach its Redis node",
    },
    {
      alert: "RedisNoMaster",
      expr: `absent(redis_instance_info{${sel},role="master"})`,
      // Longer than Sentinel's down-after-milliseconds (60 s) plus a failover.
      for: "3m",
      severity: "critical",
      summary: "No Redis node reports the master role: writes fail",
    },
    {
      alert: "RedisLowHitRatio",
      expr: `sum(rate(redis_keyspace_hits_total{${sel}}[5m])) / (sum(rate(redis_keyspace_hits_total{${sel}}[5m])) + sum(rate(redis_keyspace_misses_total{${sel}}[5m]))) < 0.8`,
      for: "15m",
      severity: "warning",
      summary: "Redis keyspace hit ratio is below 80%",
    },
    {
      alert: "RedisMemoryNearMaxmemory",
      // Nodes without maxmemory report 0; the filter keeps them out of the division.
      expr: `redis_memory_used_bytes{${sel}} / (redis_memory_max_bytes{${sel}} > 0) > 0.9`,
      for: "10m",
      severity: "warning",
      summary: "A Redis node uses more than 90% of maxmemory: it evicts keys or rejects writes",
    },
    {
      alert: "RedisTooManyClients",
      // maxclients is fixed in redis.conf: the exporter may not run CONFIG GET (REDIS_METRICS_COMMANDS).
      expr: `redis_connected_clients{${sel}} > ${0.8 * REDIS_MAXCLIENTS}`,
      for: "5m",
      severity: "warning",
      summary: "A Redis node has more than 80% of maxclients connected",
    },
    {
      alert: "RedisHighLatency",
      expr: `sum by (pod) (rate(redis_commands_duration_seconds_total{${sel}}[5m])) / sum by (pod) (rate(redis_commands_total{${sel}}[5m])) > 0.002`,
      for: "10m",
      severity: "warning",
      summary: "Redis commands take more than 2 ms on average",
    },
  ];
  if (nodes > 1) {
    rules.push(
      {
        alert: "RedisReplicasMissing",
        expr: `max(redis_connected_slaves{${sel}}) < ${nodes - 1}`,
        for: "5m",
        severity: "warning",
        summary: `The Redis master has fewer than ${nodes - 1} connected replicas`,
      },
      {
        alert: "RedisMasterLinkDown",
        expr: `redis_master_link_up{${sel}} == 0`,
        for: "2m",
        severity: "critical",
        summary: "A Redis replica has lost its link to the master",
      },
    );
  }
  return rules;
}
