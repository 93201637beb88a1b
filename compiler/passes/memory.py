"""`memory-plan`: DDR addresses with liveness-based reuse, in-place concatenation, on-chip features.

A planning pass (see `compiler.lowering.memory`). Without it (-O0) every tensor gets its own DDR buffer and
concatenations are copied by PE-bypass bundles.
"""
from __future__ import annotations

from compiler.ir import Graph
from compiler.lowering.lower import plan_memory
from compiler.passes import PassContext, note, register_pass
from compiler.passes.plan import get_plan, with_plan


@register_pass("memory-plan", "DDR buffers with liveness-based reuse, concatenations written in place, features "
               "kept in the stream buffer between consecutive bundles", levels=(1, 2))
def memory_plan(g: Graph, ctx: PassContext) -> Graph:
    plan = plan_memory(g, get_plan(g), ctx.arch, reuse=True)
    out = with_plan(g, memory=plan)
    s = plan.summary()
    return note(out, f"{s['buffers']} buffers, {s['bytes']:,} bytes (naive {s['bytes_without_reuse']:,}); "
                     f"{s['aliased_concats']} concat(s) in place; {s['sb_resident']} tensor(s) kept on chip")
