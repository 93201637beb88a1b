"""NB201 latency-table machinery: canonical forms, memoised sweep through a `latency_fn` hook, CSV round trip and
the cross-device correlation table. (The overlay model itself is the simulator's; a MAC-count hook stands in.)"""
from __future__ import annotations

import numpy as np
import pytest

from compiler.errors import UserError
from hw_models.arch import load_arch
from nas.data import nb201_table
from nas.spaces import nb201
from nas.spaces.nb201_latency import canonical, device_correlations, latency_table, read_table


class CountingModel:
    """latency = (MACs + 1000 * nodes) / 1e11 s; counts calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, graph, arch):
        self.calls += 1
        return (graph.totals().macs + 1000 * len(graph.nodes)) / 1e11


def test_canonical_forms_build_identical_networks():
    rng = np.random.default_rng(0)
    mat = nb201.ops_matrix()
    for i in rng.choice(nb201.SIZE, 40, replace=False):
        ops = tuple(int(k) for k in mat[i])
        a, b = nb201.build_ir(ops), nb201.build_ir(canonical(ops))
        assert [n.op for n in a.nodes] == [n.op for n in b.nodes]
        assert a.totals() == b.totals()
        assert canonical(canonical(ops)) == canonical(ops)


def test_memoised_sweep_equals_direct_evaluation(tmp_path):
    arch = load_arch("a10_generic")
    cells = list(range(0, nb201.SIZE, 25))
    model = CountingModel()
    t = latency_table(arch, model, cells=cells)
    distinct = {canonical(nb201.as_ops(i)) for i in cells}
    assert model.calls == t.distinct == len(distinct) < len(cells)
    for i in cells[:60]:
        g = nb201.build_ir(i)
        assert t.latency_ms[i] == pytest.approx(CountingModel()(g, arch) * 1e3)
        assert t.macs[i] == g.totals().macs
        assert t.gops[i] == pytest.approx(2 * g.totals().macs / (t.latency_ms[i] * 1e-3) / 1e9)
        assert t.utilisation[i] == pytest.approx(
            g.totals().macs / (t.latency_ms[i] * 1e-3 * arch.clock_hz * arch.peak_macs_per_cycle))
    assert np.isnan(t.latency_ms[1])  # not requested
    path = t.write_csv(tmp_path / "lat.csv")
    back = read_table(path)
    assert np.allclose(back[cells], t.latency_ms[cells])


def test_bad_latency_model_output_is_a_user_error():
    with pytest.raises(UserError, match="positive number of seconds"):
        latency_table(load_arch("a10_generic"), lambda g, a: 0.0, cells=[0])


def test_device_correlations():
    t = nb201_table()
    rows = {r["device"]: r for r in device_correlations(np.array(t.latency_ms["fpga"]))}
    assert rows["fpga"]["rho"] == pytest.approx(1.0)
    # published fact (docs/nas.md): FPGA vs LatBench i7 CPU 0.630 over 15,284 cells
    assert rows["latbench_i7_7820x"]["n"] == 15284
    assert rows["latbench_i7_7820x"]["rho"] == pytest.approx(0.630, abs=0.01)
    assert rows["gpu_1080ti_b1"]["rho"] == pytest.approx(0.828, abs=0.01)
