"""Helpers of the functional acceptance tests: the light model zoo of the onnx wheel, onnxruntime references,
seeded random weights, the relative error used throughout (max |sim - ref| / max |ref|)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from compiler.compile import compile_model
from compiler.frontend import import_onnx
from hw_models.arch import load_arch
from simulator.functional import FunctionalSimulator
from simulator.precision import compare

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
MODELS = sorted(p.stem.removeprefix("light_") for p in LIGHT.glob("light_*.onnx"))
BIG = {"vgg19", "bvlc_alexnet", "zfnet512"}      # tens of millions of weights: marked slow
FP32 = load_arch("a10_generic").with_changes(precision="fp32")
TOL = 1e-4


def ort_outputs(model: onnx.ModelProto, feeds: dict) -> list[np.ndarray]:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"]).run(None, feeds)


def simulate_model(model: onnx.ModelProto, arch, opt: int, seed: int = 1):
    graph = import_onnx(model)
    feeds = {i: np.random.default_rng(seed).standard_normal(graph.tensors[i].shape).astype(np.float32)
             for i in graph.inputs}
    prog = compile_model(graph, arch, opt_level=opt).program
    out = FunctionalSimulator(prog).run(feeds)
    return [out[o] for o in graph.outputs], feeds


def with_random_weights(model: onnx.ModelProto, seed: int = 0) -> onnx.ModelProto:
    """The light zoo's ConstantOfShape weights (every weight 0.02) replaced by seeded random initializers, so that
    channels differ; 1-D tensors (biases, BatchNorm parameters) positive, as a variance must be."""
    rng = np.random.default_rng(seed)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = {t.name: t for t in m.graph.initializer}
    keep = []
    for node in m.graph.node:
        if node.op_type == "ConstantOfShape" and node.input[0] in inits:
            shape = [int(d) for d in numpy_helper.to_array(inits[node.input[0]])]
            if len(shape) == 1:
                data = 0.5 + 0.5 * np.abs(rng.standard_normal(shape))
            else:
                data = rng.standard_normal(shape) * math.sqrt(1.0 / math.prod(shape[1:]))
            m.graph.initializer.append(numpy_helper.from_array(data.astype(np.float32), node.output[0]))
            continue
        keep.append(node)
    del m.graph.node[:]
    m.graph.node.extend(keep)
    return m


def rel(got: np.ndarray, ref: np.ndarray) -> float:
    return compare(got.reshape(ref.shape), ref).max_rel


def _marks(name: str):
    return [pytest.mark.slow] if name in BIG else []


