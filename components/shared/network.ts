/**
 * The NetworkPolicy in front of each database: labelled client pods, the release's own pods and the
 * service's backup pods may reach the client ports; only the release's own pods reach the ports its
 * members talk to each other on (Kafka's controller and inter-broker listeners, Weaviate's cluster
 * ports); Prometheus's namespaces reach the exporters. The charts' own policies are switched off because
 * NetworkPolicies add up: a chart policy with `allowExternal: true` would open what this one closes.
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
  /** Ports clients use (peers may use them too: replication on the client port). */
  ports: number[];
  /** TCP ports only the release's own pods may reach (cluster-internal listeners). */
  peerPorts?: number[];
  /** UDP ports only the release's own pods may reach (Weaviate's memberlist gossip). */
  peerUdpPorts?: number[];
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
  const peerPorts = [
    ...(args.peerPorts ?? []).map((port) => ({ port, protocol: "TCP" })),
    ...(args.peerUdpPorts ?? []).map((port) => ({ port, protocol: "UDP" })),
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
          { from, ports: args.ports.map((port) => ({ port, protocol: "TCP" })) },
          ...(peerPorts.length > 0
            ? [{ from: [{ podSelector: { matchLabels: instance } }], ports: peerPorts }]
            : []),
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
