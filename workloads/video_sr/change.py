"""Did the kernel change over a clip? A content-free answer from the frames' spectra, pooled over all frames.

A Gaussian blur multiplies the power spectrum by exp(-4 pi^2 f^T Sigma f / s^2) (f in LR cycles/pixel, Sigma in
HR pixels^2), and the frames of a clip show (nearly) the same content. So the deviation of each frame's log
power spectrum from the clip's mean log spectrum is

    log P_t(f) - mean_t log P_t(f) = c_t + a(f) . (vec Sigma_t - mean vec Sigma) + error

with a(f) = -4 pi^2 (fx^2, 2 fx fy, fy^2) / s^2 known: the content cancels and the kernel change enters through
three regressors. `spectral_change` solves that regression per frame over the (band, sector) bins of the
estimator's features below `CHANGE_BANDS` (known white noise adds a floor to the power; the regressors are
scaled by the signal fraction 1 - floor / P, the derivative of log(P_signal + floor)). `change_statistic` is
the F statistic of the three kernel regressors against the intercept-only model, over all frames.

Under "no kernel change" the statistic is not F-distributed (the error is content drift from the camera
motion, not white noise), so its null distribution is simulated: `null_threshold` makes fixed-kernel clips of
the estimator's training photographs (never evaluation ones) with the clip's scale, noise, size and length and
returns the largest statistic among them (24 clips: a false-alarm rate of about 1/25). `gated_kernels` keeps
the clip-wide estimate (`temporal.fixed_kernel`) when the clip's statistic does not exceed it, and uses the
temporally consistent fit (`temporal.consistent_kernels`) when it does.

`change_track` uses the regression for more than a yes/no answer: it gives the kernels' change over the clip,
content-free, so only the clip's level L is left to the per-frame estimates, Sigma_t = L + change_t. The
estimates' own changes carry the estimator's content-dependent drift (its error depends on the kernel it sees,
e.g. shrinkage towards the middle of the training range); here they only vote for L. `tracked_kernels` is the
gated version: the clip-wide estimate when the test finds no change, the change track (smoothed by the
state-space model against the regression's noise) when it does.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from scipy.optimize import least_squares

from workloads.video_sr.estimator import SECTORS, TILE, _bins, binned_power
from workloads.video_sr.kernels import SRInputError
from workloads.video_sr.temporal import (_ISO, _check, _to_log, consistent_kernels, fixed_kernel,
                                         map_eigenvalues, state_space_kernels)

CHANGE_BANDS = 7  # radial bands (of 9) used: LR frequencies up to 0.44 cycles/pixel
NULL_IMAGES: tuple[str, ...] = ("grace_hopper", "coins", "moon", "cell", "brick", "hubble_deep_field")
NULL_CLIPS_PER_IMAGE = 4
TRACK_FLOOR = 0.02  # HR px^2: smallest eigenvalue of a tracked covariance (sigma 0.14 px, below every kernel range)


def _regression(lr: np.ndarray, scale: int, noise: float, bands: int) -> tuple[np.ndarray, np.ndarray]:
    """(deviations d (T, bins), regressors x (bins, 4)) of the model in the module docstring; colour frames are
    read as their luminance."""
    lr = np.asarray(_luma(lr), dtype=np.float64)
    if lr.ndim != 3 or len(lr) < 2 or min(lr.shape[1:]) < TILE:
        raise SRInputError(f"LR clip of shape {lr.shape} cannot be tested; give >= 2 frames of >= {TILE}x{TILE}")
    window, bins = _bins()
    power = binned_power(torch.from_numpy(lr)).numpy()
    f = np.fft.fftfreq(TILE)
    fy, fx = np.meshgrid(f, f, indexing="ij")
    q = np.stack([fx.ravel() ** 2, 2 * fx.ravel() * fy.ravel(), fy.ravel() ** 2], 1) * (-4 * np.pi ** 2 / scale ** 2)
    design = bins.numpy().T @ q
    sel = np.arange(power.shape[1]) // SECTORS < bands
    floor = (noise / 255.0) ** 2 * float((window.numpy() ** 2).sum())
    gain = np.clip(1.0 - floor / power.mean(axis=0), 0.0, 1.0)
    logp = np.log(power)
    d = (logp - logp.mean(axis=0))[:, sel]
    x = np.concatenate([np.ones((sel.sum(), 1)), design[sel] * gain[sel, None]], axis=1)
    return d, x


def spectral_change(lr: np.ndarray, scale: int, noise: float = 0.0, bands: int = CHANGE_BANDS) -> np.ndarray:
    """Change of each frame's kernel covariance from the clip mean (T, 3) (s_xx, s_xy, s_yy in HR pixels^2)."""
    d, x = _regression(lr, scale, noise, bands)
    return np.linalg.lstsq(x, d.T, rcond=None)[0][1:4].T


def change_statistic(lr: np.ndarray, scale: int, noise: float = 0.0, bands: int = CHANGE_BANDS) -> float:
    """F statistic of the kernel-change regressors over all frames (large: the kernel changed)."""
    d, x = _regression(lr, scale, noise, bands)
    coef = np.linalg.lstsq(x, d.T, rcond=None)[0]
    rss1 = float(((d.T - x @ coef) ** 2).sum())
    rss0 = float(((d.T - d.T.mean(axis=0)) ** 2).sum())
    frames, nbins = d.shape
    if rss0 <= 1e-20 * d.size:  # the spectra do not vary over the clip (up to rounding): nothing to explain
        return 0.0
    return ((rss0 - rss1) / (3 * (frames - 1))) / max(rss1 / ((nbins - 4) * (frames - 1)), 1e-300)


@lru_cache(maxsize=32)
def null_threshold(scale: int, noise: float, frames: int, size: int) -> float:
    """Largest `change_statistic` over fixed-kernel clips of the training photographs with this geometry."""
    from workloads.video_sr.degradation import synthetic_clip

    stats = []
    for i, image in enumerate(NULL_IMAGES):
        for rep in range(NULL_CLIPS_PER_IMAGE):
            clip = synthetic_clip(image, schedule="fixed", frames=frames, size=(size, size), scale=scale,
                                  noise=noise, seed=9000 + 97 * rep + 31 * i)
            stats.append(change_statistic(clip.lr, scale, noise))
    return float(max(stats))


def _luma(lr: np.ndarray) -> np.ndarray:
    lr = np.asarray(lr)
    if lr.ndim == 4:
        from workloads.video_sr.clips import luminance

        return luminance(lr)
    return lr


def kernel_changed(lr: np.ndarray, scale: int, noise: float = 0.0) -> bool:
    """Whether the clip's `change_statistic` exceeds the simulated null's (`null_threshold`)."""
    lr = _luma(lr)
    return change_statistic(lr, scale, noise) > null_threshold(scale, float(noise), len(lr), lr.shape[1] * scale)


def _check_estimates(estimates: np.ndarray, lr: np.ndarray) -> None:
    if len(lr) != len(estimates):
        raise SRInputError(f"{len(estimates)} kernel estimates for {len(lr)} frames; give one per frame")


def gated_kernels(estimates: np.ndarray, lr: np.ndarray, scale: int, noise: float = 0.0) -> tuple[np.ndarray, bool]:
    """(kernels (T, 3), changed): the clip-wide estimate when the spectra show no kernel change beyond the
    simulated null, the temporally consistent fit of the estimates otherwise."""
    lr = _luma(lr)
    _check_estimates(estimates, lr)
    changed = kernel_changed(lr, scale, noise)
    return (consistent_kernels(estimates) if changed else fixed_kernel(estimates)), bool(changed)


def _min_eigenvalue(cov: np.ndarray) -> np.ndarray:
    return (cov[:, 0] + cov[:, 2]) / 2 - np.sqrt(((cov[:, 0] - cov[:, 2]) / 2) ** 2 + cov[:, 1] ** 2)


def floored(cov: np.ndarray, floor: float) -> np.ndarray:
    """The covariances (T, 3) with every eigenvalue raised to at least `floor` (so that they are kernels)."""
    return map_eigenvalues(cov, lambda w: np.maximum(w, floor))


def change_track(estimates: np.ndarray, lr: np.ndarray, scale: int, noise: float = 0.0) -> np.ndarray:
    """Kernels (T, 3) that change as the frames' spectra say (`spectral_change`), at the level L that best fits
    the per-frame estimates: Sigma_t = L + change_t with L minimising sum_t |log Sigma_t - log estimate_t|^2
    (log-Euclidean, so a proportional error of the estimates counts the same for narrow and wide kernels).
    The fit starts at the estimates' mean covariance raised isotropically until every Sigma_t is at least as
    wide as the narrowest estimate: where the start leaves a Sigma_t at the floor, that frame has no gradient
    and the fit can settle with it there."""
    lr = _luma(lr)
    est = _check(estimates)
    _check_estimates(est, lr)
    delta = spectral_change(lr, scale, noise)
    target = _to_log(est)

    def residuals(level: np.ndarray) -> np.ndarray:
        return ((_to_log(floored(level[None] + delta, TRACK_FLOOR)) - target) * _ISO).ravel()

    start = est.mean(axis=0)
    short = _min_eigenvalue(est).min() - _min_eigenvalue(start[None] + delta).min()
    if short > 0:
        start = start + short * np.array([1.0, 0.0, 1.0])
    level = least_squares(residuals, start, method="trf").x
    return floored(level[None] + delta, TRACK_FLOOR)


def tracked_kernels(estimates: np.ndarray, lr: np.ndarray, scale: int, noise: float = 0.0) -> tuple[np.ndarray, bool]:
    """(kernels (T, 3), changed): the clip-wide estimate when the spectra show no kernel change beyond the
    simulated null; otherwise the change track (`change_track`) smoothed by the state-space model."""
    lr = _luma(lr)
    _check_estimates(estimates, lr)
    if not kernel_changed(lr, scale, noise):
        return fixed_kernel(estimates), False
    return state_space_kernels(change_track(estimates, lr, scale, noise)), True
