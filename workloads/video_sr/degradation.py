"""Degradation model: per-frame anisotropic Gaussian blur, x2/x4 subsampling, optional Gaussian noise.

y_t = (k_t * x_t) subsampled by s (every s-th pixel from the first, the "direct" downsampler of the
KernelGAN/USRNet line of work) + n_t, n_t ~ N(0, (noise/255)^2), clipped to [0, 1]. The blur uses reflecting
borders. A `DegradedClip` keeps the ground truth with the low-resolution frames and round-trips through `.npz`.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from workloads.video_sr.clips import CameraMotion, load_image, make_clip
from workloads.video_sr.kernels import KERNEL_SIZE, ScheduleKind, SRInputError, kernel_schedule, render, sigma_range

SCALES: tuple[int, ...] = (2, 4)


def check_scale(scale: int) -> int:
    if scale not in SCALES:
        raise SRInputError(f"scale {scale} is not supported; use one of {', '.join(map(str, SCALES))}")
    return scale


def blur(frame: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve a (H, W) or (H, W, C) frame with a (k, k) kernel, reflecting borders."""
    if frame.ndim == 2:
        return ndimage.convolve(frame, kernel, mode="reflect")
    return np.stack([ndimage.convolve(frame[..., c], kernel, mode="reflect") for c in range(frame.shape[-1])], -1)


def degrade_frames(hr: np.ndarray, cov: np.ndarray, *, scale: int, noise: float = 0.0,
                   rng: np.random.Generator | None = None, kernel_size: int = KERNEL_SIZE) -> np.ndarray:
    """Low-resolution frames (T, H/s, W/s[, C]) of HR frames (T, H, W[, C]) under per-frame kernels (T, 3).

    `noise` is the standard deviation in 8-bit levels (0..255 scale); it needs `rng` when positive.
    """
    check_scale(scale)
    hr = np.asarray(hr, dtype=np.float32)
    if hr.ndim not in (3, 4) or (hr.ndim == 4 and hr.shape[-1] != 3):
        raise SRInputError(f"HR clip has shape {hr.shape}; expected (T, H, W) or (T, H, W, 3)")
    if hr.shape[1] % scale or hr.shape[2] % scale:
        raise SRInputError(f"HR frames of {hr.shape[1]}x{hr.shape[2]} are not divisible by scale {scale}; "
                           "crop them to a multiple of the scale")
    cov = np.atleast_2d(cov)
    if len(cov) != len(hr):
        raise SRInputError(f"{len(cov)} kernels for {len(hr)} frames; give one kernel per frame")
    if noise < 0:
        raise SRInputError(f"noise level {noise} is negative; give a standard deviation >= 0 in 8-bit levels")
    if noise > 0 and rng is None:
        raise SRInputError("noise > 0 needs a random generator (seed) for reproducibility")
    kernels = render(cov, kernel_size).astype(np.float32)
    lr = np.stack([blur(f, k)[::scale, ::scale] for f, k in zip(hr, kernels)])
    if noise > 0:
        lr = lr + rng.normal(0.0, noise / 255.0, size=lr.shape).astype(np.float32)
    return np.clip(lr, 0.0, 1.0).astype(np.float32)


@dataclass(frozen=True)
class DegradedClip:
    """A synthetic clip: HR ground truth (may be None for real input), LR frames and the true per-frame kernels."""

    name: str
    lr: np.ndarray
    scale: int
    hr: np.ndarray | None = None
    kernels: np.ndarray | None = None
    noise: float = 0.0
    schedule: str = ""

    @property
    def frames(self) -> int:
        return len(self.lr)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays = {"lr": self.lr, "scale": np.int64(self.scale), "noise": np.float64(self.noise),
                  "name": np.str_(self.name), "schedule": np.str_(self.schedule)}
        if self.hr is not None:
            arrays["hr"] = self.hr
        if self.kernels is not None:
            arrays["kernels"] = self.kernels
        np.savez_compressed(path, **arrays)
        return path

    @staticmethod
    def load(path: str | Path) -> "DegradedClip":
        path = Path(path)
        if not path.is_file():
            raise SRInputError(f"clip file '{path}' does not exist; create one with `ovl sr degrade`")
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except (OSError, ValueError, zipfile.BadZipFile) as exc:
            raise SRInputError(f"clip file '{path}' is not a readable .npz ({exc}); recreate it with `ovl sr degrade`")
        if "lr" not in data or "scale" not in data:
            raise SRInputError(f"clip file '{path}' lacks 'lr' or 'scale'; recreate it with `ovl sr degrade`")
        return DegradedClip(name=str(data.get("name", path.stem)), lr=data["lr"].astype(np.float32),
                            scale=check_scale(int(data["scale"])), hr=data.get("hr"), kernels=data.get("kernels"),
                            noise=float(data.get("noise", 0.0)), schedule=str(data.get("schedule", "")))


def synthetic_clip(image: str, *, schedule: ScheduleKind, frames: int = 16, size: tuple[int, int] = (192, 192),
                   scale: int = 2, noise: float = 0.0, seed: int = 0, color: bool = False) -> DegradedClip:
    """A synthetic clip from a bundled photograph: random camera path, kernel schedule and noise from `seed`."""
    check_scale(scale)
    sigma_range(scale)
    rng = np.random.default_rng(seed)
    motion = CameraMotion.random(rng)
    hr = make_clip(load_image(image, color=color), frames=frames, size=size, motion=motion, rng=rng)
    cov = kernel_schedule(schedule, frames, scale, rng)
    lr = degrade_frames(hr, cov, scale=scale, noise=noise, rng=rng)
    return DegradedClip(name=f"{image}-{schedule}", lr=lr, scale=scale, hr=hr, kernels=cov, noise=noise,
                        schedule=schedule)
