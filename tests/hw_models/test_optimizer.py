"""Architecture optimiser: the plan-sharing cost equals the simulator's estimate, the space and rejections, the
search's determinism and invariants, the TOML writer and `ovl arch optimize`."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from compiler.builder import GraphBuilder
from compiler.errors import UserError
from hw_models.arch import load_arch
from hw_models.area import estimate_area
from hw_models.optimizer import (ArchSpace, Budget, Evaluator, NetworkCost, arch_to_toml, optimize, pareto_front,
                                 planning_key)
from simulator.estimate import estimate


def small_net(batch: int = 1):
    """Conv / pool / LRN / eltwise / FC mix: exercises fusion, aux kernels and host fallback."""
    b = GraphBuilder("small")
    x = b.input("x", (batch, 3, 32, 32))
    y = b.relu(b.conv(x, 24, 3, pad=1))
    y = b.max_pool(y, 2, 2)
    y = b.lrn(y, size=5)
    z = b.relu(b.conv(y, 24, 3, pad=1))
    y = b.relu(b.add(y, z))
    y = b.avg_pool(b.conv(y, 40, 1), 2, 2)
    y = b.fc(b.flatten(y), 10)
    return b.build([y])


@pytest.fixture(scope="module")
def net():
    return small_net()


@pytest.fixture(scope="module")
def base():
    return load_arch("a10_generic")


def test_network_cost_equals_estimate(net, base):
    space = ArchSpace.default(base, precisions=("bfp16", "bfp11", "int8"))
    ev = Evaluator(space, [net])
    cost = NetworkCost(net)
    rng = np.random.default_rng(1)
    checked = 0
    while checked < 14:
        g = space.mutate(space.nearest(base), rng, n=3) if checked % 2 else space.random(rng)
        arch = ev.build(g)
        if not hasattr(arch, "pe_array"):
            continue
        ref = estimate(net, arch)
        assert cost.cycles(arch) == pytest.approx(ref.cycles, rel=1e-12, abs=1e-9)
        assert cost.host_partitions(arch) == ref.host_partitions
        checked += 1
    # plan-free fields reuse the plan and still match
    cost.cycles(base)
    made = cost.plans_made
    for ch in ({"pe_array.lanes": 4}, {"clock_mhz": 333.0, "ddr.bandwidth_gbs": 9.5},
               {"aux.pool.k_vector": 4, "pe_array.interleave_features": 2, "pe_array.interleave_filters": 2}):
        a = base.with_changes(**ch)
        assert planning_key(a) == planning_key(base)
        assert cost.cycles(a) == pytest.approx(estimate(net, a).cycles, rel=1e-12)
    assert cost.plans_made == made


def test_planning_key(base):
    k = planning_key(base)
    assert planning_key(base.with_changes(**{"pe_array.lanes": 2, "clock_mhz": 300.0, "aux.lrn.k_vector": 8})) == k
    assert planning_key(base.with_changes(**{"pe_array.c_vector": 8})) != k
    assert planning_key(base.with_changes(**{"stream_buffer.depth": 4096})) != k
    assert planning_key(base.with_changes(**{"aux.pool.enabled": False})) != k


def test_budget_parse():
    b = Budget.parse("dsp=1200, alm=300000,m20k=50%", "arria10_gx1150")
    assert (b.dsps, b.alms, b.mem_blocks) == (1200, 300000, 2713 // 2)
    assert Budget.parse(None, "arria10_gx1150") == Budget()
    for bad in ("dsp", "lut=5", "dsp=x", "dsp=-3"):
        with pytest.raises(UserError):
            Budget.parse(bad, "arria10_gx1150")


@pytest.mark.parametrize("name", ["a10_generic", "tiny", "dla_alexnet_a10"])
def test_toml_round_trip(tmp_path, name):
    a = load_arch(name)
    p = tmp_path / f"{name}.toml"
    p.write_text(arch_to_toml(a, ["a header line"]))
    assert load_arch(p).model_dump() == a.model_dump()


def test_rejection_reasons(net, base):
    space = ArchSpace.default(base)
    ev = Evaluator(space, [net], Budget(dsps=300))
    names = [p.name for p in space.params]

    def with_(**kw):
        g = list(space.nearest(base))
        for k, v in kw.items():
            p = space.params[names.index(k)]
            g[names.index(k)] = p.values.index((v,) if not isinstance(v, tuple) else v)
        return tuple(g)

    e = ev(with_(c_vector=64, k_vector=48))
    assert e.status == "rejected" and e.category.startswith("illegal: pe_array.k_vector must be a multiple")
    e = ev(with_(k_vector=256, c_vector=64, lanes=4))
    assert e.category.startswith("does not fit the device: ") and "DSP blocks" in e.category
    assert "capacity 1,518" in e.reason
    e = ev(with_(k_vector=64))
    assert e.category == "over budget: DSP blocks" and "budget 300" in e.reason
    e = ev(with_(k_vector=16, **{"aux.lrn.enabled": False}))
    assert e.category == "host fallback: aux.lrn disabled" and "LRN" in e.reason
    ok = ev(with_(k_vector=16))
    assert ok.status == "ok" and ok.resources["dsps"] <= 300
    assert ok.fps[0] == pytest.approx(1 / estimate(net, ok.arch).seconds, rel=1e-12)


def test_optimize_invariants_and_determinism(net, base):
    kw = dict(budget=Budget(dsps=600), time_limit=600, max_candidates=120, seed=3, initial=16)
    r1 = optimize([net], base, **kw)
    r2 = optimize([net], base, **kw)
    assert r1.best is not None and r1.best.genome == r2.best.genome and r1.considered == r2.considered == 120
    assert r1.stop_reason.startswith("max candidates")
    assert r1.evaluated + sum(v[0] for v in r1.rejections.values()) == r1.considered
    assert r1.best.resources["dsps"] <= 600
    area = estimate_area(r1.best.arch)
    assert area.fits() and area.total.dsps == r1.best.resources["dsps"]
    # the front is non-dominated, sorted by area, and holds the best throughput
    f = r1.front
    assert all(a.area <= b.area and a.throughput < b.throughput for a, b in zip(f, f[1:]))
    assert f[-1].throughput == pytest.approx(max(e.throughput for e in f))
    assert r1.best.throughput == pytest.approx(f[-1].throughput)
    assert r1.best.throughput >= r1.base.throughput or r1.base.status != "ok"
    # perf-per-area objective picks a front member with the best ratio
    r3 = optimize([net], base, objective="perf-per-area", max_candidates=80, time_limit=600, seed=0, initial=8)
    assert r3.best.perf_per_area == pytest.approx(max(e.perf_per_area for e in pareto_front(r3.front)))


def test_time_limit_terminates(net, base):
    r = optimize([net], base, time_limit=1.5, seed=0)
    assert r.stop_reason.startswith("time limit") and r.seconds < 1.5 + 2.0


def test_batch_tailoring(base):
    """--batch N: every model's inputs get first dimension N and fps counts N images per inference."""
    from hw_models.optimizer import load_models

    (g1,), (g3,) = load_models(["espcn"]), load_models(["espcn"], batch=3)
    assert g3.name == "espcn@b3"
    assert [g3.tensors[i].shape for i in g3.inputs] == [(3,) + g1.tensors[i].shape[1:] for i in g1.inputs]
    r = optimize([g3], base, max_candidates=12, seed=0)
    e = r.best
    assert e.fps[0] == pytest.approx(3 / estimate(g3, e.arch).seconds, rel=1e-9)
    assert e.fps[0] != pytest.approx(1 / estimate(g1, e.arch).seconds, rel=1e-3)
    (lstm,) = load_models(["lstm_cell"], batch=4)   # (time, batch, features): four sequences per inference
    r = optimize([lstm], base, max_candidates=8, seed=0)
    assert r.best.fps[0] == pytest.approx(4 / estimate(lstm, r.best.arch).seconds, rel=1e-9)


def test_network_cost_exact_across_lanes_at_batch(base):
    """With several images per group the tiler's images-per-tile choice reads pe_array.lanes, so plans of one
    planning key differ by the lanes (GoogLeNet at batch 4: sharing the lanes-1 plan put lanes 2 and 4 1.6% and
    2.2% off): NetworkCost must still equal the estimate for every lanes value."""
    from hw_models.optimizer import load_models

    (g,) = load_models(["googlenet"], batch=4)
    cost = NetworkCost(g)
    archs = [base.with_changes(**{"pe_array.lanes": l}) for l in (1, 2, 4, 1)]
    assert len({planning_key(a) for a in archs}) == 1
    for a in archs:
        assert cost.cycles(a) == pytest.approx(estimate(g, a, memo=False).cycles, rel=1e-12)
    assert any(tp.lanes_sensitive for tp in cost._plan(archs[0])[4].values()) and cost.plans_made == 3
    (g1,) = load_models(["googlenet"])
    one = NetworkCost(g1)
    for a in archs:
        one.cycles(a)
    assert one.plans_made == 1   # at batch 1 the lanes stay plan-free


def _ovl(*args):
    ovl = Path(sys.executable).with_name("ovl")
    return subprocess.run([str(ovl), *args], capture_output=True, text=True)


def test_cli(tmp_path):
    out = tmp_path / "best.toml"
    r = _ovl("arch", "optimize", "--model", "espcn", "--max-candidates", "40", "--time-limit", "120", "--quiet",
             "--budget", "dsp=400", "--front", str(tmp_path / "front.csv"), "-o", str(out), "--workers", "2")
    assert r.returncode == 0, r.stderr
    assert "Pareto front" in r.stdout and "rejected candidates" in r.stdout and "2 workers" in r.stdout
    a = load_arch(out)
    assert estimate_area(a).total.dsps <= 400
    assert (tmp_path / "front.csv").read_text().startswith("area,fps_espcn")
    for bad in (["--budget", "dsp"], ["--model", "no_such_net"], ["-o", str(tmp_path / "x.txt")],
                ["--precision", "fp8"], ["--device", "nope"], ["--workers", "0"], ["--batch", "0"]):
        args = ["arch", "optimize", "--model", "espcn", "--max-candidates", "5", "-o", str(out), *bad]
        r = _ovl(*args)
        assert r.returncode == 2 and "error" in r.stderr, (bad, r.stderr)
