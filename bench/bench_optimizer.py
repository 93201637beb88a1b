"""Architecture optimiser benchmark (issue 5 item 4): exactness and speed of the plan-sharing estimate, and the
overlay the optimiser tailors to GoogLeNet on the Arria 10 GX 1150, next to the published ~900 fps.

    .venv/bin/python bench/bench_optimizer.py                   # 120 s search (seed 0) and the tables
    .venv/bin/python bench/bench_optimizer.py --time-limit 30 --workers 2   # shorter, two worker processes
    .venv/bin/python bench/bench_optimizer.py --baseline b669901 --candidates 4000 --workers 2 --skip-search
    .venv/bin/python bench/bench_optimizer.py --baseline b669901 --network sr --candidates 600 --reps 1 --skip-search
    .venv/bin/python bench/bench_optimizer.py --whole-buffer --skip-search   # what the whole-buffer pass gains
    .venv/bin/python bench/bench_optimizer.py --batch 16 --max-candidates 10000 --time-limit 1800 --workers 2
                                            # tailor for throughput at batch 16 (googlenet_opt_b16.toml)

Writes out/optimizer/googlenet_opt.toml (googlenet_opt_bN.toml with --batch N). Wall and CPU seconds are both
printed with the load average: on the shared 2-core machine the search gets a fraction of one core.

`--baseline REV` also runs fixed-length searches (`--candidates`, seed 0), each in a fresh process, round-robin:
with hw_models/optimizer.py and simulator/estimate.py at git revision REV (the rest of the code as committed at
HEAD), with today's code, and with today's code and `--workers` processes. All must visit the same candidates and
give the same best architecture, fps and front (checked); the table gives wall and CPU time (the search's process
plus its workers), candidates per wall- and CPU-minute, compiler plans and the search process's peak RSS.
`--network sr` runs the SR tailoring of bench_sr.py --overlay (four networks at 360p->720p) instead of GoogLeNet.
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

    prog = compile_model(graph, arch, opt_level=2).program   # records the graph's batch (program_batch)
    rep = build_report(prog, simulate_timing(prog, events=False), network=graph.name, energy=False)
    return rep.totals()["throughput_per_s"]


BASELINE_FILES = ("hw_models/optimizer.py", "simulator/estimate.py")


def baseline_tree(rev: str) -> Path:
    """A copy of the committed tree (HEAD) with the optimiser's and the estimate's files at git revision `rev`:
    the code before this work, on today's compiler."""
    import subprocess
    import tarfile
    import tempfile

    tree = Path(tempfile.mkdtemp(prefix="ovl-baseline-"))
    tar = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=__import__("io").BytesIO(tar)) as t:
        t.extractall(tree, filter="data")
    for f in BASELINE_FILES:
        src = subprocess.run(["git", "show", f"{rev}:{f}"], cwd=ROOT, check=True, capture_output=True).stdout
        (tree / f).write_bytes(src)
    return tree


def run_driver(tree: Path | None, network: str, candidates: int, workers: int) -> dict:
    """One fixed-length search (seed 0) in a fresh process, on the code in `tree` (None: this checkout)."""
    import json
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=str(tree or ROOT))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--driver", network, str(candidates), str(workers)]
    r = subprocess.run(cmd, cwd=tree or ROOT, env=env, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"driver failed ({' '.join(cmd)}):\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def driver(network: str, candidates: int, workers: int) -> None:
    """Body of `--driver`: the search, then one JSON line (times, result, peak RSS)."""
    import json
    import resource

    from hw_models.arch import load_arch
    from hw_models.optimizer import optimize

    if network == "sr":
        from workloads.video_sr.overlay import sr_graphs

        graphs, base, kw = sr_graphs("360p->720p"), load_arch("a10_generic"), {}
    else:
        from workloads.zoo import build_ir

        graphs = [build_ir(network)]
        base = load_arch("a10_generic").with_changes(clock_mhz=303.0, **{"ddr.bandwidth_gbs": 25.6})
        kw = dict(precisions=("bfp16", "bfp11"))
    if workers > 1:
        kw["workers"] = workers
    la0 = os.getloadavg()[0]
    res, wall, cpu = timed(optimize, graphs, base, time_limit=1e9, max_candidates=candidates, seed=0, **kw)
    print(json.dumps({"wall": wall, "cpu": cpu, "worker_cpu": getattr(res, "worker_cpu_seconds", 0.0),
                      "load": [la0, os.getloadavg()[0]], "considered": res.considered, "evaluated": res.evaluated,
                      "plans": res.plans, "best": [list(res.best.genome), list(res.best.fps)],
                      "front": [[list(e.genome), list(e.fps)] for e in res.front],
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def compare_baseline(rev: str, candidates: int, workers: int, reps: int = 2, network: str = "googlenet") -> None:
    """Fixed-length searches (seed 0) with the optimiser and estimate at `rev` and with today's, serially and with
    `workers` worker processes, each in a fresh process, round-robin (same load): speed, peak RSS, and that all
    visit the same candidates with the same best architecture, fps and front (checked)."""
    tree = baseline_tree(rev)
    arms = [(f"{rev} (before)", tree, 1), ("today", None, 1)] + ([(f"today, --workers {workers}", None, workers)]
                                                                 if workers > 1 else [])
    rows = []
    for rep in range(reps):
        for label, t, w in arms:
            rows.append((label, rep + 1, run_driver(t, network, candidates, w)))
    ref = rows[0][2]
    same = all(r["best"] == ref["best"] and r["front"] == ref["front"] and r["evaluated"] == ref["evaluated"]
               for _, _, r in rows)
    print(f"\n## {rev} vs today, {candidates:,} {network} candidates (seed 0), fresh process per run, round-robin")
    print(f"same candidates estimated ({ref['evaluated']:,}), best ({ref['best'][1][0]:.4f} fps) and front in every "
          f"run: {'yes' if same else 'NO'}")
    print("| code | run | wall s | CPU s (search + workers) | candidates/min wall | per CPU-minute | plans | "
          "peak RSS MB | load average (1 min) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, rep, r in rows:
        cpu = r["cpu"] + r["worker_cpu"]
        print(f"| {label} | {rep} | {r['wall']:.1f} | {r['cpu']:.1f} + {r['worker_cpu']:.1f} | "
              f"{60 * r['considered'] / r['wall']:,.0f} | {60 * r['considered'] / cpu:,.0f} | {r['plans']} | "
              f"{r['rss_mb']:,.0f} | {r['load'][0]:.1f} -> {r['load'][1]:.1f} |")
    if not same:
        raise SystemExit("the baseline and today's searches disagree")


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
                    help="also compare with hw_models/optimizer.py and simulator/estimate.py at this git revision")
    ap.add_argument("--candidates", type=int, default=1500, help="length of the --baseline searches")
    ap.add_argument("--reps", type=int, default=2, help="rounds of the --baseline comparison")
    ap.add_argument("--network", default="googlenet",
                    help="network of the --baseline searches: a zoo name, or 'sr' (the four SR networks at "
                         "360p->720p from a10_generic, as bench_sr.py --overlay)")
    ap.add_argument("--workers", type=int, default=1, help="worker processes of the search (and the --baseline arm)")
    ap.add_argument("--batch", type=int, default=1,
                    help="tailor the overlay for GoogLeNet's throughput at this batch (ovl arch optimize --batch); "
                         "the result goes to googlenet_opt_bN.toml for N > 1")
    ap.add_argument("--max-candidates", type=int, default=None,
                    help="also stop the search after this many candidates (the result then depends only on --seed)")
    ap.add_argument("--driver", nargs=3, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--skip-search", action="store_true", help="only the exactness/cost tables (and --baseline)")
    ap.add_argument("--whole-buffer", action="store_true",
                    help="also measure the whole-buffer pass at -O2 (zoo x 2 architectures, random candidates)")
    args = ap.parse_args()
    if args.driver:
        net, n, w = args.driver
        driver(net, int(n), int(w))
        return

    from hw_models.arch import load_arch
    from hw_models.area import estimate_area
    from hw_models.optimizer import (ArchSpace, Evaluator, NetworkCost, arch_to_toml, front_table, optimize,
                                     planning_key, summary)
    from hw_models.area.report import _estimate
    from simulator.estimate import estimate
    from workloads.zoo import build_ir

    print(f"load average at start: {loadavg()}")
    g = build_ir("googlenet")
    if args.batch != 1:
        from compiler.compile import rebatch

        g = rebatch(g, args.batch)
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
        if hasattr(a, "pe_array") and not cost.has_plan(planning_key(a)):
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
        compare_baseline(args.baseline, args.candidates, args.workers, args.reps, args.network)
    if args.whole_buffer:
        whole_buffer_table()
    if args.skip_search:
        return

    # the search
    res, wall, cpu = timed(optimize, [g], base, objective="throughput", time_limit=args.time_limit, seed=args.seed,
                           precisions=("bfp16", "bfp11"), workers=args.workers, max_candidates=args.max_candidates)
    print(f"\n## ovl arch optimize --model googlenet --device arria10_gx1150 --clock-mhz 303 --ddr-gbs 25.6 "
          f"--precision bfp16,bfp11 --time-limit {args.time_limit:g} --seed {args.seed} --workers {args.workers} "
          f"--batch {args.batch} --max-candidates {args.max_candidates} "
          f"(load average {loadavg()})")
    print(summary(res))
    print("\nPareto front:")
    print(front_table(res))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if res.best is not None:
        name = "googlenet_opt" if args.batch == 1 else f"googlenet_opt_b{args.batch}"
        best = res.best.arch.model_copy(update={"name": name})
        header = [f"bench/bench_optimizer.py result (batch {args.batch})"]
        (out / f"{name}.toml").write_text(arch_to_toml(best, header))
        rows = [("published (FPL'18, tailored overlay, batch and precision unknown)", 900.0, None, None)]
        for label, a in (("a10_generic at 303 MHz, 25.6 GB/s (the search's base)", base),
                         ("bench/archs/dla_googlenet_a10.toml (hand-tailored)",
                          load_arch(ROOT / "bench" / "archs" / "dla_googlenet_a10.toml")),
                         ("optimiser's best", best)):
            rows.append((label, args.batch / estimate(g, a).seconds, cycle_model_fps(g, a), estimate_area(a)))
        print(f"\n| GoogLeNet on Arria 10 GX 1150, batch {args.batch} | fps (fast estimate) | fps (cycle model) | "
              "DSPs | M20Ks | ALMs |")
        print("|---|---|---|---|---|---|")
        for label, fe, cm, area in rows:
            if area is None:
                print(f"| {label} | ~{fe:,.0f} | | | | |")
            else:
                t = area.total
                print(f"| {label} | {fe:,.1f} | {cm:,.1f} | {t.dsps:,} | {t.mem_blocks:,} | {t.alms:,} |")
    cpu += res.worker_cpu_seconds
    print(f"\nsearch: {res.considered:,} candidates ({res.evaluated:,} estimated) in {wall:.1f} s wall, {cpu:.1f} s "
          f"CPU ({res.worker_cpu_seconds:.1f} s of it in {args.workers} worker(s)): {60 * res.considered / wall:,.0f} "
          f"candidates/min and {60 * res.evaluated / wall:,.0f} estimated/min wall; {60 * res.considered / cpu:,.0f} "
          f"and {60 * res.evaluated / cpu:,.0f} per CPU-minute")
    print(f"load average at the end: {loadavg()}")


if __name__ == "__main__":
    main()
