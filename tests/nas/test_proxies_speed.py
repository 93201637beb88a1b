"""The speed-ups of nas.proxies change no value: the exact 3x3 average pool against PyTorch's (forward, backward,
double backward, bit for bit), NASWOT's shared-input reuse and bit-packed kernel, skipped `none` edges, the BN-off
copy that takes the network's weights, and whole proxy sets with and without them."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from nas.proxies import NETWORK_PROXIES, ProxyError, cifar10_batch, nb201_proxies, score_network
from nas.proxies import zero_cost
from nas.proxies.zero_cost import ExactAvgPool3x3, fast_pooling, naswot_term, proxy_tensors, skip_zero_edges
from nas.spaces import nb201
from nas.spaces.nb201_torch import make_network

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

POOLS = "|avg_pool_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|"
SHARED = "|nor_conv_3x3~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|nor_conv_3x3~0|avg_pool_3x3~1|skip_connect~2|"


def heavy_tailed(*shape, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, generator=g, dtype=torch.float64)
    return (x * torch.exp(3 * torch.randn(*shape, generator=g, dtype=torch.float64))).to(dtype)


def same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)


@pytest.mark.parametrize("shape", [(8, 4, 32, 32), (3, 5, 8, 8), (2, 3, 7, 5), (2, 2, 1, 4), (1, 1, 2, 1)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_exact_pool_matches_torch_bit_for_bit(shape, dtype):
    ref = nn.AvgPool2d(3, 1, padding=1, count_include_pad=False)
    mine = ExactAvgPool3x3()
    x = heavy_tailed(*shape, dtype=dtype, seed=1)
    assert same(mine(x), ref(x))
    # backward and double backward (the grasp pattern: g . grad, differentiated again)
    outs = []
    for pool in (ref, mine):
        xi = x.clone().requires_grad_(True)
        w = heavy_tailed(*shape, dtype=dtype, seed=2).requires_grad_(True)
        y = pool(xi * w).square().sum()
        gx, gw = torch.autograd.grad(y, (xi, w), create_graph=True)
        v = heavy_tailed(*shape, dtype=dtype, seed=3)
        hx, hw = torch.autograd.grad((gw * v).sum(), (xi, w))
        outs.append((gx, gw, hx, hw))
    for a, b in zip(*outs):
        assert same(a.detach(), b.detach())


def test_exact_pool_rejects_non_4d_input():
    with pytest.raises(ProxyError, match="4-D"):
        ExactAvgPool3x3()(torch.zeros(3, 8, 8))


def test_fast_pooling_replaces_only_the_exact_pattern():
    net = nn.Sequential(nn.AvgPool2d(3, 1, padding=1, count_include_pad=False),
                        nn.AvgPool2d(3, 1, padding=1),                      # count_include_pad=True: different
                        nn.AvgPool2d(2, 2),
                        nn.Sequential(nn.AvgPool2d((3, 3), (1, 1), (1, 1), count_include_pad=False)),
                        nn.AvgPool2d(3, 1, padding=1, count_include_pad=False, ceil_mode=True))
    assert fast_pooling(net) == 2
    kinds = [type(m).__name__ for m in (net[0], net[1], net[2], net[3][0], net[4])]
    assert kinds == ["ExactAvgPool3x3", "AvgPool2d", "AvgPool2d", "ExactAvgPool3x3", "AvgPool2d"]
    nb = make_network(POOLS, seed=0, C=4, N=2, convention="zc")
    assert fast_pooling(nb) == 3 * 3 * 2  # three pool edges per cell, 3 stages x N=2 cells


@pytest.mark.parametrize("arch", [POOLS, SHARED])
def test_fast_pooling_leaves_every_proxy_unchanged(arch):
    b = cifar10_batch(16, seed=2)
    slow = make_network(arch, seed=4, C=8, N=1, convention="zc")
    fast = make_network(arch, seed=4, C=8, N=1, convention="zc")
    assert fast_pooling(fast) > 0
    a = score_network(slow, b, NETWORK_PROXIES)
    c = score_network(fast, b, NETWORK_PROXIES)
    for n in NETWORK_PROXIES:
        assert a[n] == c[n] or (math.isnan(a[n]) and math.isnan(c[n])), n


def naswot_every_relu(net, b):
    """NASWOT as the reference computes it: one kernel term per ReLU module, numpy float64."""
    n = b.inputs.shape[0]
    k = np.zeros((n, n))

    def hook(_m, inp, _out):
        c = (inp[0].detach().reshape(n, -1) > 0).double().numpy()
        k[:] += c @ c.T + (1 - c) @ (1 - c).T
    hooks = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.ReLU)]
    net.train()(b.inputs)
    for h in hooks:
        h.remove()
    return float(np.linalg.slogdet(k)[1])


def test_naswot_reuses_shared_relu_inputs_exactly():
    # SHARED has three convs reading node 0 and one more reading node 1: their ReLUs see the same tensor
    b = cifar10_batch(16, seed=5)
    net = make_network(SHARED, seed=1, C=4, N=2, convention="zc")
    assert score_network(net, b, ["naswot"])["naswot"] == naswot_every_relu(net, b)


def test_synflow_copy_takes_the_networks_weights():
    from nas.proxies import _bn_off_like

    net = make_network(POOLS, seed=9, C=4, N=1, convention="zc")
    ref = make_network(POOLS, seed=9, C=4, N=1, convention="zc", bn=False)
    got = _bn_off_like(net, net.ops, 4, 1)
    a, r = got.state_dict(), ref.state_dict()
    assert a.keys() == r.keys() and all(same(a[k], r[k]) for k in a)
    assert [type(m) for m in got.modules()] == [type(m) for m in ref.modules()]


def test_nb201_proxies_equal_the_unoptimised_path():
    """nb201_proxies (one build, fast pooling) against a fresh network per measure with PyTorch's pools."""
    b = cifar10_batch(8, seed=0)
    got = nb201_proxies(POOLS, NETWORK_PROXIES, seed=3, batch=b, C=4, N=1)
    main = score_network(make_network(POOLS, seed=3, C=4, N=1, convention="zc"), b,
                         [n for n in NETWORK_PROXIES if n != "synflow"])
    syn = score_network(make_network(POOLS, seed=3, C=4, N=1, convention="zc", bn=False), b, ["synflow"],
                        synflow_net=make_network(POOLS, seed=3, C=4, N=1, convention="zc", bn=False))
    for n in NETWORK_PROXIES:
        ref = syn[n] if n == "synflow" else main[n]
        assert got[n] == ref or (math.isnan(got[n]) and math.isnan(ref)), n


def float_kernel(c: np.ndarray) -> np.ndarray:
    c = c.astype(np.float64)
    return c @ c.T + (1 - c) @ (1 - c).T


@pytest.mark.parametrize("n,d", [(1, 1), (5, 1), (4, 7), (64, 63), (64, 64), (3, 65), (6, 1000), (7, 1100),
                                 (64, 16384)])
@pytest.mark.parametrize("popcount", ["numpy", "byte table"])
def test_packed_naswot_kernel_equals_float_kernel(n, d, popcount, monkeypatch):
    if popcount == "byte table":
        monkeypatch.setattr(zero_cost, "_popcount", zero_cost._popcount_bytes)
    rng = np.random.default_rng(d)
    codes = rng.random((n, d)) < rng.random((n, 1))  # rows of different densities
    codes[0] = False
    if n > 2:
        codes[1] = True
        codes[2] = codes[0]  # a repeated code: the full length D
    got = naswot_term(codes)
    assert got.dtype == np.float64 and np.array_equal(got, float_kernel(codes))
    same_codes = np.ones((n, d), bool)  # all equal: every entry D
    assert np.array_equal(naswot_term(same_codes), np.full((n, n), float(d)))


# none edges: node 1 has only a none input and feeds only none edges, node 2's conv feeds only a none edge
# (dead weights: no gradient when skipped), DISCONNECTED has no path from input to output (jacob_cov NaN)
DEAD = "|none~0|+|nor_conv_3x3~0|none~1|+|nor_conv_1x1~0|none~1|none~2|"
MIXED = "|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_1x1~2|"
DISCONNECTED = "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|"


# a none edge next to a skip edge: leaving it out would change the order of float additions (found by the
# exhaustive check; the proxies of NB201 cell 8336, the first, changed in the 7th digit), so it is kept
NEXT_TO_SKIP = ["|skip_connect~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|nor_conv_3x3~1|nor_conv_1x1~2|",
                "|skip_connect~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|skip_connect~0|none~1|skip_connect~2|",
                "|nor_conv_1x1~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",
                "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|skip_connect~0|none~1|skip_connect~2|"]
SKIPPED = {DEAD: 4, MIXED: 0, DISCONNECTED: 5, POOLS: 1}


@pytest.mark.parametrize("arch", [DEAD, MIXED, DISCONNECTED, POOLS])
def test_skipping_none_edges_leaves_every_proxy_unchanged(arch):
    b = cifar10_batch(16, seed=6)
    ref = make_network(arch, seed=2, C=4, N=2, convention="zc")
    fast = make_network(arch, seed=2, C=4, N=2, convention="zc")
    assert skip_zero_edges(fast) == 2 * 3 * SKIPPED[arch]
    a = score_network(ref, b, NETWORK_PROXIES)
    c = score_network(fast, b, NETWORK_PROXIES)
    for n in NETWORK_PROXIES:
        assert a[n] == c[n] or (math.isnan(a[n]) and math.isnan(c[n])), n
    if arch == DISCONNECTED:
        assert math.isnan(c["jacob_cov"])


def test_skipped_none_edge_with_non_finite_input_propagates_nan_like_the_reference():
    # skips only: x * 0 is NaN where x is inf, so the reference's node 2 and 3 are NaN exactly there
    net = make_network("|skip_connect~0|+|none~0|skip_connect~1|+|skip_connect~0|none~1|skip_connect~2|", seed=0,
                       C=4, N=1, convention="zc")
    cell = net.cells[0]
    x = heavy_tailed(2, 4, 6, 6, seed=4)
    x[0, 1, 2, 3] = float("inf")
    ref = cell(x)
    skip_zero_edges(net)
    got = cell(x)
    assert torch.isnan(ref).sum() == 1
    assert torch.equal(torch.isnan(got), torch.isnan(ref))
    assert torch.equal(got.nan_to_num(0.0), ref.nan_to_num(0.0))


def test_nb201_proxies_redo_without_skipping_when_a_gradient_proxy_is_not_finite(monkeypatch):
    import nas.proxies as proxies
    from nas.spaces.nb201_torch import Cell

    real = proxies.score_network
    calls = []

    def flaky(net, batch, names, **kw):  # the first (skipping) pass reports an overflowed grad_norm
        skipping = [m.skip_zero_edges for m in net.modules() if isinstance(m, Cell)]
        calls.append((tuple(names), all(skipping), any(skipping)))
        out = real(net, batch, names, **kw)
        if len(calls) == 1:
            out["grad_norm"] = float("inf")
        return out
    monkeypatch.setattr(proxies, "score_network", flaky)
    b = cifar10_batch(8, seed=0)
    got = proxies.nb201_proxies(DEAD, NETWORK_PROXIES, seed=3, batch=b, C=4, N=1)
    main = [n for n in NETWORK_PROXIES if n != "synflow"]
    assert calls == [(NETWORK_PROXIES, True, True), (tuple(main), False, False)]
    monkeypatch.setattr(proxies, "score_network", real)
    ref = proxies.nb201_proxies(DEAD, NETWORK_PROXIES, seed=3, batch=b, C=4, N=1)
    assert all(got[n] == ref[n] or (math.isnan(got[n]) and math.isnan(ref[n])) for n in NETWORK_PROXIES)


def skip_pattern_sample():
    rng = np.random.default_rng(3)
    ops = (0, 1, 2, 4)  # none, skip, conv (1x1 and 3x3 build the same graph), pool
    return NEXT_TO_SKIP + [DEAD, POOLS] + ["|{}~0|+|{}~0|{}~1|+|{}~0|{}~1|{}~2|".format(
        *(nb201.OPS[k] for k in rng.choice(ops, 6, p=(0.3, 0.3, 0.2, 0.2)))) for _ in range(24)]


@pytest.mark.parametrize("n_cells", [1, 2])
def test_skipping_keeps_every_gradient_bit_for_bit(n_cells):
    """Stronger than the proxies: every tensor the proxies read, on tiny networks (1 and 2 cells per stage) of
    the edge patterns next to skip edges and 24 random ones. The exhaustive version over all 4,096 patterns of
    none/skip/conv/pool edges: bench/bench_nas_proxies.py --check-skip."""
    g = torch.Generator().manual_seed(0)
    x, t = torch.randn(4, 3, 16, 16, generator=g), torch.tensor([1, 7, 3, 3])
    for arch in skip_pattern_sample():
        ref = make_network(arch, seed=1, C=2, N=n_cells, convention="zc")
        fast = make_network(arch, seed=1, C=2, N=n_cells, convention="zc")
        fast_pooling(ref)
        fast_pooling(fast)
        skip_zero_edges(fast)
        for a, b in zip(proxy_tensors(ref, x, t), proxy_tensors(fast, x, t), strict=True):
            assert torch.equal(a, b), arch
