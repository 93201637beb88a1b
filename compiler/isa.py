"""The overlay's VLIW instruction set: kernels (modules) on the config network, their fields, and the packets.

A *bundle* configures every kernel that takes part in one pass through the datapath (one fused layer or one
tile of it). Each kernel (module) has a fixed list of fields; the fields are packed into `payload_bits`-wide
config words, and each word travels on the config network as one `reader_bits`-wide *packet* that carries the
payload plus a 16-bit header (module ID, word index, last-word and end-of-bundle flags). docs/isa.md is the
prose specification; this module is the executable one (`ISA.for_arch(arch)` builds the layout).

Field widths that depend on the architecture are derived here from the `Arch` (address widths from buffer
depths, tile counts from capacities, window fields from aux-kernel limits) and nowhere else:

    SB   = clog2(stream_buffer.depth)          stream-buffer entry address
    SBN  = clog2(stream_buffer.depth + 1)      counts of entries / rows / columns / images / channel blocks
    FCN  = clog2(filter_cache.depth + 1)       filter-cache entries per filter
    KT   = clog2(k_vector * filter_cache.depth + 1)   output channels per tile
    CVB  = clog2(c_vector)                     element offset inside a c_vector block

Fixed ISA constants: DDR byte addresses and pitches are 32 bits, channel indices 16 bits, strides and
dilations 4 bits.

Packing rule (simple to decode in Verilog): fields are placed in declaration order, LSB first; a field that
does not fit in what is left of the current word starts at bit 0 of the next word; a field wider than a word
(only 32-bit fields with 16-bit payloads) starts a new word and takes ceil(width / payload_bits) whole words,
low part first. Signed fields are two's complement; `f32` fields hold IEEE-754 single-precision bits.

Packet (little-endian, `reader_bits` wide): bits [0, P) payload; [P, P+6) module ID; P+6 last word of this
module in this bundle; P+7 last packet of the bundle; [P+8, P+16) word index; the rest zero (P =
payload_bits). Canonical encoding (what the compiler emits and the assembler reproduces): modules in ID order,
only active modules, word 0 always sent, other words only when non-zero, in increasing index. A kernel clears
its config registers when a bundle starts, so words not sent are zero.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from enum import IntEnum
from functools import cached_property, lru_cache
from typing import Any, Iterable, Mapping

from compiler.errors import ArchError, ProgramError

DDR_ADDR_BITS = 32
CHANNEL_BITS = 16
STRIDE_BITS = 4
MODULE_ID_BITS = 6
WORD_INDEX_BITS = 8
HEADER_BITS = 16


class Module(IntEnum):
    """Kernels on the config network, by module ID (the ID is the order of the config chain)."""

    CFG = 0             # config reader: bundle header (sequence number, active kernels, synchronisation)
    FEATURE_READER = 1  # DDR -> stream buffer, two 4-D block descriptors (main input, auxiliary operand)
    FILTER_READER = 2   # DDR -> filter cache (one half) and bias cache: one encoded filter chunk
    STREAM_BUFFER = 3   # input tile geometry and the convolution window walker feeding the PE array
    PE_ARRAY = 4        # k_vector PEs of c_vector-wide dot products: conv / depthwise / bypass
    XBAR = 5            # crossbar: order of the auxiliary kernels after the PE array
    ACTIVATION = 6
    POOL = 7
    LRN = 8
    ELTWISE = 9
    DEPTH_TO_SPACE = 10
    SOFTMAX = 11
    FEATURE_WRITER = 12  # result tile -> DDR and/or stream buffer


#: assembly mnemonics of the modules (lower case, unique)
MODULE_NAMES: dict[Module, str] = {
    Module.CFG: "cfg", Module.FEATURE_READER: "fread", Module.FILTER_READER: "wread", Module.STREAM_BUFFER: "sbuf",
    Module.PE_ARRAY: "pe", Module.XBAR: "xbar", Module.ACTIVATION: "act", Module.POOL: "pool", Module.LRN: "lrn",
    Module.ELTWISE: "elt", Module.DEPTH_TO_SPACE: "d2s", Module.SOFTMAX: "smax", Module.FEATURE_WRITER: "fwrite",
}
MODULE_BY_NAME: dict[str, Module] = {v: k for k, v in MODULE_NAMES.items()}

#: auxiliary kernels in crossbar-slot code order (slot code = index + 1; 0 ends the chain)
AUX_KERNELS: tuple[Module, ...] = (Module.ACTIVATION, Module.POOL, Module.LRN, Module.ELTWISE,
                                   Module.DEPTH_TO_SPACE, Module.SOFTMAX)
#: the `hw_models.arch.Aux` section name of each auxiliary kernel
AUX_ARCH_NAME: dict[Module, str] = {Module.ACTIVATION: "activation", Module.POOL: "pool", Module.LRN: "lrn",
                                    Module.ELTWISE: "eltwise", Module.DEPTH_TO_SPACE: "depth_to_space",
                                    Module.SOFTMAX: "softmax"}
XBAR_SLOTS = len(AUX_KERNELS)

# enumerations (value = index)
PE_MODES = ("bypass", "conv", "depthwise")
ACT_FUNCTIONS = ("identity", "relu", "relu6", "leaky_relu", "clip", "sigmoid", "tanh", "hard_sigmoid",
                 "hard_swish")
POOL_TYPES = ("max", "avg")
ELT_OPS = ("add", "sub", "mul")
D2S_MODES = ("dcr", "crd", "nearest")
#: how the PE array's w_vector multiplier columns are used (field `pe.cols`, Winograd architectures only)
PE_COLS = ("tile", "wide", "images")
XBAR_CODES = ("end",) + tuple(MODULE_NAMES[m] for m in AUX_KERNELS)


def clog2(n: int) -> int:
    """Bits to hold values 0 .. n-1 (at least 1)."""
    return max(1, math.ceil(math.log2(n))) if n > 1 else 1


@dataclass(frozen=True, slots=True)
class Field:
    """One config field. `kind`: 'u' unsigned, 's' signed, 'f32' float bits, 'enum' (value = index in `enum`).

    `lo`/`hi` are the legal range (inclusive) of the decoded value for 'u'/'s'; `word`/`bit` its position.
    """

    name: str
    width: int
    kind: str = "u"
    doc: str = ""
    enum: tuple[str, ...] = ()
    lo: int = 0
    hi: int = -1
    word: int = 0
    bit: int = 0

    def limits(self) -> tuple[int, int]:
        if self.kind == "enum":
            return 0, len(self.enum) - 1
        if self.kind == "s":
            return -(1 << (self.width - 1)), (1 << (self.width - 1)) - 1
        top = (1 << self.width) - 1
        return self.lo, (top if self.hi < self.lo else min(self.hi, top))

    def default(self) -> Any:
        if self.kind == "f32":
            return 0.0
        if self.kind == "enum":
            return self.enum[0]
        return 0

    def to_bits(self, value: Any, where: str) -> int:
        """The field's raw bits for a decoded value (raises ProgramError when out of range)."""
        if self.kind == "f32":
            try:
                return struct.unpack("<I", struct.pack("<f", float(value)))[0]
            except (TypeError, ValueError, OverflowError):
                raise ProgramError(f"{where}.{self.name} = {value!r}: not a float32 value") from None
        if self.kind == "enum":
            if isinstance(value, str):
                if value not in self.enum:
                    raise ProgramError(f"{where}.{self.name} = {value!r}: legal: {', '.join(self.enum)}")
                return self.enum.index(value)
            value = int(value)
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int):
            try:
                if float(value) != int(value):
                    raise ValueError
                value = int(value)
            except (TypeError, ValueError, OverflowError):
                raise ProgramError(f"{where}.{self.name} = {value!r}: not an integer") from None
        lo, hi = self.limits()
        if not (lo <= value <= hi or (value == 0 and self.kind == "u")):
            raise ProgramError(f"{where}.{self.name} = {value}: out of range {lo}..{hi} ({self.width} bits)")
        return value & ((1 << self.width) - 1)

    def from_bits(self, bits: int) -> Any:
        if self.kind == "f32":
            return struct.unpack("<f", struct.pack("<I", bits))[0]
        if self.kind == "enum":
            return self.enum[bits] if bits < len(self.enum) else bits
        if self.kind == "s" and bits >> (self.width - 1):
            return bits - (1 << self.width)
        return bits


@dataclass(frozen=True)
class ModuleLayout:
    """The fields of one module placed into config words."""

    module: Module
    fields: tuple[Field, ...]
    words: int
    payload_bits: int

    @property
    def name(self) -> str:
        return MODULE_NAMES[self.module]

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise ProgramError(f"module {self.name} has no field '{name}'; fields: {', '.join(self.field_names)}")

    def defaults(self) -> dict[str, Any]:
        return dict(self._defaults)

    @cached_property
    def _defaults(self) -> dict[str, Any]:
        return {f.name: f.default() for f in self.fields}

    @cached_property
    def float_fields(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.kind == "f32")

    @cached_property
    def _codec(self) -> tuple[Any, Any]:
        """Encoder and decoder functions generated for this layout (straight-line code, one line per field)."""
        p = self.payload_bits
        env: dict[str, Any] = {"F": self.fields, "KNOWN": frozenset(self.field_names), "pack": struct.pack,
                               "unpack": struct.unpack, "ProgramError": ProgramError, "self": self}
        enc = ["def enc(v, where):", "    if not KNOWN.issuperset(v):",
               "        bad = sorted(set(v) - KNOWN)",
               "        raise ProgramError(f\"{where}: unknown field '{bad[0]}'; fields: {', '.join(self.field_names)}\")",
               f"    w = [0] * {self.words}"]
        dec = ["def dec(w):", "    return {"]
        for i, f in enumerate(self.fields):
            lo, hi = f.limits()
            mask = (1 << f.width) - 1
            if f.kind == "f32":
                enc.append(f"    x = v.get({f.name!r}, 0.0)")
                enc.append("    try:\n        x = unpack('<I', pack('<f', x))[0]\n    except Exception:\n"
                           f"        x = F[{i}].to_bits(x, where)")
            elif f.kind == "enum":
                env[f"E{i}"] = {e: k for k, e in enumerate(f.enum)}
                enc.append(f"    o = v.get({f.name!r}, 0)")
                enc.append(f"    x = E{i}.get(o) if type(o) is str else None")
                enc.append(f"    if x is None:\n        x = F[{i}].to_bits(o, where)")
            else:
                enc.append(f"    x = v.get({f.name!r}, 0)")
                low = f"(x < {lo} and x != 0)" if lo > 0 else f"x < {lo}"
                enc.append(f"    if type(x) is not int or {low} or x > {hi}:\n        x = F[{i}].to_bits(x, where)")
                if f.kind == "s":
                    enc.append(f"    x &= {mask}")
            if f.width > p:
                for j in range(-(-f.width // p)):
                    enc.append(f"    w[{f.word + j}] |= (x >> {j * p}) & {(1 << p) - 1}")
                raw = " | ".join(f"(w[{f.word + j}] << {j * p})" for j in range(-(-f.width // p)))
            else:
                enc.append(f"    w[{f.word}] |= x << {f.bit}" if f.bit else f"    w[{f.word}] |= x")
                raw = f"((w[{f.word}] >> {f.bit}) & {mask})" if f.bit else f"(w[{f.word}] & {mask})"
            if f.kind == "u":
                dec.append(f"        {f.name!r}: {raw},")
            elif f.kind == "enum":
                env[f"N{i}"] = f.enum
                dec.append(f"        {f.name!r}: (lambda b: N{i}[b] if b < {len(f.enum)} else b)({raw}),")
            else:
                dec.append(f"        {f.name!r}: F[{i}].from_bits({raw}),")
        enc.append("    return w")
        dec.append("    }")
        exec("\n".join(enc), env)
        exec("\n".join(dec), env)
        return env["enc"], env["dec"]

    def encode(self, values: Mapping[str, Any], where: str = "") -> list[int]:
        """Config words for `values` (missing fields are zero; unknown names raise ProgramError)."""
        return self._codec[0](values, where or self.name)

    def decode(self, words: list[int]) -> dict[str, Any]:
        return self._codec[1](words)


def _place(module: Module, fields: Iterable[Field], payload_bits: int) -> ModuleLayout:
    placed: list[Field] = []
    word, bit = 0, 0
    for f in fields:
        if f.width > payload_bits:
            if bit:
                word, bit = word + 1, 0
            placed.append(Field(f.name, f.width, f.kind, f.doc, f.enum, f.lo, f.hi, word, 0))
            word += -(-f.width // payload_bits)
            continue
        if bit + f.width > payload_bits:
            word, bit = word + 1, 0
        placed.append(Field(f.name, f.width, f.kind, f.doc, f.enum, f.lo, f.hi, word, bit))
        bit += f.width
        if bit == payload_bits:
            word, bit = word + 1, 0
    return ModuleLayout(module, tuple(placed), word + (1 if bit else 0), payload_bits)


# --- field lists ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Widths:
    """Architecture-derived field widths (see the module docstring)."""

    SB: int
    SBN: int
    FCN: int
    KT: int
    CVB: int
    PW: int   # pool window / pad
    LS: int   # LRN size
    DB: int   # depth-to-space block
    KS: int   # convolution kernel extent and pads


_WIDTHS: dict[int, tuple[Any, Widths]] = {}


def widths_for(arch) -> Widths:
    """The derived field widths of an architecture (memoised per Arch object; Arch is immutable)."""
    hit = _WIDTHS.get(id(arch))
    if hit is not None and hit[0] is arch:
        return hit[1]
    w = _widths(arch)
    if len(_WIDTHS) > 256:
        _WIDTHS.clear()
    _WIDTHS[id(arch)] = (arch, w)
    return w


def _widths(arch) -> Widths:
    sb, fc, pe, aux = arch.stream_buffer, arch.filter_cache, arch.pe_array, arch.aux
    return Widths(
        SB=clog2(sb.depth), SBN=clog2(sb.depth + 1), FCN=clog2(fc.depth + 1),
        KT=clog2(pe.k_vector * fc.depth + 1), CVB=clog2(pe.c_vector) if pe.c_vector > 1 else 1,
        PW=clog2(max(aux.pool.max_window, 2) + 1), LS=clog2(aux.lrn.max_size + 1),
        DB=clog2(aux.depth_to_space.max_block + 1), KS=clog2(fc.depth + 1),
    )


def _f(name: str, width: int, doc: str, kind: str = "u", enum: tuple[str, ...] = (), lo: int = 0,
       hi: int = -1) -> Field:
    return Field(name, width, kind, doc, enum, lo, hi)


def _fields(arch, w: Widths) -> dict[Module, list[Field]]:
    D, C, S = DDR_ADDR_BITS, CHANNEL_BITS, STRIDE_BITS
    aux = arch.aux
    n_modules = len(Module)

    def reader(d: str, what: str) -> list[Field]:
        return [
            _f(f"{d}_en", 1, f"1: copy the {what} block from DDR into the stream buffer this bundle"),
            _f(f"{d}_raw", 1, "1: elements are raw 4-byte accumulators (fp32 / int32), 0: feature format"),
            _f(f"{d}_ddr", D, "DDR byte address of the block's first element"),
            _f(f"{d}_pn", D, "DDR byte pitch between images"),
            _f(f"{d}_pc", D, "DDR byte pitch between channel blocks"),
            _f(f"{d}_py", D, "DDR byte pitch between rows"),
            _f(f"{d}_n", w.SBN, "images in the block"),
            _f(f"{d}_cb", w.SBN, "channel blocks (of c_vector channels) in the block"),
            _f(f"{d}_rows", w.SBN, "rows in the block"),
            _f(f"{d}_width", w.SBN, "columns (entries) per row; a row is contiguous in DDR"),
            _f(f"{d}_sb", w.SB, "stream-buffer entry address of the block"),
        ]

    return {
        Module.CFG: [
            _f("seq", 24, "bundle sequence number (equals the bundle's index in the program)"),
            _f("active", n_modules, "bit m set: module ID m takes part in this bundle"),
            _f("wait", 1, "1: the feature reader waits until every earlier bundle's writes are complete"),
            _f("last", 1, "1: last bundle of the program"),
        ],
        Module.FEATURE_READER: reader("r0", "main input") + reader("r1", "auxiliary operand (eltwise / partial sum)"),
        Module.FILTER_READER: [
            _f("en", 1, "1: load a filter chunk this bundle; 0: the PE array reuses the cached bank"),
            _f("bank", 1, "filter-cache half (and bias-cache half) written"),
            _f("ddr", D, "DDR byte address of the chunk"),
            _f("bytes", D, "chunk length in bytes"),
            _f("filters", w.KT, "filters in the chunk (depthwise: channel blocks)"),
            _f("entries", w.FCN, "filter-cache entries per filter (c_vector weights each)"),
            _f("nbias", w.KT, "biases at the end of the chunk (0: none)"),
        ],
        Module.STREAM_BUFFER: [
            _f("sb", w.SB, "entry address of the input tile"),
            _f("n", w.SBN, "images in the tile"),
            _f("cb", w.SBN, "channel blocks in the tile"),
            _f("c_first", C, "absolute index of the tile's first channel (a multiple of c_vector)"),
            _f("rows", w.SBN, "input rows in the tile"),
            _f("width", w.SBN, "input columns in the tile"),
            _f("kh", w.KS, "window height"), _f("kw", w.KS, "window width"),
            _f("sy", S, "vertical stride", lo=1), _f("sx", S, "horizontal stride", lo=1),
            _f("dy", S, "vertical dilation", lo=1), _f("dx", S, "horizontal dilation", lo=1),
            _f("pt", w.KS, "zero rows above the tile"), _f("pb", w.KS, "zero rows below the tile"),
            _f("pl", w.KS, "zero columns left of the tile"), _f("pr", w.KS, "zero columns right of the tile"),
            _f("oh", w.SBN, "output rows produced"), _f("ow", w.SBN, "output columns produced"),
        ],
        Module.PE_ARRAY: [
            _f("mode", 2, "bypass: tile passes through; conv: (grouped) convolution; depthwise", "enum", PE_MODES),
            _f("wino", 1, "1: 1-D Winograd F(q_vector, 3) along the width (filters stored transformed)"),
            _f("bank", 1, "filter-cache / bias-cache half read"),
            _f("bias", 1, "1: accumulators start from the cached bias"),
            _f("k", w.KT, "output channels of the tile (filters used)"),
            _f("k_first", C, "absolute index of the tile's first output channel"),
            _f("k_per_group", C + 1, "output channels per group (K for a dense convolution)"),
            _f("c_per_group", C + 1, "input channels per group (C for a dense convolution)"),
            _f("c_offset", C, "first input channel of the filters within their group (input-channel slicing)"),
            _f("c_count", C + 1, "input channels each cached filter covers"),
            _f("psum_in", 1, "1: accumulators start from the raw partial-sum tile at psum_sb"),
            _f("psum_sb", w.SB, "stream-buffer address of the partial-sum tile (read by fread r1)"),
            _f("psum_out", 1, "1: emit raw accumulators (skip requantisation and the aux chain)"),
            _f("rq_mult", 16, "int8: requantisation multiplier (acc * rq_mult) >> rq_shift"),
            _f("rq_shift", 6, "int8: requantisation shift"),
        ] + ([_f("cols", 2, "column mapping: tile = q_vector outputs per pass (Winograd tile; direct on q_vector "
                             "columns), wide = w_vector consecutive output columns (direct, sx = 1), images = "
                             "w_vector images of one output position (direct, ow = 1)", "enum", PE_COLS)]
             if arch.pe_array.winograd else []),
        Module.XBAR: [_f(f"s{i}", 3, f"aux kernel in chain position {i} (end terminates)", "enum", XBAR_CODES)
                      for i in range(XBAR_SLOTS)],
        Module.ACTIVATION: [
            _f("fn", 4, "function for channels below `split`", "enum", ACT_FUNCTIONS),
            _f("fn2", 4, "function for channels at or above `split` (when split > 0)", "enum", ACT_FUNCTIONS),
            _f("split", C, "first channel (tile-relative) that uses fn2; 0: fn for all"),
            _f("alpha", 32, "leaky_relu slope; clip minimum; hard_sigmoid alpha", "f32"),
            _f("beta", 32, "clip maximum; hard_sigmoid beta", "f32"),
            _f("lo", 8, "int8: clamp minimum (relu/relu6/clip)", "s"),
            _f("hi", 8, "int8: clamp maximum (relu/relu6/clip)", "s"),
            _f("lut", 1, "int8: 1 = look-up table activation (fn / fn2 tables of 256 bytes at lut_ddr)"),
            _f("lut_ddr", D, "int8: DDR byte address of the table(s)"),
        ],
        Module.POOL: [
            _f("type", 1, "max or avg", "enum", POOL_TYPES),
            _f("kh", w.PW, "window height", lo=1, hi=aux.pool.max_window),
            _f("kw", w.PW, "window width", lo=1, hi=aux.pool.max_window),
            _f("sy", S, "vertical stride", lo=1), _f("sx", S, "horizontal stride", lo=1),
            _f("pt", w.PW, "pad rows above"), _f("pb", w.PW, "pad rows below"),
            _f("pl", w.PW, "pad columns left"), _f("pr", w.PW, "pad columns right"),
            _f("incl_pad", 1, "avg: 1 = divide by the window clipped to the padded area, 0 = to the input"),
            _f("oh", w.SBN, "output rows"), _f("ow", w.SBN, "output columns"),
        ],
        Module.LRN: [
            _f("size", w.LS, "window across channels", lo=1, hi=aux.lrn.max_size),
            _f("alpha", 32, "alpha", "f32"), _f("beta", 32, "beta", "f32"), _f("bias", 32, "bias (k)", "f32"),
            _f("in_scale", 32, "int8: input scale", "f32"), _f("out_scale", 32, "int8: output scale", "f32"),
        ],
        Module.ELTWISE: [
            _f("op", 2, "operation with the operand tile", "enum", ELT_OPS),
            _f("swap", 1, "1: the operand is the left-hand side (operand op stream)"),
            _f("sb", w.SB, "stream-buffer address of the operand tile (read by fread r1)"),
            _f("ma", 16, "int8: multiplier of the stream"), _f("mb", 16, "int8: multiplier of the operand"),
            _f("shift", 6, "int8: result shift"),
        ],
        Module.DEPTH_TO_SPACE: [
            _f("mode", 2, "dcr / crd depth-to-space, or nearest upsampling", "enum", D2S_MODES),
            _f("block", w.DB, "block size", lo=1, hi=aux.depth_to_space.max_block),
        ],
        Module.SOFTMAX: [
            _f("en", 1, "1 (softmax over the tile's channels)"),
            _f("in_scale", 32, "int8: input scale", "f32"), _f("out_scale", 32, "int8: output scale", "f32"),
        ],
        Module.FEATURE_WRITER: [
            _f("ddr_en", 1, "1: write the tile to DDR"),
            _f("raw", 1, "1: raw 4-byte accumulators (partial sums), 0: feature format"),
            _f("ddr", D, "DDR byte address of the tile's first block"),
            _f("pn", D, "DDR byte pitch between images"),
            _f("pc", D, "DDR byte pitch between channel blocks"),
            _f("py", D, "DDR byte pitch between rows"),
            _f("n", w.SBN, "images"),
            _f("c", C + 1, "channels written"),
            _f("c_first", w.CVB, "element offset of the first channel inside its block (masked writes)"),
            _f("zfill", 1, "1: also write zeros to the lanes after the last channel up to the end of its block"),
            _f("rows", w.SBN, "rows"),
            _f("width", w.SBN, "columns"),
            _f("sb_en", 1, "1: also write the tile to the stream buffer"),
            _f("sb", w.SB, "stream-buffer entry address"),
        ],
    }


# --- the ISA for one architecture ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Packet:
    module: Module
    index: int
    payload: int
    last: bool
    eob: bool


class ISA:
    """Field layout and packet codec for one architecture. Build with `ISA.for_arch(arch)` (cached)."""

    def __init__(self, arch):
        cn = arch.config_network
        if cn.reader_bits < cn.payload_bits + HEADER_BITS:
            raise ArchError(f"config_network.reader_bits = {cn.reader_bits}: must be at least payload_bits + "
                            f"{HEADER_BITS} = {cn.payload_bits + HEADER_BITS} to carry the packet header; "
                            f"raise reader_bits or lower payload_bits")
        self.arch = arch
        self.payload_bits = cn.payload_bits
        self.packet_bits = cn.reader_bits
        self.packet_bytes = cn.reader_bits // 8
        self.widths = widths_for(arch)
        self.modules: dict[Module, ModuleLayout] = {
            m: _place(m, fs, self.payload_bits) for m, fs in _fields(arch, self.widths).items()}
        for m, lay in self.modules.items():
            if lay.words > (1 << WORD_INDEX_BITS):
                raise ArchError(f"module {lay.name} needs {lay.words} config words > {1 << WORD_INDEX_BITS}")

    @staticmethod
    def for_arch(arch) -> "ISA":
        return _isa_cached(arch.model_dump_json())

    def layout(self, module: Module | str) -> ModuleLayout:
        return self.modules[_module(module)]

    # --- packets -------------------------------------------------------------------------------------------
    def encode_bundle(self, config: Mapping[Module, Mapping[str, Any]], where: str = "bundle") -> list[int]:
        """Packets (as ints) of one bundle; `config` holds the active modules (CFG included) and their fields."""
        return [x for _, x in self.module_packets(config, where)]

    def canonical(self, config: Mapping[Module | str, Mapping[str, Any]], where: str = "bundle",
                  validate: bool = True) -> dict[Module, dict[str, Any]]:
        """Full decoded fields (defaults filled, floats rounded to float32, `cfg.active` set) of a bundle's
        config, exactly as a decoder of its packets returns them. With `validate=False` the ranges are checked
        later, when the bundle is encoded."""
        cfg = {_module(m): v for m, v in config.items()}
        cfg[Module.CFG] = dict(cfg.get(Module.CFG, {}))
        cfg[Module.CFG]["active"] = sum(1 << int(m) for m in cfg)
        out = {}
        for m in sorted(cfg):
            lay = self.modules[m]
            if validate:
                out[m] = lay.decode(lay.encode(cfg[m], f"{where}.{lay.name}"))
            else:
                d = lay.defaults()
                d.update(cfg[m])
                for name in lay.float_fields:
                    d[name] = struct.unpack("<f", struct.pack("<f", float(d[name])))[0]
                out[m] = d
        return out

    def packets_to_bytes(self, packets: list[int]) -> bytes:
        nb = self.packet_bytes
        if nb == 8:
            import numpy as np

            return np.array(packets, dtype="<u8").tobytes()
        return b"".join(x.to_bytes(nb, "little") for x in packets)

    def split_packet(self, x: int) -> Packet:
        p = self.payload_bits
        mid = (x >> p) & ((1 << MODULE_ID_BITS) - 1)
        if mid >= len(Module):
            raise ProgramError(f"config packet {x:#x}: unknown module ID {mid}")
        if x >> (p + HEADER_BITS):
            raise ProgramError(f"config packet {x:#x}: reserved header bits are set")
        return Packet(Module(mid), (x >> (p + 8)) & 0xFF, x & ((1 << p) - 1), bool((x >> (p + 6)) & 1),
                      bool((x >> (p + 7)) & 1))

    def decode_stream(self, data: bytes) -> list[dict[Module, dict[str, Any]]]:
        """Split a config stream into bundles of decoded fields (raises ProgramError on a malformed stream)."""
        nb = self.packet_bytes
        if len(data) % nb:
            raise ProgramError(f"config stream of {len(data)} bytes is not a whole number of {nb}-byte packets")
        p = self.payload_bits
        pmask = (1 << p) - 1
        modules = tuple(Module)
        nmod = len(modules)
        if nb == 8:
            import numpy as np

            values = np.frombuffer(data, dtype="<u8").tolist()
        else:
            values = [int.from_bytes(data[o:o + nb], "little") for o in range(0, len(data), nb)]
        bundles: list[dict[Module, dict[str, Any]]] = []
        words: dict[Module, list[int]] = {}
        closed: set[Module] = set()
        for k, x in enumerate(values):
            head = x >> p
            mid = head & 0x3F
            if mid >= nmod:
                raise ProgramError(f"config packet {x:#x} (byte {k * nb}): unknown module ID {mid}")
            if head >> HEADER_BITS:
                raise ProgramError(f"config packet {x:#x} (byte {k * nb}): reserved header bits are set")
            m = modules[mid]
            idx = (head >> 8) & 0xFF
            lay = self.modules[m]
            if idx >= lay.words:
                raise ProgramError(f"config stream bundle {len(bundles)} (byte {k * nb}): word index {idx} >= "
                                   f"{lay.words} words of module {lay.name}")
            if m in closed:
                raise ProgramError(f"config stream bundle {len(bundles)} (byte {k * nb}): module {lay.name} sent "
                                   f"words after its last word")
            w = words.get(m)
            if w is None:
                w = words[m] = [0] * lay.words
            w[idx] = x & pmask
            if (head >> 6) & 1:
                closed.add(m)
            if (head >> 7) & 1:
                where = f"config stream bundle {len(bundles)} (byte {k * nb})"
                if Module.CFG not in words:
                    raise ProgramError(f"{where}: bundle has no cfg words")
                open_ = set(words) - closed
                if open_:
                    raise ProgramError(f"{where}: module(s) {sorted(MODULE_NAMES[m] for m in open_)} not closed")
                decoded = {mm: self.modules[mm].decode(ww) for mm, ww in sorted(words.items())}
                mask = decoded[Module.CFG]["active"]
                got = sum(1 << int(mm) for mm in decoded)
                if mask != got:
                    raise ProgramError(f"{where}: cfg.active = {mask:#x} but modules {got:#x} sent words")
                bundles.append(decoded)
                words, closed = {}, set()
        if words:
            raise ProgramError(f"config stream ends inside bundle {len(bundles)} (no end-of-bundle packet)")
        return bundles

    def module_packets(self, config: Mapping[Module, Mapping[str, Any]], where: str = "bundle"
                       ) -> list[tuple[Module, int]]:
        """(module, packet) pairs of one bundle, canonical order (see `encode_bundle`)."""
        p = self.payload_bits
        active = sorted(_module(m) for m in config)
        if not active or active[0] != Module.CFG:
            raise ProgramError(f"{where}: the cfg module must take part in every bundle")
        mask = 0
        for m in active:
            mask |= 1 << int(m)
        cfg = dict(config[_module_key(config, Module.CFG)])
        if cfg.get("active", mask) != mask:
            raise ProgramError(f"{where}: cfg.active = {cfg.get('active'):#x} does not match the modules given "
                               f"({mask:#x})")
        cfg["active"] = mask
        out: list[tuple[Module, int]] = []
        for m in active:
            values = cfg if m == Module.CFG else config[_module_key(config, m)]
            words = self.modules[m].encode(values, f"{where}.{MODULE_NAMES[m]}")
            sent = [i for i, wd in enumerate(words) if wd or i == 0]
            last = len(sent) - 1
            mid = int(m) << p
            for j, i in enumerate(sent):
                out.append((m, words[i] | mid | ((j == last) << (p + 6)) | (i << (p + 8))))
        m, x = out[-1]
        out[-1] = (m, x | (1 << (p + 7)))
        return out

    # --- documentation -----------------------------------------------------------------------------------
    def field_table(self) -> str:
        """A markdown table of every module's fields with their words, bits, widths and legal ranges."""
        rows = ["| module (ID) | field | word | bits | width | legal | meaning |", "|---|---|---|---|---|---|---|"]
        for m, lay in self.modules.items():
            for f in lay.fields:
                if f.kind == "enum":
                    legal = " / ".join(f.enum)
                elif f.kind == "f32":
                    legal = "float32"
                else:
                    lo, hi = f.limits()
                    legal = f"{lo}..{hi}"
                bits = f"{f.bit}..{f.bit + f.width - 1}" if f.width <= self.payload_bits else "whole words"
                rows.append(f"| {lay.name} ({int(m)}) | `{f.name}` | {f.word} | {bits} | {f.width} | {legal} | "
                            f"{f.doc} |")
        return "\n".join(rows)


def _module(m: Module | str | int) -> Module:
    if isinstance(m, Module):
        return m
    if isinstance(m, str):
        if m not in MODULE_BY_NAME:
            raise ProgramError(f"unknown module '{m}'; modules: {', '.join(MODULE_BY_NAME)}")
        return MODULE_BY_NAME[m]
    return Module(int(m))


def _module_key(config: Mapping, m: Module):
    if m in config:
        return m
    return MODULE_NAMES[m]


@lru_cache(maxsize=64)
def _isa_cached(arch_json: str) -> ISA:
    from hw_models.arch import Arch

    return ISA(Arch.model_validate_json(arch_json))


def main(argv: list[str] | None = None) -> int:
    """`python -m compiler.isa [ARCH]`: print the field table of an architecture (docs/isa.md embeds it)."""
    import sys

    from hw_models.arch import load_arch

    args = sys.argv[1:] if argv is None else argv
    arch = load_arch(args[0] if args else "a10_generic")
    isa = ISA.for_arch(arch)
    w = isa.widths
    print(f"Architecture `{arch.name}`: payload {isa.payload_bits} bits, packet {isa.packet_bits} bits; "
          f"SB={w.SB} SBN={w.SBN} FCN={w.FCN} KT={w.KT} CVB={w.CVB} KS={w.KS} PW={w.PW} LS={w.LS} DB={w.DB}; "
          f"words per module: " + ", ".join(f"{lay.name} {lay.words}" for lay in isa.modules.values()) + ".\n")
    print(isa.field_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
