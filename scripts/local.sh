#!/usr/bin/env bash
# scripts/local.sh: the whole program on this machine, no cluster needed (`npm run local:up|local:down`).
#
# Usage:  bash scripts/local.sh up | down [--purge] | status
#   up       starts the loopback database servers and the Kubernetes API the tests use
#            (scripts/services.sh), builds or restores the Pulumi engine (scripts/engine-build.sh), makes
#            the namespace, the credentials Secrets and the pods' forwards, then `pulumi up` of the stack
#            `local` (Pulumi.local.yaml) with the policy pack; prints the stack outputs and the
#            initialisation log. Run again, it previews, finds no change and applies nothing.
#   down     `pulumi destroy` of the stack (the data is kept, as on every stack: PVCs, the namespace,
#            databases, collections, classes, topics) and stops the servers if `up` started them.
#   down --purge
#            also removes what destroy keeps: the namespace with its volumes, the local stack's state
#            and passphrase, and the objects the stack made on the servers (database, users,
#            collection, class, topic, ACL users).
#   status   whether the servers run and what the stack holds.
#
# Real: the Pulumi engine and Kubernetes provider, the API server, etcd, controller-manager and
# scheduler, the database servers (PostgreSQL + pgvector, FerretDB for MongoDB, Weaviate, Redis with
# Sentinel, Kafka), the pinned charts as published, the initialisers and the policy pack. Simulated: the
# pods (kwok marks them Ready; nothing runs in them). The fake node forwards each pod's ports to the
# loopback servers, so the initialisers reach them through the Kubernetes API (`connect: port-forward`),
# as from a laptop to a real cluster.
#
# Charts: with a folder of the published archives (AIPD_CHARTS, else ../shared/charts beside the project;
# scripts/services.sh checks their sums and caches them), they are unpacked into the run folder and each
# service's `chart.source` points there; without one the stack uses the pinned charts' public registries
# (registry-1.docker.io, weaviate.github.io), which a machine with internet reaches. `up` says which.
#
# Run folder ${AIPD_LOCAL:-/tmp/ai-platform-data/local} (0700): state/ (file backend), pulumi-home/,
# passphrase (0600, generated), Pulumi.local.yaml (the committed config plus this machine's encryption
# salt: the committed file stays untouched), up.log, started-services (present when `up` started them).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
STACK=local
LOCAL=${AIPD_LOCAL:-/tmp/ai-platform-data/local}
export AIPD_RUN=${AIPD_RUN:-/tmp/ai-platform-data/services}

# The language host runs the program with the first `node` on PATH: Node 24 LTS from the project's
# cache (scripts/node.sh) goes first unless a Node 22+ is there already.
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)' 2>/dev/null; then
  PATH="$(bash scripts/node.sh 24 | tail -n1):$PATH"
  export PATH
fi

say() { printf 'local: %s\n' "$*"; }
die() {
  printf 'local: error: %s\n' "$*" >&2
  exit 1
}

explain() {
  cat <<'EOF'
local: what runs here
  real:      Pulumi engine + Kubernetes provider, kube-apiserver/etcd/controller-manager/scheduler,
             PostgreSQL + pgvector, Redis + Sentinel, Kafka, Weaviate, FerretDB (MongoDB wire protocol),
             the initialisers, the CrossGuard policy pack and the five pinned charts as published
             (the "charts:" line below says where they come from)
  simulated: pods (kwok marks them Ready; nothing runs in them); each pod's ports are forwarded by the
             fake node to the loopback servers above
EOF
}

# The engine's environment: own PULUMI_HOME with the built plugins, file backend, passphrase file.
engine_env() {
  local bin=$1
  mkdir -p "$LOCAL/state" "$LOCAL/pulumi-home/plugins"
  chmod 0700 "$LOCAL"
  if [[ ! -s $LOCAL/passphrase ]]; then
    (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$LOCAL/passphrase")
  fi
  chmod 0600 "$LOCAL/passphrase"
  # The engine skips a symlinked plugin directory: a real one per plugin, its files linked.
  local p f
  for p in "$bin"/plugins/*/; do
    p=${p%/}
    mkdir -p "$LOCAL/pulumi-home/plugins/${p##*/}"
    for f in "$p"/*; do ln -sfn "$f" "$LOCAL/pulumi-home/plugins/${p##*/}/${f##*/}"; done
  done
  for k in $(env | sed -n 's/^\(PULUMI_[A-Z_]*\)=.*/\1/p'); do unset "$k"; done
  export PATH="$bin:$PATH"
  export PULUMI_HOME=$LOCAL/pulumi-home
  export PULUMI_BACKEND_URL=file://$LOCAL/state
  export PULUMI_CONFIG_PASSPHRASE_FILE=$LOCAL/passphrase
  export PULUMI_SKIP_UPDATE_CHECK=true
  export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
  KUBECONFIG=$(node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0,"utf8")).kubeconfig)' \
    < <(bash scripts/kube.sh json))
  export KUBECONFIG
}

# Pulumi.local.yaml as committed, plus the encryption salt `stack init` made on this machine and, when a
# charts folder was given, each service's `chart.source` set to the unpacked published chart.
stack_config() {
  local salt charts
  salt=$(cat "$LOCAL/encryptionsalt")
  { cat Pulumi.local.yaml; printf 'encryptionsalt: %s\n' "$salt"; } >"$LOCAL/Pulumi.local.yaml"
  charts=$(node -e 'const h = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).helm;
    process.stdout.write(h && h.charts ? h.charts : "")' "$AIPD_RUN/services.json")
  if [[ -z $charts ]]; then
    say "charts: the pinned charts from their public registries (no charts folder given: AIPD_CHARTS)"
    return
  fi
  rm -rf "$LOCAL/charts" && mkdir -p "$LOCAL/charts"
  local f
  for f in "$charts"/*.tgz; do tar -xzf "$f" -C "$LOCAL/charts"; done
  node --import tsx scripts/local/chart-sources.ts "$LOCAL/Pulumi.local.yaml" "$LOCAL/charts"
  say "charts: the pinned charts as published, from $charts (sums checked by scripts/services.sh), unpacked in $LOCAL/charts"
}

pulumi_() { pulumi "$@" --stack "$STACK" --non-interactive --color never; }

# `stack init` writes the salt into the stack's config file: run it in a scratch copy of the project
# file, keep the salt in the run folder, and never touch the committed Pulumi.local.yaml.
init_stack() {
  [[ -s $LOCAL/encryptionsalt ]] && pulumi stack ls --json 2>/dev/null | grep -q "\"name\": \"$STACK\"" && return
  local scratch
  scratch=$(mktemp -d)
  cp Pulumi.yaml "$scratch/"
  (cd "$scratch" && pulumi stack init "$STACK" --secrets-provider passphrase --non-interactive >/dev/null)
  sed -n 's/^encryptionsalt: *//p' "$scratch/Pulumi.$STACK.yaml" >"$LOCAL/encryptionsalt"
  rm -rf "$scratch"
  [[ -s $LOCAL/encryptionsalt ]] || die "pulumi stack init wrote no encryption salt"
}

# The namespace, the credentials Secrets and the pods' forwards (scripts/local/objects.ts).
apply_objects() {
  node --import tsx scripts/local/objects.ts | kubectl apply --server-side --field-manager=aipd-local -f - >/dev/null
}

up() {
  explain
  mkdir -p "$LOCAL"
  [[ -d node_modules ]] || npm ci --no-audit --no-fund
  [[ -d policies/node_modules ]] || npm ci --prefix policies --no-audit --no-fund
  if ! bash scripts/services.sh status >/dev/null 2>&1; then
    say "starting the database servers and the Kubernetes API (scripts/services.sh)"
    touch "$LOCAL/started-services"
  fi
  # The engine (Go only) builds while the servers install: on a fresh machine they take ~15 min each.
  say "building or restoring the Pulumi engine in the background (scripts/engine-build.sh, log $LOCAL/engine-build.log)"
  bash scripts/engine-build.sh >"$LOCAL/engine-build.out" 2>"$LOCAL/engine-build.log" &
  local engine_pid=$!
  bash scripts/services.sh start | sed 's/^/  /'
  local bin
  if ! wait "$engine_pid"; then
    tail -n 20 "$LOCAL/engine-build.log" >&2
    die "scripts/engine-build.sh failed (log: $LOCAL/engine-build.log)"
  fi
  bin=$(tail -n1 "$LOCAL/engine-build.out")
  [[ -x $bin/pulumi ]] || die "scripts/engine-build.sh gave no engine"
  say "engine: $bin"
  engine_env "$bin"
  export PATH="$(bash scripts/kube.sh bin):$PATH"
  init_stack
  stack_config
  apply_objects
  local cfg=(--config-file "$LOCAL/Pulumi.local.yaml")
  local pol=(--policy-pack policies --policy-pack-config policies/config/local.json)
  if pulumi_ preview "${cfg[@]}" "${pol[@]}" --expect-no-changes --suppress-progress >"$LOCAL/preview.log" 2>&1; then
    say "no change: the stack is as configured, nothing applied"
  else
    say "pulumi up -s $STACK (log: $LOCAL/up.log)"
    if ! pulumi_ up "${cfg[@]}" "${pol[@]}" --yes --skip-preview --suppress-progress >"$LOCAL/up.log" 2>&1; then
      tail -n 60 "$LOCAL/up.log" >&2
      die "pulumi up failed; the whole log is $LOCAL/up.log"
    fi
    sed -n '/^Resources:/,$p' "$LOCAL/up.log" | sed 's/^/  /'
  fi
  report
}

report() {
  say "stack outputs (secrets stay hidden: pulumi stack output --show-secrets -s local reveals them)"
  pulumi_ stack output --json | node -e '
    const o = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const { initialisation, ...rest } = o;
    console.log(JSON.stringify(rest, null, 2).replace(/^/gm, "  "));
    console.log("local: initialisation log");
    for (const [step, lines] of Object.entries(initialisation ?? {}))
      for (const l of [].concat(lines ?? [])) console.log(`  ${step}: ${l}`);
  '
}

down() {
  local purge=false
  [[ ${1:-} == --purge ]] && purge=true
  [[ -d $LOCAL/state ]] || { say "no local stack in $LOCAL"; return 0; }
  local bin
  bin=$(bash scripts/engine-build.sh | tail -n1)
  engine_env "$bin"
  export PATH="$(bash scripts/kube.sh bin):$PATH"
  if bash scripts/services.sh status >/dev/null 2>&1 && [[ -s $LOCAL/encryptionsalt ]]; then
    stack_config
    say "pulumi destroy -s $STACK (the data is kept)"
    pulumi_ destroy --config-file "$LOCAL/Pulumi.local.yaml" --yes --suppress-progress >"$LOCAL/destroy.log" 2>&1 ||
      { tail -n 40 "$LOCAL/destroy.log" >&2; die "pulumi destroy failed; log: $LOCAL/destroy.log"; }
    sed -n '/^Resources:/,$p' "$LOCAL/destroy.log" | sed 's/^/  /'
    if $purge; then
      say "purge: removing the namespace, its volumes and the objects the stack made on the servers"
      node --import tsx scripts/local/purge.ts
    fi
  elif $purge; then
    die "the servers are not running: start them (npm run services:start) to purge what the stack made"
  fi
  if [[ -e $LOCAL/started-services ]]; then
    say "stopping the servers local:up started"
    bash scripts/services.sh stop | sed 's/^/  /'
    rm -f "$LOCAL/started-services"
  fi
  if $purge; then
    rm -rf "$LOCAL"
    say "purged $LOCAL"
  fi
}

status() {
  bash scripts/services.sh status || true
  [[ -d $LOCAL/state ]] || { say "no local stack"; return 0; }
  local bin
  bin=$(bash scripts/engine-build.sh | tail -n1)
  engine_env "$bin"
  pulumi_ stack --show-urns=false 2>&1 | sed 's/^/  /'
}

case "${1:-}" in
  up) up ;;
  down) shift; down "${1:-}" ;;
  status) status ;;
  *) die "usage: bash scripts/local.sh up | down [--purge] | status" ;;
esac
