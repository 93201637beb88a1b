"""`tile` and `whole-buffer`: slice every bundle's work for double buffering with prefetch (where it pays).

A planning pass. Without it (-O0) tiles use the whole stream buffer and every bundle waits for the previous
one to finish writing before its feature reader starts (no overlap of DDR reads with computation), which is
the naive baseline. With it, a group's tiles are sized to one stream-buffer bank, bundles alternate banks, and
the feature reader of the next bundle prefetches while the PE array computes (cfg.wait only where a bundle
reads what the one before it writes).

A group that does not fit one bank (a fused group whose smallest tile is larger) uses the whole buffer: its
bundles, and the bundle after it, wait (`cfg.wait`). The tile plans (images, channels, rows, columns and
input-channel slices per bundle) are recorded for the lowering and the compile report.

`whole-buffer` (off by default; `--enable whole-buffer`): halving the buffer is not free. A group may need more,
smaller tiles (more bundles, halo rows read and recomputed twice, one pipeline fill per bundle), and on a small
stream buffer that can cost more than the overlap hides (the `tiny` architecture's first SqueezeNet layer: 648
half-bank tiles against 168 whole-buffer ones, 24% slower). For every group whose whole-buffer plan has fewer
tiles, the pass compares the two with the fast estimate's closed form (`simulator.estimate`: the cycle model's
per-tile costs, the architecture's DDR bandwidth and latency included): half-bank tiles whose first tile waits
and whose other reads are prefetched, against whole-buffer tiles that all wait, and keeps the faster.

It stays off at -O2 on measurement (docs/optimizer.md, "whole-buffer"): on all 18 zoo networks at -O2 on
a10_generic and dla_alexnet_a10 (and GoogLeNet on bench/archs/dla_googlenet_a10.toml) it changes no group, so
it gains nothing there; it pays only on small stream buffers (tiny SqueezeNet 16%; about 45% of random
optimiser candidates, 2.5-2.9% on average, up to 43%, one 0.9% loss: the choice is made group by group). On,
its choice would depend on every field the closed form reads (DDR, clock, lanes, interleaving, aux widths:
all of `hw_models.optimizer.PLAN_FREE_FIELDS`), so the optimiser would have to re-make it per candidate on
each shared plan, and `nas.codesign.cellcost`, which re-tiles cached plans with half-bank tiles, likewise.
"""
from __future__ import annotations

from compiler.errors import CapacityError
from compiler.ir import Graph
from compiler.lowering.lower import plan_tiles
from compiler.lowering.tiling import group_double_buffered, plan_group
from compiler.lowering.units import build_schedule
from compiler.passes import PassContext, note, register_pass
from compiler.passes.plan import get_plan, with_plan


@register_pass("tile", "size tiles to one stream-buffer bank so the next bundle's reads overlap this bundle's "
               "compute (double buffering with prefetch)", levels=(1, 2))
def tile(g: Graph, ctx: PassContext) -> Graph:
    g2 = with_plan(g, double_buffer=ctx.arch.stream_buffer.banks > 1)
    plan = get_plan(g2)
    sched = build_schedule(g2, plan, ctx.arch)
    geos, tiles = plan_tiles(g2, plan, ctx.arch, sched)
    out = with_plan(g2, tiles=tiles)
    n = sum(len(t.tiles) for t in tiles.values())
    sliced = sum(1 for t in tiles.values() if t.psum)
    whole = sum(1 for t in tiles.values() if not group_double_buffered(ctx.arch, plan.double_buffer, t))
    return note(out, f"{n} tiles over {len(tiles)} groups, double buffering "
                     f"{'on' if plan.double_buffer else 'off (one bank)'}"
                     f"{f' ({whole} group(s) too large for one bank use the whole buffer)' if whole else ''}; "
                     f"{sliced} group(s) need input-channel slices")


@register_pass("whole-buffer", "keep whole-stream-buffer tiles (no prefetch) for the groups where they are faster "
               "than half-bank tiles (closed-form comparison, DDR included); off by default", levels=())
def whole_buffer(g: Graph, ctx: PassContext) -> Graph:
    plan = get_plan(g)
    if not plan.double_buffer or plan.tiles is None:
        return note(g, "no double-buffered tiles (the tile pass is off)")
    sched = build_schedule(g, plan, ctx.arch)
    geos, tiles = plan_tiles(g, plan, ctx.arch, sched)
    tiles = dict(tiles)
    changed = whole_buffer_groups(geos, tiles, plan, ctx.arch)
    if not changed:
        return note(g, "the half-bank split pays on every group")
    before = sum(len(t.tiles) for t in plan.tiles.values())
    after = sum(len(t.tiles) for t in tiles.values())
    return note(with_plan(g, tiles=tiles), f"{len(changed)} group(s) keep the whole buffer ({before} -> {after} tiles)")


def split_pays(arch, geo, half, whole, batch: bool) -> bool:
    """True when the half-bank tiles `half` of a group are at least as fast as its whole-buffer tiles `whole`
    (closed form of simulator.estimate over the group alone)."""
    from simulator.estimate import group_cost, psum_wait, sequence_time

    th = group_cost(arch, geo, half, name="", op="", lane=0, batch=batch).tiles
    tw = group_cost(arch, geo, whole, name="", op="", lane=0, batch=batch).tiles
    t_half = sum(sequence_time(arch, [(t, j == 0 or psum_wait(th[j - 1], t)) for j, t in enumerate(th)]))
    t_whole = sum(sequence_time(arch, [(t, True) for t in tw]))
    return t_half <= t_whole


def whole_buffer_groups(geos, tiles, plan, arch) -> list[str]:
    """Replace, in `tiles`, the half-bank plan of every group whose whole-buffer plan is faster; returns them."""
    out = []
    for name, tp in list(tiles.items()):
        if len(tp.tiles) < 2:
            continue
        try:
            whole = plan_group(geos[name], arch, batch=plan.batch, double_buffer=False, native=plan.native_groups)
        except CapacityError:
            continue
        if len(whole.tiles) >= len(tp.tiles) or split_pays(arch, geos[name], tp, whole, plan.batch):
            continue
        tiles[name] = whole
        out.append(name)
    return out
