/**
 * Reaching a server that may not be up yet: one retry loop with exponential backoff and a deadline,
 * used by every initialiser (kept apart from what the initialisers create, like pulumi-kubernetes'
 * await package).
 */
import { redact } from "./redact";

/** Options of {@link withRetry}. */
export interface RetryOptions {
  /** What is being reached, for messages: `PostgreSQL at 10.0.0.5:5432`. */
  what: string;
  /** Give up this many milliseconds after the first attempt. */
  deadlineMs: number;
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
 * Codes of Node socket errors that mean "not reachable yet". An array, not a Set: Pulumi's closure
 * serializer turns a captured Set into a plain object, and `.has` then throws inside the provider.
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
  "57P03", // PostgreSQL: the database system is starting up
];

/** True for errors that say the server is not reachable (yet), as opposed to a refusal. */
export function isTransient(e: unknown): boolean {
  const err = e as { code?: string; name?: string; message?: string; cause?: unknown } | undefined;
  if (!err) return false;
  if (err.code && TRANSIENT_CODES.includes(err.code)) return true;
  if (err.name === "MongoServerSelectionError" || err.name === "KafkaJSConnectionError") return true;
  if (err.name === "KafkaJSNumberOfRetriesExceeded" || err.name === "KafkaJSNonRetriableError") {
    return isTransient(err.cause);
  }
  if (
    /ECONNREFUSED|ECONNRESET|ETIMEDOUT|socket hang up|Connection is closed|starting up|fetch failed/i.test(
      err.message ?? "",
    )
  ) {
    return true;
  }
  return err.cause !== undefined && err.cause !== e ? isTransient(err.cause) : false;
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

/**
 * Runs `attempt` until it succeeds, a fatal error occurs, or the deadline passes; then throws an error
 * that says what was tried, how often and the last failure, with every secret removed.
 */
export async function withRetry<T>(attempt: (n: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const start = Date.now();
  const isFatal = opts.isFatal ?? ((e: unknown) => !isTransient(e));
  let delay = opts.initialDelayMs ?? 500;
  const maxDelay = opts.maxDelayMs ?? 10_000;
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (e) {
      const reason = describeError(e, opts.secrets);
      if (isFatal(e)) {
        throw new Error(`${opts.what}: ${reason}`);
      }
      const elapsed = Date.now() - start;
      if (elapsed + delay > opts.deadlineMs) {
        throw new Error(
          `${opts.what} not reachable after ${n} attempt${n > 1 ? "s" : ""} over ${Math.round(elapsed / 1000)} s ` +
            `(deadline ${Math.round(opts.deadlineMs / 1000)} s, set by initTimeoutSeconds); last error: ${reason}`,
        );
      }
      opts.log?.(
        `${opts.what}: attempt ${n} failed (${reason}); retrying in ${Math.round(delay / 100) / 10} s`,
      );
      await sleep(delay);
      delay = Math.min(maxDelay, delay * 2);
    }
  }
}
