"""ONNX -> IR import: walk the ONNX graph once, fold constants, and dispatch every other node to its handler.

Values are either constants (numpy arrays: initializers, Constant nodes and everything computed only from them,
including all shape arithmetic, since every shape is static) or data tensors of the IR. A handler (see
`compiler.frontend.handlers`) normalises one ONNX node to the IR conventions of `compiler.ir` (opset-13+ forms,
constant parameters as attributes, complete attributes) and emits IR nodes through `NodeContext.emit`, which
infers shapes immediately, so an error points at the ONNX node that caused it.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import onnx
from onnx import helper

from compiler.errors import ModelError
from compiler.frontend.folding import FOLD, fold_with_reference, tensor_to_array
from compiler.frontend.loader import DEFAULT_DOMAINS, load_model, model_opset
from compiler.ir import DTYPE_BYTES, Graph, Node, Tensor
from compiler.ops import infer_node


RANDOM_OPS = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
                        "Bernoulli"})  # never folded: a constant would pretend to be what the model computes


def dtype_name(dt: np.dtype | int) -> str:
    """IR dtype string of a numpy dtype or an ONNX TensorProto elem_type."""
    if isinstance(dt, (int, np.integer)) and not isinstance(dt, np.dtype):
        dt = helper.tensor_dtype_to_np_dtype(int(dt))
    return np.dtype(dt).name


def format_shape(shape: Sequence[Any]) -> str:
    return "x".join(str(d) for d in shape)


def parse_input_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """Parse 'NAME=1x3x224x224' (the `--input-shape` syntax) into (name, shape)."""
    name, sep, dims = text.rpartition("=")
    if not sep or not name or not re.fullmatch(r"\d+(x\d+)*", dims.strip()):
        raise ModelError(f"--input-shape '{text}' is malformed: write NAME=1x3x224x224 (positive integers "
                         f"joined by 'x')")
    shape = tuple(int(d) for d in dims.strip().split("x"))
    if min(shape) < 1:
        raise ModelError(f"--input-shape '{text}': dimensions must be positive")
    return name, shape


@dataclass
class ImportContext:
    """State of one import: constants, IR tensors and nodes so far, and the names already taken."""

    opset: int
    label: str
    opset_imports: Sequence[onnx.OperatorSetIdProto]
    consts: dict[str, np.ndarray] = field(default_factory=dict)
    tensors: dict[str, Tensor] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    node_names: set[str] = field(default_factory=set)
    value_names: set[str] = field(default_factory=set)
    used: set[str] = field(default_factory=set)  # ONNX values read by some node or returned by the graph

    def unique_value(self, base: str) -> str:
        name, k = base, 1
        while name in self.value_names:
            name = f"{base}_{k}"
            k += 1
        self.value_names.add(name)
        return name

    def unique_node(self, base: str) -> str:
        name, k = base, 1
        while name in self.node_names:
            name = f"{base}_{k}"
            k += 1
        self.node_names.add(name)
        return name

    def weight(self, name: str) -> str:
        """Make constant `name` a const IR tensor (a weight) and return its name."""
        if name not in self.tensors:
            arr = self.consts[name]
            dt = arr.dtype.name
            if dt not in DTYPE_BYTES:
                raise ModelError(f"{self.label}: constant '{name}' has dtype {dt}, which the IR does not support "
                                 f"({', '.join(DTYPE_BYTES)})")
            self.tensors[name] = Tensor(name, tuple(int(d) for d in arr.shape), dt, const=True, data=arr)
        return name


class NodeContext:
    """One ONNX node seen by its handler: decoded attributes, constant/data inputs, and `emit`."""

    def __init__(self, ctx: ImportContext, node: onnx.NodeProto, name: str):
        self.ctx = ctx
        self.onnx = node
        self.op = node.op_type
        self.name = name
        self.opset = ctx.opset
        self.inputs = list(node.input)
        self.outputs = list(node.output)
        self.attrs: dict[str, Any] = {}
        for a in node.attribute:
            v = helper.get_attribute_value(a)
            if isinstance(v, bytes):
                v = v.decode()
            elif isinstance(v, list) and v and isinstance(v[0], bytes):
                v = [s.decode() for s in v]
            self.attrs[a.name] = v
        self._emitted = 0

    # --- reading ------------------------------------------------------------------------------------------------
    def fail(self, msg: str) -> ModelError:
        return ModelError(f"node '{self.name}' ({self.op}, opset {self.opset}): {msg}")

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def input(self, i: int) -> str:
        return self.inputs[i] if i < len(self.inputs) else ""

    def has(self, i: int) -> bool:
        return bool(self.input(i))

    def is_const(self, i: int) -> bool:
        return self.input(i) in self.ctx.consts

    def const(self, i: int) -> np.ndarray | None:
        """The constant value of input i (None when the input is absent); error when it is data."""
        name = self.input(i)
        if not name:
            return None
        if name not in self.ctx.consts:
            raise self.fail(f"input {i} ('{name}') must be a constant (or computable from static shapes); "
                            f"data-dependent parameters are not supported")
        return self.ctx.consts[name]

    def ints(self, i: int) -> list[int] | None:
        v = self.const(i)
        return None if v is None else [int(x) for x in np.asarray(v).reshape(-1)]

    def scalar(self, i: int) -> float | None:
        v = self.const(i)
        if v is None or v.size == 0:
            return None
        return float(np.asarray(v).reshape(-1)[0])

    def shape(self, i: int) -> tuple[int, ...]:
        name = self.input(i)
        if name in self.ctx.consts:
            return tuple(int(d) for d in self.ctx.consts[name].shape)
        return self.ctx.tensors[name].shape

    def dtype(self, i: int) -> str:
        name = self.input(i)
        if name in self.ctx.consts:
            return self.ctx.consts[name].dtype.name
        return self.ctx.tensors[name].dtype

    def output_used(self, i: int) -> bool:
        return i < len(self.outputs) and bool(self.outputs[i]) and self.outputs[i] in self.ctx.used

    def only_first_output(self, what: str) -> None:
        for i in range(1, len(self.outputs)):
            if self.output_used(i):
                raise self.fail(f"output {i} ('{self.outputs[i]}', {what}) is used; only the first output "
                                f"(inference) is supported")

    # --- writing ------------------------------------------------------------------------------------------------
    def temp(self, suffix: str) -> str:
        return self.ctx.unique_value(f"{self.name}/{suffix}")

    def set_const(self, name: str, value: np.ndarray) -> None:
        self.ctx.consts[name] = value

    def emit(self, op: str, inputs: Sequence[str], attrs: Mapping[str, Any] | None = None,
             outputs: Sequence[str] | None = None) -> list[str]:
        """Add an IR node (or fold it when every input is constant); returns its output names."""
        attrs = dict(attrs or {})
        inputs = list(inputs)
        while inputs and not inputs[-1]:
            inputs.pop()
        outputs = list(self.outputs if outputs is None else outputs)
        while outputs and not outputs[-1]:
            outputs.pop()
        ctx = self.ctx
        present = [i for i in inputs if i]
        if present and all(i in ctx.consts for i in present) and op in FOLD:
            values = FOLD[op]([ctx.consts[i] for i in present], attrs)
            for name, v in zip(outputs, values):
                if name:
                    ctx.consts[name] = v
            return outputs
        ins = tuple(ctx.weight(i) if i in ctx.consts else i for i in inputs)
        base = self.name if self._emitted == 0 else f"{self.name}/{op}"
        self._emitted += 1
        node = Node(ctx.unique_node(base), op, ins, tuple(outputs), attrs, (self.name,))
        try:
            results = infer_node(node, [ctx.tensors[i] if i else None for i in ins])
        except ModelError as exc:
            raise self.fail(str(exc).split(": ", 1)[-1]) from None
        for name, (shape, dt) in zip(outputs, results):
            if name:
                ctx.tensors[name] = Tensor(name, tuple(int(d) for d in shape), dt)
        ctx.nodes.append(node)
        return outputs


def _constant_value(attrs: Mapping[str, Any], fail) -> np.ndarray:
    for key, conv in (("value", None), ("value_float", np.float32), ("value_floats", np.float32),
                      ("value_int", np.int64), ("value_ints", np.int64)):
        if key in attrs:
            v = attrs[key]
            return tensor_to_array(v) if conv is None else np.asarray(v, dtype=conv)
    raise fail("only numeric Constant values (value, value_float(s), value_int(s)) are supported")


def import_onnx(model: str | Path | onnx.ModelProto, *, input_shapes: Mapping[str, Sequence[int]] | None = None,
                canonicalize: bool = True) -> Graph:
    """Import an ONNX model (opset 9..21) into the IR, optionally canonicalised (see `canonicalize`).

    `input_shapes` fixes dynamic input dimensions ({'x': (1, 3, 224, 224)}). Raises `ModelError` with a one-line
    message for anything that cannot be imported (unreadable file, unsupported operator, dynamic dimension, ...).
    """
    from compiler.frontend.handlers import SELF_FOLDING, select_handler

    proto, label = load_model(model)
    opset = model_opset(proto, label)
    g = proto.graph
    ctx = ImportContext(opset, label, list(proto.opset_import))
    ctx.value_names.update(v for n in g.node for v in (*n.input, *n.output) if v)
    ctx.value_names.update(i.name for i in g.input)
    ctx.value_names.update(t.name for t in g.initializer)
    ctx.used.update(v for n in g.node for v in n.input if v)
    ctx.used.update(o.name for o in g.output)

    for t in g.initializer:
        ctx.consts[t.name] = tensor_to_array(t)
    inputs = _graph_inputs(g, ctx, dict(input_shapes or {}), label)

    for k, node in enumerate(g.node):
        name = ctx.unique_node(node.name or f"{node.op_type}_{k}")
        ctx.node_names.discard(name)  # the first emitted IR node takes this name
        nc = NodeContext(ctx, node, name)
        if node.domain not in DEFAULT_DOMAINS:
            raise nc.fail(f"operator domain '{node.domain}' is not supported (only standard ONNX operators)")
        fn = select_handler(node.op_type, opset)
        present = [i for i in node.input if i]
        missing = [i for i in present if i not in ctx.consts and i not in ctx.tensors]
        if missing:
            raise nc.fail(f"reads '{missing[0]}', which no earlier node, graph input or initializer defines; "
                          f"the model is truncated or not topologically sorted")
        if ((present or fn is None) and node.op_type not in SELF_FOLDING and node.op_type not in RANDOM_OPS
                and not _has_subgraph(node) and all(i in ctx.consts for i in present)):
            _fold_reference(nc, ctx)  # a constant node the handlers do not fold themselves (Range, Where, ...)
            continue
        if fn is None:
            raise nc.fail("operator is not supported by the importer (see docs/ir.md for the list)")
        fn(nc)
        for o in node.output:
            if o and o not in ctx.consts and o not in ctx.tensors and o in ctx.used:
                raise nc.fail(f"output '{o}' was not produced by the importer (importer bug)")

    outputs = []
    for o in g.output:
        if o.name in ctx.consts:
            ctx.weight(o.name)
        elif o.name not in ctx.tensors:
            raise ModelError(f"{label}: graph output '{o.name}' is never produced; the model is truncated or broken")
        outputs.append(o.name)

    graph = Graph(g.name or Path(label).stem, ctx.tensors, ctx.nodes, inputs, outputs,
                  {"source": label, "opset": opset, "producer": f"{proto.producer_name} {proto.producer_version}"
                   .strip()})
    graph.prune()
    graph.validate()
    if canonicalize:
        from compiler.frontend.canonicalize import canonicalize as run_canonicalize

        graph = run_canonicalize(graph)
    return graph


def _has_subgraph(node: onnx.NodeProto) -> bool:
    return any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute)


def _fold_reference(nc: NodeContext, ctx: ImportContext) -> None:
    try:
        values = fold_with_reference(nc.onnx, [ctx.consts.get(i) if i else None for i in nc.inputs], ctx.opset,
                                     ctx.opset_imports)
    except Exception as exc:  # the reference evaluator raises many exception types
        raise nc.fail(f"cannot fold this constant node ({' '.join(str(exc).split())[:100]}); the operator is not "
                      f"supported by the importer") from None
    for name, v in zip(nc.outputs, values):
        if name:
            ctx.consts[name] = v


def _graph_inputs(g: onnx.GraphProto, ctx: ImportContext, overrides: dict[str, Sequence[int]],
                  label: str) -> list[str]:
    data_inputs = [i for i in g.input if i.name not in ctx.consts]
    known = {i.name for i in data_inputs}
    for name in overrides:
        if name not in known:
            what = "a weight (initializer)" if name in ctx.consts else "not an input"
            raise ModelError(f"{label}: --input-shape names '{name}', which is {what} of the model; data inputs: "
                             f"{', '.join(sorted(known)) or 'none'}")
    names = []
    for vi in data_inputs:
        tt = vi.type.tensor_type
        if not vi.type.HasField("tensor_type"):
            raise ModelError(f"{label}: input '{vi.name}' is not a tensor (sequences and maps are not supported)")
        dt = dtype_name(tt.elem_type) if tt.elem_type else "float32"
        if dt not in DTYPE_BYTES:
            raise ModelError(f"{label}: input '{vi.name}' has dtype {dt}, which the IR does not support")
        declared: list[int | str] = []
        if tt.HasField("shape"):
            declared = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else (d.dim_param or "?")
                        for d in tt.shape.dim]
        shape = _input_shape(vi.name, declared, tt.HasField("shape"), overrides.get(vi.name), label)
        ctx.tensors[vi.name] = Tensor(vi.name, shape, dt)
        names.append(vi.name)
    return names


def _input_shape(name: str, declared: list[int | str], has_shape: bool, override: Sequence[int] | None,
                 label: str) -> tuple[int, ...]:
    if override is not None:
        override = tuple(int(d) for d in override)
        if has_shape and len(override) != len(declared):
            raise ModelError(f"{label}: --input-shape {name}={format_shape(override)} has rank {len(override)}, but "
                             f"the model declares rank {len(declared)} ({format_shape(declared)})")
        for k, (d, o) in enumerate(zip(declared, override)):
            if isinstance(d, int) and d != o:
                raise ModelError(f"{label}: --input-shape {name}={format_shape(override)} changes dimension {k}, "
                                 f"which the model fixes at {d}")
        return override
    if not has_shape or any(not isinstance(d, int) for d in declared):
        example = [d if isinstance(d, int) else (1 if k == 0 else str(d).upper()) for k, d in enumerate(declared)]
        shown = format_shape(declared) if has_shape else "unknown rank"
        raise ModelError(f"{label}: input '{name}' has a dynamic shape ({shown}); fix it with --input-shape "
                         f"{name}={format_shape(example) if has_shape else '1x3x224x224'} (Python: input_shapes="
                         f"{{'{name}': (...)}})")
    return tuple(int(d) for d in declared)


def prod(xs: Iterable[int]) -> int:
    return math.prod(xs)
