"""The per-layer performance report the plots read (`ovl plot layers|roofline REPORT.json`).

The simulator writes it (`ovl sim ... --report FILE`); anything that produces the same JSON can be plotted.

    {
      "network": "googlenet",                 # optional, used in titles
      "arch": "a10_generic",                  # shipped architecture name or path of its .toml file
      "clock_hz": 265000000.0,                # optional; default: the architecture's clock_hz
      "layers": [                             # network order
        {"name": "conv1/7x7_s2",              # unique layer name
         "op": "Conv",                        # ONNX op type (colours the bars and points)
         "cycles": 401408,                    # overlay cycles of the layer (> 0)
         "macs": 118013952,                   # multiply-accumulates of the layer as written (dense count)
         "ddr_bytes_read": 1204224,           # DDR bytes read by the layer (features, filters, biases)
         "ddr_bytes_written": 802816,         # DDR bytes written by the layer
         "pe_utilisation": 0.73}              # fraction in [0, 1] of the PE array's MAC slots the layer used
      ]
    }

Other fields are allowed and ignored. The roofline's roofs come from the architecture (`Roof.from_arch`):
`peak_macs_per_cycle`, `winograd_macs_per_cycle`, `ddr_bytes_per_cycle` and `clock_hz` of `hw_models.arch.Arch`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from compiler.errors import UserError

LAYER_FIELDS: dict[str, type | tuple[type, ...]] = {
    "name": str, "op": str, "cycles": (int, float), "macs": (int, float), "ddr_bytes_read": (int, float),
    "ddr_bytes_written": (int, float), "pe_utilisation": (int, float),
}


class ReportError(UserError):
    """A report file that is missing, not JSON, or lacks a field the plots need."""


@dataclass(frozen=True)
class LayerRecord:
    name: str
    op: str
    cycles: float
    macs: float
    ddr_bytes_read: float
    ddr_bytes_written: float
    pe_utilisation: float

    @property
    def ddr_bytes(self) -> float:
        return self.ddr_bytes_read + self.ddr_bytes_written


@dataclass(frozen=True)
class Report:
    layers: tuple[LayerRecord, ...]
    network: str = ""
    arch: str | None = None
    clock_hz: float | None = None


@dataclass(frozen=True)
class Roof:
    """What a roofline needs from an architecture."""

    name: str
    peak_macs_per_cycle: float          # dense (direct convolution) MACs per cycle
    winograd_macs_per_cycle: float      # direct-equivalent MACs per cycle of 3-wide convs under Winograd
    ddr_bytes_per_cycle: float
    clock_hz: float

    @classmethod
    def from_arch(cls, arch: Any) -> "Roof":
        """From a `hw_models.arch.Arch` (its derived properties; nothing re-derived here)."""
        return cls(arch.name, arch.peak_macs_per_cycle, arch.winograd_macs_per_cycle, arch.ddr_bytes_per_cycle,
                   arch.clock_hz)


def layer_from_dict(d: Mapping[str, Any], where: str = "layer") -> LayerRecord:
    if not isinstance(d, Mapping):
        raise ReportError(f"{where}: expected an object with fields {', '.join(LAYER_FIELDS)}")
    for f, types in LAYER_FIELDS.items():
        if f not in d:
            raise ReportError(f"{where}: field '{f}' is missing (a report layer needs {', '.join(LAYER_FIELDS)})")
        v = d[f]
        if not isinstance(v, types) or isinstance(v, bool):
            raise ReportError(f"{where}: field '{f}' = {v!r}: expected a {'string' if types is str else 'number'}")
        if types is not str and v < 0:
            raise ReportError(f"{where}: field '{f}' = {v!r}: must be >= 0")
    return LayerRecord(**{f: d[f] for f in LAYER_FIELDS})


def report_from_dict(d: Mapping[str, Any], source: str = "report") -> Report:
    if not isinstance(d, Mapping) or not isinstance(d.get("layers"), list) or not d["layers"]:
        raise ReportError(f"{source}: expected a JSON object with a non-empty 'layers' list")
    layers = tuple(layer_from_dict(x, f"{source} layer {i} ({x.get('name', '?') if isinstance(x, Mapping) else x})")
                   for i, x in enumerate(d["layers"]))
    clock = d.get("clock_hz")
    if clock is not None and (not isinstance(clock, (int, float)) or clock <= 0):
        raise ReportError(f"{source}: clock_hz = {clock!r}: must be a positive number")
    return Report(layers, str(d.get("network", "")), d.get("arch"), None if clock is None else float(clock))


def load_report(path: str | Path) -> Report:
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise ReportError(f"report {p}: no such file; write one with 'ovl sim ... --report FILE'") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ReportError(f"report {p}: not valid JSON ({exc})") from None
    return report_from_dict(data, f"report {p}")
