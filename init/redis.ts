/**
 * Redis ACL users on every node of the Sentinel-managed set. ACLs are per node and not replicated
 * (redis#6738), so each user is set on the master and on every replica (init/redis-topology.ts finds
 * them), then saved to the node's aclfile (`ACL SAVE`) so it survives a restart; being on every node, it
 * survives a failover. Each user also gets a login on every Sentinel that may only discover the master
 * (SENTINEL get-master-addr-by-name, sentinels, replicas; events), saved with SENTINEL FLUSHCONFIG: so
 * applications find the master with their own user, never with the `default` superuser's password.
 */
import * as pulumi from "@pulumi/pulumi";
import { sentinelRules } from "../components/redis/sentinel-users";
import { redisAclUserNameProblem } from "../policies/lib/data-rules";
import { inPlaceDiff, removedNames } from "./shared/diff";
import { observeForDrift } from "./shared/observe";
import { initialiserOptions } from "./shared/options";
import { Forwarder, ForwardSpec, withForwarder } from "./shared/port-forward";
import { progress } from "./shared/progress";
import { codeVersion } from "./shared/version";
import { discoverTopology, HostPort, nodeKey, onServer, RedisClient } from "./redis-topology";
import {
  aclRules,
  AclUserSpec,
  digest,
  observedDrift,
  RedisAclUsersInputs,
  RedisAclUsersOutputs,
  summariseGetUser,
} from "./redis/spec";

export type { HostPort } from "./redis-topology";
export { aclRules, observedDrift, summariseGetUser } from "./redis/spec";
export type { AclUserSpec, RedisAclUsersInputs, RedisAclUsersOutputs } from "./redis/spec";

/** One server the users go to: a data node or a Sentinel, with what differs between the two. */
interface Target {
  kind: "node" | "sentinel";
  addr: HostPort;
}

const targetKey = (t: Target) => `${t.kind} ${nodeKey(t.addr)}`;

export class RedisAclUsersProvider implements pulumi.dynamic.ResourceProvider {
  async check(
    olds: Partial<RedisAclUsersInputs>,
    news: RedisAclUsersInputs,
  ): Promise<pulumi.dynamic.CheckResult> {
    const failures: { property: string; reason: string }[] = [];
    (news.users ?? []).forEach((u, i) => {
      const problem = u ? redisAclUserNameProblem(u.name) : undefined;
      if (problem) failures.push({ property: `users[${i}].name`, reason: problem });
    });
    const { observe, ...inputs } = news;
    delete inputs.observed;
    // Only an existing resource (olds has users) with valid inputs is worth reading. No key may be left
    // undefined: the engine's wire format has no such value.
    const observed = observe && olds.users && failures.length === 0 ? await this.observe(inputs) : undefined;
    if (observed) inputs.observed = observed;
    return { inputs, failures };
  }

  /** Reads every server's users (GETUSER only) for the diff; writes nothing. */
  private observe(inputs: RedisAclUsersInputs) {
    return observeForDrift("redis-acl", "the users", inputs, (bounded) =>
      this.reaching(bounded, async (fw) => {
        const observed: Record<string, Record<string, string>> = {};
        const { targets } = await this.targets(bounded, fw);
        for (const t of targets) {
          const here: Record<string, string> = (observed[targetKey(t)] = {});
          await this.onTarget(bounded, t, fw, async (c) => {
            for (const u of inputs.users) {
              here[u.name] = digest(
                inputs.password,
                summariseGetUser(await c.call("ACL", "GETUSER", u.name)),
              );
            }
          });
        }
        return observed;
      }),
    );
  }

  async diff(
    _id: string,
    olds: RedisAclUsersOutputs,
    news: RedisAclUsersInputs,
  ): Promise<pulumi.dynamic.DiffResult> {
    return inPlaceDiff(
      olds,
      news,
      ["log", "nodes", "sentinelNodes", "drifted", "applied", "observed"],
      olds.drifted === true || observedDrift(olds.applied, news.observed, news.users),
    );
  }

  async create(inputs: RedisAclUsersInputs): Promise<pulumi.dynamic.CreateResult> {
    return { id: `redis-acl-${inputs.masterName}`, outs: await this.converge(inputs, []) };
  }

  async update(
    _id: string,
    olds: RedisAclUsersOutputs,
    news: RedisAclUsersInputs,
  ): Promise<pulumi.dynamic.UpdateResult> {
    const removed = removedNames(olds.users, news.users);
    return { outs: await this.converge(news, removed) };
  }

  /**
   * Refresh: reads each server's users and compares them with what the last run left there. Writes
   * nothing (no probe user): a server the last run did not reach, or a user whose rules or password
   * changed behind the program's back, shows as drift, and the next `up` converges it.
   */
  async read(id: string, props: RedisAclUsersOutputs): Promise<pulumi.dynamic.ReadResult> {
    return this.reaching(props, (fw) => this.readWith(id, props, fw));
  }

  private async readWith(id: string, props: RedisAclUsersOutputs, fw: Forwarder) {
    const { targets, nodes, sentinels } = await this.targets(props, fw);
    const applied = props.applied ?? {};
    let drifted = false;
    for (const t of targets) {
      const want = applied[targetKey(t)];
      await this.onTarget(props, t, fw, async (c) => {
        for (const u of props.users) {
          const have = summariseGetUser(await c.call("ACL", "GETUSER", u.name));
          if (!want || !have || want[u.name] !== digest(props.password, have)) drifted = true;
        }
      });
    }
    return {
      id,
      // Sorted: Sentinels list replicas in no fixed order, and a refresh must not show that as a change.
      props: {
        ...props,
        nodes: nodes.map(nodeKey).sort(),
        sentinelNodes: sentinels.map(nodeKey).sort(),
        drifted,
      },
    };
  }

  /**
   * Keeps the users. A renamed or re-parented resource is created, and sets them, before the old one is
   * deleted: removing them here would lock applications out until the next run. `pulumi destroy` keeps
   * them too, like everything the initialisers make. A user leaves when config drops it (update).
   */
  async delete(_id: string, props: RedisAclUsersOutputs): Promise<void> {
    progress("redis-acl").log(
      `kept ACL users ${props.users.map((u) => u.name).join(", ") || "(none)"}: removing this resource removes no login; drop a user from redis.aclUsers to remove it`,
    );
  }

  private async converge(inputs: RedisAclUsersInputs, removed: string[]): Promise<RedisAclUsersOutputs> {
    return this.reaching(inputs, (fw) => this.convergeWith(inputs, removed, fw));
  }

  private async convergeWith(
    inputs: RedisAclUsersInputs,
    removed: string[],
    fw: Forwarder,
  ): Promise<RedisAclUsersOutputs> {
    const { log, lines } = progress("redis-acl");
    for (const u of inputs.users) {
      if (!inputs.userPasswords[u.name]) throw new Error(`no password given for Redis ACL user "${u.name}"`);
    }
    const { targets, nodes, sentinels } = await this.targets(inputs, fw);
    const applied: Record<string, Record<string, string>> = {};
    for (const t of targets) {
      const here: Record<string, string> = (applied[targetKey(t)] = {});
      const where = `${t.kind === "sentinel" ? "Sentinel " : ""}${nodeKey(t.addr)}`;
      await this.onTarget(inputs, t, fw, async (c) => {
        let changed = false;
        for (const u of inputs.users) {
          const password = inputs.userPasswords[u.name];
          const rules = t.kind === "node" ? aclRules(u, password) : sentinelRules(password);
          const before = summariseGetUser(await c.call("ACL", "GETUSER", u.name));
          const want = await this.expected(c, u.name, rules);
          here[u.name] = digest(inputs.password, want);
          if (before === want) continue;
          await c.call("ACL", "SETUSER", u.name, ...rules);
          changed = true;
          log(`set ACL user ${u.name} on ${where}`);
        }
        for (const name of removed) {
          if ((await c.call("ACL", "DELUSER", name)) > 0) {
            changed = true;
            log(`removed ACL user ${name} from ${where}`);
          }
        }
        if (changed) await this.persist(c, t);
      });
    }
    // Observations stay out of the outputs (a key set to undefined would not serialize either).
    const declared = { ...inputs };
    delete declared.observed;
    return {
      ...declared,
      nodes: nodes.map(nodeKey).sort(),
      sentinelNodes: sentinels.map(nodeKey).sort(),
      applied,
      drifted: false,
      log: lines,
    };
  }

  /**
   * Runs `fn` with the forwarder of `inputs.forward`, open for this call only: through port-forwards,
   * every Sentinel, master and replica address gets its own (redis-topology's `resolve`).
   */
  private async reaching<T>(inputs: RedisAclUsersInputs, fn: (fw: Forwarder) => Promise<T>): Promise<T> {
    return withForwarder(inputs.forward, inputs.sentinels[0], progress("redis-acl").log, fn);
  }

  /** Every data node, then every Sentinel. */
  private async targets(inputs: RedisAclUsersInputs, fw: Forwarder) {
    const { nodes, sentinels } = await discoverTopology(inputs, fw.resolve);
    const targets: Target[] = [
      ...nodes.map((addr) => ({ kind: "node" as const, addr })),
      ...sentinels.map((addr) => ({ kind: "sentinel" as const, addr })),
    ];
    return { targets, nodes, sentinels };
  }

  /**
   * What GETUSER answers for a user with exactly these rules on this server: set on a scratch user, read,
   * removed. Comparing against that (not against our own rendering) keeps the diff exact whatever
   * canonical form this Redis version prints. Probed on each server, not once per run: nodes of one set
   * were seen to print the same rules differently (a cache of the master's answer made replicas look
   * drifted), and a Sentinel prints them differently again. Only create and update probe; read never does.
   */
  private async expected(c: RedisClient, name: string, rules: string[]): Promise<string | undefined> {
    const scratch = `__aipd_probe_${name}`;
    await c.call("ACL", "SETUSER", scratch, ...rules);
    const reply = await c.call("ACL", "GETUSER", scratch);
    await c.call("ACL", "DELUSER", scratch);
    return summariseGetUser(reply);
  }

  /**
   * Makes the users survive a restart: a node saves its aclfile (ACL SAVE; without one, CONFIG REWRITE
   * keeps users in redis.conf); a Sentinel rewrites sentinel.conf (SENTINEL FLUSHCONFIG).
   */
  private async persist(c: RedisClient, t: Target): Promise<void> {
    if (t.kind === "sentinel") {
      await c.call("SENTINEL", "FLUSHCONFIG");
      return;
    }
    try {
      await c.call("ACL", "SAVE");
    } catch (e) {
      if (!/not configured to use an ACL file/i.test(String((e as Error).message))) throw e;
      await c.call("CONFIG", "REWRITE");
    }
  }

  private async onTarget(
    inputs: RedisAclUsersInputs,
    t: Target,
    fw: Forwarder,
    fn: (c: RedisClient) => Promise<void>,
  ): Promise<void> {
    const secrets = [inputs.password, inputs.sentinelPassword, ...Object.values(inputs.userPasswords)];
    const password = t.kind === "node" ? inputs.password : inputs.sentinelPassword;
    const what = t.kind === "node" ? "Redis node" : "Redis Sentinel";
    const opts = { deadlineMs: inputs.timeoutSeconds * 1000, secrets, resolve: fw.resolve };
    await onServer(what, t.addr, password, opts, fn);
  }
}

/** Arguments of {@link RedisAclUsers}. */
export interface RedisAclUsersArgs {
  /** Sentinels to ask for the master, replicas and other Sentinels. */
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
  /** Nodes (master + replicas) to wait for before setting users; 0 trusts what Sentinel lists. */
  expectedNodes?: pulumi.Input<number>;
  /** Seconds to keep retrying to reach the Sentinels and nodes. */
  timeoutSeconds: pulumi.Input<number>;
  /** How to reach them from here: port-forwards (shared/port-forward.ts); unset: as given. */
  forward?: pulumi.Input<ForwardSpec>;
}

/** ACL users present on every Redis node and, for discovery only, on every Sentinel of the set. */
export class RedisAclUsers extends pulumi.dynamic.Resource {
  /** Nodes the users were last set on. */
  declare readonly nodes: pulumi.Output<string[]>;
  /** Sentinels the users' discovery login was last set on. */
  declare readonly sentinelNodes: pulumi.Output<string[]>;
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
        codeVersion: codeVersion(__filename),
        observe: !pulumi.runtime.isDryRun(),
        observed: undefined,
        nodes: undefined,
        sentinelNodes: undefined,
        applied: undefined,
        drifted: undefined,
        log: undefined,
      },
      initialiserOptions(opts, ["userPasswords", "password", "sentinelPassword", "applied"]),
    );
  }
}
