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
from functools import lru_cache
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


def aux_latency(arch, kernel_k_vector: int, c: int) -> int:
    """Input-to-output delay of a streaming aux kernel for the stream's last element: the crossbar forwards
    elements of k_vector channels (the last pass holds c - (passes - 1) x k_vector of them); the kernel takes
    kernel_k_vector of them per cycle into its output register, so the element's last chunk leaves
    ceil(last / kernel_k_vector) cycles after the element arrives (1 when the kernel is as wide as the PE array:
    rtl/hdl/ovl_act.v, ovl_pool.v)."""
    kv = arch.pe_array.k_vector
    last = c - (cdiv(c, kv) - 1) * kv if c > 0 else 0
    return max(1, cdiv(last, kernel_k_vector))


# Pipeline stages of a PE-array bundle outside the PE array (docs/simulator.md "Pipeline fill"; structural counts
# of rtl/hdl/ovl_core.v, one register each, not fitted): the stream-buffer / filter-cache read, the conversion of
# the accumulator to the feature format (two stages: the scale multiply, then round, shift and saturate), the
# exit FIFO in front of the crossbar, and the feature writer's output register (the write itself).
SB_READ_STAGES = 1
OUTPUT_CONVERSION_STAGES = 2
EXIT_FIFO_STAGES = 1
WRITER_STAGES = 1


def pipeline_fill(arch) -> int:
    """Pipeline stages from a conv/depthwise item's slot to its write, without aux kernels: the stages above plus
    `Arch.pe_pipeline_cycles`."""
    return SB_READ_STAGES + arch.pe_pipeline_cycles + OUTPUT_CONVERSION_STAGES + EXIT_FIFO_STAGES + WRITER_STAGES


def conv_fill(arch, items: int) -> int:
    """Cycles from the end of a conv/depthwise bundle's PE stream to its last write, without aux kernels:
    `pipeline_fill` less the idle slots of the last accumulation group (the walker issues whole groups of T
    threads; the last item's slot is `pe_tail` slots before the stream ends). The fast estimate charges
    `pipeline_fill` only (at most T - 1 cycles more per bundle), which keeps its latency affine in a tile's
    item count (nas.compression extrapolates the latency over LSTM frames)."""
    return pipeline_fill(arch) - pe_tail(arch, items)


def pe_tail(arch, items: int) -> int:
    """Idle slots after the last item in the last group of T = accumulator_threads interleaved accumulations."""
    return (-items) % arch.accumulator_threads if items > 0 else 0


def conv_items(arch, *, n: int, oh: int, ow: int, filters_per_group: Iterable[int], cols: str = "tile") -> int:
    """Accumulation items of a conv tile (passes x positions; `conv_cycles` takes them T at a time)."""
    passes = sum(cdiv(f, arch.pe_array.k_vector) for f in filters_per_group)
    return passes * conv_positions(arch, n, oh, ow, cols)


def depthwise_items(arch, *, n: int, k: int, oh: int, ow: int, cols: str = "tile") -> int:
    return cdiv(k, arch.pe_array.c_vector) * conv_positions(arch, n, oh, ow, cols)


def _pool_completions(k: int, s: int, p: int, outs: int, extent: int) -> dict[int, int]:
    """For each input position along one axis: how many pooling windows have it as their last in-input position
    (window o covers o*s - p .. o*s - p + k - 1, clipped to the input)."""
    done: dict[int, int] = {}
    for o in range(outs):
        last = min(o * s - p + k - 1, extent - 1)
        done[last] = done.get(last, 0) + 1
    return done


@lru_cache(maxsize=4096)
def pool_drain(threads: int, entries: int, items: int, n: int, h: int, w: int, kh: int, kw: int, sy: int, sx: int,
               pt: int, pl: int, oh: int, ow: int) -> int:
    """Extra cycles a streaming max pool adds after the stream's last element (docs/simulator.md "Pipeline
    fill"). A pixel completes every window whose last in-input position it is: one window inside the input, but
    at the bottom row and the right column up to ceil-many windows end together (3x3 stride 1 pad 1: two rows x two
    columns at the last pixel). Completed outputs leave one per cycle, so the last one leaves at
    max_i (a_i + completions of items i..last) with a_i the cycle item i leaves the PE array (the T items of a group
    leave on consecutive cycles after the group's last entry); a one-register kernel would take a_last + 1.
    Items map to pixels one to one (image, row, column of the h x w pool input, pass-major); the last
    2 w + T items are evaluated (only the bottom row completes several rows at once)."""
    if items <= 0 or h <= 0 or w <= 0:
        return 0
    rows = _pool_completions(kh, sy, pt, oh, h)
    cols = _pool_completions(kw, sx, pl, ow, w)
    plane = n * h * w

    def leave(i: int) -> int:
        g, t = divmod(i, threads)
        return ((g + 1) * entries - 1) * threads + t

    last = items - 1
    best = None
    suffix = 0
    for i in range(last, max(-1, last - 2 * w - threads), -1):
        q = i % plane
        suffix += rows.get((q // w) % h, 0) * cols.get(q % w, 0)
        cand = leave(i) + suffix
        best = cand if best is None or cand > best else best
    return best - (leave(last) + 1)


def pool_last_burst(kh: int, kw: int, sy: int, sx: int, pt: int, pl: int, oh: int, ow: int, h: int, w: int) -> int:
    """Extra cycles of a max pool's drain from the last pixel's windows alone (they leave one per cycle): the
    approximation of `pool_drain` where items do not map one to one to the pool's input pixels."""
    ry = _pool_completions(kh, sy, pt, oh, h).get(h - 1, 0)
    rx = _pool_completions(kw, sx, pl, ow, w).get(w - 1, 0)
    return max(0, ry * rx - 1)


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


def pool_fill(arch, stream: tuple | None, shape: tuple, window: tuple) -> int:
    """A max pool's extra drain (`pool_drain`) when it is fed by a PE stream whose items are its input pixels one
    to one (one lane, one column per item, the pool's input is the PE output, pass-major); otherwise the burst of
    the last pixel's windows (`pool_last_burst`). `stream` = (items, entries, PE output shape (n, k, oh, ow)) or
    None; `shape` = (n, c, h, w) entering the pool; `window` = (kh, kw, sy, sx, pt, pl, oh, ow) of the pool."""
    n, c, h, w = shape
    kh, kw, sy, sx, pt, pl, oh, ow = window
    pe = arch.pe_array
    if (stream is not None and tuple(stream[2][2:]) == (h, w) and pe.lanes == 1
            and stream[0] == cdiv(c, pe.k_vector) * n * h * w):
        return pool_drain(arch.accumulator_threads, stream[1], stream[0], n, h, w, kh, kw, sy, sx, pt, pl, oh, ow)
    return pool_last_burst(kh, kw, sy, sx, pt, pl, oh, ow, h, w)
