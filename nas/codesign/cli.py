"""`ovl search codesign ACTION`: the NB201 x overlay co-design space (docs/codesign.md).

    ovl search codesign sweep -o out/cd_sweep.npz --plot out/cd_front.png     # exhaustive, true fronts
    ovl search codesign run --sweep out/cd_sweep.npz --strategy combined --trials 1000 --store out/cd.db
    ovl search codesign benchmark --sweep out/cd_sweep.npz --store out/cd_bench.db --seeds 10 --plot out/hv.png
    ovl search codesign resnet --sweep out/cd_sweep.npz                        # paper-style comparison
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from compiler.errors import UserError


def configure(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = sub.add_parser("sweep", help="evaluate every legal (cell, configuration) pair; true Pareto fronts")
    s.add_argument("-o", "--output", required=True, help="sweep file to write (.npz): fronts and per-config costs")
    s.add_argument("--fits-only", action="store_true", help="only the configurations that fit the device")
    s.add_argument("--hw-space", default="default", help="configuration table: default or small (a sub-space)")
    s.add_argument("--cells", type=int, default=None, help="a seeded sample of N cells instead of all 15,625")
    s.add_argument("--cells-seed", type=int, default=0)
    s.add_argument("--limit", type=int, default=None, help="only the first N configurations (a sub-space)")
    s.add_argument("--plot", default=None, help="write the fronts figure (.png/.svg/.pdf)")
    s.add_argument("--json", action="store_true")
    s.add_argument("--quiet", action="store_true")

    r = sub.add_parser("run", help="one search strategy on the trial store")
    r.add_argument("--sweep", required=True, help="sweep file (bounds for normalisation, stored costs)")
    r.add_argument("--strategy", required=True, choices=_strategies())
    r.add_argument("--trials", type=int, default=1000)
    _constraint_args(r)
    from nas.runtime.options import add_runtime_arguments

    add_runtime_arguments(r, default_study="codesign")

    b = sub.add_parser("benchmark", help="every strategy over seeds: hypervolume against evaluated pairs")
    b.add_argument("--sweep", required=True)
    b.add_argument("--store", required=True, help="trial store for all the studies (resumed when present)")
    b.add_argument("--strategies", default=",".join(_strategies()))
    b.add_argument("--seeds", type=int, default=10)
    b.add_argument("--trials", type=int, default=1000)
    b.add_argument("--plot", default=None, help="hypervolume curves figure")
    b.add_argument("--fronts", default=None, help="fronts figure (exhaustive, each strategy's seed 0, ResNet)")
    b.add_argument("--json", action="store_true")
    b.add_argument("--quiet", action="store_true")
    _constraint_args(b)

    c = sub.add_parser("resnet", help="best pair vs the ResNet-style cell on its best overlay")
    c.add_argument("--sweep", required=True)
    c.add_argument("--json", action="store_true")


def _strategies() -> tuple[str, ...]:
    from nas.codesign.strategies import STRATEGIES

    return STRATEGIES


def _constraint_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("constraints and reward")
    g.add_argument("--latency-max", type=float, default=None, help="latency constraint in ms")
    g.add_argument("--area-max", type=float, default=None, help="area constraint in %% of the device")
    g.add_argument("--no-fits", action="store_true", help="drop the fits-the-device constraint")
    g.add_argument("--weights", default="1,1,1", help="reward weights accuracy,latency,area (default 1,1,1)")


def _constraints(args):
    from nas.codesign.joint import Constraints
    from nas.codesign.strategies import Weights

    if args.latency_max is not None and args.latency_max <= 0:
        raise UserError(f"--latency-max {args.latency_max}: give a positive number of milliseconds")
    if args.area_max is not None and not 0 < args.area_max <= 100:
        raise UserError(f"--area-max {args.area_max}: give a percentage in (0, 100]")
    try:
        w = [float(x) for x in args.weights.split(",")]
        if len(w) != 3:
            raise ValueError
    except ValueError:
        raise UserError(f"--weights {args.weights!r}: give three numbers, e.g. 1,0.5,0.5") from None
    return (Constraints(None if args.latency_max is None else args.latency_max / 1e3,
                        None if args.area_max is None else args.area_max / 100, not args.no_fits), Weights(*w))


def _space(quiet: bool, hw: str = "default", cells: int | None = None, cells_seed: int = 0):
    from nas.codesign.joint import JointSpace
    from nas.runtime.progress import progress

    bars = {}

    def prog(cls: str, k: int, n: int) -> None:
        if cls not in bars:
            bars[cls] = progress(None, total=n, desc=f"planning NB201 networks ({cls}, once, cached)",
                                 quiet=quiet, unit="net")
        bars[cls].update(1)

    try:
        return JointSpace.create(hw, cells=cells, cells_seed=cells_seed, progress=prog)
    finally:
        for bar in bars.values():
            bar.close()


def _load(args):
    from nas.codesign.sweep import attach, load_sweep

    sw = load_sweep(args.sweep)
    sp = sw.space
    js = _space(getattr(args, "quiet", False), sp.get("hw", "default"), sp.get("cells"), sp.get("cells_seed", 0))
    if attach(js, sw) == 0 and len(sw.costs):
        print("note: the sweep was made with other cell plans; costs are recomputed", file=sys.stderr)
    return js, sw


def run(args: argparse.Namespace) -> int:
    return {"sweep": _sweep, "run": _run, "benchmark": _benchmark, "resnet": _resnet}[args.action](args)


def _sweep(args) -> int:
    from nas.codesign.experiment import plot_fronts, resnet_comparison
    from nas.codesign.sweep import run_sweep, save_sweep
    from nas.runtime.plots import save_figure
    from nas.runtime.progress import progress

    js = _space(args.quiet, args.hw_space, args.cells, args.cells_seed)
    idx = None if args.limit is None else range(min(args.limit, len(js.hw)))
    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit {args.limit}: give 1 or more configurations")
    n = len(js.hw) if idx is None else len(idx)
    bar = progress(None, total=n, desc="sweep", quiet=args.quiet, unit="config")
    res = run_sweep(js, idx, fits_only=args.fits_only, progress=lambda k, n: bar.update(1))
    bar.close()
    save_sweep(res, args.output)
    summ = res.summary()
    summ["cell_plan_seconds"] = {c: t.plan_seconds for c, t in js.tables.items()}
    summ["space"] = {"configurations_raw": js.hw.raw_size, "configurations_legal": len(js.hw),
                     "illegal": js.hw.illegal, "fitting": int(js.hw.fits.sum()), "cells": js.n_cells}
    cmp = resnet_comparison(js, res.ppa_front) if res.fits.any() else None
    if args.plot:
        save_figure(plot_fronts(js, res, resnet=cmp), args.plot)
    if args.json:
        print(json.dumps(summ, indent=2))
        return 0
    s = summ["space"]
    print(f"joint space: {s['cells']:,} NB201 cells x {s['configurations_legal']:,} legal configurations "
          f"({s['configurations_raw']:,} combinations, {s['fitting']:,} fit the device)")
    if summ["excluded"]:
        print(f"{summ['excluded']:,} configurations are outside the co-design space (a group of the cached NB201 "
              "plans does not tile on them, so the compiler would plan differently) and were skipped")
    print(f"swept {summ['configurations']:,} configurations: {summ['pairs']:,} legal pairs "
          f"({summ['networks']:,} distinct network evaluations) in {summ['seconds']:.1f} s "
          f"({summ['cpu_seconds']:.1f} s CPU) = {summ['pairs_per_minute']:,.0f} pairs/min")
    print(f"true Pareto front (accuracy, latency, area; fitting): {summ['front_size']:,} pairs; without the fit "
          f"constraint {summ['front_size_unconstrained']:,}; accuracy vs perf/area front {summ['ppa_front_size']:,}")
    if cmp:
        _print_resnet(js, cmp)
    print(f"wrote {args.output}")
    return 0


def _print_resnet(js, cmp) -> None:
    from nas.codesign.experiment import resnet_comparison_lines

    print("\n".join(resnet_comparison_lines(js, cmp)))


def _run(args) -> int:
    from nas.codesign.experiment import run_strategy
    from nas.runtime import TrialStore
    from nas.runtime.options import RuntimeOptions

    if args.trials < 1:
        raise UserError(f"--trials {args.trials}: give 1 or more")
    cons, w = _constraints(args)
    opts = RuntimeOptions.from_args(args)
    if opts.executor_kind != "inprocess":
        raise UserError("ovl search codesign evaluates pairs from in-memory cost tables; use the in-process "
                        "executor (drop --executor/--workers)")
    js, sw = _load(args)
    with TrialStore(opts.store) as store:
        r = run_strategy(js, sw, args.strategy, opts.seed, args.trials, store, constraints=cons, weights=w,
                         resume=opts.resume, quiet=opts.quiet, study=opts.study)
    from nas.codesign.experiment import hypervolume, true_hypervolume

    m = r.feasible
    hv = hypervolume(sw.bounds, r.accuracy[m], r.latency[m], r.area[m]) / true_hypervolume(sw)
    print(f"{args.strategy} seed {opts.seed}: {len(m)} trials, {int(m.sum())} feasible, hypervolume "
          f"{hv:.3f} of the true front's; stored in {opts.store} study {opts.study}")
    return 0


def _benchmark(args) -> int:
    from nas.codesign.experiment import (format_hv_table, plot_fronts, plot_hv_curves, resnet_comparison,
                                         run_benchmark, strategy_vs_resnet)
    from nas.runtime.plots import save_figure
    from nas.runtime.progress import progress

    names = [s.strip() for s in args.strategies.split(",") if s.strip()]
    bad = [s for s in names if s not in _strategies()]
    if bad:
        raise UserError(f"--strategies {','.join(bad)}: choose from {', '.join(_strategies())}")
    if args.seeds < 1 or args.trials < 1:
        raise UserError("--seeds and --trials must be 1 or more")
    cons, w = _constraints(args)
    js, sw = _load(args)
    bar = progress(None, total=len(names) * args.seeds, desc="benchmark", quiet=args.quiet, unit="run")
    bench = run_benchmark(js, sw, args.store, strategies=names, seeds=range(args.seeds), trials=args.trials,
                          constraints=cons, weights=w, progress=lambda n, s: bar.update(1))
    bar.close()
    cmp = resnet_comparison(js, sw.ppa_front)
    vs = {name: strategy_vs_resnet(js, runs) for name, runs in bench["runs"].items()}
    if args.plot:
        save_figure(plot_hv_curves(bench), args.plot)
    if args.fronts:
        save_figure(plot_fronts(js, sw, bench["runs"], resnet=cmp), args.fronts)
    if args.json:
        print(json.dumps({"budgets": bench["budgets"], "hv_true": bench["hv_true"],
                          "curves": {k: v.tolist() for k, v in bench["curves"].items()},
                          "seconds": {k: [r.seconds for r in v] for k, v in bench["runs"].items()},
                          "resnet": cmp, "vs_resnet": vs}, indent=2))
        return 0
    print(f"hypervolume of the feasible pairs found / true front's (mean +- std over {args.seeds} seeds), "
          f"by evaluated pairs:")
    print(format_hv_table(bench))
    print()
    _print_resnet(js, cmp)
    print(f"found by each strategy within {args.trials} trials (mean over seeds): best perf/area gain over the "
          "ResNet baseline among pairs at least as accurate; seeds that found a pair better in both")
    for name, d in vs.items():
        g = np.array(d["ppa_gain_percent"], dtype=float)
        a = np.array(d["accuracy_gain_points"], dtype=float)
        print(f"  {name:9s} {np.nanmean(g):+7.1f}% perf/area (accuracy {np.nanmean(a):+.2f} points), "
              f"{sum(d['found_both_better'])}/{len(g)} seeds; "
              f"{np.mean([r.seconds for r in bench['runs'][name]]):.1f} s per run")
    return 0


def _resnet(args) -> int:
    from nas.codesign.experiment import resnet_comparison

    js, sw = _load(args)
    cmp = resnet_comparison(js, sw.ppa_front)
    if args.json:
        print(json.dumps(cmp, indent=2))
    else:
        _print_resnet(js, cmp)
    return 0
