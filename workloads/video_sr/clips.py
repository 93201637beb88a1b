"""Synthetic high-resolution clips: real photographs moved by a known sub-pixel camera path (pan and zoom).

The photographs are the sample images bundled inside the installed scikit-image wheel (`skimage/data/*.png`,
`*.jpg`) and matplotlib's `grace_hopper.jpg`; none is downloaded. They are split into disjoint sets: `TEST_IMAGES`
make the evaluation clips, `TRAIN_IMAGES` feed the training of the kernel estimator and the tuning of the
restorer. Frames are float32 in [0, 1], grayscale (T, H, W) or colour (T, H, W, 3).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

from workloads.video_sr.kernels import SRInputError

TEST_IMAGES: tuple[str, ...] = ("astronaut", "camera", "coffee", "chelsea", "rocket", "motorcycle")
TRAIN_IMAGES: tuple[str, ...] = ("grace_hopper", "coins", "moon", "retina", "hubble_deep_field", "cell",
                                 "immunohistochemistry", "brick", "grass", "gravel", "page", "text")


@lru_cache(maxsize=32)
def _load(name: str) -> np.ndarray:
    import skimage.data

    if name == "grace_hopper":
        from matplotlib import cbook
        import matplotlib.image

        with cbook.get_sample_data("grace_hopper.jpg") as f:
            img = matplotlib.image.imread(f, format="jpg")
    elif name == "motorcycle":
        img = skimage.data.stereo_motorcycle()[0]
    elif name in TEST_IMAGES + TRAIN_IMAGES:
        img = getattr(skimage.data, name)()
    else:
        raise SRInputError(f"image '{name}' is unknown; use one of {', '.join(TEST_IMAGES + TRAIN_IMAGES)}")
    img = np.asarray(img, dtype=np.float32)
    if img.ndim == 3:
        img = img[..., :3]
    if img.max() > 1.0:
        img = img / 255.0
    img.setflags(write=False)
    return img


def load_image(name: str, *, color: bool = False) -> np.ndarray:
    """A bundled photograph as float32 in [0, 1]: (H, W) luminance, or (H, W, 3) when `color` (gray images are
    replicated to three channels)."""
    img = _load(name)
    if color:
        return np.repeat(img[..., None], 3, axis=2) if img.ndim == 2 else img.copy()
    return luminance(img) if img.ndim == 3 else img.copy()


def luminance(img: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma of RGB in [0, 1] (the Y channel SR papers score), unchanged for grayscale."""
    if img.ndim >= 3 and img.shape[-1] == 3:
        return (img @ np.array([65.481, 128.553, 24.966], dtype=np.float32) + 16.0) / 255.0
    return img


@dataclass(frozen=True)
class CameraMotion:
    """A camera path: pan velocity (source pixels per frame), zoom factor per frame (>1 zooms in)."""

    pan_x: float
    pan_y: float
    zoom: float = 1.0

    @staticmethod
    def random(rng: np.random.Generator) -> "CameraMotion":
        """Sub-pixel pan of 0.3..1.2 px/frame in a random direction and a slow zoom of up to +-0.5 %/frame."""
        speed, angle = rng.uniform(0.3, 1.2), rng.uniform(0, 2 * math.pi)
        return CameraMotion(speed * math.cos(angle), speed * math.sin(angle), float(1 + rng.uniform(-0.005, 0.005)))


def make_clip(image: np.ndarray, *, frames: int, size: tuple[int, int], motion: CameraMotion,
              rng: np.random.Generator | None = None) -> np.ndarray:
    """Render `frames` HR frames of `size` (H, W) by looking at `image` through the camera path.

    Frame t samples the image at centre c_0 + t * pan and magnification zoom^t with cubic-spline interpolation,
    so every frame sees a different sub-pixel phase of the scene. The start centre is drawn from `rng` so that
    the whole path stays inside the image (default: the image centre).
    """
    h, w = size
    if frames < 1 or h < 8 or w < 8:
        raise SRInputError(f"clip of {frames} frames of {h}x{w} is too small; use >= 1 frame of >= 8x8 pixels")
    ih, iw = image.shape[:2]
    z_min = min(motion.zoom ** t for t in (0, frames - 1))
    half_h, half_w = h / 2 / z_min + 2, w / 2 / z_min + 2
    span_y, span_x = abs(motion.pan_y) * (frames - 1), abs(motion.pan_x) * (frames - 1)
    if 2 * half_h + span_y > ih or 2 * half_w + span_x > iw:
        raise SRInputError(f"a {h}x{w} clip of {frames} frames moving by ({motion.pan_x:.2f}, {motion.pan_y:.2f}) "
                           f"px/frame does not fit the {ih}x{iw} image; use fewer frames or smaller frames")
    lo_y = half_h + (span_y if motion.pan_y < 0 else 0)
    hi_y = ih - half_h - (span_y if motion.pan_y > 0 else 0)
    lo_x = half_w + (span_x if motion.pan_x < 0 else 0)
    hi_x = iw - half_w - (span_x if motion.pan_x > 0 else 0)
    if rng is None:
        cy, cx = (lo_y + hi_y) / 2, (lo_x + hi_x) / 2
    else:
        cy, cx = rng.uniform(lo_y, hi_y), rng.uniform(lo_x, hi_x)
    gy, gx = np.meshgrid(np.arange(h) - (h - 1) / 2, np.arange(w) - (w - 1) / 2, indexing="ij")
    channels = [image] if image.ndim == 2 else [image[..., c] for c in range(image.shape[2])]
    coeffs = [ndimage.spline_filter(ch.astype(np.float64), order=3, mode="mirror") for ch in channels]
    out = np.empty((frames, h, w) + image.shape[2:], dtype=np.float32)
    for t in range(frames):
        m = motion.zoom ** t
        coords = np.stack([cy + t * motion.pan_y + gy / m, cx + t * motion.pan_x + gx / m])
        planes = [ndimage.map_coordinates(c, coords, order=3, mode="mirror", prefilter=False) for c in coeffs]
        out[t] = np.stack(planes, axis=-1) if image.ndim == 3 else planes[0]
    return np.clip(out, 0.0, 1.0)
