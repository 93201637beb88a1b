"""`ovl search KIND ...`: one subcommand per search; each search module owns its own arguments.

A search module exposes `configure(parser)` and `run(args) -> int`, like a top-level command. Modules are
imported only when selected, so each search keeps its own (possibly heavy) imports.
"""
from __future__ import annotations

import argparse
import importlib

from compiler.errors import UserError

SEARCHES: dict[str, tuple[str, str]] = {
    "nas": ("nas.strategies.cli", "NAS over a cell space (random, evolution, REINFORCE; zero-cost warm-up)"),
    "brp-nas": ("nas.predictors.brp_cli", "BRP-NAS: GCN predictors with iterative data selection"),
    "zc-pt": ("nas.zc_pt.cli", "Zero-Cost-PT: perturbation-based operation selection on a supernet"),
    "codesign": ("nas.codesign.cli", "joint CNN / overlay architecture search"),
    "compress": ("nas.compression.cli", "AutoML low-rank compression of LSTM speech models"),
}


def configure(p: argparse.ArgumentParser, argv: list[str]) -> None:
    sub = p.add_subparsers(dest="search", metavar="KIND", required=True)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module, help_text) in SEARCHES.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            try:
                mod = importlib.import_module(module)
            except ModuleNotFoundError as exc:
                if exc.name and module.startswith(exc.name):
                    raise UserError(f"'ovl search {name}' is not implemented yet in this version") from None
                raise
            mod.configure(sp)
            sp.set_defaults(_search_run=mod.run)


def run(args: argparse.Namespace) -> int:
    return int(args._search_run(args) or 0)
