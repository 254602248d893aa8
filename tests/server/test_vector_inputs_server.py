"""Models with several inputs, one of them a vector (``num`` ``[N, 3]`` reads ``num_0..num_2``,
``cat`` ``[N, 1]`` reads ``cat``), through the real ``drum score``. ``tests/unit/test_vector_inputs.py``
checks the same models through ``score()``.
"""

import numpy as np
import pandas as pd
import pytest

from drum_helpers import label_args, run_drum_score, write_code_dir
from helpers import ATOL, csv_bytes
from models import vector_pipeline, vector_pipeline_onnx, vector_text_expected, vector_text_frame, vector_text_graph

pytestmark = pytest.mark.drum

RTOL = 1e-6


def test_drum_score_reads_vector_columns_by_name(tmp_path):
    rows = vector_text_frame(30, seed=3)
    sent = rows.assign(id=np.arange(len(rows)))[["cat", "num_1", "id", "num_0", "num_2"]]
    input_csv, output_csv = tmp_path / "input.csv", tmp_path / "output.csv"
    input_csv.write_bytes(csv_bytes(sent))
    code_dir = write_code_dir(tmp_path / "model", vector_text_graph())
    result = run_drum_score(code_dir, input_csv, output_csv, "regression")
    assert result.returncode == 0, f"drum score failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    out = pd.read_csv(output_csv)
    np.testing.assert_allclose(out["Predictions"], vector_text_expected(rows), rtol=RTOL, atol=ATOL)


def test_drum_score_missing_vector_column_names_it(tmp_path):
    model, _ = vector_pipeline()
    sent = vector_text_frame(5).drop(columns=["num_2"])
    input_csv = tmp_path / "input.csv"
    input_csv.write_bytes(csv_bytes(sent))
    code_dir = write_code_dir(tmp_path / "model", vector_pipeline_onnx(model))
    result = run_drum_score(code_dir, input_csv, tmp_path / "out.csv", "binary", label_args("yes", "no"))
    assert result.returncode != 0
    assert "Missing column(s) for model input(s): 'num_2'." in result.stdout + result.stderr
