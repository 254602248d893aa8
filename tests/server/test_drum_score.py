"""The real ``drum score`` CLI on model folders holding one ``model.onnx`` and the one-line ``custom.py``.

Every expected value is computed here, from scikit-learn or numpy, never written down.
"""

import re

import numpy as np
import pandas as pd
import pytest

from drum_helpers import label_args, run_drum_score, write_code_dir
from helpers import ATOL, assert_probabilities
from models import classifier, features, regressor, sigmoid_expected, sigmoid_graph, sklearn_onnx

pytestmark = pytest.mark.drum


def _score(tmp_path, model: bytes, frame: pd.DataFrame, target: str, labels):
    code_dir = write_code_dir(tmp_path / "model", model)
    input_csv, output_csv = tmp_path / "input.csv", tmp_path / "output.csv"
    frame.to_csv(input_csv, index=False)
    result = run_drum_score(code_dir, input_csv, output_csv, target, labels)
    assert result.returncode == 0, f"drum score failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    out = pd.read_csv(output_csv)
    assert len(out) == len(frame)
    return out


def _failed_run(tmp_path, code_dir, frame: pd.DataFrame, target="regression", labels=()):
    input_csv = tmp_path / "input.csv"
    frame.to_csv(input_csv, index=False)
    result = run_drum_score(code_dir, input_csv, tmp_path / "output.csv", target, labels)
    assert result.returncode != 0, f"drum score should have failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.mark.parametrize("zipmap", [True, False], ids=["zipmap", "no-zipmap"])
@pytest.mark.parametrize(
    "positive, negative",
    [("yes", "no"), ("no", "yes")],  # the second: DataRobot's positive class is the model's FIRST class
    ids=["pos=yes", "pos=no"],
)
def test_binary_string_labels_are_named_by_class(tmp_path, zipmap, positive, negative):
    model, frame = classifier(["no", "yes"])
    rows = frame.head(40)
    out = _score(tmp_path, sklearn_onnx(model, frame, zipmap=zipmap), rows, "binary", label_args(positive, negative))
    assert_probabilities(out, model, rows, [positive, negative])


def test_binary_integer_labels_random_forest(tmp_path):
    model, frame = classifier([0, 1], kind="rf")
    rows = frame.head(40)
    out = _score(tmp_path, sklearn_onnx(model, frame, zipmap=False), rows, "binary", label_args("1", "0"))
    assert_probabilities(out, model, rows, ["1", "0"])


def test_multiclass_labels_in_another_order(tmp_path):
    model, frame = classifier(["ant", "cat", "dog"])
    rows = frame.head(40)
    sent = ["dog", "cat", "ant"]
    out = _score(tmp_path, sklearn_onnx(model, frame, zipmap=True), rows, "multiclass", label_args(class_labels=sent))
    assert_probabilities(out, model, rows, sent)


def test_regression_matches_sklearn(tmp_path):
    model, frame = regressor()
    rows = frame.head(40)
    out = _score(tmp_path, sklearn_onnx(model, frame), rows, "regression", [])
    assert list(out.columns) == ["Predictions"]
    np.testing.assert_allclose(out["Predictions"], model.predict(rows.to_numpy(np.float32)), rtol=1e-4, atol=1e-4)


def test_rank1_sigmoid_is_p_positive(tmp_path):
    rows = features(n_rows=30)
    out = _score(tmp_path, sigmoid_graph(rank1=True), rows, "binary", label_args("good", "bad"))
    assert sorted(out.columns) == ["bad", "good"]
    expected = sigmoid_expected(rows)
    np.testing.assert_allclose(out["good"], expected, atol=ATOL)
    np.testing.assert_allclose(out["bad"], 1.0 - expected, atol=ATOL)


def _no_onnx(folder):
    write_code_dir(folder)
    (folder / "notes.txt").write_text("no model here")
    return [r"No \.onnx file", "notes.txt"]


def _two_onnx(folder):
    write_code_dir(folder, sigmoid_graph(rank1=True), model_name="first.onnx")
    (folder / "second.onnx").write_bytes(sigmoid_graph(rank1=False))
    return [r"2 \.onnx files", "first.onnx", "second.onnx"]


def _corrupt_onnx(folder):
    write_code_dir(folder, np.random.RandomState(7).bytes(512), model_name="scrambled.onnx")
    return ["scrambled.onnx"]


@pytest.mark.parametrize("make_folder", [_no_onnx, _two_onnx, _corrupt_onnx], ids=["no-onnx", "two-onnx", "corrupt"])
def test_bad_model_folder_fails_and_names_the_problem(tmp_path, make_folder):
    folder = tmp_path / "model"
    folder.mkdir()
    patterns = make_folder(folder)
    output = _failed_run(tmp_path, folder, features(n_rows=5))
    for pattern in patterns:
        assert re.search(pattern, output), f"{pattern!r} not in output:\n{output[-3000:]}"


def test_wrong_column_count_says_expected_and_received(tmp_path):
    model, frame = regressor()
    folder = write_code_dir(tmp_path / "model", sklearn_onnx(model, frame))
    rows = frame.head(5).assign(extra=1.0)
    output = _failed_run(tmp_path, folder, rows)
    assert "expects 4 column(s) per row, received 5" in output, output[-3000:]
