/**
 * The `db-credentials` Secret (seed §7): every service's connection details in one place, for
 * applications to mount or read as env. Each component contributes its own keys.
 */
import * as pulumi from "@pulumi/pulumi";
import { ClientSecretData, PlatformContext } from "./shared/context";
import { opaqueSecret } from "./shared/credentials";

/** Arguments of {@link DbCredentials}. */
export interface DbCredentialsArgs {
  /** Name of the Secret object. */
  secretName: string;
  /** Namespace and provider. */
  platform: PlatformContext;
  /** Keys from each deployed component; later entries win on a clash (there should be none). */
  entries: ClientSecretData[];
}

export class DbCredentials extends pulumi.ComponentResource {
  /** Name of the Secret. */
  public readonly secretName: string;
  /** Keys the Secret holds (values stay secret). */
  public readonly keys: string[];

  constructor(name: string, args: DbCredentialsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ai-platform:data:DbCredentials", name, {}, opts);
    const data: ClientSecretData = Object.assign({}, ...args.entries);
    opaqueSecret(
      `${name}-secret`,
      {
        namespace: args.platform.namespace,
        name: args.secretName,
        data,
        labels: { "app.kubernetes.io/part-of": "ai-platform-data" },
      },
      { parent: this, provider: args.platform.provider, dependsOn: args.platform.dependsOn },
    );
    this.secretName = args.secretName;
    this.keys = Object.keys(data).sort();
    this.registerOutputs({ secretName: this.secretName, keys: this.keys });
  }
}
