"""`ovl area --arch FILE [--json] [--power] [--activity A]`: FPGA resources (and power) of an architecture.

Prints ALMs, DSP blocks, block RAMs and registers per kernel with the device's utilisation; exits 2 with a
message naming each resource that does not fit (its need and the capacity).
"""
from __future__ import annotations

import argparse
import json

from hw_models.arch import DEFAULT_ARCH, load_arch
from hw_models.area import check_fits, estimate_area, pe_estimate


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--arch", default=DEFAULT_ARCH, help=f"architecture .toml file or shipped name ({DEFAULT_ARCH})")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--power", action="store_true", help="add the static + dynamic power estimate")
    p.add_argument("--activity", type=float, default=1.0,
                   help="fraction of cycles the datapath is busy, for --power (default 1.0)")
    p.add_argument("--pe", action="store_true", help="add the per-PE (one dot-product unit) estimate")


def run(args: argparse.Namespace) -> int:
    arch = load_arch(args.arch)
    report = estimate_area(arch)
    power = None
    if args.power:
        from hw_models.power import estimate_power

        power = estimate_power(arch, activity=args.activity)
    pe = pe_estimate(arch.pe_array.c_vector, arch.precision, arch.device_info.family,
                     interleave=arch.pe_array.interleave_features * arch.pe_array.interleave_filters) \
        if args.pe else None
    if args.json:
        out = report.to_dict()
        if power:
            out["power"] = power.to_dict()
        if pe:
            out["pe"] = {"c_vector": pe.c_vector, "precision": pe.precision, "family": pe.family,
                         "alms": pe.alms, "dsps": pe.dsps + pe.accumulator_dsps, "registers": pe.registers}
        print(json.dumps(out, indent=2))
    else:
        print(report.table())
        if pe:
            print(f"per PE (c_vector={pe.c_vector}, {pe.precision}): {pe.alms:,.0f} ALMs, "
                  f"{pe.dsps + pe.accumulator_dsps:g} DSPs ({pe.dsps:g} dot product + {pe.accumulator_dsps}"
                  f" accumulator), {pe.registers:,.0f} registers (structural, before the fitted scale)")
        if power:
            print(power.table())
    check_fits(arch)
    return 0
