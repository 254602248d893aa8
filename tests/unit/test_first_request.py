"""The request path is run once at load (reader in each format, score, DRUM's encoding), quietly,
for every kind of model, and leaves nothing a real request would see."""

import logging

import pytest

from dr_onnx_hooks import load_model, read_input_data, score
from helpers import assert_probabilities, csv_bytes
from models import classifier, features, identity_graph, regressor, sklearn_onnx, write_model, zip_classifier


@pytest.mark.parametrize("kind", ["zipmap", "multiclass", "regression", "two inputs", "identity"])
# identity: made-up zeros are no probabilities, so nothing is warmed, quietly
def test_load_warms_the_whole_request_path_without_a_warning(tmp_path, caplog, kind):
    if kind == "zipmap":
        model, train = classifier(("no", "yes"))
        onnx_model = sklearn_onnx(model, train)
    elif kind == "multiclass":
        model, train = classifier(("a", "b", "c"))
        onnx_model = sklearn_onnx(model, train, zipmap=False)
    elif kind == "regression":
        model, train = regressor()
        onnx_model = sklearn_onnx(model, train)
    elif kind == "two inputs":
        _, onnx_model, _ = zip_classifier()
    else:
        from onnx import TensorProto

        onnx_model = identity_graph(TensorProto.FLOAT)
    with caplog.at_level(logging.DEBUG, logger="dr_onnx_hooks"):
        load_model(str(write_model(tmp_path, onnx_model)))
    assert ("Request path warmed" in caplog.text) == (kind != "identity"), caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_real_requests_after_the_warm_up_are_labelled_by_their_own_labels(tmp_path):
    model, train = classifier(("no", "yes"))
    plan = load_model(str(write_model(tmp_path, sklearn_onnx(model, train))))
    rows = features(10, seed=3)
    got = score(read_input_data(csv_bytes(rows)), plan, target_type="binary", positive_class_label="no",
                negative_class_label="yes")
    assert_probabilities(got, model, rows, ["yes", "no"])
