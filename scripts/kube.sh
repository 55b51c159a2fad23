#!/usr/bin/env bash
# scripts/kube.sh: a Kubernetes control plane on 127.0.0.1 for the helm-mode end-to-end tests.
#
# Usage:  bash scripts/kube.sh install|start|stop|status|bin|json
#   install  build whatever is missing (cached by version); starts nothing.
#   start    install (if needed), start every part that is not running, wait until the API server
#            is healthy, the fake node is Ready and the default StorageClass exists. Idempotent: with
#            everything running it only re-checks (about 1 s).
#   stop     stop every part through its pid file (SIGTERM, then SIGKILL).
#   status   one line; exit code 0 only if every part is running.
#   bin      the folder holding kubectl (and the control plane's binaries).
#   json     server, kubeconfig path, context, node and StorageClass names as one JSON object (no
#            secrets: services.json's `kube` entry).
# `scripts/services.sh start|stop|status` call this script too (after the database servers).
#
# Parts, all built from the Go module proxy (scripts/kube/build.sh; wrapper modules with committed
# go.sum in scripts/kube/<part>):
#   etcd                      go.etcd.io/etcd/server/v3 v3.6.16 (a main calling etcdmain.Main)
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
#                             k8s.io/kubernetes v1.34.4 (staging modules replaced by their published
#                             v0.34.4 modules; version ldflags set: without them the server says
#                             v0.0.0 and Helm's kubeVersion checks fail)
#   kwok                      sigs.k8s.io/kwok v0.8.0: fakes one node (kwok-node-0, picked by annotation
#                             kwok.x-k8s.io/node=fake) and the pods on it (Ready, Completed, deleted)
#                             with the module's stage files; nothing runs in a pod.
#   pv-binder                 scripts/kube/pv-binder.sh, a loop: each Pending PVC gets a hostPath PV
#                             bound to it through claimRef (nothing else provisions volumes); Released
#                             PVs it made are deleted. Default StorageClass `standard`,
#                             WaitForFirstConsumer.
#
# Endpoints (127.0.0.1 only; every port below 32768, outside Linux's ephemeral range):
#   26443  kube-apiserver (HTTPS)        22379/22380  etcd client/peer (plain HTTP, loopback)
#   20257  kube-controller-manager       20259        kube-scheduler (health/metrics, HTTPS)
#   20250  kwok: the fake node's kubelet API (port-forward, logs, exec), HTTPS
# Pod IPs come from kwok's --cidr 192.0.2.0/24 and Service IPs from 198.51.100.0/24 (both RFC 5737
# documentation ranges): they are labels only, never routed, and nothing here may connect to them.
# The node's InternalIP is 127.0.0.1, so the API server reaches kwok's kubelet API on loopback.
#
# Port-forward: kwok runs with --enable-crds=PortForward,ClusterPortForward and the two CRDs are
# installed, so a test creates its own forwards, e.g. pod db-0's port 5432 to a loopback server:
#   apiVersion: kwok.x-k8s.io/v1alpha1
#   kind: PortForward            # name and namespace = the pod's
#   metadata: {name: db-0, namespace: ns}
#   spec: {forwards: [{ports: [5432], target: {address: 127.0.0.1, port: 25432}}]}
# then `kubectl port-forward pod/db-0 15432:5432` (or the API) reaches 127.0.0.1:25432. A port with
# no forward fails with "no forward found for port".
#
# Run folder ${AIPD_RUN:-/tmp/ai-platform-data/services}/kube (0700): pki/ (scripts/kube/pki.sh: CA,
# serving certificates, service-account key pair, static tokens, made at the first start, mode 0600),
# admin.kubeconfig (0600; cluster-admin through the system:masters group), etcd/ (data, kept across
# restarts), logs/, pids/. Delete it (after `stop`) to start from an empty cluster with new credentials.
#   KUBECONFIG=$AIPD_RUN/kube/admin.kubeconfig "$(bash scripts/kube.sh bin)/kubectl" get nodes
#
# Cache ${AIPD_CACHE:-$HOME/.cache/ai-platform-data}: kube/etcd-<v>, kube/kubernetes-<v>, kube/kwok-<v>
# (bin/ + build.key = hash of version, RECIPE and the wrapper module; each part resumes on its own),
# go/ (module and build caches, shared with services.sh). Cold build on 2 cores, empty caches: about
# 10 min when the machine is otherwise idle (etcd 1.5, kube-apiserver 6, the rest 2-3); measured here
# while other builds ran (load ~20): etcd 8, Kubernetes 36, kwok 17 min. With a warm Go build cache
# (key change only) about 3.5 min, nearly all of it linking. Run folder made afresh: start takes ~25 s;
# stopped: ~10 s; running: ~1 s.
set -euo pipefail
umask 022

# ---------------------------------------------------------------- settings
K8S_VERSION=1.34.4
ETCD_VERSION=3.6.16
KWOK_VERSION=0.8.0
# Bump when the build commands (scripts/kube/build.sh) change, so cached binaries are rebuilt.
RECIPE=1

HOST=127.0.0.1
APISERVER_PORT=26443
ETCD_PORT=22379
ETCD_PEER_PORT=22380
CM_PORT=20257
SCHED_PORT=20259
KWOK_PORT=20250
POD_CIDR=192.0.2.0/24
SERVICE_CIDR=198.51.100.0/24
SERVICE_IP=198.51.100.1 # first address of SERVICE_CIDR: the `kubernetes` Service
NODE_NAME="kwok-node-0"
STORAGE_CLASS=standard
PROVISIONER=ai-platform-data.local/pv-binder
# The node's capacity: generous, so that every chart's requests fit (ephemeral-storage included).
NODE_CAPACITY='{"cpu":"64","memory":"256Gi","ephemeral-storage":"1Ti","pods":"500"}'

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE="${AIPD_CACHE:-$HOME/.cache/ai-platform-data}"
RUN_ROOT="${AIPD_RUN:-/tmp/ai-platform-data/services}"
KDIR="$RUN_ROOT/kube"
PKI="$KDIR/pki"
LOGS="$KDIR/logs"
PIDS="$KDIR/pids"
KUBECONFIG_ADMIN="$KDIR/admin.kubeconfig"
ETCD_HOME="$CACHE/kube/etcd-$ETCD_VERSION"
K8S_HOME="$CACHE/kube/kubernetes-$K8S_VERSION"
KWOK_HOME="$CACHE/kube/kwok-$KWOK_VERSION"
LAYOUT="ports api=$APISERVER_PORT etcd=$ETCD_PORT/$ETCD_PEER_PORT cm=$CM_PORT sched=$SCHED_PORT kwok=$KWOK_PORT cidr=$POD_CIDR svc=$SERVICE_CIDR node=$NODE_NAME"

# ---------------------------------------------------------------- helpers
LOG_TAG=kube
# shellcheck source=lib/proc.sh
source "$here/lib/proc.sh"

# The command-line token that proves a part's pid file names our process (see pid_alive).
pid_token() {
  case $1 in
    etcd) echo "$ETCD_HOME/bin/etcd" ;;
    kwok) echo "$KWOK_HOME/bin/kwok" ;;
    pv-binder) echo "kube/pv-binder.sh" ;;
    *) echo "$K8S_HOME/bin/$1" ;;
  esac
}
part_alive() { pid_alive "$1" "$(pid_token "$1")"; }
# part_spawn NAME CMD...: start a part, its output appended to $LOGS/NAME.log.
part_spawn() { local name=$1; shift; spawn "$name" "$LOGS/$name.log" "$@"; }

# fail_with_log NAME MESSAGE: show the tail of a part's log and stop.
fail_with_log() {
  tail -n 25 "$LOGS/$1.log" >&2 2>/dev/null || true
  die "$2 (log: $LOGS/$1.log)"
}

kubectl_admin() { "$K8S_HOME/bin/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" --request-timeout=20s "$@"; }

# shellcheck source=kube/build.sh
source "$here/kube/build.sh"
# shellcheck source=kube/pki.sh
source "$here/kube/pki.sh"

# ---------------------------------------------------------------- parts
etcd_healthy() { [[ $(curl -fsS -m 3 "http://$HOST:$ETCD_PORT/health") == *'"health":"true"'* ]]; }

start_etcd() {
  part_alive etcd && return 0
  port_must_be_free etcd "$ETCD_PORT"
  port_must_be_free "etcd peer" "$ETCD_PEER_PORT"
  mkdir -p "$KDIR/etcd"
  chmod 0700 "$KDIR/etcd"
  part_spawn etcd "$ETCD_HOME/bin/etcd" --name aipd --data-dir "$KDIR/etcd" \
    --listen-client-urls "http://$HOST:$ETCD_PORT" --advertise-client-urls "http://$HOST:$ETCD_PORT" \
    --listen-peer-urls "http://$HOST:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://$HOST:$ETCD_PEER_PORT" \
    --initial-cluster "aipd=http://$HOST:$ETCD_PEER_PORT" \
    --quota-backend-bytes 2147483648 --log-level warn
  STARTED+=(etcd)
}

apiserver_ready() { [[ $(curl -fsS -m 3 --cacert "$PKI/ca.crt" "https://$HOST:$APISERVER_PORT/readyz") == ok ]]; }

start_apiserver() {
  part_alive kube-apiserver && return 0
  port_must_be_free kube-apiserver "$APISERVER_PORT"
  part_spawn kube-apiserver "$K8S_HOME/bin/kube-apiserver" \
    --bind-address "$HOST" --secure-port "$APISERVER_PORT" --advertise-address "$HOST" \
    --endpoint-reconciler-type none \
    --etcd-servers "http://$HOST:$ETCD_PORT" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" --token-auth-file "$PKI/tokens.csv" \
    --authorization-mode RBAC --allow-privileged=true \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --kubelet-preferred-address-types InternalIP \
    --requestheader-client-ca-file "$PKI/front-proxy-ca.crt" \
    --requestheader-allowed-names front-proxy-client \
    --requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
    --requestheader-extra-headers-prefix X-Remote-Extra- \
    --proxy-client-cert-file "$PKI/front-proxy-client.crt" --proxy-client-key-file "$PKI/front-proxy-client.key" \
    --profiling=false
  STARTED+=(kube-apiserver)
}

start_controller_manager() {
  part_alive kube-controller-manager && return 0
  port_must_be_free kube-controller-manager "$CM_PORT"
  # Every default controller, nodelifecycle included: without it a new node keeps its not-ready taint.
  # Each controller acts as its own service account (RBAC's bootstrap policy grants the controllers'
  # roles to those, not to system:kube-controller-manager: without it the taint is never removed).
  part_spawn kube-controller-manager "$K8S_HOME/bin/kube-controller-manager" \
    --kubeconfig "$PKI/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$PKI/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$PKI/controller-manager.kubeconfig" \
    --bind-address "$HOST" --secure-port "$CM_PORT" --cert-dir "$PKI/controller-manager" \
    --leader-elect=false --use-service-account-credentials=true \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --profiling=false
  STARTED+=(kube-controller-manager)
}

start_scheduler() {
  part_alive kube-scheduler && return 0
  port_must_be_free kube-scheduler "$SCHED_PORT"
  # A pod turned down for an unbound claim is retried 15 s later instead of after 5 min.
  part_spawn kube-scheduler "$K8S_HOME/bin/kube-scheduler" \
    --kubeconfig "$PKI/scheduler.kubeconfig" \
    --authentication-kubeconfig "$PKI/scheduler.kubeconfig" \
    --authorization-kubeconfig "$PKI/scheduler.kubeconfig" \
    --bind-address "$HOST" --secure-port "$SCHED_PORT" --cert-dir "$PKI/scheduler" \
    --leader-elect=false --pod-max-in-unschedulable-pods-duration=15s --profiling=false
  STARTED+=(kube-scheduler)
}

start_kwok() {
  part_alive kwok && return 0
  port_must_be_free kwok "$KWOK_PORT"
  local configs="" f
  for f in "$KWOK_HOME"/bin/stages/*.yaml; do configs+="${configs:+,}$f"; done
  # HOME: kwok reads ~/.kwok/kwok.yaml when it exists; keep it to the files given here.
  part_spawn kwok env HOME="$KDIR" "$KWOK_HOME/bin/kwok" \
    --kubeconfig "$PKI/kwok.kubeconfig" --config "$configs" \
    --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --cidr "$POD_CIDR" --node-ip "$HOST" --node-port "$KWOK_PORT" \
    --server-address "$HOST:$KWOK_PORT" \
    --tls-cert-file "$PKI/kwok.crt" --tls-private-key-file "$PKI/kwok.key" \
    --node-lease-duration-seconds 40 \
    --enable-crds PortForward,ClusterPortForward
  STARTED+=(kwok)
}

start_pv_binder() {
  part_alive pv-binder && return 0
  part_spawn pv-binder bash "$here/kube/pv-binder.sh" "$K8S_HOME/bin/kubectl" "$KUBECONFIG_ADMIN" "$NODE_NAME" \
    "$PROVISIONER" "$KDIR/volumes"
  STARTED+=(pv-binder)
}

# The cluster objects this harness relies on: kwok's CRDs, the fake node, the default StorageClass.
# Server-side apply: idempotent, and it leaves fields others own alone.
apply_objects() {
  kubectl_admin apply --server-side --force-conflicts --field-manager aipd-kube-sh \
    -f "$KWOK_HOME/bin/crds/" >/dev/null
  kubectl_admin apply --server-side --force-conflicts --field-manager aipd-kube-sh -f - >/dev/null <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: $STORAGE_CLASS
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: $PROVISIONER
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
---
apiVersion: v1
kind: Node
metadata:
  name: $NODE_NAME
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: $NODE_NAME
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
EOF
  # Capacity and addresses are status: set through the status subresource (kwok keeps what is there).
  local cap='{"status":{"capacity":'$NODE_CAPACITY',"allocatable":'$NODE_CAPACITY
  cap+=',"addresses":[{"type":"InternalIP","address":"'$HOST'"},{"type":"Hostname","address":"'$NODE_NAME'"}]'
  cap+=',"daemonEndpoints":{"kubeletEndpoint":{"Port":'$KWOK_PORT'}}}}'
  kubectl_admin patch node "$NODE_NAME" --subresource status --type merge -p "$cap" >/dev/null
}

# objects_ready: the node is Ready with no taint left and its InternalIP is loopback, and the default
# StorageClass exists (one kubectl call: this is the whole check of a warm start). The node's Ready
# condition only tells the truth with no taint: the node lifecycle controller drops the not-ready taint
# once kwok has taken the node over.
objects_ready() {
  local jp='{range .items[*]}{.kind}:{.status.conditions[?(@.type=="Ready")].status}:{.spec.taints[*].key}'
  jp+=':{.status.addresses[?(@.type=="InternalIP")].address}:{.metadata.annotations.storageclass\.kubernetes\.io/is-default-class}{"\n"}{end}'
  OBJECTS=$(kubectl_admin get "node/$NODE_NAME" "storageclass/$STORAGE_CLASS" -o jsonpath="$jp" 2>&1) || return 1
  [[ $OBJECTS == "Node:True::$HOST:"$'\n'"StorageClass::::true" ]]
}

# ---------------------------------------------------------------- commands
with_lock() {
  mkdir -p "$KDIR"
  exec 8>"$KDIR/.lock"
  wait_lock 8 "$KDIR/.lock" 900 "another kube.sh"
}

PARTS=(pv-binder kwok kube-scheduler kube-controller-manager kube-apiserver etcd) # stop order

stop_all() {
  local p
  for p in "${PARTS[@]}"; do
    case $p in
      etcd | kube-apiserver) stop_pid "$p" "$(pid_token "$p")" TERM 60 ;;
      *) stop_pid "$p" "$(pid_token "$p")" TERM 30 ;;
    esac
  done
}

# A run folder made with other ports or ranges holds them in etcd (node, Services): start afresh.
reset_if_layout_changed() {
  local stamp="$KDIR/layout"
  [[ -f $stamp && $(<"$stamp") == "$LAYOUT" ]] && return 0
  if [[ -d $KDIR/etcd ]] || compgen -G "$PIDS/*.pid" >/dev/null; then
    log "the run folder $KDIR was made with another layout: stopping it and starting afresh"
    mkdir -p "$PIDS"
    stop_all
    rm -rf "$KDIR/etcd" "$PKI" "$KUBECONFIG_ADMIN" "$KDIR/volumes"
  fi
  echo "$LAYOUT" >"$stamp"
}

cmd_start() {
  local t0=$SECONDS
  cmd_install
  with_lock
  mkdir -p "$KDIR" "$LOGS" "$PIDS"
  chmod 0700 "$KDIR"
  reset_if_layout_changed
  ensure_credentials
  STARTED=()
  start_etcd
  wait_until 60 etcd etcd_healthy || fail_with_log etcd "etcd does not answer on http://$HOST:$ETCD_PORT/health"
  start_apiserver
  wait_until 180 kube-apiserver apiserver_ready ||
    fail_with_log kube-apiserver "kube-apiserver is not ready on https://$HOST:$APISERVER_PORT/readyz"
  start_controller_manager
  start_scheduler
  if ((${#STARTED[@]} > 0)) || ! objects_ready; then
    apply_objects
  fi
  start_kwok
  start_pv_binder
  local p
  for p in kube-controller-manager kube-scheduler kwok pv-binder; do
    part_alive "$p" || fail_with_log "$p" "$p exited right after its start"
  done
  if ! wait_until 120 "node and StorageClass" objects_ready; then
    for p in kwok kube-controller-manager; do
      part_alive "$p" || fail_with_log "$p" "$p is not running"
    done
    kubectl_admin get node "$NODE_NAME" -o wide >&2 || true
    die "after 120 s, node $NODE_NAME is not Ready with no taint and InternalIP $HOST, or StorageClass $STORAGE_CLASS is not the default (got: ${OBJECTS//$'\n'/; }; logs: $LOGS/kwok.log, $LOGS/kube-controller-manager.log)"
  fi
  local state="already running"
  ((${#STARTED[@]} > 0)) && state="started ${STARTED[*]}"
  echo "kube: $state, ready on https://$HOST:$APISERVER_PORT (Kubernetes v$K8S_VERSION, node $NODE_NAME Ready, default StorageClass $STORAGE_CLASS; kubeconfig $KUBECONFIG_ADMIN) in $((SECONDS - t0))s"
}

cmd_stop() {
  [[ -d $KDIR ]] || return 0
  with_lock
  mkdir -p "$PIDS"
  stop_all
}

cmd_status() {
  local p up=() down=()
  mkdir -p "$PIDS" 2>/dev/null || true
  for p in etcd kube-apiserver kube-controller-manager kube-scheduler kwok pv-binder; do
    if part_alive "$p"; then up+=("$p"); else down+=("$p"); fi
  done
  if ((${#down[@]} == 0)); then
    printf '%-9s running  %s\n' "kube:" "https://$HOST:$APISERVER_PORT, ${#up[@]}/6 processes, kubeconfig $KUBECONFIG_ADMIN"
    return 0
  fi
  printf '%-9s stopped  %s\n' "kube:" "${#up[@]}/6 processes (down: ${down[*]}), https://$HOST:$APISERVER_PORT"
  return 3
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  bin) echo "$K8S_HOME/bin" ;;
  json) printf '{"server":"https://%s:%s","kubeconfig":"%s","context":"ai-platform-data","node":"%s","storageClass":"%s"}\n' \
    "$HOST" "$APISERVER_PORT" "$KUBECONFIG_ADMIN" "$NODE_NAME" "$STORAGE_CLASS" ;;
  *) echo "usage: $0 install|start|stop|status|bin|json" >&2; exit 2 ;;
esac
