"""The DARTS CIFAR evaluation network of a genotype as a torch module (structure in `nas.spaces.darts`).

`DartsNetwork(genotype, C=36, layers=20)` is the published CIFAR-10 configuration; drop-path applies only in
training mode with `drop_path_prob > 0`. Build a seeded one with `make_network` (PyTorch default
initialisation from an explicit generator, see `nas.spaces.nb201_torch.init_parameters`).
"""
from __future__ import annotations

import torch
from torch import nn

from nas.spaces.darts import STEPS, Genotype, parse_genotype
from nas.spaces.nb201_torch import init_parameters


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, pad: int = 0):
        super().__init__(nn.ReLU(inplace=False), nn.Conv2d(c_in, c_out, k, stride, pad, bias=False),
                         nn.BatchNorm2d(c_out))


class SepHalf(nn.Sequential):
    """ReLU, depthwise k x k (stride, dilation), pointwise 1x1, BN."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int, pad: int, dil: int):
        super().__init__(nn.ReLU(inplace=False),
                         nn.Conv2d(c_in, c_in, k, stride, pad, dilation=dil, groups=c_in, bias=False),
                         nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))


class FactorizedReduce(nn.Module):
    """Halve the resolution with two 1x1 stride-2 convs, one on the input shifted by one pixel; concatenate."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out - c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


class Zero(nn.Module):
    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0) if self.stride == 1 else x[:, :, ::self.stride, ::self.stride].mul(0.0)


def make_op(op: str, c: int, stride: int) -> nn.Module:
    if op == "none":
        return Zero(stride)
    if op == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c)
    if op == "max_pool_3x3":
        return nn.MaxPool2d(3, stride, padding=1)
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride, padding=1, count_include_pad=False)
    k = 3 if op.endswith("3x3") else 5
    if op.startswith("sep_conv"):
        return nn.Sequential(SepHalf(c, c, k, stride, k // 2, 1), SepHalf(c, c, k, 1, k // 2, 1))
    return SepHalf(c, c, k, stride, k - 1, 2)


def drop_path(x: torch.Tensor, p: float, generator: torch.Generator | None) -> torch.Tensor:
    keep = 1.0 - p
    mask = torch.bernoulli(torch.full((x.shape[0], 1, 1, 1), keep, dtype=x.dtype), generator=generator)
    return x / keep * mask


class Cell(nn.Module):
    def __init__(self, genotype: Genotype, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool):
        super().__init__()
        self.reduction = reduction
        self.preprocess0 = FactorizedReduce(c_pp, c) if reduction_prev else ReLUConvBN(c_pp, c, 1)
        self.preprocess1 = ReLUConvBN(c_p, c, 1)
        edges, self.concat = ((genotype.reduce, genotype.reduce_concat) if reduction
                              else (genotype.normal, genotype.normal_concat))
        self.indices = [j for _, j in edges]
        self.ops = nn.ModuleList(make_op(op, c, 2 if reduction and j < 2 else 1) for op, j in edges)
        self.multiplier = len(self.concat)

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0,
                generator: torch.Generator | None = None) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for i in range(STEPS):
            total = None
            for k in (2 * i, 2 * i + 1):
                op = self.ops[k]
                h = op(states[self.indices[k]])
                if self.training and drop_prob > 0 and not isinstance(op, nn.Identity):
                    h = drop_path(h, drop_prob, generator)
                total = h if total is None else total + h
            states.append(total)
        return torch.cat([states[k] for k in self.concat], dim=1)


class AuxiliaryHead(nn.Module):
    def __init__(self, c: int, num_classes: int):
        super().__init__()
        self.features = nn.Sequential(
            nn.ReLU(inplace=True), nn.AvgPool2d(5, stride=3, padding=0, count_include_pad=False),
            nn.Conv2d(c, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=True),
            nn.Conv2d(128, 768, 2, bias=False), nn.BatchNorm2d(768), nn.ReLU(inplace=True))
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).flatten(1))


class DartsNetwork(nn.Module):
    """DARTS NetworkCIFAR. `forward` returns logits, or (logits, auxiliary logits) in training mode when built
    with `auxiliary=True`."""

    def __init__(self, genotype: Genotype | str, *, C: int = 36, layers: int = 20, num_classes: int = 10,
                 auxiliary: bool = False, drop_path_prob: float = 0.0):
        super().__init__()
        g = parse_genotype(genotype) if isinstance(genotype, str) else genotype
        self.genotype, self.drop_path_prob = g, drop_path_prob
        c_curr = 3 * C
        self.stem = nn.Sequential(nn.Conv2d(3, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr))
        c_pp, c_p, c = c_curr, c_curr, C
        reduction_prev = False
        self.cells = nn.ModuleList()
        self.aux_index = 2 * layers // 3
        c_aux = c_p
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c *= 2
            cell = Cell(g, c_pp, c_p, c, reduction, reduction_prev)
            self.cells.append(cell)
            reduction_prev = reduction
            c_pp, c_p = c_p, cell.multiplier * c
            if i == self.aux_index:
                c_aux = c_p
        self.auxiliary = AuxiliaryHead(c_aux, num_classes) if auxiliary else None
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None):
        s0 = s1 = self.stem(x)
        aux = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob, generator)
            if i == self.aux_index and self.auxiliary is not None and self.training:
                aux = self.auxiliary(s1)
        logits = self.classifier(self.global_pooling(s1).flatten(1))
        return (logits, aux) if aux is not None else logits


def make_network(genotype: Genotype | str, *, seed: int = 0, **kw) -> DartsNetwork:
    """A DARTS network initialised from `torch.Generator().manual_seed(seed)` (PyTorch default scheme)."""
    with torch.device("meta"):
        net = DartsNetwork(genotype, **kw)
    net = net.to_empty(device="cpu")
    return init_parameters(net, torch.Generator().manual_seed(seed))
