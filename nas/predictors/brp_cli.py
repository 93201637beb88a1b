"""`ovl search brp-nas`: BRP-NAS on NB201 with the benchmark as oracle, one study per seed in a trial store.

    ovl search brp-nas --budget 100 --seeds 10 --store out/brp.db
    ovl search brp-nas --latency out/overlay.csv --latency-max 2.0 --warmup synflow --store out/brp.db
"""
from __future__ import annotations

import argparse
import json

from nas.runtime.options import RuntimeOptions, add_runtime_arguments


def configure(p: argparse.ArgumentParser) -> None:
    from nas.data import LATENCY_DEVICES
    from nas.predictors.brp import BRPSpec
    from nas.proxies import PROXIES
    from nas.strategies.space import DATASETS

    d = BRPSpec()
    p.add_argument("--space", default="nb201", choices=["nb201"], help="search space with an accuracy oracle")
    p.add_argument("--budget", type=int, default=d.budget, help=f"trained models per seed (default {d.budget})")
    p.add_argument("--iterations", type=int, default=d.iterations,
                   help=f"selection iterations the budget is split over (default {d.iterations})")
    p.add_argument("--steps", type=int, default=d.steps,
                   help=f"predictor training steps per iteration unit: iteration i trains steps*i (default {d.steps})")
    p.add_argument("--seeds", type=int, default=1, help="independent runs, seeds --seed .. --seed+N-1")
    p.add_argument("--dataset", choices=DATASETS, default=d.dataset, help="benchmark accuracy to optimise")
    p.add_argument("--warmup", choices=PROXIES, default=None,
                   help="zero-cost warm-up: pre-train the predictor on this proxy's ranking")
    p.add_argument("--warmup-size", type=int, default=d.warmup_size, help="cells scored for the warm-up")
    p.add_argument("--warmup-steps", type=int, default=d.warmup_steps, help="predictor steps of the warm-up")
    p.add_argument("--latency", default=d.latency,
                   help=f"latency source: overlay (the overlay table in nas/data), {', '.join(LATENCY_DEVICES)}, "
                        "or an `ovl nas latency-table` CSV")
    p.add_argument("--latency-max", type=float, default=None, metavar="MS", help="only propose cells this fast")
    p.add_argument("--latency-model", choices=("table", "gcn"), default=d.latency_model,
                   help="judge the constraint by the source itself (table) or a latency GCN trained on 900 cells")
    p.add_argument("--lr", type=float, default=d.lr, help=f"predictor learning rate (default {d.lr})")
    p.add_argument("--hidden", type=int, default=d.hidden, help=f"GCN hidden units (default {d.hidden})")
    p.add_argument("--dropout", type=float, default=d.dropout, help=f"predictor dropout (default {d.dropout})")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads for this process")
    p.add_argument("--plot", default=None, metavar="FILE", help="write the search curve (png/pdf/svg)")
    p.add_argument("--json", action="store_true", help="print the curve table as JSON")
    add_runtime_arguments(p, default_study="brp-nas")


def run(args: argparse.Namespace) -> int:
    from compiler.errors import UserError
    from nas.predictors.brp import BRPSpec, candidate_cells, run_brp_searches
    from nas.strategies.run import curve_rows, format_curve_table

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    opts = RuntimeOptions.from_args(args)
    spec = BRPSpec(budget=args.budget, iterations=args.iterations, steps=args.steps, dataset=args.dataset,
                   warmup=args.warmup, warmup_size=args.warmup_size, warmup_steps=args.warmup_steps,
                   latency=args.latency, latency_max=args.latency_max, latency_model=args.latency_model,
                   lr=args.lr, dropout=args.dropout, hidden=args.hidden).check()
    if args.seeds < 1:
        raise UserError(f"--seeds {args.seeds}: give 1 or more")
    seeds = range(opts.seed, opts.seed + args.seeds)
    with opts.executor() as ex:
        runs = run_brp_searches(spec, opts.store, seeds, prefix=opts.study, executor=ex, resume=opts.resume,
                                quiet=opts.quiet)
    label = spec.label()
    curves = {label: list(runs.values())}
    budgets = sorted({n for n in (1, 10, 20, 50, 100, 200, 500) if n < spec.budget} | {spec.budget})
    from nas.data import nb201_table

    acc = nb201_table().accuracy(spec.dataset)
    optimum = float(acc[candidate_cells(spec)].max())
    if args.plot:
        from nas.runtime.plots import plot_search_curves, save_figure

        save_figure(plot_search_curves(curves, metric=f"{spec.dataset} test accuracy (%)", direction="max"), args.plot)
    if args.json:
        print(json.dumps({"search": label, "optimum": optimum, "rows": curve_rows(curves, budgets),
                          "runs": {str(s): r for s, r in runs.items()}}, indent=1))
    else:
        print(f"{label}: best {spec.dataset} test accuracy vs trained models, mean ± std over {len(runs)} seed(s); "
              f"studies '{opts.study}-s<seed>' in {opts.store}")
        print(format_curve_table(curves, budgets, optimum))
    return 0
