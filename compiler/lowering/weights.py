"""The weights blob: filter chunks of every group tile (formats.encode_chunk) and int8 activation tables.

Chunks are laid out in the order bundles first load them, each at a DDR-word boundary. A graph without weight
data (shapes only) gets the same layout and sizes but no bytes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from compiler.ir import Graph
from compiler.lowering.formats import ChunkShape, chunk_size, encode_chunk, sat8, winograd_filters
from compiler.lowering.geometry import GroupGeo
from compiler.lowering.tiling import Tile


@dataclass
class Blob:
    word: int
    with_data: bool
    size: int = 0
    parts: list[bytes] = field(default_factory=list)
    index: dict[tuple, tuple[int, int]] = field(default_factory=dict)

    def add(self, key: tuple, nbytes: int, make: Callable[[], bytes] | None) -> tuple[int, int]:
        """(offset, bytes) of the item `key`, appended on first use."""
        if key in self.index:
            return self.index[key]
        off = self.size
        if self.with_data and make is not None:
            data = make()
            assert len(data) == nbytes, (key, len(data), nbytes)
            self.parts.append(data)
            pad = -nbytes % self.word
            if pad:
                self.parts.append(bytes(pad))
        self.size += -(-nbytes // self.word) * self.word
        self.index[key] = (off, nbytes)
        return off, nbytes

    def data(self) -> bytes | None:
        return b"".join(self.parts) if self.with_data else None


def chunk_shape(geo: GroupGeo, tile: Tile, cv: int, with_bias: bool) -> ChunkShape:
    pe = geo.pe
    kt = tile.k1 - tile.k0
    nbias = kt if (with_bias and tile.first_slice) else 0
    if pe.kind == "dw":
        return ChunkShape(-(-kt // cv), pe.kh * pe.kw, nbias)
    return ChunkShape(kt, -(-tile.c_count // cv) * pe.kh * geo.kwp, nbias)


def layer_weights(g: Graph, geo: GroupGeo) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(K, C/groups, kh, kw) float weights and (K,) bias of the PE node, or None without data."""
    w = g.tensors[geo.weight]
    b = g.tensors[geo.bias] if geo.bias else None
    if w.data is None or (b is not None and b.data is None):
        return None, None
    W = np.asarray(w.data)
    if geo.fc:
        pe = geo.pe
        W = W.reshape(W.shape[0], pe.cin, pe.hin, pe.win)
    return W, (None if b is None else np.asarray(b.data, dtype=np.float64))


def chunk_arrays(geo: GroupGeo, W: np.ndarray, bias: np.ndarray | None, tile: Tile, cv: int, q: int
                 ) -> tuple[np.ndarray, np.ndarray | None]:
    """(filters, entries, cv) real-valued weights and the chunk's biases for one tile."""
    pe = geo.pe
    k0, k1 = tile.k0, tile.k1
    kt = k1 - k0
    b = None if (bias is None or not tile.first_slice) else bias[k0:k1]
    if pe.kind == "dw":
        blocks = -(-kt // cv)
        wd = np.zeros((blocks * cv, pe.kh * pe.kw), dtype=np.float32)
        wd[:kt] = np.asarray(W[k0:k1, 0], dtype=np.float32).reshape(kt, -1)
        return wd.reshape(blocks, cv, -1).transpose(0, 2, 1), b
    wt = np.asarray(W[k0:k1, tile.c_offset:tile.c_offset + tile.c_count], dtype=np.float32)
    if geo.wino:
        wt = winograd_filters(wt, q)
    cb = -(-tile.c_count // cv)
    full = np.zeros((kt, cb * cv) + wt.shape[2:], dtype=wt.dtype)
    full[:, :tile.c_count] = wt
    full = full.reshape(kt, cb, cv, pe.kh, geo.kwp).transpose(0, 1, 3, 4, 2)
    return full.reshape(kt, cb * pe.kh * geo.kwp, cv), b


def encode_tile_chunk(arch, geo: GroupGeo, W, bias, tile: Tile, int8: tuple[float, float] | None) -> bytes:
    """The bytes of a tile's chunk; `int8` = (input scale, weight scale) for the int8 architecture."""
    cv = arch.pe_array.c_vector
    w, b = chunk_arrays(geo, W, bias, tile, cv, arch.pe_array.q_vector)
    if int8 is not None:
        s_in, s_w = int8
        w = sat8(np.rint(w / s_w))
        b = None if b is None else np.rint(b / (s_in * s_w)).clip(-2 ** 31, 2 ** 31 - 1).astype(np.int64)
    return encode_chunk(arch, w, b)


def tile_chunk_size(arch, geo: GroupGeo, tile: Tile, with_bias: bool) -> int:
    return chunk_size(arch, chunk_shape(geo, tile, arch.pe_array.c_vector, with_bias))


ACT_REF = {
    "identity": lambda x: x,
    "relu": lambda x: np.maximum(x, 0),
    "relu6": lambda x: np.clip(x, 0, 6),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
}


def act_reference(fn: str, alpha: float, beta: float) -> Callable[[np.ndarray], np.ndarray]:
    """The float function of an activation-kernel mode (docs/isa.md section 5.1)."""
    if fn == "leaky_relu":
        return lambda x: np.where(x >= 0, x, alpha * x)
    if fn == "clip":
        return lambda x: np.clip(x, alpha, beta)
    if fn == "hard_sigmoid":
        return lambda x: np.clip(alpha * x + beta, 0, 1)
    if fn == "hard_swish":
        return lambda x: x * np.clip(x / 6 + 0.5, 0, 1)
    return ACT_REF[fn]


def lut_bytes(fn: str, alpha: float, beta: float, s_in: float, s_out: float) -> bytes:
    """256-byte int8 table T[q + 128] = sat8(rne(f(q * s_in) / s_out))."""
    q = np.arange(-128, 128, dtype=np.float64)
    y = act_reference(fn, alpha, beta)(q * s_in)
    return sat8(np.rint(y / s_out)).tobytes()
