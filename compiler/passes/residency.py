"""`filter-residency`: keep filter chunks resident in the filter caches while later bundles reuse them.

A planning pass. The filter cache has two halves (docs/isa.md section 3): the filter reader fills the half the
PE array is not reading, so a chunk stays on chip until a later load overwrites its half. Without this pass
(-O0) a bundle reuses the filters only when they are in the half the previous bundle used (consecutive tiles of
one chunk); every other bundle reloads its chunk from DDR, so the recurrent weights of an LSTM are streamed
again at every time step, for every gate. With it, a bundle whose chunk is in either half reads it from there
(`wread` idle, `pe.bank` selects the half), so weights that fit the caches stay resident across bundles: an
LSTM's recurrent weights (one FullyConnected per step after `lower-rnn` merges the gates) are loaded once for
all time steps when the 4h x h matrix fits one half (or both, in two chunks), and the filters of a batched
layer are loaded once for all image tiles.

The pass reports, for the compiled schedule, how many chunk loads residency removes and which weights stay
resident across several bundle groups (and, for those that do not fit, how many filter-cache entries per PE
they would need).
"""
from __future__ import annotations

from compiler.ir import Graph
from compiler.lowering.lower import plan_tiles
from compiler.lowering.support import filter_half
from compiler.lowering.units import build_schedule
from compiler.passes import PassContext, note, register_pass
from compiler.passes.plan import get_plan, with_plan


def chunk_loads(sched, geos, tiles, arch, reuse: bool) -> tuple[int, dict[str, int], dict[str, int]]:
    """Filter-chunk loads of a schedule under the lowering's cache policy (`reuse`: a chunk in either half is
    reused; otherwise only the half of the previous filter-reading bundle). Returns (loads, bundles per weight
    tensor, loads per weight tensor)."""
    cache = {0: None, 1: None}
    last = 1
    loads = 0
    uses: dict[str, int] = {}
    per: dict[str, int] = {}
    for u in sched.units:
        if u.kind != "group":
            continue
        geo = geos[u.name]
        if geo.pe.kind == "bypass":
            continue
        ident = (geo.weight, geo.bias, geo.pe.kind, geo.wino, geo.kwp, geo.pe.kh, geo.pe.kw, geo.groups)
        for t in tiles[u.name].tiles:
            key = ident + t.chunk_key + (t.first_slice,)
            uses[geo.weight] = uses.get(geo.weight, 0) + 1
            hit = next((b for b in (0, 1) if cache[b] == key), None) if reuse else (
                last if cache[last] == key else None)
            if hit is None:
                hit = (1 - last) if arch.filter_cache.double_buffered else 0
                cache[hit] = key
                loads += 1
                per[geo.weight] = per.get(geo.weight, 0) + 1
            last = hit
    return loads, uses, per


@register_pass("filter-residency", "keep filter chunks in the filter caches while later bundles reuse them (an "
               "LSTM's recurrent weights across time steps when they fit): a bundle reads its chunk from either "
               "cache half instead of reloading it", levels=(2,))
def filter_residency(g: Graph, ctx: PassContext) -> Graph:
    out = with_plan(g, reuse_filters=True)
    plan = get_plan(out)
    sched = build_schedule(out, plan, ctx.arch, plan.memory.aliased_concats if plan.memory else frozenset())
    geos, tiles = plan_tiles(out, plan, ctx.arch, sched)
    before, uses, _ = chunk_loads(sched, geos, tiles, ctx.arch, reuse=False)
    after, _, per = chunk_loads(sched, geos, tiles, ctx.arch, reuse=True)
    shared = {}
    for u in sched.units:
        if u.kind == "group" and geos[u.name].pe.kind != "bypass":
            shared.setdefault(geos[u.name].weight, set()).add(u.name)
    parts = [f"{before - after} of {before} filter-chunk loads removed ({after} left)"]
    resident, reloaded, need = 0, 0, 0
    for w, names in shared.items():
        if len(names) < 2:
            continue
        chunks = {t.chunk_key + (t.first_slice,) for u in names for t in tiles[u].tiles}
        if per.get(w, 0) <= len(chunks):
            resident += 1
        else:
            reloaded += 1
            need = max(need, sum(tiles[u].filter_entries for u in names) // len(names) * len(chunks))
    if resident:
        parts.append(f"{resident} weight tensor(s) shared by several bundle groups loaded once")
    if reloaded:
        parts.append(f"{reloaded} shared weight tensor(s) reloaded: they need about {need} filter-cache entries "
                     f"per PE, filter_cache.depth is {2 * filter_half(ctx.arch)}")
    return note(out, "; ".join(parts))
