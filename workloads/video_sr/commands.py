"""`ovl sr degrade|train|estimate|restore|bench`: blind video super-resolution with temporally consistent kernels."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from workloads.video_sr.kernels import SCHEDULE_KINDS, SRInputError


def configure(p: argparse.ArgumentParser) -> None:
    from workloads.video_sr.clips import TEST_IMAGES, TRAIN_IMAGES
    from workloads.video_sr.experiment import EXTRA_SETTINGS, SETTINGS

    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    d = sub.add_parser("degrade", help="make a synthetic LR clip (with ground truth) from a bundled photograph")
    d.add_argument("--image", default="astronaut", choices=TEST_IMAGES + TRAIN_IMAGES, help="source photograph")
    d.add_argument("--schedule", default="varying", choices=SCHEDULE_KINDS, help="kernel over time")
    d.add_argument("--frames", type=int, default=16)
    d.add_argument("--size", type=int, default=192, help="HR frame side (pixels, divisible by the scale)")
    d.add_argument("--scale", type=int, default=2, choices=(2, 4))
    d.add_argument("--noise", type=float, default=0.0, help="noise standard deviation in 8-bit levels")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--color", action="store_true", help="keep RGB (default: luminance)")
    d.add_argument("-o", "--out", required=True, help="output clip .npz")
    d.add_argument("--png", help="also write HR and LR frames as PNG into this directory")

    t = sub.add_parser("train", help="train the per-frame kernel estimator on synthetic data (CPU)")
    t.add_argument("--scale", type=int, default=2, choices=(2, 4))
    t.add_argument("--samples", type=int, default=12000, help="synthetic LR samples")
    t.add_argument("--steps", type=int, default=3000, help="optimiser steps")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("-o", "--out", required=True, help="output estimator .npz")

    e = sub.add_parser("estimate", help="estimate per-frame kernels of a clip (default: tracked; or fixed, "
                       "independent, consistent, ...)")
    e.add_argument("clip", help="clip .npz from `ovl sr degrade`")
    e.add_argument("--model", help="estimator .npz (default: the shipped one for the clip's scale)")
    e.add_argument("--setting", default="tracked", choices=SETTINGS + EXTRA_SETTINGS,
                   help="tracked (default): the clip-wide estimate unless the spectra show a kernel change, then "
                   "the spectra's change track at the estimates' level; tested: the same test, then the windowed "
                   "fit (consistent); state_space: the state-space temporal model (see docs/video_sr.md)")
    e.add_argument("--window", type=int, help="temporal window in frames (default: chosen per clip)")
    e.add_argument("-o", "--out", help="output kernel .npz")
    e.add_argument("--json", action="store_true", help="machine-readable output")

    r = sub.add_parser("restore", help="super-resolve a clip with given kernels (non-blind, HQS + TV)")
    r.add_argument("clip", help="clip .npz from `ovl sr degrade`")
    src = r.add_mutually_exclusive_group(required=True)
    src.add_argument("--kernels", help="kernel .npz from `ovl sr estimate`")
    src.add_argument("--true-kernels", action="store_true", help="use the clip's true kernels (oracle)")
    r.add_argument("-o", "--out", help="output .npz with the restored frames")
    r.add_argument("--png", help="write restored frames as PNG into this directory")
    r.add_argument("--json", action="store_true", help="machine-readable output")

    b = sub.add_parser("bench", help="the full experiment: train, degrade, estimate, restore three ways, score")
    b.add_argument("--scale", type=int, default=2, choices=(2, 4))
    b.add_argument("--noise", type=float, nargs="+", default=[0.0, 5.0], help="noise levels (8-bit), clips each")
    b.add_argument("--frames", type=int, default=16)
    b.add_argument("--size", type=int, default=None, help="HR side (default 192 for x2, 256 for x4)")
    b.add_argument("--images", nargs="+", default=list(TEST_IMAGES), choices=TEST_IMAGES)
    b.add_argument("--window", type=int, help="fixed temporal window (default: chosen per clip)")
    b.add_argument("--extra", nargs="*", default=["tracked"], choices=EXTRA_SETTINGS,
                   help="temporal settings restored next to fixed/independent/consistent (default: tracked; none: "
                   "give --extra alone)")
    b.add_argument("--model", help="use this estimator instead of training one")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--out", help="directory for results.md, results.json and example PNGs")
    b.add_argument("--json", action="store_true", help="print the JSON result instead of the tables")

    o = sub.add_parser("overlay", help="fps of the zoo's SR networks on the overlay at 360p->720p and 540p->1080p")
    o.add_argument("--net", nargs="+", help="zoo SR networks (default: all)")
    o.add_argument("--arch", nargs="+", help="architectures (default: a10_generic, dla_alexnet_a10 and the two "
                   "SR-tailored ones in workloads/video_sr/data/)")
    o.add_argument("--resolution", nargs="+", help="360p->720p and/or 540p->1080p (default: both)")
    o.add_argument("-O", dest="opt_level", type=int, default=2, choices=(0, 1, 2), help="optimisation level")
    o.add_argument("--json", action="store_true", help="machine-readable output")


def _estimator(path: str | None, scale: int):
    from workloads.video_sr.estimator import TrainedEstimator, shipped_estimator

    est = TrainedEstimator.load(path) if path else shipped_estimator(scale)
    if est.config.scale != scale:
        raise SRInputError(f"estimator '{path}' is for x{est.config.scale}, the clip is x{scale}; "
                           "train one for this scale with `ovl sr train`")
    return est


def _degrade(args: argparse.Namespace) -> int:
    from workloads.video_sr.degradation import synthetic_clip
    from workloads.video_sr.figures import save_frames

    clip = synthetic_clip(args.image, schedule=args.schedule, frames=args.frames, size=(args.size, args.size),
                          scale=args.scale, noise=args.noise, seed=args.seed, color=args.color)
    clip.save(args.out)
    print(f"{args.out}: {clip.frames} frames, HR {clip.hr.shape[1:]}, LR {clip.lr.shape[1:]}, x{clip.scale}, "
          f"schedule {clip.schedule}, noise {clip.noise:g}")
    if args.png:
        save_frames(clip.hr, args.png, "hr")
        save_frames(clip.lr, args.png, "lr")
        print(f"{args.png}: {2 * clip.frames} PNG frames")
    return 0


def _train(args: argparse.Namespace) -> int:
    from workloads.video_sr.estimator import TrainConfig, train_estimator

    est = train_estimator(TrainConfig(scale=args.scale, samples=args.samples, steps=args.steps, seed=args.seed))
    est.save(args.out)
    print(f"{args.out}: x{args.scale} estimator, {est.seconds:.1f} s, final loss {np.mean(est.losses[-100:]):.4f}, "
          f"held-out kernel error {est.val_kernel_error:.4f}")
    return 0


def _estimate(args: argparse.Namespace) -> int:
    from workloads.video_sr.degradation import DegradedClip
    from workloads.video_sr.estimator import estimate_kernels
    from workloads.video_sr.experiment import kernel_settings
    from workloads.video_sr.kernels import GaussianKernel, kernel_error, save_kernels, temporal_consistency
    from workloads.video_sr.temporal import choose_window

    clip = DegradedClip.load(args.clip)
    per_frame = estimate_kernels(_estimator(args.model, clip.scale), clip.lr)
    from workloads.video_sr.experiment import EXTRA_SETTINGS, SPECTRAL_SETTINGS

    # a one-frame clip has no change to test or track: its stats leave out those settings unless asked for
    extra = EXTRA_SETTINGS if clip.frames >= 2 else tuple(
        e for e in EXTRA_SETTINGS if e not in SPECTRAL_SETTINGS or e == args.setting)
    sets = kernel_settings(per_frame, window=args.window, extra=extra, clip=clip)
    chosen = sets[args.setting]
    if args.out:
        save_kernels(args.out, chosen, setting=args.setting)
    w = choose_window(per_frame)
    stats = {name: {"temporal_consistency": temporal_consistency(k),
                    "kernel_error": None if clip.kernels is None else kernel_error(k, clip.kernels)}
             for name, k in sets.items()}
    if clip.kernels is not None:
        stats["true"] = {"temporal_consistency": temporal_consistency(clip.kernels), "kernel_error": 0.0}
    frames = [asdict_kernel(GaussianKernel.from_covariance(c)) for c in chosen]
    if args.json:
        print(json.dumps({"setting": args.setting, "window": args.window or {"frames": w.frames, "order": w.order},
                          "kernels": frames, "stats": stats}, indent=1))
        return 0
    print(f"{args.clip}: {clip.frames} frames, x{clip.scale}; window "
          f"{args.window or (f'{w.frames} frames, ' + ('constant' if w.order == 0 else 'linear'))}")
    print("frame  sigma_major  sigma_minor  theta_deg   (" + args.setting + ")")
    for t, k in enumerate(frames):
        print(f"{t:5d}  {k['sigma_x']:11.3f}  {k['sigma_y']:11.3f}  {k['theta_deg']:9.1f}")
    print("setting      kernel_error  temporal_consistency")
    for name, s in stats.items():
        ke = "-" if s["kernel_error"] is None else f"{s['kernel_error']:.4f}"
        print(f"{name:12s} {ke:>12s}  {s['temporal_consistency']:.4f}")
    if args.out:
        print(f"wrote {args.out}")
    return 0


def asdict_kernel(k) -> dict[str, float]:
    return {"sigma_x": k.sigma_x, "sigma_y": k.sigma_y, "theta_deg": float(np.degrees(k.theta))}


def _restore(args: argparse.Namespace) -> int:
    from workloads.video_sr.degradation import DegradedClip
    from workloads.video_sr.figures import save_frames
    from workloads.video_sr.kernels import load_kernels
    from workloads.video_sr.metrics import clip_quality, default_border
    from workloads.video_sr.restoration import bicubic, restore_clip

    clip = DegradedClip.load(args.clip)
    if args.true_kernels:
        if clip.kernels is None:
            raise SRInputError(f"clip '{args.clip}' has no true kernels; pass --kernels from `ovl sr estimate`")
        cov, setting = clip.kernels, "true"
    else:
        cov, setting = load_kernels(args.kernels)
    if len(cov) != clip.frames:
        raise SRInputError(f"kernel file has {len(cov)} frames, clip '{args.clip}' has {clip.frames}; "
                           "estimate the kernels of this clip")
    sr = restore_clip(clip.lr, cov, scale=clip.scale, noise=clip.noise)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(args.out, sr=sr, kernels=cov, setting=np.str_(setting))
    if args.png:
        save_frames(sr, args.png, "sr")
    result: dict[str, object] = {"setting": setting, "frames": clip.frames, "shape": list(sr.shape[1:])}
    if clip.hr is not None:
        border = default_border(clip.scale)
        q, b = clip_quality(sr, clip.hr, border=border), clip_quality(bicubic(clip.lr, clip.scale), clip.hr,
                                                                     border=border)
        result |= {"psnr": q.psnr, "ssim": q.ssim, "bicubic_psnr": b.psnr, "bicubic_ssim": b.ssim}
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print(f"{args.clip}: restored {clip.frames} frames to {sr.shape[1]}x{sr.shape[2]} with {setting} kernels")
    if "psnr" in result:
        print(f"PSNR {result['psnr']:.2f} dB, SSIM {result['ssim']:.4f} "
              f"(bicubic {result['bicubic_psnr']:.2f} dB, {result['bicubic_ssim']:.4f})")
    for what, where in (("frames", args.out), ("PNG frames", args.png)):
        if where:
            print(f"wrote {what} to {where}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from workloads.video_sr.estimator import TrainConfig, TrainedEstimator
    from workloads.video_sr.experiment import ExperimentConfig
    from workloads.video_sr.report import run_and_report

    size = args.size or (192 if args.scale == 2 else 256)
    config = ExperimentConfig(scale=args.scale, frames=args.frames, size=size, noises=tuple(args.noise),
                              images=tuple(args.images), seed=args.seed, window=args.window,
                              train=TrainConfig(scale=args.scale), extra=tuple(args.extra))
    estimator = TrainedEstimator.load(args.model) if args.model else None
    result = run_and_report(config, estimator=estimator, out=Path(args.out) if args.out else None)
    print(result.to_json() if args.json else result.markdown())
    if not args.json:
        print(f"\ntraining {result.train_seconds:.0f} s, evaluation {result.eval_seconds:.0f} s (wall), "
              f"{result.cpu_seconds:.0f} s CPU")
    return 0


def _overlay(args: argparse.Namespace) -> int:
    from workloads.video_sr.overlay import overlay_markdown, overlay_table, rows_json

    rows = overlay_table(args.net, args.arch, args.resolution, opt_level=args.opt_level)
    print(json.dumps(rows_json(rows), indent=1) if args.json else overlay_markdown(rows))
    return 0


def run(args: argparse.Namespace) -> int:
    if args.action in ("train", "estimate", "bench"):
        import torch

        # this process runs only tiny networks: one intra-op thread avoids spin-waiting threads on a busy machine
        torch.set_num_threads(1)
    return {"degrade": _degrade, "train": _train, "estimate": _estimate, "restore": _restore,
            "bench": _bench, "overlay": _overlay}[args.action](args)
