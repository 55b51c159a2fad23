/**
 * Retrying with a deadline, used by every initialiser (kept apart from what the initialisers create,
 * like pulumi-kubernetes' await package): reaching a server that may not be up yet ({@link withRetry}),
 * and running the work on it again when the server answers that a request may be retried
 * ({@link withSession}). Which errors may be retried is decided here, for every server, in one place.
 */
import { redact } from "./redact";

/** Options of {@link withRetry}. */
export interface RetryOptions {
  /** What is being reached, for messages: `PostgreSQL at 10.0.0.5:5432`. */
  what: string;
  /** Give up this many milliseconds after the first attempt (after `startedAt` when that is given). */
  deadlineMs: number;
  /** When the deadline started (`Date.now()`), for several steps that share one deadline. */
  startedAt?: number;
  /** First pause between attempts; doubles up to `maxDelayMs`. */
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Errors for which another attempt cannot help (bad credentials): fail at once. */
  isFatal?: (e: unknown) => boolean;
  /** Values that must never appear in a message. */
  secrets?: (string | undefined)[];
  /** Progress lines. */
  log?: (line: string) => void;
}

/**
 * Codes of errors that mean "not reachable yet": Node sockets and DNS, and PostgreSQL's connection
 * states. Arrays, not Sets: Pulumi's closure serializer turns a captured Set into a plain object, and
 * `.has` then throws inside the provider.
 */
const TRANSIENT_CODES = [
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  // PostgreSQL: too many connections, shutting down, starting up, connection failures.
  "53300",
  "57P01",
  "57P02",
  "57P03",
  "08006",
  "08001",
  // Port-forwards (shared/port-forward.ts): the pod is missing or not running yet, a forward's stream
  // failed or dropped; and a replica set seen through them without a primary yet (an election).
  "EK8SPOD",
  "EK8SFORWARD",
  "ENOPRIMARY",
];

/** Client errors of kafkajs and the MongoDB driver that say the server was not reached (in time). */
const TRANSIENT_NAMES = [
  "MongoServerSelectionError",
  "MongoNetworkError",
  "MongoNetworkTimeoutError",
  "KafkaJSConnectionError",
  "KafkaJSRequestTimeoutError",
  "KafkaJSBrokerNotFound",
];

/**
 * MongoDB: the codes the drivers' retryable-reads/writes specifications retry (the server is stepping
 * down, shutting down or unreachable, a time limit passed), plus WriteConflict (112), which a server
 * returns for a command that met a concurrent change of the same catalog entry.
 */
const MONGO_RETRYABLE_CODES = [6, 7, 89, 91, 112, 134, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436];
const MONGO_RETRYABLE_LABELS = ["RetryableWriteError", "TransientTransactionError"];

/**
 * PostgreSQL: serialization_failure, deadlock_detected, lock_not_available. The transaction was rolled
 * back, so running the step again is safe where the step is a transaction of its own (a migration, the
 * grants) or only checks before it acts (roles, the database).
 */
const PG_RETRYABLE_CODES = ["40001", "40P01", "55P03"];

type ErrorLike = {
  name?: string;
  code?: unknown;
  type?: unknown;
  message?: string;
  retriable?: unknown;
  canRetry?: unknown;
  errors?: unknown[];
  errorLabels?: unknown;
  hasErrorLabel?: (label: string) => boolean;
  cause?: unknown;
};

/** True for errors that say the server is not reachable (yet), as opposed to a refusal. */
export function isTransient(e: unknown): boolean {
  const err = e as ErrorLike | undefined;
  if (!err || typeof err !== "object") return false;
  if (typeof err.code === "string" && TRANSIENT_CODES.includes(err.code)) return true;
  if (err.name && TRANSIENT_NAMES.includes(err.name)) return true;
  // @platformatic/kafka (SCRAM users): a dropped connection or a timeout, which it marks retriable.
  if (err.code === "PLT_KFK_NETWORK" && err.canRetry === true) return true;
  if (
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|socket hang up|Connection is closed|Command timed out|Connection terminated|connection timeout|timeout expired|starting up|shutting down|too many clients|fetch failed/i.test(
      err.message ?? "",
    )
  ) {
    return true;
  }
  return err.cause !== undefined && err.cause !== e ? isTransient(err.cause) : false;
}

/**
 * True for an answer in which the server itself says that the same request may succeed later:
 * - Kafka: a protocol error whose code is retriable (kafkajs sets `retriable` from Kafka's table:
 *   UNKNOWN_TOPIC_OR_PARTITION while new topics' metadata spreads, LEADER_NOT_AVAILABLE, NOT_CONTROLLER,
 *   REQUEST_TIMED_OUT), or an aggregate of per-resource errors that all are;
 * - MongoDB: an error labelled RetryableWriteError or TransientTransactionError, or with a code the
 *   drivers retry;
 * - PostgreSQL: 40001, 40P01, 55P03;
 * - Redis: LOADING, BUSY, TRYAGAIN, MASTERDOWN replies;
 * - HTTP (Weaviate): 429 Too Many Requests, 503 Service Unavailable.
 * Errors that wrap another (`cause`) are judged by it.
 */
export function isRetriable(e: unknown): boolean {
  const err = e as ErrorLike | undefined;
  if (!err || typeof err !== "object") return false;
  if (typeof err.type === "string" && typeof err.code === "number" && err.retriable === true) return true;
  if (err.name === "KafkaJSAggregateError" && Array.isArray(err.errors) && err.errors.length > 0) {
    return err.errors.every(isRetriable);
  }
  if (/^Mongo/.test(err.name ?? "")) {
    const labels = Array.isArray(err.errorLabels) ? (err.errorLabels as string[]) : [];
    const labelled = (l: string) =>
      labels.includes(l) || (typeof err.hasErrorLabel === "function" && err.hasErrorLabel(l));
    if (MONGO_RETRYABLE_LABELS.some(labelled)) return true;
    if (typeof err.code === "number" && MONGO_RETRYABLE_CODES.includes(err.code)) return true;
  }
  if (typeof err.code === "string" && PG_RETRYABLE_CODES.includes(err.code)) return true;
  if (err.name === "ReplyError" && /^(LOADING|BUSY|TRYAGAIN|MASTERDOWN)\b/.test(err.message ?? ""))
    return true;
  if (/^usage error \((429|503)\)/.test(err.message ?? "")) return true;
  return err.cause !== undefined && err.cause !== e ? isRetriable(err.cause) : false;
}

/** Whether another attempt may help: the server was not reached, or it said to try again. */
export function mayRetry(e: unknown): boolean {
  return isTransient(e) || isRetriable(e);
}

/** Short text of an error, secrets removed. */
export function describeError(e: unknown, secrets: (string | undefined)[] = []): string {
  const err = e as { message?: string; code?: string } | undefined;
  const text = err?.message
    ? `${err.message}${err.code && !err.message.includes(err.code) ? ` (${err.code})` : ""}`
    : String(e);
  return redact(text, secrets);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An attempt still running when the deadline came: it was given up (and its connection closed). */
class DeadlineReached extends Error {}

/**
 * `p`, or a {@link DeadlineReached} once `ms` pass first; `onLate` then runs (closing the connection
 * that hangs, so nothing keeps running behind the error). A server that accepts and never answers
 * (a stalled port-forward) ends here, at the deadline, whatever the client's own timeouts.
 */
async function beforeDeadline<T>(p: Promise<T>, ms: number, onLate: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => {
        onLate();
        reject(new DeadlineReached());
      },
      Math.max(0, ms),
    );
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The loop of {@link withRetry} and {@link withSession}; `what(e)` prefixes the message of `e`. An
 * attempt that keeps the deadline itself (`keepsDeadline`: withSession's, which closes its connection
 * before it gives up) is not raced against it here too: a second timer for the same moment could end the
 * loop before that close.
 */
async function retryLoop<T>(
  attempt: (n: number) => Promise<T>,
  opts: RetryOptions,
  what: (e: unknown) => string,
  keepsDeadline = false,
): Promise<T> {
  const start = opts.startedAt ?? Date.now();
  const isFatal = opts.isFatal ?? ((e: unknown) => !mayRetry(e));
  let delay = opts.initialDelayMs ?? 500;
  const maxDelay = opts.maxDelayMs ?? 10_000;
  let last: { error: unknown; reason: string } | undefined;
  /** The message when the deadline ends the retries, after `n` attempts. */
  const exhausted = (e: unknown, n: number, reason: string, note = "") => {
    const elapsed = Date.now() - start;
    const state = isTransient(e) ? "not reachable" : "still answering that the request may be retried";
    return new Error(
      `${what(e)} ${state} after ${n} attempt${n > 1 ? "s" : ""} over ${Math.round(elapsed / 1000)} s${note} ` +
        `(deadline ${Math.round(opts.deadlineMs / 1000)} s, set by initTimeoutSeconds); last error: ${reason}`,
    );
  };
  for (let n = 1; ; n++) {
    try {
      if (keepsDeadline) return await attempt(n);
      return await beforeDeadline(attempt(n), start + opts.deadlineMs - Date.now(), () => undefined);
    } catch (e) {
      if (e instanceof DeadlineReached) {
        // Cut at the deadline: said like the other failures when an earlier attempt failed.
        if (last) throw exhausted(last.error, n, last.reason, ", the last one given up at the deadline");
        throw new Error(
          `${what(e)} did not answer within the deadline (${Math.round(opts.deadlineMs / 1000)} s, set by initTimeoutSeconds; attempt ${n} was given up and its connection closed)`,
        );
      }
      const reason = describeError(e, opts.secrets);
      last = { error: e, reason };
      if (isFatal(e)) throw new Error(`${what(e)}: ${reason}`);
      if (Date.now() - start + delay > opts.deadlineMs) throw exhausted(e, n, reason);
      opts.log?.(
        `${what(e)}: attempt ${n} failed (${reason}); retrying in ${Math.round(delay / 100) / 10} s`,
      );
      await sleep(delay);
      delay = Math.min(maxDelay, delay * 2);
    }
  }
}

/**
 * Runs `attempt` until it succeeds, a fatal error occurs (by default: any error {@link mayRetry} does
 * not accept), or the deadline passes; then throws an error that says what was tried, how often and
 * the last failure, with every secret removed.
 */
export async function withRetry<T>(attempt: (n: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  return retryLoop(attempt, opts, () => opts.what);
}

/** Options of {@link withSession}: those of {@link withRetry} (`isFatal` judges connecting only). */
export interface SessionOptions<C> extends RetryOptions {
  /** One attempt to connect and prove the login; throws when it cannot. */
  connect: () => Promise<C>;
  /** Closes what `connect` opened (its errors are ignored). */
  close: (client: C) => Promise<unknown>;
  /** Prefix of the work's errors, when it is not `what` (the database the work is in, say). */
  workWhat?: string;
}

/**
 * Connects and runs `work` under one deadline. Connecting is retried as {@link withRetry} does. When
 * the work fails with an error after which another attempt may help ({@link mayRetry}: the server said
 * so, or the connection dropped), the client is closed and the whole attempt runs again, connection
 * and work: `work` must be safe to repeat, which it is when it observes the server and plans from
 * what it finds on every run. Any other error of the work ends at once. `left()` is the time left
 * before the deadline, for waits inside the work.
 */
export async function withSession<C, T>(
  opts: SessionOptions<C>,
  work: (client: C, left: () => number) => Promise<T>,
): Promise<T> {
  const startedAt = opts.startedAt ?? Date.now();
  const left = () => startedAt + opts.deadlineMs - Date.now();
  const connectFatal = opts.isFatal ?? ((e: unknown) => !mayRetry(e));
  let working = false;
  const close = (client: C) =>
    Promise.resolve()
      .then(() => opts.close(client))
      .catch(() => undefined);
  return retryLoop(
    async () => {
      working = false;
      let late = false;
      let client: C | undefined;
      const run = async () => {
        const c = await opts.connect();
        if (late) {
          // Connected after the deadline gave up on this attempt: nobody will use it.
          await close(c);
          throw new DeadlineReached();
        }
        client = c;
        working = true;
        return work(c, left);
      };
      try {
        // Past the deadline the connection is closed under the work (finally): the server rolls back
        // what a transaction had begun, and no late statement runs after the error.
        return await beforeDeadline(run(), left(), () => {
          late = true;
        });
      } finally {
        if (client !== undefined) await close(client);
      }
    },
    { ...opts, startedAt, isFatal: (e) => (working ? !mayRetry(e) : connectFatal(e)) },
    () => (working ? (opts.workWhat ?? opts.what) : opts.what),
    true,
  );
}
