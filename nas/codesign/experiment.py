"""Strategy comparison (hypervolume against evaluated pairs over seeds), the paper-style comparison with a
ResNet-style cell on its best overlay, and the plots.

Hypervolume is measured in the normalised minimisation space (1 - acc_n, lat_n, area_n) with acc_n, lat_n (log
latency) and area_n scaled to [0, 1] by the bounds of the fitting pairs (`SweepResult.bounds`), reference point
(1.1, 1.1, 1.1); a strategy's value after n trials is the hypervolume of the feasible pairs among its first n
trials divided by that of the true front.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from nas.codesign.joint import Constraints, JointSpace
from nas.codesign.pareto import front_2d, hypervolume_3d
from nas.codesign.strategies import STRATEGIES, CodesignObjective, Weights, make_strategy
from nas.codesign.sweep import SweepResult
from nas.runtime import TrialStore, run_study

REF = (1.1, 1.1, 1.1)
OBJECTIVES = {"reward": "max", "accuracy": "max", "latency_ms": "min", "area": "min", "perf_per_area": "max"}


def normalise(bounds: Mapping[str, tuple[float, float]], accuracy, latency, area) -> tuple[np.ndarray, ...]:
    (a0, a1), (l0, l1), (r0, r1) = bounds["accuracy"], bounds["latency"], bounds["area"]
    acc = (a1 - np.asarray(accuracy, dtype=np.float64)) / (a1 - a0)
    lat = (np.log(np.asarray(latency, dtype=np.float64)) - math.log(l0)) / (math.log(l1) - math.log(l0))
    ar = (np.asarray(area, dtype=np.float64) - r0) / (r1 - r0)
    return acc, lat, ar


def hypervolume(bounds, accuracy, latency, area) -> float:
    if len(accuracy) == 0:
        return 0.0
    return hypervolume_3d(*normalise(bounds, accuracy, latency, area), REF)


def true_hypervolume(sweep: SweepResult) -> float:
    f = sweep.front
    return hypervolume(sweep.bounds, f["accuracy"], f["latency"], f["area"])


@dataclass
class Run:
    strategy: str
    seed: int
    accuracy: np.ndarray      # per trial, NaN when not feasible
    latency: np.ndarray       # seconds
    area: np.ndarray
    feasible: np.ndarray
    seconds: float
    cell: np.ndarray | None = None     # per trial, -1 when not feasible
    hw: np.ndarray | None = None

    def pairs(self) -> dict[str, np.ndarray]:
        m = self.feasible
        return {"cell": self.cell[m], "hw": self.hw[m]}

    def hv_curve(self, bounds, budgets: Sequence[int], hv_true: float) -> np.ndarray:
        out = []
        for n in budgets:
            m = self.feasible[:n]
            out.append(hypervolume(bounds, self.accuracy[:n][m], self.latency[:n][m], self.area[:n][m]) / hv_true)
        return np.array(out)


def run_strategy(js: JointSpace, sweep: SweepResult, name: str, seed: int, trials: int, store: TrialStore, *,
                 constraints: Constraints = Constraints(), weights: Weights = Weights(), resume: bool = False,
                 quiet: bool = True, study: str | None = None, **kw: Any) -> Run:
    obj = CodesignObjective(js, sweep.bounds, constraints=constraints, weights=weights)
    strat = make_strategy(name, js, seed=seed, **kw)
    t0 = time.perf_counter()
    res = run_study(store, study or f"{name}-{seed}", strat, obj, n_trials=trials, objectives=OBJECTIVES, seed=seed,
                    config={"space": "nb201 x overlay", "dataset": js.dataset, "constraints": constraints.describe(),
                            "weights": weights.__dict__, "bounds": {k: list(v) for k, v in sweep.bounds.items()}},
                    resume=resume, quiet=quiet)
    return run_from_trials(name, seed, res.trials, time.perf_counter() - t0)


def run_from_trials(name: str, seed: int, trials, seconds: float = 0.0) -> Run:
    n = len(trials)
    acc, lat, area = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    feas = np.zeros(n, dtype=bool)
    cell, hw = np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64)
    for i, t in enumerate(sorted(trials, key=lambda t: t.index)):
        m = t.metrics or {}
        if m.get("feasible"):
            feas[i] = True
            acc[i], lat[i], area[i] = m["accuracy"], m["latency_ms"] / 1e3, m["area"]
            cell[i], hw[i] = m["cell_index"], m["hw_index"]
    return Run(name, seed, acc, lat, area, feas, seconds, cell, hw)


def run_benchmark(js: JointSpace, sweep: SweepResult, store_path: Path | str, *, strategies: Sequence[str] = STRATEGIES,
                  seeds: Sequence[int] = range(10), trials: int = 1000, budgets: Sequence[int] | None = None,
                  constraints: Constraints = Constraints(), weights: Weights = Weights(), resume: bool = True,
                  progress=None) -> dict[str, Any]:
    """Every strategy with every seed on one store; hypervolume ratio curves (seeds x budgets) per strategy."""
    budgets = list(budgets or [b for b in (25, 50, 100, 200, 500, 1000, 2000, 5000, 10000) if b <= trials])
    if not budgets or budgets[-1] != trials:
        budgets.append(trials)
    hv_true = true_hypervolume(sweep)
    curves: dict[str, np.ndarray] = {}
    runs: dict[str, list[Run]] = {}
    with TrialStore(store_path) as store:
        for name in strategies:
            rows = []
            for seed in seeds:
                r = run_strategy(js, sweep, name, int(seed), trials, store, constraints=constraints, weights=weights,
                                 resume=resume)
                runs.setdefault(name, []).append(r)
                rows.append(r.hv_curve(sweep.bounds, budgets, hv_true))
                if progress:
                    progress(name, int(seed))
            curves[name] = np.array(rows)
    return {"budgets": budgets, "curves": curves, "runs": runs, "hv_true": hv_true}


def format_hv_table(bench: Mapping[str, Any]) -> str:
    budgets = bench["budgets"]
    head = ["strategy"] + [f"n={b}" for b in budgets]
    rows = [head]
    for name, c in bench["curves"].items():
        rows.append([name] + [f"{m:.3f}+-{s:.3f}" for m, s in zip(c.mean(0), c.std(0))])
    w = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(x.rjust(w[i]) if i else x.ljust(w[i]) for i, x in enumerate(r)) for r in rows]
    lines.insert(1, "  ".join("-" * x for x in w))
    return "\n".join(lines)


# --- the paper-style comparison ------------------------------------------------------------------------------------
def resnet_comparison(js: JointSpace, pairs: Mapping[str, np.ndarray] | None = None) -> dict[str, Any]:
    """The ResNet-style cell on its best fitting overlay (max perf/area) against the best pair of `pairs` (dict
    with cell, hw arrays, e.g. the exhaustive accuracy / perf-per-area front) that is at least as accurate.

    Returns both pairs and the accuracy (points) and perf/area (%) differences; also the most accurate pair that
    is at least as efficient as the ResNet baseline.
    """
    r = js.resnet_index()
    fit = np.flatnonzero(js.hw.fits)
    lat_r = np.array([js.latency_of(r, int(p)) for p in fit])
    ppa_r = 1.0 / (lat_r * js.hw.area[fit])
    k = int(np.nanargmax(ppa_r))
    base = {"cell": r, "hw": int(fit[k]), "accuracy": float(js.accuracy[r]), "latency": float(lat_r[k]),
            "area": float(js.hw.area[fit[k]]), "perf_per_area": float(ppa_r[k])}
    cells = np.asarray(pairs["cell"], dtype=np.int64)
    hws = np.asarray(pairs["hw"], dtype=np.int64)
    acc = js.accuracy[cells]
    lat = np.array([js.latency_of(int(c), int(p)) for c, p in zip(cells, hws)])
    ok = js.hw.fits[hws] & np.isfinite(lat)
    ppa = np.where(ok, 1.0 / (lat * js.hw.area[hws]), -np.inf)

    def same_network(c: int, p: int) -> bool:
        """The same compiled network as the ResNet cell: an identical group sequence (NB201 holds networks that
        differ only in dead edges or in an identity hop, trained separately with different accuracies)."""
        cls = js.cls_of(p)
        m, rows = js.tables[cls].counts, js.rows[cls]
        i, j = int(rows[c]), int(rows[r])
        return i >= 0 and j >= 0 and (i == j or (m[i] != m[j]).nnz == 0)

    twin = np.array([same_network(int(c), int(p)) for c, p in zip(cells, hws)], dtype=bool)

    def pair(i: int) -> dict[str, Any]:
        return {"cell": int(cells[i]), "hw": int(hws[i]), "accuracy": float(acc[i]), "latency": float(lat[i]),
                "area": float(js.hw.area[hws[i]]), "perf_per_area": float(ppa[i]), "same_network": bool(twin[i])}

    out: dict[str, Any] = {"resnet": base}
    better_acc = np.flatnonzero(ok & (acc >= base["accuracy"]))
    if len(better_acc):
        i = int(better_acc[np.argmax(ppa[better_acc])])
        out["best_ppa_at_least_resnet_accuracy"] = pair(i)
    better_ppa = np.flatnonzero(ok & (ppa >= base["perf_per_area"]))
    if len(better_ppa):
        i = int(better_ppa[np.argmax(acc[better_ppa])])
        out["best_accuracy_at_least_resnet_ppa"] = pair(i)
    # the pair that improves both the most evenly: max of min(relative gains), among pairs that improve both
    both = np.flatnonzero(ok & (acc >= base["accuracy"]) & (ppa >= base["perf_per_area"]))
    if len(both):
        gain = np.minimum((acc[both] - base["accuracy"]) / max(base["accuracy"], 1e-9),
                          ppa[both] / base["perf_per_area"] - 1)
        out["balanced"] = pair(int(both[np.argmax(gain)]))
    # the same, among pairs whose compiled network differs from the ResNet cell's
    other = np.flatnonzero(ok & ~twin & (acc >= base["accuracy"]))
    if len(other):
        out["best_ppa_at_least_resnet_accuracy_other_network"] = pair(int(other[np.argmax(ppa[other])]))
    other = np.flatnonzero(ok & ~twin & (ppa >= base["perf_per_area"]))
    if len(other):
        out["best_accuracy_at_least_resnet_ppa_other_network"] = pair(int(other[np.argmax(acc[other])]))
    for key in ("best_ppa_at_least_resnet_accuracy", "best_accuracy_at_least_resnet_ppa", "balanced",
                "best_ppa_at_least_resnet_accuracy_other_network", "best_accuracy_at_least_resnet_ppa_other_network"):
        if key in out:
            out[key]["accuracy_gain_points"] = out[key]["accuracy"] - base["accuracy"]
            out[key]["ppa_gain_percent"] = 100 * (out[key]["perf_per_area"] / base["perf_per_area"] - 1)
    return out


def strategy_vs_resnet(js: JointSpace, runs: Sequence[Run]) -> dict[str, Any]:
    """Per seed: the best perf/area gain over the ResNet baseline among found pairs at least as accurate, and
    whether a pair better in both was found; mean over seeds."""
    gains, acc_gains, both = [], [], []
    for r in runs:
        c = resnet_comparison(js, r.pairs())
        d = c.get("best_ppa_at_least_resnet_accuracy")
        gains.append(d["ppa_gain_percent"] if d else float("nan"))
        acc_gains.append(d["accuracy_gain_points"] if d else float("nan"))
        both.append("balanced" in c)
    return {"ppa_gain_percent": gains, "accuracy_gain_points": acc_gains, "found_both_better": both}


def describe_pair(js: JointSpace, d: Mapping[str, Any]) -> str:
    from nas.spaces import nb201

    return (f"{nb201.to_str(nb201.as_ops(int(d['cell'])))} on [{js.hw.points[int(d['hw'])].label()}]: "
            f"{d['accuracy']:.2f}% CIFAR-100, {1e3 * d['latency']:.3f} ms, area {100 * d['area']:.1f}%, "
            f"{d['perf_per_area']:,.0f} img/s per area fraction"
            + (" [the same compiled network as the ResNet cell]" if d.get("same_network") else ""))


def resnet_comparison_lines(js: JointSpace, cmp: Mapping[str, Any]) -> list[str]:
    """The paper-style comparison (ResNet cell on its best overlay vs the best other pairs) as printable lines."""
    lines = ["ResNet-style cell on its best overlay (max perf/area among fitting configurations): "
             + describe_pair(js, cmp["resnet"])]
    for key, label in (("balanced", "best pair better in both"),
                       ("best_ppa_at_least_resnet_accuracy", "most efficient pair at least as accurate"),
                       ("best_accuracy_at_least_resnet_ppa", "most accurate pair at least as efficient"),
                       ("best_ppa_at_least_resnet_accuracy_other_network",
                        "most efficient pair at least as accurate, another network"),
                       ("best_accuracy_at_least_resnet_ppa_other_network",
                        "most accurate pair at least as efficient, another network")):
        if key in cmp:
            d = cmp[key]
            lines.append(f"{label}: {d['accuracy_gain_points']:+.2f} points accuracy, "
                         f"{d['ppa_gain_percent']:+.1f}% perf/area: " + describe_pair(js, d))
    return lines


# --- plots ----------------------------------------------------------------------------------------------------------
def plot_hv_curves(bench: Mapping[str, Any]):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    x = np.array(bench["budgets"])
    for name, c in bench["curves"].items():
        m, s = c.mean(0), c.std(0)
        ax.plot(x, m, marker="o", ms=3, label=f"{name} ({c.shape[0]} seeds)")
        ax.fill_between(x, m - s, m + s, alpha=0.15)
    ax.set_xscale("log")
    ax.set_xlabel("evaluated pairs (trials)")
    ax.set_ylabel("hypervolume / true front's")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("co-design search: NB201 cell x overlay (mean +- std over seeds)")
    fig.tight_layout()
    return fig


def plot_fronts(js: JointSpace, sweep: SweepResult, runs: Mapping[str, Sequence[Run]] | None = None, *,
                resnet: Mapping[str, Any] | None = None):
    """Accuracy against perf/area: the exhaustive 2-D front, each strategy's feasible pairs' front (seed 0),
    and the ResNet baseline; and accuracy against latency of the 3-D front coloured by area."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2))
    ax = fig.add_subplot(1, 2, 1)
    pf = sweep.ppa_front
    ppa = 1.0 / (pf["latency"] * pf["area"])
    o = np.argsort(pf["accuracy"])
    ax.plot(ppa[o], pf["accuracy"][o], "k-", lw=1.5, label=f"true front ({len(o)} pairs, exhaustive)")
    for name, rs in (runs or {}).items():
        r = rs[0]
        m = r.feasible
        if not m.any():
            continue
        a, p = r.accuracy[m], 1.0 / (r.latency[m] * r.area[m])
        f = front_2d(-a, -p)
        f = f[np.argsort(a[f])]
        ax.plot(p[f], a[f], marker=".", lw=0.8, label=f"{name} (seed {r.seed}, {len(m)} trials)")
    if resnet:
        b = resnet["resnet"]
        ax.plot([b["perf_per_area"]], [b["accuracy"]], "r*", ms=12, label="ResNet cell, best overlay")
        if "balanced" in resnet:
            q = resnet["balanced"]
            same = " (the ResNet network itself)" if q.get("same_network") else ""
            ax.plot([q["perf_per_area"]], [q["accuracy"]], "g*", ms=12, label=f"best pair >= ResNet in both{same}")
    lo = float(np.min(pf["accuracy"])) if len(pf["accuracy"]) else 0.0
    ax.set_ylim(max(0.0, lo - 8), float(np.max(pf["accuracy"])) + 2 if len(pf["accuracy"]) else 100)
    ax.set_xscale("log")
    ax.set_xlabel("images/s per area fraction")
    ax.set_ylabel("CIFAR-100 accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax2 = fig.add_subplot(1, 2, 2)
    f = sweep.front
    sc = ax2.scatter(1e3 * f["latency"], f["accuracy"], c=100 * f["area"], s=6, cmap="viridis")
    fig.colorbar(sc, ax=ax2, label="area (% of device)")
    ax2.set_xscale("log")
    ax2.set_xlabel("latency (ms)")
    ax2.set_ylabel("CIFAR-100 accuracy (%)")
    ax2.set_title(f"3-D true front: {len(f['cell']):,} pairs", fontsize=9)
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    return fig
