"""The NAS-Bench-201 supernet for Zero-Cost-PT: the NB201 CIFAR network (C=16, N=5) whose six cell edges are
mixed operations over all five NB201 ops, with one op-weight matrix (6 x 5) shared by every cell (DARTS-style).

    net = NB201Supernet(seed=0)
    w = net.weights(projected=[-1, 3, -1, -1, -1, -1])     # edge 1 fixed to nor_conv_3x3, others uniform 1/5
    score = net.naswot(x, w)

Node i of a cell is the sum over its incoming edges (j -> i) of sum_o w[e, o] * op_o(node j). Cell convs are
ReLU -> Conv (bias-free) -> BatchNorm without affine parameters using batch statistics; the stem, the two
ResNet reduction blocks and the final BN use running statistics at their initial values (identity scaling), as
a search network in eval mode at initialisation. Weights are PyTorch's default initialisation drawn from
`torch.Generator().manual_seed(seed)`; the supernet is never trained (Zero-Cost-PT scores it at init).
`cell_bn="running"` makes the cell BNs use their initial running statistics too (eval mode with tracked
statistics); measured on the first perturbation step it ranks ops worse (docs/zc_pt.md), so batch statistics
are the default.

NASWOT codes: the reference computes every op of a mixed edge (a zero weight only multiplies the output), so
every ReLU of every ReLU-Conv-BN op fires, with the edge's source node as input, whatever the weights. Here an op
with weight 0 is skipped and its ReLU code is counted instead: node j's code is added with multiplicity
2 x (edges leaving j) per cell. The result equals the hook-based reference computation (tested), at the cost
of the ops actually used.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from nas.spaces import nb201
from nas.spaces.nb201_torch import init_parameters
from nas.zc_pt.naswot import Kernel

N_EDGES, N_OPS = len(nb201.EDGES), len(nb201.OPS)
_BN_EPS = 1e-5
_CONV_OPS = (nb201.CONV1, nb201.CONV3)


def _eval_bn(x: torch.Tensor) -> torch.Tensor:
    """BatchNorm in eval mode at initialisation (running mean 0, variance 1, weight 1, bias 0)."""
    return x * (1.0 / math.sqrt(1.0 + _BN_EPS))


class _ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = nn.Conv2d(c_in, c_out, 3, 2, 1, bias=False)
        self.conv_b = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.down = nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x: torch.Tensor, kernel: Kernel | None) -> torch.Tensor:
        if kernel is not None:
            kernel.add(x)
        a = _eval_bn(self.conv_a(F.relu(x)))
        if kernel is not None:
            kernel.add(a)
        b = _eval_bn(self.conv_b(F.relu(a)))
        return self.down(F.avg_pool2d(x, 2, 2)) + b


class _MixedCell(nn.Module):
    def __init__(self, c: int, batch_stats: bool = True):
        super().__init__()
        self.batch_stats = batch_stats
        self.conv1 = nn.ModuleList(nn.Conv2d(c, c, 1, bias=False) for _ in range(N_EDGES))
        self.conv3 = nn.ModuleList(nn.Conv2d(c, c, 3, padding=1, bias=False) for _ in range(N_EDGES))

    def forward(self, x: torch.Tensor, w: torch.Tensor, kernel: Kernel | None) -> torch.Tensor:
        nodes: list[torch.Tensor] = [x]
        relu: dict[int, torch.Tensor] = {}
        out_degree = [sum(1 for j, _ in nb201.EDGES if j == n) for n in range(nb201.N_NODES)]
        for i in range(1, nb201.N_NODES):
            total: torch.Tensor | None = None
            for e, (j, dst) in enumerate(nb201.EDGES):
                if dst != i:
                    continue
                src = nodes[j]
                for o in range(N_OPS):
                    wo = float(w[e, o])
                    if wo == 0.0 or o == nb201.NONE:
                        continue
                    if o == nb201.SKIP:
                        y = src
                    elif o == nb201.POOL:
                        y = F.avg_pool2d(src, 3, 1, 1, count_include_pad=False)
                    else:
                        if j not in relu:
                            relu[j] = F.relu(src)
                        conv = (self.conv1 if o == nb201.CONV1 else self.conv3)[e]
                        y = conv(relu[j])
                        y = F.batch_norm(y, None, None, training=True, eps=_BN_EPS) if self.batch_stats else _eval_bn(y)
                    y = y * wo
                    total = y if total is None else total + y
            nodes.append(total if total is not None else torch.zeros_like(x))
        if kernel is not None:
            for j in range(nb201.N_NODES - 1):
                kernel.add(nodes[j], count=len(_CONV_OPS) * out_degree[j])
        return nodes[-1]


class NB201Supernet(nn.Module):
    """NB201 supernet (see the module docstring); `forward(x, w)` with `w` a (6, 5) op-weight matrix."""

    def __init__(self, C: int = 16, N: int = 5, num_classes: int = 10, seed: int = 0, cell_bn: str = "batch"):
        super().__init__()
        self.C, self.N = C, N
        self.stem = nn.Conv2d(3, C, 3, padding=1, bias=False)
        layers: list[nn.Module] = []
        c = C
        for stage in range(3):
            if stage:
                layers.append(_ResBlock(c, 2 * c))
                c *= 2
            layers.extend(_MixedCell(c, cell_bn == "batch") for _ in range(N))
        self.layers = nn.ModuleList(layers)
        self.classifier = nn.Linear(c, num_classes)
        init_parameters(self, torch.Generator().manual_seed(int(seed)))
        self.requires_grad_(False)
        self.to(memory_format=torch.channels_last)  # about 2x faster convolutions and pooling on CPU

    @staticmethod
    def weights(projected: Sequence[int] | None = None) -> torch.Tensor:
        """Op weights: uniform 1/5 on undecided edges (projected[e] = -1), one-hot on projected ones."""
        w = torch.full((N_EDGES, N_OPS), 1.0 / N_OPS)
        for e, o in enumerate(projected or [-1] * N_EDGES):
            if o >= 0:
                w[e] = 0.0
                w[e, int(o)] = 1.0
        return w

    def features(self, x: torch.Tensor, w: torch.Tensor | None = None, kernel: Kernel | None = None) -> torch.Tensor:
        """Input of the final ReLU (after the last cell and BN); every ReLU input is added to `kernel`."""
        w = self.weights() if w is None else w
        x = _eval_bn(self.stem(x.contiguous(memory_format=torch.channels_last)))
        for layer in self.layers:
            x = layer(x, kernel) if isinstance(layer, _ResBlock) else layer(x, w, kernel)
        x = _eval_bn(x)
        if kernel is not None:
            kernel.add(x)
        return x

    def forward(self, x: torch.Tensor, w: torch.Tensor | None = None, kernel: Kernel | None = None) -> torch.Tensor:
        x = F.relu(self.features(x, w, kernel))
        return self.classifier(F.adaptive_avg_pool2d(x, 1).flatten(1))

    def naswot(self, x: torch.Tensor, w: torch.Tensor) -> float:
        """NASWOT score of the supernet with op weights `w` on the batch `x`."""
        kernel = Kernel(x.shape[0])
        with torch.no_grad():
            self.features(x, w, kernel)
        return kernel.score()
