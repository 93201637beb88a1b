"""The execution units of a planned graph and their order: fused groups (bundles), concatenation copies, host
partitions; plus the tensors that are views (aliases) of others.

A view node (Reshape family, aligned Slice) produces no work: its output is an alias of its input. A
concatenation is free when memory planning places its inputs inside its output (`aliased_concats`); otherwise
each input is copied by a PE-bypass bundle into its window of the output.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from compiler.errors import CapacityError
from compiler.ir import Graph, Node
from compiler.lowering.formats import view_of
from compiler.lowering.support import Support, classify_cached, view_axis
from compiler.passes.plan import Group, HostPart, Plan


@dataclass
class Unit:
    kind: str                        # group | host
    name: str
    group: Group | None = None
    host: HostPart | None = None
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    position: int = 0


@dataclass
class Window:
    """`tensor` is a window of `parent`: offset `offset` along view axis `axis` (an alias)."""

    tensor: str
    parent: str
    axis: int
    offset: int
    reshape: bool = False            # a Reshape-family alias (same bytes, own dense pitches)


@dataclass
class Schedule:
    units: list[Unit]
    windows: dict[str, Window]                   # alias tensor -> window
    views: dict[str, tuple[int, int, int, int]]  # tensor -> (N, C, H, W) view
    support: dict[str, Support]
    copies: dict[str, list[str]] = field(default_factory=dict)   # concat node -> copy group names


def graph_memo(g: Graph, key: tuple, make, arch=None):
    """`make()` memoised per graph content: the memo lives in `g.metadata` and is tied to the graph's tensor
    dictionary, which planning passes share (`compiler.passes.plan.with_plan`) and rewriting passes replace
    (`Graph.copy`), so a rewritten graph never sees an older graph's entries. `key` must identify every other
    input; an architecture is keyed by identity (`arch` is stored with the value and checked)."""
    m = g.metadata.get("_plan_memo")
    if m is None or m[0] is not g.tensors or m[2] != len(g.nodes):
        m = (g.tensors, {}, len(g.nodes))
        g.metadata["_plan_memo"] = m
    key = (id(arch),) + key
    hit = m[1].get(key)
    if hit is not None and hit[0] is arch:
        return hit[1]
    value = make()
    m[1][key] = (arch, value)
    return value


def host_nodes(plan: Plan) -> dict[str, str]:
    out = {}
    for part in plan.host or ():
        for n in part.nodes:
            out[n] = part.reasons.get(n, "")
    return out


def classify_all(g: Graph, arch, host: dict[str, str]) -> dict[str, Support]:
    return graph_memo(g, ("classify", tuple(sorted(host.items()))), lambda: _classify_all(g, arch, host), arch)


def _classify_all(g: Graph, arch, host: dict[str, str]) -> dict[str, Support]:
    out = {}
    for n in g.nodes:
        if n.name in host:
            out[n.name] = Support("host", reason=host[n.name] or "host fallback")
        else:
            out[n.name] = classify_cached(g, n, arch)
    return out


def unify_views(g: Graph, support: dict[str, Support]) -> tuple[dict[str, tuple], set[str]]:
    """Views of every tensor; Reshape-family nodes whose input and output layouts cannot agree (returned set).
    Memoised per graph and support kinds (the result is shared: read it only)."""
    kinds = tuple(support[n.name].kind for n in g.nodes)
    return graph_memo(g, ("views", kinds), lambda: _unify_views(g, support))


def _unify_views(g: Graph, support: dict[str, Support]) -> tuple[dict[str, tuple], set[str]]:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    from compiler.lowering.support import VIEW_OPS

    view_nodes = [n for n in g.nodes if n.op in VIEW_OPS and support[n.name].kind == "view"]
    for n in view_nodes:
        a, b = find(n.inputs[0]), find(n.outputs[0])
        if a != b:
            parent[b] = a
    fixed: dict[str, set] = {}
    for n in g.nodes:
        s = support[n.name]
        if s.kind in ("pe", "aux", "concat") or (s.kind == "view" and n.op == "Slice"):
            for tname in [i for i in n.inputs if i and not g.tensors[i].const] + [o for o in n.outputs if o]:
                if s.kind == "view" and tname == n.outputs[0] and n.op == "Slice":
                    pass
                fixed.setdefault(find(tname), set()).add(view_of(g.tensors[tname].shape))
    views: dict[str, tuple] = {}
    bad: set[str] = set()
    for name, t in g.tensors.items():
        if t.const:
            continue
        root = find(name)
        opts = fixed.get(root, set())
        if len(opts) > 1:
            views[name] = view_of(t.shape)
        elif opts:
            views[name] = next(iter(opts))
        else:
            views[name] = view_of(g.tensors[root].shape)
    for n in view_nodes:
        if len(fixed.get(find(n.inputs[0]), set())) > 1:
            if views[n.inputs[0]] != views[n.outputs[0]]:
                bad.add(n.name)
    return views, bad


def _slice_window(g: Graph, n: Node) -> Window:
    x = g.tensors[n.inputs[0]].shape
    axis = [a % len(x) for a in n.attr("axes", [0])][0]
    start = slice(n.attr("starts")[0], n.attr("ends")[0], 1).indices(x[axis])[0]
    return Window(n.outputs[0], n.inputs[0], view_axis(len(x), axis), start)


def concat_offsets(g: Graph, n: Node) -> list[tuple[str, int, int]]:
    """(member, view axis, offset) of each concatenation input."""
    rank = len(g.tensors[n.outputs[0]].shape)
    axis = n.attr("axis") % rank
    va = view_axis(rank, axis)
    out, off = [], 0
    for i in n.inputs:
        if i:
            out.append((i, va, off))
            off += g.tensors[i].shape[axis]
    return out


def build_schedule(g: Graph, plan: Plan, arch, aliased_concats: frozenset[str] = frozenset()) -> Schedule:
    """The units of a planned graph in execution order (memoised per graph, groups, host partitions and in-place
    concatenations; the schedule is shared: read it only)."""
    key = ("schedule", plan.groups, tuple((p.name, p.nodes) for p in plan.host or ()), plan.host is None,
           frozenset(aliased_concats))
    return graph_memo(g, key, lambda: _build_schedule(g, plan, arch, aliased_concats), arch)


def _build_schedule(g: Graph, plan: Plan, arch, aliased_concats: frozenset[str] = frozenset()) -> Schedule:
    host = host_nodes(plan)
    support = classify_all(g, arch, host)
    for name, s in support.items():
        if s.kind == "host" and name not in host:
            raise CapacityError(f"node '{name}' cannot run on the overlay ({s.reason}) and no host partition "
                                f"holds it; enable the host-fallback pass")
    views, bad = unify_views(g, support)
    if bad:
        raise CapacityError(f"view node(s) {sorted(bad)} change the NCHWc layout and are not on the host; enable "
                            f"the host-fallback pass")
    windows: dict[str, Window] = {}
    for n in g.nodes:
        s = support[n.name]
        if s.kind != "view":
            continue
        if n.op == "Slice":
            windows[n.outputs[0]] = _slice_window(g, n)
        else:
            windows[n.outputs[0]] = Window(n.outputs[0], n.inputs[0], 0, 0, reshape=True)
    pos = {n.name: k for k, n in enumerate(g.nodes)}
    nodes = {n.name: n for n in g.nodes}
    units: list[Unit] = []
    grouped: set[str] = set()
    groups = list(plan.groups) if plan.groups is not None else []
    for grp in groups:
        grouped.update(grp.nodes)
    for n in g.nodes:
        s = support[n.name]
        if s.kind in ("pe", "aux") and n.name not in grouped:
            groups.append(singleton_group(g, n, s))
    for grp in groups:
        reads = tuple(t for t in (grp.input, grp.operand) if t)
        units.append(Unit("group", grp.name, group=grp, reads=reads, writes=(grp.output,),
                          position=max(pos[x] for x in grp.nodes)))
    copies: dict[str, list[str]] = {}
    for n in g.nodes:
        if support[n.name].kind != "concat":
            continue
        if n.name in aliased_concats:
            for member, va, off in concat_offsets(g, n):
                windows[member] = Window(member, n.outputs[0], va, off)
            continue
        names = []
        for k, (member, va, off) in enumerate(concat_offsets(g, n)):
            win = f"{n.outputs[0]}#{k}"
            windows[win] = Window(win, n.outputs[0], va, off)
            views[win] = views[member]
            grp = Group(f"{n.name}/copy{k}", (n.name,), None, (), member, win)
            units.append(Unit("group", grp.name, group=grp, reads=(member,), writes=(win,), position=pos[n.name]))
            names.append(grp.name)
        copies[n.name] = names
    for part in plan.host or ():
        inside = set(part.nodes)
        produced = {o for x in part.nodes for o in nodes[x].outputs if o}
        reads = tuple(sorted({i for x in part.nodes for i in nodes[x].inputs
                              if i and i not in produced and not g.tensors[i].const}))
        units.append(Unit("host", part.name, host=part, reads=reads, writes=tuple(sorted(produced)),
                          position=max(pos[x] for x in inside)))
    units.sort(key=lambda u: (u.position, 0 if u.kind == "host" else 1, u.name if u.kind == "host" else ""))
    # stable order of copies of one concat: by member index (already appended in order; sort is stable)
    return Schedule(units, windows, views, support, copies)


def singleton_group(g: Graph, n: Node, s: Support) -> Group:
    """The group of one node (no fusion)."""
    data = [i for i in n.inputs if i and not g.tensors[i].const]
    if s.kind == "pe":
        return Group(n.name, (n.name,), n.name, (), data[0], n.outputs[0])
    operand = data[1] if s.aux == "elt" else None
    return Group(n.name, (n.name,), None, ((s.aux, n.name),), data[0], n.outputs[0], operand)
