"""The nine light model-zoo networks shipped in the onnx wheel: import, shapes and numerics against onnxruntime,
and MACs against an independent count from onnx's own shape inference."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper, shape_inference

from compiler.frontend import import_onnx, run_onnxruntime

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
MODELS = sorted(p.name for p in LIGHT.glob("light_*.onnx"))
RNN_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def test_the_nine_networks_are_there():
    assert [m.removeprefix("light_").removesuffix(".onnx") for m in MODELS] == [
        "bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50", "shufflenet", "squeezenet",
        "vgg19", "zfnet512"]


def onnx_macs(model: onnx.ModelProto) -> int:
    """MACs of Conv/ConvTranspose/Gemm/MatMul/recurrent nodes from onnx shape inference (independent of the IR)."""
    inferred = shape_inference.infer_shapes(model, data_prop=True)
    g = inferred.graph
    shapes = {vi.name: [d.dim_value for d in vi.type.tensor_type.shape.dim]
              for vi in [*g.value_info, *g.input, *g.output]}
    shapes.update({t.name: list(t.dims) for t in g.initializer})

    def shape(name: str) -> list[int]:
        dims = shapes.get(name)
        if not dims or 0 in dims:
            raise ValueError(f"onnx shape inference left '{name}' unknown ({dims})")
        return dims

    total = 0
    for n in g.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
        if n.op_type == "Conv":
            total += math.prod(shape(n.output[0])) * math.prod(shape(n.input[1])[1:])
        elif n.op_type == "ConvTranspose":
            total += math.prod(shape(n.input[0])) * math.prod(shape(n.input[1])[1:])
        elif n.op_type == "Gemm":
            a = shape(n.input[0])
            total += math.prod(shape(n.output[0])) * (a[0] if attrs.get("transA", 0) else a[1])
        elif n.op_type == "MatMul":
            total += math.prod(shape(n.output[0])) * shape(n.input[0])[-1]
        elif n.op_type in RNN_GATES:
            seq, batch, inp = shape(n.input[0])
            if attrs.get("layout", 0):
                seq, batch = batch, seq
            dirs, gh, _ = shape(n.input[1])
            h = gh // RNN_GATES[n.op_type]
            total += seq * batch * gh * (inp + h) * dirs
    return total


def randomized(model: onnx.ModelProto, seed: int = 0, limit: int = 5_000_000) -> onnx.ModelProto:
    """The model with its ConstantOfShape weights (all 0.02 in the light zoo) replaced by seeded random initializers,
    so that numerics differ per channel; tensors over `limit` elements keep their constant value."""
    rng = np.random.default_rng(seed)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = {t.name: t for t in m.graph.initializer}
    keep = []
    for node in m.graph.node:
        if node.op_type == "ConstantOfShape" and node.input[0] in inits:
            shape = [int(d) for d in numpy_helper.to_array(inits[node.input[0]])]
            if math.prod(shape) <= limit:
                if len(shape) == 1:  # biases and BatchNorm parameters: positive (a variance must be)
                    data = 0.5 + np.abs(rng.standard_normal(shape)) * 0.5
                else:
                    data = rng.standard_normal(shape) * math.sqrt(1.0 / math.prod(shape[1:]))
                m.graph.initializer.append(numpy_helper.from_array(data.astype(np.float32), node.output[0]))
                continue
        keep.append(node)
    del m.graph.node[:]
    m.graph.node.extend(keep)
    return m


def ort_run(model: onnx.ModelProto, feeds):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # faster start for VGG's 143M weights
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"]).run(None, feeds)


@pytest.mark.parametrize("name", MODELS)
def test_light_zoo_shapes_macs_numerics(name):
    original = onnx.load(LIGHT / name)
    model = randomized(original)
    raw = import_onnx(model, canonicalize=False)
    graph = import_onnx(model)
    feeds = {i: np.random.default_rng(1).standard_normal(graph.tensors[i].shape).astype(np.float32)
             for i in graph.inputs}
    ref = ort_run(model, feeds)
    # output shapes equal onnxruntime's
    assert [graph.tensors[o].shape for o in graph.outputs] == [r.shape for r in ref]
    # MACs equal the independent count, before and after canonicalisation
    expected = onnx_macs(original)
    assert raw.totals().macs == expected
    assert graph.totals().macs == expected
    # canonical forms: no BatchNorm after a conv, no Dropout/Identity/Sum/Gemm left
    ops = {n.op for n in graph.nodes}
    assert not ops & {"Dropout", "Identity", "Sum", "Gemm"}
    if "BatchNormalization" in {n.op for n in raw.nodes} and name != "light_densenet121.onnx":
        assert "BatchNormalization" not in ops  # densenet's BN follow Concat/pooling and stay
    # export(import(m)) on onnxruntime matches the original
    got = run_onnxruntime(graph, feeds, optimize=False)
    for o, r in zip(graph.outputs, ref):
        err = np.max(np.abs(got[o] - r)) / np.max(np.abs(r))
        assert err < 1e-4, f"{name}: relative error {err:.2e}"


def test_origin_kept_through_canonicalisation():
    graph = import_onnx(LIGHT / "light_resnet50.onnx")
    fused = [n for n in graph.nodes if n.op == "Conv"]
    assert len(fused) == 53 and all(len(n.origin) == 2 for n in fused)  # every conv absorbed its BatchNorm
    fc = next(n for n in graph.nodes if n.op == "FullyConnected")
    assert len(fc.origin) == 2  # the Reshape and the Gemm
