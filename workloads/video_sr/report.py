"""Run the experiment and write its record: results.md, results.json, an example comparison and kernel tracks."""
from __future__ import annotations

from pathlib import Path

from workloads.video_sr.estimator import TrainedEstimator
from workloads.video_sr.experiment import ClipOutcome, ExperimentConfig, ExperimentResult, Row, run_experiment
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
