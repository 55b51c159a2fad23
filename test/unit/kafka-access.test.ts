/**
 * `kafka.access` and the ACL bindings made from it (config/kafka-access.ts, init/kafka-acls/spec.ts):
 * defaults, refusals before anything is created, the bindings each access needs, and the plan that
 * converges observed bindings. Pure: no broker (test/integration/kafka-acls.test.ts has the real one).
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import { kafkaUserAccess, parseConfig } from "../../config";
import { AclBinding, bindingsFor, planBindings } from "../../init/kafka-acls";
import { configProblems as problems } from "../support/unit-config";

const topics = [{ name: "events" }, { name: "logs" }];

describe("kafka.access", () => {
  it("gives a user that config does not name read and write on every declared topic, any group", () => {
    assert.deepEqual(kafkaUserAccess({ clientUsers: ["admin", "app"], topics, access: {} }), [
      { user: "app", read: ["events", "logs"], write: ["events", "logs"], groups: ["*"] },
    ]);
    const c = parseConfig({ kafka: { topics, access: { app: { read: ["events"] } } } });
    assert.deepEqual(kafkaUserAccess({ ...c.kafka, access: c.kafka.access ?? {} }), [
      { user: "app", read: ["events"], write: [], groups: ["*"] },
    ]);
  });

  it("refuses an undeclared topic, an unknown user, the admin and a bad pattern, naming key and value", () => {
    const m = problems({
      kafka: {
        topics,
        access: {
          app: { read: ["evnets", "ml-*"], write: ["logs"] },
          ghost: { read: ["events"] },
          admin: { write: ["*"] },
        },
      },
    });
    assert.match(
      m,
      /ai-platform-data:kafka\.access\.app\.read\[0\]: topic "evnets" is not declared in kafka\.topics \(events, logs\)/,
    );
    assert.match(
      m,
      /ai-platform-data:kafka\.access\.ghost: "ghost" is not in kafka\.clientUsers \(admin, app\)/,
    );
    assert.match(
      m,
      /ai-platform-data:kafka\.access\.admin: "admin" is the first of kafka\.clientUsers, the initialiser's super user/,
    );
    assert.match(
      problems({ kafka: { access: { app: { groups: ["a b"] } } } }),
      /ai-platform-data:kafka\.access\.app\.groups\[0\]: "a b" must be a name \(letters, digits/,
    );
    assert.doesNotMatch(m, /ml-\*/);
  });
});

describe("ACL bindings", () => {
  const b = (resource: string, pattern: string, name: string, operation: string): AclBinding => ({
    user: "app",
    resource,
    pattern,
    name,
    operation,
    permission: "ALLOW",
    host: "*",
  });

  it("reading needs READ and DESCRIBE on the topic and READ on the group; writing WRITE and DESCRIBE; nothing else", () => {
    assert.deepEqual(bindingsFor([{ user: "app", read: ["events"], write: ["ml-*"], groups: ["*"] }]), [
      b("GROUP", "LITERAL", "*", "READ"),
      b("TOPIC", "LITERAL", "events", "DESCRIBE"),
      b("TOPIC", "LITERAL", "events", "READ"),
      b("TOPIC", "PREFIXED", "ml-", "DESCRIBE"),
      b("TOPIC", "PREFIXED", "ml-", "WRITE"),
    ]);
  });

  it("plans the bindings to create and every other binding of the user to remove, hand-made ones included", () => {
    const desired = [b("TOPIC", "LITERAL", "events", "READ"), b("TOPIC", "LITERAL", "events", "DESCRIBE")];
    const observed = [b("TOPIC", "LITERAL", "events", "READ"), b("TOPIC", "LITERAL", "*", "DELETE")];
    assert.deepEqual(planBindings(desired, observed), {
      create: [b("TOPIC", "LITERAL", "events", "DESCRIBE")],
      remove: [b("TOPIC", "LITERAL", "*", "DELETE")],
    });
    assert.deepEqual(planBindings(desired, desired), { create: [], remove: [] });
  });
});
