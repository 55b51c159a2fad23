/**
 * What a real kubelet would refuse and kwok does not check: a pod that names a Secret, a Secret key, a
 * ConfigMap (or one of its keys), a PersistentVolumeClaim or a ServiceAccount that does not exist. Read
 * back from the API server after `up`, for every pod the releases and the program created.
 */
import type { Kube, KubeObject } from "./kube";

/** Each missing reference as `<pod>: <what> <name>[ key <key>]`; empty when every one exists. */
export function missingPodReferences(kube: Kube, namespace: string): string[] {
  const byName = (kind: string) =>
    new Map<string, KubeObject>(kube.list(kind, namespace).map((o: KubeObject) => [o.metadata.name, o]));
  const secrets = byName("secrets");
  const configMaps = byName("configmaps");
  const claims = byName("persistentvolumeclaims");
  const accounts = byName("serviceaccounts");
  const out: string[] = [];
  for (const pod of kube.list("pods", namespace)) {
    const at = (what: string) => out.push(`${pod.metadata.name}: ${what}`);
    const secretKey = (name: string, key: string | undefined, optional?: boolean) => {
      if (optional) return;
      const s = secrets.get(name);
      if (!s) at(`Secret ${name}`);
      else if (key !== undefined && !(key in (s.data ?? {}))) at(`Secret ${name} key ${key}`);
    };
    const configKey = (name: string, key: string | undefined, optional?: boolean) => {
      if (optional) return;
      const c = configMaps.get(name);
      if (!c) at(`ConfigMap ${name}`);
      else if (key !== undefined && !(key in { ...(c.data ?? {}), ...(c.binaryData ?? {}) }))
        at(`ConfigMap ${name} key ${key}`);
    };
    const spec = pod.spec ?? {};
    const account = spec.serviceAccountName ?? "default";
    if (!accounts.has(account)) at(`ServiceAccount ${account}`);
    for (const v of spec.volumes ?? []) {
      if (v.secret) {
        secretKey(v.secret.secretName, undefined, v.secret.optional);
        for (const i of v.secret.items ?? []) secretKey(v.secret.secretName, i.key, v.secret.optional);
      }
      if (v.configMap) {
        configKey(v.configMap.name, undefined, v.configMap.optional);
        for (const i of v.configMap.items ?? []) configKey(v.configMap.name, i.key, v.configMap.optional);
      }
      if (v.persistentVolumeClaim && !claims.has(v.persistentVolumeClaim.claimName))
        at(`PersistentVolumeClaim ${v.persistentVolumeClaim.claimName}`);
      for (const s of v.projected?.sources ?? []) {
        if (s.secret)
          for (const i of s.secret.items ?? [{}]) secretKey(s.secret.name, i.key, s.secret.optional);
        if (s.configMap)
          for (const i of s.configMap.items ?? [{}]) configKey(s.configMap.name, i.key, s.configMap.optional);
      }
    }
    for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
      for (const e of c.env ?? []) {
        const sk = e.valueFrom?.secretKeyRef;
        if (sk) secretKey(sk.name, sk.key, sk.optional);
        const ck = e.valueFrom?.configMapKeyRef;
        if (ck) configKey(ck.name, ck.key, ck.optional);
      }
      for (const f of c.envFrom ?? []) {
        if (f.secretRef) secretKey(f.secretRef.name, undefined, f.secretRef.optional);
        if (f.configMapRef) configKey(f.configMapRef.name, undefined, f.configMapRef.optional);
      }
    }
  }
  return [...new Set(out)].sort();
}
