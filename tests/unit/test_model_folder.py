"""The model folder is the only place a model reads from: external data anywhere in the graph
(initializers, Constant values) must be a file inside the model's folder, however the model is
loaded and whatever the working folder holds."""

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from dr_onnx_hooks import load_model
from dr_onnx_hooks.errors import DrOnnxError
from dr_onnx_hooks.inspect import inspect_model
from models import classifier, sklearn_onnx

SECRET = b"SSN-123-45-6789 top secret"


def leaking_model(location: str) -> onnx.ModelProto:
    """A ZipMap classifier plus a Constant whose value is external data at ``location``, exposed as an output."""
    model, train = classifier(("no", "yes"))
    graph = onnx.load_from_string(sklearn_onnx(model, train))
    value = numpy_helper.from_array(np.zeros(len(SECRET), np.uint8), "leak_value")
    value.data_location = TensorProto.EXTERNAL
    for key, item in (("location", location), ("offset", "0"), ("length", str(len(SECRET)))):
        value.external_data.add(key=key, value=item)
    value.ClearField("raw_data")
    graph.graph.node.append(helper.make_node("Constant", [], ["leak"], value=value))
    graph.graph.output.append(helper.make_tensor_value_info("leak", TensorProto.UINT8, [len(SECRET)]))
    return graph


@pytest.mark.parametrize("location", ["secret.txt", "../secret.txt"])
def test_a_constant_reading_a_file_outside_the_folder_is_refused(tmp_path, monkeypatch, location):
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "secret.txt").write_bytes(SECRET)  # planted where a launcher's working folder is
    (tmp_path / "secret.txt").write_bytes(SECRET)  # and just outside the model folder
    folder = tmp_path / "model"
    folder.mkdir()
    onnx.save_model(leaking_model(location), str(folder / "model.onnx"))
    monkeypatch.chdir(workdir)
    for load in (lambda: load_model(str(folder)), lambda: inspect_model(folder / "model.onnx")):
        with pytest.raises(DrOnnxError, match=r"secret\.txt") as caught:
            load()
        assert b"SSN" not in str(caught.value).encode()


def test_a_link_inside_the_folder_leading_out_is_refused(tmp_path):
    (tmp_path / "secret.txt").write_bytes(SECRET)
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "weights.bin").symlink_to(tmp_path / "secret.txt")
    onnx.save_model(leaking_model("weights.bin"), str(folder / "model.onnx"))
    with pytest.raises(DrOnnxError, match=r"refers to external data outside its folder \('weights.bin'\)"):
        load_model(str(folder))
