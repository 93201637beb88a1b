"""Overlay latency of every NB201 cell: a memoised sweep of a latency model over the direct IR builds, and the
comparison of its ranking with the published device latencies.

The latency model is a hook `latency_fn(graph, arch) -> seconds` (the simulator's fast estimate,
`simulator.estimate`, resolved by `overlay_latency_fn`). Cells whose pruned networks are identical (they
differ only in edges that `nb201.live_edges` marks dead) share one evaluation: 9,445 distinct networks cover
the 15,625 cells.
"""
from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from compiler.errors import UserError
from compiler.ir import Graph
from nas.spaces import nb201

LatencyFn = Callable[[Graph, Any], float]
TABLE_COLUMNS = ("index", "arch_str", "latency_ms", "macs", "gops", "utilisation")


def canonical(ops: Sequence[int]) -> tuple[int, ...]:
    """The op vector with every dead edge set to `none`: cells with the same canonical form build the same IR."""
    live = nb201.live_edges(ops)
    return tuple(k if alive else nb201.NONE for k, alive in zip(ops, live))


@dataclass(frozen=True)
class LatencyTable:
    """Per-cell results in NB201 index order."""

    latency_ms: np.ndarray      # (15625,)
    macs: np.ndarray            # MACs of the pruned network (what the overlay executes)
    gops: np.ndarray            # 2 * MACs / latency / 1e9: achieved throughput, independent of area
    utilisation: np.ndarray     # MACs / (latency * clock * peak MACs per cycle)
    distinct: int               # networks actually evaluated
    seconds: float              # wall time of the sweep

    def write_csv(self, path: Path | str) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(TABLE_COLUMNS)
            for i in range(len(self.latency_ms)):
                w.writerow([i, nb201.to_str(nb201.as_ops(i)), repr(float(self.latency_ms[i])), int(self.macs[i]),
                            f"{self.gops[i]:.6g}", f"{self.utilisation[i]:.6g}"])
        return path


def latency_table(arch: Any, latency_fn: LatencyFn, *, cells: Sequence[int] | None = None, batch: int = 1,
                  progress: Callable[[int, int], None] | None = None) -> LatencyTable:
    """Evaluate `latency_fn` once per distinct pruned network over `cells` (default: all 15,625 indices).

    Entries of cells not in `cells` are NaN. `arch` is a `hw_models.arch.Arch` (its clock and peak MAC rate give
    the utilisation column) passed through to `latency_fn` untouched.
    """
    t0 = time.perf_counter()
    idx = list(range(nb201.SIZE)) if cells is None else [int(i) for i in cells]
    mat = nb201.ops_matrix()
    groups: dict[tuple[int, ...], list[int]] = {}
    for i in idx:
        groups.setdefault(canonical(tuple(int(k) for k in mat[i])), []).append(i)
    lat = np.full(nb201.SIZE, np.nan)
    macs = np.zeros(nb201.SIZE, dtype=np.int64)
    peak = float(arch.peak_macs_per_cycle) * float(arch.clock_hz)
    for k, (key, members) in enumerate(groups.items()):
        g = nb201.build_ir(key, batch=batch)
        seconds = float(latency_fn(g, arch))
        if not (seconds > 0 and math.isfinite(seconds)):
            raise UserError(f"latency model returned {seconds!r} s for NB201 cell {nb201.to_str(key)}; "
                            "it must be a positive number of seconds")
        lat[members] = seconds * 1e3
        macs[members] = g.totals().macs
        if progress:
            progress(k + 1, len(groups))
    with np.errstate(invalid="ignore", divide="ignore"):
        gops = 2.0 * macs * batch / (lat * 1e-3) / 1e9
        util = macs * batch / (lat * 1e-3 * peak)
    return LatencyTable(lat, macs, gops, util, len(groups), time.perf_counter() - t0)


def read_table(path: Path | str) -> np.ndarray:
    """latency_ms by NB201 index from a CSV written by `LatencyTable.write_csv` (NaN where absent)."""
    out = np.full(nb201.SIZE, np.nan)
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            out[int(r["index"])] = float(r["latency_ms"])
    return out


def overlay_latency_fn() -> LatencyFn:
    """The simulator's fast analytical estimate as a `latency_fn` (UserError until it exists)."""
    try:
        from simulator import estimate as est  # type: ignore[attr-defined]
    except ImportError:
        raise UserError("the overlay latency table needs the simulator's fast estimate (simulator/estimate.py), "
                        "which this version does not have yet") from None
    fn = getattr(est, "estimate", None)
    if fn is None:
        raise UserError("simulator.estimate has no estimate(graph, arch) function; update nas/spaces/nb201_latency.py")

    def latency(graph: Graph, arch: Any) -> float:
        r = fn(graph, arch)
        for attr in ("seconds", "latency_s"):
            if hasattr(r, attr):
                return float(getattr(r, attr))
        return float(r)

    return latency


def device_correlations(latency_ms: np.ndarray) -> list[dict[str, Any]]:
    """Spearman rho between a full-space latency column and every published device (HELP / HW-NAS-Bench and
    LatBench), plus the op-count baselines (MACs of the benchmark network, live-edge MACs)."""
    from scipy.stats import spearmanr

    from nas.data import LATENCY_DEVICES, latbench_cpu, nb201_table

    t = nb201_table()
    rows = []
    ok = ~np.isnan(latency_ms)
    for dev in LATENCY_DEVICES:
        col = t.latency_ms[dev]
        rows.append({"device": dev, "n": int(ok.sum()), "rho": float(spearmanr(latency_ms[ok], col[ok]).statistic)})
    lb = latbench_cpu()
    sel = [i for i in range(nb201.SIZE) if ok[i] and t.arch_str[i] in lb]
    rows.append({"device": "latbench_i7_7820x", "n": len(sel),
                 "rho": float(spearmanr(latency_ms[sel], [lb[t.arch_str[i]] for i in sel]).statistic)})
    return rows
