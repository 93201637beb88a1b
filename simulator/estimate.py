"""Fast analytical performance estimate of an IR graph on an architecture, without lowering to a program.

    from simulator.estimate import estimate, estimate_latency, estimate_many
    e = estimate(graph, arch)                  # Estimate: cycles, seconds, per-layer costs
    estimate_latency(graph, arch)              # seconds (the cost hook of the searches)
    estimate_many(graph, [arch1, arch2, ...])  # numpy array of seconds, one per architecture

The compiler's planning passes decide the groups (fusion), tiles (tiling, input-channel slices, batching),
Winograd and native grouped convolution, host fallback and in-place concatenation, exactly as `ovl compile`
would (`compiler.passes.run_pipeline`); lowering to bundle fields and the weights blob is skipped. Each group's
cost is a closed form over its tiles, built from the same per-kernel formulas as the cycle model
(`simulator.costs`) and memoised on (group geometry, tile plan, the architecture fields it reads: `group_arch_key`):
a network whose layers repeat, or a search that revisits a layer shape, pays for it once. The memos are
least-recently-used maps bounded by entries and by the tiles they hold (`Memo`).

Closed form of one group of tiles j = 1..T (cycles):

    T_group = exposed + sum_j max(stream_j, ddr_j)
    stream_j = max(PE cycles, aux-kernel cycles, writer cycles) of tile j
    ddr_j    = (write_j + prefetched read_{j+1} + filter load_{j+1} + config_{j+1}) / ddr_bytes_per_cycle
    exposed  = the reads, DDR latency and the previous bundle's pipeline drain that a tile cannot prefetch
               because it waits for earlier writes (cfg.wait: every tile without the `tile` pass, the first
               tile of a group that reads the previous bundle's output from DDR); its config is not exposed
               (the config network runs bundles ahead, so it is fetched during the previous tile: ddr_{j-1});
               with `on_chip` (the default; `on_chip=False` costs every hand-over through DDR), a tile whose
               input the previous bundle hands over in the stream buffer does not wait (the lowering clears
               cfg.wait) and pays only that bundle's drain when it reads nothing else, and that bundle writes
               nothing to DDR;
               and consecutive tiles start at least config_j / ddr_bytes_per_cycle + DDR latency apart (the
               config reader fetches one bundle at a time), which binds for bundles shorter than the latency

and the network is the sum of its groups (host partitions take no overlay time, as in the cycle model).
docs/simulator.md gives the comparison with the cycle model on every test network (within 5%).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Sequence

import numpy as np

from compiler.ir import Graph
from compiler.memo import DEFAULT_SIZE, Memo, per_object  # Memo re-exported here
from simulator import costs as C
from simulator.report import KIND_OPS

MEMO_SIZE = DEFAULT_SIZE


@dataclass(frozen=True)
class TileCost:
    """What one tile (bundle) costs, before overlap with its neighbours."""

    read: float          # DDR bytes read by the feature reader (whole words per run)
    filt: float          # DDR bytes of the filter chunk it loads (0 when cached)
    write: float         # DDR bytes written
    cfg: float           # config bytes
    stream: int          # max(PE, aux, writer) cycles
    pe: int              # PE-array cycles
    fill: int            # pipeline latency
    macs: int
    mult_ops: float
    read_payload: int
    write_payload: int
    psum_in: bool = False      # reads the partial sums the previous slice wrote: waits for that write
    psum_out: bool = False
    sb_in: bool = False        # the input tile is already in the stream buffer (no DDR read latency when waiting)
    region: tuple = ()         # partial-sum tiles: the (k0, n0, y0, x0) region their slice chain reads and writes


@dataclass(frozen=True)
class GroupCost:
    name: str
    op: str
    tiles: tuple[TileCost, ...]
    wino: bool

    @property
    def macs(self) -> int:
        return sum(t.macs for t in self.tiles)


@dataclass(frozen=True)
class LayerEstimate:
    name: str
    op: str
    bundles: int
    cycles: float
    macs: int
    mult_ops: float
    ddr_bytes_read: int
    ddr_bytes_written: int
    wino: bool

    def to_json(self, arch) -> dict[str, Any]:
        from simulator.report import utilisation

        sec = self.cycles / arch.clock_hz
        return {"name": self.name, "op": self.op, "bundles": self.bundles, "cycles": round(self.cycles),
                "time_us": sec * 1e6, "macs": self.macs, "gops": 2 * self.macs / sec / 1e9 if sec else 0.0,
                "ddr_bytes_read": self.ddr_bytes_read, "ddr_bytes_written": self.ddr_bytes_written,
                "pe_utilisation": utilisation(arch, self.mult_ops, self.cycles), "winograd": self.wino}


@dataclass(frozen=True)
class Estimate:
    arch: Any
    network: str
    batch: int
    cycles: float
    layers: tuple[LayerEstimate, ...]
    host_partitions: int = 0
    plan_seconds: float = 0.0
    memo: dict = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.cycles / self.arch.clock_hz

    @property
    def macs(self) -> int:
        return sum(x.macs for x in self.layers)

    @property
    def throughput_per_s(self) -> float:
        return self.batch / self.seconds if self.cycles else 0.0

    def to_json(self) -> dict[str, Any]:
        a = self.arch
        sec = self.seconds
        return {"network": self.network, "arch": a.name, "clock_hz": a.clock_hz, "precision": a.precision,
                "estimate": True,
                "totals": {"cycles": round(self.cycles), "latency_ms": sec * 1e3, "batch": self.batch,
                           "throughput_per_s": self.throughput_per_s, "macs": self.macs,
                           "gops": 2 * self.macs / sec / 1e9 if sec else 0.0,
                           "ddr_bytes_read": sum(x.ddr_bytes_read for x in self.layers),
                           "ddr_bytes_written": sum(x.ddr_bytes_written for x in self.layers),
                           "bundles": sum(x.bundles for x in self.layers), "host_partitions": self.host_partitions},
                "layers": [x.to_json(a) for x in self.layers]}

    def table(self) -> str:
        a = self.arch
        rows = [("layer", "op", "bundles", "cycles", "us", "GOP/s", "PE util")]
        for x in self.layers:
            j = x.to_json(a)
            rows.append((x.name[:34], x.op, str(x.bundles), f"{j['cycles']:,}", f"{j['time_us']:.1f}",
                         f"{j['gops']:.1f}", f"{100 * j['pe_utilisation']:.1f}%"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                 for r in rows]
        t = self.to_json()["totals"]
        lines += ["", f"{self.network} on {a.name} ({a.precision}, {a.clock_mhz:g} MHz), batch {self.batch} "
                      f"(fast estimate): {t['cycles']:,} cycles = {t['latency_ms']:.3f} ms, "
                      f"{t['throughput_per_s']:,.1f} inferences/s, {t['gops']:,.1f} GOP/s"]
        return "\n".join(lines)


# --- planning (the compiler's decisions) ---------------------------------------------------------------------------
def _planned(graph: Graph, arch, opt_level: int, on_chip: bool = True):
    """The compiler's plan of `graph`: (planned graph, plan, schedule, group geometries, tile plans). With
    `on_chip` (the default, as the compiled program runs), geometries whose input or result the memory plan keeps
    in the stream buffer carry `sb_in` / `sb_out` (copies; the memoised geometries are not changed)."""
    from dataclasses import replace

    from compiler.lowering.lower import plan_tiles
    from compiler.lowering.units import build_schedule
    from compiler.passes import PassContext, run_pipeline
    from compiler.passes.plan import get_plan

    ctx = PassContext(arch, opt_level=opt_level, verify=False, disable=("calibrate",))
    g2, _ = run_pipeline(graph, ctx)
    plan = get_plan(g2)
    aliased = plan.memory.aliased_concats if plan.memory is not None else frozenset()
    sched = build_schedule(g2, plan, arch, aliased)
    geos, tiles = plan_tiles(g2, plan, arch, sched)
    if on_chip and plan.memory is not None and plan.memory.resident:
        res = plan.memory.resident
        geos = {k: (replace(v, sb_in=v.input in res, sb_out=v.output in res)
                    if v.input in res or v.output in res else v) for k, v in geos.items()}
    return g2, plan, sched, geos, tiles


def _stage_sig(s) -> tuple:
    return (s.kind, s.cin, s.hin, s.win, s.cout, s.hout, s.wout, s.kh, s.kw, s.sy, s.sx, s.dy, s.dx, s.pt, s.pl,
            s.pb, s.pr, s.block, s.mode, s.cross_channel)


def _group_key(geo, tp, lane: int, batch: bool, native: bool) -> tuple:
    return (tuple(_stage_sig(s) for s in geo.stages), geo.n, geo.K, geo.C, geo.groups, geo.kwp, geo.wino, geo.cols,
            geo.sb_in, geo.sb_out, geo.fc,
            bool(geo.bias), geo.elt_stage, tp.nt, tp.kt, tp.rows, tp.cols, tp.cslice, len(tp.tiles), lane, batch,
            native)


# --- per-group closed form ------------------------------------------------------------------------------------------
def _tile_table(geo, tp) -> tuple[tuple, tuple]:
    """The architecture-independent numbers `_tile_costs` reads from a tile plan: its distinct tile shapes (images,
    output channels, input and output extents per stage, slice flags) and, per tile, (shape index, filter chunk
    key, first slice, tile, partial-sum region). Memoised per plan object: tile plans are shared and read-only
    (`compiler.lowering.tiling.plan_group`), and the optimiser and co-design cost one plan on many architectures."""
    ns, e = len(geo.stages), geo.elt_stage
    key = (id(tp), ns, e)
    hit = _TABLES.peek(key)
    if hit is not None and hit[0] is tp:
        return hit[1]
    psum = tp.psum
    shapes: dict[tuple, int] = {}
    tiles = []
    for t in tp.tiles:
        rows, cols = t.rows, t.cols
        y, x = t.y1 - t.y0, t.x1 - t.x0
        outs = tuple((rows[i + 1].size, cols[i + 1].size) if i + 1 < ns else (y, x) for i in range(ns))
        first, last = t.first_slice, t.last_slice
        s = (t.n1 - t.n0, t.k0, t.k1, t.blk1 - t.blk0, rows[0].size, cols[0].size,
             rows[e].size if e >= 0 else 0, cols[e].size if e >= 0 else 0, outs, t.c_count,
             psum and not first, psum and not last, y, x)
        si = shapes.setdefault(s, len(shapes))
        tiles.append((si, t.chunk_key, first, t, (t.k0, t.n0, t.y0, t.x0) if psum else ()))
    table = (tuple(shapes), tuple(tiles))
    _TABLES.put(key, (tp, table))
    return table


def _filter_counts(k0: int, k1: int, kpg: int) -> tuple[int, ...]:
    """Filters of output channels [k0, k1) in each group of `kpg` channels the range touches, in group order."""
    if k1 <= k0:
        return ()
    g0, g1 = k0 // kpg, (k1 - 1) // kpg
    if g0 == g1:
        return (k1 - k0,)
    return ((g0 + 1) * kpg - k0,) + (kpg,) * (g1 - g0 - 1) + (k1 - g1 * kpg,)


def _tile_costs(arch, geo, tp, lane: int, batch: bool) -> tuple[TileCost, ...]:
    """Per-tile demands, mirroring what the lowering puts into each bundle's fields (docs/isa.md).

    Each distinct tile shape of the plan (`_tile_table`) is costed once; the filter-cache walk then goes tile by
    tile, and tiles with equal costs share one (immutable) `TileCost`."""
    from compiler.lowering.weights import tile_chunk_size

    shapes, tiles = _tile_table(geo, tp)
    cv = arch.pe_array.c_vector
    fe = arch.feature_bytes
    stages = geo.stages
    pe = geo.pe
    ns = len(stages)
    e = geo.elt_stage
    whole = geo.whole_channels
    sb_in = bool(geo.sb_in)
    words = _config_words(arch)
    bits = arch.config_network.reader_bits
    kpg = max(1, geo.k_per_group)
    aux_kv = [0] + [getattr(arch.aux, _AUX[st.kind]).k_vector for st in stages[1:]]
    costed = []
    for (nt, k0, k1, nblk, rs0, cs0, er, ec, outs, c_count, psum_in, psum_out, ty, tx) in shapes:
        kt = k1 - k0
        # feature reader (nothing for r0 when the previous bundle left the input tile in the stream buffer)
        runs = nt * nblk * rs0
        run = int(cs0 * cv * fe)
        read, payload = C.transfer_bytes(arch, runs, run), runs * run
        if sb_in:
            read = payload = 0
        active = ["cfg", "sbuf", "pe", "fwrite"] + ([] if sb_in else ["fread"])
        if e >= 0 and not psum_out:
            c0, c1 = (0, stages[e].cin) if whole else (k0, k1)
            r2 = nt * (C.cdiv(c1, cv) - c0 // cv) * er
            run2 = int(ec * cv * fe)
            read += C.transfer_bytes(arch, r2, run2)
            payload += r2 * run2
            if sb_in:
                active.append("fread")
        elif psum_in:
            r2 = nt * (C.cdiv(k1, cv) - k0 // cv) * outs[0][0]
            run2 = outs[0][1] * cv * 4
            read += C.transfer_bytes(arch, r2, run2)
            payload += r2 * run2
        # PE array
        oh, ow = outs[0]
        if pe.kind == "conv":
            pe_cyc = C.conv_cycles(arch, n=nt, oh=oh, ow=ow, c_count=c_count, kh=pe.kh, kw=pe.kw, wino=geo.wino,
                                   filters_per_group=_filter_counts(k0, k1, kpg), cols=geo.cols)
            macs = nt * kt * oh * ow * c_count * pe.kh * pe.kw
            items = C.conv_items(arch, n=nt, oh=oh, ow=ow, filters_per_group=_filter_counts(k0, k1, kpg), cols=geo.cols)
            fill = C.pipeline_fill(arch)
        elif pe.kind == "dw":
            pe_cyc = C.depthwise_cycles(arch, n=nt, k=kt, oh=oh, ow=ow, kh=pe.kh, kw=pe.kw, cols=geo.cols)
            macs = nt * kt * oh * ow * pe.kh * pe.kw
            items = C.depthwise_items(arch, n=nt, k=kt, oh=oh, ow=ow, cols=geo.cols)
            fill = C.pipeline_fill(arch)
        else:
            pe_cyc = C.bypass_cycles(arch, n=nt, channels=kt, rows=rs0, width=cs0)
            macs, fill, items = 0, 1, 0
        # aux chain
        aux: dict[str, int] = {}
        if not psum_out:
            shape = (nt, kt, oh, ow)
            for i in range(1, ns):
                st = stages[i]
                kv = aux_kv[i]
                n_, c, h, w = shape
                aux[st.kind] = aux.get(st.kind, 0) + C.aux_cycles(arch, kv, n_, c, h, w)
                fill += C.aux_latency(arch, kv, c)
                active.append(st.kind)
                if st.kind == "pool":
                    pe_stream = (items, pe_cyc // max(1, C.accumulation_slots(arch, items)), (nt, kt, oh, ow))
                    fill += C.pool_fill(arch, pe_stream if items else None, shape,
                                        (st.kh, st.kw, st.sy, st.sx, st.pt, st.pl, *outs[i]))
                    shape = (n_, c, outs[i][0], outs[i][1])
                elif st.kind == "d2s":
                    b = st.block
                    shape = (n_, c, h * b, w * b) if st.mode == "nearest" else (n_, c // (b * b), h * b, w * b)
            if ns > 1:
                active.append("xbar")
        # feature writer
        if psum_out:
            c_w, first, rows, width, eb = kt, 0, oh, ow, 4
        else:
            wc0, wc1 = (0, stages[-1].cout) if whole else (k0, k1)
            c_w, first, rows, width, eb = wc1 - wc0, (lane + wc0) % cv, ty, tx, fe
        wruns = nt * C.cdiv(first + c_w, cv) * rows
        wrun = int(width * cv * eb)
        wcyc = C.writer_cycles(arch, nt, first + c_w, rows, width)
        stream = max([pe_cyc, wcyc, *aux.values()])
        on_chip = geo.sb_out and not psum_out          # the result goes to the stream buffer, not DDR
        write = 0.0 if on_chip else float(C.transfer_bytes(arch, wruns, wrun))
        costed.append((float(read), sum(words[m] for m in active), write, stream, pe_cyc, fill, macs,
                       C.multiplier_ops(arch, macs, geo.wino), payload, 0 if on_chip else wruns * wrun,
                       bool(psum_in), bool(psum_out)))
    # filter reader (the lowering's cache policy: batch reuses either half, otherwise the last one)
    out: list[TileCost] = []
    made: dict[tuple, TileCost] = {}
    sizes: dict[tuple, float] = {}
    half0 = half1 = None                 # the chunk in each half of the filter cache
    last_bank = 1
    bypass = pe.kind == "bypass"
    double = arch.filter_cache.double_buffered
    w_wread = words["wread"]
    for si, key, first_slice, t, region in tiles:
        filt = 0.0
        if bypass:
            load = False
        elif batch:
            if key == half0:
                last_bank, load = 0, False
            elif key == half1:
                last_bank, load = 1, False
            else:
                load = True
        else:
            load = (half1 if last_bank else half0) != key
        if load:
            last_bank = (1 - last_bank) if double else 0
            if last_bank:
                half1 = key
            else:
                half0 = key
            sk = (key, first_slice)
            filt = sizes.get(sk)
            if filt is None:
                filt = sizes[sk] = float(C.transfer_bytes(arch, 1, tile_chunk_size(arch, geo, t, bool(geo.bias))))
        ck = (si, load, filt, region)
        tc = made.get(ck)
        if tc is None:
            (read, nwords, write, stream, pe_cyc, fill, macs, mult, payload, wpayload, psum_in,
             psum_out) = costed[si]
            if load:
                nwords += w_wread
            tc = made[ck] = TileCost(read, filt, write, nwords * bits / 8, stream, pe_cyc, fill, macs, mult,
                                     payload, wpayload, psum_in, psum_out, sb_in, region)
        out.append(tc)
    return tuple(out)


_AUX = {"act": "activation", "pool": "pool", "lrn": "lrn", "elt": "eltwise", "d2s": "depth_to_space",
        "smax": "softmax"}


def _config_words(arch) -> dict[str, int]:
    """Config words per module: an upper bound of the packets a bundle sends (zero words are not sent).

    Memoised per field layout, not per architecture: the ISA's field lists (`compiler.isa._fields`) read the
    architecture only through its field widths (`compiler.isa.widths_for`), the Winograd flag, the aux kernels'
    window limits and the config network, so the many architectures of a search share a few tables instead of
    building an ISA each (tests/hw_models/test_optimizer_speed.py checks the table against `ISA.for_arch`)."""
    from compiler.isa import widths_for

    cn, aux = arch.config_network, arch.aux
    key = (widths_for(arch), arch.pe_array.winograd, aux.pool.max_window, aux.lrn.max_size,
           aux.depth_to_space.max_block, cn.payload_bits, cn.reader_bits)
    hit = _WORDS.get(key)
    if hit is None:
        from compiler.isa import ISA, MODULE_NAMES

        if len(_WORDS) >= 1024:
            _WORDS.clear()
        hit = _WORDS[key] = {MODULE_NAMES[m]: lay.words for m, lay in ISA.for_arch(arch).modules.items()}
    return hit


_WORDS: dict[tuple, dict[str, int]] = {}


@lru_cache(maxsize=256)
def _arch_key_cached(arch) -> str:
    return arch.model_dump_json()


@per_object(256)
def _arch_key(arch) -> str:
    """The architecture's JSON, memoised per object (Arch is immutable; hashing a pydantic model walks every
    field, which cost more than the lookup it keys: `group_cost` asks once per group)."""
    return _arch_key_cached(arch)


#: The group-cost memo's bounds: entries, and tile costs held in total (each entry holds one per tile of its
#: group; large-image networks such as the SR zoo have thousands of tiles per plan).
MEMO_TILES = 1 << 24
MEMO = Memo(max_weight=MEMO_TILES, weigh=lambda v: len(v[0]) + 1)
#: tile tables (`_tile_table`) per tile plan object, bounded by tiles held (a table keeps its plan's tiles alive)
TABLE_TILES = 1 << 21
_TABLES = Memo(1 << 18, max_weight=TABLE_TILES, weigh=lambda v: len(v[1][1]) + 1)
GRAPH_MEMO = Memo(4096)


#: Architecture fields `_tile_costs` never reads (neither directly nor through `simulator.costs`, the config-word
#: table or `tile_chunk_size`): the group-cost memo leaves them out of its key, and of `aux.<kernel>.k_vector`
#: keeps only the kernels the group's stages use, so architectures differing only there (a search's clock, DDR or
#: aux-width variants) share the group's tile costs. tests/hw_models/test_optimizer_speed.py checks that equal
#: keys give equal tile costs.
GROUP_FREE_FIELDS = ("name", "description", "notes", "clock_mhz", "ddr.bandwidth_gbs", "ddr.latency_ns",
                     "ddr.efficiency")


@per_object(256)
def _group_arch_parts(arch) -> tuple[str, dict[str, int]]:
    """(the architecture's JSON without `GROUP_FREE_FIELDS` and aux widths, aux kernel -> k_vector), memoised per
    object like `_arch_key`."""
    import json

    d = arch.model_dump(mode="json")
    for f in GROUP_FREE_FIELDS:
        *path, leaf = f.split(".")
        t = d
        for k in path:
            t = t[k]
        t.pop(leaf, None)
    widths = {a: d["aux"][a].pop("k_vector") for a in d["aux"]}
    return json.dumps(d, sort_keys=True), widths


def group_arch_key(arch, geo) -> tuple:
    """The part of the group-cost memo key that comes from the architecture: every field `_tile_costs` may read
    for this group (not `GROUP_FREE_FIELDS`, and only the widths of the aux kernels its stages use)."""
    text, widths = _group_arch_parts(arch)
    return text, tuple(widths[_AUX[st.kind]] for st in geo.stages[1:])


def _group_entry(arch, geo, tp, lane: int, batch: bool, gkey: tuple, memo: Memo) -> tuple:
    """The memo entry of one group: (tile costs, Winograd flag, whether each tile after the first waits for the
    partial sums of the one before it: `psum_wait`)."""
    def make():
        tiles = _tile_costs(arch, geo, tp, lane, batch)
        return tiles, bool(geo.wino), tuple(psum_wait(a, b) for a, b in zip(tiles, tiles[1:]))
    return memo.get((group_arch_key(arch, geo), gkey), make)


def group_cost(arch, geo, tp, *, name: str, op: str, lane: int, batch: bool, native: bool = False,
               memo: Memo = MEMO) -> GroupCost:
    """The memoised tile costs of one group (`native`: a grouped convolution run natively by the PE array)."""
    tiles, wino, _ = _group_entry(arch, geo, tp, lane, batch, _group_key(geo, tp, lane, batch, native), memo)
    return GroupCost(name, op, tiles, wino)


def _sequence_time(arch, seq: Sequence[tuple[TileCost, bool]]) -> list[float]:
    """Closed form over the program's tiles in order (see the module docstring); `seq` holds (tile, waits)
    pairs. Returns each tile's share of the total cycles (the last one carries the final drain)."""
    bpc = arch.ddr_bytes_per_cycle
    lat = arch.ddr_latency_cycles
    out: list[float] = []
    prev_fill = 0
    prev_run = 0.0
    for i, (t, wait) in enumerate(seq):
        cyc = 0.0
        if i == 0:
            cyc += (t.cfg + t.filt) / bpc + lat
        exposed = 0.0
        if wait or i == 0:
            # an input left in the stream buffer by the previous bundle costs its pipeline drain, no DDR latency
            exposed = t.read / bpc + (0 if t.sb_in and not t.read else lat) + prev_fill
        elif t.sb_in and not t.read:
            exposed = prev_fill     # the stream-buffer hand-over completes with the previous bundle's drain
        if i:
            # the config reader fetches one bundle's packets at a time, each after the DDR latency: consecutive
            # bundles start at least that far apart (binds for bundles shorter than the DDR latency)
            exposed += max(0.0, t.cfg / bpc + lat - prev_run - exposed)
        cyc += exposed
        ddr = t.write
        if i + 1 < len(seq):
            nxt, nwait = seq[i + 1]
            ddr += nxt.filt + nxt.cfg + (0.0 if nwait else nxt.read)
        prev_run = max(float(t.stream), ddr / bpc)
        cyc += prev_run
        out.append(cyc)
        prev_fill = t.fill
    if out:
        out[-1] += prev_fill
    return out


# --- public API ----------------------------------------------------------------------------------------------------
def graph_key(graph: Graph) -> tuple:
    """Structural fingerprint of a graph: operators, attributes, wiring and shapes (not weight values, which do not
    change timing). Equal keys plan to equal programs."""
    t = graph.tensors
    nodes = tuple((n.op, n.inputs, n.outputs, tuple(sorted((k, repr(v)) for k, v in n.attrs.items())))
                  for n in graph.nodes)
    shapes = tuple(sorted((k, v.shape, v.dtype, v.const) for k, v in t.items()))
    return nodes, shapes, tuple(graph.inputs), tuple(graph.outputs)


GRAPH_MEMO_SIZE = 4096


def estimate(graph: Graph, arch: Any = "a10_generic", *, opt_level: int = 2, network: str | None = None,
             memo: bool = True, on_chip: bool = True) -> Estimate:
    """Per-layer and total cycles of `graph` on `arch` at optimisation level `opt_level` (no program built).

    Group costs are memoised per (architecture, group geometry, tile plan); with `memo`, whole estimates are also
    memoised per (architecture, level, `graph_key`), so a search that revisits a network pays once.

    `on_chip` (the default) models the memory plan's on-chip hand-over (a single-tile result that the next bundle
    reads from the stream buffer: no DDR write, no DDR read, no read latency), as the compiled program and the
    cycle model do; `on_chip=False` costs every group's input and result through DDR (the estimate before the
    hand-over was modelled; docs/simulator.md section 3 compares both with the cycle model)."""
    from hw_models.arch import Arch, load_arch

    a = arch if isinstance(arch, Arch) else load_arch(arch)
    if not memo:
        return _estimate(graph, a, opt_level, network, on_chip)
    key = (_arch_key(a), opt_level, on_chip, graph_key(graph))
    hit = GRAPH_MEMO.peek(key)
    if hit is not None:
        GRAPH_MEMO.hits += 1
        return Estimate(a, network or graph.name, hit.batch, hit.cycles, hit.layers, hit.host_partitions, 0.0,
                        {"hits": 0, "misses": 0, "graph_hit": True})
    est = GRAPH_MEMO.get(key, lambda: _estimate(graph, a, opt_level, network, on_chip))
    return est


def _estimate(graph: Graph, a, opt_level: int, network: str | None, on_chip: bool = True) -> Estimate:
    import time

    t0 = time.perf_counter()
    planned = _planned(graph, a, opt_level, on_chip)
    t_plan = time.perf_counter() - t0
    return estimate_planned(planned, a, network=network or graph.name, batch=_graph_batch(graph),
                            plan_seconds=t_plan)


def estimate_planned(planned, a, *, network: str = "", batch: int = 1, plan_seconds: float = 0.0) -> Estimate:
    """The estimate of a graph already planned by `plan_graph` (on `a`, or on any architecture whose fields the
    compiler reads are equal: `hw_models.optimizer.NetworkCost` shares one plan across such architectures); the
    on-chip hand-over is costed when the plan was made with `on_chip` (the geometries carry `sb_in` / `sb_out`)."""
    h0, m0 = MEMO.hits, MEMO.misses
    groups, shares, hosts = _costed(planned, a)
    layers: list[LayerEstimate] = []
    k = 0
    for gc in groups:
        n = len(gc.tiles)
        cyc = sum(shares[k:k + n])
        k += n
        layers.append(LayerEstimate(gc.name, gc.op, n, cyc, gc.macs, sum(t.mult_ops for t in gc.tiles),
                                    sum(t.read_payload + int(t.filt) for t in gc.tiles),
                                    sum(t.write_payload for t in gc.tiles), gc.wino))
    total = sum(shares)
    return Estimate(a, network, batch, total, tuple(layers), hosts, plan_seconds,
                    {"hits": MEMO.hits - h0, "misses": MEMO.misses - m0})


def cycles_planned(planned, a) -> float:
    """`estimate_planned(planned, a).cycles` without the per-layer breakdown (the optimiser's hot path)."""
    return sum(_costed(planned, a, layers=False)[1])


def _schedule_walk(planned, a) -> tuple:
    """What `estimate_planned` reads from a plan besides the group costs, per schedule unit: None for a host
    partition, else (name, op, geometry, tile plan, group memo key, output lane, DDR buffers it reads, buffer
    it writes, double buffered). Depends on the plan and, of the architecture, only on c_vector (lanes) and the
    stream buffer (double buffering); memoised per plan object (plans are immutable and shared by the optimiser
    and co-design across architectures)."""
    from compiler.lowering.memory import resolve
    from compiler.lowering.tiling import group_double_buffered

    g2, plan, sched, geos, tiles = planned
    sb = a.stream_buffer
    key = (id(plan), a.pe_array.c_vector, sb.depth, sb.banks)
    hit = _WALKS.peek(key)
    if hit is not None and hit[0] is plan and hit[1] is geos and hit[2] is tiles:
        return hit[3]
    cv = a.pe_array.c_vector
    units = []
    users: dict[str, int] = {}
    for u in sched.units:
        if u.kind == "group" and geos[u.name].pe.kind != "bypass":
            users[geos[u.name].weight] = users.get(geos[u.name].weight, 0) + 1
    shared = any(v > 1 for v in users.values())
    for u in sched.units:
        if u.kind == "host":
            units.append(None)
            continue
        geo, tp = geos[u.name], tiles[u.name]
        out_loc = resolve(u.group.output, sched.windows)
        kind = _kind(geo)
        native = geo.pe.node is not None and geo.pe.node.name in plan.native_groups
        lane = out_loc.c % cv
        reads = frozenset(resolve(t, sched.windows).root for t in u.reads)
        units.append((u.name, KIND_OPS.get(kind, kind), geo, tp,
                      _group_key(geo, tp, lane, plan.reuse_filters, native), lane, reads, out_loc.root,
                      group_double_buffered(a, plan.double_buffer, tp)))
    walk = (tuple(units), shared, plan.reuse_filters)
    _WALKS.put(key, (plan, geos, tiles, walk, len(units) + sum(len(tp.tiles) for tp in tiles.values())))
    return walk


def _costed(planned, a, layers: bool = True) -> tuple[list[GroupCost], list[float], int]:
    """(group costs (only with `layers`), each tile's share of the cycles, host partitions) of a planned graph."""
    units, shared, reuse = _schedule_walk(planned, a)
    prev_writes: frozenset | set = frozenset()
    after_host = True
    prev_full = False
    hosts = 0
    groups: list[GroupCost] = []
    seq: list[tuple[TileCost, bool]] = []
    cache_walk = _FilterCache(a, reuse) if shared else None
    for unit in units:
        if unit is None:
            after_host = True
            prev_writes = frozenset()
            hosts += 1
            continue
        name, op, geo, tp, gkey, lane, reads, out_root, db = unit
        ts, wino, inner = _group_entry(a, geo, tp, lane, reuse, gkey, MEMO)
        if cache_walk is not None:
            ts = cache_walk.group(geo, tp, GroupCost(name, op, ts, wino)).tiles
        if not db:
            seq.extend((t, True) for t in ts)
        elif ts:
            seq.append((ts[0], prev_full or after_host or bool(reads & prev_writes)))
            seq.extend(zip(ts[1:], inner))
        if layers:
            groups.append(GroupCost(name, op, ts, wino))
        last = ts[-1] if ts else None
        if last is not None and last.psum_out:
            prev_writes = {f"{name}/psum"}
        elif geo.sb_out:
            prev_writes = frozenset()   # handed over in the stream buffer: nothing in DDR to wait for
        else:
            prev_writes = {out_root}
        after_host = False
        prev_full = not db
    return groups, _sequence_time(a, seq), hosts


#: schedule walks per plan object, bounded by entries and by the tiles of the plans they keep alive
_WALKS = Memo(1024, max_weight=1 << 21, weigh=lambda v: v[4])


def psum_wait(prev: TileCost, t: TileCost) -> bool:
    """A partial-sum slice waits for the previous tile when that tile wrote the partial sums it continues (the
    lowering's `cfg.wait` compares the regions; slices of other images or rows in between need not wait)."""
    return t.psum_in and prev.psum_out and t.region == prev.region


class _FilterCache:
    """The lowering's filter-cache policy across groups (`compiler.lowering.lower`: chunks of groups that share
    weights, such as the recurrent FullyConnected of every RNN step, are one chunk). Group costs are memoised per
    group, whose own walk starts from an empty cache; when weights are shared between groups the loads are
    re-derived over the whole sequence (a chunk found in the cache is not loaded again)."""

    def __init__(self, arch, reuse: bool):
        self.arch, self.reuse = arch, reuse
        self.cache: dict[int, tuple | None] = {0: None, 1: None}
        self.last = 1
        words = _config_words(arch)
        self.wread_cfg = words["wread"] * arch.config_network.reader_bits / 8

    def group(self, geo, tp, gc: GroupCost) -> GroupCost:
        from dataclasses import replace

        from compiler.lowering.weights import tile_chunk_size

        if geo.pe.kind == "bypass":
            return gc
        a = self.arch
        ident = (geo.weight, geo.bias, geo.pe.kind, geo.wino, geo.kwp, geo.pe.kh, geo.pe.kw, geo.groups)
        out = []
        for t, tc in zip(tp.tiles, gc.tiles):
            key = ident + t.chunk_key + (t.first_slice,)
            if self.reuse:
                hit = next((b for b in (0, 1) if self.cache[b] == key), None)
            else:
                hit = self.last if self.cache[self.last] == key else None
            if hit is None:
                hit = (1 - self.last) if a.filter_cache.double_buffered else 0
                self.cache[hit] = key
                filt = float(C.transfer_bytes(a, 1, tile_chunk_size(a, geo, t, bool(geo.bias))))
            else:
                filt = 0.0
            self.last = hit
            if filt != tc.filt:
                cfg = tc.cfg + (self.wread_cfg if filt else -self.wread_cfg)
                tc = replace(tc, filt=filt, cfg=cfg)
            out.append(tc)
        return GroupCost(gc.name, gc.op, tuple(out), gc.wino)


def _kind(geo) -> str:
    pe = geo.pe
    if pe.kind != "bypass":
        return "fc" if geo.fc else pe.kind
    return geo.stages[1].kind if len(geo.stages) > 1 else "copy"


def _graph_batch(graph: Graph) -> int:
    if graph.inputs:
        shape = graph.tensors[graph.inputs[0]].shape
        if len(shape) == 4:
            return int(shape[0])
    return 1


def estimate_latency(graph: Graph, arch: Any = "a10_generic", *, opt_level: int = 2, on_chip: bool = True) -> float:
    """Seconds per inference of the whole graph (the cost hook the searches call; `on_chip` as in `estimate`)."""
    return estimate(graph, arch, opt_level=opt_level, on_chip=on_chip).seconds


def estimate_many(graph: Graph, archs: Iterable[Any], *, opt_level: int = 2, on_chip: bool = True) -> np.ndarray:
    """Seconds of `graph` on each architecture (array form for architecture sweeps; `on_chip` as in `estimate`)."""
    return np.array([estimate(graph, a, opt_level=opt_level, on_chip=on_chip).seconds for a in archs],
                    dtype=np.float64)


# Public names of the building blocks (the architecture optimiser and the co-design cost plan once per planning
# key and re-cost per architecture with them).
plan_graph = _planned
group_kind = _kind
sequence_time = _sequence_time


def clear_memo() -> None:
    """Drop the memoised group costs, tile plans and whole estimates (tests and benchmarks measure cold runs)."""
    from compiler.lowering.tiling import clear_plan_memo

    MEMO.clear()
    GRAPH_MEMO.clear()
    _WALKS.clear()
    _TABLES.clear()
    clear_plan_memo()


__all__ = ["Estimate", "LayerEstimate", "estimate", "estimate_latency", "estimate_many", "clear_memo", "graph_key",
           "group_cost", "plan_graph", "group_kind", "sequence_time", "estimate_planned", "cycles_planned"]
