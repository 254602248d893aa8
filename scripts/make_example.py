"""Regenerate the bundled example: a binary iris classifier (versicolor vs virginica) exported by
skl2onnx with its default ZipMap output, and a few rows to score.

    .venv/bin/python scripts/make_example.py
"""

from pathlib import Path

import numpy as np
from skl2onnx import to_onnx
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

EXAMPLE = Path(__file__).resolve().parent.parent / "example"


def main() -> None:
    iris = load_iris(as_frame=True)
    frame = iris.frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    frame["species"] = np.asarray(iris.target_names)[iris.target]
    frame = frame[frame["species"] != "setosa"]
    features = frame.drop(columns=["target", "species"])
    model = LogisticRegression(max_iter=1000).fit(features.to_numpy(np.float32), frame["species"])
    onnx_model = to_onnx(model, features.to_numpy(np.float32)[:1], target_opset={"": 17, "ai.onnx.ml": 3})
    (EXAMPLE / "model" / "model.onnx").write_bytes(onnx_model.SerializeToString())
    rows = features.iloc[np.r_[0:4, 50:54]]
    rows.to_csv(EXAMPLE / "input.csv", index=False)


if __name__ == "__main__":
    main()
