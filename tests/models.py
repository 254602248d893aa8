"""Test models, generated in code: scikit-learn models converted with skl2onnx, and small graphs
built with ``onnx.helper`` whose expected outputs the tests compute with numpy."""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
import pandas as pd
from onnx import TensorProto, helper
from skl2onnx import convert_sklearn, to_onnx
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

OPSET = 17
ML_OPSET = helper.make_opsetid("ai.onnx.ml", 3)


def features(n_rows: int = 60, n_features: int = 4, seed: int = 0) -> pd.DataFrame:
    rng = np.random.RandomState(seed)
    return pd.DataFrame(rng.normal(size=(n_rows, n_features)), columns=[f"f{i}" for i in range(n_features)])


def classifier(labels: Sequence, kind: str = "logreg", n_features: int = 4, seed: int = 0):
    """A fitted classifier whose classes are ``labels`` (strings or integers), and its training frame."""
    X, y = make_classification(
        n_samples=300, n_features=n_features, n_informative=n_features, n_redundant=0,
        n_classes=len(labels), random_state=seed,
    )
    y = np.asarray(labels)[y]
    model = (
        LogisticRegression(max_iter=500) if kind == "logreg"
        else RandomForestClassifier(n_estimators=10, random_state=seed)
    )
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(n_features)])
    return model.fit(frame.to_numpy(np.float32), y), frame


def regressor(n_features: int = 4, seed: int = 0):
    X, y = make_regression(n_samples=200, n_features=n_features, noise=0.1, random_state=seed)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(n_features)])
    return LinearRegression().fit(frame.to_numpy(np.float32), y), frame


def sklearn_onnx(model, frame: pd.DataFrame, zipmap: bool = True) -> bytes:
    """``model`` converted with skl2onnx (one float input ``[None, F]``)."""
    options = {id(model): {"zipmap": zipmap}} if hasattr(model, "predict_proba") else None
    return to_onnx(
        model, frame.to_numpy(np.float32)[:1], options=options, target_opset={"": OPSET, "ai.onnx.ml": 3}
    ).SerializeToString()


def write_model(folder: Path, model: bytes, name: str = "model.onnx") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(model)
    return folder


def _model(nodes, inputs, outputs, initializers=()) -> bytes:
    graph = helper.make_graph(nodes, "test", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), ML_OPSET])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


WEIGHTS = np.array([0.8, -0.5, 0.3, 1.1], dtype=np.float32)


def sigmoid_graph(rank1: bool, input_type: int = TensorProto.FLOAT) -> bytes:
    """P(positive) = sigmoid(X @ WEIGHTS), as ``[N]`` (rank1) or ``[N, 1]``; input cast to float inside."""
    nodes = [
        helper.make_node("Cast", ["X"], ["Xf"], to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["Xf", "W"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["p"]),
    ]
    shape = [None, 1]
    if rank1:
        nodes.append(helper.make_node("Squeeze", ["p", "axes"], ["prob"]))
        shape = [None]
    else:
        nodes.append(helper.make_node("Identity", ["p"], ["prob"]))
    inits = [
        helper.make_tensor("W", TensorProto.FLOAT, [4, 1], WEIGHTS.tolist()),
        helper.make_tensor("axes", TensorProto.INT64, [1], [1]),
    ]
    return _model(
        nodes,
        [helper.make_tensor_value_info("X", input_type, [None, 4])],
        [helper.make_tensor_value_info("prob", TensorProto.FLOAT, shape)],
        inits,
    )


def sigmoid_expected(frame: pd.DataFrame) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(frame.to_numpy(np.float64) @ WEIGHTS.astype(np.float64))))


def softmax_graph(label_first: bool = False, output_name: str = "out") -> bytes:
    """Two-column softmax of ``[X @ W0, X @ W1]``; with ``label_first`` an int64 argmax output comes first."""
    w = np.stack([WEIGHTS, -WEIGHTS], axis=1)
    nodes = [
        helper.make_node("MatMul", ["X", "W"], ["z"]),
        helper.make_node("Softmax", ["z"], [output_name], axis=1),
    ]
    outputs = [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, [None, 2])]
    if label_first:
        nodes.append(helper.make_node("ArgMax", [output_name], ["label"], axis=1, keepdims=0))
        outputs.insert(0, helper.make_tensor_value_info("label", TensorProto.INT64, [None]))
    return _model(
        nodes,
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 4])],
        outputs,
        [helper.make_tensor("W", TensorProto.FLOAT, [4, 2], w.flatten().tolist())],
    )


def softmax_expected(frame: pd.DataFrame) -> np.ndarray:
    z = frame.to_numpy(np.float64) @ np.stack([WEIGHTS, -WEIGHTS], axis=1).astype(np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def identity_graph(elem_type: int, width: int = 2, batch=None) -> bytes:
    """Output ``y`` = input ``X`` of the given element type, shape ``[batch, width]``."""
    return _model(
        [helper.make_node("Identity", ["X"], ["y"])],
        [helper.make_tensor_value_info("X", elem_type, [batch, width])],
        [helper.make_tensor_value_info("y", elem_type, [batch, width])],
    )


def regression_graph(batch=None, width: int = 4) -> bytes:
    """``y = X @ WEIGHTS`` as ``[batch, 1]`` (``batch`` fixed, e.g. 1, like torch's default export)."""
    return _model(
        [helper.make_node("MatMul", ["X", "W"], ["y"])],
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [batch, width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 1])],
        [helper.make_tensor("W", TensorProto.FLOAT, [width, 1], WEIGHTS[:width].tolist())],
    )


def logits_graph() -> bytes:
    """Two raw scores per row (no softmax): not probabilities."""
    w = np.stack([WEIGHTS, -WEIGHTS], axis=1) * 10
    return _model(
        [helper.make_node("MatMul", ["X", "W"], ["scores"])],
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor("W", TensorProto.FLOAT, [4, 2], w.flatten().tolist())],
    )


def labels_in_other_order(labels: Sequence) -> tuple[str, ...]:
    """DataRobot's labels, as text, in an order different from the model's."""
    return tuple(str(label) for label in reversed(list(labels)))


# --- skl2onnx pipelines with one input per column ------------------------------------------------

PIPELINE_TEXT = ("city", "zone")  # zone holds codes that read as numbers: "10", "20", "30"
PIPELINE_FLOATS = ("age", "income")
PIPELINE_INT = "visits"


def mixed_frame(n_rows: int = 300, seed: int = 0) -> pd.DataFrame:
    """Text, float and int64 columns; floats are float32 values, so the model's float32 inputs see them exactly."""
    rng = np.random.RandomState(seed)
    return pd.DataFrame({
        "city": rng.choice(["Paris", "Lyon", "Nice"], n_rows),
        "zone": rng.choice(["10", "20", "30"], n_rows),
        "age": rng.normal(40, 10, n_rows).astype(np.float32).astype(np.float64),
        "income": rng.normal(3, 1, n_rows).astype(np.float32).astype(np.float64),
        "visits": rng.randint(0, 20, n_rows).astype(np.int64),
    })


def pipeline(target: str, seed: int = 0):
    """A fitted ``ColumnTransformer`` pipeline (one-hot text, scaled floats and int64) for ``target``
    (binary: no/yes, multiclass: ant/cat/dog, regression), and its training frame."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = mixed_frame(seed=seed)
    rng = np.random.RandomState(seed + 1)
    latent = ((frame["city"] == "Paris") + (frame["zone"] == "30") + (frame["age"] - 40) / 10
              + frame["income"] - 3 + frame["visits"] / 10 + rng.normal(0, 0.3, len(frame))).to_numpy()
    if target == "regression":
        y, estimator = latent, Ridge()
    else:
        classes = ("no", "yes") if target == "binary" else ("ant", "cat", "dog")
        cuts = np.quantile(latent, np.linspace(0, 1, len(classes) + 1)[1:-1])
        y, estimator = np.asarray(classes)[np.searchsorted(cuts, latent)], LogisticRegression(max_iter=500)
    prep = ColumnTransformer([
        ("text", OneHotEncoder(handle_unknown="ignore"), list(PIPELINE_TEXT)),
        ("floats", StandardScaler(), list(PIPELINE_FLOATS)),
        ("int", StandardScaler(), [PIPELINE_INT]),
    ])
    return Pipeline([("prep", prep), ("model", estimator)]).fit(frame, y), frame


def pipeline_onnx(model, frame: pd.DataFrame, zipmap: bool = True) -> bytes:
    """``model`` converted with skl2onnx, one ``[None, 1]`` input per column, typed as the column."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType

    def tensor_type(column: pd.Series):
        if pd.api.types.is_float_dtype(column):
            return FloatTensorType([None, 1])
        return Int64TensorType([None, 1]) if pd.api.types.is_integer_dtype(column) else StringTensorType([None, 1])

    options = {id(model): {"zipmap": zipmap}} if hasattr(model, "predict_proba") else None
    initial_types = [(name, tensor_type(frame[name])) for name in frame.columns]
    return convert_sklearn(
        model, initial_types=initial_types, options=options, target_opset={"": OPSET, "ai.onnx.ml": 3}
    ).SerializeToString()


def by_name_classifier():
    """A binary no/yes pipeline with one float ``[None, 1]`` input per column f0..f3 (columns matched by
    name), its ONNX bytes and training frame."""
    frame = features(300, seed=1).astype(np.float32)
    y = np.where(frame["f0"] + 0.5 * frame["f1"] - frame["f2"] > 0, "yes", "no")
    model = make_pipeline(
        ColumnTransformer([("scale", StandardScaler(), list(frame.columns))]), LogisticRegression()
    ).fit(frame, y)
    onnx = convert_sklearn(
        model, initial_types=[(c, FloatTensorType([None, 1])) for c in frame.columns],
        options={id(model): {"zipmap": False}}, target_opset={"": OPSET, "ai.onnx.ml": 3},
    ).SerializeToString()
    return model, onnx, frame


ZIPS = ["02134", "02139", "10001", "90210"]  # codes that pandas would read as the numbers 2134, 2139...


def zip_classifier():
    """A binary no/yes pipeline one-hot encoding a ``zip`` string input beside a float ``x``: the codes only
    match the graph's categories when they reach it as sent, leading zero included."""
    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"zip": rng.choice(ZIPS, 300), "x": rng.normal(size=300).astype(np.float32)})
    y = np.where(frame["zip"].isin(ZIPS[:2]) ^ (frame["x"] > 1.2), "yes", "no")
    model = make_pipeline(
        ColumnTransformer([("zip", OneHotEncoder(handle_unknown="ignore"), ["zip"]), ("x", "passthrough", ["x"])]),
        LogisticRegression(),
    ).fit(frame, y)
    onnx = convert_sklearn(
        model, initial_types=[("zip", StringTensorType([None, 1])), ("x", FloatTensorType([None, 1]))],
        options={id(model): {"zipmap": False}}, target_opset={"": OPSET, "ai.onnx.ml": 3},
    ).SerializeToString()
    return model, onnx, frame


PIPELINE_TARGETS = ("binary", "multiclass", "regression")
PIPELINE_ZIPMAP = {"binary": True, "multiclass": False}  # both skl2onnx forms: ZipMap dicts and a plain tensor


def exported_pipeline(target: str):
    """``pipeline(target)`` and its ONNX bytes: binary with skl2onnx's ZipMap, multiclass without."""
    model, train = pipeline(target)
    return model, pipeline_onnx(model, train, zipmap=PIPELINE_ZIPMAP.get(target, False))


# Requests look like a client's table: an ID and the target column besides the features, the columns
# in another order than the model's inputs, and a blank in the ``zone`` code column.
TARGET_COLUMN = "outcome"
REQUEST_ORDER = ["visits", "id", "zone", TARGET_COLUMN, "income", "city", "age"]


def request_rows(n_rows: int = 40) -> pd.DataFrame:
    """Feature rows as scikit-learn sees them; row 3's zone is missing."""
    rows = mixed_frame(n_rows, seed=7)
    rows.loc[2, "zone"] = np.nan
    return rows


def as_sent(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` as a client sends them: with an ID and the target column, columns reordered."""
    return rows.assign(id=np.arange(1000, 1000 + len(rows)), **{TARGET_COLUMN: "?"})[REQUEST_ORDER]


def sent_labels(model, target: str) -> list[str]:
    """DataRobot's labels in an order unlike ``model.classes_``: (negative, positive) for binary with
    the model's FIRST class as positive; reversed classes for multiclass."""
    return list(labels_in_other_order(model.classes_)) if target != "regression" else []


def isolation_forest(seed: int = 0):
    """A fitted ``IsolationForest`` and its training frame; skl2onnx gives it outputs ``label`` (±1) and ``scores``."""
    from sklearn.ensemble import IsolationForest

    frame = features(200, seed=seed)
    return IsolationForest(n_estimators=20, random_state=seed).fit(frame.to_numpy(np.float32)), frame


# --- several inputs, one of them a vector: columns num_0, num_1, num_2 and cat --------------------

VECTOR_WEIGHTS = np.array([1.0, 10.0, 100.0], dtype=np.float32)  # column order errors show at once
TEXT_CODES = {"a": 0.5, "b": -1.0, "c": 2.0}  # any other text: 0


def vector_text_graph(num_width=3, cat_width=1) -> bytes:
    """Inputs ``num`` float ``[N, num_width]`` and ``cat`` string ``[N, cat_width]``; output ``y`` ``[N, 1]`` =
    ``num @ VECTOR_WEIGHTS`` + the sum over ``cat``'s columns of ``TEXT_CODES``. A symbolic
    ``num_width`` (a name) gives ``num`` a width that is not fixed (the weights then assume 3 columns)."""
    weights = VECTOR_WEIGHTS if isinstance(num_width, str) else np.resize(VECTOR_WEIGHTS, num_width)
    nodes = [
        helper.make_node("MatMul", ["num", "W"], ["z"]),
        helper.make_node(
            "LabelEncoder", ["cat"], ["codes"], domain="ai.onnx.ml",
            keys_strings=list(TEXT_CODES), values_floats=list(TEXT_CODES.values()), default_float=0.0,
        ),
        helper.make_node("ReduceSum", ["codes", "axes"], ["c"], keepdims=1),
        helper.make_node("Add", ["z", "c"], ["y"]),
    ]
    initializers = [
        helper.make_tensor("W", TensorProto.FLOAT, [len(weights), 1], weights.tolist()),
        helper.make_tensor("axes", TensorProto.INT64, [1], [1]),
    ]
    return _model(
        nodes,
        [helper.make_tensor_value_info("num", TensorProto.FLOAT, [None, num_width]),
         helper.make_tensor_value_info("cat", TensorProto.STRING, [None, cat_width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])],
        initializers,
    )


def vector_text_frame(n_rows: int = 20, cat_width: int = 1, seed: int = 0) -> pd.DataFrame:
    """Columns ``num_0..num_2`` (float32 values) and ``cat`` (``cat_0``, ``cat_1``, ... when ``cat_width`` > 1);
    some of the text is not among ``TEXT_CODES``."""
    rng = np.random.RandomState(seed)
    frame = pd.DataFrame(
        rng.normal(size=(n_rows, 3)).astype(np.float32).astype(np.float64), columns=[f"num_{i}" for i in range(3)]
    )
    cats = ["cat"] if cat_width == 1 else [f"cat_{i}" for i in range(cat_width)]
    for name in cats:
        frame[name] = rng.choice(["a", "b", "c", "zz"], n_rows)
    return frame


def vector_text_expected(frame: pd.DataFrame) -> np.ndarray:
    """What ``vector_text_graph`` computes for ``frame``, found by column name."""
    cats = [c for c in frame.columns if c == "cat" or c.startswith("cat_")]
    numbers = frame[[f"num_{i}" for i in range(3)]].to_numpy(np.float64) @ VECTOR_WEIGHTS.astype(np.float64)
    return numbers + sum(frame[c].map(lambda t: TEXT_CODES.get(t, 0.0)).to_numpy(np.float64) for c in cats)


def vector_pipeline(seed: int = 0):
    """A fitted scikit-learn ``ColumnTransformer`` pipeline (classes no/yes) trained on columns
    ``num_0, num_1, num_2, cat`` and selecting by position (``[0, 1, 2]`` scaled, ``[3]`` one-hot),
    and its training frame; ``vector_pipeline_onnx`` exports it with inputs ``num [N, 3]`` and ``cat [N, 1]``."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = vector_text_frame(300, seed=seed)
    rng = np.random.RandomState(seed + 1)
    latent = frame["num_0"] - frame["num_2"] + (frame["cat"] == "a") + rng.normal(0, 0.5, len(frame))
    y = np.where(latent > 0.3, "yes", "no")
    prep = ColumnTransformer([
        ("num", StandardScaler(), [0, 1, 2]), ("cat", OneHotEncoder(handle_unknown="ignore"), [3]),
    ])
    return Pipeline([("prep", prep), ("model", LogisticRegression(max_iter=500))]).fit(frame, y), frame


def vector_pipeline_onnx(model, zipmap: bool = True) -> bytes:
    """``model`` from ``vector_pipeline`` converted with skl2onnx: inputs ``num`` float ``[None, 3]`` and
    ``cat`` string ``[None, 1]`` (skl2onnx maps the positions 0-2 to ``num``, 3 to ``cat``)."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    return convert_sklearn(
        model, initial_types=[("num", FloatTensorType([None, 3])), ("cat", StringTensorType([None, 1]))],
        options={id(model): {"zipmap": zipmap}}, target_opset={"": OPSET, "ai.onnx.ml": 3},
    ).SerializeToString()


# --- weights stored as external data, as torch >= 2.9's exporter writes them ---------------------

EXTERNAL_CONSTANT, EXTERNAL_THEN, EXTERNAL_ELSE = 0.25, 1.5, -7.0


def external_data_model(
    folder: Path, weights: str = "w.bin", constant: str = "c.bin", then: str = "sub/then.bin",
    otherwise: str = "sub/else.bin",
) -> Path:
    """``folder/model.onnx``, a regression ``y = X @ WEIGHTS + EXTERNAL_CONSTANT + EXTERNAL_THEN`` on
    ``X`` float ``[N, 4]``, whose every tensor is external data in a file of its own, at the location
    given inside ``folder``: the initializer ``W`` (``weights``), a Constant node's value (``constant``)
    and the Constants of both branches of an If node's subgraphs (``then``, taken; ``otherwise``,
    not). Returns the model file; ``move_external_data`` moves one of its files elsewhere."""
    from onnx import external_data_helper, numpy_helper

    def constant_node(output: str, value: np.ndarray, location: str) -> onnx.NodeProto:
        tensor = numpy_helper.from_array(value, output)
        external_data_helper.set_external_data(tensor, location)
        return helper.make_node("Constant", [], [output], value=tensor)

    def branch(name: str, value: float, location: str) -> onnx.GraphProto:
        return helper.make_graph(
            [constant_node(f"{name}_value", np.array([value], dtype=np.float32), location)], name, [],
            [helper.make_tensor_value_info(f"{name}_value", TensorProto.FLOAT, [1])],
        )

    w = numpy_helper.from_array(WEIGHTS.reshape(4, 1), "W")
    external_data_helper.set_external_data(w, weights)
    nodes = [
        helper.make_node("MatMul", ["X", "W"], ["z"]),
        constant_node("c", np.array([EXTERNAL_CONSTANT], dtype=np.float32), constant),
        helper.make_node("Constant", [], ["cond"], value=helper.make_tensor("cond", TensorProto.BOOL, [], [True])),
        helper.make_node(
            "If", ["cond"], ["b"], then_branch=branch("then", EXTERNAL_THEN, then),
            else_branch=branch("else", EXTERNAL_ELSE, otherwise),
        ),
        helper.make_node("Add", ["z", "c"], ["zc"]),
        helper.make_node("Add", ["zc", "b"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "external", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])], [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    folder.mkdir(parents=True, exist_ok=True)
    for location in (weights, constant, then, otherwise):
        (folder / location).parent.mkdir(parents=True, exist_ok=True)
    external_data_helper.write_external_data_tensors(model, str(folder))  # writes each tensor, clears raw_data
    path = folder / "model.onnx"
    onnx.save_model(model, str(path))
    return path


def external_data_expected(frame: pd.DataFrame) -> np.ndarray:
    """What ``external_data_model`` computes for ``frame``."""
    return frame.to_numpy(np.float64) @ WEIGHTS.astype(np.float64) + EXTERNAL_CONSTANT + EXTERNAL_THEN


def move_external_data(model_file: Path, location: str, new_location: str) -> Path:
    """Move the external-data file ``location`` of ``model_file`` (from ``external_data_model``) to
    ``new_location`` (relative to the model's folder, may leave it, or absolute), and rewrite the
    graph's references to it: what onnx's own writer refuses to produce. Returns where the file went."""
    model = onnx.load(str(model_file), load_external_data=False)
    tensors = [*model.graph.initializer, *(a.t for n in model.graph.node for a in n.attribute if a.HasField("t"))]
    entries = [e for t in tensors for e in t.external_data if e.key == "location" and e.value == location]
    assert entries, f"{model_file.name} has no tensor in {location!r} in its main graph"
    for entry in entries:
        entry.value = new_location
    onnx.save_model(model, str(model_file))
    target = model_file.parent / new_location  # an absolute new_location stays as it is
    target.parent.mkdir(parents=True, exist_ok=True)
    (model_file.parent / location).rename(target)
    return target


def slow_graph(base_iterations: int = 0, iterations_per_unit: int = 1_000_000) -> bytes:
    """Binary P(positive) = sigmoid(x) for one input column ``x``, computed after a Loop of
    ``base_iterations + max(x) * iterations_per_unit`` empty steps (about a microsecond each): as
    slow as the request asks, so tests can time out a run, or the warm-up (all zeros) alone."""
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["acc_in", "zero"], ["acc_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, None),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, None),
        ],
        [helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])],
    )
    nodes = [
        helper.make_node("ReduceMax", ["X"], ["top"], keepdims=0),
        helper.make_node("Mul", ["top", "per_unit"], ["scaled"]),
        helper.make_node("Add", ["scaled", "base"], ["count"]),
        helper.make_node("Cast", ["count"], ["trips"], to=TensorProto.INT64),
        helper.make_node("Loop", ["trips", "go", "X"], ["Y"], body=body),
        helper.make_node("Sigmoid", ["Y"], ["probability"]),
    ]
    return _model(
        nodes,
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 1])],
        [helper.make_tensor_value_info("probability", TensorProto.FLOAT, [None, 1])],
        [
            helper.make_tensor("per_unit", TensorProto.FLOAT, [], [float(iterations_per_unit)]),
            helper.make_tensor("base", TensorProto.FLOAT, [], [float(base_iterations)]),
            helper.make_tensor("go", TensorProto.BOOL, [], [True]),
        ],
    )


def text_pipeline():
    """A pos/neg ``TfidfVectorizer`` + ``LogisticRegression`` pipeline on one string input ``text``, and
    its default skl2onnx export (``zipmap=False``): a ``StringNormalizer`` that names no locale, so
    onnxruntime asks the C library for en_US.UTF-8."""
    texts = ["good cheap fast", "bad slow", "great value", "awful slow service", "fine", "terrible"] * 20
    y = np.array(["pos", "neg", "pos", "neg", "pos", "neg"] * 20)
    model = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(texts, y)
    exported = to_onnx(model, initial_types=[("text", StringTensorType([None, 1]))],
                       options={id(model): {"zipmap": False}}, target_opset={"": OPSET, "ai.onnx.ml": 3})
    normalizers = [n for n in exported.graph.node if n.op_type == "StringNormalizer"]
    assert normalizers and not any(a.name == "locale" for n in normalizers for a in n.attribute)
    return model, exported.SerializeToString()
