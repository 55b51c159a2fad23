#!/usr/bin/env bash
# `npm run preview -- -s <stack> [pulumi preview flags]`: the preview a CI pipeline runs on a pull
# request, with the CrossGuard pack and the policy config named like the stack
# (policies/config/<stack>.json; production rules are on in prod.json).
set -euo pipefail
cd "$(dirname "$0")/.."
# The language host runs the program and the policy pack with the first `node` on PATH: without a
# Node 22+ there, Node 24 LTS from the project's cache (scripts/node.sh) goes first.
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 22 ? 0 : 1)' 2>/dev/null; then
	PATH="$(bash scripts/node.sh 24 | tail -n1):$PATH"
	export PATH
fi
stack=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
	case "${args[$i]}" in
	-s | --stack) stack="${args[$((i + 1))]:-}" ;;
	--stack=*) stack="${args[$i]#--stack=}" ;;
	esac
done
stack=${stack:-$(pulumi stack --show-name 2>/dev/null || true)}
config="policies/config/${stack##*/}.json"
if [[ ! -f "$config" ]]; then
	echo "preview: no $config; using policies/config/prod.json (the strictest)" >&2
	config=policies/config/prod.json
fi
[[ -d policies/node_modules ]] || npm ci --prefix policies --no-audit --no-fund >&2
exec pulumi preview --policy-pack policies --policy-pack-config "$config" "$@"
