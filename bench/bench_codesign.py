"""Co-design benchmark (issue 11): exactness of the latency model, the exhaustive sweep's throughput and true
fronts, hypervolume of every strategy against evaluated pairs over seeds, and the ResNet comparison.

    .venv/bin/python bench/bench_codesign.py                       # everything (the sweep takes minutes)
    .venv/bin/python bench/bench_codesign.py --limit 500 --seeds 3 --trials 300     # a quick look
    .venv/bin/python bench/bench_codesign.py --sweep out/codesign/sweep.npz --skip-sweep   # reuse a sweep
    .venv/bin/python bench/bench_codesign.py --stride 8 --seeds 0 --out out/cs_new --same-as out/cs_old/sweep.npz
                                    # every 8th configuration, checked against a sweep saved by other code

Writes out/codesign/{sweep.npz, bench.db} and the figures docs/img/codesign_hv.png, docs/img/codesign_fronts.png
(with --figures). Timings are wall and CPU seconds on this machine; the load average is printed with them.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np


def loadavg() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def sweep_differences(path_a, path_b) -> list[str]:
    """The arrays in which two saved sweeps differ (per-configuration feature costs, fronts, areas, fits; not the
    timings in `meta`): empty when the sweeps are the same bit for bit."""
    a, b = np.load(path_a), np.load(path_b)
    names = sorted((set(a.files) | set(b.files)) - {"meta"})
    return [k for k in names if k not in a.files or k not in b.files
            or not np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="out/codesign")
    ap.add_argument("--limit", type=int, default=None, help="sweep only the first N configurations")
    ap.add_argument("--stride", type=int, default=1, help="sweep every K-th configuration (a spread sub-space)")
    ap.add_argument("--same-as", default=None, metavar="SWEEP.npz",
                    help="after the sweep, check that every configuration's feature costs and the fronts equal "
                         "those of SWEEP.npz (a sweep of the same configurations saved by other code); exit 1 if not")
    ap.add_argument("--skip-sweep", action="store_true", help="load --sweep instead of sweeping")
    ap.add_argument("--sweep", default=None)
    ap.add_argument("--check-pairs", type=int, default=12, help="random pairs checked against estimate()")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--strategies", default="combined,phase,separate,random,nsga2")
    ap.add_argument("--figures", action="store_true", help="write docs/img/codesign_*.png")
    args = ap.parse_args()

    from nas.codesign.cellcost import build_network
    from nas.codesign.experiment import (format_hv_table, plot_fronts, plot_hv_curves,
                                         resnet_comparison, resnet_comparison_lines, run_benchmark,
                                         strategy_vs_resnet)
    from nas.codesign.joint import JointSpace
    from nas.codesign.sweep import attach, load_sweep, run_sweep, save_sweep
    from nas.runtime.plots import save_figure
    from nas.runtime.progress import progress
    from nas.spaces import nb201
    from simulator.estimate import estimate

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sweep_path = Path(args.sweep or out / "sweep.npz")
    print(f"load average at start: {loadavg()}")

    t0 = time.perf_counter()
    js = JointSpace.create("default")
    t_space = time.perf_counter() - t0
    print(f"\n## joint space\n{js.n_cells:,} cells x {len(js.hw):,} legal configurations ({js.hw.raw_size:,} "
          f"combinations; illegal: {js.hw.illegal}); {int(js.hw.fits.sum()):,} fit the Arria 10 GX 1150")
    for c, t in js.tables.items():
        print(f"  plan class {c:6s}: {len(t.codes):,} distinct pruned networks, {len(t.sig_keys)} group signatures, "
              f"{len(t.pairs):,} consecutive-group pairs, {t.n_features:,} features; planning them took "
              f"{t.plan_seconds:.0f} s once (cached)")
    print(f"  space load (cached plans, verified by re-planning 4 cells per class; configurations and areas): "
          f"{t_space:.1f} s")

    # exactness against the simulator's estimate
    rng = np.random.default_rng(0)
    errs = []
    t0 = time.perf_counter()
    while len(errs) < args.check_pairs:
        p = int(rng.integers(len(js.hw)))
        cell = int(rng.integers(nb201.SIZE))
        lat = js.latency_of(cell, p)
        if not np.isfinite(lat):
            continue
        ref = estimate(build_network(nb201.as_ops(cell)), js.hw.points[p].arch, memo=False).seconds
        errs.append(abs(lat / ref - 1))
    print(f"\n## exactness: {len(errs)} random legal pairs against simulator.estimate.estimate(): max relative "
          f"difference {max(errs):.1e} ({time.perf_counter() - t0:.1f} s, {len(errs)} compiler plans)")

    if args.skip_sweep:
        sw = load_sweep(sweep_path)
        attach(js, sw)
        print(f"\n## sweep (loaded {sweep_path})")
    else:
        idx = None if args.limit is None and args.stride == 1 else \
            range(0, min(args.limit or len(js.hw), len(js.hw)), args.stride)
        n = len(js.hw) if idx is None else len(idx)
        bar = progress(None, total=n, desc="sweep", unit="config")
        sw = run_sweep(js, idx, progress=lambda k, n: bar.update(1))
        bar.close()
        save_sweep(sw, sweep_path)
        attach(js, sw)
        print(f"\n## sweep (load average now {loadavg()})")
        if args.same_as:
            differ = sweep_differences(sweep_path, args.same_as)
            print(f"same feature costs and fronts as {args.same_as}: "
                  f"{'yes' if not differ else 'NO, differ in ' + ', '.join(differ)}")
            if differ:
                raise SystemExit(1)
    s = sw.summary()
    print("| quantity | value |\n|---|---|")
    rows = [("configurations swept", f"{s['configurations']:,} ({s['fitting']:,} fit the device); {s['excluded']:,} "
                                     "outside the co-design space (skipped)"),
            ("legal pairs evaluated", f"{s['pairs']:,}"),
            ("distinct (network, configuration) evaluations", f"{s['networks']:,}"),
            ("wall time", f"{s['seconds']:.1f} s (of which per-configuration costing {s['cost_seconds']:.1f} s)"),
            ("CPU time", f"{s['cpu_seconds']:.1f} s"),
            ("pairs per minute (wall)", f"{s['pairs_per_minute']:,.0f}"),
            ("pairs per CPU-minute", f"{60 * s['pairs'] / max(s['cpu_seconds'], 1e-9):,.0f}"),
            ("true front (accuracy, latency, area), fitting", f"{s['front_size']:,} pairs"),
            ("true front without the fit constraint", f"{s['front_size_unconstrained']:,} pairs"),
            ("accuracy vs perf/area front, fitting", f"{s['ppa_front_size']:,} pairs")]
    for k, v in rows:
        print(f"| {k} | {v} |")

    cmp = resnet_comparison(js, sw.ppa_front)
    print("\n## paper-style comparison (exhaustive)")
    print("\n".join(resnet_comparison_lines(js, cmp)))

    pf = sw.ppa_front
    order = np.argsort(-pf["accuracy"])
    base = cmp["resnet"]
    print("\nexhaustive accuracy / perf-per-area front (fitting configurations), against the ResNet baseline:")
    print("| cell | configuration | CIFAR-100 % | latency ms | area % | img/s per area | vs ResNet |")
    print("|---|---|---|---|---|---|---|")
    for i in order:
        c, p = int(pf["cell"][i]), int(pf["hw"][i])
        ppa = 1 / (pf["latency"][i] * pf["area"][i])
        print(f"| {nb201.to_str(nb201.as_ops(c))} | {js.hw.points[p].label()} | {pf['accuracy'][i]:.2f} | "
              f"{1e3 * pf['latency'][i]:.3f} | {100 * pf['area'][i]:.1f} | {ppa:,.0f} | "
              f"{pf['accuracy'][i] - base['accuracy']:+.2f} pts, {100 * (ppa / base['perf_per_area'] - 1):+.0f}% |")

    names = [x for x in args.strategies.split(",") if x]
    if names and args.seeds > 0:
        # one store per sweep (its normalisation bounds are part of every study's configuration): a new sweep
        # after a cost-model change starts fresh instead of refusing to resume the old studies
        tag = hashlib.sha256(json.dumps({k: list(map(float, v)) for k, v in sorted(sw.bounds.items())})
                             .encode()).hexdigest()[:8]
        store = out / f"bench_{args.trials}_{tag}.db"
        bar = progress(None, total=len(names) * args.seeds, desc="strategies", unit="run")
        t0 = time.perf_counter()
        bench = run_benchmark(js, sw, store, strategies=names, seeds=range(args.seeds), trials=args.trials,
                              progress=lambda n, s_: bar.update(1))
        bar.close()
        print(f"\n## strategies: hypervolume of the feasible pairs found / the true front's, mean +- std over "
              f"{args.seeds} seeds ({time.perf_counter() - t0:.0f} s; store {store}; load average {loadavg()})")
        print(format_hv_table(bench))
        print("\nbest perf/area gain over the ResNet baseline among found pairs at least as accurate (mean over seeds)")
        for name, runs in bench["runs"].items():
            d = strategy_vs_resnet(js, runs)
            g = np.array(d["ppa_gain_percent"], dtype=float)
            a = np.array(d["accuracy_gain_points"], dtype=float)
            print(f"  {name:9s} {np.nanmean(g):+7.1f}% (accuracy {np.nanmean(a):+.2f} points); better in both: "
                  f"{sum(d['found_both_better'])}/{len(g)} seeds; {np.mean([r.seconds for r in runs]):.1f} s/run")
        if args.figures:
            img = Path(__file__).resolve().parents[1] / "docs" / "img"
            save_figure(plot_hv_curves(bench), img / "codesign_hv.png")
            save_figure(plot_fronts(js, sw, bench["runs"], resnet=cmp), img / "codesign_fronts.png")
            print(f"wrote {img / 'codesign_hv.png'} and {img / 'codesign_fronts.png'}")
        (out / "bench.json").write_text(json.dumps(
            {"sweep": s, "exactness_max_rel": max(errs), "resnet": cmp,
             "hv": {k: v.tolist() for k, v in bench["curves"].items()}, "budgets": bench["budgets"]}, indent=1,
            default=float))
    print(f"\nload average at the end: {loadavg()}")


if __name__ == "__main__":
    main()
