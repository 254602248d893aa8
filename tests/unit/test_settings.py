"""Settings from an environment variable or a DataRobot runtime parameter, typed, with clear errors."""

import json

import pytest

from dr_onnx_hooks import load_model
from dr_onnx_hooks.errors import DrOnnxError, InputError, ModelError, TooLargeError
from dr_onnx_hooks.params import read_bool, read_choice, read_int, read_setting
from dr_onnx_hooks.reading import Limits
from dr_onnx_hooks.settings import Settings
from models import regression_graph, write_model


def param(payload, kind: str = "string") -> str:
    return json.dumps({"type": kind, "payload": payload})


def test_plain_variable_wins_over_the_runtime_parameter():
    env = {"DR_X": " scores ", "MLOPS_RUNTIME_PARAM_DR_X": param("other")}
    assert read_setting("DR_X", env) == "scores"
    assert read_setting("DR_X", {"MLOPS_RUNTIME_PARAM_DR_X": param("other")}) == "other"


@pytest.mark.parametrize("env", [
    {}, {"DR_X": "  "}, {"MLOPS_RUNTIME_PARAM_DR_X": param(None)}, {"MLOPS_RUNTIME_PARAM_DR_X": param("")},
])
def test_unset_or_empty_is_none(env):
    assert read_setting("DR_X", env) is None


def test_runtime_parameter_that_is_not_json_names_the_parameter():
    with pytest.raises(DrOnnxError, match=r"MLOPS_RUNTIME_PARAM_DR_X must be JSON.*'payload: 3'"):
        read_setting("DR_X", {"MLOPS_RUNTIME_PARAM_DR_X": "payload: 3"})


@pytest.mark.parametrize("env, expected", [
    ({}, 7),
    ({"DR_N": "4"}, 4),
    ({"MLOPS_RUNTIME_PARAM_DR_N": param(2, "numeric")}, 2),
    ({"MLOPS_RUNTIME_PARAM_DR_N": param(3.0, "numeric")}, 3),
])
def test_read_int(env, expected):
    assert read_int("DR_N", 7, environ=env) == expected


@pytest.mark.parametrize("value", ["0", "-2", "2.5", "abc", "nan", "inf"])
def test_bad_int_names_the_setting_its_source_and_the_value(value):
    with pytest.raises(DrOnnxError, match=rf"Setting DR_N must be a whole number >= 1; got '{value}' "
                                          rf"\(from environment variable DR_N\)"):
        read_int("DR_N", 7, environ={"DR_N": value})


def test_bad_int_from_a_runtime_parameter_names_the_parameter():
    with pytest.raises(DrOnnxError, match=r"got '0' \(from runtime parameter MLOPS_RUNTIME_PARAM_DR_N\)"):
        read_int("DR_N", environ={"MLOPS_RUNTIME_PARAM_DR_N": param(0, "numeric")})


def test_read_int_minimum_zero_accepts_zero():
    assert read_int("DR_N", minimum=0, environ={"DR_N": "0"}) == 0


@pytest.mark.parametrize("value, expected", [
    ("on", True), ("OFF", False), ("true", True), ("False", False),
    ("1", True), ("0", False), ("yes", True), ("no", False),
])
def test_read_bool(value, expected):
    assert read_bool("DR_B", not expected, {"DR_B": value}) is expected


def test_read_bool_from_a_boolean_runtime_parameter_and_default():
    assert read_bool("DR_B", False, {"MLOPS_RUNTIME_PARAM_DR_B": param(True, "boolean")}) is True
    assert read_bool("DR_B", True, {}) is True


def test_bad_bool_names_the_setting_and_the_value():
    with pytest.raises(DrOnnxError, match=r"Setting DR_B must be on or off .*; got 'maybe'"):
        read_bool("DR_B", False, {"DR_B": "maybe"})


def test_read_choice_in_any_case_and_default():
    choices = ("disable", "basic", "all")
    assert read_choice("DR_C", choices, "all", {"DR_C": "BASIC"}) == "basic"
    assert read_choice("DR_C", choices, "all", {}) == "all"


def test_bad_choice_lists_the_choices():
    with pytest.raises(DrOnnxError, match=r"Setting DR_C must be one of disable, basic, all; got 'fast'"):
        read_choice("DR_C", ("disable", "basic", "all"), "all", {"DR_C": "fast"})


def test_a_bad_setting_fails_the_load_naming_it(tmp_path, monkeypatch):
    from dr_onnx_hooks import load_model
    from models import regression_graph, write_model

    monkeypatch.setenv("DR_ONNX_GRAPH_OPTIMIZATION", "max")
    with pytest.raises(DrOnnxError, match=r"DR_ONNX_GRAPH_OPTIMIZATION must be one of disable, basic, extended, all; "
                                          r"got 'max'"):
        load_model(str(write_model(tmp_path, regression_graph())))


def test_every_setting_is_read_once_into_one_object(tmp_path):
    env = {
        # the runtime-parameter form works for every setting
        "MLOPS_RUNTIME_PARAM_DR_ONNX_MODEL_DIR": param(str(tmp_path)),
        "DR_ONNX_OUTPUT": "scores",
        "TARGET_TYPE": "Binary",
        "DR_ONNX_CHUNK_ROWS": "2048",
        "DR_ONNX_MAX_ROWS": "10",
        "DR_ONNX_INTRA_OP_THREADS": "1",
    }
    settings = Settings.read(env)
    read = (settings.model_dir, settings.output, settings.target_type, settings.chunk_rows)
    assert read == (tmp_path, "scores", "binary", 2048)
    assert settings.limits == Limits(rows=10) and settings.session.intra_op_threads == 1
    assert "output scores; logits no; class order auto; target type binary; chunks of 2048 rows" in settings.describe()
    assert Settings.read({}).model_dir is None


def test_model_dir_as_a_runtime_parameter_is_where_load_model_looks(tmp_path, monkeypatch):
    write_model(tmp_path / "elsewhere", regression_graph())
    monkeypatch.setenv("MLOPS_RUNTIME_PARAM_DR_ONNX_MODEL_DIR", param(str(tmp_path / "elsewhere")))
    assert load_model(str(tmp_path)).path == tmp_path / "elsewhere" / "model.onnx"


@pytest.mark.parametrize("kind, status", [(InputError, 422), (TooLargeError, 413), (ModelError, 500)])
def test_errors_by_kind_carry_their_status(kind, status):
    error = kind("what to do")
    assert isinstance(error, DrOnnxError) and error.status_code == status and str(error) == "what to do"
