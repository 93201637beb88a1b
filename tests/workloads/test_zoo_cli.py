"""`ovl zoo list|show|export` and the zoo's user errors (exit code 2, one line naming the problem)."""
from __future__ import annotations

import json

import onnx
import onnxruntime as ort
import pytest
import torch

from test_zoo_reference import relative_error
from compiler.cli import main
from workloads.zoo import ZOO, ZooError, build_ir, build_torch, count_macs, count_params, example_inputs, info
from workloads.zoo.registry import parse_options, parse_shape


def test_list_json_has_every_network_with_ir_counts(capsys):
    assert main(["zoo", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(ZOO)
    for r in rows:
        g = build_ir(r["name"])
        assert (r["macs"], r["params"]) == (count_macs(g), count_params(g))
        assert list(r["inputs"].values()) == [list(s) for s in ZOO[r["name"]].default_shapes]
    googlenet = next(r for r in rows if r["name"] == "googlenet")
    assert googlenet["params"] == 6_998_552 and googlenet["macs"] == 1_582_671_872


def test_list_table_and_family_filter(capsys):
    assert main(["zoo", "list", "--family", "super-resolution"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split()[:5] == ["name", "family", "input", "MACs", "params"]
    assert [ln.split()[0] for ln in lines[1:]] == ["srcnn", "fsrcnn", "espcn", "edsr"]
    assert "15.470G" in _out(capsys, ["zoo", "list"])  # VGG-16's 15.47 GMAC


def _out(capsys, argv):
    assert main(argv) == 0
    return capsys.readouterr().out


def test_show_prints_layers_options_and_totals(capsys):
    text = _out(capsys, ["zoo", "show", "asr_attention", "--set", "steps=2", "--set", "hidden=64"])
    assert "option steps = 2" in text and "option hidden = 64" in text
    g = build_ir("asr_attention", steps=2, hidden=64)
    assert f"distinct parameters {count_params(g):,}" in text and f"total MACs {count_macs(g):,}" in text
    data = json.loads(_out(capsys, ["zoo", "show", "resnet18", "--input-shape", "2x3x64x64", "--json"]))
    assert data["inputs"] == {"x": [2, 3, 64, 64]} and data["macs"] == sum(r["macs"] for r in data["layers"])


def test_export_googlenet_default_is_the_demo_input(tmp_path, capsys):
    """`ovl zoo export googlenet -o FILE.onnx` (what `make demo` starts with): full 224x224 network."""
    path = tmp_path / "googlenet.onnx"
    text = _out(capsys, ["zoo", "export", "googlenet", "-o", str(path)])
    assert str(path) in text and "6,998,552 params" in text
    model = onnx.load(str(path))
    assert model.opset_import[0].version == 17
    x, = example_inputs("googlenet")
    with torch.no_grad():
        ref = build_torch("googlenet")(x).numpy()
    out = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x.numpy()})[0]
    assert out.shape == (1, 1000) and relative_error(out, ref) <= 1e-4


def test_export_with_shape_options_seed_and_opset(tmp_path, capsys):
    path = tmp_path / "asr.onnx"
    _out(capsys, ["zoo", "export", "asr_attention", "-o", str(path), "--input-shape", "6x1x12", "--set", "hidden=16",
                  "--set", "enc_layers=1", "--set", "vocab=8", "--set", "embed=4", "--set", "steps=3",
                  "--opset", "14", "--seed", "7"])
    model = onnx.load(str(path))
    meta = {p.key: p.value for p in model.metadata_props}
    assert model.opset_import[0].version == 14 and meta["seed"] == "7" and meta["input_shapes"] == "6x1x12"
    assert [d.dim_value for d in model.graph.output[0].type.tensor_type.shape.dim] == [3, 1, 8]
    x, = example_inputs("asr_attention", [(6, 1, 12)], seed=7)
    with torch.no_grad():
        ref = build_torch("asr_attention", [(6, 1, 12)], seed=7, hidden=16, enc_layers=1, vocab=8, embed=4,
                          steps=3)(x).numpy()
    out = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"features": x.numpy()})[0]
    assert relative_error(out, ref) <= 1e-4


def test_seeds_give_different_weights_and_the_same_seed_the_same():
    a, b, c = (build_torch("srcnn", seed=s) for s in (1, 1, 2))
    assert torch.equal(a.body[0].weight, b.body[0].weight) and not torch.equal(a.body[0].weight, c.body[0].weight)


def test_building_does_not_touch_the_global_torch_rng():
    state = torch.get_rng_state()
    build_torch("resnet18", [(1, 3, 32, 32)])
    example_inputs("resnet18")
    assert torch.equal(state, torch.get_rng_state())


@pytest.mark.parametrize("argv,words", [
    (["zoo", "export", "resnet7", "-o", "x.onnx"], ["unknown zoo network 'resnet7'", "resnet18"]),
    (["zoo", "show", "vgg16", "--input-shape", "1x3x16x16"], ["'vgg16'", "1x3x16x16", "MaxPool"]),
    (["zoo", "show", "vgg16", "--input-shape", "3x224x224"], ["'x' shape 3x224x224", "4 positive integers"]),
    (["zoo", "show", "vgg16", "--input-shape", "1x3xAx4"], ["'1x3xAx4'", "1x3x224x224"]),
    (["zoo", "show", "edsr", "--set", "scale=5"], ["scale=5", "[2, 3, 4, 8]"]),
    (["zoo", "show", "edsr", "--set", "depth=5"], ["no option depth", "blocks"]),
    (["zoo", "show", "edsr", "--set", "blocks"], ["'blocks'", "KEY=INTEGER"]),
    (["zoo", "list", "--family", "audio"], ["unknown zoo family 'audio'", "speech"]),
    (["zoo", "export", "srcnn", "-o", "x.onnx", "--opset", "9"], ["opset 9", "13..20"]),
    (["zoo", "export", "srcnn", "-o", "/nonexistent/dir/x.onnx"], ["'/nonexistent/dir'"]),
])
def test_user_errors_exit_2_with_one_line(argv, words, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("ovl zoo: error: ") and "\n" not in err
    for w in words:
        assert w in err, (w, err)


def test_library_errors_are_user_errors():
    with pytest.raises(ZooError):
        info("lstm_cell", [(25, 1)])
    with pytest.raises(ZooError):
        build_ir("lstm_stack", hidden=0)
    with pytest.raises(ZooError):
        build_ir("lstm_stack", hidden=True)
    assert parse_shape("1,3,8,8") == parse_shape("1x3x8x8") == (1, 3, 8, 8)
    assert parse_options(["steps=4", "hidden = 8"]) == {"steps": 4, "hidden": 8}
    with pytest.raises(ZooError):
        parse_shape("1x0x8")
