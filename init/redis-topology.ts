/**
 * Where a Sentinel-managed Redis set is: its master, its replicas and its Sentinels, as the Sentinels and
 * the master report them, and one way to open a connection to any of them. Used by the ACL users
 * initialiser (init/redis.ts); pure parsing helpers are exported for unit tests.
 */
import { isForwardRefusal } from "./shared/port-forward";
import { progress } from "./shared/progress";
import { withRetry, withSession } from "./shared/retry";

export interface HostPort {
  host: string;
  port: number;
}

/**
 * Where to connect for an address Sentinel or a node hands back: itself, or (through port-forwards,
 * shared/port-forward.ts) the loopback end of a forward to its pod, like ioredis' `natMap` but for every
 * address, found when it is first met. Addresses keep their in-cluster form everywhere else (outputs,
 * messages).
 */
export type Resolve = (addr: HostPort) => Promise<HostPort>;

/** Addresses as given. */
const asGiven: Resolve = async (addr) => addr;

/** What {@link discoverTopology} needs: the inputs of the ACL users resource it serves. */
export interface TopologyInputs {
  sentinels: HostPort[];
  masterName: string;
  password: string;
  sentinelPassword: string;
  expectedNodes?: number;
  timeoutSeconds: number;
}

/** The data nodes (master first) and the Sentinels of one master set. */
export interface Topology {
  nodes: HostPort[];
  sentinels: HostPort[];
}

/** `host:port`, the key of a node in outputs. */
export function nodeKey(n: HostPort): string {
  return `${n.host}:${n.port}`;
}

/**
 * The replicas a master reports in `INFO replication` (`slaveN:ip=..,port=..,state=online,..`). Port 0
 * is a client that synced without announcing a port (`redis-cli --rdb`, the backup job), not a node.
 */
export function replicasFromInfo(info: string): HostPort[] {
  const out: HostPort[] = [];
  for (const line of info.split(/\r?\n/)) {
    const m = /^slave\d+:(.*)$/.exec(line.trim());
    if (!m) continue;
    const f = Object.fromEntries(m[1].split(",").map((kv) => kv.split("=", 2) as [string, string]));
    if (f.ip && Number(f.port) > 0) out.push({ host: f.ip, port: Number(f.port) });
  }
  return out;
}

/**
 * Addresses in a `SENTINEL replicas` or `SENTINEL sentinels` reply (flat name/value lists). Port 0 is
 * left out: Sentinel lists a port-0 sync client until `SENTINEL RESET`, and it is never reachable.
 */
export function addressesFromSentinel(replies: string[][]): HostPort[] {
  const out: HostPort[] = [];
  for (const r of replies) {
    const f: Record<string, string> = {};
    for (let i = 0; i + 1 < r.length; i += 2) f[r[i]] = r[i + 1];
    if (Number(f.port) > 0) out.push({ host: f.ip, port: Number(f.port) });
  }
  return out;
}

/** Addresses without repeats, first occurrence kept (so the master stays first). */
export function uniqueNodes(nodes: HostPort[]): HostPort[] {
  const seen = new Set<string>();
  return nodes.filter((n) => !seen.has(nodeKey(n)) && (seen.add(nodeKey(n)), true));
}

/** Milliseconds any one Redis command may take (they are all small: ACL, INFO, SENTINEL). */
const COMMAND_TIMEOUT_MS = 15_000;

/** True for a refused login: another attempt cannot help. */
function isAuthError(e: unknown): boolean {
  return /WRONGPASS|NOAUTH|invalid password/i.test(String((e as Error)?.message));
}

/**
 * What ends the retries at once: a refused login, a command the login may not run (NOPERM names it:
 * "this user has no permissions to run the 'sentinel|replicas' command"), or a port-forward the
 * Kubernetes API refuses.
 */
export function isFatalRedisError(e: unknown): boolean {
  return isAuthError(e) || /\bNOPERM\b/.test(String((e as Error)?.message)) || isForwardRefusal(e);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- ioredis is required lazily, untyped here
export type RedisClient = any;

/**
 * A connected ioredis client that gives up at once (callers retry); an AUTH refusal is the error. It
 * connects where `resolve` says for `node`.
 */
async function connectOnce(
  node: HostPort,
  password: string,
  timeoutMs = 3000,
  resolve: Resolve = asGiven,
): Promise<RedisClient> {
  const Redis = require("ioredis");
  const at = await resolve(node);
  const c = new Redis({
    host: at.host,
    port: at.port,
    password: password || undefined,
    // ioredis 6 defaults to RESP3 (HELLO 3 AUTH ... as the first command). Kept on RESP2, the wire
    // protocol these initialisers are tested with: a Sentinel user's ACL and Sentinels of other
    // makers need not allow HELLO, and replies keep the shapes the parsers here read.
    protocol: 2,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    // A server that accepts and never answers (a stalled port-forward): AUTH and every command give up.
    commandTimeout: COMMAND_TIMEOUT_MS,
  });
  // ioredis reports an AUTH refusal as an "error" event and then rejects with "Connection is closed".
  let socketError: unknown;
  c.on("error", (e: unknown) => (socketError = e));
  await c.connect().catch((e: unknown) => {
    c.disconnect();
    throw socketError ?? e;
  });
  return c;
}

/**
 * Runs `fn` on one server (a node or a Sentinel) in a session (shared/retry's withSession): connecting
 * with retries up to the deadline, and connecting and running `fn` again when the server drops the
 * connection or answers LOADING/BUSY/TRYAGAIN/MASTERDOWN mid-run (a failover), so `fn` must be safe to
 * repeat. Every error names the server and carries no secret.
 */
export async function onServer(
  what: string,
  node: HostPort,
  password: string,
  opts: { deadlineMs: number; secrets: string[]; resolve?: Resolve },
  fn: (c: RedisClient) => Promise<void>,
): Promise<void> {
  await withSession(
    {
      what: `${what} ${nodeKey(node)}`,
      deadlineMs: opts.deadlineMs,
      secrets: opts.secrets,
      log: progress("redis-acl").log,
      isFatal: isFatalRedisError,
      connect: () => connectOnce(node, password, 5000, opts.resolve),
      close: async (c: RedisClient) => c.disconnect(),
    },
    fn,
  );
}

/**
 * The master, every replica and every Sentinel, as every Sentinel that answers and the master itself
 * report them. One Sentinel's list can lag (a replica that joined or came back after a failover is listed
 * only once Sentinel has read the master's INFO, every 10 s), so the lists are merged with the master's
 * own replicas, and the run waits until that names `expectedNodes`. Every replica a Sentinel lists is
 * kept, even one it judges down: each must get the users, so an unreachable node fails the run after the
 * deadline instead of being skipped silently. Sentinels that disagree on the master (a failover under way)
 * are asked again. Sentinels are those the others list (each lists all but itself); a lone Sentinel is
 * the configured address. Every connection goes where `resolve` says.
 */
export async function discoverTopology(
  inputs: TopologyInputs,
  resolve: Resolve = asGiven,
): Promise<Topology> {
  const secrets = [inputs.password, inputs.sentinelPassword];
  const what = `Redis Sentinels ${inputs.sentinels.map(nodeKey).join(",")} (master set ${inputs.masterName})`;
  return withRetry(
    async () => {
      let last: unknown;
      const masters: HostPort[] = [];
      const replicas: HostPort[] = [];
      const listed: HostPort[] = [];
      const queue = [...inputs.sentinels];
      const asked = new Set<string>();
      for (let s = queue.shift(); s; s = queue.shift()) {
        if (asked.has(nodeKey(s))) continue;
        asked.add(nodeKey(s));
        let c: RedisClient;
        try {
          c = await connectOnce(s, inputs.sentinelPassword, 3000, resolve);
        } catch (e) {
          if (isFatalRedisError(e)) throw e;
          last = e;
          continue;
        }
        try {
          const m = (await c.call("SENTINEL", "get-master-addr-by-name", inputs.masterName)) as
            string[] | null;
          if (!m) throw new Error(`Sentinel ${nodeKey(s)} does not know master set "${inputs.masterName}"`);
          masters.push({ host: m[0], port: Number(m[1]) });
          replicas.push(...addressesFromSentinel(await c.call("SENTINEL", "replicas", inputs.masterName)));
          const others = addressesFromSentinel(await c.call("SENTINEL", "sentinels", inputs.masterName));
          listed.push(...others);
          queue.push(...others);
        } finally {
          c.disconnect();
        }
      }
      const distinct = uniqueNodes(masters);
      if (distinct.length === 0) throw last;
      if (distinct.length > 1) {
        throw new Error(
          `the Sentinels name different masters (${distinct.map(nodeKey).join(", ")}): failover under way`,
        );
      }
      const master = distinct[0];
      const mc = await connectOnce(master, inputs.password, 3000, resolve);
      try {
        const info = String(await mc.call("INFO", "replication"));
        if (!/^role:master\s*$/m.test(info))
          throw new Error(`${nodeKey(master)} is not a master yet: failover under way`);
        replicas.push(...replicasFromInfo(info));
      } finally {
        mc.disconnect();
      }
      const nodes = uniqueNodes([master, ...replicas]);
      const want = inputs.expectedNodes ?? 0;
      if (nodes.length < want) {
        throw new Error(
          `Sentinel and the master name ${nodes.length} of the ${want} nodes (${nodes.map(nodeKey).join(", ")}): waiting for the rest`,
        );
      }
      const sentinels = listed.length > 0 ? uniqueNodes(listed) : inputs.sentinels;
      return { nodes, sentinels };
    },
    {
      what,
      deadlineMs: inputs.timeoutSeconds * 1000,
      secrets,
      log: progress("redis-acl").log,
      isFatal: (e) => isFatalRedisError(e) || /does not know master/i.test(String((e as Error)?.message)),
    },
  );
}
