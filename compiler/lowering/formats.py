"""Number formats and data layouts of the overlay, shared by the compiler and the simulator.

Features in DDR and in the stream buffer use the blocked layout NCHWc (c = c_vector): element (n, c, y, x) of a
tensor viewed as (N, C, H, W) sits at ((((n * CB + c // cv) * H + y) * W + x) * cv + c % cv) elements from the
base, CB = ceil(C / cv); padding channels are zero. Element types: fp32 for the fp32 architecture, fp16 for fp16
and the BFP modes (BFP is applied on chip, at the PE input), int8 for int8 (per-tensor scale). Raw partial sums
are 4-byte fp32 (float modes) or int32 (int8).

A *filter chunk* is what one filter-reader load brings on chip: `filters` filters of `entries` entries of
c_vector weights (see docs/isa.md for the entry order per PE mode), then `nbias` biases:

    [elements: filters*entries*cv values of filter_bits bits, packed LSB first]  pad to a byte
    [exponents (BFP only): filters*entries values of exponent_bits bits, packed LSB first]  pad to 4 bytes
    [bias: nbias x 4 bytes, fp32 (float modes) or int32 (int8)]  pad to a DDR word

Element bits: IEEE fp32/fp16 bits, two's-complement int8, or two's-complement BFP mantissas (sign included).
BFP value = m * 2^(e - bias - (mantissa_bits - 2)), bias = 2^(exponent_bits - 1) - 1, one e per entry
(c_vector weights), e from the largest magnitude of the entry, m rounded half to even and saturated to
+-(2^(mantissa_bits - 1) - 1).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np

from compiler.errors import ProgramError

FEATURE_DTYPES = {"fp32": np.float32, "fp16": np.float16, "bfp16": np.float16, "bfp11": np.float16,
                  "int8": np.int8}


def feature_dtype(precision: str) -> type:
    return FEATURE_DTYPES[precision]


def raw_dtype(precision: str) -> type:
    return np.int32 if precision == "int8" else np.float32


# --- feature views and the blocked layout --------------------------------------------------------------------
def view_of(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The (N, C, H, W) view of a logical tensor shape (row-major compatible: a reshape, no data movement).

    rank 0: (1,1,1,1); rank 1 (C,): (1, C, 1, 1); rank 2 (N, C): (N, C, 1, 1); rank 3 (N, C, L): (N, C, L, 1);
    rank 4: itself; rank > 4 (N, C, *mid, W): (N, C, prod(mid), W).
    """
    r = len(shape)
    if r == 0:
        return (1, 1, 1, 1)
    if r == 1:
        return (1, shape[0], 1, 1)
    if r == 2:
        return (shape[0], shape[1], 1, 1)
    if r == 3:
        return (shape[0], shape[1], shape[2], 1)
    return (shape[0], shape[1], math.prod(shape[2:-1]), shape[-1])


def blocked_shape(view: tuple[int, int, int, int], cv: int) -> tuple[int, int, int, int, int]:
    n, c, h, w = view
    return (n, -(-c // cv), h, w, cv)


def to_blocked(x: np.ndarray, cv: int, dtype=None) -> np.ndarray:
    """A logical array -> its NCHWc array (N, CB, H, W, cv), zero-padded channels."""
    n, c, h, w = view_of(x.shape)
    v = np.asarray(x).reshape(n, c, h, w)
    cb = -(-c // cv)
    out = np.zeros((n, cb * cv, h, w), dtype=dtype or v.dtype)
    out[:, :c] = v
    return np.ascontiguousarray(out.reshape(n, cb, cv, h, w).transpose(0, 1, 3, 4, 2))


def from_blocked(b: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """An NCHWc array -> the logical array of `shape` (padding channels dropped)."""
    n, c, h, w = view_of(shape)
    nb, cb, hb, wb, cv = b.shape
    full = b.transpose(0, 1, 4, 2, 3).reshape(nb, cb * cv, hb, wb)
    return np.ascontiguousarray(full[:n, :c, :h, :w]).reshape(shape)


# --- bit packing ---------------------------------------------------------------------------------------------
def pack_bits(values: np.ndarray, width: int) -> bytes:
    """Pack unsigned integers of `width` bits (1..32) LSB first into ceil(n * width / 8) bytes."""
    v = np.asarray(values).ravel()
    n = v.size
    if n == 0:
        return b""
    if width in (8, 16, 32):
        return v.astype({8: "<u1", 16: "<u2", 32: "<u4"}[width]).tobytes()
    if width == 12:   # BFP16 mantissas: two values in three bytes
        m = v.astype(np.uint16) & np.uint16(0xFFF)
        if n % 2:
            m = np.concatenate([m, np.zeros(1, dtype=np.uint16)])
        a, b = m[0::2], m[1::2]
        out = np.empty((a.size, 3), dtype=np.uint8)
        out[:, 0] = a & 0xFF
        out[:, 1] = (a >> 8) | ((b & 0xF) << 4)
        out[:, 2] = b >> 4
        return out.tobytes()[: -(-n * 12 // 8)]
    g = -(-n // 8)
    pad = np.zeros(g * 8, dtype=np.uint64)
    pad[:n] = v.astype(np.uint64) & np.uint64((1 << width) - 1)
    grp = pad.reshape(g, 8)
    nw = -(-width // 8)  # uint64 words per group of 8 values (8 * width bits)
    out = np.zeros((g, nw), dtype=np.uint64)
    for j in range(8):
        off = j * width
        wi, sh = off // 64, off % 64
        out[:, wi] |= grp[:, j] << np.uint64(sh)
        if sh + width > 64:
            out[:, wi + 1] |= grp[:, j] >> np.uint64(64 - sh)
    raw = out.astype("<u8").view(np.uint8).reshape(g, nw * 8)[:, :width]
    return raw.tobytes()[: -(-n * width // 8)]


def unpack_bits(data: bytes, width: int, n: int) -> np.ndarray:
    """Inverse of `pack_bits`: n unsigned values (uint64)."""
    need = -(-n * width // 8)
    if len(data) < need:
        raise ProgramError(f"packed field of {n} x {width} bits needs {need} bytes, got {len(data)}")
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    if width in (8, 16, 32):
        dt = {8: "<u1", 16: "<u2", 32: "<u4"}[width]
        return np.frombuffer(data[:need], dtype=dt).astype(np.uint64)
    g = -(-n // 8)
    nw = -(-width // 8)
    buf = np.zeros((g, nw * 8), dtype=np.uint8)
    flat = np.frombuffer(data[:need], dtype=np.uint8)
    tmp = np.zeros(g * width, dtype=np.uint8)
    tmp[:need] = flat
    buf[:, :width] = tmp.reshape(g, width)
    words = buf.view("<u8").reshape(g, nw)
    out = np.zeros((g, 8), dtype=np.uint64)
    mask = np.uint64((1 << width) - 1)
    for j in range(8):
        off = j * width
        wi, sh = off // 64, off % 64
        val = words[:, wi] >> np.uint64(sh)
        if sh + width > 64:
            val |= words[:, wi + 1] << np.uint64(64 - sh)
        out[:, j] = val & mask
    return out.ravel()[:n]


# --- block floating point ------------------------------------------------------------------------------------
def _block_absmax(x: np.ndarray) -> np.ndarray:
    """max |x| along the last (short: c_vector) axis; lane by lane, which numpy runs as long vector operations
    (`np.abs(x).max(axis=-1)` reduces 4-64 elements per call and is 4x slower on the weights of a network)."""
    n = x.shape[-1]
    if n < 2 or x.size < 4096:
        return np.abs(x).max(axis=-1)
    ab = np.abs(x.reshape(-1, n))
    out = ab[:, 0].copy()
    for j in range(1, n):
        np.maximum(out, ab[:, j], out=out)
    return out.reshape(x.shape[:-1])


def bfp_encode(x: np.ndarray, mant_bits: int, exp_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Blocks along the last axis -> (mantissas int32 same shape, biased exponents int32 shape[:-1]).

    E = floor(log2(max|x|)) is exact from frexp; x / 2^(E - mb + 2) is exact in float64 (a power-of-two scale),
    so the result does not depend on the input's float width."""
    x = np.asarray(x)
    if x.dtype != np.float32 and x.dtype != np.float64:
        x = x.astype(np.float32)
    bias = (1 << (exp_bits - 1)) - 1
    a = _block_absmax(x)
    _, ex = np.frexp(a)                       # a = f * 2^ex with f in [0.5, 1): floor(log2 a) = ex - 1
    e = np.where(a > 0, ex.astype(np.int32) - 1, -bias)
    e = np.clip(e, -bias, (1 << exp_bits) - 1 - bias)
    # a power-of-two scale: exact in the input's float width (the scaled values stay far from over/underflow)
    scale = np.ldexp(np.ones((), dtype=x.dtype), (mant_bits - 2) - e)[..., None]
    top = (1 << (mant_bits - 1)) - 1
    m = np.rint(x * scale)
    np.clip(m, -top, top, out=m)
    return m.astype(np.int32), (e + bias).astype(np.int32)


def bfp_decode(m: np.ndarray, e: np.ndarray, mant_bits: int, exp_bits: int) -> np.ndarray:
    bias = (1 << (exp_bits - 1)) - 1
    step = np.exp2(e.astype(np.float64) - bias - (mant_bits - 2))[..., None]
    return (m.astype(np.float64) * step).astype(np.float32)


def bfp_quantize(x: np.ndarray, mant_bits: int, exp_bits: int, axis: int = -1) -> np.ndarray:
    """The values a BFP block quantiser produces, blocks along `axis` (the caller blocks c_vector channels)."""
    xm = np.moveaxis(np.asarray(x, dtype=np.float32), axis, -1)
    m, e = bfp_encode(xm, mant_bits, exp_bits)
    return np.moveaxis(bfp_decode(m, e, mant_bits, exp_bits), -1, axis)


# --- filter chunks -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChunkShape:
    filters: int
    entries: int
    nbias: int


def chunk_size(arch, shape: ChunkShape) -> int:
    p, cv = arch.precision_info, arch.pe_array.c_vector
    n = shape.filters * shape.entries * cv
    size = -(-n * p.filter_bits // 8)
    if p.block_exponent:
        size += -(-shape.filters * shape.entries * p.exponent_bits // 8)
    size = -(-size // 4) * 4 + 4 * shape.nbias
    word = arch.ddr.word_bytes
    return -(-size // word) * word


def encode_chunk(arch, weights: np.ndarray, bias: np.ndarray | None) -> bytes:
    """weights (filters, entries, cv) real values (float) or int8 codes (int8 arch); bias (nbias,) or None."""
    p = arch.precision_info
    w = np.asarray(weights)
    f, e, cv = w.shape
    if cv != arch.pe_array.c_vector:
        raise ValueError(f"chunk last axis {cv} != c_vector {arch.pe_array.c_vector}")
    if p.name == "fp32":
        elem = pack_bits(w.astype(np.float32).view(np.uint32), 32)
    elif p.name == "fp16":
        elem = pack_bits(w.astype(np.float16).view(np.uint16), 16)
    elif p.name == "int8":
        elem = pack_bits(w.astype(np.int8).view(np.uint8), 8)
    else:
        m, ex = bfp_encode(w if w.dtype in (np.float32, np.float64) else w.astype(np.float32), p.mantissa_bits,
                           p.exponent_bits)
        elem = pack_bits(m.ravel() & ((1 << p.mantissa_bits) - 1), p.filter_bits)
        elem += pack_bits(ex, p.exponent_bits)
    out = bytearray(elem)
    out += bytes(-len(out) % 4)
    if bias is not None:
        b = np.asarray(bias)
        out += (b.astype("<i4") if p.integer else b.astype("<f4")).tobytes()
    out += bytes(-len(out) % arch.ddr.word_bytes)
    assert len(out) == chunk_size(arch, ChunkShape(f, e, 0 if bias is None else len(bias)))
    return bytes(out)


def decode_chunk(arch, data: bytes, shape: ChunkShape) -> tuple[np.ndarray, np.ndarray | None]:
    """Inverse of `encode_chunk`: (weights (filters, entries, cv) float32 or int8, bias float32/int32 or None)."""
    p, cv = arch.precision_info, arch.pe_array.c_vector
    if len(data) < chunk_size(arch, shape):
        raise ProgramError(f"filter chunk needs {chunk_size(arch, shape)} bytes, got {len(data)}")
    n = shape.filters * shape.entries * cv
    nbytes = -(-n * p.filter_bits // 8)
    raw = unpack_bits(data[:nbytes], p.filter_bits, n)
    pos = nbytes
    if p.name == "fp32":
        w = raw.astype(np.uint32).view(np.float32)
    elif p.name == "fp16":
        w = raw.astype(np.uint16).view(np.float16).astype(np.float32)
    elif p.name == "int8":
        w = raw.astype(np.uint8).view(np.int8)
    else:
        mb = p.mantissa_bits
        m = raw.astype(np.int64)
        m = np.where(m >> (mb - 1), m - (1 << mb), m)
        nblk = shape.filters * shape.entries
        eb = -(-nblk * p.exponent_bits // 8)
        ex = unpack_bits(data[pos:pos + eb], p.exponent_bits, nblk).astype(np.int64)
        pos += eb
        w = bfp_decode(m.reshape(nblk, cv), ex, mb, p.exponent_bits)
    pos = -(-pos // 4) * 4
    w = w.reshape(shape.filters, shape.entries, cv)
    bias = None
    if shape.nbias:
        b = np.frombuffer(data[pos:pos + 4 * shape.nbias], dtype="<i4" if p.integer else "<f4")
        bias = b.astype(np.int32 if p.integer else np.float32)
    return w, bias


def quantize_filters(arch, weights: np.ndarray) -> np.ndarray:
    """The real values the PE array sees for float filters of shape (..., cv) (identity for fp32)."""
    p = arch.precision_info
    w = np.asarray(weights, dtype=np.float32)
    if p.name == "fp32":
        return w
    if p.name == "fp16":
        return w.astype(np.float16).astype(np.float32)
    if p.block_exponent:
        return bfp_quantize(w, p.mantissa_bits, p.exponent_bits)
    raise ValueError("int8 filters are integer codes; quantise with a scale")


# --- int8 arithmetic -----------------------------------------------------------------------------------------
def rshift_round(x: np.ndarray, shift: int) -> np.ndarray:
    """(x + 2^(shift-1)) >> shift with an arithmetic shift (int64); x itself when shift == 0."""
    x = np.asarray(x, dtype=np.int64)
    if shift == 0:
        return x
    return (x + (1 << (shift - 1))) >> shift


def sat8(x: np.ndarray) -> np.ndarray:
    return np.clip(x, -128, 127).astype(np.int8)


def requant_params(ratio: float, mult_bits: int = 16, max_shift: int = 63) -> tuple[int, int]:
    """(mult, shift) with mult < 2^(mult_bits - 1)... as large as fits, so that mult / 2^shift ~= ratio."""
    if ratio <= 0:
        return 0, 0
    top = (1 << (mult_bits - 1)) - 1
    shift = 0
    while shift < max_shift and ratio * (1 << (shift + 1)) <= top:
        shift += 1
    mult = int(round(ratio * (1 << shift)))
    while mult > top and shift > 0:
        shift -= 1
        mult = int(round(ratio * (1 << shift)))
    return min(mult, (1 << mult_bits) - 1), shift


def round_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Integer division rounding half away from zero (int8 average pooling)."""
    num = np.asarray(num, dtype=np.int64)
    den = np.asarray(den, dtype=np.int64)
    q = (2 * np.abs(num) + den) // (2 * den)
    return np.where(num < 0, -q, q)


# --- Winograd --------------------------------------------------------------------------------------------------
def _points(n: int) -> list[Fraction]:
    pts = [Fraction(0)]
    k = 1
    while len(pts) < n:
        for v in (Fraction(k), Fraction(-k), Fraction(1, k + 1), Fraction(-1, k + 1)):
            if v not in pts and len(pts) < n:
                pts.append(v)
        k += 1
    return pts


@lru_cache(maxsize=16)
def winograd_matrices(q: int, r: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cook-Toom F(q, r): (AT (q x a), G (a x r), BT (a x a)), a = q + r - 1, points 0, +-1, +-2, +-1/2, ... and
    infinity. y = AT @ ((G @ g) * (BT @ d)) computes the q outputs of the valid correlation of d (a) with g (r).
    """
    a = q + r - 1
    pts = _points(a - 1)

    def poly_mul(p1: list[Fraction], p2: list[Fraction]) -> list[Fraction]:
        out = [Fraction(0)] * (len(p1) + len(p2) - 1)
        for i, x in enumerate(p1):
            for j, y in enumerate(p2):
                out[i + j] += x * y
        return out

    # Lagrange basis over the finite points; the point at infinity handles the top coefficient.
    m = a - 1
    M = [Fraction(1)]
    for p in pts:
        M = poly_mul(M, [-p, Fraction(1)])
    # Toom-Cook for linear convolution of g (r) and x (q): s = g * x (length a), evaluate/interpolate.
    # Correlation y_i = sum_k d_{i+k} g_k is the transpose of that convolution (matrices swap roles).
    V = [[p ** j for j in range(a)] for p in pts]  # evaluation of a length-a polynomial at finite points
    Gm = [[p ** j for j in range(r)] for p in pts] + [[Fraction(int(j == r - 1)) for j in range(r)]]
    Am = [[p ** j for j in range(q)] for p in pts] + [[Fraction(int(j == q - 1)) for j in range(q)]]
    # interpolation: coefficients of s from values at pts and s_{a-1} (the infinity value)
    # s(x) = sum_i v_i L_i(x) + s_top * M(x), L_i Lagrange basis of degree m-1 over pts
    C = [[Fraction(0)] * a for _ in range(a)]  # C[j][i]: coefficient j of s from value i
    for i, p in enumerate(pts):
        L = [Fraction(1)]
        den = Fraction(1)
        for k, pk in enumerate(pts):
            if k != i:
                L = poly_mul(L, [-pk, Fraction(1)])
                den *= p - pk
        for j, c in enumerate(L):
            C[j][i] += c / den
    for j, c in enumerate(M):
        C[j][a - 1] += c
    del V, m
    # convolution: s = C @ ((Gm g) * (Am x)); correlation y = Am^T ((Gm g) * (C^T d))
    AT = np.array([[float(Am[i][j]) for i in range(a)] for j in range(q)])
    G = np.array([[float(x) for x in row] for row in Gm])
    BT = np.array([[float(C[j][i]) for j in range(a)] for i in range(a)])
    return AT, G, BT


def winograd_filters(w: np.ndarray, q: int) -> np.ndarray:
    """Transform 3-wide filters along the last axis: (..., 3) -> (..., q + 2)."""
    _, G, _ = winograd_matrices(q, 3)
    return np.asarray(w, dtype=np.float64) @ G.T
