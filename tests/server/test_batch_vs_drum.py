"""``dr-onnx-score`` (the installed console script) against the real ``drum score`` with our hooks on
the same model folder and CSV: the same prediction columns, in the same order, with the same values
bit for bit, over several chunks; and a failing input exits non-zero naming file, row and column,
with no output written."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from drum_helpers import clean_env, run_drum_score, target_label_args, write_code_dir
from helpers import assert_like_sklearn, csv_bytes
from models import (
    as_sent,
    classifier,
    exported_pipeline,
    features,
    labels_in_other_order,
    regressor,
    request_rows,
    sent_labels,
    sklearn_onnx,
)

pytestmark = pytest.mark.drum

SCORE = Path(sys.executable).parent / "dr-onnx-score"
ROWS = 2600  # three chunks of 1024 rows, the last taking the remainder: one drum score run all the same


def run_score(code_dir: Path, source: Path, output: Path, target: str, labels, *extra: str):
    cmd = [str(SCORE), str(code_dir), "--input", str(source), "--output", str(output), "--target-type", target,
           *target_label_args(target, labels), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=clean_env())


def both(tmp_path: Path, onnx: bytes, sent: pd.DataFrame, target: str, labels) -> tuple[pd.DataFrame, pd.DataFrame]:
    code_dir = write_code_dir(tmp_path / "model", onnx)
    source = tmp_path / "input.csv"
    source.write_bytes(csv_bytes(sent))
    drum = run_drum_score(code_dir, source, tmp_path / "drum.csv", target, target_label_args(target, labels))
    assert drum.returncode == 0, drum.stdout + drum.stderr
    ours = run_score(code_dir, source, tmp_path / "ours.csv", target, labels, "--chunk-rows", "1024")
    assert ours.returncode == 0 and ours.stderr == "", ours.stderr
    return pd.read_csv(tmp_path / "ours.csv"), pd.read_csv(tmp_path / "drum.csv")


def assert_identical(ours: pd.DataFrame, drum: pd.DataFrame) -> None:
    assert list(ours.columns) == list(drum.columns)
    assert len(ours) == len(drum)
    for column in drum.columns:
        np.testing.assert_array_equal(ours[column].to_numpy(), drum[column].to_numpy(), err_msg=column)


@pytest.mark.parametrize("target", ["binary", "multiclass", "regression"])
def test_one_input_model_same_columns_and_values_as_drum_score(tmp_path, target):
    if target == "regression":
        model, train = regressor()
    else:
        model, train = classifier(["no", "yes"] if target == "binary" else ["ant", "cat", "dog"])
    rows = features(ROWS, 4, seed=2)
    labels = labels_in_other_order(model.classes_) if target != "regression" else ()
    ours, drum = both(tmp_path, sklearn_onnx(model, train), rows, target, labels)
    assert_identical(ours, drum)
    assert_like_sklearn(ours, model, rows, target, labels)


@pytest.mark.parametrize("target", ["binary", "multiclass", "regression"])
def test_multi_input_pipeline_same_columns_and_values_as_drum_score(tmp_path, target):
    """Text (a blank zone code), float and int64 inputs read by name, beside an id and the target column."""
    model, onnx = exported_pipeline(target)
    rows = request_rows(ROWS)
    labels = sent_labels(model, target)
    ours, drum = both(tmp_path, onnx, as_sent(rows), target, labels)
    assert_identical(ours, drum)
    assert_like_sklearn(ours, model, rows, target, labels)


def test_bad_value_exits_non_zero_naming_file_row_and_column(tmp_path):
    model, train = classifier(["no", "yes"])
    code_dir = write_code_dir(tmp_path / "model", sklearn_onnx(model, train))
    lines = csv_bytes(features(ROWS, 4, seed=2)).decode().splitlines()
    fields = lines[1800].split(",")
    fields[3] = "n/a?"  # column f3 of data row 1800
    lines[1800] = ",".join(fields)
    source = tmp_path / "input.csv"
    source.write_text("\n".join(lines) + "\n")
    result = run_score(code_dir, source, tmp_path / "ours.csv", "binary", ("no", "yes"))
    assert result.returncode == 1
    assert f"{source}: row 1800, column 'f3'" in result.stderr and "not a number" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.csv", "model"]
