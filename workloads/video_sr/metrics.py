"""Image-quality metrics of a restored clip: PSNR and SSIM (scikit-image), on luminance, borders cropped.

SR papers score the Y (luma) channel and crop a border; here the border defaults to 4 x scale HR pixels, which
also keeps the reflect/mirror boundary handling of the degradation and the restorer out of the score.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from workloads.video_sr.clips import luminance
from workloads.video_sr.kernels import SRInputError


@dataclass(frozen=True)
class Quality:
    """Mean PSNR (dB) and SSIM over the frames of a clip."""

    psnr: float
    ssim: float


def default_border(scale: int) -> int:
    return 4 * scale


def clip_quality(restored: np.ndarray, truth: np.ndarray, *, border: int) -> Quality:
    """Mean over frames of PSNR and SSIM (data range 1) between restored and true HR clips (T, H, W[, 3])."""
    restored, truth = np.asarray(restored, np.float64), np.asarray(truth, np.float64)
    if restored.shape != truth.shape:
        raise SRInputError(f"restored clip {restored.shape} and ground truth {truth.shape} differ in shape")
    if restored.ndim == 4:
        restored, truth = luminance(restored), luminance(truth)
    if restored.ndim != 3 or min(restored.shape[1:]) <= 2 * border + 7:
        raise SRInputError(f"clip of shape {restored.shape} is too small to score with a {border}-pixel border")
    crop = (slice(None), slice(border, -border or None), slice(border, -border or None))
    r, t = restored[crop], truth[crop]
    psnr = [peak_signal_noise_ratio(a, b, data_range=1.0) for a, b in zip(t, r)]
    ssim = [structural_similarity(a, b, data_range=1.0) for a, b in zip(t, r)]
    return Quality(float(np.mean(psnr)), float(np.mean(ssim)))
