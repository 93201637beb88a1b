"""Torch predictor networks: the BRP-NAS GCN (regression and binary-relation heads) and the MLP baseline.

GCN (eagle `predictors/gcn/gcn.py`, described in docs/predictors.md): each layer computes H' = A (H W) + b
(row i sums over its successors and itself, so the global node aggregates every node), then LayerNorm, ReLU and
dropout; the readout is the global node's embedding. Regression head: Linear(hidden, 1). Binary-relation head:
Linear(2 hidden, 2) on the concatenated embeddings of two cells, log-softmax; class 0 means "the first cell is
better". Weights and biases of the graph convolutions are initialised U(-1/sqrt(fan), 1/sqrt(fan)) with
fan = the tensor's last dimension ("thomas" init in eagle), other layers with PyTorch's defaults.

Differences from eagle, for CPU speed: float32 instead of float64; the last graph convolution computes only the
global node's row (A[0] (H W) = (A[0] H) W, the only row the readout uses); dropout draws from an explicit
`torch.Generator` so training is a pure function of its seed (no global RNG).
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from nas.predictors.encoding import MLP_DIM, N_FEATURES


def _dropout(x: torch.Tensor, p: float, training: bool, generator: torch.Generator | None) -> torch.Tensor:
    if not training or p <= 0.0:
        return x
    keep = torch.rand(x.shape, generator=generator, dtype=x.dtype) >= p
    return x * keep / (1.0 - p)


class GraphConv(nn.Module):
    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        self.bias = nn.Parameter(torch.empty(n_out))

    def forward(self, adj: torch.Tensor, x: torch.Tensor, *, global_only: bool = False) -> torch.Tensor:
        if global_only:  # (B, 1, hidden): the global node's row only
            return torch.bmm(adj[:, :1], x) @ self.weight + self.bias
        return torch.bmm(adj, x @ self.weight) + self.bias


class GCNEncoder(nn.Module):
    """Graph embedding: `layers` graph convolutions of `hidden` units; returns the global node's embedding."""

    def __init__(self, n_features: int = N_FEATURES, hidden: int = 600, layers: int = 4, dropout: float = 0.0):
        super().__init__()
        if layers < 1 or hidden < 1:
            raise ValueError(f"GCN needs layers >= 1 and hidden >= 1, got {layers} and {hidden}")
        self.hidden, self.dropout = hidden, dropout
        self.gc = nn.ModuleList(GraphConv(n_features if i == 0 else hidden, hidden) for i in range(layers))
        self.norm = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers))

    def forward(self, adj: torch.Tensor, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        last = len(self.gc) - 1
        for i, (gc, norm) in enumerate(zip(self.gc, self.norm)):
            x = _dropout(F.relu(norm(gc(adj, x, global_only=i == last))), self.dropout, self.training, generator)
        return x[:, 0]


class GCNRegressor(nn.Module):
    """GCN with a scalar regression head (latency predictor)."""

    def __init__(self, hidden: int = 600, layers: int = 4, dropout: float = 0.002):
        super().__init__()
        self.encoder = GCNEncoder(N_FEATURES, hidden, layers, dropout)
        self.fc = nn.Linear(hidden, 1)

    def forward(self, adj: torch.Tensor, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.fc(self.encoder(adj, x, generator))[:, 0]


class BinaryGCN(nn.Module):
    """GCN binary-relation predictor: log-probabilities that the first / the second cell of a pair is better."""

    def __init__(self, hidden: int = 600, layers: int = 4, dropout: float = 0.2):
        super().__init__()
        self.encoder = GCNEncoder(N_FEATURES, hidden, layers, dropout)
        self.fc = nn.Linear(2 * hidden, 2)

    def pair_logits(self, e1: torch.Tensor, e2: torch.Tensor) -> torch.Tensor:
        """(n1, n2, 2) logits of every pair (first from e1, second from e2), from the embeddings."""
        h = self.encoder.hidden
        p = e1 @ self.fc.weight[:, :h].T
        q = e2 @ self.fc.weight[:, h:].T
        return p[:, None, :] + q[None, :, :] + self.fc.bias

    def forward(self, adj1: torch.Tensor, x1: torch.Tensor, adj2: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """(B, 2) log-softmax for the pairs (cell 1[b], cell 2[b]), as eagle's binary classifier."""
        e1, e2 = self.encoder(adj1, x1), self.encoder(adj2, x2)
        return F.log_softmax(self.fc(torch.cat([e1, e2], dim=1)), dim=1)

    def score_direction(self) -> torch.Tensor:
        """Vector w with score(a) = w . embedding(a): the logit margin of "first better" is u.e_a + v.e_b + c, so
        d(a, b) - d(b, a) = (u - v).(e_a - e_b) and sorting by w = u - v is sorting with the antisymmetrised
        comparator (a total order)."""
        h = self.encoder.hidden
        w = self.fc.weight[0] - self.fc.weight[1]
        return w[:h] - w[h:]


class MLPRegressor(nn.Module):
    """eagle's MLP baseline: flattened features and adjacency -> `layers` x (Linear, LayerNorm, ReLU, dropout)
    -> Linear(hidden, 1)."""

    def __init__(self, hidden: int = 600, layers: int = 4, dropout: float = 0.002, n_in: int = MLP_DIM):
        super().__init__()
        self.dropout = dropout
        self.fcs = nn.ModuleList(nn.Linear(n_in if i == 0 else hidden, hidden) for i in range(layers))
        self.norm = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers))
        self.out = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        for fc, norm in zip(self.fcs, self.norm):
            x = _dropout(F.relu(norm(fc(x))), self.dropout, self.training, generator)
        return self.out(x)[:, 0]


@torch.no_grad()
def init_weights(net: nn.Module, generator: torch.Generator) -> nn.Module:
    """Seeded initialisation: graph convolutions U(-1/sqrt(fan), 1/sqrt(fan)), fan = last dimension (eagle's
    "thomas"); Linear layers PyTorch's default (kaiming-uniform a=sqrt(5), bias U(-1/sqrt(fan_in), ...));
    LayerNorm weight 1, bias 0. Modules are visited in registration order."""
    for m in net.modules():
        if isinstance(m, GraphConv):
            for t in (m.weight, m.bias):
                bound = 1.0 / math.sqrt(t.shape[-1])
                t.uniform_(-bound, bound, generator=generator)
        elif isinstance(m, nn.Linear):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
            bound = 1.0 / math.sqrt(m.weight.shape[1])
            m.bias.uniform_(-bound, bound, generator=generator)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return net
