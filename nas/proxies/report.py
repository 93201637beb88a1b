"""Correlation report of a proxy score file: Spearman rho with NB201 accuracy next to the published values, and
agreement with NASLib's independently computed scores on the same cells.

NaN scores (jacob_cov of networks whose output ignores the input) rank last, as NASLib's -1e8 does.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import kendalltau, spearmanr

from nas.proxies import REPORTED
from nas.proxies.vote import VOTERS, vote_concordance, vote_scores

# |Spearman| with test accuracy over all 15,625 NB201 cells, zero-cost-nas notebook
# (notebooks/nasbench201_correlations.ipynb; CIFAR-10 there is NB201's 'cifar10-valid' training run, and each
# dataset's proxies were computed on that dataset's minibatch); vote: pairwise concordance, not a rho
PUBLISHED_BY_DATASET = {
    "cifar10": {"grad_norm": 0.594, "snip": 0.596, "grasp": 0.514, "fisher": 0.360, "synflow": 0.737,
                "jacob_cov": 0.731, "vote": 0.817},
    "cifar100": {"grad_norm": 0.637, "snip": 0.637, "grasp": 0.547, "fisher": 0.385, "synflow": 0.763,
                 "jacob_cov": 0.704, "vote": 0.832},
    "imagenet16": {"grad_norm": 0.578, "snip": 0.578, "grasp": 0.549, "fisher": 0.327, "synflow": 0.751,
                   "jacob_cov": 0.701, "vote": 0.813},
}
PUBLISHED = PUBLISHED_BY_DATASET["cifar10"]
# Spearman of NASLib's own scores with its CIFAR-10 validation accuracy on its 725 cells (computed, docs/nas.md)
NASLIB_REPORTED = {"grad_norm": 0.606, "snip": 0.608, "grasp": 0.539, "fisher": 0.509, "synflow": 0.736,
                   "jacob_cov": 0.766, "naswot": 0.787, "params": 0.738, "flops": 0.711}
NASLIB_NAME = {"jacob_cov": "jacov", "naswot": "nwot"}


def rank_ready(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return np.where(np.isnan(x), -np.inf, x)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rho, NaN scores ranked last; NaN when a score column was not computed at all."""
    if len(a) < 2 or np.isnan(np.asarray(a, dtype=float)).all():
        return float("nan")
    return float(spearmanr(rank_ready(a), rank_ready(b)).statistic)


@dataclass(frozen=True)
class ProxyRow:
    proxy: str
    n: int                        # cells in the random sample
    rho: float                    # Spearman with CIFAR-10 test accuracy on the random sample
    published: float | None       # the paper's |rho| (whole space)
    n_naslib: int                 # NASLib cells scored
    rho_naslib_cells: float       # our rho with NASLib's val accuracy on its cells
    naslib_rho: float | None      # NASLib's own score's rho with its val accuracy
    vs_naslib: float | None       # Spearman between our score and NASLib's score, same cells


def correlation_report(path: Path | str, dataset: str = "cifar10") -> dict[str, Any]:
    """Rows per proxy (see `ProxyRow`) plus the vote, from a score file written by `nas.proxies.batch`.
    `dataset` (cifar10, cifar100, imagenet16) picks the NB201 accuracy and the published values; the NASLib
    columns always use NASLib's CIFAR-10 sample (our scores are computed on a CIFAR-10 minibatch). The vote is
    None when one of its proxies was not computed (e.g. the synflow-only file)."""
    from nas.data import nb201_table, naslib_zc
    from nas.proxies import ProxyError
    from nas.proxies.batch import read_scores

    if dataset not in PUBLISHED_BY_DATASET:
        raise ProxyError(f"dataset '{dataset}' has no NB201 accuracy here; choose one of "
                         f"{', '.join(PUBLISHED_BY_DATASET)}")
    published = PUBLISHED_BY_DATASET[dataset]
    d = read_scores(Path(path))
    acc = nb201_table().accuracy(dataset)
    rand = np.array(["random" in s for s in d["source"]])
    theirs = naslib_zc("cifar10")
    pos = {s: k for k, s in enumerate(theirs["arch_str"])}
    ours_k = np.array([k for k, s in enumerate(d["arch_str"]) if s in pos], dtype=int)
    their_k = np.array([pos[d["arch_str"][k]] for k in ours_k], dtype=int)
    val = np.asarray(theirs["val_accuracy"])[their_k]
    rows = []
    for p in REPORTED:
        mine = d[p]
        rho = spearman(mine[rand], acc[d["index"][rand]])
        tname = NASLIB_NAME.get(p, p)
        t = np.asarray(theirs[tname])[their_k]
        ok = ~np.isnan(t)
        rows.append(ProxyRow(p, int(rand.sum()), rho, published.get(p), int(len(ours_k)),
                             spearman(mine[ours_k], val) if len(ours_k) else float("nan"),
                             spearman(t[ok], val[ok]) if len(ours_k) else None,
                             spearman(mine[ours_k][ok], t[ok]) if len(ours_k) else None))
    sub = {v: d[v][rand] for v in VOTERS}
    a = acc[d["index"][rand]]
    if any(np.isnan(x).all() for x in sub.values()):
        vote = None
    else:
        vote = {"n": int(rand.sum()), "concordance": vote_concordance(sub, a),
                "published_concordance": published["vote"], "rho_copeland": spearman(vote_scores(sub), a),
                "kendall_tau_copeland": float(kendalltau(vote_scores(sub), a).statistic)}
    if vote is not None and len(ours_k):
        vsub = {v: d[v][ours_k] for v in VOTERS}
        vote["naslib_cells_concordance"] = vote_concordance(vsub, val)
    return {"file": str(path), "dataset": dataset, "rows": [asdict(r) for r in rows], "vote": vote,
            "seconds_per_cell": float(np.nanmean(d["seconds"][d["seconds"] > 0])) if len(d["seconds"]) else None}


def format_report(rep: dict[str, Any]) -> str:
    f = lambda v: "    -" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:5.3f}"  # noqa: E731
    lines = [f"Spearman rho with NB201 {rep['dataset']} test accuracy ({rep['file']})",
             f"{'proxy':<10} {'n':>5} {'rho':>6} {'paper':>6} {'|d|':>6}   {'n_nl':>5} {'rho_nl':>6} "
             f"{'NASLib':>6} {'vs NL':>6}"]
    for r in rep["rows"]:
        diff = abs(abs(r["rho"]) - r["published"]) if r["published"] is not None else None
        lines.append(f"{r['proxy']:<10} {r['n']:>5} {f(r['rho']):>6} {f(r['published']):>6} {f(diff):>6}   "
                     f"{r['n_naslib']:>5} {f(r['rho_naslib_cells']):>6} {f(r['naslib_rho']):>6} {f(r['vs_naslib']):>6}")
    v = rep["vote"]
    if v is None:
        lines.append(f"vote ({'+'.join(VOTERS)}): not all three proxies are in the file")
    else:
        lines.append(f"vote ({'+'.join(VOTERS)}): pairwise concordance {v['concordance']:.3f} "
                     f"(paper {v['published_concordance']}), Copeland score rho {v['rho_copeland']:.3f}, n={v['n']}")
    lines.append("rho_nl: our score vs NASLib's CIFAR-10 val accuracy on NASLib's cells; NASLib: their score vs the same;"
                 " vs NL: Spearman between our and NASLib's scores")
    return "\n".join(lines)
