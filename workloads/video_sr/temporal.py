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
- `state_space_kernels`: a state-space temporal model of the log-covariance track (an alternative to the window
  choice, measured next to it in docs/video_sr.md): either one constant kernel, or an integrated random walk
  (cubic-spline prior) around a straight line, observed with white noise; the process-to-observation variance
  ratio is chosen by maximum likelihood and the model by BIC, both from the observed estimates only. The
  smoothed track is the posterior mean (what an RTS smoother with a diffuse initial state returns). When the
  constant model wins, the result is exactly the clip-wide estimate of `fixed_kernel`.
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


def map_eigenvalues(cov: np.ndarray, f) -> np.ndarray:
    """Symmetric 2x2 matrices given as (T, 3) triples (a, b, c) = [[a, b], [b, c]], with f applied to their
    eigenvalues (the matrix function f), as triples again."""
    m = np.stack([np.stack([cov[:, 0], cov[:, 1]], -1), np.stack([cov[:, 1], cov[:, 2]], -1)], -2)
    w, v = np.linalg.eigh(m)
    fm = np.einsum("tij,tj,tkj->tik", v, f(w), v)
    return np.stack([fm[:, 0, 0], fm[:, 0, 1], fm[:, 1, 1]], -1)


def _to_log(cov: np.ndarray) -> np.ndarray:
    return map_eigenvalues(cov, np.log)


def _from_log(lc: np.ndarray) -> np.ndarray:
    return map_eigenvalues(lc, np.exp)


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


# Frobenius-isometric coordinates of a log-covariance (l11, sqrt2 l12, l22): isotropic noise in them is
# rotation-invariant, and squared distances are log-Euclidean distances.
_ISO = np.array([1.0, np.sqrt(2.0), 1.0])
STATE_SPACE_MODELS: tuple[str, ...] = ("constant", "irw")
# candidate process-to-observation variance ratios of the integrated random walk (per frame^3)
_RATIOS = np.logspace(-4, 3, 36)


def _irw_covariance(frames: int) -> np.ndarray:
    """Covariance of an integrated Wiener process started at 0 with slope 0, sampled at frames 0..T-1."""
    t = np.arange(frames, dtype=np.float64)
    lo, hi = np.minimum.outer(t, t), np.maximum.outer(t, t)
    return lo ** 2 * (3 * hi - lo) / 6.0


@dataclass(frozen=True)
class StateSpaceFit:
    """A fitted temporal model: `model` ("constant" or "irw"), variance `ratio` (0 for constant), the maximised
    log-likelihood, BIC score (larger is better) and the smoothed log-covariances (T, 3)."""

    model: str
    ratio: float
    loglik: float
    bic: float
    smoothed: np.ndarray


def _gls_fit(y: np.ndarray, x: np.ndarray, k: np.ndarray | None, ratio: float) -> tuple[float, np.ndarray]:
    """Profile log-likelihood of y = X b + s + e (s ~ N(0, ratio r K), e ~ N(0, r I), b and r profiled, the k
    columns of y independent with shared parameters) and the posterior mean of X b + s."""
    n, m = y.shape
    v = np.eye(n) if k is None else np.eye(n) + ratio * k
    chol = np.linalg.cholesky(v)
    xw, yw = np.linalg.solve(chol, x), np.linalg.solve(chol, y)
    beta = np.linalg.lstsq(xw, yw, rcond=None)[0]
    rss = float(((yw - xw @ beta) ** 2).sum())
    r = max(rss / (n * m), 1e-300)
    loglik = -0.5 * (n * m * np.log(r) + m * 2.0 * np.log(np.diag(chol)).sum() + n * m)
    mean = x @ beta
    if k is not None:
        mean = mean + ratio * k @ np.linalg.solve(v, y - mean)
    return loglik, mean


def fit_state_space(cov: np.ndarray, models: tuple[str, ...] = STATE_SPACE_MODELS) -> StateSpaceFit:
    """Fit every model of `models` to the log-covariance track of `cov` (T, 3) and return the BIC winner.

    constant: y_t = b + e_t (3 level parameters + noise variance). irw: y_t = b0 + b1 t + s_t + e_t with s an
    integrated random walk of variance ratio q (level, slope, q and noise variance); q by maximum likelihood
    over a log grid. BIC = loglik - p/2 log(3T)."""
    t = len(_check(cov))
    for m in models:
        if m not in STATE_SPACE_MODELS:
            raise SRInputError(f"temporal model '{m}' is unknown; use {', '.join(STATE_SPACE_MODELS)}")
    y = _to_log(cov) * _ISO
    n_obs = y.size
    best: StateSpaceFit | None = None
    for model in models:
        if model == "constant" or t < 4:
            x, k, ratios = np.ones((t, 1)), None, (0.0,)
        else:
            x = np.stack([np.ones(t), np.arange(t) - (t - 1) / 2], axis=1)
            k, ratios = _irw_covariance(t), tuple(_RATIOS)
        params = x.shape[1] * y.shape[1] + 1 + (k is not None)
        for ratio in ratios:
            loglik, mean = _gls_fit(y, x, k, ratio)
            bic = loglik - 0.5 * params * np.log(n_obs)
            if best is None or bic > best.bic:
                best = StateSpaceFit(model if k is not None else "constant", ratio, loglik, bic, mean / _ISO)
    assert best is not None
    return best


def state_space_kernels(cov: np.ndarray) -> np.ndarray:
    """Temporally consistent kernels (T, 3) from the state-space model of `fit_state_space`: the clip-wide
    log-Euclidean mean (= `fixed_kernel`) when the constant model wins, a smoothed track otherwise."""
    fit = fit_state_space(cov)
    return fixed_kernel(cov) if fit.model == "constant" else _from_log(fit.smoothed)
