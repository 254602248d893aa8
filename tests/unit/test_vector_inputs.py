"""Models with several inputs, one of them a vector: input ``num`` ``[N, 3]`` reads the columns
``num_0``, ``num_1``, ``num_2`` (in that order), input ``cat`` ``[N, 1]`` the column ``cat``.

Expected values come from numpy (``models.vector_text_expected``) or from scikit-learn's own
``predict_proba``, never written down. Through ``score()`` and ``read_input_data``;
``tests/server/test_vector_inputs_server.py`` runs the real ``drum score``.
"""

import numpy as np
import pandas as pd
import pytest

from dr_onnx_hooks import load_model, read_input_data, score
from dr_onnx_hooks.errors import InputError, ModelError
from dr_onnx_hooks.inputs import InputFeed, ModelInput
from dr_onnx_hooks.reading import TextColumns
from helpers import ATOL, assert_probabilities
from models import (
    vector_pipeline,
    vector_pipeline_onnx,
    vector_text_expected,
    vector_text_frame,
    vector_text_graph,
    write_model,
)

RTOL = 1e-6


def feed_of(*inputs) -> InputFeed:
    return InputFeed([ModelInput.declared(*i) for i in inputs])


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    return load_model(str(write_model(tmp_path_factory.mktemp("vector") / "model", vector_text_graph())))


def predictions(frame: pd.DataFrame, plan) -> np.ndarray:
    out = score(frame, plan, target_type="regression")
    assert list(out.columns) == ["Predictions"] and len(out) == len(frame)
    return out["Predictions"].to_numpy()


def test_vector_input_reads_name_underscore_index_columns(plan):
    rows = vector_text_frame()
    np.testing.assert_allclose(predictions(rows, plan), vector_text_expected(rows), rtol=RTOL, atol=ATOL)
    assert plan.feed.columns == {"num": ("num_0", "num_1", "num_2"), "cat": ("cat",)}


def test_columns_in_another_order_with_extra_columns(plan):
    rows = vector_text_frame(seed=1)
    sent = rows.assign(id=np.arange(len(rows)), target=0.0, num=99.0)[
        ["target", "num_2", "cat", "id", "num_0", "num", "num_1"]
    ]
    np.testing.assert_allclose(predictions(sent, plan), vector_text_expected(rows), rtol=RTOL, atol=ATOL)


def test_vector_columns_match_ignoring_case_when_unambiguous(plan):
    rows = vector_text_frame(seed=2)
    sent = rows.rename(columns={"num_0": "NUM_0", "num_2": "Num_2", "cat": "CAT"})
    np.testing.assert_allclose(predictions(sent, plan), vector_text_expected(rows), rtol=RTOL, atol=ATOL)
    ambiguous = r"Model input 'num' reads column 'num_1', which matches several columns: 'NUM_1', 'Num_1'"
    with pytest.raises(InputError, match=ambiguous):
        score(sent.rename(columns={"num_1": "NUM_1"}).assign(Num_1=1.0), plan, target_type="regression")


def test_missing_vector_column_is_a_422_naming_it_what_each_input_reads_and_what_came(plan):
    sent = vector_text_frame().drop(columns=["num_2"]).assign(id=1)
    with pytest.raises(InputError) as caught:
        score(sent, plan, target_type="regression")
    assert caught.value.status_code == 422
    message = str(caught.value)
    assert "Missing column(s) for model input(s): 'num_2'. " in message
    assert "Received columns: 'num_0', 'num_1', 'cat', 'id'." in message
    assert "'num' <- 'num_0', 'num_1', 'num_2'; 'cat' <- 'cat'" in message


def test_long_lists_in_the_missing_column_message_are_capped():
    feed = feed_of(("px", "tensor(float)", [None, 30]), ("t", "tensor(string)", [None, 1]))
    frame = pd.DataFrame(np.zeros((1, 45)), columns=[f"c{i}" for i in range(45)])
    with pytest.raises(InputError) as caught:
        feed(frame)
    message = str(caught.value)
    assert "'px_0', 'px_1'" in message and "'px_19' … and 11 more." in message  # 30 + 1 missing: 20 listed
    assert "'c19' … and 25 more." in message and "c20" not in message
    assert "'px' <- 'px_0' … 'px_29' (30 columns); 't' <- 't'." in message


def test_higher_rank_vector_input_reads_flat_columns_and_is_reshaped():
    feed = feed_of(("img", "tensor(float)", [None, 2, 3]), ("t", "tensor(string)", [None]))
    frame = pd.DataFrame(np.arange(12.0).reshape(2, 6), columns=[f"img_{i}" for i in range(6)])
    frame = frame[list(reversed(frame.columns))].assign(t=["x", "y"])  # sent in reverse: read by name
    arrays = feed(frame)
    np.testing.assert_array_equal(arrays["img"], np.arange(12.0, dtype=np.float32).reshape(2, 2, 3))
    assert arrays["t"].tolist() == ["x", "y"]


def test_symbolic_width_in_a_model_with_several_inputs_fails_the_load(tmp_path):
    folder = write_model(tmp_path / "model", vector_text_graph(num_width="F"))
    refused = r"Model input 'num' has shape \[.*'F'\], whose width is not fixed.*'num_0', 'num_1'"
    with pytest.raises(ModelError, match=refused):
        load_model(str(folder))


def test_one_input_models_still_read_every_column_in_order():
    feed = feed_of(("X", "tensor(float)", [None, 3]))
    assert feed.columns == {}
    frame = pd.DataFrame({"z": [1.0], "num_0": [2.0], "a": [3.0]})
    np.testing.assert_array_equal(feed(frame)["X"], [[1.0, 2.0, 3.0]])


def test_text_columns_know_the_columns_of_a_string_vector_input():
    text = TextColumns.of(feed_of(("codes", "tensor(string)", [None, 2]), ("x", "tensor(float)", [None, 1])))
    assert "codes_0" in text and "CODES_1" in text
    assert "codes" not in text and "codes_2" not in text and "x" not in text


def test_csv_keeps_string_vector_columns_as_text_end_to_end(tmp_path):
    load_model(str(write_model(tmp_path / "model", vector_text_graph(cat_width=2))))  # sets the reader
    body = b"num_0,num_1,num_2,cat_0,cat_1,other\n1,2,3,02134,NA,NA\n0,0,1,a,,07\n"
    frame = read_input_data(body)
    assert frame["cat_0"].tolist() == ["02134", "a"] and frame["cat_1"].iloc[0] == "NA"
    assert frame["other"].isna().iloc[0]  # not read by a string input: inferred, as DRUM does
    plan = load_model(str(tmp_path / "model"))
    np.testing.assert_allclose(predictions(frame, plan), [321.0, 100.5], rtol=RTOL, atol=ATOL)


# --- scikit-learn ColumnTransformer selecting by position, exported with one input per block ------

@pytest.mark.parametrize("zipmap", [True, False], ids=["zipmap", "no-zipmap"])
def test_sklearn_pipeline_with_vector_and_text_inputs_matches_predict_proba(tmp_path, zipmap):
    model, _ = vector_pipeline()
    rows = vector_text_frame(40, seed=5)
    plan = load_model(str(write_model(tmp_path / "model", vector_pipeline_onnx(model, zipmap=zipmap))))
    sent = rows.assign(id=np.arange(len(rows)))[["id", "cat", "num_2", "num_1", "num_0"]]
    out = score(sent, plan, target_type="binary", positive_class_label="no", negative_class_label="yes")
    assert_probabilities(out, model, rows, ["no", "yes"])
