"""Per-operator import tests: small ONNX graphs at the opsets where each op's form changed, checked against
onnxruntime running the original model (shapes and numerics), both raw and canonicalised."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from compiler.frontend import export_onnx, import_onnx, run_onnxruntime

RNG = np.random.default_rng(0)
F = TensorProto.FLOAT


def ort_run(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def make(nodes, inputs, outputs, inits=(), opset=13):
    """inputs: {name: shape}; outputs: list of names; inits: {name: array}."""
    graph = helper.make_graph(
        nodes, "t", [helper.make_tensor_value_info(n, F, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(o, F, None) for o in outputs],
        [numpy_helper.from_array(np.asarray(v), k) for k, v in dict(inits).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = min(model.ir_version, 8 if opset <= 17 else 9)
    return model


def check(model: onnx.ModelProto, rtol: float = 1e-5, atol: float = 1e-6):
    """Import raw and canonicalised; shapes and values equal onnxruntime on the original. Returns the graph."""
    feeds = {}
    for vi in model.graph.input:
        shape = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        feeds[vi.name] = RNG.standard_normal(shape).astype(np.float32)
    ref = ort_run(model, feeds)
    names = [o.name for o in model.graph.output]
    graph = None
    for canon in (False, True):
        graph = import_onnx(model, canonicalize=canon)
        assert graph.outputs == names
        got = run_onnxruntime(graph, feeds)
        for name, r in zip(names, ref):
            assert graph.tensors[name].shape == r.shape, name
            np.testing.assert_allclose(got[name], r, rtol=rtol, atol=atol, err_msg=f"{name} canon={canon}")
    return graph


def w(*shape, scale=0.5):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


# --- convolution ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("auto_pad", ["SAME_UPPER", "SAME_LOWER", "VALID", "NOTSET"])
def test_conv_auto_pad_groups_dilation(auto_pad):
    attrs = {"auto_pad": auto_pad, "strides": [2, 1], "group": 2}
    if auto_pad == "NOTSET":
        attrs.update(pads=[1, 0, 2, 1], dilations=[2, 1])
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 2], **attrs)
    g = check(make([node], {"x": [1, 4, 9, 7]}, ["y"], {"w": w(6, 2, 3, 2), "b": w(6)}, opset=11))
    assert g.nodes[0].attrs["pads"] == g.nodes[0].attrs["pads"] and len(g.nodes[0].attrs["pads"]) == 4


@pytest.mark.parametrize("kw", [{"output_shape": [10, 12]}, {"auto_pad": "SAME_UPPER"},
                                {"pads": [1, 0, 0, 1], "output_padding": [1, 0]}, {"auto_pad": "SAME_LOWER"}])
def test_conv_transpose(kw):
    node = helper.make_node("ConvTranspose", ["x", "w", "b"], ["y"], strides=[2, 2], group=2, **kw)
    check(make([node], {"x": [1, 4, 5, 6]}, ["y"], {"w": w(4, 3, 3, 3), "b": w(6)}))


@pytest.mark.parametrize("kw,c", [({}, (5,)), ({"transA": 1, "alpha": 0.5, "beta": 2.0}, (1, 5)),
                                   ({"transB": 1}, (3, 5)), ({"transB": 1}, None)])
def test_gemm_forms(kw, c):
    a = [4, 3] if kw.get("transA") else [3, 4]
    b = w(5, 4) if kw.get("transB") else w(4, 5)
    inits = {"b": b} | ({"c": w(*c)} if c else {})
    node = helper.make_node("Gemm", ["a", "b"] + (["c"] if c else []), ["y"], **kw)
    g = check(make([node], {"a": a}, ["y"], inits))
    canon_ops = [n.op for n in g.nodes]
    # a vector bias (or none) with transA=0 becomes FullyConnected; a matrix bias or transA stays a Gemm
    assert canon_ops == (["Gemm"] if kw.get("transA") or (c and len(c) == 2 and c[0] != 1) else ["FullyConnected"])


def test_matmul_batched():
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    check(make([node], {"a": [2, 3, 4, 5]}, ["y"], {"b": w(5, 6)}))


# --- normalisation, activations ------------------------------------------------------------------------------
def test_standalone_batchnorm_opset9_and_14():
    for opset in (9, 14):
        stats = {"s": w(3), "bb": w(3), "m": w(3), "v": np.abs(w(3)) + 0.5}
        node = helper.make_node("BatchNormalization", ["x", "s", "bb", "m", "v"], ["y"], epsilon=1e-3)
        g = check(make([node], {"x": [2, 3, 4, 4]}, ["y"], stats, opset=opset))
        assert [n.op for n in g.nodes] == ["BatchNormalization"]


@pytest.mark.parametrize("op,attrs", [("Relu", {}), ("LeakyRelu", {"alpha": 0.2}), ("Sigmoid", {}), ("Tanh", {}),
                                      ("HardSigmoid", {"alpha": 0.3}), ("HardSwish", {}),
                                      ("LRN", {"size": 3, "alpha": 0.01, "bias": 2.0}), ("GlobalAveragePool", {})])
def test_unary(op, attrs):
    check(make([helper.make_node(op, ["x"], ["y"], **attrs)], {"x": [1, 6, 5, 5]}, ["y"], opset=14))


def test_prelu_per_channel():
    node = helper.make_node("PRelu", ["x", "slope"], ["y"])
    check(make([node], {"x": [1, 3, 4, 4]}, ["y"], {"slope": w(3, 1, 1)}))


@pytest.mark.parametrize("opset", [9, 11, 13])
def test_clip_attribute_and_input_forms(opset):
    if opset < 11:
        node = helper.make_node("Clip", ["x"], ["y"], min=0.0, max=6.0)
        inits = {}
    else:
        node = helper.make_node("Clip", ["x", "lo", "hi"], ["y"])
        inits = {"lo": np.float32(0), "hi": np.float32(6)}
    g = check(make([node], {"x": [2, 8]}, ["y"], inits, opset=opset))
    assert [n.op for n in g.nodes] == ["Relu6"]


@pytest.mark.parametrize("opset,axis,shape", [(9, 1, [2, 3, 4]), (11, 1, [2, 3, 2, 2]), (11, 2, [2, 3, 4]),
                                              (13, 1, [2, 3, 4]), (13, -1, [2, 3, 4])])
def test_softmax_coercion(opset, axis, shape):
    check(make([helper.make_node("Softmax", ["x"], ["y"], axis=axis)], {"x": shape}, ["y"], opset=opset))


# --- pooling -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["MaxPool", "AveragePool"])
@pytest.mark.parametrize("kw", [{"pads": [1, 1, 0, 0], "ceil_mode": 1, "strides": [2, 2]},
                                {"auto_pad": "SAME_UPPER", "strides": [2, 2]},
                                {"count_include_pad": 1, "pads": [1, 1, 1, 1]}])
def test_pools(op, kw):
    if op == "MaxPool":
        kw = {k: v for k, v in kw.items() if k != "count_include_pad"}
    node = helper.make_node(op, ["x"], ["y"], kernel_shape=[3, 3], **kw)
    check(make([node], {"x": [1, 2, 7, 8]}, ["y"], opset=12))


@pytest.mark.parametrize("opset", [13, 18])
def test_reduce_mean_forms(opset):
    if opset < 18:
        node = helper.make_node("ReduceMean", ["x"], ["y"], axes=[-1, 2], keepdims=0)
        inits = {}
    else:
        node = helper.make_node("ReduceMean", ["x", "axes"], ["y"], keepdims=0)
        inits = {"axes": np.array([-1, 2], np.int64)}
    g = check(make([node], {"x": [1, 3, 4, 5]}, ["y"], inits, opset=opset))
    assert g.nodes[0].attrs["axes"] == [2, 3]


# --- elementwise, concat, data movement ----------------------------------------------------------------------
def test_binary_and_sum_with_constants():
    nodes = [helper.make_node("Add", ["x", "c"], ["a"]), helper.make_node("Mul", ["a", "x"], ["m"]),
             helper.make_node("Sub", ["m", "c"], ["s"]), helper.make_node("Div", ["s", "d"], ["q"]),
             helper.make_node("Sum", ["q", "x", "a"], ["y"])]
    g = check(make(nodes, {"x": [1, 3, 2, 2]}, ["y"], {"c": w(3, 1, 1), "d": np.abs(w(1)) + 1}))
    assert [n.op for n in g.nodes].count("Add") == 3  # Add + Sum of three -> two Adds


@pytest.mark.parametrize("opset", [11, 13, 18])
def test_split_forms(opset):
    if opset == 11:
        node = helper.make_node("Split", ["x"], ["a", "b", "c"], axis=1, split=[1, 2, 3])
        inits = {}
    elif opset == 13:
        node = helper.make_node("Split", ["x", "sp"], ["a", "b", "c"], axis=-2)
        inits = {"sp": np.array([1, 2, 3], np.int64)}
    else:
        node = helper.make_node("Split", ["x"], ["a", "b", "c"], axis=1, num_outputs=3)
        inits = {}
    check(make([node], {"x": [2, 6, 3]}, ["a", "b", "c"], inits, opset=opset))


@pytest.mark.parametrize("opset", [9, 13])
def test_slice_forms(opset):
    if opset < 10:
        node = helper.make_node("Slice", ["x"], ["y"], starts=[1, -3], ends=[100, -1], axes=[1, 3])
        inits = {}
    else:
        node = helper.make_node("Slice", ["x", "st", "en", "ax", "sp"], ["y"])
        inits = {"st": np.array([-1, 1], np.int64), "en": np.array([-(2 ** 63), 7], np.int64),
                 "ax": np.array([3, 1], np.int64), "sp": np.array([-2, 3], np.int64)}
    check(make([node], {"x": [1, 8, 3, 6]}, ["y"], inits, opset=opset))


@pytest.mark.parametrize("opset", [11, 13])
def test_squeeze_unsqueeze_forms(opset):
    if opset < 13:
        nodes = [helper.make_node("Unsqueeze", ["x"], ["u"], axes=[0, -1]),
                 helper.make_node("Squeeze", ["u"], ["y"], axes=[0])]
        inits = {}
    else:
        nodes = [helper.make_node("Unsqueeze", ["x", "ua"], ["u"]), helper.make_node("Squeeze", ["u", "sa"], ["y"])]
        inits = {"ua": np.array([0, -1], np.int64), "sa": np.array([0], np.int64)}
    g = check(make(nodes, {"x": [2, 3]}, ["y"], inits, opset=opset))
    assert g.tensors["y"].shape == (2, 3, 1)


@pytest.mark.parametrize("opset", [10, 11, 18, 19])
def test_pad_forms(opset):
    mode = "reflect" if opset == 11 else ("wrap" if opset == 19 else "constant")
    if opset < 11:
        node = helper.make_node("Pad", ["x"], ["y"], pads=[0, 1, 2, 0, 0, 1, 1, 0], value=1.5)
        inits = {}
    elif opset == 18:
        node = helper.make_node("Pad", ["x", "p", "v", "ax"], ["y"], mode=mode)
        inits = {"p": np.array([2, 1, 0, 3], np.int64), "v": np.float32(-2), "ax": np.array([-1, 1], np.int64)}
    else:
        node = helper.make_node("Pad", ["x", "p"], ["y"], mode=mode)
        inits = {"p": np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64)}
    check(make([node], {"x": [1, 2, 4, 5]}, ["y"], inits, opset=opset))


def test_reshape_flatten_transpose_depth_to_space():
    nodes = [helper.make_node("Reshape", ["x", "s"], ["r"]),
             helper.make_node("Transpose", ["r"], ["t"], perm=[0, 2, 1, 3]),
             helper.make_node("Flatten", ["t"], ["f"], axis=-2),
             helper.make_node("DepthToSpace", ["x"], ["d"], blocksize=2, mode="DCR"),
             helper.make_node("DepthToSpace", ["x"], ["e"], blocksize=2, mode="CRD")]
    g = check(make(nodes, {"x": [1, 8, 3, 3]}, ["f", "d", "e"], {"s": np.array([0, 4, -1, 3], np.int64)}, opset=14))
    reshape = next(n for n in g.nodes if n.op == "Reshape")
    assert reshape.attrs["shape"] == [1, 4, 6, 3]  # 0 and -1 resolved


def test_gather_expand_tile_cast_concat():
    nodes = [helper.make_node("Gather", ["x", "i"], ["g"], axis=1),
             helper.make_node("Gather", ["x", "k"], ["g0"], axis=2),
             helper.make_node("Expand", ["g0", "es"], ["e"]),
             helper.make_node("Tile", ["e", "rep"], ["t"]),
             helper.make_node("Cast", ["t"], ["c"], to=TensorProto.FLOAT16),
             helper.make_node("Cast", ["c"], ["c32"], to=TensorProto.FLOAT),
             helper.make_node("Concat", ["g", "x", "cst"], ["y"], axis=-3)]
    inits = {"i": np.array([2, -1], np.int64), "k": np.array(1, np.int64), "es": np.array([2, 1, 1, 4], np.int64),
             "rep": np.array([1, 1, 2, 1], np.int64), "cst": w(1, 1, 3, 4)}
    g = check(make(nodes, {"x": [1, 3, 3, 4]}, ["y", "c32"], inits), rtol=1e-3, atol=1e-3)
    gathers = [n for n in g.nodes if n.op == "Gather"]
    assert gathers[0].attrs["indices"] == [2, 2] and gathers[1].attrs["indices"] == 1


@pytest.mark.parametrize("opset", [9, 10, 11, 13, 18])
def test_resize_and_upsample_forms(opset):
    if opset == 9:
        node = helper.make_node("Upsample", ["x", "sc"], ["y"], mode="nearest")
        inits = {"sc": np.array([1, 1, 2, 3], np.float32)}
    elif opset == 10:
        node = helper.make_node("Resize", ["x", "sc"], ["y"], mode="linear")
        inits = {"sc": np.array([1, 1, 2, 2], np.float32)}
    elif opset == 11:
        node = helper.make_node("Resize", ["x", "roi", "sc"], ["y"], mode="linear",
                                coordinate_transformation_mode="align_corners")
        inits = {"roi": np.zeros(0, np.float32), "sc": np.array([1, 1, 1.5, 2], np.float32)}
    elif opset == 13:
        node = helper.make_node("Resize", ["x", "", "", "sz"], ["y"], mode="cubic")
        inits = {"sz": np.array([1, 2, 9, 5], np.int64)}
    else:
        node = helper.make_node("Resize", ["x", "", "sc"], ["y"], mode="nearest", axes=[3, 2],
                                nearest_mode="floor", coordinate_transformation_mode="asymmetric")
        inits = {"sc": np.array([2, 3], np.float32)}
    check(make([node], {"x": [1, 2, 4, 5]}, ["y"], inits, opset=opset), rtol=1e-4, atol=1e-5)


# --- shape arithmetic folded away ----------------------------------------------------------------------------
def test_shape_arithmetic_folds_to_attributes():
    """Shape -> Gather -> Unsqueeze -> Concat -> Reshape, ConstantOfShape weights, Cast chains, Range/Where (folded by
    the reference evaluator): only Reshape and Add reach the IR."""
    nodes = [helper.make_node("Shape", ["x"], ["sh"]),
             helper.make_node("Gather", ["sh", "zero"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"]),
             helper.make_node("Constant", [], ["minus1"], value_ints=[-1]),
             helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
             helper.make_node("Cast", ["target"], ["t32"], to=TensorProto.INT32),
             helper.make_node("Cast", ["t32"], ["t64"], to=TensorProto.INT64),
             helper.make_node("Reshape", ["x", "t64"], ["r"]),
             helper.make_node("Shape", ["r"], ["rs"], start=1),
             helper.make_node("ConstantOfShape", ["rs"], ["ones"],
                              value=numpy_helper.from_array(np.array([0.25], np.float32))),
             helper.make_node("Range", ["r0", "r5", "r1"], ["rng"]),
             helper.make_node("Cast", ["rng"], ["rngf"], to=TensorProto.FLOAT),
             helper.make_node("Where", ["cond", "ones", "rngf"], ["bias"]),
             helper.make_node("Add", ["r", "bias"], ["y"])]
    inits = {"zero": np.array(0, np.int64), "ax0": np.array([0], np.int64), "r0": np.array(0.0, np.float32),
             "r5": np.array(60.0, np.float32), "r1": np.array(1.0, np.float32),
             "cond": (np.arange(60) % 2).astype(bool)}
    g = check(make(nodes, {"x": [2, 3, 4, 5]}, ["y"], inits, opset=15))
    assert [n.op for n in g.nodes] == ["Reshape", "Add"]
    assert g.nodes[0].attrs["shape"] == [2, 60]


def test_constant_forms_and_identity_of_initializer():
    nodes = [helper.make_node("Constant", [], ["a"], value_float=2.0),
             helper.make_node("Constant", [], ["b"], value=numpy_helper.from_array(w(3, 1))),
             helper.make_node("Identity", ["b"], ["bi"]),
             helper.make_node("Mul", ["x", "a"], ["m"]), helper.make_node("Add", ["m", "bi"], ["y"])]
    g = check(make(nodes, {"x": [2, 3, 4]}, ["y"], opset=13))
    assert [n.op for n in g.nodes] == ["Mul", "Add"]


def test_dropout_opset12_inputs_and_mask_unused():
    nodes = [helper.make_node("Dropout", ["x", "ratio"], ["d", "mask"]), helper.make_node("Relu", ["d"], ["y"])]
    g = check(make(nodes, {"x": [2, 5]}, ["y"], {"ratio": np.float32(0.3)}, opset=13))
    assert [n.op for n in g.nodes] == ["Relu"]


# --- recurrent -----------------------------------------------------------------------------------------------
def _recurrent_model(op, direction, layout, d, h, i, t, b, inits):
    xs = [b, t, i] if layout else [t, b, i]
    st = [b, d, h] if layout else [d, b, h]
    names = ["x", "W", "R", "B", "", "h0"] + (["c0"] if op == "LSTM" else [])
    inputs = {"x": xs, "h0": st} | ({"c0": st} if op == "LSTM" else {})
    outs = ["Y", "Yh"] + (["Yc"] if op == "LSTM" else [])
    extra = {"linear_before_reset": 1} if op == "GRU" else {}
    node = helper.make_node(op, names, outs, hidden_size=h, direction=direction, layout=layout, **extra)
    return make([node], inputs, outs, inits, opset=14)


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_recurrent_all_directions_initial_states(op, direction):
    gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    d, h, i, t, b = (2 if direction == "bidirectional" else 1), 4, 3, 5, 2
    inits = {"W": w(d, gates * h, i), "R": w(d, gates * h, h), "B": w(d, 2 * gates * h)}
    g = check(_recurrent_model(op, direction, 0, d, h, i, t, b, inits), rtol=1e-4, atol=1e-5)
    rnn = next(n for n in g.nodes if n.op == op)
    assert g.cost(rnn).macs == t * b * d * gates * h * (i + h)


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
def test_recurrent_layout1_transposed_to_layout0(op):
    """onnxruntime rejects layout=1, so the reference is the layout-0 model on transposed inputs."""
    gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[op]
    d, h, i, t, b = 2, 4, 3, 5, 2
    inits = {"W": w(d, gates * h, i), "R": w(d, gates * h, h), "B": w(d, 2 * gates * h)}
    batch_major = _recurrent_model(op, "bidirectional", 1, d, h, i, t, b, inits)
    seq_major = _recurrent_model(op, "bidirectional", 0, d, h, i, t, b, inits)
    feeds = {"x": w(b, t, i), "h0": w(b, d, h), "c0": w(b, d, h)}
    if op != "LSTM":
        del feeds["c0"]
    ref = ort_run(seq_major, {k: v.transpose(1, 0, 2) for k, v in feeds.items()})
    ref = [ref[0].transpose(2, 0, 1, 3)] + [r.transpose(1, 0, 2) for r in ref[1:]]
    g = import_onnx(batch_major)
    rnn = next(n for n in g.nodes if n.op == op)
    assert rnn.attrs.get("layout", 0) == 0 and g.tensors[rnn.inputs[0]].shape == (t, b, i)
    got = run_onnxruntime(g, feeds)
    for name, r in zip(g.outputs, ref):
        assert g.tensors[name].shape == r.shape
        np.testing.assert_allclose(got[name], r, rtol=1e-4, atol=1e-5)


def test_lstm_full_length_sequence_lens_dropped():
    node = helper.make_node("LSTM", ["x", "W", "R", "", "sl"], ["Y"], hidden_size=3)
    inits = {"W": w(1, 12, 2), "R": w(1, 12, 3), "sl": np.array([4, 4], np.int32)}
    g = check(make([node], {"x": [4, 2, 2]}, ["Y"], inits, opset=14), rtol=1e-4, atol=1e-5)
    assert g.nodes[0].inputs[3:] in ((), ("",))


def test_export_is_valid_onnx_at_export_opset():
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])
    g = import_onnx(make([node], {"x": [1, 2, 5, 5]}, ["y"], {"w": w(3, 2, 3, 3)}, opset=9))
    m = export_onnx(g)
    onnx.checker.check_model(m, full_check=True)
    assert m.opset_import[0].version == 19


@pytest.mark.parametrize("mode", ["nearest", "linear"])
@pytest.mark.parametrize("scales", [[1, 1, 0.5, 0.5], [1, 1, 0.6, 0.75], [1, 1, 0.6, 1], [1, 1, 2, 3]])
def test_opset10_resize_down_and_up_sampling(mode, scales):
    node = helper.make_node("Resize", ["x", "sc"], ["y"], mode=mode)
    check(make([node], {"x": [1, 2, 5, 8]}, ["y"], {"sc": np.array(scales, np.float32)}, opset=10))


@pytest.mark.parametrize("opset", range(9, 24))
def test_stable_ops_at_every_opset(opset):
    """A small network of operators whose form did not change, at every supported opset (9..21, and 22/23)."""
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("BatchNormalization", ["c", "s", "bb", "m", "v"], ["n"]),
             helper.make_node("LeakyRelu", ["n"], ["r"], alpha=0.1),
             helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("GlobalAveragePool", ["r"], ["gp"]),
             helper.make_node("Mul", ["p", "gp"], ["pm"]),
             helper.make_node("Concat", ["pm", "p"], ["cat"], axis=1),
             helper.make_node("Transpose", ["cat"], ["t"], perm=[0, 1, 3, 2]),
             helper.make_node("Flatten", ["t"], ["f"], axis=1),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["g"], transB=1),
             helper.make_node("Sigmoid", ["g"], ["y"])]
    inits = {"w": w(4, 3, 3, 3), "b": w(4), "s": w(4), "bb": w(4), "m": w(4), "v": np.abs(w(4)) + 0.5,
             "fw": w(5, 32), "fb": w(5)}
    model = make(nodes, {"x": [2, 3, 8, 8]}, ["y"], inits, opset=opset)
    model.ir_version = {21: 10, 22: 10, 23: 11}.get(opset, model.ir_version)
    g = check(model)
    assert [n.op for n in g.nodes] == ["Conv", "LeakyRelu", "MaxPool", "GlobalAveragePool", "Mul", "Concat",
                                       "Transpose", "FullyConnected", "Sigmoid"]
