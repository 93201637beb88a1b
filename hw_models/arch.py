"""Architecture description: one TOML file per overlay instance, the single source of truth for every model.

The file holds primary parameters only; derived quantities (peak MACs per cycle, bytes per element, DDR bytes
per cycle, ...) are properties computed here and nowhere else. Validation has two layers: the schema (types,
ranges, enumerations, unknown keys rejected) and cross-field legality rules; every problem is reported at once,
each naming the field, its value and the legal values, in a single one-line `ArchError`.

Units are in field names: `clock_mhz`, `bandwidth_gbs` (GB/s = 1e9 bytes/s), `latency_ns`; buffer depths are
in entries, where one entry is c_vector elements.
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from compiler.errors import ArchError

ARCH_DIR = Path(__file__).parent / "archs"
DEVICES_FILE = Path(__file__).parent / "devices.toml"
DEFAULT_ARCH = "a10_generic"

Precision = Literal["fp32", "fp16", "bfp16", "bfp11", "int8"]
ActivationFn = Literal["relu", "relu6", "leaky_relu", "prelu", "clip", "sigmoid", "tanh", "hard_sigmoid",
                       "hard_swish"]
C_VECTORS = (4, 8, 16, 32, 64)
LANES = (1, 2, 4)
POOL_WINDOWS = (3, 7, 13)


@dataclass(frozen=True)
class PrecisionInfo:
    """Storage and arithmetic of a precision mode.

    bfp: block floating point, one shared exponent per c_vector block (`exponent_bits`), `mantissa_bits`
    including sign. Features travel to/from DDR as FP16 in the bfp modes and are blocked on chip.
    """

    name: str
    feature_bits: int        # bits per feature element in DDR
    filter_bits: int         # bits per filter element in DDR, before the shared exponent
    mantissa_bits: int       # multiplier operand width (incl. sign); 24 for fp32, 11 for fp16
    exponent_bits: int       # per element (fp) or per c_vector block (bfp); 0 for int8
    block_exponent: bool     # True for bfp
    integer: bool            # True for int8 (INT32 accumulation)


PRECISIONS: dict[str, PrecisionInfo] = {
    "fp32": PrecisionInfo("fp32", 32, 32, 24, 8, False, False),
    "fp16": PrecisionInfo("fp16", 16, 16, 11, 5, False, False),
    "bfp16": PrecisionInfo("bfp16", 16, 12, 12, 5, True, False),   # AI Suite "FP16" = INT12-BFP (1s.11m.5e)
    "bfp11": PrecisionInfo("bfp11", 16, 7, 7, 5, True, False),     # AI Suite "FP11" = INT7-BFP (1s.6m.5e)
    "int8": PrecisionInfo("int8", 8, 8, 8, 0, False, True),
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PEArray(_Section):
    k_vector: int = Field(ge=1, le=256, description="PEs (filters computed in parallel)")
    c_vector: int = Field(description="dot-product length per PE; also the BFP block size")
    lanes: int = Field(1, description="output rows computed in parallel, each with its own PEs")
    winograd: bool = Field(False, description="1-D Winograd F(q_vector, 3) along the output width")
    q_vector: int = Field(1, ge=1, le=8, description="output columns per PE pass (Winograd output tile width)")
    interleave_features: int = Field(4, ge=1, le=16)
    interleave_filters: int = Field(1, ge=1, le=16)
    dsp_limit: int = Field(0, ge=0, description="multipliers beyond this many DSPs are built in ALMs (0: none)")
    exit_fifo_depth: int = Field(1024, ge=16, le=65536)

    @property
    def w_vector(self) -> int:
        """Input columns consumed per pass: q + r - 1 with r = 3 under Winograd, else q."""
        return self.q_vector + 2 if self.winograd else self.q_vector


class StreamBuffer(_Section):
    depth: int = Field(ge=256, le=1 << 20, description="entries of c_vector features (all banks together)")
    banks: int = Field(2, ge=1, le=4, description="2 = double buffered (read one layer while writing the next)")


class FilterCache(_Section):
    depth: int = Field(ge=16, le=1 << 16, description="entries of c_vector weights per PE")
    bias_depth: int = Field(512, ge=16, le=1 << 16)
    double_buffered: bool = True


class DDR(_Section):
    bandwidth_gbs: float = Field(gt=0, le=1000, description="peak DDR bandwidth in GB/s (1e9 B/s)")
    word_bytes: int = Field(64, description="DDR/AXI data word")
    latency_ns: float = Field(150.0, ge=0, le=10000, description="read latency, first word")
    efficiency: float = Field(0.85, gt=0, le=1, description="sustained fraction of peak bandwidth")


class AuxKernel(_Section):
    enabled: bool = True
    k_vector: int = Field(16, ge=1, le=256, description="channels processed per cycle")


class ActivationAux(AuxKernel):
    functions: tuple[ActivationFn, ...] = ("relu", "relu6", "leaky_relu", "prelu", "clip", "sigmoid", "tanh",
                                           "hard_sigmoid", "hard_swish")


class PoolAux(AuxKernel):
    max_window: int = 3
    types: tuple[Literal["max", "avg"], ...] = ("max", "avg")


class LRNAux(AuxKernel):
    max_size: int = Field(5, ge=1, le=15)


class EltwiseAux(AuxKernel):
    ops: tuple[Literal["add", "sub", "mul"], ...] = ("add", "sub", "mul")


class DepthToSpaceAux(AuxKernel):
    max_block: int = Field(4, ge=2, le=8)


class Aux(_Section):
    activation: ActivationAux = ActivationAux()
    pool: PoolAux = PoolAux()
    lrn: LRNAux = LRNAux()
    eltwise: EltwiseAux = EltwiseAux()
    softmax: AuxKernel = AuxKernel()
    depth_to_space: DepthToSpaceAux = DepthToSpaceAux()


class ConfigNetwork(_Section):
    payload_bits: int = Field(32, description="config word payload (the reference design: 32)")
    reader_bits: int = Field(64, description="config reader port width (the reference design: 64)")
    fifo_depth: int = Field(32, description="per-module config FIFO (32 fills an MLAB, 512 an M20K)")


class Arch(_Section):
    """One overlay instance. Build with `load_arch(name_or_path)`; fields mirror the TOML file."""

    name: str
    description: str = ""
    device: str
    clock_mhz: float = Field(265.0, gt=0, le=1000, description="assumed fMAX (an input, as Intel's estimator)")
    precision: Precision = "fp16"
    pe_array: PEArray
    stream_buffer: StreamBuffer
    filter_cache: FilterCache
    ddr: DDR
    aux: Aux = Aux()
    config_network: ConfigNetwork = ConfigNetwork()
    notes: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _legal(self) -> "Arch":
        errors = legality_errors(self)
        if errors:
            raise ValueError(" | ".join(errors))
        return self

    # --- derived quantities: computed here only --------------------------------------------------------------
    @cached_property
    def precision_info(self) -> PrecisionInfo:
        return PRECISIONS[self.precision]

    @cached_property
    def winograd_factor(self) -> float:
        """Direct-convolution MACs per physical multiply for 3-wide filters: q*3 / (q + 2) under F(q, 3)."""
        pe = self.pe_array
        return pe.q_vector * 3 / pe.w_vector if pe.winograd else 1.0

    @cached_property
    def multipliers(self) -> int:
        """Physical multipliers in the PE array."""
        pe = self.pe_array
        return pe.k_vector * pe.c_vector * pe.lanes * pe.w_vector

    @cached_property
    def peak_macs_per_cycle(self) -> int:
        """Dense (non-Winograd) MACs per cycle: k_vector x c_vector x lanes x q_vector."""
        pe = self.pe_array
        return pe.k_vector * pe.c_vector * pe.lanes * pe.q_vector

    @cached_property
    def winograd_macs_per_cycle(self) -> float:
        """Direct-convolution-equivalent MACs per cycle of a 3-wide convolution in Winograd mode: every physical
        multiplier (k x c x lanes x w_vector) does winograd_factor MACs; equals peak_macs_per_cycle without it."""
        return self.multipliers * self.winograd_factor if self.pe_array.winograd else float(self.peak_macs_per_cycle)

    @cached_property
    def accumulator_threads(self) -> int:
        """Independent accumulations a PE interleaves to hide its accumulator latency (features x filters)."""
        return self.pe_array.interleave_features * self.pe_array.interleave_filters

    @cached_property
    def pe_pipeline_cycles(self) -> int:
        """Cycles from an input entry entering the PE array to its result leaving it (structural count, as in
        rtl/hdl/ovl_pe_array.v): the feature broadcast register, the operand register, one multiplier stage, a
        clog2(c_vector) adder tree and the accumulation adder (one stage: the accumulator_threads interleaved
        partial sums circulate behind it, which sets the issue order, not the latency), and the Winograd input
        and output transforms (one stage each) when enabled."""
        return (4 + math.ceil(math.log2(self.pe_array.c_vector))
                + (2 if self.pe_array.winograd else 0))

    @cached_property
    def stream_buffer_entry_bytes(self) -> float:
        """Bytes of one stream-buffer entry (c_vector features in the feature format)."""
        return self.pe_array.c_vector * self.feature_bytes

    @cached_property
    def clock_hz(self) -> float:
        return self.clock_mhz * 1e6

    @cached_property
    def ddr_bytes_per_cycle(self) -> float:
        """Sustained DDR bytes per overlay clock cycle."""
        return self.ddr.bandwidth_gbs * 1e9 * self.ddr.efficiency / self.clock_hz

    @cached_property
    def ddr_latency_cycles(self) -> int:
        return math.ceil(self.ddr.latency_ns * 1e-9 * self.clock_hz)

    @cached_property
    def feature_bytes(self) -> float:
        return self.precision_info.feature_bits / 8

    @cached_property
    def filter_bytes(self) -> float:
        """DDR bytes per filter element, shared BFP exponent amortised over the c_vector block."""
        p = self.precision_info
        bits = p.filter_bits + (p.exponent_bits / self.pe_array.c_vector if p.block_exponent else 0)
        return bits / 8

    @cached_property
    def stream_buffer_elements(self) -> int:
        return self.stream_buffer.depth * self.pe_array.c_vector

    @cached_property
    def filter_cache_elements(self) -> int:
        """Weights one PE holds (one filter cache), all buffers together."""
        return self.filter_cache.depth * self.pe_array.c_vector

    @cached_property
    def device_info(self) -> "Device":
        return devices()[self.device]

    def with_changes(self, **changes: Any) -> "Arch":
        """A validated variant: dotted keys for nested fields, e.g. `with_changes(**{"pe_array.k_vector": 32})`."""
        data = self.model_dump()
        for key, value in changes.items():
            *path, leaf = key.split(".")
            d = data
            for p in path:
                d = d[p]
            d[leaf] = value
        return arch_from_dict(data, source=f"{self.name} (modified)")

    def summary(self) -> str:
        pe = self.pe_array
        peak = 2 * self.winograd_macs_per_cycle * self.clock_hz / 1e9
        aux = ", ".join(k for k, v in self.aux if v.enabled)
        return "\n".join([
            f"architecture {self.name}: {self.description}".rstrip(": "),
            f"  device        {self.device} ({self.device_info.name})",
            f"  clock         {self.clock_mhz:g} MHz (assumed fMAX)",
            f"  precision     {self.precision}",
            f"  PE array      k_vector={pe.k_vector} c_vector={pe.c_vector} lanes={pe.lanes} q_vector={pe.q_vector}"
            f" winograd={'on' if pe.winograd else 'off'} interleave={pe.interleave_features}x{pe.interleave_filters}",
            f"  multipliers   {self.multipliers:,}; peak {self.winograd_macs_per_cycle:,.0f}"
            f" MAC/cycle = {peak:,.1f} GOP/s",
            f"  stream buffer {self.stream_buffer.depth:,} entries x {pe.c_vector} = {self.stream_buffer_elements:,}"
            f" features, {self.stream_buffer.banks} bank(s)",
            f"  filter cache  {self.filter_cache.depth:,} entries per PE ({self.filter_cache_elements:,} weights)",
            f"  DDR           {self.ddr.bandwidth_gbs:g} GB/s peak x {self.ddr.efficiency:g} ="
            f" {self.ddr_bytes_per_cycle:.1f} B/cycle, latency {self.ddr.latency_ns:g} ns",
            f"  aux kernels   {aux}",
            f"  config net    {self.config_network.payload_bits}-bit payloads, {self.config_network.reader_bits}-bit"
            f" reader, FIFO depth {self.config_network.fifo_depth}",
        ] + [f"  note          {n}" for n in self.notes])


# --- devices ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Device:
    key: str
    name: str
    family: str
    logic: str
    alms: int
    registers: int
    dsps: int
    memory: str
    memory_blocks: int
    memory_bits: int
    memory_shapes: tuple[tuple[int, int], ...]
    interleave: tuple[tuple[int, int], ...]
    source: str


@cache
def devices() -> dict[str, Device]:
    raw = tomllib.loads(DEVICES_FILE.read_text())
    out = {}
    for key, d in raw["devices"].items():
        mem = raw["memory_blocks"][d["memory"]]
        out[key] = Device(key, d["name"], d["family"], d["logic"], d["alms"], d["registers"], d["dsps"],
                          d["memory"], d["memory_blocks"], mem["bits"], tuple(map(tuple, mem["shapes"])),
                          tuple(map(tuple, raw["interleave"][d["family"]])), d["source"])
    return out


# --- legality rules ---------------------------------------------------------------------------------------------
def legality_errors(a: Arch) -> list[str]:
    """Cross-field rules. Each message names the field, the offending value and the legal values."""
    pe = a.pe_array
    errs: list[str] = []
    devs = devices()
    if a.device not in devs:
        errs.append(f"device = '{a.device}': unknown; legal: {', '.join(devs)}")
    if pe.c_vector not in C_VECTORS:
        errs.append(f"pe_array.c_vector = {pe.c_vector}: legal: {', '.join(map(str, C_VECTORS))}")
    elif pe.k_vector % pe.c_vector:
        legal = [k for k in range(pe.c_vector, 257, pe.c_vector)][:8]
        errs.append(f"pe_array.k_vector = {pe.k_vector}: must be a multiple of c_vector ({pe.c_vector}); legal: "
                    f"{', '.join(map(str, legal))}, ...")
    if pe.lanes not in LANES:
        errs.append(f"pe_array.lanes = {pe.lanes}: legal: {', '.join(map(str, LANES))}")
    if pe.winograd and pe.q_vector < 2:
        errs.append(f"pe_array.q_vector = {pe.q_vector}: Winograd needs q_vector >= 2; legal: 2..8")
    if a.device in devs:
        combos = devs[a.device].interleave
        got = (pe.interleave_features, pe.interleave_filters)
        if got not in combos:
            errs.append(f"pe_array.interleave_features x interleave_filters = {got[0]}x{got[1]}: legal on "
                        f"{devs[a.device].family}: {', '.join(f'{f}x{k}' for f, k in combos)}")
    for name, kern in a.aux:
        if kern.enabled and pe.k_vector % kern.k_vector:
            divisors = [d for d in range(1, pe.k_vector + 1) if pe.k_vector % d == 0]
            errs.append(f"aux.{name}.k_vector = {kern.k_vector}: must divide pe_array.k_vector ({pe.k_vector}); "
                        f"legal: {', '.join(map(str, divisors))}")
    if a.aux.pool.max_window not in POOL_WINDOWS:
        errs.append(f"aux.pool.max_window = {a.aux.pool.max_window}: legal: {', '.join(map(str, POOL_WINDOWS))}")
    if a.ddr.word_bytes not in (16, 32, 64, 128):
        errs.append(f"ddr.word_bytes = {a.ddr.word_bytes}: legal: 16, 32, 64, 128")
    cn = a.config_network
    if cn.payload_bits not in (16, 32, 64):
        errs.append(f"config_network.payload_bits = {cn.payload_bits}: legal: 16, 32, 64")
    if cn.reader_bits not in (32, 64, 128) or cn.reader_bits < cn.payload_bits:
        errs.append(f"config_network.reader_bits = {cn.reader_bits}: legal: 32, 64, 128 and >= payload_bits")
    if cn.fifo_depth not in (32, 512):
        errs.append(f"config_network.fifo_depth = {cn.fifo_depth}: legal: 32 (an MLAB), 512 (an M20K)")
    min_sb = 2 * pe.w_vector * 3  # at least a few input columns of one channel block per bank
    if a.stream_buffer.depth < min_sb:
        errs.append(f"stream_buffer.depth = {a.stream_buffer.depth}: must be >= {min_sb}")
    return errs


# --- loading ----------------------------------------------------------------------------------------------------
def _format(exc: ValidationError, source: str) -> str:
    parts = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e["loc"])
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown field (check the spelling; see hw_models/archs/a10_generic.toml)"
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif "input" in e and not isinstance(e["input"], dict) and loc:
            msg = f"= {e['input']!r}: {msg}"
        parts.append(f"{loc} {msg}".strip() if loc else msg)
    return f"architecture {source}: " + "; ".join(parts)


def arch_from_dict(data: dict[str, Any], source: str = "<dict>") -> Arch:
    try:
        return Arch.model_validate(data)
    except ValidationError as exc:
        raise ArchError(_format(exc, source)) from None


def arch_path(name_or_path: str | Path) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        return p
    return ARCH_DIR / f"{name_or_path}.toml"


def shipped_archs() -> list[str]:
    return sorted(p.stem for p in ARCH_DIR.glob("*.toml"))


def load_arch(name_or_path: str | Path = DEFAULT_ARCH) -> Arch:
    """Load and validate an architecture by shipped name (`a10_generic`) or by file path."""
    path = arch_path(name_or_path)
    if not path.exists():
        raise ArchError(f"architecture '{name_or_path}' not found: give a .toml path or one of "
                        f"{', '.join(shipped_archs())}")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ArchError(f"architecture {path}: not valid TOML ({exc})") from None
    return arch_from_dict(data, source=str(path))
