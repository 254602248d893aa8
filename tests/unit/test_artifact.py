import pytest

from dr_onnx_hooks import load_model
from dr_onnx_hooks.errors import DrOnnxError
from models import softmax_graph, write_model


def test_finds_the_one_onnx_file_whatever_its_case(tmp_path):
    write_model(tmp_path, softmax_graph(), name="Model.ONNX")
    (tmp_path / "notes.txt").write_text("hi")
    assert load_model(str(tmp_path)).path.name == "Model.ONNX"


def test_no_onnx_file_lists_what_the_folder_holds(tmp_path):
    (tmp_path / "custom.py").write_text("")
    (tmp_path / "model.pkl").write_bytes(b"x")
    with pytest.raises(DrOnnxError, match=r"No \.onnx file.*custom\.py, model\.pkl"):
        load_model(str(tmp_path))


def test_empty_folder_says_so(tmp_path):
    with pytest.raises(DrOnnxError, match=r"No \.onnx file.*\(nothing\)"):
        load_model(str(tmp_path))


def test_several_onnx_files_are_each_named(tmp_path):
    write_model(tmp_path, softmax_graph(), name="a.onnx")
    write_model(tmp_path, softmax_graph(), name="b.ONNX")
    with pytest.raises(DrOnnxError, match=r"2 \.onnx files.*a\.onnx, b\.ONNX"):
        load_model(str(tmp_path))


def test_onnx_files_in_subfolders_are_not_the_model(tmp_path):
    write_model(tmp_path / "old", softmax_graph())
    with pytest.raises(DrOnnxError, match="No .onnx file"):
        load_model(str(tmp_path))


def test_corrupt_file_is_named_with_the_reason(tmp_path):
    (tmp_path / "broken.onnx").write_bytes(b"\x08\x07not a protobuf at all \xff\xfe")
    with pytest.raises(DrOnnxError, match=r"broken\.onnx.*(not a readable ONNX model|onnxruntime cannot load)"):
        load_model(str(tmp_path))


def test_valid_protobuf_that_onnxruntime_rejects_gives_onnxruntimes_reason(tmp_path):
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(DrOnnxError, match=r"empty\.onnx") as caught:
        load_model(str(tmp_path))
    assert caught.value.status_code == 500


def test_missing_folder(tmp_path):
    with pytest.raises(DrOnnxError, match="does not exist"):
        load_model(str(tmp_path / "nope"))


def test_a_link_pointing_outside_the_folder_is_refused(tmp_path):
    write_model(tmp_path / "elsewhere", softmax_graph())
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.onnx").symlink_to(tmp_path / "elsewhere" / "model.onnx")
    with pytest.raises(DrOnnxError, match=r"model\.onnx .* is a link to .*elsewhere/model\.onnx"
                                          r".*outside the model folder"):
        load_model(str(tmp_path / "model"))


def test_a_link_inside_the_folder_is_followed(tmp_path):
    write_model(tmp_path / "model" / "v2", softmax_graph())
    (tmp_path / "model" / "model.onnx").symlink_to(tmp_path / "model" / "v2" / "model.onnx")
    assert load_model(str(tmp_path / "model")).path.name == "model.onnx"
