"""Overlay latency table cost (issue 9 target: all 15,625 NB201 cells in < 60 s).

    .venv/bin/python bench/bench_nas_latency.py [--cells 600] [--arch a10_generic]

Sweeps a random subset of cells through `latency_table` with the simulator's fast estimate (fresh process, so
the estimate's memo starts empty), reports wall and CPU time per distinct network split into IR build and
estimate, and projects the full sweep (9,445 distinct networks) on one and two free cores.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from hw_models.arch import load_arch  # noqa: E402
from nas.spaces import nb201  # noqa: E402
from nas.spaces.nb201_latency import canonical, latency_table, overlay_latency_fn  # noqa: E402

DISTINCT = 9445


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cells", type=int, default=600)
    p.add_argument("--arch", default="a10_generic")
    a = p.parse_args()
    arch = load_arch(a.arch)
    fn = overlay_latency_fn()
    cells = [int(i) for i in np.random.default_rng(0).choice(nb201.SIZE, a.cells, replace=False)]
    keys = sorted({canonical(nb201.as_ops(i)) for i in cells})
    c0 = time.process_time()
    for k in keys:
        nb201.build_ir(k)
    build_cpu = (time.process_time() - c0) / len(keys)
    t0, c0 = time.perf_counter(), time.process_time()
    table = latency_table(arch, fn, cells=cells)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    per_cpu = cpu / table.distinct
    print(f"{len(cells)} cells, {table.distinct} distinct networks on {a.arch}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'':<34} {'wall ms':>9} {'CPU ms':>8}")
    print(f"{'per distinct network, total':<34} {wall / table.distinct * 1e3:9.2f} {per_cpu * 1e3:8.2f}")
    print(f"{'  of which IR build':<34} {'':>9} {build_cpu * 1e3:8.2f}")
    print(f"{'  of which estimate':<34} {'':>9} {(per_cpu - build_cpu) * 1e3:8.2f}")
    print(f"projected full table ({DISTINCT} networks): {per_cpu * DISTINCT:.0f} s on one free core, "
          f"{per_cpu * DISTINCT / 2:.0f} s with --workers 2 on two (target 60 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
