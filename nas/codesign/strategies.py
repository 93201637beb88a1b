"""Co-design search strategies as `nas.runtime` strategies: Codesign-NAS's three REINFORCE strategies
(combined, phase, separate), random search and NSGA-II.

A candidate is `{"cell": [6 NB201 op codes], "hw": [one value index per HW_PARAMS entry]}`: every strategy
proposes in this encoding, so a proposal can be an illegal configuration (k_vector not a multiple of c_vector,
Winograd with q_vector 1) or an illegal pair (an avg_pool edge without the pool kernel); such a proposal costs one
trial, as a constraint violation does. `CodesignObjective` evaluates a candidate on a `JointSpace` and returns
its objectives and the scalar reward the controllers learn from:

    reward = w_acc * acc_n - w_lat * lat_n - w_area * area_n          (legal, constraints met)
    reward = -1 - violation                                          (constraints violated: punishment)
    reward = -2                                                      (illegal configuration or pair)

with acc_n, lat_n (log latency) and area_n normalised to [0, 1] by the space's bounds.

Controllers (Zoph and Le style): an LSTM (numpy, hidden 64) emits one decision per step, each step's input the
embedding of the previous decision; trained by REINFORCE with an exponential moving-average baseline and an
entropy bonus, one Adam step per batch. *combined*: one controller emits the cell and the configuration (16 decisions). *separate*:
a cell controller and a configuration controller sample their halves together and learn from the same reward.
*phase*: the same two controllers take turns, `phase_batches` batches each: while one searches its half, the
other half is held at the best pair found so far, and only the active controller learns.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from nas.codesign.hwspace import HW_PARAMS
from nas.codesign.joint import Constraints, JointSpace
from nas.runtime import Strategy, Trial
from nas.spaces import nb201

CELL_CHOICES = (len(nb201.OPS),) * len(nb201.EDGES)
HW_CHOICES = tuple(len(p.values) for p in HW_PARAMS)
ILLEGAL_REWARD = -2.0


def candidate(cell: Sequence[int], hw: Sequence[int]) -> dict[str, Any]:
    return {"cell": [int(x) for x in cell], "hw": [int(x) for x in hw]}


# --- the objective ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Weights:
    accuracy: float = 1.0
    latency: float = 1.0
    area: float = 1.0


class CodesignObjective:
    """Evaluates candidates on a joint space (in-process: it holds the space's cost tables)."""

    __name__ = "codesign"

    def __init__(self, js: JointSpace, bounds: dict[str, tuple[float, float]], *,
                 constraints: Constraints = Constraints(), weights: Weights = Weights()):
        self.js = js
        self.bounds = bounds
        self.constraints = constraints
        self.weights = weights

    def normalised(self, accuracy: float, latency: float, area: float) -> tuple[float, float, float]:
        (a0, a1), (l0, l1), (r0, r1) = self.bounds["accuracy"], self.bounds["latency"], self.bounds["area"]
        return ((accuracy - a0) / (a1 - a0), (math.log(latency) - math.log(l0)) / (math.log(l1) - math.log(l0)),
                (area - r0) / (r1 - r0))

    def __call__(self, cand: dict[str, Any], seed: int) -> dict[str, Any]:
        cell = nb201.to_index(cand["cell"])
        p = self.js.hw.find(cand["hw"])
        if p is None:
            return {"legal": 0, "feasible": 0, "reward": ILLEGAL_REWARD, "reason": "illegal configuration"}
        o = self.js.evaluate(cell, p)
        if not o.legal:
            return {"legal": 0, "feasible": 0, "reward": ILLEGAL_REWARD, "hw_index": p, "cell_index": cell,
                    "reason": self.js.illegal_reason(cell, p)}
        viol = self.constraints.violation(o.latency, o.area, o.fits)
        if viol > 0:
            reward = -1.0 - viol
        else:
            an, ln, rn = self.normalised(o.accuracy, o.latency, o.area)
            w = self.weights
            reward = w.accuracy * an - w.latency * ln - w.area * rn
        return {"legal": 1, "feasible": int(viol == 0), "reward": float(reward), "accuracy": o.accuracy,
                "latency_ms": 1e3 * o.latency, "area": o.area, "perf_per_area": o.perf_per_area,
                "fits": int(o.fits), "violation": float(viol), "cell_index": cell, "hw_index": p}


# --- random search ------------------------------------------------------------------------------------------------
class RandomPairs(Strategy):
    """Uniform over cells and over the legal configurations."""

    name = "random"

    def __init__(self, js: JointSpace, batch_size: int = 64):
        self.js = js
        self.batch_size = batch_size

    def ask(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        cell = nb201.as_ops(int(rng.integers(nb201.SIZE)))
        p = int(rng.integers(len(self.js.hw)))
        return candidate(cell, self.js.hw.value_index[p])

    def tell(self, trial: Trial) -> None:
        pass


# --- NSGA-II ---------------------------------------------------------------------------------------------------------
def _objs(m: dict[str, Any] | None) -> tuple[np.ndarray, float]:
    """(minimised objectives, constraint violation) of a trial's metrics; illegal = violation 10."""
    if not m or not m.get("legal"):
        return np.array([np.inf] * 3), 10.0
    return np.array([-m["accuracy"], m["latency_ms"], m["area"]]), float(m["violation"])


def nondominated_sort(f: np.ndarray) -> list[np.ndarray]:
    """Fronts (index arrays) of rows of f (minimised), best first."""
    n = len(f)
    le = (f[:, None, :] <= f[None, :, :]).all(-1)
    lt = (f[:, None, :] < f[None, :, :]).any(-1)
    dom = le & lt                          # dom[i, j]: i dominates j
    count = dom.sum(0)
    fronts = []
    remaining = np.ones(n, dtype=bool)
    while remaining.any():
        cur = np.flatnonzero(remaining & (count == 0))
        fronts.append(cur)
        remaining[cur] = False
        count = count - dom[cur].sum(0)
        count[~remaining] = -1
    return fronts


def crowding(f: np.ndarray) -> np.ndarray:
    n, m = f.shape
    d = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for k in range(m):
        o = np.argsort(f[:, k], kind="stable")
        span = f[o[-1], k] - f[o[0], k]
        d[o[0]] = d[o[-1]] = np.inf
        if span > 0:
            d[o[1:-1]] += (f[o[2:], k] - f[o[:-2], k]) / span
    return d


class NSGA2(Strategy):
    """NSGA-II (Deb et al. 2002) with constrained domination (feasible first, then by violation), binary
    tournaments, uniform crossover and per-gene mutation, over (accuracy, latency, area)."""

    name = "nsga2"

    def __init__(self, population: int = 40, p_crossover: float = 0.9, p_mutation: float | None = None):
        self.pop_size = population
        self.batch_size = population
        self.p_cx = p_crossover
        self.choices = CELL_CHOICES + HW_CHOICES
        self.p_mut = p_mutation if p_mutation is not None else 1.0 / len(self.choices)
        self.pop: list[tuple[np.ndarray, np.ndarray, float]] = []     # (genome, objectives, violation)
        self.batch: list[tuple[np.ndarray, np.ndarray, float]] = []
        self.rank: dict[int, tuple[int, float]] = {}

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"population": self.pop_size, "p_crossover": self.p_cx, "p_mutation": self.p_mut}

    def _random(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([rng.integers(c) for c in self.choices])

    def _better(self, i: int, j: int) -> int:
        ri, rj = self.rank[i], self.rank[j]
        return i if ri < rj else j

    def ask(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        if len(self.pop) < self.pop_size:
            g = self._random(rng)
        else:
            n = len(self.pop)
            a = self._better(int(rng.integers(n)), int(rng.integers(n)))
            b = self._better(int(rng.integers(n)), int(rng.integers(n)))
            g = self.pop[a][0].copy()
            if rng.random() < self.p_cx:
                mask = rng.random(len(g)) < 0.5
                g[mask] = self.pop[b][0][mask]
            for k, c in enumerate(self.choices):
                if rng.random() < self.p_mut:
                    g[k] = rng.integers(c)
        return candidate(g[:6], g[6:])

    def tell(self, trial: Trial) -> None:
        f, v = _objs(trial.metrics)
        g = np.array(list(trial.config["cell"]) + list(trial.config["hw"]))
        self.batch.append((g, f, v))
        if len(self.batch) == self.batch_size:
            self._select(self.pop + self.batch)
            self.batch = []

    def _select(self, allp: list[tuple[np.ndarray, np.ndarray, float]]) -> None:
        feas = [i for i, (_, _, v) in enumerate(allp) if v == 0]
        infeas = sorted((i for i, (_, _, v) in enumerate(allp) if v > 0), key=lambda i: allp[i][2])
        chosen: list[int] = []
        rank: dict[int, tuple[int, float]] = {}
        if feas:
            f = np.array([allp[i][1] for i in feas])
            for r, fr in enumerate(nondominated_sort(f)):
                cd = crowding(f[fr])
                order = np.argsort(-cd, kind="stable")
                for k in order:
                    i = feas[fr[k]]
                    rank[i] = (r, -cd[k])
                    if len(chosen) < self.pop_size:
                        chosen.append(i)
        base = len(feas) + 1
        for k, i in enumerate(infeas):
            rank[i] = (base + k, 0.0)
            if len(chosen) < self.pop_size:
                chosen.append(i)
        self.pop = [allp[i] for i in chosen]
        self.rank = {k: rank[i] for k, i in enumerate(chosen)}


# --- REINFORCE controllers ------------------------------------------------------------------------------------------
def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class Controller:
    """An LSTM policy over a sequence of categorical decisions, trained with REINFORCE (numpy, float64).

    Step t reads the embedding of decision t-1 (a learned start vector at t=0) and emits decision t's logits from
    its hidden state. `update` takes one Adam step on -mean((R - baseline) * log p(actions)) - entropy * mean(H)
    with an exponential moving-average baseline; gradients by backpropagation through time (checked against
    finite differences in the tests).
    """

    def __init__(self, choices: Sequence[int], *, hidden: int = 64, lr: float = 3e-3, entropy: float = 1e-3,
                 baseline_decay: float = 0.9, seed: int = 0, init: float = 0.1):
        rng = np.random.default_rng(seed)
        self.choices = tuple(int(c) for c in choices)
        self.hidden = h = hidden
        u = lambda *shape: rng.uniform(-init, init, size=shape)  # noqa: E731
        self.p: dict[str, np.ndarray] = {"W": u(4 * h, 2 * h), "b": np.zeros(4 * h), "start": np.zeros(h)}
        for t, c in enumerate(self.choices):
            self.p[f"E{t}"] = u(c, h)
            self.p[f"O{t}"] = u(c, h)
            self.p[f"o{t}"] = np.zeros(c)
        self.m = {k: np.zeros_like(v) for k, v in self.p.items()}
        self.v = {k: np.zeros_like(v) for k, v in self.p.items()}
        self.steps = 0
        self.lr, self.entropy, self.decay = lr, entropy, baseline_decay
        self.baseline: float | None = None

    def _step(self, x: np.ndarray, h: np.ndarray, c: np.ndarray):
        z = np.concatenate((x, h), axis=1) @ self.p["W"].T + self.p["b"]
        n = self.hidden
        i, f, g, o = _sigmoid(z[:, :n]), _sigmoid(z[:, n:2 * n]), np.tanh(z[:, 2 * n:3 * n]), _sigmoid(z[:, 3 * n:])
        c2 = f * c + i * g
        tc = np.tanh(c2)
        return o * tc, c2, (x, h, c, i, f, g, o, tc)

    @staticmethod
    def _softmax(z: np.ndarray) -> np.ndarray:
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def _decide(self, rng: np.random.Generator | None) -> list[int]:
        h = np.zeros((1, self.hidden))
        c = np.zeros((1, self.hidden))
        x = self.p["start"][None, :]
        acts: list[int] = []
        for t, k in enumerate(self.choices):
            h, c, _ = self._step(x, h, c)
            pr = self._softmax(h[0] @ self.p[f"O{t}"].T + self.p[f"o{t}"])
            a = int(np.argmax(pr)) if rng is None else int(rng.choice(k, p=pr))
            acts.append(a)
            x = self.p[f"E{t}"][a][None, :]
        return acts

    def sample(self, rng: np.random.Generator) -> list[int]:
        return self._decide(rng)

    def greedy(self) -> list[int]:
        return self._decide(None)

    def loss_and_grads(self, actions: np.ndarray, adv: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """The REINFORCE loss of a batch and its gradients (actions (B, T) ints, adv (B,))."""
        a = np.asarray(actions, dtype=np.int64)
        bsz, n = a.shape[0], self.hidden
        h = np.zeros((bsz, n))
        c = np.zeros((bsz, n))
        x = np.repeat(self.p["start"][None, :], bsz, axis=0)
        caches, probs, hs = [], [], []
        loss = 0.0
        rows = np.arange(bsz)
        for t in range(len(self.choices)):
            h, c, cache = self._step(x, h, c)
            pr = self._softmax(h @ self.p[f"O{t}"].T + self.p[f"o{t}"])
            lp = np.log(pr + 1e-300)
            ent = -(pr * lp).sum(1)
            loss += float(-(adv * lp[rows, a[:, t]]).mean() - self.entropy * ent.mean())
            caches.append(cache)
            probs.append((pr, lp, ent))
            hs.append(h)
            x = self.p[f"E{t}"][a[:, t]]
        g = {k: np.zeros_like(v) for k, v in self.p.items()}
        dh_next = np.zeros((bsz, n))
        dc_next = np.zeros((bsz, n))
        for t in range(len(self.choices) - 1, -1, -1):
            pr, lp, ent = probs[t]
            onehot = np.zeros_like(pr)
            onehot[rows, a[:, t]] = 1.0
            dz = (-(adv[:, None]) * (onehot - pr) + self.entropy * pr * (lp + ent[:, None])) / bsz
            g[f"O{t}"] += dz.T @ hs[t]
            g[f"o{t}"] += dz.sum(0)
            dh = dz @ self.p[f"O{t}"] + dh_next
            xin, hprev, cprev, i, f, gg, o, tc = caches[t]
            do = dh * tc
            dc = dh * o * (1 - tc ** 2) + dc_next
            di, df, dg = dc * gg, dc * cprev, dc * i
            dzl = np.concatenate((di * i * (1 - i), df * f * (1 - f), dg * (1 - gg ** 2), do * o * (1 - o)), axis=1)
            g["W"] += dzl.T @ np.concatenate((xin, hprev), axis=1)
            g["b"] += dzl.sum(0)
            dxh = dzl @ self.p["W"]
            dx, dh_next = dxh[:, :n], dxh[:, n:]
            dc_next = dc * f
            if t == 0:
                g["start"] += dx.sum(0)
            else:
                np.add.at(g[f"E{t - 1}"], a[:, t - 1], dx)
        return loss, g

    def update(self, actions: Sequence[Sequence[int]], rewards: Sequence[float]) -> None:
        r = np.asarray(rewards, dtype=np.float64)
        for x in r:                                   # moving-average baseline, in sample order
            self.baseline = float(x) if self.baseline is None else self.decay * self.baseline + (1 - self.decay) * x
        _, g = self.loss_and_grads(np.asarray(actions), r - self.baseline)
        self.steps += 1
        b1, b2, eps = 0.9, 0.999, 1e-8
        for k, gk in g.items():
            self.m[k] = b1 * self.m[k] + (1 - b1) * gk
            self.v[k] = b2 * self.v[k] + (1 - b2) * gk * gk
            mh = self.m[k] / (1 - b1 ** self.steps)
            vh = self.v[k] / (1 - b2 ** self.steps)
            self.p[k] -= self.lr * mh / (np.sqrt(vh) + eps)


class _RLBase(Strategy):
    def __init__(self, *, batch_size: int = 8, hidden: int = 64, lr: float = 3e-3, entropy: float = 1e-3,
                 seed: int = 0):
        self.batch_size = batch_size
        self.kw = dict(hidden=hidden, lr=lr, entropy=entropy)
        self.seed = seed
        self.pending: list[tuple[dict[str, Any], float]] = []
        self.best: tuple[float, list[int], list[int]] | None = None

    def describe(self) -> dict[str, Any]:
        return super().describe() | self.kw | {"seed": self.seed}

    def tell(self, trial: Trial) -> None:
        r = float(trial.metrics["reward"]) if trial.metrics else ILLEGAL_REWARD
        cand = trial.config
        if self.best is None or r > self.best[0]:
            self.best = (r, list(cand["cell"]), list(cand["hw"]))
        self.pending.append((cand, r))
        if len(self.pending) == self.batch_size:
            self.learn(self.pending)
            self.pending = []

    def learn(self, batch: list[tuple[dict[str, Any], float]]) -> None:
        raise NotImplementedError


class ReinforceCombined(_RLBase):
    """One controller emits the cell's six operations and then the configuration's ten parameters."""

    name = "combined"

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.ctrl = Controller(CELL_CHOICES + HW_CHOICES, seed=self.seed, **self.kw)

    def ask(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        a = self.ctrl.sample(rng)
        return candidate(a[:6], a[6:])

    def learn(self, batch):
        self.ctrl.update([c["cell"] + c["hw"] for c, _ in batch], [r for _, r in batch])


class ReinforceSeparate(_RLBase):
    """Two controllers (cell, configuration) sample together and learn from the same reward."""

    name = "separate"

    def __init__(self, **kw: Any):
        super().__init__(**kw)
        self.cnn = Controller(CELL_CHOICES, seed=self.seed, **self.kw)
        self.hw = Controller(HW_CHOICES, seed=self.seed + 1, **self.kw)

    def ask(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        return candidate(self.cnn.sample(rng), self.hw.sample(rng))

    def learn(self, batch):
        rewards = [r for _, r in batch]
        self.cnn.update([c["cell"] for c, _ in batch], rewards)
        self.hw.update([c["hw"] for c, _ in batch], rewards)


class ReinforcePhase(_RLBase):
    """The two controllers take turns (`phase_batches` batches each, the cell first); the other half is held at
    the best pair so far (before any trial: the other controller's greedy choice)."""

    name = "phase"

    def __init__(self, *, phase_batches: int = 10, **kw: Any):
        super().__init__(**kw)
        self.phase_batches = phase_batches
        self.cnn = Controller(CELL_CHOICES, seed=self.seed, **self.kw)
        self.hw = Controller(HW_CHOICES, seed=self.seed + 1, **self.kw)

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"phase_batches": self.phase_batches}

    def phase(self, index: int) -> str:
        return "cnn" if (index // self.batch_size // self.phase_batches) % 2 == 0 else "hw"

    def ask(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        if self.phase(index) == "cnn":
            hw = self.best[2] if self.best else self.hw.greedy()
            return candidate(self.cnn.sample(rng), hw)
        cell = self.best[1] if self.best else self.cnn.greedy()
        return candidate(cell, self.hw.sample(rng))

    def tell(self, trial: Trial) -> None:
        self._phase = self.phase(trial.index)
        super().tell(trial)

    def learn(self, batch):
        rewards = [r for _, r in batch]
        if self._phase == "cnn":
            self.cnn.update([c["cell"] for c, _ in batch], rewards)
        else:
            self.hw.update([c["hw"] for c, _ in batch], rewards)


STRATEGIES = ("combined", "phase", "separate", "random", "nsga2")


def make_strategy(name: str, js: JointSpace, *, seed: int = 0, **kw: Any) -> Strategy:
    from compiler.errors import UserError

    if name == "random":
        return RandomPairs(js)
    if name == "nsga2":
        return NSGA2(**{k: v for k, v in kw.items() if k in ("population",)})
    rl = {"combined": ReinforceCombined, "separate": ReinforceSeparate, "phase": ReinforcePhase}
    if name not in rl:
        raise UserError(f"strategy '{name}': choose one of {', '.join(STRATEGIES)}")
    return rl[name](seed=seed, **{k: v for k, v in kw.items() if k in ("batch_size", "hidden", "lr", "entropy",
                                                                       "phase_batches")})
