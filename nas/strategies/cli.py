"""`ovl search nas`: NB201 search with the benchmark as oracle, one study per seed in a trial store.

    ovl search nas --space nb201 --strategy ae --warmup synflow --budget 100 --latency-max 0.6 --seeds 20 \
        --store out/nas.db
"""
from __future__ import annotations

import argparse
import json

from nas.data import LATENCY_DEVICES
from nas.proxies import PROXIES
from nas.runtime.options import RuntimeOptions, add_runtime_arguments
from nas.strategies.run import (SearchSpec, curve_rows, feasible_optimum, format_curve_table, run_searches)
from nas.strategies.space import DATASETS
from nas.strategies.strategies import STRATEGIES


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--space", default="nb201", choices=["nb201"], help="search space with an accuracy oracle")
    p.add_argument("--strategy", default="ae", choices=list(STRATEGIES),
                   help="rs: random search, ae: regularised (aging) evolution, rl: REINFORCE (default ae)")
    p.add_argument("--budget", type=int, default=100, help="trained models (benchmark look-ups) per seed")
    p.add_argument("--seeds", type=int, default=1, help="independent runs, seeds --seed .. --seed+N-1")
    p.add_argument("--warmup", choices=PROXIES, default=None, help="zero-cost warm-up with this proxy")
    p.add_argument("--warmup-size", type=int, default=3000, help="cells scored for the warm-up (default 3000)")
    p.add_argument("--move", choices=PROXIES, default=None, help="zero-cost move proposal with this proxy")
    p.add_argument("--p-random", type=float, default=0.25, help="probability of a plain move (default 0.25)")
    p.add_argument("--dataset", choices=DATASETS, default="cifar10", help="benchmark accuracy to optimise")
    p.add_argument("--latency", default="overlay",
                   help=f"latency source: overlay (simulated a10_generic table, default), "
                        f"{', '.join(LATENCY_DEVICES)} (HELP), or an `ovl nas latency-table` CSV")
    p.add_argument("--latency-max", type=float, default=None, metavar="MS",
                   help="only propose cells with latency <= MS milliseconds")
    p.add_argument("--population", type=int, default=20, help="evolution population (default 20)")
    p.add_argument("--tournament", type=int, default=5, help="evolution tournament size (default 5)")
    p.add_argument("--lr", type=float, default=0.05, help="REINFORCE learning rate (default 0.05)")
    p.add_argument("--plot", default=None, metavar="FILE", help="write the search curve (png/pdf/svg)")
    p.add_argument("--json", action="store_true", help="print the curve table as JSON")
    add_runtime_arguments(p, default_study="nas")


def run(args: argparse.Namespace) -> int:
    opts = RuntimeOptions.from_args(args)
    spec = SearchSpec(strategy=args.strategy, space=args.space, budget=args.budget, warmup=args.warmup,
                      warmup_size=args.warmup_size, move=args.move, p_random=args.p_random, dataset=args.dataset,
                      latency=args.latency, latency_max=args.latency_max, population=args.population,
                      tournament=args.tournament, lr=args.lr)
    spec.check()
    if args.seeds < 1:
        from compiler.errors import UserError

        raise UserError(f"--seeds {args.seeds}: give 1 or more")
    seeds = range(opts.seed, opts.seed + args.seeds)
    with opts.executor() as ex:
        runs = run_searches(spec, opts.store, seeds, prefix=opts.study, executor=ex, resume=opts.resume,
                            quiet=opts.quiet)
    label = spec.label()
    curves = {label: list(runs.values())}
    budgets = sorted({n for n in (1, 10, 20, 50, 100, 200, 500, 1000) if n < spec.budget} | {spec.budget})
    optimum = feasible_optimum(spec)
    if args.plot:
        from nas.runtime.plots import plot_search_curves, save_figure

        fig = plot_search_curves(curves, metric=f"{spec.dataset} test accuracy (%)", direction="max")
        save_figure(fig, args.plot)
    if args.json:
        print(json.dumps({"search": label, "optimum": optimum, "rows": curve_rows(curves, budgets),
                          "runs": {str(s): r for s, r in runs.items()}}, indent=1))
    else:
        print(f"{label}: best {spec.dataset} test accuracy vs trained models, mean ± std over "
              f"{len(runs)} seed(s); studies '{opts.study}-s<seed>' in {opts.store}")
        print(format_curve_table(curves, budgets, optimum))
    return 0
