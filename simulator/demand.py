"""Demand of each bundle, derived from its config fields alone (phase 1 of the cycle model).

`bundle_demand(program, bundle)` says what a bundle asks of each kernel: config packets, DDR bytes per reader
and the writer, filter-cache writes, PE-array cycles, crossbar/aux/writer cycles, pipeline latency, and the
stream-buffer regions it reads and writes (for double-buffering and dependency checks). `simulator.timing`
then services these demands against shared resources (phase 2). Nothing here depends on timing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from compiler.isa import AUX_ARCH_NAME, MODULE_BY_NAME, MODULE_NAMES, XBAR_SLOTS, Module
from simulator import costs as C

Range = tuple[int, int]   # [start, end) in stream-buffer entries


@dataclass
class Demand:
    index: int
    layer: str
    kind: str
    nodes: tuple[str, ...]
    # config network
    cfg_packets: int = 0
    cfg_bytes: int = 0
    cfg_words_max: int = 0                 # most words any one module receives (config FIFO occupancy)
    wait: bool = False
    # feature reader
    read_bytes: int = 0                    # payload bytes (r0 + r1)
    read_xfer: int = 0                     # bytes on the DDR channel (whole words per contiguous run)
    read_fill: list[Range] = field(default_factory=list)
    # filter reader
    filt_en: bool = False
    filt_bank: int = 0
    filt_bytes: int = 0
    filt_xfer: int = 0
    filt_cache_cycles: int = 0
    # PE array
    pe_active: bool = False
    pe_mode: str = ""
    pe_bank: int = -1                      # -1: the bundle reads no filters
    pe_cycles: int = 0
    wino: bool = False
    macs: int = 0                          # direct-convolution MACs of the tile (the layer's work)
    mult_ops: float = 0.0                  # physical multiplications
    pe_reads: list[Range] = field(default_factory=list)
    # crossbar, aux kernels, writer
    aux: dict[str, int] = field(default_factory=dict)       # kernel mnemonic -> cycles
    latency: int = 0                       # PE pipeline + aux chain: input-to-output of the last element
    writer_cycles: int = 0
    write_bytes: int = 0
    write_xfer: int = 0
    write_sb: list[Range] = field(default_factory=list)
    # on-chip buffer traffic (energy)
    sb_bytes: float = 0.0
    filter_cache_bytes: float = 0.0

    @property
    def stream_cycles(self) -> int:
        """Throughput-bound duration of the stream: the slowest of PE array, aux kernels and writer."""
        return max([self.pe_cycles, self.writer_cycles, *self.aux.values()])

    @property
    def downstream(self) -> tuple[str, int]:
        """The slowest stage after the PE array and its cycles."""
        best = ("writer", self.writer_cycles)
        for k, v in self.aux.items():
            if v > best[1]:
                best = (k, v)
        return best


def _packets(isa, bundle) -> tuple[int, int]:
    """Config packets of a bundle in the canonical encoding, and the most words any module receives."""
    n = most = 0
    for m, values in bundle.config.items():
        words = isa.modules[m].encode(values)
        sent = 1 + sum(1 for i, w in enumerate(words) if i and w)
        n += sent
        most = max(most, sent)
    return n, most


def bundle_demand(program, bundle) -> Demand:
    arch = program.arch
    isa = program.isa
    cv = arch.pe_array.c_vector
    fe = arch.feature_bytes
    raw_entries = 4 / fe                      # stream-buffer entries per raw element block
    note = bundle.note
    d = Demand(bundle.index, layer_of(note), note.kind, tuple(note.nodes))
    d.cfg_packets, d.cfg_words_max = _packets(isa, bundle)
    d.cfg_bytes = d.cfg_packets * isa.packet_bytes
    d.wait = bool(bundle.fields(Module.CFG).get("wait", 0))
    entry_b = arch.stream_buffer_entry_bytes

    r = bundle.fields(Module.FEATURE_READER)
    for p in ("r0", "r1"):
        if r and r[f"{p}_en"]:
            e = 4 if r[f"{p}_raw"] else fe
            runs = r[f"{p}_n"] * r[f"{p}_cb"] * r[f"{p}_rows"]
            run = int(r[f"{p}_width"] * cv * e)
            d.read_bytes += runs * run
            d.read_xfer += C.transfer_bytes(arch, runs, run)
            entries = runs * r[f"{p}_width"] * (raw_entries if r[f"{p}_raw"] else 1)
            d.read_fill.append((r[f"{p}_sb"], r[f"{p}_sb"] + int(entries)))
            d.sb_bytes += runs * run

    w = bundle.fields(Module.FILTER_READER)
    if w and w["en"]:
        d.filt_en, d.filt_bank = True, int(w["bank"])
        d.filt_bytes = int(w["bytes"])
        d.filt_xfer = C.transfer_bytes(arch, 1, d.filt_bytes)
        d.filt_cache_cycles = C.filter_load_cycles(arch, w["filters"], w["entries"])
        d.filter_cache_bytes += d.filt_bytes

    p = bundle.fields(Module.PE_ARRAY)
    g = bundle.fields(Module.STREAM_BUFFER)
    shape = None
    stream = None                 # (items, entries, shape) of a conv / depthwise PE stream, for the pool's drain
    if p and g:
        d.pe_active = True
        d.pe_mode = p["mode"]
        n = g["n"]
        d.pe_reads.append((g["sb"], g["sb"] + n * g["cb"] * g["rows"] * g["width"]))
        if p["mode"] == "bypass":
            d.pe_cycles = C.bypass_cycles(arch, n=n, channels=p["k"], rows=g["rows"], width=g["width"])
            shape = (n, p["k"], g["rows"], g["width"])
            d.sb_bytes += n * C.cdiv(p["k"], cv) * g["rows"] * g["width"] * entry_b
            d.latency = 1
        else:
            k, oh, ow, kh, kw = p["k"], g["oh"], g["ow"], g["kh"], g["kw"]
            d.pe_bank = int(p["bank"])
            d.wino = bool(p["wino"])
            if p["mode"] == "conv":
                kpg = max(1, p["k_per_group"])
                first = p["k_first"]
                counts: dict[int, int] = {}
                for ko in range(first, first + k):
                    counts[ko // kpg] = counts.get(ko // kpg, 0) + 1
                d.pe_cycles = C.conv_cycles(arch, n=n, oh=oh, ow=ow, c_count=p["c_count"], kh=kh, kw=kw, wino=d.wino,
                                            filters_per_group=counts.values(), cols=p.get("cols", "tile"))
                items = C.conv_items(arch, n=n, oh=oh, ow=ow, filters_per_group=counts.values(),
                                     cols=p.get("cols", "tile"))
                d.macs = n * k * oh * ow * p["c_count"] * kh * kw
                reads = d.pe_cycles * arch.pe_array.lanes * arch.pe_array.w_vector
            else:
                d.pe_cycles = C.depthwise_cycles(arch, n=n, k=k, oh=oh, ow=ow, kh=kh, kw=kw, cols=p.get("cols", "tile"))
                items = C.depthwise_items(arch, n=n, k=k, oh=oh, ow=ow, cols=p.get("cols", "tile"))
                d.macs = n * k * oh * ow * kh * kw
                reads = d.pe_cycles * arch.pe_array.lanes * arch.pe_array.w_vector
            d.mult_ops = C.multiplier_ops(arch, d.macs, d.wino)
            d.sb_bytes += reads * entry_b
            d.filter_cache_bytes += d.pe_cycles * arch.pe_array.k_vector * cv * arch.filter_bytes
            d.latency = C.conv_fill(arch, items)
            shape = (n, k, oh, ow)
            stream = (items, d.pe_cycles // max(1, C.accumulation_slots(arch, items)), shape)
            if p["psum_in"]:
                entries = n * C.cdiv(k, cv) * oh * ow * raw_entries
                d.pe_reads.append((p["psum_sb"], p["psum_sb"] + int(entries)))
                d.sb_bytes += entries * entry_b

    x = bundle.fields(Module.XBAR)
    if x and shape is not None:
        for i in range(XBAR_SLOTS):
            code = x[f"s{i}"]
            if code == "end":
                break
            mod = MODULE_BY_NAME[code]
            kv = getattr(arch.aux, AUX_ARCH_NAME[mod]).k_vector
            n, c, h, wd = shape
            d.aux[code] = d.aux.get(code, 0) + C.aux_cycles(arch, kv, n, c, h, wd)
            d.latency += C.aux_latency(arch, kv, c)
            f = bundle.fields(mod)
            if mod == Module.POOL:
                d.latency += C.pool_fill(arch, stream, shape,
                                         (f["kh"], f["kw"], f["sy"], f["sx"], f["pt"], f["pl"], f["oh"], f["ow"]))
                shape = (n, c, f["oh"], f["ow"])
            elif mod == Module.DEPTH_TO_SPACE:
                b = f["block"]
                shape = (n, c, h * b, wd * b) if f["mode"] == "nearest" else (n, c // (b * b), h * b, wd * b)
            elif mod == Module.ELTWISE:
                entries = n * C.cdiv(c, cv) * h * wd
                d.pe_reads.append((f["sb"], f["sb"] + entries))
                d.sb_bytes += entries * entry_b

    o = bundle.fields(Module.FEATURE_WRITER)
    if o:
        n, c, rows, width = o["n"], o["c"], o["rows"], o["width"]
        e = 4 if o["raw"] else fe
        d.writer_cycles = C.writer_cycles(arch, n, o["c_first"] + c, rows, width)
        if o["ddr_en"]:
            blocks = C.cdiv(o["c_first"] + c, cv)
            runs = n * blocks * rows
            run = int(width * cv * e)
            d.write_bytes = runs * run
            d.write_xfer = C.transfer_bytes(arch, runs, run)
        if o["sb_en"]:
            entries = n * C.cdiv(c, cv) * rows * width * (raw_entries if o["raw"] else 1)
            d.write_sb.append((o["sb"], o["sb"] + int(entries)))
            d.sb_bytes += entries * entry_b
    return d


def layer_of(note) -> str:
    """The layer a bundle belongs to: its group name (every tile of one fused group carries it)."""
    return note.name or "+".join(note.nodes)


def program_demands(program) -> list[Demand]:
    return [bundle_demand(program, b) for b in program.bundles]


__all__ = ["Demand", "bundle_demand", "program_demands", "layer_of", "MODULE_NAMES"]
