"""Small helpers for IR rewrites: a node-by-node rewriter that keeps tensor names stable.

    ed = Rewriter(g)
    for n in g.nodes:
        if n.op == "Foo":
            x = ed.add("Relu", [n.inputs[0]], origin=n.origin)       # new nodes are placed where `n` was
            ed.add("Neg", [x], out=n.outputs[0], origin=n.origin)    # the last one keeps n's output name
        else:
            ed.keep(n)
    g2 = ed.finish()
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from compiler.ir import Graph, Node, Tensor, unique_name
from compiler.ops import infer_node


class Rewriter:
    def __init__(self, g: Graph):
        self.g = g.copy()
        self.nodes: list[Node] = []
        self.taken: set[str] = set(self.g.tensors) | {n.name for n in g.nodes}
        self.changed = 0

    def fresh(self, base: str) -> str:
        name = unique_name(base, self.taken)
        self.taken.add(name)
        return name

    def const(self, base: str, data: np.ndarray | None, shape: Sequence[int] | None = None,
              dtype: str = "float32") -> str:
        name = self.fresh(base)
        shape = tuple(int(d) for d in (np.shape(data) if shape is None else shape))
        arr = None
        if data is not None:
            arr = np.asarray(data)
            arr = arr.astype(dtype, copy=False) if arr.dtype != np.dtype(dtype) else arr
            if arr.shape != shape:
                arr = arr.reshape(shape)
        self.g.tensors[name] = Tensor(name, shape, dtype, const=True, data=arr)
        return name

    def add(self, op: str, inputs: Sequence[str], attrs: dict[str, Any] | None = None, *, out: str | None = None,
            outs: Sequence[str] | None = None, n_out: int = 1, name: str | None = None,
            origin: Sequence[str] = ()) -> str:
        """Append a node (shapes inferred now); returns its first output name."""
        node_name = self.fresh(name or op.lower())
        if outs is None:
            outs = [out] if out is not None else [self.fresh(f"{node_name}_out") for _ in range(n_out)]
        for o in outs:
            self.taken.add(o)
        node = Node(node_name, op, tuple(inputs), tuple(outs), dict(attrs or {}), tuple(origin))
        shapes = infer_node(node, [self.g.tensors[i] if i else None for i in inputs])
        for o, (shape, dtype) in zip(outs, shapes):
            if o:
                self.g.tensors[o] = Tensor(o, tuple(int(d) for d in shape), dtype)
        self.nodes.append(node)
        self.changed += 1
        return outs[0]

    def keep(self, n: Node) -> None:
        self.nodes.append(n)

    def finish(self) -> Graph:
        self.g.nodes = self.nodes
        self.g.toposort()
        self.g.prune()
        return self.g


def consumers(g: Graph) -> dict[str, list[Node]]:
    out = g.consumers()
    return out


def readers(g: Graph) -> dict[str, int]:
    """How many node inputs and graph outputs read each tensor."""
    return g.reader_counts()


def const_data(g: Graph, name: str) -> np.ndarray | None:
    t = g.tensors.get(name) if name else None
    if t is None or not t.const or t.data is None:
        return None
    return np.asarray(t.data)


def is_const(g: Graph, name: str) -> bool:
    t = g.tensors.get(name) if name else None
    return t is not None and t.const
