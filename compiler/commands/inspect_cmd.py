"""`ovl inspect MODEL.onnx`: per-layer table (op, input/output shapes, MACs, params) and a summary."""
from __future__ import annotations

import argparse
import json

from compiler.frontend import import_onnx, parse_input_shape
from compiler.frontend.inspect import inspect_report


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="ONNX model file (.onnx; external .onnx.data next to it is read)")
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=1x3x224x224",
                   help="fix the shape of a data input with dynamic dimensions (repeatable)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--no-canonicalize", action="store_true",
                   help="show the graph as imported (BatchNorm, Dropout, Sum, Clip, Gemm kept)")


def run(args: argparse.Namespace) -> int:
    shapes = dict(parse_input_shape(text) for text in args.input_shape)
    graph = import_onnx(args.model, input_shapes=shapes, canonicalize=not args.no_canonicalize)
    if args.json:
        print(json.dumps(inspect_report(graph)))
    else:
        print(graph.summary())
    return 0
