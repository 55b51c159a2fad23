/**
 * The Kubernetes objects the `local` stack expects before `pulumi up` (scripts/local.sh applies them):
 * its namespace and the credentials Secrets a user keeps (`<service>.credentials.existingSecret`),
 * holding the loopback servers' own passwords (services.json of scripts/services.sh) and the passwords
 * of the users the initialisers create, made once and kept in the run folder so that a second `up`
 * changes nothing; and the kwok PortForward of every pod the releases will create, which sends its
 * ports to the loopback servers (scripts/services.sh) and the cluster-shaped ones (scripts/cluster-servers.sh,
 * whose Kafka and Redis hand back in-cluster names of this namespace). Printed as one JSON List on stdout
 * for `kubectl apply -f -`: never to a terminal.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { clusterPortForwards, type LoopbackPorts } from "./stand-in-forwards";
import { clusterServers, localStack, loopbackServers } from "./stack";
import {
  newStandInPasswords,
  standInSecretData,
  type StandInPasswords,
  type StandInServers,
} from "./stand-in";

const LOCAL = process.env.AIPD_LOCAL ?? "/tmp/ai-platform-data/local";

/** Passwords of the users the initialisers create: made at the first `up`, kept (0600). */
function keptPasswords(): StandInPasswords {
  const file = path.join(LOCAL, "passwords.json");
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, "utf8")) as StandInPasswords;
  const p = newStandInPasswords();
  fs.writeFileSync(file, JSON.stringify(p), { mode: 0o600 });
  return p;
}

/** The stack's settings that name the objects: namespace, Secrets, Redis ACL user. */
function stackSettings() {
  const c = localStack();
  const secret = (svc: "postgres" | "mongodb" | "redis" | "kafka" | "weaviate") => {
    const name = c[svc].credentials?.existingSecret;
    if (!name)
      throw new Error(`Pulumi.local.yaml: ai-platform-data:${svc}.credentials.existingSecret is not set`);
    return name;
  };
  const acl = c.redis.aclUsers[0]?.name;
  if (!acl) throw new Error("Pulumi.local.yaml: ai-platform-data:redis.aclUsers has no user");
  return {
    namespace: c.namespace,
    secrets: {
      postgres: secret("postgres"),
      mongodb: secret("mongodb"),
      redis: secret("redis"),
      kafka: secret("kafka"),
      weaviate: secret("weaviate"),
    },
    redisAclUser: acl,
  };
}

function main(): void {
  const services = loopbackServers<StandInServers & LoopbackPorts>();
  const cluster = clusterServers();
  const s = stackSettings();
  if (s.namespace !== cluster.namespace)
    throw new Error(
      `Pulumi.local.yaml: ai-platform-data:namespace is "${s.namespace}", but the cluster-shaped servers announce names in "${cluster.namespace}" (scripts/cluster-servers.sh): use that namespace`,
    );
  // Kafka and Redis are the cluster-shaped servers, with their own admin passwords.
  const servers = {
    ...services,
    kafka: { password: cluster.kafka.password },
    redis: { password: cluster.redis.password },
  };
  const data = standInSecretData(servers, keptPasswords(), s.redisAclUser);
  const items: unknown[] = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: s.namespace } },
    ...Object.entries(data).map(([svc, stringData]) => ({
      apiVersion: "v1",
      kind: "Secret",
      type: "Opaque",
      metadata: { name: s.secrets[svc as keyof typeof s.secrets], namespace: s.namespace },
      stringData,
    })),
    ...clusterPortForwards(cluster, services, s.namespace),
  ];
  process.stdout.write(JSON.stringify({ apiVersion: "v1", kind: "List", items }));
}

main();
