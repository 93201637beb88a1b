"""The interface a search strategy implements, a small space description, and two reference strategies.

A strategy is ask/tell: `ask(index, rng)` proposes the candidate of trial `index` (or None when it has nothing
left), `tell(trial)` receives an evaluated trial. The study loop (`nas.runtime.study.run_study`) asks
`batch_size` candidates, evaluates them (possibly in parallel), then tells them in index order. To make
`--resume` exact, a strategy must be deterministic given the `rng` it is handed and the trials it was told: no
other randomness, no wall-clock, no dependence on how many workers evaluate. The loop then rebuilds a strategy's
state on resume by replaying ask/tell over the stored trials, and checks that every re-asked candidate equals the
stored one.

Candidates are JSON values (typically a dict of numbers and strings); `tell` sees them, and the metrics, as they
read back from the store (tuples become lists), both in a fresh run and on replay.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from compiler.errors import UserError
from nas.runtime.store import Direction, Trial


# --- spaces -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Choice:
    """One of a fixed list of values (numbers, strings or booleans)."""

    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not self.values:
            raise UserError("Choice needs at least one value")

    def sample(self, rng: np.random.Generator) -> Any:
        return self.values[int(rng.integers(len(self.values)))]

    def describe(self) -> dict[str, Any]:
        return {"choice": list(self.values)}


@dataclass(frozen=True)
class IntRange:
    """An integer in [low, high], both included."""

    low: int
    high: int

    def __post_init__(self) -> None:
        if self.high < self.low:
            raise UserError(f"IntRange({self.low}, {self.high}): high must be >= low")

    def sample(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.low, self.high + 1))

    def describe(self) -> dict[str, Any]:
        return {"int": [self.low, self.high]}


@dataclass(frozen=True)
class FloatRange:
    """A float in [low, high); `log=True` samples uniformly in log space (low must be > 0)."""

    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        if not self.high > self.low or (self.log and self.low <= 0):
            raise UserError(f"FloatRange({self.low}, {self.high}, log={self.log}): need high > low"
                            + (" and low > 0" if self.log else ""))

    def sample(self, rng: np.random.Generator) -> float:
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))

    def describe(self) -> dict[str, Any]:
        return {"float": [self.low, self.high], "log": self.log}


Param = Choice | IntRange | FloatRange


def space_from(spec: Mapping[str, Param | Sequence[Any]]) -> dict[str, Param]:
    """Normalise a space: a list or tuple of values is a `Choice`."""
    out: dict[str, Param] = {}
    for name, p in spec.items():
        if isinstance(p, (Choice, IntRange, FloatRange)):
            out[name] = p
        elif isinstance(p, (list, tuple)):
            out[name] = Choice(tuple(p))
        else:
            raise UserError(f"space parameter '{name}' = {p!r}: give a list of values, Choice, IntRange or FloatRange")
    if not out:
        raise UserError("search space is empty: give at least one parameter")
    return out


def describe_space(space: Mapping[str, Param]) -> dict[str, Any]:
    return {name: p.describe() for name, p in space.items()}


def sample(space: Mapping[str, Param], rng: np.random.Generator) -> dict[str, Any]:
    """One candidate, parameters drawn in the space's order."""
    return {name: p.sample(rng) for name, p in space.items()}


# --- strategies -------------------------------------------------------------------------------------------------
class Strategy(ABC):
    """Base class of search strategies (see the module docstring for the determinism contract).

    `batch_size`: how many candidates are asked before the next tell; it is part of the study's configuration
    (it changes what an adaptive strategy proposes) and is independent of the number of workers.
    """

    name: ClassVar[str] = "strategy"
    batch_size: int = 1

    @abstractmethod
    def ask(self, index: int, rng: np.random.Generator) -> Any | None:
        """The candidate of trial `index`, drawn with `rng` only; None when the strategy is exhausted."""

    def tell(self, trial: Trial) -> None:
        """An evaluated trial (complete or failed), in index order. The default ignores it."""

    def describe(self) -> dict[str, Any]:
        """JSON description of the strategy's settings, stored with the study and compared on resume."""
        return {"name": self.name, "batch_size": self.batch_size}

    # Optional snapshots, for strategies whose replay is expensive (e.g. they retrain a predictor every batch).
    # A strategy that overrides both is restored from its latest snapshot on resume instead of replaying every
    # stored trial; the snapshot must capture everything `ask` depends on. It is pickled into the store.
    def state_dict(self) -> Any:
        """A picklable snapshot of the state built by `tell` (only called when overridden)."""
        raise NotImplementedError

    def load_state_dict(self, state: Any) -> None:
        """Restore a snapshot taken by `state_dict`."""
        raise NotImplementedError

    @property
    def snapshots(self) -> bool:
        return type(self).state_dict is not Strategy.state_dict


class RandomSearch(Strategy):
    """Independent uniform samples of the space; results do not depend on `batch_size`."""

    name = "random"

    def __init__(self, space: Mapping[str, Param | Sequence[Any]], *, batch_size: int = 64):
        self.space = space_from(space)
        self.batch_size = batch_size

    def ask(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        return sample(self.space, rng)

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"space": describe_space(self.space)}


class MutationSearch(Strategy):
    """Greedy local search: `n_random` random candidates, then one-parameter mutations of the best so far.

    Its proposals depend on what it was told, so it exercises the replay on resume. `metric`/`direction` name the
    objective it improves; failed trials are ignored.
    """

    name = "mutation"

    def __init__(self, space: Mapping[str, Param | Sequence[Any]], *, metric: str, direction: Direction = "min",
                 n_random: int = 8, batch_size: int = 4):
        self.space = space_from(space)
        self.metric, self.direction = metric, direction
        self.n_random, self.batch_size = n_random, batch_size
        self.best: tuple[float, dict[str, Any]] | None = None

    def ask(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        if index < self.n_random or self.best is None:
            return sample(self.space, rng)
        child = dict(self.best[1])
        name = list(self.space)[int(rng.integers(len(self.space)))]
        child[name] = self.space[name].sample(rng)
        return child

    def tell(self, trial: Trial) -> None:
        if trial.metrics is None or not isinstance(trial.metrics.get(self.metric), (int, float)):
            return
        value = float(trial.metrics[self.metric]) * (1 if self.direction == "min" else -1)
        if self.best is None or value < self.best[0]:
            self.best = (value, trial.config)

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"space": describe_space(self.space), "metric": self.metric,
                                     "direction": self.direction, "n_random": self.n_random}
