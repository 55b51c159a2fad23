#!/usr/bin/env bash
# scripts/kube/pv-binder.sh: the volume provisioner of scripts/kube.sh's cluster (started, stopped and
# given its settings by kube.sh; runs until SIGTERM).
#
#   pv-binder.sh KUBECTL KUBECONFIG NODE PROVISIONER VOLUME_DIR
#
# Nothing else provisions volumes there, and a pod whose claim is unbound is never scheduled. Every 2 s
# each Pending PVC without a volume gets a hostPath PV pre-bound to it (claimRef with the claim's uid,
# same class, size, access and volume modes, node affinity to NODE); the PV controller binds the two
# and the scheduler then places the pod waiting for the claim (WaitForFirstConsumer). PVs made here
# that were released (claim deleted) are deleted, as a provisioner's Delete reclaim policy would. The
# hostPath directories are never created: kwok fakes the pods, nothing mounts them.
# No errexit: a failed kubectl call is logged and retried on the next round, never fatal.
set -uo pipefail

kubectl=$1 kubeconfig=$2 node=$3 provisioner=$4 voldir=$5
kc=("$kubectl" --kubeconfig "$kubeconfig" --request-timeout=15s)
label=ai-platform-data/pv-binder
err=$(mktemp)
trap 'rm -f "$err"' EXIT
trap 'exit 0' TERM INT

now() { date -u +%FT%TZ; }

# '|' separates the fields: a whitespace IFS would merge the empty ones (no class, no volume yet).
pending='{range .items[?(@.status.phase=="Pending")]}{.metadata.namespace}|{.metadata.name}|{.metadata.uid}|{.spec.storageClassName}|{.spec.resources.requests.storage}|{.spec.volumeName}|{.spec.volumeMode}|{.spec.accessModes[*]}{"\n"}{end}'
released='{range .items[?(@.status.phase=="Released")]}{.metadata.name}{"\n"}{end}'

bind_pending() {
  local ns name uid sc size vname vmode modes pv am m
  while IFS='|' read -r ns name uid sc size vname vmode modes; do
    [[ -n $uid && -z $vname && -n $size ]] || continue
    pv="pvc-$uid" am=""
    for m in $modes; do am+="${am:+, }$m"; done
    if "${kc[@]}" create -f - >/dev/null 2>"$err" <<EOF; then
apiVersion: v1
kind: PersistentVolume
metadata:
  name: $pv
  labels: {$label: "true"}
  annotations: {pv.kubernetes.io/provisioned-by: $provisioner}
spec:
  capacity: {storage: "$size"}
  accessModes: [${am:-ReadWriteOnce}]
  volumeMode: ${vmode:-Filesystem}
  persistentVolumeReclaimPolicy: Retain
  storageClassName: "$sc"
  claimRef: {apiVersion: v1, kind: PersistentVolumeClaim, namespace: $ns, name: $name, uid: $uid}
  hostPath: {path: "$voldir/$pv"}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: kubernetes.io/hostname, operator: In, values: [$node]}
EOF
      echo "pv-binder: $(now) created $pv for $ns/$name ($size, class '$sc')"
    elif ! grep -q AlreadyExists "$err"; then
      echo "pv-binder: $(now) creating $pv for $ns/$name failed: $(cat "$err")"
    fi
  done < <("${kc[@]}" get pvc -A -o jsonpath="$pending" 2>"$err" || echo "pv-binder: $(now) listing PVCs failed: $(cat "$err")" >&2)
}

delete_released() {
  local pv
  for pv in $("${kc[@]}" get pv -l "$label=true" -o jsonpath="$released" 2>/dev/null || true); do
    if "${kc[@]}" delete pv "$pv" --wait=false >/dev/null 2>&1; then echo "pv-binder: $(now) deleted released $pv"; fi
  done
}

echo "pv-binder: $(now) started (pid $$), node $node, provisioner $provisioner"
while :; do
  bind_pending
  delete_released
  sleep 2 &
  wait $! || true
done
