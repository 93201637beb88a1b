"""Pareto fronts and hypervolume for the co-design objectives.

All functions take objective arrays oriented for *minimisation* (negate what is maximised: accuracy). `front_2d`
and `front_3d` return the indices of the non-dominated rows (a row is dominated when another is no worse in
every objective and better in one; identical rows are both kept). `hypervolume_3d` is exact (slices along the
third objective, each slice's area from its 2-D staircase).
"""
from __future__ import annotations

import numpy as np


def front_2d(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated points of (x, y), both minimised, ordered by increasing x."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(x) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((y, x))                      # by x, then y
    xs, ys = x[order], y[order]
    # a point survives if its y is below every y of points with smaller x (strictly), or equal x and equal y
    prev_min = np.minimum.accumulate(np.concatenate(([np.inf], ys[:-1])))
    keep = ys < prev_min
    # points with the same x and the same y as a kept point are duplicates: keep them too
    first_of_x = np.concatenate(([True], xs[1:] != xs[:-1]))
    group = np.cumsum(first_of_x) - 1
    best_in_group = np.full(group[-1] + 1, np.inf)
    np.minimum.at(best_in_group, group, ys)
    strictly_before = np.minimum.accumulate(np.concatenate(([np.inf], best_in_group[:-1])))
    keep = (ys == best_in_group[group]) & (ys < strictly_before[group])
    return order[keep]


def dominated_by(fx: np.ndarray, fy: np.ndarray, x: np.ndarray, y: np.ndarray, strict_extra: bool) -> np.ndarray:
    """For each (x, y): is it dominated by the 2-D front (fx ascending, fy descending)? With `strict_extra` the
    front's points are strictly better in a third objective, so weak domination in (x, y) suffices."""
    if len(fx) == 0:
        return np.zeros(len(x), dtype=bool)
    k = np.searchsorted(fx, x, side="right") - 1          # last front point with fx <= x
    ok = k >= 0
    best = np.where(ok, fy[np.clip(k, 0, None)], np.inf)   # smallest fy among fx <= x (fy decreasing)
    if strict_extra:
        return ok & (best <= y)
    # need a strict improvement in x or y: fx < x with fy <= y, or fx <= x with fy < y
    k2 = np.searchsorted(fx, x, side="left") - 1           # last with fx < x
    best_lt = np.where(k2 >= 0, fy[np.clip(k2, 0, None)], np.inf)
    return ok & ((best < y) | (best_lt <= y))


def front_3d(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated points of (a, b, c), all minimised (sweep over c with a 2-D staircase)."""
    a, b, c = (np.asarray(v, dtype=np.float64) for v in (a, b, c))
    n = len(a)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(c, kind="stable")
    keep = np.zeros(n, dtype=bool)
    fa = np.zeros(0)
    fb = np.zeros(0)
    i = 0
    while i < n:
        j = i
        while j < n and c[order[j]] == c[order[i]]:
            j += 1
        idx = order[i:j]
        ga, gb = a[idx], b[idx]
        out = dominated_by(fa, fb, ga, gb, strict_extra=True)        # earlier points have smaller c
        local = front_2d(ga, gb)                                     # same c: 2-D domination
        in_local = np.zeros(len(idx), dtype=bool)
        in_local[local] = True
        survive = in_local & ~out
        keep[idx[survive]] = True
        if survive.any():
            sel = front_2d(np.concatenate((fa, ga[survive])), np.concatenate((fb, gb[survive])))
            fa = np.concatenate((fa, ga[survive]))[sel]
            fb = np.concatenate((fb, gb[survive]))[sel]
        i = j
    return np.flatnonzero(keep)


def hypervolume_2d(x: np.ndarray, y: np.ndarray, ref: tuple[float, float]) -> float:
    """Area dominated by the points (minimised) and bounded by `ref`."""
    m = (np.asarray(x) < ref[0]) & (np.asarray(y) < ref[1])
    if not m.any():
        return 0.0
    f = front_2d(np.asarray(x)[m], np.asarray(y)[m])
    fx, fy = np.asarray(x)[m][f], np.asarray(y)[m][f]
    widths = np.diff(np.concatenate((fx, [ref[0]])))
    return float(np.sum(widths * (ref[1] - fy)))


def hypervolume_3d(a: np.ndarray, b: np.ndarray, c: np.ndarray, ref: tuple[float, float, float]) -> float:
    """Volume dominated by the points (minimised) and bounded by `ref` (exact)."""
    a, b, c = (np.asarray(v, dtype=np.float64) for v in (a, b, c))
    m = (a < ref[0]) & (b < ref[1]) & (c < ref[2])
    if not m.any():
        return 0.0
    idx = front_3d(a[m], b[m], c[m])
    a, b, c = a[m][idx], b[m][idx], c[m][idx]
    order = np.argsort(c, kind="stable")
    a, b, c = a[order], b[order], c[order]
    levels = np.unique(c)
    vol = 0.0
    for k, z in enumerate(levels):
        top = levels[k + 1] if k + 1 < len(levels) else ref[2]
        sel = c <= z
        vol += hypervolume_2d(a[sel], b[sel], ref[:2]) * (top - z)
    return vol
