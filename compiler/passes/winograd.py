"""`winograd`: mark the convolutions that run with the 1-D Winograd transform F(q_vector, 3) along the width.

A planning pass, active only when the architecture has `pe_array.winograd`. Eligible: dense or grouped (not
depthwise-mode) convolutions with a 3-wide kernel, horizontal stride 1 and horizontal dilation 1. Their
filters are stored transformed (w_vector = q_vector + 2 taps per row), each PE pass yields q_vector outputs
from w_vector inputs (docs/isa.md section 4).
"""
from __future__ import annotations

from compiler.ir import Graph
from compiler.passes import PassContext, note, register_pass
from compiler.passes.plan import get_plan, with_plan


@register_pass("winograd", "run 3-wide, horizontal-stride-1 convolutions with the 1-D Winograd transform when "
               "the architecture has pe_array.winograd", levels=(2,))
def winograd(g: Graph, ctx: PassContext) -> Graph:
    if not ctx.arch.pe_array.winograd:
        return note(g, "architecture has no Winograd PE array")
    plan = get_plan(g)
    host = {k for p in plan.host or () for k in p.nodes}
    names = []
    for n in g.nodes:
        if n.op != "Conv" or n.name in host:
            continue
        k = list(n.attr("kernel_shape", g.tensors[n.inputs[1]].shape[2:]))
        if len(k) != 2 or k[1] != 3 or n.attr("strides", [1, 1])[1] != 1 or n.attr("dilations", [1, 1])[1] != 1:
            continue
        groups = int(n.attr("group", 1))
        if groups > 1 and groups == g.tensors[n.inputs[0]].shape[1] and n.name in plan.native_groups:
            continue
        names.append(n.name)
    out = with_plan(g, winograd=frozenset(names))
    return note(out, f"{len(names)} conv(s) in Winograd F({ctx.arch.pe_array.q_vector}, 3) mode")
