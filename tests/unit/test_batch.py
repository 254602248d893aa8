"""``dr-onnx-score`` in-process (``batch.main``): every input format and both outputs against what
``score()`` returns for the same rows read as DRUM reads them (``tests/server/test_batch_vs_drum.py``:
against the real ``drum score``), chunk boundaries, ``--keep``, errors naming file, row and column,
no output left behind on error, and progress."""

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from dr_onnx_hooks import __main__ as package_main
from dr_onnx_hooks import batch, score
from dr_onnx_hooks.artifact import find_artifact
from dr_onnx_hooks.plan import ModelPlan
from dr_onnx_hooks.reading import Limits, RequestReader, TextColumns
from dr_onnx_hooks.settings import Settings
from helpers import arrow_bytes, assert_like_sklearn, csv_bytes, label_kwargs
from models import (
    ZIPS,
    as_sent,
    classifier,
    exported_pipeline,
    features,
    labels_in_other_order,
    regressor,
    request_rows,
    sent_labels,
    sklearn_onnx,
    write_model,
    zip_classifier,
)


def label_args(target: str, labels) -> list[str]:
    """The label flags of ``dr-onnx-score`` (as ``drum score``'s); binary ``labels`` are (negative, positive)."""
    if target == "binary":
        return ["--negative-class-label", labels[0], "--positive-class-label", labels[1]]
    return ["--class-labels", *labels] if target == "multiclass" else []


def run_cli(model: Path, source: Path, output: Path, target: str, labels=(), *extra: str) -> int:
    return batch.main([str(model), "--input", str(source), "--output", str(output), "--target-type", target,
                       *label_args(target, labels), *extra])


def expected(model: Path, body: bytes, target: str, labels) -> pd.DataFrame:
    """What ``score()`` returns for ``body`` read by our ``read_input_data``, as ``drum score`` calls them."""
    plan = ModelPlan.load(find_artifact(model), Settings.read(environ={}))
    frame = RequestReader(Limits(), TextColumns.of(plan.feed))(body)
    return score(frame, plan, target_type=target, **label_kwargs(target, labels))


def read_output(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Same column names in the same order, same values: CSV floats are written to round-trip exactly
    in the type ``score()`` gives (float32 regression outputs as float32, like pandas' ``to_csv``)."""
    assert list(got.columns) == [str(c) for c in want.columns]
    assert len(got) == len(want)
    for column in want.columns:
        expected = want[column].to_numpy()
        np.testing.assert_array_equal(got[str(column)].to_numpy(expected.dtype), expected, err_msg=str(column))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".partial"))


ROWS = 2600  # over two chunks of the smallest size (settings.MIN_CHUNK_ROWS)


@pytest.fixture(scope="module")
def binary(tmp_path_factory):
    """A binary no/yes logistic regression (ZipMap) and ``ROWS`` rows of its 4 float features."""
    model, frame = classifier(["no", "yes"])
    folder = write_model(tmp_path_factory.mktemp("binary"), sklearn_onnx(model, frame))
    return folder, model, features(ROWS, 4, seed=5)


# --- every input format, both outputs -------------------------------------------------------------

def write_input(frame: pd.DataFrame, folder: Path, fmt: str) -> Path:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    if fmt == "csv":
        path = folder / "in.csv"
        path.write_bytes(csv_bytes(frame))
    elif fmt == "parquet":
        path = folder / "in.parquet"
        pq.write_table(table, path, row_group_size=100)
    elif fmt in ("arrow-file", "arrow-stream"):
        path = folder / "in.arrow"
        path.write_bytes(arrow_bytes(table, stream=fmt == "arrow-stream"))
    elif fmt == "parquet-folder":
        path = folder / "in_parts"
        path.mkdir()
        for i, start in enumerate(range(0, len(frame), 700)):
            pq.write_table(table.slice(start, 700), path / f"part-{i:05d}.parquet", row_group_size=300)
        (path / "_SUCCESS").write_bytes(b"")  # as Spark leaves it: ignored
    else:
        raise ValueError(fmt)
    return path


@pytest.mark.parametrize("output", ["out.csv", "out.parquet"])
@pytest.mark.parametrize("fmt", ["csv", "parquet", "parquet-folder", "arrow-file", "arrow-stream"])
def test_every_input_format_and_output_give_score_columns(tmp_path, binary, fmt, output):
    folder, model, rows = binary
    labels = ("yes", "no")  # (negative, positive): DataRobot's positive class is the model's FIRST class
    source = write_input(rows, tmp_path, fmt)
    assert run_cli(folder, source, tmp_path / output, "binary", labels, "--chunk-rows", "7") == 0
    got = read_output(tmp_path / output)
    assert_same(got, expected(folder, csv_bytes(rows), "binary", labels))
    assert_like_sklearn(got, model, rows, "binary", labels)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("target", ["multiclass", "regression"])
def test_multiclass_and_regression(tmp_path, target):
    if target == "multiclass":
        model, frame = classifier(["ant", "cat", "dog"])
    else:
        model, frame = regressor()
    folder = write_model(tmp_path / "model", sklearn_onnx(model, frame))
    rows = frame.head(30)
    labels = labels_in_other_order(model.classes_) if target == "multiclass" else ()
    (tmp_path / "in.csv").write_bytes(csv_bytes(rows))
    assert run_cli(folder, tmp_path / "in.csv", tmp_path / "out.csv", target, labels) == 0
    got = pd.read_csv(tmp_path / "out.csv")
    assert_same(got, expected(folder, csv_bytes(rows), target, labels))
    assert_like_sklearn(got, model, rows, target, labels)


@pytest.mark.parametrize("target", ["binary", "multiclass", "regression"])
def test_multi_input_pipeline_reads_columns_by_name_and_keeps_the_id(tmp_path, target):
    """skl2onnx ColumnTransformer: text, float and int64 inputs read by name from a client's table
    (an id and the target column besides, another order, a blank in the zone codes)."""
    model, onnx = exported_pipeline(target)
    folder = write_model(tmp_path / "model", onnx)
    rows = request_rows(40)
    body = csv_bytes(as_sent(rows))
    (tmp_path / "in.csv").write_bytes(body)
    labels = sent_labels(model, target)
    assert run_cli(folder, tmp_path / "in.csv", tmp_path / "out.csv", target, labels, "--keep", "id",
                   "--chunk-rows", "9") == 0
    got = pd.read_csv(tmp_path / "out.csv")
    assert list(got["id"]) == list(as_sent(rows)["id"])
    assert_same(got.drop(columns="id"), expected(folder, body, target, labels))
    assert_like_sklearn(got.drop(columns="id"), model, rows, target, labels)


def test_string_input_codes_stay_text(tmp_path):
    """A string input's column is read as written: 02134 reaches the one-hot encoder as '02134'."""
    model, onnx, frame = zip_classifier()
    folder = write_model(tmp_path / "model", onnx)
    rows = frame.head(40)
    (tmp_path / "in.csv").write_bytes(csv_bytes(rows))
    assert set(rows["zip"]) <= set(ZIPS)
    assert run_cli(folder, tmp_path / "in.csv", tmp_path / "out.parquet", "binary", ("no", "yes")) == 0
    got = pd.read_parquet(tmp_path / "out.parquet")
    assert_like_sklearn(got, model, rows, "binary", ("no", "yes"))


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_chunk_sizes_give_identical_output(tmp_path, binary, fmt):
    folder, _, rows = binary
    source = write_input(rows, tmp_path, fmt)
    outputs = []
    for chunk in (1, 7, 2000, 10_000):
        out = tmp_path / f"out-{chunk}.csv"
        assert run_cli(folder, source, out, "binary", ("no", "yes"), "--chunk-rows", str(chunk)) == 0
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2] == outputs[3]
    assert len(pd.read_csv(io.BytesIO(outputs[0]))) == len(rows)


def test_keep_columns_come_first_verbatim_and_are_not_fed(tmp_path, binary):
    """A one-input model reads every column but the kept ones; kept CSV columns are copied as written."""
    folder, model, rows = binary
    sent = rows.assign(id=[f"{i:04d}" for i in range(len(rows))], batch="b")[["batch", *rows.columns, "id"]]
    (tmp_path / "in.csv").write_bytes(csv_bytes(sent))
    assert run_cli(folder, tmp_path / "in.csv", tmp_path / "out.csv", "binary", ("no", "yes"),
                   "--keep", "id", "--keep", "batch") == 0
    got = pd.read_csv(tmp_path / "out.csv", dtype={"id": str})
    assert list(got.columns[:2]) == ["id", "batch"]
    assert list(got["id"]) == list(sent["id"])  # 0001 stays 0001
    assert_like_sklearn(got.drop(columns=["id", "batch"]), model, rows, "binary", ("no", "yes"))


def test_class_labels_file_and_python_m_score(tmp_path):
    model, frame = classifier(["ant", "cat", "dog"])
    folder = write_model(tmp_path / "model", sklearn_onnx(model, frame))
    rows = frame.head(20)
    (tmp_path / "in.csv").write_bytes(csv_bytes(rows))
    (tmp_path / "labels.txt").write_text("dog\ncat\nant\n")
    status = package_main.main([
        "score", str(folder / "model.onnx"), "-i", str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv"),
        "--target-type", "multiclass", "--class-labels-file", str(tmp_path / "labels.txt"),
    ])
    assert status == 0
    assert_like_sklearn(pd.read_csv(tmp_path / "out.csv"), model, rows, "multiclass", ["dog", "cat", "ant"])


def test_input_without_rows_gives_the_header(tmp_path, binary):
    folder, _, rows = binary
    (tmp_path / "in.csv").write_text(",".join(["id", *rows.columns]) + "\n")
    assert run_cli(folder, tmp_path / "in.csv", tmp_path / "out.csv", "binary", ("no", "yes"), "--keep", "id") == 0
    got = pd.read_csv(tmp_path / "out.csv")
    assert list(got.columns) == ["id", "no", "yes"] and len(got) == 0


# --- errors ---------------------------------------------------------------------------------------

def failed(capsys, tmp_path, folder, source, output, *extra, target="binary", labels=("no", "yes")) -> str:
    status = run_cli(folder, source, output, target, labels, *extra)
    err = capsys.readouterr().err
    assert status == batch.FAILED, err
    assert not output.exists() or output.read_bytes() == b"before", err
    assert leftovers(output.parent) == []
    return err


@pytest.mark.parametrize("chunk", ["1024", "5000"])
def test_value_that_is_not_a_number_names_file_row_and_column(capsys, tmp_path, binary, chunk):
    folder, _, rows = binary
    body = csv_bytes(rows).decode().splitlines()
    fields = body[2023].split(",")  # data row 2023, in the second chunk
    fields[2] = "abc"  # column f2
    body[2023] = ",".join(fields)
    source = tmp_path / "in.csv"
    source.write_text("\n".join(body) + "\n")
    err = failed(capsys, tmp_path, folder, source, tmp_path / "out.csv", "--chunk-rows", chunk)
    assert str(source) in err and "row 2023," in err and "'f2'" in err and "not a number" in err


def test_row_with_missing_fields_names_file_and_row(capsys, tmp_path, binary):
    folder, _, rows = binary
    body = csv_bytes(rows).decode().splitlines()
    body[2031] = "0.5,0.25"
    source = tmp_path / "in.csv"
    source.write_text("\n".join(body) + "\n")
    output = tmp_path / "out.csv"
    output.write_bytes(b"before")  # an earlier output is left as it was
    err = failed(capsys, tmp_path, folder, source, output, "--chunk-rows", "1024")
    assert str(source) in err and "row 2031 has 2 fields; the header has 4" in err


def test_error_from_the_scoring_path_counts_rows_in_the_file(capsys, tmp_path):
    """The int64 input's cast refuses a fraction at row 476 of its chunk: the message says row 1500 of the file."""
    model, onnx = exported_pipeline("binary")
    folder = write_model(tmp_path / "model", onnx)
    sent = as_sent(request_rows(2100)).astype({"visits": float})
    sent.loc[1499, "visits"] = 2.5  # data row 1500; the second chunk starts after row 1024
    source = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pandas(sent, preserve_index=False), source, row_group_size=500)
    err = failed(capsys, tmp_path, folder, source, tmp_path / "out.parquet", "--chunk-rows", "1024",
                 labels=sent_labels(model, "binary"))
    assert str(source) in err and "'visits'" in err and "row 1500" in err and "row 476" not in err


def test_missing_column_fails_before_writing(capsys, tmp_path):
    model, onnx = exported_pipeline("regression")
    folder = write_model(tmp_path / "model", onnx)
    source = tmp_path / "in.csv"
    source.write_bytes(csv_bytes(as_sent(request_rows(5)).drop(columns="income")))
    err = failed(capsys, tmp_path, folder, source, tmp_path / "out.csv", target="regression", labels=())
    assert str(source) in err and "income" in err


def test_keep_of_a_column_the_input_lacks(capsys, tmp_path, binary):
    folder, _, rows = binary
    (tmp_path / "in.csv").write_bytes(csv_bytes(rows))
    err = failed(capsys, tmp_path, folder, tmp_path / "in.csv", tmp_path / "out.csv", "--keep", "id")
    assert "--keep names 'id'" in err


def test_output_extension_and_missing_input(capsys, tmp_path, binary):
    folder, _, rows = binary
    (tmp_path / "in.csv").write_bytes(csv_bytes(rows))
    assert ".parquet" in failed(capsys, tmp_path, folder, tmp_path / "in.csv", tmp_path / "out.txt")
    assert "does not exist" in failed(capsys, tmp_path, folder, tmp_path / "nothing.csv", tmp_path / "out.csv")


def test_writer_failure_leaves_no_output(tmp_path, binary, monkeypatch):
    folder, _, rows = binary
    (tmp_path / "in.csv").write_bytes(csv_bytes(rows))

    def full(self, table):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(batch.Sink, "write", full)
    assert run_cli(folder, tmp_path / "in.csv", tmp_path / "out.csv", "binary", ("no", "yes")) == 1
    assert not (tmp_path / "out.csv").exists() and leftovers(tmp_path) == []


# --- progress -------------------------------------------------------------------------------------

def test_progress_only_when_asked(capsys, tmp_path, binary):
    folder, _, rows = binary
    (tmp_path / "in.csv").write_bytes(csv_bytes(rows))
    assert run_cli(folder, tmp_path / "in.csv", tmp_path / "out.csv", "binary", ("no", "yes")) == 0
    assert capsys.readouterr().err == ""  # stderr is not a terminal here
    assert run_cli(folder, tmp_path / "in.csv", tmp_path / "out.csv", "binary", ("no", "yes"), "--progress") == 0
    err = capsys.readouterr().err
    assert f"{len(rows):,} rows scored in" in err and "rows/s" in err and str(tmp_path / "out.csv") in err


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_on_a_terminal_shows_rate_and_eta(tmp_path, binary):
    folder, _, rows = binary
    source = write_input(rows, tmp_path, "parquet")
    terminal = Terminal()
    progress = batch.Progress(terminal, batch.open_source(source, 1024))
    progress.interval = 0
    progress.update(ROWS // 2)
    progress.finish(ROWS, tmp_path / "out.csv")
    shown = terminal.getvalue()
    assert f"\r{ROWS // 2:,} rows" in shown and "rows/s, 50%, ETA" in shown and shown.endswith("\n")


def test_csv_progress_is_told_by_bytes(tmp_path, binary):
    folder, _, rows = binary
    source = tmp_path / "in.csv"
    pcsv.write_csv(pa.Table.from_pandas(pd.concat([rows] * 10), preserve_index=False), source)
    csv_source = batch.open_source(source, 1024)
    columns = batch.Columns(tuple(rows.columns), tuple(rows.columns), (), dict.fromkeys(rows.columns, "tensor(float)"))
    chunks = csv_source.chunks(columns, 1024)
    next(chunks)
    assert 0 < csv_source.done() <= 1
    chunks.close()
    assert os.path.getsize(source) > batch.MIN_BLOCK  # more than one block: the fraction means something


@pytest.mark.parametrize("sizes", [[5, 1, 7, 3], [30], [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1], [11, 0, 4]])
@pytest.mark.parametrize("rows, least", [(4, 3), (1, 1), (100, 1)])
def test_rechunk_keeps_every_row_once_in_order_without_a_short_tail(sizes, rows, least):
    numbers = iter(range(sum(sizes)))
    batches = [pa.record_batch({"x": [next(numbers) for _ in range(n)]}) for n in sizes]
    chunks = list(batch.rechunk(batches, rows, least))
    assert [v for _, table in chunks for v in table.column("x").to_pylist()] == list(range(sum(sizes)))
    assert [start for start, _ in chunks] == [sum(t.num_rows for _, t in chunks[:i]) for i in range(len(chunks))]
    assert all(table.num_rows == rows for _, table in chunks[:-1])
    assert len(chunks) == 1 or rows + least > chunks[-1][1].num_rows >= least


# --- CSV segments parsed side by side, and the streaming reader after a quote ---------------------

@pytest.fixture
def tiny_segments(monkeypatch):
    """Segments of about one line, so every file below is cut in many places."""
    monkeypatch.setattr(batch, "MIN_BLOCK", 64)
    monkeypatch.setattr(batch, "ROWS_PER_BLOCK", 1)
    monkeypatch.setattr(batch, "SEGMENTS_PER_CHUNK", 100_000)


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
def test_csv_cut_into_segments_reads_as_drum_does(tmp_path, binary, tiny_segments, ending):
    folder, _, rows = binary
    lines = csv_bytes(rows.head(300)).decode().splitlines()
    lines[100:100] = ["", ""]  # blank lines are skipped, as pandas skips them
    lines[7] = ",".join(["1E-1", " +0.5", *lines[7].split(",")[2:]])  # numbers as people write them
    body = ending.join(lines).encode()  # and no line break after the last row
    (tmp_path / "in.csv").write_bytes(body)
    assert run_cli(folder, tmp_path / "in.csv", tmp_path / "out.csv", "binary", ("no", "yes")) == 0
    assert_same(pd.read_csv(tmp_path / "out.csv"), expected(folder, body, "binary", ("no", "yes")))


def test_quoted_line_breaks_after_the_start_go_to_the_streaming_reader(tmp_path, tiny_segments):
    """Plain lines first, parsed in segments; from a quote on (a code quoted, a line break inside a
    quoted code), the streaming reader, which keeps quoted line breaks inside their field."""
    model, onnx, frame = zip_classifier()
    folder = write_model(tmp_path / "model", onnx)
    rows = frame.head(200).reset_index(drop=True)
    lines = csv_bytes(rows).decode().splitlines()
    lines[150] = lines[150].replace(rows.loc[149, "zip"], f'"{rows.loc[149, "zip"]}"')
    lines[170] = lines[170].replace(rows.loc[169, "zip"], '"021\n34"')
    body = ("\n".join(lines) + "\n").encode()
    source = tmp_path / "in.csv"
    source.write_bytes(body)
    assert run_cli(folder, source, tmp_path / "out.csv", "binary", ("no", "yes"), "--keep", "zip") == 0
    got = pd.read_csv(tmp_path / "out.csv", dtype={"zip": str})
    assert len(got) == len(rows) and got.loc[169, "zip"] == "021\n34" and got.loc[149, "zip"] == rows.loc[149, "zip"]
    assert_same(got.drop(columns="zip"), expected(folder, body, "binary", ("no", "yes")))
    assert list(got["zip"].drop(index=169)) == list(rows["zip"].drop(index=169))


def test_error_in_a_later_segment_names_its_row(capsys, tmp_path, binary, tiny_segments):
    folder, _, rows = binary
    lines = csv_bytes(rows.head(400)).decode().splitlines()
    lines[333] = "1,2,3,x4"
    source = tmp_path / "in.csv"
    source.write_text("\n".join(lines) + "\n")
    err = failed(capsys, tmp_path, folder, source, tmp_path / "out.csv")
    assert f"{source}: row 333, column 'f3'" in err
