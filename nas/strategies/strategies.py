"""Search strategies over a cell space as ask/tell components of `nas.runtime`: random search, regularised
evolution and REINFORCE, each optionally guided by a zero-cost proxy (warm-up and move proposal).

Guidance follows the zero-cost-nas notebook (`notebooks/nas_examples.ipynb`, see docs/nas.md):
- warm-up: score `warmup` random cells with the proxy (no training); random search proposes them in
  descending proxy order, evolution takes the best `population` of them as its initial population, REINFORCE
  pre-trains its policy on them (reward-weighted likelihood of the pool, reward = centred proxy rank);
- move proposal: evolution mutates a parent into the best-scoring of its single-edge neighbours, REINFORCE
  proposes the best-scoring of `proposals` cells sampled from its policy; with probability `p_random` the
  plain (random) move is taken instead.
Every trial is one "trained model". A latency constraint is applied before training: strategies only propose
cells that satisfy `feasible`, so infeasible cells cost nothing.

Determinism: every random draw comes from the `rng` the runtime hands to `ask`; state changes only in
`ask`/`tell`, so `--resume` replays exactly.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from compiler.errors import UserError
from nas.runtime import Strategy, Trial
from nas.strategies.space import CellSpace, Ops

Scorer = Callable[[Ops], float]


@dataclass(frozen=True)
class Guidance:
    """Zero-cost guidance: `proxy` names the score, `warmup` is the pool size (0: off), `move` the move
    proposal; `p_random` the probability of a plain move instead of the guided one."""

    proxy: str
    score: Scorer
    warmup: int = 3000
    move: bool = False
    p_random: float = 0.25

    def describe(self) -> dict[str, Any]:
        return {"proxy": self.proxy, "warmup": self.warmup, "move": self.move, "p_random": self.p_random}


class CellStrategy(Strategy):
    """Shared helpers: feasible random cells, the warm-up pool, reading trials back."""

    metric = "accuracy"

    def __init__(self, space: CellSpace, *, guidance: Guidance | None = None,
                 feasible: Callable[[Ops], bool] | None = None, max_tries: int = 100_000):
        self.space = space
        self.guidance = guidance
        self.feasible = feasible
        self.max_tries = max_tries
        self.batch_size = 1

    def ok(self, ops: Ops) -> bool:
        return self.feasible is None or self.feasible(ops)

    def random_cell(self, rng: np.random.Generator) -> Ops:
        for _ in range(self.max_tries):
            ops = self.space.random(rng)
            if self.ok(ops):
                return ops
        raise UserError(f"no feasible cell found in {self.max_tries} random draws; relax the latency constraint")

    def warmup_pool(self, rng: np.random.Generator) -> list[Ops]:
        """`guidance.warmup` distinct feasible random cells, best proxy score first (ties keep draw order)."""
        g = self.guidance
        assert g is not None and g.warmup > 0
        seen: set[Ops] = set()
        pool: list[Ops] = []
        for _ in range(self.max_tries):
            if len(pool) == g.warmup:
                break
            ops = self.random_cell(rng)
            if ops not in seen:
                seen.add(ops)
                pool.append(ops)
        scores = [g.score(o) for o in pool]
        order = sorted(range(len(pool)), key=lambda k: -scores[k])
        return [pool[k] for k in order]

    def value(self, trial: Trial) -> float | None:
        if trial.metrics is None:
            return None
        v = trial.metrics.get(self.metric)
        return float(v) if isinstance(v, (int, float)) and not math.isnan(v) else None

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"space": self.space.name,
                                     "guidance": self.guidance.describe() if self.guidance else None,
                                     "constrained": self.feasible is not None}


class RandomSearch(CellStrategy):
    """Uniform random cells without repetition; with warm-up, the pool in descending proxy order first."""

    name = "rs"

    def __init__(self, space: CellSpace, **kw: Any):
        super().__init__(space, **kw)
        self.pool: list[Ops] | None = None
        self.seen: set[Ops] = set()

    def ask(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        if self.guidance and self.guidance.warmup and self.pool is None:
            self.pool = self.warmup_pool(rng)
        while self.pool:
            ops = self.pool.pop(0)
            if ops not in self.seen:
                self.seen.add(ops)
                return self.space.candidate(ops)
        for _ in range(self.max_tries):
            ops = self.random_cell(rng)
            if ops not in self.seen:
                self.seen.add(ops)
                return self.space.candidate(ops)
        raise UserError("random search: every feasible cell has been proposed")


class RegularizedEvolution(CellStrategy):
    """Aging evolution (Real et al. 2019): population `population`, tournament of `tournament` members,
    the child of the best tournament member replaces the oldest member."""

    name = "ae"

    def __init__(self, space: CellSpace, *, population: int = 20, tournament: int = 5, **kw: Any):
        super().__init__(space, **kw)
        if not 1 <= tournament <= population:
            raise UserError(f"tournament size {tournament} must be in 1..population ({population})")
        self.population, self.tournament = population, tournament
        self.members: deque[tuple[Ops, float]] = deque()
        self.pool: list[Ops] | None = None

    def ask(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        g = self.guidance
        if index < self.population or not self.members:
            if g and g.warmup:
                if self.pool is None:
                    self.pool = self.warmup_pool(rng)
                if self.pool:
                    return self.space.candidate(self.pool.pop(0))
            return self.space.candidate(self.random_cell(rng))
        picks = rng.choice(len(self.members), size=min(self.tournament, len(self.members)), replace=False)
        parent = max((self.members[int(k)] for k in picks), key=lambda m: m[1])[0]
        return self.space.candidate(self.mutate(parent, rng))

    def mutate(self, parent: Ops, rng: np.random.Generator) -> Ops:
        options = [o for o in self.space.neighbours(parent) if self.ok(o)]
        if not options:
            return self.random_cell(rng)
        g = self.guidance
        if g and g.move and rng.random() >= g.p_random:
            scores = [g.score(o) for o in options]
            return options[int(np.argmax(scores))]
        return options[int(rng.integers(len(options)))]

    def tell(self, trial: Trial) -> None:
        v = self.value(trial)
        if v is None:
            return
        self.members.append((self.space.ops_of(trial.config), v))
        if len(self.members) > self.population:
            self.members.popleft()

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"population": self.population, "tournament": self.tournament}


class Reinforce(CellStrategy):
    """REINFORCE with an independent categorical policy per edge (logits, Adam), reward = accuracy / 100,
    exponential-moving-average baseline (updated before the advantage is taken, as in NB201's code)."""

    name = "rl"

    def __init__(self, space: CellSpace, *, lr: float = 0.05, momentum: float = 0.9, proposals: int = 24,
                 warmup_steps: int = 10, **kw: Any):
        super().__init__(space, **kw)
        self.lr, self.momentum, self.proposals, self.warmup_steps = lr, momentum, proposals, warmup_steps
        self.theta = np.zeros((space.n_edges, space.n_ops))
        self._m = np.zeros_like(self.theta)
        self._v = np.zeros_like(self.theta)
        self._t = 0
        self.baseline: float | None = None
        self.pretrained = False

    def probs(self) -> np.ndarray:
        z = np.exp(self.theta - self.theta.max(1, keepdims=True))
        return z / z.sum(1, keepdims=True)

    def _grad_logp(self, ops: Ops) -> np.ndarray:
        g = -self.probs()
        g[np.arange(self.space.n_edges), list(ops)] += 1.0
        return g

    def _adam_ascent(self, grad: np.ndarray) -> None:
        b1, b2, eps = 0.9, 0.999, 1e-8
        self._t += 1
        self._m = b1 * self._m + (1 - b1) * grad
        self._v = b2 * self._v + (1 - b2) * grad * grad
        mh, vh = self._m / (1 - b1 ** self._t), self._v / (1 - b2 ** self._t)
        self.theta = self.theta + self.lr * mh / (np.sqrt(vh) + eps)

    def _sample(self, rng: np.random.Generator) -> Ops:
        p = self.probs()
        for _ in range(self.max_tries):
            u = rng.random(self.space.n_edges)
            ops = tuple(int(min(np.searchsorted(np.cumsum(p[e]), u[e], side="right"), self.space.n_ops - 1))
                        for e in range(self.space.n_edges))
            if self.ok(ops):
                return ops
        return self.random_cell(rng)

    def _pretrain(self, rng: np.random.Generator) -> None:
        pool = self.warmup_pool(rng)  # best first
        n = len(pool)
        reward = np.array([0.5 - k / max(n - 1, 1) for k in range(n)])  # centred rank in [-0.5, 0.5]
        onehots = np.zeros((n, self.space.n_edges, self.space.n_ops))
        for k, ops in enumerate(pool):
            onehots[k, np.arange(self.space.n_edges), list(ops)] = 1.0
        target = np.tensordot(reward, onehots, axes=1) / n
        for _ in range(self.warmup_steps):
            self._adam_ascent(target - reward.mean() * self.probs())

    def ask(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        g = self.guidance
        if g and g.warmup and not self.pretrained:
            self._pretrain(rng)
            self.pretrained = True
        ops = self._sample(rng)
        if g and g.move and rng.random() >= g.p_random:
            cands = [ops] + [self._sample(rng) for _ in range(self.proposals - 1)]
            scores = [g.score(o) for o in cands]
            ops = cands[int(np.argmax(scores))]
        return self.space.candidate(ops)

    def tell(self, trial: Trial) -> None:
        v = self.value(trial)
        if v is None:
            return
        reward = v / 100.0
        self.baseline = reward if self.baseline is None else self.momentum * self.baseline + (1 - self.momentum) * reward
        self._adam_ascent((reward - self.baseline) * self._grad_logp(self.space.ops_of(trial.config)))

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"lr": self.lr, "momentum": self.momentum, "proposals": self.proposals,
                                     "warmup_steps": self.warmup_steps}


STRATEGIES: dict[str, type[CellStrategy]] = {"rs": RandomSearch, "ae": RegularizedEvolution, "rl": Reinforce}
