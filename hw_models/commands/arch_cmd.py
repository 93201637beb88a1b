"""`ovl arch show|check|list [FILE]`: print or validate an architecture description."""
from __future__ import annotations

import argparse
import json

from hw_models.arch import load_arch, shipped_archs


def configure(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="print an architecture with its derived quantities")
    show.add_argument("arch", help="architecture .toml file or shipped name")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    check = sub.add_parser("check", help="validate an architecture file (exit 2 with the reasons if illegal)")
    check.add_argument("arch", help="architecture .toml file or shipped name")
    sub.add_parser("list", help="list the shipped architectures")
    try:
        from hw_models.optimizer import configure_optimize  # added by the architecture optimiser
    except ModuleNotFoundError:
        return
    configure_optimize(sub.add_parser("optimize", help="search architecture parameters for one or more models"))


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        for name in shipped_archs():
            print(f"{name:20s} {load_arch(name).description}")
        return 0
    if args.action == "optimize":
        from hw_models.optimizer import run_optimize

        return run_optimize(args)
    arch = load_arch(args.arch)
    if args.action == "check":
        print(f"{args.arch}: ok ({arch.name}, device {arch.device})")
        return 0
    if args.json:
        derived = {k: getattr(arch, k) for k in ("peak_macs_per_cycle", "multipliers", "winograd_factor",
                                                 "ddr_bytes_per_cycle", "ddr_latency_cycles", "feature_bytes",
                                                 "filter_bytes", "stream_buffer_elements", "filter_cache_elements")}
        print(json.dumps({"arch": arch.model_dump(mode="json"), "derived": derived}, indent=2))
    else:
        print(arch.summary())
    return 0
