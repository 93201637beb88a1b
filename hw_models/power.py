"""Power and energy of an overlay: static + dynamic power per architecture, energy per inference from activity.

Dynamic power is per resource: (ALMs, DSP blocks, block RAMs from the area model) x energy per clock cycle of
one resource at a reference toggle rate (Intel Early Power Estimator results, calibration.toml [power]) x the
toggle rate relative to that reference x the clock x the fraction of cycles the resource is active; a clock
tree share is added on top. Static power is per device. Board power adds DDR and the card's other parts, for
comparison with published board-level figures such as the FPGA'17 DLA's 23 img/s/W on AlexNet (44 W).

Energy per inference takes activity counts that the simulator reports (`Activity`): multiply-accumulates,
DDR bytes, on-chip buffer bytes and cycles. Every constant is in hw_models/calibration.toml with its source;
docs/area_model.md explains the model and its limits.
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from compiler.errors import ArchError
from hw_models.arch import Arch, load_arch
from hw_models.area import AreaReport, Calibration, calibration, estimate_area

ALWAYS_ON = frozenset({"ddr_interface", "config_network", "csr", "ip_fixed"})  # clocked and toggling every cycle


@dataclass(frozen=True)
class Toggle:
    """Toggle rates (fraction of clock cycles a signal changes) for logic, DSP operands and block RAM ports."""

    logic: float | None = None
    dsp: float | None = None
    memory: float | None = None

    def resolved(self, cal: Calibration) -> "Toggle":
        p = cal.power
        return Toggle(self.logic if self.logic is not None else p["default_logic_toggle"],
                      self.dsp if self.dsp is not None else p["default_dsp_toggle"],
                      self.memory if self.memory is not None else p["default_m20k_toggle"])


@dataclass(frozen=True)
class UnitEnergy:
    """Energy of one event on this architecture's device, in pJ (toggle rates and process factor applied)."""

    half_alm_cycle: float
    dsp_cycle: float
    mem_block_cycle: float
    mac: float             # one multiply-accumulate in the PE array: DSP share + PE-array logic share
    buffer_byte: float     # one byte read or written in on-chip block RAM
    ddr_byte: float        # one byte moved to or from external DDR


@dataclass(frozen=True)
class PowerReport:
    arch_name: str
    clock_mhz: float
    activity: float                     # fraction of cycles the datapath is busy
    static_w: float
    dynamic_w: dict[str, float]         # logic, dsp, memory, clock
    ddr_w: float                        # external memory: idle + traffic at the given DDR bandwidth
    board_other_w: float
    regulator_efficiency: float

    @property
    def chip_dynamic_w(self) -> float:
        return sum(self.dynamic_w.values())

    @property
    def chip_w(self) -> float:
        return self.static_w + self.chip_dynamic_w

    @property
    def board_w(self) -> float:
        """Card-level power: chip and DDR through the regulators, plus the card's other parts."""
        return (self.chip_w + self.ddr_w) / self.regulator_efficiency + self.board_other_w

    def to_dict(self) -> dict[str, Any]:
        return {"arch": self.arch_name, "clock_mhz": self.clock_mhz, "activity": self.activity,
                "static_w": self.static_w, "dynamic_w": self.dynamic_w, "chip_w": self.chip_w, "ddr_w": self.ddr_w,
                "board_w": self.board_w}

    def table(self) -> str:
        d = self.dynamic_w
        lines = [f"power of {self.arch_name} at {self.clock_mhz:g} MHz, datapath busy {self.activity:.0%} of cycles",
                 f"  static (device)      {self.static_w:7.2f} W",
                 f"  dynamic logic        {d['logic']:7.2f} W",
                 f"  dynamic DSP          {d['dsp']:7.2f} W",
                 f"  dynamic block RAM    {d['memory']:7.2f} W",
                 f"  dynamic clock tree   {d['clock']:7.2f} W",
                 f"  chip total           {self.chip_w:7.2f} W",
                 f"  DDR                  {self.ddr_w:7.2f} W",
                 f"  board (estimate)     {self.board_w:7.2f} W  (chip + DDR through {self.regulator_efficiency:.0%}"
                 f" efficient regulators + {self.board_other_w:g} W other card parts)"]
        return "\n".join(lines)


def _arch(arch: Arch | str) -> Arch:
    return arch if isinstance(arch, Arch) else load_arch(arch)


def _factor(arch: Arch, cal: Calibration) -> float:
    fam = arch.device_info.family
    table = cal.power["process_dynamic_factor"]
    if fam not in table:
        raise ArchError(f"power model: no process factor for family '{fam}'; add it to [power] "
                        f"process_dynamic_factor in calibration.toml")
    return float(table[fam])


def unit_energy(arch: Arch | str, *, toggle: Toggle = Toggle(), cal: Calibration | None = None) -> UnitEnergy:
    """Per-event energies (pJ) on `arch`'s device at the given toggle rates."""
    arch, cal = _arch(arch), cal or calibration()
    p, t, f = cal.power, toggle.resolved(cal), _factor(arch, cal)
    half_alm = p["half_alm_pj_per_cycle"] * t.logic / p["ref_logic_toggle"] * f
    dsp = p["dsp_pj_per_cycle"] * t.dsp / p["ref_dsp_toggle"] * f
    mem = p["m20k_pj_per_cycle"] * t.memory / p["ref_m20k_toggle"] * f
    area = estimate_area(arch, cal=cal)
    pe = area.kernel("pe_array")
    mults = arch.multipliers
    mac = (pe.dsps * dsp + 2 * pe.alms * half_alm) / mults * (1 + p["clock_tree_fraction"])
    return UnitEnergy(half_alm, dsp, mem, mac, mem / p["m20k_bytes_per_access"], p["ddr_pj_per_byte"])


def kernel_dynamic_w(arch: Arch | str, *, toggle: Toggle = Toggle(), cal: Calibration | None = None
                     ) -> dict[str, dict[str, float]]:
    """Dynamic power (W) of each kernel when active every cycle, split into logic, dsp and memory (no clock tree)."""
    arch, cal = _arch(arch), cal or calibration()
    e = unit_energy(arch, toggle=toggle, cal=cal)
    mhz = arch.clock_mhz
    return {k.name: {"logic": 2 * k.alms * e.half_alm_cycle * mhz * 1e-6,
                     "dsp": k.dsps * e.dsp_cycle * mhz * 1e-6,
                     "memory": k.mem_blocks * e.mem_block_cycle * mhz * 1e-6}
            for k in estimate_area(arch, cal=cal).kernels}


def _static_w(arch: Arch, cal: Calibration) -> float:
    static = cal.power["static_w"].get(arch.device)
    if static is None:
        raise ArchError(f"power model: no static power for device '{arch.device}'; add it to [power] static_w")
    return float(static)


def estimate_power(arch: Arch | str, *, activity: float = 1.0, ddr_utilisation: float | None = None,
                   toggle: Toggle = Toggle(), cal: Calibration | None = None) -> PowerReport:
    """Static + dynamic power with the datapath busy `activity` of the cycles (the PE array, its buffers and
    the aux kernels scale with it; DDR masters, config network, CSR and the fixed part run every cycle; the
    clock tree adds `clock_tree_fraction`). `ddr_utilisation` is the fraction of the DDR peak bandwidth in use
    (default: `activity` x the sustained efficiency)."""
    arch, cal = _arch(arch), cal or calibration()
    if not 0.0 <= activity <= 1.0:
        raise ArchError(f"power: activity = {activity}: must be within 0..1 (fraction of busy cycles)")
    p = cal.power
    dyn = {"logic": 0.0, "dsp": 0.0, "memory": 0.0}
    for name, parts in kernel_dynamic_w(arch, toggle=toggle, cal=cal).items():
        busy = 1.0 if name in ALWAYS_ON else activity
        for key, w in parts.items():
            dyn[key] += w * busy
    dyn["clock"] = p["clock_tree_fraction"] * (dyn["logic"] + dyn["dsp"] + dyn["memory"])
    util = activity * arch.ddr.efficiency if ddr_utilisation is None else ddr_utilisation
    ddr = p["ddr_idle_w"] + util * arch.ddr.bandwidth_gbs * 1e9 * p["ddr_pj_per_byte"] * 1e-12
    return PowerReport(arch.name, arch.clock_mhz, activity, _static_w(arch, cal), dyn, ddr,
                       float(p["board_other_w"].get(arch.device, 0.0)), float(p["regulator_efficiency"]))


@dataclass(frozen=True)
class Activity:
    """Activity counts of one inference, as the simulator reports them.

    macs:          multiply-accumulates the PE array performs (physical: after Winograd, zero-skipping, ...)
    ddr_bytes:     bytes read from and written to external memory
    buffer_bytes:  bytes read from and written to on-chip buffers (stream buffer, filter caches, FIFOs)
    cycles:        overlay clock cycles from start to end
    """

    macs: float
    ddr_bytes: float
    buffer_bytes: float
    cycles: float

    def __post_init__(self) -> None:
        for name in ("macs", "ddr_bytes", "buffer_bytes", "cycles"):
            if getattr(self, name) < 0:
                raise ArchError(f"energy: activity {name} = {getattr(self, name)}: counts must be >= 0")


def timeline_activity(timeline: Any, layers: Collection[str] | None = None) -> Activity:
    """Activity counts of a simulated run (a `simulator.timing` Timeline): physical multiplications
    (`mult_ops`, after Winograd), DDR bytes (reads, filters, writes, configuration), on-chip buffer bytes (stream
    buffer and filter caches) and cycles; the same sums as `simulator.report.build_report`'s energy. With
    `layers`, only the bundles of those layers count, and cycles are their bundles' spans."""
    pairs = [(d, b) for d, b in zip(timeline.demands, timeline.bundles) if layers is None or d.layer in layers]
    cycles = float(timeline.total_cycles) if layers is None else float(sum(b.span for _, b in pairs))
    return Activity(macs=float(sum(d.mult_ops for d, _ in pairs)),
                    ddr_bytes=float(sum(d.read_bytes + d.filt_bytes + d.write_bytes + d.cfg_bytes for d, _ in pairs)),
                    buffer_bytes=float(sum(d.sb_bytes + d.filter_cache_bytes for d, _ in pairs)), cycles=cycles)


@dataclass(frozen=True)
class EnergyReport:
    arch_name: str
    seconds: float
    joules: dict[str, float] = field(default_factory=dict)   # mac, buffer, ddr_traffic, baseline, ddr_idle

    @property
    def total_j(self) -> float:
        return sum(self.joules.values())

    @property
    def average_w(self) -> float:
        return self.total_j / self.seconds if self.seconds else 0.0

    def per_second(self) -> float:
        """Inferences per second (one inference per `seconds`)."""
        return 1.0 / self.seconds if self.seconds else 0.0

    def inferences_per_joule(self) -> float:
        return 1.0 / self.total_j if self.total_j else 0.0


def energy_per_inference(arch: Arch | str, activity: Activity, *, toggle: Toggle = Toggle(),
                         cal: Calibration | None = None) -> EnergyReport:
    """Chip + DDR energy of one inference from its activity counts, in joules per term:

    mac          MACs x (PE-array DSP + logic energy per multiplier-cycle, clock share included)
    datapath     logic and DSPs of the other datapath kernels (feeder, crossbar, aux, buffer control), busy
                 for the fraction of cycles the PE array is (MACs / (multipliers x cycles))
    buffer       on-chip buffer bytes x block-RAM energy per byte
    ddr_traffic  DDR bytes x energy per byte
    baseline     static power and the always-on kernels (DDR masters, config network, CSR) for the elapsed time
    ddr_idle     DRAM refresh and PHY for the elapsed time
    """
    arch, cal = _arch(arch), cal or calibration()
    p = cal.power
    e = unit_energy(arch, toggle=toggle, cal=cal)
    seconds = activity.cycles / arch.clock_hz
    busy = min(1.0, activity.macs / (arch.multipliers * activity.cycles)) if activity.cycles else 0.0
    clock = 1.0 + p["clock_tree_fraction"]
    datapath_w = always_w = 0.0
    for name, parts in kernel_dynamic_w(arch, toggle=toggle, cal=cal).items():
        if name in ALWAYS_ON:
            always_w += sum(parts.values()) * clock
        elif name != "pe_array":
            datapath_w += (parts["logic"] + parts["dsp"]) * clock
    j = {
        "mac": activity.macs * e.mac * 1e-12,
        "datapath": datapath_w * busy * seconds,
        "buffer": activity.buffer_bytes * e.buffer_byte * 1e-12,
        "ddr_traffic": activity.ddr_bytes * e.ddr_byte * 1e-12,
        "baseline": (_static_w(arch, cal) + always_w) * seconds,
        "ddr_idle": p["ddr_idle_w"] * seconds,
    }
    return EnergyReport(arch.name, seconds, j)
