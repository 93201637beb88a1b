"""PNG output: clip frames, a side-by-side comparison of the methods, and kernel tracks over a clip."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from workloads.video_sr.kernels import GaussianKernel


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_frames(frames: np.ndarray, directory: str | Path, prefix: str) -> list[Path]:
    """Write each frame (T, H, W[, 3]) in [0, 1] as `<prefix>_<t>.png`; returns the paths."""
    plt = _plt()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for t, f in enumerate(np.clip(frames, 0, 1)):
        p = directory / f"{prefix}_{t:03d}.png"
        if f.ndim == 2:
            plt.imsave(p, f, cmap="gray", vmin=0.0, vmax=1.0)
        else:
            plt.imsave(p, f)
        paths.append(p)
    return paths


def comparison(truth: np.ndarray, lr: np.ndarray, restored: dict[str, np.ndarray], scores: dict[str, float],
               path: str | Path, *, frame: int, crop: tuple[int, int, int]) -> Path:
    """One frame, cropped to (top, left, size) HR pixels: ground truth, LR (pixel-replicated), then every method
    with its PSNR on the whole clip."""
    plt = _plt()
    top, left, size = crop
    s = truth.shape[1] // lr.shape[1]
    panels = [("ground truth", truth[frame]), ("LR input", np.kron(lr[frame], np.ones((s, s))))]
    panels += [(f"{m} {scores[m]:.2f} dB", img[frame]) for m, img in restored.items()]
    fig, axes = plt.subplots(1, len(panels), figsize=(1.9 * len(panels), 2.2), dpi=100)
    for ax, (title, img) in zip(axes, panels):
        ax.imshow(np.clip(img[top:top + size, left:left + size], 0, 1), cmap="gray", vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_title(title, fontsize=7)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)


def kernel_tracks(kernels: dict[str, np.ndarray], path: str | Path, *, title: str) -> Path:
    """Major and minor sigma of each method's kernels (T, 3) over the frames."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(8, 2.8), dpi=100)
    for name, cov in kernels.items():
        ks = [GaussianKernel.from_covariance(c) for c in cov]
        style = {"true": "k-", "fixed": "C0--", "independent": "C1.", "consistent": "C2-", "state_space": "C3:",
                 "tested": "C4-.", "tracked": "C5-"}.get(name, "-")
        axes[0].plot([k.sigma_x for k in ks], style, label=name)
        axes[1].plot([k.sigma_y for k in ks], style, label=name)
    for ax, what in zip(axes, ("major", "minor")):
        ax.set_xlabel("frame")
        ax.set_ylabel(f"sigma {what} (HR px)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return Path(path)
