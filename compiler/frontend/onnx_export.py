"""IR -> ONNX export, so any IR graph (or subgraph: `Graph.subgraph`) runs on onnxruntime.

The exported model uses opset `EXPORT_OPSET`. IR-only operators are lowered to standard ONNX (Relu6 -> Clip,
FullyConnected -> Flatten + Gemm), and parameters the IR keeps as attributes go back to constant inputs where the
opset wants them (Reshape shape, Slice starts/ends/axes/steps, Pad pads, Resize scales/sizes, Squeeze/Unsqueeze/
Split/ReduceMean axes, Clip min/max, Gather indices, Expand shape, Tile repeats). Weights that are zero-stride
broadcasts (the light model zoo's constant weights, folded BatchNorm of them) are exported as a small initializer
plus an Expand node, so the file stays small.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import onnx
from onnx import helper, numpy_helper

from compiler.errors import ModelError
from compiler.frontend.folding import compact
from compiler.ir import Graph, Node

EXPORT_OPSET = 19
EXPORT_IR_VERSION = 9
FLOAT_ATTRS = frozenset({"alpha", "beta", "epsilon", "momentum", "bias", "clip", "cubic_coeff_a",
                         "extrapolation_value"})
FLOAT_LIST_ATTRS = frozenset({"activation_alpha", "activation_beta"})


class _Writer:
    """Accumulates ONNX nodes and initializers with names unique in the exported graph."""

    def __init__(self, g: Graph):
        self.g = g
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.taken: set[str] = set(g.tensors) | {n.name for n in g.nodes}

    def name(self, base: str) -> str:
        name, k = base, 1
        while name in self.taken:
            name = f"{base}_{k}"
            k += 1
        self.taken.add(name)
        return name

    def const(self, base: str, value: Any, dtype: Any = np.int64) -> str:
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def node(self, op: str, inputs: list[str], outputs: list[str], name: str, **attrs: Any) -> None:
        clean = {}
        for k, v in attrs.items():
            if k in FLOAT_ATTRS:
                v = float(v)
            elif k in FLOAT_LIST_ATTRS:
                v = [float(x) for x in v]
            elif isinstance(v, tuple):
                v = list(v)
            clean[k] = v
        while inputs and not inputs[-1]:
            inputs = inputs[:-1]
        self.nodes.append(helper.make_node(op, inputs, outputs, name=name, **clean))

    def weight(self, name: str) -> None:
        t = self.g.tensors[name]
        if t.data is None:
            raise ModelError(f"graph '{self.g.name}': weight '{name}' has no data (a cost-only graph); build it "
                             f"with weights='random' to export or run it")
        data = np.asarray(t.data)
        base = compact(data)
        if base.size < data.size:  # a broadcast constant: small initializer + Expand
            src = self.const(f"{name}/base", base, data.dtype)
            shape = self.const(f"{name}/shape", data.shape)
            self.node("Expand", [src, shape], [name], self.name(f"{name}/expand"))
        else:
            self.inits.append(numpy_helper.from_array(np.ascontiguousarray(data), name))


def _ints_input(w: _Writer, n: Node, key: str) -> str:
    v = n.attr(key)
    return "" if v is None else w.const(f"{n.name}/{key}", v)


def _scalar_input(w: _Writer, n: Node, key: str, dtype: str) -> str:
    v = n.attr(key)
    return "" if v is None else w.const(f"{n.name}/{key}", v, dtype)


Exporter = Callable[[_Writer, Node], None]


def _default(w: _Writer, n: Node) -> None:
    w.node(n.op, list(n.inputs), list(n.outputs), n.name, **dict(n.attrs))


def _with_inputs(*keys: str, keep: tuple[str, ...] = ()) -> Exporter:
    def run(w: _Writer, n: Node) -> None:
        extra = [_ints_input(w, n, k) for k in keys]
        w.node(n.op, [n.inputs[0], *extra], list(n.outputs), n.name, **{k: n.attrs[k] for k in keep if k in n.attrs})

    return run


def _clip(w: _Writer, n: Node) -> None:
    dt = w.g.tensors[n.inputs[0]].dtype
    w.node("Clip", [n.inputs[0], _scalar_input(w, n, "min", dt), _scalar_input(w, n, "max", dt)], list(n.outputs),
           n.name)


def _relu6(w: _Writer, n: Node) -> None:
    dt = w.g.tensors[n.inputs[0]].dtype
    w.node("Clip", [n.inputs[0], w.const(f"{n.name}/min", 0, dt), w.const(f"{n.name}/max", 6, dt)],
           list(n.outputs), n.name)


def _fully_connected(w: _Writer, n: Node) -> None:
    x = n.inputs[0]
    if len(w.g.tensors[x].shape) != 2:
        flat = w.name(f"{n.name}/flatten")
        w.node("Flatten", [x], [flat], flat, axis=1)
        x = flat
    w.node("Gemm", [x, *n.inputs[1:]], list(n.outputs), n.name, transB=1)


def _pad(w: _Writer, n: Node) -> None:
    dt = w.g.tensors[n.inputs[0]].dtype
    value = _scalar_input(w, n, "value", dt) if n.attr("mode", "constant") == "constant" else ""
    w.node("Pad", [n.inputs[0], _ints_input(w, n, "pads"), value], list(n.outputs), n.name,
           mode=n.attr("mode", "constant"))


def _resize(w: _Writer, n: Node) -> None:
    attrs = {k: v for k, v in n.attrs.items() if k not in ("sizes", "scales")}
    if n.attr("scales") is not None:
        ins = [n.inputs[0], "", w.const(f"{n.name}/scales", n.attr("scales"), np.float32)]
    else:
        ins = [n.inputs[0], "", "", _ints_input(w, n, "sizes")]
    w.node("Resize", ins, list(n.outputs), n.name, **attrs)


def _gather(w: _Writer, n: Node) -> None:
    w.node("Gather", [n.inputs[0], w.const(f"{n.name}/indices", n.attr("indices"))], list(n.outputs), n.name,
           axis=n.attr("axis", 0))


def _cast(w: _Writer, n: Node) -> None:
    w.node("Cast", [n.inputs[0]], list(n.outputs), n.name, to=helper.np_dtype_to_tensor_dtype(np.dtype(n.attr("to"))))


EXPORTERS: dict[str, Exporter] = {
    "Relu6": _relu6,
    "FullyConnected": _fully_connected,
    "Clip": _clip,
    "Reshape": _with_inputs("shape", keep=("allowzero",)),
    "Slice": _with_inputs("starts", "ends", "axes", "steps"),
    "Squeeze": _with_inputs("axes"),
    "Unsqueeze": _with_inputs("axes"),
    "Split": _with_inputs("split", keep=("axis",)),
    "ReduceMean": _with_inputs("axes", keep=("keepdims",)),
    "Expand": _with_inputs("shape"),
    "Tile": _with_inputs("repeats"),
    "Pad": _pad,
    "Resize": _resize,
    "Gather": _gather,
    "Cast": _cast,
}


def export_onnx(graph: Graph, *, name: str | None = None) -> onnx.ModelProto:
    """An ONNX model (opset `EXPORT_OPSET`) computing `graph`; weights must have data."""
    graph.validate()
    w = _Writer(graph)
    used = {i for n in graph.nodes for i in n.inputs if i} | set(graph.outputs)
    for t in graph.tensors.values():
        if t.const and t.name in used:
            w.weight(t.name)
    for n in graph.nodes:
        EXPORTERS.get(n.op, _default)(w, n)

    def info(tname: str) -> onnx.ValueInfoProto:
        t = graph.tensors[tname]
        return helper.make_tensor_value_info(tname, helper.np_dtype_to_tensor_dtype(np.dtype(t.dtype)), list(t.shape))

    onnx_graph = helper.make_graph(w.nodes, name or graph.name, [info(i) for i in graph.inputs],
                                   [info(o) for o in graph.outputs], w.inits)
    model = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", EXPORT_OPSET)],
                              producer_name="ovl", ir_version=EXPORT_IR_VERSION)
    return model
