"""DRUM's ``load_model``, ``read_input_data`` and ``score`` hooks."""

import os
from pathlib import Path
from typing import Any, Optional

import pandas as pd

from .artifact import find_artifact
from .labels import request_labels
from .plan import ModelPlan
from .reading import Limits, RequestReader, TextColumns, name_sparse_columns
from .settings import Settings
from .targets import CLASS_TARGETS, target_type

# The reader for the model ``load_model`` loaded: ``read_input_data`` gets only the bytes, and DRUM
# loads one model per process (per gunicorn worker), always before the first request.
_reader: Optional[RequestReader] = None


def load_model(code_dir: str) -> ModelPlan:
    """Read the settings, then load the one ``.onnx`` in ``code_dir`` (or in ``DR_ONNX_MODEL_DIR``) and plan its scoring.

    ``start_server.sh`` sets ``DR_ONNX_MODEL_DIR`` when it serves an artifact-only folder through
    the environment's default ``custom.py``. Every setting is read here, so a bad one fails the
    load rather than every request.
    """
    global _reader
    settings = Settings.read()
    plan = ModelPlan.load(find_artifact(settings.model_dir or Path(code_dir)), settings)
    _reader = RequestReader(settings.limits, TextColumns.of(plan.feed))
    return plan


def read_input_data(binary_data: bytes) -> pd.DataFrame:
    """The request as a DataFrame: CSV, JSON, Arrow IPC or Matrix Market, recognised from the bytes.

    Without our ``load_model`` (a custom.py with its own) the limits are read per request and every
    CSV column is inferred, as DRUM does.
    """
    return (_reader or RequestReader(Limits.read(os.environ)))(binary_data)


def score(data: pd.DataFrame, model: ModelPlan, **kwargs: Any) -> pd.DataFrame:
    """Predictions for ``data``: a ``Predictions`` column, or one probability column per class label."""
    target = target_type(kwargs, model.settings.target_type)
    labels = request_labels(target, kwargs) if target in CLASS_TARGETS else ()
    data = name_sparse_columns(data, kwargs.get("sparse_colnames"))
    return model.predict(data, target, labels)
