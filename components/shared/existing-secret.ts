/**
 * Credentials a user keeps in a Secret of their own (`<service>.credentials.existingSecret`, kept by
 * External Secrets, Vault or by hand): the chart reads it by name (`existingSecret`), and the program
 * reads it once per run for what it needs itself (the initialisers' logins, `db-credentials`), instead
 * of generating passwords and a Secret.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

/** Arguments of {@link existingSecret}. */
export interface ExistingSecretArgs {
  /** Namespace of the Secret (the stack's). */
  namespace: string;
  /** Name of the Secret. */
  name: string;
  /** The config key that names it, for messages (`postgres.credentials.existingSecret`). */
  configKey: string;
  /** Keys the Secret must hold, each with a non-empty value: the ones the chart and the program read. */
  keys: string[];
  /**
   * Checks across the values (a comma-joined list that must match the users in config, ...): why they
   * cannot work, or undefined. Messages name keys, never a value.
   */
  check?: (values: Record<string, string>) => string | undefined;
}

/** The Secret as the program uses it. */
export interface ExistingSecret {
  /** The read resource; whatever needs the Secret depends on it. */
  resource: k8s.core.v1.Secret;
  /** Each key of {@link ExistingSecretArgs.keys}, decoded; every one a Pulumi secret. */
  values: Record<string, pulumi.Output<string>>;
}

/** Why the Secret's decoded data cannot serve, or undefined. Pure, for the tests. */
export function existingSecretProblem(
  args: Pick<ExistingSecretArgs, "namespace" | "name" | "configKey" | "keys" | "check">,
  values: Record<string, string>,
): string | undefined {
  const where = `ai-platform-data:${args.configKey}: Secret "${args.namespace}/${args.name}"`;
  const missing = args.keys.filter((k) => !values[k]);
  if (missing.length > 0) {
    const present = Object.keys(values).sort();
    return (
      `${where} has no value for key${missing.length > 1 ? "s" : ""} ${missing.map((k) => `"${k}"`).join(", ")} ` +
      `(keys it has: ${present.length > 0 ? present.map((k) => `"${k}"`).join(", ") : "none"}); ` +
      `it must hold ${args.keys.map((k) => `"${k}"`).join(", ")} (README, "Credentials you manage")`
    );
  }
  const problem = args.check?.(values);
  return problem === undefined ? undefined : `${where}: ${problem}`;
}

/** A Secret's `data` (base64 values, as the API returns it) decoded. */
export function decodeSecretData(data: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(
    Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
  );
}

/**
 * Reads the user's Secret (`Secret.get`, also during a preview) and checks it holds the keys. The Secret
 * must exist first: reading one that does not fails the preview with `resource '<namespace>/<name>'
 * does not exist` on the resource `<component>-existing-credentials`. A missing or empty key fails with a
 * message naming the config key, the Secret and every key it lacks.
 */
export function existingSecret(
  resourceName: string,
  args: ExistingSecretArgs,
  opts: pulumi.CustomResourceOptions,
): ExistingSecret {
  const resource = k8s.core.v1.Secret.get(resourceName, `${args.namespace}/${args.name}`, {
    ...opts,
    // `data` is secret in state already (the SDK marks it); `metadata` may hold the annotation
    // `kubectl.kubernetes.io/last-applied-configuration` with every value, when the Secret was made with
    // `kubectl apply`.
    additionalSecretOutputs: ["metadata"],
  });
  const decoded = pulumi.secret(resource.data).apply((data) => {
    const values = decodeSecretData(data);
    const problem = existingSecretProblem(args, values);
    // A RunError is printed without a stack trace.
    if (problem) throw new pulumi.RunError(problem);
    return values;
  });
  const values = Object.fromEntries(args.keys.map((k) => [k, pulumi.secret(decoded.apply((v) => v[k]))]));
  return { resource, values };
}
