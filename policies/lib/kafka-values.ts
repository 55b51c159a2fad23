/**
 * What the policies know about the Kafka chart's values (bitnami/kafka 26.11.4): broker count, listeners
 * and their SASL mechanisms, broker settings in `extraConfig`. Split from charts.ts, which holds what
 * the five charts have in common.
 */
import { bool, get, JsonObject, num, str } from "./values";

/** Kafka nodes that hold data (brokers): combined KRaft nodes plus broker-only nodes. */
export function kafkaBrokerCount(values: JsonObject): number {
  const kraft = bool(get(values, "kraft.enabled"), true);
  const controllers = kraft ? num(get(values, "controller.replicaCount"), 3) : 0;
  const controllerOnly = bool(get(values, "controller.controllerOnly"), false);
  return (controllerOnly ? 0 : controllers) + num(get(values, "broker.replicaCount"), 0);
}

/** A Kafka listener and the SASL mechanisms it accepts. */
export interface KafkaListener {
  name: string;
  /** Values key of the listener's protocol. */
  path: string;
  /** Security protocol, the chart's default (`SASL_PLAINTEXT`) when unset. */
  protocol: string;
  /** SASL mechanisms accepted on it, upper case. */
  mechanisms: string[];
}

function mechanismList(v: unknown, fallback: string): string[] {
  const raw = Array.isArray(v) ? v.join(",") : (str(v) ?? fallback);
  return raw
    .split(",")
    .map((m) => m.trim().toUpperCase())
    .filter((m) => m.length > 0);
}

/** Listener names bitnami/kafka 26 gives its listeners unless `listeners.<key>.name` says otherwise. */
const KAFKA_LISTENER_NAMES: Record<string, string> = {
  client: "CLIENT",
  interbroker: "INTERNAL",
  controller: "CONTROLLER",
  external: "EXTERNAL",
};

/**
 * Every listener of a bitnami/kafka 26 release, chart defaults applied. A listener accepts the broker's
 * `sasl.enabledMechanisms` (default PLAIN,SCRAM-SHA-256,SCRAM-SHA-512) plus the mechanism the chart
 * uses on it (`sasl.interBrokerMechanism`, `sasl.controllerMechanism`, both PLAIN by default), unless
 * `extraConfig` sets `listener.name.<name>.sasl.enabled.mechanisms` for it (Kafka's per-listener override).
 */
export function kafkaListeners(values: JsonObject): KafkaListener[] {
  const enabled = mechanismList(get(values, "sasl.enabledMechanisms"), "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512");
  const accepted = (listenerName: string, own: string[]): string[] => {
    const override = kafkaBrokerSetting(
      values,
      `listener.name.${listenerName.toLowerCase()}.sasl.enabled.mechanisms`,
    );
    return override !== undefined ? mechanismList(override, "") : [...new Set([...enabled, ...own])];
  };
  const listener = (key: string, own: string[]): KafkaListener => {
    const name = str(get(values, `listeners.${key}.name`)) ?? KAFKA_LISTENER_NAMES[key];
    return {
      name,
      path: `listeners.${key}.protocol`,
      protocol: (str(get(values, `listeners.${key}.protocol`)) ?? "SASL_PLAINTEXT").toUpperCase(),
      mechanisms: accepted(name, own),
    };
  };
  const out = [
    listener("client", []),
    listener("interbroker", mechanismList(get(values, "sasl.interBrokerMechanism"), "PLAIN")),
  ];
  if (bool(get(values, "kraft.enabled"), true)) {
    // The controller listener is for controllers only: it accepts just the controller mechanism.
    const name = str(get(values, "listeners.controller.name")) ?? KAFKA_LISTENER_NAMES.controller;
    const own = mechanismList(get(values, "sasl.controllerMechanism"), "PLAIN");
    const override = kafkaBrokerSetting(
      values,
      `listener.name.${name.toLowerCase()}.sasl.enabled.mechanisms`,
    );
    out.push({
      name,
      path: "listeners.controller.protocol",
      protocol: (str(get(values, "listeners.controller.protocol")) ?? "SASL_PLAINTEXT").toUpperCase(),
      mechanisms: override !== undefined ? mechanismList(override, "") : own,
    });
  }
  if (bool(get(values, "externalAccess.enabled"), false)) out.push(listener("external", []));
  const extra = get(values, "listeners.extraListeners");
  if (Array.isArray(extra)) {
    extra.forEach((l: unknown, i) => {
      const name = str(get(l, "name")) ?? `extraListeners[${i}]`;
      out.push({
        name,
        path: `listeners.extraListeners[${i}].protocol`,
        protocol: (str(get(l, "protocol")) ?? "SASL_PLAINTEXT").toUpperCase(),
        mechanisms: accepted(name, []),
      });
    });
  }
  // `securityProtocolMap` replaces the protocols the chart derives from the listeners above.
  const map = str(get(values, "listeners.securityProtocolMap"));
  if (map) {
    for (const entry of map.split(",")) {
      const [name, protocol] = entry.split(":").map((s) => s.trim());
      if (!name || !protocol) continue;
      out.push({
        name,
        path: "listeners.securityProtocolMap",
        protocol: protocol.toUpperCase(),
        mechanisms: accepted(name, []),
      });
    }
  }
  return out;
}

/** The broker-wide value of a Kafka setting from `extraConfig` / `config` (`key=value` lines), if set. */
export function kafkaBrokerSetting(values: JsonObject, key: string): string | undefined {
  for (const path of ["extraConfig", "config", "controller.extraConfig", "broker.extraConfig"]) {
    const text = get(values, path);
    if (typeof text !== "string") continue;
    for (const line of text.split("\n")) {
      const m = /^\s*([^#=\s]+)\s*=\s*(.*?)\s*$/.exec(line);
      if (m && m[1] === key) return m[2];
    }
  }
  return undefined;
}
