"""NB201 space: encodings round-trip over the whole space, structure analysis, and the direct IR build checked
against the torch module's own MAC and parameter counts."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from compiler.builder import GraphBuilder
from nas.data import latbench_cpu, nb201_table
from nas.spaces import SpaceError, nb201
from nas.spaces.nb201_torch import make_network


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


CELLS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|skip_connect~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_1x1~0|nor_conv_1x1~1|none~2|",
    "|avg_pool_3x3~0|+|skip_connect~0|none~1|+|none~0|none~1|skip_connect~2|",
    "|nor_conv_1x1~0|+|none~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|none~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|nor_conv_1x1~2|",
    "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|",
]


def test_encodings_round_trip_over_the_whole_space():
    table = nb201_table()
    mat = nb201.ops_matrix()
    assert mat.shape == (nb201.SIZE, 6)
    assert len({tuple(r) for r in mat.tolist()}) == nb201.SIZE
    for i in range(0, nb201.SIZE, 7):
        s = table.arch_str[i]
        ops = nb201.parse(s)
        assert nb201.to_str(ops) == s
        assert nb201.to_index(s) == i == nb201.to_index(ops)
        assert nb201.as_ops(i) == ops
        assert nb201.from_code(nb201.to_code(ops)) == ops
    assert nb201.to_index(table.arch_str[10188]) == 10188


def test_known_index_and_edge_order():
    # data README: index 0 is this cell; op vector in arch_str edge order (0->1),(0->2),(1->2),(0->3),(1->3),(2->3)
    s = "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    assert nb201.to_index(s) == 0
    assert nb201.parse(s) == (4, 2, 1, 2, 1, 1)


@pytest.mark.parametrize("bad", ["", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",
                                 "|none~0|+|none~0|none~1|+|none~0|none~1|",
                                 "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|"])
def test_bad_arch_strings_are_user_errors(bad):
    with pytest.raises(SpaceError):
        nb201.parse(bad)


def test_bad_vectors_and_indices_are_user_errors():
    with pytest.raises(SpaceError, match="op vector"):
        nb201.check_ops((0, 1, 2, 3, 4))
    with pytest.raises(SpaceError, match="op vector"):
        nb201.check_ops((0, 1, 2, 3, 4, 5))
    with pytest.raises(SpaceError, match="out of range"):
        nb201.as_ops(15625)


def test_neighbours():
    ops = nb201.parse(CELLS[1])
    nbs = nb201.neighbours(ops)
    assert len(nbs) == 24 == len(set(nbs))
    assert all(sum(a != b for a, b in zip(ops, n)) == 1 for n in nbs)


def test_connectivity_matches_latbench_coverage():
    # LatBench measured exactly the cells with an input -> output path (15,284)
    mat = nb201.ops_matrix()
    connected = {nb201.to_str(r) for r in mat.tolist() if nb201.is_connected(r)}
    assert len(connected) == 15284
    assert connected == set(latbench_cpu())


def test_live_edges_examples():
    # node 2 does not reach the output (its only out-edge is none): both edges into it are dead
    assert nb201.live_edges(nb201.parse(CELLS[1])) == (True, False, False, True, True, False)
    # node 1 is all-zero (none from the input): edges out of it are dead
    assert nb201.live_edges(nb201.parse(CELLS[4])) == (False, True, False, False, False, True)
    assert nb201.op_counts(nb201.parse(CELLS[4]), live_only=True) == {
        "none": 0, "skip_connect": 0, "nor_conv_1x1": 1, "nor_conv_3x3": 1, "avg_pool_3x3": 0}


def torch_counts(net: nn.Module, live_only: bool) -> tuple[int, int]:
    """MACs of Conv2d/Linear layers for one 32x32 image and parameters + BN running statistics.
    With live_only, layers whose weights get exactly zero gradient for a random input are left out."""
    macs: dict[nn.Module, int] = {}

    def hook(m, inp, out):
        per_out = m.weight[0].numel() if isinstance(m, nn.Conv2d) else m.in_features
        macs[m] = out[0].numel() * per_out
    layers = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    hs = [m.register_forward_hook(hook) for m in layers]
    net.train()
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    net(x).square().sum().backward()
    for h in hs:
        h.remove()
    keep = [m for m in layers if not live_only or m.weight.grad.abs().sum() > 0]
    mac = sum(macs[m] for m in keep)
    params = sum(p.numel() for p in net.parameters())
    params += sum(b.numel() for n, b in net.named_buffers() if not n.endswith("num_batches_tracked"))
    return mac, params


@pytest.mark.parametrize("arch,C,N", [(a, 8, 2) for a in CELLS] + [(CELLS[1], 16, 5)])
def test_ir_counts_equal_torch_counts(arch, C, N):
    net = make_network(arch, seed=0, C=C, N=N)
    full = nb201.build_ir(arch, prune=False, C=C, N=N)
    full.validate()
    mac, params = torch_counts(net, live_only=False)
    assert full.totals().macs == mac
    # the IR holds one extra scalar constant per `none` edge (the zero it multiplies by)
    zeros = sum(1 for n in full.nodes if n.op == "Mul")
    assert zeros == N * 3 * nb201.parse(arch).count(nb201.NONE)
    assert full.totals().params == params + zeros
    pruned = nb201.build_ir(arch, C=C, N=N)
    pruned.validate()
    live_mac, _ = torch_counts(make_network(arch, seed=0, C=C, N=N), live_only=True)
    assert pruned.totals().macs == live_mac


def test_ir_of_every_cell_is_valid_and_pruning_never_adds_work():
    rng = np.random.default_rng(0)
    for i in rng.choice(nb201.SIZE, 300, replace=False):
        g = nb201.build_ir(int(i))
        g.validate()
        assert g.tensors[g.outputs[0]].shape == (1, 10)
        assert g.totals().macs <= nb201.build_ir(int(i), prune=False).totals().macs


def test_disconnected_cell_is_a_multiply_by_zero():
    dead = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    g = nb201.build_ir(dead)
    g.validate()
    ops = [n.op for n in g.nodes]
    assert ops.count("Mul") == 15 and "AveragePool" in ops  # 15 cells; pools only in the reduction shortcuts


def test_ir_options():
    g = nb201.build_ir(CELLS[0], C=8, N=2, num_classes=100, batch=4)
    g.validate()
    assert g.tensors[g.outputs[0]].shape == (4, 100)
    assert g.tensors[g.inputs[0]].shape == (4, 3, 32, 32)
    w = nb201.build_ir(CELLS[1], weights="random", seed=1)
    assert all(t.data is not None for t in w.tensors.values() if t.const)


def test_builder_replay_equals_a_fresh_build():
    def block(b, x):
        return b.add(b.batchnorm(b.conv(b.relu(x), 8, 3, pad=1, bias=False)), x)

    a = GraphBuilder("a")
    x = a.input("x", (1, 8, 16, 16))
    start = len(a.nodes)
    y = block(a, x)
    stop = len(a.nodes)
    y2 = a.replay(start, stop, {x: y})[y]
    ga = a.build([y2])
    b = GraphBuilder("b")
    x = b.input("x", (1, 8, 16, 16))
    gb = b.build([block(b, block(b, x))])
    ga.validate()
    assert [n.op for n in ga.nodes] == [n.op for n in gb.nodes]
    assert [ga.tensors[n.outputs[0]].shape for n in ga.nodes] == [gb.tensors[n.outputs[0]].shape for n in gb.nodes]
    assert ga.totals() == gb.totals()
    with pytest.raises(ValueError, match="cannot stand for"):
        a.replay(start, stop, {x: a.input("z", (1, 4, 16, 16))})
