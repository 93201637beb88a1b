"""NB201 / DARTS direct IR build time (issue 9 target: < 2 ms per NB201 network).

    .venv/bin/python bench/bench_nas_ir.py [--cells 2000] [--repeat 3]

Prints per-network build time, wall and CPU (median of repeats of a sweep over random cells, and the largest
cell), the
distinct-network sweep cost of the latency table without any latency model, and the load average.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from nas.spaces import darts, nb201  # noqa: E402
from nas.spaces.nb201_latency import canonical  # noqa: E402

FULL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def per_call(fn, items, repeat: int) -> tuple[float, float]:
    """(wall, CPU) seconds per call, medians over repeats; CPU time excludes waiting for a shared core."""
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        for it in items:
            fn(it)
        wall.append((time.perf_counter() - t0) / len(items))
        cpu.append((time.process_time() - c0) / len(items))
    return float(np.median(wall)), float(np.median(cpu))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=2000)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    nb201.ops_matrix()  # load the index table once
    rng = np.random.default_rng(0)
    cells = [int(i) for i in rng.choice(nb201.SIZE, a.cells, replace=False)]
    rows = [
        ("nb201 build_ir, random cells (pruned)", per_call(nb201.build_ir, cells, a.repeat)),
        ("nb201 build_ir, random cells, prune=False", per_call(lambda i: nb201.build_ir(i, prune=False), cells,
                                                               a.repeat)),
        ("nb201 build_ir, all-conv3x3 cell (largest)", per_call(nb201.build_ir, [FULL] * 200, a.repeat)),
        ("darts build_ir, DARTS_V2 (C=36, 20 cells)", per_call(darts.build_ir, [darts.DARTS_V2] * 20, a.repeat)),
    ]
    t0, c0 = time.perf_counter(), time.process_time()
    keys = {canonical(tuple(int(k) for k in r)) for r in nb201.ops_matrix()}
    for k in keys:
        nb201.build_ir(k)
    sweep, sweep_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'what':<48} {'wall ms/network':>16} {'CPU ms/network':>15}")
    for name, (w, c) in rows:
        print(f"{name:<48} {w * 1e3:16.3f} {c * 1e3:15.3f}")
    print(f"latency-table sweep without a model: {len(keys)} distinct networks built in {sweep:.1f} s wall, "
          f"{sweep_cpu:.1f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
