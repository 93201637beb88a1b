"""On-chip memory mapping: block RAM counts from the device's real aspect ratios, small memories to MLABs.

A buffer of `depth` words of `width_bits` is built from identical blocks of one aspect ratio (depth d x
width w), `ceil(depth / d) * ceil(width_bits / w)` of them; the ratio chosen is the one that needs the fewest
blocks (Quartus does the same for a single-clock RAM that is not split across ratios). Arria 10 M20K ratios
are 512x40 ... 16Kx1 (devices.toml, vendor-verified).
"""
from __future__ import annotations

import math
from functools import lru_cache


@lru_cache(maxsize=4096)
def block_count(depth: int, width_bits: int, shapes: tuple[tuple[int, int], ...]) -> int:
    """Fewest blocks of one aspect ratio holding `depth` x `width_bits`; 0 for an empty buffer."""
    if depth <= 0 or width_bits <= 0:
        return 0
    return min(math.ceil(depth / d) * math.ceil(width_bits / w) for d, w in shapes)


def best_shape(depth: int, width_bits: int, shapes: tuple[tuple[int, int], ...]) -> tuple[int, int]:
    """The aspect ratio `block_count` picks (the first of the cheapest, in the device table's order)."""
    return min(shapes, key=lambda s: math.ceil(depth / s[0]) * math.ceil(width_bits / s[1]))


def mlab_count(depth: int, width_bits: int, *, mlab_depth: int = 32, mlab_width: int = 20) -> int:
    """MLABs (32 x 20 on Arria 10) for a shallow memory: deeper ones are emulated with more MLABs."""
    if depth <= 0 or width_bits <= 0:
        return 0
    return math.ceil(depth / mlab_depth) * math.ceil(width_bits / mlab_width)
