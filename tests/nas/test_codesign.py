"""Co-design: Pareto fronts and hypervolume against brute force, the exhaustive sweep against pair-by-pair
evaluation, the strategies on the trial store (determinism, resume, learning), the ResNet comparison and
`ovl search codesign`."""
from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nas.codesign.experiment import (describe_pair, hypervolume, resnet_comparison, resnet_comparison_lines,
                                     run_strategy, true_hypervolume)
from nas.codesign.hwspace import HWSpace
from nas.codesign.joint import Constraints, JointSpace
from nas.codesign.pareto import front_2d, front_3d, hypervolume_2d, hypervolume_3d
from nas.codesign.strategies import NSGA2, Controller, nondominated_sort
from nas.codesign.sweep import attach, load_sweep, run_sweep, save_sweep
from nas.runtime import TrialStore


# --- fronts and hypervolume -----------------------------------------------------------------------------------------
def brute_front(f: np.ndarray) -> set[int]:
    out = set()
    for i in range(len(f)):
        dom = np.all(f <= f[i], axis=1) & np.any(f < f[i], axis=1)
        if not dom.any():
            out.add(i)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_fronts_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    f = rng.integers(0, 6, size=(80, 3)).astype(float)        # many ties
    assert set(front_3d(f[:, 0], f[:, 1], f[:, 2]).tolist()) == brute_front(f)
    assert set(front_2d(f[:, 0], f[:, 1]).tolist()) == brute_front(f[:, :2])
    assert set(nondominated_sort(f)[0].tolist()) == brute_front(f)


def brute_hv(f: np.ndarray, ref) -> float:
    axes = [np.unique(np.concatenate((f[:, k], [ref[k]]))) for k in range(f.shape[1])]
    vol = 0.0
    for cell in itertools.product(*(range(len(a) - 1) for a in axes)):
        lo = np.array([axes[k][c] for k, c in enumerate(cell)])
        hi = np.array([axes[k][c + 1] for k, c in enumerate(cell)])
        if np.any(np.all(f <= lo, axis=1)):
            vol += float(np.prod(hi - lo))
    return vol


@pytest.mark.parametrize("seed", range(4))
def test_hypervolume_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    f = rng.random((12, 3))
    assert hypervolume_3d(f[:, 0], f[:, 1], f[:, 2], (1.1, 1.1, 1.1)) == pytest.approx(brute_hv(f, (1.1,) * 3))
    assert hypervolume_2d(f[:, 0], f[:, 1], (1.1, 1.1)) == pytest.approx(brute_hv(f[:, :2], (1.1,) * 2))


# --- a small joint space ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    d = tmp_path_factory.mktemp("ovl_cache")
    old = os.environ.get("OVL_CACHE")
    os.environ["OVL_CACHE"] = str(d)
    yield d
    if old is None:
        os.environ.pop("OVL_CACHE")
    else:
        os.environ["OVL_CACHE"] = old


@pytest.fixture(scope="module")
def js(cache):
    return JointSpace.create("small", cells=40, cells_seed=1)


@pytest.fixture(scope="module")
def sweep(js):
    return run_sweep(js, range(0, len(js.hw), 9))


def test_sweep_matches_pairwise(js, sweep):
    cells, hws, acc, lat, area = [], [], [], [], []
    legal = 0
    for p in sweep.hw_index:
        l = js.latency(int(p))
        ok = np.flatnonzero(np.isfinite(l))
        legal += len(ok)
        if not js.hw.fits[p]:
            continue
        # area is constant per configuration: only its own (accuracy, latency) front can reach the 3-D front
        local = sorted(brute_front(np.column_stack((-js.accuracy[ok], l[ok]))))
        for c in ok[local]:
            cells.append(c)
            hws.append(p)
            acc.append(js.accuracy[c])
            lat.append(l[c])
            area.append(js.hw.area[p])
    assert sweep.pairs == legal
    f = np.column_stack((-np.array(acc), lat, area))
    want = {(cells[i], hws[i]) for i in brute_front(f)}
    got = set(zip(sweep.front["cell"].tolist(), sweep.front["hw"].tolist()))
    # identical objective vectors may be represented by either pair: compare objective sets
    vec = lambda c, p: (float(js.accuracy[c]), float(js.latency_of(c, p)), float(js.hw.area[p]))  # noqa: E731
    assert {vec(c, p) for c, p in got} == {vec(c, p) for c, p in want}
    assert true_hypervolume(sweep) > 0
    assert hypervolume(sweep.bounds, acc, lat, area) == pytest.approx(true_hypervolume(sweep))
    # every stored pair is evaluated identically through js.evaluate
    c, p = int(sweep.front["cell"][0]), int(sweep.front["hw"][0])
    o = js.evaluate(c, p)
    assert o.legal and o.latency == pytest.approx(float(sweep.front["latency"][0]))


def test_save_load_attach(js, sweep, tmp_path):
    path = save_sweep(sweep, tmp_path / "s.npz")
    sw2 = load_sweep(path)
    assert sw2.pairs == sweep.pairs and sw2.space == sweep.space
    assert np.array_equal(sw2.front["cell"], sweep.front["cell"])
    js2 = JointSpace(js.hw, js.tables, cells=js.cells, cells_seed=js.cells_seed)
    assert attach(js2, sw2) == len(sweep.costs)
    p = int(sweep.hw_index[3])
    assert np.allclose(js2.latency(p), js.latency(p), equal_nan=True, rtol=1e-12)


def test_resnet_comparison_brute_force(js, sweep):
    cmp = resnet_comparison(js, sweep.ppa_front)
    r = js.resnet_index()
    fit = np.flatnonzero(js.hw.fits)
    ppa = [1 / (js.latency_of(r, int(p)) * js.hw.area[p]) for p in fit]
    assert cmp["resnet"]["perf_per_area"] == pytest.approx(max(ppa))
    d = cmp.get("best_ppa_at_least_resnet_accuracy")
    if d is not None:
        assert d["accuracy"] >= cmp["resnet"]["accuracy"]
        assert d["ppa_gain_percent"] == pytest.approx(100 * (d["perf_per_area"] / max(ppa) - 1))
    lines = resnet_comparison_lines(js, cmp)
    assert lines[0].endswith(describe_pair(js, cmp["resnet"]))
    assert len(lines) == 1 + sum(k in cmp for k in ("balanced", "best_ppa_at_least_resnet_accuracy",
                                                     "best_accuracy_at_least_resnet_ppa",
                                                     "best_ppa_at_least_resnet_accuracy_other_network",
                                                     "best_accuracy_at_least_resnet_ppa_other_network"))


# --- strategies ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["combined", "phase", "separate", "random", "nsga2"])
def test_strategies_run_and_are_deterministic(js, sweep, tmp_path, name):
    with TrialStore(tmp_path / "a.db") as s1, TrialStore(tmp_path / "b.db") as s2:
        r1 = run_strategy(js, sweep, name, 3, 48, s1, batch_size=8, population=16)
        r2 = run_strategy(js, sweep, name, 3, 48, s2, batch_size=8, population=16)
        t1, t2 = s1.trials(s1.study(f"{name}-3")), s2.trials(s2.study(f"{name}-3"))
    assert len(t1) == 48 and [t.config for t in t1] == [t.config for t in t2]
    assert np.array_equal(r1.feasible, r2.feasible)
    # every feasible trial's metrics are the joint space's objectives of its pair, within the constraints
    for t in t1:
        m = t.metrics
        if m["feasible"]:
            o = js.evaluate(m["cell_index"], m["hw_index"])
            assert o.fits and m["accuracy"] == o.accuracy and m["latency_ms"] == pytest.approx(1e3 * o.latency)
            assert m["reward"] > -1
        else:
            assert m["reward"] <= -1


def test_phase_strategy_resumes_exactly(js, sweep, tmp_path):
    with TrialStore(tmp_path / "full.db") as s:
        run_strategy(js, sweep, "phase", 1, 40, s, batch_size=4, phase_batches=2)
        full = [t.config for t in s.trials(s.study("phase-1"))]
    with TrialStore(tmp_path / "part.db") as s:
        run_strategy(js, sweep, "phase", 1, 20, s, batch_size=4, phase_batches=2)
        run_strategy(js, sweep, "phase", 1, 40, s, batch_size=4, phase_batches=2, resume=True)
        part = [t.config for t in s.trials(s.study("phase-1"))]
    assert part == full


def test_controller_gradients_match_finite_differences():
    c = Controller((4, 3, 5), hidden=5, seed=1, init=0.5, entropy=0.3)
    rng = np.random.default_rng(0)
    a = np.array([c.sample(rng) for _ in range(4)])
    adv = rng.normal(size=4)
    _, g = c.loss_and_grads(a, adv)
    for k, v in c.p.items():
        for idx in list(np.ndindex(v.shape))[::3]:
            old = v[idx]
            v[idx] = old + 1e-6
            lp, _ = c.loss_and_grads(a, adv)
            v[idx] = old - 1e-6
            lm, _ = c.loss_and_grads(a, adv)
            v[idx] = old
            assert g[k][idx] == pytest.approx((lp - lm) / 2e-6, abs=1e-7), k


def test_controller_learns():
    ctrl = Controller((4, 3, 5), seed=0, lr=0.01)
    rng = np.random.default_rng(0)
    for _ in range(60):
        acts = [ctrl.sample(rng) for _ in range(8)]
        ctrl.update(acts, [float(a == [2, 0, 4]) + 0.2 * (a[0] == 2) for a in acts])
    hits = sum(ctrl.sample(rng) == [2, 0, 4] for _ in range(50))
    assert hits > 25 and ctrl.greedy() == [2, 0, 4]


def test_nsga2_keeps_the_first_front():
    s = NSGA2(population=6)
    rng = np.random.default_rng(0)
    genomes = [np.array([rng.integers(c) for c in s.choices]) for _ in range(12)]
    f = rng.random((12, 3))
    viol = np.zeros(12)
    viol[[1, 5]] = 0.5
    s._select([(g, f[i], viol[i]) for i, g in enumerate(genomes)])
    feas = [i for i in range(12) if viol[i] == 0]
    first = {feas[i] for i in brute_front(f[feas])}
    kept = {next(i for i, g in enumerate(genomes) if g is p[0]) for p in s.pop}
    assert len(s.pop) == 6 and not ({1, 5} & kept)
    assert (first <= kept) if len(first) <= 6 else (kept <= first)


def test_constraints():
    c = Constraints(latency_max=1e-3, area_max=0.2, fits=True)
    assert c.violation(0.5e-3, 0.1, True) == 0
    assert c.violation(2e-3, 0.1, True) == pytest.approx(1.0)
    assert c.violation(0.5e-3, 0.3, False) == pytest.approx(1.5)


# --- command line -------------------------------------------------------------------------------------------------
def _ovl(cache, *args):
    ovl = Path(sys.executable).with_name("ovl")
    env = dict(os.environ, OVL_CACHE=str(cache))
    return subprocess.run([str(ovl), "search", "codesign", *args], capture_output=True, text=True, env=env)


def test_cli(cache, js, tmp_path):
    sw = tmp_path / "sw.npz"
    r = _ovl(cache, "sweep", "--hw-space", "small", "--cells", "40", "--cells-seed", "1", "--limit", "24",
             "--quiet", "-o", str(sw), "--plot", str(tmp_path / "f.png"))
    assert r.returncode == 0, r.stderr
    assert "true Pareto front" in r.stdout and "pairs/min" in r.stdout and (tmp_path / "f.png").stat().st_size > 0
    r = _ovl(cache, "run", "--sweep", str(sw), "--strategy", "nsga2", "--trials", "30", "--store",
             str(tmp_path / "r.db"), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "hypervolume" in r.stdout
    r = _ovl(cache, "benchmark", "--sweep", str(sw), "--store", str(tmp_path / "b.db"), "--seeds", "2", "--trials",
             "24", "--strategies", "random,combined", "--quiet", "--plot", str(tmp_path / "hv.png"))
    assert r.returncode == 0, r.stderr
    assert "random" in r.stdout and "combined" in r.stdout and "ResNet" in r.stdout
    for bad in (["resnet", "--sweep", str(tmp_path / "missing.npz")],
                ["run", "--sweep", str(sw), "--strategy", "random", "--weights", "1,2", "--store", str(tmp_path / "x.db")],
                ["sweep", "--hw-space", "huge", "-o", str(tmp_path / "y.npz")]):
        r = _ovl(cache, *bad)
        assert r.returncode == 2 and "error" in r.stderr, (bad, r.stderr)


def test_resnet_cell_is_nb201_resnet():
    """The ResNet basic block as an NB201 cell: conv3x3 -> conv3x3 plus a skip from the input (both convs live)."""
    from nas.codesign.joint import RESNET_CELL
    from nas.data import nb201_table
    from nas.spaces import nb201

    ops = nb201.parse(RESNET_CELL)
    live = nb201.op_counts(ops, live_only=True)
    assert live["nor_conv_3x3"] == 2 and live["skip_connect"] == 2 and live["none"] == 0
    assert nb201_table().cifar100[nb201.to_index(ops)] == pytest.approx(70.89, abs=0.01)


def test_resnet_twin_detected(cache):
    """NB201's |none~0|+|conv3~0|pool~1|+|skip~0|skip~1|conv3~2| computes x + conv(conv(x)) like the ResNet cell:
    the comparison marks it as the same compiled network."""
    from nas.codesign.cellcost import CLASSES, build_class_table
    from nas.codesign.hwspace import HWParam
    from nas.codesign.joint import RESNET_CELL, reference_archs
    from nas.spaces import nb201

    twin_s = "|none~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|skip_connect~1|nor_conv_3x3~2|"
    other_s = "|nor_conv_1x1~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|none~1|skip_connect~2|"
    cells = [nb201.parse(x) for x in (RESNET_CELL, twin_s, other_s)]
    refs = reference_archs()
    hw = HWSpace((HWParam("k_vector", (16,)), HWParam("c_vector", (8,)), HWParam("lanes", (1,)),
                  HWParam("q_vector", (1,)), HWParam("winograd", (False,)), HWParam("sb_depth", (2048,)),
                  HWParam("fc_depth", (512,)), HWParam("pool", (True,)), HWParam("precision", ("int8",)),
                  HWParam("mem_bits", (512,))))
    js2 = JointSpace(hw, {c: build_class_table(c, refs[c], cells) for c in CLASSES})
    r, twin, other = (nb201.to_index(c) for c in cells)
    assert js2.latency_of(twin, 0) == pytest.approx(js2.latency_of(r, 0), rel=1e-12)
    cmp = resnet_comparison(js2, {"cell": np.array([twin, other]), "hw": np.array([0, 0])})
    assert js2.accuracy[twin] > js2.accuracy[r]
    assert cmp["best_ppa_at_least_resnet_accuracy"]["same_network"]
    assert "best_ppa_at_least_resnet_accuracy_other_network" not in cmp or \
        not cmp["best_ppa_at_least_resnet_accuracy_other_network"]["same_network"]
    assert not cmp.get("best_accuracy_at_least_resnet_ppa_other_network", {"same_network": False})["same_network"]
