"""`tile`: slice every bundle's work for double buffering with prefetch.

A planning pass. Without it (-O0) tiles use the whole stream buffer and every bundle waits for the previous
one to finish writing before its feature reader starts (no overlap of DDR reads with computation), which is
the naive baseline. With it, a tile's input, operand and partial-sum blocks fit one stream-buffer bank, bundles
alternate banks, and the feature reader of the next bundle prefetches while the PE array computes (cfg.wait
only where a bundle reads what the one before it writes). The tile plans (images, channels, rows, columns and
input-channel slices per bundle) are recorded for the lowering and the compile report.
"""
from __future__ import annotations

from compiler.ir import Graph
from compiler.lowering.lower import plan_tiles
from compiler.lowering.units import build_schedule
from compiler.passes import PassContext, note, register_pass
from compiler.passes.plan import get_plan, with_plan


@register_pass("tile", "size tiles to one stream-buffer bank so the next bundle's reads overlap this bundle's "
               "compute (double buffering with prefetch)", levels=(1, 2))
def tile(g: Graph, ctx: PassContext) -> Graph:
    g2 = with_plan(g, double_buffer=ctx.arch.stream_buffer.banks > 1)
    plan = get_plan(g2)
    sched = build_schedule(g2, plan, ctx.arch)
    _, tiles = plan_tiles(g2, plan, ctx.arch, sched)
    out = with_plan(g2, tiles=tiles)
    n = sum(len(t.tiles) for t in tiles.values())
    sliced = sum(1 for t in tiles.values() if t.psum)
    return note(out, f"{n} tiles over {len(tiles)} groups, double buffering "
                     f"{'on' if plan.double_buffer else 'off (one bank)'}; {sliced} group(s) need input-channel "
                     f"slices")
