"""Co-simulation of the RTL core against the simulator: random layers, their compiled programs, the reference
results and the files the Verilog testbench (rtl/tb/tb_core.v) reads and writes.

The reference is always the simulator's public API: `simulator.functional.FunctionalSimulator` for the final DDR
image (bit for bit) and `simulator.timing.simulate_timing` for each bundle's cycles; nothing here re-implements
them. `python -m rtl.run_cosim` runs the whole flow and prints the agreement table (docs/rtl.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from compiler.builder import GraphBuilder
from compiler.isa import Module
from hw_models.arch import Arch, load_arch

ARCH = "tiny"
DDR_WORDS = 65536          # tb_core.v DDR_WORDS (entries of ENTRY_BYTES)
MAX_PACKETS = 16384        # tb_core.v MAX_PKTS
POOL_OW_MAX = 64           # ovl_core POOL_OW_MAX
POOLS = ((2, 2, 0), (3, 2, 1), (3, 1, 1), (2, 1, 0), (3, 3, 0), (3, 2, 0))   # (kernel, stride, pad) of MaxPool


@dataclass
class Case:
    """One random network for the co-simulation (a conv layer, optionally followed by activation and max pool,
    sometimes a second such layer)."""

    seed: int
    desc: str
    graph: Any
    inputs: dict[str, np.ndarray]


@dataclass
class Prepared:
    """A compiled case with everything the testbench needs and the reference results."""

    case: Case
    program: Any
    ddr_init: bytes                 # DDR image the RTL starts from (weights + inputs)
    ddr_ref: bytes                  # DDR image after the functional simulator ran the program
    packets: list[int]              # the config stream, one int per packet
    model_cycles: list[float | None]   # per bundle: simulate_timing done - start (None: no PE work)
    compare: list[tuple[int, int]] = field(default_factory=list)   # DDR byte ranges compared


def tiny_arch() -> Arch:
    return load_arch(ARCH)


def random_case(seed: int) -> Case:
    """A seeded random conv layer (shapes, kernel, stride, dilation, padding, batch, activation, max pool) that
    the RTL engine supports; one case in six stacks a second conv layer (its input then comes from the first
    layer's output)."""
    rng = np.random.default_rng(seed)
    n = 2 if rng.random() < 0.15 else 1
    c = int(rng.integers(1, 13))
    h, w = int(rng.integers(4, 15)), int(rng.integers(4, 15))
    b = GraphBuilder(f"case{seed}", weights="random", seed=seed)
    x = b.input("x", (n, c, h, w))
    parts = []
    y = x
    for layer in range(2 if rng.random() < 1 / 6 else 1):
        _, ci, hi, wi = b.shape(y)
        kernel = int(rng.choice([1, 2, 3, 3, 3, 5]))
        dil = 2 if kernel == 3 and rng.random() < 0.15 else 1
        ext = (kernel - 1) * dil + 1
        pad = (ext // 2) if rng.random() < 0.6 else 0
        stride = 2 if rng.random() < 0.25 else 1
        if ext > min(hi, wi) + 2 * pad:
            kernel, dil, ext, pad = 1, 1, 1, 0
        k = int(rng.integers(1, 17))
        y = b.conv(y, k, kernel, stride=stride, pad=pad, dilation=dil)
        act = str(rng.choice(["none", "relu", "relu", "relu6"]))
        if act == "relu":
            y = b.relu(y)
        elif act == "relu6":
            y = b.activation(y, "Clip", min=0.0, max=6.0)
        desc = f"conv{kernel}x{kernel}/s{stride}/p{pad}/d{dil} {ci}->{k}"
        _, _, ho, wo = b.shape(y)
        if rng.random() < 0.5 and min(ho, wo) >= 3:
            pk, ps, pp = POOLS[int(rng.integers(len(POOLS)))]
            if pk <= min(ho, wo):
                y = b.max_pool(y, pk, stride=ps, pad=pp)
                desc += f" maxpool{pk}/s{ps}/p{pp}"
        parts.append(desc + ("" if act == "none" else f" {act}"))
    g = b.build([y])
    xin = np.random.default_rng(seed + 1000).standard_normal((n, c, h, w)).astype(np.float32)
    return Case(seed, f"n{n} {c}x{h}x{w}: " + " | ".join(parts), g, {"x": xin})


def unsupported(bundle) -> str | None:
    """Why the RTL engine cannot run a bundle (None when it can); the RTL raises the matching error code."""
    f = bundle.fields
    act = bundle.is_active
    for m in (Module.LRN, Module.ELTWISE, Module.DEPTH_TO_SPACE, Module.SOFTMAX):
        if act(m):
            return f"kernel {m.name} is not in the RTL"
    if act(Module.PE_ARRAY):
        p = f(Module.PE_ARRAY)
        if p["mode"] != "conv" or p["wino"]:
            return f"pe.mode {p['mode']}"
        if p["psum_in"] or p["psum_out"]:
            return "partial sums"
        if p["k_first"] + p["k"] > p["k_per_group"]:
            return "grouped convolution"
    if act(Module.ACTIVATION) and f(Module.ACTIVATION)["lut"]:
        return "look-up-table activation"
    if act(Module.POOL) and (f(Module.POOL)["type"] != "max" or f(Module.POOL)["ow"] > POOL_OW_MAX):
        return "pool type / width"
    if act(Module.FEATURE_WRITER) and (f(Module.FEATURE_WRITER)["raw"] or f(Module.FEATURE_WRITER)["c_first"]):
        return "raw or masked-offset write"
    return None


def prepare(case: Case, arch: Arch | None = None) -> Prepared:
    """Compile the case for the tiny architecture and compute the reference results with the simulator."""
    from compiler.compile import compile_model
    from simulator.functional import FunctionalSimulator, write_tensor
    from simulator.machine import Machine
    from simulator.timing import simulate_timing

    arch = arch or tiny_arch()
    program = compile_model(case.graph, arch, opt_level=1, seed=case.seed).program
    if program.host:
        raise AssertionError(f"case {case.seed}: host partitions {[h.name for h in program.host]}")
    for bnd in program.bundles:
        why = unsupported(bnd)
        if why:
            raise AssertionError(f"case {case.seed} ({case.desc}) bundle {bnd.index}: {why}")
    m = Machine.for_program(program)
    for name, x in case.inputs.items():
        write_tensor(m, program, name, x)
    ddr_init = m.ddr.tobytes()
    sim = FunctionalSimulator(program)
    sim.run(case.inputs)
    ddr_ref = sim.machine.ddr.tobytes()
    if len(ddr_ref) > DDR_WORDS * entry_bytes(arch):
        raise AssertionError(f"case {case.seed}: DDR image of {len(ddr_ref)} bytes exceeds the testbench DDR")
    packets = [p for bnd in program.bundles for p in program.packets(bnd)]
    if len(packets) > MAX_PACKETS:
        raise AssertionError(f"case {case.seed}: {len(packets)} packets exceed the testbench's {MAX_PACKETS}")
    tl = simulate_timing(program)
    model = [(bt.done - bt.start) if d.pe_active else None for bt, d in zip(tl.bundles, tl.demands)]
    return Prepared(case, program, ddr_init, ddr_ref, packets, model, [(0, len(ddr_ref))])


def entry_bytes(arch: Arch) -> int:
    return arch.pe_array.c_vector * arch.precision_info.feature_bits // 8


# --- files the testbench reads and writes -----------------------------------------------------------------------
def write_words_hex(path: Path, data: bytes, word_bytes: int) -> None:
    """Little-endian words of `word_bytes`, one hex word per line ($readmemh)."""
    pad = (-len(data)) % word_bytes
    data = data + bytes(pad)
    lines = [data[i:i + word_bytes][::-1].hex() for i in range(0, len(data), word_bytes)]
    Path(path).write_text("\n".join(lines) + "\n")


def write_packets_hex(path: Path, packets: list[int], packet_bits: int) -> None:
    digits = packet_bits // 4
    Path(path).write_text("\n".join(f"{p:0{digits}x}" for p in packets) + "\n")


def read_words_hex(path: Path, word_bytes: int) -> bytes:
    out = bytearray()
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("//"):
            continue
        if any(ch in "xXzZ" for ch in line):
            raise AssertionError(f"{path}: undefined bits in RTL memory word '{line}'")
        out += int(line, 16).to_bytes(word_bytes, "little")
    return bytes(out)


@dataclass(frozen=True)
class PerfRecord:
    seq: int
    load: int
    compute: int
    total: int


def read_perf_hex(path: Path) -> list[PerfRecord]:
    recs = []
    if not Path(path).exists():
        return recs
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("//"):
            continue
        v = int(line, 16)
        recs.append(PerfRecord((v >> 96) & 0xFFFFFF, (v >> 64) & 0xFFFFFFFF, (v >> 32) & 0xFFFFFFFF,
                               v & 0xFFFFFFFF))
    return recs


def diff_bytes(got: bytes, want: bytes, ranges: list[tuple[int, int]]) -> list[int]:
    """Byte addresses where `got` and `want` differ inside `ranges`."""
    g = np.frombuffer(got, dtype=np.uint8)
    w = np.frombuffer(want, dtype=np.uint8)
    bad: list[int] = []
    for lo, hi in ranges:
        idx = np.flatnonzero(g[lo:hi] != w[lo:hi])
        bad.extend((idx + lo).tolist())
    return bad


def walker_cycles(program, bundle) -> tuple[int, int]:
    """(RTL window-walker cycles, the cycle model's PE-array cycles) of a conv bundle. The RTL takes
    ceil(passes * positions / T) * T * entries (T = Arch.accumulator_threads: groups of T interleaved
    accumulations, items of consecutive passes sharing a group); the model's figure is
    `simulator.demand.bundle_demand(program, bundle).pe_cycles`."""
    from simulator.demand import bundle_demand

    arch = program.arch
    g, p = bundle.fields(Module.STREAM_BUFFER), bundle.fields(Module.PE_ARRAY)
    t = arch.accumulator_threads
    positions = g["n"] * g["oh"] * g["ow"]
    passes = -(-p["k"] // arch.pe_array.k_vector)
    entries = -(-p["c_count"] // arch.pe_array.c_vector) * g["kh"] * g["kw"]
    return math.ceil(passes * positions / t) * t * entries, bundle_demand(program, bundle).pe_cycles


def cycle_error(rtl: int, model: float) -> float:
    """Relative error of the model's per-bundle cycles against the RTL's: (model - rtl) / rtl."""
    return (model - rtl) / rtl if rtl else math.inf


def distribution(errors: list[float]) -> dict[str, float]:
    a = np.abs(np.asarray(errors, dtype=float))
    if not a.size:
        return {}
    return {"bundles": int(a.size), "median_abs": float(np.median(a)), "p90_abs": float(np.quantile(a, 0.9)),
            "max_abs": float(a.max()), "mean_signed": float(np.mean(errors)),
            "within_5pct": float(np.mean(a <= 0.05))}
