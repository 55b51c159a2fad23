/**
 * Mandatory: no credential written out literally where Kubernetes or Helm keep it in clear: Helm values
 * (stored in the release's history and shown by `helm get values`), ConfigMaps, container env. Secrets are
 * where credentials belong, so Secret objects are not checked.
 */
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { asRelease } from "../lib/charts";
import {
  credentialInText,
  isCredentialEnvName,
  isCredentialName,
  isLiteral,
  isReferenceSubtree,
} from "../lib/credentials";
import { formatPath, get, isObject, JsonObject, leaves, objects } from "../lib/values";
import { containersIn } from "../lib/workloads";

/** The key that names a leaf: the last non-index key of its path. */
function namingKey(path: string[]): string | undefined {
  for (let i = path.length - 1; i >= 0; i--) if (!/^\d+$/.test(path[i])) return path[i];
  return undefined;
}

/** Literal credentials in a Helm values tree, as `path: why` lines. */
function credentialsInValues(values: JsonObject): string[] {
  const out: string[] = [];
  const skip = (path: string[]) => path.length > 0 && isReferenceSubtree(path[path.length - 1]);
  for (const { path, value } of leaves(values, skip)) {
    if (typeof value !== "string") continue;
    const key = namingKey(path);
    const parent = path.length > 1 ? path[path.length - 2] : undefined;
    if (key && isCredentialName(key) && isLiteral(value)) {
      out.push(`${formatPath(path)} holds a literal credential`);
    } else if (parent?.toLowerCase() === "secrets" && isLiteral(value)) {
      // Charts render `secrets:` maps (weaviate `backups.s3.secrets`) into a Secret from plain values.
      out.push(`${formatPath(path)} is a plain-text value the chart turns into a Secret`);
    } else {
      const why = credentialInText(value);
      if (why) out.push(`${formatPath(path)} contains ${why}`);
    }
  }
  // `extraEnvVars: [{name: DB_PASSWORD, value: ...}]` and the like.
  for (const { path, value } of objects(values)) {
    if (typeof value.name === "string" && isCredentialEnvName(value.name) && isLiteral(value.value)) {
      out.push(`${formatPath([...path, "value"])} sets ${value.name} to a literal`);
    }
  }
  return [...new Set(out)];
}

/** Literal credentials in the `env` of every container of a workload (Pod, Deployment, CronJob, ...). */
function credentialsInContainerEnv(props: JsonObject): string[] {
  const out: string[] = [];
  for (const c of containersIn(props)) {
    const env = get(c.container, "env");
    if (!Array.isArray(env)) continue;
    env.forEach((e: unknown, ei) => {
      if (!isObject(e) || typeof e.name !== "string") return;
      const where = `${c.path}.env[${ei}] (${e.name})`;
      if (isCredentialEnvName(e.name) && isLiteral(e.value)) {
        out.push(`${where} has a literal value; use valueFrom.secretKeyRef`);
      } else if (typeof e.value === "string") {
        const why = credentialInText(e.value);
        if (why) out.push(`${where} contains ${why}`);
      }
    });
  }
  return out;
}

/** Literal credentials in a ConfigMap's `data`. */
function credentialsInConfigMap(props: JsonObject): string[] {
  const data = props.data;
  if (!isObject(data)) return [];
  const out: string[] = [];
  for (const { path, value } of leaves(data)) {
    if (typeof value !== "string") continue;
    const key = path[0];
    if (isCredentialName(key) && isLiteral(value)) out.push(`data.${key} holds a literal credential`);
    else {
      const why = credentialInText(value);
      if (why) out.push(`data.${key} contains ${why}`);
    }
  }
  return out;
}

export const noLiteralCredentials: ResourceValidationPolicy = {
  name: "no-literal-credentials",
  description:
    "No password, API key or token may be written literally into Helm values, ConfigMaps or container env: " +
    "the values are kept in clear in the Helm release history, ConfigMaps are readable by anyone who can " +
    "read the namespace. Fix: put the credential in a Kubernetes Secret (the components generate them with " +
    "`random.RandomPassword`) and refer to it: `auth.existingSecret` for the Bitnami charts, `envSecrets` " +
    "for Weaviate, `valueFrom.secretKeyRef` for container env; for an external server use " +
    "`pulumi config set --secret`.",
  enforcementLevel: "mandatory",
  validateResource: (args, reportViolation) => {
    const release = asRelease(args.type, args.props, args.name);
    let problems: string[] = [];
    if (release) {
      problems = credentialsInValues(release.values).map((p) => `${release.label}: values.${p}`);
    } else if (args.type === "kubernetes:core/v1:ConfigMap") {
      problems = credentialsInConfigMap(args.props);
    } else if (args.type.startsWith("kubernetes:") && args.type !== "kubernetes:core/v1:Secret") {
      problems = credentialsInContainerEnv(args.props);
    }
    for (const p of problems) reportViolation(`${p}.`);
  },
};
