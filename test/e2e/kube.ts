/**
 * The Kubernetes API of scripts/kube.sh, read back by the helm-mode e2e through its own kubectl: what
 * the engine really created, independently of Pulumi's view of it.
 */
import { spawnSync } from "child_process";
import * as path from "path";
import { ROOT } from "./harness";

/** services.json's `kube` entry. */
export interface KubeInfo {
  server: string;
  kubeconfig: string;
  context: string;
  node: string;
  storageClass: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kubernetes objects read back as JSON
export type KubeObject = any;

/** kubectl against the harness's API server, as its admin. */
export class Kube {
  readonly kubectl: string;

  constructor(readonly info: KubeInfo) {
    const r = spawnSync("bash", [path.join(ROOT, "scripts", "kube.sh"), "bin"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`scripts/kube.sh bin failed: ${r.stderr}`);
    this.kubectl = path.join(r.stdout.trim(), "kubectl");
  }

  /** Runs kubectl; throws with its output unless it exits 0 (or `allowFail`). */
  run(
    args: string[],
    opts: { input?: string; allowFail?: boolean } = {},
  ): { code: number | null; out: string } {
    const r = spawnSync(this.kubectl, ["--kubeconfig", this.info.kubeconfig, ...args], {
      encoding: "utf8",
      input: opts.input,
      maxBuffer: 64 * 1024 * 1024,
      timeout: 120_000,
    });
    const out = `${r.stdout ?? ""}${r.stderr ?? ""}`;
    if (r.status !== 0 && !opts.allowFail)
      throw new Error(`kubectl ${args.join(" ")} exited ${r.status}: ${out}`);
    return { code: r.status, out: r.stdout ?? "" };
  }

  /** `kubectl apply -f -` of objects given as JSON. */
  apply(...objects: KubeObject[]): void {
    this.run(["apply", "-f", "-"], { input: objects.map((o) => JSON.stringify(o)).join("\n---\n") });
  }

  /** Every object of a kind in a namespace (or cluster-wide when `namespace` is undefined). */
  list(kind: string, namespace?: string): KubeObject[] {
    const ns = namespace ? ["-n", namespace] : [];
    return JSON.parse(this.run(["get", kind, ...ns, "-o", "json"]).out).items;
  }

  /** One object, or undefined when it does not exist. */
  get(kind: string, name: string, namespace?: string): KubeObject | undefined {
    const ns = namespace ? ["-n", namespace] : [];
    const r = this.run(["get", kind, name, ...ns, "-o", "json"], { allowFail: true });
    return r.code === 0 ? JSON.parse(r.out) : undefined;
  }

  /** Waits (up to `timeoutMs`) until `check` returns a value, polling; throws with the last state. */
  async until<T>(what: string, check: () => T | undefined, timeoutMs = 180_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    for (;;) {
      try {
        const v = check();
        if (v !== undefined && v !== false) return v;
      } catch (e) {
        last = e;
      }
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/**
 * The Prometheus Operator kinds the program creates in the prod shape (ServiceMonitor through the charts'
 * values; PodMonitor for Weaviate and PrometheusRule itself), as small CRDs of our own: the group, versions and kinds the
 * operator serves, with an open schema. Enough for the API server to store the objects; no operator runs.
 */
export function prometheusOperatorCrds(): KubeObject[] {
  const crd = (kind: string, plural: string) => ({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.monitoring.coreos.com` },
    spec: {
      group: "monitoring.coreos.com",
      scope: "Namespaced",
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [
        {
          name: "v1",
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: {
              type: "object",
              properties: { spec: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
            },
          },
        },
      ],
    },
  });
  return [
    crd("ServiceMonitor", "servicemonitors"),
    crd("PodMonitor", "podmonitors"),
    crd("PrometheusRule", "prometheusrules"),
  ];
}
