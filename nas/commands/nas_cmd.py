"""`ovl nas`: NAS utilities over the NB201 space.

    ovl nas proxies score '|nor_conv_3x3~0|+|...|' 42 --json     # proxies of cells (arch strings or indices)
    ovl nas proxies batch --sample 1000 --naslib cifar10 -o scores.csv   # resumable batch job
    ovl nas proxies report nas/data/nb201_proxies.csv             # Spearman vs accuracy and vs NASLib
    ovl nas latency-table --space nb201 --arch a10_generic -o table.csv
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from compiler.errors import UserError


def configure(p: argparse.ArgumentParser) -> None:
    from nas.proxies import PROXIES
    from nas.proxies import batch as batch_mod

    sub = p.add_subparsers(dest="nas_command", metavar="WHAT", required=True)
    pr = sub.add_parser("proxies", help="zero-cost proxies of NB201 cells", description="zero-cost proxies")
    psub = pr.add_subparsers(dest="proxies_command", metavar="ACTION", required=True)
    sc = psub.add_parser("score", help="proxies of given cells", description="proxies of given NB201 cells")
    sc.add_argument("cells", nargs="+", help="NB201 arch strings or indices")
    sc.add_argument("--proxies", nargs="+", default=list(PROXIES), metavar="NAME",
                    help=f"default all: {' '.join(PROXIES)}")
    sc.add_argument("--seed", type=int, default=None, help="weight-init seed (default: the cell's NB201 index)")
    sc.add_argument("--json", action="store_true")
    bt = psub.add_parser("batch", help="resumable batch job writing a CSV", description=batch_mod.__doc__)
    batch_mod.configure(bt)
    rp = psub.add_parser("report", help="correlations of a score file", description="Spearman rho of each proxy "
                         "with NB201 accuracy next to the published values, and agreement with NASLib's scores")
    rp.add_argument("file", type=Path, help="score CSV written by `ovl nas proxies batch`")
    rp.add_argument("--dataset", choices=("cifar10", "cifar100", "imagenet16"), default="cifar10",
                    help="NB201 accuracy and published values to compare with (default cifar10)")
    rp.add_argument("--json", action="store_true")

    lt = sub.add_parser("latency-table", help="overlay latency of every NB201 cell",
                        description="simulated overlay latency (fast estimate) for all 15,625 NB201 cells, "
                                    "memoised over identical pruned networks, and its rank correlation with the "
                                    "published device latencies")
    lt.add_argument("--space", default="nb201", choices=["nb201"])
    lt.add_argument("--arch", default="a10_generic", help="architecture name or TOML file")
    lt.add_argument("-o", "--output", type=Path, required=True, help="CSV to write")
    lt.add_argument("--spot", type=int, default=20, metavar="N",
                    help="cells checked against the cycle-approximate model (default 20, 0: none)")
    lt.add_argument("--workers", type=int, default=1, help="worker processes for the sweep (default 1)")
    lt.add_argument("--json", action="store_true", help="print the correlation table as JSON")


def _cell(text: str):
    from nas.spaces import nb201

    return int(text) if text.strip().isdigit() else nb201.parse(text)


def run(args: argparse.Namespace) -> int:
    if args.nas_command == "latency-table":
        return _latency_table(args)
    if args.proxies_command == "batch":
        from nas.proxies import batch as batch_mod

        return batch_mod.run(args)
    if args.proxies_command == "report":
        from nas.proxies.report import correlation_report, format_report

        if not args.file.is_file():
            raise UserError(f"score file '{args.file}' does not exist; write one with `ovl nas proxies batch`")
        rep = correlation_report(args.file, args.dataset)
        print(json.dumps(rep, indent=1) if args.json else format_report(rep))
        return 0
    from nas.proxies import nb201_proxies
    from nas.spaces import nb201

    out = []
    for text in args.cells:
        ops = nb201.as_ops(_cell(text))
        out.append({"index": nb201.to_index(ops), "arch_str": nb201.to_str(ops),
                    **nb201_proxies(ops, args.proxies, seed=args.seed)})
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        for r in out:
            print(f"{r['index']:5d} {r['arch_str']}")
            for k in args.proxies:
                print(f"      {k:<10} {r[k]:.6g}")
    return 0


def _latency_table(args: argparse.Namespace) -> int:
    import numpy as np

    from hw_models.arch import load_arch
    from nas.runtime import make_executor, progress
    from nas.spaces.nb201_latency import (device_correlations, latency_table, opcount_fit, overlay_latency_fn,
                                          spot_check)

    if args.workers < 1:
        raise UserError(f"--workers {args.workers}: give 1 or more")
    arch = load_arch(args.arch)
    fn = overlay_latency_fn()
    bar = progress(total=9445, desc="latency table", unit="net")
    with make_executor("pool" if args.workers > 1 else "inprocess", workers=args.workers) as ex:
        table = latency_table(arch, fn, executor=ex, progress=lambda k, n: bar.update(1))
    bar.close()
    table.write_csv(args.output)
    rows = device_correlations(table.latency_ms)
    fit = opcount_fit(table.latency_ms)
    spot = None
    if args.spot > 0:
        cells = np.random.default_rng(0).choice(15625, args.spot, replace=False)
        spot = spot_check(arch, table, cells)
    if args.json:
        print(json.dumps({"output": str(args.output), "arch": args.arch, "distinct": table.distinct,
                          "seconds": table.seconds, "correlations": rows, "opcount_fit": fit, "spot_check": spot},
                         indent=1))
        return 0
    print(f"wrote {args.output}: 15,625 cells ({table.distinct} distinct networks) on {args.arch} in "
          f"{table.seconds:.1f} s; latency {np.nanmin(table.latency_ms):.3f} to {np.nanmax(table.latency_ms):.3f} ms")
    print(f"{'device':<20} {'n':>6} {'Spearman':>9}")
    for r in rows:
        print(f"{r['device']:<20} {r['n']:>6} {r['rho']:9.3f}")
    c = fit["coef_ms"]
    print(f"op-count model (live edges): {c['intercept']:.4f} + {c['conv1x1']:.4f} n1x1 + {c['conv3x3']:.4f} n3x3 "
          f"+ {c['avg_pool']:.4f} npool ms; R^2 {fit['r2']:.3f}, {100 * fit['within_10pct']:.1f} % within +-10 %")
    if spot:
        print(f"cycle-model spot check on {len(spot['cells'])} cells: mean |error| "
              f"{100 * spot['mean_abs_rel_error']:.2f} %, max {100 * spot['max_abs_rel_error']:.2f} %, "
              f"Spearman {spot['spearman']:.3f}")
    return 0
