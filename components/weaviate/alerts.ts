/** Weaviate's alert rules, on the metrics the server exports (`PROMETHEUS_MONITORING_ENABLED`). */
import { parseBytes, WeaviateConfig } from "../../config";
import { AlertRule } from "../shared/monitoring";

/**
 * Alerts on Weaviate's own metrics (1.22 names have no `weaviate_` prefix: `requests_total`,
 * `queries_durations_ms`), the exporter's `up` and the container's memory against its limit.
 */
export function weaviateAlertRules(
  namespace: string,
  config: Pick<WeaviateConfig, "resources">,
): AlertRule[] {
  const sel = `namespace="${namespace}"`;
  const pods = `${sel},pod=~"weaviate-[0-9]+"`;
  const limit = parseBytes(config.resources.limits.memory) ?? 0;
  return [
    {
      alert: "WeaviateDown",
      expr: `up{${pods}} == 0`,
      for: "2m",
      severity: "critical",
      summary: "Prometheus cannot scrape a Weaviate pod",
    },
    {
      alert: "WeaviateServerErrors",
      expr: `sum(rate(requests_total{${sel},status="server_error"}[5m])) / sum(rate(requests_total{${sel}}[5m])) > 0.05`,
      for: "10m",
      severity: "warning",
      summary: "More than 5% of Weaviate requests fail with a server error",
    },
    {
      alert: "WeaviateSlowQueries",
      expr: `histogram_quantile(0.95, sum by (le) (rate(queries_durations_ms_bucket{${sel}}[5m]))) > 1000`,
      for: "15m",
      severity: "warning",
      summary: "Weaviate's 95th-percentile query time is above 1 s",
    },
    {
      alert: "WeaviateMemoryNearLimit",
      expr: `max(container_memory_working_set_bytes{${pods},container="weaviate"}) > ${Math.floor(limit * 0.9)}`,
      for: "10m",
      severity: "warning",
      summary: `A Weaviate container uses more than 90% of its ${config.resources.limits.memory} memory limit`,
    },
  ];
}
