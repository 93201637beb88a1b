"""The overlay simulator: functional numerics, cycle-approximate timing, fast analytical estimate, reports, traces.

    from simulator import run, estimate, estimate_latency
    res = run("googlenet", "a10_generic")            # compile + cycle model + report (see simulator.api)
    print(res.report.table())
    estimate(graph, arch).seconds                   # fast estimate on an IR graph (see simulator.estimate)

Modules: `functional` (the executable ISA), `machine` (DDR / stream buffer / caches), `precision`, `numerics`,
`demand` + `timing` (the cycle model), `costs` (formulas shared by the cycle model and the estimate),
`estimate`, `report`, `trace`, `api`. Names are imported lazily so that `import simulator` stays light.
"""
from __future__ import annotations

from typing import Any

_EXPORTS = {
    "run": "simulator.api", "SimResult": "simulator.api",
    "FunctionalSimulator": "simulator.functional", "simulate": "simulator.functional",
    "simulate_timing": "simulator.timing", "Timeline": "simulator.timing",
    "build_report": "simulator.report", "SimReport": "simulator.report",
    "estimate": "simulator.estimate", "estimate_latency": "simulator.estimate",
    "estimate_many": "simulator.estimate", "Estimate": "simulator.estimate",
    "write_trace": "simulator.trace", "summarize": "simulator.trace",
    "SimulationError": "simulator.machine",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'simulator' has no attribute '{name}'")
