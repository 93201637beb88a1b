"""The study loop: ask a batch, evaluate it on an executor, store every trial, tell, repeat; resumable.

    from nas.runtime import FloatRange, RandomSearch, TrialStore, make_executor, run_study

    def objective(config, seed):                     # module level, so worker processes can import it
        return {"loss": (config["x"] - 1) ** 2}

    with TrialStore("out/search.db") as store, make_executor("pool", workers=2) as ex:
        result = run_study(store, "rs-0", RandomSearch({"x": FloatRange(-5, 5)}), objective,
                           n_trials=1000, objectives={"loss": "min"}, seed=0, executor=ex, resume=True)
    print(result.best())

Determinism: trial `i` of a study with seed `s` asks its candidate with `ask_rng(s, i)` and is evaluated with
`trial_seed(s, i)`; batches are `batch_size` consecutive indices, evaluated (in any order, on any executor) and
then told in index order. `resume=True` replays the stored trials through ask/tell (checking that every
re-asked candidate equals the stored one), evaluates only the trials that are missing, and continues: the final
store holds the same trials as an uninterrupted run.
"""
from __future__ import annotations

import math
import pickle
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from compiler.errors import UserError
from nas.runtime.executors import Executor, InProcessExecutor
from nas.runtime.progress import progress
from nas.runtime.store import Direction, StoreError, Study, Trial, TrialStore, canonical, code_version
from nas.runtime.strategy import Strategy

Objective = Callable[[Any, int], Mapping[str, Any]]


def ask_rng(study_seed: int, index: int) -> np.random.Generator:
    """The generator a strategy draws trial `index`'s candidate with."""
    return np.random.default_rng(np.random.SeedSequence(study_seed, spawn_key=(0, index)))


def trial_seed(study_seed: int, index: int) -> int:
    """The seed trial `index` is evaluated with (63-bit, independent of the ask stream)."""
    return int(np.random.SeedSequence(study_seed, spawn_key=(1, index)).generate_state(1, np.uint64)[0] >> 1)


@dataclass(frozen=True)
class Evaluate:
    """Runs the objective on one (candidate, seed) item where the executor puts it; never raises.

    Returns (metrics, error, started, finished): metrics as they read back from the store, or None and
    "ExceptionType: message" when the objective raised or returned something that is not a dict of JSON values.
    """

    objective: Objective

    def __call__(self, item: tuple[Any, int]) -> tuple[dict[str, Any] | None, str | None, float, float]:
        config, seed = item
        started = time.time()
        try:
            out = self.objective(config, seed)
            if not isinstance(out, Mapping):
                raise TypeError(f"objective returned {type(out).__name__}, expected a dict of metrics")
            metrics, error = canonical(dict(out)), None
        except Exception as exc:  # a failing candidate is a result, not a crash of the search
            metrics, error = None, f"{type(exc).__name__}: {exc}"
        return metrics, error, started, time.time()


@dataclass(frozen=True)
class StudyResult:
    study: Study
    trials: list[Trial]
    evaluated: int            # trials evaluated by this call
    replayed: int             # stored trials replayed through the strategy on resume

    def best(self, metric: str | None = None, direction: Direction | None = None) -> Trial | None:
        """The best complete trial on `metric` (default: the study's primary objective)."""
        return best_trial(self.trials, *_metric(self.study, metric, direction))


def best_trial(trials: list[Trial], metric: str, direction: Direction) -> Trial | None:
    sign = 1.0 if direction == "min" else -1.0
    scored = [(sign * float(t.metrics[metric]), t.index, t) for t in trials
              if t.metrics and isinstance(t.metrics.get(metric), (int, float)) and not math.isnan(t.metrics[metric])]
    return min(scored, key=lambda s: s[:2])[2] if scored else None


def _metric(study: Study, metric: str | None, direction: Direction | None) -> tuple[str, Direction]:
    if metric is None:
        if study.primary is None:
            raise UserError(f"study '{study.name}' declares no objectives: name the metric")
        metric, direction = study.primary
    return metric, direction or study.objectives.get(metric, "min")


def _qualname(fn: Callable) -> str:
    fn = getattr(fn, "func", fn)
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__qualname__)}"


def study_config(strategy: Strategy, objective: Objective, config: Mapping[str, Any] | None,
                 batch_size: int) -> dict[str, Any]:
    """What identifies a study's search (compared on resume); `n_trials` is kept aside and may grow."""
    return canonical({"strategy": strategy.describe(), "objective": _qualname(objective),
                      "search": dict(config or {}), "batch_size": batch_size})


def _diff(old: Any, new: Any, path: str = "") -> list[str]:
    """Dotted paths where two JSON values differ, with both values."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for k in sorted(set(old) | set(new), key=str)
                for d in _diff(old.get(k), new.get(k), f"{path}.{k}" if path else str(k))]
    return [] if old == new else [f"{path or 'config'}: stored {old!r:.60}, now {new!r:.60}"]


def _open_study(store: TrialStore, name: str, cfg: dict[str, Any], objectives: dict[str, Direction], seed: int,
                n_trials: int, resume: bool) -> Study:
    study = store.get_study(name)
    if study is None:
        return store.create_study(name, config=cfg | {"n_trials": n_trials}, objectives=objectives, seed=seed)
    if not resume:
        raise StoreError(f"study '{name}' already exists in {store.path} ({study.n_trials} trials): pass "
                         "resume=True (--resume) to continue it, or choose another study name")
    stored = {k: v for k, v in study.config.items() if k != "n_trials"}
    diffs = _diff(stored, cfg)
    if study.seed != seed:
        diffs.insert(0, f"seed (stored {study.seed}, now {seed})")
    if study.objectives != objectives:
        diffs.append(f"objectives (stored {study.objectives}, now {objectives})")
    if diffs:
        raise StoreError(f"study '{name}' in {store.path} was created with a different configuration "
                         f"({'; '.join(map(str, diffs))}): resume with the same arguments or choose another name")
    version = code_version()
    if version != study.code_version:
        warnings.warn(f"study '{name}' was started by {study.code_version} and resumes under {version}",
                      stacklevel=3)
    store.set_status(study, "running")
    return study


def _restore(store: TrialStore, study: Study, strategy: Strategy, stored: dict[int, Trial], n_trials: int,
             batch: int) -> int:
    """Load the strategy's latest snapshot if it is usable; the index to continue from (0: replay all)."""
    cp = store.checkpoint(study)
    if cp is None:
        return 0
    nxt, blob = cp
    if nxt > n_trials or nxt % batch or any(i not in stored for i in range(nxt)):
        return 0
    strategy.load_state_dict(pickle.loads(blob))
    return nxt


def run_study(store: TrialStore | str | Path, name: str, strategy: Strategy, objective: Objective, *,
              n_trials: int, objectives: Mapping[str, Direction], seed: int = 0,
              config: Mapping[str, Any] | None = None, batch_size: int | None = None,
              executor: Executor | None = None, resume: bool = False, quiet: bool = False,
              max_initial_failures: int = 10, checkpoint_seconds: float = 60.0) -> StudyResult:
    """Run (or resume) study `name` until it holds `n_trials` trials or the strategy is exhausted.

    objective(candidate, seed) -> dict of JSON metrics; exceptions it raises become failed trials.
    objectives: metric name -> "min"/"max", the first is the primary (progress, `best()`, plots).
    config: the search's own settings (dataset, arch, ...), stored with the study and compared on resume.
    batch_size: candidates per ask round (default `strategy.batch_size`); part of the study's identity.
    executor: where evaluations run (default in-process); it is not closed here.
    max_initial_failures: stop with a `UserError` when this many trials failed before any succeeded.
    checkpoint_seconds: for strategies with snapshots (`Strategy.state_dict`), the least time between two
        snapshots written to the store (at batch boundaries; 0: after every batch). Resuming restores the latest
        snapshot and replays only the trials after it.
    """
    if n_trials < 0:
        raise UserError(f"n_trials = {n_trials}: give 0 or more trials")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UserError(f"seed = {seed!r}: give a non-negative integer")
    batch = int(batch_size or strategy.batch_size)
    if batch < 1:
        raise UserError(f"batch_size = {batch}: give 1 or more")
    own_store = not isinstance(store, TrialStore)
    st = TrialStore(store) if own_store else store
    ex = executor or InProcessExecutor()
    try:
        return _run(st, name, strategy, Evaluate(objective), n_trials=n_trials, objectives=dict(objectives),
                    seed=int(seed), cfg=study_config(strategy, objective, config, batch), batch=batch, ex=ex,
                    resume=resume, quiet=quiet, max_initial_failures=max_initial_failures,
                    checkpoint_seconds=checkpoint_seconds)
    finally:
        if own_store:
            st.close()


def _run(store: TrialStore, name: str, strategy: Strategy, evaluate: Evaluate, *, n_trials: int,
         objectives: dict[str, Direction], seed: int, cfg: dict[str, Any], batch: int, ex: Executor, resume: bool,
         quiet: bool, max_initial_failures: int, checkpoint_seconds: float) -> StudyResult:
    study = _open_study(store, name, cfg, objectives, seed, n_trials, resume)
    stored = {t.index: t for t in store.trials(study)}
    primary = study.primary
    done: list[Trial] = []
    evaluated = replayed = failed = 0
    first_error: str | None = None
    best: Trial | None = None
    bar = progress(total=n_trials, desc=f"study {name}", quiet=quiet, unit="trial",
                   initial=sum(i < n_trials for i in stored))

    def account(trial: Trial) -> None:
        nonlocal failed, first_error, best
        done.append(trial)
        if trial.status == "failed":
            failed += 1
            first_error = first_error or trial.error
        elif primary and (b := best_trial([trial] + ([best] if best else []), *primary)) is not best:
            best = b
            bar.set_postfix({primary[0]: b.metrics[primary[0]]}, refresh=False)  # type: ignore[index]

    try:
        index = _restore(store, study, strategy, stored, n_trials, batch) if resume and strategy.snapshots else 0
        for i in range(index):
            account(stored[i])
        replayed += index
        last_snapshot = time.monotonic()
        while index < n_trials:
            asked: list[tuple[int, Any]] = []
            for i in range(index, min(index + batch, n_trials)):
                cand = strategy.ask(i, ask_rng(seed, i))
                if cand is None:
                    break
                asked.append((i, cand))
            for i, cand in asked:
                if i in stored and canonical(cand) != stored[i].config:
                    raise StoreError(f"study '{name}': resumed strategy asked {canonical(cand)!r:.120} for trial {i}"
                                     f" but the store holds {stored[i].config!r:.120}; the strategy is not "
                                     "deterministic (use only the rng handed to ask) or its settings changed")
            todo = [(i, cand, trial_seed(seed, i)) for i, cand in asked if i not in stored]
            fresh: dict[int, Trial] = {}
            for chunk in ex.map_chunks(evaluate, [(cand, s) for _, cand, s in todo]):
                trials = []
                for pos, (metrics, error, t0, t1) in chunk:
                    i, cand, s = todo[pos]
                    trials.append(Trial(i, canonical(cand), metrics, s, "failed" if error else "complete", t0, t1,
                                        error))
                store.add_trials(study, trials)
                fresh.update((t.index, t) for t in trials)
                bar.update(len(trials))
            evaluated += len(todo)
            replayed += len(asked) - len(todo)
            for i, _ in asked:
                trial = fresh.get(i) or stored[i]
                strategy.tell(trial)
                account(trial)
            end = index + len(asked)
            if (strategy.snapshots and end % batch == 0 and todo
                    and (time.monotonic() - last_snapshot >= checkpoint_seconds or end >= n_trials)):
                store.save_checkpoint(study, end, pickle.dumps(strategy.state_dict()))
                last_snapshot = time.monotonic()
            if failed >= max_initial_failures and failed == len(done):
                store.set_status(study, "failed")
                raise UserError(f"study '{name}': the first {failed} trials all failed; first error: {first_error}")
            if len(asked) < min(batch, n_trials - index):
                break  # strategy exhausted
            index += len(asked)
    finally:
        bar.close()
    store.set_status(study, "finished")
    return StudyResult(store.study(name), done, evaluated, replayed)
