/** Mandatory: no database reachable from outside the cluster through a LoadBalancer or NodePort Service. */
import type { PolicyConfigSchema, ResourceValidationPolicy } from "@pulumi/policy";
import { asRelease, DEFAULT_SERVICE_TYPES, HelmRelease } from "../lib/charts";
import { readConfig } from "../lib/config";
import { formatPath, get, JsonObject, leaves, str } from "../lib/values";

const EXPOSED_TYPES = ["LoadBalancer", "NodePort"] as const;

export interface ExposureConfig {
  /** Service types allowed anyway. */
  allowedTypes: string[];
  /** Release or Service names allowed to use them. */
  allowedNames: string[];
}

const exposureConfigSchema: PolicyConfigSchema = {
  properties: {
    allowedTypes: {
      type: "array",
      items: { type: "string", enum: [...EXPOSED_TYPES] },
      uniqueItems: true,
      default: [],
      description: "Service types allowed for every database (LoadBalancer, NodePort); empty: none.",
    },
    allowedNames: {
      type: "array",
      items: { type: "string" },
      default: [],
      description: "Helm release or Service names that may use LoadBalancer or NodePort.",
    },
  },
};

/** A Service type set in the values, or applied by the chart when the key is unset. */
interface ServiceTypeSetting {
  path: string;
  type: string;
  defaulted: boolean;
}

/** Every LoadBalancer / NodePort Service the release's values ask for, chart defaults included. */
function exposedServices(r: HelmRelease): ServiceTypeSetting[] {
  const v: JsonObject = r.values;
  const out: ServiceTypeSetting[] = [];
  for (const { path, value } of leaves(v)) {
    if (path[path.length - 1] !== "type" || typeof value !== "string") continue;
    const type = EXPOSED_TYPES.find((t) => t.toLowerCase() === value.toLowerCase());
    if (type && path.slice(0, -1).some((k) => /service|externalaccess/i.test(k))) {
      out.push({ path: formatPath(path), type, defaulted: false });
    }
  }
  for (const d of (r.service && DEFAULT_SERVICE_TYPES[r.service]) || []) {
    if (get(v, d.path) === undefined && d.rendered(v))
      out.push({ path: d.path, type: d.type, defaulted: true });
  }
  return out;
}

function allowed(config: ExposureConfig, type: string, names: string[]): boolean {
  return config.allowedTypes.includes(type) || names.some((n) => config.allowedNames.includes(n));
}

export const noExternalServices: ResourceValidationPolicy = {
  name: "no-external-services",
  description:
    "No database gets a LoadBalancer or NodePort Service (nor chart `externalAccess`): the databases are " +
    "for pods in the cluster, behind their NetworkPolicy. Fix: set the Service type to ClusterIP (the " +
    "Weaviate chart defaults to LoadBalancer: set `service.type: ClusterIP`) and reach a database from " +
    "outside with `kubectl port-forward`; if exposure is really wanted, allow it in policy config " +
    "(`allowedTypes`, `allowedNames`).",
  enforcementLevel: "mandatory",
  configSchema: exposureConfigSchema,
  validateResource: (args, reportViolation) => {
    const config = readConfig<ExposureConfig>(args, exposureConfigSchema);
    const r = asRelease(args.type, args.props, args.name);
    if (r) {
      for (const s of exposedServices(r)) {
        if (allowed(config, s.type, [r.releaseName])) continue;
        const how = s.defaulted
          ? `leaves ${s.path} unset, and the chart then uses ${s.type}`
          : `sets ${s.path} to ${s.type}`;
        reportViolation(`${r.label} ${how}.`);
      }
      return;
    }
    if (args.type === "kubernetes:core/v1:Service") {
      const type = str(get(args.props, "spec.type"));
      const name = str(get(args.props, "metadata.name")) ?? args.name;
      const exposed = EXPOSED_TYPES.find((t) => t.toLowerCase() === type?.toLowerCase());
      if (exposed && !allowed(config, exposed, [name])) {
        reportViolation(`Service "${name}" has spec.type ${exposed}.`);
      }
    }
  },
};
