/**
 * Production (stack): Kafka on at least three nodes, every topic replicated at least twice and at most
 * once per node, `min.insync.replicas` at least 2 and below the replication factor (so one node can be
 * down and producers with `acks=all` still write).
 *
 * Node counts come from the Kafka Helm release's values. Topics come from any resource whose properties
 * carry a `topics` array (the Kafka initialiser, a dynamic resource); such a resource may also carry
 * `nodes`, which is used when the stack has no Kafka release (`external` mode): for the minimum node count
 * and as the bound of the replication factor.
 */
import type { PolicyConfigSchema, PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { knownRelease } from "../lib/charts";
import { kafkaBrokerCount, kafkaBrokerSetting } from "../lib/kafka-values";
import { readConfig } from "../lib/config";
import { topicReplicationProblem } from "../lib/data-rules";
import { get, isObject, isUnknownValueError, JsonObject, num, str } from "../lib/values";

/** Kafka's own default for `min.insync.replicas` when neither the topic nor the broker sets it. */
const KAFKA_DEFAULT_MIN_ISR = 1;

export interface KafkaReplicationConfig {
  minNodes: number;
  minReplicationFactor: number;
  minInSyncReplicas: number;
}

const kafkaReplicationConfigSchema: PolicyConfigSchema = {
  properties: {
    minNodes: { type: "integer", minimum: 1, default: 3, description: "Fewest Kafka broker nodes." },
    minReplicationFactor: {
      type: "integer",
      minimum: 1,
      default: 2,
      description: "Smallest replication factor of a topic.",
    },
    minInSyncReplicas: {
      type: "integer",
      minimum: 1,
      default: 2,
      description:
        "Smallest min.insync.replicas of a topic (it must also stay below the replication factor).",
    },
  },
};

/** A Kafka cluster deployed by the stack. */
interface KafkaCluster {
  urn: string;
  label: string;
  nodes: number;
  /** Broker-wide `min.insync.replicas` from the values, if set. */
  minIsr?: number;
}

/** A topic as an initialiser declares it. */
export interface TopicSpec {
  name: string;
  replicationFactor?: number;
  /** Topic-level `min.insync.replicas`, if set. */
  minIsr?: number;
}

function topicConfig(t: JsonObject, key: string): unknown {
  const configs = t.configs ?? t.config;
  if (isObject(configs)) return configs[key];
  // kafkajs `configEntries: [{name, value}]`.
  const entries = t.configEntries;
  if (Array.isArray(entries)) return entries.find((e: unknown) => isObject(e) && e.name === key)?.value;
  return undefined;
}

/** The topics a resource declares, read tolerantly (camelCase, snake_case and kafkajs shapes). */
function topicsOf(props: JsonObject): TopicSpec[] | undefined {
  const topics = props.topics;
  if (!Array.isArray(topics)) return undefined;
  return topics.filter(isObject).map((t) => {
    const rf = num(t.replicationFactor ?? t.replication_factor ?? t.numReplicas);
    return {
      name: str(t.name) ?? str(t.topic) ?? "(unnamed)",
      // -1 asks the broker for its default; treated as unset.
      replicationFactor: rf !== undefined && rf > 0 ? rf : undefined,
      minIsr: num(topicConfig(t, "min.insync.replicas")),
    };
  });
}

function clusters(resources: PolicyResource[]): KafkaCluster[] {
  const out: KafkaCluster[] = [];
  for (const res of resources) {
    const r = knownRelease(res);
    if (r?.service !== "kafka") continue;
    try {
      const v = r.values;
      out.push({
        urn: res.urn,
        label: r.label,
        nodes: kafkaBrokerCount(v),
        minIsr: num(kafkaBrokerSetting(v, "min.insync.replicas")),
      });
    } catch (e) {
      if (!isUnknownValueError(e)) throw e;
    }
  }
  return out;
}

/** Problems with Kafka replication in the stack, each with the URN to report it on. */
function kafkaReplicationProblems(
  resources: PolicyResource[],
  config: KafkaReplicationConfig,
): Array<{ urn: string; message: string }> {
  const out: Array<{ urn: string; message: string }> = [];
  const kafkas = clusters(resources);
  for (const k of kafkas) {
    if (k.nodes < config.minNodes) {
      out.push({
        urn: k.urn,
        message: `${k.label} runs ${k.nodes} Kafka node(s), fewer than ${config.minNodes} (values.controller.replicaCount + broker.replicaCount)`,
      });
    }
  }
  // With several clusters the smallest bounds every topic (the initialiser does not say which it targets).
  const releaseNodes = kafkas.length > 0 ? Math.min(...kafkas.map((k) => k.nodes)) : undefined;
  const brokerMinIsr = kafkas.find((k) => k.minIsr !== undefined)?.minIsr;

  for (const res of resources) {
    let topics: TopicSpec[] | undefined;
    let declaredNodes: number | undefined;
    try {
      topics = res.type.startsWith("kubernetes:") ? undefined : topicsOf(res.props);
      declaredNodes = topics ? num(get(res.props, "nodes")) : undefined;
    } catch (e) {
      if (!isUnknownValueError(e)) throw e;
      continue;
    }
    if (!topics) continue;
    // An external Kafka has no release to count: the node count config declares (kafka.nodes) stands in.
    if (releaseNodes === undefined && declaredNodes !== undefined && declaredNodes < config.minNodes) {
      out.push({
        urn: res.urn,
        message: `${res.name} declares ${declaredNodes} Kafka node(s) (kafka.nodes), fewer than ${config.minNodes}`,
      });
    }
    const nodes = releaseNodes ?? declaredNodes;
    for (const t of topics) {
      const where = `topic "${t.name}" (${res.name})`;
      const rf = t.replicationFactor;
      if (rf === undefined) {
        out.push({
          urn: res.urn,
          message: `${where} sets no replicationFactor; set it to at least ${config.minReplicationFactor}`,
        });
        continue;
      }
      if (rf < config.minReplicationFactor) {
        out.push({
          urn: res.urn,
          message: `${where} has replicationFactor ${rf}, below ${config.minReplicationFactor}`,
        });
      }
      const tooFewNodes = nodes !== undefined ? topicReplicationProblem(t.name, rf, nodes) : undefined;
      if (tooFewNodes) out.push({ urn: res.urn, message: `${res.name}: ${tooFewNodes}` });
      const isr = t.minIsr ?? brokerMinIsr ?? KAFKA_DEFAULT_MIN_ISR;
      const isrSource =
        t.minIsr !== undefined
          ? ""
          : brokerMinIsr !== undefined
            ? " (broker default)"
            : " (unset: Kafka's default)";
      if (isr < config.minInSyncReplicas) {
        out.push({
          urn: res.urn,
          message: `${where} has min.insync.replicas ${isr}${isrSource}, below ${config.minInSyncReplicas}`,
        });
      }
      if (isr >= rf) {
        out.push({
          urn: res.urn,
          message: `${where} has min.insync.replicas ${isr}${isrSource}, not below its replicationFactor ${rf}: one node down stops acks=all writes`,
        });
      }
    }
  }
  return out;
}

export const kafkaReplication: StackValidationPolicy = {
  name: "kafka-replication",
  description:
    "Production: Kafka runs at least `minNodes` nodes (default 3); every topic has a replication factor " +
    "of at least `minReplicationFactor` (default 2) and at most the node count, and `min.insync.replicas` " +
    "of at least `minInSyncReplicas` (default 2) and below its replication factor. Fix: set `kafka.nodes` " +
    "to 3 or more, and for each entry of `kafka.topics` set `replicationFactor` (e.g. 3) and " +
    '`configs: {"min.insync.replicas": "2"}` in the stack config.',
  enforcementLevel: "disabled",
  configSchema: kafkaReplicationConfigSchema,
  validateStack: (args, reportViolation) => {
    const config = readConfig<KafkaReplicationConfig>(args, kafkaReplicationConfigSchema);
    for (const p of kafkaReplicationProblems(args.resources, config)) reportViolation(`${p.message}.`, p.urn);
  },
};
