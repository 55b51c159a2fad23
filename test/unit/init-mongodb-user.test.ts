/**
 * The MongoDB application user (issue 8 item 10) without a server: the plan, the exact commands (roles
 * included, which the test server FerretDB cannot take: see test/integration/mongodb-user.test.ts),
 * and when the provider sets the password.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  appUserCommand,
  convergeAppUser,
  defaultAppRoles,
  planAppUser,
  UserDb,
} from "../../init/mongodb/app-user";

const roles = defaultAppRoles("ai_platform");

/** A fake database that answers usersInfo from `users` and records every other command. */
function fakeDb(
  users: { user: string; roles: { role: string; db: string }[] }[],
): UserDb & { sent: unknown[] } {
  const sent: unknown[] = [];
  return {
    sent,
    async command(cmd: Record<string, unknown>) {
      if ("usersInfo" in cmd) return { users: users.filter((u) => u.user === cmd.usersInfo), ok: 1 };
      sent.push(cmd);
      return { ok: 1 };
    },
  };
}

describe("MongoDB application user (no server)", () => {
  it("creates a missing user with readWrite on its database", () => {
    assert.deepEqual(planAppUser("app", roles, { exists: false, roles: [] }, false), [
      { op: "createUser", user: "app", roles: [{ role: "readWrite", db: "ai_platform" }] },
    ]);
  });

  it("sets the password only when asked (create, rotation), and grants only missing roles", () => {
    const has = { exists: true, roles };
    assert.deepEqual(planAppUser("app", roles, has, false), []);
    assert.deepEqual(planAppUser("app", roles, has, true), [{ op: "updateUser", user: "app" }]);
    const short = { exists: true, roles: [{ role: "read", db: "ai_platform" }] };
    assert.deepEqual(planAppUser("app", roles, short, false), [
      { op: "grantRolesToUser", user: "app", roles },
      { op: "revokeRolesFromUser", user: "app", roles: [{ role: "read", db: "ai_platform" }] },
    ]);
  });

  it("revokes the roles appRoles no longer declares (narrowed config, or granted by hand)", async () => {
    const wide = {
      exists: true,
      roles: [
        ...roles,
        { role: "dbAdmin", db: "ai_platform" },
        { role: "readWriteAnyDatabase", db: "admin" },
      ],
    };
    const extra = [
      { role: "dbAdmin", db: "ai_platform" },
      { role: "readWriteAnyDatabase", db: "admin" },
    ];
    assert.deepEqual(planAppUser("app", roles, wide, false), [
      { op: "revokeRolesFromUser", user: "app", roles: extra },
    ]);
    assert.deepEqual(appUserCommand({ op: "revokeRolesFromUser", user: "app", roles: extra }, "s3cret"), {
      revokeRolesFromUser: "app",
      roles: extra,
    });
  });

  it("puts the password into the command sent and nowhere else", async () => {
    assert.deepEqual(appUserCommand({ op: "updateUser", user: "app" }, "s3cret"), {
      updateUser: "app",
      pwd: "s3cret",
    });
    const db = fakeDb([]);
    const lines: string[] = [];
    await convergeAppUser(
      db,
      { user: "app", password: "s3cret", roles, database: "ai_platform" },
      true,
      (l) => lines.push(l),
    );
    assert.deepEqual(db.sent, [{ createUser: "app", pwd: "s3cret", roles }]);
    assert.deepEqual(lines, ["created user app in database ai_platform (readWrite@ai_platform)"]);
    assert.ok(!lines.join("\n").includes("s3cret"));
  });

  it("takes over a user created meanwhile (51003): sets its password and roles", async () => {
    const users: { user: string; roles: { role: string; db: string }[] }[] = [];
    const sent: unknown[] = [];
    const db: UserDb = {
      async command(cmd) {
        if ("usersInfo" in cmd) return { users: users.filter((u) => u.user === cmd.usersInfo) };
        if ("createUser" in cmd) {
          users.push({ user: "app", roles: [] });
          throw Object.assign(new Error("User app@ai_platform already exists"), { code: 51003 });
        }
        sent.push(cmd);
        return { ok: 1 };
      },
    };
    await convergeAppUser(
      db,
      { user: "app", password: "p", roles, database: "ai_platform" },
      false,
      () => {},
    );
    assert.deepEqual(sent, [
      { updateUser: "app", pwd: "p" },
      { grantRolesToUser: "app", roles },
    ]);
  });
});
