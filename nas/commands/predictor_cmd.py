"""`ovl predictor`: train and evaluate NB201 latency and accuracy predictors (BRP-NAS GCN, MLP, op-count linear).

    ovl predictor train --source latbench --kinds gcn mlp linear --seeds 3 --store out/pred.db --save out/models
    ovl predictor train --target accuracy --train 100 --seeds 5 --store out/pred.db
    ovl predictor eval out/models/gcn-s0.pt --source latbench          # test cells of its own split
    ovl predictor eval out/models/gcn-s0.pt --source out/overlay.csv --cells all

Every training run is a trial of a study in the trial store (`--store`, `--study`, `--resume`, `--workers`).
"""
from __future__ import annotations

import argparse
import json
import sys

from nas.runtime.options import RuntimeOptions, add_runtime_arguments


def configure(p: argparse.ArgumentParser) -> None:
    from nas.predictors.latency import DEFAULT, KINDS, source_sources

    sub = p.add_subparsers(dest="predictor_command", metavar="ACTION", required=True)
    tr = sub.add_parser("train", help="train predictors and test them on held-out cells (one trial per run)",
                        description="train latency regressors (kinds x seeds) or the binary-relation accuracy "
                                    "predictor, and test them on the cells they were not trained on")
    tr.add_argument("--target", choices=("latency", "accuracy"), default="latency")
    tr.add_argument("--source", default="latbench",
                    help=f"latency source: {', '.join(source_sources())}, or an `ovl nas latency-table` CSV")
    tr.add_argument("--kinds", nargs="+", default=["gcn", "mlp", "linear"], choices=KINDS, metavar="KIND",
                    help=f"latency predictors to train (default gcn mlp linear; also {', '.join(KINDS)})")
    tr.add_argument("--seeds", type=int, default=1, help="runs per kind, seeds --seed .. --seed+N-1 (split and init)")
    tr.add_argument("--train", type=int, default=None, help="training cells (default 900 latency, 100 accuracy)")
    tr.add_argument("--valid", type=int, default=100, help="validation cells for latency training (default 100)")
    tr.add_argument("--published", action="store_true",
                    help="eagle's published latency recipe (batch 1, 250 epochs, plateau; slow on a CPU)")
    tr.add_argument("--epochs", type=int, default=None, help=f"latency: epochs (default {DEFAULT.epochs})")
    tr.add_argument("--batch-size", type=int, default=None, help=f"latency: batch size (default {DEFAULT.batch_size})")
    tr.add_argument("--lr", type=float, default=None, help="learning rate")
    tr.add_argument("--hidden", type=int, default=None, help="hidden units of the GCN / MLP (default 600)")
    tr.add_argument("--steps", type=int, default=250, help="accuracy: full-batch training steps (default 250)")
    tr.add_argument("--dataset", choices=("cifar10", "cifar100", "imagenet16"), default="cifar10",
                    help="accuracy: benchmark accuracy to rank by")
    tr.add_argument("--save", default=None, metavar="DIR", help="latency: write each model to DIR/<kind>-s<seed>.pt")
    tr.add_argument("--threads", type=int, default=None, help="torch intra-op threads for this process")
    tr.add_argument("--json", action="store_true", help="print every run's metrics as JSON")
    add_runtime_arguments(tr, default_study="predictor")

    ev = sub.add_parser("eval", help="evaluate a saved latency predictor on a latency source",
                        description="BRP-NAS accuracy within +-5/10 % (bound relative to the prediction), rank "
                                    "correlation and error of a saved latency predictor")
    ev.add_argument("model", help="file written by `ovl predictor train --save`")
    ev.add_argument("--source", default=None, help="latency source (default: the one it was trained on)")
    ev.add_argument("--cells", choices=("test", "all"), default="test",
                    help="test: labelled cells it was not trained or validated on (default); all: every labelled cell")
    ev.add_argument("--json", action="store_true")


def run(args: argparse.Namespace) -> int:
    if args.predictor_command == "eval":
        return _eval(args)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    from compiler.errors import UserError

    opts = RuntimeOptions.from_args(args)
    if args.seeds < 1:
        raise UserError(f"--seeds {args.seeds}: give 1 or more")
    seeds = list(range(opts.seed, opts.seed + args.seeds))
    with opts.executor() as ex:
        if args.target == "accuracy":
            from nas.predictors.experiment import RankingObjective, format_ranking_rows, ranking_study

            obj = RankingObjective(dataset=args.dataset, n_train=args.train or 100, steps=args.steps,
                                   **({"lr": args.lr} if args.lr else {}),
                                   **({"hidden": args.hidden} if args.hidden else {}))
            rows = ranking_study(opts.store, opts.study, seeds=seeds, objective=obj, executor=ex,
                                 resume=opts.resume, quiet=opts.quiet)
            text = format_ranking_rows(rows)
        else:
            from nas.predictors.experiment import format_latency_rows, latency_study
            from nas.predictors.latency import DEFAULT, PUBLISHED, with_overrides

            cfg = with_overrides(PUBLISHED if args.published else DEFAULT, epochs=args.epochs,
                                 batch_size=args.batch_size, lr=args.lr, hidden=args.hidden)
            rows = latency_study(opts.store, opts.study, source=args.source, kinds=args.kinds, seeds=seeds,
                                 n_train=args.train or 900, n_valid=args.valid, config=cfg, save_dir=args.save,
                                 executor=ex, resume=opts.resume, quiet=opts.quiet)
            text = format_latency_rows(rows, f"latency predictors on '{args.source}': {args.train or 900} training "
                                             f"cells, tested on the rest; study '{opts.study}' in {opts.store}")
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(text)
    failed = [r for r in rows if "error" in r]
    for r in failed:
        print(f"run {r}: failed", file=sys.stderr)
    return 1 if failed else 0


def _eval(args: argparse.Namespace) -> int:
    import numpy as np

    from nas.predictors.latency import LatencyPredictor, PredictorError, latency_labels, latency_metrics

    pred = LatencyPredictor.load(args.model)
    source = args.source or pred.meta.get("source")
    if not source:
        raise PredictorError(f"predictor '{args.model}' does not record its source; pass --source")
    labels = latency_labels(source)
    cells = np.flatnonzero(~np.isnan(labels))
    if args.cells == "test":
        used = set(pred.meta.get("train", [])) | set(pred.meta.get("valid", []))
        cells = np.array([c for c in cells if c not in used], dtype=np.int64)
    m = latency_metrics(pred.predict(cells), labels[cells])
    if args.json:
        print(json.dumps({"model": args.model, "kind": pred.kind, "source": source, "cells": args.cells, **m},
                         indent=1))
    else:
        print(f"{pred.kind} predictor '{args.model}' on '{source}' ({args.cells} cells, n={int(m['n'])}):")
        for l in (1, 5, 10, 20):
            print(f"  within ±{l:>2}% of the prediction: {100 * m[f'within_{l}']:6.2f}%   "
                  f"(of the truth: {100 * m[f'within_truth_{l}']:6.2f}%)")
        print(f"  Spearman {m['spearman']:.4f}  Kendall {m['kendall']:.4f}  MAPE {100 * m['mape']:.2f}%  "
              f"R^2 {m['r2']:.4f}")
    return 0
