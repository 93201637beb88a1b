"""`ovl trace summarize FILE`: hottest layers, stall reasons and busy time per kernel of a trace written by
`ovl sim --trace`."""
from __future__ import annotations

import argparse
import json

from simulator.trace import summarize


def configure(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = sub.add_parser("summarize", help="hottest layers and stall reasons of a trace file")
    s.add_argument("trace", help="trace JSON written by `ovl sim --trace`")
    s.add_argument("--top", type=int, default=10, help="layers to list (default 10)")
    s.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    summary = summarize(args.trace)
    if args.json:
        doc = summary.to_json()
        doc["layers"] = doc["layers"][:args.top]
        print(json.dumps(doc))
    else:
        print(summary.text(top=args.top))
    return 0
