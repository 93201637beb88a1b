"""Cost hooks of the rank searches: what a rank table costs, relative to the uncompressed model.

A cost model is any callable `(cfg, ranks) -> Cost`. The search only uses `Cost.value` (lower is better) through
the ratio `baseline.value / candidate.value`, the "speed-up" (latency cost) or "compression" (size cost) that a
target constrains. Shipped:
- `SizeCost`: parameters of the factorised matrices and biases (the ShrinkML size objective); MACs from the IR.
- `OverlayCost`: latency of the compiled program on an overlay architecture, from a pluggable `simulate`
  callable `(graph, arch) -> seconds` (see docs/compression.md for how it is wired to the simulator).
Both memoise on the rank table.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Protocol

from compiler.errors import UserError
from compiler.ir import Graph
from nas.compression.graph import build_graph
from nas.compression.lowrank import size_report
from workloads.speech.model import ModelConfig, Ranks, check_ranks


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


class CostUnavailable(UserError):
    """A cost model whose back-end is not available in this installation."""


@dataclass
class OverlayCost:
    """Overlay latency of the compiled model: `simulate(graph, arch)` returns seconds for one utterance."""

    simulate: Simulate
    arch: Any
    form: str = "unrolled"
    name: str = "overlay"
    unit: str = "s"
    _memo: dict = field(default_factory=dict, repr=False)

    def __call__(self, cfg: ModelConfig, ranks: Ranks) -> Cost:
        ranks = check_ranks(cfg, ranks)
        key = (cfg, _key(ranks))
        if key not in self._memo:
            g = build_graph(cfg, ranks, form=self.form)
            lat = float(self.simulate(g, self.arch))
            p = size_report(cfg, ranks).total_params
            self._memo[key] = Cost(lat, p, g.totals().macs, "s", lat)
        return self._memo[key]


def make_cost(kind: str, *, arch: str = "a10_generic", form: str = "unrolled") -> CostModel:
    """'size', or 'overlay' (needs the compiler and simulator packages)."""
    if kind == "size":
        return SizeCost(form=form)
    if kind == "overlay":
        from hw_models.arch import load_arch

        a = load_arch(arch)
        try:
            from simulator import estimate_latency  # type: ignore[attr-defined]
        except ImportError:
            raise CostUnavailable("the overlay cost needs simulator.estimate_latency(graph, arch), which this "
                                  "version does not have yet; use --cost size") from None
        return OverlayCost(estimate_latency, a, form=form)
    raise UserError(f"cost '{kind}' is unknown; use size or overlay")
