"""Plots over plain data: search curves, Pareto fronts, per-layer latency/utilisation bars, rooflines.

Each function takes lists/arrays/dicts and returns a `matplotlib.figure.Figure` built without pyplot (no global
backend or figure state is touched, so they are safe in servers, tests and worker processes); `save_figure`
writes PNG, SVG or PDF. Loaders that turn stores and reports into these inputs are in `nas.runtime.results` and
`nas.runtime.report`.
"""
from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Literal, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from compiler.errors import UserError
from nas.runtime.report import LayerRecord, Roof
from nas.runtime.store import Direction

FORMATS = (".png", ".svg", ".pdf")
GREY = "#b0b0b0"


def save_figure(fig: Figure, path: str | Path) -> Path:
    p = Path(path)
    if p.suffix.lower() not in FORMATS:
        raise UserError(f"output {p}: unknown image format; end the file name in {', '.join(FORMATS)}")
    if not p.parent.is_dir():
        raise UserError(f"output {p}: directory {p.parent} does not exist")
    fig.savefig(p, dpi=150, bbox_inches="tight")
    return p


def _colours(n: int) -> list:
    from matplotlib import colormaps
    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(n)]


# --- search curves ----------------------------------------------------------------------------------------------
def best_so_far(values: Sequence[float], direction: Direction = "min") -> np.ndarray:
    """Running best of a sequence; NaN (failed trials) never improves it; NaN until the first real value."""
    sign = 1.0 if direction == "min" else -1.0
    a = sign * np.asarray(values, dtype=float)
    a = np.minimum.accumulate(np.where(np.isnan(a), np.inf, a))
    return sign * np.where(np.isinf(a), np.nan, a)


def curve_band(runs: Sequence[Sequence[float]], direction: Direction = "min",
               spread: Literal["std", "minmax"] = "std") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(evaluations, mean, low, high) of best-so-far over runs, cut to the shortest run."""
    if not runs or min(len(r) for r in runs) == 0:
        raise UserError("a search curve needs at least one run with at least one evaluation")
    n = min(len(r) for r in runs)
    b = np.stack([best_so_far(r[:n], direction) for r in runs])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns before any run has a value
        mean = np.nanmean(b, axis=0)
        if spread == "std":
            sd = np.nanstd(b, axis=0)
            lo, hi = mean - sd, mean + sd
        else:
            lo, hi = np.nanmin(b, axis=0), np.nanmax(b, axis=0)
    return np.arange(1, n + 1), mean, lo, hi


def plot_search_curves(curves: Mapping[str, Sequence[Sequence[float]]], *, metric: str = "value",
                       direction: Direction = "min", spread: Literal["std", "minmax"] = "std",
                       log_x: bool = False, title: str | None = None) -> Figure:
    """Best value vs evaluations, one line per label (mean over its runs/seeds) with a shaded spread band.

    curves: label -> runs, each run the metric values in evaluation order (NaN for failed trials).
    """
    if not curves:
        raise UserError("no search curves to plot")
    fig = Figure(figsize=(7, 4.5))
    ax = fig.add_subplot()
    for colour, (label, runs) in zip(_colours(len(curves)), curves.items()):
        x, mean, lo, hi = curve_band(runs, direction, spread)
        seeds = f"{len(runs)} seed{'s' if len(runs) > 1 else ''}"
        ax.plot(x, mean, color=colour, lw=1.8, label=f"{label} ({seeds})")
        if len(runs) > 1:
            ax.fill_between(x, lo, hi, color=colour, alpha=0.2, lw=0)
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel("evaluations")
    ax.set_ylabel(f"best {metric} ({'lower' if direction == 'min' else 'higher'} is better)")
    band = "mean ± std" if spread == "std" else "mean, min-max"
    ax.set_title(title or f"search curves: best {metric} so far ({band} over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return fig


# --- Pareto fronts ----------------------------------------------------------------------------------------------
def pareto_mask(values: np.ndarray | Sequence[Sequence[float]],
                directions: Sequence[Direction] = ("min", "min")) -> np.ndarray:
    """True for the non-dominated rows of an (n, k) array (identical points do not dominate each other)."""
    v = np.asarray(values, dtype=float)
    if v.ndim != 2 or v.shape[1] != len(directions):
        raise UserError(f"pareto: expected an (n, {len(directions)}) array of objective values, got {v.shape}")
    v = v * np.array([1.0 if d == "min" else -1.0 for d in directions])
    n = len(v)
    mask = np.ones(n, dtype=bool)
    if v.shape[1] == 2:
        order = np.lexsort((v[:, 1], v[:, 0]))       # by first objective, then second
        best_before = np.inf                          # min second objective among strictly smaller first values
        i = 0
        while i < n:
            j = i
            while j < n and v[order[j], 0] == v[order[i], 0]:
                j += 1
            group = order[i:j]
            group_min = v[group[0], 1]
            for g in group:
                mask[g] = not (best_before <= v[g, 1] or group_min < v[g, 1])
            best_before = min(best_before, group_min)
            i = j
        return mask
    for i in range(n):
        le = np.all(v <= v[i], axis=1)
        lt = np.any(v < v[i], axis=1)
        mask[i] = not np.any(le & lt)
    return mask


def plot_pareto(series: Mapping[str, Sequence[Mapping[str, float]]], *, x: str, y: str,
                directions: tuple[Direction, Direction] = ("min", "min"), title: str | None = None) -> Figure:
    """Scatter of two objectives per series: dominated points grey, each series' front coloured and joined.

    series: label -> points, each a dict holding at least `x` and `y`.
    """
    if not series or not any(series.values()):
        raise UserError("no points to plot on a Pareto front")
    fig = Figure(figsize=(6.5, 4.8))
    ax = fig.add_subplot()
    dominated = 0
    for colour, (label, pts) in zip(_colours(len(series)), series.items()):
        v = np.array([[p[x], p[y]] for p in pts], dtype=float).reshape(-1, 2)
        front = pareto_mask(v, directions)
        ax.scatter(v[~front, 0], v[~front, 1], s=10, color=GREY, zorder=1)
        dominated += int((~front).sum())
        f = v[front][np.argsort(v[front][:, 0], kind="stable")]
        ax.scatter(f[:, 0], f[:, 1], s=28, color=colour, edgecolor="black", lw=0.5, zorder=3,
                   label=f"{label}: Pareto front ({len(f)})")
        ax.plot(f[:, 0], f[:, 1], color=colour, lw=1.2, zorder=2,
                drawstyle="steps-post" if directions[0] == "min" else "steps-pre")  # edge of the dominated region
    ax.scatter([], [], s=10, color=GREY, label=f"dominated ({dominated})")
    better = {"min": "lower is better", "max": "higher is better"}
    ax.set_xlabel(f"{x} ({better[directions[0]]})")
    ax.set_ylabel(f"{y} ({better[directions[1]]})")
    ax.set_title(title or f"Pareto front: {y} vs {x}")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return fig


# --- per-layer bars ---------------------------------------------------------------------------------------------
def _op_colours(layers: Sequence[LayerRecord]) -> dict[str, tuple]:
    ops = list(dict.fromkeys(layer.op for layer in layers))
    return dict(zip(ops, _colours(len(ops))))


def plot_layers(layers: Sequence[LayerRecord], *, clock_hz: float | None = None, top: int | None = None,
                title: str | None = None) -> Figure:
    """Two bar charts over the layers in network order: latency (ms with `clock_hz`, else cycles) and PE
    utilisation (%). `top` keeps only the N slowest layers (still in network order)."""
    if not layers:
        raise UserError("no layers to plot")
    shown = list(layers)
    if top is not None and top < len(shown):
        keep = set(sorted(range(len(shown)), key=lambda i: -shown[i].cycles)[:top])
        shown = [layer for i, layer in enumerate(shown) if i in keep]
    colours = _op_colours(shown)
    x = np.arange(len(shown))
    scale, unit = (1e3 / clock_hz, "latency (ms)") if clock_hz else (1.0, "cycles")
    fig = Figure(figsize=(max(6.0, min(24.0, 0.28 * len(shown) + 2)), 6.0))
    ax_t, ax_u = fig.subplots(2, 1, sharex=True)
    c = [colours[layer.op] for layer in shown]
    ax_t.bar(x, [layer.cycles * scale for layer in shown], color=c)
    ax_u.bar(x, [100 * layer.pe_utilisation for layer in shown], color=c)
    ax_t.set_ylabel(unit)
    ax_u.set_ylabel("PE utilisation (%)")
    ax_u.set_ylim(0, max(100.0, 100 * max(layer.pe_utilisation for layer in shown)) * 1.05)
    ax_u.set_xlabel("layer")
    step = max(1, math.ceil(len(shown) / 60))
    ax_u.set_xticks(x[::step], [layer.name for layer in shown][::step], rotation=90, fontsize="x-small")
    total = sum(layer.cycles for layer in layers) * scale
    what = f"{len(shown)} of {len(layers)} layers" if len(shown) < len(layers) else f"{len(layers)} layers"
    ax_t.set_title(title or f"per-layer {unit.split(' ')[0]} and utilisation ({what}, total "
                   f"{total:.4g} {'ms' if clock_hz else 'cycles'})")
    from matplotlib.patches import Patch
    ax_t.legend(handles=[Patch(color=col, label=op) for op, col in colours.items()], fontsize="small",
                loc="upper right", title="op")
    for ax in (ax_t, ax_u):
        ax.grid(axis="y", alpha=0.3)
    return fig


# --- roofline ---------------------------------------------------------------------------------------------------
def roofline_points(layers: Sequence[LayerRecord], clock_hz: float) -> tuple[list[LayerRecord], np.ndarray,
                                                                             np.ndarray]:
    """Layers that have MACs, cycles and DDR traffic, with their (ops/byte, GOP/s); 1 MAC = 2 ops."""
    kept = [layer for layer in layers if layer.macs > 0 and layer.cycles > 0 and layer.ddr_bytes > 0]
    intensity = np.array([2 * layer.macs / layer.ddr_bytes for layer in kept])
    gops = np.array([2 * layer.macs / layer.cycles * clock_hz / 1e9 for layer in kept])
    return kept, intensity, gops


def plot_roofline(layers: Sequence[LayerRecord], roof: Roof, *, clock_hz: float | None = None,
                  title: str | None = None) -> Figure:
    """Log-log roofline of `roof` (DDR bandwidth slope, dense and Winograd compute roofs) with one point per
    layer at (arithmetic intensity, attained performance). Layers without MACs or DDR traffic are not placed."""
    clock = clock_hz or roof.clock_hz
    kept, ai, perf = roofline_points(layers, clock)
    bw = roof.ddr_bytes_per_cycle * clock / 1e9                        # GB/s
    dense = 2 * roof.peak_macs_per_cycle * clock / 1e9                 # GOP/s
    peak = 2 * roof.winograd_macs_per_cycle * clock / 1e9
    ridge = peak / bw
    lo = min([ridge / 20, *(ai / 2)]) if len(ai) else ridge / 20
    hi = max([ridge * 20, *(ai * 2)]) if len(ai) else ridge * 20
    xs = np.geomspace(lo, hi, 256)
    fig = Figure(figsize=(7, 5))
    ax = fig.add_subplot()
    ax.plot(xs, np.minimum(bw * xs, peak), color="black", lw=2,
            label=f"roof: {bw:.3g} GB/s DDR, {peak:.4g} GOP/s peak")
    if peak > dense:
        ax.plot(xs, np.minimum(bw * xs, dense), color="black", lw=1, ls="--",
                label=f"dense peak without Winograd: {dense:.4g} GOP/s")
    ax.axvline(ridge, color=GREY, lw=0.8, ls=":")
    colours = _op_colours(kept)
    for op, col in colours.items():
        sel = [i for i, layer in enumerate(kept) if layer.op == op]
        ax.scatter(ai[sel], perf[sel], s=22, color=col, edgecolor="black", lw=0.4, zorder=3,
                   label=f"{op} ({len(sel)})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (ops per DDR byte)")
    ax.set_ylabel("performance (GOP/s)")
    skipped = len(layers) - len(kept)
    ax.set_title(title or f"roofline of {roof.name} at {clock / 1e6:.4g} MHz: {len(kept)} layers"
                 + (f" ({skipped} without MACs or DDR traffic not shown)" if skipped else ""))
    ax.grid(which="both", alpha=0.25)
    ax.legend(loc="lower right", fontsize="small")
    return fig
