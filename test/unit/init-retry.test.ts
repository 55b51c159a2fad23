/**
 * The shared retry (init/shared/retry.ts) without a server: which errors each server marks retriable,
 * judged from the serialized form the providers run as, and withSession's contract (connecting
 * retried, the work run again only on a retriable answer, one deadline, messages without secrets).
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { isRetriable, isTransient, mayRetry, withRetry, withSession } from "../../init/shared/retry";

const requireFromString = require("require-from-string");
const { KafkaJSProtocolError, KafkaJSAggregateError, KafkaJSNumberOfRetriesExceeded } = require("kafkajs");
const { MongoServerError } = require("mongodb");

/** The function as a provider runs it: through Pulumi's closure serializer. */
async function serialized<F>(f: F): Promise<F> {
  const sf = await pulumi.runtime.serializeFunction(() => f);
  return requireFromString(sf.text).handler() as F;
}

/** A kafkajs protocol error as the client builds it from a broker's error code. */
const kafka = (type: string, code: number, retriable: boolean) =>
  new KafkaJSProtocolError({ type, code, retriable, message: `${type} (${code})` });

const pg = (code: string) => Object.assign(new Error(`pg error ${code}`), { code, severity: "ERROR" });

describe("shared retry: what the servers mark retriable", () => {
  it("Kafka: retriable protocol codes, aggregates of them, and kafkajs's wrappers", async () => {
    const retriable = await serialized(isRetriable);
    assert.equal(retriable(kafka("UNKNOWN_TOPIC_OR_PARTITION", 3, true)), true);
    assert.equal(retriable(kafka("LEADER_NOT_AVAILABLE", 5, true)), true);
    assert.equal(retriable(kafka("NOT_CONTROLLER", 41, true)), true);
    assert.equal(retriable(kafka("REQUEST_TIMED_OUT", 7, true)), true);
    assert.equal(retriable(kafka("TOPIC_ALREADY_EXISTS", 36, false)), false);
    assert.equal(retriable(kafka("INVALID_REPLICATION_FACTOR", 38, false)), false);
    assert.equal(retriable(kafka("TOPIC_AUTHORIZATION_FAILED", 29, false)), false);
    const all = new KafkaJSAggregateError("create failed", [
      kafka("REQUEST_TIMED_OUT", 7, true),
      kafka("NOT_CONTROLLER", 41, true),
    ]);
    assert.equal(retriable(all), true);
    const mixed = new KafkaJSAggregateError("create failed", [
      kafka("REQUEST_TIMED_OUT", 7, true),
      kafka("INVALID_CONFIG", 40, false),
    ]);
    assert.equal(retriable(mixed), false, "one refusal among them: another attempt cannot help");
    // kafkajs with retries: 0 wraps the broker's answer.
    const wrapped = new KafkaJSNumberOfRetriesExceeded(kafka("UNKNOWN_TOPIC_OR_PARTITION", 3, true), {
      retryCount: 0,
      retryTime: 100,
    });
    assert.equal(retriable(wrapped), true);
  });

  it("MongoDB: the retryable labels and the codes the drivers retry", async () => {
    const retriable = await serialized(isRetriable);
    const labelled = new MongoServerError({
      ok: 0,
      code: 2,
      errmsg: "x",
      errorLabels: ["RetryableWriteError"],
    });
    assert.equal(retriable(labelled), true);
    const transient = new MongoServerError({ ok: 0, code: 251, errmsg: "x" });
    transient.addErrorLabel("TransientTransactionError");
    assert.equal(retriable(transient), true);
    assert.equal(retriable(new MongoServerError({ ok: 0, code: 189, errmsg: "PrimarySteppedDown" })), true);
    assert.equal(retriable(new MongoServerError({ ok: 0, code: 10107, errmsg: "NotWritablePrimary" })), true);
    assert.equal(
      retriable(new MongoServerError({ ok: 0, code: 11600, errmsg: "InterruptedAtShutdown" })),
      true,
    );
    assert.equal(retriable(new MongoServerError({ ok: 0, code: 85, errmsg: "IndexOptionsConflict" })), false);
    assert.equal(retriable(new MongoServerError({ ok: 0, code: 13, errmsg: "Unauthorized" })), false);
    assert.equal(retriable(new MongoServerError({ ok: 0, code: 238, errmsg: "NotImplemented" })), false);
  });

  it("PostgreSQL: serialization failure, deadlock, lock timeout; found through a wrapper's cause", async () => {
    const retriable = await serialized(isRetriable);
    for (const code of ["40001", "40P01", "55P03"]) assert.equal(retriable(pg(code)), true, code);
    for (const code of ["42P01", "23505", "28P01", "42501"]) assert.equal(retriable(pg(code)), false, code);
    const migrationFailed = Object.assign(new Error("migration 0003 failed and was rolled back"), {
      cause: pg("40P01"),
    });
    assert.equal(retriable(migrationFailed), true);
  });

  it("HTTP 429/503 (Weaviate) and Redis LOADING/TRYAGAIN; nothing else", async () => {
    const retriable = await serialized(isRetriable);
    assert.equal(retriable(new Error('usage error (503): {"error":"not ready"}')), true);
    assert.equal(retriable(new Error("usage error (429): slow down")), true);
    assert.equal(retriable(new Error("usage error (422): bad class")), false);
    const reply = (m: string) => Object.assign(new Error(m), { name: "ReplyError" });
    assert.equal(retriable(reply("LOADING Redis is loading the dataset in memory")), true);
    assert.equal(retriable(reply("TRYAGAIN Multiple keys request during rehashing")), true);
    assert.equal(retriable(reply("WRONGPASS invalid username-password pair")), false);
    assert.equal(retriable(new Error("boom")), false);
    assert.equal(retriable(undefined), false);
    assert.equal(retriable("LOADING"), false);
  });

  it("unreachable servers stay transient (sockets, drivers, PostgreSQL starting), refusals do not", async () => {
    const transient = await serialized(isTransient);
    const may = await serialized(mayRetry);
    assert.equal(transient({ code: "ECONNREFUSED" }), true);
    assert.equal(transient(pg("57P03")), true);
    assert.equal(transient(pg("53300")), true);
    assert.equal(transient(Object.assign(new Error("x"), { name: "MongoServerSelectionError" })), true);
    assert.equal(transient(Object.assign(new Error("x"), { name: "KafkaJSConnectionError" })), true);
    assert.equal(transient(pg("28P01")), false);
    assert.equal(may(pg("40001")), true);
    assert.equal(may(pg("3D000")), false);
  });
});

describe("shared retry: withSession", () => {
  const quick = { deadlineMs: 5000, initialDelayMs: 1, maxDelayMs: 5 };

  it("runs the work again, on a new connection, when the server answers with a retriable error", async () => {
    const events: string[] = [];
    let n = 0;
    const result = await withSession(
      {
        ...quick,
        what: "Server",
        connect: async () => {
          events.push(`connect ${++n}`);
          return n;
        },
        close: async (c) => events.push(`close ${c}`),
      },
      async (c) => {
        if (c < 3) throw kafka("NOT_CONTROLLER", 41, true);
        return "done";
      },
    );
    assert.equal(result, "done");
    assert.deepEqual(events, ["connect 1", "close 1", "connect 2", "close 2", "connect 3", "close 3"]);
  });

  it("ends at once on an error of the work that no attempt can cure, prefixed with workWhat, secrets removed", async () => {
    let attempts = 0;
    await assert.rejects(
      withSession(
        {
          ...quick,
          what: "Server",
          workWhat: "Server, database d",
          secrets: ["s3cret"],
          connect: async () => ++attempts,
          close: async () => undefined,
        },
        async () => {
          throw pg("42P01");
        },
      ),
      (e: Error) => {
        assert.equal(e.message, "Server, database d: pg error 42P01");
        return true;
      },
    );
    assert.equal(attempts, 1);
    await assert.rejects(
      withSession(
        {
          ...quick,
          what: "Server",
          secrets: ["s3cret"],
          connect: async () => 1,
          close: async () => undefined,
        },
        async () => {
          throw new Error("refused for s3cret");
        },
      ),
      (e: Error) => !e.message.includes("s3cret") && /Server: refused for/.test(e.message),
    );
  });

  it("judges connecting with isFatal, and gives up at the one deadline with what it tried", async () => {
    let tries = 0;
    const got = await withSession(
      {
        ...quick,
        what: "Server",
        connect: async () => {
          if (++tries < 3) throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
          return tries;
        },
        close: async () => undefined,
      },
      async (c) => c,
    );
    assert.equal(got, 3, "connecting is retried until the server answers");
    await assert.rejects(
      withSession(
        {
          what: "Server at 127.0.0.1:1",
          deadlineMs: 0,
          connect: async () => {
            throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
          },
          close: async () => undefined,
        },
        async () => "never",
      ),
      {
        message:
          "Server at 127.0.0.1:1 not reachable after 1 attempt over 0 s (deadline 0 s, set by initTimeoutSeconds); last error: connect ECONNREFUSED",
      },
    );
    await assert.rejects(
      withSession(
        {
          ...quick,
          what: "Server",
          isFatal: () => true,
          connect: async () => {
            throw new Error("Authentication failed");
          },
          close: async () => undefined,
        },
        async () => "never",
      ),
      { message: "Server: Authentication failed" },
    );
    // A retriable answer that lasts past the deadline says so, not "not reachable".
    await assert.rejects(
      withSession(
        {
          what: "Server",
          deadlineMs: 30,
          initialDelayMs: 10,
          connect: async () => 1,
          close: async () => undefined,
        },
        async () => {
          throw pg("55P03");
        },
      ),
      {
        message:
          /^Server still answering that the request may be retried after \d+ attempts .*last error: pg error 55P03/,
      },
    );
  });

  it("gives up an attempt that hangs at the deadline, closing its connection", async () => {
    // A server that accepts and never answers: the connect never settles.
    const never = new Promise<number>(() => undefined);
    await assert.rejects(
      withSession(
        { what: "Server at 127.0.0.1:9", deadlineMs: 50, connect: () => never, close: async () => undefined },
        async () => 1,
      ),
      {
        message:
          "Server at 127.0.0.1:9 did not answer within the deadline (0 s, set by initTimeoutSeconds; attempt 1 was given up and its connection closed)",
      },
    );
    // Work that hangs on an open connection: the error names the work, and the connection is closed.
    const closed: number[] = [];
    await assert.rejects(
      withSession(
        {
          what: "Server",
          workWhat: "migration 0002_x.sql",
          deadlineMs: 50,
          connect: async () => 7,
          close: async (c) => void closed.push(c),
        },
        () => new Promise(() => undefined),
      ),
      /: migration 0002_x\.sql did not answer within the deadline/,
    );
    assert.deepEqual(closed, [7]);
    await assert.rejects(
      withRetry(() => new Promise(() => undefined), { what: "Sentinels", deadlineMs: 50 }),
      /: Sentinels did not answer within the deadline/,
    );
  });

  it("shares one deadline between steps (startedAt) and tells the work how long is left", async () => {
    const startedAt = Date.now() - 30_000;
    let left = Infinity;
    await withSession(
      { what: "S", deadlineMs: 60_000, startedAt, connect: async () => 1, close: async () => undefined },
      async (_c, remaining) => {
        left = remaining();
      },
    );
    assert.ok(left <= 30_000 && left > 0, `left ${left}`);
    await assert.rejects(
      withRetry(
        async () => {
          throw { code: "ECONNREFUSED", message: "down" };
        },
        { what: "S", deadlineMs: 5000, startedAt: Date.now() - 10_000 },
      ),
      /not reachable after 1 attempt over/,
    );
  });
});
