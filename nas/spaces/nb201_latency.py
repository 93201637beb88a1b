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


@dataclass(frozen=True)
class _Evaluate:
    """(canonical ops) -> (seconds, MACs); module-level so process pools can pickle it."""

    latency_fn: LatencyFn
    arch: Any
    batch: int

    def __call__(self, key: tuple[int, ...]) -> tuple[float, int]:
        g = nb201.build_ir(key, batch=self.batch)
        return float(self.latency_fn(g, self.arch)), g.totals().macs


def latency_table(arch: Any, latency_fn: LatencyFn, *, cells: Sequence[int] | None = None, batch: int = 1,
                  executor: Any = None, progress: Callable[[int, int], None] | None = None) -> LatencyTable:
    """Evaluate `latency_fn` once per distinct pruned network over `cells` (default: all 15,625 indices).

    Entries of cells not in `cells` are NaN. `arch` is a `hw_models.arch.Arch` (its clock and peak MAC rate give
    the utilisation column) passed through to `latency_fn` untouched. `executor` is a `nas.runtime` executor
    (e.g. a process pool; `latency_fn` must then be picklable); default in-process.
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
    keys = list(groups)
    evaluate = _Evaluate(latency_fn, arch, batch)
    results = executor.map(evaluate, keys) if executor is not None else map(evaluate, keys)
    for k, (key, (seconds, mac)) in enumerate(zip(keys, results)):
        if not (seconds > 0 and math.isfinite(seconds)):
            raise UserError(f"latency model returned {seconds!r} s for NB201 cell {nb201.to_str(key)}; "
                            "it must be a positive number of seconds")
        lat[groups[key]] = seconds * 1e3
        macs[groups[key]] = mac
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
    """The simulator's fast analytical estimate (`simulator.estimate.estimate_latency`) as a `latency_fn`."""
    try:
        from simulator.estimate import estimate_latency
    except ImportError:
        raise UserError("the overlay latency table needs the simulator's fast estimate (simulator/estimate.py), "
                        "which this version does not have") from None
    return estimate_latency


def cycle_model_latency(graph: Graph, arch: Any) -> float:
    """Seconds of the cycle-approximate model: compile the graph and simulate its program's timing."""
    from simulator.api import run

    return float(run(graph, arch).timeline.seconds)


def spot_check(arch: Any, table: LatencyTable, cells: Sequence[int],
               reference: LatencyFn = cycle_model_latency) -> dict[str, Any]:
    """Relative error of the table against `reference` (default: the cycle model) on `cells`."""
    ref = np.array([reference(nb201.build_ir(int(i)), arch) * 1e3 for i in cells])
    est = table.latency_ms[np.asarray(cells, dtype=int)]
    rel = est / ref - 1.0
    from scipy.stats import spearmanr

    return {"cells": [int(i) for i in cells], "table_ms": est.tolist(), "cycle_model_ms": ref.tolist(),
            "mean_abs_rel_error": float(np.mean(np.abs(rel))), "max_abs_rel_error": float(np.max(np.abs(rel))),
            "spearman": float(spearmanr(est, ref).statistic) if len(cells) > 2 else float("nan")}


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


def opcount_fit(latency_ms: np.ndarray, live_only: bool = True) -> dict[str, Any]:
    """Least-squares fit latency ~ intercept + per-op counts (conv1x1, conv3x3, avg_pool over the cell's edges,
    live edges only by default): the additive op-count model the published FPGA/Eyeriss tables follow exactly.
    Returns coefficients, R^2, the share of cells within +-10 % and the Spearman rho of the fit."""
    from scipy.stats import spearmanr

    ok = ~np.isnan(latency_ms)
    idx = np.flatnonzero(ok)
    counts = np.array([[c["nor_conv_1x1"], c["nor_conv_3x3"], c["avg_pool_3x3"]]
                       for c in (nb201.op_counts(nb201.as_ops(int(i)), live_only=live_only) for i in idx)])
    x = np.c_[np.ones(len(idx)), counts]
    y = latency_ms[idx]
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    pred = x @ coef
    r2 = 1.0 - float(np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2))
    return {"live_only": live_only, "coef_ms": dict(zip(("intercept", "conv1x1", "conv3x3", "avg_pool"),
                                                          map(float, coef))),
            "r2": r2, "within_10pct": float(np.mean(np.abs(pred / y - 1) <= 0.10)),
            "spearman_fit": float(spearmanr(pred, y).statistic), "n": int(len(idx))}
