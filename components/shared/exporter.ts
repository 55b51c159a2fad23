/**
 * A metrics exporter of the program's own, beside the server in its pod, for the charts whose exporter
 * container cannot be given a login of its own: bitnami/postgresql 15.5.38 and bitnami/redis 17.17.1
 * render their exporter with the admin's password (`DATA_SOURCE_PASS`/`REDIS_PASSWORD` from the admin
 * key, or the admin's password file mounted), whatever the values say. With the chart's `metrics` off,
 * the program adds this container through the chart's `sidecars` and scrapes it with a PodMonitor; the
 * exporter logs in as a monitoring user the initialiser creates, whose password is its own Secret key.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PlatformContext } from "./context";
import { serviceLabels } from "./labels";
import type { ServiceName } from "./service";

/** The name of the exporter's port, in the pod and in the PodMonitor. */
export const EXPORTER_PORT_NAME = "http-metrics";

/** Arguments of {@link exporterSidecar}. */
export interface ExporterSidecarArgs {
  /** The image in the charts' shape; `tag` unset means `defaultTag`. */
  image: { registry: string; repository: string; tag?: string };
  /** The image tag the chart itself would run (its `metrics.image.tag` at the pinned version). */
  defaultTag: string;
  /** The port the exporter listens on (its default). */
  port: number;
  /** Its environment: where the server is, its user, its password by `secretKeyRef`. */
  env: k8s.types.input.core.v1.EnvVar[];
  /** Command, when the image's entrypoint is not the exporter. */
  command?: string[];
}

/**
 * The exporter container for a chart's `sidecars` list: non-root, no capability, no privilege
 * escalation, read-only root file system (it writes nothing), small requests and limits, probed on its
 * metrics port.
 */
export function exporterSidecar(args: ExporterSidecarArgs): Record<string, unknown> {
  const { registry, repository, tag } = args.image;
  const probe = { httpGet: { path: "/", port: EXPORTER_PORT_NAME }, periodSeconds: 10, timeoutSeconds: 5 };
  return {
    name: "metrics",
    image: `${registry}/${repository}:${tag ?? args.defaultTag}`,
    imagePullPolicy: "IfNotPresent",
    ...(args.command ? { command: args.command } : {}),
    env: args.env,
    ports: [{ name: EXPORTER_PORT_NAME, containerPort: args.port, protocol: "TCP" }],
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 1001,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    },
    resources: {
      requests: { cpu: "10m", memory: "32Mi" },
      limits: { cpu: "200m", memory: "128Mi" },
    },
    livenessProbe: { ...probe, initialDelaySeconds: 10, failureThreshold: 6 },
    readinessProbe: { ...probe, initialDelaySeconds: 5, failureThreshold: 3 },
  };
}

/** Arguments of {@link podMonitor}. */
export interface PodMonitorArgs {
  service: ServiceName;
  releaseName: string;
  /** Labels of the pods to scrape (every pod of the release that runs the exporter). */
  podLabels: Record<string, string>;
  /** The name of the pods' metrics port. */
  port: string;
}

/**
 * A PodMonitor (when `monitoring.serviceMonitor`) named after the release, labelled with
 * `monitoring.labels` so that the platform's Prometheus selects it. Every pod is scraped, read replicas
 * included (their replication lag is theirs to report).
 */
export function podMonitor(
  name: string,
  args: PodMonitorArgs,
  platform: Pick<PlatformContext, "namespace" | "monitoring">,
  opts: pulumi.CustomResourceOptions,
): k8s.apiextensions.CustomResource | undefined {
  if (!platform.monitoring.serviceMonitor) return undefined;
  return new k8s.apiextensions.CustomResource(
    name,
    {
      apiVersion: "monitoring.coreos.com/v1",
      kind: "PodMonitor",
      metadata: {
        name: args.releaseName,
        namespace: platform.namespace,
        labels: { ...serviceLabels(args.service, args.releaseName), ...platform.monitoring.labels },
      },
      spec: {
        selector: { matchLabels: args.podLabels },
        podMetricsEndpoints: [{ port: args.port, path: "/metrics", interval: "30s", scrapeTimeout: "10s" }],
      },
    },
    opts,
  );
}
