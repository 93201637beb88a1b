"""One-call simulation of a model or program: compile when needed, time it, optionally run its numerics and
compare them with onnxruntime, report, trace.

    from simulator.api import run
    res = run("googlenet", "a10_generic", opt_level=2)          # zoo name, .onnx path, .ovl path, Graph or Program
    print(res.report.table())
    res = run("resnet50.onnx", "a10_generic", functional=True, compare=True, trace="out.json")
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from compiler.errors import UserError
from compiler.ir import Graph
from simulator.precision import compare as compare_arrays
from simulator.report import SimReport, build_report, program_batch
from simulator.timing import Timeline, simulate_timing


@dataclass
class SimResult:
    program: Any
    graph: Graph | None
    timeline: Timeline
    report: SimReport
    outputs: dict[str, np.ndarray] | None = None
    reference: dict[str, np.ndarray] | None = None
    seconds: dict[str, float] = field(default_factory=dict)


def resolve_arch(arch: Any, precision: str | None = None):
    from hw_models.arch import Arch, load_arch

    a = arch if isinstance(arch, Arch) else load_arch(arch)
    return a.with_changes(precision=precision) if precision and precision != a.precision else a


def load_model(model: Any, *, weights: bool, batch: int | None = None) -> tuple[Any, Graph | None]:
    """(program or None, graph or None) from a Program, a Graph, a .ovl/.onnx path or a zoo network name."""
    from compiler.program import Program

    if isinstance(model, Program) or (not isinstance(model, Graph) and Path(str(model)).suffix == ".ovl"):
        program = model if isinstance(model, Program) else Program.load(Path(str(model)))
        if batch and batch != program_batch(program):
            name = program.meta.get("model", "program") if isinstance(model, Program) else str(model)
            raise UserError(f"program '{name}' was compiled at batch "
                            f"{program_batch(program)}; a program's batch is fixed: compile it with "
                            f"`ovl compile --batch {batch}`, or give the ONNX model or zoo network")
        return program, None
    from compiler.compile import load_graph, rebatch

    if isinstance(model, Graph) or Path(str(model)).suffix == ".onnx" or Path(str(model)).exists():
        return None, load_graph(model, None, batch or None)   # as `ovl compile --batch`
    from workloads.zoo import ZOO, build_ir

    if str(model) not in ZOO:
        raise UserError(f"'{model}' is neither a file (.onnx, .ovl) nor a zoo network (see `ovl zoo list`)")
    g = build_ir(str(model), weights="random" if weights else "none")
    return None, rebatch(g, batch) if batch else g


def random_inputs(graph_or_program, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    if isinstance(graph_or_program, Graph):
        shapes = {i: graph_or_program.tensors[i].shape for i in graph_or_program.inputs}
    else:
        shapes = {i: graph_or_program.memory[i].shape for i in graph_or_program.inputs}
    return {k: rng.standard_normal(s).astype(np.float32) for k, s in shapes.items()}


def run(model: Any, arch: Any = "a10_generic", *, opt_level: int = 2, batch: int | None = None,
        precision: str | None = None, functional: bool = False, compare: bool = False,
        inputs: Mapping[str, np.ndarray] | None = None, seed: int = 0, trace: str | Path | None = None,
        network: str | None = None, accumulate: str | None = None) -> SimResult:
    """Simulate `model` on `arch`: cycle model and report always; with `functional`, the numerics on `inputs`
    (seeded random when None); with `compare`, their error against onnxruntime in FP32 (needs a graph).
    `accumulate` ("fp32", the default, or "fp64") is the functional simulator's accumulator type."""
    import time

    from compiler.compile import compile_model
    from simulator.functional import FunctionalSimulator

    t0 = time.perf_counter()
    secs: dict[str, float] = {}
    program, graph = load_model(model, weights=functional or compare, batch=batch)
    if program is None:
        a = resolve_arch(arch, precision)
        program = compile_model(graph, a, opt_level=opt_level).program
        secs["compile"] = time.perf_counter() - t0
    elif precision and precision != program.arch.precision:
        raise UserError(f"the program was compiled for {program.arch.precision}; recompile the model for {precision}")
    t1 = time.perf_counter()
    timeline = simulate_timing(program, events=trace is not None)
    secs["timing"] = time.perf_counter() - t1
    name = network or (graph.name if graph is not None else None)
    report = build_report(program, timeline, network=name)
    res = SimResult(program, graph, timeline, report, seconds=secs)
    if functional or compare:
        feeds = dict(inputs) if inputs is not None else random_inputs(graph if graph is not None else program, seed)
        t2 = time.perf_counter()
        res.outputs = FunctionalSimulator(program, accumulate=accumulate).run(feeds)
        secs["functional"] = time.perf_counter() - t2
        if compare:
            if graph is None:
                raise UserError("--compare needs the model (ONNX file or zoo name), not a compiled program")
            from compiler.frontend import run_onnxruntime

            res.reference = run_onnxruntime(graph, feeds, optimize=False)
            for o in program.outputs:
                if o in res.reference:
                    report.accuracy[f"{o} vs fp32 onnxruntime"] = compare_arrays(res.outputs[o],
                                                                                 res.reference[o]).to_json()
    if trace is not None:
        from simulator.trace import write_trace

        write_trace(timeline, trace, name=report.network)
    secs["total"] = time.perf_counter() - t0
    return res
