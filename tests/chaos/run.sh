#!/usr/bin/env bash
# run.sh: the chaos test standalone, built first; any chaos.py flag passes on.
#   tests/chaos/run.sh --duration 600            # ten minutes of failures
#   tests/chaos/run.sh --duration 120 --seed 42  # replay a run
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/deps.sh test
deploy/build.sh build
exec /usr/bin/python3 tests/chaos/chaos.py "$@"
