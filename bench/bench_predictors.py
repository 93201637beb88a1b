"""BRP-NAS predictors and search (issue 10): latency predictors on 900 cells tested on the rest, the GCN's
training time, and BRP-NAS vs random search vs regularised evolution at a budget of 100 trained models.

    .venv/bin/python bench/bench_predictors.py --part latency --sources latbench overlay fpga
    .venv/bin/python bench/bench_predictors.py --part search --seeds 10
    .venv/bin/python bench/bench_predictors.py --part constrained --latency-table overlay --latency-max 0.5
    .venv/bin/python bench/bench_predictors.py            # latency (latbench, overlay, fpga) and search

Every training run and every search is a study in the trial store (`--store`, default out/bench_predictors.db),
so an interrupted benchmark continues where it stopped (`--resume` is implied). Latency metrics: fraction of the
test cells whose truth lies within +-5 / +-10 % of the prediction (BRP-NAS's definition), the same bound relative
to the truth, Spearman, MAPE. Times: wall seconds and CPU seconds of the process (1 torch thread by default); on
this shared machine wall time depends on the load, printed with the results.
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


def latency_part(a, store) -> None:
    from nas.predictors.experiment import format_latency_rows, latency_study
    from nas.predictors.latency import DEFAULT

    for source in a.sources:
        name = f"latency-{Path(source).stem}"
        t0 = time.perf_counter()
        rows = latency_study(store, name, source=source, kinds=a.kinds, seeds=range(a.latency_seeds),
                             config=DEFAULT, resume=True, quiet=True)
        print(format_latency_rows(rows, f"\n=== latency predictors on '{source}': 900 training + 100 validation "
                                        f"cells, tested on the rest ({time.perf_counter() - t0:.0f} s, load "
                                        f"{os.getloadavg()[0]:.1f}) ==="))
        gcn = [r for r in rows if r["kind"] == "gcn" and "error" not in r]
        if gcn:
            print(f"GCN training on 900 cells: {np.mean([r['seconds'] for r in gcn]):.1f} s wall, "
                  f"{np.mean([r['cpu_seconds'] for r in gcn]):.1f} s CPU ({gcn[0]['epochs']} epochs of "
                  f"batch {DEFAULT.batch_size}; target < 120 s)")


def search_part(a, store) -> None:
    from nas.predictors.brp import BRPSpec, run_brp_searches
    from nas.strategies.run import SearchSpec, curve_rows, format_curve_table, run_searches

    seeds = range(a.seed, a.seed + a.seeds)
    curves, times = {}, {}
    for label, run in (
            ("rs", lambda: run_searches(SearchSpec(strategy="rs", budget=a.budget), store, seeds, prefix="rs",
                                        resume=True)),
            ("ae", lambda: run_searches(SearchSpec(strategy="ae", budget=a.budget), store, seeds, prefix="ae",
                                        resume=True)),
            ("brp-nas", lambda: run_brp_searches(BRPSpec(budget=a.budget, steps=a.steps), store, seeds,
                                                 prefix="brp-nas", resume=True))):
        t0, c0 = time.perf_counter(), time.process_time()
        curves[label] = list(run().values())
        times[label] = (time.perf_counter() - t0, time.process_time() - c0)
    budgets = [n for n in (10, 20, 50, 100, 200) if n < a.budget] + [a.budget]
    print(f"\n=== NB201 CIFAR-10: best test accuracy after N trained models, mean ± std over {a.seeds} seeds "
          f"(load {os.getloadavg()[0]:.1f}) ===")
    print(format_curve_table(curves, budgets, optimum=94.37333))
    for r in curve_rows(curves, [a.budget]):
        hits = sum(1 for run in curves[r["search"]] if max(run[:a.budget]) >= 94.373)
        print(f"{r['search']:<8} @{a.budget}: {r['mean']:.2f} ± {r['std']:.2f} (min {r['min']:.2f}, max "
              f"{r['max']:.2f}); optimum found in {hits}/{r['seeds']} seeds; {times[r['search']][0]:.0f} s wall, "
              f"{times[r['search']][1]:.0f} s CPU for all seeds")


def constrained_part(a, store) -> None:
    """The three searches under a latency constraint judged by a latency table (e.g. the overlay's)."""
    from nas.data import nb201_table
    from nas.predictors.brp import BRPSpec, run_brp_searches
    from nas.strategies.run import SearchSpec, curve_rows, format_curve_table, run_searches
    from nas.predictors.latency import search_latency as latency_table

    seeds = range(a.seed, a.seed + a.constrained_seeds)
    src, lim = a.latency_table, a.latency_max
    lat = latency_table(src)
    feasible = lat <= lim
    acc = nb201_table().cifar10
    optimum = float(acc[feasible].max())
    tag = f"{Path(src).stem}-{lim:g}"
    curves = {
        "rs": list(run_searches(SearchSpec(strategy="rs", budget=a.budget, latency=src, latency_max=lim), store,
                                seeds, prefix=f"rs-{tag}", resume=True).values()),
        "ae": list(run_searches(SearchSpec(strategy="ae", budget=a.budget, latency=src, latency_max=lim), store,
                                seeds, prefix=f"ae-{tag}", resume=True).values()),
        "brp-nas": list(run_brp_searches(BRPSpec(budget=a.budget, steps=a.steps, latency=src, latency_max=lim),
                                         store, seeds, prefix=f"brp-nas-{tag}", resume=True).values())}
    print(f"\n=== latency <= {lim:g} ms on '{src}' ({int(feasible.sum())} of {len(lat)} cells feasible, best feasible "
          f"C10 accuracy {optimum:.2f}; unconstrained optimum {acc.max():.2f}), {a.constrained_seeds} seeds ===")
    budgets = [n for n in (10, 20, 50) if n < a.budget] + [a.budget]
    print(format_curve_table(curves, budgets, optimum=optimum))
    for r in curve_rows(curves, [a.budget]):
        hits = sum(1 for run in curves[r["search"]] if max(run[:a.budget]) >= optimum - 1e-9)
        print(f"{r['search']:<8} @{a.budget}: {r['mean']:.2f} ± {r['std']:.2f}; feasible optimum found in "
              f"{hits}/{r['seeds']} seeds")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=("latency", "search", "constrained", "all"), default="all")
    p.add_argument("--sources", nargs="+", default=["latbench", "overlay", "fpga"],
                   help="latency sources (latbench, overlay, device names, or an `ovl nas latency-table` CSV)")
    p.add_argument("--kinds", nargs="+", default=["gcn", "mlp", "linear", "linear-live"])
    p.add_argument("--latency-seeds", type=int, default=1, help="splits per source and kind")
    p.add_argument("--seeds", type=int, default=10, help="search seeds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--budget", type=int, default=100)
    p.add_argument("--steps", type=int, default=50, help="BRP-NAS predictor steps per iteration unit")
    p.add_argument("--latency-table", default=None, metavar="SOURCE",
                   help="constrained part: latency source judging the constraint (overlay, a device, or a CSV)")
    p.add_argument("--latency-max", type=float, default=None, metavar="MS", help="constrained part: the limit")
    p.add_argument("--constrained-seeds", type=int, default=5)
    p.add_argument("--store", default="out/bench_predictors.db")
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    Path(a.store).parent.mkdir(parents=True, exist_ok=True)
    if a.part in ("latency", "all"):
        latency_part(a, a.store)
    if a.part in ("search", "all"):
        search_part(a, a.store)
    if a.part in ("constrained", "all") and a.latency_table and a.latency_max:
        constrained_part(a, a.store)
    return 0


if __name__ == "__main__":
    sys.exit(main())
