/**
 * Every initialiser against a server that accepts connections and never answers (what a stalled
 * port-forward looks like from here): each ends with a clear error naming the server once its deadline
 * passes, instead of hanging `pulumi up`. The stalled server is a loopback socket of this test; the
 * clients are the real ones, through each provider's serialized form.
 */
import * as assert from "node:assert/strict";
import * as net from "node:net";
import { after, before, describe, it } from "node:test";
import { KafkaTopicsProvider } from "../../init/kafka";
import { MongoCollectionsProvider } from "../../init/mongodb";
import { PostgresSchemaProvider } from "../../init/postgres";
import { RedisAclUsersProvider } from "../../init/redis";
import { WeaviateClassesProvider } from "../../init/weaviate";
import { viaSerialization } from "../support/dynamic";

/** Seconds each initialiser may take; the test's own timeout is a guard far above it. */
const DEADLINE = 4;
const GUARD = { timeout: 120_000 };

let server: net.Server;
let port = 0;
const sockets = new Set<net.Socket>();
let accepted = 0;

before(async () => {
  server = net.createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on("error", () => undefined);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  port = (server.address() as net.AddressInfo).port;
});
after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => server.close(r));
});

/** Runs `create` and returns its error message; fails when it succeeds. */
async function createError(provider: object, inputs: Record<string, unknown>): Promise<string> {
  const { provider: p } = await viaSerialization(provider as never);
  const before = accepted;
  try {
    await p.create!(inputs);
  } catch (e) {
    assert.ok(accepted > before, "the stalled server was never reached");
    return (e as Error).message;
  }
  assert.fail("create succeeded against a server that never answers");
}

/** The message says which server and that the deadline passed, with no secret in it. */
function assertClear(message: string, what: RegExp) {
  assert.match(message, what);
  assert.match(message, /not reachable after \d+ attempts?|did not answer within the deadline/);
  assert.match(message, new RegExp(`deadline ${DEADLINE} s|\\(${DEADLINE} s`));
  assert.ok(!message.includes("stalled-secret"), message);
}

/** Each initialiser, its inputs aimed at the stalled server, and how its error names the server. */
const CASES: Array<{
  name: string;
  provider: () => object;
  inputs: () => Record<string, unknown>;
  names: () => RegExp;
}> = [
  {
    name: "PostgreSQL",
    provider: () => new PostgresSchemaProvider(),
    inputs: () => ({
      host: "127.0.0.1",
      port,
      adminUser: "postgres",
      password: "stalled-secret",
      maintenanceDatabase: "postgres",
      database: "stalled",
      appUser: "stalled",
      appSchemas: [],
      migrations: [],
      serviceRoles: [],
      serverSettings: {},
      timeoutSeconds: DEADLINE,
    }),
    names: () => new RegExp(`PostgreSQL at 127.0.0.1:${port}`),
  },
  {
    name: "MongoDB",
    provider: () => new MongoCollectionsProvider(),
    inputs: () => ({
      hosts: [`127.0.0.1:${port}`],
      directConnection: true,
      username: "root",
      password: "stalled-secret",
      authSource: "admin",
      database: "stalled",
      collections: [],
      dropRemovedCollections: false,
      timeoutSeconds: DEADLINE,
    }),
    names: () => new RegExp(`MongoDB at 127.0.0.1:${port}`),
  },
  {
    name: "Weaviate",
    provider: () => new WeaviateClassesProvider(),
    inputs: () => ({
      scheme: "http",
      host: "127.0.0.1",
      port,
      apiKey: "stalled-secret",
      classes: [],
      enabledModules: [],
      allowRecreate: [],
      timeoutSeconds: DEADLINE,
    }),
    names: () => new RegExp(`Weaviate at http://127.0.0.1:${port}`),
  },
  {
    name: "Redis (the Sentinel stalls)",
    provider: () => new RedisAclUsersProvider(),
    inputs: () => ({
      sentinels: [{ host: "127.0.0.1", port }],
      masterName: "mymaster",
      password: "stalled-secret",
      sentinelPassword: "stalled-secret",
      users: [],
      userPasswords: {},
      timeoutSeconds: DEADLINE,
    }),
    names: () => new RegExp(`Redis Sentinels 127.0.0.1:${port}`),
  },
  {
    name: "Kafka",
    provider: () => new KafkaTopicsProvider(),
    inputs: () => ({
      brokers: [`127.0.0.1:${port}`],
      mechanism: "scram-sha-512",
      username: "admin",
      password: "stalled-secret",
      topics: [],
      deleteRemovedTopics: false,
      timeoutSeconds: DEADLINE,
    }),
    names: () => new RegExp(`Kafka at 127.0.0.1:${port}`),
  },
];

describe("initialisers against a server that accepts and never answers", () => {
  for (const c of CASES)
    it(c.name, GUARD, async () => {
      assertClear(await createError(c.provider(), c.inputs()), c.names());
    });
});
