"""Cost hooks of the rank searches: what a rank table costs, relative to the uncompressed model.

A cost model is any callable `(cfg, ranks) -> Cost`. The search only uses `Cost.value` (lower is better) through
the ratio `baseline.value / candidate.value`, the "speed-up" (latency cost) or "compression" (size cost) that a
target constrains. Shipped:
- `SizeCost`: parameters of the factorised matrices and biases (the ShrinkML size objective); MACs from the IR.
- `OverlayCost`: latency on an overlay architecture from a pluggable `simulate(graph, arch) -> seconds`;
  `make_cost("overlay")` plugs in the simulator's estimate of the compiled schedule (`overlay_latency`, with
  the stream-buffer hand-over modelled: within 1% of the cycle model on the dense native, dense unrolled and
  factorised unrolled FSDD LSTMs, tests/simulator/test_timing.py). Each model is costed in the form it would be
  deployed in (`form="auto"`): ONNX LSTM nodes when no recurrent matrix is factorised (the dense baseline
  included), unrolled otherwise; so speed-ups are against the native dense LSTM.
Both memoise on the rank table.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Literal, Protocol

from compiler.errors import UserError
from compiler.ir import Graph
from nas.compression.graph import build_graph
from nas.compression.lowrank import size_report
from workloads.speech.model import ModelConfig, Ranks, SpeechModel, check_ranks


@dataclass(frozen=True)
class Cost:
    value: float             # what the target constrains: seconds (latency) or parameters (size)
    params: int
    macs: int
    unit: Literal["s", "params"]
    latency_s: float | None = None


class CostModel(Protocol):
    name: str
    unit: str

    def __call__(self, cfg: ModelConfig, ranks: Ranks) -> Cost: ...


def _key(ranks: Ranks) -> tuple:
    return tuple(sorted(ranks.items()))


def _macs(cfg: ModelConfig, ranks: Ranks, form: str) -> int:
    return build_graph(cfg, ranks, form=form).totals().macs


@dataclass
class SizeCost:
    """Parameter count (the value) and MACs of the IR in `form` ('auto': native when possible)."""

    form: str = "unrolled"
    name: str = "size"
    unit: str = "params"
    _memo: dict = field(default_factory=dict, repr=False)

    def __call__(self, cfg: ModelConfig, ranks: Ranks) -> Cost:
        ranks = check_ranks(cfg, ranks)
        key = (cfg, _key(ranks))
        if key not in self._memo:
            p = size_report(cfg, ranks).total_params
            self._memo[key] = Cost(float(p), p, _macs(cfg, ranks, self.form), "params")
        return self._memo[key]


Simulate = Callable[[Graph, Any], float]


@dataclass
class OverlayCost:
    """Overlay latency of the compiled model: `simulate(graph, arch)` returns seconds for one utterance.

    The compiled schedule repeats the same bundles every time step, so latency is affine in the number of
    frames once there are a few: with `extrapolate=(a, b)` the model is costed at a and b frames and the line
    through them is evaluated at `cfg.frames` (on the 48-frame FSDD model equal to the full-length estimate to
    float precision in native form and within 0.11 % for a 1/4-rank unrolled model, whose per-step cost is
    constant up to 16 frames and then grows by 0.3 %; see tests and docs/compression.md; 20x fewer nodes to
    plan). `extrapolate=None` costs the full graph.
    """

    simulate: Simulate
    arch: Any
    form: str = "auto"
    extrapolate: tuple[int, int] | None = (4, 6)
    name: str = "overlay"
    unit: str = "s"
    _memo: dict = field(default_factory=dict, repr=False)

    def _latency(self, cfg: ModelConfig, ranks: Ranks) -> float:
        ex = self.extrapolate
        if ex is None or cfg.frames <= max(ex):
            return float(self.simulate(build_graph(cfg, ranks, form=self.form), self.arch))
        a, b = ex
        la, lb = (float(self.simulate(build_graph(replace(cfg, frames=f), ranks, form=self.form), self.arch))
                  for f in (a, b))
        return la + (cfg.frames - a) * (lb - la) / (b - a)

    def __call__(self, cfg: ModelConfig, ranks: Ranks) -> Cost:
        ranks = check_ranks(cfg, ranks)
        key = (cfg, _key(ranks))
        if key not in self._memo:
            lat = self._latency(cfg, ranks)
            p = size_report(cfg, ranks).total_params
            self._memo[key] = Cost(lat, p, _macs(cfg, ranks, self.form), "s", lat)
        return self._memo[key]


def overlay_latency(graph: Graph, arch: Any) -> float:
    """Seconds per utterance from the simulator's fast estimate of the compiled schedule, with the memory plan's
    stream-buffer hand-over (`on_chip`), as the compiled program runs: the step-by-step bundles of an LSTM pass
    most of their results on chip (within 5 % of the cycle model by the simulator's acceptance tests)."""
    from simulator.estimate import estimate_latency

    return estimate_latency(graph, arch, on_chip=True)


def cycle_simulate(model: SpeechModel, arch: Any, form: str = "auto") -> dict[str, Any]:
    """Compile the model (with its weights) to an overlay program and run the cycle-approximate timing model."""
    from simulator.api import run

    g = build_graph(model.cfg, model.ranks, form=form, model=model)
    res = run(g, arch)
    rep = res.report
    return {"latency_s": rep.latency_s, "cycles": rep.total_cycles, "bundles": rep.bundles,
            "host_partitions": rep.host_partitions, "ddr_bytes_read": rep.ddr_bytes_read,
            "compile_s": res.seconds.get("compile", 0.0), "form": g.metadata["form"]}


def make_cost(kind: str, *, arch: str = "a10_generic", form: str = "auto") -> CostModel:
    """'size' (parameters) or 'overlay' (simulated latency on `arch`; `form` 'auto': native LSTM when possible)."""
    if kind == "size":
        return SizeCost(form="unrolled" if form == "auto" else form)
    if kind == "overlay":
        from hw_models.arch import load_arch

        return OverlayCost(overlay_latency, load_arch(arch), form=form)
    raise UserError(f"cost '{kind}' is unknown; use size or overlay")
