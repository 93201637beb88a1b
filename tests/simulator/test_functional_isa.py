"""The functional simulator as the executable ISA: each kernel on hand-assembled bundles against onnxruntime or an
independent numpy reference (docs/isa.md sections 3-5), plus the errors a bad program raises."""
import numpy as np
import pytest

from compiler.builder import GraphBuilder
from compiler.frontend import run_onnxruntime
from compiler.isa import Module as M
from compiler.lowering.formats import bfp_quantize, quantize_filters
from compiler.program import HostPartition
from hw_models.arch import load_arch
from simulator.functional import FunctionalSimulator, simulate
from simulator.machine import SimulationError
from handasm import Asm, conv_chunk, dw_chunk

FP32 = load_arch("a10_generic").with_changes(precision="fp32")
RNG = np.random.default_rng(0)


def rel_err(a, b):
    return float(np.abs(np.asarray(a, np.float64) - b).max() / np.abs(b).max())


def ort_single(op, x, attrs, consts=(), extra=()):
    """Run one ONNX operator on onnxruntime through the IR (weights as constants)."""
    gb = GraphBuilder("ref", weights="random")
    xi = gb.input("x", x.shape)
    ins = [xi] + [gb.const(f"c{i}", c.shape, data=c) for i, c in enumerate(consts)]
    y = gb.op(op, ins, attrs)[0]
    for op2, a2 in extra:
        y = gb.op(op2, [y], a2)[0]
    return run_onnxruntime(gb.build([y]), {"x": x})[y]


def conv_program(arch, x_shape, w, b, stride=1, pad=0, dil=1, groups=1, wino=False, chain=None, depthwise=False):
    asm = Asm(arch)
    n, c, h, wd = x_shape
    k, cg, kh, kw = w.shape
    oh = (h + 2 * pad - dil * (kh - 1) - 1) // stride + 1
    ow = (wd + 2 * pad - dil * (kw - 1) - 1) // stride + 1
    xa, ya = asm.tensor("x", x_shape, "input"), asm.tensor("y", (n, k, oh, ow), "output")
    if depthwise:
        ch = dw_chunk(w, asm.cv)
    else:
        ch = conv_chunk(w, asm.cv, arch.pe_array.q_vector if wino else None)
    addr, nb = asm.chunk(ch, b)
    pe = {"mode": "depthwise" if depthwise else "conv", "wino": int(wino), "bias": int(b is not None), "k": k,
          "k_per_group": k // groups, "c_per_group": c // groups, "c_count": cg}
    cfg = {M.FEATURE_READER: asm.read(xa),
           M.FILTER_READER: {"en": 1, "ddr": addr, "bytes": nb, "filters": ch.shape[0], "entries": ch.shape[1],
                             "nbias": 0 if b is None else k},
           M.STREAM_BUFFER: asm.tile(xa, kh=kh, kw=kw, sy=stride, sx=stride, dy=dil, dx=dil, pt=pad, pb=pad, pl=pad,
                                     pr=pad, oh=oh, ow=ow),
           M.PE_ARRAY: pe, M.FEATURE_WRITER: asm.write(ya)}
    if chain:
        cfg.update(chain)
    asm.bundle(cfg, "conv")
    return asm.build(["x"], ["y"])


@pytest.mark.parametrize("kh,stride,pad,dil,groups", [(3, 1, 1, 1, 1), (3, 2, 1, 1, 1), (1, 1, 0, 1, 1),
                                                      (5, 2, 2, 1, 1), (3, 1, 2, 2, 1), (3, 1, 1, 1, 3),
                                                      (7, 3, 3, 1, 1), (1, 2, 0, 1, 1)])
def test_conv_matches_onnxruntime(kh, stride, pad, dil, groups):
    x = RNG.standard_normal((2, 6, 13, 10)).astype(np.float32)
    w = RNG.standard_normal((9, 6 // groups, kh, kh)).astype(np.float32)
    b = RNG.standard_normal(9).astype(np.float32)
    p = conv_program(FP32, x.shape, w, b, stride, pad, dil, groups,
                     chain={M.XBAR: {"s0": "act"}, M.ACTIVATION: {"fn": "leaky_relu", "alpha": 0.1}})
    ref = ort_single("Conv", x, {"kernel_shape": [kh, kh], "strides": [stride] * 2, "pads": [pad] * 4,
                                 "dilations": [dil] * 2, "group": groups}, (w, b), [("LeakyRelu", {"alpha": 0.1})])
    assert rel_err(simulate(p, {"x": x})["y"], ref) < 1e-5


@pytest.mark.parametrize("width,pad", [(12, 1), (13, 1), (9, 0), (6, 1)])
def test_winograd_matches_direct_convolution(width, pad):
    arch = load_arch("dla_alexnet_a10").with_changes(precision="fp32")
    x = RNG.standard_normal((1, 10, 7, width)).astype(np.float32)
    w = RNG.standard_normal((5, 10, 3, 3)).astype(np.float32)
    b = RNG.standard_normal(5).astype(np.float32)
    p = conv_program(arch, x.shape, w, b, pad=pad, wino=True)
    assert p.bundles[0].fields("pe")["wino"] == 1
    ref = ort_single("Conv", x, {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [pad] * 4, "dilations": [1, 1],
                                 "group": 1}, (w, b))
    assert rel_err(simulate(p, {"x": x})["y"], ref) < 1e-5


def test_winograd_requires_three_wide_filters():
    arch = load_arch("dla_alexnet_a10").with_changes(precision="fp32")
    w = np.ones((4, 3, 3, 3), np.float32)
    p = conv_program(arch, (1, 3, 8, 8), w, None, stride=2, wino=True)
    with pytest.raises(SimulationError, match=r"bundle 0 \(conv\) pe: wino = 1 needs kw = 3, sx = 1"):
        simulate(p, {"x": np.zeros((1, 3, 8, 8), np.float32)})


def test_column_modes_keep_the_values_and_are_checked():
    """`pe.cols` (Winograd arrays) changes which outputs a pass computes, never the values; a mapping the bundle
    cannot use is an error naming the field."""
    arch = load_arch("dla_alexnet_a10").with_changes(precision="fp32")
    x = RNG.standard_normal((1, 6, 7, 9)).astype(np.float32)
    w = RNG.standard_normal((5, 6, 3, 3)).astype(np.float32)
    base = simulate(conv_program(arch, x.shape, w, None, pad=1), {"x": x})["y"]
    p = conv_program(arch, x.shape, w, None, pad=1)
    p.bundles[0].config[M.PE_ARRAY]["cols"] = "wide"
    np.testing.assert_array_equal(simulate(p, {"x": x})["y"], base)
    for cols, kw, msg in (("wide", {"stride": 2}, "cols = wide needs horizontal stride 1"),
                          ("images", {}, r"cols = images needs mode conv and one output column \(sbuf.ow = 9\)"),
                          ("wide", {"wino": True}, "cols = wide needs a direct convolution")):
        p = conv_program(arch, x.shape, w, None, pad=1, **kw)
        p.bundles[0].config[M.PE_ARRAY]["cols"] = cols
        with pytest.raises(SimulationError, match=r"bundle 0 \(conv\) pe: " + msg):
            simulate(p, {"x": x})


def test_depthwise_matches_onnxruntime():
    x = RNG.standard_normal((1, 20, 9, 9)).astype(np.float32)
    w = RNG.standard_normal((20, 1, 3, 3)).astype(np.float32)
    b = RNG.standard_normal(20).astype(np.float32)
    p = conv_program(FP32, x.shape, w, b, stride=2, pad=1, groups=20, depthwise=True)
    ref = ort_single("Conv", x, {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1] * 4, "dilations": [1, 1],
                                 "group": 20}, (w, b))
    assert rel_err(simulate(p, {"x": x})["y"], ref) < 1e-5


def test_input_channel_slices_accumulate_raw_partial_sums():
    """Two bundles: the first computes channels 0-15 and writes raw sums to DDR; the second reads them (fread r1,
    raw) and adds channels 16-23, then applies bias and ReLU."""
    arch = FP32
    x = RNG.standard_normal((1, 24, 6, 6)).astype(np.float32)
    w = RNG.standard_normal((8, 24, 3, 3)).astype(np.float32)
    b = RNG.standard_normal(8).astype(np.float32)
    asm = Asm(arch)
    xa, ya = asm.tensor("x", x.shape, "input"), asm.tensor("y", (1, 8, 6, 6), "output")
    ps = asm.tensor("psum", (1, 8, 6, 6))      # raw fp32 = feature size here (fp32 arch)
    c0, c1 = conv_chunk(w[:, :16], 16), conv_chunk(w[:, 16:], 16)
    a0, n0 = asm.chunk(c0, None)
    a1, n1 = asm.chunk(c1, b)
    win = dict(kh=3, kw=3, pt=1, pb=1, pl=1, pr=1, oh=6, ow=6)
    asm.bundle({M.FEATURE_READER: asm.read(xa),
                M.FILTER_READER: {"en": 1, "ddr": a0, "bytes": n0, "filters": 8, "entries": c0.shape[1]},
                M.STREAM_BUFFER: asm.tile(xa, **win),
                M.PE_ARRAY: {"mode": "conv", "k": 8, "k_per_group": 8, "c_per_group": 24, "c_count": 16,
                             "psum_out": 1},
                M.FEATURE_WRITER: dict(asm.write(ps), raw=1)})
    rd = asm.read(ps, sb=1000, d="r1")
    rd["r1_raw"] = 1
    asm.bundle({M.FEATURE_READER: rd,
                M.FILTER_READER: {"en": 1, "bank": 1, "ddr": a1, "bytes": n1, "filters": 8,
                                  "entries": c1.shape[1], "nbias": 8},
                M.STREAM_BUFFER: asm.tile(xa, **win),
                M.PE_ARRAY: {"mode": "conv", "bank": 1, "bias": 1, "k": 8, "k_per_group": 8, "c_per_group": 24,
                             "c_offset": 16, "c_count": 8, "psum_in": 1, "psum_sb": 1000},
                M.XBAR: {"s0": "act"}, M.ACTIVATION: {"fn": "relu"}, M.FEATURE_WRITER: asm.write(ya)})
    p = asm.build(["x"], ["y"])
    ref = ort_single("Conv", x, {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [1] * 4, "dilations": [1, 1],
                                 "group": 1}, (w, b), [("Relu", {})])
    assert rel_err(simulate(p, {"x": x})["y"], ref) < 1e-5


@pytest.mark.parametrize("prec", ["bfp16", "bfp11", "fp16"])
def test_reduced_float_precisions_follow_the_isa_arithmetic(prec):
    """BFP: input entries quantised per c_vector block at the PE input, filters as decoded BFP blocks, fp32 sums,
    fp16 storage. The reference re-derives that arithmetic in float64 from the formats module."""
    arch = load_arch("a10_generic").with_changes(precision=prec)
    cv = arch.pe_array.c_vector
    x = RNG.standard_normal((1, 20, 7, 7)).astype(np.float32)
    w = RNG.standard_normal((6, 20, 3, 3)).astype(np.float32)
    p = conv_program(arch, x.shape, w, None, pad=1)
    got = simulate(p, {"x": x})["y"]
    xs = x.astype(np.float16).astype(np.float32)                    # features are stored as fp16
    if prec != "fp16":
        xb = np.zeros((1, 32, 7, 7), np.float32)
        xb[:, :20] = xs
        xb = xb.reshape(1, 2, cv, 7, 7)
        info = arch.precision_info
        xs = bfp_quantize(xb, info.mantissa_bits, info.exponent_bits, axis=2).reshape(1, 32, 7, 7)[:, :20]
    wq = quantize_filters(arch, conv_chunk(w, cv))                  # what the cache holds
    wq = wq.reshape(6, 2, 3, 3, cv).transpose(0, 1, 4, 2, 3).reshape(6, 32, 3, 3)[:, :20]
    xp = np.pad(xs.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    ref = np.zeros((1, 6, 7, 7))
    for i in range(3):
        for j in range(3):
            ref += np.einsum("nchw,kc->nkhw", xp[:, :, i:i + 7, j:j + 7], wq[:, :, i, j])
    ref16 = ref.astype(np.float16).astype(np.float32)
    assert np.abs(got - ref16).max() <= np.abs(ref16).max() * 2 ** -10   # at most one fp16 ulp at the top
    exact = ort_single("Conv", x, {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [1] * 4,
                                   "dilations": [1, 1], "group": 1}, (w,))
    err = rel_err(got, exact)
    assert 0 < err < {"fp16": 2e-3, "bfp16": 5e-3, "bfp11": 8e-2}[prec]


def test_int8_conv_requantisation_is_exact():
    arch = load_arch("tiny")
    cv = arch.pe_array.c_vector
    xs, ys = 0.05, 0.1
    xq = RNG.integers(-128, 128, (1, 6, 5, 5)).astype(np.int8)
    wq = RNG.integers(-127, 128, (4, 6, 3, 3)).astype(np.int8)
    bq = RNG.integers(-2000, 2000, 4).astype(np.int32)
    asm = Asm(arch)
    xa, ya = asm.tensor("x", xq.shape, "input", xs), asm.tensor("y", (1, 4, 5, 5), "output", ys)
    ch = conv_chunk(wq, cv)
    addr, nb = asm.chunk(ch, bq)
    mult, shift = 1234, 16
    asm.bundle({M.FEATURE_READER: asm.read(xa),
                M.FILTER_READER: {"en": 1, "ddr": addr, "bytes": nb, "filters": 4, "entries": ch.shape[1],
                                  "nbias": 4},
                M.STREAM_BUFFER: asm.tile(xa, kh=3, kw=3, pt=1, pb=1, pl=1, pr=1),
                M.PE_ARRAY: {"mode": "conv", "bias": 1, "k": 4, "k_per_group": 4, "c_per_group": 6, "c_count": 6,
                             "rq_mult": mult, "rq_shift": shift},
                M.XBAR: {"s0": "act"}, M.ACTIVATION: {"fn": "relu", "lo": 0, "hi": 127},
                M.FEATURE_WRITER: asm.write(ya)})
    p = asm.build(["x"], ["y"])
    got = simulate(p, {"x": xq.astype(np.float32) * xs})["y"]
    xp = np.pad(xq.astype(np.int64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    acc = np.zeros((1, 4, 5, 5), np.int64) + bq[None, :, None, None]
    for i in range(3):
        for j in range(3):
            acc += np.einsum("nchw,kc->nkhw", xp[:, :, i:i + 5, j:j + 5], wq[:, :, i, j].astype(np.int64))
    q = np.clip((acc * mult + (1 << (shift - 1))) >> shift, -128, 127)
    q = np.clip(q, 0, 127)
    np.testing.assert_array_equal(np.rint(got / ys).astype(np.int64), q)


def bypass_program(arch, x_shape, out_shape, chain, operand=None):
    asm = Asm(arch)
    xa, ya = asm.tensor("x", x_shape, "input"), asm.tensor("y", out_shape, "output")
    rd = asm.read(xa)
    names = ["x"]
    if operand is not None:
        ba = asm.tensor("b", x_shape, "input")
        rd.update(asm.read(ba, sb=4000, d="r1"))
        chain = dict(chain)
        chain[M.ELTWISE] = dict(chain.get(M.ELTWISE, {}), sb=4000)
        names.append("b")
    cfg = {M.FEATURE_READER: rd, M.STREAM_BUFFER: asm.tile(xa),
           M.PE_ARRAY: {"mode": "bypass", "k": x_shape[1]}, M.FEATURE_WRITER: asm.write(ya)}
    cfg.update(chain)
    asm.bundle(cfg, "aux")
    return asm.build(names, ["y"])


@pytest.mark.parametrize("kind,k,s,pad,ceil,incl", [("max", 3, 2, 0, 1, 0), ("max", 3, 1, 1, 0, 0),
                                                    ("avg", 3, 2, 1, 1, 0), ("avg", 3, 2, 1, 0, 1),
                                                    ("avg", 7, 1, 0, 0, 0), ("avg", 2, 2, 0, 1, 1)])
def test_pool_matches_onnxruntime(kind, k, s, pad, ceil, incl):
    x = RNG.standard_normal((2, 5, 14, 13)).astype(np.float32)
    attrs = {"kernel_shape": [k, k], "strides": [s, s], "pads": [pad] * 4, "ceil_mode": ceil}
    if kind == "avg":
        attrs["count_include_pad"] = incl
    ref = ort_single("MaxPool" if kind == "max" else "AveragePool", x, attrs)
    oh, ow = ref.shape[2:]
    # ceil mode: the compiler extends pb/pr only as far as the last window; here the pads stay symmetric
    pool = {"type": kind, "kh": k, "kw": k, "sy": s, "sx": s, "pt": pad, "pb": pad, "pl": pad, "pr": pad,
            "incl_pad": incl, "oh": oh, "ow": ow}
    p = bypass_program(FP32, x.shape, ref.shape, {M.XBAR: {"s0": "pool"}, M.POOL: pool})
    assert rel_err(simulate(p, {"x": x})["y"], ref) < 1e-6


def test_lrn_softmax_depth_to_space_and_eltwise_match_onnxruntime():
    x = RNG.standard_normal((1, 18, 4, 5)).astype(np.float32)
    lrn = {"size": 5, "alpha": 1e-2, "beta": 0.75, "bias": 2.0}
    p = bypass_program(FP32, x.shape, x.shape, {M.XBAR: {"s0": "lrn"}, M.LRN: lrn})
    assert rel_err(simulate(p, {"x": x})["y"], ort_single("LRN", x, lrn)) < 1e-5
    p = bypass_program(FP32, x.shape, x.shape, {M.XBAR: {"s0": "smax"}, M.SOFTMAX: {"en": 1}})
    assert rel_err(simulate(p, {"x": x})["y"], ort_single("Softmax", x, {"axis": 1})) < 1e-5
    for mode in ("DCR", "CRD"):
        ref = ort_single("DepthToSpace", x, {"blocksize": 3, "mode": mode})
        p = bypass_program(FP32, x.shape, ref.shape, {M.XBAR: {"s0": "d2s"},
                                                      M.DEPTH_TO_SPACE: {"mode": mode.lower(), "block": 3}})
        np.testing.assert_array_equal(simulate(p, {"x": x})["y"], ref)
    b = RNG.standard_normal(x.shape).astype(np.float32)
    for op, swap, fn in (("add", 0, np.add), ("sub", 1, lambda u, v: v - u), ("mul", 0, np.multiply)):
        p = bypass_program(FP32, x.shape, x.shape, {M.XBAR: {"s0": "elt", "s1": "act"},
                                                    M.ELTWISE: {"op": op, "swap": swap},
                                                    M.ACTIVATION: {"fn": "relu"}}, operand=True)
        np.testing.assert_allclose(simulate(p, {"x": x, "b": b})["y"], np.maximum(fn(x, b), 0), rtol=1e-6)


@pytest.mark.parametrize("fn,onnx,attrs", [("sigmoid", "Sigmoid", {}), ("tanh", "Tanh", {}),
                                           ("hard_sigmoid", "HardSigmoid", {"alpha": 0.2, "beta": 0.5}),
                                           ("hard_swish", "HardSwish", {}), ("clip", "Clip", {"min": -0.5, "max": 1.5}),
                                           ("relu6", "Relu6", {})])
def test_activation_functions(fn, onnx, attrs):
    x = (RNG.standard_normal((1, 8, 3, 3)) * 4).astype(np.float32)
    act = {"fn": fn, "alpha": attrs.get("alpha", attrs.get("min", 0.0)), "beta": attrs.get("beta", attrs.get("max", 0.0))}
    p = bypass_program(FP32, x.shape, x.shape, {M.XBAR: {"s0": "act"}, M.ACTIVATION: act})
    np.testing.assert_allclose(simulate(p, {"x": x})["y"], ort_single(onnx, x, attrs), rtol=1e-6, atol=1e-7)


def test_activation_split_applies_two_functions():
    """LSTM gates: sigmoid below `split`, tanh from it on."""
    x = RNG.standard_normal((1, 40, 1, 1)).astype(np.float32)
    p = bypass_program(FP32, x.shape, x.shape, {M.XBAR: {"s0": "act"},
                                                M.ACTIVATION: {"fn": "sigmoid", "fn2": "tanh", "split": 30}})
    got = simulate(p, {"x": x})["y"]
    np.testing.assert_allclose(got[:, :30], 1 / (1 + np.exp(-x[:, :30])), rtol=1e-6)
    np.testing.assert_allclose(got[:, 30:], np.tanh(x[:, 30:]), rtol=1e-6)


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_masked_writes_build_a_concatenation_in_place(order):
    """Two bundles write 6 and 21 channels of one 27-channel tensor; the second starts at lane 6 of block 0
    (c_first). Each leaves the other's lanes untouched, in either order; zfill zeroes the tensor's padding lanes."""
    asm = Asm(FP32)
    a = asm.tensor("a", (1, 6, 3, 4), "input")
    b = asm.tensor("b", (1, 21, 3, 4), "input")
    y = asm.tensor("y", (1, 27, 3, 4), "output")
    parts = [(a, 0, 0), (b, 6, 1)]
    for k in order:
        src, c_first, zfill = parts[k]
        asm.bundle({M.FEATURE_READER: asm.read(src), M.STREAM_BUFFER: asm.tile(src),
                    M.PE_ARRAY: {"mode": "bypass", "k": src.view[1]},
                    M.FEATURE_WRITER: dict(asm.write(y, c_first=c_first, channels=src.view[1]), zfill=zfill)})
    asm.bundle({M.FEATURE_READER: asm.read(y), M.STREAM_BUFFER: asm.tile(y), M.PE_ARRAY: {"mode": "bypass", "k": 27},
                M.FEATURE_WRITER: asm.write(y)})
    p = asm.build(["a", "b"], ["y"])
    xa = RNG.standard_normal((1, 6, 3, 4)).astype(np.float32)
    xb = RNG.standard_normal((1, 21, 3, 4)).astype(np.float32)
    sim = FunctionalSimulator(p)
    np.testing.assert_array_equal(sim.run({"a": xa, "b": xb})["y"], np.concatenate([xa, xb], axis=1))
    raw = sim.machine.ddr[y.ddr:y.ddr + y.nbytes].view(np.float32).reshape(1, 2, 3, 4, 16)
    assert not raw[:, 1, :, :, 11:].any()


def test_writer_without_zfill_keeps_lanes_after_the_last_channel():
    asm = Asm(FP32)
    a = asm.tensor("a", (1, 6, 2, 2), "input")
    y = asm.tensor("y", (1, 16, 2, 2), "input")
    asm.bundle({M.FEATURE_READER: asm.read(a), M.STREAM_BUFFER: asm.tile(a), M.PE_ARRAY: {"mode": "bypass", "k": 6},
                M.FEATURE_WRITER: asm.write(y, channels=6)})
    p = asm.build(["a", "y"], ["y"])
    xa = RNG.standard_normal((1, 6, 2, 2)).astype(np.float32)
    xy = RNG.standard_normal((1, 16, 2, 2)).astype(np.float32)
    got = simulate(p, {"a": xa, "y": xy})["y"]
    np.testing.assert_array_equal(got, np.concatenate([xa, xy[:, 6:]], axis=1))
    p.bundles[0].config[M.FEATURE_WRITER]["zfill"] = 1
    got = simulate(p, {"a": xa, "y": xy})["y"]
    np.testing.assert_array_equal(got, np.concatenate([xa, np.zeros_like(xy[:, 6:])], axis=1))


def test_host_partition_runs_between_bundles():
    asm = Asm(FP32)
    xa, ta, ya = asm.tensor("x", (1, 4, 3, 5), "input"), asm.tensor("t", (1, 4, 5, 3)), asm.tensor("y", (1, 4, 5, 3),
                                                                                                 "output")
    asm.bundle({M.FEATURE_READER: asm.read(xa), M.STREAM_BUFFER: asm.tile(xa), M.PE_ARRAY: {"mode": "bypass", "k": 4},
                M.XBAR: {"s0": "act"}, M.ACTIVATION: {"fn": "relu"}, M.FEATURE_WRITER: asm.write(asm.memory["x"],
                                                                                               ddr=ta.ddr + 4096)})
    asm.memory["r"] = type(xa)("r", "intermediate", (1, 4, 3, 5), (1, 4, 3, 5), "fp32", ta.ddr + 4096, xa.nbytes)
    asm.bundle({M.FEATURE_READER: asm.read(ta), M.STREAM_BUFFER: asm.tile(ta), M.PE_ARRAY: {"mode": "bypass", "k": 4},
                M.XBAR: {"s0": "act"}, M.ACTIVATION: {"fn": "leaky_relu", "alpha": 0.5},
                M.FEATURE_WRITER: asm.write(ya)})
    gb = GraphBuilder("host", weights="random")
    r = gb.input("r", (1, 4, 3, 5))
    gb.op("Transpose", [r], {"perm": [0, 1, 3, 2]}, name="t")
    asm.host.append(HostPartition("host0", 1, gb.build(["t"]), {"t": "Transpose"}))
    asm.feat += 8192
    p = asm.build(["x"], ["y"])
    assert [k for k, _ in p.schedule()] == ["bundle", "host", "bundle"]
    x = RNG.standard_normal((1, 4, 3, 5)).astype(np.float32)
    ref = np.maximum(x, 0).transpose(0, 1, 3, 2)
    sim = FunctionalSimulator(p)
    np.testing.assert_array_equal(sim.run({"x": x})["y"], ref)
    assert sim.stats.host_partitions == 1


def test_bad_programs_raise_naming_the_bundle():
    w = np.ones((4, 3, 3, 3), np.float32)
    x = np.zeros((1, 3, 8, 8), np.float32)
    p = conv_program(FP32, (1, 3, 8, 8), w, None, pad=1)
    p.bundles[0].config[M.FEATURE_READER]["r0_ddr"] = p.regions["config"][0] + 10 ** 6
    with pytest.raises(SimulationError, match=r"bundle 0 \(conv\) fread.r0: DDR access .* outside"):
        simulate(p, {"x": x})
    p = conv_program(FP32, (1, 3, 8, 8), w, None, pad=1)
    p.bundles[0].config[M.FEATURE_READER]["r0_sb"] = FP32.stream_buffer.depth - 10
    with pytest.raises(SimulationError, match=r"bundle 0 \(conv\) fread.r0: stream-buffer access .* stream_buffer.depth"):
        simulate(p, {"x": x})
    p = conv_program(FP32, (1, 3, 8, 8), w, None, pad=1)
    p.bundles[0].config[M.PE_ARRAY]["bank"] = 1
    with pytest.raises(SimulationError, match="half 1, which no earlier bundle loaded"):
        simulate(p, {"x": x})
    p = conv_program(FP32, (1, 3, 8, 8), w, None, pad=1)
    p.bundles[0].config[M.STREAM_BUFFER]["oh"] = 9
    with pytest.raises(SimulationError, match="need 11x10 padded inputs"):
        simulate(p, {"x": x})
    p = conv_program(FP32, (1, 3, 8, 8), w, None, pad=1)
    p.bundles[0].config[M.CFG]["last"] = 0
    with pytest.raises(SimulationError, match="final bundle must set cfg.last"):
        simulate(p, {"x": x})
    p = conv_program(FP32, (1, 3, 8, 8), w, None, pad=1)
    with pytest.raises(Exception, match=r"input 'x' must have shape \[1, 3, 8, 8\]"):
        simulate(p, {"x": np.zeros((1, 3, 8, 7), np.float32)})
