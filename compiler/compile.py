"""`compile_model`: ONNX model (or IR graph) + architecture -> overlay `Program`, with a report.

    from compiler.compile import compile_model
    res = compile_model("resnet50.onnx", "a10_generic", opt_level=2)
    res.program.save("resnet50.ovl")
    print(res.summary())

Optimisation levels: -O0 is the naive baseline (one operator per bundle, no fusion, slicing only where a
capacity forces it, no batching, one DDR buffer per tensor, no prefetch); -O1 adds fusion (pools moved into
concatenated branches), double-buffered tiles and memory planning; -O2 adds the architecture-driven passes:
first-layer folding, batching of matrix-vector work, filter-cache residency, native grouped/depthwise
convolution, Winograd and the wide column mappings of a Winograd PE array (docs/compiler.md). The passes that
always run (canonicalisation, legalisation, RNN unrolling, host fallback, int8 calibration) and the optional
ones (`whole-buffer`) are listed with `ovl compile --list-passes`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from compiler.errors import ModelError, UserError
from compiler.ir import Graph
from compiler.passes import PassContext, PassRecord, run_pipeline
from compiler.program import Program

OPT_LEVELS = (0, 1, 2)


@dataclass
class CompileResult:
    program: Program
    graph: Graph
    passes: list[PassRecord]
    seconds: dict[str, float] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        p = self.program
        stats = p.stats()
        host = [{"partition": h.name, "position": h.position, "nodes": [
            {"node": n.name, "op": n.op, "reason": h.reasons.get(n.name, "")} for n in h.graph.nodes]}
            for h in p.host]
        return {
            "model": p.meta.get("model", ""), "arch": p.arch.name, "opt_level": p.meta.get("opt_level"),
            "precision": p.arch.precision,
            **stats,
            "host_fallback": host,
            "passes": [r.to_json() for r in self.passes],
            "seconds": self.seconds,
            "memory_plan": p.meta.get("memory", {}),
        }

    def summary(self) -> str:
        r = self.report()
        lines = [f"{r['model']} -> {r['arch']} ({r['precision']}), -O{r['opt_level']}: {r['bundles']:,} bundles, "
                 f"{r['host_partitions']} host partition(s)"]
        lines.append(f"  config bytes      {r['config_bytes']:,} ({r['config_bytes'] // max(r['bundles'], 1)} per bundle)")
        mods = ", ".join(f"{k} {v:,}" for k, v in r["config_bytes_per_module"].items() if v)
        lines.append(f"  per module        {mods}")
        lines.append(f"  weight bytes      {r['weight_bytes']:,}")
        reg = r["regions"]
        lines.append(f"  DDR footprint     {r['ddr_footprint_bytes']:,} bytes (weights {reg['weights'][1]:,}, "
                     f"features {reg['features'][1]:,}, config {reg['config'][1]:,})")
        tr = r["ddr_traffic_bytes"]
        lines.append(f"  DDR traffic       {r['ddr_traffic_total_bytes']:,} bytes (features read "
                     f"{tr['features_read']:,}, filters {tr['filters_read']:,}, written {tr['features_written']:,}, "
                     f"config {tr['config']:,}, host {tr['host']:,})")
        lines.append(f"  config overhead   {100 * r['config_overhead']:.3f}% of DDR traffic")
        if r["host_fallback"]:
            lines.append("  host fallback:")
            for h in r["host_fallback"]:
                for nd in h["nodes"]:
                    lines.append(f"    {h['partition']} (before bundle {h['position']}): {nd['node']} ({nd['op']})"
                                 f": {nd['reason']}")
        lines.append("  passes:")
        for rec in self.passes:
            if rec.ran:
                lines.append(f"    {rec.name:27s} {1000 * rec.seconds:8.1f} ms  {rec.changes}")
        lines.append(f"  time: import {self.seconds.get('import', 0):.3f} s, passes {self.seconds['passes']:.3f} s, "
                     f"lowering {self.seconds['lower']:.3f} s, total {self.seconds['total']:.3f} s")
        return "\n".join(lines)


def load_graph(model: str | Path | Graph, input_shapes: Mapping[str, Sequence[int]] | None = None,
               batch: int | None = None) -> Graph:
    """An IR graph from a Graph or an ONNX file (`input_shapes` fix ONNX input dimensions), with `batch` set by
    `rebatch` when given."""
    if isinstance(model, Graph):
        if input_shapes:
            raise UserError("--input-shape applies to ONNX files; build the graph with the shapes you want")
        return model if batch is None else rebatch(model, batch)
    from compiler.frontend import import_onnx

    path = Path(model)
    if not path.exists():
        raise ModelError(f"model file '{model}' not found")
    g = import_onnx(path, input_shapes=dict(input_shapes or {}) or None)
    if batch is not None:
        g = rebatch(g, batch)
    return g


RECURRENT_OPS = ("LSTM", "GRU", "RNN")


def batch_axis(g: Graph, name: str) -> int:
    """The batch dimension of graph input `name`: 1 for the (time, batch, features) sequence of a recurrent node
    (the IR's LSTM/GRU/RNN layout), 0 otherwise."""
    return 1 if any(n.op in RECURRENT_OPS and n.inputs and n.inputs[0] == name for n in g.nodes) else 0


def graph_batch(g: Graph) -> int:
    """Images (or sequences) per inference: dimension 0 of a 4-D image input, dimension 1 of a recurrent node's
    (time, batch, features) input (the first input decides); 1 otherwise."""
    if g.inputs:
        shape = g.tensors[g.inputs[0]].shape
        axis = batch_axis(g, g.inputs[0])
        if len(shape) == 4 or (axis == 1 and len(shape) == 3):
            return int(shape[axis])
    return 1


def rebatch(g: Graph, batch: int) -> Graph:
    """The graph with the batch dimension of every input set to `batch` (dimension 0, or 1 for a recurrent
    node's (time, batch, features) sequence; Reshape targets that hard-code the old batch in dimension 0 follow);
    raises UserError when the shapes do not work out."""
    if batch < 1:
        raise UserError(f"--batch {batch}: must be >= 1")
    axes = {i: batch_axis(g, i) for i in g.inputs if len(g.tensors[i].shape) > batch_axis(g, i)}
    old = {g.tensors[i].shape[a] for i, a in axes.items()}
    if len(old) != 1:
        raise UserError("--batch needs every input to have the same batch dimension; use --input-shape")
    (n0,) = old
    out = g.copy()
    for i, a in axes.items():
        t = out.tensors[i]
        shape = list(t.shape)
        shape[a] = batch
        out.tensors[i] = type(t)(t.name, tuple(shape), t.dtype)
    nodes = []
    for n in out.nodes:
        if n.op == "Reshape" and n.attr("shape") and n.attr("shape")[0] == n0:
            n = n.replace(attrs={**n.attrs, "shape": [batch] + list(n.attr("shape"))[1:]})
        nodes.append(n)
    out.nodes = nodes
    try:
        out.infer_shapes()
        out.validate()
    except UserError as exc:
        raise UserError(f"cannot set the batch to {batch}: {exc}; use --input-shape") from None
    return out


def compile_model(model: str | Path | Graph, arch: Any = "a10_generic", *, opt_level: int = 2,
                  batch: int | None = None, input_shapes: Mapping[str, Sequence[int]] | None = None,
                  enable: Sequence[str] = (), disable: Sequence[str] = (), host_fallback: bool = True,
                  calibration: Mapping[str, Any] | None = None, with_weights: bool | None = None,
                  verify: bool = True, seed: int = 0) -> CompileResult:
    """Compile an ONNX file (or an IR graph) for an architecture (shipped name, .toml path or `Arch`).

    `with_weights=False` skips encoding the weights blob (sizes and addresses are still planned); a graph
    without weight data is compiled that way automatically. Raises `CapacityError` when a layer does not fit
    (naming the layer and the architecture parameter to raise), `ModelError` for unreadable models."""
    from hw_models.arch import Arch, load_arch
    from compiler.lowering.lower import lower

    if opt_level not in OPT_LEVELS:
        raise UserError(f"-O{opt_level}: legal optimisation levels are {', '.join(map(str, OPT_LEVELS))}")
    t0 = time.perf_counter()
    a = arch if isinstance(arch, Arch) else load_arch(arch)
    g = load_graph(model, input_shapes, batch)
    t1 = time.perf_counter()
    ctx = PassContext(a, opt_level, tuple(enable), tuple(disable), host_fallback,
                      dict(calibration) if calibration else None, verify, seed)
    g2, records = run_pipeline(g, ctx)
    t2 = time.perf_counter()
    meta = {"model": g.name, "opt_level": opt_level, "batch": graph_batch(g),
            "options": {"batch": batch, "enable": list(enable), "disable": list(disable),
                        "host_fallback": host_fallback, "seed": seed},
            "passes": [r.to_json() for r in records if r.ran]}
    prog = lower(g2, a, model=g.name, with_weights=with_weights, meta=meta)
    t3 = time.perf_counter()
    seconds = {"import": t1 - t0, "passes": t2 - t1, "lower": t3 - t2, "total": t3 - t0}
    return CompileResult(prog, g2, records, seconds)
