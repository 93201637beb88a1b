"""Anisotropic Gaussian blur kernels, their schedules over a clip, and the kernel metrics.

A kernel is parameterised by (sigma_x, sigma_y, theta) as in the BasicSR/DAN family: the covariance is
Sigma = R(theta) diag(sigma_x^2, sigma_y^2) R(theta)^T, with x along image columns and y along rows, and the
kernel is exp(-1/2 p^T Sigma^-1 p) sampled on a `size` x `size` grid centred on the middle pixel, normalised
to sum 1. Sigmas are in high-resolution pixels (the blur is applied before downsampling).

Schedules and estimates are kept as covariance arrays of shape (T, 3) holding (s_xx, s_xy, s_yy): that form has
no (sigma_x, sigma_y, theta) ambiguity (swapping the axes and rotating by 90 degrees give the same kernel), and
an average of covariances is again a valid covariance, which is what temporal aggregation needs.
"""
from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from compiler.errors import UserError

KERNEL_SIZE = 21
ScheduleKind = Literal["fixed", "varying"]
SCHEDULE_KINDS: tuple[str, ...] = ("fixed", "varying")


class SRInputError(UserError):
    """Bad input to the video super-resolution workload (a parameter, a clip file or a kernel file)."""


@dataclass(frozen=True)
class GaussianKernel:
    """One anisotropic Gaussian kernel: standard deviations along its own axes (HR pixels), rotation in radians."""

    sigma_x: float
    sigma_y: float
    theta: float

    def __post_init__(self) -> None:
        if not (self.sigma_x > 0 and self.sigma_y > 0 and math.isfinite(self.theta)):
            raise SRInputError(f"Gaussian kernel ({self.sigma_x}, {self.sigma_y}, {self.theta}) is invalid: "
                               "sigmas must be positive and theta finite")

    def covariance(self) -> np.ndarray:
        """(s_xx, s_xy, s_yy) of Sigma = R diag(sx^2, sy^2) R^T."""
        c, s = math.cos(self.theta), math.sin(self.theta)
        a, b = self.sigma_x ** 2, self.sigma_y ** 2
        return np.array([c * c * a + s * s * b, c * s * (a - b), s * s * a + c * c * b])

    @staticmethod
    def from_covariance(cov: np.ndarray) -> "GaussianKernel":
        """The (sigma_major, sigma_minor, theta) form of a covariance triple, theta in [0, pi)."""
        m = _matrix(np.asarray(cov, dtype=np.float64))
        w, v = np.linalg.eigh(m)
        major = v[:, 1]
        theta = math.atan2(major[1], major[0]) % math.pi
        return GaussianKernel(math.sqrt(max(w[1], 1e-12)), math.sqrt(max(w[0], 1e-12)), theta)


def _matrix(cov: np.ndarray) -> np.ndarray:
    return np.array([[cov[0], cov[1]], [cov[1], cov[2]]])


def render(cov: np.ndarray, size: int = KERNEL_SIZE) -> np.ndarray:
    """Kernels for covariance triples: (3,) -> (size, size), or (T, 3) -> (T, size, size); each sums to 1."""
    cov = np.asarray(cov, dtype=np.float64)
    single = cov.ndim == 1
    cov = np.atleast_2d(cov)
    if cov.shape[-1] != 3:
        raise SRInputError(f"kernel covariances have shape {cov.shape}; expected (T, 3) rows (s_xx, s_xy, s_yy)")
    det = cov[:, 0] * cov[:, 2] - cov[:, 1] ** 2
    if np.any(cov[:, 0] <= 0) or np.any(det <= 0):
        raise SRInputError("kernel covariance is not positive definite; give positive sigmas")
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2
    y, x = np.meshgrid(r, r, indexing="ij")
    inv_xx, inv_xy, inv_yy = cov[:, 2] / det, -cov[:, 1] / det, cov[:, 0] / det
    q = (inv_xx[:, None, None] * x * x + 2 * inv_xy[:, None, None] * x * y + inv_yy[:, None, None] * y * y)
    k = np.exp(-0.5 * q)
    k /= k.sum(axis=(1, 2), keepdims=True)
    return k[0] if single else k


def covariances(kernels: list[GaussianKernel]) -> np.ndarray:
    """(T, 3) covariance triples of a list of kernels."""
    return np.stack([k.covariance() for k in kernels])


@dataclass(frozen=True)
class SigmaRange:
    """Range of the kernel standard deviations (HR pixels) used for a scale factor."""

    low: float
    high: float


def sigma_range(scale: int) -> SigmaRange:
    """Blur strengths per scale: x4 follows the DAN/DASR anisotropic setting (0.2..4.0) without the near-delta
    end, which leaves the frame aliased and the kernel unobservable; x2 halves it."""
    if scale == 2:
        return SigmaRange(0.6, 2.0)
    if scale == 4:
        return SigmaRange(1.2, 4.0)
    raise SRInputError(f"scale {scale} is not supported; use 2 or 4")


def random_kernel(rng: np.random.Generator, scale: int) -> GaussianKernel:
    """A kernel with sigmas drawn log-uniformly in the scale's range and a uniform orientation."""
    r = sigma_range(scale)
    sx, sy = np.exp(rng.uniform(math.log(r.low), math.log(r.high), size=2))
    return GaussianKernel(float(sx), float(sy), float(rng.uniform(0, math.pi)))


def kernel_schedule(kind: ScheduleKind, frames: int, scale: int, rng: np.random.Generator,
                    *, min_change: float = 0.5) -> np.ndarray:
    """Per-frame covariance triples (frames, 3) for a clip.

    "fixed": one random kernel for every frame. "varying": (sigma_x, sigma_y, theta) move from a random start
    kernel to a random end kernel along a cosine-eased path (smooth, non-linear in time), with the two ends at
    least `min_change` apart in log-sigma distance, so the change over the clip is substantial.
    """
    if kind not in SCHEDULE_KINDS:
        raise SRInputError(f"kernel schedule '{kind}' is unknown; use one of {', '.join(SCHEDULE_KINDS)}")
    if frames < 1:
        raise SRInputError(f"a clip needs at least 1 frame, got {frames}")
    start = random_kernel(rng, scale)
    if kind == "fixed":
        return np.repeat(start.covariance()[None], frames, axis=0)
    for _ in range(1000):
        end = random_kernel(rng, scale)
        d = math.hypot(math.log(end.sigma_x / start.sigma_x), math.log(end.sigma_y / start.sigma_y))
        if d >= min_change:
            break
    turn = rng.uniform(-math.pi / 3, math.pi / 3)
    u = (1 - np.cos(np.linspace(0, math.pi, frames))) / 2 if frames > 1 else np.zeros(1)
    out = []
    for a in u:
        sx = start.sigma_x ** (1 - a) * end.sigma_x ** a
        sy = start.sigma_y ** (1 - a) * end.sigma_y ** a
        out.append(GaussianKernel(float(sx), float(sy), float(start.theta + a * turn)).covariance())
    return np.stack(out)


def kernel_error(estimated: np.ndarray, true: np.ndarray, size: int = KERNEL_SIZE) -> float:
    """Mean over frames of the L2 distance between rendered estimated and true kernels (covariances (T, 3))."""
    e, t = render(np.atleast_2d(estimated), size), render(np.atleast_2d(true), size)
    return float(np.mean(np.sqrt(((e - t) ** 2).sum(axis=(1, 2)))))


def temporal_consistency(cov: np.ndarray, size: int = KERNEL_SIZE) -> float:
    """Mean L2 distance between the kernels of consecutive frames, mean_t ||k_t - k_{t-1}||_2 (0 if static)."""
    k = render(np.atleast_2d(cov), size)
    if len(k) < 2:
        return 0.0
    return float(np.mean(np.sqrt(((k[1:] - k[:-1]) ** 2).sum(axis=(1, 2)))))


def save_kernels(path: str | Path, cov: np.ndarray, *, setting: str) -> Path:
    """Write per-frame covariances (T, 3) and the setting that produced them to an .npz file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, kernels=np.atleast_2d(cov), setting=np.str_(setting))
    return path


def load_kernels(path: str | Path) -> tuple[np.ndarray, str]:
    """Read a kernel file written by `save_kernels`: (covariances (T, 3), setting)."""
    path = Path(path)
    if not path.is_file():
        raise SRInputError(f"kernel file '{path}' does not exist; write one with `ovl sr estimate`")
    try:
        with np.load(path, allow_pickle=False) as z:
            cov, setting = z["kernels"].astype(np.float64), str(z["setting"]) if "setting" in z.files else ""
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise SRInputError(f"kernel file '{path}' is not a readable kernel .npz ({exc}); "
                           "write it with `ovl sr estimate`") from None
    if cov.ndim != 2 or cov.shape[1] != 3:
        raise SRInputError(f"kernel file '{path}' holds shape {cov.shape}; expected (T, 3) covariances")
    return cov, setting
