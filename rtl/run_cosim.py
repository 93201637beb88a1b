"""Run the RTL co-simulation over seeded random layers and print the agreement with the simulator.

    python -m rtl.run_cosim                    # seeds 0..79: bit-exactness, per-bundle cycles RTL vs model
    python -m rtl.run_cosim --seeds 0:10 --json out.json
    python -m rtl.run_cosim --stages --seeds 19:21   # where each bundle's pipeline fill comes from, stage by stage

Builds rtl/tb/tb_core.v with iverilog in a temporary directory, runs rtl/tb/test_core.py::test_random_layers
(which compares every final DDR image with simulator.functional bit for bit and fails on any mismatch) and
tabulates, per bundle, the RTL's compute cycles, the window walker's structural count and the cycle model's
(simulator.timing) estimate, with the error distribution quoted in docs/rtl.md.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from compiler.errors import UserError
from rtl import cosim
from rtl.sim import build, run_core


def run(seeds: tuple[int, int], testcase: str = "test_random_layers") -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="ovl_cosim_") as tmp:
        d = Path(tmp)
        runner = build("tb_core", d)
        out = d / "results.json"
        run_core(runner, d, testcase=testcase, seeds=seeds, results=out)
        if not out.exists():
            raise UserError("the co-simulation wrote no results (see the cocotb log above)")
        return json.loads(out.read_text())


def summary(results: list[dict]) -> dict:
    rows = [(r["seed"], b) for r in results for b in r["bundles"] if b["model"] is not None]
    errors = [cosim.cycle_error(b["rtl_compute"], b["model"]) for _, b in rows]
    return {"cases": len(results), "bit_exact": sum(r["bit_exact"] for r in results), "bundles": len(rows),
            "cycle_error": cosim.distribution(errors),
            "walker_equals_model_pe": sum(b["walker"] == b["model_pe"] for _, b in rows),
            "fill": sorted({b["rtl_compute"] - b["walker"] for _, b in rows})}


def table(results: list[dict]) -> str:
    lines = [f"{'seed':>4} {'bundle':>6} {'RTL':>7} {'walker':>7} {'model':>8} {'error':>7}  layer"]
    for r in results:
        for b in r["bundles"]:
            err = "" if b["model"] is None else f"{100 * cosim.cycle_error(b['rtl_compute'], b['model']):+6.1f}%"
            model = "" if b["model"] is None else f"{b['model']:8.0f}"
            lines.append(f"{r['seed']:>4} {b['bundle']:>6} {b['rtl_compute']:>7} {b['walker']:>7} {model:>8} "
                         f"{err:>7}  {r['desc'] if b['bundle'] == 0 else ''}")
    return "\n".join(lines)


STAGE_ORDER = ("slot", "sb_read", "pe_out", "requant", "exit_fifo", "act", "pool", "write", "sb_write")


def stage_table(results: list[dict]) -> str:
    """Per bundle: the last cycle each datapath stage fired (relative to the first slot; rtl/tb/test_core.py
    test_stage_trace), the step from the stage before, and the model's fill split the same way
    (simulator.costs): last slot, + SB read, + PE array, + requantisation, + exit FIFO, + aux kernels, + writer."""
    lines = [f"{'seed':>4} {'bnd':>3} {'RTL':>6} {'model':>6} {'walker':>6}  last cycle of each stage (+ step)"]
    for r in results:
        st = r["stages"]
        parts, prev = [], None
        for name in STAGE_ORDER:
            if name in st:
                step = "" if prev is None else f"+{st[name] - prev}"
                parts.append(f"{name} {st[name]}{step}")
                prev = st[name]
        lines.append(f"{r['seed']:>4} {r['bundle']:>3} {r['rtl_compute']:>6} {r['model']:>6.0f} {r['walker']:>6}  "
                     + ", ".join(parts))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rtl.run_cosim", description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0:80", help="first:last random-layer seeds (default 0:80)")
    ap.add_argument("--stages", action="store_true",
                    help="trace the datapath stages of each bundle (slower: a Python probe every cycle)")
    ap.add_argument("--json", type=Path, help="also write the per-bundle results and the summary here")
    args = ap.parse_args(argv)
    try:
        lo, hi = (int(v) for v in args.seeds.split(":"))
        if not 0 <= lo < hi:
            raise ValueError
    except ValueError:
        print(f"rtl.run_cosim: error: --seeds {args.seeds}: give first:last with 0 <= first < last",
              file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    try:
        results = run((lo, hi), "test_stage_trace" if args.stages else "test_random_layers")
    except UserError as exc:
        print(f"rtl.run_cosim: error: {exc}", file=sys.stderr)
        return 2
    if args.stages:
        print(stage_table(results))
        if args.json:
            args.json.write_text(json.dumps(results, indent=1) + "\n")
        return 0
    s = summary(results)
    s["seconds"] = round(time.perf_counter() - t0, 1)
    print(table(results))
    print(json.dumps(s, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"summary": s, "cases": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
