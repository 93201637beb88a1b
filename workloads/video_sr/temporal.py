"""Temporal treatment of per-frame kernel estimates: one kernel per clip, or temporally consistent kernels.

Estimates are combined in log-Euclidean form: each covariance is mapped to its matrix logarithm (a symmetric
matrix, three numbers), combined linearly there and mapped back with the matrix exponential, so every result is a
valid covariance and a geometric change of sigma (the schedules' form) is a straight line.

- `fixed_kernel`: the clip-wide mean, used for every frame (the fixed-kernel assumption of earlier video SR).
- `consistent_kernels`: for every frame, a local-linear least-squares fit over a centred window of frames,
  evaluated at that frame (shrunk windows at the clip ends keep their size by shifting inwards). Noise of
  the independent estimates is averaged out while a smooth change of the true kernel is followed without lag.
  With `window=None` the window is chosen per clip by leave-one-out cross-validation over the per-frame
  estimates (one-standard-error rule), among: the whole clip with a constant, the whole clip with a straight
  line, and local lines over 33..3 frames. A clip whose estimates show no significant change therefore keeps
  one kernel, which is what makes the consistent setting no worse than the fixed one on static-kernel clips.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workloads.video_sr.kernels import SRInputError


def _check(cov: np.ndarray) -> np.ndarray:
    cov = np.asarray(cov, dtype=np.float64)
    if cov.ndim != 2 or cov.shape[1] != 3 or len(cov) < 1:
        raise SRInputError(f"kernel estimates have shape {cov.shape}; expected (T, 3) covariance rows")
    det = cov[:, 0] * cov[:, 2] - cov[:, 1] ** 2
    if np.any(cov[:, 0] <= 0) or np.any(det <= 0):
        raise SRInputError("kernel estimates contain a covariance that is not positive definite")
    return cov


def _to_log(cov: np.ndarray) -> np.ndarray:
    m = np.stack([np.stack([cov[:, 0], cov[:, 1]], -1), np.stack([cov[:, 1], cov[:, 2]], -1)], -2)
    w, v = np.linalg.eigh(m)
    lm = np.einsum("tij,tj,tkj->tik", v, np.log(w), v)
    return np.stack([lm[:, 0, 0], lm[:, 0, 1], lm[:, 1, 1]], -1)


def _from_log(lc: np.ndarray) -> np.ndarray:
    m = np.stack([np.stack([lc[:, 0], lc[:, 1]], -1), np.stack([lc[:, 1], lc[:, 2]], -1)], -2)
    w, v = np.linalg.eigh(m)
    e = np.einsum("tij,tj,tkj->tik", v, np.exp(w), v)
    return np.stack([e[:, 0, 0], e[:, 0, 1], e[:, 1, 1]], -1)


def fixed_kernel(cov: np.ndarray) -> np.ndarray:
    """One kernel for the whole clip: the log-Euclidean mean of the per-frame estimates, repeated (T, 3)."""
    lc = _to_log(_check(cov))
    return _from_log(np.repeat(lc.mean(axis=0, keepdims=True), len(lc), axis=0))


def smoother_matrix(frames: int, window: int, order: int = 1) -> np.ndarray:
    """The (T, T) linear map of the windowed fit: row t holds the weights of the estimates for frame t.

    order 1: local-linear least squares over the window, evaluated at t; order 0: the window mean. Windows
    shorter than 3 frames use the mean; windows are shifted inwards at the clip ends to keep their length."""
    if window < 1 or order not in (0, 1):
        raise SRInputError(f"temporal window {window} of order {order} is invalid; use >= 1 frames, order 0 or 1")
    window = min(window, frames)
    h = np.zeros((frames, frames))
    for t in range(frames):
        lo = min(max(t - window // 2, 0), frames - window)
        idx = np.arange(lo, lo + window)
        if window < 3 or order == 0:
            h[t, idx] = 1.0 / window
            continue
        a = np.stack([np.ones(window), idx - t], axis=1).astype(np.float64)
        h[t, idx] = np.linalg.pinv(a)[0]
    return h


@dataclass(frozen=True)
class Window:
    """A temporal aggregation choice: `frames` in the window and fit `order` (0 mean, 1 local-linear)."""

    frames: int
    order: int = 1


def loo_errors(cov: np.ndarray, window: Window) -> np.ndarray:
    """Per-frame leave-one-out squared prediction errors of the windowed smoother on log-covariances."""
    lc = _to_log(_check(cov))
    h = smoother_matrix(len(lc), window.frames, window.order)
    resid = (lc - h @ lc) / np.maximum(1.0 - np.diag(h), 1e-6)[:, None]
    return (resid ** 2).sum(axis=1)


def candidate_windows(frames: int) -> tuple[Window, ...]:
    """Candidates from the simplest (one constant kernel for the clip) to the most local (3-frame line)."""
    local = sorted({w for w in (3, 5, 7, 9, 13, 17, 25, 33) if w < frames}, reverse=True)
    return (Window(frames, 0), Window(frames, 1)) + tuple(Window(w, 1) for w in local)


def choose_window(cov: np.ndarray) -> Window:
    """Leave-one-out cross-validation with the one-standard-error rule: among the candidates whose mean LOO
    error is within one standard error of the best, the simplest (earliest in `candidate_windows`) wins, so a
    clip whose estimates show no significant change keeps one kernel, and a changing clip gets the window that
    best follows it."""
    t = len(_check(cov))
    if t < 4:
        return Window(t, 0)
    cands = candidate_windows(t)
    errs = [loo_errors(cov, w) for w in cands]
    means = np.array([e.mean() for e in errs])
    best = int(np.argmin(means))
    limit = means[best] + errs[best].std(ddof=1) / np.sqrt(t)
    return next(w for w, m in zip(cands, means) if m <= limit)


def consistent_kernels(cov: np.ndarray, window: int | None = None) -> np.ndarray:
    """Temporally consistent kernels (T, 3): windowed local-linear fit of the log-covariance estimates, over
    `window` frames, or over the window that `choose_window` picks when None."""
    lc = _to_log(_check(cov))
    w = choose_window(cov) if window is None else Window(window, 1)
    return _from_log(smoother_matrix(len(lc), w.frames, w.order) @ lc)
