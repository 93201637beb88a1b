"""The zoo's super-resolution networks on the overlay: frame rate at video resolutions and what limits it.

Each network of the zoo's "super-resolution" family is built at a video resolution (`RESOLUTIONS`, LR input
size; x2 upscaling, so 360p -> 720p and 540p -> 1080p), compiled with `compiler.compile.compile_model` and timed
with the cycle model (`simulator.timing.simulate_timing`) and with the simulator's fast analytical estimate
(`simulator.estimate.estimate`); one frame is one inference at batch 1. SRCNN works on
the bicubic-upscaled frame, so its input is the HR size. Networks with a scale option run at x2. The limiter
names the resource that bounds the run: the PE array when it is mostly busy, DDR when the transfers fill the
run, otherwise the PE array under-filled by the layer that takes the most cycles (its input/output channels
against c_vector/k_vector), with the largest stall reason. Operators the compiler leaves to the host CPU
(`host_ops`, e.g. FSRCNN's ConvTranspose and per-channel PReLU, or DepthToSpace on an overlay without that
kernel) are timed by neither model, so such a row's fps is an upper bound.

`tailor_arch` searches an overlay for the four networks together (`hw_models.optimizer.optimize`, objective:
geometric-mean fps, same device, precision, clock and DDR as the base); `bench/bench_sr.py --overlay --base B`
runs it and writes `TAILORED[B]` (`data/sr_a10.toml` from a10_generic, `data/sr_dla_a10.toml` from
dla_alexnet_a10), which the default table includes next to the shipped overlays.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

from compiler.errors import UserError
from workloads.video_sr.kernels import SRInputError

RESOLUTIONS: dict[str, tuple[int, int]] = {"360p->720p": (360, 640), "540p->1080p": (540, 960)}
SCALE = 2
_DATA = Path(__file__).resolve().parent / "data"
#: base architecture -> the SR-tailored architecture searched from it (same device, precision, clock, DDR)
TAILORED: dict[str, Path] = {"a10_generic": _DATA / "sr_a10.toml", "dla_alexnet_a10": _DATA / "sr_dla_a10.toml"}
TAILORED_ARCH = TAILORED["a10_generic"]
#: the overlays of the default table: the generic and the FPGA'17 AlexNet overlays, and the SR-tailored ones
DEFAULT_ARCHS: tuple[str, ...] = ("a10_generic", "dla_alexnet_a10", *(str(p) for p in TAILORED.values()))


@dataclass(frozen=True)
class OverlayRow:
    """One (network, architecture, resolution) run; `error` is set instead of the numbers if it does not fit."""

    network: str
    arch: str
    resolution: str
    fps: float | None = None
    fps_estimate: float | None = None
    latency_ms: float | None = None
    gmacs: float | None = None
    pe_utilisation: float | None = None
    ddr_utilisation: float | None = None
    ddr_mb_per_frame: float | None = None
    limiter: str = ""
    host_ops: tuple[str, ...] = ()   # ops the compiler left to the host CPU: their time is in neither fps
    host_gmacs: float = 0.0          # MACs per frame of those host ops (not in `gmacs`)
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
    host_ops = tuple(sorted({n.op for h in program.host for n in h.graph.nodes}))
    from simulator.estimate import estimate

    rep = build_report(program, simulate_timing(program, events=False), network=network, batch=1, energy=False)
    t = rep.totals()
    fast = estimate(graph, arch, opt_level=opt_level, network=network)
    return OverlayRow(network, arch.name, resolution, fps=t["throughput_per_s"],
                      fps_estimate=fast.throughput_per_s, latency_ms=t["latency_ms"],
                      gmacs=t["macs"] / 1e9, pe_utilisation=t["pe_utilisation"],
                      ddr_utilisation=t["ddr_utilisation"],
                      ddr_mb_per_frame=(t["ddr_bytes_read"] + t["ddr_bytes_written"]) / 1e6,
                      limiter=_limiter(rep, graph, arch), host_ops=host_ops,
                      host_gmacs=max(0.0, graph.totals().macs - t["macs"]) / 1e9)


def overlay_table(networks: list[str] | None = None, archs: list[str] | None = None,
                  resolutions: list[str] | None = None, *, opt_level: int = 2) -> list[OverlayRow]:
    """Every (network, architecture, resolution) combination (defaults: all SR networks, `DEFAULT_ARCHS`)."""
    return [overlay_row(n, a, r, opt_level=opt_level) for n in (networks or sr_networks())
            for a in (archs or DEFAULT_ARCHS) for r in (resolutions or list(RESOLUTIONS))]


def sr_graphs(resolution: str = "360p->720p") -> list:
    """The zoo's SR networks as cost-only IR graphs at one video resolution."""
    if resolution not in RESOLUTIONS:
        raise SRInputError(f"resolution '{resolution}' is unknown; use one of {', '.join(RESOLUTIONS)}")
    return [_graph(n, RESOLUTIONS[resolution]) for n in sr_networks()]


def tailor_arch(resolution: str = "360p->720p", base: str = "a10_generic", *, time_limit: float = 300.0,
                max_candidates: int | None = None, seed: int = 0):
    """Search an overlay for all SR networks at `resolution` (geometric-mean fps, the base's device and budget,
    precision, clock and DDR); returns `(OptimizeResult, toml_text)` with the best architecture as TOML, named
    after `TAILORED[base]`."""
    from hw_models.arch import load_arch
    from hw_models.optimizer import Budget, arch_to_toml, optimize, result_header_lines

    if base not in TAILORED:
        raise SRInputError(f"base '{base}' has no tailored-architecture file; use one of {', '.join(TAILORED)}")
    arch = load_arch(base)
    res = optimize(sr_graphs(resolution), arch, budget=Budget.parse(None, arch.device), time_limit=time_limit,
                   max_candidates=max_candidates, seed=seed)
    if res.best is None:
        raise SRInputError(f"no legal architecture found for the SR networks from '{base}'; raise the time limit")
    e = res.best
    name = TAILORED[base].stem
    tailored = e.arch.model_copy(update={"name": name, "description": f"tailored for the zoo's SR networks at "
                                         f"{resolution} (geometric-mean fps), from {base}"})
    header = [f"written by `bench/bench_sr.py --overlay` (workloads.video_sr.overlay.tailor_arch) for "
              f"{', '.join(res.models)} at {resolution} on {arch.device}, objective {res.objective}",
              *result_header_lines(res, seed, label="fast estimate", fps_digits=2)]
    return res, arch_to_toml(tailored, header)


def overlay_markdown(rows: list[OverlayRow]) -> str:
    lines = ["| network | arch | resolution | fps (cycle model) | fps (estimate) | latency ms | GMAC/frame | PE util | "
             "DDR util | DDR MB/frame | limited by |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.error:
            lines.append(f"| {r.network} | {r.arch} | {r.resolution} | - | - | - | - | - | - | - | does not compile: "
                         f"{r.error} |")
            continue
        host = f"; on the host, not timed: {', '.join(r.host_ops)} ({r.host_gmacs:.2f} GMAC)" if r.host_ops else ""
        lines.append(f"| {r.network} | {r.arch} | {r.resolution} | {r.fps:.2f} | {r.fps_estimate:.2f} | "
                     f"{r.latency_ms:.1f} | {r.gmacs:.1f} | {100 * r.pe_utilisation:.0f}% | "
                     f"{100 * r.ddr_utilisation:.0f}% | {r.ddr_mb_per_frame:.0f} | {r.limiter}{host} |")
    return "\n".join(lines)


def rows_json(rows: list[OverlayRow]) -> list[dict]:
    return [asdict(r) for r in rows]
