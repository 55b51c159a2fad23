/**
 * Kafka SCRAM users, what config asks for: the inputs, their checks, the users a change removes, and
 * the salted form of a password Kafka stores (pure: no network).
 */
import { KafkaConnectionInputs } from "../shared/kafka";
import { containsUnknown, isUnknown } from "../shared/unknown";
import { VersionedInputs } from "../shared/version";

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
  /**
   * Whether `check` asks the cluster which users have their credential, so that `diff` sees one lost
   * (deleted by hand, or gone after a broker restart: README "Kafka SCRAM users after a broker restart"):
   * true in `pulumi up`, false in a preview. `check` drops it from the inputs.
   */
  observe?: boolean;
  /** Set by `check` only: declared users the cluster has no credential of their mechanism for. */
  missing?: string[];
}

/** Outputs: the inputs (`users` as observed by `read`) and the steps of the last run. */
export interface KafkaScramUsersOutputs extends KafkaScramUsersInputs {
  log: string[];
}

/** Kafka's numbers for the mechanisms (KIP-554's `mechanism` field). */
export const MECHANISM_CODES: Record<ScramMechanism, number> = { "SCRAM-SHA-256": 1, "SCRAM-SHA-512": 2 };
const MIN_ITERATIONS = 4096;
const MAX_ITERATIONS = 16384;

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

/**
 * RFC 5802 Hi() (PBKDF2-HMAC with the mechanism's hash, one block): the salted password Kafka derives
 * StoredKey and ServerKey from. Only this travels to the broker, never the password.
 */
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
