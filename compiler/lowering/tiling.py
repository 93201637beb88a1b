"""Slicing a group into tiles that fit the stream buffer and the filter caches.

A tile is a box of the group's final output (images [n0, n1), channels [k0, k1), rows [y0, y1), columns
[x0, x1)) plus, when one filter does not fit the filter cache, an input-channel slice (partial sums through
DDR). Rows and columns are projected back through the stages (pool and convolution windows, depth-to-space)
to find the input each stage needs and the zero padding at the image borders.

Capacities (per bundle): stream buffer = input tile + operand or partial-sum tile <= the budget (one bank
when double buffering with prefetch, the whole buffer otherwise); filter cache = filters per PE x entries per
filter <= one half (double buffered) or all of `filter_cache.depth`; bias cache likewise with `bias_depth`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from compiler.errors import CapacityError
from compiler.lowering.geometry import GroupGeo, Stage
from compiler.isa import widths_for
from compiler.lowering.support import bias_half, filter_half
from compiler.memo import Memo


@dataclass(frozen=True)
class Span:
    """In-bounds input range [a, b) of one stage along one axis, with the zero padding before and after."""

    a: int
    b: int
    pad0: int
    pad1: int

    @property
    def size(self) -> int:
        return self.b - self.a


@dataclass
class Tile:
    n0: int
    n1: int
    k0: int
    k1: int
    y0: int
    y1: int
    x0: int
    x1: int
    rows: list[Span]            # per stage: input rows
    cols: list[Span]
    c_offset: int = 0           # input channels of each filter: [group base + c_offset, + c_count)
    c_count: int = 0
    blk0: int = 0               # input tile channel blocks [blk0, blk1)
    blk1: int = 0
    slice_index: int = 0
    n_slices: int = 1

    @property
    def first_slice(self) -> bool:
        return self.slice_index == 0

    @property
    def last_slice(self) -> bool:
        return self.slice_index == self.n_slices - 1

    @property
    def chunk_key(self) -> tuple[int, int, int, int]:
        return (self.k0, self.k1, self.c_offset, self.c_count)


@dataclass
class TilePlan:
    nt: int
    kt: int
    rows: int
    cols: int
    cslice: int                 # input channels per slice (0: no slicing)
    budget: int
    sb_entries: int             # worst-case stream-buffer entries of one bundle
    filter_entries: int         # filter-cache entries per PE of one chunk
    tiles: list[Tile] = field(default_factory=list)
    # the images-per-tile choice compared candidates by PE positions, which read pe_array.lanes: the plan is
    # then not free of the lanes (hw_models.optimizer.NetworkCost keys such plans by the lanes too)
    lanes_sensitive: bool = False

    @property
    def psum(self) -> bool:
        return self.cslice > 0

    def summary(self) -> dict:
        return {"nt": self.nt, "kt": self.kt, "rows": self.rows, "cols": self.cols, "cslice": self.cslice,
                "tiles": len(self.tiles), "sb_entries": self.sb_entries, "filter_entries": self.filter_entries}


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _stage_in(st: Stage, out: int, axis: int) -> int:
    """Input extent (upper bound, no border clipping) a stage needs for `out` outputs along an axis."""
    if st.kind == "d2s":
        return _cdiv(out, st.block)
    if st.windowed:
        k, s, d = (st.kh, st.sy, st.dy) if axis == 0 else (st.kw, st.sx, st.dx)
        return (out - 1) * s + (k - 1) * d + 1
    return out


def extents(geo: GroupGeo, rows: int, cols: int) -> list[tuple[int, int]]:
    """Per stage, the (rows, cols) of its input for a tile of `rows` x `cols` final outputs (upper bounds)."""
    out = []
    r, c = rows, cols
    for st in reversed(geo.stages):
        r, c = min(_stage_in(st, r, 0), st.hin + st.pt + st.pb), min(_stage_in(st, c, 1), st.win + st.pl + st.pr)
        r, c = min(r, st.hin), min(c, st.win)
        out.append((r, c))
    return out[::-1]


def project(stages: list[Stage], o0: int, o1: int, axis: int) -> list[Span]:
    """Back-project output range [o0, o1) of the last stage to every stage's input span."""
    spans: list[Span] = [Span(0, 0, 0, 0)] * len(stages)
    for i in range(len(stages) - 1, -1, -1):
        st = stages[i]
        size = st.hin if axis == 0 else st.win
        if st.windowed:
            k, s, d, p0, p1 = ((st.kh, st.sy, st.dy, st.pt, st.pb) if axis == 0 else
                               (st.kw, st.sx, st.dx, st.pl, st.pr))
            a = o0 * s - p0
            b = (o1 - 1) * s - p0 + (k - 1) * d + 1
            a2, b2 = max(a, 0), min(b, size)
            pad1 = b - b2
            if st.kind == "pool":
                pad1 = min(pad1, p1)
            spans[i] = Span(a2, b2, a2 - a, pad1)
        elif st.kind == "d2s":
            spans[i] = Span(o0 // st.block, _cdiv(o1, st.block), 0, 0)
        else:
            spans[i] = Span(o0, o1, 0, 0)
        o0, o1 = spans[i].a, spans[i].b
    return spans


class Tiler:
    """Tile search for one group under one architecture and policy."""

    def __init__(self, geo: GroupGeo, arch, *, batch: bool, double_buffer: bool):
        self.geo, self.arch = geo, arch
        self.batch, self.double_buffer = batch, double_buffer
        self.cv = arch.pe_array.c_vector
        self.kv = arch.pe_array.k_vector
        sb = arch.stream_buffer
        self.budget = sb.depth // sb.banks if double_buffer and sb.banks > 1 else sb.depth
        self.fch = filter_half(arch)
        self.bh = bias_half(arch)
        self.rawx = max(1, int(4 // arch.feature_bytes))
        last = geo.stages[-1]
        self.out = (last.cout, last.hout, last.wout)

    # --- capacities ------------------------------------------------------------------------------------------
    def in_blocks(self, kt: int, cslice: int) -> int:
        """Channel blocks of the input tile for `kt` output channels (upper bound)."""
        geo, cv = self.geo, self.cv
        pe = geo.pe
        if pe.kind == "bypass":
            return _cdiv(kt, cv)
        if pe.kind == "dw":
            m = geo.k_per_group
            return _cdiv(_cdiv(kt, m), cv) + 1
        cg = geo.c_per_group
        per = cslice if cslice else cg
        if geo.groups == 1:
            return _cdiv(per, cv)
        groups = _cdiv(kt, geo.k_per_group) + 1
        return min(_cdiv(geo.C, cv), _cdiv(groups * cg, cv) + 1) if not cslice else _cdiv(per, cv) + 1

    def filter_entries(self, kt: int, cslice: int) -> int:
        geo = self.geo
        pe = geo.pe
        if pe.kind == "bypass":
            return 0
        if pe.kind == "dw":
            return _cdiv(_cdiv(kt, self.cv), self.kv) * pe.kh * pe.kw
        per = cslice if cslice else geo.c_per_group
        return _cdiv(kt, self.kv) * _cdiv(per, self.cv) * pe.kh * geo.kwp

    def filters_fit(self, kt: int, cslice: int) -> bool:
        if self.geo.pe.kind == "bypass":
            return True
        return self.filter_entries(kt, cslice) <= self.fch and _cdiv(kt, self.kv) <= self.bh

    def sb_entries(self, nt: int, kt: int, cslice: int, rows: int, cols: int) -> int:
        geo = self.geo
        ext = extents(geo, rows, cols)
        r, c = ext[0]
        use = nt * self.in_blocks(kt, cslice) * r * c
        kb = _cdiv(kt, self.cv)
        if geo.elt_stage >= 0:
            er, ec = ext[geo.elt_stage]
            use += nt * kb * er * ec
        if cslice:
            pr, pc = ext[1] if len(ext) > 1 else (rows, cols)
            use += nt * kb * pr * pc * self.rawx
        return use

    # --- search ------------------------------------------------------------------------------------------------
    def k_options(self, cslice: int) -> list[int]:
        geo = self.geo
        K = geo.K if geo.pe.kind != "bypass" else geo.pe.cin
        native = geo.pe.kind == "dw" or geo.groups == 1 or geo.pe.node is None or (
            geo.pe.node.name in self.native_names)
        limit = K if native else geo.k_per_group
        unit = self.cv if geo.pe.kind in ("bypass", "dw") else self.kv
        opts = []
        if geo.pe.kind == "bypass":
            kmax = (1 << widths_for(self.arch).KT) - 1      # pe.k counts the channels a bypass tile passes
            k = limit if limit <= kmax else kmax // unit * unit
        elif geo.pe.kind == "dw":
            k = min(limit, self.kv * self.cv * max(0, self.fch // (geo.pe.kh * geo.pe.kw)), self.kv * self.bh)
        else:
            per = cslice if cslice else geo.c_per_group
            epf = _cdiv(per, self.cv) * geo.pe.kh * geo.kwp
            fpp = min(self.fch // epf, self.bh) if epf else 0
            k = min(limit, fpp * self.kv)
        while k >= 1:
            if k not in opts:
                opts.append(k)
            if k <= unit:
                break
            k = max(unit, (k // 2) // unit * unit) if k > unit else k - 1
        if geo.whole_channels:
            opts = [k for k in opts if k >= limit]
        return opts

    native_names: frozenset[str] = frozenset()

    def c_options(self) -> list[int]:
        geo = self.geo
        if geo.pe.kind != "conv":
            return [0]
        cg = geo.c_per_group
        opts = [0]
        per_block = geo.pe.kh * geo.kwp
        fit = (self.fch // per_block) * self.cv if per_block <= self.fch else 0
        c = min(cg - 1, fit) // self.cv * self.cv
        while c >= self.cv:
            opts.append(c)
            c = (c // 2) // self.cv * self.cv
        if geo.elt_stage >= 0:
            opts = opts[:1]   # the operand and the partial sums would both need fread r1
        return opts

    def _align(self) -> int:
        a = 1
        for st in self.geo.stages:
            if st.kind == "d2s":
                a *= st.block
        return a

    def search(self) -> TilePlan:
        geo = self.geo
        K, H, W = self.out
        N = geo.n
        align = self._align()
        n_opts = []
        n = N if self.batch else 1
        while n >= 1:
            n_opts.append(n)
            n = n // 2 if n > 1 else 0
        for cslice in self.c_options():
            for kt in self.k_options(cslice):
                if not self.filters_fit(kt, cslice):
                    continue
                found = []
                for nt in n_opts:
                    best = self._fit_rows(nt, kt, cslice, H, W, align)
                    if best is not None:
                        found.append((nt,) + best)
                        if best == (H, W):
                            break         # fewer images per tile would only add tiles
                if found:
                    # images per tile: the choice with the fewest PE positions (row and column groups rounded up
                    # to the lanes and the multiplier columns, halo rows of fused pools recomputed), then the
                    # fewest tiles; filters are loaded once per output-channel tile whatever the images per tile
                    nt, rows, cols = min(found, key=lambda f: (self._positions(*f), self._count(*f)))
                    return TilePlan(nt, kt, rows, cols, cslice, self.budget,
                                    self.sb_entries(nt, kt, cslice, rows, cols),
                                    self.filter_entries(kt, cslice), lanes_sensitive=len(found) > 1)
        raise CapacityError(self._explain())

    def _split(self, total: int, size: int) -> list[tuple[int, int]]:
        """(tile size, count) of splitting `total` into tiles of `size` (full tiles and the remainder)."""
        full, rest = divmod(total, size)
        return [(size, full)] + ([(rest, 1)] if rest else [])

    def _count(self, nt: int, rows: int, cols: int) -> int:
        K, H, W = self.out
        return -(-self.geo.n // nt) * -(-H // rows) * -(-W // cols)

    def _positions(self, nt: int, rows: int, cols: int) -> int:
        """PE-array positions of one output-channel tile over the whole group (simulator.costs.conv_positions)."""
        K, H, W = self.out
        pe = self.arch.pe_array
        mode = self.geo.cols
        width = pe.w_vector if mode == "wide" else pe.q_vector
        total = 0
        for n, cn in self._split(self.geo.n, nt):
            for r, cr in self._split(H, rows):
                for c, cc in self._split(W, cols):
                    ext = extents(self.geo, r, c)
                    oh, ow = ext[1] if len(ext) > 1 else (r, c)
                    if mode == "images":
                        p = _cdiv(n, pe.w_vector) * _cdiv(oh, pe.lanes) * ow
                    else:
                        p = n * _cdiv(oh, pe.lanes) * _cdiv(ow, width)
                    total += p * cn * cr * cc
        return total

    def _fit_rows(self, nt: int, kt: int, cslice: int, H: int, W: int, align: int) -> tuple[int, int] | None:
        fits = lambda r, c: self.sb_entries(nt, kt, cslice, r, c) <= self.budget  # noqa: E731
        if fits(H, W):
            return H, W
        lo, hi = 0, H // align
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if fits(mid * align, W):
                lo = mid
            else:
                hi = mid - 1
        if lo:
            return lo * align, W
        r = min(align, H)
        lo, hi = 0, W // align
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if fits(r, mid * align):
                lo = mid
            else:
                hi = mid - 1
        return (r, lo * align) if lo else None

    def _explain(self) -> str:
        geo = self.geo
        name = geo.group.name
        unit = self.kv if geo.pe.kind == "conv" else self.cv
        c_opts = self.c_options()
        smallest_c = c_opts[-1]
        kt = min(unit, geo.K or geo.pe.cin)
        if geo.whole_channels:
            kt = geo.K if geo.pe.kind != "bypass" else geo.pe.cin
            kmax = (1 << widths_for(self.arch).KT) - 1
            if kt > kmax:
                return (f"layer '{name}': {kt} channels must share one tile (cross-channel "
                        f"{', '.join(s.kind for s in geo.stages if s.cross_channel)}) but a tile holds at most "
                        f"{kmax} (pe.k field); raise pe_array.k_vector or filter_cache.depth")
            if geo.pe.kind != "bypass" and not self.filters_fit(kt, smallest_c):
                need = self.filter_entries(kt, smallest_c) * (2 if self.arch.filter_cache.double_buffered else 1)
                return (f"layer '{name}': {kt} output channels must share one tile (cross-channel "
                        f"{', '.join(s.kind for s in geo.stages if s.cross_channel)}) but need {need} filter-cache "
                        f"entries per PE; raise filter_cache.depth to >= {need} or pe_array.k_vector")
        if not self.filters_fit(kt, smallest_c):
            need = self.filter_entries(kt, smallest_c) * (2 if self.arch.filter_cache.double_buffered else 1)
            return (f"layer '{name}': one filter chunk needs {need} filter-cache entries per PE; raise "
                    f"filter_cache.depth to >= {need}")
        need = self.sb_entries(1, kt, smallest_c, self._align(), self._align())
        depth = need * (self.arch.stream_buffer.banks if self.double_buffer else 1)
        return (f"layer '{name}': the smallest tile needs {need} stream-buffer entries > {self.budget} available; "
                f"raise stream_buffer.depth to >= {depth}")

    # --- tiles -------------------------------------------------------------------------------------------------
    def tiles(self, tp: TilePlan) -> list[Tile]:
        geo = self.geo
        K, H, W = self.out
        N = geo.n
        cv = self.cv
        stages = geo.stages
        pe = geo.pe
        # output channel tiles
        if pe.kind == "conv" and geo.groups > 1 and not self._native():
            kg = geo.k_per_group
            ktiles = [(g0 * kg + k, min(g0 * kg + k + tp.kt, (g0 + 1) * kg)) for g0 in range(geo.groups)
                      for k in range(0, kg, tp.kt)]
        else:
            Kall = pe.cin if pe.kind == "bypass" else geo.K     # channels of the PE array's output stream
            ktiles = [(k, min(k + tp.kt, Kall)) for k in range(0, Kall, tp.kt)]
        cg = geo.c_per_group if pe.kind == "conv" else 1
        cslices = [(c, min(c + tp.cslice, cg)) for c in range(0, cg, tp.cslice)] if tp.cslice else [(0, cg)]
        ntiles = [(n, min(n + tp.nt, N)) for n in range(0, N, tp.nt)]
        ytiles = [(y, min(y + tp.rows, H)) for y in range(0, H, tp.rows)]
        xtiles = [(x, min(x + tp.cols, W)) for x in range(0, W, tp.cols)]
        rows = {yt: project(stages, yt[0], yt[1], 0) for yt in ytiles}
        cols = {xt: project(stages, xt[0], xt[1], 1) for xt in xtiles}
        out: list[Tile] = []

        def emit(nt_, kt_, ci, cs):
            for yt in ytiles:
                for xt in xtiles:
                    t = Tile(nt_[0], nt_[1], kt_[0], kt_[1], yt[0], yt[1], xt[0], xt[1], rows[yt], cols[xt],
                             cs[0], cs[1] - cs[0], slice_index=ci, n_slices=len(cslices))
                    t.blk0, t.blk1 = self._blocks(t)
                    out.append(t)

        if self.batch:
            for kt_ in ktiles:
                for ci, cs in enumerate(cslices):
                    for nt_ in ntiles:
                        emit(nt_, kt_, ci, cs)
        else:
            for nt_ in ntiles:
                for kt_ in ktiles:
                    for ci, cs in enumerate(cslices):
                        emit(nt_, kt_, ci, cs)
        return out

    def _native(self) -> bool:
        n = self.geo.pe.node
        return n is not None and n.name in self.native_names

    def _blocks(self, t: Tile) -> tuple[int, int]:
        """Input channel blocks a tile reads."""
        geo, cv = self.geo, self.cv
        pe = geo.pe
        if pe.kind == "bypass":
            return t.k0 // cv, _cdiv(t.k1, cv)
        if pe.kind == "dw":
            m = geo.k_per_group
            return (t.k0 // m) // cv, _cdiv((t.k1 - 1) // m + 1, cv)
        kg, cg = geo.k_per_group, geo.c_per_group
        g0, g1 = t.k0 // kg, (t.k1 - 1) // kg
        c0 = g0 * cg + t.c_offset
        c1 = g1 * cg + t.c_offset + t.c_count
        return c0 // cv, _cdiv(c1, cv)


def group_double_buffered(arch, double_buffer: bool, tp: TilePlan) -> bool:
    """Whether a group's bundles alternate stream-buffer banks with prefetch: the plan has double buffering
    (the `tile` pass) and every tile fits one bank. The `tile` pass gives a group whole-buffer tiles (all
    bundles wait, no overlap) where that is faster than more, smaller tiles."""
    sb = arch.stream_buffer
    return double_buffer and sb.banks > 1 and tp.sb_entries <= sb.depth // sb.banks


def k_starts(geo: GroupGeo, tp: TilePlan, native: frozenset[str] = frozenset()) -> list[int]:
    """First output channel of every output-channel tile of a plan (what `Tiler.tiles` iterates over)."""
    pe = geo.pe
    is_native = pe.node is not None and pe.node.name in native
    if pe.kind == "conv" and geo.groups > 1 and not is_native:
        kg = geo.k_per_group
        return [g0 * kg + k for g0 in range(geo.groups) for k in range(0, kg, tp.kt)]
    kall = pe.cin if pe.kind == "bypass" else geo.K
    return list(range(0, kall, tp.kt))


def search_group(geo: GroupGeo, arch, *, batch: bool, double_buffer: bool,
                 native: frozenset[str] = frozenset()) -> TilePlan:
    """The tile sizes of a group without the list of tiles (`plan_group` without `tiles`; memoised likewise)."""
    is_native = geo.pe.node is not None and geo.pe.node.name in native
    key = (id(arch), geo_signature(geo), batch, double_buffer, is_native)
    hit = _PLANS.peek(key)
    if hit is not None and hit[0] is arch:
        return hit[1]
    skey = key + ("search",)
    hit = _PLANS.peek(skey)
    if hit is not None and hit[0] is arch:
        return hit[1]
    t = Tiler(geo, arch, batch=batch, double_buffer=double_buffer)
    t.native_names = native
    tp = t.search()
    _PLANS.put(skey, (arch, tp))
    return tp


def geo_signature(geo: GroupGeo) -> tuple:
    """Everything the tiler reads from a group's geometry (equal signatures tile identically)."""
    return (tuple((s.kind, s.cin, s.hin, s.win, s.cout, s.hout, s.wout, s.kh, s.kw, s.sy, s.sx, s.dy, s.dx, s.pt,
                   s.pl, s.pb, s.pr, s.block, s.mode, s.cross_channel) for s in geo.stages),
            geo.n, geo.K, geo.C, geo.groups, geo.kwp, geo.elt_stage)


def _plan_weight(entry: tuple) -> int:
    """An entry's weight in the plan memo's tile bound: its tiles, plus one."""
    return len(entry[1].tiles) + 1


#: The tile-plan memo: (architecture object, `geo_signature`, options) -> (architecture, plan), least recently used
#: dropped beyond 4,096 plans or 2^20 tiles (+1 per plan) held. A plan holds up to tens of thousands of tiles (65,537
#: for one zoo layer on `tiny`); the peak held under the former count-only bound (cleared at 4,096 entries) was 517,729
#: tiles estimating the zoo on three architectures in one process and 16,231 in a 1,500-candidate optimiser search,
#: so these bounds keep every hit it had (docs/optimizer.md, memory).
_PLANS_MAX = 4096
_PLANS_TILES = 1 << 20
_PLANS = Memo(_PLANS_MAX, max_weight=_PLANS_TILES, weigh=_plan_weight)


def clear_plan_memo() -> None:
    """Forget the memoised tile plans (cold-start measurements)."""
    _PLANS.clear()


def plan_group(geo: GroupGeo, arch, *, batch: bool, double_buffer: bool,
               native: frozenset[str] = frozenset()) -> TilePlan:
    """The tile plan of a group (raises CapacityError naming the layer and the parameter to raise).

    Memoised per (architecture object, `geo_signature`, options): the planning passes and the fast estimate ask
    for the same layer shapes many times. The returned plan and its tiles are shared: read them only."""
    is_native = geo.pe.node is not None and geo.pe.node.name in native
    key = (id(arch), geo_signature(geo), batch, double_buffer, is_native)
    hit = _PLANS.peek(key)
    if hit is not None and hit[0] is arch:
        return hit[1]
    t = Tiler(geo, arch, batch=batch, double_buffer=double_buffer)
    t.native_names = native
    tp = t.search()
    tp.tiles = t.tiles(tp)
    _PLANS.put(key, (arch, tp))
    return tp
