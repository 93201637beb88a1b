"""The NAS-Bench-201 CIFAR network as a torch module (C=16, N=5 by default), for proxies and numerics.

Two conventions for the cells' ReLU-Conv-BN edges:
- "benchmark": the network NB201 trained (Conv without bias, BatchNorm with affine parameters and running
  statistics), the same graph as `nas.spaces.nb201.build_ir(prune=False)`;
- "zc": the zero-cost-proxy reference model (SamsungLabs/zero-cost-nas `foresight/models/nasbench2*.py`): cell
  convs carry a bias and cell BatchNorms have no affine parameters and no running statistics. In training mode
  both conventions compute the same function at initialisation (BN removes the bias), but the bias changes
  synflow (BN off) and fisher, so proxies use "zc".

`bn=False` drops BatchNorm from the stem, the cells and the classifier head but keeps it in the two ResNet
reduction blocks, as the reference model's `get_prunable_copy(bn=False)` does (synflow runs on that copy).

Parameters are initialised like PyTorch's defaults but from an explicit `torch.Generator`, so a network is a
pure function of (arch, seed) and building one never touches the global RNG.
"""
from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from nas.spaces import nb201
from nas.spaces.nb201 import EDGES, N_NODES, ArchLike

Convention = Literal["benchmark", "zc"]


class Zero(nn.Module):
    """The `none` edge: multiplies by zero (keeps autograd's graph connected, like the reference)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, k: int, stride: int, *, bias: bool, bn: bool, affine: bool):
        layers: list[nn.Module] = [nn.ReLU(inplace=False),
                                   nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=bias)]
        if bn:
            layers.append(nn.BatchNorm2d(c_out, affine=affine, track_running_stats=affine))
        super().__init__(*layers)


class ResBlock(nn.Module):
    """NB201 reduction block: ReLU-Conv3x3(stride 2)-BN, ReLU-Conv3x3-BN, plus AvgPool2x2 -> Conv1x1 shortcut."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, bias=False, bn=True, affine=True)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, bias=False, bn=True, affine=True)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class Cell(nn.Module):
    """One NB201 cell: node i = sum over edges (j -> i) of op(node j); output = node 3.

    With `skip_zero_edges` set (`nas.proxies.zero_cost.skip_zero_edges` sets it), a `none` edge whose input is
    finite is left out of the sum instead of adding x * 0 (a node with only such edges is a zero tensor without
    autograd history), unless a skip edge shares a node with it (`_skippable`). Values are unchanged up to the
    sign of exact zeros, which no later operation of this network turns into a different value, and so is the
    order of every other float addition; autograd then gives no gradient (None) where the reference gives exact
    zeros, and callers must read None as zeros.
    """

    skip_zero_edges = False

    def __init__(self, ops: tuple[int, ...], c: int, *, convention: Convention, bn: bool):
        super().__init__()
        zc = convention == "zc"
        edges: list[nn.Module] = []
        for k in ops:
            if k == nb201.NONE:
                edges.append(Zero())
            elif k == nb201.SKIP:
                edges.append(nn.Identity())
            elif k == nb201.POOL:
                edges.append(nn.AvgPool2d(3, 1, padding=1, count_include_pad=False))
            else:
                edges.append(ReLUConvBN(c, c, 1 if k == nb201.CONV1 else 3, 1, bias=zc, bn=bn, affine=not zc))
        self.edges = nn.ModuleList(edges)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        finite: dict[int, bool] = {}
        skip = self._skippable() if self.skip_zero_edges else ()
        for i in range(1, N_NODES):
            total = None
            for e, (j, dst) in enumerate(EDGES):
                if dst != i:
                    continue
                if e in skip:
                    if j not in finite:  # a sum is finite only if every term is (inf, NaN propagate)
                        finite[j] = math.isfinite(float(nodes[j].detach().sum()))
                    if finite[j]:
                        continue
                y = self.edges[e](nodes[j])
                total = y if total is None else total + y
            nodes.append(torch.zeros_like(x) if total is None else total)
        return nodes[-1]

    def _skippable(self) -> tuple[int, ...]:
        """The none edges j -> i that can be left out without changing the order of any float addition in the
        forward, backward or double backward passes. A skip edge passes a tensor (forward) or a gradient
        (backward, also when that pass is recorded for a double backward) on as the same tensor, so that tensor
        takes part in several sums, and removing a zero term next to it moves the place where it is added (the
        proxies change, measured). So a none edge is kept when node j also has a skip edge out or node i has a
        skip edge in. Checked exhaustively, bit for bit on the output, Jacobian, gradients and Hessian-vector
        product, for every pattern of none/skip/conv/pool edges in networks of 1 and 2 cells per stage
        (bench/bench_nas_proxies.py --check-skip)."""
        ident = [type(m) is nn.Identity for m in self.edges]
        out = []
        for e, (j, i) in enumerate(EDGES):
            if type(self.edges[e]) is Zero and not any(ident[k] for k, (a, b) in enumerate(EDGES) if a == j or b == i):
                out.append(e)
        return tuple(out)


class NB201Network(nn.Module):
    """NB201 "TinyNetwork" for one cell. Build with `make_network` (seeded init) or construct and call
    `init_parameters(net, generator)`."""

    def __init__(self, arch: ArchLike, *, C: int = 16, N: int = 5, num_classes: int = 10,
                 convention: Convention = "benchmark", bn: bool = True):
        super().__init__()
        self.ops = nb201.as_ops(arch)
        self.arch_str = nb201.to_str(self.ops)
        stem: list[nn.Module] = [nn.Conv2d(3, C, 3, padding=1, bias=False)]
        if bn:
            stem.append(nn.BatchNorm2d(C))
        self.stem = nn.Sequential(*stem)
        layers: list[nn.Module] = []
        c = C
        for stage in range(3):
            if stage:
                layers.append(ResBlock(c, 2 * c))
                c *= 2
            layers.extend(Cell(self.ops, c, convention=convention, bn=bn) for _ in range(N))
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=True)) if bn else nn.ReLU(inplace=True)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.global_pooling(self.lastact(self.cells(self.stem(x))))
        return self.classifier(x.flatten(1))


@torch.no_grad()
def init_parameters(net: nn.Module, generator: torch.Generator) -> nn.Module:
    """PyTorch's default initialisation drawn from `generator`: Conv/Linear weights kaiming-uniform(a=sqrt 5),
    i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)), biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)); BN weight 1, bias 0,
    running mean 0, running variance 1. Modules are visited in registration order."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
            if m.bias is not None:
                fan_in = m.weight[0].numel()
                bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                nn.init.uniform_(m.bias, -bound, bound, generator=generator)
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            if m.affine:
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            if m.track_running_stats:
                m.reset_running_stats()
    return net


def make_network(arch: ArchLike, *, seed: int = 0, C: int = 16, N: int = 5, num_classes: int = 10,
                 convention: Convention = "benchmark", bn: bool = True,
                 dtype: torch.dtype = torch.float32) -> NB201Network:
    """A freshly initialised network, a pure function of its arguments (built on the meta device, then
    materialised and initialised from `torch.Generator().manual_seed(seed)`)."""
    with torch.device("meta"):
        net = NB201Network(arch, C=C, N=N, num_classes=num_classes, convention=convention, bn=bn)
    net = net.to_empty(device="cpu")
    init_parameters(net, torch.Generator().manual_seed(seed))
    return net.to(dtype)
