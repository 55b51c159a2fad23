/**
 * The Kafka SCRAM users initialiser without a server: input checks, the pure diff, the users it removes,
 * and the wire format of the two KIP-554 requests it encodes itself (the real broker is in
 * test/integration/kafka-users.test.ts; these cover what that broker never sends, such as tagged fields).
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decodeAlter,
  decodeDescribe,
  encodeAlter,
  encodeDescribe,
  KafkaScramUsersInputs,
  KafkaScramUsersProvider,
  removedUsers,
  saltedPassword,
  userFailures,
} from "../../init/kafka-users";
import { UNKNOWN } from "../../init/shared/unknown";
import { viaSerialization } from "../support/dynamic";

const base: KafkaScramUsersInputs = {
  brokers: ["k:9092"],
  mechanism: "scram-sha-512",
  username: "admin",
  password: "pw-admin",
  users: [
    { name: "admin", mechanism: "SCRAM-SHA-512" },
    { name: "app", mechanism: "SCRAM-SHA-512" },
  ],
  userPasswords: { admin: "pw-admin", app: "pw-app" },
  iterations: 8192,
  timeoutSeconds: 5,
};

describe("Kafka SCRAM users initialiser (no server)", () => {
  it("names the property of every bad input", () => {
    assert.deepEqual(userFailures(base), []);
    const bad = userFailures({
      ...base,
      users: [
        { name: "", mechanism: "SCRAM-SHA-512" },
        { name: "app", mechanism: "PLAIN" as never },
        { name: "app", mechanism: "SCRAM-SHA-512" },
      ],
      iterations: 20000,
    });
    assert.deepEqual(
      bad.map((f) => f.property),
      ["users[0].name", "userPasswords", "users[1].mechanism", "users[2].name", "iterations"],
    );
    assert.match(bad[2].reason, /"PLAIN" is not a SCRAM mechanism/);
    assert.match(bad[4].reason, /20000 is not an integer from 4096 to 16384/);
  });

  it("check defers what a preview does not know yet: generated passwords, brokers (issue 9)", async () => {
    const { provider } = await viaSerialization(new KafkaScramUsersProvider());
    // As the engine passes them in a preview of a new stack: the whole map unknown, or one entry.
    const whole = { ...base, password: UNKNOWN, userPasswords: UNKNOWN as never, brokers: UNKNOWN as never };
    assert.deepEqual((await provider.check!({}, whole)).failures, []);
    const one = { ...base, userPasswords: { admin: UNKNOWN, app: "pw-app" } };
    assert.deepEqual((await provider.check!({}, one)).failures, []);
    // Known values are still checked.
    const missing = { ...base, userPasswords: { admin: "pw-admin" } };
    assert.match((await provider.check!({}, missing)).failures![0].reason, /no password for user "app"/);
  });

  it("diff is pure and exact: a rotated password or a new user is a change, the log is not", async () => {
    const { provider } = await viaSerialization(new KafkaScramUsersProvider());
    const olds = { ...base, log: ["created SCRAM user app"] };
    assert.equal((await provider.diff!("id", olds, base)).changes, false);
    const rotated = { ...base, userPasswords: { ...base.userPasswords, app: "pw-app-2" } };
    assert.equal((await provider.diff!("id", olds, rotated)).changes, true);
    assert.deepEqual((await provider.diff!("id", olds, rotated)).replaces, []);
  });

  it("removes the users that left config, never the one it connects as", () => {
    const news = { ...base, users: [] };
    assert.deepEqual(removedUsers(base.users, news), [{ name: "app", mechanism: "SCRAM-SHA-512" }]);
    // A mechanism change replaces the credential: the old mechanism's one goes.
    const other = { ...base, users: [{ name: "app", mechanism: "SCRAM-SHA-256" as const }] };
    assert.deepEqual(removedUsers(base.users, other), [{ name: "app", mechanism: "SCRAM-SHA-512" }]);
  });

  it("salts as RFC 5802 Hi(): PBKDF2 with the mechanism's hash and length", () => {
    const salt = Buffer.from("0123456789abcdef");
    assert.equal(saltedPassword("pencil", salt, 4096, "SCRAM-SHA-256").length, 32);
    assert.equal(saltedPassword("pencil", salt, 4096, "SCRAM-SHA-512").length, 64);
    assert.notDeepEqual(
      saltedPassword("pencil", salt, 4096, "SCRAM-SHA-512"),
      saltedPassword("pencil", salt, 4097, "SCRAM-SHA-512"),
    );
  });

  it("encodes the requests in the compact format, request header v2 tags first", () => {
    assert.deepEqual(
      [...encodeDescribe(["ab"])],
      [0, /* users */ 2, /* "ab" */ 3, 0x61, 0x62, 0, /* body tags */ 0],
    );
    const alter = encodeAlter(
      [{ name: "x", mechanism: "SCRAM-SHA-256" }],
      [
        {
          name: "y",
          mechanism: "SCRAM-SHA-512",
          iterations: 4096,
          salt: Buffer.from([1, 2]),
          saltedPassword: Buffer.from([9]),
        },
      ],
    );
    assert.deepEqual(
      [...alter],
      [
        0,
        // deletions: one, "x", SCRAM-SHA-256 (1), tags
        2, 2, 0x78, 1, 0,
        // upsertions: one, "y", SCRAM-SHA-512 (2), 4096, salt, salted password, tags
        2, 2, 0x79, 2, 0, 0, 0x10, 0, 3, 1, 2, 2, 9, 0, 0,
      ],
    );
  });

  it("decodes responses, skipping tagged fields wherever the broker sends them", () => {
    // Header tags (one field: tag 0, 2 bytes), throttle, results [{user "a", error 0, null, tags}], tags.
    const alter = Buffer.from([1, 0, 2, 0xaa, 0xbb, 0, 0, 0, 0, 2, 2, 0x61, 0, 0, 0, 1, 5, 1, 0xcc, 0]);
    assert.deepEqual(decodeAlter(alter), [{ user: "a", errorCode: 0, errorMessage: null }]);
    // A user without credentials: RESOURCE_NOT_FOUND (91) with a message.
    const describe = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 0x62, 0, 91, 3, 0x6e, 0x6f, 1, 0, 0]);
    assert.deepEqual(decodeDescribe(describe), {
      errorCode: 0,
      errorMessage: null,
      results: [{ user: "b", errorCode: 91, errorMessage: "no", credentials: [] }],
    });
    assert.throws(() => decodeAlter(alter.subarray(0, 8)), /truncated Kafka response/);
  });
});
