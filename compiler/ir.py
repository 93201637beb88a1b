"""The graph IR: typed tensors, operator nodes with validated attributes, a DAG kept in topological order.

Conventions (every producer of IR, the ONNX importer and the direct builders, follows them):
- Operators use ONNX names and semantics (opset 13+ forms) plus a few IR-only ops (see `compiler.ops`).
- Parameters that ONNX passes as constant inputs (Reshape shape, Slice starts, Pad pads, Resize sizes, ...)
  are attributes in the IR; node inputs are data tensors and weights only. Missing optional inputs are ''.
- Tensors are NCHW, batch first. A tensor with `const=True` is a weight; its `data` may be None for graphs
  built only for cost modelling (searches), in which case only shapes are known.
- `Graph.nodes` is always in topological order (`Graph.validate` checks it).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping

import numpy as np

from compiler.errors import ModelError

DTYPE_BYTES = {"float32": 4, "float16": 2, "float64": 8, "int64": 8, "int32": 4, "int16": 2, "int8": 1,
               "uint8": 1, "bool": 1}


@dataclass(slots=True)
class Tensor:
    """A value in the graph. `shape` is fully static (the importer rejects dynamic dimensions)."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    const: bool = False
    data: np.ndarray | None = None

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        return self.size * DTYPE_BYTES[self.dtype]


@dataclass(frozen=True, slots=True)
class Node:
    """One operator. `origin` names the source ONNX nodes (kept through passes for reports and disassembly)."""

    name: str
    op: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    origin: tuple[str, ...] = ()

    def replace(self, **changes: Any) -> "Node":
        return replace(self, **changes)

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)


@dataclass(frozen=True, slots=True)
class NodeCost:
    """Work of one node: multiply-accumulates, parameter count, and bytes touched (activations + weights)."""

    macs: int
    params: int
    bytes: int


class Graph:
    """A DAG of nodes over named tensors, with inputs and outputs. Nodes are kept in topological order."""

    __slots__ = ("name", "tensors", "nodes", "inputs", "outputs", "metadata")

    def __init__(self, name: str, tensors: dict[str, Tensor], nodes: list[Node], inputs: list[str],
                 outputs: list[str], metadata: dict[str, Any] | None = None):
        self.name = name
        self.tensors = tensors
        self.nodes = nodes
        self.inputs = inputs
        self.outputs = outputs
        self.metadata = dict(metadata or {})

    # --- structure -------------------------------------------------------------------------------------------
    def copy(self) -> "Graph":
        """A shallow copy: new containers, shared Tensor objects' data arrays (passes must not mutate data)."""
        return Graph(self.name, {k: replace(t) for k, t in self.tensors.items()}, list(self.nodes),
                     list(self.inputs), list(self.outputs), dict(self.metadata))

    def producers(self) -> dict[str, Node]:
        return {o: n for n in self.nodes for o in n.outputs if o}

    def consumers(self) -> dict[str, list[Node]]:
        result: dict[str, list[Node]] = {}
        for n in self.nodes:
            for i in n.inputs:
                if i:
                    result.setdefault(i, []).append(n)
        return result

    def reader_counts(self, include_outputs: bool = True) -> dict[str, int]:
        """How many node inputs (and, unless told otherwise, graph outputs) read each tensor; a tensor read twice
        by one node counts 2."""
        count: dict[str, int] = {}
        for n in self.nodes:
            for i in n.inputs:
                if i:
                    count[i] = count.get(i, 0) + 1
        if include_outputs:
            for o in self.outputs:
                count[o] = count.get(o, 0) + 1
        return count

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def weights(self, node: Node) -> list[Tensor]:
        return [self.tensors[i] for i in node.inputs if i and self.tensors[i].const]

    def data_inputs(self, node: Node) -> list[Tensor]:
        return [self.tensors[i] for i in node.inputs if i and not self.tensors[i].const]

    def toposort(self) -> None:
        """Reorder `nodes` topologically (stable: keeps the existing order where it is already legal)."""
        produced_by = self.producers()
        done: set[str] = {t for t, v in self.tensors.items() if v.const} | set(self.inputs)
        placed: set[int] = set()
        order: list[Node] = []
        pending = list(self.nodes)
        while pending:
            progressed = False
            rest = []
            for n in pending:
                if all((not i) or i in done for i in n.inputs):
                    order.append(n)
                    placed.add(id(n))
                    done.update(o for o in n.outputs if o)
                    progressed = True
                else:
                    rest.append(n)
            if not progressed:
                missing = sorted({i for n in rest for i in n.inputs if i and i not in done and i not in produced_by})
                what = f"missing tensors {missing}" if missing else "a cycle"
                raise ModelError(f"graph '{self.name}' is not a DAG: {what} among nodes {[n.name for n in rest][:5]}")
            pending = rest
        self.nodes = order

    def validate(self) -> None:
        """Check the invariants: unique names, every input defined before use, outputs produced, shapes known."""
        seen_nodes: set[str] = set()
        defined: set[str] = {t for t, v in self.tensors.items() if v.const} | set(self.inputs)
        for name in self.inputs:
            if name not in self.tensors:
                raise ModelError(f"graph input '{name}' has no tensor")
        for n in self.nodes:
            if n.name in seen_nodes:
                raise ModelError(f"duplicate node name '{n.name}'")
            seen_nodes.add(n.name)
            for i in n.inputs:
                if i and i not in defined:
                    raise ModelError(f"node '{n.name}' ({n.op}) reads '{i}' before it is produced")
            for o in n.outputs:
                if o:
                    if o in defined:
                        raise ModelError(f"tensor '{o}' is produced twice (node '{n.name}')")
                    if o not in self.tensors:
                        raise ModelError(f"node '{n.name}' output '{o}' has no tensor (run infer_shapes)")
                    defined.add(o)
        for o in self.outputs:
            if o not in defined:
                raise ModelError(f"graph output '{o}' is never produced")

    def subgraph(self, node_names: Iterable[str], name: str | None = None) -> "Graph":
        """The graph of the named nodes (kept in topological order). Its inputs are the non-constant tensors they
        read but do not produce; its outputs are the tensors they produce that other nodes or the graph's outputs
        read. Tensor objects are shared with this graph."""
        chosen = set(node_names)
        nodes = [n for n in self.nodes if n.name in chosen]
        unknown = chosen - {n.name for n in nodes}
        if unknown:
            raise KeyError(f"no nodes named {sorted(unknown)[:5]} in graph '{self.name}'")
        produced = {o for n in nodes for o in n.outputs if o}
        inputs: list[str] = []
        for n in nodes:
            for i in n.inputs:
                if i and i not in produced and not self.tensors[i].const and i not in inputs:
                    inputs.append(i)
        read_outside = {i for n in self.nodes if n.name not in chosen for i in n.inputs} | set(self.outputs)
        outputs = [o for n in nodes for o in n.outputs if o and o in read_outside]
        used = produced | {i for n in nodes for i in n.inputs if i}
        return Graph(name or f"{self.name}/sub", {k: self.tensors[k] for k in used}, nodes, inputs, outputs,
                     dict(self.metadata))

    def prune(self) -> None:
        """Drop nodes whose outputs do not reach a graph output, and tensors nobody uses."""
        live = set(self.outputs)
        kept: list[Node] = []
        for n in reversed(self.nodes):
            if any(o in live for o in n.outputs):
                kept.append(n)
                live.update(i for i in n.inputs if i)
        self.nodes = kept[::-1]
        # a kept node keeps all its outputs, used or not (a node's output list is part of its signature)
        used = live | set(self.inputs) | {o for n in self.nodes for o in n.outputs if o}
        self.tensors = {k: v for k, v in self.tensors.items() if k in used}

    # --- shapes and costs --------------------------------------------------------------------------------------
    def infer_shapes(self) -> None:
        """Recompute every node's output tensors from its inputs (in topological order)."""
        from compiler.ops import infer_node

        for n in self.nodes:
            outs = infer_node(n, [self.tensors[i] if i else None for i in n.inputs])
            for name, (shape, dtype) in zip(n.outputs, outs):
                if not name:
                    continue
                old = self.tensors.get(name)
                if old is not None and old.const:
                    continue
                self.tensors[name] = Tensor(name, tuple(int(d) for d in shape), dtype)

    def cost(self, node: Node) -> NodeCost:
        from compiler.ops import node_cost

        return node_cost(node, self)

    def totals(self) -> NodeCost:
        """Whole-graph work. Parameters count each distinct weight tensor once, even when several nodes read
        it (e.g. an unrolled decoder); MACs and bytes are summed per node."""
        macs = nbytes = 0
        weights: set[str] = set()
        for n in self.nodes:
            c = self.cost(n)
            macs += c.macs
            nbytes += c.bytes
            weights.update(i for i in n.inputs if i and self.tensors[i].const)
        return NodeCost(macs, sum(self.tensors[w].size for w in weights), nbytes)

    # --- printing -------------------------------------------------------------------------------------------------
    def rows(self) -> list[dict[str, Any]]:
        """One record per node: name, op, input/output shapes, MACs, params, bytes (for tables and --json)."""
        rows = []
        for n in self.nodes:
            c = self.cost(n)
            rows.append({
                "name": n.name,
                "op": n.op,
                "inputs": [list(self.tensors[i].shape) for i in n.inputs if i and not self.tensors[i].const],
                "outputs": [list(self.tensors[o].shape) for o in n.outputs if o],
                "macs": c.macs,
                "params": c.params,
                "bytes": c.bytes,
            })
        return rows

    def summary(self) -> str:
        """A readable per-layer table and totals."""
        rows = self.rows()
        shape = lambda s: "x".join(map(str, s)) if s else "scalar"  # noqa: E731
        table = [("#", "node", "op", "input", "output", "MACs", "params")]
        for k, r in enumerate(rows):
            table.append((str(k), r["name"][:32], r["op"], ",".join(shape(s) for s in r["inputs"])[:28],
                          ",".join(shape(s) for s in r["outputs"])[:24], f"{r['macs']:,}", f"{r['params']:,}"))
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        lines = ["  ".join(c.rjust(w) if i >= 5 or i == 0 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
                 for row in table]
        t = self.totals()
        ins = ", ".join(f"{i} {shape(self.tensors[i].shape)}" for i in self.inputs)
        outs = ", ".join(f"{o} {shape(self.tensors[o].shape)}" for o in self.outputs)
        lines.append("")
        lines.append(f"graph {self.name}: {len(self.nodes)} nodes; inputs {ins}; outputs {outs}")
        lines.append(f"total MACs {t.macs:,} ({2 * t.macs / 1e9:.3f} GOP); params {t.params:,}")
        by_op: dict[str, list[int]] = {}
        for r in rows:
            entry = by_op.setdefault(r["op"], [0, 0])
            entry[0] += 1
            entry[1] += r["macs"]
        ranked = sorted(by_op.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))
        lines.append("by op: " + ", ".join(f"{op} x{n}" + (f" ({100 * m / t.macs:.1f}% MACs)" if m and t.macs else "")
                                           for op, (n, m) in ranked))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Graph({self.name!r}, nodes={len(self.nodes)}, inputs={self.inputs}, outputs={self.outputs})"


def unique_name(base: str, taken: Iterable[str] | set[str]) -> str:
    taken = taken if isinstance(taken, set) else set(taken)
    if base not in taken:
        return base
    k = 1
    while f"{base}_{k}" in taken:
        k += 1
    return f"{base}_{k}"
