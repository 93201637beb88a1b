"""`ovl zoo list|show|export`: the bundled networks, their costs, and their ONNX export."""
from __future__ import annotations

import argparse
import json
import time

from workloads.zoo import registry as zoo


def configure(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="the networks with input shapes, MACs and parameters (from direct IR builds)")
    ls.add_argument("--family", help=f"only one family: {', '.join(zoo.FAMILIES)}")
    ls.add_argument("--json", action="store_true", help="machine-readable output")

    def network_args(q: argparse.ArgumentParser) -> None:
        q.add_argument("name", help="network name (see `ovl zoo list`)")
        q.add_argument("--input-shape", action="append", default=None, metavar="SHAPE",
                       help="input shape like 1x3x112x112 (once per input; default: the network's own)")
        q.add_argument("--set", action="append", default=[], metavar="KEY=N",
                       help="architecture option, e.g. --set steps=4 (see `ovl zoo show NAME`)")

    show = sub.add_parser("show", help="per-layer table (shapes, MACs, params) and the options of one network")
    network_args(show)
    show.add_argument("--json", action="store_true", help="machine-readable output")
    ex = sub.add_parser("export", help="write a network as ONNX (static shapes, seeded weights)")
    network_args(ex)
    ex.add_argument("-o", "--output", required=True, metavar="FILE.onnx", help="output file")
    ex.add_argument("--opset", type=int, default=17, help="ONNX opset, 13..20 (default 17)")
    ex.add_argument("--seed", type=int, default=0, help="weight and example-input seed (default 0)")
    ex.add_argument("--dynamo", action="store_true", help="use torch's torch.export-based exporter (slower)")
    ex.add_argument("--fold-bn", action="store_true", help="let the exporter fold BatchNormalization into Conv")
    ex.add_argument("--no-tidy", action="store_true", help="keep the exporter's shape arithmetic unfolded")


def _human(n: float) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= div:
            return f"{n / div:.3f}{unit}" if unit == "G" else f"{n / div:.2f}{unit}"
    return str(int(n))


def run(args: argparse.Namespace) -> int:
    if args.action == "list":
        rows = [zoo.info(n) for n in zoo.names(args.family)]
        if args.json:
            print(json.dumps(rows, indent=2))
            return 0
        table = [("name", "family", "input", "MACs", "params", "description")]
        for r in rows:
            table.append((r["name"], r["family"], ", ".join(zoo.format_shape(s) for s in r["inputs"].values()),
                          _human(r["macs"]), _human(r["params"]), r["description"]))
        widths = [max(len(row[i]) for row in table) for i in range(5)]
        for row in table:
            print("  ".join(c.rjust(w) if i in (3, 4) else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
                  + "  " + row[5])
        return 0
    shapes = [zoo.parse_shape(s) for s in args.input_shape] if args.input_shape else None
    options = zoo.parse_options(args.set)
    e = zoo.entry(args.name)
    if args.action == "show":
        g = zoo.build_ir(args.name, shapes, **options)
        if args.json:
            print(json.dumps({**zoo.info(args.name, shapes, **options), "layers": g.rows()}, indent=2))
            return 0
        print(f"{e.name}: {e.description} ({e.source})")
        for k, o in e.options.items():
            print(f"  option {k} = {g.metadata['options'][k]} ({o.help}; default {o.default})")
        print(g.summary())
        print(f"distinct parameters {zoo.count_params(g):,}")
        return 0
    from workloads.zoo.export import export_onnx

    start = time.perf_counter()
    model = export_onnx(args.name, args.output, opset=args.opset, input_shapes=shapes, seed=args.seed,
                        dynamo=args.dynamo, fold_bn=args.fold_bn, clean=not args.no_tidy, **options)
    g = zoo.build_ir(args.name, shapes, **options)
    ins = ", ".join(f"{i.name} {zoo.format_shape(d.dim_value for d in i.type.tensor_type.shape.dim)}"
                    for i in model.graph.input)
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    print(f"wrote {args.output}: {args.name}, opset {opset}, inputs {ins}, {zoo.count_params(g):,} params, "
          f"{zoo.count_macs(g) / 1e9:.3f} GMAC, {len(model.graph.node)} nodes, "
          f"{time.perf_counter() - start:.1f} s")
    return 0
