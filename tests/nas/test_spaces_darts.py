"""DARTS cell space: genotype parsing and validation, the torch network against its published size, and the
direct IR build against the torch module's own MAC and parameter counts."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from nas.spaces import SpaceError, darts
from nas.spaces.darts_torch import DartsNetwork, make_network


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def torch_counts(net: nn.Module, image: int = 32) -> tuple[int, int]:
    macs = 0

    def hook(m, inp, out):
        nonlocal macs
        per_out = m.weight[0].numel() if isinstance(m, nn.Conv2d) else m.in_features
        macs += out[0].numel() * per_out
    hs = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    net.eval()
    with torch.no_grad():
        net(torch.zeros(1, 3, image, image))
    for h in hs:
        h.remove()
    params = sum(p.numel() for p in net.parameters())
    params += sum(b.numel() for n, b in net.named_buffers() if not n.endswith("num_batches_tracked"))
    return macs, params


def test_darts_v2_has_the_published_size():
    # DARTS (second order) on CIFAR-10, C=36, 20 cells: 3.3 M parameters (paper); its training log prints
    # "param size = 3.349342MB" (parameters without the auxiliary head)
    with torch.device("meta"):
        net = DartsNetwork(darts.DARTS_V2, auxiliary=True)
    assert sum(p.numel() for n, p in net.named_parameters() if "auxiliary" not in n) == 3_349_342


@pytest.mark.parametrize("seed", [None, 0, 1, 2])
def test_ir_counts_equal_torch_counts(seed):
    g = darts.DARTS_V2 if seed is None else darts.random_genotype(np.random.default_rng(seed))
    net = make_network(g, seed=0, C=8, layers=5)
    ir = darts.build_ir(g, C=8, layers=5)
    ir.validate()
    macs, params = torch_counts(net)
    assert ir.totals().macs == macs
    assert ir.totals().params == params
    assert ir.tensors[ir.outputs[0]].shape == (1, 10)


def test_forward_and_auxiliary_head():
    net = make_network(darts.DARTS_V2, seed=0, C=8, layers=6, auxiliary=True, drop_path_prob=0.2)
    net.train()
    logits, aux = net(torch.randn(2, 3, 32, 32), generator=torch.Generator().manual_seed(0))
    assert logits.shape == aux.shape == (2, 10)
    net.eval()
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    ir = darts.build_ir(darts.DARTS_V2, C=8, layers=6, auxiliary=True)
    ir.validate()
    assert [ir.tensors[o].shape for o in ir.outputs] == [(1, 10), (1, 10)]


def test_none_edges_are_dropped_from_the_ir():
    g = darts.make_genotype([("none", 0), ("sep_conv_3x3", 1)] + [("skip_connect", 0), ("max_pool_3x3", 2)] * 3,
                            [2, 3, 4, 5], list(darts.DARTS_V2.reduce), [2, 3, 4, 5])
    ir = darts.build_ir(g, C=8, layers=5)
    ir.validate()
    macs, _ = torch_counts(make_network(g, seed=0, C=8, layers=5))
    assert ir.totals().macs == macs  # the dropped edge had no MACs; the graph stays valid


def test_genotype_round_trips_and_named_genotypes():
    for g in (darts.DARTS_V2, darts.random_genotype(np.random.default_rng(5))):
        assert darts.parse_genotype(str(g)) == g
    assert darts.parse_genotype("DARTS_V2") is darts.DARTS_V2
    text = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
            "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
            "normal_concat=range(2, 6), reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
            "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
            "('max_pool_3x3', 1)], reduce_concat=range(2, 6))")
    assert darts.parse_genotype(text) == darts.DARTS_V2
    js = '{"normal": [["skip_connect", 0], ["skip_connect", 1], ["skip_connect", 0], ["skip_connect", 2], ' \
         '["skip_connect", 0], ["skip_connect", 3], ["skip_connect", 0], ["skip_connect", 4]], ' \
         '"normal_concat": [2, 3, 4, 5], "reduce": [["max_pool_3x3", 0], ["max_pool_3x3", 1], ["max_pool_3x3", 0], ' \
         '["max_pool_3x3", 1], ["max_pool_3x3", 0], ["max_pool_3x3", 1], ["max_pool_3x3", 0], ["max_pool_3x3", 1]], ' \
         '"reduce_concat": [2, 3, 4, 5]}'
    g = darts.parse_genotype(js)
    darts.build_ir(g, C=8, layers=5).validate()


def test_random_genotypes_are_members_of_the_space():
    rng = np.random.default_rng(0)
    for _ in range(50):
        g = darts.random_genotype(rng)
        for edges in (g.normal, g.reduce):
            for node in range(4):
                (o1, j1), (o2, j2) = edges[2 * node:2 * node + 2]
                assert j1 != j2 and max(j1, j2) < node + 2
                assert "none" not in (o1, o2)


@pytest.mark.parametrize("bad,match", [
    ("Genotype(normal=[('conv', 0)])", "cannot read|edges"),
    ("nonsense", "cannot read"),
])
def test_bad_genotypes_are_user_errors(bad, match):
    with pytest.raises(SpaceError, match=match):
        darts.parse_genotype(bad)


def test_bad_edges_are_named():
    edges = list(darts.DARTS_V2.normal)
    with pytest.raises(SpaceError, match="unknown op 'conv_7x7'"):
        darts.make_genotype([("conv_7x7", 0)] + edges[1:], [2, 3, 4, 5], darts.DARTS_V2.reduce, [2, 3, 4, 5])
    with pytest.raises(SpaceError, match="reads node 2"):
        darts.make_genotype([("skip_connect", 2)] + edges[1:], [2, 3, 4, 5], darts.DARTS_V2.reduce, [2, 3, 4, 5])
