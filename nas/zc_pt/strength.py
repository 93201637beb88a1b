"""Operation strength from the NB201 benchmark labels and how well Zero-Cost-PT's scores rank operations by it.

Strength of op o on edge e (Zero-Cost-PT's `notebooks_201`, op_strength): the mean, or the best, test accuracy of
all NB201 cells that use o on e. `conditional=True` restricts the cells to those consistent with the edges
already fixed when the op was scored (the strength of o given the partial architecture).

A perturbation step scores the supernet with each op removed; removing an important op lowers the score, so an
op's importance is minus its score. `op_scoring_correlation` averages, per discretisation step, the Spearman
correlation between importance and strength over every step of every trace (NaN correlations, from constant
scores or strengths, are left out and counted).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from nas.spaces import nb201


def op_strength(dataset: str = "cifar10", *, fixed: Sequence[int] | None = None, stat: str = "mean") -> np.ndarray:
    """(6, 5) strength table: `stat` (mean | best) accuracy of the cells with op o on edge e, among the cells that
    match `fixed` (op per edge, -1 = free; default all cells). NaN where no cell qualifies."""
    from nas.data import nb201_table

    acc = nb201_table().accuracy(dataset)
    mat = nb201.ops_matrix()
    ok = np.ones(nb201.SIZE, dtype=bool)
    for e, o in enumerate(fixed or []):
        if o >= 0:
            ok &= mat[:, e] == o
    out = np.full((len(nb201.EDGES), len(nb201.OPS)), np.nan)
    for e in range(len(nb201.EDGES)):
        for o in range(len(nb201.OPS)):
            sel = ok & (mat[:, e] == o)
            if sel.any():
                out[e, o] = acc[sel].max() if stat == "best" else acc[sel].mean()
    return out


def op_scoring_correlation(traces: Sequence[Sequence[Sequence[float]]], dataset: str = "cifar10",
                           before: Sequence[Sequence[Sequence[int]]] | None = None) -> list[dict[str, Any]]:
    """Per step: mean Spearman between op importance (-score) and strength, for the mean and best strength,
    unconditional and (when `before`, the fixed edges at each step, is given or derivable) conditional.

    `traces[k]` is one candidate's list of steps `[edge, chosen, score_0 .. score_4]` in step order (the
    `trace` metric of a Zero-Cost-PT trial); the fixed edges before each step follow from the earlier steps.
    """
    from scipy.stats import spearmanr

    base = {stat: op_strength(dataset, stat=stat) for stat in ("mean", "best")}
    cache: dict[tuple[tuple[int, ...], str], np.ndarray] = {}
    n_steps = max((len(t) for t in traces), default=0)
    rows = []
    for step in range(n_steps):
        acc: dict[str, list[float]] = {k: [] for k in ("mean", "best", "mean_cond", "best_cond")}
        skipped = 0
        for t in traces:
            if step >= len(t):
                continue
            fixed = [-1] * len(nb201.EDGES)
            for e, o, *_ in t[:step]:
                fixed[int(e)] = int(o)
            e = int(t[step][0])
            importance = -np.asarray(t[step][2:], dtype=np.float64)
            for stat in ("mean", "best"):
                key = (tuple(fixed), stat)
                if key not in cache:
                    cache[key] = op_strength(dataset, fixed=fixed, stat=stat)
                for name, table in ((stat, base[stat]), (f"{stat}_cond", cache[key])):
                    strength = table[e]
                    ok = np.isfinite(importance) & np.isfinite(strength)
                    if ok.sum() < 3 or np.ptp(importance[ok]) == 0 or np.ptp(strength[ok]) == 0:
                        skipped += 1
                        continue
                    acc[name].append(float(spearmanr(importance[ok], strength[ok]).statistic))
        rows.append({"step": step + 1, "n": sum(1 for t in traces if step < len(t)), "undefined": skipped,
                     **{f"rho_{k}": float(np.mean(v)) if v else float("nan") for k, v in acc.items()}})
    return rows
