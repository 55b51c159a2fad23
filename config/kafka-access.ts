/**
 * What each Kafka client user may do: the `kafka.access` config, its checks against the declared users and
 * topics, and the access each user ends up with (pure). The broker runs Kafka's StandardAuthorizer: a
 * user has exactly what these ACLs allow, and the first client user (the initialiser's) is a super user.
 */
import { z } from "zod";

/** A topic or consumer group: a name, a prefix ending in `*`, or `*` alone for all of them. */
const pattern = z
  .string()
  .regex(
    /^(\*|[A-Za-z0-9._-]{1,249}\*?)$/,
    "must be a name (letters, digits, '.', '_', '-'), a prefix ending in '*', or '*' for all",
  );

export const kafkaAccessSchema = z
  .object({
    /** Topics it may consume from. */
    read: z.array(pattern).default([]),
    /** Topics it may produce to. */
    write: z.array(pattern).default([]),
    /** Consumer groups it may join and commit offsets in. */
    groups: z.array(pattern).default(["*"]),
  })
  .strict();

/** One client user's access, defaults applied. */
export interface KafkaUserAccess {
  user: string;
  read: string[];
  write: string[];
  groups: string[];
}

type AccessConfig = {
  clientUsers: string[];
  topics: { name: string }[];
  access: Record<string, z.infer<typeof kafkaAccessSchema>>;
};

/**
 * Every client user but the first: as `kafka.access` says, or, when it says nothing of the user, read
 * and write on every declared topic and any consumer group (what applications had before ACLs).
 */
export function kafkaUserAccess(k: AccessConfig): KafkaUserAccess[] {
  const topics = k.topics.map((t) => t.name);
  return k.clientUsers.slice(1).map((user) => {
    const a = k.access[user];
    return a
      ? { user, read: a.read, write: a.write, groups: a.groups }
      : { user, read: topics, write: topics, groups: ["*"] };
  });
}

/** `kafka.access` entries that name no client user, the admin, or an undeclared topic. */
export function kafkaAccessProblems(k: AccessConfig, project: string): string[] {
  const problems: string[] = [];
  const topics = new Set(k.topics.map((t) => t.name));
  for (const [user, a] of Object.entries(k.access)) {
    const key = `${project}:kafka.access.${user}`;
    if (user === k.clientUsers[0]) {
      problems.push(
        `${key}: "${user}" is the first of kafka.clientUsers, the initialiser's super user: it needs no ACL; remove it`,
      );
    } else if (!k.clientUsers.includes(user)) {
      problems.push(
        `${key}: "${user}" is not in kafka.clientUsers (${k.clientUsers.join(", ")}); add it there or remove this entry`,
      );
    }
    for (const what of ["read", "write"] as const) {
      a[what].forEach((t, i) => {
        if (t.endsWith("*") || topics.has(t)) return;
        problems.push(
          `${key}.${what}[${i}]: topic "${t}" is not declared in kafka.topics (${[...topics].join(", ") || "none"}); declare it, or write a prefix ending in '*'`,
        );
      });
    }
  }
  return problems;
}
