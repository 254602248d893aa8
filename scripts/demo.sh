#!/usr/bin/env bash
# The main job: set up, then score the bundled example model with the real `drum score` and print
# the labelled predictions (a binary iris classifier: P(versicolor), P(virginica) per row).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/venv.sh disable=SC1091  # followed with shellcheck -x; checked on its own too
source scripts/venv.sh requirements.txt
out="$(mktemp -d)/predictions.csv"
drum score --code-dir example/model --input example/input.csv --target-type binary \
    --positive-class-label virginica --negative-class-label versicolor --output "$out" >&2
python - "$out" <<'PY'
import sys
import pandas as pd
rows = pd.read_csv("example/input.csv")
predictions = pd.read_csv(sys.argv[1])
print(pd.concat([rows, predictions], axis=1).to_string(index=False))
PY
