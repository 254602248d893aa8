"""Property-based: whatever frame arrives, ``score`` returns a correct labelled frame or raises
our one error type — never anything else."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dr_onnx_hooks import load_model, score
from dr_onnx_hooks.errors import DrOnnxError
from helpers import ATOL, label_kwargs, sklearn_proba
from models import classifier, regressor, sklearn_onnx, write_model

CELLS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(min_value=-(2**62), max_value=2**62),
    st.text(max_size=5),
    st.none(),
    st.booleans(),
)


@st.composite
def frames(draw) -> pd.DataFrame:
    n_rows = draw(st.integers(0, 200))
    n_columns = draw(st.sampled_from([4, 4, 4, 3, 5, 1]))
    columns = {}
    for i in range(n_columns):
        kind = draw(st.sampled_from(["float", "float", "int", "mixed"]))
        if kind == "float":
            values = draw(st.lists(st.floats(-1e3, 1e3), min_size=n_rows, max_size=n_rows))
        elif kind == "int":
            values = draw(st.lists(st.integers(-1000, 1000), min_size=n_rows, max_size=n_rows))
        else:
            values = draw(st.lists(CELLS, min_size=n_rows, max_size=n_rows))
        columns[f"f{i}"] = values
    return pd.DataFrame(columns, index=range(n_rows))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("properties")
    binary, train = classifier(("no", "yes"))
    multiclass, _ = classifier(("a", "b", "c"), kind="rf")
    reg, train_r = regressor()
    return {
        "binary": (binary, load_model(str(write_model(folder / "b", sklearn_onnx(binary, train))))),
        "multiclass": (
            multiclass, load_model(str(write_model(folder / "m", sklearn_onnx(multiclass, train, zipmap=False))))
        ),
        "regression": (reg, load_model(str(write_model(folder / "r", sklearn_onnx(reg, train_r))))),
    }


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(frame=frames(), target=st.sampled_from(["binary", "multiclass", "regression"]), data=st.data())
def test_score_returns_a_correct_frame_or_our_error(served, frame, target, data):
    model, plan = served[target]
    labels = [str(c) for c in model.classes_] if target != "regression" else []
    labels = data.draw(st.permutations(labels)) if labels else labels
    kwargs = {"target_type": target, **label_kwargs(target, labels)}
    try:
        result = score(frame, plan, **kwargs)
    except DrOnnxError as error:
        assert str(error) and error.status_code in (422, 500)
        return
    assert len(result) == len(frame) and result.index.tolist() == list(range(len(frame)))
    if target == "regression":
        assert result.columns.tolist() == ["Predictions"]
        return
    assert sorted(result.columns) == sorted(labels)
    values = result.to_numpy(dtype=np.float64)
    assert ((values >= 0) & (values <= 1)).all()
    np.testing.assert_allclose(values.sum(axis=1), 1.0, atol=1e-9)
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    if len(frame) and numeric.notna().all().all() and np.isfinite(numeric.to_numpy(np.float64)).all():
        expected = sklearn_proba(model, numeric.astype(np.float32))
        for label in labels:
            np.testing.assert_allclose(result[label], expected[label], atol=ATOL)
