"""Each canonicalisation on its own: the structural change, and unchanged numerics (onnxruntime through export)."""
from __future__ import annotations

import numpy as np
import pytest

from compiler.builder import GraphBuilder
from compiler.frontend import (CANONICALIZATIONS, canonicalize, clip_to_relu6, fold_batchnorm,
                               recognise_fully_connected, remove_identity, run_onnxruntime, sum_to_add)
from compiler.ir import Graph

RNG = np.random.default_rng(0)


def feeds_for(g: Graph) -> dict[str, np.ndarray]:
    return {i: RNG.standard_normal(g.tensors[i].shape).astype(np.float32) for i in g.inputs}


def same_numerics(before: Graph, after: Graph, rtol: float = 1e-5) -> None:
    feeds = feeds_for(before)
    a, b = run_onnxruntime(before, feeds), run_onnxruntime(after, feeds)
    assert before.outputs == after.outputs
    for o in before.outputs:
        np.testing.assert_allclose(b[o], a[o], rtol=rtol, atol=rtol * np.abs(a[o]).max())


def ops(g: Graph) -> list[str]:
    return [n.op for n in g.nodes]


def bn(b: GraphBuilder, x: str, name: str | None = None) -> str:
    c = b.shape(x)[1]
    params = [b.const("gamma", (c,), RNG.uniform(0.5, 1.5, c)), b.const("beta", (c,), RNG.uniform(-1, 1, c)),
              b.const("mean", (c,), RNG.uniform(-1, 1, c)), b.const("var", (c,), RNG.uniform(0.5, 2, c))]
    return b.op("BatchNormalization", [x, *params], {"epsilon": 1e-3, "momentum": 0.9}, name=name)[0]


# --- fold_batchnorm -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("groups,bias", [(1, True), (2, False), (4, True)])
def test_fold_batchnorm_into_conv(groups, bias):
    b = GraphBuilder("t", weights="random", seed=1)
    x = b.input("x", (2, 4, 6, 6))
    y = b.relu(bn(b, b.conv(x, 8, 3, pad=1, groups=groups, bias=bias, name="conv"), name="bn"))
    g = b.build([y])
    folded = fold_batchnorm(g)
    assert ops(folded) == ["Conv", "Relu"] and ops(g) == ["Conv", "BatchNormalization", "Relu"]
    assert folded.nodes[0].origin == ("conv", "bn")
    same_numerics(g, folded)


def test_fold_batchnorm_into_grouped_conv_transpose():
    b = GraphBuilder("t", weights="random", seed=2)
    x = b.input("x", (1, 4, 5, 5))
    w = b.const("w", (4, 3, 3, 3), fan_in=9)
    ct = b.op("ConvTranspose", [x, w], {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1],
                                        "dilations": [1, 1], "group": 2, "output_padding": [1, 1]})[0]
    g = b.build([bn(b, ct)])
    folded = fold_batchnorm(g)
    assert ops(folded) == ["ConvTranspose"]
    same_numerics(g, folded)


def test_batchnorm_kept_when_not_foldable():
    b = GraphBuilder("t", weights="random", seed=3)
    x = b.input("x", (1, 3, 5, 5))
    c = b.conv(x, 4, 3, pad=1)
    side = b.relu(c)  # the conv output has a second reader: folding would change it
    y = b.add(bn(b, c), side)
    z = bn(b, b.relu(y))  # after a Relu: nothing to fold into
    g = b.build([z])
    folded = fold_batchnorm(g)
    assert ops(folded).count("BatchNormalization") == 2
    same_numerics(g, folded)


def test_fold_batchnorm_cost_only_graph_keeps_shapes():
    b = GraphBuilder("t", weights="none")
    x = b.input("x", (1, 3, 8, 8))
    g = b.build([b.batchnorm(b.conv(x, 16, 3, pad=1))])
    folded = fold_batchnorm(g)
    conv = folded.nodes[0]
    assert ops(folded) == ["Conv"] and folded.tensors[conv.inputs[1]].data is None
    assert folded.tensors[conv.inputs[2]].shape == (16,)
    assert folded.totals().macs == g.totals().macs


def test_broadcast_weights_stay_broadcast():
    """The light zoo's constant weights are zero-stride views; folding must not materialise them."""
    b = GraphBuilder("t", weights="random", seed=4)
    x = b.input("x", (1, 64, 8, 8))
    w = b.const("w", (256, 64, 3, 3), data=np.broadcast_to(np.float32(0.02), (256, 64, 3, 3)))
    c = b.op("Conv", [x, w], {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [1, 1, 1, 1],
                              "dilations": [1, 1], "group": 1})[0]
    g = b.build([bn(b, c)])
    folded = fold_batchnorm(g)
    data = folded.tensors[folded.nodes[0].inputs[1]].data
    assert data.shape == (256, 64, 3, 3) and data.strides[1:] == (0, 0, 0)
    same_numerics(g, folded)


# --- remove_identity, sum_to_add, clip_to_relu6 -------------------------------------------------------------------
def test_remove_identity_and_dropout_keeps_output_names():
    b = GraphBuilder("t")
    x = b.input("x", (2, 3))
    i1 = b.op("Identity", [x])[0]
    r = b.relu(b.op("Identity", [i1])[0])
    d = b.op("Dropout", [r], name="out")[0]
    passthrough = b.op("Identity", [x], name="copy")[0]  # graph input straight to a graph output: must stay
    g = b.build([d, passthrough])
    cleaned = remove_identity(g)
    assert ops(cleaned) == ["Relu", "Identity"]
    assert cleaned.outputs == ["out", "copy"] and cleaned.nodes[0].inputs == ("x",)
    cleaned.validate()
    same_numerics(g, cleaned)


def test_sum_to_add_chain():
    b = GraphBuilder("t")
    xs = [b.input(f"x{k}", (2, 3, 4)) for k in range(3)]
    s3 = b.op("Sum", xs)[0]
    s1 = b.op("Sum", [s3])[0]
    g = b.build([b.relu(s1)])
    out = sum_to_add(g)
    assert ops(out) == ["Add", "Add", "Relu"]
    same_numerics(g, out)


def test_clip_to_relu6_and_relu():
    b = GraphBuilder("t")
    x = b.input("x", (4, 5))
    y = b.activation(b.activation(b.activation(x, "Clip", min=0.0, max=6.0), "Clip", min=0.0),
                     "Clip", min=-1.0, max=1.0)
    g = b.build([y])
    out = clip_to_relu6(g)
    assert ops(out) == ["Relu6", "Relu", "Clip"]
    same_numerics(g, out)


# --- recognise_fully_connected ----------------------------------------------------------------------------------
def _gemm(b, a, n_out, trans_b=1, alpha=1.0, beta=1.0, bias_shape=None):
    k = b.shape(a)[1]
    w = b.const("B", (n_out, k) if trans_b else (k, n_out), fan_in=k)
    ins = [a, w] + ([b.const("C", bias_shape, fan_in=1)] if bias_shape else [])
    return b.op("Gemm", ins, {"alpha": alpha, "beta": beta, "transA": 0, "transB": trans_b})[0]


def test_flatten_gemm_becomes_fully_connected():
    b = GraphBuilder("t", weights="random", seed=5)
    x = b.input("x", (2, 4, 3, 3))
    g = b.build([_gemm(b, b.flatten(x), 7, bias_shape=(7,))])
    out = recognise_fully_connected(g)
    assert ops(out) == ["FullyConnected"] and out.nodes[0].inputs[0] == "x" and len(out.nodes[0].origin) == 2
    same_numerics(g, out)


def test_reshape_gemm_transposed_weights_alpha_beta():
    b = GraphBuilder("t", weights="random", seed=6)
    x = b.input("x", (3, 2, 5))
    g = b.build([_gemm(b, b.reshape(x, (3, 10)), 4, trans_b=0, alpha=2.0, beta=0.5, bias_shape=(1, 4))])
    out = recognise_fully_connected(g)
    assert ops(out) == ["FullyConnected"]
    assert out.tensors[out.nodes[0].inputs[1]].shape == (4, 10)
    same_numerics(g, out)


def test_gemm_with_matrix_bias_or_shared_flatten_not_absorbed():
    b = GraphBuilder("t", weights="random", seed=7)
    x = b.input("x", (2, 6, 2))
    f = b.flatten(x)
    y1 = _gemm(b, f, 3, bias_shape=(2, 3))  # a full bias matrix: not a fully-connected layer
    y2 = _gemm(b, f, 3)  # the flatten has two readers: stays, the FC reads its 2-D output
    g = b.build([y1, y2])
    out = recognise_fully_connected(g)
    assert ops(out) == ["Flatten", "Gemm", "FullyConnected"]
    same_numerics(g, out)


# --- the pipeline ---------------------------------------------------------------------------------------------
def test_pipeline_names_and_input_not_modified():
    assert [name for name, _ in CANONICALIZATIONS] == ["remove-identity", "sum-to-add", "clip-to-relu6",
                                                        "fold-batchnorm", "recognise-fully-connected"]
    b = GraphBuilder("t", weights="random", seed=8)
    x = b.input("x", (1, 3, 6, 6))
    y = b.activation(bn(b, b.conv(x, 4, 3)), "Clip", min=0.0, max=6.0)
    g = b.build([b.op("Dropout", [_gemm(b, b.flatten(y), 5, bias_shape=(5,))])[0]])
    before = (ops(g), dict(g.tensors))
    out = canonicalize(g)
    assert (ops(g), dict(g.tensors)) == before
    assert ops(out) == ["Conv", "Relu6", "FullyConnected"]
    same_numerics(g, out)
    assert ops(canonicalize(g, ["clip-to-relu6"])) == ["Conv", "BatchNormalization", "Relu6", "Flatten", "Gemm",
                                                       "Dropout"]
    with pytest.raises(KeyError, match="unknown canonicalisation"):
        canonicalize(g, ["bogus"])
