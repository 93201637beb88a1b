"""DDR memory planning: root buffers, aliases (views, in-place concatenation), liveness-based address reuse,
and features kept in the stream buffer between consecutive bundles.

Naive plan (-O0, `memory-plan` off): every root buffer gets its own address, concatenations are copied.
Planned: concatenation inputs are written in place into the output when every input is produced by an
overlay bundle (and, at a channel offset that is not a multiple of c_vector, read by nothing else); buffers
whose lifetimes (in unit order) do not overlap share addresses (greedy first fit, largest first); a
single-tile result read only by the next single-tile bundle stays in the stream buffer.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from compiler.ir import Graph
from compiler.lowering.units import Schedule, Window, concat_offsets

INF = 1 << 30


def align(x: int, a: int) -> int:
    return -(-x // a) * a


@dataclass(frozen=True)
class Loc:
    """A tensor's place inside its root buffer: element offsets along the root's (N, C, H, W) view."""

    root: str
    n: int = 0
    c: int = 0
    y: int = 0
    x: int = 0


@dataclass
class MemoryPlan:
    reuse: bool
    aliased_concats: frozenset[str] = frozenset()
    offsets: dict[str, int] = field(default_factory=dict)     # root -> byte offset in the features region
    sizes: dict[str, int] = field(default_factory=dict)       # root -> bytes
    lifetimes: dict[str, tuple[int, int]] = field(default_factory=dict)
    resident: dict[str, int] = field(default_factory=dict)    # tensor -> stream-buffer entry address
    size: int = 0

    def summary(self) -> dict:
        total = sum(self.sizes.values())
        return {"buffers": len(self.sizes), "bytes_without_reuse": total, "bytes": self.size,
                "aliased_concats": len(self.aliased_concats), "sb_resident": len(self.resident)}


def resolve(name: str, windows: dict[str, Window]) -> Loc:
    """Follow alias windows to the root buffer."""
    off = [0, 0, 0, 0]
    cur = name
    seen = 0
    while cur in windows:
        w = windows[cur]
        if not w.reshape:
            off[w.axis] += w.offset
        cur = w.parent
        seen += 1
        if seen > 10000:
            raise RuntimeError(f"alias cycle at '{name}'")
    return Loc(cur, *off)


def tensor_bytes(view: tuple[int, int, int, int], cv: int, elem: float) -> int:
    n, c, h, w = view
    return int(n * -(-c // cv) * cv * h * w * elem)


def choose_concats(g: Graph, sched: Schedule, arch) -> frozenset[str]:
    """Concatenations whose inputs can all be written in place."""
    cv = arch.pe_array.c_vector
    producers: dict[str, str] = {}
    for u in sched.units:
        for w in u.writes:
            producers[w] = u.kind
    cons = g.consumers()
    outputs = set(g.outputs)
    member_of: dict[str, int] = {}
    for n in g.nodes:
        if n.op == "Concat" and sched.support[n.name].kind == "concat":
            for i in n.inputs:
                member_of[i] = member_of.get(i, 0) + 1
    chosen = []
    for n in g.nodes:
        if n.op != "Concat" or sched.support[n.name].kind != "concat":
            continue
        ok = True
        for member, axis, off in concat_offsets(g, n):
            readers = [c for c in cons.get(member, []) if c.name != n.name]
            if (producers.get(member) != "group" or member in outputs or member in sched.windows
                    or member_of.get(member, 0) != 1 or list(n.inputs).count(member) != 1):
                ok = False
            elif axis == 1 and off % cv and readers:
                ok = False
        if ok:
            chosen.append(n.name)
    return frozenset(chosen)


def choose_resident(g: Graph, sched: Schedule, geos: dict, tiles: dict, arch) -> dict[str, int]:
    """Tensors passed from one bundle to the next through the stream buffer instead of DDR: tensor -> entries.

    The producer is a single-tile group writing the whole tensor, the next unit is a single-tile group whose
    input tile is the whole tensor (same blocked layout), nothing else reads it, and it fits one bank together
    with the consumer's operand tile. Requires double buffering (the tensor sits in the consumer's bank)."""
    cv = arch.pe_array.c_vector
    sb = arch.stream_buffer
    if sb.banks < 2:
        return {}
    bank = sb.depth // sb.banks
    readers = g.reader_counts(include_outputs=False)
    parents = {w.parent for w in sched.windows.values()}
    out: dict[str, int] = {}
    for u, v in zip(sched.units, sched.units[1:]):
        if u.kind != "group" or v.kind != "group":
            continue
        t = u.group.output
        if (v.group.input != t or v.group.operand == t or readers.get(t, 0) != 1 or t in g.outputs
                or t in sched.windows or t in parents or t in out):
            continue
        tu, tv = tiles[u.name], tiles[v.name]
        if len(tu.tiles) != 1 or len(tv.tiles) != 1 or tu.psum or tv.psum:
            continue
        if tu.sb_entries > bank or tv.sb_entries > bank:
            continue                      # a whole-buffer group (no double buffering) has no bank to hand over
        n, c, h, w = sched.views[t]
        x = tv.tiles[0]
        if (x.rows[0].a, x.rows[0].b, x.cols[0].a, x.cols[0].b) != (0, h, 0, w) or x.blk0 != 0 or \
                x.blk1 != -(-c // cv) or (x.n0, x.n1) != (0, n):
            continue
        entries = n * -(-c // cv) * h * w
        if entries + tv.sb_entries - entries > bank or entries > bank:
            continue
        out[t] = entries
    return out


def lifetimes(g: Graph, sched: Schedule, roots: dict[str, str], extra: dict[str, int]) -> dict[str, tuple[int, int]]:
    life: dict[str, list[int]] = {}

    def touch(t: str, k: int):
        r = roots.get(t)
        if r is None:
            return
        lo_hi = life.setdefault(r, [k, k])
        lo_hi[0], lo_hi[1] = min(lo_hi[0], k), max(lo_hi[1], k)

    for t in g.inputs:
        touch(t, -1)
    for k, u in enumerate(sched.units):
        for t in u.reads + u.writes:
            touch(t, k)
    for t in g.outputs:
        touch(t, INF)
    for r, k in extra.items():
        life[r] = [k, k]
    return {r: (v[0], v[1]) for r, v in life.items()}


def allocate(sizes: dict[str, int], life: dict[str, tuple[int, int]], reuse: bool, word: int
             ) -> tuple[dict[str, int], int]:
    offsets: dict[str, int] = {}
    if not reuse:
        pos = 0
        for r in sorted(sizes, key=lambda r: (life.get(r, (0, 0))[0], r)):
            offsets[r] = pos
            pos += align(sizes[r], word)
        return offsets, pos
    placed: list[tuple[int, int, int, int]] = []   # (start, end, lo, hi)
    top = 0
    for r in sorted(sizes, key=lambda r: (-sizes[r], life.get(r, (0, 0))[0], r)):
        s, e = life.get(r, (0, INF))
        size = align(sizes[r], word)
        busy = sorted((lo, hi) for (ps, pe, lo, hi) in placed if not (pe < s or e < ps))
        addr = 0
        for lo, hi in busy:
            if addr + size <= lo:
                break
            addr = max(addr, hi)
        offsets[r] = addr
        placed.append((s, e, addr, addr + size))
        top = max(top, addr + size)
    return offsets, top
