"""`fuse`: chain operators through the crossbar so one bundle computes several nodes.

A planning pass. Starting from a PE-array node (Conv, FullyConnected) or an auxiliary node, it appends the
single reader of the group's result while that reader runs on an auxiliary kernel not yet in the chain
(activation, pool, LRN, eltwise with an operand computed earlier, depth-to-space / upsampling, softmax), the
result is not a graph output, and the extended group still tiles within the architecture's capacities
(cross-channel kernels need all channels in one tile; the eltwise operand and input-channel partial sums cannot
share the auxiliary read port). Without it (-O0) every node is its own bundle and every intermediate result
goes through DDR.
"""
from __future__ import annotations

from compiler.errors import CapacityError
from compiler.ir import Graph
from compiler.lowering.geometry import group_geometry
from compiler.lowering.tiling import k_starts, search_group
from compiler.lowering.units import classify_all, host_nodes, singleton_group, unify_views
from compiler.passes import PassContext, note, register_pass
from compiler.passes.plan import Group, get_plan, with_plan
from compiler.passes.rewrite import readers


def _feasible(g: Graph, grp: Group, plan, ctx: PassContext, views: dict) -> bool:
    try:
        geo = group_geometry(g, grp, plan, ctx.arch, views)
    except CapacityError:
        return False
    tp = None
    options = ((True, False) if ctx.enabled("whole-buffer") else (True,)) if ctx.enabled("tile") else (False,)
    for db in options:
        try:       # with whole-buffer, a group that does not fit one bank may use the whole stream buffer
            tp = search_group(geo, ctx.arch, batch=plan.batch, double_buffer=db, native=plan.native_groups)
            break
        except CapacityError:
            continue
    if tp is None:
        return False
    if geo.elt_stage >= 0:
        cv = ctx.arch.pe_array.c_vector
        # the operand is read from a channel-block boundary: tiles must start on one (per-group tiles of a
        # grouped conv whose groups are not block aligned do not), and it shares fread r1 with partial sums
        if tp.psum or any(k0 % cv for k0 in k_starts(geo, tp, plan.native_groups)):
            return False
    return True


def fuse_groups(g: Graph, ctx: PassContext) -> list[Group]:
    plan = get_plan(g)
    support = classify_all(g, ctx.arch, host_nodes(plan))
    views, _ = unify_views(g, support)
    cons = g.consumers()
    rd = readers(g)
    producers = g.producers()
    outputs = set(g.outputs)
    grouped: set[str] = set()
    groups: list[Group] = []
    for n in g.nodes:
        s = support[n.name]
        if n.name in grouped or s.kind not in ("pe", "aux"):
            continue
        grp = singleton_group(g, n, s)
        kinds = {k for k, _ in grp.chain}
        while True:
            out = grp.output
            if out in outputs or rd.get(out, 0) != 1 or len(cons.get(out, [])) != 1:
                break
            m = cons[out][0]
            sm = support[m.name]
            if sm.kind != "aux" or sm.aux in kinds or m.name in grouped:
                break
            operand = grp.operand
            if sm.aux == "elt":
                others = [i for i in m.inputs if i != out]
                if len(others) != 1 or grp.operand is not None:
                    break
                operand = others[0]
                p = producers.get(operand)
                if p is not None and p.name in grp.nodes:
                    break
            cand = Group(grp.name, grp.nodes + (m.name,), grp.pe, grp.chain + ((sm.aux, m.name),), grp.input,
                         m.outputs[0], operand)
            if not _feasible(g, cand, plan, ctx, views):
                break
            grp = cand
            kinds.add(sm.aux)
        groups.append(grp)
        grouped.update(grp.nodes)
    return groups


@register_pass("fuse", "fuse conv/FC + bias + activation + pool + LRN + eltwise + depth-to-space + softmax "
               "chains into one bundle through the crossbar", levels=(1, 2))
def fuse(g: Graph, ctx: PassContext) -> Graph:
    groups = fuse_groups(g, ctx)
    out = with_plan(g, groups=tuple(groups))
    fused = [grp for grp in groups if len(grp.nodes) > 1]
    return note(out, f"{len(groups)} bundle groups; {sum(len(x.nodes) for x in fused)} nodes fused into "
                     f"{len(fused)} groups")
