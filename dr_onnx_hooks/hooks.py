"""DRUM's ``load_model``, ``read_input_data`` and ``score`` hooks."""

import os
from pathlib import Path
from typing import Optional

import pandas as pd

from .labels import request_labels
from .plan import ModelPlan
from .reading import Limits, RequestReader, TextColumns, name_sparse_columns
from .targets import CLASS_TARGETS, target_type

MODEL_DIR_SETTING = "DR_ONNX_MODEL_DIR"

# The reader for the model ``load_model`` loaded: ``read_input_data`` gets only the bytes, and DRUM
# loads one model per process (per gunicorn worker), always before the first request.
_reader: Optional[RequestReader] = None


def load_model(code_dir: str) -> ModelPlan:
    """Load the one ``.onnx`` in ``code_dir`` (or in ``$DR_ONNX_MODEL_DIR`` when set) and plan its scoring.

    ``start_server.sh`` sets ``DR_ONNX_MODEL_DIR`` when it serves an artifact-only folder through
    the environment's default ``custom.py``. The request limits are read here too, so a bad
    setting fails the load rather than every request.
    """
    global _reader
    plan = ModelPlan.load(Path(os.environ.get(MODEL_DIR_SETTING) or code_dir))
    _reader = RequestReader(Limits.from_settings(), TextColumns.of(plan.feed))
    return plan


def read_input_data(binary_data: bytes) -> pd.DataFrame:
    """The request as a DataFrame: CSV, JSON, Arrow IPC or Matrix Market, recognised from the bytes.

    Without our ``load_model`` (a custom.py with its own) the limits are read from the settings
    per request and every CSV column is inferred, as DRUM does.
    """
    return (_reader or RequestReader(Limits.from_settings()))(binary_data)


def score(data: pd.DataFrame, model: ModelPlan, **kwargs) -> pd.DataFrame:
    """Predictions for ``data``: a ``Predictions`` column, or one probability column per class label."""
    target = target_type(kwargs)
    labels = request_labels(target, kwargs) if target in CLASS_TARGETS else ()
    data = name_sparse_columns(data, kwargs.get("sparse_colnames"))
    return model.predict(data, target, labels)
