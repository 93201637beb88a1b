"""`group-conv`: run grouped and depthwise convolutions natively.

A planning pass. Without it (-O0) a convolution with `group` > 1 is executed one group at a time: each bundle
computes the output channels of one group, reads that group's input channels and reloads its filters, and a
depthwise convolution becomes one bundle per channel (per tile). With it, grouped convolutions are tiled
across group boundaries (each PE finds its filter's group from `pe.k_per_group` / `pe.c_per_group`), and
depthwise convolutions use the PE array's depthwise mode, which packs c_vector channels into every filter-cache
entry.
"""
from __future__ import annotations

from compiler.ir import Graph
from compiler.passes import PassContext, note, register_pass
from compiler.passes.plan import get_plan, with_plan


@register_pass("group-conv", "run grouped convolutions across group boundaries and depthwise convolutions in "
               "the PE array's depthwise mode (instead of one group per bundle)", levels=(2,))
def group_conv(g: Graph, ctx: PassContext) -> Graph:
    host = {k for p in get_plan(g).host or () for k in p.nodes}
    names = [n.name for n in g.nodes if n.op == "Conv" and int(n.attr("group", 1)) > 1 and n.name not in host]
    dw = sum(1 for n in g.nodes if n.name in names and int(n.attr("group")) == g.tensors[n.inputs[0]].shape[1])
    out = with_plan(g, native_groups=get_plan(g).native_groups | frozenset(names))
    return note(out, f"{len(names)} grouped conv(s) native, {dw} of them depthwise" if names else "no grouped convs")
