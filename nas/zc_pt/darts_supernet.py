"""The DARTS supernet for Zero-Cost-PT and its perturbation-based selection (op projection then edge projection).

Supernet (DARTS `model_search.py` structure): stem conv3x3 to 3C channels + BN, `layers` search cells with
reductions at layers//3 and 2*layers//3, each cell preprocessing its two inputs (ReLU-Conv1x1-BN, or
FactorizedReduce after a reduction), four intermediate nodes where node i sums a mixed operation over every
earlier state (14 edges per cell), output = concatenation of the four nodes. One (14, ops) weight matrix for
normal cells and one for reduction cells, shared by all cells of that type. BatchNorms have no affine
parameters and use batch statistics; weights are PyTorch's default initialisation from the seed; no training.
Every op of a mixed edge is computed (a zero weight only multiplies its output), as in the reference, so the
NASWOT codes of every ReLU are collected by hooks.

Space: `ops` defaults to S5 of Zero-Cost-PT (the DARTS space without `none`: max/avg pool, skip, sep 3/5, dil 3/5);
pass `nas.spaces.darts.PRIMITIVES` for the full DARTS space.

Selection (`sota/cnn/init_projection.py` in the reference): (1) visit the 28 edges (14 normal, 14 reduce) in random
order; on each, remove every op in turn, score, and keep the op whose removal gives the lowest score; (2) visit
the nodes with more than two inputs in random order and drop their incoming edges one at a time, each time the
edge whose removal leaves the highest score, until two remain.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from nas.spaces.darts import PRIMITIVES, STEPS, Genotype, make_genotype
from nas.spaces.nb201_torch import init_parameters
from nas.zc_pt.naswot import naswot

S5 = tuple(p for p in PRIMITIVES if p != "none")
N_EDGES = sum(2 + i for i in range(STEPS))  # 14
CELL_TYPES = ("normal", "reduce")


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, affine=False, track_running_stats=False)


class _ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, pad: int = 0):
        super().__init__(nn.ReLU(), nn.Conv2d(c_in, c_out, k, stride, pad, bias=False), _bn(c_out))


class _SepHalf(nn.Sequential):
    def __init__(self, c: int, k: int, stride: int, pad: int, dil: int):
        super().__init__(nn.ReLU(), nn.Conv2d(c, c, k, stride, pad, dilation=dil, groups=c, bias=False),
                         nn.Conv2d(c, c, 1, bias=False), _bn(c))


class _FactorizedReduce(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.relu = nn.ReLU()
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, stride=2, bias=False)
        self.bn = _bn(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


class _Zero(nn.Module):
    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, ::self.stride, ::self.stride].mul(0.0)


def _op(name: str, c: int, stride: int) -> nn.Module:
    if name == "none":
        return _Zero(stride)
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else _FactorizedReduce(c, c)
    if name == "max_pool_3x3":
        return nn.Sequential(nn.MaxPool2d(3, stride, padding=1), _bn(c))
    if name == "avg_pool_3x3":
        return nn.Sequential(nn.AvgPool2d(3, stride, padding=1, count_include_pad=False), _bn(c))
    k = 3 if name.endswith("3x3") else 5
    if name.startswith("sep_conv"):
        return nn.Sequential(_SepHalf(c, k, stride, k // 2, 1), _SepHalf(c, k, 1, k // 2, 1))
    return _SepHalf(c, k, stride, k - 1, 2)


class _MixedOp(nn.Module):
    def __init__(self, ops: Sequence[str], c: int, stride: int):
        super().__init__()
        self.ops = nn.ModuleList(_op(o, c, stride) for o in ops)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        return sum(w[k] * op(x) for k, op in enumerate(self.ops))  # type: ignore[return-value]


class _SearchCell(nn.Module):
    def __init__(self, ops: Sequence[str], c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool):
        super().__init__()
        self.reduction = reduction
        self.pre0 = _FactorizedReduce(c_pp, c) if reduction_prev else _ReLUConvBN(c_pp, c, 1)
        self.pre1 = _ReLUConvBN(c_p, c, 1)
        self.edges = nn.ModuleList(_MixedOp(ops, c, 2 if reduction and j < 2 else 1)
                                   for i in range(STEPS) for j in range(2 + i))

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        offset = 0
        for i in range(STEPS):
            states.append(sum(self.edges[offset + j](h, w[offset + j]) for j, h in enumerate(states)))
            offset += len(states) - 1
        return torch.cat(states[2:], dim=1)


class DartsSupernet(nn.Module):
    """DARTS search network at initialisation; `forward(x, weights)` with weights {"normal", "reduce"}."""

    def __init__(self, C: int = 16, layers: int = 8, num_classes: int = 10, ops: Sequence[str] = S5, seed: int = 0):
        super().__init__()
        if layers < 3:
            raise ValueError(f"DARTS supernet needs >= 3 layers (two are reductions), got {layers}")
        self.ops = tuple(ops)
        c_curr = 3 * C
        self.stem = nn.Sequential(nn.Conv2d(3, c_curr, 3, padding=1, bias=False), _bn(c_curr))
        c_pp, c_p, c = c_curr, c_curr, C
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c *= 2
            self.cells.append(_SearchCell(self.ops, c_pp, c_p, c, reduction, reduction_prev))
            reduction_prev = reduction
            c_pp, c_p = c_p, STEPS * c
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)
        init_parameters(self, torch.Generator().manual_seed(int(seed)))
        self.requires_grad_(False)
        self.weights: dict[str, torch.Tensor] = self.uniform_weights()

    def uniform_weights(self) -> dict[str, torch.Tensor]:
        n = len(self.ops)
        return {t: torch.full((N_EDGES, n), 1.0 / n) for t in CELL_TYPES}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1, self.weights["reduce" if cell.reduction else "normal"])
        return self.classifier(self.pool(s1).flatten(1))

    def score(self, x: torch.Tensor, weights: dict[str, torch.Tensor]) -> float:
        self.weights = weights
        try:
            return naswot(self, x)
        finally:
            self.weights = self.uniform_weights()


def _edge_nodes() -> list[tuple[int, int]]:
    """(target node 2..5, source state 0..node-1) of each of the 14 edges, in the supernet's order."""
    return [(2 + i, j) for i in range(STEPS) for j in range(2 + i)]


@dataclass(frozen=True)
class DartsCandidate:
    genotype: Genotype
    weights: dict[str, list[list[float]]]
    trace: list[dict[str, Any]]


def discretise_darts(net: DartsSupernet, batch, rng: np.random.Generator) -> DartsCandidate:
    """One Zero-Cost-PT candidate on the DARTS supernet; `batch(seed) -> inputs` draws a minibatch."""
    w = {t: v.clone() for t, v in net.uniform_weights().items()}
    n_ops = len(net.ops)
    chosen = {t: [-1] * N_EDGES for t in CELL_TYPES}
    trace: list[dict[str, Any]] = []
    edges = [(t, e) for t in CELL_TYPES for e in range(N_EDGES)]
    for k in rng.permutation(len(edges)):
        t, e = edges[int(k)]
        x = batch(int(rng.integers(2 ** 62)))
        scores = []
        for o in range(n_ops):
            trial = {u: v.clone() for u, v in w.items()}
            trial[t][e, o] = 0.0
            scores.append(net.score(x, trial))
        best = int(np.nanargmin(np.array(scores, dtype=np.float64)))
        w[t][e] = 0.0
        w[t][e, best] = 1.0
        chosen[t][e] = best
        trace.append({"phase": "op", "cell": t, "edge": e, "scores": scores, "chosen": best})
    en = _edge_nodes()
    nodes = [(t, i) for t in CELL_TYPES for i in range(3, 2 + STEPS)]
    for k in rng.permutation(len(nodes)):
        t, node = nodes[int(k)]
        kept = [e for e, (dst, _) in enumerate(en) if dst == node]
        x = batch(int(rng.integers(2 ** 62)))
        while len(kept) > 2:
            scores = []
            for e in kept:
                trial = {u: v.clone() for u, v in w.items()}
                trial[t][e] = 0.0
                scores.append(net.score(x, trial))
            drop = kept[int(np.nanargmax(np.array(scores, dtype=np.float64)))]
            w[t][drop] = 0.0
            trace.append({"phase": "edge", "cell": t, "node": node, "kept": list(kept), "scores": scores,
                          "dropped": drop})
            kept.remove(drop)
    cells = {}
    for t in CELL_TYPES:
        edges_t = []
        for node in range(2, 2 + STEPS):
            ins = [e for e, (dst, _) in enumerate(en) if dst == node and float(w[t][e].sum()) > 0]
            edges_t += [(net.ops[chosen[t][e]], en[e][1]) for e in ins]
        cells[t] = edges_t
    concat = list(range(2, 2 + STEPS))
    g = make_genotype(cells["normal"], concat, cells["reduce"], concat)
    return DartsCandidate(g, {t: v.tolist() for t, v in w.items()}, trace)


def zc_pt_darts(*, candidates: int = 10, validate_rounds: int = 10, batch_size: int = 64, C: int = 16,
                layers: int = 8, ops: Sequence[str] = S5, seed: int = 0) -> dict[str, Any]:
    """Zero-Cost-PT on the DARTS space: `candidates` genotypes, each post-validated on the same
    `validate_rounds` minibatches; returns {"genotype" (the selected one), "candidates": [{genotype, score}],
    "seconds", "cpu_seconds"}."""
    from nas.proxies import cifar10_batch

    t0, c0 = time.perf_counter(), time.process_time()
    net = DartsSupernet(C, layers, ops=ops, seed=seed)
    rng = np.random.default_rng(seed)

    def batch(s: int) -> torch.Tensor:
        return cifar10_batch(batch_size, seed=s).inputs

    cands = [discretise_darts(net, batch, rng) for _ in range(candidates)]
    val_seeds = [int(s) for s in np.random.default_rng([seed, 1]).integers(2 ** 62, size=validate_rounds)]
    totals = []
    for c in cands:
        w = {t: torch.tensor(v) for t, v in c.weights.items()}
        totals.append(float(sum(net.score(batch(s), w) for s in val_seeds)))
    best = int(np.nanargmax(np.array(totals)))
    return {"genotype": str(cands[best].genotype), "score": totals[best],
            "candidates": [{"genotype": str(c.genotype), "score": s} for c, s in zip(cands, totals)],
            "seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0}


@dataclass(frozen=True)
class DartsObjective:
    """One Zero-Cost-PT run on DARTS per trial ({"seed"}); metrics: the selected genotype, its score, the MACs
    and parameters of its CIFAR evaluation network (C=36, 20 layers) and the search time."""

    candidates: int = 10
    validate_rounds: int = 10
    batch_size: int = 64
    C: int = 16
    layers: int = 8

    def check(self) -> "DartsObjective":
        from compiler.errors import UserError

        if self.candidates < 1 or self.validate_rounds < 1 or not 2 <= self.batch_size <= 400:
            raise UserError("--candidates and --validate-rounds must be >= 1 and --batch-size in 2..400")
        if self.C < 1 or self.layers < 3:
            raise UserError(f"DARTS supernet C={self.C}, layers={self.layers}: need C >= 1 and layers >= 3")
        return self

    def config(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {"space": "darts", **asdict(self)}

    def __call__(self, candidate: dict[str, Any], seed: int) -> dict[str, Any]:
        from nas.spaces.darts import build_ir, parse_genotype

        r = zc_pt_darts(candidates=self.candidates, validate_rounds=self.validate_rounds,
                        batch_size=self.batch_size, C=self.C, layers=self.layers, seed=int(candidate["seed"]))
        totals = build_ir(parse_genotype(r["genotype"])).totals()
        return {**r, "macs": int(totals.macs), "params": int(totals.params)}


def darts_pool(seeds: Sequence[int]):
    from nas.predictors.experiment import Grid

    return Grid([{"seed": int(s)} for s in seeds])
