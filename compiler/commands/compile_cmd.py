"""`ovl compile MODEL.onnx --arch ARCH [-O0|-O1|-O2] -o OUT.ovl`: compile and print what the compiler did."""
from __future__ import annotations

import argparse
import json

from compiler.errors import UserError


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", nargs="?", help="ONNX model file")
    p.add_argument("--arch", default="a10_generic", help="architecture .toml file or shipped name (default "
                   "a10_generic)")
    p.add_argument("-O", dest="opt_level", type=int, choices=(0, 1, 2), default=2,
                   help="-O0 naive (one operator per bundle), -O1 fusion + tiling + memory planning, -O2 all")
    p.add_argument("-o", "--output", help="write the binary program here (.ovl)")
    p.add_argument("--batch", type=int, help="set the batch (first) dimension of every input")
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=1x3x224x224",
                   help="fix the shape of an input (repeatable)")
    p.add_argument("--enable", action="append", default=[], metavar="PASS", help="force a pass on (repeatable)")
    p.add_argument("--disable", action="append", default=[], metavar="PASS", help="force a pass off (repeatable)")
    p.add_argument("--strict", action="store_true", help="fail (exit 2) instead of falling back to the host")
    p.add_argument("--ignore-device", action="store_true",
                   help="compile even when the area model says the architecture does not fit its device")
    p.add_argument("--no-weights", action="store_true", help="plan everything but do not encode the weights blob")
    p.add_argument("--calibrate", metavar="FILE.npz", help="int8: calibration inputs, one array per input name")
    p.add_argument("--list-passes", action="store_true", help="list the passes with the -O levels that run them")
    p.add_argument("--json", action="store_true", help="machine-readable report")


def _list_passes(as_json: bool) -> int:
    from compiler.passes import list_passes

    rows = [{"name": p.name, "kind": p.kind, "levels": sorted(p.levels), "doc": p.doc} for p in list_passes()]
    if as_json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'pass':27s} {'kind':13s} {'levels':7s} what it does")
    for r in rows:
        lv = ",".join(f"O{x}" for x in r["levels"])
        print(f"{r['name']:27s} {r['kind']:13s} {lv:7s} {r['doc']}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.list_passes:
        return _list_passes(args.json)
    if not args.model:
        raise UserError("give an ONNX model file (or --list-passes)")
    from compiler.compile import compile_model
    from compiler.frontend import parse_input_shape

    calibration = None
    if args.calibrate:
        import numpy as np

        try:
            with np.load(args.calibrate) as data:
                calibration = {k: data[k] for k in data.files}
        except (OSError, ValueError) as exc:
            raise UserError(f"calibration file '{args.calibrate}' cannot be read as .npz ({exc})") from None
    shapes = dict(parse_input_shape(t) for t in args.input_shape)
    if not args.ignore_device:
        from hw_models.area import check_fits

        check_fits(args.arch)  # ArchError naming each resource, its need and the device's capacity
    res = compile_model(args.model, args.arch, opt_level=args.opt_level, batch=args.batch, input_shapes=shapes,
                        enable=args.enable, disable=args.disable, host_fallback=not args.strict,
                        calibration=calibration, with_weights=False if args.no_weights else None)
    size = res.program.save(args.output) if args.output else 0
    if args.json:
        rep = res.report()
        rep["output"] = {"path": args.output, "bytes": size} if args.output else None
        print(json.dumps(rep))
    else:
        print(res.summary())
        if args.output:
            print(f"wrote {args.output} ({size:,} bytes)")
    return 0
