"""Predictor experiments on the search runtime: every (predictor kind, seed) training run is one trial of a study
in a trial store, so `ovl predictor train` results can be resumed, listed, exported and compared like searches.

    rows = latency_study("out/pred.db", "lat-latbench", source="latbench", kinds=("gcn", "mlp", "linear"),
                         seeds=range(3))
    print(format_latency_rows(rows))
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nas.predictors.latency import (KINDS, LEEWAYS, DEFAULT, PredictorError, TrainConfig, fit_latency,
                                    latency_labels, latency_metrics, split_cells)
from nas.runtime import Strategy


class Grid(Strategy):
    """Proposes a fixed list of configurations in order (a sweep), then stops."""

    name = "grid"

    def __init__(self, configs: Sequence[dict[str, Any]], batch_size: int = 1):
        self.configs, self.batch_size = [dict(c) for c in configs], batch_size

    def ask(self, index: int, rng: np.random.Generator) -> dict[str, Any] | None:
        return self.configs[index] if index < len(self.configs) else None

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"configs": self.configs}


@dataclass(frozen=True)
class LatencyObjective:
    """Trains one latency predictor ({"kind", "seed"}: the seed draws the split and initialises the network) and
    returns its test metrics; saves the model under `save_dir` when given."""

    source: str
    n_train: int = 900
    n_valid: int = 100
    config: TrainConfig = DEFAULT
    save_dir: str | None = None

    def __call__(self, candidate: dict[str, Any], seed: int) -> dict[str, Any]:
        kind, s = str(candidate["kind"]), int(candidate["seed"])
        labels = latency_labels(self.source)
        sp = split_cells(labels, self.n_train, self.n_valid, s)
        pred, hist = fit_latency(kind, sp.train, labels[sp.train], valid=sp.valid, valid_ms=labels[sp.valid],
                                 config=self.config, seed=s)
        pred.meta.update({"source": self.source, "split_seed": s, "n_train": self.n_train, "n_valid": self.n_valid,
                          "train": sp.train.tolist(), "valid": sp.valid.tolist()})
        metrics = latency_metrics(pred.predict(sp.test), labels[sp.test])
        if self.save_dir:
            pred.save(Path(self.save_dir) / f"{kind}-s{s}.pt")
        return {**metrics, "epochs": hist["epochs"], "best_epoch": hist["best_epoch"], "seconds": hist["seconds"],
                "cpu_seconds": hist["cpu_seconds"]}


def latency_study(store, study: str, *, source: str, kinds: Sequence[str] = ("gcn", "mlp", "linear"),
                  seeds: Sequence[int] = (0,), n_train: int = 900, n_valid: int = 100,
                  config: TrainConfig | None = None, save_dir: str | Path | None = None, executor=None,
                  resume: bool = False, quiet: bool = True) -> list[dict[str, Any]]:
    """Train and test every kind on every seed's split (one trial each); returns one row per trial:
    {"kind", "seed", metrics...} (failed trials have "error")."""
    from nas.runtime import run_study

    bad = [k for k in kinds if k not in KINDS]
    if bad or not kinds:
        raise PredictorError(f"unknown predictor kind {', '.join(bad) or '(none)'}; choose from {', '.join(KINDS)}")
    latency_labels(source)
    cfg = (config or DEFAULT).check()
    grid = Grid([{"kind": k, "seed": int(s)} for s in seeds for k in kinds])
    objective = LatencyObjective(source, n_train, n_valid, cfg, str(save_dir) if save_dir else None)
    result = run_study(store, study, grid, objective, n_trials=len(grid.configs),
                       objectives={"within_10": "max", "spearman": "max"}, seed=0,
                       config={"source": source, "n_train": n_train, "n_valid": n_valid, "train": asdict(cfg)},
                       executor=executor, resume=resume, quiet=quiet)
    return [{**t.config, **(t.metrics or {"error": t.error})} for t in result.trials]


def summarise(rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> list[dict[str, Any]]:
    """Mean and std over seeds of `keys`, per predictor kind (order of first appearance)."""
    out = []
    for kind in dict.fromkeys(r["kind"] for r in rows):
        ok = [r for r in rows if r["kind"] == kind and "error" not in r]
        row: dict[str, Any] = {"kind": kind, "seeds": len(ok)}
        for k in keys:
            v = np.array([r[k] for r in ok], dtype=np.float64)
            row[k] = float(v.mean()) if len(v) else math.nan
            row[f"{k}_std"] = float(v.std()) if len(v) else math.nan
        out.append(row)
    return out


LATENCY_COLUMNS = ("within_5", "within_10", "within_truth_10", "spearman", "mape", "seconds", "cpu_seconds")


def format_latency_rows(rows: Sequence[dict[str, Any]], title: str = "") -> str:
    """Table of mean (± std over seeds) of the test metrics per predictor kind."""
    s = summarise(rows, LATENCY_COLUMNS)
    head = (f"{'predictor':<12} {'seeds':>5} {'±5% (pred)':>13} {'±10% (pred)':>13} {'±10% (truth)':>13} "
            f"{'Spearman':>13} {'MAPE':>7} {'train s':>8} {'cpu s':>7}")
    lines = ([title] if title else []) + [head, "-" * len(head)]
    for r in s:
        pct = lambda k: f"{100 * r[k]:6.1f}±{100 * r[k + '_std']:4.1f}%"  # noqa: E731
        lines.append(f"{r['kind']:<12} {r['seeds']:>5} {pct('within_5'):>13} {pct('within_10'):>13} "
                     f"{pct('within_truth_10'):>13} {r['spearman']:7.4f}±{r['spearman_std']:.3f} "
                     f"{100 * r['mape']:6.2f}% {r['seconds']:8.1f} {r['cpu_seconds']:7.1f}")
    return "\n".join(lines)


# --- accuracy (binary-relation) predictor -----------------------------------------------------------------------
@dataclass(frozen=True)
class RankingObjective:
    """Trains the binary-relation GCN on `n_train` random cells' accuracy ({"seed"}) for `steps` full-batch
    steps and returns its ranking metrics on every other cell."""

    dataset: str = "cifar10"
    n_train: int = 100
    steps: int = 250
    lr: float = 1e-3
    dropout: float = 0.2
    hidden: int = 600

    def __call__(self, candidate: dict[str, Any], seed: int) -> dict[str, Any]:
        import time

        from nas.data import nb201_table
        from nas.predictors.binary import BinaryConfig, BinaryPredictor, ranking_metrics
        from nas.spaces import nb201

        s = int(candidate["seed"])
        acc = nb201_table().accuracy(self.dataset)
        perm = np.random.default_rng(s).permutation(nb201.SIZE)
        train, test = perm[:self.n_train], np.sort(perm[self.n_train:])
        t0, c0 = time.perf_counter(), time.process_time()
        pred = BinaryPredictor(BinaryConfig(hidden=self.hidden, lr=self.lr, dropout=self.dropout), seed=s)
        fit = pred.fit(train, acc[train], self.steps)
        m = ranking_metrics(pred.scores(test), acc[test], seed=s)
        return {**m, "loss_best": fit["loss_best"], "seconds": time.perf_counter() - t0,
                "cpu_seconds": time.process_time() - c0}


def ranking_study(store, study: str, *, seeds: Sequence[int] = (0,), objective: RankingObjective | None = None,
                  executor=None, resume: bool = False, quiet: bool = True) -> list[dict[str, Any]]:
    from nas.runtime import run_study

    obj = objective or RankingObjective()
    if obj.n_train < 2 or obj.steps < 1:
        raise PredictorError(f"--train {obj.n_train} / --steps {obj.steps}: need >= 2 cells and >= 1 step")
    grid = Grid([{"kind": "binary-gcn", "seed": int(s)} for s in seeds])
    result = run_study(store, study, grid, obj, n_trials=len(grid.configs),
                       objectives={"spearman": "max", "pairwise_accuracy": "max"}, seed=0, config=asdict(obj),
                       executor=executor, resume=resume, quiet=quiet)
    return [{**t.config, **(t.metrics or {"error": t.error})} for t in result.trials]


RANKING_COLUMNS = ("spearman", "kendall", "pairwise_accuracy", "best_in_top10", "hits_top100", "seconds")


def format_ranking_rows(rows: Sequence[dict[str, Any]]) -> str:
    s = summarise(rows, RANKING_COLUMNS)
    head = f"{'predictor':<12} {'seeds':>5} " + " ".join(f"{k:>18}" for k in RANKING_COLUMNS)
    lines = [head, "-" * len(head)]
    for r in s:
        lines.append(f"{r['kind']:<12} {r['seeds']:>5} " + " ".join(
            f"{r[k]:>10.4g}±{r[k + '_std']:<7.3g}" for k in RANKING_COLUMNS))
    return "\n".join(lines)


__all__ = ["Grid", "LatencyObjective", "latency_study", "summarise", "format_latency_rows", "RankingObjective",
           "ranking_study", "format_ranking_rows", "LEEWAYS"]
