/**
 * The helpers every initialiser shares for issue 8 item 2 (`codeVersion`), item 10 (logging in during a
 * password rotation) and issue 9 (unknown values in a preview), and what each initialiser does with
 * `codeVersion` in its diff.
 */
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import type * as pulumi from "@pulumi/pulumi";
import { KafkaTopicsProvider } from "../../init/kafka";
import { KafkaScramUsersProvider } from "../../init/kafka-users";
import { MongoCollectionsProvider } from "../../init/mongodb";
import { loadMigrations, PostgresSchemaProvider } from "../../init/postgres";
import { RedisAclUsersProvider } from "../../init/redis";
import { loginRotating } from "../../init/shared/rotation";
import { containsUnknown, known, UNKNOWN } from "../../init/shared/unknown";
import { codeVersion, relativeImports } from "../../init/shared/version";
import { WeaviateClassesProvider } from "../../init/weaviate";
import { viaSerialization } from "../support/dynamic";

const made: string[] = [];
after(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function tree(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "aipd-version-"));
  made.push(dir);
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

const sources = {
  "init/main.ts": 'import { a } from "./shared/a";\nimport * as pulumi from "@pulumi/pulumi";\n',
  "init/shared/a.ts": 'import { b } from "./b";\nexport const a = 1;\n',
  "init/shared/b.ts": "export const b = 2;\n",
  "init/other.ts": "export const unrelated = 3;\n",
};

describe("codeVersion: a release of initialiser code is a change, a no-op run is not", () => {
  it("finds relative imports of TypeScript and CommonJS, not packages", () => {
    assert.deepEqual(
      relativeImports(
        'import { x } from "./shared/x";\nimport "../side";\nconst y = require("./y");\nimport * as p from "@pulumi/pulumi";\nimport type { T } from "./types";',
      ),
      ["../side", "./shared/x", "./types", "./y"],
    );
  });

  it("is the same for the same code wherever it is checked out, with either line ending", () => {
    const one = tree(sources);
    const two = tree(
      Object.fromEntries(Object.entries(sources).map(([k, v]) => [k, v.replace(/\n/g, "\r\n")])),
    );
    const v = codeVersion(path.join(one, "init/main.ts"));
    assert.match(v, /^sha256:[0-9a-f]{16}$/);
    assert.equal(codeVersion(path.join(one, "init/main.ts")), v);
    assert.equal(codeVersion(path.join(two, "init/main.ts")), v);
  });

  it("changes when the file or anything it imports, transitively, changes; not for other files", () => {
    const dir = tree(sources);
    const entry = path.join(dir, "init/main.ts");
    const before = codeVersion(entry);
    fs.writeFileSync(path.join(dir, "init/other.ts"), "export const unrelated = 4;\n");
    assert.equal(codeVersion(entry), before);
    fs.writeFileSync(path.join(dir, "init/shared/b.ts"), "export const b = 3;\n");
    const after = codeVersion(entry);
    assert.notEqual(after, before);
    fs.appendFileSync(entry, "// a comment\n");
    assert.notEqual(codeVersion(entry), after);
  });

  it("fails clearly on an import it cannot find", () => {
    const dir = tree({ "x.ts": 'import { y } from "./missing";\n' });
    assert.throws(() => codeVersion(path.join(dir, "x.ts")), /cannot find "\.\/missing" imported by/);
  });

  it("every initialiser reports a change when only codeVersion differs, and none when it is the same", async () => {
    const mongo = { collections: [], hosts: ["m:27017"], database: "d", dropRemovedCollections: false };
    const cases: [string, pulumi.dynamic.ResourceProvider, Record<string, unknown>][] = [
      ["postgres-schema", new PostgresSchemaProvider(), { database: "d", migrations: loadMigrations() }],
      ["mongodb-collections", new MongoCollectionsProvider(), mongo],
      ["weaviate-classes", new WeaviateClassesProvider(), { classes: [], allowRecreate: [] }],
      ["redis-acl-users", new RedisAclUsersProvider(), { users: [], userPasswords: {} }],
      ["kafka-topics", new KafkaTopicsProvider(), { topics: [] }],
      ["kafka-scram-users", new KafkaScramUsersProvider(), { users: [], userPasswords: {} }],
    ];
    for (const [name, raw, inputs] of cases) {
      const { provider } = await viaSerialization(raw);
      const olds = { ...inputs, codeVersion: "sha256:0000000000000000", log: ["x"] };
      const same = await provider.diff!("id", olds, { ...inputs, codeVersion: olds.codeVersion });
      assert.equal(same.changes, false, `${name}: the same code is a change`);
      const next = await provider.diff!("id", olds, { ...inputs, codeVersion: "sha256:1111111111111111" });
      assert.equal(next.changes, true, `${name}: new code is no change`);
      assert.deepEqual(next.replaces ?? [], [], `${name}: new code must update in place`);
    }
  });
});

describe("unknown values (a preview)", () => {
  it("are found at any depth; known() keeps only fully known values", () => {
    assert.equal(containsUnknown({ a: [1, { b: UNKNOWN }] }), true);
    assert.equal(containsUnknown({ a: [1, { b: "x" }] }), false);
    assert.equal(known([UNKNOWN]), undefined);
    assert.deepEqual(known(["a"]), ["a"]);
  });
});

describe("loginRotating: the run that brings a new password logs in with the previous one", () => {
  const wrong = Object.assign(new Error("password authentication failed"), { code: "28P01" });
  const isWrong = (e: unknown) => (e as { code?: string }).code === "28P01";
  const server = (password: string) => async (pw: string) => {
    if (pw !== password) throw wrong;
    return `client(${pw})`;
  };

  it("uses the current password when the server has it", async () => {
    assert.deepEqual(await loginRotating("new", "old", server("new"), isWrong), {
      client: "client(new)",
      withPrevious: false,
    });
  });

  it("falls back to the previous password and says so", async () => {
    assert.deepEqual(await loginRotating("new", "old", server("old"), isWrong), {
      client: "client(old)",
      withPrevious: true,
    });
  });

  it("reports the current password's refusal when neither works, and other errors as they come", async () => {
    await assert.rejects(loginRotating("new", "old", server("other"), isWrong), (e) => e === wrong);
    await assert.rejects(loginRotating("new", undefined, server("old"), isWrong), (e) => e === wrong);
    const down = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    let tries = 0;
    await assert.rejects(
      loginRotating(
        "new",
        "old",
        async () => {
          tries++;
          throw down;
        },
        isWrong,
      ),
      (e) => e === down,
    );
    assert.equal(tries, 1, "a server that is down is not asked with the previous password");
  });
});
