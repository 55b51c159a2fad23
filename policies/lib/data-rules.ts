/**
 * Checks the program's config, its initialisers and this policy pack make alike, written once. The
 * module is pure (no imports) and lives in the pack so the pack stays self-contained when published; the
 * program imports it from here (config/index.ts, init/kafka.ts, init/redis.ts, components/validation.ts,
 * init/postgres/validate.ts).
 */

/**
 * Why a topic cannot get `replicationFactor` copies on a cluster of `nodes` brokers (Kafka refuses to
 * create it: each copy needs its own broker), or undefined.
 */
export function topicReplicationProblem(
  topic: string,
  replicationFactor: number,
  nodes: number,
): string | undefined {
  if (replicationFactor <= nodes) return undefined;
  return `topic "${topic}" asks for replication factor ${replicationFactor} on ${nodes} Kafka node(s); use at most ${nodes}`;
}

/** Redis's built-in user: the chart sets its password (`auth.password`); no ACL user may take its name. */
const REDIS_DEFAULT_USER = "default";

/** Why an ACL user of `redis.aclUsers` cannot have this name, or undefined. */
export function redisAclUserNameProblem(name: string): string | undefined {
  if (name !== REDIS_DEFAULT_USER) return undefined;
  return `"${REDIS_DEFAULT_USER}" is the built-in user whose password the chart manages; choose another name`;
}

/**
 * Why a PostgreSQL setting value cannot be set with `ALTER SYSTEM` by the initialiser (it quotes the value
 * into the statement: words and numbers with units only), or undefined.
 */
export function postgresSettingValueProblem(value: string): string | undefined {
  if (/^[A-Za-z0-9_.,:-]{1,200}$/.test(value)) return undefined;
  return `"${value}" is not a value this program sets (letters, digits, _ . , : -)`;
}
