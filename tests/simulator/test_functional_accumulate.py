"""Accumulator types of the float modes: fp32 (the default, as the PE array) and fp64 (a reference: sums rounded
to fp32 once). Identical filters give bit-identical channels with fp32 sums (every PE adds in the same order),
both types match onnxruntime, the choice reaches the CLI, and a bad value is a user error. The filter matrices
kept between runs follow a program that overwrites its own weights."""
from __future__ import annotations

import numpy as np
import pytest

from compiler.builder import GraphBuilder
from compiler.cli import main
from compiler.compile import compile_model
from compiler.errors import UserError
from compiler.frontend import run_onnxruntime
from hw_models.arch import load_arch
from simulator.functional import FunctionalSimulator
from workloads.zoo import build_ir
from zoo_helpers import FP32, TOL, rel


def _tied_filters_graph():
    """conv (96 filters: 48 distinct, each twice) -> conv (32 identical filters) -> global average -> softmax, on
    inputs scaled so that the logits are about 1e7: a one-ulp difference between two logits (1 at this size)
    already moves the softmax away from uniform by e - 1."""
    rng = np.random.default_rng(5)
    b = GraphBuilder("tied", weights="random", seed=1)
    x = b.input("x", (1, 40, 14, 14))
    half = rng.standard_normal((48, 40, 3, 3)).astype(np.float32)
    w1 = b.const("w", (96, 40, 3, 3), data=np.concatenate([half, half]))
    y = b.op("Conv", [x, w1], {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [1, 1, 1, 1],
                               "dilations": [1, 1], "group": 1}, name="tied")[0]
    w2 = b.const("w", (32, 96, 1, 1), data=np.full((32, 96, 1, 1), 0.02, np.float32))
    z = b.op("Conv", [y, w2], {"kernel_shape": [1, 1], "strides": [1, 1], "pads": [0, 0, 0, 0],
                               "dilations": [1, 1], "group": 1}, name="same")[0]
    s = b.softmax(b.flatten(b.global_avg_pool(z)), axis=1)
    feeds = {"x": (rng.standard_normal((1, 40, 14, 14)) * 3e5).astype(np.float32)}
    return b.build([y, s]), feeds


@pytest.mark.parametrize("accumulate", ["fp32", "fp64"])
def test_identical_filters_give_identical_channels(accumulate):
    g, feeds = _tied_filters_graph()
    prog = compile_model(g, FP32, opt_level=0).program
    sim = FunctionalSimulator(prog, accumulate=accumulate)
    out = sim.run(feeds)
    y = sim.read_tensor("tied")
    assert np.array_equal(y[:, :48], y[:, 48:])                  # each distinct filter's two copies agree exactly
    soft = out[g.outputs[1]]
    assert soft.max() == soft.min() == np.float32(1 / 32)        # 32 identical logits: uniform, like onnxruntime
    ref = run_onnxruntime(g, feeds, optimize=False)
    assert rel(y, ref["tied"]) <= TOL and rel(soft, ref[g.outputs[1]]) <= TOL


def test_default_is_fp32_and_fp64_differs_within_tolerance():
    g = build_ir("resnet18", [(1, 3, 64, 64)], weights="random", seed=4)
    feeds = {"x": np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32)}
    prog = compile_model(g, FP32, opt_level=2).program
    default = FunctionalSimulator(prog)
    assert default.accumulate == "fp32" and default.accumulator is np.float32
    ref64 = FunctionalSimulator(prog, accumulate="fp64")
    assert ref64.accumulator is np.float64
    a, b = default.run(feeds)[prog.outputs[0]], ref64.run(feeds)[prog.outputs[0]]
    ort = run_onnxruntime(g, feeds, optimize=False)[g.outputs[0]]
    assert not np.array_equal(a, b)                              # the two types really sum differently
    assert rel(a, ort) <= TOL and rel(b, ort) <= TOL
    assert np.array_equal(default.run(feeds)[prog.outputs[0]], a)   # kept filter matrices: same bits again
    # int8 sums are exact whatever the option says
    int8 = compile_model(g, load_arch("a10_generic").with_changes(precision="int8"), opt_level=2).program
    assert FunctionalSimulator(int8).accumulator is np.float64


def test_bad_accumulate_is_a_user_error(capsys):
    prog = compile_model(build_ir("resnet18", [(1, 3, 32, 32)], weights="random"), FP32, opt_level=2).program
    with pytest.raises(UserError, match="accumulate = 'fp16'"):
        FunctionalSimulator(prog, accumulate="fp16")
    with pytest.raises(SystemExit) as exc:
        main(["sim", "resnet18", "--functional", "--accumulate", "fp16"])
    assert exc.value.code == 2
    capsys.readouterr()


def test_cli_accumulate_fp64(capsys):
    code = main(["sim", "fsrcnn", "--arch", "tiny", "--precision", "fp32", "--compare", "--accumulate", "fp64",
                 "--json"])
    out, _ = capsys.readouterr()
    assert code == 0
    import json

    (stats,) = json.loads(out)["accuracy"].values()
    assert stats["max_rel"] <= TOL


def test_kept_filter_matrices_follow_writes_into_the_weights_region():
    """A program that overwrites a filter chunk in DDR and loads it again: the second load sees the new bytes,
    and the next run (weights blob reloaded) sees the original ones again, so two runs agree bit for bit."""
    from compiler.isa import Module as M
    from handasm import Asm, conv_chunk

    rng = np.random.default_rng(7)
    asm = Asm(FP32)
    x = rng.standard_normal((1, 16, 6, 6)).astype(np.float32)
    w = rng.standard_normal((16, 16, 1, 1)).astype(np.float32)
    xa = asm.tensor("x", x.shape, "input")
    y1, y2 = asm.tensor("y1", x.shape, "output"), asm.tensor("y2", x.shape, "output")
    junk = asm.tensor("junk", x.shape)
    ch = conv_chunk(w, asm.cv)
    addr, nb = asm.chunk(ch, None)
    load = {"en": 1, "ddr": addr, "bytes": nb, "filters": ch.shape[0], "entries": ch.shape[1], "nbias": 0}
    pe = {"mode": "conv", "wino": 0, "bias": 0, "k": 16, "k_per_group": 16, "c_per_group": 16, "c_count": 16}
    conv = {M.FEATURE_READER: asm.read(xa), M.FILTER_READER: load, M.STREAM_BUFFER: asm.tile(xa), M.PE_ARRAY: pe}
    asm.bundle({**conv, M.FEATURE_WRITER: asm.write(y1)}, "conv1")
    asm.bundle({M.FEATURE_READER: asm.read(xa), M.STREAM_BUFFER: asm.tile(xa),      # x's bytes over the chunk
                M.PE_ARRAY: {"mode": "bypass", "k": 16}, M.FEATURE_WRITER: asm.write(junk, ddr=addr)}, "clobber")
    asm.bundle({**conv, M.FEATURE_WRITER: asm.write(y2)}, "conv2")
    prog = asm.build(["x"], ["y1", "y2"])
    sim = FunctionalSimulator(prog)
    first = sim.run({"x": x})
    assert not np.array_equal(first["y1"], first["y2"])          # the reload saw the overwritten chunk
    again = sim.run({"x": x})
    assert all(np.array_equal(first[k], again[k]) for k in ("y1", "y2"))
    ref = np.einsum("kc,nchw->nkhw", w[:, :, 0, 0].astype(np.float64), x.astype(np.float64))
    assert rel(again["y1"], ref) <= TOL
