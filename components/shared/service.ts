/**
 * What every service component does the same way in `helm` mode: its credentials Secret (generated, or
 * the user's own), the pinned Helm release that reads it, the NetworkPolicy in front of the pods, the
 * backup CronJob, the PodMonitor (where the program scrapes the pods itself) and the alert rules. Each
 * `components/<service>.ts` hands in only what is its own: chart, values, Secret keys, ports, backup
 * script settings and alerts.
 *
 * Resource names stay `<component>-credentials`, `<component>-release`, `<component>-network-policy`,
 * `<component>-backup`, `<component>-alerts` (`<component>-existing-credentials` for a kept Secret), all
 * children of the component: the URNs of deployed stacks depend on them.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { BackupConfig, ChartSourceConfig } from "../../config";
import { BackupJob, BackupJobArgs } from "./backup";
import { backupAlertRules } from "./backup-alerts";
import { DrillArgs, restoreDrill } from "./drill";
import { PinnedChart, pinnedRelease } from "./charts";
import { childOptions, PlatformContext } from "./context";
import { opaqueSecret } from "./credentials";
import { podMonitor, PodMonitorArgs } from "./exporter";
import { existingSecret } from "./existing-secret";
import { AlertRule, alertRules, diskSpaceRule } from "./monitoring";
import { databaseNetworkPolicy, DatabaseNetworkPolicyArgs } from "./network";

/**
 * The service's name in labels, backup scripts and alerts. `postgres` (not `postgresql`, the chart's and
 * release's name): deployed labels and backup PVCs carry it, so it stays.
 */
export type ServiceName = "postgres" | "mongodb" | "redis" | "kafka" | "weaviate";

/** Arguments of {@link serviceCredentials}. */
export interface ServiceCredentialsArgs {
  /** Service name; the kept Secret's config key is `<service>.credentials.existingSecret`. */
  service: ServiceName;
  /** Helm release name; the generated Secret is `<releaseName>-credentials`. */
  releaseName: string;
  /** The Secret the user keeps (`<service>.credentials.existingSecret`), else undefined. */
  existingSecretName?: string;
  /** Keys a kept Secret must hold (the chart's and the program's). */
  keys: string[];
  /** Checks across a kept Secret's values (see `ExistingSecretArgs.check`). */
  check?: (values: Record<string, string>) => string | undefined;
  /**
   * The generated Secret's data, when the user keeps none; called only then, so passwords are
   * generated only then.
   */
  generate: () => Record<string, pulumi.Input<string>>;
  /** Labels of the generated Secret. */
  labels?: Record<string, string>;
}

/** A service's credentials Secret as the component uses it. */
export interface ServiceCredentials {
  /** Name of the Secret object the chart reads (`existingSecret`). */
  secretName: string;
  /** The Secret resource (created, or read when the user keeps it); the release waits for it. */
  resource: pulumi.Resource;
  /** Values of {@link ServiceCredentialsArgs.keys} (kept) or of the generated data, each a Pulumi secret. */
  values: Record<string, pulumi.Output<string>>;
  /** True when the user keeps the Secret. */
  kept: boolean;
}

/**
 * The Secret a service's chart reads: the user's own (`<service>.credentials.existingSecret`), read and
 * checked, or one of generated values.
 */
export function serviceCredentials(
  name: string,
  parent: pulumi.Resource,
  platform: PlatformContext,
  args: ServiceCredentialsArgs,
): ServiceCredentials {
  const childOpts = childOptions(parent, platform);
  const ns = platform.namespace;
  if (args.existingSecretName) {
    // The user keeps the passwords: nothing is generated, the chart and the initialiser read that Secret.
    const kept = existingSecret(
      `${name}-existing-credentials`,
      {
        namespace: ns,
        name: args.existingSecretName,
        configKey: `${args.service}.credentials.existingSecret`,
        keys: args.keys,
        check: args.check,
      },
      childOpts,
    );
    return { secretName: args.existingSecretName, resource: kept.resource, values: kept.values, kept: true };
  }
  const secretName = `${args.releaseName}-credentials`;
  const data = args.generate();
  const resource = opaqueSecret(
    `${name}-credentials`,
    { namespace: ns, name: secretName, data, labels: args.labels },
    childOpts,
  );
  const values = Object.fromEntries(
    Object.entries(data).map(([k, v]) => [k, pulumi.secret(pulumi.output(v))]),
  );
  return { secretName, resource, values, kept: false };
}

/** Arguments of {@link deployService}. */
export interface ServiceDeploymentArgs {
  service: ServiceName;
  /** Helm release name, also the base of the Service and StatefulSet names. */
  releaseName: string;
  /** The pinned chart. */
  chart: PinnedChart;
  /** Where the chart comes from (`<service>.chart`); unset: the pinned chart's public location. */
  chartSource?: ChartSourceConfig;
  /** The chart values (pure builders in `components/<service>/values.ts` or beside the component). */
  values: Record<string, unknown>;
  /** The credentials Secret the chart reads; the release waits for it. */
  secret: pulumi.Resource;
  /** Further Secrets the chart's pods mount (they would not start without them); the release waits. */
  mountedSecrets?: pulumi.Resource[];
  /** Ports (and pod selector) of the NetworkPolicy. */
  network: Pick<
    DatabaseNetworkPolicyArgs,
    "ports" | "peerPorts" | "peerUdpPorts" | "podSelector" | "metricsPorts"
  >;
  /** The backup job, or undefined when the service has none (`<service>.backup.enabled: false`). */
  backup?: Pick<BackupJobArgs, "image" | "defaultTag" | "env" | "besidePods"> & {
    config: BackupConfig;
    /** The restore drill's image, environment and file pattern (made when `backup.drill.enabled`). */
    drill: DrillArgs;
  };
  /** The service's own alert rules; the disk-space rule every service shares is appended. */
  alerts: () => AlertRule[];
  /**
   * The pods to scrape with a PodMonitor of the program's own (when `monitoring.serviceMonitor`), for
   * the services whose chart's ServiceMonitor is not used; unset: none.
   */
  podMonitor?: Pick<PodMonitorArgs, "podLabels" | "port">;
}

/**
 * The release of a `helm`-mode service and the objects around it: NetworkPolicy, backup job (when
 * enabled), PodMonitor (when asked for and `monitoring.serviceMonitor`) and PrometheusRule (when
 * `monitoring.prometheusRule`). Returns the release.
 */
export function deployService(
  name: string,
  parent: pulumi.Resource,
  platform: PlatformContext,
  args: ServiceDeploymentArgs,
): k8s.helm.v3.Release {
  const ns = platform.namespace;
  const childOpts = childOptions(parent, platform);
  // The backup job comes first, so that the claim exists before any pod that mounts it (Weaviate's);
  // only such a release waits for the claim. A scheduled run that finds the service not yet up fails and
  // is retried by the Job's backoff.
  let backup: BackupJob | undefined;
  if (args.backup) {
    const { config, drill, ...job } = args.backup;
    backup = new BackupJob(
      `${name}-backup`,
      {
        service: args.service,
        releaseName: args.releaseName,
        namespace: ns,
        backup: config,
        storageClass: platform.storageClass,
        offsite: platform.offsite,
        ...job,
      },
      { parent, provider: platform.provider, dependsOn: [...(platform.dependsOn ?? [])] },
    );
    if (config.drill.enabled) {
      restoreDrill(
        `${name}-drill-cronjob`,
        {
          service: args.service,
          releaseName: args.releaseName,
          namespace: ns,
          backup: config,
          drill,
          offsite: platform.offsite,
          besidePods: job.besidePods,
        },
        {
          parent: backup,
          provider: platform.provider,
          dependsOn: [backup.pvc, ...(platform.offsite ? [platform.offsite.secret] : [])],
        },
      );
    }
  }
  const claims = backup && args.backup?.besidePods ? [backup.pvc] : [];
  const release = pinnedRelease(
    `${name}-release`,
    args.releaseName,
    args.chart,
    args.values,
    {
      namespace: ns,
      atomic: platform.helm.atomic,
      timeoutSeconds: platform.helm.timeoutSeconds,
      chart: args.chartSource,
    },
    {
      ...childOpts,
      dependsOn: [...(platform.dependsOn ?? []), args.secret, ...(args.mountedSecrets ?? []), ...claims],
    },
  );

  databaseNetworkPolicy(
    `${name}-network-policy`,
    {
      service: args.service,
      releaseName: args.releaseName,
      namespace: ns,
      network: platform.network,
      ...args.network,
    },
    childOpts,
  );

  if (args.podMonitor) {
    podMonitor(
      `${name}-pod-monitor`,
      { service: args.service, releaseName: args.releaseName, ...args.podMonitor },
      platform,
      { ...childOpts, dependsOn: [release] },
    );
  }

  if (platform.monitoring.prometheusRule) {
    alertRules(
      `${name}-alerts`,
      {
        service: args.service,
        releaseName: args.releaseName,
        namespace: ns,
        labels: platform.monitoring.labels,
        rules: [
          ...args.alerts(),
          diskSpaceRule(args.service, args.releaseName, ns),
          ...(args.backup
            ? backupAlertRules({
                service: args.service,
                releaseName: args.releaseName,
                namespace: ns,
                backup: args.backup.config,
                offsite: platform.offsite !== undefined,
              })
            : []),
        ],
      },
      { ...childOpts, dependsOn: [release] },
    );
  }
  return release;
}
