/** Resource options every initialiser sets. */
import type * as pulumi from "@pulumi/pulumi";

/**
 * The caller's options plus `additionalSecretOutputs`: every output that carries a credential or
 * anything derived from one. The engine would mark outputs named like secret inputs secret by itself
 * (a dynamic provider does not accept secrets), but only when the input was a secret in this run;
 * naming them keeps them secret whatever the caller passes, and covers derived outputs too.
 */
export function initialiserOptions(
  opts: pulumi.CustomResourceOptions | undefined,
  secretOutputs: string[],
): pulumi.CustomResourceOptions {
  // `forward` may carry a kubeconfig's content (stack config kubernetes:kubeconfig): always secret.
  const names = [...(opts?.additionalSecretOutputs ?? []), ...secretOutputs, "forward"];
  return { ...opts, additionalSecretOutputs: names.filter((n, i) => names.indexOf(n) === i) };
}
