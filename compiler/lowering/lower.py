"""Lower a planned IR graph to a `Program`: tile plans, weights blob, DDR memory map, and the bundle fields.

`lower(graph, arch)` reads the decisions the passes attached (`graph.metadata["plan"]`) and falls back to the
naive choice for every decision no pass made: one node per bundle, one image per bundle, whole stream buffer
without prefetch, no filter reuse beyond consecutive tiles of one chunk, copies for concatenations, one DDR
buffer per tensor.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from compiler.errors import CapacityError
from compiler.ir import Graph, Node
from compiler.isa import ISA, Module
from compiler.lowering.formats import requant_params
from compiler.lowering.geometry import GroupGeo, group_geometry
from compiler.lowering.memory import (Loc, MemoryPlan, align, allocate, choose_concats, choose_resident, lifetimes,
                                      resolve,
                                      tensor_bytes)
from compiler.lowering.tiling import Tile, TilePlan, group_double_buffered, plan_group
from compiler.lowering.units import Schedule, Unit, build_schedule
from compiler.lowering.weights import Blob, encode_tile_chunk, layer_weights, lut_bytes, tile_chunk_size
from compiler.passes.plan import Plan, get_plan
from compiler.program import Bundle, BundleNote, HostPartition, Program, TensorAlloc

REGION_ALIGN = 4096
CLAMP_FNS = ("identity", "relu", "relu6", "clip")


def plan_tiles(g: Graph, plan: Plan, arch, sched: Schedule) -> tuple[dict[str, GroupGeo], dict[str, TilePlan]]:
    geos, tiles = {}, {}
    for u in sched.units:
        if u.kind != "group":
            continue
        geo = group_geometry(g, u.group, plan, arch, sched.views)
        geos[u.name] = geo
        tp = (plan.tiles or {}).get(u.name)
        if tp is None:
            try:
                tp = plan_group(geo, arch, batch=plan.batch, double_buffer=plan.double_buffer,
                                native=plan.native_groups)
            except CapacityError:
                if not plan.double_buffer:
                    raise
                # does not fit one bank: the group uses the whole stream buffer (no prefetch)
                tp = plan_group(geo, arch, batch=plan.batch, double_buffer=False, native=plan.native_groups)
        tiles[u.name] = tp
    return geos, tiles


def psum_slots(tp: TilePlan, cv: int) -> dict[int, int]:
    """First channel of each output-channel tile in its group's partial-sum scratch buffer: one block-aligned
    slot per tile, so partial sums are always read and written from a channel-block boundary."""
    kb = -(-tp.kt // cv) * cv
    starts = sorted({t.k0 for t in tp.tiles})
    return {k0: i * kb for i, k0 in enumerate(starts)}


def psum_channels(tp: TilePlan, cv: int) -> int:
    return len({t.k0 for t in tp.tiles}) * (-(-tp.kt // cv) * cv)


def plan_memory(g: Graph, plan: Plan, arch, *, reuse: bool) -> MemoryPlan:
    """The planned (reuse=True) or naive memory layout of a graph whose other decisions are made."""
    sched0 = build_schedule(g, plan, arch)
    aliased = choose_concats(g, sched0, arch) if reuse else frozenset()
    sched = build_schedule(g, plan, arch, aliased)
    geos, tiles = plan_tiles(g, plan, arch, sched)
    return _layout(g, arch, sched, geos, tiles, reuse, aliased, resident=reuse and plan.double_buffer)


def _layout(g: Graph, arch, sched: Schedule, geos, tiles, reuse: bool, aliased, resident: bool = False
            ) -> MemoryPlan:
    cv = arch.pe_array.c_vector
    eb = arch.feature_bytes
    on_chip = choose_resident(g, sched, geos, tiles, arch) if resident else {}
    roots: dict[str, str] = {}
    names = set(g.inputs) | set(g.outputs) | set(sched.windows)
    for u in sched.units:
        names.update(u.reads)
        names.update(u.writes)
    for t in names - set(on_chip):
        roots[t] = resolve(t, sched.windows).root
    sizes = {r: tensor_bytes(sched.views[r], cv, eb) for r in set(roots.values())}
    extra = {}
    for k, u in enumerate(sched.units):
        if u.kind == "group" and tiles[u.name].psum:
            pe = geos[u.name].pe
            r = f"{u.name}/psum"
            sizes[r] = tensor_bytes((geos[u.name].n, psum_channels(tiles[u.name], cv), pe.hout, pe.wout), cv, 4)
            extra[r] = k
    life = lifetimes(g, sched, roots, extra)
    offsets, size = allocate(sizes, life, reuse, arch.ddr.word_bytes)
    return MemoryPlan(reuse, frozenset(aliased), offsets, sizes, life, on_chip, size)


class Lowering:
    def __init__(self, g: Graph, arch, *, model: str = "", with_weights: bool | None = None):
        self.g = g
        self.arch = arch
        self.plan = get_plan(g)
        self.isa = ISA.for_arch(arch)
        self.cv = arch.pe_array.c_vector
        self.kv = arch.pe_array.k_vector
        self.eb = arch.feature_bytes
        self.int8 = arch.precision == "int8"
        self.rawx = max(1, int(4 // self.eb))
        sb = arch.stream_buffer
        self.db = self.plan.double_buffer and sb.banks > 1
        self.bank_size = sb.depth // sb.banks if self.db else sb.depth
        mem = self.plan.memory
        self.mem_planned = mem is not None
        aliased = mem.aliased_concats if mem is not None else frozenset()
        self.sched = build_schedule(g, self.plan, arch, aliased)
        self.geos, self.tiles = plan_tiles(g, self.plan, arch, self.sched)
        if mem is None:
            mem = _layout(g, arch, self.sched, self.geos, self.tiles, False, frozenset())
        self.mem = mem
        self.model = model or g.name
        has_data = all(t.data is not None for t in g.tensors.values() if t.const)
        self.with_weights = has_data if with_weights is None else (with_weights and has_data)
        self.blob = Blob(arch.ddr.word_bytes, self.with_weights)
        self.bundles: list[Bundle] = []
        self.host: list[HostPartition] = []
        self.cache: dict[int, Any] = {0: None, 1: None}
        self.last_bank = 1
        self.prev_writes: set[str] = set()
        self.after_host = True
        self.prev_full = False            # the previous bundle used the whole stream buffer (no double buffering)
        self.nodes = {n.name: n for n in g.nodes}
        # per-group partial-sum slots and scratch channels, computed once (they scan all tiles of the group)
        self._psum_slots: dict[str, dict[int, int]] = {}
        self._psum_channels: dict[str, int] = {}
        self._note_parts: dict[str, tuple] = {}

    # --- helpers -----------------------------------------------------------------------------------------------
    def scale(self, t: str) -> float:
        return float(self.plan.scales.get(t, 1.0))

    def loc(self, t: str) -> Loc:
        return resolve(t, self.sched.windows)

    def pitches(self, root: str, raw: bool = False) -> tuple[int, int, int]:
        if root.endswith("/psum"):
            geo = self.geos[root[:-5]]
            n, c, h, w = geo.n, self.psum_channels(root[:-5]), geo.pe.hout, geo.pe.wout
        else:
            n, c, h, w = self.sched.views[root]
        e = 4 if raw else self.eb
        py = int(w * self.cv * e)
        pc = py * h
        return int(-(-c // self.cv) * pc), pc, py

    def psum_channels(self, unit: str) -> int:
        c = self._psum_channels.get(unit)
        if c is None:
            c = self._psum_channels[unit] = psum_channels(self.tiles[unit], self.cv)
        return c

    def psum_slots(self, unit: str) -> dict[int, int]:
        s = self._psum_slots.get(unit)
        if s is None:
            s = self._psum_slots[unit] = psum_slots(self.tiles[unit], self.cv)
        return s

    def base(self, root: str) -> int:
        return self.features_base + self.mem.offsets[root]

    def addr(self, t: str, n: int, c: int, y: int, x: int, raw: bool = False) -> tuple[int, tuple[int, int, int], int]:
        """(DDR address of block containing channel c, pitches, lane of c) of element (n, c, y, x) of t."""
        lc = self.loc(t) if not t.endswith("/psum") else Loc(t)
        pn, pc, py = self.pitches(lc.root, raw)
        e = 4 if raw else self.eb
        ch = lc.c + c
        a = self.base(lc.root) + (lc.n + n) * pn + (ch // self.cv) * pc + (lc.y + y) * py + int((lc.x + x) * self.cv * e)
        return a, (pn, pc, py), ch % self.cv

    def root_channels(self, t: str) -> tuple[int, int]:
        lc = self.loc(t)
        return lc.c, self.sched.views[lc.root][1]

    # --- weights -----------------------------------------------------------------------------------------------
    def weight_scale(self, W: np.ndarray | None) -> float:
        if W is None:
            return 1.0
        m = float(np.max(np.abs(W))) if W.size else 0.0
        return m / 127 if m > 0 else 1.0

    def build_blob(self) -> None:
        self.chunks: dict[tuple, tuple[int, int]] = {}
        self.wscale: dict[str, float] = {}
        self.luts: dict[tuple, int] = {}
        for u in self.sched.units:
            if u.kind != "group":
                continue
            geo = self.geos[u.name]
            if geo.pe.kind != "bypass":
                W, B = layer_weights(self.g, geo) if self.with_weights else (None, None)
                s_w = self.weight_scale(W) if self.int8 else 1.0
                self.wscale[u.name] = s_w
                int8 = (self.scale(u.group.input), s_w) if self.int8 else None
                ident = self.chunk_ident(u, geo)
                for t in self.tiles[u.name].tiles:
                    key = ident + t.chunk_key + (t.first_slice,)
                    if key in self.chunks:
                        continue
                    size = tile_chunk_size(self.arch, geo, t, bool(geo.bias))
                    make = (lambda t=t, W=W, B=B, geo=geo, int8=int8:
                            encode_tile_chunk(self.arch, geo, W, B, t, int8)) if W is not None else None
                    self.chunks[key] = self.blob.add(("chunk",) + key, size, make)
            if self.int8:
                for st in geo.stages:
                    if st.kind == "act" and st.mode not in CLAMP_FNS:
                        n = st.node
                        a, b = self.act_params(n)
                        s_in = self.scale(n.inputs[0])
                        s_out = self.scale(n.outputs[0])
                        key = ("lut", st.mode, a, b, s_in, s_out)
                        off, _ = self.blob.add(key, 256, lambda st=st, a=a, b=b, s_in=s_in, s_out=s_out:
                                               lut_bytes(st.mode, a, b, s_in, s_out))
                        self.luts[(u.name, n.name)] = off

    def chunk_ident(self, u: Unit, geo: GroupGeo) -> tuple:
        """What a filter chunk's bytes depend on besides its tile: bundles of groups that share weights (an RNN
        step's recurrent FC) share chunks, in the blob and in the filter cache."""
        pe = geo.pe
        s_in = self.scale(u.group.input) if self.int8 else 0.0
        return (geo.weight, geo.bias, pe.kind, geo.wino, geo.kwp, pe.kh, pe.kw, geo.groups, s_in)

    @staticmethod
    def act_params(n: Node) -> tuple[float, float]:
        if n.op == "LeakyRelu":
            return float(n.attr("alpha", 0.01)), 0.0
        if n.op == "Clip":
            return float(n.attr("min", -math.inf)), float(n.attr("max", math.inf))
        if n.op == "HardSigmoid":
            return float(n.attr("alpha", 0.2)), float(n.attr("beta", 0.5))
        return 0.0, 0.0

    # --- program -----------------------------------------------------------------------------------------------
    def run(self, meta: dict[str, Any] | None = None) -> Program:
        self.build_blob()
        self.features_base = align(self.blob.size, REGION_ALIGN)
        for u in self.sched.units:
            if u.kind == "host":
                self.emit_host(u)
            else:
                self.emit_group(u)
        if self.bundles:
            self.bundles[-1].config[Module.CFG]["last"] = 1
        memory = self.memory_map()
        weights = self.blob.data()
        fsize = self.mem.size
        cbase = align(self.features_base + fsize, REGION_ALIGN)
        prog = Program(self.arch, self.bundles, memory, list(self.g.inputs), list(self.g.outputs), weights,
                       self.blob.size, {"weights": (0, self.blob.size), "features": (self.features_base, fsize),
                                        "config": (cbase, 0)}, self.host, dict(meta or {}))
        prog.regions["config"] = (cbase, len(prog.config_stream()))
        prog.meta.setdefault("model", self.model)
        prog.meta["memory"] = self.mem.summary()
        prog.meta["tiles"] = {k: v.summary() for k, v in self.tiles.items()}
        return prog

    def memory_map(self) -> dict[str, TensorAlloc]:
        out: dict[str, TensorAlloc] = {}
        names = list(self.g.inputs) + list(self.g.outputs)
        for u in self.sched.units:
            names += list(u.reads) + list(u.writes)
        names += sorted(self.sched.windows)
        dtype = {"fp32": "fp32", "int8": "int8"}.get(self.arch.precision, "fp16")
        for t in names:
            if t in out:
                continue
            if t in self.mem.resident:
                shape = self.g.tensors[t].shape
                out[t] = TensorAlloc(t, "on-chip", tuple(shape), tuple(self.sched.views[t]), dtype, -1,
                                     tensor_bytes(self.sched.views[t], self.cv, self.eb), self.scale(t), 0)
                continue
            lc = self.loc(t)
            if lc.root not in self.mem.offsets:
                continue
            ddr, pitches, lane = self.addr(t, 0, 0, 0, 0)
            role = "input" if t in self.g.inputs else "output" if t in self.g.outputs else "intermediate"
            shape = self.g.tensors[t].shape if t in self.g.tensors else self.g.tensors[t.split("#")[0]].shape
            if "#" in t:
                member = self.sched.units  # copy windows carry the member's shape
                shape = next(self.g.tensors[u.reads[0]].shape for u in member if u.writes == (t,))
            out[t] = TensorAlloc(t, role, tuple(shape), tuple(self.sched.views[t]), dtype, ddr,
                                 tensor_bytes(self.sched.views[t], self.cv, self.eb), self.scale(t),
                                 self.mem.resident.get(t, -1), "" if lc.root == t else lc.root, pitches,
                                 lc.c)
        for r, size in self.mem.sizes.items():
            if r.endswith("/psum"):
                geo = self.geos[r[:-5]]
                view = (geo.n, psum_channels(self.tiles[r[:-5]], self.cv), geo.pe.hout, geo.pe.wout)
                out[r] = TensorAlloc(r, "scratch", view, view, "int32" if self.int8 else "fp32", self.base(r),
                                     size, 1.0, -1, "", self.pitches(r, raw=True), 0)
        return out

    def emit_host(self, u: Unit) -> None:
        part = u.host
        nodes = [self.nodes[x] for x in part.nodes]
        tensors = {}
        for n in nodes:
            for t in list(n.inputs) + list(n.outputs):
                if t:
                    tensors[t] = self.g.tensors[t]
        produced = {o for n in nodes for o in n.outputs if o}
        readers_outside = {i for n in self.g.nodes if n.name not in set(part.nodes) for i in n.inputs if i}
        outs = sorted(t for t in produced if t in readers_outside or t in self.g.outputs)
        sub = Graph(f"{self.g.name}/{part.name}", tensors, nodes, list(u.reads), outs)
        self.host.append(HostPartition(part.name, len(self.bundles), sub, dict(part.reasons)))
        self.after_host = True
        self.prev_writes = set()

    # --- bundles -----------------------------------------------------------------------------------------------
    def emit_group(self, u: Unit) -> None:
        geo, tp = self.geos[u.name], self.tiles[u.name]
        for i, t in enumerate(tp.tiles):
            self.emit_tile(u, geo, tp, t, i)

    def _reader(self, d: str, t: str, n0: int, nt: int, blk0: int, blk1: int, rows, cols, sb: int,
                raw: bool = False) -> dict[str, Any]:
        ddr, (pn, pc, py), lane = self.addr(t, n0, blk0 * self.cv, rows.a, cols.a, raw)
        if lane:
            raise CapacityError(f"tensor '{t}' is read at channel lane {lane}; channel windows read by bundles must "
                                f"start at multiples of c_vector")
        return {f"{d}_en": 1, f"{d}_raw": int(raw), f"{d}_ddr": ddr, f"{d}_pn": pn, f"{d}_pc": pc, f"{d}_py": py,
                f"{d}_n": nt, f"{d}_cb": blk1 - blk0, f"{d}_rows": rows.size, f"{d}_width": cols.size, f"{d}_sb": sb}

    def emit_tile(self, u: Unit, geo: GroupGeo, tp: TilePlan, t: Tile, index: int) -> None:
        grp = u.group
        stages = geo.stages
        pe = geo.pe
        cv = self.cv
        ns = len(stages)
        seq = len(self.bundles)
        gdb = group_double_buffered(self.arch, self.db, tp)
        bank = (seq % self.arch.stream_buffer.banks) * self.bank_size if gdb else 0
        limit = self.bank_size if gdb else self.arch.stream_buffer.depth
        nt = t.n1 - t.n0
        outs = [(t.rows[i + 1].size, t.cols[i + 1].size) if i + 1 < ns else (t.y1 - t.y0, t.x1 - t.x0)
                for i in range(ns)]
        pe_rows = t.rows[1] if ns > 1 else None
        pe_y0 = t.rows[1].a if ns > 1 else t.y0
        pe_x0 = t.cols[1].a if ns > 1 else t.x0
        psum_out = tp.psum and not t.last_slice
        psum_in = tp.psum and not t.first_slice
        chain = [] if psum_out else [s for s in stages[1:]]
        cfg: dict[Module, dict[str, Any]] = {Module.CFG: {"seq": seq}}
        reads: set[str] = set()
        # --- feature reader
        fr: dict[str, Any] = {}
        sb = bank
        if grp.input in self.mem.resident and gdb:
            pass                       # the previous bundle left the whole input tile at the start of this bank
        else:
            fr.update(self._reader("r0", grp.input, t.n0, nt, t.blk0, t.blk1, t.rows[0], t.cols[0], sb))
            reads.add(self.loc(grp.input).root)
        in_entries = nt * (t.blk1 - t.blk0) * t.rows[0].size * t.cols[0].size
        sb_next = sb + in_entries
        elt_sb = psum_sb = 0
        kt_blocks = -(-(t.k1 - t.k0) // cv) * cv
        if geo.elt_stage >= 0 and not psum_out:
            e = geo.elt_stage
            c0, c1 = self.stage_channels(geo, t, e)
            if c0 % cv:
                raise RuntimeError(f"group '{grp.name}': eltwise operand tile starts at channel {c0}, not on a "
                                   f"channel-block boundary (the fuse pass should have refused this chain)")
            fr.update(self._reader("r1", grp.operand, t.n0, nt, c0 // cv, -(-c1 // cv), t.rows[e], t.cols[e],
                                   sb_next))
            reads.add(self.loc(grp.operand).root)
            elt_sb = sb_next
            sb_next += nt * (-(-c1 // cv) - c0 // cv) * t.rows[e].size * t.cols[e].size
        elif psum_in:
            from compiler.lowering.tiling import Span

            pr = Span(pe_y0, pe_y0 + outs[0][0], 0, 0)
            pcl = Span(pe_x0, pe_x0 + outs[0][1], 0, 0)
            slot = self.psum_slots(u.name)[t.k0]
            fr.update(self._reader("r1", f"{u.name}/psum", t.n0, nt, slot // cv, (slot + kt_blocks) // cv, pr,
                                   pcl, sb_next, raw=True))
            reads.add((f"{u.name}/psum", t.k0, t.n0, t.y0, t.x0))      # the region this tile's chain writes
            psum_sb = sb_next
            sb_next += nt * (kt_blocks // cv) * pr.size * pcl.size * self.rawx
        if sb_next - bank > limit:
            raise CapacityError(f"layer '{grp.name}': tile needs {sb_next - bank} stream-buffer entries > "
                                f"{limit}; raise stream_buffer.depth")
        if fr:
            cfg[Module.FEATURE_READER] = fr
        # --- filter reader
        pe_bank = 0
        if pe.kind != "bypass":
            key = self.chunk_ident(u, geo) + t.chunk_key + (t.first_slice,)
            off, nbytes = self.chunks[key]
            hit = None
            if self.plan.reuse_filters:
                hit = next((b for b in (0, 1) if self.cache.get(b) == key), None)
            elif self.cache.get(self.last_bank) == key:
                hit = self.last_bank
            if hit is None:
                load = (1 - self.last_bank) if self.arch.filter_cache.double_buffered else 0
                shape = self.chunk_shape(geo, t)
                cfg[Module.FILTER_READER] = {"en": 1, "bank": load, "ddr": off, "bytes": nbytes,
                                             "filters": shape[0], "entries": shape[1], "nbias": shape[2]}
                self.cache[load] = key
                hit = load
            pe_bank = hit
            self.last_bank = hit
        # --- stream buffer window walker
        r0, c0s = t.rows[0], t.cols[0]
        sbf = {"sb": sb, "n": nt, "cb": t.blk1 - t.blk0, "c_first": t.blk0 * cv, "rows": r0.size,
               "width": c0s.size, "kh": 1, "kw": 1, "sy": 1, "sx": 1, "dy": 1, "dx": 1,
               "pt": r0.pad0, "pb": r0.pad1, "pl": c0s.pad0, "pr": c0s.pad1, "oh": outs[0][0], "ow": outs[0][1]}
        if pe.kind != "bypass":
            sbf.update(kh=pe.kh, kw=pe.kw, sy=pe.sy, sx=pe.sx, dy=pe.dy, dx=pe.dx)
        cfg[Module.STREAM_BUFFER] = sbf
        # --- PE array
        kt = t.k1 - t.k0
        pef: dict[str, Any] = {"mode": {"conv": "conv", "dw": "depthwise", "bypass": "bypass"}[pe.kind], "k": kt,
                               "k_first": t.k0}
        if pe.kind != "bypass":
            pef.update(wino=int(geo.wino), bank=pe_bank, bias=int(bool(geo.bias) and t.first_slice),
                       k_per_group=geo.k_per_group, c_per_group=geo.c_per_group if pe.kind == "conv" else 1,
                       c_offset=t.c_offset if pe.kind == "conv" else 0,
                       c_count=t.c_count if pe.kind == "conv" else 1,
                       psum_in=int(psum_in), psum_sb=psum_sb, psum_out=int(psum_out))
            if geo.cols != "tile":
                pef["cols"] = geo.cols
            if self.int8 and not psum_out:
                s_out = self.scale(pe.node.outputs[0])
                ratio = self.scale(grp.input) * self.wscale.get(u.name, 1.0) / s_out
                m, sh = requant_params(ratio)
                pef.update(rq_mult=m, rq_shift=sh)
        else:
            pef["k_first"] = 0
        cfg[Module.PE_ARRAY] = pef
        # --- crossbar and aux kernels
        if chain:
            cfg[Module.XBAR] = {f"s{i}": {"act": "act", "pool": "pool", "lrn": "lrn", "elt": "elt", "d2s": "d2s",
                                          "smax": "smax"}[s.kind] for i, s in enumerate(chain)}
            stream = pe.node.outputs[0] if pe.node is not None else grp.input
            for i, st in enumerate(chain, start=1):
                cfg.update(self.aux_fields(u, st, t, i, outs[i], stream, elt_sb))
                stream = st.node.outputs[0]
        # --- feature writer
        fw: dict[str, Any] = {"ddr_en": 1}
        if psum_out:
            ddr, (pn, pc, py), _ = self.addr(f"{u.name}/psum", t.n0, self.psum_slots(u.name)[t.k0], pe_y0, pe_x0,
                                             raw=True)
            fw.update(raw=1, ddr=ddr, pn=pn, pc=pc, py=py, n=nt, c=kt, c_first=0, rows=outs[0][0],
                      width=outs[0][1], zfill=1)
            written = (f"{u.name}/psum", t.k0, t.n0, t.y0, t.x0)
        else:
            wc0, wc1 = (0, stages[-1].cout) if geo.whole_channels else (t.k0, t.k1)
            if grp.output in self.mem.resident and gdb:
                nxt = ((seq + 1) % self.arch.stream_buffer.banks) * self.bank_size
                fw = {"ddr_en": 0, "sb_en": 1, "sb": nxt, "n": nt, "c": wc1 - wc0, "rows": t.y1 - t.y0,
                      "width": t.x1 - t.x0, "zfill": 1}
                written = ""
            else:
                ddr, (pn, pc, py), lane = self.addr(grp.output, t.n0, wc0, t.y0, t.x0)
                off, total = self.root_channels(grp.output)
                fw.update(ddr=ddr, pn=pn, pc=pc, py=py, n=nt, c=wc1 - wc0, c_first=lane, rows=t.y1 - t.y0,
                          width=t.x1 - t.x0, zfill=int(off + wc1 == total))
                written = self.loc(grp.output).root
        cfg[Module.FEATURE_WRITER] = fw
        # --- synchronisation
        wait = (not gdb) or self.prev_full or self.after_host or bool(reads & self.prev_writes)
        cfg[Module.CFG]["wait"] = int(wait)
        self.prev_writes = {written}
        self.after_host = False
        self.prev_full = not gdb
        note = self.note(u, geo, tp, t, index)
        self.bundles.append(Bundle(self.isa.canonical(cfg, where=f"bundle {seq} ({grp.name})", validate=False), note))

    def chunk_shape(self, geo: GroupGeo, t: Tile) -> tuple[int, int, int]:
        from compiler.lowering.weights import chunk_shape

        s = chunk_shape(geo, t, self.cv, bool(geo.bias))
        return s.filters, s.entries, s.nbias

    def stage_channels(self, geo: GroupGeo, t: Tile, i: int) -> tuple[int, int]:
        if geo.whole_channels:
            return 0, geo.stages[i].cin
        return t.k0, t.k1

    def aux_fields(self, u: Unit, st, t: Tile, i: int, out: tuple[int, int], stream: str, elt_sb: int
                   ) -> dict[Module, dict[str, Any]]:
        n = st.node
        if st.kind == "act":
            a, b = self.act_params(n)
            f: dict[str, Any] = {"fn": st.mode, "alpha": a, "beta": b}
            if self.int8:
                s = self.scale(n.inputs[0])
                if st.mode in CLAMP_FNS:
                    lo = {"identity": -128, "relu": 0, "relu6": 0}.get(st.mode, None)
                    hi = {"identity": 127, "relu": 127, "relu6": int(round(6 / s))}.get(st.mode, None)
                    if st.mode == "clip":
                        lo = -128 if a == -math.inf else int(round(a / s))
                        hi = 127 if b == math.inf else int(round(b / s))
                    f.update(lo=max(-128, min(127, int(lo))), hi=max(-128, min(127, int(hi))))
                else:
                    f.update(lut=1, lut_ddr=self.luts[(u.name, n.name)])
            return {Module.ACTIVATION: f}
        if st.kind == "pool":
            r, c = t.rows[i], t.cols[i]
            f = {"type": st.mode, "kh": st.kh, "kw": st.kw, "sy": st.sy, "sx": st.sx, "pt": r.pad0, "pb": r.pad1,
                 "pl": c.pad0, "pr": c.pad1, "oh": out[0], "ow": out[1],
                 "incl_pad": int(n.attr("count_include_pad", 0)) if n.op == "AveragePool" else 0}
            return {Module.POOL: f}
        if st.kind == "lrn":
            f = {"size": n.attr("size"), "alpha": float(n.attr("alpha", 1e-4)), "beta": float(n.attr("beta", 0.75)),
                 "bias": float(n.attr("bias", 1.0))}
            if self.int8:
                f.update(in_scale=self.scale(n.inputs[0]), out_scale=self.scale(n.outputs[0]))
            return {Module.LRN: f}
        if st.kind == "elt":
            swap = int(n.inputs[0] != stream)
            f = {"op": st.mode, "swap": swap, "sb": elt_sb}
            if self.int8:
                s_out = self.scale(n.outputs[0])
                other = n.inputs[1] if not swap else n.inputs[0]
                s_a, s_b = self.scale(stream), self.scale(other)
                if st.mode == "mul":
                    m, sh = requant_params(s_a * s_b / s_out)
                    f.update(ma=m, mb=1, shift=sh)
                else:
                    big = max(s_a, s_b) / s_out
                    _, sh = requant_params(big)
                    f.update(ma=min(65535, int(round(s_a / s_out * 2 ** sh))),
                             mb=min(65535, int(round(s_b / s_out * 2 ** sh))), shift=sh)
            return {Module.ELTWISE: f}
        if st.kind == "d2s":
            return {Module.DEPTH_TO_SPACE: {"mode": st.mode, "block": st.block}}
        if st.kind == "smax":
            f = {"en": 1}
            if self.int8:
                f.update(in_scale=self.scale(n.inputs[0]), out_scale=self.scale(n.outputs[0]))
            return {Module.SOFTMAX: f}
        raise ValueError(st.kind)

    def note_parts(self, u: Unit, geo: GroupGeo) -> tuple:
        """The tile-independent part of a group's bundle notes (computed once per group)."""
        parts = self._note_parts.get(u.name)
        if parts is not None:
            return parts
        grp = u.group
        nodes = [self.nodes[x] for x in grp.nodes]
        origin: list[str] = []
        for n in nodes:
            for o in n.origin or (n.name,):
                if o not in origin:
                    origin.append(o)
        kind = geo.pe.kind if geo.pe.kind != "bypass" else (geo.stages[1].kind if len(geo.stages) > 1 else "copy")
        if geo.fc:
            kind = "fc"
        ins = [(grp.input, self.g.tensors[grp.input].shape)]
        if grp.operand:
            ins.append((grp.operand, self.g.tensors[grp.operand].shape))
        out_shape = self.g.tensors[grp.output].shape if grp.output in self.g.tensors else ins[0][1]
        parts = (grp.name, kind, tuple(grp.nodes), tuple(origin), tuple(ins), ((grp.output, out_shape),))
        self._note_parts[u.name] = parts
        return parts

    def note(self, u: Unit, geo: GroupGeo, tp: TilePlan, t: Tile, index: int) -> BundleNote:
        tile = {"index": [index, len(tp.tiles)], "n": [t.n0, t.n1], "k": [t.k0, t.k1], "y": [t.y0, t.y1],
                "x": [t.x0, t.x1]}
        if tp.psum:
            tile["c"] = [t.c_offset, t.c_offset + t.c_count]
        return BundleNote(*self.note_parts(u, geo), tile)


def lower(g: Graph, arch, *, model: str = "", with_weights: bool | None = None,
          meta: dict[str, Any] | None = None) -> Program:
    """Lower a (planned) graph to a Program; naive choices where no pass decided."""
    return Lowering(g, arch, model=model, with_weights=with_weights).run(meta)

