"""The three-proxy vote (synflow, jacob_cov, snip) of the zero-cost paper.

The paper's "vote" number (0.817 on NB201 CIFAR-10) is a pairwise concordance, not a Spearman rho: over every
ordered pair (i, j) of cells with different accuracy, the vote is the majority sign of the three proxies'
differences (a zero difference votes "lower"), and the pair counts as right when that sign equals the sign of
acc_i - acc_j (docs/nas.md). `vote_concordance` computes exactly that. `vote_scores` turns the vote into a
per-cell score within a set (Copeland: the number of cells it beats by majority), which can be ranked like
any other proxy.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

VOTERS = ("synflow", "jacob_cov", "snip")


def _clean(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return np.where(np.isnan(x), -np.inf, x)  # an undefined score (NaN) ranks last


def _majority_greater(scores: Mapping[str, np.ndarray], voters: Sequence[str]) -> np.ndarray:
    """(n, n) bool: True where a majority of voters says cell i scores higher than cell j."""
    votes = None
    for v in voters:
        s = _clean(scores[v])
        with np.errstate(invalid="ignore"):
            gt = (s[:, None] - s[None, :]) > 0
        votes = gt.astype(np.int32) if votes is None else votes + gt
    return votes * 2 > len(voters)


def vote_concordance(scores: Mapping[str, np.ndarray], accuracy: np.ndarray,
                     voters: Sequence[str] = VOTERS) -> float:
    """Fraction of ordered pairs with different accuracy whose majority vote orders them correctly."""
    acc = np.asarray(accuracy, dtype=float)
    up = _majority_greater(scores, voters)
    d = acc[:, None] - acc[None, :]
    valid = d != 0
    right = (up & (d > 0)) | (~up & (d < 0))
    return float(right[valid].sum() / valid.sum())


def vote_scores(scores: Mapping[str, np.ndarray], voters: Sequence[str] = VOTERS) -> np.ndarray:
    """Per-cell Copeland score within the set: how many other cells it beats by majority vote."""
    return _majority_greater(scores, voters).sum(1).astype(float)
