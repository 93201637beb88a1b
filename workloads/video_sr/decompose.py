"""Where the per-frame kernel estimator's error comes from, and how much of it a temporal treatment can remove.

The error of frame t is measured in Frobenius-isometric log-covariance coordinates (squared norms are squared
log-Euclidean distances): e_t = log(Sigma_est_t) - log(Sigma_true_t). Per clip it splits exactly into

    mean_t |e_t|^2 = |mean_t e_t|^2  +  mean_t |e_t - mean e|^2
                     clip-wide bias     drift + jitter

and the second part further into frame-to-frame jitter, estimated as 1/2 mean_t |e_t - e_{t-1}|^2 (the variance
of white noise; ~0 for a slowly varying error), and slow drift (the rest, clamped at 0). Smoothing the estimates
over time can only remove the jitter: the clip-wide bias is shared by all frames and the drift by neighbouring
ones. The "bias-only" kernel error (true kernels moved by each clip's mean error) is what a smoother that removed
all jitter and drift would reach.

The table also lists the kernel error of every temporal treatment, and of two ways of pooling evidence instead of
estimates: the estimator applied to spectra pooled over frames (`estimator.estimate_kernels(pool=...)`: a 5-frame
window mean, or the whole clip), and `spectral_change_kernels`, which measures the kernel's change over the clip
from the frames' spectra directly (content-free, `change.spectral_change`) and averages that track with the
estimates; `tracked` is the setting of that name (`change.tracked_kernels`: the spectra's change track at the
level the estimates fit best, behind the change test). Rows come from the evaluation clips of the experiment and
from clips of the estimator's training photographs (the set on which design choices may be made without touching
the evaluation).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from workloads.video_sr.degradation import DegradedClip, synthetic_clip
from workloads.video_sr.change import change_track, floored, kernel_changed, spectral_change, tracked_kernels
from workloads.video_sr.clips import TRAIN_IMAGES
from workloads.video_sr.estimator import TrainedEstimator, estimate_kernels, shipped_estimator
from workloads.video_sr.experiment import ExperimentConfig, make_clips
from workloads.video_sr.kernels import SRInputError, kernel_error
from workloads.video_sr.temporal import (_ISO, _from_log, _to_log, consistent_kernels, fixed_kernel,
                                         smoother_matrix, state_space_kernels)

# clips of training photographs (never evaluation ones): 2 per (photograph, schedule, noise)
DESIGN_IMAGES: tuple[str, ...] = ("grace_hopper", "coins", "moon", "cell", "brick", "hubble_deep_field")
TREATMENTS: tuple[str, ...] = ("independent", "fixed", "consistent", "state_space", "pooled_5", "pooled_clip",
                               "spectral_change", "tracked", "bias_only")


@dataclass(frozen=True)
class ErrorParts:
    """Mean squared log-Euclidean error per frame and its parts, for one clip (see the module docstring)."""

    total: float
    bias: float
    drift: float
    jitter: float
    lag1: float


def error_parts(estimated: np.ndarray, true: np.ndarray) -> ErrorParts:
    """Split the error of per-frame estimates (T, 3) against the true kernels (T, 3), T >= 2."""
    if np.shape(estimated) != np.shape(true) or len(true) < 2:
        raise SRInputError(f"estimates {np.shape(estimated)} and truth {np.shape(true)} must both be (T>=2, 3)")
    e = (_to_log(np.asarray(estimated, dtype=np.float64)) - _to_log(np.asarray(true, dtype=np.float64))) * _ISO
    mean = e.mean(axis=0)
    r = e - mean
    var = float((r ** 2).sum(axis=1).mean())
    jitter = float(0.5 * (np.diff(e, axis=0) ** 2).sum(axis=1).mean())
    lag1 = float((r[1:] * r[:-1]).sum() / max((r ** 2).sum(), 1e-300))
    return ErrorParts(float((e ** 2).sum(axis=1).mean()), float(mean @ mean), max(var - jitter, 0.0),
                      min(jitter, var), lag1)


def spectral_change_kernels(estimates: np.ndarray, lr: np.ndarray, scale: int, noise: float = 0.0) -> np.ndarray:
    """The estimates' clip-wide kernel moved along the spectral change track, averaged (log-Euclidean) with the
    per-frame estimates, then smoothed by the state-space model (`temporal.fit_state_space`)."""
    le = _to_log(np.asarray(estimates, dtype=np.float64))
    ref = fixed_kernel(estimates)[0]
    track = ref + spectral_change(lr, scale, noise)
    floor = 0.25 * np.linalg.eigvalsh(np.array([[ref[0], ref[1]], [ref[1], ref[2]]])).min()
    lt = _to_log(floored(track, floor))  # keep the track positive definite
    return state_space_kernels(_from_log(0.5 * (le + lt - lt.mean(axis=0) + le.mean(axis=0))))


def treatments(estimator: TrainedEstimator, clip: DegradedClip) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per-frame estimates of `clip` and the kernels (T, 3) of every treatment in `TREATMENTS`."""
    if clip.kernels is None:
        raise SRInputError(f"clip '{clip.name}' has no true kernels; the decomposition needs a synthetic clip")
    est = estimate_kernels(estimator, clip.lr)
    t = len(est)
    e = _to_log(est) - _to_log(clip.kernels)
    out = {"independent": est, "fixed": fixed_kernel(est), "consistent": consistent_kernels(est),
           "state_space": state_space_kernels(est),
           "pooled_5": estimate_kernels(estimator, clip.lr, pool=smoother_matrix(t, 5, 0)),
           "pooled_clip": estimate_kernels(estimator, clip.lr, pool=np.full((t, t), 1.0 / t)),
           "spectral_change": spectral_change_kernels(est, clip.lr, clip.scale, clip.noise),
           "tracked": tracked_kernels(est, clip.lr, clip.scale, clip.noise)[0],
           "bias_only": _from_log(_to_log(clip.kernels) + e.mean(axis=0))}
    return est, out


def design_clips(config: ExperimentConfig) -> list[DegradedClip]:
    """Clips of the training photographs with the experiment's geometry, noises and schedules."""
    clips = []
    for n, noise in enumerate(config.noises):
        for i, image in enumerate(DESIGN_IMAGES):
            for j, schedule in enumerate(config.schedules):
                for rep in range(2):
                    clips.append(synthetic_clip(
                        image, schedule=schedule, frames=config.frames,  # type: ignore[arg-type]
                        size=(config.size, config.size), scale=config.scale, noise=noise,
                        seed=7000 + rep * 97 + n * 1009 + i * 31 + j))
    return clips


# the selection of the tracked setting (docs/video_sr.md, "The change track"): every training photograph large
# enough for a 256x256 clip of 16 frames (not page, text), 2 clips per (photograph, schedule, noise), other seeds
SELECTION_IMAGES: tuple[str, ...] = TRAIN_IMAGES[:10]
SELECTION_VARIANTS: tuple[str, ...] = ("independent", "fixed", "consistent", "tested", "raw track", "tracked",
                                       "raw track + window")


def selection_clips(config: ExperimentConfig) -> list[DegradedClip]:
    """Clips of `SELECTION_IMAGES` with the experiment's geometry, noises and schedules (seeds 5000 + ...)."""
    return [synthetic_clip(image, schedule=schedule, frames=config.frames,  # type: ignore[arg-type]
                           size=(config.size, config.size), scale=config.scale, noise=noise,
                           seed=5000 + rep * 97 + n * 1009 + i * 31 + j)
            for n, noise in enumerate(config.noises) for i, image in enumerate(SELECTION_IMAGES)
            for j, schedule in enumerate(config.schedules) for rep in range(2)]


def selection_variants(est: np.ndarray, clip: DegradedClip) -> dict[str, np.ndarray]:
    """Kernels (T, 3) of the variants compared when the tracked setting was chosen, all but the first three
    behind the spectral change test (the clip-wide estimate when it finds no change): the windowed fit
    ('tested'), the change track as fitted ('raw track'), smoothed by the state-space model ('tracked'), and
    the raw track averaged (log-Euclidean) with the windowed fit."""
    fixed, window = fixed_kernel(est), consistent_kernels(est)
    out = {"independent": est, "fixed": fixed, "consistent": window}
    if kernel_changed(clip.lr, clip.scale, clip.noise):
        raw = change_track(est, clip.lr, clip.scale, clip.noise)
        out |= {"tested": window, "raw track": raw, "tracked": state_space_kernels(raw),
                "raw track + window": _from_log(0.5 * (_to_log(raw) + _to_log(window)))}
    else:
        out |= {k: fixed for k in SELECTION_VARIANTS[3:]}
    return out


def selection_markdown(config: ExperimentConfig, estimator: TrainedEstimator | None = None) -> str:
    """Mean kernel error (x1000) of every selection variant per (noise, schedule) on `selection_clips`."""
    estimator = estimator or shipped_estimator(config.scale)
    errors: dict[tuple[float, str], list[dict[str, float]]] = {}
    for clip in selection_clips(config):
        kernels = selection_variants(estimate_kernels(estimator, clip.lr), clip)
        errors.setdefault((clip.noise, clip.schedule), []).append(
            {k: kernel_error(v, clip.kernels) for k, v in kernels.items()})
    lines = [f"x{config.scale}: kernel error (x1000) on clips of {len(SELECTION_IMAGES)} training photographs, "
             "mean per group", "", "| noise | schedule | clips | " + " | ".join(SELECTION_VARIANTS) + " |",
             "|---" * (3 + len(SELECTION_VARIANTS)) + "|"]
    for (noise, schedule), items in errors.items():
        lines.append(f"| {noise:g} | {schedule} | {len(items)} | " +
                     " | ".join(f"{1000 * np.mean([e[k] for e in items]):.2f}" for k in SELECTION_VARIANTS) + " |")
    return "\n".join(lines)


def decomposition(config: ExperimentConfig, estimator: TrainedEstimator | None = None) -> list[dict[str, object]]:
    """One row per (clip set, noise, schedule): mean error parts and mean kernel error of every treatment."""
    estimator = estimator or shipped_estimator(config.scale)
    rows = []
    for name, clips in (("evaluation", make_clips(config)), ("training photos", design_clips(config))):
        groups: dict[tuple[float, str], list[tuple[ErrorParts, dict[str, float]]]] = {}
        for clip in clips:
            est, kernels = treatments(estimator, clip)
            errs = {k: kernel_error(v, clip.kernels) for k, v in kernels.items()}
            groups.setdefault((clip.noise, clip.schedule), []).append((error_parts(est, clip.kernels), errs))
        for (noise, schedule), items in groups.items():
            parts = [p for p, _ in items]
            row: dict[str, object] = {"clips": name, "noise": noise, "schedule": schedule, "n": len(items)}
            for f in ("total", "bias", "drift", "jitter", "lag1"):
                row[f] = float(np.mean([getattr(p, f) for p in parts]))
            for k in TREATMENTS:
                row[k] = float(np.mean([e[k] for _, e in items]))
            rows.append(row)
    return rows


def decomposition_markdown(config: ExperimentConfig, estimator: TrainedEstimator | None = None) -> str:
    rows = decomposition(config, estimator)
    lines = [f"x{config.scale}: squared log-Euclidean error per frame (mean over clips) and its parts; kernel "
             "error (x1000) of every treatment", "",
             "| clips | noise | schedule | n | total | bias | drift | jitter | bias share | lag-1 corr | " +
             " | ".join(TREATMENTS) + " |", "|---" * (10 + len(TREATMENTS)) + "|"]
    for r in rows:
        lines.append(f"| {r['clips']} | {r['noise']:g} | {r['schedule']} | {r['n']} | {r['total']:.4f} | "
                     f"{r['bias']:.4f} | {r['drift']:.4f} | {r['jitter']:.4f} | "
                     f"{100 * r['bias'] / r['total']:.0f}% | {r['lag1']:+.2f} | " +
                     " | ".join(f"{1000 * r[k]:.2f}" for k in TREATMENTS) + " |")
    return "\n".join(lines)
