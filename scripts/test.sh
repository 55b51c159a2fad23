#!/usr/bin/env bash
# scripts/test.sh: `npm test`. Type checks, lint, then the three layers (README "Tests"), printing each
# phase's elapsed time and the total at the end.
#
# The unit layer (Pulumi mocks, no server) and the integration layer (the loopback servers) share
# nothing, so they run at the same time: the unit passes' output is kept and printed when they end,
# the integration layer's streams. The end-to-end layer runs last, alone: it uses the same servers
# as the integration layer. AIPD_TEST_SERIAL=1 runs everything one after the other.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/phases.sh
source scripts/lib/phases.sh
phases_init "npm test"

phase "build (tsc)" npm run --silent build
phase "lint (eslint, prettier)" npm run --silent lint
unit() { npm run --silent test:unit && npm run --silent test:unit:node22; }
integration() { npm run --silent test:integration && npm run --silent test:integration:pg15; }
if [[ ${AIPD_TEST_SERIAL:-} == 1 ]]; then
  phase "test:unit + test:unit:node22" unit
  phase "test:integration + :pg15" integration
else
  phase_bg "test:unit + test:unit:node22" unit
  rc=0
  phase "test:integration + :pg15" integration || rc=$?
  phase_wait "test:unit + test:unit:node22"
  ((rc == 0)) || exit "$rc"
fi
phase "test:e2e" npm run --silent test:e2e
