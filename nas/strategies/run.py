"""NB201 searches on the runtime: one study per seed in a trial store, and search-curve summaries.

    spec = SearchSpec(strategy="ae", warmup="synflow", budget=100)
    runs = run_searches(spec, "out/nas.db", seeds=range(20))      # {seed: [accuracy of trial 0, 1, ...]}
    print(format_curve_table({"ae+warmup": list(runs.values())}, budgets=(10, 50, 100)))
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from compiler.errors import UserError
from nas.proxies import PROXIES
from nas.runtime import Executor, TrialStore, run_study
from nas.strategies.space import DATASETS, SPACES, NB201Objective, feasibility, latency_source
from nas.strategies.strategies import STRATEGIES, CellStrategy, Guidance


@dataclass(frozen=True)
class SearchSpec:
    """One search configuration (everything but the seed)."""

    strategy: str = "ae"              # rs | ae | rl
    space: str = "nb201"
    budget: int = 100                 # trained models per seed
    warmup: str | None = None         # proxy for the warm-up (None: off)
    warmup_size: int = 3000
    move: str | None = None           # proxy for the move proposal (None: off)
    p_random: float = 0.25
    dataset: str = "cifar10"
    latency: str = "overlay"          # latency source: overlay table, HELP device column, or a CSV
    latency_max: float | None = None  # ms
    population: int = 20              # evolution
    tournament: int = 5
    lr: float = 0.05                  # REINFORCE
    momentum: float = 0.9

    def label(self) -> str:
        parts = [self.strategy]
        if self.warmup:
            parts.append(f"warmup={self.warmup}")
        if self.move:
            parts.append(f"move={self.move}")
        if self.latency_max is not None:
            parts.append(f"lat<={self.latency_max:g}ms({self.latency})")
        return " ".join(parts)

    def check(self) -> None:
        if self.strategy not in STRATEGIES:
            raise UserError(f"unknown strategy '{self.strategy}'; choose one of {', '.join(STRATEGIES)}")
        if self.space not in SPACES:
            raise UserError(f"search space '{self.space}' has no accuracy oracle; choose one of {', '.join(SPACES)}")
        if self.dataset not in DATASETS:
            raise UserError(f"unknown dataset '{self.dataset}'; choose one of {', '.join(DATASETS)}")
        for what, proxy in (("--warmup", self.warmup), ("--move", self.move)):
            if proxy is not None and proxy not in PROXIES:
                raise UserError(f"{what} {proxy}: unknown proxy; choose one of {', '.join(PROXIES)}")
        if self.warmup and self.move and self.warmup != self.move:
            raise UserError(f"--warmup {self.warmup} and --move {self.move}: use one proxy for both")
        if self.budget < 1:
            raise UserError(f"--budget {self.budget}: give 1 or more trained models")
        if self.warmup and self.warmup_size < 1:
            raise UserError(f"--warmup-size {self.warmup_size}: give 1 or more cells")
        if self.strategy == "rs" and self.move:
            raise UserError("random search makes no moves: --move applies to ae and rl")
        latency_source(self.latency)


def make_strategy(spec: SearchSpec, scorer=None) -> CellStrategy:
    """The strategy object of a spec; `scorer(ops) -> float` overrides the proxy look-up (tests)."""
    spec.check()
    proxy = spec.warmup or spec.move
    guidance = None
    if proxy:
        if scorer is None:
            from nas.strategies.scores import ProxyScorer

            scorer = ProxyScorer(proxy)
        guidance = Guidance(proxy, scorer, warmup=spec.warmup_size if spec.warmup else 0, move=bool(spec.move),
                            p_random=spec.p_random)
    kw: dict[str, Any] = {"guidance": guidance, "feasible": feasibility(spec.latency, spec.latency_max)}
    space = SPACES[spec.space]
    if spec.strategy == "ae":
        return STRATEGIES["ae"](space, population=spec.population, tournament=spec.tournament, **kw)
    if spec.strategy == "rl":
        return STRATEGIES["rl"](space, lr=spec.lr, momentum=spec.momentum, **kw)
    return STRATEGIES["rs"](space, **kw)


def search_config(spec: SearchSpec) -> dict[str, Any]:
    """The study config stored with each seed's study: the spec without the budget, which may grow on resume."""
    return {k: v for k, v in asdict(spec).items() if k != "budget"}


def study_name(prefix: str, seed: int) -> str:
    return f"{prefix}-s{seed}"


def run_searches(spec: SearchSpec, store: TrialStore | str | Path, seeds: Iterable[int], *, prefix: str | None = None,
                 executor: Executor | None = None, resume: bool = False, quiet: bool = True,
                 scorer=None) -> dict[int, list[float]]:
    """Run one study per seed (named `<prefix>-s<seed>`, prefix default `spec.label()`); returns the accuracy
    of every trained model in order, per seed."""
    spec.check()
    prefix = prefix or spec.label().replace(" ", "_")
    objective = NB201Objective(spec.dataset, spec.latency)
    own = not isinstance(store, TrialStore)
    st = TrialStore(store) if own else store
    out: dict[int, list[float]] = {}
    try:
        for seed in seeds:
            strategy = make_strategy(spec, scorer)
            result = run_study(st, study_name(prefix, seed), strategy, objective, n_trials=spec.budget,
                               objectives={"accuracy": "max", "latency_ms": "min"}, seed=int(seed),
                               config=search_config(spec), executor=executor, resume=resume, quiet=quiet)
            out[int(seed)] = [float(t.metrics["accuracy"]) if t.metrics else math.nan for t in result.trials]
    finally:
        if own:
            st.close()
    return out


def best_curves(runs: Sequence[Sequence[float]]) -> np.ndarray:
    """(seeds, budget) best-so-far accuracy per run (cut to the shortest run)."""
    from nas.runtime.plots import best_so_far

    n = min(len(r) for r in runs)
    return np.stack([best_so_far(list(r)[:n], "max") for r in runs])


def curve_rows(curves: Mapping[str, Sequence[Sequence[float]]], budgets: Sequence[int]) -> list[dict[str, Any]]:
    """One row per (label, budget): mean, std, min, max of the best accuracy after `budget` trained models."""
    rows = []
    for label, runs in curves.items():
        b = best_curves(runs)
        for n in budgets:
            if n <= b.shape[1]:
                col = b[:, n - 1]
                rows.append({"search": label, "trained": n, "seeds": len(runs), "mean": float(np.mean(col)),
                             "std": float(np.std(col)), "min": float(np.min(col)), "max": float(np.max(col))})
    return rows


def format_curve_table(curves: Mapping[str, Sequence[Sequence[float]]], budgets: Sequence[int],
                       optimum: float | None = None) -> str:
    """Best accuracy (mean ± std over seeds) after each budget, one column per budget."""
    rows = curve_rows(curves, budgets)
    shown = [n for n in budgets if any(r["trained"] == n for r in rows)]
    width = max([len(k) for k in curves] + [6])
    head = f"{'search':<{width}}  seeds  " + "  ".join(f"{'@' + str(n):>13}" for n in shown)
    lines = [head, "-" * len(head)]
    for label in curves:
        cells = {r["trained"]: r for r in rows if r["search"] == label}
        seeds = next(iter(cells.values()))["seeds"] if cells else 0
        vals = "  ".join(f"{cells[n]['mean']:7.2f}±{cells[n]['std']:5.2f}" if n in cells else " " * 13 for n in shown)
        lines.append(f"{label:<{width}}  {seeds:5d}  {vals}")
    if optimum is not None:
        lines.append(f"(best accuracy in the searched set: {optimum:.2f})")
    return "\n".join(lines)


def curve_milestones(curves: Mapping[str, Sequence[Sequence[float]]], targets: Sequence[float],
                     optimum: float) -> list[dict[str, Any]]:
    """Per search: the number of trained models after which the mean (over seeds) best accuracy first reaches
    each target (None: not within the budget), and the fraction of seeds whose best equals `optimum` at the end
    of the shortest run."""
    out = []
    for label, runs in curves.items():
        n = min(len(r) for r in runs)
        best = np.array([np.maximum.accumulate(np.asarray(r[:n], dtype=float)) for r in runs])
        mean = best.mean(axis=0)
        reach = {}
        for t in targets:
            k = np.flatnonzero(mean >= t - 1e-9)
            reach[t] = int(k[0]) + 1 if len(k) else None
        out.append({"search": label, "seeds": len(runs), "budget": n, "reach": reach,
                    "found_optimum": float(np.mean(best[:, -1] >= optimum - 1e-9))})
    return out


def format_milestones(rows: Sequence[Mapping[str, Any]], optimum: float) -> str:
    targets = list(rows[0]["reach"]) if rows else []
    width = max([len(r["search"]) for r in rows] + [6])
    head = (f"{'search':<{width}}  " + "  ".join(f"{'to ' + format(t, '.2f'):>8}" for t in targets)
            + f"  {'found ' + format(optimum, '.2f'):>12}")
    lines = [head, "-" * len(head)]
    for r in rows:
        vals = "  ".join(f"{'>' + str(r['budget']) if r['reach'][t] is None else r['reach'][t]:>8}" for t in targets)
        lines.append(f"{r['search']:<{width}}  {vals}  {100 * r['found_optimum']:11.0f}%")
    return "\n".join(lines)


def feasible_optimum(spec: SearchSpec) -> float:
    """The best benchmark accuracy among the cells a search may propose (all, or those within latency_max)."""
    from nas.data import nb201_table

    acc = nb201_table().accuracy(spec.dataset)
    if spec.latency_max is None:
        return float(acc.max())
    return float(acc[latency_source(spec.latency) <= spec.latency_max].max())
