/** PostgreSQL's alert rules, on the postgres_exporter metrics of the pinned chart's exporter image. */
import { AlertRule } from "../shared/monitoring";

/** PostgreSQL's own alert rules (seed §8.1): connections, cache hit ratio, replication lag, exporter down. */
export function postgresAlertRules(ns: string): AlertRule[] {
  return [
    {
      alert: "PostgresTooManyConnections",
      expr: `sum(pg_stat_database_numbackends{namespace="${ns}"}) / max(pg_settings_max_connections{namespace="${ns}"}) > 0.8`,
      for: "5m",
      severity: "warning",
      summary: "PostgreSQL uses more than 80% of max_connections",
    },
    {
      alert: "PostgresLowCacheHitRatio",
      expr: `sum(rate(pg_stat_database_blks_hit{namespace="${ns}"}[5m])) / (sum(rate(pg_stat_database_blks_hit{namespace="${ns}"}[5m])) + sum(rate(pg_stat_database_blks_read{namespace="${ns}"}[5m]))) < 0.9`,
      for: "15m",
      severity: "warning",
      summary: "PostgreSQL buffer cache hit ratio is below 90%",
    },
    {
      alert: "PostgresReplicationLag",
      expr: `max(pg_replication_lag_seconds{namespace="${ns}"}) > 30`,
      for: "5m",
      severity: "warning",
      summary: "A PostgreSQL read replica is more than 30 s behind",
    },
    {
      alert: "PostgresDown",
      expr: `pg_up{namespace="${ns}"} == 0`,
      for: "1m",
      severity: "critical",
      summary: "The PostgreSQL exporter cannot reach the server",
    },
  ];
}
