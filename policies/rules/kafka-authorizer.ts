/**
 * Production (mandatory in prod's policy config): a Kafka release whose clients log in with SASL also
 * authorizes what they do. Without an authorizer every SASL user, an application's included, may delete
 * topics, shorten their retention, change any user's credentials and alter broker configs.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { asRelease, HelmRelease } from "../lib/charts";
import { kafkaBrokerSetting, kafkaListeners } from "../lib/kafka-values";

/** The authorizer KRaft clusters use (ACLs kept in the metadata log). */
const KRAFT_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer";

function authorizerProblems(r: HelmRelease): string[] {
  const sasl = kafkaListeners(r.values).filter((l) => l.protocol.startsWith("SASL_"));
  if (sasl.length === 0) return [];
  const problems: string[] = [];
  const authorizer = kafkaBrokerSetting(r.values, "authorizer.class.name");
  if (!authorizer) {
    problems.push(
      `clients log in with SASL (${sasl.map((l) => l.name).join(", ")}) but the brokers set no authorizer.class.name: every user may delete topics and change others' credentials`,
    );
  } else if (authorizer !== KRAFT_AUTHORIZER) {
    problems.push(`authorizer.class.name is "${authorizer}", not KRaft's ${KRAFT_AUTHORIZER}`);
  }
  if (kafkaBrokerSetting(r.values, "allow.everyone.if.no.acl.found") === "true") {
    problems.push("allow.everyone.if.no.acl.found is true: a resource without ACLs is open to every user");
  }
  return problems;
}

export const kafkaAuthorizer: ResourceValidationPolicy = {
  name: "kafka-authorizer",
  description:
    "A Kafka release with SASL listeners runs KRaft's StandardAuthorizer and denies what no ACL allows " +
    "(`allow.everyone.if.no.acl.found` not true), so an application login can do only what its ACLs " +
    "(`kafka.access`) allow. Fix: keep the program's broker settings (components/kafka/values.ts sets " +
    "`authorizer.class.name` and `super.users` in `extraConfig`); do not override them in chart values.",
  enforcementLevel: "disabled",
  validateResource: (args, reportViolation) => {
    const r = asRelease(args.type, args.props, args.name);
    if (r?.service !== "kafka") return;
    for (const p of authorizerProblems(r)) reportViolation(`${r.label}: ${p}.`);
  },
};
