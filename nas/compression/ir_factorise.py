"""Low-rank factorisation of any IR graph's weight matrices, for latency studies of larger models (the zoo's
encoder-attention-decoder `asr_attention`).

Rewrites, for a weight matrix M = U V of rank r chosen by `rank_of(tensor_name, rows, cols)`:
- `FullyConnected(x, W (out, in), b)` -> `FullyConnected(x, V (r, in))` -> `FullyConnected(., U (out, r), b)`;
- `MatMul(x, B (in, out))` with a constant B -> `MatMul(x, (in, r))` -> `MatMul(., (r, out))`;
- `LSTM`/`GRU`/`RNN` input weights W (D, G*h, in): the directions' matrices are stacked (D*G*h, in) and
  factorised jointly, so one `MatMul(X, V^T)` (in -> r) feeds the recurrent node whose W becomes (D, G*h, r).
  Recurrent matrices R stay dense (ONNX recurrent nodes cannot hold a factorised R; the FSDD model unrolls them,
  see `graph.py`).
A weight shared by several nodes (decoder steps) is factorised once and its factors are shared. Constants with
data are truncated by SVD; cost-only constants (data None) stay shape-only.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from compiler.ir import Graph, Node, Tensor, unique_name

RankOf = Callable[[str, int, int], "int | None"]


def _svd(m: np.ndarray | None, r: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    if m is None:
        return None, None
    u, s, vh = np.linalg.svd(m.astype(np.float64), full_matrices=False)
    root = np.sqrt(s[:r])
    return (u[:, :r] * root).astype(m.dtype), (root[:, None] * vh[:r]).astype(m.dtype)


def factorise_ir(graph: Graph, rank_of: RankOf) -> tuple[Graph, dict[str, tuple[int, int, int]]]:
    """A new graph with the chosen matrices factorised, and {weight name: (rows, cols, rank)} of those done."""
    g = graph.copy()
    taken = set(g.tensors) | {n.name for n in g.nodes}
    done: dict[str, tuple[str, str, int]] = {}
    report: dict[str, tuple[int, int, int]] = {}

    def const(base: str, data: np.ndarray | None, shape: tuple[int, ...], dtype: str) -> str:
        name = unique_name(base, taken)
        taken.add(name)
        g.tensors[name] = Tensor(name, shape, dtype, const=True, data=data)
        return name

    def factors(wname: str, mat: np.ndarray | None, rows: int, cols: int, dtype: str,
                u_shape: Callable[[int], tuple[int, ...]], v_shape: Callable[[int], tuple[int, ...]],
                u_map: Callable[[np.ndarray], np.ndarray], v_map: Callable[[np.ndarray], np.ndarray]
                ) -> tuple[str, str, int] | None:
        if wname in done:
            return done[wname]
        r = rank_of(wname, rows, cols)
        if r is None or r >= rows * cols / (rows + cols):
            return None
        u, v = _svd(mat, r)
        out = (const(f"{wname}_u", None if u is None else u_map(u), u_shape(r), dtype),
               const(f"{wname}_v", None if v is None else v_map(v), v_shape(r), dtype), r)
        done[wname] = out
        report[wname] = (rows, cols, r)
        return out

    new_nodes: list[Node] = []
    for n in g.nodes:
        ins = list(n.inputs)
        if n.op == "FullyConnected" and len(ins) >= 2 and g.tensors[ins[1]].const:
            w = g.tensors[ins[1]]
            rows, cols = w.shape
            f = factors(w.name, w.data, rows, cols, w.dtype, lambda r: (rows, r), lambda r: (r, cols),
                        lambda u: u, lambda v: v)
            if f:
                mid = unique_name(f"{n.name}_lr", taken)
                taken.add(mid)
                new_nodes.append(Node(f"{mid}_v", "FullyConnected", (ins[0], f[1]), (mid,), {}, n.origin))
                taken.add(f"{mid}_v")
                new_nodes.append(n.replace(inputs=(mid, f[0], *ins[2:])))
                continue
        if n.op == "MatMul" and len(ins) == 2 and g.tensors[ins[1]].const and len(g.tensors[ins[1]].shape) == 2:
            b = g.tensors[ins[1]]
            k, m = b.shape  # x @ B: M = B.T is (m, k)
            f = factors(b.name, None if b.data is None else b.data.T, m, k, b.dtype, lambda r: (r, m),
                        lambda r: (k, r), lambda u: u.T, lambda v: v.T)
            if f:
                mid = unique_name(f"{n.name}_lr", taken)
                taken.add(mid)
                new_nodes.append(Node(f"{mid}_v", "MatMul", (ins[0], f[1]), (mid,), {}, n.origin))
                taken.add(f"{mid}_v")
                new_nodes.append(n.replace(inputs=(mid, f[0])))
                continue
        if n.op in ("LSTM", "GRU", "RNN") and g.tensors[ins[1]].const:
            w = g.tensors[ins[1]]
            d, gh, inp = w.shape
            stacked = None if w.data is None else w.data.reshape(d * gh, inp)
            f = factors(w.name, stacked, d * gh, inp, w.dtype, lambda r: (d, gh, r), lambda r: (inp, r),
                        lambda u: u.reshape(d, gh, -1), lambda v: v.T)
            if f:
                mid = unique_name(f"{n.name}_lr", taken)
                taken.add(mid)
                new_nodes.append(Node(f"{mid}_v", "MatMul", (ins[0], f[1]), (mid,), {}, n.origin))
                taken.add(f"{mid}_v")
                ins[0], ins[1] = mid, f[0]
                new_nodes.append(n.replace(inputs=tuple(ins)))
                continue
        new_nodes.append(n)
    g.nodes = new_nodes
    g.infer_shapes()
    g.prune()
    g.validate()
    return g, {k: v for k, v in report.items()}


def uniform_fraction(fraction: float) -> RankOf:
    """Every matrix at rank ceil(fraction * min(rows, cols)) (left dense where that saves nothing)."""
    import math

    return lambda name, rows, cols: max(1, math.ceil(fraction * min(rows, cols)))


def matrix_params(graph: Graph) -> int:
    """Distinct constant elements (each shared weight counted once)."""
    consts = {i for n in graph.nodes for i in n.inputs if i and graph.tensors[i].const}
    return sum(graph.tensors[i].size for i in consts)


def zoo_latency_study(name: str, fractions: tuple[float, ...], arch, **build_options) -> list[dict]:
    """Uniform-rank factorisation of a zoo network at each fraction: parameter compression next to the
    simulator's estimated overlay speed-up (shape-only graphs)."""
    from simulator.estimate import estimate_latency
    from workloads.zoo import build_ir

    g = build_ir(name, **build_options)
    dense_lat, dense_params = estimate_latency(g, arch), matrix_params(g)
    rows = [{"fraction": 1.0, "factorised": 0, "compression": 1.0, "latency_s": dense_lat, "speedup": 1.0}]
    for f in fractions:
        g2, done = factorise_ir(g, uniform_fraction(f))
        lat = estimate_latency(g2, arch)
        rows.append({"fraction": f, "factorised": len(done), "compression": dense_params / matrix_params(g2),
                     "latency_s": lat, "speedup": dense_lat / lat})
    return rows
