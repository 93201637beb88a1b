"""`direct-wide` and `matvec-columns`: use every multiplier column of a Winograd PE array for direct work.

A Winograd PE array (`pe_array.winograd`) has w_vector = q_vector + 2 multiplier columns per PE. A Winograd
convolution uses all of them (w_vector transformed inputs give q_vector outputs); a direct convolution in the
default column mapping (`pe.cols = tile`) computes q_vector output columns per pass and leaves two columns idle,
and a matrix-vector product (FullyConnected: one output column) uses one column of w_vector. Both passes are
planning passes that pick another column mapping (docs/isa.md section 4, `pe.cols`); numerics do not change,
only the positions a pass covers:

- `direct-wide`: direct convolutions (dense, grouped or depthwise, not in Winograd mode) with horizontal stride
  1 read w_vector consecutive input columns per cycle, and each column's multiplier computes its own output
  column with the same weight (`pe.cols = wide`, transforms bypassed): ceil(ow / w_vector) positions per row
  instead of ceil(ow / q_vector). A strided convolution would need input columns spaced `sx` apart and is left
  alone.
- `matvec-columns`: convolutions and FullyConnected layers with one output column, compiled with several
  images per bundle (`batch-matvec`), put w_vector images side by side in the columns (`pe.cols = images`):
  ceil(images / w_vector) positions instead of one per image, the FC-layer batching of the DLA papers.

Architectures without Winograd have one column (w_vector = q_vector = 1): both passes change nothing there.
"""
from __future__ import annotations

from compiler.ir import Graph
from compiler.passes import PassContext, note, register_pass
from compiler.passes.plan import get_plan, with_plan


def _host(plan) -> set[str]:
    return {k for p in plan.host or () for k in p.nodes}


@register_pass("direct-wide", "direct (non-Winograd) stride-1 convolutions on a Winograd PE array compute w_vector "
               "output columns per pass instead of q_vector (pe.cols = wide)", levels=(2,))
def direct_wide(g: Graph, ctx: PassContext) -> Graph:
    pe = ctx.arch.pe_array
    if not pe.winograd:
        return note(g, "architecture has no Winograd PE array (one multiplier column)")
    plan = get_plan(g)
    host = _host(plan)
    names = [n.name for n in g.nodes if n.op == "Conv" and n.name not in host and n.name not in plan.winograd
             and list(n.attr("strides", [1, 1]))[1] == 1 and n.name not in plan.cols]
    cols = dict(plan.cols)
    cols.update({k: "wide" for k in names})
    return note(with_plan(g, cols=cols), f"{len(names)} direct stride-1 conv(s) on all {pe.w_vector} columns "
                                         f"(was {pe.q_vector})")


@register_pass("matvec-columns", "batched matrix-vector work (FC layers, one output column) puts w_vector images "
               "side by side in the multiplier columns (pe.cols = images)", levels=(2,))
def matvec_columns(g: Graph, ctx: PassContext) -> Graph:
    pe = ctx.arch.pe_array
    if not pe.winograd:
        return note(g, "architecture has no Winograd PE array (one multiplier column)")
    plan = get_plan(g)
    if not plan.batch:
        return note(g, "no batching (batch-matvec is off): one image per bundle")
    host = _host(plan)
    names = []
    for n in g.nodes:
        if n.name in host or n.op not in ("FullyConnected", "Conv") or n.name in plan.winograd:
            continue
        y = g.tensors[n.outputs[0]].shape
        if y[0] < 2 or (n.op == "Conv" and (len(y) != 4 or y[3] != 1)):
            continue
        groups = int(n.attr("group", 1))
        if n.op == "Conv" and groups > 1 and groups == g.tensors[n.inputs[0]].shape[1] and n.name in plan.native_groups:
            continue                  # depthwise mode: one channel block per entry, no filter to share

        names.append(n.name)
    cols = dict(plan.cols)
    cols.update({k: "images" for k in names})
    return note(with_plan(g, cols=cols), f"{len(names)} batched matrix-vector layer(s) with {pe.w_vector} images "
                                         f"per pass")
