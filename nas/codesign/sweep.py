"""Exhaustive evaluation of the joint space: every legal (cell, configuration) pair, the true Pareto fronts.

For each configuration the per-feature cycle costs are computed once (`CellCostModel.feature_costs`), all cells'
latencies are one sparse matrix-vector product, and the configuration's own (accuracy, latency) front is kept;
the 3-D front (accuracy max, latency min, area min) of the union of those is the true front of the joint space
(a pair dominated inside its configuration is dominated globally, since area is constant per configuration).
The per-feature costs of every configuration are kept (`SweepResult.costs`), so searches evaluate any pair later
without re-costing. Configurations outside the co-design space (the compiler would plan the NB201 networks
differently on them, see `CellCostModel.capacity_errors`) are skipped and listed in `SweepResult.excluded`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from nas.codesign.joint import JointSpace
from nas.codesign.pareto import front_2d, front_3d


@dataclass
class SweepResult:
    hw_index: np.ndarray              # configurations swept (indices into HWSpace.points)
    fits: np.ndarray                  # per swept configuration
    area: np.ndarray
    costs: dict[int, np.ndarray]      # configuration -> per-feature cycles
    pairs: int                        # legal pairs evaluated
    networks: int                     # distinct (pruned network, configuration) evaluations
    seconds: float                    # wall time of the sweep (costing + products + fronts)
    cpu_seconds: float
    cost_seconds: float               # of which per-configuration feature costing
    front: dict[str, np.ndarray]      # 3-D front over fitting configurations: cell, hw, accuracy, latency, area
    front_all: dict[str, np.ndarray]  # the same without the fits-the-device constraint
    ppa_front: dict[str, np.ndarray]  # 2-D front (accuracy max, perf/area max), fitting configurations
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    space: dict[str, Any] = field(default_factory=dict)    # hw preset and cell sample, to rebuild the space
    excluded: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # outside the space

    @property
    def pairs_per_second(self) -> float:
        return self.pairs / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        return {"configurations": int(len(self.hw_index)), "fitting": int(self.fits.sum()),
                "excluded": int(len(self.excluded)), "pairs": self.pairs,
                "networks": self.networks, "seconds": self.seconds, "cpu_seconds": self.cpu_seconds,
                "cost_seconds": self.cost_seconds, "pairs_per_second": self.pairs_per_second,
                "pairs_per_minute": 60 * self.pairs_per_second, "front_size": int(len(self.front["cell"])),
                "front_size_unconstrained": int(len(self.front_all["cell"])),
                "ppa_front_size": int(len(self.ppa_front["cell"])), "bounds": self.bounds, "space": self.space}


def _empty() -> dict[str, list]:
    return {k: [] for k in ("cell", "hw", "accuracy", "latency", "area")}


def run_sweep(js: JointSpace, hw_indices: Sequence[int] | None = None, *, fits_only: bool = False,
              progress: Callable[[int, int], None] | None = None) -> SweepResult:
    """Evaluate every legal pair of the configurations `hw_indices` (default: all; `fits_only`: those that fit)."""
    t0, c0 = time.perf_counter(), time.process_time()
    idx = np.arange(len(js.hw)) if hw_indices is None else np.asarray(list(hw_indices), dtype=np.int64)
    if fits_only:
        idx = idx[js.hw.fits[idx]]
    acc = js.accuracy
    cand = _empty()
    costs: dict[int, np.ndarray] = {}
    pairs = networks = 0
    cost_s = 0.0
    excluded: list[int] = []
    lat_lo, lat_hi = np.inf, -np.inf
    for k, p in enumerate(idx):
        p = int(p)
        pt = js.hw.points[p]
        t1 = time.perf_counter()
        v = js.model.feature_costs(pt.arch)
        cost_s += time.perf_counter() - t1
        if not np.isfinite(v).all():        # outside the co-design space (the compiler plans differently)
            excluded.append(p)
            if progress:
                progress(k + 1, len(idx))
            continue
        costs[p] = v
        t = js.tables[js.cls_of(p)]
        lat_codes = (t.counts @ v) / pt.arch.clock_hz
        rows = js.rows[js.cls_of(p)]
        ok = rows >= 0
        lat = lat_codes[rows[ok]]
        cells = np.flatnonzero(ok)
        pairs += len(cells)
        networks += len(lat_codes)
        if pt.fits:
            lat_lo, lat_hi = min(lat_lo, float(lat.min())), max(lat_hi, float(lat.max()))
        f = front_2d(lat, -acc[cells])
        for key, val in (("cell", cells[f]), ("hw", np.full(len(f), p)), ("accuracy", acc[cells[f]]),
                         ("latency", lat[f]), ("area", np.full(len(f), pt.area))):
            cand[key].append(val)
        if progress:
            progress(k + 1, len(idx))
    c = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in cand.items()}
    c["cell"] = c["cell"].astype(np.int64)
    c["hw"] = c["hw"].astype(np.int64)
    fit = js.hw.fits[c["hw"]] if len(c["hw"]) else np.zeros(0, dtype=bool)

    def select(mask: np.ndarray, ix: np.ndarray) -> dict[str, np.ndarray]:
        sub = {k: v[mask] for k, v in c.items()}
        return {k: v[ix] for k, v in sub.items()}

    m_fit = fit
    f3 = front_3d(-c["accuracy"][m_fit], c["latency"][m_fit], c["area"][m_fit])
    front = select(m_fit, f3)
    m_all = np.ones(len(c["cell"]), dtype=bool)
    front_all = select(m_all, front_3d(-c["accuracy"], c["latency"], c["area"]))
    ppa = 1.0 / (c["latency"][m_fit] * c["area"][m_fit])
    ppa_front = select(m_fit, front_2d(-c["accuracy"][m_fit], -ppa))
    gone = set(excluded)
    idx = np.array([p for p in idx if int(p) not in gone], dtype=np.int64)
    fit_cfg = js.hw.fits[idx]
    areas = js.hw.area[idx]
    bounds = {"accuracy": (float(np.nanmin(acc)), float(np.nanmax(acc))),
              "latency": (lat_lo, lat_hi),
              "area": (float(areas[fit_cfg].min()) if fit_cfg.any() else float("nan"),
                       float(areas[fit_cfg].max()) if fit_cfg.any() else float("nan"))}
    return SweepResult(idx, fit_cfg, areas, costs, pairs, networks, time.perf_counter() - t0,
                       time.process_time() - c0, cost_s, front, front_all, ppa_front, bounds,
                       {"hw": js.hw.preset, "cells": js.cells, "cells_seed": js.cells_seed, "dataset": js.dataset},
                       np.array(excluded, dtype=np.int64))


def save_sweep(res: SweepResult, path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = sorted(res.costs)
    arrays: dict[str, Any] = {"hw_index": res.hw_index, "fits": res.fits, "area": res.area, "excluded": res.excluded,
                              "cost_hw": np.array(keys, dtype=np.int64)}
    for cls_len in sorted({len(v) for v in res.costs.values()}):
        sel = [k for k in keys if len(res.costs[k]) == cls_len]
        arrays[f"costs_{cls_len}"] = np.stack([res.costs[k] for k in sel])
        arrays[f"costs_{cls_len}_hw"] = np.array(sel, dtype=np.int64)
    for name, fr in (("front", res.front), ("front_all", res.front_all), ("ppa_front", res.ppa_front)):
        for k, v in fr.items():
            arrays[f"{name}.{k}"] = v
    import json

    meta = {"pairs": res.pairs, "networks": res.networks, "seconds": res.seconds, "cpu_seconds": res.cpu_seconds,
            "cost_seconds": res.cost_seconds, "bounds": res.bounds, "space": res.space}
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez_compressed(path, **arrays)
    return path


def load_sweep(path: Path | str) -> SweepResult:
    import json

    from compiler.errors import UserError

    path = Path(path)
    if not path.exists():
        raise UserError(f"sweep file {path} not found; run `ovl search codesign sweep -o {path}` first")
    z = np.load(path, allow_pickle=False)
    meta = json.loads(str(z["meta"]))
    costs: dict[int, np.ndarray] = {}
    for name in z.files:
        if name.startswith("costs_") and not name.endswith("_hw"):
            for k, row in zip(z[f"{name}_hw"], z[name]):
                costs[int(k)] = row
    fr = {n: {k.split(".", 1)[1]: z[k] for k in z.files if k.startswith(n + ".")}
          for n in ("front", "front_all", "ppa_front")}
    return SweepResult(z["hw_index"], z["fits"], z["area"], costs, meta["pairs"], meta["networks"], meta["seconds"],
                       meta["cpu_seconds"], meta["cost_seconds"], fr["front"], fr["front_all"], fr["ppa_front"],
                       {k: tuple(v) for k, v in meta["bounds"].items()}, meta.get("space", {}),
                       z["excluded"] if "excluded" in z.files else np.zeros(0, dtype=np.int64))


def attach(js: JointSpace, res: SweepResult) -> int:
    """Let `js` evaluate pairs of swept configurations from the sweep's stored feature costs (no re-costing);
    returns how many configurations were attached (a sweep made with other cell tables attaches none)."""
    n = 0
    for p, v in res.costs.items():
        if 0 <= p < len(js.hw) and len(v) == js.tables[js.cls_of(p)].n_features:
            js.stored_costs[p] = np.asarray(v, dtype=np.float64)
            n += 1
    return n
