/**
 * PrometheusRule objects with the alerts of seed §8.1. ServiceMonitors come from the charts
 * (`metrics.serviceMonitor.enabled`); the rules are ours so every service alerts the same way.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { serviceLabels } from "./labels";

/** One alert. */
export interface AlertRule {
  alert: string;
  /** PromQL that is true while the alert fires. */
  expr: string;
  /** How long `expr` must hold. */
  for: string;
  severity: "warning" | "critical";
  summary: string;
}

/** Arguments of {@link alertRules}. */
export interface AlertRulesArgs {
  service: string;
  releaseName: string;
  namespace: pulumi.Input<string>;
  /** Labels the Prometheus Operator selects rules by. */
  labels: Record<string, string>;
  rules: AlertRule[];
}

/** Free space on the service's volumes, the same rule for every service. */
export function diskSpaceRule(service: string, releaseName: string, namespace: string): AlertRule {
  return {
    alert: `${service}VolumeAlmostFull`,
    expr: `kubelet_volume_stats_available_bytes{namespace="${namespace}",persistentvolumeclaim=~".*${releaseName}.*"} / kubelet_volume_stats_capacity_bytes{namespace="${namespace}",persistentvolumeclaim=~".*${releaseName}.*"} < 0.15`,
    for: "15m",
    severity: "warning",
    summary: `A ${service} volume has less than 15% free space`,
  };
}

export function alertRules(name: string, args: AlertRulesArgs, opts: pulumi.CustomResourceOptions) {
  return new k8s.apiextensions.CustomResource(
    name,
    {
      apiVersion: "monitoring.coreos.com/v1",
      kind: "PrometheusRule",
      metadata: {
        name: `${args.releaseName}-alerts`,
        namespace: args.namespace,
        labels: { ...serviceLabels(args.service, args.releaseName), ...args.labels },
      },
      spec: {
        groups: [
          {
            name: `${args.service}.rules`,
            rules: args.rules.map((r) => ({
              alert: r.alert,
              expr: r.expr,
              for: r.for,
              labels: { severity: r.severity, service: args.service },
              annotations: { summary: r.summary },
            })),
          },
        ],
      },
    },
    opts,
  );
}
