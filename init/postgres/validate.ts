/**
 * Validation of the schema initialiser's scalar inputs, run by `check` before anything reaches a server:
 * identifiers, the administrator and application roles, the service roles and the server settings.
 */
import { postgresSettingValueProblem } from "../../policies/lib/data-rules";
import { isUnknown, UNKNOWN } from "../shared/unknown";
import { Failure, IDENTIFIER, PostgresSchemaInputs, SERVICE_ROLE_GRANTS } from "./spec";

/** Validation of the scalar inputs (unknown preview values are let through). */
export function validateInputs(news: Partial<PostgresSchemaInputs>): Failure[] {
  const failures: Failure[] = [];
  const known = (v: unknown) => v !== UNKNOWN && v !== undefined;
  if (known(news.host) && (typeof news.host !== "string" || news.host === "")) {
    failures.push({ property: "host", reason: "must be a host name or address" });
  }
  if (known(news.port) && !(Number.isInteger(news.port) && news.port! >= 1 && news.port! <= 65535)) {
    failures.push({ property: "port", reason: "must be a port number (1-65535)" });
  }
  for (const key of ["adminUser", "database", "appUser", "maintenanceDatabase"] as const) {
    const v = news[key];
    if (v === undefined) failures.push({ property: key, reason: "is required" });
    else if (known(v) && (typeof v !== "string" || !IDENTIFIER.test(v))) {
      failures.push({ property: key, reason: "must be a lower-case SQL identifier (letters, digits, _)" });
    }
  }
  if (known(news.appUser) && news.appUser === news.adminUser) {
    failures.push({
      property: "appUser",
      reason: `the application role must not be the administrator "${news.adminUser}": set postgres.appUser to another name`,
    });
  }
  if (news.password === undefined || news.password === "") {
    failures.push({ property: "password", reason: "the administrator's password is required" });
  }
  if (news.appPassword === "") failures.push({ property: "appPassword", reason: "must not be empty" });
  if (Array.isArray(news.serviceRoles)) {
    const seen = new Set<string>();
    news.serviceRoles.forEach((r, i) => {
      const at = `serviceRoles[${i}]`;
      if (isUnknown(r?.name)) return;
      if (typeof r?.name !== "string" || !IDENTIFIER.test(r.name)) {
        failures.push({ property: `${at}.name`, reason: "must be a lower-case SQL identifier" });
      } else if ([news.appUser, news.adminUser].includes(r.name) || seen.has(r.name)) {
        failures.push({ property: `${at}.name`, reason: `"${r.name}" must be a role of its own` });
      }
      seen.add(r?.name);
      if (!SERVICE_ROLE_GRANTS.includes(r?.grant)) {
        failures.push({
          property: `${at}.grant`,
          reason: `must be one of ${SERVICE_ROLE_GRANTS.join(", ")}`,
        });
      }
      const pw = news.serviceRolePasswords?.[r?.name];
      if (!isUnknown(news.serviceRolePasswords) && !isUnknown(pw) && (typeof pw !== "string" || pw === "")) {
        failures.push({
          property: `serviceRolePasswords.${r?.name}`,
          reason: "is required for each service role",
        });
      }
    });
  }
  if (known(news.serverSettings)) {
    for (const [name, value] of Object.entries(news.serverSettings ?? {})) {
      if (
        !IDENTIFIER.test(name) ||
        typeof value !== "string" ||
        postgresSettingValueProblem(value) !== undefined
      ) {
        failures.push({
          property: `serverSettings.${name}`,
          reason: `"${String(value)}" is not a setting value this initialiser sets (letters, digits, _ . , : -)`,
        });
      }
    }
  }
  if (known(news.timeoutSeconds) && !(Number(news.timeoutSeconds) > 0)) {
    failures.push({ property: "timeoutSeconds", reason: "must be a positive number of seconds" });
  }
  if (Array.isArray(news.appSchemas)) {
    news.appSchemas.forEach((s, i) => {
      if (typeof s !== "string" || !IDENTIFIER.test(s)) {
        failures.push({ property: `appSchemas[${i}]`, reason: "must be a lower-case SQL identifier" });
      }
    });
  }
  return failures;
}
