"""Compile time: GoogLeNet (light_inception_v1) and ResNet-50 (light_resnet50) from the onnx wheel at -O2 on
the default architecture, best of N runs, with the time of every pass, the lowering and the weight encoding.
Target (issue 3): under 1 s each.

    .venv/bin/python bench/bench_compile.py [--repeat 3] [--arch a10_generic]
    .venv/bin/python bench/bench_compile.py --matrix [--asm] [--archs tiny,a10_generic,dla_alexnet_a10]   # all nine
        [--models vgg19,zfnet512] [--json rows.json]

Timings are wall clock on a shared machine: run it on a quiet one, and compare runs made together.
"""
from __future__ import annotations

import argparse
import glob
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import onnx  # noqa: E402

from compiler.compile import compile_model  # noqa: E402
from compiler.errors import UserError  # noqa: E402

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def bench(model: str, arch: str, repeat: int, weights: bool) -> dict:
    best = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = compile_model(LIGHT / f"light_{model}.onnx", arch, opt_level=2, with_weights=weights)
        total = time.perf_counter() - t0
        if best is None or total < best["total"]:
            best = {"total": total, "res": res}
    return best


def table(model: str, arch: str, best: dict) -> None:
    res = best["res"]
    print(f"\n{model} -> {arch} -O2: {best['total']:.3f} s total, {len(res.program.bundles)} bundles, "
          f"weights {res.program.weights_size / 1e6:.1f} MB")
    print(f"  {'stage':28s} {'ms':>9s}")
    print(f"  {'import (ONNX -> IR)':28s} {1000 * res.seconds['import']:9.1f}")
    for r in res.passes:
        if r.ran:
            print(f"  {r.name:28s} {1000 * r.seconds:9.1f}")
    print(f"  {'lowering (+ weight encoding)':28s} {1000 * res.seconds['lower']:9.1f}")


def matrix(archs: list[str], asm: bool, models: list[str] | None = None, out: str | None = None) -> None:
    """Compile every light model at -O0 and -O2 (no weight encoding); with `asm`, also check the byte-exact
    assembly round trip. Times are CPU seconds of this process (time.process_time) and wall seconds; the load
    average is printed before and after (the machine is shared)."""
    import json

    from compiler.asm import assemble, disassemble

    print(f"load average {os.getloadavg()[0]:.1f} at start", flush=True)
    print(f"{'model':14s} {'arch':16s} {'-O':>2s} {'bundles':>8s} {'host':>4s} {'overhead':>9s} {'cpu s':>7s} "
          f"{'wall s':>7s} {'asm cpu':>7s}  note")
    rows = []
    for path in sorted(glob.glob(str(LIGHT / "light_*.onnx"))):
        model = Path(path).stem.removeprefix("light_")
        if models and model not in models:
            continue
        for arch in archs:
            for level in (0, 2):
                row = {"model": model, "arch": arch, "opt_level": level}
                t0, c0 = time.perf_counter(), time.process_time()
                try:
                    res = compile_model(path, arch, opt_level=level, with_weights=False)
                    s = res.program.stats()
                    row.update(bundles=s["bundles"], host=s["host_partitions"], overhead=s["config_overhead"],
                               cpu_s=time.process_time() - c0, wall_s=time.perf_counter() - t0,
                               passes_s=res.seconds["passes"], lower_s=res.seconds["lower"])
                    note, asm_cpu = "", float("nan")
                    if asm:
                        c1 = time.process_time()
                        binary = res.program.encode()
                        same = assemble(disassemble(res.program)).encode() == binary
                        asm_cpu = time.process_time() - c1
                        row.update(asm_exact=same, asm_cpu_s=asm_cpu)
                        note = "asm round trip exact" if same else "ASM ROUND TRIP DIFFERS"
                    print(f"{model:14s} {arch:16s} {level:2d} {s['bundles']:8d} {s['host_partitions']:4d} "
                          f"{100 * s['config_overhead']:8.3f}% {row['cpu_s']:7.1f} {row['wall_s']:7.1f} "
                          f"{asm_cpu:7.1f}  {note}", flush=True)
                except UserError as exc:
                    row.update(error=str(exc), cpu_s=time.process_time() - c0, wall_s=time.perf_counter() - t0)
                    print(f"{model:14s} {arch:16s} {level:2d} {'-':>8s} {'-':>4s} {'-':>9s} {row['cpu_s']:7.1f} "
                          f"{row['wall_s']:7.1f} {'-':>7s}  {exc}", flush=True)
                rows.append(row)
                if out:
                    Path(out).write_text(json.dumps(rows, indent=1))
    print(f"load average {os.getloadavg()[0]:.1f} at end", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--arch", default="a10_generic")
    ap.add_argument("--no-weights", action="store_true", help="plan only, no weight encoding")
    ap.add_argument("--matrix", action="store_true", help="compile all nine light models at -O0 and -O2")
    ap.add_argument("--archs", default="tiny,a10_generic,dla_alexnet_a10")
    ap.add_argument("--asm", action="store_true", help="with --matrix: check the assembly round trip too")
    ap.add_argument("--models", default="", help="with --matrix: comma-separated subset (e.g. vgg19,zfnet512)")
    ap.add_argument("--json", default="", help="with --matrix: also write the rows to this JSON file")
    args = ap.parse_args()
    if args.matrix:
        matrix(args.archs.split(","), args.asm, [m for m in args.models.split(",") if m], args.json or None)
        return 0
    print(f"compile benchmark (best of {args.repeat}), load average {os.getloadavg()[0]:.1f}")
    rows = []
    for model in ("inception_v1", "resnet50"):
        best = bench(model, args.arch, args.repeat, not args.no_weights)
        table(model, args.arch, best)
        rows.append((model, best["total"]))
    print("\nsummary (target < 1 s each):")
    for model, t in rows:
        print(f"  {model:14s} {t:7.3f} s  {'ok' if t < 1 else 'OVER'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
