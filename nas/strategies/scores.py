"""Zero-cost proxy scores for guiding searches (warm-up, move proposal), looked up or computed on demand.

Precomputed scores live in nas/data: `nb201_synflow.csv` (synflow, params, flops for the whole NB201 space)
and `nb201_proxies.csv` (every proxy on a 1,675-cell sample). A cell missing from both is scored on demand
with `nas.proxies.nb201_proxies` (same protocol and seeds, so the value equals the precomputed one) and
memoised. Scores are oriented "higher is better" (every proxy correlates positively with accuracy); NaN
(e.g. jacob_cov of a disconnected cell) ranks last.
"""
from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import numpy as np

from nas.proxies import PROXIES, ProxyError, check_names
from nas.spaces import nb201

SCORE_FILES = ("nb201_synflow.csv", "nb201_proxies.csv")


@cache
def precomputed(name: str) -> np.ndarray:
    """Scores of proxy `name` by NB201 index from the nas/data score files (NaN where not computed); params and
    flops missing from the files are computed (exact, about 2 ms per cell)."""
    from nas.data import DATA_DIR
    from nas.proxies.batch import read_scores

    check_names([name], PROXIES)
    out = np.full(nb201.SIZE, np.nan)
    for fname in SCORE_FILES:
        path = Path(DATA_DIR) / fname
        if path.exists():
            d = read_scores(path)
            ok = ~np.isnan(d[name])
            out[d["index"][ok]] = d[name][ok]
    if name in ("params", "flops"):  # exact and cheap: fill whatever the files lack
        from nas.proxies import nb201_flops, nb201_params

        fn = nb201_params if name == "params" else nb201_flops
        for i in np.flatnonzero(np.isnan(out)):
            out[i] = float(fn(int(i)))
    out.setflags(write=False)
    return out


class ProxyScorer:
    """`scorer(ops) -> float`, higher is better; NaN scores become -inf so they rank last."""

    def __init__(self, name: str, *, compute_missing: bool = True):
        self.name = check_names([name], PROXIES)[0]
        self.table = precomputed(self.name)
        self.compute_missing = compute_missing
        self.extra: dict[int, float] = {}

    def coverage(self) -> float:
        return float((~np.isnan(self.table)).mean())

    def by_index(self, i: int) -> float:
        v = self.table[i]
        if math.isnan(v):
            if i in self.extra:
                v = self.extra[i]
            elif not self.compute_missing:
                raise ProxyError(f"proxy '{self.name}' has no precomputed score for NB201 cell {i}")
            else:
                from nas.proxies import nb201_proxies

                v = self.extra[i] = nb201_proxies(i, [self.name])[self.name]
        return -math.inf if math.isnan(v) else float(v)

    def __call__(self, ops) -> float:
        return self.by_index(nb201.to_index(ops))
