"""Torch helpers of the zoo: an LRN layer that exports as the ONNX LRN operator, and seeded initialisation.

Modules are constructed on the meta device and then filled from one `torch.Generator`, so building a zoo
network neither touches torch's global RNG nor pays for torch's default initialisation of weights it
overwrites anyway.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F


@torch.library.custom_op("ovl_zoo::lrn", mutates_args=())
def lrn_op(x: torch.Tensor, size: int, alpha: float, beta: float, k: float) -> torch.Tensor:
    """torch's local_response_norm as one opaque op, so torch.export (the dynamo exporter) keeps it whole."""
    return F.local_response_norm(x, size, alpha, beta, k)


@lrn_op.register_fake
def _lrn_fake(x: torch.Tensor, size: int, alpha: float, beta: float, k: float) -> torch.Tensor:
    return torch.empty_like(x)


def lrn_onnxscript():
    """The dynamo exporter's translation of `ovl_zoo::lrn`: one ONNX LRN node (for `custom_translation_table`)."""
    from onnxscript import opset18 as op

    def lrn(x, size: int, alpha: float, beta: float, k: float):
        return op.LRN(x, size=size, alpha=alpha, beta=beta, bias=k)

    return {torch.ops.ovl_zoo.lrn.default: lrn}


class _LRNFunction(torch.autograd.Function):
    """Local response normalisation whose legacy ONNX export is one `LRN` node (not torch's decomposition)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, size: int, alpha: float, beta: float, k: float) -> torch.Tensor:
        return lrn_op(x, size, alpha, beta, k)

    @staticmethod
    def symbolic(g, x, size: int, alpha: float, beta: float, k: float):
        return g.op("LRN", x, size_i=size, alpha_f=alpha, beta_f=beta, bias_f=k)


class LRN(nn.Module):
    """Across-channel LRN with torch/ONNX semantics: x / (k + alpha/size * sum of squares in window)^beta."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _LRNFunction.apply(x, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


_CONV_LINEAR = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
_RNN = (nn.LSTM, nn.GRU, nn.RNN)
_BN = nn.modules.batchnorm._BatchNorm


def _normal(t: torch.Tensor, std: float, gen: torch.Generator) -> None:
    with torch.no_grad():
        t.normal_(0.0, std, generator=gen)


def _uniform(t: torch.Tensor, lo: float, hi: float, gen: torch.Generator) -> None:
    with torch.no_grad():
        t.uniform_(lo, hi, generator=gen)


def seeded_init_(module: nn.Module, seed: int) -> nn.Module:
    """Fill every parameter and buffer of `module` deterministically from `seed` (module order).

    Conv/Linear weights: He-normal (std sqrt(2/fan_in)); biases N(0, 0.05). BatchNorm: gamma U(0.5, 1.5),
    beta N(0, 0.1), running mean N(0, 0.1), running var U(0.5, 1.5), so folding BN changes the weights.
    PReLU slopes U(0.05, 0.3). LSTM/GRU: U(-1/sqrt(H), 1/sqrt(H)) as torch's default. Any other parameter:
    N(0, 0.1); any other buffer is an error. All values are random, so the ONNX exporter's deduplication of
    equal initialisers never merges two parameters.
    """
    gen = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, _CONV_LINEAR):
            if isinstance(m, nn.ConvTranspose2d):  # an output pixel sums Cin/g * k*k / stride^2 products
                fan_in = m.in_channels // m.groups * math.prod(m.kernel_size) / math.prod(m.stride)
            else:
                fan_in = m.weight[0].numel()
            _normal(m.weight, math.sqrt(2.0 / fan_in), gen)
            if m.bias is not None:
                _normal(m.bias, 0.05, gen)
        elif isinstance(m, _BN):
            _uniform(m.weight, 0.5, 1.5, gen)
            _normal(m.bias, 0.1, gen)
            _normal(m.running_mean, 0.1, gen)
            _uniform(m.running_var, 0.5, 1.5, gen)
            m.num_batches_tracked.zero_()
        elif isinstance(m, nn.PReLU):
            _uniform(m.weight, 0.05, 0.3, gen)
        elif isinstance(m, _RNN):
            bound = 1.0 / math.sqrt(m.hidden_size)
            for p in m.parameters(recurse=False):
                _uniform(p, -bound, bound, gen)
        else:
            for p in m.parameters(recurse=False):
                _normal(p, 0.1, gen)
            for name, _ in m.named_buffers(recurse=False):
                raise TypeError(f"seeded_init_: no rule for buffer '{name}' of {type(m).__name__}")
    return module


def build_seeded(factory: Callable[[], nn.Module], seed: int) -> nn.Module:
    """Construct `factory()` on the meta device, allocate it on the CPU and fill it with `seeded_init_`."""
    with torch.device("meta"):
        module = factory()
    module = module.to_empty(device="cpu")
    seeded_init_(module, seed)
    return module.eval()
