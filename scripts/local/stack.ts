/**
 * Pulumi.local.yaml as the program itself reads it: the project's config keys through `parseConfig` (the
 * same schema, defaults and checks as `pulumi up`), so the scripts around the local stack name the same
 * namespace, Secrets, databases and topics the stack does.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { parseConfig, PROJECT } from "../../config";
import type { PlatformConfig } from "../../config/schema";
import type { ClusterServers } from "./stand-in-forwards";

const ROOT = path.resolve(__dirname, "..", "..");

/** The local stack's configuration, validated and with defaults filled in. */
export function localStack(file = path.join(ROOT, "Pulumi.local.yaml")): PlatformConfig {
  const doc = parse(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> };
  const prefix = `${PROJECT}:`;
  const raw = Object.fromEntries(
    Object.entries(doc.config ?? {})
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, v]) => [k.slice(prefix.length), v]),
  );
  return parseConfig(raw);
}

/** The run folder of scripts/services.sh (services.json, and cluster/cluster.json). */
const RUN = process.env.AIPD_RUN ?? "/tmp/ai-platform-data/services";

/** services.json of scripts/services.sh: the loopback servers' endpoints and admin credentials. */
export function loopbackServers<T>(): T {
  return JSON.parse(fs.readFileSync(path.join(RUN, "services.json"), "utf8")) as T;
}

/** cluster.json of scripts/cluster-servers.sh. */
export function clusterServers(): ClusterServers {
  const dir = process.env.AIPD_CLUSTER_RUN ?? path.join(RUN, "cluster");
  return JSON.parse(fs.readFileSync(path.join(dir, "cluster.json"), "utf8")) as ClusterServers;
}
