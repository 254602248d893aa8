"""``dr_onnx_hooks.spark.predict`` on a real local Spark (``local[2]``), against ``score()`` on the same
rows (bit for bit) and scikit-learn's own predictions by class name, with DataRobot's labels in
another order than the model's; string and int64 inputs; errors on the driver and in the workers."""

import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from dr_onnx_hooks import score
from dr_onnx_hooks.artifact import find_artifact
from dr_onnx_hooks.errors import InputError, ModelError
from dr_onnx_hooks.plan import ModelPlan
from dr_onnx_hooks.reading import Limits, RequestReader, TextColumns
from dr_onnx_hooks.settings import Settings
from helpers import assert_like_sklearn, csv_bytes, label_kwargs
from models import (
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
)

pytestmark = pytest.mark.spark

ROWS = 3000  # two partitions of more than 1024 rows: the runs the contract's one run would make


def spark_predict(*args, **kwargs):
    from dr_onnx_hooks.spark import predict

    return predict(*args, **kwargs)


def collected(df) -> pd.DataFrame:
    return df.toArrow().to_pandas()


def expected(folder, frame: pd.DataFrame, target: str, labels) -> pd.DataFrame:
    """``score()`` on ``frame`` sent as CSV and read by our ``read_input_data``, as ``drum score`` runs it."""
    plan = ModelPlan.load(find_artifact(folder), Settings.read(environ={}))
    rows = RequestReader(Limits(), TextColumns.of(plan.feed))(csv_bytes(frame))
    return score(rows, plan, target_type=target, **label_kwargs(target, labels))


def assert_identical(got: pd.DataFrame, want: pd.DataFrame) -> None:
    for column in want.columns:
        np.testing.assert_array_equal(got[str(column)].to_numpy(), want[column].to_numpy(), err_msg=str(column))


def with_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(id=np.arange(len(frame)))[["id", *frame.columns]]


@pytest.mark.parametrize("target", ["binary", "multiclass", "regression"])
def test_predict_matches_score_and_sklearn_by_class_name(spark, tmp_path, target):
    if target == "regression":
        model, train = regressor()
    else:
        model, train = classifier(["no", "yes"] if target == "binary" else ["ant", "cat", "dog"])
    folder = write_model(tmp_path / "model", sklearn_onnx(model, train))
    rows = features(ROWS, 4, seed=3)
    labels = labels_in_other_order(model.classes_) if target != "regression" else ()
    df = spark.createDataFrame(pa.Table.from_pandas(with_id(rows), preserve_index=False)).repartition(2)
    out = spark_predict(df, folder, target, **label_kwargs(target, labels), features=list(rows.columns))
    predicted = list(labels) if target != "regression" else ["Predictions"]
    assert out.columns == ["id", *rows.columns, *predicted]
    got = collected(out).sort_values("id").reset_index(drop=True)
    assert_identical(got, expected(folder, rows, target, labels))
    assert_like_sklearn(got[predicted], model, rows, target, labels)


@pytest.mark.parametrize("target", ["binary", "multiclass"])
def test_string_and_int64_inputs_read_by_name(spark, tmp_path, target):
    """A ColumnTransformer pipeline: text (a missing zone code), float and int64 inputs read by name
    from a table with an id and the target column besides, in another order."""
    model, onnx = exported_pipeline(target)
    folder = write_model(tmp_path / "model", onnx)
    rows = request_rows(ROWS)
    sent = as_sent(rows)
    labels = sent_labels(model, target)
    df = spark.createDataFrame(pa.Table.from_pandas(sent, preserve_index=False)).repartition(2)
    assert dict(df.dtypes)["visits"] == "bigint" and dict(df.dtypes)["zone"] == "string"
    got = collected(spark_predict(df, folder, target, **label_kwargs(target, labels))).sort_values("id")
    got = got.reset_index(drop=True)
    assert_identical(got, expected(folder, sent, target, labels))
    assert_like_sklearn(got[list(labels)], model, rows, target, labels)


def test_model_that_fails_to_load_fails_on_the_driver(spark, tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.onnx").write_bytes(b"not a model")
    df = spark.createDataFrame(pa.Table.from_pandas(features(10), preserve_index=False))
    with pytest.raises(ModelError, match="model.onnx"):
        spark_predict(df, tmp_path / "model", "regression")
    with pytest.raises(ModelError, match="does not exist"):
        spark_predict(df, tmp_path / "nothing", "regression")


def test_driver_refuses_a_target_labels_or_columns_it_cannot_serve(spark, tmp_path):
    model, train = classifier(["no", "yes"])
    folder = write_model(tmp_path / "model", sklearn_onnx(model, train))
    df = spark.createDataFrame(pa.Table.from_pandas(with_id(features(10)), preserve_index=False))
    with pytest.raises(ModelError, match="class labels"):
        spark_predict(df, folder, "binary", features=["f0", "f1", "f2", "f3"])
    with pytest.raises(InputError, match="expects 4 column"):  # the id would be fed: say which columns
        spark_predict(df, folder, "binary", positive_class_label="yes", negative_class_label="no")
    with pytest.raises(InputError, match="already has"):
        spark_predict(df.withColumnRenamed("id", "YES"), folder, "binary", positive_class_label="yes",
                      negative_class_label="no", features=["f0", "f1", "f2", "f3"])


def test_bad_value_in_a_worker_names_partition_row_and_column(spark, tmp_path):
    model, train = regressor()
    folder = write_model(tmp_path / "model", sklearn_onnx(model, train))
    rows = features(20).astype({"f2": object})
    rows.loc[13, "f2"] = "abc"  # row 14 of the one partition
    df = spark.createDataFrame(pa.Table.from_pandas(rows.astype({"f2": str}), preserve_index=False)).coalesce(1)
    with pytest.raises(Exception, match=r"partition 0: Column 'f2' holds .* at row 14, which is not a number"):
        spark_predict(df, folder, "regression").collect()


def test_each_worker_loads_the_model_once_with_the_task_cpus_as_threads(spark, tmp_path):
    from dr_onnx_hooks import spark as spark_module

    model, train = regressor()
    folder = write_model(tmp_path / "model", sklearn_onnx(model, train))
    df = spark.createDataFrame(pa.Table.from_pandas(features(400), preserve_index=False)).repartition(8)
    assert spark_predict(df, folder, "regression").count() == 400
    job, shipped = spark_module.prepare(df, folder, "regression")

    def report(batches):  # runs on the workers: the plan each one holds for the model
        plan = spark_module.worker_plan(job, shipped)
        for batch in batches:
            yield pa.RecordBatch.from_pydict({
                "pid": [os.getpid()] * batch.num_rows, "plan": [id(plan)] * batch.num_rows,
                "threads": [plan.settings.session.intra_op_threads] * batch.num_rows,
            })

    seen = collected(spark.range(0, 64, numPartitions=16).mapInArrow(report, "pid long, plan long, threads long"))
    assert len(seen) == 64
    assert (seen.groupby("pid")["plan"].nunique() == 1).all()  # one plan per worker, across tasks
    assert set(seen["threads"]) == {int(spark.conf.get("spark.task.cpus", "1"))}


def test_worker_plan_is_cached_by_digest_and_threads(pyspark_installed, tmp_path):
    """In-process: the same shipped model gives the same plan; another model another."""
    from dr_onnx_hooks import spark as spark_module

    plans = []
    for seed in (0, 0, 1):
        model, train = regressor(seed=seed)
        path = write_model(tmp_path / f"model{seed}", sklearn_onnx(model, train)) / "model.onnx"
        files = spark_module.model_files(path)
        job = spark_module.ScoringJob(
            digest=spark_module.files_digest(files), model_name=path.name, settings=Settings.read(environ={}),
            target="regression", labels=(), features=("f0", "f1", "f2", "f3"), predicted=("Predictions",),
        )
        plans.append(spark_module.worker_plan(job, spark_module.Inline(files)))
    assert plans[0] is plans[1] and plans[0] is not plans[2]
    assert plans[0].settings.session.intra_op_threads == 1  # outside a task: one core
