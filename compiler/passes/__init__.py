"""Compiler passes: named, switchable IR -> IR functions, the pipelines of each -O level, and the pass manager.

A pass is `fn(graph, ctx) -> graph` registered with `@register_pass(name, doc, levels)`; it never mutates its
input. Rewriting passes change the graph (same semantics, checked by tests through onnxruntime); planning passes
attach decisions to `graph.metadata["plan"]` (see `compiler.passes.plan`). `run_pipeline` runs the passes in
`PIPELINE` order that the options enable, verifies the IR after each one, and records per pass its wall time and
what it changed.

    from compiler.passes import run_pipeline, PassContext
    g2, log = run_pipeline(graph, PassContext(arch, opt_level=2))
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from compiler.errors import UserError
from compiler.ir import Graph

PassFn = Callable[[Graph, "PassContext"], Graph]


@dataclass(frozen=True)
class PassInfo:
    name: str
    fn: PassFn
    doc: str
    levels: frozenset[int]        # -O levels that enable it by default
    kind: str                     # "canonicalize" | "legalize" | "optimize" | "plan"


@dataclass
class PassContext:
    arch: Any
    opt_level: int = 2
    enable: Sequence[str] = ()        # passes forced on
    disable: Sequence[str] = ()       # passes forced off
    host_fallback: bool = True        # False: unsupported nodes raise CapacityError instead
    calibration: dict[str, Any] | None = None   # int8: {input name: array}; None: seeded random inputs
    verify: bool = True
    seed: int = 0

    def enabled(self, name: str) -> bool:
        if name in self.disable:
            return False
        if name in self.enable:
            return True
        return self.opt_level in REGISTRY[name].levels


@dataclass
class PassRecord:
    name: str
    ran: bool
    seconds: float = 0.0
    changes: str = ""
    nodes_before: int = 0
    nodes_after: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ran": self.ran, "seconds": self.seconds, "changes": self.changes,
                "nodes_before": self.nodes_before, "nodes_after": self.nodes_after}


REGISTRY: dict[str, PassInfo] = {}
PLANNING_MEMOS = ("_plan_memo", "_support")
#: pass modules in pipeline order (a module registers its passes when imported)
PASS_MODULES = ("canonical", "legalize", "fold", "batching", "rnn", "host", "group_conv", "winograd", "columns", "concat_aux", "fuse",
                "calibrate", "tile", "residency", "memory")
PIPELINE: list[str] = []


def register_pass(name: str, doc: str, levels: Sequence[int] = (0, 1, 2), kind: str = "optimize"
                  ) -> Callable[[PassFn], PassFn]:
    def deco(fn: PassFn) -> PassFn:
        if name in REGISTRY:
            raise ValueError(f"pass '{name}' registered twice")
        REGISTRY[name] = PassInfo(name, fn, doc, frozenset(levels), kind)
        PIPELINE.append(name)
        return fn

    return deco


def _load_passes() -> None:
    """Import the pass modules in pipeline order (registration order is the pipeline)."""
    import importlib

    for mod in PASS_MODULES:
        importlib.import_module(f"compiler.passes.{mod}")


def describe(graph: Graph) -> dict[str, int]:
    ops: dict[str, int] = {}
    for n in graph.nodes:
        ops[n.op] = ops.get(n.op, 0) + 1
    return ops


def _diff(before: dict[str, int], after: dict[str, int]) -> str:
    parts = []
    for op in sorted(set(before) | set(after)):
        d = after.get(op, 0) - before.get(op, 0)
        if d:
            parts.append(f"{op} {d:+d}")
    return ", ".join(parts)


def verify(graph: Graph, where: str, before: Graph | None = None) -> None:
    """Structural check between passes: topological order, defined tensors, shapes equal to re-inference
    (skipped when the pass kept every node and tensor, as planning passes do), and a consistent plan."""
    from compiler.ops import infer_node
    from compiler.passes.plan import get_plan

    same = (before is not None and len(before.nodes) == len(graph.nodes)
            and all(a is b for a, b in zip(before.nodes, graph.nodes)) and before.tensors.keys() == graph.tensors.keys()
            and all(before.tensors[k].shape == t.shape for k, t in graph.tensors.items()))
    try:
        graph.validate()
        for n in ([] if same else graph.nodes):
            outs = infer_node(n, [graph.tensors[i] if i else None for i in n.inputs])
            for name, (shape, _) in zip(n.outputs, outs):
                if name and tuple(graph.tensors[name].shape) != tuple(shape):
                    raise UserError(f"tensor '{name}' has shape {list(graph.tensors[name].shape)} but node "
                                    f"'{n.name}' produces {list(shape)}")
        plan = get_plan(graph)
        names = {n.name for n in graph.nodes}
        seen: set[str] = set()
        for grp in plan.groups or ():
            for nd in grp.nodes:
                if nd not in names:
                    raise UserError(f"fused group '{grp.name}' names node '{nd}' that is not in the graph")
                if nd in seen:
                    raise UserError(f"node '{nd}' is in two fused groups")
                seen.add(nd)
        for part in plan.host or ():
            for nd in part.nodes:
                if nd not in names:
                    raise UserError(f"host partition '{part.name}' names node '{nd}' that is not in the graph")
                if nd in seen:
                    raise UserError(f"node '{nd}' is both fused and on the host")
    except UserError as exc:
        raise type(exc)(f"IR verification failed after pass '{where}': {exc}") from None


def run_pipeline(graph: Graph, ctx: PassContext, only: Sequence[str] | None = None
                 ) -> tuple[Graph, list[PassRecord]]:
    """Run the enabled passes in pipeline order (or exactly `only`, in pipeline order); returns the final graph
    and one record per pipeline pass."""
    _load_passes()
    unknown = [p for p in list(ctx.enable) + list(ctx.disable) + list(only or []) if p not in REGISTRY]
    if unknown:
        raise UserError(f"unknown pass(es) {', '.join(unknown)}; see `ovl compile --list-passes`")
    # the planning memos (compiler.lowering.units.graph_memo, classify_cached) live in the metadata of the
    # graphs of this run only: never in the caller's graph, which the caller may change afterwards
    graph = Graph(graph.name, graph.tensors, list(graph.nodes), list(graph.inputs), list(graph.outputs),
                  {k: v for k, v in graph.metadata.items() if k not in PLANNING_MEMOS})
    records = []
    for name in PIPELINE:
        on = (name in only) if only is not None else ctx.enabled(name)
        if not on:
            records.append(PassRecord(name, False))
            continue
        before = describe(graph)
        nb = len(graph.nodes)
        t0 = time.perf_counter()
        out = REGISTRY[name].fn(graph, ctx)
        dt = time.perf_counter() - t0
        if ctx.verify:
            verify(out, name, graph)
        change = _diff(before, describe(out))
        note = out.metadata.get("pass_note")
        if note:
            out.metadata = {k: v for k, v in out.metadata.items() if k != "pass_note"}
            change = f"{change}; {note}" if change else note
        records.append(PassRecord(name, True, dt, change or "no change", nb, len(out.nodes)))
        graph = out
    return graph, records


def list_passes() -> list[PassInfo]:
    _load_passes()
    return [REGISTRY[n] for n in PIPELINE]


def note(g: Graph, text: str) -> Graph:
    """Attach a one-line description of what a pass did (shown in the compile summary)."""
    g.metadata["pass_note"] = text
    return g


__all__ = ["PassContext", "PassInfo", "PassRecord", "REGISTRY", "PIPELINE", "register_pass", "run_pipeline",
           "list_passes", "verify", "note"]
