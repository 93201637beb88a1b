"""Machine state of the overlay for the functional simulator: DDR image, stream buffer, filter and bias caches.

Everything is bytes, as in the hardware: the DDR image is a `uint8` array covering the program's regions
(weights, features, config; `Program.regions`), the stream buffer is `stream_buffer.depth` entries of
`c_vector * feature_bytes` bytes, and a raw (4-byte accumulator) block simply occupies `4 / feature_bytes`
consecutive entries (docs/isa.md section 1). Filter and bias caches hold the decoded chunk of each half (bank).

Every access is bounds-checked; an access outside a memory raises `SimulationError` naming the bundle, the
kernel and the field that addressed it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import as_strided

from compiler.errors import ProgramError
from compiler.lowering.formats import feature_dtype, raw_dtype


class SimulationError(ProgramError):
    """A program that addresses memory outside its bounds or breaks an ISA rule while it runs."""


@dataclass
class CacheHalf:
    """One filter-cache half (bank) and its bias-cache half, as decoded by the filter reader."""

    weights: np.ndarray            # (filters, entries, c_vector): float32 values or int8 codes
    bias: np.ndarray | None        # (nbias,) float32 or int32
    loaded_by: int                 # bundle index of the load


@dataclass
class Machine:
    """The overlay's memories for one program run."""

    arch: object
    ddr: np.ndarray                                   # uint8 DDR image, addresses [0, ddr.size)
    sb: np.ndarray                                    # uint8 stream buffer
    cache: list[CacheHalf | None] = field(default_factory=lambda: [None, None])
    weights: tuple[int, int] = (0, 0)                 # [start, end) of the weights blob in DDR
    weights_dirty: bool = False                       # a write touched the weights blob since it was loaded

    @classmethod
    def for_program(cls, program) -> "Machine":
        arch = program.arch
        size = max((base + n for base, n in program.regions.values()), default=0)
        ddr = np.zeros(size, dtype=np.uint8)
        sb = np.zeros(arch.stream_buffer.depth * arch.pe_array.c_vector * entry_elem_bytes(arch), dtype=np.uint8)
        m = cls(arch, ddr, sb)
        m.load_weights(program)
        return m

    def load_weights(self, program) -> None:
        base = program.regions.get("weights", (0, 0))[0]
        data = program.weights or b""
        self.ddr[base:base + len(data)] = np.frombuffer(data, dtype=np.uint8)
        self.weights = (base, base + len(data))
        self.weights_dirty = False

    def reset(self, program) -> None:
        """Power-on state for another run: everything but the weights blob zeroed (reloaded if overwritten)."""
        lo, hi = self.weights
        self.ddr[:lo] = 0
        self.ddr[hi:] = 0
        self.sb[:] = 0
        self.cache = [None, None]
        if self.weights_dirty:
            self.load_weights(program)

    def note_write(self, lo: int, hi: int) -> None:
        """Record a DDR write of bytes [lo, hi) (marks the weights blob dirty when it overlaps it)."""
        if lo < self.weights[1] and self.weights[0] < hi:
            self.weights_dirty = True

    # --- element types ---------------------------------------------------------------------------------------
    @property
    def cv(self) -> int:
        return self.arch.pe_array.c_vector

    @property
    def fdtype(self) -> np.dtype:
        return np.dtype(feature_dtype(self.arch.precision))

    @property
    def rdtype(self) -> np.dtype:
        return np.dtype(raw_dtype(self.arch.precision))

    @property
    def entry_bytes(self) -> int:
        """Bytes of one stream-buffer entry (c_vector features)."""
        return self.cv * self.fdtype.itemsize

    # --- DDR ---------------------------------------------------------------------------------------------------
    def ddr_block(self, addr: int, shape: tuple[int, ...], strides: tuple[int, ...], where: str) -> np.ndarray:
        """A strided uint8 view of DDR (last axis contiguous bytes); raises when any byte lies outside DDR."""
        if any(s <= 0 for s in shape):
            return np.zeros(tuple(max(s, 0) for s in shape), dtype=np.uint8)
        last = addr + sum((s - 1) * st for s, st in zip(shape, strides))
        if addr < 0 or last >= self.ddr.size:
            raise SimulationError(f"{where}: DDR access [{addr:#x}, {last + 1:#x}) lies outside the program's DDR "
                                  f"image of {self.ddr.size:#x} bytes")
        return as_strided(self.ddr[addr:], shape=shape, strides=strides, writeable=True)

    def ddr_bytes(self, addr: int, n: int, where: str) -> np.ndarray:
        if n <= 0:
            return self.ddr[0:0]
        if addr < 0 or addr + n > self.ddr.size:
            raise SimulationError(f"{where}: DDR access [{addr:#x}, {addr + n:#x}) lies outside the program's DDR "
                                  f"image of {self.ddr.size:#x} bytes")
        return self.ddr[addr:addr + n]

    # --- stream buffer -----------------------------------------------------------------------------------------
    def sb_bytes(self, entry: int, nbytes: int, where: str) -> np.ndarray:
        """The stream-buffer bytes starting at entry `entry` (a view), bounds-checked."""
        start = entry * self.entry_bytes
        if entry < 0 or start + nbytes > self.sb.size:
            depth = self.arch.stream_buffer.depth
            need = -(-(start + nbytes) // self.entry_bytes)
            raise SimulationError(f"{where}: stream-buffer access to entries [{entry}, {need}) exceeds the "
                                  f"{depth} entries of stream_buffer.depth")
        return self.sb[start:start + nbytes]

    def sb_tile(self, entry: int, n: int, cb: int, rows: int, width: int, where: str, raw: bool = False
                ) -> np.ndarray:
        """A tile in the stream-buffer tile layout: (n, cb, rows, width, c_vector) of the feature or raw type."""
        dt = self.rdtype if raw else self.fdtype
        count = n * cb * rows * width * self.cv
        return self.sb_bytes(entry, count * dt.itemsize, where).view(dt).reshape(n, cb, rows, width, self.cv)


def entry_elem_bytes(arch) -> int:
    return np.dtype(feature_dtype(arch.precision)).itemsize
