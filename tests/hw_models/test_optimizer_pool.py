"""The optimiser's round-5 speed-ups are exact and bounded: the group-cost memo's narrow architecture key (equal
keys give equal tile costs), the cycles-only path, the tile-weighted memo bounds, and the worker pool (the same
search, candidate for candidate, as one process)."""
from __future__ import annotations

import numpy as np
import pytest

from compiler.errors import UserError
from hw_models.arch import load_arch
from hw_models.optimizer import ArchSpace, Budget, Evaluator, NetworkCost, optimize, planning_key
from simulator import estimate as E
from test_optimizer_speed import mixed_net


@pytest.fixture(scope="module")
def net():
    return mixed_net()  # groups that use different aux kernels


@pytest.fixture(scope="module")
def base():
    return load_arch("a10_generic")


def _candidates(base, net, count: int, seed: int):
    space = ArchSpace.default(base, precisions=("bfp16", "bfp11", "int8"))
    ev = Evaluator(space, [net])
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        a = ev.build(space.random(rng))
        if hasattr(a, "pe_array"):
            out.append(a)
    return out


AUX_KV = ("activation", "pool", "lrn", "eltwise", "softmax", "depth_to_space")


def test_group_arch_key_leaves_out_only_fields_tile_costs_do_not_read(net, base):
    """Changing clock, DDR bandwidth / latency / efficiency, the name and the widths of aux kernels a group does
    not use keeps its memo key, and its tile costs (computed directly, no memo) are equal; changing the width of
    a kernel the group uses changes the key."""
    rng = np.random.default_rng(4)
    groups = keys_equal = keys_differ = 0
    for a in _candidates(base, net, 8, seed=2):
        try:
            g2, plan, sched, geos, tiles = E.plan_graph(net, a, 2, True)
        except UserError:
            continue
        widths = (4, 8, 16, 32, 64)
        b = a.with_changes(name="other", clock_mhz=float(rng.integers(150, 400)),
                           **{"ddr.bandwidth_gbs": float(rng.integers(5, 40)),
                              "ddr.latency_ns": float(rng.integers(50, 300)),
                              "ddr.efficiency": 0.5 + 0.4 * float(rng.random())})
        for name, geo in geos.items():
            used = {E._AUX[st.kind] for st in geo.stages[1:]}
            legal = [w for w in widths if a.pe_array.k_vector % w == 0]
            free = {f"aux.{k}.k_vector": int(rng.choice(legal)) for k in AUX_KV if k not in used}
            c = b.with_changes(**free)
            tp = tiles[name]
            assert E.group_arch_key(c, geo) == E.group_arch_key(a, geo)
            assert E._tile_costs(c, geo, tp, 0, plan.reuse_filters) == E._tile_costs(a, geo, tp, 0, plan.reuse_filters)
            groups += 1
            keys_equal += 1
            for k in used:
                kv = getattr(a.aux, k).k_vector
                other = next(w for w in widths if w != kv and a.pe_array.k_vector % w == 0)
                d = a.with_changes(**{f"aux.{k}.k_vector": other})
                assert E.group_arch_key(d, geo) != E.group_arch_key(a, geo)
                keys_differ += 1
    assert groups >= 20 and keys_differ >= 10


def test_cycles_planned_equals_estimate(net, base):
    for a in _candidates(base, net, 10, seed=7):
        try:
            planned = E.plan_graph(net, a, 2, True)
        except UserError:
            continue
        E.clear_memo()
        ref = E.estimate(net, a, memo=False)
        assert E.cycles_planned(planned, a) == ref.cycles
        assert E.estimate_planned(planned, a).cycles == ref.cycles
        # and again from the memos (group costs, schedule walk)
        assert E.cycles_planned(planned, a) == ref.cycles


def test_memo_bounds_by_entries_and_weight():
    m = E.Memo(4, max_weight=10, weigh=len)
    for k in "abc":
        m.get((k,), lambda k=k: k * 3)          # weight 3 each
    assert m.weight == 9 and list(m.data) == [("a",), ("b",), ("c",)]
    m.get(("a",), lambda: "never")                 # a hit: most recently used now
    m.get(("d",), lambda: "dd")                    # weight 11 > 10: the least recently used (b) goes
    assert list(m.data) == [("c",), ("a",), ("d",)] and m.weight == 8
    m.put(("c",), "c")                             # replacing keeps the weight right
    assert m.weight == 6 and list(m.data)[-1] == ("c",)
    for k in "efgh":
        m.get((k,), lambda k=k: k)
    assert len(m.data) == 4 and m.weight == sum(len(v) for v in m.data.values())
    m.clear()
    assert m.weight == 0 and not m.data and not m.weights


def test_network_cost_plan_memo_is_bounded_by_tiles(net, base):
    cost = NetworkCost(net, max_plan_tiles=60)
    archs = [a for a in _candidates(base, net, 12, seed=11)]
    for a in archs:
        try:
            ref = E.estimate(net, a).cycles
        except UserError:
            continue
        assert cost.cycles(a) == ref
        w = cost.plan_weights()
        assert cost.has_plan(planning_key(a)) and list(w)[-1] == planning_key(a)   # the newest stays
        assert cost.plan_tiles <= max(60, max(w.values()))
        assert cost.plan_tiles == sum(w.values()) and cost.plan_count == len(w) <= cost.max_plans
    assert cost.max_plan_tiles == 60 and cost.plans_made >= 3 and cost.plan_count < cost.plans_made


def test_workers_give_the_serial_search(net, base):
    kw = dict(budget=Budget(dsps=900), time_limit=600, max_candidates=90, seed=5, initial=12,
              precisions=("bfp16", "bfp11"))
    r1 = optimize([net], base, **kw)
    r2 = optimize([net], base, workers=2, **kw)
    assert r2.workers == 2 and r2.speculated[1] >= r1.evaluated > 0
    assert (r1.considered, r1.evaluated) == (r2.considered, r2.evaluated)
    assert r1.best.genome == r2.best.genome and r1.best.fps == r2.best.fps
    assert [(e.genome, e.fps) for e in r1.front] == [(e.genome, e.fps) for e in r2.front]
    assert {k: v[0] for k, v in r1.rejections.items()} == {k: v[0] for k, v in r2.rejections.items()}
    assert r1.history == r2.history and r1.base.fps == r2.base.fps
    assert r2.worker_cpu_seconds > 0


def test_interrupt_mid_read_stops_the_workers_and_stays_an_interrupt(net, base, monkeypatch):
    """An interrupt can stop the search half-way through reading a result, leaving the results pipe unreadable.
    The search must then read nothing more: the interrupt propagates as KeyboardInterrupt (`ovl` exits 130) and
    the workers are stopped. Simulated by an unreadable message in the pipe (closing the pool by reading it,
    as before, raised an unpickling error instead, and `ovl` exited 1)."""
    from hw_models import optimizer as O

    pools, calls = [], []
    finish = O._EvalPool.finish

    def interrupted(self, pre):
        calls.append(1)
        if len(calls) == 6:
            pools.append(self)
            self.results._writer.send_bytes(b"not a pickle")
            raise KeyboardInterrupt
        return finish(self, pre)

    monkeypatch.setattr(O._EvalPool, "finish", interrupted)
    with pytest.raises(KeyboardInterrupt):
        optimize([net], base, workers=2, max_candidates=60, time_limit=600, seed=5, initial=12)
    assert pools and pools[0].closed and not any(p.is_alive() for p in pools[0].procs)


def test_workers_must_be_positive(net, base):
    with pytest.raises(UserError, match="--workers 0"):
        optimize([net], base, max_candidates=5, workers=0)


@pytest.mark.skipif(not __import__("os").path.isdir("/proc/self"), reason="finds the worker processes in /proc")
@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_interrupted_search_leaves_no_worker(tmp_path, signame):
    """Ctrl-C (SIGINT: exit 130) and a kill (SIGTERM) of `ovl arch optimize --workers 2` leave no worker behind."""
    import signal
    import sys
    from pathlib import Path

    from process_tree import interrupt

    ovl = Path(sys.executable).with_name("ovl")
    sig = getattr(signal, signame)
    rc, left = interrupt([str(ovl), "arch", "optimize", "--model", "googlenet", "--workers", "2", "--time-limit",
                          "300", "--quiet", "-o", str(tmp_path / "best.toml")], sig, min_procs=3)  # forkserver + 2
    assert rc == (130 if sig == signal.SIGINT else -sig) and not left
