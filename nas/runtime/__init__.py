"""Search runtime: trial store with resume, executors, progress bars and plots (see docs/runtime.md).

Every search of the project runs through `run_study` with a `Strategy`, stores its trials in a `TrialStore`
and evaluates candidates on an `Executor` (in-process, process pool or Ray).
"""
from nas.runtime.executors import (EXECUTOR_KINDS, Executor, InProcessExecutor, PoolExecutor, RayExecutor,
                                   make_executor, sweep)
from nas.runtime.progress import bars_enabled, progress
from nas.runtime.store import StoreError, Study, Trial, TrialStore, code_version
from nas.runtime.strategy import (Choice, FloatRange, IntRange, MutationSearch, RandomSearch, Strategy, sample,
                                  space_from)
from nas.runtime.study import StudyResult, ask_rng, best_trial, run_study, trial_seed

__all__ = [
    "EXECUTOR_KINDS", "Executor", "InProcessExecutor", "PoolExecutor", "RayExecutor", "make_executor", "sweep",
    "bars_enabled", "progress",
    "StoreError", "Study", "Trial", "TrialStore", "code_version",
    "Choice", "FloatRange", "IntRange", "MutationSearch", "RandomSearch", "Strategy", "sample", "space_from",
    "StudyResult", "ask_rng", "best_trial", "run_study", "trial_seed",
]
