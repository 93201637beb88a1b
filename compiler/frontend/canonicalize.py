"""Canonicalisation: named IR -> IR rewrites that the importer applies after import (and the compiler's pass
manager lists). Each takes a Graph and returns a new Graph, or the same Graph when nothing matches; the input is
never modified. Node `origin`s are kept (a fused node carries the origins of every node it replaces).

- `remove_identity`: drop Identity and (inference) Dropout nodes.
- `sum_to_add`: Sum of n inputs -> a chain of n-1 Add nodes (a 1-input Sum is removed).
- `clip_to_relu6`: Clip(0, 6) -> Relu6; Clip(0, none) -> Relu.
- `fold_batchnorm`: BatchNormalization after a Conv/ConvTranspose (whose output nothing else reads) folded into
  its weights and bias; any other BatchNormalization stays.
- `recognise_fully_connected`: Gemm with constant weights (transA=0, bias a vector) -> FullyConnected, absorbing
  a Flatten(axis=1)/Reshape(N, -1) that feeds it.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from compiler.frontend.folding import compact
from compiler.ir import Graph, Node, Tensor, unique_name

Pass = Callable[[Graph], Graph]


def _clone(g: Graph) -> Graph:
    """A new Graph sharing the (never mutated) Tensor objects: passes replace tensors, they do not edit them."""
    return Graph(g.name, dict(g.tensors), list(g.nodes), list(g.inputs), list(g.outputs), dict(g.metadata))


# --- helpers ------------------------------------------------------------------------------------------------------
def _rename_inputs(nodes: list[Node], mapping: dict[str, str]) -> list[Node]:
    if not mapping:
        return nodes
    return [n.replace(inputs=tuple(mapping.get(i, i) for i in n.inputs)) if any(i in mapping for i in n.inputs)
            else n for n in nodes]


def _bypass(g: Graph, drop: set[int]) -> Graph:
    """Remove the single-input pass-through nodes at indices `drop`, rewiring their readers to their input.

    When the removed output is a graph output, the producer of the input is renamed to keep the output name
    (unless the input is itself a graph input, output or constant, in which case the node stays)."""
    g = _clone(g)
    alias: dict[str, str] = {}
    rename: dict[str, str] = {}
    producers = g.producers()
    outputs = set(g.outputs)
    keep: set[int] = set()
    for k in sorted(drop):
        n = g.nodes[k]
        src, out = alias.get(n.inputs[0], n.inputs[0]), n.outputs[0]
        if out in outputs:
            renamable = (src in producers and src not in outputs and src not in g.inputs and src not in rename
                         and not g.tensors[src].const)
            if not renamable:
                keep.add(k)
                continue
            rename[src] = out
            alias[out] = out
        else:
            alias[out] = src
    for src, out in rename.items():  # readers of an alias that was renamed read the new name
        for key, v in alias.items():
            if v == src:
                alias[key] = out
    nodes = []
    for k, n in enumerate(g.nodes):
        if k in drop and k not in keep:
            continue
        n = n.replace(inputs=tuple(alias.get(i, i) for i in n.inputs))
        if any(o in rename for o in n.outputs):
            n = n.replace(outputs=tuple(rename.get(o, o) for o in n.outputs))
        nodes.append(n)
    for src, out in rename.items():
        g.tensors[out] = Tensor(out, g.tensors[src].shape, g.tensors[src].dtype)
        del g.tensors[src]
    g.nodes = _rename_inputs(nodes, rename)
    g.prune()
    return g


def _const(g: Graph, name: str) -> Tensor | None:
    t = g.tensors.get(name) if name else None
    return t if t is not None and t.const else None


def _new_const(g: Graph, base: str, data: np.ndarray | None, shape: tuple[int, ...], dtype: str) -> str:
    name = unique_name(base, g.tensors.keys())
    g.tensors[name] = Tensor(name, tuple(shape), dtype, const=True, data=data)
    return name


# --- passes -------------------------------------------------------------------------------------------------------
def remove_identity(g: Graph) -> Graph:
    """Drop Identity and Dropout nodes (inference), rewiring their readers to their input."""
    drop = {k for k, n in enumerate(g.nodes) if n.op in ("Identity", "Dropout")}
    return _bypass(g, drop) if drop else g


def sum_to_add(g: Graph) -> Graph:
    """Sum of n inputs -> a left-to-right chain of n-1 two-input Add nodes; a 1-input Sum is removed."""
    single = {k for k, n in enumerate(g.nodes) if n.op == "Sum" and len([i for i in n.inputs if i]) == 1}
    if not any(n.op == "Sum" for n in g.nodes):
        return g
    g = _bypass(g, single) if single else _clone(g)
    nodes: list[Node] = []
    names = {n.name for n in g.nodes}
    for n in g.nodes:
        ins = [i for i in n.inputs if i]
        if n.op != "Sum":
            nodes.append(n)
            continue
        acc = ins[0]
        for k, nxt in enumerate(ins[1:], start=1):
            last = k == len(ins) - 1
            out = n.outputs[0] if last else unique_name(f"{n.outputs[0]}/add{k}", g.tensors.keys())
            name = n.name if last else unique_name(f"{n.name}/add{k}", names)
            names.add(name)
            if not last:
                ref = g.tensors[n.outputs[0]]
                shape = tuple(np.broadcast_shapes(g.tensors[acc].shape, g.tensors[nxt].shape))
                g.tensors[out] = Tensor(out, shape, ref.dtype)
            nodes.append(Node(name, "Add", (acc, nxt), (out,), {}, n.origin))
            acc = out
    g.nodes = nodes
    return g


def clip_to_relu6(g: Graph) -> Graph:
    """Clip(min=0, max=6) -> Relu6 and Clip(min=0) without max -> Relu."""
    if not any(n.op == "Clip" for n in g.nodes):
        return g
    g = _clone(g)
    nodes = []
    for n in g.nodes:
        if n.op == "Clip" and n.attr("min") == 0:
            if n.attr("max") == 6:
                n = n.replace(op="Relu6", attrs={})
            elif n.attr("max") is None:
                n = n.replace(op="Relu", attrs={})
        nodes.append(n)
    g.nodes = nodes
    return g


def _bn_scale_shift(g: Graph, bn: Node) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-channel (scale, shift) of an inference BatchNormalization, or None when a parameter has no data."""
    params = [g.tensors[i] for i in bn.inputs[1:5]]
    if any(p.data is None for p in params):
        return None
    gamma, beta, mean, var = (np.asarray(p.data, dtype=np.float64) for p in params)
    scale = gamma / np.sqrt(var + float(bn.attr("epsilon", 1e-5)))
    return scale, beta - mean * scale


def fold_batchnorm(g: Graph) -> Graph:
    """Fold BatchNormalization into the Conv or ConvTranspose before it (W' = W * s, b' = (b - mean) * s + beta
    with s = gamma / sqrt(var + eps)). The conv's output must be read only by the BN; its weights and the BN
    parameters must be constants. Other BatchNormalization nodes stay as they are."""
    if not any(n.op == "BatchNormalization" for n in g.nodes):
        return g
    g = _clone(g)
    readers = g.reader_counts()
    producers = g.producers()
    replace: dict[str, Node] = {}  # conv name -> fused node
    drop: set[str] = set()
    for bn in g.nodes:
        if bn.op != "BatchNormalization" or not all(_const(g, i) for i in bn.inputs[1:5]):
            continue
        conv = producers.get(bn.inputs[0])
        if (conv is None or conv.op not in ("Conv", "ConvTranspose") or readers.get(conv.outputs[0], 0) != 1
                or conv.name in replace or _const(g, conv.inputs[1]) is None
                or (len(conv.inputs) > 2 and conv.inputs[2] and _const(g, conv.inputs[2]) is None)):
            continue
        w = g.tensors[conv.inputs[1]]
        cout = g.tensors[bn.inputs[0]].shape[1]
        bias = g.tensors[conv.inputs[2]] if len(conv.inputs) > 2 and conv.inputs[2] else None
        ss = _bn_scale_shift(g, bn)
        new_w = new_b = None
        if ss is not None and w.data is not None and (bias is None or bias.data is not None):
            scale, shift = ss
            if conv.op == "Conv":  # weight (C_out, C_in / group, k...)
                s = scale.reshape((-1,) + (1,) * (len(w.shape) - 1))
            else:  # weight (C_in, C_out / group, k...); input channel ci feeds outputs of group ci // (C_in / g)
                cin, per = w.shape[0], w.shape[1]
                group = int(conv.attr("group", 1))
                index = (np.arange(cin) // (cin // group))[:, None] * per + np.arange(per)[None, :]
                s = scale[index].reshape((cin, per) + (1,) * (len(w.shape) - 2))
            base = compact(np.asarray(w.data))  # a broadcast weight stays broadcast
            new_w = np.broadcast_to(base * s.astype(base.dtype), w.shape)  # one rounding, in the weight's dtype
            b0 = np.zeros(cout) if bias is None else np.asarray(bias.data, dtype=np.float64)
            new_b = (b0 * scale + shift).astype(w.dtype)
        wname = _new_const(g, f"{w.name}/bn_folded", new_w, w.shape, w.dtype)
        bname = _new_const(g, f"{bn.name}/folded_bias", new_b, (cout,), w.dtype)
        fused = conv.replace(inputs=(conv.inputs[0], wname, bname), outputs=bn.outputs,
                             origin=conv.origin + bn.origin)
        replace[conv.name] = fused
        drop.add(bn.name)
    if replace:
        g.nodes = [replace.get(n.name, n) for n in g.nodes if n.name not in drop]
        g.prune()
    return g


def _flatten_source(g: Graph, node: Node | None, readers: dict[str, int]) -> str | None:
    """The input of a batch-preserving flatten (Flatten axis=1 or Reshape to (N, rest)) read only by one node."""
    if node is None or readers.get(node.outputs[0], 0) != 1:
        return None
    x = g.tensors[node.inputs[0]].shape
    if len(x) < 2:
        return None
    if node.op == "Flatten" and node.attr("axis", 1) == 1:
        return node.inputs[0]
    if node.op == "Reshape" and tuple(node.attr("shape")) == (x[0], math.prod(x[1:])):
        return node.inputs[0]
    return None


def recognise_fully_connected(g: Graph) -> Graph:
    """Gemm(A, B const, C) with transA=0 and C absent or a length-N vector -> FullyConnected(x, W (N, K), b).

    A Flatten(axis=1) or Reshape(N, K) producing A (read by nothing else) is absorbed: FullyConnected flattens
    from axis 1 itself. alpha and beta are folded into W and b."""
    if not any(n.op == "Gemm" for n in g.nodes):
        return g
    g = _clone(g)
    readers = g.reader_counts()
    producers = g.producers()
    replace: dict[str, Node] = {}
    drop: set[str] = set()
    for n in g.nodes:
        if n.op != "Gemm" or n.attr("transA", 0) or _const(g, n.inputs[1]) is None:
            continue
        b = g.tensors[n.inputs[1]]
        out_n = b.shape[0] if n.attr("transB", 0) else b.shape[1]
        c = g.tensors[n.inputs[2]] if len(n.inputs) > 2 and n.inputs[2] else None
        if c is not None and (not c.const or math.prod(c.shape) != out_n or len(c.shape) > 2
                              or (len(c.shape) == 2 and c.shape[0] != 1)):
            continue
        alpha, beta = float(n.attr("alpha", 1.0)), float(n.attr("beta", 1.0))
        w_data = None
        if b.data is not None:
            w_data = np.asarray(b.data) if n.attr("transB", 0) else np.asarray(b.data).T
            if alpha != 1.0:
                w_data = np.broadcast_to((compact(w_data) * alpha).astype(b.dtype), w_data.shape)
        if n.attr("transB", 0) and alpha == 1.0:
            wname = b.name
        else:
            wname = _new_const(g, f"{b.name}/fc", w_data, (out_n, b.shape[1] if n.attr("transB", 0) else b.shape[0]),
                               b.dtype)
        ins = [n.inputs[0], wname]
        if c is not None:
            if beta == 1.0 and c.shape == (out_n,):
                ins.append(c.name)
            else:
                data = None if c.data is None else (np.asarray(c.data, dtype=np.float64).reshape(out_n) * beta
                                                    ).astype(c.dtype)
                ins.append(_new_const(g, f"{c.name}/fc", data, (out_n,), c.dtype))
        flat = producers.get(n.inputs[0])
        src = _flatten_source(g, flat, readers)
        origin = n.origin
        if src is not None:
            ins[0] = src
            drop.add(flat.name)
            origin = flat.origin + n.origin
        replace[n.name] = Node(n.name, "FullyConnected", tuple(ins), n.outputs, {}, origin)
    if replace:
        g.nodes = [replace.get(n.name, n) for n in g.nodes if n.name not in drop]
        g.prune()
    return g


CANONICALIZATIONS: tuple[tuple[str, Pass], ...] = (
    ("remove-identity", remove_identity),
    ("sum-to-add", sum_to_add),
    ("clip-to-relu6", clip_to_relu6),
    ("fold-batchnorm", fold_batchnorm),
    ("recognise-fully-connected", recognise_fully_connected),
)


def canonicalize(g: Graph, passes: Sequence[str] | None = None) -> Graph:
    """Apply the named canonicalisations (default: all of `CANONICALIZATIONS`, in order); validates the result."""
    table = dict(CANONICALIZATIONS)
    names = [name for name, _ in CANONICALIZATIONS] if passes is None else list(passes)
    for name in names:
        if name not in table:
            raise KeyError(f"unknown canonicalisation '{name}'; known: {', '.join(table)}")
        g = table[name](g)
    g.validate()
    return g
