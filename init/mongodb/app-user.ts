/**
 * The MongoDB application user, managed by the collections initialiser like the other services' users:
 * created when missing (external mode; in helm mode the chart creates it when it first initialises the
 * data directory, and never again), its password set when it rotates (the chart never changes it on a
 * running replica set), its roles granted when missing. The user is defined in the application database
 * (its `authSource`), as the chart defines it. Removing or renaming it in config keeps the old user.
 *
 * Planning is pure ({@link planAppUser}); commands are built with the password only when sent
 * ({@link appUserCommand}), so a plan can be logged and tested without it.
 */

/** A role as MongoDB names it: `{role: "readWrite", db: "ai_platform"}`. */
export interface MongoRole {
  role: string;
  db: string;
}

/** What `usersInfo` says of the user. */
export interface ObservedUser {
  exists: boolean;
  roles: MongoRole[];
}

/** One step towards the desired user. */
export type AppUserOp =
  | { op: "createUser"; user: string; roles: MongoRole[] }
  | { op: "updateUser"; user: string }
  | { op: "grantRolesToUser"; user: string; roles: MongoRole[] }
  | { op: "revokeRolesFromUser"; user: string; roles: MongoRole[] };

/** The roles an application user gets by default: read and write its own database. */
export function defaultAppRoles(database: string): MongoRole[] {
  return [{ role: "readWrite", db: database }];
}

function sameRole(a: MongoRole): (b: MongoRole) => boolean {
  return (b) => a.role === b.role && a.db === b.db;
}

/** The roles of `want` the user lacks. */
export function missingRoles(want: MongoRole[], have: MongoRole[]): MongoRole[] {
  return want.filter((w) => !have.some(sameRole(w)));
}

/**
 * The steps from what the server has to the desired user. `setPassword`: the password is new to the
 * server as far as this resource knows (a create, a rotation, another user name).
 */
export function planAppUser(
  user: string,
  want: MongoRole[],
  observed: ObservedUser,
  setPassword: boolean,
): AppUserOp[] {
  if (!observed.exists) return [{ op: "createUser", user, roles: want }];
  const ops: AppUserOp[] = [];
  if (setPassword) ops.push({ op: "updateUser", user });
  const missing = missingRoles(want, observed.roles);
  if (missing.length > 0) ops.push({ op: "grantRolesToUser", user, roles: missing });
  // Roles config no longer declares (narrowed appRoles, or granted by hand) go: the app keeps what it is given.
  const extra = missingRoles(observed.roles, want);
  if (extra.length > 0) ops.push({ op: "revokeRolesFromUser", user, roles: extra });
  return ops;
}

/** The command sent for a step; the only place the password goes into. */
export function appUserCommand(op: AppUserOp, password: string): Record<string, unknown> {
  switch (op.op) {
    case "createUser":
      return { createUser: op.user, pwd: password, roles: op.roles };
    case "updateUser":
      return { updateUser: op.user, pwd: password };
    case "grantRolesToUser":
      return { grantRolesToUser: op.user, roles: op.roles };
    case "revokeRolesFromUser":
      return { revokeRolesFromUser: op.user, roles: op.roles };
  }
}

function formatRoles(roles: MongoRole[]): string {
  return roles.length === 0 ? "no roles" : roles.map((r) => `${r.role}@${r.db}`).join(", ");
}

/** The log line of a completed step (never the password). */
function describeAppUserOp(op: AppUserOp, database: string): string {
  switch (op.op) {
    case "createUser":
      return `created user ${op.user} in database ${database} (${formatRoles(op.roles)})`;
    case "updateUser":
      return `set the password of user ${op.user} in database ${database}`;
    case "grantRolesToUser":
      return `granted ${formatRoles(op.roles)} to user ${op.user}`;
    case "revokeRolesFromUser":
      return `revoked ${formatRoles(op.roles)} from user ${op.user} (no longer in mongodb.appRoles)`;
  }
}

/** The parts of a driver `Db` used here. */
export interface UserDb {
  command(cmd: Record<string, unknown>): Promise<unknown>;
}

/** The user as `usersInfo` reports it, in the database `db` runs in. */
export async function observeAppUser(db: UserDb, user: string): Promise<ObservedUser> {
  const answer = (await db.command({ usersInfo: user })) as {
    users?: { user: string; roles?: MongoRole[] }[];
  };
  const found = (answer.users ?? []).find((u) => u.user === user);
  if (!found) return { exists: false, roles: [] };
  return { exists: true, roles: (found.roles ?? []).map((r) => ({ role: r.role, db: r.db })) };
}

/** MongoDB's "User ... already exists" (a concurrent run created it between usersInfo and createUser). */
const USER_EXISTS = 51003;

/**
 * Brings the user to the desired state; safe to re-run. Returns the log lines of the steps taken.
 * Errors carry no password (the driver's messages do not echo commands).
 */
export async function convergeAppUser(
  db: UserDb,
  want: { user: string; password: string; roles: MongoRole[]; database: string },
  setPassword: boolean,
  log: (line: string) => void,
): Promise<void> {
  const observed = await observeAppUser(db, want.user);
  for (const op of planAppUser(want.user, want.roles, observed, setPassword)) {
    try {
      await db.command(appUserCommand(op, want.password));
      log(describeAppUserOp(op, want.database));
    } catch (e) {
      if (op.op !== "createUser" || (e as { code?: number })?.code !== USER_EXISTS) throw e;
      // Created meanwhile by someone else: take it over as if it had been there.
      const now = await observeAppUser(db, want.user);
      for (const next of planAppUser(want.user, want.roles, now, true)) {
        await db.command(appUserCommand(next, want.password));
        log(describeAppUserOp(next, want.database));
      }
    }
  }
}
