/** Mandatory: every data volume persistent and at least the configured size. */
import type { PolicyConfigSchema, ResourceValidationPolicy } from "@pulumi/policy";
import { asRelease, CONFIG_KEY, dataVolumes, HelmRelease } from "../lib/charts";
import { readConfig } from "../lib/config";
import { parseQuantity } from "../lib/quantities";

export interface PersistenceConfig {
  /** Smallest data volume allowed, a Kubernetes quantity. */
  minStorageSize: string;
  /** Per-service minimums that replace `minStorageSize` (`{"kafka": "20Gi"}`). */
  minStorageSizeByService: Record<string, string>;
}

const QUANTITY_PATTERN = "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$";

const persistenceConfigSchema: PolicyConfigSchema = {
  properties: {
    minStorageSize: {
      type: "string",
      pattern: QUANTITY_PATTERN,
      default: "1Gi",
      description: "Smallest data volume allowed (Kubernetes quantity, e.g. 8Gi).",
    },
    minStorageSizeByService: {
      type: "object",
      properties: Object.fromEntries(
        [...new Set([...Object.keys(CONFIG_KEY), ...Object.values(CONFIG_KEY)])].map((s) => [
          s,
          { type: "string", pattern: QUANTITY_PATTERN },
        ]),
      ),
      additionalProperties: false,
      default: {},
      description:
        "Per-service minimums overriding minStorageSize; keys postgresql (or postgres), mongodb, redis, kafka, weaviate.",
    },
  },
};

/** Problems with the release's data volumes under `config`. */
function persistenceProblems(r: HelmRelease, config: PersistenceConfig): string[] {
  if (!r.service) return [];
  const byService = config.minStorageSizeByService ?? {};
  const min = byService[r.service] ?? byService[CONFIG_KEY[r.service]] ?? config.minStorageSize;
  const minBytes = parseQuantity(min) ?? 0;
  const out: string[] = [];
  for (const vol of dataVolumes(r)) {
    if (!vol.enabled) {
      out.push(`${vol.path}.enabled is false: the data lives on an emptyDir and is lost with the pod`);
      continue;
    }
    const bytes = parseQuantity(vol.size);
    const shown = vol.defaultSize ? `unset (chart default ${String(vol.size)})` : String(vol.size);
    const fix = `stack config ${CONFIG_KEY[r.service]}.storageSize`;
    if (bytes === undefined) out.push(`${vol.path}.size is ${shown}, not a Kubernetes quantity (${fix})`);
    else if (bytes < minBytes) out.push(`${vol.path}.size is ${shown}, below the minimum ${min} (${fix})`);
  }
  return out;
}

export const persistentStorage: ResourceValidationPolicy = {
  name: "persistent-storage",
  description:
    "Every database keeps its data on a PersistentVolumeClaim of at least the size set in policy config " +
    "(`minStorageSize`, per service `minStorageSizeByService`). Fix: raise `<service>.storageSize` in the " +
    "stack config (`pulumi config set --path postgres.storageSize 20Gi`) and never set " +
    "`persistence.enabled: false` in chart values.",
  enforcementLevel: "mandatory",
  configSchema: persistenceConfigSchema,
  validateResource: (args, reportViolation) => {
    const r = asRelease(args.type, args.props, args.name);
    if (!r?.service) return;
    const config = readConfig<PersistenceConfig>(args, persistenceConfigSchema);
    for (const p of persistenceProblems(r, config)) {
      reportViolation(`${r.label}: values.${p}.`);
    }
  },
};
