"""`ovl search compress`: AutoML low-rank compression of the FSDD LSTM (baselines, RL one-shot, iterative RL)."""
from __future__ import annotations

import argparse
import json

from compiler.errors import UserError
from nas.compression.agent import AgentConfig
from nas.compression.cost import make_cost
from nas.compression.experiment import run_compression, write_report
from nas.runtime.options import RuntimeOptions, add_runtime_arguments
from workloads.speech.model import TrainConfig


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="fsdd-lstm",
                   help="'fsdd-lstm' (the seeded 2x256 LSTM, trained and cached on first use) or a checkpoint .pt")
    p.add_argument("--recost", metavar="REPORT",
                   help="instead of searching: re-cost a report.json with the current simulator (overlay speed-ups, "
                        "cycle simulation), fine-tune baseline points bracketing the RL pick, rewrite it in --out")
    t = p.add_mutually_exclusive_group()
    t.add_argument("--target-speedup", type=float, help="required overlay speed-up over the dense model (overlay cost)")
    t.add_argument("--target-compression", type=float, help="required parameter compression (size cost)")
    p.add_argument("--arch", default="a10_generic", help="overlay architecture for the overlay cost")
    p.add_argument("--split", choices=["index", "speaker"], default="index", help="FSDD split (see docs/compression.md)")
    p.add_argument("--episodes", type=int, default=200, help="RL episodes of the one-shot search")
    p.add_argument("--rounds", type=int, default=0, help="iterative rounds (0: no iterative search)")
    p.add_argument("--round-episodes", type=int, default=100, help="RL episodes per iterative round")
    p.add_argument("--finetune-epochs", type=int, default=8, help="fine-tuning epochs after each compression")
    p.add_argument("--no-finetune-baselines", action="store_true", help="skip fine-tuning the one-shot picks")
    p.add_argument("--no-cycle", action="store_true",
                   help="skip compiling and cycle-simulating the picks (the overlay estimate is still reported)")
    p.add_argument("--out", required=True, help="directory for report.json and the accuracy plots")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    add_runtime_arguments(p, default_study="compress")


def run(args: argparse.Namespace) -> int:
    from workloads.speech.data import load_fsdd
    from workloads.speech.pretrained import load_checkpoint, trained_model

    if args.recost:
        return _recost(args)
    opts = RuntimeOptions.from_args(args)
    if opts.executor_kind != "inprocess":
        raise UserError("ovl search compress evaluates in-process (each candidate reuses the loaded model and "
                        "cached SVDs); drop --executor/--workers")
    for name in ("episodes", "round_episodes"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} {getattr(args, name)}: give 1 or more")
    if args.rounds < 0 or args.finetune_epochs < 0:
        raise UserError("--rounds and --finetune-epochs must be >= 0")
    target = args.target_speedup if args.target_speedup is not None else args.target_compression
    if target is None:
        raise UserError("give --target-speedup X (overlay cost) or --target-compression X (size cost)")
    if not target > 1.0:
        raise UserError(f"target {target}: give a ratio above 1 (e.g. --target-compression 5)")
    overlay = make_cost("overlay", arch=args.arch)
    cost = overlay if args.target_speedup is not None else make_cost("size")
    seed = trained_model(split=args.split) if args.model == "fsdd-lstm" else load_checkpoint(args.model)
    data = {p: load_fsdd(p, args.split, data_cfg(seed)) for p in ("train", "val", "test")}
    rep = run_compression(seed, data["train"], data["val"], data["test"], cost, target=target,
                          episodes=args.episodes, rounds=args.rounds, round_episodes=args.round_episodes,
                          finetune=TrainConfig(epochs=args.finetune_epochs, lr=1e-3),
                          finetune_baselines=not args.no_finetune_baselines, agent=AgentConfig(seed=opts.seed),
                          store=opts.store, study=opts.study, run_seed=opts.seed, resume=opts.resume,
                          quiet=opts.quiet, overlay=overlay, arch=None if args.no_cycle else overlay.arch)
    return _print(rep, write_report(rep, args.out), args.json, target)


def _recost(args: argparse.Namespace) -> int:
    from nas.compression.experiment import annotate_overlay, finetune_brackets, load_report
    from nas.compression.search import RankEnv
    from workloads.speech.data import load_fsdd
    from workloads.speech.pretrained import load_checkpoint, trained_model

    try:
        rep = load_report(args.recost)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise UserError(f"report '{args.recost}' cannot be read ({type(exc).__name__}); give a report.json "
                        f"written by ovl search compress") from None
    seed = trained_model(split=args.split) if args.model == "fsdd-lstm" else load_checkpoint(args.model)
    data = {p: load_fsdd(p, args.split, data_cfg(seed)) for p in ("train", "val", "test")}
    overlay = make_cost("overlay", arch=args.arch)
    if not args.no_finetune_baselines:
        env = RankEnv(seed, data["val"], make_cost("size"))
        finetune_brackets(rep, env, data["train"], data["test"],
                          TrainConfig(epochs=args.finetune_epochs, lr=1e-3))
    annotate_overlay(rep, seed, overlay, None if args.no_cycle else overlay.arch)
    rep.trials_recosted = True
    return _print(rep, write_report(rep, args.out), args.json, rep.target)


def _print(rep, paths, as_json: bool, target: float) -> int:
    if as_json:
        print(json.dumps(rep.to_json(), indent=1))
        return 0
    if rep.dense_cycle:
        print(f"cycle model, dense: native LSTM {1e3 * rep.dense_cycle_native['latency_s']:.3f} ms (the baseline of "
              f"cyc-sp), unrolled {1e3 * rep.dense_cycle['latency_s']:.3f} ms; estimate "
              f"{1e3 * (rep.dense_latency_s or 0):.3f} ms; code {rep.code_version}")
    print(f"dense: quick {rep.dense_quick:.1f} %, test {rep.dense_test:.1f} %, {rep.dense_params:,} params; "
          f"cost {rep.cost}, target {target:g}x")
    print(f"{'method':16} {'compr':>7} {'speedup':>7} {'cyc-sp':>7} {'quick%':>7} {'test%':>7} {'ft test%':>8}")
    for p in rep.points:
        ft = "" if p.finetuned_test is None else f"{p.finetuned_test:.1f}"
        sp = "" if p.speedup is None else f"{p.speedup:.2f}"
        cs = "" if p.cycle_speedup is None else f"{p.cycle_speedup:.2f}"
        print(f"{p.method:16} {p.compression:7.2f} {sp:>7} {cs:>7} {p.quick:7.1f} {p.test:7.1f} {ft:>8}")
    print("wrote " + ", ".join(map(str, paths)))
    return 0


def data_cfg(model):
    """Feature settings matching the model's input (frames and mel bands)."""
    from workloads.speech.features import FeatureConfig

    return FeatureConfig(n_mels=model.cfg.n_mels, frames=model.cfg.frames)
