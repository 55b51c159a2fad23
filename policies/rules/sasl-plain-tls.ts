/** Advisory: SASL PLAIN sends passwords as they are; only over TLS (SASL_SSL) is that safe. */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { asRelease, HelmRelease } from "../lib/charts";
import { kafkaListeners } from "../lib/kafka-values";

function saslPlainProblems(r: HelmRelease): string[] {
  if (r.service !== "kafka") return [];
  return kafkaListeners(r.values)
    .filter((l) => l.protocol === "SASL_PLAINTEXT" && l.mechanisms.includes("PLAIN"))
    .map(
      (l) =>
        `listener "${l.name}" accepts SASL PLAIN over SASL_PLAINTEXT (${l.path}): passwords cross the network in clear`,
    );
}

export const saslPlainWithoutTls: ResourceValidationPolicy = {
  name: "sasl-plain-without-tls",
  description:
    "Kafka should not accept SASL PLAIN on a listener without TLS: PLAIN sends the password itself. " +
    "bitnami/kafka 26 enables PLAIN by default for clients (`sasl.enabledMechanisms`) and uses it between " +
    "brokers and controllers (`sasl.interBrokerMechanism`, `sasl.controllerMechanism`). Fix: use " +
    "SCRAM-SHA-512 (`kafka.sasl` in the stack config) or switch the listener to SASL_SSL.",
  enforcementLevel: "advisory",
  validateResource: (args, reportViolation) => {
    const r = asRelease(args.type, args.props, args.name);
    if (r?.service !== "kafka") return;
    for (const p of saslPlainProblems(r)) reportViolation(`${r.label}: ${p}.`);
  },
};
