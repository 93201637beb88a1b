"""Resumable batch job: zero-cost proxies for many NB201 cells, one CSV row per cell, appended as it goes.

    python -m nas.proxies.batch --sample 1000 --sample-seed 0 --naslib cifar10 -o nas/data/nb201_proxies.csv

Rerunning the same command skips the cells already in the file, so a killed job resumes where it stopped.
(`ovl nas proxies batch` is the same job.)
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from nas.proxies import PROXIES, ProxyError, check_names

COLUMNS = ("index", "arch_str", "source") + PROXIES + ("seconds",)


def select_cells(sample: int, sample_seed: int = 0, naslib: str | None = None) -> list[tuple[int, str]]:
    """(NB201 index, source) pairs: `sample` cells drawn uniformly without replacement with
    `numpy.random.default_rng(sample_seed)`, then the cells of NASLib's sample for dataset `naslib` that are
    not already drawn. Source is 'random', 'naslib' or 'random+naslib'."""
    from nas.data import NB201_SIZE, naslib_zc
    from nas.spaces import nb201

    if not 0 <= sample <= NB201_SIZE:
        raise ProxyError(f"--sample {sample} is out of range 0..{NB201_SIZE}")
    drawn = [int(i) for i in np.random.default_rng(sample_seed).choice(NB201_SIZE, sample, replace=False)]
    theirs = [nb201.to_index(s) for s in naslib_zc(naslib)["arch_str"]] if naslib else []
    their_set = set(theirs)
    cells = [(i, "random+naslib" if i in their_set else "random") for i in drawn]
    seen = set(drawn)
    cells += [(i, "naslib") for i in theirs if not (i in seen or seen.add(i))]
    return cells


def done_indices(path: Path) -> set[int]:
    if not path.exists():
        return set()
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None:
            return set()
        if tuple(reader.fieldnames) != COLUMNS:
            raise ProxyError(f"'{path}' has columns {reader.fieldnames}, not a proxy score file of this version; "
                             f"choose another output file")
        return {int(r["index"]) for r in reader}


def run_batch(cells: Sequence[tuple[int, str]], out: Path, *, names: Sequence[str] = PROXIES,
              progress: Callable[[int, int], None] | None = None) -> int:
    """Score every cell not yet in `out` and append its row (flushed per cell). Returns the number scored.
    Columns of proxies not in `names` are left empty."""
    from nas.proxies import cifar10_batch, nb201_proxies
    from nas.spaces import nb201

    names = check_names(names, PROXIES)
    done = done_indices(out)
    todo = [(i, src) for i, src in cells if i not in done]
    batch = cifar10_batch(64, seed=0)
    new = not out.exists() or out.stat().st_size == 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(COLUMNS)
        for k, (i, src) in enumerate(todo):
            t = time.perf_counter()
            scores = nb201_proxies(i, names, batch=batch)
            row = [i, nb201.to_str(nb201.as_ops(i)), src]
            row += [repr(scores[n]) if n in scores else "" for n in PROXIES]
            row.append(f"{time.perf_counter() - t:.3f}")
            writer.writerow(row)
            f.flush()
            if progress:
                progress(k + 1, len(todo))
    return len(todo)


def merge_files(paths: Sequence[Path], out: Path, cells: Sequence[tuple[int, str]] | None = None) -> int:
    """Union of score files by cell (a cell keeps the row of the first file that has it; a `random+naslib`
    source label wins over `naslib`), written to `out` in first-seen order. With `cells` (from `select_cells`),
    rows are written in that order with its source labels instead, and a row of a cell not in `cells` is an
    error. Returns the number of rows."""
    rows: dict[str, list[str]] = {}
    for path in paths:
        done_indices(path)  # checks the header
        with open(path, newline="") as f:
            for r in list(csv.reader(f))[1:]:
                if r[0] not in rows:
                    rows[r[0]] = r
                elif "random" in r[2] and "random" not in rows[r[0]][2]:
                    rows[r[0]][2] = r[2]
    if cells is not None:
        ordered = {str(i): src for i, src in cells}
        extra = sorted(set(rows) - set(ordered), key=int)
        if extra:
            raise ProxyError(f"score files hold {len(extra)} cells outside the selection (e.g. index {extra[0]}); "
                             f"merge them without a selection or with the selection that wrote them")
        rows = {i: rows[i][:2] + [src] + rows[i][3:] for i, src in ordered.items() if i in rows}
    tmp = out.with_suffix(out.suffix + ".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        w.writerows(rows.values())
    tmp.replace(out)
    return len(rows)


def read_scores(path: Path) -> dict[str, np.ndarray]:
    """A score file as arrays: 'index' (int), 'arch_str', 'source' (object), one float array per proxy."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    out: dict[str, np.ndarray] = {"index": np.array([int(r["index"]) for r in rows], dtype=np.int64),
                                  "arch_str": np.array([r["arch_str"] for r in rows], dtype=object),
                                  "source": np.array([r["source"] for r in rows], dtype=object)}
    for n in PROXIES + ("seconds",):
        out[n] = np.array([float(r[n]) if r[n] != "" else np.nan for r in rows])
    return out


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sample", type=int, default=1000, help="random NB201 cells to score (default 1000)")
    p.add_argument("--sample-seed", type=int, default=0, help="seed of the random draw (default 0)")
    p.add_argument("--naslib", choices=("cifar10", "cifar100", "ImageNet16-120"), default=None,
                   help="also score the cells of NASLib's zero-cost sample for this dataset")
    p.add_argument("--proxies", nargs="+", default=list(PROXIES), metavar="NAME",
                   help=f"proxies to compute (default all: {' '.join(PROXIES)})")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads for this process")
    p.add_argument("--reverse", action="store_true",
                   help="score the selected cells last-first (a second worker on its own output file; merge "
                        "the files afterwards with `nas.proxies.batch.merge_files`)")
    p.add_argument("--shard", default=None, metavar="K/N",
                   help="score only every N-th selected cell starting at the K-th (0 <= K < N), e.g. two "
                        "workers with --shard 0/2 and --shard 1/2 on their own output files, merged afterwards")
    p.add_argument("-o", "--output", type=Path, required=True, help="CSV file; resumed if it exists")


def parse_shard(text: str) -> tuple[int, int]:
    """'K/N' -> (K, N) with 0 <= K < N."""
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise ProxyError(f"--shard '{text}' is not of the form K/N (e.g. 0/2)") from None
    if not 0 <= k < n:
        raise ProxyError(f"--shard '{text}': need 0 <= K < N")
    return k, n


def tune_allocator() -> bool:
    """glibc only, for a process that does nothing but score cells: serve tensors up to 32 MiB from the heap and
    keep freed heap memory (mallopt M_MMAP_THRESHOLD, M_TRIM_THRESHOLD) instead of an mmap/munmap and fresh page
    faults per large tensor. Measured: ~35 % fewer page faults, 0.06-0.10 CPU s less system time per NB201 cell.
    Process-wide, so only the batch job's entry point calls it. Returns whether it was applied."""
    import ctypes

    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    return bool(mallopt(M_MMAP_THRESHOLD, 32 << 20)) and bool(mallopt(M_TRIM_THRESHOLD, 1 << 30))


def run(args: argparse.Namespace) -> int:
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    tune_allocator()
    cells = select_cells(args.sample, args.sample_seed, args.naslib)
    if args.reverse:
        cells = cells[::-1]
    if args.shard:
        k, n = parse_shard(args.shard)
        cells = cells[k::n]
    start = time.perf_counter()

    def progress(k: int, n: int) -> None:
        if k == 1 or k % 25 == 0 or k == n:
            el = time.perf_counter() - start
            print(f"{k}/{n} cells, {el:.0f} s, {el / k:.2f} s/cell", file=sys.stderr, flush=True)

    n = run_batch(cells, args.output, names=args.proxies, progress=progress)
    print(f"scored {n} new cells into {args.output} ({len(cells)} requested)")
    return 0


def main(argv: Iterable[str] | None = None) -> int:
    from compiler.errors import UserError

    p = argparse.ArgumentParser(prog="python -m nas.proxies.batch", description=__doc__.splitlines()[0])
    configure(p)
    args = p.parse_args(None if argv is None else list(argv))
    try:
        return run(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
