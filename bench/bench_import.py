"""Import + canonicalise time of the onnx wheel's light model-zoo networks (issue 2 target: ResNet-50 and
GoogLeNet under 0.3 s each). Prints medians over repeated runs; the other seven networks are shown for context.

    .venv/bin/python bench/bench_import.py [--repeat 15] [--all]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from compiler.frontend import canonicalize, import_onnx

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
TARGETS = {"light_resnet50.onnx": 0.3, "light_inception_v1.onnx": 0.3}  # inception_v1 is GoogLeNet


def with_random_weights(path: Path, seed: int = 0) -> onnx.ModelProto:
    """The light model with its ConstantOfShape weights replaced by real (random) initializers: the import cost
    of a model with a full set of weights (numpy BatchNorm folding on dense arrays)."""
    rng = np.random.default_rng(seed)
    model = onnx.load(path)
    inits = {t.name: t for t in model.graph.initializer}
    keep = []
    for node in model.graph.node:
        if node.op_type == "ConstantOfShape" and node.input[0] in inits:
            shape = [int(d) for d in numpy_helper.to_array(inits[node.input[0]])]
            data = (0.5 + np.abs(rng.standard_normal(shape))).astype(np.float32)
            model.graph.initializer.append(numpy_helper.from_array(data, node.output[0]))
        else:
            keep.append(node)
    del model.graph.node[:]
    model.graph.node.extend(keep)
    return model


def measure(path: Path | onnx.ModelProto, repeat: int) -> dict[str, float]:
    import_onnx(path)  # warm-up (imports, caches)
    load, imp, canon, total = [], [], [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        if isinstance(path, Path):
            onnx.load(path)
        t1 = time.perf_counter()
        raw = import_onnx(path, canonicalize=False)
        t2 = time.perf_counter()
        canonicalize(raw)
        t3 = time.perf_counter()
        import_onnx(path)
        t4 = time.perf_counter()
        load.append(t1 - t0)
        imp.append(t2 - t1)
        canon.append(t3 - t2)
        total.append(t4 - t3)
    return {k: statistics.median(v) for k, v in (("load", load), ("import", imp), ("canonicalize", canon),
                                                 ("total", total))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--all", action="store_true", help="also time the other seven light networks")
    args = parser.parse_args()
    names = sorted(p.name for p in LIGHT.glob("light_*.onnx")) if args.all else list(TARGETS)
    print(f"median of {args.repeat} runs, seconds; total = import_onnx(path) with canonicalisation (includes load)")
    print(f"{'model':26s} {'nodes':>6s} {'onnx.load':>9s} {'import':>8s} {'canon.':>8s} {'total':>8s} "
          f"{'target':>7s}  ok")
    failed = False
    for name in names:
        m = measure(LIGHT / name, args.repeat)
        nodes = len(import_onnx(LIGHT / name).nodes)
        target = TARGETS.get(name)
        ok = "" if target is None else ("yes" if m["total"] < target else "NO")
        failed |= ok == "NO"
        print(f"{name:26s} {nodes:6d} {m['load']:9.4f} {m['import']:8.4f} {m['canonicalize']:8.4f} "
              f"{m['total']:8.4f} {'' if target is None else f'{target:7.2f}':>7s}  {ok}")
    dense = with_random_weights(LIGHT / "light_resnet50.onnx")
    m = measure(dense, max(3, args.repeat // 3))
    print(f"{'resnet50, dense weights*':26s} {len(import_onnx(dense).nodes):6d} {'-':>9s} {m['import']:8.4f} "
          f"{m['canonicalize']:8.4f} {m['total']:8.4f}")
    print("* light_resnet50 with its 25.5M constant weights replaced by random float32 initializers (102 MB), "
          "parsed from memory")
    if failed:
        raise SystemExit("a target was missed")


if __name__ == "__main__":
    main()
