"""Bad input at the import entry point: one-line `ModelError`s naming the problem and the fix, exit code 2 in the
CLI. Also external data (`.onnx.data`) that is present, missing or truncated."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from compiler.cli import main
from compiler.errors import ModelError
from compiler.frontend import import_onnx, run_onnxruntime

F = TensorProto.FLOAT


def conv_model(opset: int = 13, batch: int | str = 1, extra_nodes=(), out: str = "y") -> onnx.ModelProto:
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], name="conv1"),
             helper.make_node("Relu", ["c"], ["y"], name="relu1"), *extra_nodes]
    inits = [numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.standard_normal(8).astype(np.float32), "b")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", F, [batch, 3, 8, 8])],
                              [helper.make_tensor_value_info(out, F, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def one_line_error(fn, *args, **kwargs) -> str:
    with pytest.raises(ModelError) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg and msg
    return msg


def cli(*argv: str, capsys) -> tuple[int, str, str]:
    code = main(["inspect", *argv])
    out, err = capsys.readouterr()
    return code, out, err


# --- unreadable files ----------------------------------------------------------------------------------------
def test_truncated_file_every_cut_is_a_model_error(tmp_path):
    data = conv_model().SerializeToString()
    rng = np.random.default_rng(0)
    cuts = sorted({1, 2, 7, len(data) // 3, len(data) // 2, len(data) - 5, len(data) - 1,
                   *rng.integers(1, len(data), 40).tolist()})
    path = tmp_path / "cut.onnx"
    for cut in cuts:
        path.write_bytes(data[:cut])
        msg = one_line_error(import_onnx, path)
        assert "cut.onnx" in msg and ("truncated" in msg or "not an ONNX" in msg), (cut, msg)


def test_truncated_file_cli_exit_2(tmp_path, capsys):
    path = tmp_path / "m.onnx"
    path.write_bytes(conv_model().SerializeToString()[:100])
    code, out, err = cli(str(path), capsys=capsys)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith("ovl inspect: error: ") and "truncated" in err


@pytest.mark.parametrize("content", [b"", b"hello world\n", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b'{"a": [1, 2]}',
                                     bytes(range(256))])
def test_not_onnx(tmp_path, capsys, content):
    path = tmp_path / "weird.onnx"
    path.write_bytes(content)
    msg = one_line_error(import_onnx, path)
    assert "not an ONNX model" in msg or "not an ONNX" in msg
    assert cli(str(path), capsys=capsys)[0] == 2


def test_missing_file(tmp_path, capsys):
    assert "no such file" in one_line_error(import_onnx, tmp_path / "nope.onnx")
    assert cli(str(tmp_path / "nope.onnx"), capsys=capsys)[0] == 2


# --- unsupported content -------------------------------------------------------------------------------------
def test_unsupported_operator_names_node_op_opset(tmp_path, capsys):
    extra = [helper.make_node("Einsum", ["y", "y"], ["z"], equation="nchw,nchw->nc", name="my_einsum")]
    model = conv_model(opset=17, extra_nodes=extra, out="z")
    msg = one_line_error(import_onnx, model)
    assert "my_einsum" in msg and "Einsum" in msg and "opset 17" in msg and "not supported" in msg
    path = tmp_path / "einsum.onnx"
    onnx.save(model, path)
    code, _, err = cli(str(path), capsys=capsys)
    assert code == 2 and "my_einsum" in err


def test_custom_domain_operator():
    extra = [helper.make_node("FusedGelu", ["y"], ["z"], domain="com.microsoft", name="gelu")]
    model = conv_model(extra_nodes=extra, out="z")
    model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    msg = one_line_error(import_onnx, model)
    assert "gelu" in msg and "com.microsoft" in msg


def test_data_dependent_parameter():
    extra = [helper.make_node("Reshape", ["y", "shape_in"], ["z"], name="dyn_reshape")]
    model = conv_model(extra_nodes=extra, out="z")
    model.graph.input.append(helper.make_tensor_value_info("shape_in", TensorProto.INT64, [2]))
    msg = one_line_error(import_onnx, model)
    assert "dyn_reshape" in msg and "must be a constant" in msg


def test_old_opset_suggests_conversion():
    msg = one_line_error(import_onnx, conv_model(opset=8))
    assert "opset 8" in msg and "version_converter" in msg


# --- dynamic input dimensions ----------------------------------------------------------------------------------
def test_dynamic_dimension_tells_user_the_flag(tmp_path, capsys):
    model = conv_model(batch="batch")
    msg = one_line_error(import_onnx, model)
    assert "input 'x'" in msg and "--input-shape x=1x3x8x8" in msg
    g = import_onnx(model, input_shapes={"x": (2, 3, 8, 8)})
    assert g.tensors["y"].shape == (2, 8, 8, 8)
    path = tmp_path / "dyn.onnx"
    onnx.save(model, path)
    code, _, err = cli(str(path), capsys=capsys)
    assert code == 2 and "--input-shape x=1x3x8x8" in err
    code, out, _ = cli(str(path), "--input-shape", "x=4x3x8x8", capsys=capsys)
    assert code == 0 and "4x8x8x8" in out


def test_input_shape_errors(tmp_path, capsys):
    model = conv_model(batch="n")
    assert "changes dimension 1" in one_line_error(import_onnx, model, input_shapes={"x": (1, 4, 8, 8)})
    assert "rank 3" in one_line_error(import_onnx, model, input_shapes={"x": (1, 3, 8)})
    assert "'w', which is a weight" in one_line_error(import_onnx, model, input_shapes={"w": (1,)})
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    for bad in ("x", "x=1x3xfoo", "=1x2", "x=1x0x8x8"):
        code, _, err = cli(str(path), "--input-shape", bad, capsys=capsys)
        assert code == 2 and "--input-shape" in err and err.count("\n") == 1


# --- external data ---------------------------------------------------------------------------------------------
def _save_external(model: onnx.ModelProto, path) -> None:
    copy = onnx.ModelProto()
    copy.CopyFrom(model)  # onnx.save converts the proto it is given to external references
    onnx.save(copy, path, save_as_external_data=True, all_tensors_to_one_file=True,
              location=path.name + ".data", size_threshold=0)


def test_external_data_loads_and_runs(tmp_path):
    model = conv_model()
    path = tmp_path / "ext.onnx"
    _save_external(model, path)
    assert (tmp_path / "ext.onnx.data").stat().st_size > 800
    g = import_onnx(path)
    x = np.random.default_rng(1).standard_normal((1, 3, 8, 8)).astype(np.float32)
    inline = import_onnx(model)
    np.testing.assert_array_equal(run_onnxruntime(g, {"x": x})["y"], run_onnxruntime(inline, {"x": x})["y"])


def test_missing_or_truncated_external_data(tmp_path, capsys):
    path = tmp_path / "ext.onnx"
    _save_external(conv_model(), path)
    data = tmp_path / "ext.onnx.data"
    blob = data.read_bytes()
    data.write_bytes(blob[:50])
    msg = one_line_error(import_onnx, path)
    assert "ext.onnx.data" in msg and "truncated" in msg
    data.unlink()
    msg = one_line_error(import_onnx, path)
    assert "'ext.onnx.data'" in msg and "missing" in msg and "'w'" in msg
    assert cli(str(path), capsys=capsys)[0] == 2
    unloaded = onnx.load(path, load_external_data=False)
    assert "pass the model path" in one_line_error(import_onnx, unloaded)


def test_random_operators_are_not_folded_into_constants():
    extra = [helper.make_node("RandomNormal", [], ["noise"], shape=[1, 8, 8, 8], name="noise_gen"),
             helper.make_node("Add", ["y", "noise"], ["z"])]
    msg = one_line_error(import_onnx, conv_model(extra_nodes=extra, out="z"))
    assert "noise_gen" in msg and "RandomNormal" in msg
