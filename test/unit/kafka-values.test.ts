/**
 * Kafka's derived settings, pure functions of config: heap, replication, the SASL plan per listener,
 * server properties, config problems and the names kafkajs uses.
 */
import * as assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as fc from "fast-check";
import { kafkaAppUser, kafkaConfigProblems, kafkajsMechanism } from "../../components/kafka";
import {
  kafkaHeapOpts,
  kafkaReplication,
  kafkaSaslPlan,
  kafkaServerSettings,
  renderProperties,
} from "../../components/kafka/values";
import { KAFKA_MECHANISMS } from "../../config";

type Mechanism = (typeof KAFKA_MECHANISMS)[number];

/** The mechanism the chart's kafka-exporter picks (_helpers.tpl kafka.metrics.kafka.saslMechanism). */
function exporterMechanism(chartList: string): string {
  for (const m of ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]) if (chartList.includes(m)) return m;
  return "";
}

describe("Kafka derivations", () => {
  it("derives the heap as half the memory limit unless heapOpts is set", () => {
    const resources = (memory: string) => ({
      requests: { cpu: "1", memory: "256Mi" },
      limits: { cpu: "1", memory },
    });
    for (const [limit, heap] of [
      ["1Gi", 512],
      ["4Gi", 2048],
      ["768Mi", 384],
      ["1001Mi", 500],
    ] as const) {
      assert.equal(kafkaHeapOpts({ resources: resources(limit) }), `-Xmx${heap}m -Xms${heap}m`, limit);
    }
    assert.equal(kafkaHeapOpts({ heapOpts: "-Xmx3g -Xms1g", resources: resources("8Gi") }), "-Xmx3g -Xms1g");
  });

  it("replicates three times from three nodes and needs two in sync there", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 15 }), (nodes) => {
        const r = kafkaReplication(nodes);
        return (
          r.replicationFactor <= nodes &&
          r.minInsyncReplicas <= r.replicationFactor &&
          // One node may fail and writes still meet min.insync.replicas.
          (nodes < 3 || r.minInsyncReplicas < r.replicationFactor)
        );
      }),
    );
    assert.deepEqual(kafkaReplication(1), { replicationFactor: 1, minInsyncReplicas: 1 });
    assert.deepEqual(kafkaReplication(2), { replicationFactor: 2, minInsyncReplicas: 1 });
    assert.deepEqual(kafkaReplication(3), { replicationFactor: 3, minInsyncReplicas: 2 });
    assert.deepEqual(kafkaReplication(7), { replicationFactor: 3, minInsyncReplicas: 2 });
  });

  it("adds PLAIN for the controller without offering it to clients, and the exporter's pick stays allowed", () => {
    const mechanisms = fc.uniqueArray(fc.constantFrom<Mechanism>(...KAFKA_MECHANISMS), {
      minLength: 1,
      maxLength: 3,
    });
    fc.assert(
      fc.property(mechanisms, fc.nat(), (enabled, i) => {
        const interBrokerMechanism = enabled[i % enabled.length];
        const plan = kafkaSaslPlan({
          enabledMechanisms: enabled,
          clientMechanism: enabled[0],
          interBrokerMechanism,
        });
        const chart = plan.chart.split(",");
        const client = plan.client.split(",");
        return (
          chart.includes("PLAIN") &&
          chart.includes(plan.controller) &&
          chart.includes(plan.interBroker) &&
          enabled.every((m) => chart.includes(m)) &&
          new Set(chart).size === chart.length &&
          client.length === enabled.length &&
          client.every((m) => (enabled as string[]).includes(m)) &&
          client.includes(exporterMechanism(plan.chart))
        );
      }),
    );
    const settings = kafkaServerSettings({
      nodes: 1,
      sasl: { enabledMechanisms: ["PLAIN"], clientMechanism: "PLAIN", interBrokerMechanism: "PLAIN" },
      clientUsers: ["admin", "app"],
    });
    assert.equal(settings["listener.name.client.sasl.enabled.mechanisms"], "PLAIN");
  });

  it("runs the StandardAuthorizer, denying what no ACL allows; super users: the first client user and the chart's own", () => {
    const settings = kafkaServerSettings({
      nodes: 3,
      sasl: {
        enabledMechanisms: ["SCRAM-SHA-512"],
        clientMechanism: "SCRAM-SHA-512",
        interBrokerMechanism: "SCRAM-SHA-512",
      },
      clientUsers: ["ops", "app", "etl"],
    });
    assert.equal(
      settings["authorizer.class.name"],
      "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    );
    assert.equal(settings["allow.everyone.if.no.acl.found"], "false");
    assert.equal(settings["super.users"], "User:ops;User:inter_broker_user;User:controller_user");
  });

  it("renders properties one per line", () => {
    assert.equal(renderProperties({ "a.b": "1", c: "x,y" }), "a.b=1\nc=x,y");
  });

  it("names contradictory SASL settings and user names", () => {
    const sasl = {
      enabledMechanisms: ["SCRAM-SHA-512"] as Mechanism[],
      clientMechanism: "SCRAM-SHA-512" as Mechanism,
      interBrokerMechanism: "SCRAM-SHA-512" as Mechanism,
    };
    assert.deepEqual(kafkaConfigProblems({ sasl, clientUsers: ["admin", "app"] }), []);
    assert.match(
      kafkaConfigProblems({
        sasl: { ...sasl, interBrokerMechanism: "PLAIN" },
        clientUsers: ["admin"],
      }).join(),
      /interBrokerMechanism "PLAIN" is not in kafka\.sasl\.enabledMechanisms \(SCRAM-SHA-512\)/,
    );
    assert.match(kafkaConfigProblems({ sasl, clientUsers: ["a", "b", "a"] }).join(), /"a" appears twice/);
    assert.match(
      kafkaConfigProblems({ sasl, clientUsers: ["admin", "controller_user"] }).join(),
      /"controller_user" is the chart's internal user/,
    );
  });

  it("spells mechanisms for kafkajs and picks the app user", () => {
    assert.equal(kafkajsMechanism("SCRAM-SHA-512"), "scram-sha-512");
    assert.equal(kafkajsMechanism("PLAIN"), "plain");
    assert.equal(kafkaAppUser(["admin", "app", "other"]), "app");
    assert.equal(kafkaAppUser(["admin"]), "admin");
  });
});
