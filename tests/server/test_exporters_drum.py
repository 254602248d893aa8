"""Models from real exporters through the real ``drum score`` and ``drum server``, with the
environment's custom.py line copied from the bundled example: the native framework's own
predictions, by class name, with DataRobot's labels in another order where the graph names its
classes."""

import shutil

import numpy as np
import pandas as pd
import pytest

from drum_helpers import DrumServer, label_args, run_drum_score, target_label_args
from exporters import load
from helpers import ATOL, ROOT, assert_named_like, predictions, sklearn_proba
from models import ZIPS, zip_classifier

pytestmark = pytest.mark.drum

# name, labels DataRobot sends (None: the model's own order), extra environment
CASES = [
    ("lightgbm_binary", ("good", "bad"), {}),  # ZipMap keys; positive/negative swapped
    ("catboost_multiclass", ("red", "blue", "green"), {}),
    ("xgboost_multiclass_encoded", None, {}),  # class indices: read by position
    ("torch_multiclass_softmax", None, {}),  # weights in model.onnx.data
    ("torch_multiclass_logsoftmax", None, {}),
    ("torch_multiclass_logits", None, {"DR_ONNX_LOGITS": "softmax"}),
    ("keras_binary_sigmoid", None, {}),
    ("hummingbird_rf_binary", None, {}),
    ("catboost_regression", None, {}),
]


def model_folder(tmp_path, fixture):
    folder = fixture.copy_to(tmp_path / "model")
    shutil.copy(ROOT / "example" / "model" / "custom.py", folder / "custom.py")  # the line users copy
    return folder


def drum_labels(fixture, labels):
    return target_label_args(fixture.target, labels or fixture.labels)


@pytest.mark.parametrize("name, labels, env", CASES, ids=[c[0] for c in CASES])
def test_drum_score_gives_the_native_predictions(tmp_path, name, labels, env):
    fixture = load(name)
    input_csv, output_csv = tmp_path / "input.csv", tmp_path / "output.csv"
    fixture.rows.to_csv(input_csv, index=False)
    result = run_drum_score(model_folder(tmp_path, fixture), input_csv, output_csv, fixture.target,
                            drum_labels(fixture, labels), env=env)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert_named_like(pd.read_csv(output_csv), fixture.expected)


def test_drum_server_serves_an_exported_model_with_external_weights(tmp_path):
    fixture = load("torch_multiclass_softmax")
    with DrumServer(model_folder(tmp_path, fixture), "multiclass", drum_labels(fixture, None)) as server:
        assert_named_like(predictions(server.predict_csv(fixture.rows)), fixture.expected)


def test_the_copied_line_reads_codes_as_sent(tmp_path):
    """The example's custom.py keeps 02134 a code (DRUM's parser would make it the number 2134)."""
    model, onnx_model, _ = zip_classifier()
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(onnx_model)
    shutil.copy(ROOT / "example" / "model" / "custom.py", folder / "custom.py")
    rows = pd.DataFrame({"zip": ZIPS * 5, "x": np.linspace(-2, 2, 20, dtype=np.float32)})
    with DrumServer(folder, "binary", label_args(positive="yes", negative="no")) as server:
        got = predictions(server.predict_csv(rows))
    for label, expected in sklearn_proba(model, rows).items():
        np.testing.assert_allclose(got[label], expected, atol=ATOL, err_msg=f"column {label!r}")
