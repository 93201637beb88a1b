"""Graph encodings of NB201 cells for the predictors (BRP-NAS, Dudziak et al. 2020; eagle's NB201 encoding).

Op-on-node DAG with 8 nodes: the cell input (node 0), one node per cell edge in the standard edge order
(nodes 1..6 carry the op of edge 0..5), and the cell output (node 7). Node `1 + e` is wired from the node that
produces edge e's source value (the input for cell node 0, otherwise the nodes of the edges entering that cell
node) to the nodes of the edges leaving edge e's target (the output for cell node 3). Then:
- a `none` node loses all its connections;
- a `skip_connect` node is bypassed: its predecessors are wired straight to its successors, then it is cut off
  (edges are processed in order, so chains of skips collapse);
- nodes that are not on an input -> output path are pruned: their rows and columns become zero and they carry
  no op feature (the matrix keeps its size).
A global node is prepended (index 0) with an edge to every other node, and every node gets a self-loop, giving
a directed 9 x 9 adjacency `A` (A[i, j] = 1 for an edge i -> j) that is not normalised. Node features are 6-dim
one-hots `[conv1x1, conv3x3, avg_pool, input, output, global]`; the input and output rows are always marked.

`MLP_DIM` = 9*6 + 9*9 flattened features and adjacency is the MLP baseline's input; `op_count_features` are the
linear baseline's inputs (number of skip, conv1x1, conv3x3 and pool edges, over all six edges or live ones).
"""
from __future__ import annotations

from functools import cache
from typing import Sequence

import numpy as np

from nas.spaces import nb201

N_NODES = 9          # global + input + 6 op nodes + output
N_FEATURES = 6       # conv1x1, conv3x3, avg_pool, input, output, global
MLP_DIM = N_NODES * N_FEATURES + N_NODES * N_NODES
_FEATURE_OF_OP = {nb201.CONV1: 0, nb201.CONV3: 1, nb201.POOL: 2}


def _base_dag() -> np.ndarray:
    """8 x 8 op-on-node DAG before any op is applied (node 0 input, 1 + e edge e, 7 output)."""
    m = np.zeros((8, 8), dtype=bool)
    for e, (j, _) in enumerate(nb201.EDGES):
        if j == 0:
            m[0, 1 + e] = True
        else:  # fed by every edge that enters cell node j
            for f, (_, i) in enumerate(nb201.EDGES):
                if i == j:
                    m[1 + f, 1 + e] = True
    for f, (_, i) in enumerate(nb201.EDGES):
        if i == nb201.N_NODES - 1:
            m[1 + f, 7] = True
    return m


_BASE = _base_dag()


def _reach(m: np.ndarray, start: int, forward: bool) -> np.ndarray:
    seen = np.zeros(len(m), dtype=bool)
    seen[start] = True
    stack = [start]
    while stack:
        v = stack.pop()
        nxt = np.flatnonzero(m[v] if forward else m[:, v])
        for w in nxt:
            if not seen[w]:
                seen[w] = True
                stack.append(int(w))
    return seen


def op_graph(ops: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(pruned 8 x 8 op-on-node DAG as bool, op code per node or -1 where pruned/none/skip) of one cell."""
    ops = nb201.check_ops(ops)
    m = _BASE.copy()
    for e, k in enumerate(ops):
        v = 1 + e
        if k == nb201.NONE:
            m[v, :] = False
            m[:, v] = False
        elif k == nb201.SKIP:
            preds, succs = np.flatnonzero(m[:, v]), np.flatnonzero(m[v])
            for p in preds:
                m[p, succs] = True
            m[v, :] = False
            m[:, v] = False
    keep = _reach(m, 0, True) & _reach(m, 7, False)
    m[~keep, :] = False
    m[:, ~keep] = False
    labels = np.full(8, -1, dtype=np.int64)
    for e, k in enumerate(ops):
        if keep[1 + e] and k in _FEATURE_OF_OP:
            labels[1 + e] = k
    return m, labels


def encode(ops: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """(adjacency 9 x 9, features 9 x 6), float32, of one cell (see the module docstring)."""
    m, labels = op_graph(ops)
    a = np.zeros((N_NODES, N_NODES), dtype=np.float32)
    a[1:, 1:] = m
    a[0, 1:] = 1.0
    np.fill_diagonal(a, 1.0)
    x = np.zeros((N_NODES, N_FEATURES), dtype=np.float32)
    x[0, 5] = 1.0
    x[1, 3] = 1.0
    x[8, 4] = 1.0
    for v, k in enumerate(labels):
        if k >= 0:
            x[1 + v, _FEATURE_OF_OP[int(k)]] = 1.0
    return a, x


@cache
def nb201_encodings() -> tuple[np.ndarray, np.ndarray]:
    """Adjacency (15625, 9, 9) and features (15625, 9, 6) of every cell, row i = NB201 index i (read-only)."""
    mat = nb201.ops_matrix()
    adj = np.empty((nb201.SIZE, N_NODES, N_NODES), dtype=np.float32)
    feat = np.empty((nb201.SIZE, N_NODES, N_FEATURES), dtype=np.float32)
    memo: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray]] = {}
    for i, row in enumerate(mat):
        ops = tuple(int(k) for k in row)
        if ops not in memo:
            memo[ops] = encode(ops)
        adj[i], feat[i] = memo[ops]
    adj.setflags(write=False)
    feat.setflags(write=False)
    return adj, feat


@cache
def distinct_graphs() -> tuple[np.ndarray, np.ndarray]:
    """(representative NB201 index of each distinct encoding, map from NB201 index to its representative's
    position): cells with equal encodings get equal predictions, so predicting the representatives suffices."""
    adj, feat = nb201_encodings()
    flat = np.concatenate([adj.reshape(nb201.SIZE, -1), feat.reshape(nb201.SIZE, -1)], axis=1)
    _, first, inverse = np.unique(flat, axis=0, return_index=True, return_inverse=True)
    first.setflags(write=False)
    inverse = inverse.reshape(-1)
    inverse.setflags(write=False)
    return first, inverse


def mlp_inputs(cells: Sequence[int] | np.ndarray) -> np.ndarray:
    """(n, MLP_DIM) float32: flattened features then flattened adjacency, as the eagle MLP baseline reads them."""
    adj, feat = nb201_encodings()
    idx = np.asarray(cells, dtype=np.int64)
    return np.concatenate([feat[idx].reshape(len(idx), -1), adj[idx].reshape(len(idx), -1)], axis=1)


def op_count_features(cells: Sequence[int] | np.ndarray, live_only: bool = False) -> np.ndarray:
    """(n, 4) float64 counts of skip_connect, nor_conv_1x1, nor_conv_3x3 and avg_pool_3x3 edges per cell."""
    mat = nb201.ops_matrix()[np.asarray(cells, dtype=np.int64)]
    if live_only:
        live = _live_matrix()[np.asarray(cells, dtype=np.int64)]
        mat = np.where(live, mat, nb201.NONE)
    return np.stack([(mat == k).sum(1) for k in (nb201.SKIP, nb201.CONV1, nb201.CONV3, nb201.POOL)],
                    axis=1).astype(np.float64)


@cache
def _live_matrix() -> np.ndarray:
    out = np.array([nb201.live_edges(tuple(int(k) for k in row)) for row in nb201.ops_matrix()], dtype=bool)
    out.setflags(write=False)
    return out
