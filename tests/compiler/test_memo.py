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
