/**
 * Production (mandatory in prod's policy config): the applications' Weaviate API key is no admin. The
 * program's release lists the initialiser's user alone in `authorization.admin_list.users` and the
 * applications' user in `read_only_users` (`weaviate.appAccess: readOnly`).
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { asRelease } from "../lib/charts";
import { get } from "../lib/values";

export const weaviateAppKeyReadOnly: ResourceValidationPolicy = {
  name: "weaviate-app-key-read-only",
  description:
    "The Weaviate release's admin list names one admin, the initialiser's user: the applications' key (in " +
    "`db-credentials`) must not be able to delete classes or overwrite objects. Fix: keep " +
    "`weaviate.appAccess: readOnly` in the stack config (the default); give an application that must " +
    "write its own stack or key.",
  enforcementLevel: "disabled",
  validateResource: (args, reportViolation) => {
    const r = asRelease(args.type, args.props, args.name);
    if (r?.service !== "weaviate") return;
    const list = get(r.values, "authorization.admin_list");
    if (get(list, "enabled") !== true) {
      reportViolation(`${r.label}: authorization.admin_list is not enabled: every API key is an admin.`);
      return;
    }
    const admins = get(list, "users");
    if (!Array.isArray(admins) || admins.length !== 1) {
      reportViolation(
        `${r.label}: authorization.admin_list.users names ${JSON.stringify(admins)}; only the initialiser's user may be an admin (weaviate.appAccess: readOnly).`,
      );
    }
  },
};
