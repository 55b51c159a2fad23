/**
 * Drives a dynamic provider the way Pulumi does: serialize it with Pulumi's closure serializer (what
 * `dynamic.Resource` stores as `__provider`), then load that text the way
 * `@pulumi/pulumi/cmd/dynamic-provider` does (`require-from-string(...).handler()`).
 */
import * as pulumi from "@pulumi/pulumi";

const requireFromString: (code: string) => {
  handler: () => pulumi.dynamic.ResourceProvider;
} = require("require-from-string");

/** The provider as the engine's host would run it, from its serialized `__provider` text. */
export async function viaSerialization(
  provider: pulumi.dynamic.ResourceProvider,
): Promise<{ provider: pulumi.dynamic.ResourceProvider; text: string }> {
  const sf = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
  return { provider: requireFromString(sf.text).handler(), text: sf.text };
}
