/**
 * The stage of the port-forward integration tests (issue 10): stand-in pods on kwok's node of
 * scripts/kube.sh, in a namespace of the calling file's own, whose ports kwok forwards to the loopback
 * servers of scripts/services.sh, and the Services in front of them. `portForwardStage()` registers the
 * file's `before` (stand up) and `after` (the tests' clean-ups, then tear down) hooks.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { randomBytes } from "node:crypto";
import { after, before, type TestContext } from "node:test";
import type { ForwardSpec } from "../../init/shared/port-forward";
import { StandIn, standUp, tearDown } from "./kube-fixture";
import { requireServer, RUN_DIR, Services } from "./servers";

/** The stand-in pods: one per server, and one that carries the IP Redis and Kafka announce. */
export function standIns(s: Omit<Services, "kube">): StandIn[] {
  const redisPorts = [...s.redis.nodes, ...s.redis.sentinels].map((n) => ({ port: n.port, target: n.port }));
  const [, kafkaPort] = s.kafka.brokers[0].split(":");
  return [
    {
      name: "postgresql-0",
      labels: { app: "postgresql", role: "primary" },
      ports: [{ name: "tcp-postgresql", port: 5432, target: s.postgres.port }],
    },
    {
      name: "weaviate-0",
      labels: { app: "weaviate" },
      ports: [{ name: "http", port: 8080, target: s.weaviate.port }],
    },
    { name: "mongodb-0", labels: { app: "mongodb" }, ports: [{ port: 27017, target: s.mongodb.port }] },
    {
      // The servers announce 127.0.0.1: here that is this pod's IP, as a pod IP would be in a cluster.
      name: "announcer-0",
      labels: { app: "announcer" },
      ports: [...redisPorts, { port: Number(kafkaPort), target: Number(kafkaPort) }],
      podIP: "127.0.0.1",
    },
  ];
}

/** Stands the pods and Services up for the calling file; see the module comment. */
export function portForwardStage() {
  const run = randomBytes(3).toString("hex");
  const NS = `aipd-pf-${run}`;
  const fqdn = (name: string) => `${name}.${NS}.svc.cluster.local`;
  let kube: Services["kube"] | undefined;
  let all: Omit<Services, "kube"> | undefined;
  let standUpError: unknown;
  /** What a test made on the servers, undone in `after`. */
  const cleanups: (() => Promise<unknown>)[] = [];

  /** All five servers, the API server and the stand-in pods, or a skip (a failure under CI=true). */
  async function servers(t: TestContext) {
    for (const name of ["kube", "postgres", "mongodb", "weaviate", "redis", "kafka"] as const) {
      if (!(await requireServer(t, name))) return undefined;
    }
    if (!kube || !all) {
      const reason = `the stand-in pods could not be created in ${NS}: ${String(standUpError)}`;
      if (process.env.CI === "true") throw new Error(reason);
      t.skip(reason);
      return undefined;
    }
    return { kube, ...all };
  }

  function forward(extra: Partial<ForwardSpec> = {}): ForwardSpec {
    return {
      connect: "port-forward",
      namespace: NS,
      kubeconfig: kube!.kubeconfig,
      context: kube!.context,
      ...extra,
    };
  }

  before(async () => {
    // Each test checks its servers itself (requireServer); without services.json there is nothing to set up.
    const file = path.join(RUN_DIR, "services.json");
    if (!fs.existsSync(file)) return;
    const { kube: k, ...rest } = JSON.parse(fs.readFileSync(file, "utf8")) as Services;
    // Stood up once for every test; a test without its servers skips (or fails under CI) on its own.
    try {
      await standUp(k, NS, standIns(rest), [
        {
          name: "postgresql",
          selector: { app: "postgresql", role: "primary" },
          ports: [{ port: 5432, targetPort: "tcp-postgresql" }],
        },
        { name: "weaviate", selector: { app: "weaviate" }, ports: [{ port: 80, targetPort: "http" }] },
        {
          name: "redis",
          selector: { app: "announcer" },
          ports: [{ port: 26379, targetPort: rest.redis.sentinels[0].port }],
        },
        {
          name: "kafka",
          selector: { app: "announcer" },
          ports: [{ port: 9092, targetPort: Number(rest.kafka.brokers[0].split(":")[1]) }],
        },
        { name: "ghost", selector: { app: "nothing-matches" }, ports: [{ port: 5432, targetPort: 5432 }] },
      ]);
      kube = k;
      all = rest;
    } catch (e) {
      standUpError = e;
      await tearDown(k, NS);
    }
  });

  after(async () => {
    for (const c of cleanups) await c().catch(() => undefined);
    if (kube) await tearDown(kube, NS);
  });

  return { run, NS, fqdn, cleanups, servers, forward };
}
