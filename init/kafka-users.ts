/**
 * Kafka SCRAM users: the client users of config, with their generated passwords, on a running cluster.
 *
 * The Bitnami image creates SCRAM users only when it first formats the KRaft storage, so a user added to
 * config later, or a rotated password, never reaches a running cluster without this. kafkajs has no
 * SCRAM API, so the two Kafka requests of KIP-554 (DescribeUserScramCredentials, key 50, and
 * AlterUserScramCredentials, key 51; KRaft from Kafka 3.5) are encoded here and sent over a kafkajs
 * broker connection, which already does the SASL handshake. Credentials are salted here
 * (PBKDF2-HMAC-SHA-256/512, as RFC 5802's Hi()); the password never travels, only the salted form.
 */
import * as pulumi from "@pulumi/pulumi";
import { inPlaceDiff } from "./shared/diff";
import {
  firstBroker,
  isKafkaAuthFailure,
  isKafkaFatal,
  KafkaConnectionInputs,
  kafkaTarget,
  newKafka,
} from "./shared/kafka";
import { initialiserOptions } from "./shared/options";
import { Forwarder, ForwardSpec, withForwarder } from "./shared/port-forward";
import { progress } from "./shared/progress";
import { withSession } from "./shared/retry";
import { loginRotating } from "./shared/rotation";
import { containsUnknown, isUnknown } from "./shared/unknown";
import { codeVersion, VersionedInputs } from "./shared/version";

/** SCRAM mechanisms as Kafka names them. */
export type ScramMechanism = "SCRAM-SHA-256" | "SCRAM-SHA-512";

/** One user as config declares it. */
export interface ScramUserSpec {
  name: string;
  mechanism: ScramMechanism;
}

/** Inputs of the provider (plain values, as the engine passes them). */
export interface KafkaScramUsersInputs extends KafkaConnectionInputs, VersionedInputs {
  /** The users this resource manages. */
  users: ScramUserSpec[];
  /** Password of each user, by name (secret). */
  userPasswords: Record<string, string>;
  /** PBKDF2 iterations of each credential (Kafka accepts 4096 to 16384). */
  iterations: number;
}

/** Outputs: the inputs (`users` as observed by `read`) and the steps of the last run. */
export interface KafkaScramUsersOutputs extends KafkaScramUsersInputs {
  log: string[];
}

/** Kafka's numbers for the mechanisms in both requests. */
const MECHANISM_CODES: Record<ScramMechanism, number> = { "SCRAM-SHA-256": 1, "SCRAM-SHA-512": 2 };
const API_DESCRIBE = 50;
const API_ALTER = 51;
/** Kafka's error for "this user has no SCRAM credential". */
const RESOURCE_NOT_FOUND = 91;
export const MIN_ITERATIONS = 4096;
export const MAX_ITERATIONS = 16384;

type Failure = { property: string; reason: string };

/** Problems with the desired users, each naming the input property; values not known yet are not checked. */
export function userFailures(inputs: Partial<KafkaScramUsersInputs>): Failure[] {
  const failures: Failure[] = [];
  const seen: string[] = [];
  // A preview passes generated passwords as unknown: all of them, or one per user.
  const passwords = isUnknown(inputs.userPasswords) ? undefined : inputs.userPasswords;
  (isUnknown(inputs.users) ? [] : (inputs.users ?? [])).forEach((u, i) => {
    if (containsUnknown(u)) return;
    if (!u.name || Buffer.byteLength(u.name) > 255) {
      failures.push({ property: `users[${i}].name`, reason: "a user name is 1 to 255 bytes" });
    }
    if (seen.includes(u.name)) {
      failures.push({ property: `users[${i}].name`, reason: `user "${u.name}" appears twice` });
    }
    seen.push(u.name);
    if (!(u.mechanism in MECHANISM_CODES)) {
      failures.push({
        property: `users[${i}].mechanism`,
        reason: `"${u.mechanism}" is not a SCRAM mechanism (SCRAM-SHA-256 or SCRAM-SHA-512)`,
      });
    }
    const password = passwords?.[u.name];
    if (passwords !== undefined && (typeof password !== "string" || password.length === 0)) {
      failures.push({ property: `userPasswords`, reason: `no password for user "${u.name}"` });
    }
  });
  const n = inputs.iterations;
  if (
    !isUnknown(n) &&
    (typeof n !== "number" || !Number.isInteger(n) || n < MIN_ITERATIONS || n > MAX_ITERATIONS)
  ) {
    failures.push({
      property: "iterations",
      reason: `${n} is not an integer from ${MIN_ITERATIONS} to ${MAX_ITERATIONS} (Kafka's bounds)`,
    });
  }
  return failures;
}

/** RFC 5802 Hi(): the salted password Kafka stores StoredKey/ServerKey from. */
export function saltedPassword(
  password: string,
  salt: Buffer,
  iterations: number,
  mechanism: ScramMechanism,
): Buffer {
  const { pbkdf2Sync } = require("crypto");
  const [digest, length] = mechanism === "SCRAM-SHA-512" ? ["sha512", 64] : ["sha256", 32];
  return pbkdf2Sync(Buffer.from(password, "utf8"), salt, iterations, length, digest);
}

// Kafka's flexible-version (compact) encoding, as plain functions: Pulumi's closure serializer drops
// class field initializers and cannot follow an object whose methods refer to the object itself.

function uvarint(v: number): Buffer {
  const bytes: number[] = [];
  let n = v >>> 0;
  while (n >= 0x80) {
    bytes.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  bytes.push(n);
  return Buffer.from(bytes);
}

function int8(v: number): Buffer {
  const b = Buffer.alloc(1);
  b.writeInt8(v);
  return b;
}

function int32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
}

function compactBytes(b: Buffer): Buffer {
  return Buffer.concat([uvarint(b.length + 1), b]);
}

function compactString(s: string): Buffer {
  return compactBytes(Buffer.from(s, "utf8"));
}

function compactArray<T>(items: T[], each: (item: T) => Buffer[]): Buffer {
  return Buffer.concat([uvarint(items.length + 1), ...items.flatMap(each)]);
}

/** Empty tagged fields. */
const NO_TAGS = 0;

/** A position in a response being read; every read throws on a truncated buffer. */
export interface Cursor {
  buf: Buffer;
  at: number;
}

function take(c: Cursor, n: number): number {
  if (c.at + n > c.buf.length) throw new Error("truncated Kafka response");
  const at = c.at;
  c.at += n;
  return at;
}

function readInt8(c: Cursor): number {
  return c.buf.readInt8(take(c, 1));
}

function readInt16(c: Cursor): number {
  return c.buf.readInt16BE(take(c, 2));
}

function readInt32(c: Cursor): number {
  return c.buf.readInt32BE(take(c, 4));
}

function readUvarint(c: Cursor): number {
  let v = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    const b = c.buf[take(c, 1)];
    v |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) return v >>> 0;
  }
  throw new Error("malformed varint in Kafka response");
}

function readCompactNullableString(c: Cursor): string | null {
  const n = readUvarint(c);
  if (n === 0) return null;
  const at = take(c, n - 1);
  return c.buf.toString("utf8", at, at + n - 1);
}

function readCompactArray<T>(c: Cursor, each: (c: Cursor) => T): T[] {
  const n = readUvarint(c);
  const out: T[] = [];
  for (let i = 0; i < n - 1; i++) out.push(each(c));
  return out;
}

/** Skips tagged fields (this client reads none). */
function skipTags(c: Cursor): void {
  const count = readUvarint(c);
  for (let i = 0; i < count; i++) {
    readUvarint(c);
    take(c, readUvarint(c));
  }
}

/** One user's result in a response: user, error code, error message, then `more`, then tags. */
function readUserResult<T>(c: Cursor, more: (c: Cursor) => T): UserResult & T {
  const user = readCompactNullableString(c) ?? "";
  const errorCode = readInt16(c);
  const errorMessage = readCompactNullableString(c);
  const rest = more(c);
  skipTags(c);
  return { user, errorCode, errorMessage, ...rest };
}

/** One user's answer in either response. */
export interface UserResult {
  user: string;
  errorCode: number;
  errorMessage: string | null;
}

/** What DescribeUserScramCredentials says of one user. */
export interface DescribedUser extends UserResult {
  credentials: { mechanism: number; iterations: number }[];
}

/** One credential to set. */
export interface Upsertion {
  name: string;
  mechanism: ScramMechanism;
  iterations: number;
  salt: Buffer;
  saltedPassword: Buffer;
}

/**
 * DescribeUserScramCredentials v0 request body. kafkajs writes request header v1; a flexible request
 * needs header v2, which is v1 plus empty tagged fields, so the body starts with them.
 */
export function encodeDescribe(users: string[]): Buffer {
  return Buffer.concat([
    uvarint(NO_TAGS),
    compactArray(users, (name) => [compactString(name), uvarint(NO_TAGS)]),
    uvarint(NO_TAGS),
  ]);
}

/** DescribeUserScramCredentials v0 response (after the correlation id kafkajs has read). */
export function decodeDescribe(payload: Buffer): {
  errorCode: number;
  errorMessage: string | null;
  results: DescribedUser[];
} {
  const c: Cursor = { buf: payload, at: 0 };
  skipTags(c); // response header v1
  readInt32(c); // throttle_time_ms
  const errorCode = readInt16(c);
  const errorMessage = readCompactNullableString(c);
  const results = readCompactArray(c, (x) =>
    readUserResult(x, (y) => ({
      credentials: readCompactArray(y, (z) => {
        const cred = { mechanism: readInt8(z), iterations: readInt32(z) };
        skipTags(z);
        return cred;
      }),
    })),
  );
  skipTags(c);
  return { errorCode, errorMessage, results };
}

/** AlterUserScramCredentials v0 request body (header v2 tagged fields first, as in {@link encodeDescribe}). */
export function encodeAlter(
  deletions: { name: string; mechanism: ScramMechanism }[],
  upsertions: Upsertion[],
): Buffer {
  return Buffer.concat([
    uvarint(NO_TAGS),
    compactArray(deletions, (d) => [
      compactString(d.name),
      int8(MECHANISM_CODES[d.mechanism]),
      uvarint(NO_TAGS),
    ]),
    compactArray(upsertions, (u) => [
      compactString(u.name),
      int8(MECHANISM_CODES[u.mechanism]),
      int32(u.iterations),
      compactBytes(u.salt),
      compactBytes(u.saltedPassword),
      uvarint(NO_TAGS),
    ]),
    uvarint(NO_TAGS),
  ]);
}

/** AlterUserScramCredentials v0 response. */
export function decodeAlter(payload: Buffer): UserResult[] {
  const c: Cursor = { buf: payload, at: 0 };
  skipTags(c);
  readInt32(c);
  const results = readCompactArray(c, (x) => readUserResult(x, () => ({})));
  skipTags(c);
  return results;
}

/** Kafka's name for an error code (kafkajs's table), for messages. */
function kafkaError(code: number, message: string | null): string {
  const { errorCodes } = require("kafkajs/src/protocol/error");
  const known = (errorCodes as { code: number; type: string }[]).find((e) => e.code === code);
  return `${known?.type ?? "error"} (${code})${message ? `: ${message}` : ""}`;
}

/**
 * The error for a broker's answer with error codes, marked as kafkajs marks its protocol errors
 * (type, code, retriable), retriable when every code is (NOT_CONTROLLER, REQUEST_TIMED_OUT...), so
 * that the shared retry runs the request again.
 */
function brokerRefusal(message: string, codes: number[]): Error {
  const { errorCodes } = require("kafkajs/src/protocol/error");
  const table = errorCodes as { code: number; type: string; retriable: boolean }[];
  const known = codes.map((c) => table.find((e) => e.code === c));
  const retriable = known.length > 0 && known.every((k) => k?.retriable === true);
  return Object.assign(new Error(message), { type: known[0]?.type ?? "UNKNOWN", code: codes[0], retriable });
}

/** Whether Describe found a credential of the user's mechanism. */
function hasCredential(described: DescribedUser[], u: ScramUserSpec): boolean {
  return described.some(
    (d) =>
      d.user === u.name &&
      d.errorCode === 0 &&
      d.credentials.some((c) => c.mechanism === MECHANISM_CODES[u.mechanism]),
  );
}

/** Sends one raw request on an authenticated kafkajs broker connection; returns the response body. */
type Send = (apiKey: number, apiName: string, body: Buffer) => Promise<Buffer>;

/** The users of `olds` that `news` no longer declares (the connecting user is never among them). */
export function removedUsers(
  olds: ScramUserSpec[] | undefined,
  news: KafkaScramUsersInputs,
): ScramUserSpec[] {
  return (olds ?? []).filter(
    (o) =>
      o.name !== news.username && !news.users.some((u) => u.name === o.name && u.mechanism === o.mechanism),
  );
}

/** The provider. kafkajs is required inside the methods: Pulumi serializes this object. */
export class KafkaScramUsersProvider implements pulumi.dynamic.ResourceProvider {
  async check(
    _olds: Partial<KafkaScramUsersInputs>,
    news: KafkaScramUsersInputs,
  ): Promise<pulumi.dynamic.CheckResult> {
    const failures = userFailures(news);
    if (!isUnknown(news.brokers) && (!Array.isArray(news.brokers) || news.brokers.length === 0)) {
      failures.push({ property: "brokers", reason: "at least one host:port is needed" });
    }
    return { inputs: news, failures };
  }

  async diff(
    _id: string,
    olds: KafkaScramUsersOutputs,
    news: KafkaScramUsersInputs,
  ): Promise<pulumi.dynamic.DiffResult> {
    return inPlaceDiff(olds, news, ["log"]);
  }

  async create(inputs: KafkaScramUsersInputs): Promise<pulumi.dynamic.CreateResult> {
    const outs = await this.converge(inputs, []);
    return { id: `kafka-scram-users-${inputs.brokers[0]}`, outs };
  }

  async update(
    _id: string,
    olds: KafkaScramUsersOutputs,
    news: KafkaScramUsersInputs,
  ): Promise<pulumi.dynamic.UpdateResult> {
    return { outs: await this.converge(news, removedUsers(olds.users, news), olds.password) };
  }

  /** Users whose credential for their mechanism is gone are left out, so refresh shows the drift. */
  async read(id: string, props: KafkaScramUsersOutputs): Promise<pulumi.dynamic.ReadResult> {
    const described = await this.withBroker(props, (send) =>
      this.describe(
        send,
        props.users.map((u) => u.name),
      ),
    );
    const present = props.users.filter((u) => hasCredential(described, u));
    return { id, props: { ...props, users: present } };
  }

  /** Users hold no data: their credentials are removed, except the one the initialiser connects as. */
  async delete(_id: string, props: KafkaScramUsersOutputs): Promise<void> {
    const { log } = progress("kafka-scram-users");
    const gone = props.users.filter((u) => u.name !== props.username);
    if (gone.length === 0) return;
    await this.withBroker(props, async (send) => {
      const existing = await this.describe(
        send,
        gone.map((u) => u.name),
      );
      const deletions = gone.filter((u) => hasCredential(existing, u));
      if (deletions.length > 0) await this.alter(send, deletions, []);
      log(`removed SCRAM credentials of ${gone.map((u) => u.name).join(", ")} (users hold no data)`);
    });
  }

  /**
   * Sets every declared user's credential and removes those of `removed`, in one request (two when a
   * user changes mechanism). Re-salting on every run keeps it idempotent and safe after a failure.
   */
  private async converge(
    inputs: KafkaScramUsersInputs,
    removed: ScramUserSpec[],
    previousPassword?: string,
  ): Promise<KafkaScramUsersOutputs> {
    const { log, lines } = progress("kafka-scram-users");
    const failures = userFailures(inputs);
    if (failures.length > 0) throw new Error(failures.map((f) => `${f.property}: ${f.reason}`).join("; "));
    const { randomBytes } = require("crypto");
    await this.withBroker(
      inputs,
      async (send) => {
        const before = await this.describe(
          send,
          [...inputs.users, ...removed].map((u) => u.name),
        );
        const has = (u: ScramUserSpec) => hasCredential(before, u);
        const upsertions: Upsertion[] = inputs.users.map((u) => {
          const salt: Buffer = randomBytes(32);
          return {
            name: u.name,
            mechanism: u.mechanism,
            iterations: inputs.iterations,
            salt,
            saltedPassword: saltedPassword(
              inputs.userPasswords[u.name],
              salt,
              inputs.iterations,
              u.mechanism,
            ),
          };
        });
        // Kafka refuses a request that names a user twice: a user whose mechanism changed has its old
        // credential removed in a second request, after the new one is set.
        const deletions = removed.filter(has);
        const renamed = (d: ScramUserSpec) => upsertions.some((u) => u.name === d.name);
        await this.alter(
          send,
          deletions.filter((d) => !renamed(d)),
          upsertions,
        );
        await this.alter(send, deletions.filter(renamed), []);
        for (const u of inputs.users) {
          log(
            `${has(u) ? "set" : "created"} SCRAM user ${u.name} (${u.mechanism}, ${inputs.iterations} iterations)`,
          );
        }
        for (const d of removed) {
          log(
            has(d)
              ? `removed the ${d.mechanism} credential of ${d.name} (removed from config; users hold no data)`
              : `user ${d.name} left config and had no ${d.mechanism} credential any more`,
          );
        }
      },
      previousPassword,
    );
    return { ...inputs, log: lines };
  }

  private async describe(send: Send, names: string[]): Promise<DescribedUser[]> {
    // Kafka refuses a user named twice in one request.
    const unique = names.filter((n, i) => names.indexOf(n) === i);
    if (unique.length === 0) return [];
    const answer = decodeDescribe(
      await send(API_DESCRIBE, "DescribeUserScramCredentials", encodeDescribe(unique)),
    );
    if (answer.errorCode !== 0) {
      throw brokerRefusal(
        `DescribeUserScramCredentials failed: ${kafkaError(answer.errorCode, answer.errorMessage)}`,
        [answer.errorCode],
      );
    }
    const bad = answer.results.filter((r) => r.errorCode !== 0 && r.errorCode !== RESOURCE_NOT_FOUND);
    if (bad.length > 0) {
      throw brokerRefusal(
        `DescribeUserScramCredentials failed for ${bad.map((r) => `${r.user}: ${kafkaError(r.errorCode, r.errorMessage)}`).join("; ")}`,
        bad.map((r) => r.errorCode),
      );
    }
    return answer.results;
  }

  private async alter(
    send: Send,
    deletions: { name: string; mechanism: ScramMechanism }[],
    upsertions: Upsertion[],
  ): Promise<void> {
    if (deletions.length + upsertions.length === 0) return;
    const results = decodeAlter(
      await send(API_ALTER, "AlterUserScramCredentials", encodeAlter(deletions, upsertions)),
    );
    const bad = results.filter((r) => r.errorCode !== 0);
    if (bad.length > 0) {
      const hint = bad.some((r) => r.errorCode === 31)
        ? "; the initialiser's user needs ALTER on the cluster (or is not a super user)"
        : "";
      throw brokerRefusal(
        `AlterUserScramCredentials failed for ${bad.map((r) => `${r.user}: ${kafkaError(r.errorCode, r.errorMessage)}`).join("; ")}${hint}`,
        bad.map((r) => r.errorCode),
      );
    }
  }

  /**
   * Connects one broker with retry up to the deadline (kafkajs does SASL and ApiVersions), checks it
   * speaks both requests, runs `fn` with a raw sender, disconnects. Any broker will do: in KRaft a broker
   * forwards these requests to the controller quorum.
   */
  private async withBroker<T>(
    inputs: KafkaConnectionInputs,
    fn: (send: Send) => Promise<T>,
    previousPassword?: string,
  ): Promise<T> {
    // Through port-forwards when `forward` says so, open for this call only.
    return withForwarder(inputs.forward, firstBroker(inputs), progress("kafka-scram-users").log, (fw) =>
      this.onBroker(inputs, fw, fn, previousPassword),
    );
  }

  /** {@link withBroker} with the call's forwarder. */
  private async onBroker<T>(
    inputs: KafkaConnectionInputs,
    fw: Forwarder,
    fn: (send: Send) => Promise<T>,
    previousPassword?: string,
  ): Promise<T> {
    const secrets = [inputs.password, previousPassword];
    const what = kafkaTarget(inputs);
    const { log } = progress("kafka-scram-users");
    // kafkajs keeps its cluster (and so its broker connections) private; the symbol is the way in.
    // kafkajs is pinned (package.json): a change of these internals fails here with a clear message.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- kafkajs internals, untyped
    type Cluster = any;
    const connect = async (password: string): Promise<Cluster> => {
      const kafka = newKafka({ ...inputs, password }, fw);
      const key = Object.getOwnPropertySymbols(kafka).find(
        (s) => s.description === "private:Kafka:createCluster",
      );
      if (!key) throw new Error("kafkajs has no private:Kafka:createCluster (internals changed since 2.2.4)");
      const c: Cluster = kafka[key]({});
      try {
        await c.connect();
        return c;
      } catch (e) {
        await c.disconnect().catch(() => undefined);
        throw e;
      }
    };
    // The initialiser's own user may be among the users, with a rotated password the cluster does not
    // know yet: then the previous one still logs in, and this run sets the new one. The whole attempt
    // runs again when the broker answers with a retriable error (shared/retry's withSession).
    return withSession(
      {
        what,
        deadlineMs: inputs.timeoutSeconds * 1000,
        secrets,
        log,
        isFatal: isKafkaFatal,
        connect: () => loginRotating(inputs.password, previousPassword, connect, isKafkaAuthFailure),
        close: (login) => login.client.disconnect(),
      },
      async (login) => {
        if (login.withPrevious)
          log(`${inputs.username} logged in with its previous password; setting the new one`);
        const broker = login.client.brokerPool?.seedBroker;
        const versions = (broker?.versions ?? {}) as Record<
          number,
          { minVersion: number; maxVersion: number }
        >;
        for (const key of [API_DESCRIBE, API_ALTER]) {
          if (!versions[key] || versions[key].minVersion > 0) {
            throw new Error(
              "the broker does not offer Describe/AlterUserScramCredentials v0 (KIP-554: Kafka 2.7+, in KRaft 3.5+); " +
                "on a managed Kafka, create the users there and leave only the first user in kafka.clientUsers",
            );
          }
        }
        const Encoder = require("kafkajs/src/protocol/encoder");
        const send: Send = async (apiKey, apiName, body) =>
          broker.connectionPool.send({
            request: {
              apiKey,
              apiVersion: 0,
              apiName,
              encode: async () => {
                const e = new Encoder();
                e.writeBufferInternal(body);
                return e;
              },
            },
            response: {
              decode: async (payload: Buffer) => payload,
              parse: async (payload: Buffer) => payload,
            },
          });
        return fn(send);
      },
    );
  }
}

/** Arguments of {@link KafkaScramUsers}. */
export interface KafkaScramUsersArgs {
  /** Bootstrap brokers, `host:port`. */
  brokers: pulumi.Input<string[]>;
  /** SASL mechanism the initialiser connects with, as kafkajs names it (`scram-sha-512`). */
  mechanism: pulumi.Input<string>;
  /** SASL user the initialiser connects as (needs ALTER on the cluster). */
  username: pulumi.Input<string>;
  /** Its password (a secret). */
  password: pulumi.Input<string>;
  /** The users to keep on the cluster. */
  users: pulumi.Input<ScramUserSpec[]>;
  /** Each user's password, by name (secrets). */
  userPasswords: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** PBKDF2 iterations per credential (4096 to 16384). */
  iterations: pulumi.Input<number>;
  /** Seconds to keep retrying to reach the cluster. */
  timeoutSeconds: pulumi.Input<number>;
  /** How to reach the brokers from here: port-forwards (shared/port-forward.ts); unset: as given. */
  forward?: pulumi.Input<ForwardSpec>;
}

/** SASL/SCRAM users of the platform's Kafka cluster. */
export class KafkaScramUsers extends pulumi.dynamic.Resource {
  /** Users as last applied or observed. */
  declare readonly users: pulumi.Output<ScramUserSpec[]>;
  /** Steps of the last create or update. */
  declare readonly log: pulumi.Output<string[]>;

  constructor(name: string, args: KafkaScramUsersArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      new KafkaScramUsersProvider(),
      name,
      {
        ...args,
        userPasswords: pulumi.secret(args.userPasswords),
        codeVersion: codeVersion(__filename),
        log: undefined,
      },
      initialiserOptions(opts, ["password", "userPasswords"]),
    );
  }
}
