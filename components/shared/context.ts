/** What every component needs to know about the platform around it. */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "../../config";
import type { OffsiteTarget } from "./backup";

/** Platform-wide settings handed to each component. */
export interface PlatformContext {
  /** Namespace of every object. */
  namespace: string;
  /** StorageClass of every volume; empty uses the cluster default. */
  storageClass: string;
  /** Helm release behaviour (atomic, timeout). */
  helm: PlatformConfig["helm"];
  /** ServiceMonitor / PrometheusRule switches and labels. */
  monitoring: PlatformConfig["monitoring"];
  /** Who may connect to the databases. */
  network: PlatformConfig["network"];
  /** Anti-affinity between a service's replicas: `hard` (one per node) or `soft`. */
  podAntiAffinity: PlatformConfig["podAntiAffinity"];
  /** Off-site copies of the backups (`backup.s3`); unset: they stay on each job's claim. */
  offsite?: OffsiteTarget;
  /** Kubernetes provider; the ambient one when unset. */
  provider?: k8s.Provider;
  /** Resources that must exist first (the namespace). */
  dependsOn?: pulumi.Resource[];
}

/** Options of a component's child: parented to it, on the platform's provider, after the namespace. */
export function childOptions(
  parent: pulumi.Resource,
  platform: PlatformContext,
): pulumi.CustomResourceOptions {
  return { parent, provider: platform.provider, dependsOn: platform.dependsOn };
}

/** In-cluster DNS name of a Service. */
export function serviceHost(service: string, namespace: string): string {
  return `${service}.${namespace}.svc.cluster.local`;
}

/**
 * Connection details a component contributes to the `db-credentials` Secret, keyed as that Secret's
 * keys (`postgres-password`, ...). Values that carry a credential are Pulumi secrets.
 */
export type ClientSecretData = Record<string, pulumi.Input<string>>;
