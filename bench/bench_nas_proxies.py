"""Zero-cost proxy cost per NB201 cell: each proxy alone, and all of them with shared passes (issue 9 target:
all proxies for 1,000 cells in < 10 minutes on 2 CPU cores).

    .venv/bin/python bench/bench_nas_proxies.py [--cells 8] [--threads 1] [--against COMMIT] [--malloc default]
    .venv/bin/python bench/bench_nas_proxies.py --from-run 5:10 --only-all --against 78bafc0
    .venv/bin/python bench/bench_nas_proxies.py --check-skip

Wall and CPU seconds per cell (mean over random cells, batch of 64 CIFAR-10 images). CPU time is what a cell
costs on a core of its own; on a shared machine wall time is larger. The projection for 1,000 cells assumes
two single-threaded processes on two free cores (CPU s/cell x 1000 / 2).

`--against COMMIT` also runs the network proxies with `nas/proxies/zero_cost.py` as it was at COMMIT (read with
`git show`; that version's nb201 path: before aeb74c2 two seeded builds and PyTorch's pools, from aeb74c2 on one
build and that version's `fast_pooling`, and its `skip_zero_edges` where it has one), alternating old and new per
cell in this process, and reports the CPU-time ratio and whether every score is bit-identical.
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
from nas.proxies.zero_cost import fast_pooling, skip_zero_edges  # noqa: E402
from nas.spaces import nb201  # noqa: E402
from nas.spaces.nb201_torch import make_network  # noqa: E402


def timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def old_implementation(commit: str):
    """`nas/proxies/zero_cost.py` at `commit` as a module, and that version's nb201 scoring of the network proxies."""
    import importlib.util
    import subprocess
    import tempfile

    root = Path(__file__).resolve().parents[1]
    src = subprocess.run(["git", "show", f"{commit}:nas/proxies/zero_cost.py"], cwd=root, check=True,
                         capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "zero_cost_old.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("zero_cost_old", path)
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)

    if not hasattr(old, "fast_pooling"):  # before aeb74c2: two seeded builds, PyTorch's pools
        def score(i, batch):
            net = make_network(i, seed=i, convention="zc")
            syn = make_network(i, seed=i, convention="zc", bn=False)
            syn.load_state_dict(net.state_dict(), strict=False)
            return old.score_network(net, batch, NETWORK_PROXIES, synflow_net=syn)
        return score

    from nas.proxies import _bn_off_like

    def score_fast(i, batch):  # aeb74c2 and later: nb201_proxies with that version's pools (and skipping, if any)
        net = make_network(i, seed=i, convention="zc")
        syn = _bn_off_like(net, net.ops, 16, 5)
        old.fast_pooling(net)
        old.fast_pooling(syn)
        if hasattr(old, "skip_zero_edges"):
            old.skip_zero_edges(net)
        return old.score_network(net, batch, NETWORK_PROXIES, synflow_net=syn)
    return score_fast


def check_skip(n_cells: int) -> int:
    """Every pattern of none/skip/conv/pool edges (conv 1x1 and 3x3 build the same autograd graph) in a tiny
    network (C=2, `n_cells` cells per stage, 4 random 16x16 images): output, input Jacobian, weight and conv-output
    gradients and the Hessian-vector product with and without `skip_zero_edges`, bit for bit. Returns the number
    of patterns that differ."""
    import itertools

    from nas.proxies.zero_cost import proxy_tensors

    g = torch.Generator().manual_seed(0)
    x, t = torch.randn(4, 3, 16, 16, generator=g), torch.tensor([1, 7, 3, 3])
    checked, bad, c0 = 0, [], time.process_time()
    for ops in itertools.product((nb201.NONE, nb201.SKIP, nb201.CONV1, nb201.POOL), repeat=6):
        ref = make_network(ops, seed=1, C=2, N=n_cells, convention="zc")
        new = make_network(ops, seed=1, C=2, N=n_cells, convention="zc")
        fast_pooling(ref)
        fast_pooling(new)
        if not skip_zero_edges(new):
            continue
        checked += 1
        a, b = proxy_tensors(ref, x, t), proxy_tensors(new, x, t)
        if len(a) != len(b) or not all(torch.equal(u.nan_to_num(7.0), v.nan_to_num(7.0))
                                       and torch.equal(u.isnan(), v.isnan()) for u, v in zip(a, b)):
            bad.append(nb201.to_str(ops))
    skipped = sum(1 for ops in itertools.product(range(4), repeat=6) if 0 in ops) - checked
    print(f"--check-skip, {n_cells} cell(s) per stage: 4,096 edge patterns, {checked} with none edges left out "
          f"({skipped} with none edges all kept), {len(bad)} differ; {time.process_time() - c0:.0f} CPU s")
    for arch in bad[:10]:
        print("  differs:", arch)
    return len(bad)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=1, help="seed of the random cell draw (default 1)")
    p.add_argument("--against", metavar="COMMIT", help="also time (and compare with) zero_cost.py at COMMIT")
    p.add_argument("--malloc", choices=("tuned", "default"), default="tuned",
                   help="glibc allocator as the batch job sets it (nas.proxies.batch.tune_allocator) or untouched")
    p.add_argument("--check-skip", action="store_true",
                   help="instead of timing: check skip_zero_edges bit for bit on every none/skip/conv/pool edge "
                        "pattern in tiny networks of 1 and 2 cells per stage (about 3.5 CPU minutes)")
    p.add_argument("--from-run", metavar="OFFSET:STEP",
                   help="instead of a random draw: every STEP-th cell from the OFFSET-th of the 1,000-cell run's "
                        "selection (batch --sample 1000 --sample-seed 0), also compared with the committed "
                        "nas/data/nb201_proxies.csv rows")
    p.add_argument("--only-all", action="store_true", help="time only the full proxy sets (no 'alone' rows)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.check_skip:
        return 1 if sum(check_skip(n) for n in (1, 2)) else 0
    from nas.proxies.batch import tune_allocator

    tuned = a.malloc == "tuned" and tune_allocator()
    from nas.proxies import nb201_proxies

    batch = cifar10_batch(64, seed=0)
    committed = None
    if a.from_run:
        from nas.proxies.batch import read_scores, select_cells

        off, step = (int(v) for v in a.from_run.split(":"))
        cells = [i for i, _src in select_cells(1000, 0)][off::step]
        rows = read_scores(Path(__file__).resolve().parents[1] / "nas/data/nb201_proxies.csv")
        committed = {int(i): {n: float(rows[n][k]) for n in NETWORK_PROXIES} for k, i in enumerate(rows["index"])}
        a.seed = f"run selection {off}::{step}"
    else:
        cells = [int(i) for i in np.random.default_rng(a.seed).choice(nb201.SIZE, a.cells, replace=False)]
    old = old_implementation(a.against) if a.against else None
    score_network(make_network(cells[0], seed=0, convention="zc"), batch, ["grad_norm"])  # warm up
    what = ([] if a.only_all else (["build network"] + [f"{n} alone" for n in NETWORK_PROXIES]
                                    + ["params", "flops", "all, no fast pool/skip"])) + ["all, shared passes"]
    if old:
        what.append(f"all, as of {a.against}")
        old(cells[0], batch)
    acc = {w: np.zeros(2) for w in what}
    mismatch: dict[str, int] = {}

    def net_for(i, bn=True, fast=True):
        net = make_network(i, seed=i, convention="zc", bn=bn)
        if fast:
            fast_pooling(net)
            if bn:
                skip_zero_edges(net)
        return net
    load0 = os.getloadavg()[0]
    off_committed = 0
    for k, i in enumerate(cells):
        if not a.only_all:
            acc["build network"] += timed(lambda: make_network(i, seed=i, convention="zc"))
            for n in NETWORK_PROXIES:
                net = net_for(i, bn=n != "synflow")
                acc[f"{n} alone"] += timed(lambda: score_network(net, batch, [n], synflow_net=net))
            acc["params"] += timed(lambda: nb201_params(i))
            acc["flops"] += timed(lambda: nb201_flops(i))
            acc["all, no fast pool/skip"] += timed(
                lambda: score_network(net_for(i, fast=False), batch, NETWORK_PROXIES,
                                      synflow_net=net_for(i, bn=False, fast=False)))
        res = {}
        runs = [("new", lambda: res.__setitem__("new", nb201_proxies(i, batch=batch)))]
        if old:
            runs.append(("old", lambda: res.__setitem__("old", old(i, batch))))
            runs = runs if k % 2 == 0 else runs[::-1]  # alternate the order: neither gets the warmer cache
        for name, fn in runs:
            acc["all, shared passes" if name == "new" else f"all, as of {a.against}"] += timed(fn)
        if old:
            for n in NETWORK_PROXIES:
                x, y = res["old"][n], res["new"][n]
                if not (x == y or (np.isnan(x) and np.isnan(y))):
                    mismatch[n] = mismatch.get(n, 0) + 1
        if committed is not None:
            x = committed[i]
            off_committed += any(not (x[n] == res["new"][n] or (np.isnan(x[n]) and np.isnan(res["new"][n])))
                                 for n in NETWORK_PROXIES)
    print(f"{len(cells)} NB201 cells ({'seed ' if a.from_run is None else ''}{a.seed}), batch 64, "
          f"{a.threads} torch thread(s); "
          f"load average {load0:.1f} -> {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; allocator "
          f"{'tuned' if tuned else 'default'}")
    print(f"{'what':<24} {'wall s/cell':>12} {'CPU s/cell':>11}")
    for w in what:
        wall, cpu = acc[w] / len(cells)
        print(f"{w:<24} {wall:12.3f} {cpu:11.3f}")
    cpu_all = acc["all, shared passes"][1] / len(cells)
    if not a.only_all:
        sum_alone = sum(acc[f"{n} alone"][1] for n in NETWORK_PROXIES) / len(cells)
        print(f"sum of network proxies run alone: {sum_alone:.3f} CPU s/cell; shared passes: {cpu_all:.3f} "
              f"({sum_alone / cpu_all:.1f}x less)")
    if committed is not None:
        print(f"cells whose scores differ from the committed nas/data/nb201_proxies.csv rows: {off_committed}")
    if old:
        cpu_old = acc[f"all, as of {a.against}"][1] / len(cells)
        print(f"as of {a.against}: {cpu_old:.3f} CPU s/cell -> now {cpu_all:.3f} ({cpu_old / cpu_all:.2f}x less, "
              f"{1 - cpu_all / cpu_old:.1%} saved); "
              f"scores bit-identical on {len(cells)} cells: "
              + ("all proxies" if not mismatch else f"NO, cells differing per proxy {mismatch}"))
    print(f"projected 1,000 cells on 2 free cores (2 processes): {cpu_all * 1000 / 2 / 60:.1f} min (target 10)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
