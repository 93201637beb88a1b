"""Structural area model: ALMs, DSP blocks, block RAMs and registers per overlay kernel.

Each kernel is counted from its structure (multipliers, adder bits, multiplexer bits, buffer geometry) with the
per-unit constants of `hw_models/calibration.toml`; the only constants taken from the published AI Suite table
are the `[fit]` ones (a scale and an offset for ALMs and registers, an offset for block RAMs) and the softmax
kernel's cost. docs/area_model.md derives every formula.

Notation: K = pe_array.k_vector (PEs), C = c_vector (dot-product length), L = lanes, W = w_vector (columns per
pass: q_vector, or q_vector + 2 under Winograd), U = K*L*W dot-product units, each with C multipliers and one
accumulator. Filters are shared by the L lanes and the W columns of one PE, so there are K filter caches.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from hw_models.arch import PRECISIONS, Arch
from hw_models.area.calibration import Calibration
from hw_models.area.memory import block_count, mlab_count


@dataclass(frozen=True)
class Resources:
    """Resources of one kernel. `alms` counts logic ALMs plus ALMs holding registers that logic did not absorb,
    plus MLABs used as memory (10 ALMs each); `mem_blocks` are the device's block RAMs (M20K on Arria 10)."""

    alms: float = 0.0
    dsps: int = 0
    mem_blocks: int = 0
    registers: float = 0.0

    def __add__(self, other: "Resources") -> "Resources":
        return Resources(self.alms + other.alms, self.dsps + other.dsps, self.mem_blocks + other.mem_blocks,
                         self.registers + other.registers)

    def times(self, n: int) -> "Resources":
        return Resources(self.alms * n, self.dsps * n, self.mem_blocks * n, self.registers * n)


ZERO = Resources()


def _log4(n: int) -> int:
    """4:1 multiplexer levels needed to select among n inputs (one 6-LUT per bit per level)."""
    return math.ceil(math.log(n, 4) - 1e-9) if n > 1 else 0


def _logic(cal: Calibration, logic_alms: float, registers: float, mlabs: int = 0) -> float:
    """ALMs for logic plus registers: each logic ALM absorbs two of the registers (a typical packing: half its
    four); the rest sit in register-only ALMs at four per ALM. MLABs used as memory occupy 10 ALMs each."""
    a = cal.alm
    spare = max(0.0, registers - 2.0 * logic_alms)
    return logic_alms + spare / a["registers_per_alm"] + mlabs * a["mlab_alms"]


def adder_tree(n_inputs: int, width: int, cal: Calibration) -> tuple[float, float]:
    """(ALMs, registers) of a pipelined binary adder tree over `n_inputs` operands of `width` bits: each level
    halves the operand count and grows the width by one bit; every level is registered."""
    alms = regs = 0.0
    n, w = n_inputs, width
    while n > 1:
        adders, n = n // 2, math.ceil(n / 2)
        w += 1
        alms += adders * w / cal.alm["adder_bits_per_alm"]
        regs += n * w
    return alms, regs


def normaliser_alms(width: int, cal: Calibration) -> float:
    """Fixed-point to floating-point conversion of a `width`-bit sum: leading-zero count (width/2 ALMs) and a
    barrel shifter (width bits x ceil(log2 width) levels, two levels per 6-LUT as a 4:1 mux)."""
    levels = math.ceil(math.log2(max(width, 2)))
    return width / 2 + width * math.ceil(levels / 2) / cal.alm["mux4_per_alm"] + 4


# --- the PE array -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PEEstimate:
    """One dot-product unit: `c_vector` multipliers, adder tree, conversion and accumulator.

    Besides ALMs, the unit is also counted in the two quantities a synthesis tool reports before it packs ALMs:
    `adder_bits` (carry-chain full adders: the fabric adder tree and an ALM accumulator) and `mux_luts` (a
    fabric accumulator's start-from-bias multiplexer, one 3-input LUT per bit); `dsp_mode` names the DSP block
    mode and `tree_inputs` the operands of the fabric adder tree.
    """

    c_vector: int
    precision: str
    family: str
    dsps: float            # fractional: packing groups may span units
    dsp_multipliers: int
    soft_multipliers: int
    alms: float            # logic ALMs plus register-only ALMs
    logic_alms: float      # LUT/adder ALMs only
    registers: float
    accumulator_dsps: int
    detail: dict[str, float]
    dsp_mode: str = ""
    tree_inputs: int = 0
    adder_bits: float = 0.0
    mux_luts: float = 0.0


def pe_estimate(c_vector: int, precision: str = "bfp16", family: str = "arria10", *, soft_multipliers: int = 0,
                interleave: int = 4, cal: Calibration | None = None) -> PEEstimate:
    """Resources of one PE dot-product unit of `c_vector` multipliers in `precision` on `family`, of which
    `soft_multipliers` are built in ALMs (beyond pe_array.dsp_limit). Excludes the filter cache, the feature
    broadcast and the exit FIFO (those are per PE-array). Comparable with a synthesis of one PE datapath.

    The fabric adder tree sums what leaves the DSP blocks: ceil(DSP products / mode.sum) operands (the family's
    DSP mode for this precision adds `sum` products inside the block: 2 in the 18x19 sum-of-2 modes, 4 in
    Agilex 7's 9x9 sum-of-4, 1 in Cyclone V's 9x9 mode, which has no adder) plus one per soft multiplier."""
    from hw_models.area.calibration import calibration

    cal = cal or calibration()
    p = PRECISIONS[precision]
    a, d = cal.alm, cal.dsp
    hard_fp = family in d["hard_fp_families"]
    mults, per = cal.packing(family, precision)
    mode = cal.dsp_mode(family, precision)
    soft = min(max(soft_multipliers, 0), c_vector)
    in_dsp = c_vector - soft
    dsps = in_dsp * per / mults
    m = p.mantissa_bits
    acc_bits = a["accumulator_bits"]
    detail: dict[str, float] = {}

    # every DSP block's operand and result ports are registered in fabric (features broadcast to all PEs and
    # filters read from the caches arrive through pipeline registers; results leave through one)
    regs = dsps * d["fabric_port_bits"].get(family, 0) * d["fabric_port_stages"]
    if p.name == "fp32" and hard_fp:
        tree_alms, tree_regs, n_in, w_in = 0.0, 0.0, 1, 32   # hard FP dot-product mode chains the adders
    else:
        n_in = math.ceil(in_dsp / mode.sum) + soft
        w_in = 2 * m + math.ceil(math.log2(mode.sum))        # signed m x m product, plus the in-block sum's growth
        tree_alms, tree_regs = adder_tree(n_in, w_in, cal)
    detail["adder_tree"] = tree_alms
    adder_bits = tree_alms * a["adder_bits_per_alm"]
    regs += tree_regs
    logic = tree_alms
    if soft:
        soft_alms = soft * m * m * a["soft_mult_alms_per_bit2"]
        detail["soft_multipliers"] = soft_alms
        logic += soft_alms
        regs += soft * (2 * m + 2 * m) * d["fabric_port_stages"]   # operand and product registers
    if mode.shared_operand and in_dsp:                       # packed fields: sign fix-up per field output
        fix = math.ceil(in_dsp / mode.sum) * a["pack_fixup_alms_per_output"]
        detail["pack_fixup"] = fix
        logic += fix
    acc_dsps = 0
    w_acc = w_in + math.ceil(math.log2(max(n_in, 1)))
    mux_luts = 0.0
    if p.integer or not hard_fp:
        # a fabric accumulator starts every accumulation from the bias (or zero): a 2:1 multiplexer per bit on
        # its feedback input (rtl/hdl/ovl_pe.v `init`). A hard FP32 accumulator starts a sum with the DSP
        # block's own accumulate control, so it has none.
        mux_luts = float(acc_bits)
        detail["accumulator_init_mux"] = acc_bits / a["mux2_per_alm"]
        logic += detail["accumulator_init_mux"]
    if p.integer:                                             # INT32 accumulator in ALMs, interleaved partial sums
        logic += acc_bits / a["adder_bits_per_alm"]
        detail["accumulator"] = acc_bits / a["adder_bits_per_alm"]
        adder_bits += acc_bits
        regs += acc_bits * interleave
    else:
        if p.name == "fp16":                                  # per-element exponents: align every product
            align = c_vector * a["fp16_align_alms_per_mult"]
            detail["fp16_alignment"] = align
            logic += align
        if not (p.name == "fp32" and hard_fp):
            norm = normaliser_alms(w_acc, cal)
            detail["normaliser"] = norm
            logic += norm
            regs += 32 + w_acc
        if hard_fp:
            acc_dsps = 1                                      # hard FP32 adder; interleaving hides its latency
        else:
            logic += a["soft_fp32_add_alms"]
            detail["accumulator"] = a["soft_fp32_add_alms"]
            regs += acc_bits * interleave
    return PEEstimate(c_vector, precision, family, dsps, in_dsp, soft, _logic(cal, logic, regs), logic, regs,
                      acc_dsps, detail, mode.name, n_in, adder_bits, mux_luts)


def pe_array(arch: Arch, cal: Calibration) -> Resources:
    pe = arch.pe_array
    fam = arch.device_info.family
    units = pe.k_vector * pe.lanes * pe.w_vector
    mults_total = units * pe.c_vector
    group_mults, group_dsps = cal.packing(fam, arch.precision)
    dsp_dot = math.ceil(mults_total * group_dsps / group_mults)
    soft_total = 0
    if pe.dsp_limit and dsp_dot > pe.dsp_limit:
        dsp_dot = pe.dsp_limit
        soft_total = mults_total - (pe.dsp_limit // group_dsps) * group_mults
    soft_per_unit = math.ceil(soft_total / units)
    unit = pe_estimate(pe.c_vector, arch.precision, fam, soft_multipliers=soft_per_unit,
                       interleave=pe.interleave_features * pe.interleave_filters, cal=cal)
    regs = unit.registers * units
    return Resources(_logic(cal, unit.logic_alms * units, regs), dsp_dot + unit.accumulator_dsps * units, 0, regs)


def filter_caches(arch: Arch, cal: Calibration) -> Resources:
    pe, fc, p = arch.pe_array, arch.filter_cache, arch.precision_info
    shapes = arch.device_info.memory_shapes
    width = pe.c_vector * p.filter_bits + (p.exponent_bits if p.block_exponent else 0)
    per_pe = block_count(fc.depth, width, shapes)
    bias = block_count(fc.bias_depth, pe.k_vector * 32, shapes)   # FP16 bias + FP16 scale per PE, one wide RAM
    logic = pe.k_vector * cal.kernel["filter_cache_control_alms_per_pe"]
    regs = pe.k_vector * 16.0
    return Resources(_logic(cal, logic, regs), 0, per_pe * pe.k_vector + bias, regs)


def exit_fifo(arch: Arch, cal: Calibration) -> Resources:
    pe = arch.pe_array
    rb = cal.kernel["result_bits"][arch.precision]
    width = pe.k_vector * pe.q_vector * rb
    blocks = pe.lanes * block_count(pe.exit_fifo_depth, width, arch.device_info.memory_shapes)
    regs = pe.lanes * (width + 2 * math.ceil(math.log2(pe.exit_fifo_depth)))
    return Resources(_logic(cal, pe.lanes * 30.0, regs), 0, blocks, regs)


def stream_buffer_entry_bits(arch: Arch, cal: Calibration) -> int:
    """Bits of one stream-buffer entry (c_vector features): block floating point stores c_vector mantissas and
    one shared exponent (features are blocked on the way in from DDR); other precisions store elements."""
    p, c = arch.precision_info, arch.pe_array.c_vector
    if p.block_exponent:
        return c * p.mantissa_bits + p.exponent_bits
    return c * cal.kernel["feature_storage_bits"][arch.precision]


def stream_buffer(arch: Arch, cal: Calibration) -> Resources:
    sb, pe = arch.stream_buffer, arch.pe_array
    width = stream_buffer_entry_bits(arch, cal)
    per_bank = math.ceil(sb.depth / sb.banks)
    blocks = sb.banks * block_count(per_bank, width, arch.device_info.memory_shapes)
    mux = width * _log4(sb.banks) / cal.alm["mux4_per_alm"]
    regs = 2.0 * width + 4 * math.ceil(math.log2(sb.depth))
    logic = cal.kernel["stream_buffer_control_alms"] + mux
    if arch.precision_info.block_exponent:       # blocking on both write paths: from DDR and from the crossbar
        logic += (1 + pe.lanes) * bfp_converter_alms(arch, cal)
        regs += (1 + pe.lanes) * width
    return Resources(_logic(cal, logic, regs), 0, blocks, regs)


def bfp_converter_alms(arch: Arch, cal: Calibration) -> float:
    """FP16 -> block floating point for one entry of c_vector features: a max-exponent tree over the block and
    one alignment shifter per element (mantissa bits x shift levels, two levels per 6-LUT)."""
    p, c = arch.precision_info, arch.pe_array.c_vector
    m = p.mantissa_bits
    max_exp = (c - 1) * (p.exponent_bits / cal.alm["adder_bits_per_alm"] + p.exponent_bits / cal.alm["mux4_per_alm"])
    align = c * m * math.ceil(math.ceil(math.log2(m)) / 2) / cal.alm["mux4_per_alm"]
    return max_exp + align


def input_feeder(arch: Arch, cal: Calibration) -> Resources:
    """Window sequencer: reads stream-buffer entries and holds W + 2 input columns per lane for the PEs."""
    pe = arch.pe_array
    entry = stream_buffer_entry_bits(arch, cal)
    cols = pe.lanes * pe.w_vector
    logic = cal.kernel["feeder_control_alms"]
    regs = float(pe.lanes * (pe.w_vector + 2) * entry)
    if pe.winograd:                                                  # input transform B^T d: adders per column
        m = arch.precision_info.mantissa_bits
        logic += cols * pe.c_vector * (m + 2) / cal.alm["adder_bits_per_alm"] * 2
    return Resources(_logic(cal, logic, regs), 0, 0, regs)


def _enabled_aux(arch: Arch) -> list[str]:
    return [name for name, k in arch.aux if k.enabled]


def crossbar(arch: Arch, cal: Calibration) -> Resources:
    pe = arch.pe_array
    rb = cal.kernel["result_bits"][arch.precision]
    ports = len(_enabled_aux(arch)) + 2
    bits = pe.k_vector * pe.q_vector * pe.lanes * rb
    logic = bits * _log4(ports) / cal.alm["mux4_per_alm"] + ports * cal.kernel["xbar_control_alms_per_port"]
    if pe.winograd:                                                  # output transform A^T m: adders per output
        logic += pe.k_vector * pe.lanes * pe.w_vector * 32 / cal.alm["adder_bits_per_alm"]
    blocks = pe.lanes * block_count(cal.kernel["xbar_buffer_depth"], pe.k_vector * pe.q_vector * rb,
                                    arch.device_info.memory_shapes)
    regs = 2.0 * bits
    return Resources(_logic(cal, logic, regs), 0, blocks, regs)


_ACTIVATION_GROUPS = {
    "activation_clip": ("relu", "relu6", "clip"),
    "activation_mult": ("leaky_relu", "prelu"),
    "activation_curve": ("sigmoid", "tanh", "hard_sigmoid", "hard_swish"),
}


def _fp16_mult_dsps(n_mults: int, arch: Arch, cal: Calibration) -> int:
    mults, dsps = cal.packing(arch.device_info.family, "fp16")
    return math.ceil(n_mults * dsps / mults)


def aux_kernel(name: str, arch: Arch, cal: Calibration) -> Resources:
    """One auxiliary kernel: per-channel-lane costs for the functions it implements, times k_vector x lanes."""
    kern = getattr(arch.aux, name)
    lanes = kern.k_vector * arch.pe_array.lanes
    table = cal.aux_lane
    if name == "softmax":
        alms, dsps, blocks, regs = table["softmax_fixed"]
        return Resources(alms, int(dsps), int(blocks), regs)
    groups: list[str] = []
    blocks = 0
    if name == "activation":
        fns = set(kern.functions)
        groups = [g for g, members in _ACTIVATION_GROUPS.items() if fns & set(members)]
    elif name == "pool":
        groups = [f"pool_{t}" for t in kern.types]
        line = kern.max_window - 1                           # line buffers: (window - 1) rows of k_vector channels
        blocks = arch.pe_array.lanes * line * block_count(cal.kernel["pool_max_line_width"], kern.k_vector * 16,
                                                          arch.device_info.memory_shapes)
    elif name == "lrn":
        groups = ["lrn"]
    elif name == "eltwise":
        groups = [f"eltwise_{'add' if op in ('add', 'sub') else 'mul'}" for op in kern.ops]
        groups = sorted(set(groups))
    elif name == "depth_to_space":
        groups = ["depth_to_space"]
    logic = regs = 0.0
    mults = 0
    for g in groups:
        a, m, r = table[g]
        if g.startswith("pool_"):                # a reduction per window row and per window column
            reach = 2 * (kern.max_window - 1)
            a, r = a * reach, r * reach
        logic += a * lanes
        mults += int(m) * lanes
        regs += r * lanes
    return Resources(_logic(cal, logic, regs), _fp16_mult_dsps(mults, arch, cal), blocks, regs)


def ddr_interface(arch: Arch, cal: Calibration) -> Resources:
    k = cal.kernel
    word_bits = arch.ddr.word_bytes * 8
    fifo = block_count(k["ddr_fifo_depth"], word_bits, arch.device_info.memory_shapes)
    feature_bits = arch.pe_array.c_vector * k["feature_storage_bits"][arch.precision]
    # width adapters: feature reader and writer select feature_bits out of a word; filter reader uses whole words
    adapt = 2 * min(feature_bits, word_bits) * _log4(max(1, word_bits // max(feature_bits, 1)))
    logic = k["ddr_masters"] * k["ddr_master_alms"] + adapt / cal.alm["mux4_per_alm"]
    regs = k["ddr_masters"] * (word_bits + 96.0)
    return Resources(_logic(cal, logic, regs), 0, k["ddr_masters"] * fifo, regs)


def config_network(arch: Arch, cal: Calibration) -> Resources:
    """The VLIW instruction network: a reader and one transport stage + FIFO per configured module."""
    k, cn = cal.kernel, arch.config_network
    modules = k["config_base_modules"] + len(_enabled_aux(arch))
    stage_bits = cn.payload_bits + k["config_module_id_bits"] + 2
    word_bits = arch.ddr.word_bytes * 8
    reader = k["config_reader_alms"] + cn.reader_bits * _log4(max(1, word_bits // cn.reader_bits))
    per_module_logic = math.ceil(k["config_module_id_bits"] / 3) + 4   # id compare, valid/ready, FIFO pointers
    if cn.fifo_depth <= cal.alm["mlab_max_depth"]:
        mlabs, blocks = modules * mlab_count(cn.fifo_depth, cn.payload_bits), 0
    else:
        mlabs, blocks = 0, modules * block_count(cn.fifo_depth, cn.payload_bits, arch.device_info.memory_shapes)
    regs = modules * (stage_bits + 2 * math.ceil(math.log2(cn.fifo_depth))) + cn.reader_bits + word_bits
    logic = reader + modules * per_module_logic
    return Resources(_logic(cal, logic, regs, mlabs), 0, blocks, regs)


def csr(arch: Arch, cal: Calibration) -> Resources:
    return Resources(cal.kernel["csr_alms"], 0, cal.kernel["csr_m20k"], 400.0)


def kernels(arch: Arch, cal: Calibration) -> list[tuple[str, Resources]]:
    """Structural resources per kernel (before the fitted scale and offsets)."""
    rows = [
        ("pe_array", pe_array(arch, cal)),
        ("filter_caches", filter_caches(arch, cal)),
        ("exit_fifo", exit_fifo(arch, cal)),
        ("stream_buffer", stream_buffer(arch, cal)),
        ("input_feeder", input_feeder(arch, cal)),
        ("crossbar", crossbar(arch, cal)),
    ]
    rows += [(f"aux.{name}", aux_kernel(name, arch, cal)) for name in _enabled_aux(arch)]
    rows += [
        ("ddr_interface", ddr_interface(arch, cal)),
        ("config_network", config_network(arch, cal)),
        ("csr", csr(arch, cal)),
    ]
    return rows

