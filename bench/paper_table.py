"""Simulated vs published: the DLA papers' headline numbers reproduced with the cycle model (issue 4).

    .venv/bin/python bench/paper_table.py            # full table (about a minute)
    .venv/bin/python bench/paper_table.py --quick    # skip the batch-96 AlexNet and the batch-16 LSTM -O0 runs

Rows (published figures: shared/reference/overlay.md sections 1-2; [V] read in the source, [R] recalled):
1. AlexNet on dla_alexnet_a10 (FPGA'17, arXiv:1701.03534): 1,020 img/s and 1,382 GFLOPS [V]. Architecture
   k_vector 48, c_vector 8, Winograd F(4,3), bfp16, 303 MHz [R]; DDR 25.6 GB/s assumed. The paper batches the
   FC layers (96 images [R]) and runs the convolutions per image: the main row adds the per-image conv time
   at batch 1 to the per-image FC time at batch 96; whole-network batch-1 and batch-96 rows follow.
2. GoogLeNet on an overlay tailored to it (FPL'18, arXiv:1807.06434): ~900 fps on Arria 10 1150 [V]; batch and
   precision unknown. The tailored overlay is bench/archs/dla_googlenet_a10.toml (reasoning in the file).
3. ResNet-101 -O0 vs -O2: 3x [V] (naive vs architecture-driven compilation). Batch 1.
4. LSTM cells -O0 vs -O2: 12x [V]; batch unknown. lstm_cell (DeepBench: 1024 hidden, 25 steps) at batch 1 (the
   DeepBench kernel) and batch 4 and 16, where -O2 batches the matrix-vector work and -O0 does not.

Nothing here is tuned: architectures come from their files, the compiler from `compile_model`, the timing from
`simulator.timing`. GFLOPS count 2 FLOP per MAC of the network as written (dense count; Winograd does fewer
multiplications).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler.compile import compile_model  # noqa: E402
from hw_models.arch import load_arch  # noqa: E402
from simulator.report import build_report  # noqa: E402
from simulator.timing import simulate_timing  # noqa: E402
from workloads.zoo import ZOO, build_ir  # noqa: E402

TAILORED = ROOT / "bench" / "archs" / "dla_googlenet_a10.toml"


def graph(name: str, batch: int):
    spec = ZOO[name].inputs[0]
    shape = list(spec.shape)
    shape[spec.layout.index("N") if "N" in spec.layout else spec.layout.index("B")] = batch
    return build_ir(name, [tuple(shape)], weights="none")


def simulate(name: str, arch, opt: int, batch: int):
    t0 = time.perf_counter()
    prog = compile_model(graph(name, batch), arch, opt_level=opt).program
    rep = build_report(prog, simulate_timing(prog, events=False), network=name, batch=batch, energy=False)
    return rep, time.perf_counter() - t0


def row(what: str, sim: float, pub: float | None, unit: str, assumptions: str, note: str = "") -> dict:
    return {"what": what, "sim": sim, "pub": pub, "unit": unit, "assumptions": assumptions, "note": note}


def alexnet(quick: bool) -> list[dict]:
    a = load_arch("dla_alexnet_a10")
    ctx = f"{a.name}: {a.clock_mhz:g} MHz, {a.precision}, DDR {a.ddr.bandwidth_gbs:g} GB/s x {a.ddr.efficiency:g}"
    r1, _ = simulate("alexnet", a, 2, 1)
    rows = []
    fc1 = sum(x.cycles for x in r1.layers if x.op == "FullyConnected")
    conv1 = r1.total_cycles - fc1
    macs = r1.macs
    if not quick:
        r96, _ = simulate("alexnet", a, 2, 96)
        fc96 = sum(x.cycles for x in r96.layers if x.op == "FullyConnected") / 96
        per_img = (conv1 + fc96) / a.clock_hz
        rows.append(row("AlexNet img/s (conv batch 1 + FC batch 96)", 1 / per_img, 1020, "img/s",
                        f"{ctx}; -O2; convs per image, FC layers batched over 96 images as in FPGA'17 [R]"))
        rows.append(row("AlexNet GFLOPS (same)", 2 * macs / per_img / 1e9, 1382, "GFLOPS",
                        "2 x dense MACs of the network per image"))
        t = r96.totals()
        rows.append(row("AlexNet img/s (whole network batch 96)", t["throughput_per_s"], 1020, "img/s",
                        f"{ctx}; -O2; every layer at batch 96 (the compiler's batch tiling of the convs)"))
    t = r1.totals()
    share = {x.name: x.cycles / r1.total_cycles for x in r1.layers}
    rows.append(row("AlexNet img/s (whole network batch 1)", t["throughput_per_s"], 1020, "img/s",
                    f"{ctx}; -O2; batch 1 (FC weights streamed once per image)",
                    "cycle shares: " + ", ".join(f"{k} {100 * v:.0f}%" for k, v in
                                                 sorted(share.items(), key=lambda kv: -kv[1])[:4])))
    if rows[0]["what"].startswith("AlexNet img/s (conv"):
        util = {x.name: min(1.0, x.mult_ops / (x.cycles * a.multipliers)) for x in r1.layers if x.cycles}
        rows[0]["note"] = ("conv time per image " + f"{conv1 / a.clock_hz * 1e3:.2f} ms; PE utilisation at batch 1: "
                           + ", ".join(f"{k} {100 * v:.0f}%" for k, v in util.items() if k.startswith("conv")))
    return rows


def googlenet() -> list[dict]:
    rows = []
    for arch in (load_arch(TAILORED), load_arch(TAILORED).with_changes(precision="bfp16")):
        r, _ = simulate("googlenet", arch, 2, 1)
        t = r.totals()
        conv1 = next(x for x in r.layers if x.name.startswith("conv1"))
        rows.append(row(f"GoogLeNet fps ({arch.name}, {arch.precision})", t["throughput_per_s"], 900, "img/s",
                        f"{arch.clock_mhz:g} MHz, {arch.precision}, k{arch.pe_array.k_vector} c{arch.pe_array.c_vector}"
                        f" Winograd F(4,3), batch 1, -O2",
                        f"conv1 (3 input channels, no first-layer folding) takes {100 * conv1.cycles / r.total_cycles:.0f}%"
                        f" of the cycles at {100 * min(1, conv1.mult_ops / (conv1.cycles * arch.multipliers)):.0f}% "
                        f"PE utilisation"))
    return rows


def speedups(quick: bool) -> list[dict]:
    rows = []
    for arch_name in ("dla_alexnet_a10", "a10_generic"):
        a = load_arch(arch_name)
        r0, _ = simulate("resnet101", a, 0, 1)
        r2, _ = simulate("resnet101", a, 2, 1)
        rows.append(row(f"ResNet-101 -O0/-O2 speed-up ({arch_name})", r0.total_cycles / r2.total_cycles, 3.0, "x",
                        f"{a.clock_mhz:g} MHz, {a.precision}, batch 1",
                        f"-O0 {r0.latency_s * 1e3:.1f} ms ({r0.bundles} bundles), -O2 {r2.latency_s * 1e3:.1f} ms "
                        f"({r2.bundles} bundles)"))
    a = load_arch("a10_generic")
    for batch in ((1, 4) if quick else (1, 4, 16)):
        r0, _ = simulate("lstm_cell", a, 0, batch)
        r2, _ = simulate("lstm_cell", a, 2, batch)
        rows.append(row(f"LSTM -O0/-O2 speed-up (lstm_cell, batch {batch})", r0.total_cycles / r2.total_cycles, 12.0,
                        "x", f"a10_generic {a.clock_mhz:g} MHz, {a.precision}, 1024 hidden, 25 steps, batch {batch}",
                        f"-O0 {r0.latency_s * 1e3:.1f} ms, -O2 {r2.latency_s * 1e3:.1f} ms; -O2 stalls on filters "
                        f"{100 * sum(x.stalls.get('filters', 0) for x in r2.layers) / r2.total_cycles:.0f}%"))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the slowest rows")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows = alexnet(args.quick) + googlenet() + speedups(args.quick)
    w = max(len(r["what"]) for r in rows)
    print(f"{'result':<{w}}  {'simulated':>10}  {'published':>10}  {'sim/pub':>7}  assumptions; notes")
    for r in rows:
        pub = f"{r['pub']:,.1f}" if r["pub"] is not None else "-"
        ratio = f"{r['sim'] / r['pub']:.2f}" if r["pub"] else "-"
        print(f"{r['what']:<{w}}  {r['sim']:>10,.1f}  {pub:>10}  {ratio:>7}  {r['assumptions']}"
              + (f"; {r['note']}" if r["note"] else ""))
    print(f"\n({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
