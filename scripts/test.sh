#!/usr/bin/env bash
# The whole test suite: set up, run the linters (scripts/lint.sh), then pytest (extra arguments go to pytest).
# Container tests run when a Docker engine answers; with REQUIRE_DOCKER=1 (CI) they must.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/venv.sh disable=SC1091  # followed with shellcheck -x; checked on its own too
source scripts/venv.sh requirements.txt requirements-dev.txt
scripts/lint.sh
exec python -m pytest "$@"
