"""Zero-cost proxy cost per NB201 cell: each proxy alone, and all of them with shared passes (issue 9 target:
all proxies for 1,000 cells in < 10 minutes on 2 CPU cores).

    .venv/bin/python bench/bench_nas_proxies.py [--cells 8] [--threads 1]

Wall and CPU seconds per cell (mean over random cells, batch of 64 CIFAR-10 images). CPU time is what a cell
costs on a core of its own; on a shared machine wall time is larger. The projection for 1,000 cells assumes
two single-threaded processes on two free cores (CPU s/cell x 1000 / 2).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from nas.proxies import NETWORK_PROXIES, cifar10_batch, nb201_flops, nb201_params, score_network  # noqa: E402
from nas.spaces import nb201  # noqa: E402
from nas.spaces.nb201_torch import make_network  # noqa: E402


def timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    batch = cifar10_batch(64, seed=0)
    cells = [int(i) for i in np.random.default_rng(1).choice(nb201.SIZE, a.cells, replace=False)]
    score_network(make_network(cells[0], seed=0, convention="zc"), batch, ["grad_norm"])  # warm up
    what = ["build network"] + [f"{n} alone" for n in NETWORK_PROXIES] + ["params", "flops", "all, shared passes"]
    acc = {w: np.zeros(2) for w in what}
    for i in cells:
        acc["build network"] += timed(lambda: make_network(i, seed=i, convention="zc"))
        for n in NETWORK_PROXIES:
            net = make_network(i, seed=i, convention="zc", bn=n != "synflow")
            acc[f"{n} alone"] += timed(lambda: score_network(net, batch, [n], synflow_net=net))
        acc["params"] += timed(lambda: nb201_params(i))
        acc["flops"] += timed(lambda: nb201_flops(i))

        def everything():
            from nas.proxies import nb201_proxies
            nb201_proxies(i, batch=batch)
        acc["all, shared passes"] += timed(everything)
    print(f"{len(cells)} random NB201 cells, batch 64, {a.threads} torch thread(s); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'what':<24} {'wall s/cell':>12} {'CPU s/cell':>11}")
    for w in what:
        wall, cpu = acc[w] / len(cells)
        print(f"{w:<24} {wall:12.3f} {cpu:11.3f}")
    cpu_all = acc["all, shared passes"][1] / len(cells)
    sum_alone = sum(acc[f"{n} alone"][1] for n in NETWORK_PROXIES) / len(cells)
    print(f"sum of network proxies run alone: {sum_alone:.3f} CPU s/cell; shared passes: {cpu_all:.3f} "
          f"({sum_alone / cpu_all:.1f}x less)")
    print(f"projected 1,000 cells on 2 free cores (2 processes): {cpu_all * 1000 / 2 / 60:.1f} min (target 10)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
