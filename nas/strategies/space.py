"""What a search strategy needs to know about a cell space, and the NB201 benchmark as an oracle.

Strategies work on op vectors (one op code per edge) through `CellSpace`; candidates stored in a trial store
are JSON dicts `{"arch": arch_str, "index": benchmark index}`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from compiler.errors import UserError
from nas.spaces import nb201

Ops = tuple[int, ...]


@dataclass(frozen=True)
class CellSpace:
    """A space of cells with `n_edges` edges, each carrying one of `n_ops` operations."""

    name: str
    n_edges: int
    n_ops: int
    to_str: Callable[[Sequence[int]], str]
    parse: Callable[[str], Ops]
    index: Callable[[Sequence[int]], int]

    def random(self, rng: np.random.Generator) -> Ops:
        return tuple(int(k) for k in rng.integers(self.n_ops, size=self.n_edges))

    def neighbours(self, ops: Ops) -> list[Ops]:
        """Every cell that differs in exactly one edge (edge-major order)."""
        return [ops[:e] + (k,) + ops[e + 1:] for e in range(self.n_edges) for k in range(self.n_ops) if k != ops[e]]

    def candidate(self, ops: Ops) -> dict[str, Any]:
        return {"arch": self.to_str(ops), "index": self.index(ops)}

    def ops_of(self, candidate: dict[str, Any]) -> Ops:
        return self.parse(candidate["arch"])


NB201 = CellSpace("nb201", len(nb201.EDGES), len(nb201.OPS), nb201.to_str, nb201.parse, nb201.to_index)
SPACES = {"nb201": NB201}

DATASETS = ("cifar10", "cifar100", "imagenet16")


OVERLAY_TABLE = "nb201_overlay_a10_generic.csv"


@cache
def latency_source(source: str) -> np.ndarray:
    """Latency in ms of every NB201 cell, by index, from `source`: `overlay` (the simulated overlay table in
    nas/data, a10_generic), a HELP device column of nas/data/nb201_latency_ms.csv (fpga, eyeriss, raspi4,
    pixel3, gpu_1080ti_b1, cpu_gold6226), or the path of a CSV with columns `index` and `latency_ms` covering
    all 15,625 cells (e.g. written by `ovl nas latency-table -o`)."""
    from nas.data import DATA_DIR, LATENCY_DEVICES, NB201_SIZE, nb201_table

    if source in LATENCY_DEVICES:
        return nb201_table().latency_ms[source]
    path = Path(DATA_DIR) / OVERLAY_TABLE if source == "overlay" else Path(source)
    if not path.is_file():
        raise UserError(f"latency source '{source}' is neither 'overlay', a device ({', '.join(LATENCY_DEVICES)}) "
                        f"nor a CSV file; give one of those")
    import csv

    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"index", "latency_ms"} <= set(reader.fieldnames):
            raise UserError(f"latency table '{source}' needs columns 'index' and 'latency_ms'")
        out = np.full(NB201_SIZE, np.nan)
        for r in reader:
            out[int(r["index"])] = float(r["latency_ms"])
    if np.isnan(out).any():
        raise UserError(f"latency table '{source}' covers {int((~np.isnan(out)).sum())} of {NB201_SIZE} cells; "
                        "it must cover the whole NB201 space")
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class NB201Objective:
    """The benchmark as an oracle: a "trained model" is a table look-up of its test accuracy (%).

    Returns {"accuracy": %, "latency_ms": ms from `latency` (a `latency_source` source)}. Module-level class so
    process-pool executors can pickle it.
    """

    dataset: str = "cifar10"
    latency: str = "overlay"

    def __call__(self, candidate: dict[str, Any], seed: int) -> dict[str, float]:
        from nas.data import nb201_table

        i = int(candidate["index"])
        return {"accuracy": float(nb201_table().accuracy(self.dataset)[i]),
                "latency_ms": float(latency_source(self.latency)[i])}


def feasibility(latency: str, latency_max: float | None) -> Callable[[Ops], bool] | None:
    """Predicate `ops -> latency <= latency_max` on NB201 (None when unconstrained)."""
    if latency_max is None:
        return None
    table = latency_source(latency)
    if not (table <= latency_max).any():
        raise UserError(f"--latency-max {latency_max} ms: no NB201 cell is that fast on '{latency}' "
                        f"(minimum {float(np.min(table)):.3f} ms)")
    mask = table <= latency_max
    inv = nb201.code_to_index()
    weights = len(nb201.OPS) ** np.arange(len(nb201.EDGES) - 1, -1, -1)

    def ok(ops: Ops) -> bool:
        return bool(mask[inv[int(np.dot(ops, weights))]])

    return ok
