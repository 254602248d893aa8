"""DRUM's ``load_model``, ``read_input_data`` and ``score`` hooks."""

import logging
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from .artifact import find_artifact
from .first_request import warm_request_path
from .labels import request_labels
from .plan import ModelPlan
from .reading import Limits, RequestReader, TextColumns, name_sparse_columns
from .settings import Settings
from .targets import CLASS_TARGETS, target_type
from .workers import expect_request_seconds

logger = logging.getLogger(__name__)

DRUM_CUSTOM_MODULE = "custom"  # DRUM imports the model folder's custom.py under this name

# The reader for the model ``load_model`` loaded: ``read_input_data`` gets only the bytes, and DRUM
# loads one model per process (per gunicorn worker), always before the first request.
_reader: RequestReader | None = None


def load_model(code_dir: str) -> ModelPlan:
    """Read the settings, then load the one ``.onnx`` in ``code_dir`` (or ``DR_ONNX_MODEL_DIR``) and plan its scoring.

    ``start_server.sh`` sets ``DR_ONNX_MODEL_DIR`` when it serves an artifact-only folder through
    the environment's default ``custom.py``. Every setting is read here, so a bad one fails the
    load rather than every request.
    """
    global _reader
    settings = Settings.read()
    plan = ModelPlan.load(find_artifact(settings.model_dir or Path(code_dir)), settings)
    text = TextColumns.of(plan.feed)
    _reader = RequestReader(settings.limits, text, settings.show_values)
    warm_request_path(plan, _reader)
    expect_request_seconds(plan.warm_seconds)  # a slow model's first request leaves the event loop too
    custom = sys.modules.get(DRUM_CUSTOM_MODULE)
    if text and custom is not None and getattr(custom, "read_input_data", None) is not read_input_data:
        logger.warning(
            "%s feeds string inputs, but custom.py does not import dr_onnx_hooks' read_input_data: DRUM's own "
            "parser reads the requests, so codes like 02134 arrive as the number 2134 and NA as missing. Write "
            "custom.py as: from dr_onnx_hooks import load_model, read_input_data, score",
            plan.path.name,
        )
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
