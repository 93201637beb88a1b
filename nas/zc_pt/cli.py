"""`ovl search zc-pt`: Zero-Cost-PT on NB201 (one study per seed, one trial per candidate) or on DARTS.

    ovl search zc-pt --seeds 4 --store out/zcpt.db                       # NB201, CPU defaults
    ovl search zc-pt --batch-size 256 --validate-rounds 100 --store out/zcpt.db --study published
    ovl search zc-pt --space darts --candidates 2 --store out/zcpt.db
"""
from __future__ import annotations

import argparse
import json

from nas.runtime.options import RuntimeOptions, add_runtime_arguments


def configure(p: argparse.ArgumentParser) -> None:
    from nas.data import LATENCY_DEVICES
    from nas.strategies.space import DATASETS
    from nas.zc_pt.search import EDGE_ORDERS, ZCPTSpec

    d = ZCPTSpec()
    p.add_argument("--space", choices=("nb201", "darts"), default="nb201")
    p.add_argument("--candidates", type=int, default=d.candidates, help=f"N candidates (default {d.candidates})")
    p.add_argument("--validate-rounds", type=int, default=d.validate_rounds,
                   help=f"V post-validation minibatches (default {d.validate_rounds}; the reference uses 100)")
    p.add_argument("--batch-size", type=int, default=d.batch_size,
                   help=f"minibatch size (default {d.batch_size}; the reference uses 256)")
    p.add_argument("--edge-order", choices=EDGE_ORDERS, default=d.edge_order)
    p.add_argument("--seeds", type=int, default=1, help="independent runs, seeds --seed .. --seed+N-1")
    p.add_argument("--C", type=int, default=d.C, help="supernet channels (default 16)")
    p.add_argument("--N", type=int, default=d.N, help="NB201: cells per stage (default 5)")
    p.add_argument("--layers", type=int, default=8, help="DARTS: supernet cells (default 8)")
    p.add_argument("--dataset", choices=DATASETS, default=d.dataset, help="NB201 accuracy reported")
    p.add_argument("--latency", default=d.latency,
                   help=f"NB201 latency reported: overlay, {', '.join(LATENCY_DEVICES)} or a latency-table CSV")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads for this process")
    p.add_argument("--json", action="store_true")
    add_runtime_arguments(p, default_study="zc-pt")


def run(args: argparse.Namespace) -> int:
    from compiler.errors import UserError

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    opts = RuntimeOptions.from_args(args)
    if args.seeds < 1:
        raise UserError(f"--seeds {args.seeds}: give 1 or more")
    seeds = list(range(opts.seed, opts.seed + args.seeds))
    if args.space == "darts":
        return _darts(args, opts, seeds)
    from nas.zc_pt.search import ZCPTSpec, run_zc_pt
    from nas.zc_pt.strength import op_scoring_correlation

    spec = ZCPTSpec(candidates=args.candidates, validate_rounds=args.validate_rounds, batch_size=args.batch_size,
                    edge_order=args.edge_order, C=args.C, N=args.N, dataset=args.dataset, latency=args.latency).check()
    with opts.executor() as ex:
        runs = run_zc_pt(spec, opts.store, seeds, prefix=opts.study, executor=ex, resume=opts.resume,
                         quiet=opts.quiet)
    corr = op_scoring_correlation([c["trace"] for r in runs for c in r.candidates], spec.dataset)
    if args.json:
        print(json.dumps({"runs": [{"seed": r.seed, "arch": r.chosen["arch"], "accuracy": r.chosen["accuracy"],
                                    "latency_ms": r.chosen["latency_ms"], "score": r.chosen["score"],
                                    "seconds": r.seconds, "cpu_seconds": r.cpu_seconds} for r in runs],
                          "op_scoring": corr}, indent=1))
        return 0
    _print_nb201(runs, corr, spec, opts)
    return 0


def _print_nb201(runs, corr, spec, opts) -> None:
    import numpy as np

    from nas.data import nb201_table

    best = float(nb201_table().accuracy(spec.dataset).max())
    print(f"Zero-Cost-PT on NB201 (N={spec.candidates}, V={spec.validate_rounds}, batch {spec.batch_size}, "
          f"{spec.edge_order} edge order); studies '{opts.study}-s<seed>' in {opts.store}")
    print(f"{'seed':>4}  {'selected cell':<88} {spec.dataset + ' %':>10} {'lat ms':>7} {'wall s':>7} {'cpu s':>7}")
    for r in runs:
        c = r.chosen
        print(f"{r.seed:>4}  {c['arch']:<88} {c['accuracy']:>10.2f} {c['latency_ms']:>7.3f} {r.seconds:>7.0f} "
              f"{r.cpu_seconds:>7.0f}")
    acc = np.array([r.chosen["accuracy"] for r in runs])
    print(f"accuracy {acc.mean():.2f} ± {acc.std():.2f} over {len(runs)} seed(s) (benchmark optimum {best:.2f}); "
          f"search {np.mean([r.seconds for r in runs]):.0f} s wall, "
          f"{np.mean([r.cpu_seconds for r in runs]):.0f} s CPU per seed")
    print("per-step Spearman of op importance (-score) vs op strength (mean / best accuracy of the cells using the "
          "op on the edge; cond = given the edges already fixed):")
    print(f"{'step':>4} {'n':>4} {'mean':>7} {'best':>7} {'mean|cond':>10} {'best|cond':>10}")
    for row in corr:
        print(f"{row['step']:>4} {row['n']:>4} {row['rho_mean']:7.3f} {row['rho_best']:7.3f} "
              f"{row['rho_mean_cond']:10.3f} {row['rho_best_cond']:10.3f}")


def _darts(args, opts, seeds) -> int:
    """DARTS has no accuracy oracle: each seed is one trial (the selected genotype, its score and time)."""
    from nas.runtime import run_study
    from nas.zc_pt.darts_supernet import DartsObjective, darts_pool

    obj = DartsObjective(candidates=args.candidates, validate_rounds=args.validate_rounds,
                         batch_size=args.batch_size, C=args.C, layers=args.layers)
    obj.check()
    with opts.executor() as ex:
        res = run_study(opts.store, opts.study, darts_pool(seeds), obj, n_trials=len(seeds),
                        objectives={"score": "max"}, seed=opts.seed, config=obj.config(), executor=ex,
                        resume=opts.resume, quiet=opts.quiet)
    rows = [{**t.config, **(t.metrics or {"error": t.error})} for t in res.trials]
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        for r in rows:
            if "error" in r:
                print(f"seed {r['seed']}: failed: {r['error']}")
            else:
                print(f"seed {r['seed']}: {r['genotype']}\n  score {r['score']:.2f}, {r['macs'] / 1e6:.1f} M MACs, "
                      f"{r['params'] / 1e6:.2f} M params (C=36, 20 layers), search {r['seconds']:.0f} s wall, "
                      f"{r['cpu_seconds']:.0f} s CPU")
    return 0
