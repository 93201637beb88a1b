"""Zero-Cost-PT: the NB201 supernet's fast NASWOT equals the reference hook-based computation, the
perturbation steps follow the published rule, op strength from the benchmark, the scoring correlation, the
runtime study (store, resume, selection), the DARTS supernet's genotypes, CLI and errors. Small supernets
(C=4, N=1) keep the file fast."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from compiler.cli import main as ovl
from compiler.errors import UserError
from nas.data import nb201_table
from nas.proxies import cifar10_batch
from nas.runtime import TrialStore
from nas.spaces import darts, nb201
from nas.zc_pt.darts_supernet import DartsSupernet, zc_pt_darts
from nas.zc_pt.naswot import Kernel, naswot
from nas.zc_pt.nb201_supernet import NB201Supernet, _MixedCell, _ResBlock
from nas.zc_pt.search import ZCPTSpec, discretise, post_validate, run_zc_pt
from nas.zc_pt.strength import op_scoring_correlation, op_strength

ACC = nb201_table().cifar10
SMALL = ZCPTSpec(candidates=2, validate_rounds=2, batch_size=8, C=4, N=1)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def reference_naswot(net: NB201Supernet, x: torch.Tensor, w: torch.Tensor) -> float:
    """Every op of every mixed edge computed (weight 0 only multiplies), every ReLU's code added once."""
    k = Kernel(x.shape[0])
    bn = lambda t: t / (1 + 1e-5) ** 0.5  # noqa: E731
    h = bn(net.stem(x))
    for layer in net.layers:
        if isinstance(layer, _ResBlock):
            k.add(h)
            a = bn(layer.conv_a(F.relu(h)))
            k.add(a)
            h = layer.down(F.avg_pool2d(h, 2, 2)) + bn(layer.conv_b(F.relu(a)))
            continue
        assert isinstance(layer, _MixedCell)
        nodes = [h]
        for i in range(1, 4):
            total = 0
            for e, (j, dst) in enumerate(nb201.EDGES):
                if dst != i:
                    continue
                src = nodes[j]
                outs = [src * 0, src, None, None, F.avg_pool2d(src, 3, 1, 1, count_include_pad=False)]
                for o, conv in ((2, layer.conv1[e]), (3, layer.conv3[e])):
                    k.add(src)                                    # this op's own ReLU fires
                    outs[o] = F.batch_norm(conv(F.relu(src)), None, None, training=True)
                total = total + sum(w[e, o] * outs[o] for o in range(5))
            nodes.append(total)
        h = nodes[-1]
    k.add(bn(h))
    return k.score()


@pytest.mark.parametrize("projected", [[-1] * 6, [3, -1, 1, -1, 0, 4], [2, 1, 0, 4, 3, 1]])
def test_supernet_naswot_equals_the_reference_computation(projected):
    net = NB201Supernet(C=4, N=2, seed=3)
    x = cifar10_batch(10, seed=1).inputs
    w = net.weights(projected)
    if projected[1] < 0:
        w[1, 3] = 0.0                                            # a removal being scored
    with torch.no_grad():
        ref = reference_naswot(net, x, w)
    assert net.naswot(x, w) == pytest.approx(ref, rel=1e-6, abs=1e-6)


def test_naswot_kernel_known_values():
    x = torch.tensor([[1.0, -1.0, 2.0], [1.0, -1.0, 2.0], [-1.0, 1.0, -2.0]])
    k = Kernel(3)
    k.add(x)
    assert k.k.tolist() == [[3, 3, 0], [3, 3, 0], [0, 0, 3]]      # Hamming agreements
    assert k.score() == float("-inf")                           # two identical codes: singular
    # codes 101, 011, 000: agreements 3 on the diagonal, 1 elsewhere; det = 20
    x = torch.tensor([[1.0, -1.0, 2.0], [-1.0, 1.0, 2.0], [-1.0, -1.0, -2.0]])
    k = Kernel(3)
    k.add(x)
    assert k.k.tolist() == [[3, 1, 1], [1, 3, 1], [1, 1, 3]]
    assert k.score() == pytest.approx(np.log(20.0))
    k.add(x, count=2)                                           # multiplicity: K = 3 x the above, det x 27
    assert k.score() == pytest.approx(np.log(20.0 * 27))
    # a channels-last 4-D input gives the same kernel as its contiguous copy
    t = torch.randn(5, 3, 4, 4, generator=torch.Generator().manual_seed(1))
    a, b = Kernel(5), Kernel(5)
    a.add(t)
    b.add(t.contiguous(memory_format=torch.channels_last))
    assert torch.equal(a.k, b.k)


def test_naswot_equals_an_independent_computation():
    """naswot() on a seeded MLP equals K built in numpy from the two ReLUs' input signs (the weights are drawn
    from an explicit generator, so the value does not depend on the global torch seed)."""
    g = torch.Generator().manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16), torch.nn.ReLU())
    with torch.no_grad():
        for prm in net.parameters():
            prm.copy_(torch.randn(prm.shape, generator=g))
    x = torch.randn(6, 3, generator=g)
    with torch.no_grad():
        h1 = net[0](x)
        h2 = net[2](torch.relu(h1))
    c = np.concatenate([(h1 > 0).numpy(), (h2 > 0).numpy()], axis=1).astype(float)
    kk = c @ c.T + (1 - c) @ (1 - c).T
    sign, ref = np.linalg.slogdet(kk)
    assert sign != 0 and np.isfinite(ref)
    assert naswot(net, x) == pytest.approx(ref, rel=1e-12)


def test_discretise_follows_the_perturbation_rule():
    net = NB201Supernet(C=4, N=1, seed=0)
    spec = ZCPTSpec(batch_size=8, C=4, N=1, edge_order="order")
    ops, trace = discretise(net, spec, np.random.default_rng(7))
    assert [t["edge"] for t in trace] == list(range(6))
    for t in trace:
        assert t["chosen"] == int(np.nanargmin(t["scores"]))
        assert ops[t["edge"]] == t["chosen"]
    # removing `none` changes nothing: its score is the unperturbed supernet's
    x_seed_rng = np.random.default_rng(7)
    x = cifar10_batch(8, seed=int(x_seed_rng.integers(2 ** 62))).inputs
    assert trace[0]["scores"][0] == pytest.approx(net.naswot(x, net.weights()))
    rev, _ = discretise(net, ZCPTSpec(batch_size=8, C=4, N=1, edge_order="reverse"), np.random.default_rng(7))
    assert len(rev) == 6
    a = post_validate(net, ops, SMALL, 11)
    assert a == post_validate(net, ops, SMALL, 11) and np.isfinite(a)


def test_op_strength_and_scoring_correlation():
    mat = nb201.ops_matrix()
    s = op_strength("cifar10")
    assert s[3, 3] == pytest.approx(ACC[mat[:, 3] == 3].mean())
    assert op_strength("cifar10", stat="best").max() == pytest.approx(ACC.max())
    fixed = [3, 3, 3, 3, 3, -1]
    cond = op_strength("cifar10", fixed=fixed, stat="mean")
    for o in range(5):
        assert cond[5, o] == pytest.approx(ACC[nb201.to_index((3, 3, 3, 3, 3, o))])
    assert np.isnan(cond[0, 2])                                  # no cell matches edge 0 = conv1x1 here
    # scores that are minus the strength rank ops perfectly; the strength itself ranks them backwards
    good = [[e, int(np.argmax(s[e])), *(-s[e]).tolist()] for e in (2, 0, 5, 1, 4, 3)]
    bad = [[e, 0, *s[e].tolist()] for e in (2, 0, 5, 1, 4, 3)]
    rows = op_scoring_correlation([good])
    assert [r["rho_mean"] for r in rows] == pytest.approx([1.0] * 6)
    assert op_scoring_correlation([bad])[0]["rho_mean"] == pytest.approx(-1.0)


def test_study_selection_store_and_resume(tmp_path):
    runs = run_zc_pt(SMALL, tmp_path / "z.db", [0, 1])
    assert [r.seed for r in runs] == [0, 1]
    for r in runs:
        assert len(r.candidates) == 2
        assert r.chosen["score"] == max(c["score"] for c in r.candidates)
        assert r.chosen["accuracy"] == pytest.approx(ACC[nb201.to_index(r.chosen["arch"])])
        assert all(len(c["trace"]) == 6 for c in r.candidates)
    with TrialStore(tmp_path / "z.db", readonly=True) as st:
        assert len(st.trials(st.study("zc-pt-s1"))) == 2
    again = run_zc_pt(SMALL, tmp_path / "z.db", [0], resume=True)
    assert again[0].chosen == runs[0].chosen
    other = run_zc_pt(SMALL, tmp_path / "y.db", [0])
    assert other[0].chosen["arch"] == runs[0].chosen["arch"]      # deterministic given the seed


def test_darts_supernet_selects_a_valid_genotype():
    ops = ("skip_connect", "sep_conv_3x3")
    r = zc_pt_darts(candidates=1, validate_rounds=1, batch_size=4, C=2, layers=3, ops=ops, seed=0)
    g = darts.parse_genotype(r["genotype"])
    for cell in (g.normal, g.reduce):
        assert len(cell) == 8 and all(op in ops for op, _ in cell)
        for node in range(4):
            (_, a), (_, b) = cell[2 * node:2 * node + 2]
            assert a != b and max(a, b) < node + 2
    assert r["score"] == r["candidates"][0]["score"] and np.isfinite(r["score"])
    net = DartsSupernet(C=2, layers=3, ops=ops, seed=0)
    assert net(cifar10_batch(4).inputs).shape == (4, 10)


def test_cli_and_errors(tmp_path, capsys):
    store = tmp_path / "c.db"
    rc = ovl(["search", "zc-pt", "--C", "4", "--N", "1", "--candidates", "2", "--validate-rounds", "1",
              "--batch-size", "8", "--seeds", "2", "--store", str(store), "--quiet", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["seed"] for r in out["runs"]] == [0, 1] and len(out["op_scoring"]) == 6
    assert out["runs"][0]["accuracy"] == pytest.approx(ACC[nb201.to_index(out["runs"][0]["arch"])])
    rc = ovl(["search", "zc-pt", "--C", "4", "--N", "1", "--candidates", "1", "--validate-rounds", "1",
              "--batch-size", "8", "--store", str(store), "--study", "txt", "--quiet"])
    assert rc == 0 and "per-step Spearman" in capsys.readouterr().out
    assert ovl(["search", "zc-pt", "--batch-size", "1000", "--store", str(store)]) == 2
    assert "--batch-size 1000" in capsys.readouterr().err
    assert ovl(["search", "zc-pt", "--space", "darts", "--layers", "2", "--store", str(store)]) == 2
    assert "layers" in capsys.readouterr().err
    with pytest.raises(UserError, match="edge-order"):
        ZCPTSpec(edge_order="sideways").check()
