/**
 * Redis ACL users on every node of the Sentinel-managed set. ACLs are per node and not replicated
 * (redis#6738), so each user is set on the master and on every replica Sentinel knows, then saved to
 * the node's aclfile (`ACL SAVE`) so it survives a restart; being on every node, it survives a failover.
 */
import * as crypto from "crypto";
import * as pulumi from "@pulumi/pulumi";
import { inPlaceDiff } from "./shared/diff";
import { progress } from "./shared/progress";
import { describeError, withRetry } from "./shared/retry";

/** An ACL user as config declares it (its password is a separate secret input). */
export interface AclUserSpec {
  name: string;
  /** Key patterns, without the `~`. */
  keys: string[];
  /** Pub/Sub channel patterns, without the `&`. */
  channels: string[];
  /** Command rules, `+@read -@dangerous`. */
  commands: string;
}

export interface HostPort {
  host: string;
  port: number;
}

/** Inputs of the provider. */
export interface RedisAclUsersInputs {
  sentinels: HostPort[];
  masterName: string;
  /** Password of the nodes' default user (a secret). */
  password: string;
  /** Password of the Sentinels (a secret). */
  sentinelPassword: string;
  users: AclUserSpec[];
  /** Password of each user by name (a secret). */
  userPasswords: Record<string, string>;
  timeoutSeconds: number;
}

export interface RedisAclUsersOutputs extends RedisAclUsersInputs {
  /** Nodes the users were last set on (`host:port`). */
  nodes: string[];
  /** True when `read` found a node that lacks a user or has other rules. */
  drifted: boolean;
  log: string[];
}

/** The ACL SETUSER arguments for a user: reset first, so the rules are exactly these. */
export function aclRules(user: AclUserSpec, password: string): string[] {
  const hash = crypto.createHash("sha256").update(password).digest("hex");
  return [
    "reset",
    "on",
    `#${hash}`,
    ...user.keys.map((k) => `~${k}`),
    ...(user.channels.length > 0 ? user.channels.map((c) => `&${c}`) : ["resetchannels"]),
    ...user.commands.split(/\s+/).filter(Boolean),
  ];
}

/** A comparable summary of `ACL GETUSER` output (flags, password hashes, commands, keys, channels). */
export function summariseGetUser(reply: unknown[] | null): string | undefined {
  if (!reply) return undefined;
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) {
    const v = reply[i + 1];
    out[String(reply[i])] = Array.isArray(v) ? v.map(String).sort() : String(v);
  }
  delete out.selectors;
  return JSON.stringify(out, Object.keys(out).sort());
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- ioredis is required lazily, untyped here
type RedisClient = any;

export class RedisAclUsersProvider implements pulumi.dynamic.ResourceProvider {
  async check(
    _olds: Partial<RedisAclUsersInputs>,
    news: RedisAclUsersInputs,
  ): Promise<pulumi.dynamic.CheckResult> {
    const failures: { property: string; reason: string }[] = [];
    news.users.forEach((u, i) => {
      if (u.name === "default") {
        failures.push({
          property: `users[${i}].name`,
          reason: `"default" is the built-in user managed by the chart; choose another name`,
        });
      }
    });
    return { inputs: news, failures };
  }

  async diff(
    _id: string,
    olds: RedisAclUsersOutputs,
    news: RedisAclUsersInputs,
  ): Promise<pulumi.dynamic.DiffResult> {
    return inPlaceDiff(olds, news, ["log", "nodes", "drifted"], olds.drifted === true);
  }

  async create(inputs: RedisAclUsersInputs): Promise<pulumi.dynamic.CreateResult> {
    return { id: `redis-acl-${inputs.masterName}`, outs: await this.converge(inputs, []) };
  }

  async update(
    _id: string,
    olds: RedisAclUsersOutputs,
    news: RedisAclUsersInputs,
  ): Promise<pulumi.dynamic.UpdateResult> {
    const removed = (olds.users ?? [])
      .map((u) => u.name)
      .filter((n) => !news.users.some((u) => u.name === n));
    return { outs: await this.converge(news, removed) };
  }

  async read(id: string, props: RedisAclUsersOutputs): Promise<pulumi.dynamic.ReadResult> {
    const nodes = await this.discover(props);
    let drifted = false;
    for (const node of nodes) {
      await this.onNode(props, node, async (c) => {
        for (const u of props.users) {
          const want = await this.expected(c, u, props.userPasswords[u.name] ?? "");
          const have = summariseGetUser(await c.call("ACL", "GETUSER", u.name));
          if (want !== have) drifted = true;
        }
      });
    }
    return { id, props: { ...props, nodes: nodes.map((n) => `${n.host}:${n.port}`), drifted } };
  }

  async delete(_id: string, props: RedisAclUsersOutputs): Promise<void> {
    // Users hold no data: removing the resource removes them, on every node.
    const { log } = progress("redis-acl");
    const nodes = await this.discover(props);
    for (const node of nodes) {
      await this.onNode(props, node, async (c) => {
        for (const u of props.users) await c.call("ACL", "DELUSER", u.name);
        await this.persist(c);
      });
    }
    log(
      `removed ACL users ${props.users.map((u) => u.name).join(", ")} from ${nodes.length} nodes (users hold no data)`,
    );
  }

  private async converge(inputs: RedisAclUsersInputs, removed: string[]): Promise<RedisAclUsersOutputs> {
    const { log, lines } = progress("redis-acl");
    for (const u of inputs.users) {
      if (!inputs.userPasswords[u.name]) throw new Error(`no password given for Redis ACL user "${u.name}"`);
    }
    const nodes = await this.discover(inputs);
    for (const node of nodes) {
      await this.onNode(inputs, node, async (c) => {
        let changed = false;
        for (const u of inputs.users) {
          const password = inputs.userPasswords[u.name];
          const before = summariseGetUser(await c.call("ACL", "GETUSER", u.name));
          if (before === (await this.expected(c, u, password))) continue;
          await c.call("ACL", "SETUSER", u.name, ...aclRules(u, password));
          changed = true;
          log(`set ACL user ${u.name} on ${node.host}:${node.port}`);
        }
        for (const name of removed) {
          if ((await c.call("ACL", "DELUSER", name)) > 0) {
            changed = true;
            log(`removed ACL user ${name} from ${node.host}:${node.port}`);
          }
        }
        if (changed) await this.persist(c);
      });
    }
    return { ...inputs, nodes: nodes.map((n) => `${n.host}:${n.port}`), drifted: false, log: lines };
  }

  /**
   * What GETUSER answers for a user with exactly these rules on this node: set on a scratch user, read,
   * removed. Comparing against that (not against our own rendering) keeps the diff exact whatever
   * canonical form this Redis version prints. Probed on each node, not once per run: nodes of one set
   * were seen to print the same rules differently (a cache of the master's answer made replicas look drifted).
   */
  private async expected(c: RedisClient, user: AclUserSpec, password: string): Promise<string | undefined> {
    const scratch = `__aipd_probe_${user.name}`;
    await c.call("ACL", "SETUSER", scratch, ...aclRules(user, password));
    const reply = await c.call("ACL", "GETUSER", scratch);
    await c.call("ACL", "DELUSER", scratch);
    return summariseGetUser(reply);
  }

  /** ACL SAVE to the node's aclfile; without one, CONFIG REWRITE keeps users in redis.conf. */
  private async persist(c: RedisClient): Promise<void> {
    try {
      await c.call("ACL", "SAVE");
    } catch (e) {
      if (!/not configured to use an ACL file/i.test(String((e as Error).message))) throw e;
      await c.call("CONFIG", "REWRITE");
    }
  }

  /** The master and every replica Sentinel reports as up, asking each Sentinel in turn. */
  private async discover(inputs: RedisAclUsersInputs): Promise<HostPort[]> {
    const Redis = require("ioredis");
    const secrets = [inputs.password, inputs.sentinelPassword];
    const what = `Redis Sentinels ${inputs.sentinels.map((s) => `${s.host}:${s.port}`).join(",")} (master set ${inputs.masterName})`;
    return withRetry(
      async () => {
        let last: unknown;
        for (const s of inputs.sentinels) {
          const c = new Redis({
            host: s.host,
            port: s.port,
            password: inputs.sentinelPassword || undefined,
            lazyConnect: true,
            retryStrategy: () => null,
            maxRetriesPerRequest: 0,
            connectTimeout: 3000,
          });
          // ioredis reports an AUTH refusal as an "error" event and then rejects with "Connection is closed".
          let socketError: unknown;
          c.on("error", (e: unknown) => (socketError = e));
          try {
            await c.connect().catch((e: unknown) => {
              throw socketError ?? e;
            });
            const master = (await c.call("SENTINEL", "get-master-addr-by-name", inputs.masterName)) as
              string[] | null;
            if (!master)
              throw new Error(`Sentinel ${s.host}:${s.port} does not know master set "${inputs.masterName}"`);
            const replicas = (await c.call("SENTINEL", "replicas", inputs.masterName)) as string[][];
            const nodes: HostPort[] = [{ host: master[0], port: Number(master[1]) }];
            for (const r of replicas) {
              const f: Record<string, string> = {};
              for (let i = 0; i + 1 < r.length; i += 2) f[r[i]] = r[i + 1];
              // Every replica Sentinel knows, even one it currently judges down (a restart, a failover in
              // progress): each must get the users, so an unreachable node fails the run after the deadline
              // instead of being skipped silently.
              // Port 0 is not a node but a client that synced without announcing a port (`redis-cli
              // --rdb`, the backup job); Sentinel lists it until SENTINEL RESET and it is never reachable.
              if (Number(f.port) === 0) continue;
              nodes.push({ host: f.ip, port: Number(f.port) });
            }
            return nodes;
          } catch (e) {
            last = e;
            if (/WRONGPASS|NOAUTH|invalid password/i.test(String((e as Error).message))) throw e;
          } finally {
            c.disconnect();
          }
        }
        throw last;
      },
      {
        what,
        deadlineMs: inputs.timeoutSeconds * 1000,
        secrets,
        log: progress("redis-acl").log,
        isFatal: (e) =>
          /WRONGPASS|NOAUTH|invalid password|does not know master/i.test(String((e as Error)?.message)),
      },
    );
  }

  private async onNode(
    inputs: RedisAclUsersInputs,
    node: HostPort,
    fn: (c: RedisClient) => Promise<void>,
  ): Promise<void> {
    const Redis = require("ioredis");
    const secrets = [inputs.password, inputs.sentinelPassword, ...Object.values(inputs.userPasswords)];
    const what = `Redis node ${node.host}:${node.port}`;
    const c = new Redis({
      host: node.host,
      port: node.port,
      password: inputs.password,
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      connectTimeout: 5000,
    });
    let socketError: unknown;
    c.on("error", (e: unknown) => (socketError = e));
    try {
      await withRetry(
        () =>
          c.connect().catch((e: unknown) => {
            throw socketError ?? e;
          }),
        {
          what,
          deadlineMs: inputs.timeoutSeconds * 1000,
          secrets,
          isFatal: (e) => /WRONGPASS|NOAUTH/i.test(String((e as Error)?.message)),
        },
      );
      await fn(c);
    } catch (e) {
      throw new Error(`${what}: ${describeError(e, secrets)}`);
    } finally {
      c.disconnect();
    }
  }
}

/** Arguments of {@link RedisAclUsers}. */
export interface RedisAclUsersArgs {
  /** Sentinels to ask for the master and replicas. */
  sentinels: pulumi.Input<HostPort[]>;
  /** Sentinel master set name. */
  masterName: pulumi.Input<string>;
  /** Password of the nodes' default user (a secret). */
  password: pulumi.Input<string>;
  /** Password of the Sentinels (a secret). */
  sentinelPassword: pulumi.Input<string>;
  /** The users and their rules. */
  users: pulumi.Input<AclUserSpec[]>;
  /** Each user's password, by user name (a secret). */
  userPasswords: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Seconds to keep retrying to reach the Sentinels and nodes. */
  timeoutSeconds: pulumi.Input<number>;
}

/** ACL users present on every Redis node of the Sentinel-managed set. */
export class RedisAclUsers extends pulumi.dynamic.Resource {
  /** Nodes the users were last set on. */
  declare readonly nodes: pulumi.Output<string[]>;
  /** Whether refresh found a node out of step. */
  declare readonly drifted: pulumi.Output<boolean>;
  /** Steps of the last create or update. */
  declare readonly log: pulumi.Output<string[]>;

  constructor(name: string, args: RedisAclUsersArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      new RedisAclUsersProvider(),
      name,
      {
        ...args,
        userPasswords: pulumi.secret(args.userPasswords),
        nodes: undefined,
        drifted: undefined,
        log: undefined,
      },
      { ...opts, additionalSecretOutputs: ["userPasswords", "password", "sentinelPassword"] },
    );
  }
}
