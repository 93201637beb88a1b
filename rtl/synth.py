"""yosys synthesis of the PE and the PE array for several (k_vector, c_vector) points, and the comparison with the
area model's per-PE estimate (`hw_models.area.pe_estimate`).

    python -m rtl.synth                  # synthesize every point, write rtl/synth/results.json, print the table
    python -m rtl.synth --check          # print the stored results against the current area model (no yosys)
    python -m rtl.synth --pe 4 --mode soft   # one PE, printed

Flow: yosys `synth_intel_alm -family cyclonev` (Cyclone V is the tiny architecture's device; yosys 0.23 cannot
target Arria 10) of `ovl_pe` (one PE: operand registers, C multipliers, adder tree, interleaved accumulator) and of
`ovl_pe_array` (K PEs plus the feature-broadcast and filter-entry registers), with DSP inference ("dsp") or
without (`-nodsp`: soft multipliers). Counted cells: MISTRAL_ALUT* (LUTs), MISTRAL_ALUT_ARITH (adder bits),
MISTRAL_FF, MISTRAL_MUL9X9/18X18/27X27. A Cyclone V DSP block holds three 9x9, two 18x18 or one 27x27
multiplier, so DSP blocks = MUL9X9/3 + MUL18X18/2 + MUL27X27. yosys does not pack ALMs; the ALM figure here is
an estimate: a 6-input LUT fills an ALM, two smaller LUTs or two adder bits share one
(ALUT6 + (other ALUTs + ARITH) / 2), registers are reported separately (four per ALM).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from compiler.errors import UserError

RTL = Path(__file__).parent
HDL = RTL / "hdl"
RESULTS = RTL / "synth" / "results.json"
FAMILY = "cyclonev"
THREADS = 4                        # tiny's interleave_features x interleave_filters
PE_POINTS = (4, 8, 16, 32)         # c_vector of single-PE runs (dsp and soft)
ARRAY_POINTS = ((4, 4), (8, 4), (8, 8), (16, 8), (16, 16))   # (k_vector, c_vector), DSP mode
CELL_RE = re.compile(r"^\s+(MISTRAL_\w+|\$\w+)\s+(\d+)\s*$")


SOURCES = ("ovl_pe.v", "ovl_pe_array.v")


def sources_digest() -> str:
    """sha256 of the synthesized sources, stored with the results (a stale results file is detected)."""
    h = hashlib.sha256()
    for name in SOURCES:
        h.update((HDL / name).read_bytes())
    return h.hexdigest()


def have_yosys() -> bool:
    return shutil.which("yosys") is not None


def yosys_version() -> str:
    out = subprocess.run(["yosys", "-V"], capture_output=True, text=True, check=True).stdout
    return out.strip()


def synthesize(top: str, params: dict[str, int], mode: str = "dsp", family: str = FAMILY) -> dict:
    """Run yosys on `top` (ovl_pe or ovl_pe_array) with `params`; returns the cell counts and derived figures."""
    if not have_yosys():
        raise UserError("yosys is not installed: run `make setup` (or apt-get install yosys)")
    if mode not in ("dsp", "soft"):
        raise UserError(f"synthesis mode '{mode}': legal modes are dsp, soft")
    sources = [HDL / name for name in SOURCES]
    chparam = " ".join(f"-set {k} {v}" for k, v in params.items())
    script = "\n".join([
        "read_verilog -sv " + " ".join(str(s) for s in sources),
        f"chparam {chparam} {top}",
        f"synth_intel_alm -family {family} -top {top} -noiopad -noclkbuf" + (" -nodsp" if mode == "soft" else ""),
        "stat",
    ])
    with tempfile.TemporaryDirectory() as tmp:
        ys = Path(tmp) / "run.ys"
        ys.write_text(script + "\n")
        t0 = time.perf_counter()
        proc = subprocess.run(["yosys", "-q", "-l", str(Path(tmp) / "log.txt"), "-s", str(ys)],
                              capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        log = (Path(tmp) / "log.txt").read_text() if (Path(tmp) / "log.txt").exists() else ""
    if proc.returncode:
        raise RuntimeError(f"yosys failed on {top} {params} ({mode}): {proc.stderr.strip()[-2000:]}")
    stat = log[log.rfind("Printing statistics"):]
    cells: dict[str, int] = {}
    for line in stat.splitlines():
        m = CELL_RE.match(line)
        if m:
            cells[m.group(1)] = int(m.group(2))
    return {"top": top, "params": params, "mode": mode, "family": family, "cells": cells,
            "seconds": round(seconds, 2), **derived(cells)}


def derived(cells: dict[str, int]) -> dict[str, float]:
    """LUTs, adder bits, registers, multipliers, DSP blocks and the ALM estimate from yosys cell counts."""
    luts = {k: v for k, v in cells.items() if k.startswith("MISTRAL_ALUT") and k != "MISTRAL_ALUT_ARITH"}
    lut6 = cells.get("MISTRAL_ALUT6", 0)
    arith = cells.get("MISTRAL_ALUT_ARITH", 0)
    mul9, mul18, mul27 = (cells.get(f"MISTRAL_MUL{w}X{w}", 0) for w in (9, 18, 27))
    n_lut = sum(luts.values())
    return {"luts": n_lut, "adder_bits": arith, "registers": cells.get("MISTRAL_FF", 0),
            "mul9x9": mul9, "mul18x18": mul18, "mul27x27": mul27,
            "dsp_blocks": round(mul9 / 3 + mul18 / 2 + mul27, 4),
            "alms_est": lut6 + (n_lut - lut6 + arith) / 2}


def model_pe(c_vector: int, soft: bool) -> dict[str, float]:
    """The area model's per-PE estimate for the same point (int8, Cyclone V, THREADS interleaved sums)."""
    from hw_models.area import pe_estimate

    e = pe_estimate(c_vector, "int8", FAMILY, soft_multipliers=c_vector if soft else 0, interleave=THREADS)
    return {"dsps": e.dsps, "logic_alms": e.logic_alms, "alms": e.alms, "registers": e.registers,
            "adder_bits": e.adder_bits, "mux_luts": e.mux_luts, "tree_inputs": e.tree_inputs,
            "soft_mult_alms": e.detail.get("soft_multipliers", 0.0), "detail": dict(e.detail)}


def run_all(progress: bool = True) -> dict:
    results = {"yosys": yosys_version(), "family": FAMILY, "threads": THREADS, "sources_sha256": sources_digest(),
               "pe": [], "array": []}
    for c in PE_POINTS:
        for mode in ("dsp", "soft"):
            r = synthesize("ovl_pe", {"C": c, "THREADS": THREADS}, mode)
            results["pe"].append(r)
            if progress:
                print(f"  ovl_pe C={c} {mode}: {r['luts']} LUTs, {r['adder_bits']} adder bits, {r['registers']} FF, "
                      f"{r['dsp_blocks']} DSP ({r['seconds']} s)", flush=True)
    for k, c in ARRAY_POINTS:
        r = synthesize("ovl_pe_array", {"K": k, "C": c, "THREADS": THREADS}, "dsp")
        results["array"].append(r)
        if progress:
            print(f"  ovl_pe_array K={k} C={c}: {r['luts']} LUTs, {r['adder_bits']} adder bits, {r['registers']} FF, "
                  f"{r['dsp_blocks']} DSP ({r['seconds']} s)", flush=True)
    return results


def comparison(results: dict) -> list[dict]:
    """One row per single-PE point: yosys figures next to the model's, with ratios yosys / model.

    Before ALM packing, both sides count the same things: carry-chain adder bits (yosys MISTRAL_ALUT_ARITH; the
    model's `adder_bits`) and, in DSP mode, LUTs (yosys' are the accumulator's start-from-bias multiplexer; the
    model's `mux_luts`). In soft mode yosys' extra LUTs are its multipliers: `yosys_soft_mult_alms` is the soft
    run's ALM estimate minus the DSP run's, per multiplier, next to the model's carry-chain count."""
    dsp_runs = {r["params"]["C"]: r for r in results["pe"] if r["mode"] == "dsp"}
    rows = []
    for r in results["pe"]:
        c = r["params"]["C"]
        m = model_pe(c, r["mode"] == "soft")
        row = {
            "c_vector": c, "mode": r["mode"],
            "yosys_dsp": r["dsp_blocks"], "model_dsp": round(m["dsps"], 4),
            "yosys_alms": r["alms_est"], "model_logic_alms": m["logic_alms"],
            "yosys_luts": r["luts"], "yosys_adder_bits": r["adder_bits"],
            "model_luts": m["mux_luts"], "model_adder_bits": m["adder_bits"],
            "yosys_ff": r["registers"], "model_registers": m["registers"],
            "alm_ratio": r["alms_est"] / m["logic_alms"] if m["logic_alms"] else float("inf"),
            "reg_ratio": r["registers"] / m["registers"] if m["registers"] else float("inf"),
        }
        if r["mode"] == "soft" and c in dsp_runs:
            row["yosys_soft_mult_luts"] = (r["luts"] - dsp_runs[c]["luts"]) / c
            row["yosys_soft_mult_alms"] = (r["alms_est"] - dsp_runs[c]["alms_est"]) / c
            row["model_soft_mult_alms"] = m["soft_mult_alms"] / c
        rows.append(row)
    return rows


def array_rows(results: dict) -> list[dict]:
    """Per array point: totals, per-PE share, and the single-PE synthesis times K (broadcast overhead)."""
    pe = {(r["params"]["C"], r["mode"]): r for r in results["pe"]}
    rows = []
    for r in results["array"]:
        k, c = r["params"]["K"], r["params"]["C"]
        one = pe.get((c, "dsp"))
        m = model_pe(c, False)
        rows.append({"k_vector": k, "c_vector": c, "dsp": r["dsp_blocks"], "alms_est": r["alms_est"],
                     "ff": r["registers"], "alms_per_pe": r["alms_est"] / k, "ff_per_pe": r["registers"] / k,
                     "k_times_pe_alms": None if one is None else k * one["alms_est"],
                     "k_times_pe_ff": None if one is None else k * one["registers"],
                     "model_dsp": k * m["dsps"], "model_logic_alms": k * m["logic_alms"],
                     "model_registers": k * m["registers"]})
    return rows


def table(results: dict) -> str:
    lines = [f"yosys synth_intel_alm -family {results['family']} ({results['yosys']}), int8, "
             f"{results['threads']} interleaved accumulations", "",
             "one PE (ovl_pe) vs hw_models.area.pe_estimate(c, 'int8', 'cyclonev')",
             f"{'C':>3} {'mode':>5} | {'DSP y/m':>13} | {'ALMs yosys':>10} {'model':>7} {'ratio':>6} | "
             f"{'LUTs y/m':>10} | {'adder bits y/m':>14} | {'FF yosys':>8} {'model':>7} {'ratio':>6}"]
    for r in comparison(results):
        lines.append(f"{r['c_vector']:>3} {r['mode']:>5} | {r['yosys_dsp']:>6.2f}/{r['model_dsp']:<6.2f} | "
                     f"{r['yosys_alms']:>10.1f} {r['model_logic_alms']:>7.1f} {r['alm_ratio']:>6.2f} | "
                     f"{r['yosys_luts']:>5}/{r['model_luts']:<4.0f} | {r['yosys_adder_bits']:>6}/"
                     f"{r['model_adder_bits']:<7.0f} | {r['yosys_ff']:>8} {r['model_registers']:>7.0f} "
                     f"{r['reg_ratio']:>6.2f}")
    soft = [r for r in comparison(results) if "yosys_soft_mult_alms" in r]
    if soft:
        lines.append("soft 8x8 multiplier (soft run minus DSP run, per multiplier): yosys LUTs "
                     + ", ".join(f"{r['yosys_soft_mult_luts']:.1f}" for r in soft) + "; yosys ALM estimate "
                     + ", ".join(f"{r['yosys_soft_mult_alms']:.1f}" for r in soft)
                     + f"; model {soft[0]['model_soft_mult_alms']:.0f} ALMs (carry-chain array)")
    lines += ["", "PE array (ovl_pe_array, DSP mode): totals vs K x model per-PE",
              f"{'K':>3} {'C':>3} | {'DSP':>6} {'model':>6} | {'ALMs':>8} {'K*PE':>8} {'model':>8} | "
              f"{'FF':>6} {'K*PE':>6} {'model':>6}"]
    for r in array_rows(results):
        lines.append(f"{r['k_vector']:>3} {r['c_vector']:>3} | {r['dsp']:>6.2f} {r['model_dsp']:>6.2f} | "
                     f"{r['alms_est']:>8.1f} {r['k_times_pe_alms'] or 0:>8.1f} {r['model_logic_alms']:>8.1f} | "
                     f"{r['ff']:>6} {r['k_times_pe_ff'] or 0:>6} {r['model_registers']:>6.0f}")
    return "\n".join(lines)


def load_results(path: Path = RESULTS) -> dict:
    if not path.exists():
        raise UserError(f"no stored synthesis results at {path}: run `python -m rtl.synth`")
    return json.loads(path.read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rtl.synth", description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare the stored results with the area model only")
    ap.add_argument("--pe", type=int, help="synthesize one PE of this c_vector and print it")
    ap.add_argument("--mode", default="dsp", help="dsp or soft (with --pe)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results file (default rtl/synth/results.json)")
    args = ap.parse_args(argv)
    try:
        if args.pe:
            print(json.dumps(synthesize("ovl_pe", {"C": args.pe, "THREADS": THREADS}, args.mode), indent=1))
            return 0
        if args.check:
            print(table(load_results(args.out)))
            return 0
        results = run_all()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {args.out}\n")
        print(table(results))
    except UserError as exc:
        print(f"rtl.synth: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
