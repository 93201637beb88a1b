"""The blind video SR experiment: fixed vs independent vs temporally consistent kernels, on synthetic clips.

For every test photograph and kernel schedule ("varying", "fixed") a clip is made (`degradation.synthetic_clip`);
the trained estimator gives independent per-frame kernels; the three settings derive from them
(`kernel_settings`); each drives the same non-blind restorer. Two references bracket them: bicubic upsampling
(no kernel) and restoration with the true kernels (an oracle). Every row reports PSNR/SSIM, the kernel
estimation error (mean L2 to the true kernels) and the temporal-consistency metric of the kernels used.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import numpy as np

from workloads.video_sr.clips import TEST_IMAGES
from workloads.video_sr.degradation import DegradedClip, check_scale, synthetic_clip
from workloads.video_sr.estimator import TrainConfig, TrainedEstimator, estimate_kernels, train_estimator
from workloads.video_sr.kernels import SCHEDULE_KINDS, SRInputError, kernel_error, temporal_consistency
from workloads.video_sr.metrics import clip_quality, default_border
from workloads.video_sr.restoration import RestoreConfig, bicubic, restore_clip
from workloads.video_sr.temporal import choose_window, consistent_kernels, fixed_kernel

SETTINGS: tuple[str, ...] = ("fixed", "independent", "consistent")
METHODS: tuple[str, ...] = ("bicubic",) + SETTINGS + ("true",)


def kernel_settings(per_frame: np.ndarray, *, window: int | None = None) -> dict[str, np.ndarray]:
    """The three ways to use per-frame estimates (T, 3): one kernel per clip, as estimated, temporally consistent."""
    return {"fixed": fixed_kernel(per_frame), "independent": np.asarray(per_frame, dtype=np.float64),
            "consistent": consistent_kernels(per_frame, window)}


@dataclass(frozen=True)
class Row:
    """One clip restored one way. Kernel columns are None for bicubic; 0 error for the true kernels."""

    clip: str
    schedule: str
    noise: float
    method: str
    psnr: float
    ssim: float
    kernel_error: float | None
    temporal_consistency: float | None


@dataclass(frozen=True)
class ExperimentConfig:
    """What to run: scale, clip geometry, noise levels (8-bit levels; one set of clips per level), photographs,
    schedules, seed, the temporal window (None: chosen per clip), the estimator training and the restorer schedule
    (None: the tuned one for the clip's scale and noise)."""

    scale: int = 2
    frames: int = 16
    size: int = 192
    noises: tuple[float, ...] = (0.0,)
    images: tuple[str, ...] = TEST_IMAGES
    schedules: tuple[str, ...] = SCHEDULE_KINDS
    seed: int = 0
    window: int | None = None
    train: TrainConfig = field(default_factory=TrainConfig)
    restore: RestoreConfig | None = None

    def __post_init__(self) -> None:
        check_scale(self.scale)
        if self.train.scale != self.scale:
            raise SRInputError(f"estimator scale {self.train.scale} differs from experiment scale {self.scale}")
        if self.size % self.scale or self.frames < 2:
            raise SRInputError(f"clips need >= 2 frames and a size divisible by {self.scale}; got "
                               f"{self.frames} frames of {self.size}")
        for s in self.schedules:
            if s not in SCHEDULE_KINDS:
                raise SRInputError(f"schedule '{s}' is unknown; use {', '.join(SCHEDULE_KINDS)}")


def make_clips(config: ExperimentConfig) -> list[DegradedClip]:
    """The evaluation clips: one per (noise, photograph, schedule), each with its own derived seed."""
    clips = []
    for n, noise in enumerate(config.noises):
        for i, image in enumerate(config.images):
            for j, schedule in enumerate(config.schedules):
                seed = config.seed * 100003 + n * 1009 + i * 31 + j
                clips.append(synthetic_clip(image, schedule=schedule, frames=config.frames,  # type: ignore[arg-type]
                                            size=(config.size, config.size), scale=config.scale, noise=noise,
                                            seed=seed))
    return clips


@dataclass
class ClipOutcome:
    """Rows for one clip, plus the arrays needed for figures (restored clips and kernels per method)."""

    clip: DegradedClip
    rows: list[Row]
    restored: dict[str, np.ndarray]
    kernels: dict[str, np.ndarray]
    window: str


def evaluate_clip(clip: DegradedClip, per_frame: np.ndarray, *, restore: RestoreConfig | None = None,
                  window: int | None = None) -> ClipOutcome:
    """Restore `clip` with every method and score it against its ground truth."""
    if clip.hr is None or clip.kernels is None:
        raise SRInputError(f"clip '{clip.name}' has no ground truth; evaluation needs a synthetic clip")
    kernels = kernel_settings(per_frame, window=window) | {"true": np.asarray(clip.kernels, dtype=np.float64)}
    border = default_border(clip.scale)
    restored = {"bicubic": bicubic(clip.lr, clip.scale)}
    rows = []
    for method in METHODS:
        if method != "bicubic":
            restored[method] = restore_clip(clip.lr, kernels[method], scale=clip.scale, noise=clip.noise,
                                            config=restore)
        q = clip_quality(restored[method], clip.hr, border=border)
        k = kernels.get(method)
        rows.append(Row(clip.name, clip.schedule, clip.noise, method, q.psnr, q.ssim,
                        None if k is None else kernel_error(k, clip.kernels),
                        None if k is None else temporal_consistency(k)))
    w = choose_window(per_frame) if window is None else None
    chosen = f"{window} (given)" if w is None else ("clip, constant" if w.order == 0 else f"{w.frames}, linear")
    return ClipOutcome(clip, rows, restored, kernels, chosen)


@dataclass
class ExperimentResult:
    """All rows, the per-clip window choices and the timings (seconds of wall clock and of process CPU)."""

    config: ExperimentConfig
    rows: list[Row]
    windows: dict[str, str]
    train_seconds: float
    eval_seconds: float
    cpu_seconds: float
    val_kernel_error: float
    estimator: TrainedEstimator | None = None

    def summary(self) -> list[dict[str, object]]:
        """Means over clips per (noise, schedule, method)."""
        out = []
        for noise in self.config.noises:
            for schedule in self.config.schedules:
                for method in METHODS:
                    sel = [r for r in self.rows if r.schedule == schedule and r.method == method and r.noise == noise]
                    if not sel:
                        continue
                    ke = [r.kernel_error for r in sel if r.kernel_error is not None]
                    tc = [r.temporal_consistency for r in sel if r.temporal_consistency is not None]
                    out.append({"noise": noise, "schedule": schedule, "method": method, "clips": len(sel),
                                "psnr": float(np.mean([r.psnr for r in sel])),
                                "ssim": float(np.mean([r.ssim for r in sel])),
                                "kernel_error": float(np.mean(ke)) if ke else None,
                                "temporal_consistency": float(np.mean(tc)) if tc else None})
        return out

    def verdicts(self) -> list[dict[str, object]]:
        """The acceptance checks per (noise, schedule), on mean PSNR and SSIM over clips: on varying clips
        consistent > fixed and > independent; on fixed clips consistent >= fixed - 0.01 dB (and SSIM -1e-4)."""
        means = {(s["noise"], s["schedule"], s["method"]): s for s in self.summary()}
        out = []
        for noise in self.config.noises:
            for schedule in self.config.schedules:
                c = means.get((noise, schedule, "consistent"))
                if c is None:
                    continue
                f, i = means[(noise, schedule, "fixed")], means[(noise, schedule, "independent")]
                if schedule == "varying":
                    ok = all(c[m] > f[m] and c[m] > i[m] for m in ("psnr", "ssim"))
                    target = "consistent beats fixed and independent"
                else:
                    ok = c["psnr"] >= f["psnr"] - 0.01 and c["ssim"] >= f["ssim"] - 1e-4
                    target = "consistent no worse than fixed (0.01 dB, 1e-4 SSIM)"
                out.append({"noise": noise, "schedule": schedule, "target": target, "met": bool(ok),
                            "psnr_gain_vs_fixed": c["psnr"] - f["psnr"],
                            "psnr_gain_vs_independent": c["psnr"] - i["psnr"],
                            "ssim_gain_vs_fixed": c["ssim"] - f["ssim"],
                            "ssim_gain_vs_independent": c["ssim"] - i["ssim"]})
        return out

    def to_json(self) -> str:
        cfg = asdict(self.config)
        return json.dumps({"config": cfg, "estimator_train_seconds": self.estimator.seconds if self.estimator else None, "rows": [asdict(r) for r in self.rows], "summary": self.summary(),
                           "verdicts": self.verdicts(), "windows": self.windows,
                           "train_seconds": self.train_seconds, "eval_seconds": self.eval_seconds,
                           "cpu_seconds": self.cpu_seconds, "val_kernel_error": self.val_kernel_error}, indent=1)

    def markdown(self) -> str:
        """Summary table, verdicts and the per-clip table, as Markdown."""
        fmt = lambda v, p: "-" if v is None else f"{v:.{p}f}"  # noqa: E731
        lines = [f"x{self.config.scale}, {self.config.frames} frames of {self.config.size}x{self.config.size}, "
                 f"{len(self.config.images)} photographs per schedule; kernel error and temporal consistency are "
                 "mean L2 distances of 21x21 kernels (x1000)", "",
                 "| noise | schedule | method | clips | PSNR dB | SSIM | kernel err | temporal consistency |",
                 "|---|---|---|---|---|---|---|---|"]
        for s in self.summary():
            ke = None if s["kernel_error"] is None else 1000 * s["kernel_error"]
            tc = None if s["temporal_consistency"] is None else 1000 * s["temporal_consistency"]
            lines.append(f"| {s['noise']:g} | {s['schedule']} | {s['method']} | {s['clips']} | {s['psnr']:.2f} | "
                         f"{s['ssim']:.4f} | {fmt(ke, 1)} | {fmt(tc, 2)} |")
        lines += ["", "| noise | schedule | target | met | dPSNR vs fixed | dPSNR vs independent | dSSIM vs fixed | "
                  "dSSIM vs independent |", "|---|---|---|---|---|---|---|---|"]
        for v in self.verdicts():
            lines.append(f"| {v['noise']:g} | {v['schedule']} | {v['target']} | {'yes' if v['met'] else 'NO'} | "
                         f"{v['psnr_gain_vs_fixed']:+.3f} | {v['psnr_gain_vs_independent']:+.3f} | "
                         f"{v['ssim_gain_vs_fixed']:+.4f} | {v['ssim_gain_vs_independent']:+.4f} |")
        lines += ["", "| clip | noise | window | " + " | ".join(f"{m} PSNR" for m in METHODS) + " | " +
                  " | ".join(f"{m} k.err" for m in SETTINGS) + " |", "|---" * (3 + len(METHODS) + len(SETTINGS)) + "|"]
        keys = sorted({(r.clip, r.noise) for r in self.rows}, key=lambda k: (k[1], k[0]))
        for name, noise in keys:
            by = {r.method: r for r in self.rows if r.clip == name and r.noise == noise}
            lines.append(f"| {name} | {noise:g} | {self.windows.get(f'{name}@{noise:g}', '-')} | " +
                         " | ".join(f"{by[m].psnr:.2f}" for m in METHODS) + " | " +
                         " | ".join(fmt(1000 * by[m].kernel_error, 1) for m in SETTINGS) + " |")
        return "\n".join(lines)


def run_experiment(config: ExperimentConfig = ExperimentConfig(), *, estimator: TrainedEstimator | None = None,
                   on_clip: Callable[[ClipOutcome], None] | None = None) -> ExperimentResult:
    """Train the estimator (unless given), make the clips, evaluate every clip; `on_clip` sees each outcome."""
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    if estimator is None:
        estimator = train_estimator(config.train)
    elif estimator.config.scale != config.scale:
        raise SRInputError(f"estimator is for x{estimator.config.scale}, experiment is x{config.scale}")
    t1 = time.perf_counter()
    rows: list[Row] = []
    windows: dict[str, str] = {}
    for clip in make_clips(config):
        outcome = evaluate_clip(clip, estimate_kernels(estimator, clip.lr), restore=config.restore,
                                window=config.window)
        rows += outcome.rows
        windows[f"{clip.name}@{clip.noise:g}"] = outcome.window
        if on_clip is not None:
            on_clip(outcome)
    return ExperimentResult(config, rows, windows, t1 - t0, time.perf_counter() - t1, time.process_time() - cpu0,
                            estimator.val_kernel_error, estimator)
