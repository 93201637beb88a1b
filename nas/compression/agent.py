"""REINFORCE rank controller (Zoph-and-Le style, as the ShrinkML paper describes its agent).

An LSTM cell walks the factorisable matrices in order. Its input at step l is the matrix's state vector
(`layer_states`) concatenated with a one-hot of the previous action; a linear head gives a softmax over the rank
fractions `FRACTIONS`. One episode samples one fraction per matrix. The update is REINFORCE with an exponential
moving-average baseline and an entropy bonus, on batches of episodes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import nn

from workloads.speech.model import MatrixSpec, Ranks

KINDS = ("input", "recurrent", "linear")


def layer_states(specs: list[MatrixSpec], current: Ranks) -> np.ndarray:
    """Per matrix: [index, kind one-hot (3), rows, cols, uses, share of dense params, current rank fraction],
    each column min-max normalised over the matrices (AMC-style embedding)."""
    total = sum(s.full_params for s in specs)
    rows = []
    for k, s in enumerate(specs):
        r = current.get(s.name)
        frac = 1.0 if r is None else r / s.max_rank
        rows.append([k, *(float(s.kind == kd) for kd in KINDS), s.rows, s.cols, s.uses,
                     s.full_params / total, frac])
    a = np.asarray(rows, dtype=np.float64)
    lo, hi = a.min(axis=0), a.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    return ((a - lo) / span).astype(np.float32)


@dataclass(frozen=True)
class AgentConfig:
    hidden: int = 32
    lr: float = 0.02
    baseline_decay: float = 0.9
    entropy: float = 0.01
    batch: int = 5            # episodes per policy update
    seed: int = 0


class Controller(nn.Module):
    def __init__(self, n_features: int, n_actions: int, hidden: int):
        super().__init__()
        self.n_actions = n_actions
        self.cell = nn.LSTMCell(n_features + n_actions, hidden)
        self.head = nn.Linear(hidden, n_actions)

    def _steps(self, states: torch.Tensor, choose: Callable[[int, torch.Tensor], int]) -> list[torch.Tensor]:
        """Walk the matrices; `choose(k, probs)` picks action k. Returns the per-step probability vectors."""
        h = c = states.new_zeros(1, self.cell.hidden_size)
        prev = states.new_zeros(1, self.n_actions)
        out = []
        for k in range(states.shape[0]):
            h, c = self.cell(torch.cat([states[k:k + 1], prev], dim=1), (h, c))
            probs = torch.softmax(self.head(h), dim=1)[0]
            a = choose(k, probs)
            out.append(probs)
            prev = torch.zeros(1, self.n_actions)
            prev[0, a] = 1.0
        return out

    def log_prob(self, states: torch.Tensor, actions: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed log-probability and entropy of a given action sequence."""
        probs = self._steps(states, lambda k, p: actions[k])
        logp = sum(torch.log(p[a] + 1e-12) for p, a in zip(probs, actions))
        ent = -sum((p * torch.log(p + 1e-12)).sum() for p in probs)
        return logp, ent


class ReinforceAgent:
    """Samples action sequences from a numpy Generator; `update` takes (actions, reward) pairs."""

    def __init__(self, states: np.ndarray, n_actions: int, cfg: AgentConfig = AgentConfig()):
        self.cfg = cfg
        self.states = torch.as_tensor(states)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            self.policy = Controller(self.states.shape[1], n_actions, cfg.hidden)
        self.opt = torch.optim.Adam(self.policy.parameters(), lr=cfg.lr)
        self.baseline: float | None = None

    def sample(self, rng: np.random.Generator) -> list[int]:
        taken: list[int] = []

        def choose(k: int, probs: torch.Tensor) -> int:
            p = probs.double().numpy()
            taken.append(int(rng.choice(len(p), p=p / p.sum())))
            return taken[-1]

        with torch.no_grad():
            self.policy._steps(self.states, choose)
        return taken

    def greedy(self) -> list[int]:
        taken: list[int] = []

        def choose(k: int, probs: torch.Tensor) -> int:
            taken.append(int(probs.argmax()))
            return taken[-1]

        with torch.no_grad():
            self.policy._steps(self.states, choose)
        return taken

    def update(self, episodes: list[tuple[list[int], float]]) -> float:
        """One REINFORCE step on (actions, reward) pairs; returns the loss."""
        loss = torch.zeros(())
        for actions, reward in episodes:
            if self.baseline is None:
                self.baseline = reward
            adv = reward - self.baseline
            logp, ent = self.policy.log_prob(self.states, list(actions))
            loss = loss - adv * logp - self.cfg.entropy * ent
            self.baseline = self.cfg.baseline_decay * self.baseline + (1 - self.cfg.baseline_decay) * reward
        loss = loss / max(1, len(episodes))
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return float(loss.detach())
