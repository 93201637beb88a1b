"""Non-blind super-resolution conditioned on a kernel: half-quadratic splitting with a closed-form data step.

For one frame, x = argmin_x 1/2 ||(k * x) subsampled by s - y||^2 + lambda * TV(x) is solved by half-quadratic
splitting (the scheme USRNet unrolls, Zhang et al. CVPR 2020): alternate

    x_i = argmin_x ||(k * x)_s - y||^2 + mu_i ||x - z_{i-1}||^2      (data step, exact, in the Fourier domain)
    z_i = TV-denoise(x_i, weight w_i)                                   (prior step, Chambolle's algorithm)

with mu_i rising and w_i falling geometrically. The data step uses the closed form of Zhao et al. (IEEE TIP
2016, "Fast single image super-resolution using a new analytical solution for l2-l2 problems"): with circular
boundaries, the s x s aliased blocks of the spectrum decouple, so the solve costs a few FFTs. Circular boundaries
are made harmless by mirroring the LR frame to twice its size (a periodic, continuous extension) and cropping.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.restoration import denoise_tv_chambolle
from skimage.transform import resize

from workloads.video_sr.kernels import KERNEL_SIZE, SRInputError, render


@dataclass(frozen=True)
class RestoreConfig:
    """HQS schedule: `iterations` steps, data weight mu from mu_start to mu_end, TV weight from tv_start to
    tv_end, both geometric."""

    iterations: int = 8
    mu_start: float = 0.001
    mu_end: float = 0.03
    tv_start: float = 0.02
    tv_end: float = 0.001


# Schedules tuned with the TRUE kernels on clips of the training photographs (`bench/bench_sr.py --tune`),
# per (scale, noise level in 8-bit levels).
TUNED: dict[tuple[int, float], RestoreConfig] = {
    (2, 0.0): RestoreConfig(8, 0.0003, 0.01, 0.02, 0.0003),
    (2, 5.0): RestoreConfig(8, 0.003, 1.0, 0.02, 0.02),
    (4, 0.0): RestoreConfig(8, 0.0003, 0.01, 0.2, 0.0003),
    (4, 5.0): RestoreConfig(8, 0.003, 0.3, 0.01, 0.04),
}


def restore_config(scale: int, noise: float) -> RestoreConfig:
    """The tuned schedule for `scale` at `noise`: log-linear interpolation between the tuned noise levels,
    clamped outside them (the restorer is told the noise level, as non-blind restorers are)."""
    levels = sorted(n for s, n in TUNED if s == scale)
    if not levels:
        raise SRInputError(f"no restoration schedule for scale {scale}; use 2 or 4")
    noise = min(max(noise, levels[0]), levels[-1])
    hi = next(n for n in levels if n >= noise)
    lo = max(n for n in levels if n <= noise)
    if hi == lo:
        return TUNED[(scale, lo)]
    a, b, w = TUNED[(scale, lo)], TUNED[(scale, hi)], (noise - lo) / (hi - lo)
    mix = lambda x, y: float(np.exp((1 - w) * np.log(x) + w * np.log(y)))  # noqa: E731
    return RestoreConfig(a.iterations, mix(a.mu_start, b.mu_start), mix(a.mu_end, b.mu_end),
                         mix(a.tv_start, b.tv_start), mix(a.tv_end, b.tv_end))


def psf2otf(kernel: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Optical transfer function of a centred kernel on a periodic grid of `shape`."""
    pad = np.zeros(shape, dtype=np.float64)
    kh, kw = kernel.shape
    pad[:kh, :kw] = kernel
    pad = np.roll(pad, (-(kh // 2), -(kw // 2)), axis=(0, 1))
    return np.fft.fft2(pad)


def _block_mean(a: np.ndarray, s: int) -> np.ndarray:
    """Mean of the s x s blocks of a (s*h, s*w) spectrum: the Fourier form of subsampling by s."""
    h, w = a.shape[0] // s, a.shape[1] // s
    return a.reshape(s, h, s, w).mean(axis=(0, 2))


def data_step(y: np.ndarray, otf: np.ndarray, z: np.ndarray, mu: float, scale: int) -> np.ndarray:
    """Exact argmin_x ||(k * x)_s - y||^2 + mu ||x - z||^2 on a periodic grid (x, z: (s*h, s*w); y: (h, w))."""
    sty = np.zeros(z.shape, dtype=np.float64)
    sty[::scale, ::scale] = y
    otf_c = np.conj(otf)
    fr = otf_c * np.fft.fft2(sty) + mu * np.fft.fft2(z)
    fbr = _block_mean(otf * fr, scale)
    inv_w = _block_mean(np.abs(otf) ** 2, scale)
    correction = otf_c * np.tile(fbr / (inv_w + mu), (scale, scale))
    return np.real(np.fft.ifft2((fr - correction) / mu))


def _mirror(y: np.ndarray) -> np.ndarray:
    return np.concatenate([np.concatenate([y, y[:, ::-1]], 1), np.concatenate([y[::-1], y[::-1, ::-1]], 1)], 0)


def restore_frame(lr: np.ndarray, cov: np.ndarray, *, scale: int, config: RestoreConfig = RestoreConfig(),
                  kernel_size: int = KERNEL_SIZE) -> np.ndarray:
    """Super-resolve one (h, w) or (h, w, C) LR frame by `scale`, given its kernel covariance (3,)."""
    lr = np.asarray(lr, dtype=np.float64)
    if lr.ndim == 3:
        return np.stack([restore_frame(lr[..., c], cov, scale=scale, config=config, kernel_size=kernel_size)
                         for c in range(lr.shape[-1])], -1)
    if lr.ndim != 2:
        raise SRInputError(f"LR frame has shape {lr.shape}; expected (h, w) or (h, w, C)")
    h, w = lr.shape
    y = _mirror(lr)
    shape = (2 * h * scale, 2 * w * scale)
    otf = psf2otf(render(np.asarray(cov, dtype=np.float64), kernel_size), shape)
    z = upsample(y, scale)
    n = max(config.iterations, 1)
    ramp = np.linspace(0.0, 1.0, n) if n > 1 else np.ones(1)
    for r in ramp:
        mu = config.mu_start * (config.mu_end / config.mu_start) ** r
        tv = config.tv_start * (config.tv_end / config.tv_start) ** r
        x = data_step(y, otf, z, mu, scale)
        z = denoise_tv_chambolle(x, weight=tv)
    return np.clip(z[: h * scale, : w * scale], 0.0, 1.0).astype(np.float32)


def restore_clip(lr: np.ndarray, cov: np.ndarray, *, scale: int, noise: float = 0.0,
                 config: RestoreConfig | None = None) -> np.ndarray:
    """Super-resolve every frame of an LR clip (T, h, w[, C]) with its own kernel covariance (T, 3), using the
    tuned schedule for (scale, noise) unless `config` is given."""
    cov = np.atleast_2d(cov)
    if len(cov) != len(lr):
        raise SRInputError(f"{len(cov)} kernels for {len(lr)} LR frames; give one kernel per frame")
    config = config or restore_config(scale, noise)
    return np.stack([restore_frame(f, c, scale=scale, config=config) for f, c in zip(lr, cov)])


def upsample(lr: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic upsampling of one (h, w) frame on the degradation's grid: LR pixel j lands on HR pixel s*j
    (skimage's `resize` centres it at s*j + (s-1)/2, hence the shift)."""
    h, w = lr.shape
    up = resize(lr, (h * scale, w * scale), order=3, mode="symmetric", anti_aliasing=False)
    return ndimage.shift(up, (-(scale - 1) / 2, -(scale - 1) / 2), order=3, mode="mirror")


def bicubic(lr: np.ndarray, scale: int) -> np.ndarray:
    """Bicubic upsampling of an LR clip (T, h, w[, C]): the kernel-agnostic reference."""
    def one(frame: np.ndarray) -> np.ndarray:
        if frame.ndim == 3:
            return np.stack([upsample(frame[..., c], scale) for c in range(frame.shape[-1])], -1)
        return upsample(frame, scale)
    return np.clip(np.stack([one(np.asarray(f, dtype=np.float64)) for f in lr]), 0, 1).astype(np.float32)
