"""`ovl sim MODEL`: simulate a model or compiled program: cycle-approximate timing and per-layer report by
default, numerics with `--functional` (and their error against onnxruntime with `--compare`), the fast estimate
with `--estimate`, Chrome/Perfetto trace with `--trace`."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from compiler.errors import UserError


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="ONNX model (.onnx), compiled program (.ovl) or zoo network name (ovl zoo list)")
    p.add_argument("--arch", default="a10_generic", help="architecture name or .toml path (default a10_generic)")
    p.add_argument("-O", dest="opt_level", type=int, choices=(0, 1, 2), default=2,
                   help="optimisation level when compiling (default 2)")
    p.add_argument("--batch", type=int, help="batch size when compiling (images per inference)")
    p.add_argument("--precision", choices=("fp32", "fp16", "bfp16", "bfp11", "int8"),
                   help="override the architecture's precision (fp32 is the reference mode)")
    p.add_argument("--functional", action="store_true", help="also run the numerics bundle by bundle")
    p.add_argument("--accumulate", choices=("fp32", "fp64"),
                   help="functional accumulators: fp32 (default, as the PE array) or fp64 (reference sums rounded "
                        "to fp32 once, about 1.9x slower)")
    p.add_argument("--compare", action="store_true",
                   help="run the numerics and report their error (and top-1 agreement) against onnxruntime FP32")
    p.add_argument("--input", action="append", default=[], metavar="NAME=FILE.npy",
                   help="input array for the numerics (repeatable; default: seeded standard normal)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    p.add_argument("--estimate", action="store_true", help="fast analytical estimate instead of the cycle model")
    p.add_argument("--report", metavar="FILE", help="write the per-layer report JSON (read by `ovl plot`)")
    p.add_argument("--trace", metavar="FILE", help="write Chrome/Perfetto trace events (open in ui.perfetto.dev)")
    p.add_argument("--outputs", metavar="FILE.npz", help="save the simulated outputs (with --functional)")
    p.add_argument("--top", type=int, help="show only the N slowest layers in the table")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def _inputs(items: list[str]) -> dict[str, np.ndarray] | None:
    if not items:
        return None
    out = {}
    for it in items:
        name, sep, path = it.partition("=")
        if not sep or not name or not path:
            raise UserError(f"--input {it!r}: expected NAME=FILE.npy")
        try:
            out[name] = np.load(path)
        except (OSError, ValueError) as exc:
            raise UserError(f"--input {name}: cannot read '{path}' as a .npy array ({exc})") from None
    return out


def run(args: argparse.Namespace) -> int:
    if args.estimate:
        from simulator.api import load_model, resolve_arch
        from simulator.estimate import estimate

        if args.functional or args.compare or args.trace:
            raise UserError("--estimate gives timing only; drop --functional/--compare/--trace or --estimate")
        program, graph = load_model(args.model, weights=False, batch=args.batch)
        if graph is None:
            raise UserError("--estimate works on a model (ONNX file or zoo name), not a compiled .ovl program")
        est = estimate(graph, resolve_arch(args.arch, args.precision), opt_level=args.opt_level)
        doc = est.to_json()
        if args.report:
            Path(args.report).write_text(json.dumps(doc, indent=1))
        print(json.dumps(doc) if args.json else est.table())
        return 0
    from simulator.api import run as simulate

    res = simulate(args.model, args.arch, opt_level=args.opt_level, batch=args.batch, precision=args.precision,
                   functional=args.functional, compare=args.compare, inputs=_inputs(args.input), seed=args.seed,
                   trace=args.trace, accumulate=args.accumulate)
    doc = res.report.to_json()
    if args.report:
        Path(args.report).write_text(json.dumps(doc, indent=1))
    if args.outputs and res.outputs is not None:
        np.savez(args.outputs, **res.outputs)
    if args.json:
        print(json.dumps(doc))
    else:
        print(res.report.table(top=args.top))
        if args.trace:
            print(f"trace: {args.trace} (ovl trace summarize {args.trace}; or open it in ui.perfetto.dev)")
    return 0
