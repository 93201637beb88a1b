"""BRP-NAS search (Dudziak et al., NeurIPS 2020) on NB201 as an ask/tell strategy of `nas.runtime`.

Iterative data selection as eagle's `--iter 5 --sample_best2` ("best result" recipe), with a budget of B trained
models split over I iterations (batch = B // I per iteration):
- iteration 0: `batch` random candidates (or, with a zero-cost warm-up, the predictor is first trained on the
  proxy ranking of `warmup_size` random candidates and iteration 0 selects like the later ones);
- iteration i >= 1: the binary-relation GCN is trained (continuing from its weights) on every model trained so
  far, for `steps * i` full-batch steps; all candidates are scored; the `batch // 2` best-scored untrained ones
  are added, then `batch - batch // 2` drawn at random from the untrained candidates scoring above the score at
  rank len / 2^i.
A "trained model" is a benchmark look-up (`nas.strategies.NB201Objective`): test accuracy and latency.

Latency constraint: candidates are the cells with latency <= `latency_max` ms according to `latency_model`:
`table` reads the latency source itself (by default `overlay`, the simulated overlay latency of every cell in
nas/data; a HELP device column or an `ovl nas latency-table` CSV), `gcn` prefilters with a latency GCN trained on 900 cells of that source
(eagle's `--lat_limit` with a latency predictor).

Determinism: every draw comes from the `rng` the runtime hands to `ask` (the predictor is seeded from it), so a
study is reproducible; the strategy snapshots its predictor and selection state at batch boundaries, so a
resumed study restores it instead of retraining.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from compiler.errors import UserError
from nas.predictors.binary import BinaryConfig, BinaryPredictor
from nas.runtime import Strategy, Trial


@dataclass(frozen=True)
class BRPSpec:
    """One BRP-NAS configuration (everything but the seed)."""

    budget: int = 100                  # trained models
    iterations: int = 5
    steps: int = 50                    # iteration i trains steps * i full-batch steps
    dataset: str = "cifar10"
    warmup: str | None = None          # zero-cost proxy for the warm-up (None: off)
    warmup_size: int = 256
    warmup_steps: int = 100
    latency: str = "overlay"           # latency source (overlay table, HELP device or latency-table CSV)
    latency_max: float | None = None   # ms
    latency_model: str = "table"       # table | gcn
    hidden: int = 600
    layers: int = 4
    dropout: float = 0.2
    lr: float = 1e-3
    weight_decay: float = 5e-4

    def label(self) -> str:
        parts = ["brp-nas"]
        if self.warmup:
            parts.append(f"warmup={self.warmup}")
        if self.latency_max is not None:
            parts.append(f"lat<={self.latency_max:g}ms({self.latency},{self.latency_model})")
        return " ".join(parts)

    def binary_config(self) -> BinaryConfig:
        return BinaryConfig(self.hidden, self.layers, self.dropout, self.lr, self.weight_decay)

    def check(self) -> "BRPSpec":
        from nas.proxies import PROXIES
        from nas.strategies.space import DATASETS

        if self.budget < 2 or self.iterations < 1 or self.budget // self.iterations < 2:
            raise UserError(f"--budget {self.budget} over --iterations {self.iterations}: every iteration needs "
                            ">= 2 trained models")
        if self.steps < 1:
            raise UserError(f"--steps {self.steps}: give 1 or more training steps per iteration")
        if self.dataset not in DATASETS:
            raise UserError(f"unknown dataset '{self.dataset}'; choose one of {', '.join(DATASETS)}")
        if self.warmup is not None and self.warmup not in PROXIES:
            raise UserError(f"--warmup {self.warmup}: unknown proxy; choose one of {', '.join(PROXIES)}")
        if self.warmup and (self.warmup_size < 2 or self.warmup_steps < 1):
            raise UserError("--warmup-size must be >= 2 and --warmup-steps >= 1")
        if self.latency_model not in ("table", "gcn"):
            raise UserError(f"--latency-model {self.latency_model}: use table or gcn")
        self.binary_config().check()
        return self


def candidate_cells(spec: BRPSpec) -> np.ndarray:
    """NB201 indices the search may propose: all cells, or those meeting the latency constraint."""
    from nas.spaces import nb201
    from nas.predictors.latency import search_latency

    table = search_latency(spec.latency)  # validates the source even when unconstrained
    if spec.latency_max is None:
        return np.arange(nb201.SIZE)
    lat = table if spec.latency_model == "table" else predicted_latency(spec.latency)
    cells = np.flatnonzero(lat <= spec.latency_max)
    if len(cells) < spec.budget:
        raise UserError(f"--latency-max {spec.latency_max} ms leaves {len(cells)} cells by the {spec.latency_model} "
                        f"latency of '{spec.latency}', fewer than the budget {spec.budget}; relax it")
    return cells


@cache
def predicted_latency(source: str, seed: int = 0) -> np.ndarray:
    """Latency (ms) of every NB201 cell predicted by a GCN trained on 900 cells of `source` (+100 validation)."""
    from nas.predictors.latency import fit_latency, latency_labels, split_cells
    from nas.spaces import nb201

    labels = latency_labels(source)
    sp = split_cells(labels, 900, 100, seed)
    pred, _ = fit_latency("gcn", sp.train, labels[sp.train], valid=sp.valid, valid_ms=labels[sp.valid], seed=seed)
    out = pred.predict(np.arange(nb201.SIZE))
    out.setflags(write=False)
    return out


def _percentiles(values: np.ndarray) -> np.ndarray:
    """Rank of each value scaled to [0, 100] (ties share their mean rank; NaN ranks lowest)."""
    from scipy.stats import rankdata

    v = np.where(np.isnan(values), -np.inf, values)
    r = rankdata(v, method="average")
    return 100.0 * (r - 1) / max(len(v) - 1, 1)


class BRPNAS(Strategy):
    """BRP-NAS iterative selection over a fixed candidate set (NB201 indices)."""

    name = "brp-nas"

    def __init__(self, spec: BRPSpec, candidates: np.ndarray, *,
                 scorer: Callable[[tuple[int, ...]], float] | None = None):
        self.spec = spec.check()
        self.candidates = np.asarray(candidates, dtype=np.int64)
        self.batch_size = spec.budget // spec.iterations
        self.scorer = scorer
        self.predictor: BinaryPredictor | None = None
        self.trained: list[int] = []            # cells selected so far, in order
        self.values: dict[int, float] = {}      # cell -> told accuracy
        self.pending: list[int] = []
        self.log: list[dict[str, Any]] = []     # per iteration: training and selection summary

    # -- selection -----------------------------------------------------------------------------------------------
    def _predictor(self, rng: np.random.Generator) -> BinaryPredictor:
        if self.predictor is None:
            self.predictor = BinaryPredictor(self.spec.binary_config(), seed=int(rng.integers(2 ** 62)))
        return self.predictor

    def _warmup(self, rng: np.random.Generator) -> dict[str, Any]:
        from nas.spaces import nb201

        if self.scorer is None:
            from nas.strategies.scores import ProxyScorer

            self.scorer = ProxyScorer(self.spec.warmup)
        n = min(self.spec.warmup_size, len(self.candidates))
        pool = rng.choice(self.candidates, size=n, replace=False)
        scores = np.array([self.scorer(nb201.as_ops(int(c))) for c in pool], dtype=np.float64)
        return self._predictor(rng).fit(pool, _percentiles(scores), self.spec.warmup_steps)

    def _select(self, it: int, rng: np.random.Generator) -> list[int]:
        b = self.batch_size
        seen = set(self.trained)
        if it == 0 and not self.spec.warmup:
            pool = self.candidates[~np.isin(self.candidates, list(seen))]
            self.log.append({"iteration": 0, "selection": "random"})
            return [int(c) for c in rng.choice(pool, size=b, replace=False)]
        pred = self._predictor(rng)
        if it == 0:
            fit = self._warmup(rng)
        else:
            cells = [c for c in self.trained if c in self.values]
            fit = pred.fit(cells, [self.values[c] for c in cells], self.spec.steps * it) if len(cells) >= 2 else {}
        scores = pred.scores(self.candidates)
        order = np.argsort(-scores, kind="stable")
        chosen: list[int] = []
        for k in order:
            if len(chosen) == b // 2:
                break
            c = int(self.candidates[k])
            if c not in seen:
                chosen.append(c)
        taken = seen | set(chosen)
        threshold = scores[order[min(len(order) // 2 ** max(it, 1), len(order) - 1)]]
        above = [int(c) for c in self.candidates[scores > threshold] if int(c) not in taken]
        need = b - len(chosen)
        if len(above) < need:  # too few above the threshold: fall back to any untrained candidate
            above = [int(c) for c in self.candidates if int(c) not in taken]
        chosen += [int(c) for c in rng.choice(above, size=min(need, len(above)), replace=False)]
        self.log.append({"iteration": it, "selection": "predicted", "trained_on": len(self.values),
                         **{k: v for k, v in fit.items()}})
        return chosen

    # -- ask / tell ----------------------------------------------------------------------------------------------
    def ask(self, index: int, rng: np.random.Generator) -> dict[str, Any] | None:
        from nas.spaces import nb201

        if index >= self.batch_size * self.spec.iterations:
            return None
        if index % self.batch_size == 0:
            self.pending = self._select(index // self.batch_size, rng)
            self.trained.extend(self.pending)
        if not self.pending:
            return None
        cell = self.pending.pop(0)
        return {"arch": nb201.to_str(nb201.as_ops(cell)), "index": cell}

    def tell(self, trial: Trial) -> None:
        if trial.metrics is None:
            return
        v = trial.metrics.get("accuracy")
        if isinstance(v, (int, float)) and not math.isnan(v):
            self.values[int(trial.config["index"])] = float(v)

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"spec": asdict(self.spec), "candidates": int(len(self.candidates))}

    # -- snapshots -----------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"trained": list(self.trained), "values": dict(self.values), "pending": list(self.pending),
                "log": list(self.log), "predictor": self.predictor.state_dict() if self.predictor else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.trained, self.values = list(state["trained"]), dict(state["values"])
        self.pending, self.log = list(state["pending"]), list(state["log"])
        if state["predictor"] is None:
            self.predictor = None
        else:
            cfg = BinaryConfig(**state["predictor"]["config"])
            self.predictor = BinaryPredictor(cfg, seed=0)
            self.predictor.load_state_dict(state["predictor"])


def study_name(prefix: str, seed: int) -> str:
    return f"{prefix}-s{seed}"


def run_brp_searches(spec: BRPSpec, store, seeds: Iterable[int], *, prefix: str | None = None, executor=None,
                     resume: bool = False, quiet: bool = True,
                     scorer: Callable[[tuple[int, ...]], float] | None = None) -> dict[int, list[float]]:
    """One BRP-NAS study per seed (named `<prefix>-s<seed>`) in the trial store; returns the accuracy of every
    trained model in order, per seed (the same shape as `nas.strategies.run_searches`)."""
    from nas.runtime import TrialStore, run_study
    from nas.strategies.space import NB201Objective

    spec.check()
    prefix = prefix or spec.label().replace(" ", "_")
    cells = candidate_cells(spec)
    objective = NB201Objective(spec.dataset, spec.latency)
    own = not isinstance(store, TrialStore)
    st = TrialStore(Path(store)) if own else store
    out: dict[int, list[float]] = {}
    try:
        for seed in seeds:
            strategy = BRPNAS(spec, cells, scorer=scorer)
            cfg = {k: v for k, v in asdict(spec).items() if k != "budget"}
            result = run_study(st, study_name(prefix, int(seed)), strategy, objective, n_trials=spec.budget,
                               objectives={"accuracy": "max", "latency_ms": "min"}, seed=int(seed), config=cfg,
                               executor=executor, resume=resume, quiet=quiet, checkpoint_seconds=0.0)
            out[int(seed)] = [float(t.metrics["accuracy"]) if t.metrics else math.nan for t in result.trials]
    finally:
        if own:
            st.close()
    return out
