"""Cost formulas of one bundle's kernels, shared by the cycle model (`simulator.timing`) and the analytical
estimate (`simulator.estimate`) so that both count work the same way. Every architecture number comes from
`hw_models.arch.Arch`; docs/simulator.md states each assumption.

Throughput assumptions (per lane; lanes split the output rows):
- The stream buffer delivers one input entry (c_vector features) x w_vector columns per lane per cycle.
- conv: a dense convolution broadcasts that entry to all k_vector PEs. Every (pass of k_vector filters,
  position) is one accumulation item; the interleaved accumulator takes T = accumulator_threads items at a time
  (a group), and a group takes `entries` cycles, so a tile takes `ceil(passes x positions / T) x T x entries`
  cycles; entries = ceil(c/c_vector) x kh x kw (Winograd reads the w_vector transformed taps of a filter row at
  once: kh x 1), positions = images x row groups x column groups of q_vector (`pe.cols = tile`), of w_vector
  consecutive columns (`wide`: a direct stride-1 convolution on every multiplier column, transforms bypassed)
  or of w_vector images (`images`: one output column, images side by side). Items of consecutive passes share
  a group (each thread carries its own filter address), as the RTL does (rtl/hdl/ovl_conv_ctrl.v); with fewer
  items than T the accumulator waits.
- depthwise: an entry feeds only its c_vector channels, so the k_vector PEs cannot share it: channel blocks
  are processed one after the other.
- bypass: one entry x w_vector columns per lane per cycle.
- crossbar: forwards the PE array's k_vector outputs per lane per cycle to the first aux kernel; it is never the
  limit because every aux kernel (k_vector dividing the PE array's) and the writer are at most that wide.
- aux kernel: `aux.<kernel>.k_vector` channels of one pixel per lane per cycle.
- feature writer: one entry (c_vector features) per lane per cycle into the stream buffer or the DDR port.
- filter reader: every PE's cache takes one entry per cycle, PEs in parallel.
- DDR: `ddr_bytes_per_cycle` (peak x efficiency) shared by all transfers, whole `ddr.word_bytes` words per
  contiguous run, `ddr_latency_cycles` before a read's data arrives.
"""
from __future__ import annotations

import math
from typing import Iterable


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


def conv_positions(arch, n: int, oh: int, ow: int, cols: str = "tile") -> int:
    """Accumulation positions of a tile: what one pass of the PE array's columns covers (docs/isa.md `pe.cols`):
    `tile` q_vector output columns (the Winograd tile; a direct convolution on q_vector of the w_vector
    multiplier columns), `wide` w_vector consecutive output columns (direct, horizontal stride 1), `images`
    w_vector images of one output position (direct, one output column: batched matrix-vector work)."""
    pe = arch.pe_array
    if cols == "wide":
        return n * cdiv(oh, pe.lanes) * cdiv(ow, pe.w_vector)
    if cols == "images":
        return cdiv(n, pe.w_vector) * cdiv(oh, pe.lanes) * ow
    return n * cdiv(oh, pe.lanes) * cdiv(ow, pe.q_vector)


def accumulation_slots(arch, items: int) -> int:
    """Accumulator slots per filter entry for `items` interleaved accumulations: whole groups of T threads."""
    t = arch.accumulator_threads
    return cdiv(items, t) * t


def conv_cycles(arch, *, n: int, oh: int, ow: int, c_count: int, kh: int, kw: int, wino: bool,
                filters_per_group: Iterable[int], cols: str = "tile") -> int:
    """PE-array cycles of a (grouped) convolution tile; `filters_per_group` lists the tile's filters of each
    group it touches (one entry for a dense convolution)."""
    pe = arch.pe_array
    passes = sum(cdiv(f, pe.k_vector) for f in filters_per_group)
    entries = cdiv(c_count, pe.c_vector) * kh * (1 if wino else kw)
    return accumulation_slots(arch, passes * conv_positions(arch, n, oh, ow, cols)) * entries


def depthwise_cycles(arch, *, n: int, k: int, oh: int, ow: int, kh: int, kw: int, cols: str = "tile") -> int:
    return accumulation_slots(arch, cdiv(k, arch.pe_array.c_vector) * conv_positions(arch, n, oh, ow, cols)) * kh * kw


def bypass_cycles(arch, *, n: int, channels: int, rows: int, width: int) -> int:
    pe = arch.pe_array
    return n * cdiv(channels, pe.c_vector) * cdiv(rows, pe.lanes) * cdiv(width, pe.w_vector)


def aux_cycles(arch, kernel_k_vector: int, n: int, c: int, h: int, w: int) -> int:
    return n * cdiv(h, arch.pe_array.lanes) * w * cdiv(c, kernel_k_vector)


def aux_latency(kernel_k_vector: int, c: int) -> int:
    """Input-to-output delay of a streaming aux kernel for the last pixel: its channel vector plus a register."""
    return cdiv(c, kernel_k_vector) + 1


def writer_cycles(arch, n: int, c: int, rows: int, width: int) -> int:
    return n * cdiv(c, arch.pe_array.c_vector) * cdiv(rows, arch.pe_array.lanes) * width


def filter_load_cycles(arch, filters: int, entries: int) -> int:
    return cdiv(filters, arch.pe_array.k_vector) * entries


def transfer_bytes(arch, runs: int, run_bytes: int) -> int:
    """Bytes a DDR transfer occupies: `runs` contiguous runs, each rounded up to whole DDR words."""
    word = arch.ddr.word_bytes
    return runs * cdiv(run_bytes, word) * word


def ddr_cycles(arch, nbytes: float) -> float:
    return nbytes / arch.ddr_bytes_per_cycle


def multiplier_ops(arch, macs: int, wino: bool) -> float:
    """Physical multiplications behind `macs` direct-convolution MACs (Winograd does winograd_factor per multiply)."""
    return macs / arch.winograd_factor if wino else float(macs)


def peak_macs(arch, wino: bool) -> float:
    """Roofline compute peak (direct-equivalent MACs per cycle) for a layer in Winograd or direct mode."""
    return arch.winograd_macs_per_cycle if wino else float(arch.peak_macs_per_cycle)


def ceil_log2(n: int) -> int:
    return max(0, math.ceil(math.log2(n))) if n > 1 else 0
