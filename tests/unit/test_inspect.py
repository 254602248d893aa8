"""``dr-onnx-inspect`` / ``python -m dr_onnx_hooks inspect``: the plan ``load_model`` makes, as text and JSON."""

import json
import subprocess
import sys
from importlib.metadata import entry_points

import numpy as np
import onnx
import pytest

from dr_onnx_hooks import __main__ as module_cli
from dr_onnx_hooks import inspect
from models import (
    classifier,
    pipeline,
    pipeline_onnx,
    regression_graph,
    regressor,
    sklearn_onnx,
    softmax_graph,
    vector_text_graph,
    write_model,
)

ALL_TARGETS = ["regression", "anomaly", "binary", "multiclass", "multilabel"]


def cli(capsys, *argv: str):
    """The console script's function in-process: (exit status, stdout, stderr)."""
    status = inspect.main(list(map(str, argv)))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def report(capsys, *argv: str) -> dict:
    status, out, err = cli(capsys, *argv, "--json")
    assert status == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def zipmap_classifier():
    model, train = classifier(("no", "yes"))
    return model, sklearn_onnx(model, train, zipmap=True)


def test_zipmap_classifier_json(tmp_path, capsys, zipmap_classifier):
    model, onnx_model = zipmap_classifier
    got = report(capsys, write_model(tmp_path, onnx_model) / "model.onnx")
    assert got["model"] == str(tmp_path / "model.onnx")
    assert got["inputs"] == [{"name": "X", "type": "tensor(float)", "shape": [None, model.n_features_in_]}]
    assert [o["name"] for o in got["outputs"]] == ["output_label", "output_probability"]  # not the tensor read
    assert list(got["targets"]) == ALL_TARGETS
    for target in ("binary", "multiclass", "multilabel"):
        assert got["targets"][target] == {
            "usable": True, "output": "output_probability", "reads": "probabilities",
            "reason": "name contains 'prob'; ZipMap read from 'probabilities'",
            "labels": [str(c) for c in model.classes_],
            "holds": "probability (LinearClassifier node 'LinearClassifier' with post_transform LOGISTIC)",
            "labels_check": "",
        }
    for target in ("regression", "anomaly"):
        assert not got["targets"][target]["usable"]
        assert "'output_label' is tensor(string), not a numeric tensor" in got["targets"][target]["reason"]
    assert got["class_labels"] == [str(c) for c in model.classes_]
    assert got["class_labels_from"] == "ZipMap keys; labels" and got["class_order"] == "auto"
    assert got["input_plan"] == [{
        "input": "X", "type": "tensor(float)", "shape": [None, model.n_features_in_],
        "columns": f"all {model.n_features_in_} columns, in order", "cast": "to float32; missing values stay NaN",
    }]
    assert got["providers"] == ["CPUExecutionProvider"] and got["servable"]


def test_zipmap_classifier_text(tmp_path, capsys, zipmap_classifier):
    model, onnx_model = zipmap_classifier
    status, out, err = cli(capsys, write_model(tmp_path, onnx_model))
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == f"model: {tmp_path / 'model.onnx'}"
    assert "  binary      output_probability: name contains 'prob'; ZipMap read from 'probabilities'" in lines
    assert any(line.startswith("  regression  cannot serve: Output 'output_label' is tensor(string)") for line in lines)
    labels = ", ".join(map(str, model.classes_))
    assert f"class labels in the graph: {labels} (ZipMap keys; labels); class order auto" in lines
    assert ("binary output holds: probability "
            "(LinearClassifier node 'LinearClassifier' with post_transform LOGISTIC)") in lines
    assert ("  X  tensor(float)  [None, 4]  <- all 4 columns, in order; "
            "cast to float32; missing values stay NaN") in lines
    assert lines[-1] == "providers: CPUExecutionProvider"


def test_regressor_uses_its_first_output(tmp_path, capsys):
    model, train = regressor()
    got = report(capsys, write_model(tmp_path, sklearn_onnx(model, train)), "--target-type", "Regression")
    assert got["targets"] == {
        "regression": {
            "usable": True, "output": "variable", "reads": "variable", "reason": "first output", "labels": None,
        }
    }
    assert got["class_labels"] is None


def test_pipeline_reads_one_column_per_input(tmp_path, capsys):
    model, train = pipeline("multiclass")
    got = report(capsys, write_model(tmp_path, pipeline_onnx(model, train, zipmap=False)))
    assert [i["name"] for i in got["inputs"]] == list(train.columns)
    plan = {i["input"]: (i["columns"], i["cast"]) for i in got["input_plan"]}
    assert plan["city"] == ("column named 'city'", "to text; missing values become '', whole numbers lose the '.0'")
    assert plan["age"] == ("column named 'age'", "to float32; missing values stay NaN")
    assert plan["visits"] == (
        "column named 'visits'",
        f"to int64; whole numbers from {np.iinfo(np.int64).min} to {np.iinfo(np.int64).max}, no missing values",
    )
    assert got["targets"]["multiclass"]["output"] == "probabilities"
    assert got["class_labels"] == [str(c) for c in model.classes_]
    assert got["class_labels_from"] == "classlabels_strings of LinearClassifier; labels"
    assert got["class_order"] == "auto"


def test_hand_graph_skips_its_label_output_for_probabilities(tmp_path, capsys):
    got = report(capsys, write_model(tmp_path, softmax_graph(label_first=True)))
    assert got["targets"]["binary"]["output"] == "out"
    assert got["targets"]["binary"]["reason"] == "first float output ('label' is tensor(int64), a predicted label)"
    assert got["targets"]["regression"]["output"] == "label"
    assert got["class_labels"] is None


def test_output_setting_is_honoured_as_load_model_does(tmp_path, capsys, monkeypatch):
    model, train = classifier(("no", "yes"))
    monkeypatch.setenv("DR_ONNX_OUTPUT", "probabilities")
    got = report(capsys, write_model(tmp_path, sklearn_onnx(model, train, zipmap=False)))
    assert got["targets"]["regression"]["output"] == "probabilities"
    assert got["targets"]["binary"]["reason"] == "named by DR_ONNX_OUTPUT"


def test_unusable_target_type_exits_non_zero_with_the_reason(tmp_path, capsys, zipmap_classifier):
    _, onnx_model = zipmap_classifier
    status, out, err = cli(capsys, write_model(tmp_path, onnx_model), "--target-type", "regression", "--json")
    assert status != 0
    assert json.loads(out)["servable"] is False
    assert "cannot be served as regression: Output 'output_label' is tensor(string)" in err


def test_corrupt_file_exits_non_zero_with_the_reason(tmp_path, capsys):
    path = tmp_path / "broken.onnx"
    path.write_bytes(np.random.RandomState(7).bytes(512))
    status, out, err = cli(capsys, path)
    assert status != 0 and out == ""
    assert "broken.onnx is not a readable ONNX model" in err


def test_a_file_beside_other_onnx_files_is_inspected_alone(tmp_path, capsys):
    """Its folder would be refused (two .onnx files); its external weights still resolve."""
    model = onnx.load_from_string(regression_graph())
    onnx.save_model(model, tmp_path / "a.onnx", save_as_external_data=True, location="weights.bin", size_threshold=0)
    write_model(tmp_path, softmax_graph(), name="b.onnx")
    got = report(capsys, tmp_path / "a.onnx")
    assert got["model"] == str(tmp_path / "a.onnx")
    assert got["targets"]["regression"]["output"] == "y"
    status, _, err = cli(capsys, tmp_path)
    assert status != 0 and "Found 2 .onnx files" in err


def test_module_and_console_script_run_the_same_function(tmp_path, capsys, zipmap_classifier):
    (script,) = entry_points(group="console_scripts", name="dr-onnx-inspect")  # from pyproject's [project.scripts]
    assert script.load() is inspect.main
    folder = write_model(tmp_path, zipmap_classifier[1])
    assert module_cli.main(["inspect", str(folder), "--json"]) == 0
    from_module = capsys.readouterr().out
    assert cli(capsys, folder, "--json")[1] == from_module


def test_python_dash_m_in_a_subprocess(tmp_path, capsys, zipmap_classifier):
    folder = write_model(tmp_path, zipmap_classifier[1])
    result = subprocess.run(
        [sys.executable, "-m", "dr_onnx_hooks", "inspect", str(folder / "model.onnx"), "--json"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == report(capsys, folder / "model.onnx")


def test_vector_input_shows_the_columns_it_reads(tmp_path, capsys):
    got = report(capsys, write_model(tmp_path, vector_text_graph()) / "model.onnx")
    plan = {i["input"]: i["columns"] for i in got["input_plan"]}
    assert plan == {"num": "columns num_0, num_1, num_2", "cat": "column named 'cat'"}
