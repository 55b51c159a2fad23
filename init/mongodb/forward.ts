/**
 * Reaching a MongoDB replica set through port-forwards (shared/port-forward.ts). The members are named
 * by in-cluster hosts, which the driver's replica-set discovery would dial directly; so the initialiser
 * asks the seeds, each through its own forward, which member is primary (`hello`, allowed before
 * authentication), and talks to that member alone (`directConnection`) through the primary's forward. A
 * primary that steps down mid-run answers NotWritablePrimary or drops the connection: both retried
 * (shared/retry.ts), and the next attempt asks again.
 */
import { forwardError, hostPortKey, HostPort, parseHostPort } from "../shared/address-map";
import { Forwarder, isForwardRefusal } from "../shared/port-forward";

/** What the connection needs of the initialiser's inputs. */
export interface MongoSeeds {
  hosts: string[];
  tls?: boolean;
}

/** Where the driver connects: the seed list and the driver's options. */
export interface MongoTarget {
  hosts: string[];
  options: Record<string, unknown>;
}

/**
 * The seeds and options as configured, or the primary's forward with a direct connection (no replica-set
 * discovery, which would dial the members' in-cluster names).
 */
export async function mongoTarget(
  inputs: MongoSeeds,
  options: Record<string, unknown>,
  fw: Forwarder,
  timeoutMs: number,
): Promise<MongoTarget> {
  if (fw.mode === "direct") return { hosts: inputs.hosts, options };
  const primary = await findPrimary(inputs, fw, timeoutMs);
  const local = await fw.resolve(primary);
  const direct: Record<string, unknown> = { ...options, directConnection: true };
  delete direct.replicaSet;
  // The certificate names the member, not the loopback end of the forward.
  if (inputs.tls) direct.servername = primary.host;
  return { hosts: [hostPortKey(local)], options: direct };
}

/** What a member says of the set in `hello`. */
export interface HelloReply {
  isWritablePrimary?: boolean;
  setName?: string;
  primary?: string;
}

/**
 * The member to write to, from one member's `hello`: itself when it is the primary or a standalone
 * server, the primary it names otherwise, undefined when the set has none (an election).
 */
export function primaryFromHello(asked: HostPort, hello: HelloReply): HostPort | undefined {
  if (hello.isWritablePrimary || !hello.setName) return asked;
  return typeof hello.primary === "string" && hello.primary ? parseHostPort(hello.primary) : undefined;
}

/** Asks the seeds in turn, each through its forward, which member is primary. */
async function findPrimary(inputs: MongoSeeds, fw: Forwarder, timeoutMs: number): Promise<HostPort> {
  const { MongoClient } = require("mongodb");
  let last: unknown;
  for (const seed of inputs.hosts) {
    const asked = parseHostPort(seed);
    let local: HostPort;
    try {
      local = await fw.resolve(asked);
    } catch (e) {
      if (isForwardRefusal(e)) throw e;
      last = e;
      continue;
    }
    const probe = new MongoClient(`mongodb://${hostPortKey(local)}/`, {
      directConnection: true,
      serverSelectionTimeoutMS: timeoutMs,
      connectTimeoutMS: timeoutMs,
      appName: "ai-platform-data-init",
      ...(inputs.tls ? { tls: true, servername: asked.host } : {}),
    });
    try {
      const hello = (await probe.db("admin").command({ hello: 1 })) as HelloReply;
      const primary = primaryFromHello(asked, hello);
      if (primary) return primary;
      last = forwardError("ENOPRIMARY", `replica set ${hello.setName} has no primary yet (${seed} says)`);
    } catch (e) {
      last = e;
    } finally {
      await probe.close().catch(() => undefined);
    }
  }
  throw last;
}
