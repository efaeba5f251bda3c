#!/usr/bin/env bash
# Start the real WordPress and Request Tracker servers, run the integration tests against them
# (and the end-to-end test), stop the servers. Needs root (apt installs Debian's packages once).
#   bash scripts/integration.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
trap 'bash scripts/wordpress.sh stop || true; bash scripts/rt.sh stop || true' EXIT
WP_ENV=$(bash scripts/wordpress.sh start)
RT_ENV=$(bash scripts/rt.sh start)
# shellcheck disable=SC2086
export $WP_ENV $RT_ENV
HUB_RUN_SLOW=1 .venv/bin/pytest tests/integration "$@"
