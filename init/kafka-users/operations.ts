/**
 * The two Kafka requests of KIP-554 (DescribeUserScramCredentials, key 50, and
 * AlterUserScramCredentials, key 51; KRaft from Kafka 3.5) through @platformatic/kafka's public API: a
 * `Connection` that does the SASL login, and the library's encoders of both requests. kafkajs has no
 * SCRAM API. The library is required inside the functions: Pulumi serializes the provider, which must
 * capture no module object.
 */
import type {
  alterUserScramCredentialsV0 as AlterV0,
  Connection,
  describeUserScramCredentialsV0 as DescribeV0,
} from "@platformatic/kafka";
import {
  firstBroker,
  isKafkaAuthFailure,
  isKafkaFatal,
  KafkaConnectionInputs,
  kafkaTarget,
} from "../shared/kafka";
import { Forwarder, withForwarder } from "../shared/port-forward";
import { progress } from "../shared/progress";
import { withSession } from "../shared/retry";
import { loginRotating } from "../shared/rotation";
import { MECHANISM_CODES, ScramMechanism, ScramUserSpec } from "./spec";

/** Kafka's error for "this user has no SCRAM credential". */
const RESOURCE_NOT_FOUND = 91;
const CLUSTER_AUTHORIZATION_FAILED = 31;
const API_DESCRIBE = 50;
const API_ALTER = 51;

/** What Describe says of one user. */
export type DescribedUser = DescribeV0.DescribeUserScramCredentialsResponseResult;

/** One credential to set: Kafka's mechanism by name, the salt and the salted password. */
export interface Upsertion extends Omit<AlterV0.AlterUserScramCredentialsRequestUpsertions, "mechanism"> {
  mechanism: ScramMechanism;
}

/** Per-user errors of a response, as the library reports them (a ResponseError's `errors`). */
type ProtocolFailure = { apiCode?: number; apiId?: string; canRetry?: boolean; serverErrorMessage?: string };

/**
 * The error for a broker's answer with error codes, marked as shared/retry's `isRetriable` reads a
 * Kafka protocol error (type, numeric code, retriable), retriable when every code is (NOT_CONTROLLER,
 * REQUEST_TIMED_OUT...), so that the session runs the request again.
 */
function brokerRefusal(request: string, failures: (ProtocolFailure & { user?: string })[]): Error {
  const text = failures
    .map(
      (f) =>
        `${f.user ? `${f.user}: ` : ""}${f.apiId ?? "error"} (${f.apiCode})` +
        (f.serverErrorMessage ? `: ${f.serverErrorMessage}` : ""),
    )
    .join("; ");
  const hint = failures.some((f) => f.apiCode === CLUSTER_AUTHORIZATION_FAILED)
    ? "; the initialiser's user needs ALTER on the cluster (or is not a super user)"
    : "";
  return Object.assign(new Error(`${request} failed: ${text}${hint}`), {
    type: failures[0]?.apiId ?? "UNKNOWN",
    code: failures[0]?.apiCode,
    retriable: failures.length > 0 && failures.every((f) => f.canRetry === true),
  });
}

/** The library's ResponseError of `request` as {@link brokerRefusal}, with the user of each failure. */
function refusalOf(request: string, e: unknown, users: string[]): Error {
  const errors = (e as { errors?: (ProtocolFailure & { path?: string })[] }).errors ?? [];
  return brokerRefusal(
    request,
    errors.map((f) => ({ ...f, user: users[Number(/^\/results\/(\d+)$/.exec(f.path ?? "")?.[1])] })),
  );
}

const isResponseError = (e: unknown) => (e as { code?: unknown })?.code === "PLT_KFK_RESPONSE";

/**
 * DescribeUserScramCredentials of `names`. Users without any credential come back with
 * RESOURCE_NOT_FOUND, which is an answer here, not a failure.
 */
export async function describeUsers(conn: Connection, names: string[]): Promise<DescribedUser[]> {
  const { describeUserScramCredentialsV0 } = require("@platformatic/kafka");
  // Kafka refuses a user named twice in one request.
  const unique = names.filter((n, i) => names.indexOf(n) === i);
  if (unique.length === 0) return [];
  try {
    const answer = await describeUserScramCredentialsV0.api.async(
      conn,
      unique.map((name) => ({ name })),
    );
    return answer.results;
  } catch (e) {
    if (!isResponseError(e)) throw e;
    const response = (e as { response?: { errorCode: number; results: DescribedUser[] } }).response;
    const onlyMissing =
      response?.errorCode === 0 &&
      response.results.every((r) => r.errorCode === 0 || r.errorCode === RESOURCE_NOT_FOUND);
    if (onlyMissing) return response.results;
    throw refusalOf("DescribeUserScramCredentials", e, unique);
  }
}

/** Whether Describe found a credential of the user's mechanism. */
export function hasCredential(described: DescribedUser[], u: ScramUserSpec): boolean {
  return described.some(
    (d) =>
      d.user === u.name &&
      d.errorCode === 0 &&
      d.credentialInfos.some((c) => c.mechanism === MECHANISM_CODES[u.mechanism]),
  );
}

/** AlterUserScramCredentials: removes `deletions` and sets `upsertions`, in one request. */
export async function alterUsers(
  conn: Connection,
  deletions: ScramUserSpec[],
  upsertions: Upsertion[],
): Promise<void> {
  if (deletions.length + upsertions.length === 0) return;
  const { alterUserScramCredentialsV0 } = require("@platformatic/kafka");
  try {
    await alterUserScramCredentialsV0.api.async(
      conn,
      deletions.map((d) => ({ name: d.name, mechanism: MECHANISM_CODES[d.mechanism] })),
      upsertions.map((u) => ({ ...u, mechanism: MECHANISM_CODES[u.mechanism] })),
    );
  } catch (e) {
    if (!isResponseError(e)) throw e;
    // The response lists deletions' users first, then upsertions'.
    throw refusalOf("AlterUserScramCredentials", e, [
      ...deletions.map((d) => d.name),
      ...upsertions.map((u) => u.name),
    ]);
  }
}

/** The library's SASL mechanism for the kafkajs-style name of the inputs (`scram-sha-512`). */
function saslMechanism(mechanism: string): string {
  return mechanism.toUpperCase();
}

/** One authenticated connection to the first bootstrap broker (through the forwarder). */
async function connectBroker(inputs: KafkaConnectionInputs, fw: Forwarder, password: string) {
  const { Connection } = require("@platformatic/kafka");
  const local = await fw.resolve(firstBroker(inputs));
  const conn: Connection = new Connection("ai-platform-data-init", {
    connectTimeout: 5000,
    requestTimeout: 30000,
    sasl: { mechanism: saslMechanism(inputs.mechanism), username: inputs.username, password },
  });
  // Failures reach the pending connect or request as rejections; the event must not crash the process.
  conn.on("error", () => undefined);
  try {
    await conn.connect(local.host, local.port);
    return conn;
  } catch (e) {
    await conn.close().catch(() => undefined);
    // The library wraps every failure to connect as "Connection to host:port failed.": its cause says
    // why (the socket's error, or "SASL authentication failed."), which is what the retry must judge.
    const cause = (e as { cause?: unknown }).cause;
    throw cause instanceof Error ? cause : e;
  }
}

/** Fails with a clear message when the broker does not speak both requests in version 0. */
async function requireKip554(conn: Connection): Promise<void> {
  const { apiVersionsV3 } = require("@platformatic/kafka");
  const { apiKeys } = (await apiVersionsV3.api.async(conn, "ai-platform-data-init", "1")) as {
    apiKeys: { apiKey: number; minVersion: number }[];
  };
  for (const key of [API_DESCRIBE, API_ALTER]) {
    const offered = apiKeys.find((k) => k.apiKey === key);
    if (!offered || offered.minVersion > 0) {
      throw new Error(
        "the broker does not offer Describe/AlterUserScramCredentials v0 (KIP-554: Kafka 2.7+, in KRaft 3.5+); " +
          "on a managed Kafka, create the users there and leave only the first user in kafka.clientUsers",
      );
    }
  }
}

/**
 * Connects one broker with retry up to the deadline (through port-forwards when `forward` says so),
 * checks it speaks both requests, runs `fn`, closes. Any broker will do: in KRaft a broker forwards
 * these requests to the controller quorum. The initialiser's own user may be among the users, with a
 * rotated password the cluster does not know yet: then the previous one still logs in, and this run
 * sets the new one. The whole attempt runs again when the broker answers with a retriable error.
 */
export async function withScramAdmin<T>(
  inputs: KafkaConnectionInputs,
  fn: (conn: Connection) => Promise<T>,
  previousPassword?: string,
): Promise<T> {
  const { log } = progress("kafka-scram-users");
  return withForwarder(inputs.forward, firstBroker(inputs), log, (fw) =>
    withSession(
      {
        what: kafkaTarget(inputs),
        deadlineMs: inputs.timeoutSeconds * 1000,
        secrets: [inputs.password, previousPassword],
        log,
        isFatal: isKafkaFatal,
        connect: () =>
          loginRotating(
            inputs.password,
            previousPassword,
            (password) => connectBroker(inputs, fw, password),
            isKafkaAuthFailure,
          ),
        close: (login) => login.client.close(),
      },
      async (login) => {
        if (login.withPrevious)
          log(`${inputs.username} logged in with its previous password; setting the new one`);
        await requireKip554(login.client);
        return fn(login.client);
      },
    ),
  );
}
