"""Run the experiment and write its record: results.md, results.json, an example comparison and kernel tracks."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from workloads.video_sr.estimator import TrainedEstimator
from workloads.video_sr.experiment import ClipOutcome, ExperimentConfig, ExperimentResult, Row, run_experiment
from workloads.video_sr.kernels import SRInputError
from workloads.video_sr.figures import comparison, kernel_tracks


def run_and_report(config: ExperimentConfig, *, estimator: TrainedEstimator | None = None,
                   out: Path | None = None, reuse: list[Row] | None = None) -> ExperimentResult:
    """`run_experiment`, plus (when `out` is given) results files and, for the first varying-kernel clip of
    each noise level, a comparison strip of its last frame (only when every method of that clip was restored in
    this run, see `reuse`) and a plot of its kernel tracks; the estimator trained on the way is saved there too."""
    examples: list[Path] = []

    def on_clip(outcome: ClipOutcome) -> None:
        clip = outcome.clip
        if out is None or clip.schedule != "varying" or any(f"noise{clip.noise:g}" in p.name for p in examples):
            return
        out.mkdir(parents=True, exist_ok=True)
        scores = {r.method: r.psnr for r in outcome.rows}
        size = min(96, clip.hr.shape[1] // 2)
        top, left = (clip.hr.shape[1] - size) // 2, (clip.hr.shape[2] - size) // 2
        tag = f"{clip.name}_x{clip.scale}_noise{clip.noise:g}"
        if not outcome.reused:
            examples.append(comparison(clip.hr, clip.lr, outcome.restored, scores, out / f"sr_example_{tag}.png",
                                       frame=clip.frames - 1, crop=(top, left, size)))
        tracks = ("true", "fixed", "independent", "consistent") + config.extra
        examples.append(kernel_tracks({m: outcome.kernels[m] for m in tracks},
                                      out / f"sr_kernels_{tag}.png", title=f"{clip.name}, noise {clip.noise:g}: "
                                      f"kernels over the clip (window: {outcome.window})"))

    result = run_experiment(config, estimator=estimator, on_clip=on_clip, reuse=reuse)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(result.to_json())
        if estimator is None and result.estimator is not None:
            result.estimator.save(out / f"estimator_x{config.scale}.npz")
        (out / "results.md").write_text(result.markdown() + "\n\nFigures: " +
                                        ", ".join(p.name for p in examples) + "\n")
    return result


def paired_markdown(runs: list[list[Row]], setting: str = "tracked", *, resamples: int = 10_000,
                    seed: int = 0) -> str:
    """Per-clip differences of `setting` against independent kernels (varying clips) and against the fixed
    kernel (fixed clips), pooled over the rows of several runs (e.g. clip sets of different seeds): mean with a
    95% bootstrap interval of the mean (clips resampled), and the clips ahead, per (noise, schedule)."""
    rng = np.random.default_rng(seed)
    by: dict[tuple[float, str], list[tuple[float, float]]] = {}
    for rows in runs:
        table = {(r.clip, r.noise, r.method): r for r in rows}
        for (clip, noise, method), r in table.items():
            if method != setting:
                continue
            base = table.get((clip, noise, "independent" if r.schedule == "varying" else "fixed"))
            if base is None:
                raise SRInputError(f"clip '{clip}' at noise {noise:g} has no baseline row for '{setting}'")
            by.setdefault((noise, r.schedule), []).append((r.psnr - base.psnr, r.ssim - base.ssim))
    if not by:
        raise SRInputError(f"no '{setting}' rows in the results; run bench_sr.py with --extra {setting}")
    lines = [f"{setting} against independent kernels (varying clips) and the fixed kernel (fixed clips): per-clip "
             f"differences, mean [95% bootstrap interval, {resamples:,} resamples] and clips ahead", "",
             "| noise | schedule | against | clips | dPSNR dB | PSNR ahead | dSSIM | SSIM ahead |", "|---" * 8 + "|"]
    for (noise, schedule), d in sorted(by.items()):
        d_arr = np.array(d)
        means = d_arr[rng.integers(0, len(d_arr), (resamples, len(d_arr)))].mean(axis=1)
        lo, hi = np.percentile(means, 2.5, axis=0), np.percentile(means, 97.5, axis=0)
        m = d_arr.mean(axis=0)
        ahead = (d_arr > 0).sum(axis=0)
        lines.append(f"| {noise:g} | {schedule} | {'independent' if schedule == 'varying' else 'fixed'} | "
                     f"{len(d_arr)} | {m[0]:+.3f} [{lo[0]:+.3f}, {hi[0]:+.3f}] | {ahead[0]} | "
                     f"{m[1]:+.4f} [{lo[1]:+.4f}, {hi[1]:+.4f}] | {ahead[1]} |")
    return "\n".join(lines)
