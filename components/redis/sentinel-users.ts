/**
 * The ACL users' discovery logins on the Sentinels, kept so that they survive a Sentinel restart.
 *
 * The chart's `start-sentinel.sh` (17.17.1, templates/scripts-configmap.yaml) copies `sentinel.conf` from
 * its ConfigMap over the saved one at every container start, so what `SENTINEL FLUSHCONFIG` saved (the
 * initialiser's `user` lines) is gone after any restart or rollout. The logins therefore live in a Secret
 * of ours, mounted into the sentinel container; `sentinel.preExecCmds`, which the script runs after its
 * copy and right before `exec redis-server ... --sentinel`, appends them to the fresh file. The
 * initialiser (init/redis.ts) sets the same rules live, so a running Sentinel needs no restart.
 */
import * as crypto from "crypto";

/**
 * What a user may do on a Sentinel: log in and find the master, replicas and other Sentinels, and follow
 * Sentinel's events (ioredis' failover detection). No SENTINEL FAILOVER, SET, RESET, CONFIG or ACL.
 */
export const SENTINEL_CLIENT_COMMANDS = [
  "-@all",
  "+auth",
  "+hello",
  "+ping",
  "+sentinel|get-master-addr-by-name",
  "+sentinel|sentinels",
  "+sentinel|replicas",
  "+sentinel|slaves",
  "+subscribe",
  "+psubscribe",
  "+unsubscribe",
  "+punsubscribe",
];

/** Where the Secret is mounted in the sentinel container. */
export const SENTINEL_USERS_DIR = "/opt/ai-platform-data/sentinel-users";

/** Key (and file name) of the `user` lines in that Secret. */
export const SENTINEL_USERS_KEY = "users.conf";

/** The Secret's name: one per release, beside the credentials Secret. */
export function sentinelUsersSecretName(releaseName: string): string {
  return `${releaseName}-sentinel-users`;
}

/** Hex SHA-256, the form of an ACL password hash (`#<hash>`). */
export function aclPasswordHash(password: string): string {
  return crypto.createHash("sha256").update(password).digest("hex");
}

/** The rules of a user's discovery login, without `reset` (what a config line and SETUSER share). */
function discoveryRules(password: string): string[] {
  return ["on", `#${aclPasswordHash(password)}`, "&*", ...SENTINEL_CLIENT_COMMANDS];
}

/** The ACL SETUSER arguments for a user's discovery login on a running Sentinel: exactly these rules. */
export function sentinelRules(password: string): string[] {
  return ["reset", ...discoveryRules(password)];
}

/**
 * The Secret's content: one sentinel.conf `user` line per login, in name order so that the Secret
 * changes only when a user or password does. Names are checked by redisAclUserNameProblem (no spaces).
 */
export function sentinelUsersConf(users: { name: string; password: string }[]): string {
  return [...users]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((u) => `user ${u.name} ${discoveryRules(u.password).join(" ")}\n`)
    .join("");
}

/**
 * `sentinel.preExecCmds` (a string in this chart: the template pipes it through `nindent`). A missing
 * file (the Secret not yet projected) starts the Sentinel without the logins rather than not at all; the
 * initialiser's next run sets them live and sees them missing (init/redis.ts, drift).
 */
export const SENTINEL_USERS_PREPARE = [
  "# ai-platform-data: the ACL users' discovery logins (components/redis/sentinel-users.ts).",
  `users_conf=${SENTINEL_USERS_DIR}/${SENTINEL_USERS_KEY}`,
  'if [ -f "$users_conf" ]; then',
  '  { echo; cat "$users_conf"; } >>/opt/bitnami/redis-sentinel/etc/sentinel.conf',
  "fi",
].join("\n");

/** The sentinel values that mount the Secret and append its lines at every start. */
export function sentinelUsersValues(releaseName: string): Record<string, unknown> {
  const volume = "ai-platform-sentinel-users";
  return {
    preExecCmds: SENTINEL_USERS_PREPARE,
    extraVolumes: [
      {
        name: volume,
        // Read by the sentinel container's user (the chart's runAsUser 1001, fsGroup 1001) only.
        secret: { secretName: sentinelUsersSecretName(releaseName), defaultMode: 0o440 },
      },
    ],
    extraVolumeMounts: [{ name: volume, mountPath: SENTINEL_USERS_DIR, readOnly: true }],
  };
}
