"""Decisions that planning passes attach to the IR (in `graph.metadata["plan"]`), read by the lowering.

Rewriting passes change the graph itself (and are checked by running it on onnxruntime before and after);
planning passes leave the graph's semantics alone and record decisions here. A field that no pass set keeps its
naive default, which is what `-O0` compiles with. `Plan` is immutable: passes build a new one with `replace`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from compiler.ir import Graph


@dataclass(frozen=True)
class Group:
    """Nodes executed by one bundle (per tile): an optional PE-array node, then aux nodes in crossbar order.

    `operand` is the tensor the eltwise kernel reads (fread r1); `output` the tensor the writer writes."""

    name: str
    nodes: tuple[str, ...]
    pe: str | None              # Conv / FullyConnected node on the PE array, None: PE bypass
    chain: tuple[tuple[str, str], ...]   # (aux kernel mnemonic, node name) in crossbar order
    input: str                  # tensor the PE array (or the first aux kernel) reads
    output: str
    operand: str | None = None


@dataclass(frozen=True)
class HostPart:
    name: str
    nodes: tuple[str, ...]
    reasons: Mapping[str, str]


@dataclass(frozen=True)
class Plan:
    groups: tuple[Group, ...] | None = None           # fuse (None: one node per bundle)
    batch: bool = False                               # batch-matvec: several images per bundle
    reuse_filters: bool = False                       # filter-residency: chunks reused from either cache half
    native_groups: frozenset[str] = frozenset()       # group-conv: grouped / depthwise convs run natively
    winograd: frozenset[str] = frozenset()            # winograd: convs run in Winograd mode
    cols: Mapping[str, str] = field(default_factory=dict)   # direct-wide / matvec-columns: node -> pe.cols mode
    double_buffer: bool = False                       # tile: half-bank tiles with prefetch
    tiles: Mapping[str, Any] | None = None            # tile: per group tile plan (lowering.tiling.TilePlan)
    memory: Any = None                                # memory-plan: lowering.memory.MemoryPlan
    host: tuple[HostPart, ...] | None = None          # host-fallback
    scales: Mapping[str, float] = field(default_factory=dict)   # calibrate (int8): tensor -> scale
    notes: Mapping[str, Any] = field(default_factory=dict)


def get_plan(g: Graph) -> Plan:
    return g.metadata.get("plan") or Plan()


def with_plan(g: Graph, **changes: Any) -> Graph:
    """A copy of `g` whose plan has `changes` applied. Planning passes do not change nodes or tensors, so the
    copy shares the tensor dictionary (the planning memos of `compiler.lowering` are keyed on it): a pass that
    rewrites tensors copies the graph first (`Graph.copy`), as every rewriting pass does."""
    out = Graph(g.name, g.tensors, list(g.nodes), list(g.inputs), list(g.outputs), dict(g.metadata))
    out.metadata["plan"] = replace(get_plan(g), **changes)
    return out
