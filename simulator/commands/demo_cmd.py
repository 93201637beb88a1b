"""`ovl demo`: compile GoogLeNet for the default architecture, simulate it, and write the program, the report,
the trace and its summary into one folder."""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="out", help="output folder (default out)")
    p.add_argument("--arch", default="a10_generic", help="architecture (default a10_generic)")
    p.add_argument("--network", default="googlenet", help="zoo network (default googlenet)")


def run(args: argparse.Namespace) -> int:
    from compiler.compile import compile_model
    from simulator.api import run as simulate
    from simulator.trace import summarize
    from workloads.zoo import build_ir

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    res = compile_model(build_ir(args.network, weights="random"), args.arch, opt_level=2)
    prog_path = out / f"{args.network}.ovl"
    res.program.save(prog_path)
    print(res.summary())
    trace = out / f"{args.network}.trace.json"
    sim = simulate(res.program, network=args.network, functional=True, trace=trace)
    (out / f"{args.network}.report.json").write_text(json.dumps(sim.report.to_json(), indent=1))
    print()
    print(sim.report.table(top=15))
    print()
    print(summarize(trace).text(top=5))
    print(f"\nwrote {prog_path}, {out / (args.network + '.report.json')}, {trace} "
          f"(functional run {sim.seconds.get('functional', 0):.2f} s)")
    return 0
