"""Area model vs the FPGA AI Suite's published Arria 10 builds, plus model speed and a power comparison.

    .venv/bin/python bench/area_table.py            # tables
    .venv/bin/python bench/area_table.py --refit    # also print the least-squares [fit] section to paste

Prints: predicted vs published ALMs, DSPs, M20Ks and registers for the ten published builds (targets: DSPs
within 5%, ALMs and M20Ks within 15%); the fitted constants' leave-one-out errors; marginal ALM and M20K per
added DSP; the config network's share; the estimate's time per architecture (target < 1 ms); and the power
and energy of AlexNet on the FPGA'17 DLA overlay (dla_alexnet_a10) from the simulator's activity counts, next
to its published 23 img/s/W (about 44 W).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hw_models.arch import load_arch  # noqa: E402
from hw_models.area import calibration, estimate_area  # noqa: E402
from hw_models.area.report import _estimate  # noqa: E402
from hw_models.area.validation import KNOWN_GAPS, TOLERANCES, compare, refit, validation_arch  # noqa: E402
from hw_models.power import Activity, energy_per_inference, estimate_power, timeline_activity  # noqa: E402

RES = (("alms", "ALMs"), ("dsps", "DSPs"), ("mem_blocks", "M20Ks"), ("registers", "regs"))


def validation_table() -> None:
    rows = compare()
    print("Area model vs published FPGA AI Suite builds, Arria 10 GX 1150 (published / predicted / error)")
    head = f"{'build':22s} {'rel':6s}" + "".join(f" | {label:>23s}" for _, label in RES)
    print(head)
    print("-" * len(head))
    for c in rows:
        cells = []
        for res, _ in RES:
            mark = ""
            if res in TOLERANCES:
                mark = "*" if (c.row.key, res) in KNOWN_GAPS else (" " if c.within(res) else "!")
            cells.append(f" | {getattr(c.row, res):>7,d} {c.predicted(res):>7,d} {c.error(res):+6.1%}{mark}")
        print(f"{c.row.name:22s} {c.row.release:6s}" + "".join(cells))
    print("-" * len(head))
    summary = []
    for res, label in RES:
        errs = [abs(c.error(res)) for c in rows]
        tol = f" (target {TOLERANCES[res]:.0%})" if res in TOLERANCES else ""
        summary.append(f"{label}: max |err| {max(errs):.1%}, mean {statistics.mean(errs):.1%}{tol}")
    print("; ".join(summary))
    print("! outside target   * known gap: " + "; ".join(f"{k} {r}: {why}" for (k, r), why in KNOWN_GAPS.items()))
    print("DSP agreement is a consistency check: k_vector/c_vector of each build were reconstructed from its DSP\n"
          "count with the packing rule (hw_models/archs/validation/README.md).")


def refit_report(show_toml: bool) -> None:
    r = refit()
    cur = calibration().fit
    print("\nFitted constants ([fit] in hw_models/calibration.toml) and leave-one-out errors")
    for name in ("alm_scale", "alm_fixed", "register_scale_pe", "register_scale_rest", "register_fixed"):
        print(f"  {name:20s} file {getattr(cur, name):>10g}   refit {getattr(r.fit, name):>10g}")
    print(f"  leave-one-out ALM error: max {max(map(abs, r.alm_loo)):.1%}, mean "
          f"{statistics.mean(map(abs, r.alm_loo)):.1%}; registers: max {max(map(abs, r.register_loo)):.1%}")
    if show_toml:
        print("\n[fit]")
        for name in ("alm_scale", "alm_fixed", "register_scale_pe", "register_scale_rest", "register_fixed"):
            print(f"{name} = {getattr(r.fit, name)}")


def marginal_ratios() -> None:
    rows = {c.row.key: c for c in compare()}
    print("\nMarginal cost per added DSP, Generic -> Performance (published vs predicted)")
    for a, b in (("generic_23_2", "performance_23_2"), ("fp16_generic_23_2", "fp16_performance_23_2"),
                 ("generic_24_1", "performance_24_1"), ("fp16_generic_24_1", "fp16_performance_24_1")):
        ca, cb = rows[f"aisuite_a10_{a}"], rows[f"aisuite_a10_{b}"]
        pd, qd = cb.row.dsps - ca.row.dsps, cb.predicted("dsps") - ca.predicted("dsps")
        print(f"  {cb.row.name:22s} {cb.row.release}: ALM/DSP {(cb.row.alms - ca.row.alms) / pd:5.1f} vs "
              f"{(cb.predicted('alms') - ca.predicted('alms')) / qd:5.1f}; M20K/DSP "
              f"{(cb.row.mem_blocks - ca.row.mem_blocks) / pd:4.2f} vs "
              f"{(cb.predicted('mem_blocks') - ca.predicted('mem_blocks')) / qd:4.2f}")


def config_share() -> None:
    print("\nConfig (VLIW instruction) network share of the overlay (DLA FPL'18: ~1%)")
    for name in ("dla_alexnet_a10", "a10_generic"):
        r = estimate_area(name)
        print(f"  {name:38s} {r.kernel('config_network').alms:6,d} ALMs = {r.share('config_network'):.2%} of ALMs,"
              f" {r.share('config_network', 'registers'):.2%} of registers")
    for key in ("aisuite_a10_small_nosoftmax_23_2", "aisuite_a10_fp16_performance_24_1"):
        r = estimate_area(validation_arch(key))
        print(f"  {key:38s} {r.kernel('config_network').alms:6,d} ALMs = {r.share('config_network'):.2%} of ALMs")


def timing(n: int = 2000) -> None:
    base = load_arch("a10_generic")
    cal = calibration()
    archs = [base.with_changes(**{"pe_array.k_vector": 16 * (1 + i % 8), "stream_buffer.depth": 4096 + 64 * i})
             for i in range(n)]
    t0 = time.perf_counter()
    for a in archs:
        _estimate.__wrapped__(a, cal)          # bypass the memo: a fresh estimate each time
    fresh = (time.perf_counter() - t0) / n
    t0 = time.perf_counter()
    for a in archs:
        estimate_area(a)
    t1 = time.perf_counter()
    for a in archs:
        estimate_area(a)
    memo = (time.perf_counter() - t1) / n
    print(f"\nEstimate time per architecture ({n} variants of a10_generic; target < 1 ms)")
    print(f"  fresh {fresh * 1e6:7.1f} us   memoised {memo * 1e6:7.2f} us")


FC_OPS = ("FullyConnected", "Gemm", "MatMul")


def _sim_activity(arch, batch: int) -> tuple[dict[str, Activity], dict[str, float]]:
    """`ovl sim alexnet --arch dla_alexnet_a10 --batch B` (-O2): activity counts of the convolution part and of
    the fully connected part separately (per run of `batch` images), and the report's totals."""
    from simulator.api import run

    res = run("alexnet", arch, opt_level=2, batch=batch)
    fc = {x.name for x in res.report.layers if x.op in FC_OPS}
    conv = {x.name for x in res.report.layers} - fc
    return {"conv": timeline_activity(res.timeline, conv), "fc": timeline_activity(res.timeline, fc)}, \
        res.report.totals()


def _per_image(parts: list[tuple[Activity, float]]) -> Activity:
    """Sum of activities, each divided by its batch."""
    return Activity(*(sum(getattr(a, f) / b for a, b in parts) for f in ("macs", "ddr_bytes", "buffer_bytes",
                                                                           "cycles")))


def dla_power() -> None:
    """FPGA'17 DLA on AlexNet: 1020 img/s, 23 img/s/W (=> ~44 W board), ~303 MHz [R], with the simulator's
    activity counts (physical multiplications after Winograd, DDR bytes incl. configuration, on-chip buffer
    bytes, cycles) for AlexNet on dla_alexnet_a10 at -O2."""
    arch = load_arch("dla_alexnet_a10")
    p = calibration().power
    other, eff = p["board_other_w"][arch.device], p["regulator_efficiency"]
    b1, t1 = _sim_activity(arch, 1)
    b96, t96 = _sim_activity(arch, 96)
    cases = [
        ("batch 1 (whole network)", _per_image([(b1["conv"], 1), (b1["fc"], 1)]), t1),
        ("batch 96 (whole network)", _per_image([(b96["conv"], 96), (b96["fc"], 96)]), t96),
        ("conv batch 1 + FC batch 96 (FPGA'17)", _per_image([(b1["conv"], 1), (b96["fc"], 96)]), None),
    ]
    print("\nEnergy per image: AlexNet on dla_alexnet_a10 at 303 MHz, activity from the simulator "
          "(simulator.api.run, -O2)")
    print(f"  {'run':38s} {'img/s':>7s} {'M mult':>7s} {'DDR MB':>7s} {'buf MB':>7s} {'mJ/img':>7s} "
          f"{'chip+DDR W':>10s} {'img/J':>6s} {'board W':>7s} {'img/s/W':>7s}")
    for name, act, tot in cases:
        e = energy_per_inference(arch, act)
        fps = 1.0 / e.seconds
        board = e.average_w / eff + other
        print(f"  {name:38s} {fps:7.1f} {act.macs / 1e6:7.0f} {act.ddr_bytes / 1e6:7.2f} {act.buffer_bytes / 1e6:7.0f} "
              f"{e.total_j * 1e3:7.2f} {e.average_w:10.1f} {1 / e.total_j:6.1f} {board:7.1f} {fps / board:7.1f}")
        if tot is not None:                    # the same run's own report (ovl sim) agrees with the sums above
            assert abs(tot["energy_mj_per_inference"] - e.total_j * 1e3) <= 1e-6 * tot["energy_mj_per_inference"]
    name, act, _ = cases[2]
    e = energy_per_inference(arch, act)
    print("  terms, " + name + ": " + ", ".join(f"{k} {v * 1e3:.2f} mJ" for k, v in e.joules.items()))
    full = estimate_power(arch, activity=1.0)
    print(f"  datapath busy every cycle: chip {full.chip_w:.1f} W (static {full.static_w:.1f}, logic "
          f"{full.dynamic_w['logic']:.1f}, DSP {full.dynamic_w['dsp']:.1f}, M20K {full.dynamic_w['memory']:.1f}, "
          f"clock {full.dynamic_w['clock']:.1f}), DDR {full.ddr_w:.1f} W, board {full.board_w:.1f} W -> "
          f"{1020 / full.board_w:.0f} img/s/W at the published 1020 img/s")
    print(f"  board W = chip+DDR / {eff:g} regulators + {other:g} W other card parts (assumed); published: 1020 img/s "
          "at 23 img/s/W, i.e. ~44 W board power (FPGA'17, [V] abstract); static power, board overhead and the "
          "A10 process factor are assumptions (calibration.toml [power])")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--refit", action="store_true", help="print the refitted [fit] section in TOML")
    ap.add_argument("--n", type=int, default=2000, help="architectures for the timing")
    args = ap.parse_args()
    validation_table()
    refit_report(args.refit)
    marginal_ratios()
    config_share()
    timing(args.n)
    dla_power()
    return 0


if __name__ == "__main__":
    sys.exit(main())
