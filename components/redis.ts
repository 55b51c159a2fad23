/**
 * Redis: STUB being written (another engineer owns this file right now). Replace entirely.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { RedisConfig, PlatformSecrets } from "../config";
import { ClientSecretData, PlatformContext } from "./shared/context";

/** Arguments of {@link Redis}. */
export interface RedisArgs {
  /** Validated `redis` stack config. */
  config: RedisConfig;
  /** Namespace, storage class, Helm, monitoring and network settings. */
  platform: PlatformContext;
  /** Secret config (external-mode credentials, API keys). */
  secrets: PlatformSecrets;
}

export class Redis extends pulumi.ComponentResource {
  /** Helm release name, also the base of the Service names. */
  public readonly releaseName = "redis";
  /** The release; absent in `external` mode. */
  public readonly release?: k8s.helm.v3.Release;
  /** In-cluster endpoint. */
  public readonly endpoint: pulumi.Output<string>;
  /** Resources the initialiser must wait for. */
  public readonly ready: pulumi.Resource[] = [];
  /** This service's keys in the `db-credentials` Secret. */
  public readonly clientSecretData: ClientSecretData = {};

  constructor(name: string, args: RedisArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ai-platform:data:Redis", name, {}, opts);
    void args;
    this.endpoint = pulumi.output("");
    this.registerOutputs({ endpoint: this.endpoint });
  }
}
