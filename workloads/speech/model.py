"""Stacked-LSTM digit classifier whose weight matrices may each be stored as a low-rank product U @ V.

Matrices are named `lstm{k}.W` (input-to-hidden, 4h x in), `lstm{k}.R` (hidden-to-hidden, 4h x h) and `fc`
(classes x h); gates in PyTorch order (i, f, g, o). A matrix with rank None is dense; with rank r it is stored as
U (m, r) and V (r, n) and every product with it is computed as two smaller products, x @ V.T then @ U.T.

Two forward paths compute the same function:
- `forward` (training and evaluation): torch's fused LSTM kernel; a factorised input matrix is applied as a
  projection before a narrower LSTM, a factorised recurrent matrix is passed as the product U @ V (gradients
  reach U and V).
- `forward_unrolled` (ONNX export of factorised recurrent weights): explicit time loop with the input projection
  hoisted out of it and the recurrent product as two MatMuls per step.
Input: normalised log-mel features (B, T, n_mels) (see `SpeechModel.normalise`); output: logits (B, classes).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Iterator

import numpy as np
import torch
from torch import nn

from compiler.errors import UserError


@dataclass(frozen=True)
class ModelConfig:
    n_mels: int = 32
    hidden: int = 256
    layers: int = 2
    classes: int = 10
    frames: int = 48


@dataclass(frozen=True)
class MatrixSpec:
    """One factorisable matrix: name, shape (out, in), and how many time steps apply it per utterance."""

    name: str
    rows: int
    cols: int
    uses: int
    kind: str  # "input", "recurrent", "linear"

    @property
    def full_params(self) -> int:
        return self.rows * self.cols

    @property
    def max_rank(self) -> int:
        return min(self.rows, self.cols)

    def params(self, rank: int | None) -> int:
        return self.full_params if rank is None else rank * (self.rows + self.cols)

    def break_even_rank(self) -> int:
        """Largest rank that still stores fewer parameters than the dense matrix."""
        return (self.rows * self.cols - 1) // (self.rows + self.cols)


def matrix_specs(cfg: ModelConfig) -> list[MatrixSpec]:
    specs = []
    for k in range(cfg.layers):
        inp = cfg.n_mels if k == 0 else cfg.hidden
        specs.append(MatrixSpec(f"lstm{k}.W", 4 * cfg.hidden, inp, cfg.frames, "input"))
        specs.append(MatrixSpec(f"lstm{k}.R", 4 * cfg.hidden, cfg.hidden, cfg.frames, "recurrent"))
    specs.append(MatrixSpec("fc", cfg.classes, cfg.hidden, 1, "linear"))
    return specs


Ranks = dict[str, int | None]


class InvalidRankError(UserError):
    """A rank that does not fit the matrix it is asked for."""


def check_ranks(cfg: ModelConfig, ranks: Ranks) -> Ranks:
    """Full rank table (missing names dense); raises for unknown names or ranks outside 1..min(m, n)."""
    specs = {s.name: s for s in matrix_specs(cfg)}
    unknown = sorted(set(ranks) - set(specs))
    if unknown:
        raise InvalidRankError(f"unknown matrix name(s) {unknown}; legal: {', '.join(specs)}")
    out: Ranks = {}
    for name, s in specs.items():
        r = ranks.get(name)
        if r is not None and not 1 <= int(r) <= s.max_rank:
            raise InvalidRankError(f"rank {r} for '{name}' ({s.rows}x{s.cols}): legal 1..{s.max_rank} or None")
        out[name] = None if r is None else int(r)
    return out


def _key(name: str, part: str) -> str:
    return f"{name.replace('.', '_')}_{part}"


class SpeechModel(nn.Module):
    def __init__(self, cfg: ModelConfig = ModelConfig(), ranks: Ranks | None = None, seed: int = 0):
        super().__init__()
        self.cfg = cfg
        self.ranks = check_ranks(cfg, ranks or {})
        self.specs = matrix_specs(cfg)
        gen = torch.Generator().manual_seed(seed)
        self.mats = nn.ParameterDict()
        bound = 1.0 / np.sqrt(cfg.hidden)
        for s in self.specs:
            dense = (torch.rand(s.rows, s.cols, generator=gen) * 2 - 1) * bound
            self._store(s, dense)
        self.biases = nn.ParameterDict()
        for k in range(cfg.layers):
            self.biases[f"lstm{k}"] = nn.Parameter((torch.rand(8 * cfg.hidden, generator=gen) * 2 - 1) * bound)
        self.biases["fc"] = nn.Parameter((torch.rand(cfg.classes, generator=gen) * 2 - 1) * bound)
        self.register_buffer("feat_mean", torch.zeros(cfg.n_mels))
        self.register_buffer("feat_std", torch.ones(cfg.n_mels))

    # --- weights ------------------------------------------------------------------------------------------------
    def _store(self, s: MatrixSpec, dense: torch.Tensor) -> None:
        """Set matrix s from a dense (rows, cols) tensor, truncated by SVD to self.ranks[s.name] if factorised."""
        r = self.ranks[s.name]
        for part in ("full", "u", "v"):
            if _key(s.name, part) in self.mats:
                del self.mats[_key(s.name, part)]
        if r is None:
            self.mats[_key(s.name, "full")] = nn.Parameter(dense.detach().clone().float())
            return
        u, v = truncated_svd(dense.detach().double(), r)
        self.mats[_key(s.name, "u")] = nn.Parameter(u.float())
        self.mats[_key(s.name, "v")] = nn.Parameter(v.float())

    def factors(self, name: str) -> tuple[torch.Tensor, ...]:
        """(W,) for a dense matrix, (U, V) for a factorised one."""
        if self.ranks[name] is None:
            return (self.mats[_key(name, "full")],)
        return self.mats[_key(name, "u")], self.mats[_key(name, "v")]

    def dense(self, name: str) -> torch.Tensor:
        f = self.factors(name)
        return f[0] if len(f) == 1 else f[0] @ f[1]

    def iter_matrices(self) -> Iterator[tuple[MatrixSpec, int | None]]:
        for s in self.specs:
            yield s, self.ranks[s.name]

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def matrix_params(self) -> int:
        return sum(s.params(r) for s, r in self.iter_matrices())

    # --- inputs -------------------------------------------------------------------------------------------------
    def set_normalisation(self, x: np.ndarray) -> None:
        """Per-band mean and std of training features (N, T, n_mels)."""
        self.feat_mean.copy_(torch.as_tensor(x.mean(axis=(0, 1))))
        self.feat_std.copy_(torch.as_tensor(x.std(axis=(0, 1)) + 1e-5))

    def normalise(self, x: np.ndarray | torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(x, dtype=np.float32)) if isinstance(x, np.ndarray) else x
        return (x - self.feat_mean) / self.feat_std

    # --- forward paths ------------------------------------------------------------------------------------------
    @staticmethod
    def _apply(x: torch.Tensor, fs: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """x @ M.T, as two products when M is factorised."""
        return x @ fs[0].T if len(fs) == 1 else (x @ fs[1].T) @ fs[0].T

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.cfg.hidden
        for k in range(self.cfg.layers):
            fw = self.factors(f"lstm{k}.W")
            if len(fw) == 2:
                x, w_ih = x @ fw[1].T, fw[0]
            else:
                w_ih = fw[0]
            b = self.biases[f"lstm{k}"]
            params = [w_ih, self.dense(f"lstm{k}.R"), b[:4 * h], b[4 * h:]]
            x = torch._VF.lstm(x, (x.new_zeros(1, x.shape[0], h),) * 2, params, True, 1, 0.0,
                               self.training, False, True)[0]
        return self._apply(x[:, -1], self.factors("fc")) + self.biases["fc"]

    def forward_unrolled(self, x: torch.Tensor) -> torch.Tensor:
        """Same function as `forward`; the first step skips the recurrent product (h0 = c0 = 0)."""
        n = self.cfg.hidden
        for k in range(self.cfg.layers):
            b = self.biases[f"lstm{k}"]
            gates_x = self._apply(x, self.factors(f"lstm{k}.W")) + (b[:4 * n] + b[4 * n:])
            r = self.factors(f"lstm{k}.R")
            outs: list[torch.Tensor] = []
            h = c = None
            for t in range(x.shape[1]):
                g = gates_x[:, t] if h is None else gates_x[:, t] + self._apply(h, r)
                i, f, gg, o = (g[:, j * n:(j + 1) * n] for j in range(4))
                c = torch.sigmoid(i) * torch.tanh(gg) if c is None else \
                    torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
                h = torch.sigmoid(o) * torch.tanh(c)
                outs.append(h)
            x = torch.stack(outs, dim=1)
        return self._apply(x[:, -1], self.factors("fc")) + self.biases["fc"]

    # --- checkpoints --------------------------------------------------------------------------------------------
    def checkpoint(self) -> dict:
        return {"config": asdict(self.cfg), "ranks": dict(self.ranks),
                "state": {k: v.detach().clone() for k, v in self.state_dict().items()}}

    @classmethod
    def from_checkpoint(cls, ckpt: dict) -> "SpeechModel":
        m = cls(ModelConfig(**ckpt["config"]), ckpt["ranks"])
        m.load_state_dict(ckpt["state"])
        return m


def truncated_svd(w: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Best rank-r approximation of w (Eckart-Young) as U (m, r) @ V (r, n), singular values split evenly."""
    u, s, vh = torch.linalg.svd(w, full_matrices=False)
    root = s[:rank].sqrt()
    return u[:, :rank] * root, root[:, None] * vh[:rank]


@dataclass
class TrainConfig:
    epochs: int = 40
    batch: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.0
    noise: float = 0.1          # std of Gaussian noise added to normalised features (augmentation)
    shift: int = 4              # max random time shift in frames (augmentation)
    seed: int = 0
    log: list = field(default_factory=list)
