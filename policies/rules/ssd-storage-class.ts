/** Advisory: database volumes on an SSD StorageClass (seed §2.1: SSDs for the databases' I/O). */
import type { PolicyConfigSchema, ResourceValidationPolicy } from "@pulumi/policy";
import { asRelease, dataVolumes, HelmRelease } from "../lib/charts";
import { readConfig } from "../lib/config";
import { str } from "../lib/values";

export interface SsdConfig {
  /** StorageClass names known to be SSD-backed. */
  ssdStorageClasses: string[];
  /** Regular expression (case-insensitive) for SSD-backed class names not listed. */
  ssdNamePattern: string;
}

const ssdConfigSchema: PolicyConfigSchema = {
  properties: {
    ssdStorageClasses: {
      type: "array",
      items: { type: "string" },
      default: [],
      description: "StorageClass names that are SSD-backed in your clusters.",
    },
    ssdNamePattern: {
      type: "string",
      default: "ssd|premium|nvme|gp2|gp3|io1|io2|pd-balanced",
      description: "Case-insensitive regular expression matching SSD-backed StorageClass names.",
    },
  },
};

function ssdProblems(r: HelmRelease, config: SsdConfig): string[] {
  const pattern = new RegExp(config.ssdNamePattern, "i");
  const out: string[] = [];
  for (const vol of dataVolumes(r)) {
    if (!vol.enabled) continue;
    const cls = str(vol.storageClass);
    const key = r.service === "weaviate" ? `${vol.path}.storageClassName` : `${vol.path}.storageClass`;
    if (!cls) {
      const now = vol.storageClass === "" ? 'is ""' : "is unset";
      out.push(`${key} ${now}, so the volume gets the cluster's default class, which may not be SSD`);
    } else if (!config.ssdStorageClasses.includes(cls) && !pattern.test(cls)) {
      out.push(`${key} is "${cls}", not a known SSD class`);
    }
  }
  return out;
}

export const ssdStorageClass: ResourceValidationPolicy = {
  name: "ssd-storage-class",
  description:
    "Database volumes should use an SSD-backed StorageClass: PostgreSQL, MongoDB, Kafka and Weaviate are " +
    "I/O bound. Fix: set `storageClass` in the stack config to an SSD class (`pulumi config set " +
    "storageClass ssd`); if your SSD class has another name, list it in policy config `ssdStorageClasses`.",
  enforcementLevel: "advisory",
  configSchema: ssdConfigSchema,
  validateResource: (args, reportViolation) => {
    const r = asRelease(args.type, args.props, args.name);
    if (!r?.service) return;
    const config = readConfig<SsdConfig>(args, ssdConfigSchema);
    for (const p of ssdProblems(r, config)) reportViolation(`${r.label}: values.${p}.`);
  },
};
