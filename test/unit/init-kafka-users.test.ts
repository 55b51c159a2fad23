/**
 * The Kafka SCRAM users initialiser without a server: input checks, the pure diff, the users it removes,
 * and the salted password against published known answers (the requests themselves are
 * @platformatic/kafka's; the real broker is in test/integration/kafka-users.test.ts).
 */
import * as assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { describe, it } from "node:test";
import { KafkaScramUsersProvider } from "../../init/kafka-users";
import {
  KafkaScramUsersInputs,
  removedUsers,
  saltedPassword,
  userFailures,
} from "../../init/kafka-users/spec";
import { UNKNOWN } from "../../init/shared/unknown";
import { serializedOnce } from "../support/unit-serialized";

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

/** The provider as the engine's host loads it, serialized once for the whole file. */
const serialized = serializedOnce(() => new KafkaScramUsersProvider());

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
    const { provider } = await serialized();
    // As the engine passes them in a preview of a new stack: the whole map unknown, or one entry.
    const whole = { ...base, password: UNKNOWN, userPasswords: UNKNOWN as never, brokers: UNKNOWN as never };
    assert.deepEqual((await provider.check!({}, whole)).failures, []);
    const one = { ...base, userPasswords: { admin: UNKNOWN, app: "pw-app" } };
    assert.deepEqual((await provider.check!({}, one)).failures, []);
    // Known values are still checked.
    const missing = { ...base, userPasswords: { admin: "pw-admin" } };
    assert.match((await provider.check!({}, missing)).failures![0].reason, /no password for user "app"/);
  });

  it("check of the serialized provider refuses bad input, naming the property", async () => {
    const { provider } = await serialized();
    const u = { name: "x", mechanism: "SCRAM-SHA-512" as const };
    const res = await provider.check!({}, { ...base, users: [u, u], userPasswords: {}, iterations: 100 });
    assert.deepEqual(
      res.failures?.map((f) => f.property),
      ["userPasswords", "users[1].name", "userPasswords", "iterations"],
    );
  });

  it("diff is pure and exact: a rotated password or a new user is a change, the log is not", async () => {
    const { provider } = await serialized();
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

  it("salts as RFC 7677's SCRAM-SHA-256 example: its client proof and server signature follow", () => {
    // RFC 7677 section 3: user "user", password "pencil"; the messages of the exchange, verbatim.
    const salt = Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64");
    const nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const authMessage = [
      "n=user,r=rOprNGfwEbeRWgbNEkqO",
      `r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`,
      `c=biws,r=${nonce}`,
    ].join(",");
    const salted = saltedPassword("pencil", salt, 4096, "SCRAM-SHA-256");
    // RFC 5802 section 3, from the salted password on.
    const hmac = (key: Buffer, data: string) => createHmac("sha256", key).update(data).digest();
    const clientKey = hmac(salted, "Client Key");
    const signature = hmac(createHash("sha256").update(clientKey).digest(), authMessage);
    const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]));
    assert.equal(proof.toString("base64"), "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
    assert.equal(
      hmac(hmac(salted, "Server Key"), authMessage).toString("base64"),
      "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
    );
  });

  it("salts SCRAM-SHA-512 as PBKDF2-HMAC-SHA-512 with a 64-byte key (published vectors)", () => {
    // The PBKDF2-HMAC-SHA512 known answers published for RFC 6070's inputs ("password", "salt"),
    // dkLen 64: the length RFC 5802's Hi() gives SHA-512 (one block).
    const salt = Buffer.from("salt");
    assert.equal(
      saltedPassword("password", salt, 1, "SCRAM-SHA-512").toString("hex"),
      "867f70cf1ade02cff3752599a3a53dc4af34c7a669815ae5d513554e1c8cf252" +
        "c02d470a285a0501bad999bfe943c08f050235d7d68b1da55e63f73b60a57fce",
    );
    assert.equal(
      saltedPassword("password", salt, 4096, "SCRAM-SHA-512").toString("hex"),
      "d197b1b33db0143e018b12f3d1d1479e6cdebdcc97c5c0f87f6902e072f457b5" +
        "143f30602641b3d55cd335988cb36b84376060ecd532e039b742a239434af2d5",
    );
  });
});
