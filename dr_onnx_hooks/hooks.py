"""DRUM's ``load_model`` and ``score`` hooks."""

import os
from pathlib import Path

import pandas as pd

from .labels import request_labels
from .plan import ModelPlan
from .targets import CLASS_TARGETS, target_type

MODEL_DIR_SETTING = "DR_ONNX_MODEL_DIR"


def load_model(code_dir: str) -> ModelPlan:
    """Load the one ``.onnx`` in ``code_dir`` (or in ``$DR_ONNX_MODEL_DIR`` when set) and plan its scoring.

    ``start_server.sh`` sets ``DR_ONNX_MODEL_DIR`` when it serves an artifact-only folder through
    the environment's default ``custom.py``.
    """
    return ModelPlan.load(Path(os.environ.get(MODEL_DIR_SETTING) or code_dir))


def score(data: pd.DataFrame, model: ModelPlan, **kwargs) -> pd.DataFrame:
    """Predictions for ``data``: a ``Predictions`` column, or one probability column per class label."""
    target = target_type(kwargs)
    labels = request_labels(target, kwargs) if target in CLASS_TARGETS else ()
    return model.predict(data, target, labels)
