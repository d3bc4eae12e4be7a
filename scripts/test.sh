#!/usr/bin/env bash
# THE test command (`make test`; CI runs it through .ci/run).
#
# 1. creates/updates .venv (make venv)
# 2. unless HOTSPOTS_TEST_DATABASE_URL is set: installs PostGIS if missing and
#    starts a throwaway cluster (scripts/pg-test-cluster.sh), stopped on exit
# 3. runs pytest with $PYTEST_ARGS and any arguments given to this script
#
# Exits with pytest's exit code, except that 5 ("no tests collected") becomes 1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

make --no-print-directory venv
# Map assets from npm (no-op when present) and Debian's chromium for the browser tests.
bash scripts/fetch-assets.sh
bash scripts/install-browser.sh

if [ -z "${HOTSPOTS_TEST_DATABASE_URL:-}" ]; then
    trap 'bash scripts/pg-test-cluster.sh stop' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    HOTSPOTS_TEST_DATABASE_URL="$(bash scripts/pg-test-cluster.sh start)"
    export HOTSPOTS_TEST_DATABASE_URL
fi
echo "test.sh: HOTSPOTS_TEST_DATABASE_URL=$HOTSPOTS_TEST_DATABASE_URL" >&2

# PYTEST_ARGS is split on whitespace (no globbing); for quoted arguments pass
# them to this script directly: bash scripts/test.sh -k 'crs and not slow'
set -f
# shellcheck disable=SC2206
extra=(${PYTEST_ARGS:-})
set +f

rc=0
.venv/bin/python -m pytest "${extra[@]}" "$@" || rc=$?
if [ "$rc" -eq 5 ]; then
    echo "test.sh: pytest collected no tests; treating as failure" >&2
    rc=1
fi
exit "$rc"
