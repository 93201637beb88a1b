"""Rank searches: uniform and hand-picked baselines, one-shot REINFORCE, iterative search-compress-fine-tune.

`RankEnv` holds a seed model, its SVDs (computed once: a candidate is a slice of them), a quick-evaluation
subset and a cost model. An action sequence gives one rank fraction per matrix, *relative to the seed's current
rank*, so the same agent works on a dense seed and on an already factorised one.

Reward (ShrinkML-style, documented in docs/compression.md): with ratio = cost(dense) / cost(candidate) and
target T, a candidate meeting the target earns its quick-eval accuracy (in [0, 1]) plus
`size_bonus * log(ratio / T)`; one missing it is punished with `-punish * (T / ratio - 1)`, which is negative and
grows with the violation, so every feasible candidate outranks every infeasible one.
"""
from __future__ import annotations

import math
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch

from compiler.errors import UserError
from nas.compression.agent import AgentConfig, ReinforceAgent, layer_states
from nas.compression.cost import CostModel
from nas.compression.lowrank import FRACTIONS, size_report
from nas.runtime import Strategy, run_study
from nas.runtime import Trial as RuntimeTrial
from workloads.speech.data import SpeechData
from workloads.speech.model import MatrixSpec, ModelConfig, Ranks, SpeechModel, TrainConfig, check_ranks
from workloads.speech.train import evaluate, train


@dataclass(frozen=True)
class Trial:
    """One evaluated rank table."""

    episode: int
    ranks: dict
    accuracy: float          # quick-eval accuracy, percent
    ratio: float             # cost(dense) / cost(candidate): speed-up (latency) or compression (size)
    compression: float       # parameter compression of the whole model
    reward: float
    feasible: bool
    seconds: float


class SearchError(UserError):
    """A search request that cannot be run as given."""


class RankEnv:
    """Candidates derived from one seed model by truncating its SVDs."""

    def __init__(self, seed: SpeechModel, quick: SpeechData, cost: CostModel, *, dense_cost: float | None = None,
                 fractions: tuple[float, ...] = FRACTIONS):
        self.seed = seed
        self.cfg: ModelConfig = seed.cfg
        self.quick = quick
        self.cost = cost
        self.fractions = fractions
        self.specs: list[MatrixSpec] = list(seed.specs)
        self.dense_cost = dense_cost if dense_cost is not None else cost(self.cfg, {}).value
        self._svd: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
        with torch.no_grad():
            for s in self.specs:
                u, sv, vh = torch.linalg.svd(seed.dense(s.name).double(), full_matrices=False)
                self._svd[s.name] = (u, sv, vh)
        self._acc: dict[tuple, float] = {}

    # --- candidates ------------------------------------------------------------------------------------------
    def ranks_for(self, actions: Iterable[int]) -> Ranks:
        """Rank table for one action index per matrix (fractions of the seed's current rank)."""
        actions = list(actions)
        if len(actions) != len(self.specs):
            raise SearchError(f"{len(actions)} actions for {len(self.specs)} matrices")
        out: Ranks = {}
        for s, a in zip(self.specs, actions):
            f = self.fractions[a]
            cur = self.seed.ranks[s.name]
            if cur is None:
                r = max(1, math.ceil(f * s.max_rank))
                out[s.name] = r if r <= s.break_even_rank() else None
            else:
                out[s.name] = max(1, math.ceil(f * cur))
        return out

    def model(self, ranks: Ranks) -> SpeechModel:
        """The seed truncated to `ranks` (each at most the seed's rank), from the cached SVDs."""
        ranks = check_ranks(self.cfg, ranks)
        m = SpeechModel(self.cfg, ranks)
        with torch.no_grad():
            for s in self.specs:
                r = ranks[s.name]
                cur = self.seed.ranks[s.name]
                if cur is not None and (r is None or r > cur):
                    raise SearchError(f"rank {r} for '{s.name}' exceeds the seed's rank {cur}")
                if r is None:
                    m.mats[f"{s.name.replace('.', '_')}_full"].copy_(self.seed.dense(s.name))
                    continue
                u, sv, vh = self._svd[s.name]
                root = sv[:r].sqrt()
                m.mats[f"{s.name.replace('.', '_')}_u"].copy_(u[:, :r] * root)
                m.mats[f"{s.name.replace('.', '_')}_v"].copy_(root[:, None] * vh[:r])
            for k, b in self.seed.biases.items():
                m.biases[k].copy_(b)
            m.feat_mean.copy_(self.seed.feat_mean)
            m.feat_std.copy_(self.seed.feat_std)
        m.eval()
        return m

    def accuracy(self, ranks: Ranks) -> float:
        key = tuple(sorted(check_ranks(self.cfg, ranks).items()))
        if key not in self._acc:
            self._acc[key] = evaluate(self.model(ranks), self.quick)
        return self._acc[key]

    def ratio(self, ranks: Ranks) -> float:
        return self.dense_cost / self.cost(self.cfg, ranks).value


@dataclass(frozen=True)
class RewardConfig:
    target: float                # required cost ratio (speed-up or compression) against the dense model
    punish: float = 1.0
    size_bonus: float = 0.0


def reward(accuracy: float, ratio: float, rc: RewardConfig) -> tuple[float, bool]:
    if ratio >= rc.target:
        return accuracy / 100.0 + rc.size_bonus * math.log(ratio / rc.target), True
    return -rc.punish * (rc.target / ratio - 1.0), False


def score(env: RankEnv, ranks: Ranks, rc: RewardConfig, episode: int = -1) -> Trial:
    t0 = time.perf_counter()
    acc = env.accuracy(ranks)
    ratio = env.ratio(ranks)
    r, ok = reward(acc, ratio, rc)
    return Trial(episode, dict(ranks), acc, ratio, size_report(env.cfg, ranks).compression, r, ok,
                 time.perf_counter() - t0)


# --- baselines -----------------------------------------------------------------------------------------------------
def uniform_sweep(env: RankEnv, rc: RewardConfig) -> list[Trial]:
    """Every matrix at the same rank fraction, for each fraction of the action space."""
    return [score(env, env.ranks_for([a] * len(env.specs)), rc, episode=a) for a in range(len(env.fractions))]


def energy_ranks(env: RankEnv, energy: float) -> Ranks:
    """Hand-picked rule: per matrix, the smallest rank keeping `energy` of the squared singular values."""
    out: Ranks = {}
    for s in env.specs:
        sv = env._svd[s.name][1].numpy()
        cum = np.cumsum(sv ** 2) / np.sum(sv ** 2)
        r = int(np.searchsorted(cum, energy) + 1)
        cur = env.seed.ranks[s.name]
        out[s.name] = min(r, cur) if cur is not None else (r if r <= s.break_even_rank() else None)
    return out


def hand_picked(env: RankEnv, rc: RewardConfig,
                energies: tuple[float, ...] = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)) -> list[Trial]:
    return [score(env, energy_ranks(env, e), rc, episode=k) for k, e in enumerate(energies)]


# --- REINFORCE search on the runtime --------------------------------------------------------------------------------
@dataclass
class SearchResult:
    trials: list[Trial]
    best: Trial | None
    greedy: Trial
    seconds: float
    config: dict = field(default_factory=dict)

    def best_or_greedy(self) -> Trial:
        """The higher-reward feasible one of the best sampled episode and the final greedy policy."""
        cands = [t for t in (self.best, self.greedy) if t is not None and t.feasible]
        return max(cands, key=lambda t: t.reward) if cands else self.greedy


class ReinforceStrategy(Strategy):
    """The REINFORCE agent as a runtime strategy: a candidate is {"actions", "ranks"}; every `batch` told trials
    update the policy (deterministic given the ask rngs and the told rewards, so `--resume` replays exactly)."""

    name = "reinforce"

    def __init__(self, env: RankEnv, agent: AgentConfig = AgentConfig()):
        self.env = env
        self.agent_cfg = agent
        self.batch_size = agent.batch
        self.agent = ReinforceAgent(layer_states(env.specs, env.seed.ranks), len(env.fractions), agent)
        self._pending: list[tuple[list[int], float]] = []

    def ask(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        actions = self.agent.sample(rng)
        return {"actions": actions, "ranks": self.env.ranks_for(actions)}

    def tell(self, trial: RuntimeTrial) -> None:
        r = trial.metrics["reward"] if trial.metrics else -1.0
        self._pending.append((list(trial.config["actions"]), float(r)))
        if len(self._pending) == self.batch_size:
            self.agent.update(self._pending)
            self._pending = []

    def describe(self) -> dict[str, Any]:
        return super().describe() | {"agent": asdict(self.agent_cfg), "fractions": list(self.env.fractions)}


class RankObjective:
    """objective(candidate, seed) of the rank search: quick-eval accuracy, cost ratio and reward."""

    __name__ = "rank_objective"

    def __init__(self, env: RankEnv, rc: RewardConfig):
        self.env, self.rc = env, rc

    def __call__(self, config: dict[str, Any], seed: int) -> dict[str, Any]:
        t = score(self.env, {k: v for k, v in config["ranks"].items()}, self.rc)
        return {"reward": t.reward, "accuracy": t.accuracy, "ratio": t.ratio, "compression": t.compression,
                "feasible": t.feasible}


def _trial_of(t: RuntimeTrial) -> Trial:
    m = t.metrics or {}
    return Trial(t.index, dict(t.config["ranks"]), m.get("accuracy", 0.0), m.get("ratio", 0.0),
                 m.get("compression", 0.0), m.get("reward", -1.0), bool(m.get("feasible", False)), t.duration)


def rl_search(env: RankEnv, rc: RewardConfig, *, episodes: int = 200, agent: AgentConfig = AgentConfig(),
              store: str | Path | None = None, study: str = "compress-rl", seed: int = 0, resume: bool = False,
              config: dict[str, Any] | None = None, quiet: bool = True) -> SearchResult:
    """One-shot REINFORCE search of `episodes` rank tables, every one a trial of `study` in the runtime store
    (a temporary store when `store` is None); returns the best feasible trial and the final greedy policy's."""
    if episodes < 1:
        raise SearchError(f"episodes = {episodes}: give at least 1")
    t0 = time.perf_counter()
    strategy = ReinforceStrategy(env, agent)
    settings = {"reward": asdict(rc), "episodes_per_update": agent.batch, **(config or {})}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(store) if store is not None else Path(tmp) / "compress.db"
        result = run_study(path, study, strategy, RankObjective(env, rc), n_trials=episodes, seed=seed,
                           objectives={"reward": "max", "accuracy": "max", "ratio": "max"}, config=settings,
                           resume=resume, quiet=quiet)
        trials = [_trial_of(t) for t in result.trials if t.status == "complete"]
    greedy = score(env, env.ranks_for(strategy.agent.greedy()), rc, episode=episodes)
    feasible = [t for t in trials if t.feasible]
    best = max(feasible, key=lambda t: t.reward) if feasible else None
    return SearchResult(trials, best, greedy, time.perf_counter() - t0, {**settings, "agent": asdict(agent)})


# --- iterative search -> compress -> fine-tune --------------------------------------------------------------------
@dataclass(frozen=True)
class Round:
    index: int
    target: float               # cumulative ratio against the dense model asked of this round
    ranks: dict
    ratio: float
    compression: float
    quick_before_ft: float      # quick-eval accuracy straight after truncation
    val_accuracy: float         # after fine-tuning
    test_accuracy: float
    seconds: float


def iterative(seed: SpeechModel, train_data: SpeechData, quick: SpeechData, test: SpeechData, cost: CostModel, *,
              targets: list[float], episodes: int = 100, finetune: TrainConfig = TrainConfig(epochs=8, lr=1e-3),
              agent: AgentConfig = AgentConfig(), tolerance: float = 1.0, punish: float = 1.0,
              store: str | Path | None = None, study: str = "compress-iter", run_seed: int = 0,
              resume: bool = False,
              quiet: bool = True, on_round: Callable[[Round, SpeechModel], None] | None = None) -> list[Round]:
    """Rounds of (RL search at the next cumulative target -> compress -> fine-tune) until val accuracy falls more
    than `tolerance` points below the seed's, or the targets run out. Returns every round, the failing one too."""
    dense_cost = cost(seed.cfg, {}).value
    base_val = evaluate(seed, quick)
    rounds: list[Round] = []
    model = seed
    for k, target in enumerate(targets):
        t0 = time.perf_counter()
        env = RankEnv(model, quick, cost, dense_cost=dense_cost)
        res = rl_search(env, RewardConfig(target, punish=punish), episodes=episodes,
                        agent=AgentConfig(**{**asdict(agent), "seed": agent.seed + k}), store=store,
                        study=f"{study}-round{k}", seed=run_seed + k, resume=resume, quiet=quiet,
                        config={"round": k, "seed_ranks": dict(model.ranks)})
        pick = res.best_or_greedy()
        if not pick.feasible:
            break
        compressed = env.model(pick.ranks)
        train(compressed, train_data, TrainConfig(**{**asdict(finetune), "seed": finetune.seed + k, "log": []}),
              set_normalisation=False)
        val, tst = evaluate(compressed, quick), evaluate(compressed, test)
        rnd = Round(k, target, dict(pick.ranks), pick.ratio, pick.compression, pick.accuracy, val, tst,
                    time.perf_counter() - t0)
        rounds.append(rnd)
        if on_round:
            on_round(rnd, compressed)
        if val < base_val - tolerance:
            break
        model = compressed
    return rounds
