"""Simulated vs published: the DLA papers' headline numbers reproduced with the cycle model (issues 3 and 4).

    .venv/bin/python bench/paper_table.py            # full table and LSTM sweep (about two minutes)
    .venv/bin/python bench/paper_table.py --quick    # skip the batch-96 AlexNet, batch-16 LSTM, batch-64 GoogLeNet runs
    .venv/bin/python bench/paper_table.py --agreement   # only the estimate vs cycle model table (docs/simulator.md)

Rows (published figures: shared/reference/overlay.md sections 1-2; [V] read in the source, [R] recalled):
1. AlexNet on dla_alexnet_a10 (FPGA'17, arXiv:1701.03534): 1,020 img/s and 1,382 GFLOPS [V]. Architecture
   k_vector 48, c_vector 8, Winograd F(4,3), bfp16, 303 MHz [R]; DDR 25.6 GB/s assumed. The paper batches the
   FC layers (96 images [R]) and runs the convolutions per image: the main row adds the per-image conv time
   at batch 1 to the per-image FC time at batch 96; whole-network batch-96 and batch-1 rows follow. GFLOPS count
   2 FLOP per MAC of the network as written (dense count: first-layer folding's zero taps and Winograd's saved
   multiplications are not counted).
2. GoogLeNet on an overlay tailored to it (FPL'18, arXiv:1807.06434): ~900 fps on Arria 10 1150 [V]; batch and
   precision unknown. The tailored overlay is bench/archs/dla_googlenet_a10.toml (reasoning in the file); the
   optimiser's best overlay (docs/optimizer.md) is bench/archs/googlenet_opt.toml. Both rows run at batch 1.
   Because the published figure's batch is unknown (shared/reference/overlay.md section 8: "only usable as a
   range check"), the optimiser was also asked for the best overlay for throughput at batch 16
   (`bench_optimizer.py --batch 16`: bench/archs/googlenet_opt_b16.toml), whose row runs at batch 16; the
   GoogLeNet batch table below the main table gives all three overlays at batches 1, 4, 16 and 64, whole network
   batched and, as in the AlexNet row, convolutions per image with only the classifier batched.
3. ResNet-101 -O0 vs -O2: 3x [V] (naive vs architecture-driven compilation). Batch 1.
4. LSTM cells -O0 vs -O2: 12x [V]; the LSTM's size and batch are not published. A sweep of hidden sizes and
   batches of the zoo's lstm_cell (DeepBench: 25 steps) on a10_generic, with whether the recurrent weights
   (4h x h) fit the filter caches; the table does not pick a row. Also the compression study's FSDD 2x256
   LSTM (48 steps) as ONNX LSTM nodes and unrolled.

Nothing here is tuned: architectures come from their files, the compiler from `compile_model`, the timing from
`simulator.timing`.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compiler.compile import compile_model, rebatch  # noqa: E402
from hw_models.arch import load_arch  # noqa: E402
from simulator.report import build_report  # noqa: E402
from simulator.timing import simulate_timing  # noqa: E402
from workloads.zoo import ZOO, build_ir, count_macs  # noqa: E402

TAILORED = ROOT / "bench" / "archs" / "dla_googlenet_a10.toml"
OPTIMISED = ROOT / "bench" / "archs" / "googlenet_opt.toml"       # bench/bench_optimizer.py's best, unchanged
OPTIMISED_B16 = ROOT / "bench" / "archs" / "googlenet_opt_b16.toml"   # its best for throughput at batch 16


def graph(name: str, batch: int, **options):
    shape = list(ZOO[name].inputs[0].shape)
    if "hidden" in options:
        shape[-1] = options["hidden"]
    return rebatch(build_ir(name, [tuple(shape)], weights="none", **options), batch)


def simulate(name: str, arch, opt: int, batch: int, **options):
    g = graph(name, batch, **options)
    res = compile_model(g, arch, opt_level=opt)
    prog = res.program
    rep = build_report(prog, simulate_timing(prog, events=False), network=name, batch=batch, energy=False)
    return rep, res


def row(what: str, sim: float, pub: float | None, unit: str, assumptions: str, note: str = "") -> dict:
    return {"what": what, "sim": sim, "pub": pub, "unit": unit, "assumptions": assumptions, "note": note}


def util(arch, layer) -> float:
    return min(1.0, layer.mult_ops / (layer.cycles * arch.multipliers)) if layer.cycles else 0.0


def pass_note(res, name: str) -> str:
    return next((r.changes for r in res.passes if r.name == name and r.ran), "")


def alexnet(quick: bool) -> list[dict]:
    a = load_arch("dla_alexnet_a10")
    ctx = f"{a.name}: {a.clock_mhz:g} MHz, {a.precision}, DDR {a.ddr.bandwidth_gbs:g} GB/s x {a.ddr.efficiency:g}"
    r1, res1 = simulate("alexnet", a, 2, 1)
    macs = count_macs(graph("alexnet", 1))          # the network as written (dense MACs per image)
    rows = []
    fc1 = sum(x.cycles for x in r1.layers if x.op == "FullyConnected")
    conv1 = r1.total_cycles - fc1
    conv_util = ", ".join(f"{x.name} {100 * util(a, x):.0f}%" for x in r1.layers if x.name.startswith("conv"))
    if not quick:
        r96, _ = simulate("alexnet", a, 2, 96)
        fc96 = sum(x.cycles for x in r96.layers if x.op == "FullyConnected") / 96
        per_img = (conv1 + fc96) / a.clock_hz
        rows.append(row("AlexNet img/s (conv batch 1 + FC batch 96)", 1 / per_img, 1020, "img/s",
                        f"{ctx}; -O2; convs per image, FC layers batched over 96 images as in FPGA'17 [R]",
                        f"conv time per image {conv1 / a.clock_hz * 1e3:.2f} ms, FC {fc96 / a.clock_hz * 1e3:.2f} "
                        f"ms; PE utilisation at batch 1: {conv_util}; {pass_note(res1, 'fold-input')}"))
        rows.append(row("AlexNet GFLOPS (same)", 2 * macs / per_img / 1e9, 1382, "GFLOPS",
                        "2 x dense MACs of the network as written per image"))
        t = r96.totals()
        fcu = ", ".join(f"{x.name} {100 * util(a, x):.0f}%" for x in r96.layers if x.op == "FullyConnected")
        rows.append(row("AlexNet img/s (whole network batch 96)", t["throughput_per_s"], 1020, "img/s",
                        f"{ctx}; -O2; every layer at batch 96", f"FC PE utilisation {fcu} (FC inputs re-read per "
                        f"output-channel tile: {sum(x.ddr_bytes_read for x in r96.layers if x.op == 'FullyConnected') / 1e6:.0f}"
                        f" MB read by the FC layers)"))
    t = r1.totals()
    share = {x.name: x.cycles / r1.total_cycles for x in r1.layers}
    rows.append(row("AlexNet img/s (whole network batch 1)", t["throughput_per_s"], 1020, "img/s",
                    f"{ctx}; -O2; batch 1 (FC weights streamed once per image)",
                    "cycle shares: " + ", ".join(f"{k} {100 * v:.0f}%" for k, v in
                                                 sorted(share.items(), key=lambda kv: -kv[1])[:4])))
    return rows


def googlenet() -> list[dict]:
    rows = []
    for arch, batch in ((load_arch(TAILORED), 1), (load_arch(TAILORED).with_changes(precision="bfp16"), 1),
                        (load_arch(OPTIMISED), 1), (load_arch(OPTIMISED_B16), 16)):
        r, res = simulate("googlenet", arch, 2, batch)
        t = r.totals()
        conv1 = next(x for x in r.layers if x.name.startswith("conv1"))
        filt = sum(x.stalls.get("filters", 0) for x in r.layers) / r.total_cycles
        rows.append(row(f"GoogLeNet fps ({arch.name}, {arch.precision})", t["throughput_per_s"], 900, "img/s",
                        f"{arch.clock_mhz:g} MHz, {arch.precision}, k{arch.pe_array.k_vector} c{arch.pe_array.c_vector}"
                        f" lanes {arch.pe_array.lanes} Winograd F({arch.pe_array.q_vector},3), batch {batch}, -O2",
                        f"conv1 ({pass_note(res, 'fold-input')}) {100 * conv1.cycles / r.total_cycles:.0f}% of the "
                        f"cycles at {100 * util(arch, conv1):.0f}% PE utilisation; filter-load stalls "
                        f"{100 * filt:.0f}% of the cycles; {pass_note(res, 'concat-aux')}"))
    return rows


def googlenet_batches(batches: tuple[int, ...]) -> list[tuple]:
    """GoogLeNet throughput against batch on the tailored and the optimiser's overlay (-O2). Per batch N: the
    whole network at batch N (every layer's filters loaded once per N images), and the convolutions at batch 1
    with the classifier (the one FullyConnected layer) at batch N, as the AlexNet row batches its FC layers.
    Also the cycle shares of the filter-load, feature-input and writer stalls, the PE array's busy share, and
    the stall-free bound: the fps if every stall vanished (clock / busy cycles per image)."""
    out = []
    for path in (TAILORED, OPTIMISED, OPTIMISED_B16):
        a = load_arch(path)
        r1, _ = simulate("googlenet", a, 2, 1)
        conv1 = r1.total_cycles - sum(x.cycles for x in r1.layers if x.op == "FullyConnected")
        for n in batches:
            r = r1 if n == 1 else simulate("googlenet", a, 2, n)[0]
            stalls = {k: sum(x.stalls.get(k, 0) for x in r.layers) / r.total_cycles
                      for k in ("filters", "input", "output.writer")}
            busy = sum(x.busy for x in r.layers)
            fc = sum(x.cycles for x in r.layers if x.op == "FullyConnected") / n
            out.append((a.name, a.precision, n, r.totals()["throughput_per_s"], a.clock_hz / (conv1 + fc),
                        r.latency_s * 1e3, stalls, busy / r.total_cycles, a.clock_hz * n / busy))
    return out


def print_googlenet_batches(table: list[tuple]) -> None:
    print("\nGoogLeNet fps against batch (-O2; published ~900 fps on Arria 10 1150, batch and precision unknown; "
          "whole = every layer at batch N, FC only = convolutions per image + the classifier at batch N; stall "
          "shares and PE busy share of the whole-network run; stall-free = clock / busy cycles per image):")
    print(f"{'overlay':<18} {'prec':<5} {'batch':>5} {'whole fps':>9} {'FC only':>8} {'latency ms':>10} "
          f"{'filters':>7} {'input':>6} {'writer':>6} {'PE busy':>7} {'stall-free fps':>14}")
    for name, prec, n, fps, fps_fc, lat, st, busy, bound in table:
        print(f"{name:<18} {prec:<5} {n:>5} {fps:>9.1f} {fps_fc:>8.1f} {lat:>10.2f} {100 * st['filters']:>6.1f}% "
              f"{100 * st['input']:>5.1f}% {100 * st['output.writer']:>5.1f}% {100 * busy:>6.1f}% {bound:>14.1f}")


def resnet101() -> list[dict]:
    rows = []
    for arch_name in ("dla_alexnet_a10", "a10_generic"):
        a = load_arch(arch_name)
        r0, _ = simulate("resnet101", a, 0, 1)
        r2, _ = simulate("resnet101", a, 2, 1)
        busy0 = sum(x.busy for x in r0.layers) / r0.total_cycles
        busy2 = sum(x.busy for x in r2.layers) / r2.total_cycles
        rows.append(row(f"ResNet-101 -O0/-O2 speed-up ({arch_name})", r0.total_cycles / r2.total_cycles, 3.0, "x",
                        f"{a.clock_mhz:g} MHz, {a.precision}, batch 1",
                        f"-O0 {r0.latency_s * 1e3:.1f} ms ({r0.bundles} bundles, PE busy {100 * busy0:.0f}%), -O2 "
                        f"{r2.latency_s * 1e3:.1f} ms ({r2.bundles} bundles, PE busy {100 * busy2:.0f}%)"))
    return rows


def lstm_sweep(quick: bool) -> tuple[list[dict], list[tuple]]:
    a = load_arch("a10_generic")
    fits_weights = a.filter_cache_elements * a.pe_array.k_vector     # weights all filter caches hold together
    table = []
    for h in (128, 256, 512, 1024):
        for batch in ((1, 4) if quick else (1, 4, 16)):
            r0, p0 = simulate("lstm_cell", a, 0, batch, hidden=h)
            r2, p2 = simulate("lstm_cell", a, 2, batch, hidden=h)
            loads = [sum(1 for b in p.program.bundles if b.is_active("wread")) for p in (p0, p2)]
            table.append((h, batch, 4 * h * h <= fits_weights, r0.latency_s * 1e3, r2.latency_s * 1e3,
                          r0.total_cycles / r2.total_cycles, loads[0], loads[1]))
    main = next(t for t in table if t[0] == 1024 and t[1] == 1)
    best = max(table, key=lambda t: t[5])
    rows = [row("LSTM -O0/-O2 speed-up (lstm_cell 1024 hidden, batch 1)", main[5], 12.0, "x",
                f"a10_generic {a.clock_mhz:g} MHz, {a.precision}, 25 steps, batch 1 (DeepBench size)",
                "recurrent weights (4096 x 1024) do not fit the filter caches: both levels stream them per step"),
            row(f"LSTM -O0/-O2 speed-up, sweep maximum (h {best[0]}, batch {best[1]})", best[5], 12.0, "x",
                "a10_generic; the sweep below, not a chosen row",
                f"{len(table)} sweep points, {min(t[5] for t in table):.1f}x to {best[5]:.1f}x")]
    return rows, table


#: The estimate's test set (tests/simulator/test_timing.py): (label, zoo name or FSDD form, arch, level, input
#: shape, build options). FSDD rows are the compression study's 2x256 LSTM (nas/compression/graph.py).
AGREEMENT = [("resnet18", "resnet18", "a10_generic", 2, None, {}), ("resnet18", "resnet18", "a10_generic", 0, None, {}),
             ("googlenet", "googlenet", "a10_generic", 2, None, {}),
             ("googlenet", "googlenet", "dla_alexnet_a10", 0, None, {}),
             ("mobilenet_v2", "mobilenet_v2", "a10_generic", 2, None, {}),
             ("squeezenet1_0", "squeezenet1_0", "a10_generic", 0, None, {}),
             ("alexnet", "alexnet", "dla_alexnet_a10", 2, None, {}),
             ("lstm_cell", "lstm_cell", "a10_generic", 0, None, {}), ("lstm_cell", "lstm_cell", "a10_generic", 2, None, {}),
             ("gru_stack", "gru_stack", "a10_generic", 2, None, {}), ("fsrcnn", "fsrcnn", "tiny", 2, None, {}),
             ("srcnn", "srcnn", "a10_generic", 0, None, {}),
             ("googlenet", "googlenet", TAILORED, 2, None, {}),
             ("alexnet (8x3x227x227)", "alexnet", "dla_alexnet_a10", 2, (8, 3, 227, 227), {}),
             ("lstm_cell (25x1x256, h 256)", "lstm_cell", "a10_generic", 2, (25, 1, 256), {"hidden": 256}),
             ("FSDD LSTM native", "fsdd:native", "a10_generic", 2, None, {}),
             ("FSDD LSTM unrolled", "fsdd:unrolled", "a10_generic", 2, None, {}),
             ("FSDD LSTM unrolled, 1/4 rank", "fsdd:unrolled:0.25", "a10_generic", 2, None, {})]


def agreement_graph(name: str, shape, options):
    if name.startswith("fsdd:"):
        from nas.compression.graph import build_graph
        from workloads.speech.model import ModelConfig, matrix_specs

        _, form, *frac = name.split(":")
        cfg = ModelConfig()
        ranks = {m.name: max(1, int(min(m.rows, m.cols) * float(frac[0]))) if frac else None
                 for m in matrix_specs(cfg)}
        return build_graph(cfg, ranks, form=form)
    return build_ir(name, [shape] if shape else None, weights="none", **options)


def agreement() -> list[tuple]:
    """Estimate without the on-chip hand-over (`on_chip=False`) and as by default (with it) against the cycle
    model on the estimate's test set."""
    from simulator.estimate import estimate

    out = []
    for label, name, arch, opt, shape, options in AGREEMENT:
        a = load_arch(arch)
        g = agreement_graph(name, shape, options)
        prog = compile_model(g, a, opt_level=opt).program
        cyc = simulate_timing(prog, events=False).total_cycles
        e0 = estimate(g, a, opt_level=opt, on_chip=False, memo=False).cycles
        e1 = estimate(g, a, opt_level=opt, memo=False).cycles
        out.append((label, a.name, opt, len(prog.bundles), cyc, e0, e1))
    return out


def print_agreement(rows: list[tuple]) -> None:
    print("| network | arch | level | bundles | cycle model | on_chip=False | / cycle model | estimate (default) | "
          "/ cycle model |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, arch, opt, nb, cyc, e0, e1 in rows:
        print(f"| {label} | {arch} | -O{opt} | {nb:,} | {cyc:,.0f} | {e0:,.0f} | {e0 / cyc:.3f} | {e1:,.0f} | "
              f"{e1 / cyc:.3f} |")


def fsdd_lstm() -> list[dict]:
    """-O0/-O2 on the compression study's 2x256 LSTM classifier (48 steps), as ONNX LSTM nodes and unrolled."""
    from nas.compression.graph import build_graph
    from workloads.speech.model import ModelConfig

    a = load_arch("a10_generic")
    rows = []
    for form in ("native", "unrolled"):
        g = build_graph(ModelConfig(), {}, form=form)
        res = [compile_model(g, a, opt_level=o).program for o in (0, 2)]
        sec = [simulate_timing(p, events=False).seconds for p in res]
        loads = [sum(1 for b in p.bundles if b.is_active("wread")) for p in res]
        rows.append(row(f"LSTM -O0/-O2 speed-up (FSDD 2x256 LSTM, {form})", sec[0] / sec[1], 12.0, "x",
                        f"a10_generic {a.clock_mhz:g} MHz, {a.precision}, 48 steps, batch 1 (nas/compression/graph.py)",
                        f"-O0 {sec[0] * 1e3:.3f} ms ({len(res[0].bundles)} bundles, {loads[0]} filter loads), -O2 "
                        f"{sec[1] * 1e3:.3f} ms ({len(res[1].bundles)} bundles, {loads[1]} loads)"))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the slowest runs")
    ap.add_argument("--agreement", action="store_true",
                    help="only the estimate vs cycle model table on the estimate's test set")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    if args.agreement:
        print_agreement(agreement())
        print(f"\n({time.perf_counter() - t0:.0f} s)")
        return 0
    lrows, sweep = lstm_sweep(args.quick)
    rows = alexnet(args.quick) + googlenet() + resnet101() + lrows + fsdd_lstm()
    w = max(len(r["what"]) for r in rows)
    print(f"{'result':<{w}}  {'simulated':>10}  {'published':>10}  {'sim/pub':>7}  assumptions; notes")
    for r in rows:
        pub = f"{r['pub']:,.1f}" if r["pub"] is not None else "-"
        ratio = f"{r['sim'] / r['pub']:.2f}" if r["pub"] else "-"
        print(f"{r['what']:<{w}}  {r['sim']:>10,.1f}  {pub:>10}  {ratio:>7}  {r['assumptions']}"
              + (f"; {r['note']}" if r["note"] else ""))
    a = load_arch("a10_generic")
    print(f"\nLSTM sweep (lstm_cell, 25 steps, a10_generic {a.clock_mhz:g} MHz {a.precision}; the filter caches hold "
          f"{a.filter_cache_elements * a.pe_array.k_vector:,} weights):")
    print(f"{'hidden':>6} {'batch':>5} {'4h x h fits':>11} {'-O0 ms':>9} {'-O2 ms':>8} {'speed-up':>8} "
          f"{'loads -O0':>9} {'loads -O2':>9}")
    for h, n, fits, t0_, t2_, sp, l0, l2 in sweep:
        print(f"{h:>6} {n:>5} {'yes' if fits else 'no':>11} {t0_:>9.2f} {t2_:>8.2f} {sp:>7.1f}x {l0:>9} {l2:>9}")
    print_googlenet_batches(googlenet_batches((1, 4, 16) if args.quick else (1, 4, 16, 64)))
    print(f"\n({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
