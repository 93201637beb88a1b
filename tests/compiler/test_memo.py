"""compiler.memo: the per-object memo (identity-keyed, object kept alive, cleared when full) that the estimate's
architecture keys use, and the least-recently-used `Memo` re-exported by simulator.estimate."""
from __future__ import annotations

import gc
import weakref

from compiler.memo import Memo, per_object


class Thing:
    def __init__(self, v):
        self.v = v

    def __eq__(self, other):           # equal values, distinct objects: the memo must still key by identity
        return isinstance(other, Thing) and other.v == self.v

    __hash__ = None


def test_per_object_memoises_by_identity_and_keeps_the_object_alive():
    calls = []

    @per_object(3)
    def f(x):
        """doc of f"""
        calls.append(x.v)         # not the object: only the memo may keep it alive
        return x.v * 10

    a, b = Thing(1), Thing(1)
    assert f(a) == 10 and f(a) == 10 and len(calls) == 1
    assert f(b) == 10 and len(calls) == 2                # equal but another object: computed again
    assert f.__doc__ == "doc of f" and f.__name__ == "f"
    ref = weakref.ref(a)
    del a
    gc.collect()
    assert ref() is not None                             # the entry keeps it alive: its id cannot be reused
    c = Thing(3)
    assert f(c) == 30 and len(f.cache) == 3
    assert f(Thing(4)) == 40 and len(f.cache) == 1       # full at 3: all dropped, then the new one stored
    gc.collect()
    assert ref() is None
    f.cache_clear()
    assert not f.cache and f(c) == 30 and len(calls) == 5


def test_estimate_architecture_keys_use_the_per_object_memo():
    from hw_models.arch import load_arch
    from simulator import estimate as E

    a = load_arch("a10_generic")
    b = a.with_changes(clock_mhz=a.clock_mhz)           # equal fields, another object
    assert E.Memo is Memo
    assert E._arch_key(a) == E._arch_key(b) == a.model_dump_json()
    assert E._arch_key.cache[id(a)][0] is a and E._arch_key.cache[id(b)][0] is b
    geo_free = E._group_arch_parts(a)
    assert E._group_arch_parts(a) is geo_free and E._group_arch_parts.cache[id(a)] == (a, geo_free)
    c = a.with_changes(clock_mhz=a.clock_mhz + 1)       # a field the group costs do not read
    assert E._group_arch_parts(c) == geo_free


def _tile_list(tp) -> list[tuple]:
    return [(t.n0, t.n1, t.k0, t.k1, t.y0, t.y1, t.x0, t.x1, t.blk0, t.blk1) for t in tp.tiles]


def test_tile_plan_memo_is_lru_bounded_by_tiles(monkeypatch):
    """compiler.lowering.tiling's plan memo drops least recently used plans beyond its tile bound; the plans it
    gives are those of a fresh memo (recomputed after eviction, the same object while held)."""
    from compiler.errors import CapacityError
    from compiler.lowering import tiling as T
    from hw_models.arch import load_arch
    from simulator.estimate import plan_graph
    from workloads.zoo import build_ir

    a = load_arch("tiny")
    _, plan, _, geos, _ = plan_graph(build_ir("squeezenet1_1"), a, 2)
    kw = dict(batch=plan.batch, double_buffer=False, native=plan.native_groups)
    ref = {}
    for name, geo in geos.items():            # plans with an unbounded memo
        monkeypatch.setattr(T, "_PLANS", Memo(1 << 16))
        try:
            ref[name] = _tile_list(T.plan_group(geo, a, **kw))
        except CapacityError:
            continue
    weights = sorted(len(v) + 1 for v in ref.values())
    bound = weights[-1]                     # room for the largest plan, not for all of them
    assert sum(weights) > bound + weights[-2]
    memo = Memo(T._PLANS_MAX, max_weight=bound, weigh=T._plan_weight)
    monkeypatch.setattr(T, "_PLANS", memo)
    first = {}
    for name in ref:
        tp = first[name] = T.plan_group(geos[name], a, **kw)
        assert _tile_list(tp) == ref[name]
        assert memo.weight <= bound and list(memo.data)[-1][1] == T.geo_signature(geos[name])
        assert memo.weight == sum(len(v[1].tiles) + 1 for v in memo.data.values())
    held = {k[1] for k in memo.data}
    again = 0
    for name in reversed(list(ref)):
        tp = T.plan_group(geos[name], a, **kw)
        assert _tile_list(tp) == ref[name]
        if T.geo_signature(geos[name]) in held:
            assert tp is first[name]            # still memoised: the same object
        else:
            again += tp is not first[name]
    assert again > 0 and len(held) < len(set(T.geo_signature(geos[n]) for n in ref))
