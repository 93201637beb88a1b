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
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from workloads.video_sr.estimator import SECTORS, TILE, _bins, binned_power
from workloads.video_sr.kernels import SRInputError
from workloads.video_sr.temporal import consistent_kernels, fixed_kernel

CHANGE_BANDS = 7  # radial bands (of 9) used: LR frequencies up to 0.44 cycles/pixel
NULL_IMAGES: tuple[str, ...] = ("grace_hopper", "coins", "moon", "cell", "brick", "hubble_deep_field")
NULL_CLIPS_PER_IMAGE = 4


def _regression(lr: np.ndarray, scale: int, noise: float, bands: int) -> tuple[np.ndarray, np.ndarray]:
    """(deviations d (T, bins), regressors x (bins, 4)) of the model in the module docstring."""
    lr = np.asarray(lr, dtype=np.float64)
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


def gated_kernels(estimates: np.ndarray, lr: np.ndarray, scale: int, noise: float = 0.0) -> tuple[np.ndarray, bool]:
    """(kernels (T, 3), changed): the clip-wide estimate when the spectra show no kernel change beyond the
    simulated null, the temporally consistent fit of the estimates otherwise."""
    lr = np.asarray(lr)
    if lr.ndim == 4:
        from workloads.video_sr.clips import luminance

        lr = luminance(lr)
    if len(lr) != len(estimates):
        raise SRInputError(f"{len(estimates)} kernel estimates for {len(lr)} frames; give one per frame")
    changed = change_statistic(lr, scale, noise) > null_threshold(scale, float(noise), len(lr), lr.shape[1] * scale)
    return (consistent_kernels(estimates) if changed else fixed_kernel(estimates)), bool(changed)
