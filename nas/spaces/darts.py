"""DARTS cell space (Liu et al., ICLR 2019): genotypes, random sampling, and the direct IR build of the CIFAR
evaluation network. The torch module is `nas.spaces.darts_torch.DartsNetwork`.

A genotype has a normal and a reduction cell. Each cell has two inputs (node 0: output of the cell before the
previous one, node 1: output of the previous cell) and four intermediate nodes 2..5; node i sums exactly two
edges `(op, j)` with j < i. The cell output concatenates nodes `concat` (2..5). Operations (`PRIMITIVES`):
max/avg 3x3 pooling, identity (`skip_connect`; FactorizedReduce when it must reduce), separable convolutions
3x3/5x5 (ReLU-dw-pw-BN twice), dilated separable convolutions 3x3/5x5 (dilation 2, ReLU-dw-pw-BN) and `none`
(zero; DARTS never keeps it in a final genotype). In a reduction cell, edges from nodes 0 and 1 have stride 2.

The network (DARTS `NetworkCIFAR`): stem conv3x3 to `3C` channels + BN, `layers` cells with reductions at
layers//3 and 2*layers//3 (channels doubling there), each cell preprocessing its inputs with ReLU-Conv1x1-BN
(FactorizedReduce for node 0 after a reduction), global average pooling and a linear classifier; optional
auxiliary head after cell 2*layers//3.
"""
from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from compiler.builder import GraphBuilder, WeightMode
from compiler.ir import Graph
from nas.spaces import SpaceError

PRIMITIVES = ("none", "max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
              "dil_conv_3x3", "dil_conv_5x5")
STEPS = 4

Edge = tuple[str, int]


@dataclass(frozen=True)
class Genotype:
    normal: tuple[Edge, ...]
    normal_concat: tuple[int, ...]
    reduce: tuple[Edge, ...]
    reduce_concat: tuple[int, ...]

    def __str__(self) -> str:
        return (f"Genotype(normal={list(self.normal)}, normal_concat={list(self.normal_concat)}, "
                f"reduce={list(self.reduce)}, reduce_concat={list(self.reduce_concat)})")


def make_genotype(normal: Sequence[Sequence], normal_concat: Sequence[int], reduce: Sequence[Sequence],
                  reduce_concat: Sequence[int]) -> Genotype:
    """Build and validate a genotype; raises SpaceError naming the first problem."""
    g = Genotype(tuple((str(o), int(j)) for o, j in normal), tuple(int(k) for k in normal_concat),
                 tuple((str(o), int(j)) for o, j in reduce), tuple(int(k) for k in reduce_concat))
    for kind, edges, concat in (("normal", g.normal, g.normal_concat), ("reduce", g.reduce, g.reduce_concat)):
        if len(edges) != 2 * STEPS:
            raise SpaceError(f"DARTS {kind} cell has {len(edges)} edges; it needs {2 * STEPS} (two per node 2..5)")
        for k, (op, j) in enumerate(edges):
            node = 2 + k // 2
            if op not in PRIMITIVES:
                raise SpaceError(f"DARTS {kind} cell edge {k}: unknown op '{op}'; ops are {', '.join(PRIMITIVES)}")
            if not 0 <= j < node:
                raise SpaceError(f"DARTS {kind} cell edge {k} into node {node} reads node {j}; it must be 0..{node - 1}")
        if not concat or any(not 0 <= c < 2 + STEPS for c in concat) or len(set(concat)) != len(concat):
            raise SpaceError(f"DARTS {kind}_concat {list(concat)} must list distinct nodes in 0..{1 + STEPS}")
    return g


def parse_genotype(text: str) -> Genotype:
    """A genotype from DARTS's repr (`Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=range(2, 6),
    ...)`), from JSON `{"normal": [[op, input], ...], "normal_concat": [...], ...}`, or a name in `GENOTYPES`."""
    text = text.strip()
    if text in GENOTYPES:
        return GENOTYPES[text]
    try:
        if text.startswith("{"):
            d = json.loads(text)
        elif text.startswith("Genotype(") and text.endswith(")"):
            body = text[len("Genotype("):-1]
            tree = ast.parse(f"f({body})", mode="eval").body
            d = {}
            for kw in tree.keywords:  # type: ignore[attr-defined]
                v = kw.value
                if isinstance(v, ast.Call) and getattr(v.func, "id", "") == "range":
                    d[kw.arg] = list(range(*[ast.literal_eval(a) for a in v.args]))
                else:
                    d[kw.arg] = ast.literal_eval(v)
        else:
            raise ValueError("not a genotype")
        return make_genotype(d["normal"], d["normal_concat"], d["reduce"], d["reduce_concat"])
    except SpaceError:
        raise
    except (ValueError, SyntaxError, KeyError, TypeError) as exc:
        raise SpaceError(f"cannot read DARTS genotype {text[:60]!r} ({exc}); give Genotype(normal=[...], "
                         f"normal_concat=..., reduce=[...], reduce_concat=...), JSON, or one of "
                         f"{', '.join(GENOTYPES)}") from None


def random_genotype(rng: np.random.Generator, ops: Sequence[str] = PRIMITIVES[1:]) -> Genotype:
    """A uniformly random genotype of the DARTS search space: for each node two distinct inputs, one op each
    (by default without `none`, as DARTS derives final cells)."""
    def cell() -> list[Edge]:
        edges = []
        for node in range(2, 2 + STEPS):
            for j in sorted(rng.choice(node, size=2, replace=False).tolist()):
                edges.append((ops[int(rng.integers(len(ops)))], int(j)))
        return edges
    concat = list(range(2, 2 + STEPS))
    return make_genotype(cell(), concat, cell(), concat)


# DARTS (second order) CIFAR-10 cell, as published in the DARTS repository's genotypes.py (DARTS_V2)
DARTS_V2 = make_genotype(
    normal=[("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
            ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)],
    normal_concat=[2, 3, 4, 5],
    reduce=[("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
            ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)],
    reduce_concat=[2, 3, 4, 5])
GENOTYPES = {"DARTS_V2": DARTS_V2}


# --- direct IR build ----------------------------------------------------------------------------------------------
def _relu_conv_bn(b: GraphBuilder, x: str, c_out: int, k: int, stride: int = 1, pad: int = 0) -> str:
    return b.batchnorm(b.conv(b.relu(x), c_out, k, stride=stride, pad=pad, bias=False))


def _factorized_reduce(b: GraphBuilder, x: str, c_out: int) -> str:
    r = b.relu(x)
    h, w = b.shape(r)[2:]
    shifted = b.op("Slice", [r], {"starts": [1, 1], "ends": [h, w], "axes": [2, 3]})[0]
    a = b.conv(r, c_out // 2, 1, stride=2, bias=False)
    c = b.conv(shifted, c_out - c_out // 2, 1, stride=2, bias=False)
    return b.batchnorm(b.concat([a, c]))


def _sep_half(b: GraphBuilder, x: str, c_in: int, c_out: int, k: int, stride: int, pad: int, dil: int) -> str:
    dw = b.conv(b.relu(x), c_in, k, stride=stride, pad=pad, dilation=dil, groups=c_in, bias=False)
    return b.batchnorm(b.conv(dw, c_out, 1, bias=False))


def _edge(b: GraphBuilder, op: str, x: str, c: int, stride: int) -> str | None:
    if op == "none":
        return None
    if op == "skip_connect":
        return x if stride == 1 else _factorized_reduce(b, x, c)
    if op == "max_pool_3x3":
        return b.max_pool(x, 3, stride, pad=1)
    if op == "avg_pool_3x3":
        return b.avg_pool(x, 3, stride, pad=1, count_include_pad=False)
    k = 3 if op.endswith("3x3") else 5
    if op.startswith("sep_conv"):
        y = _sep_half(b, x, c, c, k, stride, k // 2, 1)
        return _sep_half(b, y, c, c, k, 1, k // 2, 1)
    return _sep_half(b, x, c, c, k, stride, k - 1, 2)  # dil_conv: dilation 2


def _cell(b: GraphBuilder, s0: str, s1: str, g: Genotype, c: int, reduction: bool, reduction_prev: bool) -> str:
    s0 = _factorized_reduce(b, s0, c) if reduction_prev else _relu_conv_bn(b, s0, c, 1)
    s1 = _relu_conv_bn(b, s1, c, 1)
    edges, concat = (g.reduce, g.reduce_concat) if reduction else (g.normal, g.normal_concat)
    states: list[str | None] = [s0, s1]
    for node in range(STEPS):
        outs = []
        for op, j in edges[2 * node:2 * node + 2]:
            src = states[j]
            if src is None:  # an all-zero node: the edge only adds a constant
                continue
            y = _edge(b, op, src, c, 2 if reduction and j < 2 else 1)
            if y is not None:
                outs.append(y)
        states.append(outs[0] if len(outs) == 1 else b.add(*outs) if outs else None)
    parts = [states[k] for k in concat]
    if any(p is None for p in parts):
        ref = next(p for p in parts if p is not None) if any(p is not None for p in parts) else None
        if ref is None:
            raise SpaceError("DARTS cell output is identically zero (every concatenated node is 'none'-only)")
        parts = [p if p is not None else b.zeros_like_op(ref) for p in parts]
    return b.concat(parts)


def build_ir(genotype: Genotype | str, *, C: int = 36, layers: int = 20, num_classes: int = 10, batch: int = 1,
             image: int = 32, auxiliary: bool = False, weights: WeightMode = "none", seed: int = 0) -> Graph:
    """The DARTS CIFAR evaluation network of a genotype as a compiler Graph (inference: no drop-path).

    Outputs: logits, plus the auxiliary logits when `auxiliary` (as in training)."""
    g = parse_genotype(genotype) if isinstance(genotype, str) else genotype
    if layers < 3:
        raise SpaceError(f"DARTS network needs at least 3 layers (two are reductions), got {layers}")
    b = GraphBuilder("darts", weights=weights, seed=seed)
    stem = b.batchnorm(b.conv(b.input("x", (batch, 3, image, image)), 3 * C, 3, pad=1, bias=False))
    s0 = s1 = stem
    c = C
    reduction_prev = False
    aux_in = None
    for i in range(layers):
        reduction = i in (layers // 3, 2 * layers // 3)
        if reduction:
            c *= 2
        s0, s1 = s1, _cell(b, s0, s1, g, c, reduction, reduction_prev)
        reduction_prev = reduction
        if i == 2 * layers // 3:
            aux_in = s1
    outputs = [b.fc(b.global_avg_pool(s1), num_classes)]
    if auxiliary:
        assert aux_in is not None
        y = b.avg_pool(b.relu(aux_in), 5, 3, count_include_pad=False)
        y = b.relu(b.batchnorm(b.conv(y, 128, 1, bias=False)))
        y = b.relu(b.batchnorm(b.conv(y, 768, 2, bias=False)))
        outputs.append(b.fc(y, num_classes))
    return b.build(outputs)
