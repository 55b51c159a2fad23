/**
 * Generated credentials and the Kubernetes Secrets that hold them. Charts read these Secrets by name
 * (`existingSecret`), so no password ever appears in Helm values, ConfigMaps or container env literals.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

/**
 * A generated password. Letters and digits only: MongoDB's chart joins app passwords with commas, and
 * connection URIs would need escaping for most punctuation; 32 alphanumerics carry about 190 bits.
 */
export function generatedPassword(name: string, opts: pulumi.CustomResourceOptions): pulumi.Output<string> {
  const pw = new random.RandomPassword(
    name,
    { length: 32, special: false, minLower: 2, minUpper: 2, minNumeric: 2 },
    opts,
  );
  return pw.result;
}

/** Arguments of {@link opaqueSecret}. */
export interface OpaqueSecretArgs {
  /** Namespace of the Secret. */
  namespace: pulumi.Input<string>;
  /** Name of the Secret object (the charts refer to it by this name). */
  name: string;
  /** Keys and values; values are wrapped as Pulumi secrets. */
  data: Record<string, pulumi.Input<string>>;
  /** Labels on the Secret. */
  labels?: Record<string, string>;
}

/** An Opaque Secret whose every value is a Pulumi secret in state and outputs. */
export function opaqueSecret(
  resourceName: string,
  args: OpaqueSecretArgs,
  opts: pulumi.CustomResourceOptions,
) {
  const stringData: Record<string, pulumi.Output<string>> = {};
  for (const [k, v] of Object.entries(args.data)) stringData[k] = pulumi.secret(pulumi.output(v));
  return new k8s.core.v1.Secret(
    resourceName,
    {
      metadata: { name: args.name, namespace: args.namespace, labels: args.labels },
      type: "Opaque",
      stringData,
    },
    opts,
  );
}
