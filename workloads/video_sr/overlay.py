"""The zoo's super-resolution networks on the overlay: frame rate at video resolutions and what limits it.

Each network of the zoo's "super-resolution" family is built at a video resolution (`RESOLUTIONS`, LR input
size; x2 upscaling, so 360p -> 720p and 540p -> 1080p), compiled with `compiler.compile.compile_model` and timed
with the cycle model (`simulator.timing.simulate_timing`); one frame is one inference at batch 1. SRCNN works on
the bicubic-upscaled frame, so its input is the HR size. Networks with a scale option run at x2. The limiter
names the resource that bounds the run: the PE array when it is mostly busy, DDR when the transfers fill the
run, otherwise the PE array under-filled by the layer that takes the most cycles (its input/output channels
against c_vector/k_vector), with the largest stall reason.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from compiler.errors import UserError
from workloads.video_sr.kernels import SRInputError

RESOLUTIONS: dict[str, tuple[int, int]] = {"360p->720p": (360, 640), "540p->1080p": (540, 960)}
SCALE = 2


@dataclass(frozen=True)
class OverlayRow:
    """One (network, architecture, resolution) run; `error` is set instead of the numbers if it does not fit."""

    network: str
    arch: str
    resolution: str
    fps: float | None = None
    latency_ms: float | None = None
    gmacs: float | None = None
    pe_utilisation: float | None = None
    ddr_utilisation: float | None = None
    ddr_mb_per_frame: float | None = None
    limiter: str = ""
    error: str = ""


def sr_networks() -> list[str]:
    from workloads.zoo.registry import names

    return names("super-resolution")


def _graph(network: str, lr_hw: tuple[int, int]):
    from workloads.zoo.registry import build_ir, entry

    e = entry(network)
    channels = e.inputs[0].shape[1]
    h, w = lr_hw
    opts = {"scale": SCALE} if "scale" in e.options else {}
    if network == "srcnn":  # operates on the bicubic-upscaled frame
        h, w = SCALE * h, SCALE * w
    return build_ir(network, [(1, channels, h, w)], weights="none", **opts)


def _limiter(report, graph, arch) -> str:
    t = report.totals()
    if t["pe_utilisation"] >= 0.7:
        return f"PE array (compute-bound, {100 * t['pe_utilisation']:.0f}% busy)"
    if t["ddr_utilisation"] >= 0.7:
        return f"DDR bandwidth ({100 * t['ddr_utilisation']:.0f}% busy)"
    top = max(report.layers, key=lambda x: x.cycles)
    share = top.cycles / report.total_cycles
    text = f"PE array under-filled: {top.name} ({top.op}) takes {100 * share:.0f}% of cycles"
    try:
        node = graph.node(top.name)
        c_in = graph.tensors[node.inputs[0]].shape[1]
        k_out = graph.tensors[node.outputs[0]].shape[1]
        cv, kv = arch.pe_array.c_vector, arch.pe_array.k_vector
        fill = c_in / (math.ceil(c_in / cv) * cv) * k_out / (math.ceil(k_out / kv) * kv)
        text += f", {c_in}->{k_out} channels on c_vector {cv} x k_vector {kv} fill {100 * fill:.0f}%"
    except (KeyError, IndexError):
        pass
    stalls = t["stall_cycles"]
    if stalls:
        reason, cycles = max(stalls.items(), key=lambda kv: kv[1])
        if cycles > 0.05 * report.total_cycles:
            text += f"; stalls: {reason} {100 * cycles / report.total_cycles:.0f}%"
    return text


def overlay_row(network: str, arch_name: str, resolution: str, *, opt_level: int = 2) -> OverlayRow:
    """Compile and time one network at one resolution on one architecture."""
    from compiler.compile import compile_model
    from hw_models.arch import load_arch
    from simulator.report import build_report
    from simulator.timing import simulate_timing

    if resolution not in RESOLUTIONS:
        raise SRInputError(f"resolution '{resolution}' is unknown; use one of {', '.join(RESOLUTIONS)}")
    arch = load_arch(arch_name)
    graph = _graph(network, RESOLUTIONS[resolution])
    try:
        program = compile_model(graph, arch, opt_level=opt_level).program
    except UserError as exc:
        return OverlayRow(network, arch.name, resolution, error=str(exc))
    rep = build_report(program, simulate_timing(program, events=False), network=network, batch=1, energy=False)
    t = rep.totals()
    return OverlayRow(network, arch.name, resolution, fps=t["throughput_per_s"], latency_ms=t["latency_ms"],
                      gmacs=t["macs"] / 1e9, pe_utilisation=t["pe_utilisation"],
                      ddr_utilisation=t["ddr_utilisation"],
                      ddr_mb_per_frame=(t["ddr_bytes_read"] + t["ddr_bytes_written"]) / 1e6,
                      limiter=_limiter(rep, graph, arch))


def overlay_table(networks: list[str] | None = None, archs: list[str] | None = None,
                  resolutions: list[str] | None = None, *, opt_level: int = 2) -> list[OverlayRow]:
    """Every (network, architecture, resolution) combination (defaults: all SR networks, shipped archs)."""
    from hw_models.arch import shipped_archs

    return [overlay_row(n, a, r, opt_level=opt_level) for n in (networks or sr_networks())
            for a in (archs or shipped_archs()) for r in (resolutions or list(RESOLUTIONS))]


def overlay_markdown(rows: list[OverlayRow]) -> str:
    lines = ["| network | arch | resolution | fps | latency ms | GMAC/frame | PE util | DDR util | DDR MB/frame | "
             "limited by |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.error:
            lines.append(f"| {r.network} | {r.arch} | {r.resolution} | - | - | - | - | - | - | does not compile: "
                         f"{r.error} |")
            continue
        lines.append(f"| {r.network} | {r.arch} | {r.resolution} | {r.fps:.2f} | {r.latency_ms:.1f} | {r.gmacs:.1f} | "
                     f"{100 * r.pe_utilisation:.0f}% | {100 * r.ddr_utilisation:.0f}% | {r.ddr_mb_per_frame:.0f} | "
                     f"{r.limiter} |")
    return "\n".join(lines)


def rows_json(rows: list[OverlayRow]) -> list[dict]:
    return [asdict(r) for r in rows]
