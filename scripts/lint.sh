#!/usr/bin/env bash
# The linters the README's test command runs first: a finding fails it (and so CI).
#   ruff (pyflakes, pycodestyle, isort, pyupgrade for 3.11, bugbear) on all Python files,
#   mypy on the package, shellcheck on every shell script.
set -euo pipefail
cd "$(dirname "$0")/.."
ruff check --no-cache .
mypy
mapfile -t scripts < <(git ls-files '*.sh' .ci/run)
shellcheck -x "${scripts[@]}"
echo "lint: ruff, mypy and shellcheck passed" >&2
