"""Progress bars for long operations (searches, sweeps, latency tables), shared by every module.

    for cand in progress(candidates, desc="latency table", quiet=args.quiet):
        ...
    bar = progress(total=n, desc="search", unit="trial")   # manual: bar.update(k); bar.set_postfix(...)

A tqdm bar on stderr with count, rate and ETA. It is silent when `quiet=True` or when stderr is not a terminal
(logs, CI, pipes), and then costs almost nothing per update.
"""
from __future__ import annotations

import sys
from typing import Iterable, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def bars_enabled(quiet: bool = False) -> bool:
    """Whether a bar would be drawn: not quiet and stderr is a terminal."""
    if quiet:
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def progress(iterable: Iterable[T] | None = None, *, total: int | None = None, desc: str | None = None,
             quiet: bool = False, unit: str = "it", initial: int = 0) -> "tqdm[T]":
    """A tqdm bar over `iterable` (or a manual one when None). `initial` starts a resumed count part way."""
    if total is None and iterable is not None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, disable=not bars_enabled(quiet),
                file=sys.stderr, dynamic_ncols=True, smoothing=0.1)
