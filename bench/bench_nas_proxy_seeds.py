"""Seed sensitivity of the zero-cost proxies, to read the agreement with NASLib's independently computed scores.

    .venv/bin/python bench/bench_nas_proxy_seeds.py [--cells 60]

On random cells of NASLib's CIFAR-10 sample, recomputes the network proxies with another initialisation seed
(NB201 index + 100000) and another minibatch (`cifar10_batch(64, seed=1)`) and prints the Spearman rho between
the committed scores (seed A: index, batch seed 0) and the new ones (seed B), and of each with NASLib's scores.
A proxy whose agreement with NASLib is as low as its agreement with itself under a new seed differs from NASLib
only by seed noise. The last columns score the same cells (seed A) on the benchmark-convention network (conv
without bias, affine BN; `convention="benchmark"`) instead of the zero-cost reference model our scores use.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.stats import spearmanr  # noqa: E402

from nas.data import DATA_DIR, naslib_zc  # noqa: E402
from nas.proxies import cifar10_batch, nb201_proxies, score_network  # noqa: E402
from nas.proxies.batch import read_scores  # noqa: E402
from nas.proxies.report import NASLIB_NAME, rank_ready  # noqa: E402
from nas.spaces.nb201_torch import make_network  # noqa: E402

NAMES = ["grad_norm", "snip", "grasp", "fisher", "jacob_cov", "naswot"]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=60)
    p.add_argument("--seed", type=int, default=0, help="seed of the cell draw")
    a = p.parse_args()
    torch.set_num_threads(1)
    d = read_scores(DATA_DIR / "nb201_proxies.csv")
    theirs = naslib_zc("cifar10")
    pos = {s: k for k, s in enumerate(theirs["arch_str"])}
    cand = np.flatnonzero([s in pos for s in d["arch_str"]])
    ks = np.random.default_rng(a.seed).choice(cand, a.cells, replace=False)
    batch = cifar10_batch(64, seed=1)
    t0 = time.perf_counter()
    new = {n: [] for n in NAMES}
    bench = {n: [] for n in NAMES}
    batch_a = cifar10_batch(64, seed=0)
    for k in ks:
        i = int(d["index"][k])
        r = nb201_proxies(i, NAMES, seed=i + 100000, batch=batch)
        rb = score_network(make_network(i, seed=i, convention="benchmark"), batch_a, NAMES)
        for n in NAMES:
            new[n].append(r[n])
            bench[n].append(rb[n])
    rows = [pos[d["arch_str"][k]] for k in ks]
    val = np.asarray(theirs["val_accuracy"])[rows]
    print(f"{a.cells} NASLib CIFAR-10 cells (draw seed {a.seed}); Spearman rho between score sets, and of each "
          f"with NASLib's validation accuracy")
    print(f"{'proxy':<10} {'A vs B':>7} {'A vs NASLib':>12} {'B vs NASLib':>12} {'A-bench vs NASLib':>18}   "
          f"{'acc: A':>7} {'A-bench':>8} {'NASLib':>7}")
    for n in NAMES:
        sa, sb, sc = rank_ready(d[n][ks]), rank_ready(np.array(new[n])), rank_ready(np.array(bench[n]))
        t = rank_ready(np.asarray(theirs[NASLIB_NAME.get(n, n)])[rows])
        print(f"{n:<10} {spearmanr(sa, sb).statistic:7.3f} {spearmanr(sa, t).statistic:12.3f} "
              f"{spearmanr(sb, t).statistic:12.3f} {spearmanr(sc, t).statistic:18.3f}   "
              f"{spearmanr(sa, val).statistic:7.3f} {spearmanr(sc, val).statistic:8.3f} {spearmanr(t, val).statistic:7.3f}")
    print(f"{time.perf_counter() - t0:.0f} s wall for {a.cells} cells")
    return 0


if __name__ == "__main__":
    sys.exit(main())
