/**
 * Where each release pod's ports lead, for the helm-mode e2e and the `local` stack: the cluster-shaped
 * servers of scripts/cluster-servers.sh (cluster.json: Kafka brokers advertising in-cluster names, Redis
 * nodes and Sentinels in a network namespace) and the loopback servers of scripts/services.sh, as kwok
 * PortForward objects. The namespace and release names are fixed by cluster.json.
 */

/** cluster.json of scripts/cluster-servers.sh. */
export interface ClusterServers {
  /** The namespace the servers' names are in (the releases must be installed there). */
  namespace: string;
  kafka: {
    release: string;
    mechanism: string;
    username: string;
    password: string;
    /** The brokers' own PLAIN login on their INTERNAL listeners (the chart's inter_broker_user). */
    internalUser: string;
    internalPassword: string;
    brokers: {
      pod: string;
      /** The address the broker hands back in metadata (resolves nowhere). */
      advertised: string;
      podPort: number;
      /** Where its client listener really is. */
      target: { host: string; port: number };
      /** Its SASL PLAIN listener for the brokers' own traffic (and the test's direct reads). */
      internal: { host: string; port: number };
    }[];
  };
  redis: {
    release: string;
    netns: string;
    masterName: string;
    password: string;
    nodes: { pod: string; name: string; ip: string; port: number; sentinelPort: number }[];
  };
}

/** The loopback servers' ports this needs (services.json of scripts/services.sh). */
export interface LoopbackPorts {
  postgres: { port: number };
  mongodb: { port: number };
  weaviate: { port: number; grpcPort: number };
}

/** A kwok PortForward object (kwok.x-k8s.io/v1alpha1). */
export interface PortForward {
  apiVersion: "kwok.x-k8s.io/v1alpha1";
  kind: "PortForward";
  metadata: { name: string; namespace: string };
  spec: { forwards: { ports: number[]; target?: { address: string; port: number }; command?: string[] }[] };
}

/** A command kwok runs in the netns for one forwarded connection: its stdin/stdout to ip:port. */
function netnsRelay(netns: string, ip: string, port: number): string[] {
  return ["ip", "netns", "exec", netns, "bash", "-c", `exec 3<>/dev/tcp/${ip}/${port}; cat <&3 & cat >&3`];
}

/**
 * One kwok PortForward per stand-in pod the releases create: PostgreSQL, MongoDB and Weaviate to the
 * loopback servers of services.sh, each Kafka broker pod to its broker, each Redis pod (node and
 * Sentinel ports) into the network namespace. A pod without one answers "no forward found".
 */
export function clusterPortForwards(
  c: ClusterServers,
  s: LoopbackPorts,
  namespace = c.namespace,
): PortForward[] {
  type Fwd = { ports: number[]; target?: { address: string; port: number }; command?: string[] };
  const to = (port: number, target: number): Fwd => ({
    ports: [port],
    target: { address: "127.0.0.1", port: target },
  });
  const pods: Record<string, Fwd[]> = {
    "postgresql-0": [to(5432, s.postgres.port)],
    "weaviate-0": [to(8080, s.weaviate.port), to(50051, s.weaviate.grpcPort)],
  };
  // FerretDB is one server: every member pod (and the arbiter) leads to it.
  for (const p of ["mongodb-0", "mongodb-1", "mongodb-2", "mongodb-arbiter-0"])
    pods[p] = [to(27017, s.mongodb.port)];
  for (const b of c.kafka.brokers) pods[b.pod] = [to(b.podPort, b.target.port)];
  for (const n of c.redis.nodes)
    pods[n.pod] = [
      { ports: [n.port], command: netnsRelay(c.redis.netns, n.ip, n.port) },
      { ports: [n.sentinelPort], command: netnsRelay(c.redis.netns, n.ip, n.sentinelPort) },
    ];
  return Object.entries(pods).map(([name, forwards]) => ({
    apiVersion: "kwok.x-k8s.io/v1alpha1" as const,
    kind: "PortForward" as const,
    metadata: { name, namespace },
    spec: { forwards },
  }));
}
