"""`estimate_area(arch) -> AreaReport` and `check_fits(arch)`: the public face of the area model."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from compiler.errors import ArchError
from hw_models.arch import Arch, load_arch
from hw_models.area.calibration import Calibration, calibration
from hw_models.area.model import Resources, kernels

RESOURCES = ("alms", "dsps", "mem_blocks", "registers")
PUBLISHED_KERNELS = frozenset({"aux.softmax"})   # costed from published differences, not structurally


@dataclass(frozen=True)
class KernelArea:
    name: str
    alms: int
    dsps: int
    mem_blocks: int
    registers: int


@dataclass(frozen=True)
class AreaReport:
    """Resources per kernel and in total for one architecture, with the device's capacity.

    `mem_kind` names the block RAM (m20k on Arria 10). Kernel ALMs and registers include the fitted scale; the
    fitted fixed part of the IP is its own row, `ip_fixed`.
    """

    arch_name: str
    device: str
    device_name: str
    mem_kind: str
    kernels: tuple[KernelArea, ...]
    total: KernelArea
    capacity: KernelArea

    def utilisation(self) -> dict[str, float]:
        return {r: getattr(self.total, r) / getattr(self.capacity, r) for r in RESOURCES}

    def kernel(self, name: str) -> KernelArea:
        for k in self.kernels:
            if k.name == name:
                return k
        raise KeyError(name)

    def share(self, name: str, resource: str = "alms") -> float:
        """Fraction of the overlay's total `resource` taken by kernel `name`."""
        total = getattr(self.total, resource)
        return getattr(self.kernel(name), resource) / total if total else 0.0

    def overflows(self) -> list[str]:
        """One phrase per resource that does not fit: the resource, the need and the capacity."""
        out = []
        for r in RESOURCES:
            need, cap = getattr(self.total, r), getattr(self.capacity, r)
            if need > cap:
                out.append(f"{_label(r, self.mem_kind)}: need {need:,}, capacity {cap:,}")
        return out

    def fits(self) -> bool:
        return not self.overflows()

    def to_dict(self) -> dict[str, Any]:
        util = self.utilisation()
        return {
            "arch": self.arch_name, "device": self.device, "device_name": self.device_name,
            "memory_block": self.mem_kind,
            "kernels": [k.__dict__ for k in self.kernels],
            "total": self.total.__dict__, "capacity": self.capacity.__dict__,
            "utilisation": util, "fits": self.fits(),
        }

    def table(self) -> str:
        mk = self.mem_kind.upper()
        head = f"{'kernel':22s} {'ALMs':>9s} {'DSPs':>6s} {mk:>6s} {'registers':>10s}"
        lines = [f"area of {self.arch_name} on {self.device_name}", head, "-" * len(head)]
        for k in self.kernels:
            lines.append(f"{k.name:22s} {k.alms:9,d} {k.dsps:6,d} {k.mem_blocks:6,d} {k.registers:10,d}")
        lines.append("-" * len(head))
        t, c, u = self.total, self.capacity, self.utilisation()
        lines.append(f"{'total':22s} {t.alms:9,d} {t.dsps:6,d} {t.mem_blocks:6,d} {t.registers:10,d}")
        lines.append(f"{'device':22s} {c.alms:9,d} {c.dsps:6,d} {c.mem_blocks:6,d} {c.registers:10,d}")
        lines.append(f"{'utilisation':22s} {u['alms']:9.1%} {u['dsps']:6.1%} {u['mem_blocks']:6.1%}"
                     f" {u['registers']:10.1%}")
        over = self.overflows()
        lines.append("fits: yes" if not over else "fits: NO: " + "; ".join(over))
        return "\n".join(lines)


def _label(resource: str, mem_kind: str) -> str:
    return {"alms": "ALMs", "dsps": "DSP blocks", "mem_blocks": f"{mem_kind.upper()} blocks",
            "registers": "registers"}[resource]


def _round(name: str, r: Resources) -> KernelArea:
    return KernelArea(name, int(round(r.alms)), int(r.dsps), int(r.mem_blocks), int(round(r.registers)))


@lru_cache(maxsize=65536)
def _estimate(arch: Arch, cal: Calibration) -> AreaReport:
    fit = cal.fit
    rows: list[KernelArea] = []
    for name, r in kernels(arch, cal):
        if name in PUBLISHED_KERNELS:          # already in published (post-fit) units
            rows.append(_round(name, r))
            continue
        reg_scale = fit.register_scale_pe if name == "pe_array" else fit.register_scale_rest
        rows.append(_round(name, Resources(r.alms * fit.alm_scale, r.dsps, r.mem_blocks, r.registers * reg_scale)))
    if fit.alm_fixed or fit.register_fixed:
        rows.append(_round("ip_fixed", Resources(fit.alm_fixed, 0, 0, fit.register_fixed)))
    total = KernelArea("total", sum(k.alms for k in rows), sum(k.dsps for k in rows),
                       sum(k.mem_blocks for k in rows), sum(k.registers for k in rows))
    dev = arch.device_info
    cap = KernelArea("capacity", dev.alms, dev.dsps, dev.memory_blocks, dev.registers)
    return AreaReport(arch.name, dev.key, dev.name, dev.memory, tuple(rows), total, cap)


def estimate_area(arch: Arch | str, *, cal: Calibration | None = None) -> AreaReport:
    """ALMs, DSP blocks, block RAMs and registers per kernel and in total, with the device's capacity.

    `arch` is an `Arch` or a shipped name / file path. Memoised on the architecture (searches call it often).
    """
    if not isinstance(arch, Arch):
        arch = load_arch(arch)
    return _estimate(arch, cal or calibration())


def check_fits(arch: Arch | str, *, cal: Calibration | None = None) -> AreaReport:
    """The area report, or `ArchError` naming each resource that does not fit with its need and capacity."""
    report = estimate_area(arch, cal=cal)
    over = report.overflows()
    if over:
        raise ArchError(f"architecture {report.arch_name} does not fit {report.device_name}: " + "; ".join(over)
                        + " (reduce pe_array.k_vector/c_vector/lanes or buffer depths, or choose a larger device)")
    return report
