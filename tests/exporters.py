"""The committed exporter fixtures (``tests/fixtures/exporters``, made by ``scripts/exporters``):
each folder holds the exported model, ``input.csv``, the native framework's ``expected.csv``
(one column per class label, or ``Predictions``) and ``meta.json``."""

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from helpers import label_kwargs

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "exporters"
NAMES = sorted(p.name for p in FIXTURES.iterdir() if (p / "meta.json").is_file())


@dataclass(frozen=True)
class Fixture:
    name: str
    folder: Path
    meta: dict
    rows: pd.DataFrame
    expected: pd.DataFrame

    @property
    def target(self) -> str:
        return self.meta["target_type"]

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.meta.get("class_labels", ()))

    def kwargs(self, labels: tuple[str, ...] = ()) -> dict:
        """DRUM's score kwargs; ``labels`` in DataRobot's order (default: the model's own order)."""
        return {"target_type": self.target, **label_kwargs(self.target, labels or self.labels)}

    def copy_to(self, folder: Path) -> Path:
        """The model file(s) alone in ``folder``, as a user uploads them."""
        folder.mkdir(parents=True, exist_ok=True)
        for entry in self.folder.iterdir():
            if entry.name.startswith("model.onnx"):
                shutil.copy(entry, folder / entry.name)
        return folder


def load(name: str) -> Fixture:
    folder = FIXTURES / name
    return Fixture(
        name, folder, json.loads((folder / "meta.json").read_text()),
        pd.read_csv(folder / "input.csv"), pd.read_csv(folder / "expected.csv", dtype=float),
    )

