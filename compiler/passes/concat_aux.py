"""`concat-aux`: move a channel-wise auxiliary operation after a concatenation into the concatenated branches.

GoogLeNet ends two of its inception blocks with a max pool over the concatenation of four branches. Without
this pass the pool runs as its own PE-bypass bundle: it reads the whole concatenated tensor back from DDR and is
bound by the pool kernel's channel width (maxpool after inception_3b: 6% of the network's cycles on the tailored
overlay). A pool, an activation or a nearest upsampling works on each channel alone, so

    op(Concat(a, b, c, d)) = Concat(op(a), op(b), op(c), op(d))

and each copy can be fused into its branch's bundle through the crossbar (the branch result never goes to DDR
unpooled, the concatenation of the smaller results is still written in place). The rewrite is done only where
the data allows it: the concatenation is along channels, its only reader is the operation, every branch is
produced by an overlay node whose only reader is the concatenation, and the `fuse` pass would fuse every copy
into its branch (checked with the fuse pass's own rules); otherwise the graph is left as it is.
"""
from __future__ import annotations

from compiler.ir import Graph, Node
from compiler.lowering.support import classify_cached, view_axis
from compiler.passes import PassContext, note, register_pass
from compiler.passes.plan import get_plan
from compiler.passes.rewrite import Rewriter, readers

CHANNELWISE = ("act", "pool", "d2s")


def _candidates(g: Graph, ctx: PassContext) -> dict[str, Node]:
    """concat node name -> the channel-wise aux node reading it."""
    plan = get_plan(g)
    host = {k for p in plan.host or () for k in p.nodes}
    cons = g.consumers()
    rd = readers(g)
    producers = g.producers()
    outputs = set(g.outputs)
    out: dict[str, Node] = {}
    for c in g.nodes:
        if c.op != "Concat" or c.name in host:
            continue
        y = c.outputs[0]
        rank = len(g.tensors[y].shape)
        if view_axis(rank, c.attr("axis") % rank) != 1 or y in outputs or rd.get(y, 0) != 1:
            continue
        m = cons.get(y, [None])[0]
        if m is None or m.name in host or [i for i in m.inputs if i and not g.tensors[i].const] != [y]:
            continue
        s = classify_cached(g, m, ctx.arch)
        if s.kind != "aux" or s.aux not in CHANNELWISE or (s.aux == "d2s" and m.op != "Resize"):
            continue
        members = [i for i in c.inputs if i]
        ok = len(set(members)) == len(members)
        for i in members:
            p = producers.get(i)
            if (p is None or p.name in host or i in outputs or rd.get(i, 0) != 1
                    or classify_cached(g, p, ctx.arch).kind not in ("pe", "aux")):
                ok = False
        if ok:
            out[c.name] = m
    return out


def _rewrite(g: Graph, chosen: dict[str, Node]) -> tuple[Graph, dict[str, list[str]]]:
    ed = Rewriter(g)
    moved = {m.name for m in chosen.values()}
    copies: dict[str, list[str]] = {}
    for n in g.nodes:
        if n.name in moved:
            continue
        if n.name not in chosen:
            ed.keep(n)
            continue
        m = chosen[n.name]
        outs, names = [], []
        for k, i in enumerate(x for x in n.inputs if x):
            name = ed.fresh(f"{m.name}_{k}")
            ed.taken.discard(name)
            outs.append(ed.add(m.op, [i] + [x for x in m.inputs[1:]], dict(m.attrs), name=name, origin=m.origin))
            names.append(ed.nodes[-1].name)
        ed.taken.discard(n.name)
        ed.add("Concat", outs, dict(n.attrs), out=m.outputs[0], name=n.name, origin=n.origin)
        copies[n.name] = names
    return ed.finish(), copies


@register_pass("concat-aux", "move a pool / activation / nearest upsampling after a channel concatenation into "
               "the concatenated branches, where each copy fuses into its branch's bundle", levels=(1, 2))
def concat_aux(g: Graph, ctx: PassContext) -> Graph:
    from compiler.passes.fuse import fuse_groups

    chosen = _candidates(g, ctx)
    if not chosen:
        return note(g, "no channel-wise operation after a concatenation")
    for _ in range(len(chosen) + 1):
        g2, copies = _rewrite(g, chosen)
        groups = fuse_groups(g2, ctx)
        fused = {nd for grp in groups if len(grp.nodes) > 1 and grp.pe is not None for nd in grp.nodes}
        bad = [c for c, names in copies.items() if not all(x in fused for x in names)]
        if not bad:
            break
        for c in bad:
            del chosen[c]
        if not chosen:
            return note(g, "no branch could fuse the operation after its concatenation")
    ops = sorted({chosen[c].op for c in chosen})
    return note(g2, f"{', '.join(ops)} after {len(chosen)} concatenation(s) moved into "
                    f"{sum(len(v) for v in copies.values())} branch bundle(s)")
