"""Models from real exporters served by the image as uploaded (the model files alone, mounted
read-only, no custom.py): a skl2onnx text pipeline that needs the en_US.UTF-8 locale, torch's
external weights, and XGBoost's encoded classes. Predictions are compared with the framework's own
by class name."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from exporters import load
from helpers import ATOL, assert_named_like, csv_bytes, predictions
from models import text_pipeline

pytestmark = pytest.mark.container

C_UTF8_WARNING = "serving it with C.UTF-8"  # served.py's warning when the host lacks a StringNormalizer's locale


def readable(folder: Path) -> Path:
    folder.chmod(0o755)
    for child in folder.iterdir():
        child.chmod(0o644)
    return folder


def post_csv(url: str, frame: pd.DataFrame) -> requests.Response:
    return requests.post(url + "/predict/", data=csv_bytes(frame), headers={"Content-Type": "text/csv"}, timeout=60)


def test_tfidf_text_pipeline_is_served_as_exported_with_the_image_s_en_US_locale(tmp_path, container):
    model, onnx_model = text_pipeline()
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(onnx_model)
    # DataRobot's labels in the other order than the model's classes_ (neg, pos).
    running = container({"TARGET_TYPE": "binary", "POSITIVE_CLASS_LABEL": "neg", "NEGATIVE_CLASS_LABEL": "pos"},
                        [f"{readable(folder)}:/opt/code:ro"]).run()
    running.wait_ready()
    rows = pd.DataFrame({"text": ["good fast", "slow awful service", "value", "Great VALUE", "terrible, bad"]})
    got = predictions(post_csv(running.url, rows))
    proba = model.predict_proba(rows["text"])
    assert sorted(got.columns) == ["neg", "pos"]
    for i, label in enumerate(model.classes_):
        np.testing.assert_allclose(got[label], proba[:, i], atol=ATOL, err_msg=label)
    logs = running.logs()
    assert C_UTF8_WARNING not in logs
    locales = running.docker_cmd("exec", running.name, "locale", "-a").stdout.split()
    assert "en_US.utf8" in locales, locales


@pytest.mark.parametrize("name", ["torch_multiclass_softmax", "xgboost_multiclass_encoded"])
def test_exported_model_files_alone_mounted_read_only_give_the_framework_s_predictions(tmp_path, container, name):
    fixture = load(name)
    folder = fixture.copy_to(tmp_path / "model")  # model.onnx, and model.onnx.data for torch
    assert (folder / "model.onnx.data").is_file() == (name == "torch_multiclass_softmax")
    # XGBoost's graph keeps class indices: DataRobot sends the labels in the encoder's order.
    env = {"TARGET_TYPE": "multiclass", "CLASS_LABELS": " ".join(fixture.labels)}
    running = container(env, [f"{readable(folder)}:/opt/code:ro"]).run()
    running.wait_ready()
    assert_named_like(predictions(post_csv(running.url, fixture.rows)), fixture.expected)


