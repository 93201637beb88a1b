"""Zero-cost proxies: the shared-pass implementation against straightforward one-measure-per-pass versions
written the way the reference code computes them, exact values on tiny networks, determinism, sign
conventions against NASLib's published scores."""
from __future__ import annotations

import copy
import math
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nas.proxies import PROXIES, ProxyError, cifar10_batch, nb201_flops, nb201_params, nb201_proxies, score_network
from nas.proxies.zero_cost import Batch, jacob_cov_score
from nas.spaces import nb201
from nas.spaces.nb201_torch import make_network

CELL = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"


def small_net(arch=CELL, seed=3, bn=True):
    return make_network(arch, seed=seed, C=4, N=1, convention="zc", bn=bn)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def batch():
    b = cifar10_batch(16, seed=1)
    return b


def layers(net):
    return [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


# --- reference-style versions, one pass per measure, on deep copies ----------------------------------------------
def ref_grad_norm(net, b):
    net = copy.deepcopy(net).train()
    F.cross_entropy(net(b.inputs), b.targets).backward()
    return sum(float(m.weight.grad.norm()) for m in layers(net))


def ref_snip(net, b):
    net = copy.deepcopy(net).train()
    for m in layers(net):
        m.weight_mask = nn.Parameter(torch.ones_like(m.weight))
        m.weight.requires_grad = False
        if isinstance(m, nn.Conv2d):
            m.forward = types.MethodType(lambda s, x: s._conv_forward(x, s.weight * s.weight_mask, s.bias), m)
        else:
            m.forward = types.MethodType(lambda s, x: F.linear(x, s.weight * s.weight_mask, s.bias), m)
    F.cross_entropy(net(b.inputs), b.targets).backward()
    return sum(float(m.weight_mask.grad.abs().sum()) for m in layers(net))


def ref_grasp(net, b):
    net = copy.deepcopy(net).train()
    ws = [m.weight for m in layers(net)]
    g1 = torch.autograd.grad(F.cross_entropy(net(b.inputs), b.targets), ws)
    g2 = torch.autograd.grad(F.cross_entropy(net(b.inputs), b.targets), ws, create_graph=True)
    sum((a.detach() * g).sum() for a, g in zip(g1, g2)).backward()
    return sum(float((-w.detach() * w.grad).sum()) for w in ws)


def ref_fisher(net, b):
    net = copy.deepcopy(net).train()
    store = {}
    for m in layers(net):
        m.dummy = nn.Identity()
        base = m.forward
        m.forward = types.MethodType(lambda s, x, base=base: s.dummy(base(x)), m)

        def hook(mod, gin, gout, m=m):
            store[m] = gout[0].detach()
        m.dummy.register_full_backward_hook(hook)

        def keep(mod, inp, out, m=m):
            m.act = out.detach()
        m.dummy.register_forward_hook(keep)
    F.cross_entropy(net(b.inputs), b.targets).backward()
    total = 0.0
    for m in layers(net):
        prod = m.act * store[m]
        g = prod.sum((2, 3)) if prod.dim() == 4 else prod
        total += float((0.5 * g.pow(2).mean(0)).abs().sum()) * m.weight[0].numel()
    return total


def ref_jacob(net, b):
    net = copy.deepcopy(net).train()
    x = b.inputs.clone().requires_grad_(True)
    y = net(x)
    y.backward(torch.ones_like(y))
    j = x.grad.reshape(x.shape[0], -1).numpy()
    v = np.linalg.eig(np.corrcoef(j))[0].real
    return float(-np.sum(np.log(v + 1e-5) + 1.0 / (v + 1e-5)))


def ref_naswot(net, b):
    net = copy.deepcopy(net).train()
    n = b.inputs.shape[0]
    k = np.zeros((n, n))

    def hook(m, inp, out):
        c = (inp[0].detach().reshape(n, -1) > 0).double().numpy()
        k[:] += c @ c.T + (1 - c) @ (1 - c).T
    for m in net.modules():
        if isinstance(m, nn.ReLU):
            m.register_forward_hook(hook)
    net(b.inputs)
    return float(np.linalg.slogdet(k)[1])


REFS = {"grad_norm": ref_grad_norm, "snip": ref_snip, "grasp": ref_grasp, "fisher": ref_fisher,
        "jacob_cov": ref_jacob, "naswot": ref_naswot}


@pytest.mark.parametrize("arch", [CELL, "|nor_conv_1x1~0|+|none~0|nor_conv_3x3~1|+|avg_pool_3x3~0|skip_connect~1|"
                                        "nor_conv_3x3~2|"])
def test_shared_pass_equals_one_pass_per_measure(arch, batch):
    net = small_net(arch)
    got = score_network(net, batch, list(REFS))
    for name, ref in REFS.items():
        assert got[name] == pytest.approx(ref(net, batch), rel=1e-4, abs=1e-9), name


def test_synflow_exact_on_a_linear_chain():
    # conv(1->1, 1x1, w=-2) -> relu -> linear(1->1, w=3, b=-1): abs params, ones input of shape (1,1,2,2)
    # x=1 -> conv 2 -> relu 2 -> flatten over 4 pixels ... use GAP-free: flatten 4 values into linear(4->1)
    net = nn.Sequential(nn.Conv2d(1, 1, 1, bias=False), nn.ReLU(), nn.Flatten(), nn.Linear(4, 1))
    with torch.no_grad():
        net[0].weight.fill_(-2.0)
        net[3].weight.copy_(torch.tensor([[1.0, -2.0, 3.0, -4.0]]))
        net[3].bias.fill_(-5.0)
    b = Batch(torch.zeros(1, 1, 2, 2), torch.zeros(1, dtype=torch.long))
    got = score_network(net, b, ["synflow"])["synflow"]
    # R = sum_k |v_k| * 2 * 1 + 5 ; dR/dw_conv = sum|v| = 10 -> |w dR/dw| = 20 ; dR/dv_k = 2 -> sum |v_k| * 2 = 20
    assert got == pytest.approx(40.0)


def test_synflow_uses_float64_and_absolute_weights(batch):
    net = small_net()
    before = [p.detach().clone() for p in net.parameters()]
    a = score_network(net, batch, ["synflow"])["synflow"]
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), before))  # original net untouched
    syn = copy.deepcopy(net)
    for m in list(syn.modules()):
        for name, child in list(m.named_children()):
            if isinstance(child, nn.BatchNorm2d):
                setattr(m, name, nn.Identity())
    syn = syn.double()
    with torch.no_grad():
        for p in syn.parameters():
            p.abs_()
    syn(torch.ones(1, 3, 32, 32, dtype=torch.float64)).sum().backward()
    ref = sum(float((m.weight * m.weight.grad).abs().sum()) for m in layers(syn))
    assert a == pytest.approx(ref, rel=1e-12)


def test_nb201_synflow_keeps_reduction_bn_like_the_reference():
    off = make_network(CELL, seed=0, C=4, N=1, convention="zc", bn=False)
    bns = [n for n, m in off.named_modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(".conv_a." in n or ".conv_b." in n for n in bns)
    assert len(bns) == 4  # two reduction blocks x (conv_a, conv_b)


def test_params_and_flops_exact_values():
    full3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    # NB201's published extremes: 1.53 M parameters and 220 M MACs for the all-conv3x3 cell (CIFAR-10)
    assert nb201_params(full3) == 1_531_546
    assert nb201_flops(full3) == 220_119_680
    # hand count for the all-skip cell: stem + 2 reduction blocks + classifier
    skip = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
    stem = 3 * 16 * 9 + 2 * 16
    red1 = 16 * 32 * 9 + 2 * 32 + 32 * 32 * 9 + 2 * 32 + 16 * 32
    red2 = 32 * 64 * 9 + 2 * 64 + 64 * 64 * 9 + 2 * 64 + 32 * 64
    head = 2 * 64 + 64 * 10 + 10
    assert nb201_params(skip) == stem + red1 + red2 + head
    macs = (3 * 16 * 9 * 32 * 32 + 16 * 32 * 9 * 16 * 16 + 32 * 32 * 9 * 16 * 16 + 16 * 32 * 16 * 16
            + 32 * 64 * 9 * 8 * 8 + 64 * 64 * 9 * 8 * 8 + 32 * 64 * 8 * 8 + 64 * 10)
    assert nb201_flops(skip) == macs


def test_params_match_naslib_exactly():
    from nas.data import naslib_zc

    d = naslib_zc("cifar10")
    for k in range(0, 725, 97):
        assert nb201_params(d["arch_str"][k]) == round(d["params"][k] * 1e6)


def test_deterministic_and_seeded(batch):
    names = ["grad_norm", "synflow", "jacob_cov"]
    a = nb201_proxies(CELL, names, seed=5, batch=batch, C=4, N=1)
    b = nb201_proxies(CELL, names, seed=5, batch=batch, C=4, N=1)
    c = nb201_proxies(CELL, names, seed=6, batch=batch, C=4, N=1)
    assert a == b
    assert a["grad_norm"] != c["grad_norm"]
    assert cifar10_batch(8, seed=3).inputs.equal(cifar10_batch(8, seed=3).inputs)


def test_batch_is_real_normalised_cifar():
    b = cifar10_batch(64, seed=0)
    assert b.inputs.shape == (64, 3, 32, 32) and b.targets.shape == (64,)
    assert set(b.targets.tolist()) <= set(range(10)) and len(set(b.targets.tolist())) >= 8
    m = b.inputs.mean((0, 2, 3))
    assert (m.abs() < 0.6).all()  # roughly centred by the CIFAR statistics (padding zeros shift it a little)
    raw = cifar10_batch(64, seed=0, augment=False).inputs
    assert not torch.equal(raw, b.inputs)


def test_signs_follow_the_reference_conventions(batch):
    # magnitudes-based proxies are non-negative; grasp is negated (-W Hg) so it can be either sign
    r = nb201_proxies(CELL, ["grad_norm", "snip", "fisher", "synflow", "grasp"], seed=0, batch=batch, C=4, N=1)
    assert r["grad_norm"] > 0 and r["snip"] > 0 and r["fisher"] > 0 and r["synflow"] > 0
    net = small_net()
    g = score_network(net, batch, ["grasp"])["grasp"]
    assert g == pytest.approx(ref_grasp(net, batch), rel=1e-4)


def test_disconnected_cell_scores_zero_gradients(batch):
    dead = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    r = score_network(make_network(dead, seed=0, C=4, N=1, convention="zc"), batch, ["snip", "synflow", "jacob_cov"])
    net = make_network(dead, seed=0, C=4, N=1, convention="zc")
    # only the classifier (and the layers after the last cell) carry gradient; the stem is cut off
    F.cross_entropy(net(batch.inputs), batch.targets).backward()
    assert float(net.stem[0].weight.grad.abs().sum()) == 0.0
    assert math.isnan(r["jacob_cov"])  # the Jacobian w.r.t. the input is identically zero


def test_jacob_cov_score_on_known_matrix():
    # orthogonal rows -> correlation identity-ish; equal rows -> rank one
    j = np.eye(4)
    corr = np.corrcoef(j)
    v = np.linalg.eigvalsh(corr)
    assert jacob_cov_score(j) == pytest.approx(-np.sum(np.log(v + 1e-5) + 1 / (v + 1e-5)))


def test_unknown_proxy_is_a_user_error():
    with pytest.raises(ProxyError, match="unknown proxy 'synflowx'"):
        nb201_proxies(CELL, ["synflowx"])
    assert "vote" not in PROXIES


def test_synflow_alone_equals_synflow_with_the_other_proxies():
    small = cifar10_batch(4, seed=0)
    for i in (11, 4000):
        alone = nb201_proxies(i, ["synflow"], C=4, N=2)["synflow"]
        assert alone == nb201_proxies(i, ["synflow", "grad_norm"], batch=small, C=4, N=2)["synflow"]
    # and the default network is the benchmark size
    assert nb201_proxies(11, ["synflow"])["synflow"] != nb201_proxies(11, ["synflow"], C=4, N=2)["synflow"]


def test_params_equal_the_torch_module_count():
    from nas.spaces.nb201_torch import NB201Network

    for i in (0, 5, 77, 3, 12000):
        with torch.device("meta"):
            net = NB201Network(i)
        assert nb201_params(i) == sum(p.numel() for p in net.parameters())
