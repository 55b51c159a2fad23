/** MongoDB's alert rules, on the mongodb_exporter metrics of the pinned chart. */
import { parseBytes } from "../../config";
import { AlertRule } from "../shared/monitoring";

/**
 * The alert rules of seed §8.1 (operation latency, connections, memory, write queue) plus replication lag,
 * exporter down and disk space. Names are the exporter's `--compatible-mode` ones (the chart's default),
 * from percona/mongodb_exporter v0.39.0 `exporter/v1_compatibility.go`.
 */
export function mongodbAlertRules(namespace: string, memoryLimit: string): AlertRule[] {
  const sel = `namespace="${namespace}"`;
  const limitBytes = parseBytes(memoryLimit) ?? 0;
  return [
    {
      alert: "MongodbDown",
      expr: `mongodb_up{${sel}} == 0`,
      for: "1m",
      severity: "critical",
      summary: "The MongoDB exporter cannot reach its mongod",
    },
    {
      alert: "MongodbTooManyConnections",
      expr: `max by (pod) (mongodb_connections{${sel},state="current"}) / (max by (pod) (mongodb_connections{${sel},state="current"}) + max by (pod) (mongodb_connections{${sel},state="available"})) > 0.8`,
      for: "5m",
      severity: "warning",
      summary: "A MongoDB member uses more than 80% of its available connections",
    },
    {
      alert: "MongodbReplicationLag",
      expr: `max by (name) (mongodb_mongod_replset_member_replication_lag{${sel}}) > 30`,
      for: "5m",
      severity: "warning",
      summary: "A MongoDB secondary is more than 30 s behind the primary",
    },
    {
      alert: "MongodbHighMemory",
      // `mongodb_memory` is serverStatus.mem in MiB; the limit is the container's, from config.
      expr: `max by (pod) (mongodb_memory{${sel},type="resident"}) * 1048576 / ${limitBytes} > 0.9`,
      for: "10m",
      severity: "warning",
      summary: `A mongod's resident memory is above 90% of its ${memoryLimit} limit`,
    },
    {
      alert: "MongodbWriteQueue",
      expr: `max by (pod) (mongodb_mongod_global_lock_current_queue{${sel},type="writer"}) > 10`,
      for: "5m",
      severity: "warning",
      summary: "More than 10 MongoDB operations are queued waiting for a write lock",
    },
    {
      alert: "MongodbHighOperationLatency",
      // Microseconds per operation; commands are left out, awaitable `hello` calls wait up to 10 s by design.
      expr: `max by (pod, type) (rate(mongodb_mongod_op_latencies_latency_total{${sel},type=~"read|write"}[5m]) / rate(mongodb_mongod_op_latencies_ops_total{${sel},type=~"read|write"}[5m])) > 100000`,
      for: "10m",
      severity: "warning",
      summary: "MongoDB reads or writes take more than 100 ms on average",
    },
  ];
}
