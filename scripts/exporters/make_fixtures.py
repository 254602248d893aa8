"""Regenerate tests/fixtures/exporters/: tiny models exported to ONNX by real exporters, with the
native framework's own predictions on the rows of each fixture's input.csv.

Runs in virtualenvs of its own that CI never installs (see scripts/exporters/README.md):

    ../exporters-venv/bin/python scripts/exporters/make_fixtures.py      # torch, onnxmltools, CatBoost, hummingbird
    ../exporters-tf-venv/bin/python scripts/exporters/make_fixtures.py       # Keras + tf2onnx
    python scripts/exporters/make_fixtures.py --only torch_binary_sigmoid ...   # some fixtures only
    python scripts/exporters/make_fixtures.py --list

Without --only, every fixture whose framework is importable in the running virtualenv is built and the
others are listed as skipped. Naming a fixture whose framework is missing is an error.

Each fixture folder holds the model file(s) exactly as the exporter wrote them (model.onnx, and
model.onnx.data for torch's default exporter), input.csv (40 rows), expected.csv (the native model's
predict_proba, one column per class named with the class label as a string; or `Predictions` for a
regressor) and meta.json. Seeds are fixed and training runs on one thread, so a rerun with the pinned
versions writes the same files.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# String hashing is randomised per process, and some exporters iterate sets of strings (onnxmltools
# writes its opset_import in set order): run with a fixed hash seed, re-executing if needed.
if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable, *sys.argv])
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "exporters"

N_TRAIN = 400
N_ROWS = 40  # rows of input.csv / expected.csv


# --------------------------------------------------------------------------------------------------
# data


def make_data(
    seed: int, n_features: int, n_classes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian blobs around one centre per class, every class present. Features are rounded to
    3 decimals, so the CSV text parses back to exactly the float32 values the native model saw.
    Returns (X float32 [N_TRAIN + N_ROWS, F], X as float64 for the CSV, class index per row)."""
    rng = np.random.default_rng(seed)
    n = N_TRAIN + N_ROWS
    centres = rng.normal(scale=1.2, size=(n_classes, n_features))
    y = rng.permutation(np.arange(n) % n_classes)
    x64 = np.round(centres[y] + rng.normal(size=(n, n_features)), 3)
    return x64.astype(np.float32), x64, y


def make_regression(
    seed: int, n_features: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = N_TRAIN + N_ROWS
    x64 = np.round(rng.normal(size=(n, n_features)), 3)
    w = rng.normal(size=n_features)
    y = x64 @ w + np.sin(3 * x64[:, 0]) + 0.1 * rng.normal(size=n)
    return x64.astype(np.float32), x64, y


def feature_names(n_features: int) -> list[str]:
    return [f"f{i}" for i in range(n_features)]


# --------------------------------------------------------------------------------------------------
# fixtures registry


@dataclass
class Built:
    input_frame: pd.DataFrame  # written to input.csv
    expected: pd.DataFrame  # written to expected.csv
    meta: dict


@dataclass
class Fixture:
    name: str
    modules: tuple[str, ...]  # what must be importable to build it
    build: Callable[[Path], Built]  # writes the model file(s) into the folder


FIXTURES: dict[str, Fixture] = {}


def fixture(name: str, *modules: str):
    def register(build):
        FIXTURES[name] = Fixture(name, modules, build)
        return build

    return register


def classifier_meta(labels: list[str], target_type: str | None = None) -> dict:
    labels = [str(label) for label in labels]
    target_type = target_type or ("binary" if len(labels) == 2 else "multiclass")
    meta = {"target_type": target_type, "class_labels": labels}
    if target_type == "binary":
        meta["negative_class_label"] = labels[0]
        meta["positive_class_label"] = labels[1]
    return meta


def proba_frame(proba: np.ndarray, labels) -> pd.DataFrame:
    proba = np.asarray(proba, dtype=np.float64)
    assert proba.shape == (N_ROWS, len(labels)), proba.shape
    return pd.DataFrame(proba, columns=[str(label) for label in labels])


# --------------------------------------------------------------------------------------------------
# torch: torch.onnx.export, default (dynamo-based) exporter and the legacy one


def _torch_mlp(seed: int, n_features: int, n_out: int, head: str):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    heads = {
        "sigmoid": nn.Sigmoid(),
        "softmax": nn.Softmax(dim=1),
        "logsoftmax": nn.LogSoftmax(dim=1),
        "logits": nn.Identity(),
    }

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(
                nn.Linear(n_features, 32),
                nn.ReLU(),
                nn.Linear(32, 32),
                nn.ReLU(),
                nn.Linear(32, n_out),
            )
            self.head = heads[head]

        def forward(self, x):
            return self.head(self.body(x))

    return MLP()


def _torch_train(model, x: np.ndarray, y: np.ndarray, sigmoid: bool) -> None:
    import torch

    xt = torch.from_numpy(x)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    if sigmoid:
        loss_fn = torch.nn.BCEWithLogitsLoss()
        yt = torch.from_numpy(y.astype(np.float32)).reshape(-1, 1)
    else:
        loss_fn = torch.nn.CrossEntropyLoss()
        yt = torch.from_numpy(y.astype(np.int64))
    model.train()
    for _ in range(150):
        opt.zero_grad()
        loss = loss_fn(model.body(xt), yt)
        loss.backward()
        opt.step()
    model.eval()


def _torch_fixture(
    folder: Path,
    *,
    seed: int,
    labels: list[str],
    head: str,
    output_name: str,
    dynamo: bool,
    notes: str,
) -> Built:
    import torch

    n_features = 4
    x, x64, y = make_data(seed, n_features, len(labels))
    n_out = 1 if head == "sigmoid" else len(labels)
    model = _torch_mlp(seed, n_features, n_out, head)
    _torch_train(model, x[:N_TRAIN], y[:N_TRAIN], sigmoid=head == "sigmoid")

    rows = x[N_TRAIN:]
    with torch.no_grad():
        out = model(torch.from_numpy(rows)).numpy().astype(np.float64)
    if head == "sigmoid":
        proba = np.column_stack([1.0 - out[:, 0], out[:, 0]])
    elif head == "softmax":
        proba = out
    elif head == "logsoftmax":
        proba = np.exp(out)
    else:  # logits: the probabilities a user means are softmax(logits)
        with torch.no_grad():
            proba = (
                torch.softmax(model(torch.from_numpy(rows)), dim=1)
                .numpy()
                .astype(np.float64)
            )

    path = folder / "model.onnx"
    example = (torch.from_numpy(x[:2]),)
    if dynamo:
        # Equivalent to torch.onnx.export(..., f=path), whose defaults save through ONNXProgram.save
        # with external_data=True; the one change is that each node's `pkg.torch.onnx.stack_trace`
        # metadata is dropped first: it holds this machine's absolute paths (virtualenv, checkout) and
        # this script's line numbers, so the files would change with where and from what they are built.
        program = torch.onnx.export(
            model,
            example,
            None,
            input_names=["input"],
            output_names=[output_name],
            dynamic_shapes=({0: torch.export.Dim("batch")},),
            dynamo=True,
        )
        for node in program.model.graph.all_nodes():
            node.metadata_props.pop("pkg.torch.onnx.stack_trace", None)
        program.save(str(path), external_data=True)
    else:
        torch.onnx.export(
            model,
            example,
            str(path),
            input_names=["input"],
            output_names=[output_name],
            dynamic_axes={"input": {0: "batch"}, output_name: {0: "batch"}},
            dynamo=False,
        )
    meta = {
        "exporter": "torch.onnx.export"
        + (" (default, dynamo-based)" if dynamo else " (legacy, dynamo=False)"),
        "exporter_version": torch.__version__,
        "framework": "torch",
        "framework_version": torch.__version__,
        **classifier_meta(labels),
        "notes": notes,
    }
    return Built(
        pd.DataFrame(x64[N_TRAIN:], columns=feature_names(n_features)),
        proba_frame(proba, labels),
        meta,
    )


@fixture("torch_binary_sigmoid", "torch", "onnxscript")
def torch_binary_sigmoid(folder: Path) -> Built:
    return _torch_fixture(
        folder,
        seed=101,
        labels=["no", "yes"],
        head="sigmoid",
        output_name="probability",
        dynamo=True,
        notes="MLP 4-32-32-1 with a Sigmoid head. Input `input` float [batch, 4]; one output "
        "`probability` float [batch, 1] from a Sigmoid node = P(yes), the positive class (class index "
        "1); some rows saturate to exactly 0.0 or 1.0. No labels in the graph. Opset 20, IR 10. The "
        "weights 32x4 (512 B) and 32x32 (4 KB) are external, in model.onnx.data (4608 B, location "
        "'model.onnx.data'); the 128-byte tensors (biases, the 1x32 output weight) stay inline.",
    )


@fixture("torch_multiclass_softmax", "torch", "onnxscript")
def torch_multiclass_softmax(folder: Path) -> Built:
    return _torch_fixture(
        folder,
        seed=102,
        labels=["cat", "dog", "fox"],
        head="softmax",
        output_name="probabilities",
        dynamo=True,
        notes="MLP 4-32-32-3 with a Softmax head. Input `input` float [batch, 4]; one output "
        "`probabilities` float [batch, 3] from a Softmax node, columns in class index order (cat, dog, "
        "fox). No labels in the graph. Opset 20, IR 10. The weights 32x4, 32x32 and 3x32 are "
        "external, in model.onnx.data (4992 B); the biases stay inline.",
    )


@fixture("torch_multiclass_logsoftmax", "torch", "onnxscript")
def torch_multiclass_logsoftmax(folder: Path) -> Built:
    return _torch_fixture(
        folder,
        seed=103,
        labels=["cat", "dog", "fox"],
        head="logsoftmax",
        output_name="log_probabilities",
        dynamo=True,
        notes="MLP 4-32-32-3 with a LogSoftmax head (torch's NLLLoss recipe). One output "
        "`log_probabilities` float [batch, 3] from a LogSoftmax node, holding log-probabilities (all "
        "<= 0, down to about -46; rows do not sum to 1): expected.csv holds exp() of it, the true "
        "probabilities, in class index order (cat, dog, fox). No labels in the graph. Opset 20, IR 10. "
        "The weights 32x4, 32x32 and 3x32 are external, in model.onnx.data (4992 B); the biases stay inline.",
    )


@fixture("torch_multiclass_logits", "torch", "onnxscript")
def torch_multiclass_logits(folder: Path) -> Built:
    return _torch_fixture(
        folder,
        seed=104,
        labels=["cat", "dog", "fox"],
        head="logits",
        output_name="logits",
        dynamo=True,
        notes="MLP 4-32-32-3 with no head: one output `logits` float [batch, 3] from a Gemm node, raw "
        "scores of any sign (about -40..16; rows do not sum to 1). expected.csv holds softmax(logits) "
        "in class index order (cat, dog, fox). No labels in the graph. Opset 20, IR 10. The weights "
        "32x4, 32x32 and 3x32 are external, in model.onnx.data (4992 B); the biases stay inline.",
    )


@fixture("torch_legacy_binary_softmax", "torch")
def torch_legacy_binary_softmax(folder: Path) -> Built:
    return _torch_fixture(
        folder,
        seed=105,
        labels=["no", "yes"],
        head="softmax",
        output_name="probabilities",
        dynamo=False,
        notes="Legacy TorchScript exporter (dynamo=False). MLP 4-32-32-2 with a 2-class Softmax head: one "
        "output `probabilities` float [batch, 2] from a Softmax node = [P(no), P(yes)] in class index "
        "order. No labels in the graph. Opset 20, IR 9. All weights inside model.onnx (the legacy "
        "exporter writes no side file).",
    )


# --------------------------------------------------------------------------------------------------
# onnxmltools: LightGBM and XGBoost


def _onnxmltools_meta(framework: str, framework_version: str) -> dict:
    import onnxmltools

    return {
        "exporter": "onnxmltools",
        "exporter_version": onnxmltools.__version__,
        "framework": framework,
        "framework_version": framework_version,
    }


def _lightgbm_fixture(
    folder: Path, *, seed: int, labels: list[str], zipmap: bool, notes: str
) -> Built:
    import lightgbm
    from onnxmltools import convert_lightgbm
    from onnxmltools.convert.common.data_types import FloatTensorType

    n_features = 4
    x, x64, y = make_data(seed, n_features, len(labels))
    y_text = np.asarray(labels, dtype=object)[y]
    model = lightgbm.LGBMClassifier(
        n_estimators=8,
        num_leaves=7,
        learning_rate=0.3,
        random_state=seed,
        n_jobs=1,
        deterministic=True,
        verbose=-1,
    )
    model.fit(x[:N_TRAIN], y_text[:N_TRAIN])
    classes = [str(c) for c in model.classes_]
    proba = model.predict_proba(x[N_TRAIN:])
    # name= sets the graph name, which onnxmltools otherwise draws from uuid4 (a new file every run)
    onx = convert_lightgbm(
        model,
        name=folder.name,
        initial_types=[("input", FloatTensorType([None, n_features]))],
        zipmap=zipmap,
    )
    (folder / "model.onnx").write_bytes(onx.SerializeToString())
    meta = {
        **_onnxmltools_meta("lightgbm", lightgbm.__version__),
        **classifier_meta(classes),
        "notes": notes,
    }
    return Built(
        pd.DataFrame(x64[N_TRAIN:], columns=feature_names(n_features)),
        proba_frame(proba, classes),
        meta,
    )


@fixture("lightgbm_binary", "lightgbm", "onnxmltools")
def lightgbm_binary(folder: Path) -> Built:
    return _lightgbm_fixture(
        folder,
        seed=201,
        labels=["bad", "good"],
        zipmap=True,
        notes="LGBMClassifier fitted on string labels bad/good (native order = sorted: bad, good). Input "
        "`input` float [None, 4]. Outputs `label` (string tensor, declared shape [1] though it yields "
        "[batch]) and `probabilities` (ZipMap: sequence of map<string, float> keyed bad/good). Labels "
        "in classlabels_strings of the TreeEnsembleClassifier (post_transform LOGISTIC) and of the "
        "ZipMap. Opsets ai.onnx 8, ai.onnx.ml 1, IR 4.",
    )


@fixture("lightgbm_multiclass", "lightgbm", "onnxmltools")
def lightgbm_multiclass(folder: Path) -> Built:
    return _lightgbm_fixture(
        folder,
        seed=202,
        labels=["small", "medium", "large"],
        zipmap=True,
        notes="LGBMClassifier fitted on string labels small/medium/large; native order is sorted: large, "
        "medium, small (not the order they were listed in). Outputs `label` (string tensor, declared "
        "shape [1]) and `probabilities` (ZipMap: sequence of map<string, float> keyed by the strings). "
        "Labels in classlabels_strings of the TreeEnsembleClassifier (post_transform SOFTMAX) and of "
        "the ZipMap. Opsets ai.onnx 8, ai.onnx.ml 1, IR 4.",
    )


@fixture("lightgbm_multiclass_nozipmap", "lightgbm", "onnxmltools")
def lightgbm_multiclass_nozipmap(folder: Path) -> Built:
    return _lightgbm_fixture(
        folder,
        seed=203,
        labels=["small", "medium", "large"],
        zipmap=False,
        notes="As lightgbm_multiclass but converted with zipmap=False: `probabilities` is a float tensor "
        "[None, 3] produced by a Mul (by a constant 1.0) after the TreeEnsembleClassifier; its columns "
        "follow classlabels_strings of the classifier node (large, medium, small = native order), and "
        "no ZipMap carries them. `label` is a string tensor (declared shape [1]).",
    )


def _xgboost_fixture(
    folder: Path,
    *,
    seed: int,
    n_classes: int,
    n_estimators: int,
    encoded: bool,
    notes: str,
) -> Built:
    import xgboost
    from onnxmltools import convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType
    from sklearn.preprocessing import LabelEncoder

    n_features = 4
    x, x64, y = make_data(seed, n_features, n_classes)
    if encoded:
        # The user's target is text "0".."10"; LabelEncoder sorts it as text ("0", "1", "10", "2", ...)
        # and XGBoost is fitted on the codes 0..10, which is all the graph ever sees.
        y_text = np.asarray([str(v) for v in y], dtype=object)
        encoder = LabelEncoder().fit(y_text[:N_TRAIN])
        y_fit = encoder.transform(y_text[:N_TRAIN])
    else:
        y_fit = y[:N_TRAIN]
    model = xgboost.XGBClassifier(
        n_estimators=n_estimators,
        max_depth=3,
        learning_rate=0.3,
        random_state=seed,
        n_jobs=1,
        tree_method="exact",
    )
    model.fit(x[:N_TRAIN], y_fit)
    proba = model.predict_proba(x[N_TRAIN:])
    classes = (
        [str(c) for c in encoder.classes_]
        if encoded
        else [str(c) for c in model.classes_]
    )
    onx = convert_xgboost(
        model,
        name=folder.name,
        initial_types=[("input", FloatTensorType([None, n_features]))],
    )
    (folder / "model.onnx").write_bytes(onx.SerializeToString())
    meta = {
        **_onnxmltools_meta("xgboost", xgboost.__version__),
        **classifier_meta(classes),
        "notes": notes,
    }
    return Built(
        pd.DataFrame(x64[N_TRAIN:], columns=feature_names(n_features)),
        proba_frame(proba, classes),
        meta,
    )


@fixture("xgboost_binary", "xgboost", "onnxmltools")
def xgboost_binary(folder: Path) -> Built:
    return _xgboost_fixture(
        folder,
        seed=301,
        n_classes=2,
        n_estimators=8,
        encoded=False,
        notes="XGBClassifier fitted on integer 0/1 (labels '0', '1'). No ZipMap: onnxmltools' XGBoost "
        "converter adds none. A single TreeEnsembleClassifier (post_transform LOGISTIC, "
        "classlabels_int64s [0, 1]) produces both outputs: `label` int64 [None] and `probabilities` "
        "float [None, 2] = [P(0), P(1)]. Opset ai.onnx.ml 1 only, IR 8.",
    )


@fixture("xgboost_multiclass_encoded", "xgboost", "onnxmltools", "sklearn")
def xgboost_multiclass_encoded(folder: Path) -> Built:
    return _xgboost_fixture(
        folder,
        seed=302,
        n_classes=11,
        n_estimators=4,
        encoded=True,
        notes="The dangerous case. The user's target is the text '0'..'10' (11 classes); XGBoost needs "
        "0..K-1, so the user ran sklearn LabelEncoder, which sorts as text: '0','1','10','2',...,'9'. "
        "The graph (one TreeEnsembleClassifier, post_transform SOFTMAX, no ZipMap; outputs `label` "
        "int64 [None] and `probabilities` float [None, 11]) stores the encoded ints 0..10 in "
        "classlabels_int64s: code i means "
        "le.classes_[i], so graph code 2 is the label '10' and graph code 10 is the label '9'. Matching "
        "graph codes to DataRobot's labels as numbers assigns 9 of the 11 columns wrongly; the right "
        "mapping is positional in the native order given by class_labels (le.classes_). expected.csv "
        "columns are the original text labels in that order.",
    )


# --------------------------------------------------------------------------------------------------
# CatBoost native ONNX export


def _catboost_meta() -> dict:
    import catboost

    return {
        "exporter": "catboost save_model(format='onnx')",
        "exporter_version": catboost.__version__,
        "framework": "catboost",
        "framework_version": catboost.__version__,
    }


def _catboost_save(model, folder: Path, seed: int) -> None:
    # CatBoost stamps the training's wall-clock finish time and a random model GUID into the model's
    # metadata, which the ONNX export copies into metadata_props. Fix both so reruns write the same bytes.
    metadata = model.get_metadata()
    metadata["train_finish_time"] = "2026-01-01T00:00:00Z"
    metadata["model_guid"] = f"00000000-00000000-00000000-{seed:08d}"
    model.save_model(str(folder / "model.onnx"), format="onnx")


def _catboost_classifier(
    folder: Path, *, seed: int, labels: list[str], notes: str
) -> Built:
    from catboost import CatBoostClassifier

    n_features = 4
    x, x64, y = make_data(seed, n_features, len(labels))
    y_text = np.asarray(labels, dtype=object)[y]
    model = CatBoostClassifier(
        iterations=10,
        depth=3,
        learning_rate=0.3,
        random_seed=seed,
        thread_count=1,
        verbose=False,
        allow_writing_files=False,
    )
    model.fit(x[:N_TRAIN], y_text[:N_TRAIN])
    classes = [str(c) for c in model.classes_]
    proba = model.predict_proba(x[N_TRAIN:])
    _catboost_save(model, folder, seed)
    meta = {**_catboost_meta(), **classifier_meta(classes), "notes": notes}
    return Built(
        pd.DataFrame(x64[N_TRAIN:], columns=feature_names(n_features)),
        proba_frame(proba, classes),
        meta,
    )


@fixture("catboost_binary", "catboost")
def catboost_binary(folder: Path) -> Built:
    return _catboost_classifier(
        folder,
        seed=401,
        labels=["no", "yes"],
        notes="CatBoostClassifier fitted on string labels no/yes. CatBoost's own ONNX export: input "
        "`features` float [N, 4]; outputs `label` (string tensor [N]) and `probabilities` (ZipMap: "
        "sequence of map<string, float> keyed no/yes). Labels in classlabels_strings of the "
        "TreeEnsembleClassifier (post_transform LOGISTIC) and of the ZipMap. The graph imports only "
        "the ai.onnx.ml domain (opset 2), no default-domain opset; IR 3.",
    )


@fixture("catboost_multiclass", "catboost")
def catboost_multiclass(folder: Path) -> Built:
    return _catboost_classifier(
        folder,
        seed=402,
        labels=["red", "green", "blue"],
        notes="CatBoostClassifier fitted on string labels red/green/blue; native order (model.classes_) "
        "is sorted: blue, green, red. CatBoost's own ONNX export: input `features` float [N, 4]; "
        "outputs `label` (string tensor [N]) and `probabilities` (ZipMap keyed by the strings). Labels "
        "in classlabels_strings of the TreeEnsembleClassifier (post_transform SOFTMAX) and of the "
        "ZipMap. Only the ai.onnx.ml domain (opset 2); IR 3.",
    )


@fixture("catboost_regression", "catboost")
def catboost_regression(folder: Path) -> Built:
    from catboost import CatBoostRegressor

    n_features = 4
    x, x64, y = make_regression(403, n_features)
    model = CatBoostRegressor(
        iterations=20,
        depth=3,
        learning_rate=0.3,
        random_seed=403,
        thread_count=1,
        verbose=False,
        allow_writing_files=False,
    )
    model.fit(x[:N_TRAIN], y[:N_TRAIN])
    pred = model.predict(x[N_TRAIN:])
    _catboost_save(model, folder, 403)
    meta = {
        **_catboost_meta(),
        "target_type": "regression",
        "class_labels": [],
        "notes": "CatBoostRegressor, CatBoost's own ONNX export: input `features` float [N, 4]; one "
        "output `predictions` from a TreeEnsembleRegressor, declared float [N] but onnxruntime returns "
        "[N, 1] (and logs a VerifyOutputSizes warning). Only the ai.onnx.ml domain (opset 2); IR 3.",
    }
    return Built(
        pd.DataFrame(x64[N_TRAIN:], columns=feature_names(n_features)),
        pd.DataFrame({"Predictions": np.asarray(pred, dtype=np.float64)}),
        meta,
    )


# --------------------------------------------------------------------------------------------------
# hummingbird-ml (scikit-learn -> torch -> ONNX)


def _hummingbird_fixture(folder: Path, *, seed: int, labels, notes: str) -> Built:
    import hummingbird
    import hummingbird.ml
    import onnx
    import sklearn
    import torch
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.preprocessing import LabelEncoder

    n_features = 4
    x, x64, y = make_data(seed, n_features, len(labels))
    # hummingbird refuses string class labels ("Random Forest Classifier translation only supports
    # integer class labels"), so the user LabelEncodes the text target and fits on the codes 0..K-1.
    y_text = np.asarray(labels, dtype=object)[y]
    encoder = LabelEncoder().fit(y_text[:N_TRAIN])
    model = RandomForestClassifier(
        n_estimators=5, max_depth=4, random_state=seed, n_jobs=1
    )
    model.fit(x[:N_TRAIN], encoder.transform(y_text[:N_TRAIN]))
    classes = [str(c) for c in encoder.classes_]
    proba = model.predict_proba(x[N_TRAIN:])

    # hummingbird 0.4.12 calls torch.onnx.export without `dynamo`; torch >= 2.9 then picks the
    # dynamo-based exporter, which fails on hummingbird's modules. Force the legacy exporter.
    original_export = torch.onnx.export

    def legacy_export(*args, **kwargs):
        kwargs.setdefault("dynamo", False)
        return original_export(*args, **kwargs)

    torch.onnx.export = legacy_export
    cwd = os.getcwd()
    os.chdir(
        folder
    )  # hummingbird writes (and removes) a temporary <uuid>.onnx in the working directory
    try:
        torch.manual_seed(seed)
        container = hummingbird.ml.convert(model, "onnx", x[:N_ROWS])
    finally:
        torch.onnx.export = original_export
        os.chdir(cwd)
    onnx.save(container.model, str(folder / "model.onnx"))
    meta = {
        "exporter": "hummingbird.ml.convert(model, 'onnx', X)",
        "exporter_version": hummingbird.__version__,
        "framework": "scikit-learn",
        "framework_version": sklearn.__version__,
        **classifier_meta(classes),
        "notes": notes,
    }
    return Built(
        pd.DataFrame(x64[N_TRAIN:], columns=feature_names(n_features)),
        proba_frame(proba, classes),
        meta,
    )


@fixture("hummingbird_rf_binary", "hummingbird", "torch", "sklearn")
def hummingbird_rf_binary(folder: Path) -> Built:
    return _hummingbird_fixture(
        folder,
        seed=501,
        labels=["no", "yes"],
        notes="sklearn RandomForestClassifier (5 trees). hummingbird refuses string class labels, so the "
        "text target no/yes was LabelEncoded (no=0, yes=1) and the forest fitted on the codes; "
        "class_labels are le.classes_. Converted through torch's legacy exporter (opset 13, IR 7). "
        "Input `input_0` float [sym, 4]. Outputs: `variable` int64 [sym] (ArgMax: the predicted class "
        "index) and the probabilities float [sym, 2] in native order (no, yes) from a ReduceSum, under "
        "an exporter-made name `onnx::ArgMax_<n>` (hummingbird names only the label output), so no "
        "output name contains 'prob'. No labels in the graph.",
    )


@fixture("hummingbird_multiclass", "hummingbird", "torch", "sklearn")
def hummingbird_multiclass(folder: Path) -> Built:
    return _hummingbird_fixture(
        folder,
        seed=502,
        labels=["cat", "dog", "fox"],
        notes="sklearn RandomForestClassifier (5 trees), text target cat/dog/fox LabelEncoded to 0..2 "
        "(hummingbird refuses string class labels); class_labels are le.classes_. Converted through "
        "torch's legacy exporter (opset 13, IR 7). Input `input_0` float [sym, 4]. Outputs: "
        "`variable` int64 [sym] (ArgMax) and the probabilities float [sym, 3] in native order (cat, "
        "dog, fox) from a ReduceSum, under an exporter-made name `onnx::ArgMax_<n>`, so no output "
        "name contains 'prob'. No labels in the graph.",
    )


# --------------------------------------------------------------------------------------------------
# Keras 3 + tf2onnx (the TensorFlow virtualenv)


def _keras_fixture(
    folder: Path, *, seed: int, labels: list[str], sigmoid: bool, notes: str
) -> Built:
    import keras
    import tensorflow as tf
    import tf2onnx

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)

    n_features = 4
    x, x64, y = make_data(seed, n_features, len(labels))
    model = keras.Sequential(
        [
            keras.Input(shape=(n_features,), name="input"),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(
                1 if sigmoid else len(labels),
                activation="sigmoid" if sigmoid else "softmax",
            ),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="binary_crossentropy" if sigmoid else "sparse_categorical_crossentropy",
    )
    model.fit(
        x[:N_TRAIN],
        y[:N_TRAIN].astype(np.float32 if sigmoid else np.int64),
        epochs=20,
        batch_size=50,
        shuffle=False,
        verbose=0,
    )
    out = np.asarray(model.predict(x[N_TRAIN:], verbose=0), dtype=np.float64)
    proba = np.column_stack([1.0 - out[:, 0], out[:, 0]]) if sigmoid else out

    # tf2onnx.convert.from_keras fails under Keras 3: wrap the model in a tf.function instead.
    signature = (tf.TensorSpec([None, n_features], tf.float32, name="input"),)

    @tf.function(input_signature=signature)
    def serve(inputs):
        return {
            "probability" if sigmoid else "probabilities": model(inputs, training=False)
        }

    tf2onnx.convert.from_function(
        serve, input_signature=signature, output_path=str(folder / "model.onnx")
    )
    meta = {
        "exporter": "tf2onnx.convert.from_function",
        "exporter_version": tf2onnx.__version__,
        "framework": "keras",
        "framework_version": f"keras {keras.__version__}, tensorflow {tf.__version__}",
        **classifier_meta(labels),
        "notes": notes,
    }
    return Built(
        pd.DataFrame(x64[N_TRAIN:], columns=feature_names(n_features)),
        proba_frame(proba, labels),
        meta,
    )


@fixture("keras_multiclass_softmax", "tensorflow", "keras", "tf2onnx")
def keras_multiclass_softmax(folder: Path) -> Built:
    return _keras_fixture(
        folder,
        seed=601,
        labels=["cat", "dog", "fox"],
        sigmoid=False,
        notes="Keras 3 Sequential 4-16-3 with a softmax head, exported by tf2onnx from a tf.function "
        "returning {'probabilities': model(x)}. Input `input` float [unk__, 4]; one output "
        "`probabilities` float [unk__, 3] from a Softmax node, in class index order (cat, dog, fox). "
        "No labels in the graph. Opset 15, IR 8.",
    )


@fixture("keras_binary_sigmoid", "tensorflow", "keras", "tf2onnx")
def keras_binary_sigmoid(folder: Path) -> Built:
    return _keras_fixture(
        folder,
        seed=602,
        labels=["no", "yes"],
        sigmoid=True,
        notes="Keras 3 Sequential 4-16-1 with a sigmoid head, exported by tf2onnx from a tf.function "
        "returning {'probability': model(x)}. Input `input` float [unk__, 4]; one output "
        "`probability` float [unk__, 1] from a Sigmoid node = P(yes), the positive class. No labels "
        "in the graph. Opset 15, IR 8.",
    )


# --------------------------------------------------------------------------------------------------


def available(fx: Fixture) -> list[str]:
    return [m for m in fx.modules if importlib.util.find_spec(m) is None]


def build(fx: Fixture) -> None:
    folder = OUT / fx.name
    with tempfile.TemporaryDirectory(prefix=f"{fx.name}-") as tmp:
        work = Path(tmp) / fx.name  # builders may use folder.name, the fixture's name
        work.mkdir()
        built = fx.build(work)
        assert len(built.input_frame) == N_ROWS and len(built.expected) == N_ROWS
        built.input_frame.to_csv(work / "input.csv", index=False)
        built.expected.to_csv(work / "expected.csv", index=False)
        (work / "meta.json").write_text(json.dumps(built.meta, indent=2) + "\n")
        if folder.exists():
            shutil.rmtree(folder)
        shutil.copytree(work, folder)
    files = ", ".join(
        f"{p.name} ({p.stat().st_size} B)" for p in sorted(folder.iterdir())
    )
    print(f"{fx.name}: {files}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        choices=sorted(FIXTURES),
        help="build these fixtures only",
    )
    parser.add_argument(
        "--list", action="store_true", help="list the fixtures and what each needs"
    )
    args = parser.parse_args(argv)
    if args.list:
        for fx in FIXTURES.values():
            missing = available(fx)
            print(
                f"{fx.name:32} needs {', '.join(fx.modules)}"
                + (f"  (missing here: {', '.join(missing)})" if missing else "")
            )
        return 0
    names = args.only or list(FIXTURES)
    failed = False
    for name in names:
        fx = FIXTURES[name]
        missing = available(fx)
        if missing:
            print(
                f"{name}: skipped, this virtualenv lacks {', '.join(missing)}",
                flush=True,
            )
            failed = failed or bool(args.only)
            continue
        build(fx)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
