"""The blind video SR experiment: fixed vs independent vs temporally consistent kernels, on synthetic clips.

For every test photograph and kernel schedule ("varying", "fixed") a clip is made (`degradation.synthetic_clip`);
the trained estimator gives independent per-frame kernels; the three settings derive from them
(`kernel_settings`); each drives the same non-blind restorer. Two references bracket them: bicubic upsampling
(no kernel) and restoration with the true kernels (an oracle). Every row reports PSNR/SSIM, the kernel
estimation error (mean L2 to the true kernels) and the temporal-consistency metric of the kernels used.

Extra settings (`ExperimentConfig.extra`, e.g. "state_space": `temporal.state_space_kernels`) are restored and
scored next to the three. A run can reuse the rows of an earlier results.json (`reuse`): a clip's rows are taken
over only when its recomputed per-frame kernel errors match the stored ones (same clip, same estimates), and a
setting's row only when its kernels' error matches too, so only changed or new settings are restored again.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from workloads.video_sr.clips import TEST_IMAGES
from workloads.video_sr.degradation import DegradedClip, check_scale, synthetic_clip
from workloads.video_sr.estimator import TrainConfig, TrainedEstimator, estimate_kernels, train_estimator
from workloads.video_sr.kernels import SCHEDULE_KINDS, SRInputError, kernel_error, temporal_consistency
from workloads.video_sr.metrics import clip_quality, default_border
from workloads.video_sr.restoration import RestoreConfig, bicubic, restore_clip
from workloads.video_sr.temporal import (choose_window, consistent_kernels, fit_state_space, fixed_kernel,
                                         state_space_kernels)

SETTINGS: tuple[str, ...] = ("fixed", "independent", "consistent")
EXTRA_SETTINGS: tuple[str, ...] = ("state_space", "tested", "tracked")
SPECTRAL_SETTINGS: tuple[str, ...] = ("tested", "tracked")  # need the LR clip (its spectra) and >= 2 frames
METHODS: tuple[str, ...] = ("bicubic",) + SETTINGS + ("true",)


def methods_for(extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """Rows per clip: bicubic, the three settings, the extra settings, the true kernels."""
    return ("bicubic",) + SETTINGS + tuple(extra) + ("true",)


def check_extra(extra: tuple[str, ...]) -> tuple[str, ...]:
    for e in extra:
        if e not in EXTRA_SETTINGS:
            raise SRInputError(f"extra setting '{e}' is unknown; use {', '.join(EXTRA_SETTINGS)}")
    return tuple(extra)


def kernel_settings(per_frame: np.ndarray, *, window: int | None = None, extra: tuple[str, ...] = (),
                    clip: DegradedClip | None = None) -> dict[str, np.ndarray]:
    """The three ways to use per-frame estimates (T, 3): one kernel per clip, as estimated, temporally consistent
    (plus the `extra` settings: "state_space" = `temporal.state_space_kernels`; "tested" =
    `change.gated_kernels`, the clip-wide estimate unless the clip's spectra show a kernel change, which needs
    the LR `clip`; "tracked" = `change.tracked_kernels`, the same test, then the spectra's change track at the
    estimates' level)."""
    out = {"fixed": fixed_kernel(per_frame), "independent": np.asarray(per_frame, dtype=np.float64),
           "consistent": consistent_kernels(per_frame, window)}
    if "state_space" in check_extra(extra):
        out["state_space"] = state_space_kernels(per_frame)
    spectral = [e for e in SPECTRAL_SETTINGS if e in extra]
    if spectral and clip is None:
        raise SRInputError(f"the '{spectral[0]}' setting needs the LR clip (its spectra), not only the estimates")
    if "tested" in extra:
        from workloads.video_sr.change import gated_kernels

        out["tested"] = gated_kernels(per_frame, clip.lr, clip.scale, clip.noise)[0]
    if "tracked" in extra:
        from workloads.video_sr.change import tracked_kernels

        out["tracked"] = tracked_kernels(per_frame, clip.lr, clip.scale, clip.noise)[0]
    return out


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
    extra: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_scale(self.scale)
        check_extra(self.extra)
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
    model: str = "-"
    reused: tuple[str, ...] = ()


def _same(a: float | None, b: float | None) -> bool:
    """Kernel errors equal to 1e-6 relative: the same estimates (up to the float32 storage of the weights)."""
    return (a is None) == (b is None) and (a is None or abs(a - b) <= 1e-6 * max(1e-3, abs(b)))


def evaluate_clip(clip: DegradedClip, per_frame: np.ndarray, *, restore: RestoreConfig | None = None,
                  window: int | None = None, extra: tuple[str, ...] = (),
                  reuse: dict[str, Row] | None = None) -> ClipOutcome:
    """Restore `clip` with every method and score it against its ground truth. `reuse` (method -> Row of an
    earlier run of this clip) skips the restoration of the methods whose kernels are unchanged; it is ignored
    entirely unless the independent per-frame estimates have the stored kernel error."""
    if clip.hr is None or clip.kernels is None:
        raise SRInputError(f"clip '{clip.name}' has no ground truth; evaluation needs a synthetic clip")
    kernels = kernel_settings(per_frame, window=window, extra=extra, clip=clip) | {
        "true": np.asarray(clip.kernels, dtype=np.float64)}
    errors = {m: kernel_error(k, clip.kernels) for m, k in kernels.items()}
    reuse = reuse or {}
    if "independent" not in reuse or not _same(reuse["independent"].kernel_error, errors["independent"]):
        reuse = {}
    border = default_border(clip.scale)
    restored: dict[str, np.ndarray] = {}
    rows, reused = [], []
    for method in methods_for(extra):
        k = kernels.get(method)
        old = reuse.get(method)
        twin = next((r for r in rows if k is not None and r.method in kernels and
                     np.array_equal(kernels[r.method], k)), None)
        if old is not None and _same(old.kernel_error, errors.get(method)):
            psnr, ssim = old.psnr, old.ssim
            reused.append(method)
        elif twin is not None:  # identical kernels: the deterministic restorer gives the same frames
            psnr, ssim = twin.psnr, twin.ssim
            if twin.method in restored:
                restored[method] = restored[twin.method]
        else:
            restored[method] = (bicubic(clip.lr, clip.scale) if method == "bicubic" else
                                restore_clip(clip.lr, kernels[method], scale=clip.scale, noise=clip.noise,
                                             config=restore))
            q = clip_quality(restored[method], clip.hr, border=border)
            psnr, ssim = q.psnr, q.ssim
        rows.append(Row(clip.name, clip.schedule, clip.noise, method, psnr, ssim,
                        None if k is None else errors[method], None if k is None else temporal_consistency(k)))
    w = choose_window(per_frame) if window is None else None
    chosen = f"{window} (given)" if w is None else ("clip, constant" if w.order == 0 else f"{w.frames}, linear")
    model = "-"
    if "state_space" in extra:
        fit = fit_state_space(per_frame)
        model = "constant" if fit.model == "constant" else f"irw, q={fit.ratio:.2g}"
    if "tested" in extra or "tracked" in extra:
        from workloads.video_sr.change import change_statistic, null_threshold

        f = change_statistic(clip.lr, clip.scale, clip.noise)
        limit = null_threshold(clip.scale, float(clip.noise), clip.frames, clip.lr.shape[1] * clip.scale)
        model += f"; F={f:.3g} {'>' if f > limit else '<='} {limit:.3g}"
    return ClipOutcome(clip, rows, restored, kernels, chosen, model, tuple(reused))


def load_rows(path: str | Path) -> list[Row]:
    """The per-clip rows of a results.json written by `report.run_and_report` (for `reuse`)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        return [Row(**r) for r in data["rows"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SRInputError(f"results file '{path}' is not a readable results.json ({exc}); "
                           "give one written by bench/bench_sr.py") from None


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
    models: dict[str, str] = field(default_factory=dict)
    reused_rows: int = 0

    @property
    def methods(self) -> tuple[str, ...]:
        return methods_for(self.config.extra)

    def summary(self) -> list[dict[str, object]]:
        """Means over clips per (noise, schedule, method)."""
        out = []
        for noise in self.config.noises:
            for schedule in self.config.schedules:
                for method in self.methods:
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
        """The acceptance checks per (setting, noise, schedule), on mean PSNR and SSIM over clips, for
        "consistent" and each extra setting: on varying clips it > fixed and > independent; on fixed clips
        it >= fixed - 0.01 dB (and SSIM -1e-4)."""
        means = {(s["noise"], s["schedule"], s["method"]): s for s in self.summary()}
        out = []
        for setting in ("consistent",) + self.config.extra:
            for noise in self.config.noises:
                for schedule in self.config.schedules:
                    c = means.get((noise, schedule, setting))
                    if c is None:
                        continue
                    f, i = means[(noise, schedule, "fixed")], means[(noise, schedule, "independent")]
                    if schedule == "varying":
                        ok = all(c[m] > f[m] and c[m] > i[m] for m in ("psnr", "ssim"))
                        target = f"{setting} beats fixed and independent"
                    else:
                        ok = c["psnr"] >= f["psnr"] - 0.01 and c["ssim"] >= f["ssim"] - 1e-4
                        target = f"{setting} no worse than fixed (0.01 dB, 1e-4 SSIM)"
                    out.append({"setting": setting, "noise": noise, "schedule": schedule, "target": target,
                                "met": bool(ok),
                                "psnr_gain_vs_fixed": c["psnr"] - f["psnr"],
                                "psnr_gain_vs_independent": c["psnr"] - i["psnr"],
                                "ssim_gain_vs_fixed": c["ssim"] - f["ssim"],
                                "ssim_gain_vs_independent": c["ssim"] - i["ssim"]})
        return out

    def to_json(self) -> str:
        cfg = asdict(self.config)
        return json.dumps({"config": cfg, "estimator_train_seconds": self.estimator.seconds if self.estimator else None, "rows": [asdict(r) for r in self.rows], "summary": self.summary(),
                           "verdicts": self.verdicts(), "windows": self.windows, "models": self.models,
                           "reused_rows": self.reused_rows,
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
        lines += ["", "| setting | noise | schedule | target | met | dPSNR vs fixed | dPSNR vs independent | "
                  "dSSIM vs fixed | dSSIM vs independent |", "|---|---|---|---|---|---|---|---|---|"]
        for v in self.verdicts():
            lines.append(f"| {v['setting']} | {v['noise']:g} | {v['schedule']} | {v['target']} | "
                         f"{'yes' if v['met'] else 'NO'} | "
                         f"{v['psnr_gain_vs_fixed']:+.3f} | {v['psnr_gain_vs_independent']:+.3f} | "
                         f"{v['ssim_gain_vs_fixed']:+.4f} | {v['ssim_gain_vs_independent']:+.4f} |")
        methods, settings = self.methods, SETTINGS + self.config.extra
        model_col = " state-space model; change test |" if self.config.extra else ""
        lines += ["", "| clip | noise | window |" + model_col + " " + " | ".join(f"{m} PSNR" for m in methods) +
                  " | " + " | ".join(f"{m} k.err" for m in settings) + " |",
                  "|---" * (3 + bool(self.config.extra) + len(methods) + len(settings)) + "|"]
        keys = sorted({(r.clip, r.noise) for r in self.rows}, key=lambda k: (k[1], k[0]))
        for name, noise in keys:
            by = {r.method: r for r in self.rows if r.clip == name and r.noise == noise}
            key = f"{name}@{noise:g}"
            model = f" {self.models.get(key, '-')} |" if self.config.extra else ""
            lines.append(f"| {name} | {noise:g} | {self.windows.get(key, '-')} |{model} " +
                         " | ".join(f"{by[m].psnr:.2f}" for m in methods) + " | " +
                         " | ".join(fmt(1000 * by[m].kernel_error, 1) for m in settings) + " |")
        return "\n".join(lines)


def run_experiment(config: ExperimentConfig = ExperimentConfig(), *, estimator: TrainedEstimator | None = None,
                   on_clip: Callable[[ClipOutcome], None] | None = None,
                   reuse: list[Row] | None = None) -> ExperimentResult:
    """Train the estimator (unless given), make the clips, evaluate every clip; `on_clip` sees each outcome;
    `reuse`: rows of an earlier run (see `evaluate_clip`)."""
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    if estimator is None:
        estimator = train_estimator(config.train)
    elif estimator.config.scale != config.scale:
        raise SRInputError(f"estimator is for x{estimator.config.scale}, experiment is x{config.scale}")
    t1 = time.perf_counter()
    rows: list[Row] = []
    windows: dict[str, str] = {}
    models: dict[str, str] = {}
    old: dict[tuple[str, float], dict[str, Row]] = {}
    for r in reuse or []:
        old.setdefault((r.clip, r.noise), {})[r.method] = r
    reused = 0
    for clip in make_clips(config):
        outcome = evaluate_clip(clip, estimate_kernels(estimator, clip.lr), restore=config.restore,
                                window=config.window, extra=config.extra, reuse=old.get((clip.name, clip.noise)))
        rows += outcome.rows
        windows[f"{clip.name}@{clip.noise:g}"] = outcome.window
        if config.extra:
            models[f"{clip.name}@{clip.noise:g}"] = outcome.model
        reused += len(outcome.reused)
        if on_clip is not None:
            on_clip(outcome)
    return ExperimentResult(config, rows, windows, t1 - t0, time.perf_counter() - t1, time.process_time() - cpu0,
                            estimator.val_kernel_error, estimator, models, reused)
