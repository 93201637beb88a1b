"""Tidy an exported static-shape ONNX model without changing what it computes.

torch's exporter leaves shape arithmetic in the graph (e.g. Shape -> Gather -> Concat -> Expand building the
zero initial state of a fused LSTM). With static input shapes all of it is constant. `tidy` folds it:

1. `Shape` of a tensor whose shape is static, and every node whose inputs are all constant, is evaluated once
   (onnx's reference evaluator) and replaced by an initializer, unless it reads a weight;
2. an all-zero `initial_h`/`initial_c` of LSTM/GRU/RNN is dropped (ONNX defines the missing input as zeros),
   and so are the names of their `Y_h`/`Y_c` outputs when nothing reads them (both are optional);
3. unused initializers are removed and shapes are re-inferred.

Nodes that read the exporter's weight tensors are never folded, and BatchNormalization stays unfolded (folding
BN is the compiler's job).
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference

_RNN_STATE_INPUTS = {"LSTM": (5, 6), "GRU": (5,), "RNN": (5,)}
_FLOAT_TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16}
_NEVER_FOLD = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "If", "Loop",
               "Scan"}


def skeleton(model: onnx.ModelProto, limit: int = 4096) -> onnx.ModelProto:
    """The model with every initializer above `limit` elements turned into a typed graph input (no data).

    Shape inference and the checker serialise the whole model; on the skeleton they take milliseconds instead
    of seconds for a network with 100+ MB of weights, and see the same shapes and operators.
    """
    sk = onnx.ModelProto()
    sk.ir_version = model.ir_version
    sk.opset_import.extend(model.opset_import)
    g, src = sk.graph, model.graph
    g.name = src.name
    g.node.extend(src.node)
    g.input.extend(src.input)
    g.output.extend(src.output)
    for t in src.initializer:
        if np.prod(t.dims, dtype=np.int64) <= limit:
            g.initializer.append(t)
        else:
            g.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    return sk


def _static_shapes(model: onnx.ModelProto) -> dict[str, tuple[int, ...]]:
    inferred = shape_inference.infer_shapes(skeleton(model))
    shapes: dict[str, tuple[int, ...]] = {}
    for vi in [*inferred.graph.input, *inferred.graph.value_info, *inferred.graph.output]:
        t = vi.type.tensor_type
        if t.HasField("shape") and all(d.HasField("dim_value") for d in t.shape.dim):
            shapes[vi.name] = tuple(d.dim_value for d in t.shape.dim)
    return shapes


def _evaluate(node: onnx.NodeProto, inputs: list[np.ndarray | None], opset: list) -> list[np.ndarray]:
    from onnx.reference import ReferenceEvaluator

    names = [f"in{k}" if v is not None else "" for k, v in enumerate(inputs)]
    outs = [f"out{k}" for k in range(len(node.output))]
    one = helper.make_node(node.op_type, names, outs, domain=node.domain, **{
        a.name: helper.get_attribute_value(a) for a in node.attribute})
    feeds = {n: v for n, v in zip(names, inputs) if n}
    graph = helper.make_graph([one], "fold", [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(
        v.dtype), v.shape) for n, v in feeds.items()], [helper.make_value_info(o, onnx.TypeProto()) for o in outs])
    return ReferenceEvaluator(helper.make_model(graph, opset_imports=opset)).run(None, feeds)


def tidy(model: onnx.ModelProto, max_rounds: int = 4) -> onnx.ModelProto:
    """Fold constant shape arithmetic and drop zero RNN states, repeating while shapes keep resolving."""
    weights = {t.name for t in model.graph.initializer if t.data_type in _FLOAT_TYPES and len(t.dims)}
    for _ in range(max_rounds):
        if not _tidy_round(model, weights):
            break
    g = model.graph
    del g.value_info[:]
    g.value_info.extend(shape_inference.infer_shapes(skeleton(model)).graph.value_info)
    return model


def _tidy_round(model: onnx.ModelProto, weights: set[str]) -> bool:
    """One pass of folding; returns whether anything changed (the graph is edited in place). Nodes reading one
    of the exporter's weight tensors are kept (e.g. an Expand of a learned vector would multiply its size)."""
    g = model.graph
    shapes = _static_shapes(model)
    by_name = {t.name: t for t in g.initializer}
    graph_outputs = {o.name for o in g.output}
    consts: dict[str, np.ndarray] = {}

    def is_const(name: str) -> bool:
        return name in consts or name in by_name

    def value(name: str) -> np.ndarray:
        if name not in consts:
            consts[name] = numpy_helper.to_array(by_name[name])
        return consts[name]

    kept: list[onnx.NodeProto] = []
    changed = False
    for node in g.node:
        if graph_outputs.intersection(node.output):
            kept.append(node)
        elif node.op_type == "Shape" and node.input[0] in shapes:
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            dims = shapes[node.input[0]]
            consts[node.output[0]] = np.array(dims[attrs.get("start", 0):attrs.get("end", len(dims))], np.int64)
            changed = True
        elif (node.op_type not in _NEVER_FOLD and node.domain in ("", "ai.onnx")
              and all(is_const(i) and i not in weights for i in node.input if i)):
            values = _evaluate(node, [value(i) if i else None for i in node.input], list(model.opset_import))
            consts.update({o: np.asarray(v) for o, v in zip(node.output, values) if o})
            changed = True
        else:
            kept.append(node)
    read = {i for n in kept for i in n.input if i} | graph_outputs
    for node in kept:
        if node.op_type in _RNN_STATE_INPUTS:  # Y_h / Y_c nobody reads: optional outputs, leave them unnamed
            for k in range(1, len(node.output)):
                if node.output[k] and node.output[k] not in read:
                    node.output[k] = ""
                    changed = True
            while node.output and not node.output[-1]:
                node.output.pop()
        for k in _RNN_STATE_INPUTS.get(node.op_type, ()):
            if k < len(node.input) and is_const(node.input[k]) and not value(node.input[k]).any():
                node.input[k] = ""
                changed = True
        while node.input and not node.input[-1]:
            node.input.pop()
    if not changed:
        return False
    used = {i for n in kept for i in n.input if i} | graph_outputs
    graph_inputs = {i.name for i in g.input}
    inits = [t for name, t in by_name.items() if name in used]
    inits += [numpy_helper.from_array(v, name) for name, v in consts.items()
              if name in used and name not in by_name and name not in graph_inputs]
    del g.node[:]
    g.node.extend(kept)
    del g.initializer[:]
    g.initializer.extend(inits)
    return True
