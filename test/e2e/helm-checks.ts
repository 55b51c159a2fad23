/**
 * What the helm e2e reads back: the releases Helm records in a namespace, object names, and the
 * connections the engine's Node processes made (dial-log.cjs), judged against the forwards.
 */
import * as fs from "node:fs";
import { isClusterIp } from "../support/kube-fixture";
import type { DataServices } from "../support/servers";
import type { ClusterServers } from "../../scripts/local/stand-in-forwards";
import type { Kube, KubeObject } from "./kube";

/** The sorted names of `objects`. */
export function names(objects: KubeObject[]): string[] {
  return objects.map((o) => o.metadata.name as string).sort();
}

/** Releases Helm records in the namespace (its release Secrets, `owner=helm`). */
export function helmReleases(kube: Kube, namespace: string): string[] {
  const out = kube.run(["get", "secrets", "-n", namespace, "-l", "owner=helm", "-o", "json"]).out;
  return [
    ...new Set((JSON.parse(out).items as KubeObject[]).map((s) => s.metadata.labels.name as string)),
  ].sort();
}

/** The connections dial-log.cjs recorded in `file` (one `host port` a line). */
export function dialled(file: string): { host: string; port: number }[] {
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => ({ host: l.split(" ")[0], port: Number(l.split(" ")[1]) }));
}

/**
 * The connections that did not go to a forward's loopback end or the API server: to a pod or Service
 * IP, an in-cluster name, another address, or a server's own port.
 */
export function offForwards(
  dials: { host: string; port: number }[],
  svc: DataServices,
  cluster: ClusterServers,
): { host: string; port: number }[] {
  const serverPorts = new Set([
    svc.postgres.port,
    svc.mongodb.port,
    svc.weaviate.port,
    svc.weaviate.grpcPort,
    ...svc.kafka.brokers.map((b) => Number(b.split(":")[1])),
    ...svc.redis.nodes.map((n) => n.port),
    ...svc.redis.sentinels.map((n) => n.port),
    ...cluster.kafka.brokers.flatMap((b) => [b.target.port, b.internal.port]),
  ]);
  return dials.filter(
    (d) =>
      isClusterIp(d.host) ||
      /\.svc(\.|$)/.test(d.host) ||
      !["127.0.0.1", "localhost", "::1"].includes(d.host) ||
      serverPorts.has(d.port),
  );
}
