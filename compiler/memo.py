"""Bounded memos shared by the compiler, the fast estimate and the optimiser (a neutral module: `compiler` must not
import `simulator`, which with `hw_models` already depends on `compiler`).

- `Memo`: a least-recently-used map bounded by entries and, optionally, by a weight per value (e.g. the tiles a
  plan holds).
- `per_object`: a decorator memoising a function of one immutable object per object identity, the object kept
  alive in its entry (so its id cannot be reused while the entry stands); cleared when full.
"""
from __future__ import annotations

from collections import OrderedDict
from functools import update_wrapper
from typing import Any, Callable

DEFAULT_SIZE = 1 << 16


class Memo:
    """A bounded least-recently-used map (group costs keyed by architecture, group geometry and tile plan; whole
    estimates keyed by architecture, level and graph structure; compiler plans). At most `size` entries and, with
    `weigh`, at most `max_weight` in total of `weigh(value)` (e.g. tiles held): the least recently used go first
    (the newest entry always stays, even when it alone weighs more). Values must not be None (None is a miss)."""

    def __init__(self, size: int = DEFAULT_SIZE, *, max_weight: int | None = None, weigh=None):
        self.size = size
        self.max_weight, self.weigh = max_weight, weigh
        self.data: OrderedDict[Any, Any] = OrderedDict()
        self.weights: dict[Any, int] = {}
        self.weight = 0
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self.data)

    def __contains__(self, key) -> bool:
        return key in self.data

    def peek(self, key) -> Any:
        """The value under `key` (marked most recently used) or None; counts no hit or miss."""
        v = self.data.get(key)
        if v is not None:
            self.data.move_to_end(key)
        return v

    def get(self, key, make) -> Any:
        v = self.peek(key)
        if v is not None:
            self.hits += 1
            return v
        self.misses += 1
        v = make()
        self.put(key, v)
        return v

    def put(self, key, v: Any) -> None:
        if key in self.data and self.weigh is not None:
            self.weight -= self.weights.pop(key)
        self.data[key] = v
        self.data.move_to_end(key)
        if self.weigh is not None:
            w = self.weights[key] = self.weigh(v)
            self.weight += w
            while self.weight > self.max_weight and len(self.data) > 1:
                k, _ = self.data.popitem(last=False)
                self.weight -= self.weights.pop(k)
        if len(self.data) > self.size:
            k, _ = self.data.popitem(last=False)
            if self.weigh is not None:
                self.weight -= self.weights.pop(k)

    def clear(self) -> None:
        self.data.clear()
        self.weights.clear()
        self.weight = 0
        self.hits = self.misses = 0


def per_object(size: int = 256) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Decorator: `fn(obj)` memoised per object identity, for immutable objects whose hashing or equality costs more
    than the lookup it keys (a pydantic `Arch` walks every field). Each entry keeps its object alive (so no other
    object can take its id while it stands) and is checked with `is`; all entries are dropped when `size` are held.
    The wrapper's `cache` is the dict id -> (object, value), `cache_clear()` empties it. (A closure, not a class
    with `__call__`: the estimate asks once per group, millions of times in a search.)"""
    def wrap(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        cache: dict[int, tuple[Any, Any]] = {}

        def memoised(obj):
            hit = cache.get(id(obj))
            if hit is not None and hit[0] is obj:
                return hit[1]
            if len(cache) >= size:
                cache.clear()
            v = fn(obj)
            cache[id(obj)] = (obj, v)
            return v

        memoised.cache = cache
        memoised.cache_clear = cache.clear
        return update_wrapper(memoised, fn)
    return wrap
