"""Constant folding during import: numpy evaluation of IR data-movement/arithmetic ops on constant inputs, and a
fallback that evaluates any other standard ONNX node with onnx's reference evaluator.

Folding keeps shape arithmetic (Shape -> Gather -> Concat -> Reshape, ConstantOfShape weights, Cast chains, ...)
out of the IR. Constants built by ConstantOfShape/Expand stay zero-stride numpy views (`np.broadcast_to`), so a
network whose weights are all one value (the onnx wheel's light model zoo) costs no memory; `compact` recovers
the small base array of such a view for arithmetic and export.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

Arrays = list[np.ndarray]


def compact(a: np.ndarray) -> np.ndarray:
    """The smallest array that broadcasts back to `a` along its zero-stride (broadcast) axes."""
    if a.ndim == 0 or a.size <= 1 or all(s != 0 for s in a.strides):
        return a
    return a[tuple(slice(0, 1) if (s == 0 and d > 1) else slice(None) for s, d in zip(a.strides, a.shape))]


def _binary(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[[Arrays, Mapping[str, Any]], Arrays]:
    def run(xs: Arrays, attrs: Mapping[str, Any]) -> Arrays:
        a, b = xs
        shape = np.broadcast_shapes(a.shape, b.shape)
        out = np.asarray(fn(compact(a), compact(b)))
        if out.dtype != a.dtype and a.dtype == b.dtype:
            out = out.astype(a.dtype)
        return [np.broadcast_to(out, shape) if out.shape != shape else out]

    return run


def _int_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer):
        q = np.abs(a) // np.abs(b)  # ONNX integer Div truncates toward zero (like C)
        return (np.sign(a) * np.sign(b) * q).astype(np.result_type(a, b))
    return a / b


def _slice(xs: Arrays, at: Mapping[str, Any]) -> Arrays:
    x = xs[0]
    index = [slice(None)] * x.ndim
    for st, en, ax, sp in zip(at["starts"], at["ends"], at["axes"], at["steps"]):
        index[ax] = slice(st, en, sp)  # python slicing clamps and counts negatives from the end, as ONNX does
    return [x[tuple(index)]]


def _split(xs: Arrays, at: Mapping[str, Any]) -> Arrays:
    cuts = np.cumsum(at["split"])[:-1]
    return list(np.split(xs[0], cuts, axis=at.get("axis", 0)))


def _squeeze(xs: Arrays, at: Mapping[str, Any]) -> Arrays:
    return [np.squeeze(xs[0], axis=tuple(at["axes"])) if at.get("axes") is not None else np.squeeze(xs[0])]


def _unsqueeze(xs: Arrays, at: Mapping[str, Any]) -> Arrays:
    x = xs[0]
    rank = x.ndim + len(at["axes"])
    return [np.expand_dims(x, tuple(a % rank for a in at["axes"]))]


def _flatten(xs: Arrays, at: Mapping[str, Any]) -> Arrays:
    x = xs[0]
    ax = at.get("axis", 1) % (x.ndim + 1) if x.ndim else 0
    return [x.reshape(int(np.prod(x.shape[:ax])), int(np.prod(x.shape[ax:])))]


def _reshape(xs: Arrays, at: Mapping[str, Any]) -> Arrays:
    from compiler.ir import Node
    from compiler.ops import reshape_target

    node = Node("fold", "Reshape", (), (), dict(at))
    return [xs[0].reshape(reshape_target(node, xs[0].shape, at["shape"], at.get("allowzero", 0)))]


FOLD: dict[str, Callable[[Arrays, Mapping[str, Any]], Arrays]] = {
    "Identity": lambda xs, at: [xs[0]],
    "Dropout": lambda xs, at: [xs[0]],
    "Cast": lambda xs, at: [xs[0].astype(at["to"])],
    "Reshape": _reshape,
    "Flatten": _flatten,
    "Transpose": lambda xs, at: [np.transpose(xs[0], at.get("perm"))],
    "Squeeze": _squeeze,
    "Unsqueeze": _unsqueeze,
    "Slice": _slice,
    "Split": _split,
    "Concat": lambda xs, at: [np.concatenate([x for x in xs], axis=at["axis"])],
    "Gather": lambda xs, at: [np.take(xs[0], np.asarray(at["indices"], dtype=np.int64), axis=at.get("axis", 0))],
    "Expand": lambda xs, at: [np.broadcast_to(xs[0], np.broadcast_shapes(xs[0].shape, tuple(at["shape"])))],
    "Tile": lambda xs, at: [np.tile(xs[0], at["repeats"])],
    "Add": _binary(np.add),
    "Sub": _binary(np.subtract),
    "Mul": _binary(np.multiply),
    "Div": _binary(_int_div),
    "Relu": lambda xs, at: [np.maximum(xs[0], 0).astype(xs[0].dtype)],
}


def fold_with_reference(node: onnx.NodeProto, inputs: Sequence[np.ndarray | None], opset: int,
                        opsets: Sequence[onnx.OperatorSetIdProto] = ()) -> Arrays:
    """Evaluate one ONNX node on constant inputs with `onnx.reference` (for ops the IR does not have)."""
    from onnx.reference import ReferenceEvaluator

    names = list(node.input)
    feeds = {n: v for n, v in zip(names, inputs) if n and v is not None}
    graph = helper.make_graph(
        [node], "fold",
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), list(v.shape))
         for n, v in feeds.items()],
        [helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in node.output if o])
    imports = list(opsets) or [helper.make_opsetid("", opset)]
    model = helper.make_model(graph, opset_imports=imports)
    results = ReferenceEvaluator(model).run(None, {n: np.ascontiguousarray(v) for n, v in feeds.items()})
    return [np.asarray(r) for r in results]


def tensor_to_array(t: onnx.TensorProto) -> np.ndarray:
    return numpy_helper.to_array(t)
