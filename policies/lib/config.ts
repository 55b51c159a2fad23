/**
 * Policy configuration: each policy declares its keys, with their defaults, in its `configSchema`; the
 * engine checks a `--policy-pack-config` file against that schema and hands the policy its entry through
 * `args.getConfig()`. Defaults are applied here from the same schema, so they hold whether or not the
 * engine fills them in, and a test can pass the very object a config file holds.
 */
import type { PolicyConfigSchema } from "@pulumi/policy";

/** What a validation's `args` offers for config (resource and stack validations alike). */
export interface ConfigSource {
  getConfig<T extends object>(): T;
}

/** The policy's config: the schema's defaults, overridden by what the pack was configured with. */
export function readConfig<T extends object>(args: ConfigSource, schema: PolicyConfigSchema): T {
  const defaults: Record<string, unknown> = {};
  for (const [key, prop] of Object.entries(schema.properties)) {
    if (typeof prop === "object" && prop.default !== undefined) defaults[key] = prop.default;
  }
  return { ...defaults, ...args.getConfig<Partial<T>>() } as T;
}
