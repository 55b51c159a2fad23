/**
 * Drives a dynamic provider the way Pulumi does: serialize it with Pulumi's closure serializer (what
 * `dynamic.Resource` stores as `__provider`), then load that text the way
 * `@pulumi/pulumi/cmd/dynamic-provider` does (`require-from-string(...).handler()`). What the provider
 * returns must also pass the wire the engine reads it through (a protobuf Struct): a key left
 * `undefined` there fails the real engine with "Unexpected struct type", so it fails here too.
 */
import * as pulumi from "@pulumi/pulumi";

const requireFromString: (code: string) => {
  handler: () => pulumi.dynamic.ResourceProvider;
} = require("require-from-string");

/** Throws naming the first value the engine's wire format cannot carry. */
function assertWireSafe(value: unknown, where: string): void {
  if (value === undefined) throw new Error(`${where} is undefined: the engine cannot receive it`);
  if (typeof value === "function" || typeof value === "symbol" || typeof value === "bigint")
    throw new Error(`${where} is a ${typeof value}: the engine cannot receive it`);
  if (Array.isArray(value)) value.forEach((v, i) => assertWireSafe(v, `${where}[${i}]`));
  else if (value !== null && typeof value === "object")
    for (const [k, v] of Object.entries(value)) assertWireSafe(v, `${where}.${k}`);
}

/** The provider with every result checked by {@link assertWireSafe}. */
function wireChecked(p: pulumi.dynamic.ResourceProvider): pulumi.dynamic.ResourceProvider {
  const out: pulumi.dynamic.ResourceProvider = {
    create: async (i) => {
      const r = await p.create(i);
      assertWireSafe(r.outs ?? {}, "create: outs");
      return r;
    },
  };
  if (p.check)
    out.check = async (o, n) => {
      const r = await p.check!(o, n);
      assertWireSafe(r.inputs, "check: inputs");
      return r;
    };
  if (p.diff) out.diff = (id, o, n) => p.diff!(id, o, n);
  if (p.read)
    out.read = async (id, props) => {
      const r = await p.read!(id, props);
      assertWireSafe(r.props ?? {}, "read: props");
      return r;
    };
  if (p.update)
    out.update = async (id, o, n) => {
      const r = await p.update!(id, o, n);
      assertWireSafe(r.outs ?? {}, "update: outs");
      return r;
    };
  if (p.delete) out.delete = (id, props) => p.delete!(id, props);
  return out;
}

/** The provider as the engine's host would run it, from its serialized `__provider` text. */
export async function viaSerialization(
  provider: pulumi.dynamic.ResourceProvider,
): Promise<{ provider: pulumi.dynamic.ResourceProvider; text: string }> {
  const sf = await pulumi.runtime.serializeFunction(() => provider, { allowSecrets: true });
  return { provider: wireChecked(requireFromString(sf.text).handler()), text: sf.text };
}
