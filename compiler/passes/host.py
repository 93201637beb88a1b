"""`host-fallback`: partition what the overlay cannot run into host subgraphs (reported, never dropped).

Every node is classified (`compiler.lowering.support.classify`); unsupported nodes, and Reshape-family views
whose input and output cannot share one NCHWc layout, go to the host. Maximal runs of consecutive host nodes
(in topological order, with the views that read their results) form one partition, executed by the host
(onnxruntime) between bundles. With `host_fallback=False` the first unsupported node raises `CapacityError`.
"""
from __future__ import annotations

from compiler.errors import CapacityError
from compiler.ir import Graph
from compiler.lowering.support import VIEW_OPS, Support, classify_cached
from compiler.lowering.units import unify_views
from compiler.passes import PassContext, note, register_pass
from compiler.passes.plan import HostPart, with_plan


def host_set(g: Graph, arch) -> dict[str, str]:
    """node name -> reason, for every node that must run on the host."""
    support = {n.name: classify_cached(g, n, arch) for n in g.nodes}
    host = {k: s.reason for k, s in support.items() if s.kind == "host"}
    while True:
        eff = {k: (s if k not in host else Support("host", reason=host[k])) for k, s in support.items()}
        _, bad = unify_views(g, eff)
        new = {b for b in bad if b not in host}
        if not new:
            return host
        for b in new:
            host[b] = "this reshape changes the NCHWc layout of a tensor the overlay reads or writes"


def partitions(g: Graph, host: dict[str, str]) -> list[HostPart]:
    parts: list[HostPart] = []
    run: list[str] = []
    produced: set[str] = set()

    def close():
        if run:
            parts.append(HostPart(f"host{len(parts)}", tuple(run), {k: host[k] for k in run if k in host}))
        run.clear()
        produced.clear()

    for n in g.nodes:
        data = [i for i in n.inputs if i and not g.tensors[i].const]
        if n.name in host:
            run.append(n.name)
            produced.update(o for o in n.outputs if o)
        elif run and n.op in VIEW_OPS and data and all(i in produced for i in data):
            run.append(n.name)
            produced.update(o for o in n.outputs if o)
            host[n.name] = "view of a host result, computed on the host"
        else:
            close()
    close()
    return parts


@register_pass("host-fallback", "partition nodes the overlay cannot run into host subgraphs (reported with "
               "the reason and the parameter to raise)", kind="legalize")
def host_fallback(g: Graph, ctx: PassContext) -> Graph:
    host = host_set(g, ctx.arch)
    if host and not ctx.host_fallback:
        first = next(n for n in g.nodes if n.name in host)
        raise CapacityError(f"node '{first.name}' ({first.op}) cannot run on the overlay: {host[first.name]}")
    parts = partitions(g, dict(host))
    out = with_plan(g, host=tuple(parts))
    if not parts:
        return note(out, "everything runs on the overlay")
    ops: dict[str, int] = {}
    for p in parts:
        for k in p.nodes:
            op = g.node(k).op
            ops[op] = ops.get(op, 0) + 1
    return note(out, f"{sum(len(p.nodes) for p in parts)} node(s) in {len(parts)} host partition(s): "
                     + ", ".join(f"{k} x{v}" for k, v in sorted(ops.items())))
