/**
 * Mandatory: every database asks clients for credentials. Read from each release's values with the pinned
 * chart's defaults applied (lib/charts.ts), because a chart default is as deployed as an explicit value.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { asRelease, HelmRelease, redisSentinel } from "../lib/charts";
import { kafkaListeners } from "../lib/kafka-values";
import { bool, get, str } from "../lib/values";

/** Problems with authentication in one release's values; empty when it is on everywhere. */
function authenticationProblems(r: HelmRelease): string[] {
  const v = r.values;
  const out: string[] = [];
  switch (r.service) {
    case "postgresql": {
      if (!bool(get(v, "auth.enablePostgresUser"), true) && !str(get(v, "auth.username"))) {
        out.push("auth.enablePostgresUser is false and no auth.username is set, so no role has a password");
      }
      const hba = str(get(v, "primary.pgHbaConfiguration"));
      if (hba && /^\s*host\S*\s+.*\s(trust)\s*$/m.test(hba)) {
        out.push('primary.pgHbaConfiguration has a "trust" line, which lets clients in without a password');
      }
      break;
    }
    case "mongodb":
      if (!bool(get(v, "auth.enabled"), true)) out.push("auth.enabled is false");
      break;
    case "redis":
      if (!bool(get(v, "auth.enabled"), true)) out.push("auth.enabled is false");
      if (redisSentinel(v) && !bool(get(v, "auth.sentinel"), true)) {
        out.push("auth.sentinel is false, so Sentinel answers clients without a password");
      }
      break;
    case "kafka":
      for (const l of kafkaListeners(v)) {
        if (!l.protocol.startsWith("SASL_")) {
          out.push(
            `listener "${l.name}" uses ${l.protocol} (${l.path}); only SASL_PLAINTEXT or SASL_SSL authenticate`,
          );
        }
      }
      break;
    case "weaviate": {
      // Env vars override the chart's config file (REFERENCE §2), so both are read.
      const anonymousEnv = get(v, "env.AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED");
      const anonymous = bool(anonymousEnv, bool(get(v, "authentication.anonymous_access.enabled"), true));
      if (anonymous) {
        out.push(
          anonymousEnv === undefined
            ? "authentication.anonymous_access.enabled is not false (the chart's default is true)"
            : "env.AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED turns anonymous access on",
        );
      }
      const apiKeys = bool(
        get(v, "env.AUTHENTICATION_APIKEY_ENABLED"),
        bool(get(v, "authentication.apikey.enabled"), false),
      );
      if (!apiKeys) out.push("API-key authentication is off (authentication.apikey.enabled is not true)");
      const keys =
        get(v, "envSecrets.AUTHENTICATION_APIKEY_ALLOWED_KEYS") ??
        get(v, "env.AUTHENTICATION_APIKEY_ALLOWED_KEYS") ??
        get(v, "authentication.apikey.allowed_keys");
      if (apiKeys && (keys === undefined || keys === "" || (Array.isArray(keys) && keys.length === 0))) {
        out.push(
          "API-key authentication is on but no keys are configured (envSecrets.AUTHENTICATION_APIKEY_ALLOWED_KEYS)",
        );
      }
      break;
    }
    default:
      break;
  }
  return out;
}

export const databaseAuthentication: ResourceValidationPolicy = {
  name: "database-authentication",
  description:
    "Every database must authenticate its clients: PostgreSQL roles with passwords (no pg_hba `trust`), " +
    "MongoDB `auth.enabled`, Redis `auth.enabled` and `auth.sentinel`, SASL on every Kafka listener " +
    "(SASL_PLAINTEXT or SASL_SSL), Weaviate API keys with anonymous access off. Fix: do not override the " +
    "auth values the components set; for Weaviate set `authentication.anonymous_access.enabled: false`, " +
    "`authentication.apikey.enabled: true` and read the keys from a Secret through `envSecrets`.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    const r = asRelease(args.type, args.props, args.name);
    if (!r) return;
    for (const problem of authenticationProblems(r)) reportViolation(`${r.label}: ${problem}.`);
  },
};
