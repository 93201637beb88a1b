"""Performance reports: per layer and totals, as a human table and as JSON.

A layer is one fused group of the compiled program (all the tiles, i.e. bundles, that carry the same
`BundleNote.name`). Its `macs` are the direct-convolution MACs its bundles execute (the network's count, plus
the halo rows that tiles of a convolution fused with a pooling recompute: at most a fraction of a percent). Its cycles are the cycles its bundles add to the PE array's timeline (`Timeline` spans, so
layers sum exactly to the total), split into busy cycles and stalls by reason.

The JSON has the per-layer fields the plots read (`nas/runtime/report.py`: name, op, cycles, macs,
ddr_bytes_read, ddr_bytes_written, pe_utilisation), plus time, GOP/s, stalls and roofline bounds per layer,
and totals: latency, throughput at the program's batch, GOP/s, efficiency against the roofline, DDR traffic,
activity counts and, from `hw_models.power`, energy per inference.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from simulator import costs as C
from simulator.timing import Timeline

KIND_OPS = {"conv": "Conv", "dw": "DepthwiseConv", "fc": "FullyConnected", "act": "Activation", "pool": "Pool",
            "lrn": "LRN", "elt": "Eltwise", "d2s": "DepthToSpace", "smax": "Softmax", "copy": "Copy"}


@dataclass
class LayerReport:
    name: str
    op: str
    bundles: int = 0
    cycles: float = 0.0
    busy: float = 0.0
    macs: int = 0
    mult_ops: float = 0.0
    ddr_bytes_read: int = 0
    ddr_bytes_written: int = 0
    stalls: dict[str, float] = field(default_factory=dict)
    wino: bool = False
    compute_cycles: float = 0.0      # roofline compute bound: MACs / peak (Winograd peak for Winograd bundles)
    ddr_cycles: float = 0.0          # roofline memory bound: DDR bytes / sustained bytes per cycle

    @property
    def roofline_cycles(self) -> float:
        return max(self.compute_cycles, self.ddr_cycles)

    def to_json(self, arch) -> dict[str, Any]:
        sec = self.cycles / arch.clock_hz
        return {
            "name": self.name, "op": self.op, "bundles": self.bundles, "cycles": round(self.cycles),
            "time_us": sec * 1e6, "macs": self.macs, "gops": 2 * self.macs / sec / 1e9 if sec else 0.0,
            "ddr_bytes_read": self.ddr_bytes_read, "ddr_bytes_written": self.ddr_bytes_written,
            "pe_utilisation": utilisation(arch, self.mult_ops, self.cycles), "busy_cycles": round(self.busy),
            "stall_cycles": {k: round(v) for k, v in sorted(self.stalls.items(), key=lambda kv: -kv[1])},
            "winograd": self.wino, "roofline_cycles": round(self.roofline_cycles),
        }


def utilisation(arch, mult_ops: float, cycles: float) -> float:
    """Fraction of the PE array's multiplier slots used: physical multiplications / (cycles x multipliers)."""
    return min(1.0, mult_ops / (cycles * arch.multipliers)) if cycles else 0.0


@dataclass
class SimReport:
    network: str
    arch: Any
    batch: int
    layers: list[LayerReport]
    total_cycles: float
    ddr_bytes_read: int
    ddr_bytes_written: int
    config_bytes: int
    ddr_busy_cycles: float
    host_partitions: int
    activity: dict[str, float]
    energy_j: float | None = None
    energy_terms: dict[str, float] = field(default_factory=dict)
    accuracy: dict[str, Any] = field(default_factory=dict)
    bundles: int = 0

    @property
    def latency_s(self) -> float:
        return self.total_cycles / self.arch.clock_hz

    @property
    def macs(self) -> int:
        return sum(x.macs for x in self.layers)

    @property
    def roofline_cycles(self) -> float:
        """Lower bound of the whole run: all compute or all DDR traffic at the architecture's peak, whichever is
        longer (layers may overlap each other's transfers, so per-layer bounds do not add up to a bound)."""
        return max(sum(x.compute_cycles for x in self.layers), sum(x.ddr_cycles for x in self.layers))

    def totals(self) -> dict[str, Any]:
        a = self.arch
        lat = self.latency_s
        stalls: dict[str, float] = {}
        for x in self.layers:
            for k, v in x.stalls.items():
                stalls[k] = stalls.get(k, 0.0) + v
        out = {
            "cycles": round(self.total_cycles), "latency_ms": lat * 1e3, "batch": self.batch,
            "throughput_per_s": self.batch / lat if lat else 0.0, "macs": self.macs,
            "gops": 2 * self.macs / lat / 1e9 if lat else 0.0,
            "peak_gops": 2 * a.winograd_macs_per_cycle * a.clock_hz / 1e9,
            "roofline_cycles": round(self.roofline_cycles),
            "roofline_efficiency": self.roofline_cycles / self.total_cycles if self.total_cycles else 0.0,
            "pe_utilisation": utilisation(a, sum(x.mult_ops for x in self.layers), self.total_cycles),
            "ddr_bytes_read": self.ddr_bytes_read, "ddr_bytes_written": self.ddr_bytes_written,
            "config_bytes": self.config_bytes,
            "ddr_utilisation": self.ddr_busy_cycles / self.total_cycles if self.total_cycles else 0.0,
            "bundles": self.bundles, "host_partitions": self.host_partitions,
            "stall_cycles": {k: round(v) for k, v in sorted(stalls.items(), key=lambda kv: -kv[1])},
            "activity": self.activity,
        }
        if self.energy_j is not None:
            out["energy_mj_per_inference"] = 1e3 * self.energy_j / self.batch
            out["energy_terms_mj"] = {k: 1e3 * v for k, v in self.energy_terms.items()}
            out["inferences_per_joule"] = self.batch / self.energy_j if self.energy_j else 0.0
        return out

    def to_json(self) -> dict[str, Any]:
        a = self.arch
        return {"network": self.network, "arch": a.name, "clock_hz": a.clock_hz, "precision": a.precision,
                "totals": self.totals(), "layers": [x.to_json(a) for x in self.layers],
                **({"accuracy": self.accuracy} if self.accuracy else {})}

    def table(self, top: int | None = None) -> str:
        a = self.arch
        rows = [("layer", "op", "bundles", "cycles", "us", "GOP/s", "PE util", "DDR rd KB", "DDR wr KB",
                 "top stall")]
        layers = self.layers
        if top:
            keep = {id(x) for x in sorted(layers, key=lambda x: -x.cycles)[:top]}
            layers = [x for x in layers if id(x) in keep]
        for x in layers:
            j = x.to_json(a)
            st = max(x.stalls.items(), key=lambda kv: kv[1], default=("", 0.0))
            rows.append((x.name[:34], x.op, str(x.bundles), f"{j['cycles']:,}", f"{j['time_us']:.1f}",
                         f"{j['gops']:.1f}", f"{100 * j['pe_utilisation']:.1f}%",
                         f"{x.ddr_bytes_read / 1024:,.0f}", f"{x.ddr_bytes_written / 1024:,.0f}",
                         f"{st[0]} {100 * st[1] / x.cycles:.0f}%" if st[0] and x.cycles else ""))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) if i < 2 or i == 9 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
                 for r in rows]
        t = self.totals()
        lines.append("")
        lines.append(f"{self.network} on {a.name} ({a.precision}, {a.clock_mhz:g} MHz), batch {self.batch}: "
                     f"{t['cycles']:,} cycles = {t['latency_ms']:.3f} ms, {t['throughput_per_s']:,.1f} inferences/s, "
                     f"{t['gops']:,.1f} GOP/s of {t['peak_gops']:,.1f} peak")
        lines.append(f"  roofline efficiency {100 * t['roofline_efficiency']:.1f}% (roofline {t['roofline_cycles']:,} "
                     f"cycles), PE utilisation {100 * t['pe_utilisation']:.1f}%, DDR busy "
                     f"{100 * t['ddr_utilisation']:.1f}%, DDR read {t['ddr_bytes_read'] / 1e6:,.2f} MB, written "
                     f"{t['ddr_bytes_written'] / 1e6:,.2f} MB, {t['bundles']:,} bundles, {t['host_partitions']} host "
                     f"partition(s)")
        total = self.total_cycles or 1.0
        st = ", ".join(f"{k} {100 * v / total:.1f}%" for k, v in list(t["stall_cycles"].items())[:6])
        lines.append(f"  stalls (share of all cycles): {st or 'none'}")
        if self.energy_j is not None:
            lines.append(f"  energy {t['energy_mj_per_inference']:.3f} mJ per inference "
                         f"({t['inferences_per_joule']:,.1f} inferences/J)")
        for name, acc in self.accuracy.items():
            lines.append(f"  accuracy {name}: " + ", ".join(f"{k} {v:.3g}" for k, v in acc.items() if v is not None))
        return "\n".join(lines)


def program_batch(program) -> int:
    """The batch the program was compiled for: `--batch`, else the graph's own (`compiler.compile.graph_batch`,
    recorded at compile time: recurrent inputs count dimension 1), else dimension 0 of a 4-D input (programs
    written before the batch was recorded)."""
    b = (program.meta.get("options") or {}).get("batch") or program.meta.get("batch")
    if b:
        return int(b)
    if program.inputs:
        shape = program.memory[program.inputs[0]].shape
        if len(shape) == 4:
            return int(shape[0])
    return 1


def build_report(program, timeline: Timeline, *, network: str | None = None, batch: int | None = None,
                 energy: bool = True) -> SimReport:
    arch = program.arch
    layers: dict[str, LayerReport] = {}
    for d, bt in zip(timeline.demands, timeline.bundles):
        x = layers.get(d.layer)
        if x is None:
            x = layers[d.layer] = LayerReport(d.layer, KIND_OPS.get(d.kind, d.kind or "bundle"))
        x.bundles += 1
        x.cycles += bt.span
        x.busy += min(bt.busy, bt.span)
        x.macs += d.macs
        x.mult_ops += d.mult_ops
        x.ddr_bytes_read += d.read_bytes + d.filt_bytes
        x.ddr_bytes_written += d.write_bytes
        x.wino = x.wino or d.wino
        for k, v in bt.stalls.items():
            x.stalls[k] = x.stalls.get(k, 0.0) + v
        x.compute_cycles += d.macs / C.peak_macs(arch, d.wino) if d.macs else d.stream_cycles
        x.ddr_cycles += C.ddr_cycles(arch, d.read_bytes + d.filt_bytes + d.write_bytes)
    dm = timeline.demands
    activity = {"macs": float(sum(d.mult_ops for d in dm)),
                "ddr_bytes": float(sum(d.read_bytes + d.filt_bytes + d.write_bytes + d.cfg_bytes for d in dm)),
                "buffer_bytes": float(sum(d.sb_bytes + d.filter_cache_bytes for d in dm)),
                "cycles": float(timeline.total_cycles)}
    rep = SimReport(network or str(program.meta.get("model", "program")), arch,
                    batch or program_batch(program), list(layers.values()), timeline.total_cycles,
                    sum(d.read_bytes + d.filt_bytes for d in dm), sum(d.write_bytes for d in dm),
                    sum(d.cfg_bytes for d in dm), timeline.ddr_busy_cycles, timeline.host_partitions, activity,
                    bundles=len(dm))
    if energy and timeline.total_cycles > 0:
        from hw_models.power import Activity, energy_per_inference

        e = energy_per_inference(arch, Activity(**activity))
        rep.energy_j, rep.energy_terms = e.total_j, dict(e.joules)
    return rep
