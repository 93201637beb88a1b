"""Data behind `ovl inspect --json`: graph inputs/outputs, per-layer rows, totals and a per-op breakdown."""
from __future__ import annotations

from typing import Any

from compiler.ir import Graph


def op_breakdown(graph: Graph) -> dict[str, dict[str, int]]:
    """{op: {"nodes", "macs", "params"}} in descending order of MACs (then node count)."""
    table: dict[str, dict[str, int]] = {}
    for row in graph.rows():
        entry = table.setdefault(row["op"], {"nodes": 0, "macs": 0, "params": 0})
        entry["nodes"] += 1
        entry["macs"] += row["macs"]
        entry["params"] += row["params"]
    return dict(sorted(table.items(), key=lambda kv: (-kv[1]["macs"], -kv[1]["nodes"], kv[0])))


def inspect_report(graph: Graph) -> dict[str, Any]:
    totals = graph.totals()

    def tensor(name: str) -> dict[str, Any]:
        t = graph.tensors[name]
        return {"name": name, "shape": list(t.shape), "dtype": t.dtype}

    return {
        "graph": graph.name,
        "metadata": {k: v for k, v in graph.metadata.items() if isinstance(v, (str, int, float, bool))},
        "inputs": [tensor(i) for i in graph.inputs],
        "outputs": [tensor(o) for o in graph.outputs],
        "layers": graph.rows(),
        "by_op": op_breakdown(graph),
        "totals": {"nodes": len(graph.nodes), "macs": totals.macs, "params": totals.params, "bytes": totals.bytes},
    }
