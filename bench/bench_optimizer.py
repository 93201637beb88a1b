"""Architecture optimiser benchmark (issue 5 item 4): exactness and speed of the plan-sharing estimate, and the
overlay the optimiser tailors to GoogLeNet on the Arria 10 GX 1150, next to the published ~900 fps.

    .venv/bin/python bench/bench_optimizer.py                   # 120 s search (seed 0) and the tables
    .venv/bin/python bench/bench_optimizer.py --time-limit 30   # shorter
    .venv/bin/python bench/bench_optimizer.py --baseline 16472d0 --candidates 1500   # old tile costs, same run
    .venv/bin/python bench/bench_optimizer.py --whole-buffer --skip-search   # what the whole-buffer pass gains

Writes out/optimizer/googlenet_opt.toml. Wall and CPU seconds are both printed with the load average: on the
shared 2-core machine the search gets a fraction of one core.

`--baseline REV` also runs fixed-length searches (`--candidates`, seed 0) round-robin with today's code: with the
per-tile cost code of simulator/estimate.py at git revision REV (`_tile_costs`, `_config_words`, `_arch_key`;
the rest of the estimate is today's) and plans keyed by precision name, as before; and with only those tile
costs, which must visit the same candidates and give the same fps and front as today's (checked): the speed-up
on the same load, and the exactness of the new code.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def loadavg() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def timed(fn, *a, **k):
    t0, c0 = time.perf_counter(), time.process_time()
    r = fn(*a, **k)
    return r, time.perf_counter() - t0, time.process_time() - c0


def cycle_model_fps(graph, arch) -> float:
    from compiler.compile import compile_model
    from simulator.report import build_report
    from simulator.timing import simulate_timing

    prog = compile_model(graph, arch, opt_level=2).program
    rep = build_report(prog, simulate_timing(prog, events=False), network=graph.name, batch=1, energy=False)
    return rep.totals()["throughput_per_s"]


BASELINE_NAMES = ("_tile_costs", "_config_words", "_arch_key")


def load_baseline(rev: str):
    """simulator/estimate.py at git revision `rev`, as a separate module (its per-tile cost functions are swapped
    into simulator.estimate by `swapped`)."""
    import importlib.util
    import subprocess
    import sys
    import tempfile

    src = subprocess.run(["git", "show", f"{rev}:simulator/estimate.py"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "estimate_baseline.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("simulator._estimate_baseline", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


class swapped:
    """Context: simulator.estimate uses the baseline module's per-tile cost functions (memos cleared around);
    with `by_name`, the optimiser's plans are also keyed by the precision's name (the planning key before it
    read only the feature width and the int8 flag)."""

    def __init__(self, baseline, by_name: bool = False):
        self.baseline, self.by_name = baseline, by_name

    def __enter__(self):
        import hw_models.optimizer as O
        import simulator.estimate as E

        self.saved = {n: getattr(E, n) for n in BASELINE_NAMES}
        self.key = O.planning_key
        for n in BASELINE_NAMES:
            setattr(E, n, getattr(self.baseline, n))
        if self.by_name:
            O.planning_key = lambda arch, _key=self.key: _key(arch) + arch.precision
        E.clear_memo()

    def __exit__(self, *exc):
        import hw_models.optimizer as O
        import simulator.estimate as E

        for n, f in self.saved.items():
            setattr(E, n, f)
        O.planning_key = self.key
        E.clear_memo()


def compare_baseline(rev: str, candidates: int, base, g) -> None:
    """Fixed-length searches (same seed) with the baseline's code, with only its tile costs, and with today's,
    round-robin (same load). Today's and the tile-costs-only run visit the same candidates: their results must be
    equal. The full baseline also keys plans by precision name, so its search takes other steps."""
    from hw_models.optimizer import optimize
    from simulator.estimate import clear_memo

    old = load_baseline(rev)
    arms = {"baseline (tile costs and plan key)": dict(by_name=True), "baseline tile costs only": dict(),
            "today": None}
    runs: dict[str, list] = {k: [] for k in arms}
    results = {}
    for rep in range(2):
        for label, kw in arms.items():
            clear_memo()
            call = lambda: timed(optimize, [g], base, time_limit=1e9, max_candidates=candidates, seed=0,  # noqa
                                 precisions=("bfp16", "bfp11"))
            if kw is None:
                res, wall, cpu = call()
            else:
                with swapped(old, **kw):
                    res, wall, cpu = call()
            runs[label].append((wall, cpu, loadavg(), res.plans, res.evaluated))
            results[label] = res
    a, b = results["baseline tile costs only"], results["today"]
    same = ([e.genome for e in a.front] == [e.genome for e in b.front] and a.best.genome == b.best.genome
            and max(abs(x / y - 1) for e, f in zip(a.front, b.front) for x, y in zip(e.fps, f.fps)) <= 1e-12
            and a.evaluated == b.evaluated and a.plans == b.plans)
    print(f"\n## Code at {rev} (baseline) vs today, {candidates:,} GoogLeNet candidates (seed 0), runs round-robin")
    print(f"baseline tile costs only vs today: same candidates estimated ({b.evaluated:,}), plans ({b.plans}), best "
          f"and front (fps within 1e-12): {'yes' if same else 'NO'}")
    print("| code | run | wall s | CPU s | candidates/min wall | per CPU-minute | plans | estimated | load average |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, rs in runs.items():
        for i, (wall, cpu, la, plans, n_est) in enumerate(rs):
            print(f"| {label} | {i + 1} | {wall:.1f} | {cpu:.1f} | {60 * candidates / wall:,.0f} | "
                  f"{60 * candidates / cpu:,.0f} | {plans} | {n_est:,} | {la} |")
    if not same:
        raise SystemExit("baseline tile costs and today's disagree")


def whole_buffer_table(random_candidates: int = 60) -> None:
    """The `whole-buffer` pass at -O2: fast-estimate cycles without and with it on the zoo (a10_generic,
    dla_alexnet_a10), and how often and how much it changes random candidates of the optimiser's space."""
    from compiler.errors import UserError
    from compiler.lowering.lower import plan_tiles
    from compiler.lowering.units import build_schedule
    from compiler.passes import PassContext, run_pipeline
    from compiler.passes.plan import get_plan
    from hw_models.arch import load_arch
    from hw_models.optimizer import ArchSpace, Evaluator
    from simulator.estimate import estimate_planned
    from workloads import zoo

    def cycles(g, a, enable):
        g2, _ = run_pipeline(g, PassContext(a, opt_level=2, verify=False, disable=("calibrate",), enable=enable))
        plan = get_plan(g2)
        sched = build_schedule(g2, plan, a, plan.memory.aliased_concats if plan.memory is not None else frozenset())
        geos, tiles = plan_tiles(g2, plan, a, sched)
        return estimate_planned((g2, plan, sched, geos, tiles), a).cycles, tiles

    print("\n## whole-buffer at -O2 (fast estimate)\n| architecture | network | cycles (off) | cycles (on) | gain | "
          "groups changed |\n|---|---|---|---|---|---|")
    for an in ("a10_generic", "dla_alexnet_a10"):
        a = load_arch(an)
        for name in zoo.names():
            g = zoo.build_ir(name)
            (c0, t0), (c1, t1) = cycles(g, a, ()), cycles(g, a, ("whole-buffer",))
            changed = sum(1 for k in t0 if t0[k] is not t1.get(k))
            print(f"| {an} | {name} | {c0:,.0f} | {c1:,.0f} | {100 * (c0 / c1 - 1):+.2f}% | {changed} |")
    rng = np.random.default_rng(0)
    for name in ("googlenet", "resnet18"):
        g = zoo.build_ir(name)
        space = ArchSpace.default(load_arch("a10_generic"), precisions=("bfp16", "bfp11"))
        ev = Evaluator(space, [g])
        gains: list[float] = []
        while len(gains) < random_candidates:
            a = ev.build(space.random(rng))
            if not hasattr(a, "pe_array"):
                continue
            try:
                gains.append(cycles(g, a, ())[0] / cycles(g, a, ("whole-buffer",))[0] - 1)
            except UserError:          # a layer does not tile on this candidate (CapacityError)
                continue
        x = np.array(gains)
        print(f"{name}, {len(x)} random candidates of the optimiser's space: changed on {int(np.sum(x > 1e-12))}, "
              f"mean gain {100 * x.mean():.2f}%, max {100 * x.max():.2f}%, min {100 * x.min():.2f}%")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=120.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="out/optimizer")
    ap.add_argument("--baseline", default=None, metavar="REV",
                    help="also compare with the per-tile cost code of simulator/estimate.py at this git revision")
    ap.add_argument("--candidates", type=int, default=1500, help="length of the --baseline searches")
    ap.add_argument("--skip-search", action="store_true", help="only the exactness/cost tables (and --baseline)")
    ap.add_argument("--whole-buffer", action="store_true",
                    help="also measure the whole-buffer pass at -O2 (zoo x 2 architectures, random candidates)")
    args = ap.parse_args()

    from hw_models.arch import load_arch
    from hw_models.area import estimate_area
    from hw_models.optimizer import (ArchSpace, Evaluator, NetworkCost, arch_to_toml, front_table, optimize,
                                     planning_key, summary)
    from hw_models.area.report import _estimate
    from simulator.estimate import estimate
    from workloads.zoo import build_ir

    print(f"load average at start: {loadavg()}")
    g = build_ir("googlenet")
    base = load_arch("a10_generic").with_changes(clock_mhz=303.0, **{"ddr.bandwidth_gbs": 25.6})
    space = ArchSpace.default(base, precisions=("bfp16", "bfp11"))
    ev = Evaluator(space, [g])
    rng = np.random.default_rng(1)

    # exactness and per-candidate cost
    cost = NetworkCost(g)
    archs = []
    while len(archs) < 10:
        a = ev.build(space.mutate(space.nearest(base), rng, n=3))
        if hasattr(a, "pe_array"):
            archs.append(a)
    diffs = [abs(cost.cycles(a) / estimate(g, a, memo=False).cycles - 1) for a in archs]
    print(f"\n## NetworkCost vs simulator.estimate.estimate() on GoogLeNet, 10 random candidates: max relative "
          f"difference {max(diffs):.1e}")
    fresh = []
    while len(fresh) < 12:
        a = ev.build(space.random(rng))
        if hasattr(a, "pe_array") and planning_key(a) not in cost._plans:
            fresh.append(a)
    _, w_plan, c_plan = timed(lambda: [cost.cycles(a) for a in fresh])
    shared = [archs[0].with_changes(**{"pe_array.lanes": l, "aux.pool.k_vector": p, "aux.eltwise.k_vector": e})
              for l in (1, 2, 4) for p in (4, 8, 16) for e in (4, 8)]
    _, w_sh, c_sh = timed(lambda: [cost.cycles(a) for a in shared])
    _estimate.cache_clear()
    ar = [ev.build(space.random(rng)) for _ in range(300)]
    ar = [a for a in ar if hasattr(a, "pe_array")]
    _, w_area, c_area = timed(lambda: [estimate_area(a) for a in ar])
    print("| GoogLeNet, per candidate | wall ms | CPU ms |\n|---|---|---|")
    print(f"| new compiler plan + estimate | {1e3 * w_plan / len(fresh):.1f} | {1e3 * c_plan / len(fresh):.1f} |")
    print(f"| estimate sharing a plan (lanes, aux widths) | {1e3 * w_sh / len(shared):.1f} | "
          f"{1e3 * c_sh / len(shared):.1f} |")
    print(f"| area estimate (fresh) | {1e3 * w_area / len(ar):.2f} | {1e3 * c_area / len(ar):.2f} |")

    if args.baseline:
        compare_baseline(args.baseline, args.candidates, base, g)
    if args.whole_buffer:
        whole_buffer_table()
    if args.skip_search:
        return

    # the search
    res, wall, cpu = timed(optimize, [g], base, objective="throughput", time_limit=args.time_limit, seed=args.seed,
                           precisions=("bfp16", "bfp11"))
    print(f"\n## ovl arch optimize --model googlenet --device arria10_gx1150 --clock-mhz 303 --ddr-gbs 25.6 "
          f"--precision bfp16,bfp11 --time-limit {args.time_limit:g} --seed {args.seed} (load average {loadavg()})")
    print(summary(res))
    print("\nPareto front:")
    print(front_table(res))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if res.best is not None:
        best = res.best.arch.model_copy(update={"name": "googlenet_opt"})
        (out / "googlenet_opt.toml").write_text(arch_to_toml(best, ["bench/bench_optimizer.py result"]))
        rows = [("published (FPL'18, tailored overlay, batch and precision unknown)", 900.0, None, None)]
        for label, a in (("a10_generic at 303 MHz, 25.6 GB/s (the search's base)", base),
                         ("bench/archs/dla_googlenet_a10.toml (hand-tailored)",
                          load_arch(ROOT / "bench" / "archs" / "dla_googlenet_a10.toml")),
                         ("optimiser's best", best)):
            rows.append((label, 1 / estimate(g, a).seconds, cycle_model_fps(g, a), estimate_area(a)))
        print("\n| GoogLeNet on Arria 10 GX 1150 | fps (fast estimate) | fps (cycle model) | DSPs | M20Ks | ALMs |")
        print("|---|---|---|---|---|---|")
        for label, fe, cm, area in rows:
            if area is None:
                print(f"| {label} | ~{fe:,.0f} | | | | |")
            else:
                t = area.total
                print(f"| {label} | {fe:,.1f} | {cm:,.1f} | {t.dsps:,} | {t.mem_blocks:,} | {t.alms:,} |")
    print(f"\nsearch: {res.considered:,} candidates ({res.evaluated:,} estimated) in {wall:.1f} s wall, {cpu:.1f} s "
          f"CPU: {60 * res.considered / wall:,.0f} candidates/min and {60 * res.evaluated / wall:,.0f} estimated/min "
          f"wall; {60 * res.considered / cpu:,.0f} and {60 * res.evaluated / cpu:,.0f} per CPU-minute")
    print(f"load average at the end: {loadavg()}")


if __name__ == "__main__":
    main()
