"""NAS-Bench-201 (NB201) cell space: encodings, structure analysis and the direct IR build of the CIFAR network.

A cell is a DAG on 4 nodes; each of its 6 edges (j -> i, j < i) carries one of 5 operations. Encodings:
- arch string `|op~0|+|op~0|op~1|+|op~0|op~1|op~2|` (the join key of every NB201 data file),
- op vector: 6 op codes in the standard edge order `EDGES` = (0->1), (0->2), (1->2), (0->3), (1->3), (2->3),
  codes `OPS` none=0, skip_connect=1, nor_conv_1x1=2, nor_conv_3x3=3, avg_pool_3x3=4 (eagle/LatBench/foresight),
- NB201 index 0..15624: the benchmark's own order (NATS-Bench tss), looked up in `nas/data/nb201_accuracy.csv`,
- code: the op vector read as a base-5 number, first edge most significant (an enumeration order, not the index).

The network (`build_ir`) is the NB201 CIFAR "TinyNetwork": stem conv3x3 + BN, three stages of N cells
(C, 2C, 4C channels) separated by two ResNet basic blocks with stride 2, then BN, ReLU, global average pooling and
a linear classifier. Conv edges are ReLU -> Conv (no bias) -> BN; avg_pool_3x3 is 3x3 stride 1 pad 1 without the
padding in the count; skip_connect is the identity; `none` multiplies by zero.
"""
from __future__ import annotations

import re
from functools import cache
from typing import Sequence, Union

import numpy as np

from compiler.builder import GraphBuilder, WeightMode
from compiler.ir import Graph
from nas.spaces import SpaceError

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
NONE, SKIP, CONV1, CONV3, POOL = range(5)
EDGES = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
N_NODES = 4
SIZE = len(OPS) ** len(EDGES)  # 15,625

Ops = tuple[int, ...]
ArchLike = Union[str, Sequence[int], int]

_ARCH_RE = re.compile(r"^\|([a-z0-9_]+)~0\|\+\|([a-z0-9_]+)~0\|([a-z0-9_]+)~1\|\+"
                      r"\|([a-z0-9_]+)~0\|([a-z0-9_]+)~1\|([a-z0-9_]+)~2\|$")
_OP_CODE = {name: k for k, name in enumerate(OPS)}


# --- encodings ----------------------------------------------------------------------------------------------------
def parse(arch: str) -> Ops:
    """Arch string -> op vector. Raises SpaceError naming the string when it is not an NB201 cell."""
    m = _ARCH_RE.match(arch.strip())
    if m is None:
        raise SpaceError(f"'{arch}' is not an NB201 arch string; expected |op~0|+|op~0|op~1|+|op~0|op~1|op~2| "
                         f"with op in {', '.join(OPS)}")
    try:
        return tuple(_OP_CODE[name] for name in m.groups())
    except KeyError as exc:
        raise SpaceError(f"'{arch}' uses unknown operation {exc.args[0]!r}; NB201 ops are {', '.join(OPS)}") from None


def to_str(ops: Sequence[int]) -> str:
    """Op vector -> arch string."""
    ops = check_ops(ops)
    n = [OPS[k] for k in ops]
    return f"|{n[0]}~0|+|{n[1]}~0|{n[2]}~1|+|{n[3]}~0|{n[4]}~1|{n[5]}~2|"


def check_ops(ops: Sequence[int]) -> Ops:
    t = tuple(int(k) for k in ops)
    if len(t) != len(EDGES) or any(not 0 <= k < len(OPS) for k in t):
        raise SpaceError(f"op vector {list(ops)} is not an NB201 cell; expected 6 op codes in 0..4")
    return t


def to_code(ops: Sequence[int]) -> int:
    c = 0
    for k in check_ops(ops):
        c = c * len(OPS) + k
    return c


def from_code(code: int) -> Ops:
    if not 0 <= code < SIZE:
        raise SpaceError(f"cell code {code} is out of range 0..{SIZE - 1}")
    out = []
    for _ in EDGES:
        code, k = divmod(code, len(OPS))
        out.append(k)
    return tuple(out[::-1])


@cache
def _tables() -> tuple[np.ndarray, np.ndarray]:
    """(ops matrix in NB201 index order (15625, 6) int8, code -> index map (15625,) int32)."""
    from nas.data import nb201_table

    mat = np.array([parse(s) for s in nb201_table().arch_str], dtype=np.int8)
    codes = mat.astype(np.int64) @ (len(OPS) ** np.arange(len(EDGES) - 1, -1, -1))
    inv = np.full(SIZE, -1, dtype=np.int32)
    inv[codes] = np.arange(SIZE, dtype=np.int32)
    if (inv < 0).any():
        raise RuntimeError("nas/data/nb201_accuracy.csv does not hold every NB201 cell once; restore it from git")
    mat.setflags(write=False)
    inv.setflags(write=False)
    return mat, inv


def ops_matrix() -> np.ndarray:
    """Op vectors of all 15,625 cells, row i = NB201 index i (read-only int8 array)."""
    return _tables()[0]


def code_to_index() -> np.ndarray:
    """Array mapping the base-5 code of an op vector to its NB201 index."""
    return _tables()[1]


def as_ops(arch: ArchLike) -> Ops:
    """Accept an arch string, an op vector or an NB201 index; return the op vector."""
    if isinstance(arch, str):
        return parse(arch)
    if isinstance(arch, (int, np.integer)):
        i = int(arch)
        if not 0 <= i < SIZE:
            raise SpaceError(f"NB201 index {i} is out of range 0..{SIZE - 1}")
        return tuple(int(k) for k in ops_matrix()[i])
    return check_ops(arch)


def to_index(arch: ArchLike) -> int:
    """NB201 benchmark index of a cell."""
    return int(code_to_index()[to_code(as_ops(arch))])


# --- structure ----------------------------------------------------------------------------------------------------
def neighbours(ops: Sequence[int]) -> list[Ops]:
    """The 24 cells that differ from `ops` in exactly one edge (edge-major, then op order)."""
    ops = check_ops(ops)
    return [ops[:e] + (k,) + ops[e + 1:] for e in range(len(EDGES)) for k in range(len(OPS)) if k != ops[e]]


def live_edges(ops: Sequence[int]) -> tuple[bool, ...]:
    """Which edges affect the cell output: op is not `none`, the source node is not identically zero, and the
    target node reaches the output through such edges. A dropped edge computes a value that is discarded or a
    function of an all-zero tensor (a constant), so removing it leaves the network's function unchanged up to
    constants that BN/bias folding absorbs."""
    ops = check_ops(ops)
    nonzero = [True] + [False] * (N_NODES - 1)
    for e, (j, i) in enumerate(EDGES):
        if ops[e] != NONE and nonzero[j]:
            nonzero[i] = True
    reach = [False] * (N_NODES - 1) + [True]
    for e in range(len(EDGES) - 1, -1, -1):
        j, i = EDGES[e]
        if ops[e] != NONE and reach[i]:
            reach[j] = True
    return tuple(ops[e] != NONE and nonzero[j] and reach[i] for e, (j, i) in enumerate(EDGES))


def is_connected(ops: Sequence[int]) -> bool:
    """True when the cell output depends on its input (some path of non-`none` edges from node 0 to node 3)."""
    return any(live_edges(ops))


def op_counts(ops: Sequence[int], live_only: bool = False) -> dict[str, int]:
    """Number of edges carrying each op (over all 6 edges, or only the live ones)."""
    ops = check_ops(ops)
    live = live_edges(ops) if live_only else (True,) * len(EDGES)
    return {name: sum(1 for e, k in enumerate(ops) if k == code and live[e]) for code, name in enumerate(OPS)}


# --- direct IR build ----------------------------------------------------------------------------------------------
def _relu_conv_bn(b: GraphBuilder, x: str, c_out: int, k: int, stride: int = 1) -> str:
    return b.batchnorm(b.conv(b.relu(x), c_out, k, stride=stride, pad=k // 2, bias=False))


def _cell(b: GraphBuilder, x: str, ops: Ops, c: int, prune: bool) -> str:
    live = live_edges(ops) if prune else tuple(True for _ in EDGES)
    nodes: list[str | None] = [x] + [None] * (N_NODES - 1)
    relu: dict[int, str] = {}
    incoming: list[list[str]] = [[] for _ in range(N_NODES)]
    for e, (j, i) in enumerate(EDGES):
        if j > 0 and nodes[j] is None and incoming[j]:
            nodes[j] = _sum(b, incoming[j])
        if not live[e]:
            continue
        src, op = nodes[j], ops[e]
        if op == NONE:
            out = b.zeros_like_op(src)
        elif op == SKIP:
            out = src
        elif op == POOL:
            out = b.avg_pool(src, 3, 1, pad=1, count_include_pad=False)
        else:
            if j not in relu:
                relu[j] = b.relu(src)
            k = 1 if op == CONV1 else 3
            out = b.batchnorm(b.conv(relu[j], c, k, pad=k // 2, bias=False))
        incoming[i].append(out)
    if not incoming[N_NODES - 1]:  # disconnected cell: its output is identically zero
        return b.zeros_like_op(x)
    return _sum(b, incoming[N_NODES - 1])


def _sum(b: GraphBuilder, xs: list[str]) -> str:
    acc = xs[0]
    for t in xs[1:]:
        acc = b.add(acc, t)
    return acc


def build_ir(arch: ArchLike, *, C: int = 16, N: int = 5, num_classes: int = 10, batch: int = 1, image: int = 32,
             prune: bool = True, weights: WeightMode = "none", seed: int = 0) -> Graph:
    """The NB201 CIFAR network of a cell as a compiler Graph, built directly (no ONNX).

    `prune=True` drops every edge that `live_edges` marks dead (`none` edges, and edges that only feed or read
    all-zero nodes); a disconnected cell becomes a single multiply-by-zero of its input so the graph stays
    valid. `prune=False` keeps every edge (`none` as a multiply by zero), matching the torch module op for op.
    """
    ops = as_ops(arch)
    b = GraphBuilder(f"nb201_{to_code(ops)}", weights=weights, seed=seed)
    x = b.batchnorm(b.conv(b.input("x", (batch, 3, image, image)), C, 3, pad=1, bias=False))
    c = C
    for stage in range(3):
        if stage:
            c_in, c = c, 2 * c
            a = _relu_conv_bn(b, _relu_conv_bn(b, x, c, 3, stride=2), c, 3)
            r = b.conv(b.avg_pool(x, 2, 2), c, 1, bias=False)
            x = b.add(r, a)
        start, first_in = len(b.nodes), x
        x = _cell(b, x, ops, c, prune)
        stop, first_out = len(b.nodes), x
        for _ in range(N - 1):  # identical cells: copy the first one (shapes are known, no re-inference)
            x = b.replay(start, stop, {first_in: x}).get(first_out, x)
    y = b.fc(b.global_avg_pool(b.relu(b.batchnorm(x))), num_classes)
    return b.build([y])
