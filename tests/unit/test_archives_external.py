"""``scripts/archives.py model`` packs every external-data file the graph references (torch >= 2.9
writes weights over 1 KB to ``model.onnx.data``), refuses a referenced file that is missing or lies
outside the folder, and the archive, extracted, scores as the exporter's framework did."""

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dr_onnx_hooks import load_model, score
from helpers import ATOL, ROOT
from models import external_data_expected, external_data_model, features, move_external_data

SCRIPT = ROOT / "scripts" / "archives.py"
TORCH = ROOT / "tests" / "fixtures" / "exporters" / "torch_multiclass_softmax"  # model.onnx + model.onnx.data


def build(folder: Path, output: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "model", str(folder), "--output", str(output)],
        capture_output=True, text=True, timeout=60,
    )


def packed(folder: Path, output: Path) -> dict[str, bytes]:
    """The archive of ``folder``: member name -> bytes (every member a regular file)."""
    result = build(folder, output)
    assert result.returncode == 0, result.stderr
    with tarfile.open(output) as archive:
        assert all(m.isfile() for m in archive.getmembers()), [m.name for m in archive.getmembers()]
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers()}


def extracted(archive: Path, into: Path) -> Path:
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into


def refused(folder: Path, tmp_path: Path) -> str:
    output = tmp_path / "refused.tar.gz"
    result = build(folder, output)
    assert result.returncode != 0, "the archive should have been refused"
    assert not output.exists()
    return result.stderr


def test_torch_archive_holds_the_model_and_its_external_data_only(tmp_path):
    got = packed(TORCH, tmp_path / "custom_model.tar.gz")
    assert set(got) == {"model.onnx", "model.onnx.data"}  # not meta.json, input.csv, expected.csv
    for name, data in got.items():
        assert data == (TORCH / name).read_bytes(), name


def test_torch_archive_round_trip_scores_like_torch_by_class_name(tmp_path):
    archive = tmp_path / "custom_model.tar.gz"
    packed(TORCH, archive)
    code_dir = extracted(archive, tmp_path / "code")
    labels = json.loads((TORCH / "meta.json").read_text())["class_labels"]
    out = score(pd.read_csv(TORCH / "input.csv"), load_model(str(code_dir)), target_type="multiclass",
                class_labels=labels)
    expected = pd.read_csv(TORCH / "expected.csv")
    assert sorted(out.columns) == sorted(labels) and len(out) == len(expected)
    for label in labels:
        np.testing.assert_allclose(out[label], expected[label], atol=ATOL, err_msg=f"column {label!r}")


def test_missing_external_data_is_refused_naming_the_file(tmp_path):
    folder = tmp_path / "torch"
    shutil.copytree(TORCH, folder)
    (folder / "model.onnx.data").unlink()
    message = refused(folder, tmp_path)
    assert "'model.onnx.data', which is missing" in message


def test_initializers_constants_and_subgraph_constants_are_all_packed(tmp_path):
    folder = external_data_model(tmp_path / "m").parent
    (folder / "notes.md").write_text("not shipped")
    (folder / "custom.py").write_text("from dr_onnx_hooks import load_model, score\n")
    archive = tmp_path / "custom_model.tar.gz"
    assert set(packed(folder, archive)) == {"model.onnx", "w.bin", "c.bin", "sub/then.bin", "sub/else.bin", "custom.py"}
    rows = features(12)
    out = score(rows, load_model(str(extracted(archive, tmp_path / "code"))), target_type="regression")
    np.testing.assert_allclose(out["Predictions"], external_data_expected(rows), rtol=1e-6, atol=ATOL)


@pytest.mark.parametrize("where", ["parent", "absolute", "dotdot-inside"])
def test_external_data_outside_the_folder_is_refused_naming_it(tmp_path, where):
    model = external_data_model(tmp_path / "m")
    location = {
        "parent": "../outside.bin", "absolute": str(tmp_path / "absolute.bin"), "dotdot-inside": "sub/../w2.bin",
    }[where]
    move_external_data(model, "w.bin", location)
    message = refused(model.parent, tmp_path)
    assert f"external data at {location!r}, outside the model folder" in message


def test_a_link_is_packed_as_its_file_unless_it_leads_outside(tmp_path):
    model = external_data_model(tmp_path / "m")
    data = model.parent / "w.bin"
    inside = model.parent / "sub" / "real.bin"
    data.rename(inside)
    data.symlink_to(inside)
    assert packed(model.parent, tmp_path / "ok.tar.gz")["w.bin"] == inside.read_bytes()
    outside = tmp_path / "elsewhere.bin"
    inside.rename(outside)
    data.unlink()
    data.symlink_to(outside)
    assert "'w.bin', a link that leads outside" in refused(model.parent, tmp_path)
