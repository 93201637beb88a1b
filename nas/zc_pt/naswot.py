"""NASWOT score (Mellor et al. 2021) as Zero-Cost-PT uses it: K = sum over ReLUs of c c^T + (1 - c)(1 - c)^T,
c the per-sample binary code of the ReLU's input (input > 0), score = log|det K| (slogdet; -inf when singular).

`Kernel` accumulates K from ReLU inputs; a ReLU instance that appears `count` times with the same input (the
same node feeding several ReLU-Conv-BN operations) is added with that multiplicity. `relu_hooks` attaches it to
every `nn.ReLU` module of a network, which is how the reference collects the codes.
"""
from __future__ import annotations

import contextlib
import math
from typing import Iterator

import numpy as np
import torch
from torch import nn


class Kernel:
    """Accumulates the NASWOT kernel of a batch of `n` samples (float64)."""

    def __init__(self, n: int):
        self.k = torch.zeros(n, n, dtype=torch.float64)

    def add(self, x: torch.Tensor, count: float = 1.0) -> None:
        n = x.shape[0]
        x = x.detach()
        if x.dim() == 4 and x.is_contiguous(memory_format=torch.channels_last):
            x = x.permute(0, 2, 3, 1)  # a view; the code's element order does not change K
        c = (x > 0).reshape(n, -1).to(torch.float32)
        s = c.sum(1, dtype=torch.float64)
        cc = (c @ c.T).to(torch.float64)
        # c c^T + (1 - c)(1 - c)^T = D - s_i - s_j + 2 c c^T  (D = code length)
        self.k.add_((c.shape[1] - s[:, None] - s[None, :] + 2.0 * cc) * count)

    def score(self) -> float:
        sign, logdet = np.linalg.slogdet(self.k.numpy())
        return float(logdet) if sign != 0 and math.isfinite(logdet) else float("-inf")


@contextlib.contextmanager
def relu_hooks(net: nn.Module, kernel: Kernel) -> Iterator[Kernel]:
    """Add every nn.ReLU input of `net` to `kernel` while the context is open."""
    hooks = [m.register_forward_hook(lambda _m, inp, _out: kernel.add(inp[0]))
             for m in net.modules() if isinstance(m, nn.ReLU)]
    try:
        yield kernel
    finally:
        for h in hooks:
            h.remove()


def naswot(net: nn.Module, x: torch.Tensor) -> float:
    """NASWOT score of `net` on the batch `x` (forward only, the network's current train/eval mode)."""
    kernel = Kernel(x.shape[0])
    with torch.no_grad(), relu_hooks(net, kernel):
        net(x)
    return kernel.score()
