/**
 * The NetworkPolicy in front of each database (seed §2.3, §3.3): only labelled client pods, the
 * release's own pods (replication peers, exporters) and the service's backup pods may connect.
 * The charts' own policies are switched off because NetworkPolicies add up: a chart policy with
 * `allowExternal: true` would open what this one closes.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { PlatformConfig } from "../../config";
import { BACKUP_LABEL, serviceLabels } from "./labels";

/** Arguments of {@link databaseNetworkPolicy}. */
export interface DatabaseNetworkPolicyArgs {
  /** Service name, for labels and the backup-pod selector. */
  service: string;
  /** The release whose pods the policy guards (selected by `app.kubernetes.io/instance`). */
  releaseName: string;
  namespace: pulumi.Input<string>;
  /** Ports the service listens on for clients and peers. */
  ports: number[];
  /** UDP ports, for services whose peers also gossip over UDP (Weaviate's memberlist). */
  udpPorts?: number[];
  /**
   * Labels of the guarded pods, which also select the peers; defaults to
   * `app.kubernetes.io/instance: <releaseName>`. For charts whose pods do not carry that label.
   */
  podSelector?: Record<string, string>;
  /** Exporter ports Prometheus scrapes, opened to `network.monitoringNamespaces` only. */
  metricsPorts?: number[];
  /** Client labels and namespaces from config. */
  network: PlatformConfig["network"];
}

export function databaseNetworkPolicy(
  name: string,
  args: DatabaseNetworkPolicyArgs,
  opts: pulumi.CustomResourceOptions,
): k8s.networking.v1.NetworkPolicy {
  const instance = args.podSelector ?? { "app.kubernetes.io/instance": args.releaseName };
  const from: k8s.types.input.networking.v1.NetworkPolicyPeer[] = [
    { podSelector: { matchLabels: args.network.clientLabels } },
    ...args.network.clientNamespaces.map((ns) => ({
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns } },
      podSelector: { matchLabels: args.network.clientLabels },
    })),
    { podSelector: { matchLabels: instance } },
    { podSelector: { matchLabels: { [BACKUP_LABEL]: args.service } } },
  ];
  return new k8s.networking.v1.NetworkPolicy(
    name,
    {
      metadata: {
        name: `${args.releaseName}-clients`,
        namespace: args.namespace,
        labels: serviceLabels(args.service, args.releaseName),
      },
      spec: {
        podSelector: { matchLabels: instance },
        policyTypes: ["Ingress"],
        ingress: [
          {
            from,
            ports: [
              ...args.ports.map((port) => ({ port, protocol: "TCP" })),
              ...(args.udpPorts ?? []).map((port) => ({ port, protocol: "UDP" })),
            ],
          },
          // Prometheus runs in its own namespace and carries no client label.
          ...(args.metricsPorts?.length && args.network.monitoringNamespaces.length
            ? [
                {
                  from: args.network.monitoringNamespaces.map((ns) => ({
                    namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns } },
                  })),
                  ports: args.metricsPorts.map((port) => ({ port, protocol: "TCP" })),
                },
              ]
            : []),
        ],
      },
    },
    opts,
  );
}
