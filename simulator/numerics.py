"""Array kernels of the functional simulator: convolution (direct, 1-D Winograd, depthwise), pooling, LRN,
activations, softmax and depth-to-space, on logical (N, C, H, W) arrays.

These are plain numpy (BLAS matrix products over strided window views); the ISA handlers in
`simulator.functional` decide which values go in (stream-buffer tiles, cached filters) and how results are
rounded. Float kernels compute in float32 (float64 for the exact int8 sums), like the PE array's fp32
accumulators.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from compiler.lowering.formats import round_div, winograd_matrices


def pad_nchw(x: np.ndarray, pt: int, pb: int, pl: int, pr: int, value: float = 0.0) -> np.ndarray:
    if not (pt or pb or pl or pr):
        return np.ascontiguousarray(x)
    n, c, h, w = x.shape
    out = np.full((n, c, h + pt + pb, w + pl + pr), value, dtype=x.dtype)
    out[:, :, pt:pt + h, pl:pl + w] = x
    return out


def windows(xp: np.ndarray, kh: int, kw: int, sy: int, sx: int, dy: int, dx: int, oh: int, ow: int) -> np.ndarray:
    """Read-only view (N, C, oh, ow, kh, kw) of the windows of a padded, C-contiguous (N, C, Hp, Wp) array."""
    s0, s1, s2, s3 = xp.strides
    return as_strided(xp, shape=(xp.shape[0], xp.shape[1], oh, ow, kh, kw),
                      strides=(s0, s1, sy * s2, sx * s3, dy * s2, dx * s3), writeable=False)


def conv2d(xp: np.ndarray, w: np.ndarray, sy: int, sx: int, dy: int, dx: int, oh: int, ow: int,
           acc: type = np.float32) -> np.ndarray:
    """Direct convolution (cross-correlation) of a padded input (N, C, Hp, Wp) with w (F, C, kh, kw) -> (N, F, oh, ow).

    The sum runs in `acc`: float32 models an fp32 accumulator; float64 gives sums that do not depend on the
    summation order once rounded to fp32 (the FP32 reference mode) and exact int32 sums of int8 codes."""
    n, c = xp.shape[:2]
    f, _, kh, kw = w.shape
    xp = np.ascontiguousarray(xp, dtype=acc)
    wm = np.ascontiguousarray(w, dtype=acc).reshape(f, c * kh * kw)
    if kh == kw == 1:
        cols = np.ascontiguousarray(xp[:, :, 0:(oh - 1) * sy + 1:sy, 0:(ow - 1) * sx + 1:sx]).reshape(n, c, oh * ow)
        out = np.empty((n, f, oh * ow), dtype=acc)
        for i in range(n):                                                      # 2-D products run on BLAS
            np.matmul(wm, cols[i], out=out[i])
        return out.reshape(n, f, oh, ow)
    if sy == sx == 1 and 16 * (xp.shape[3] - ow) < xp.shape[3]:
        return _conv2d_rows(xp, wm, kh, kw, dy, dx, oh, ow)
    return _conv2d_taps(xp, wm, kh, kw, sy, sx, dy, dx, oh, ow)


def _conv2d_taps(xp: np.ndarray, wm: np.ndarray, kh: int, kw: int, sy: int, sx: int, dy: int, dx: int, oh: int,
                 ow: int) -> np.ndarray:
    """Convolution as one matrix product (F, C*kh*kw) x (C*kh*kw, oh*ow) whose right operand is built with one
    strided slice copy per tap, in the order the filter matrix's columns need (no transposed im2col, and the
    product comes out as (N, F, oh, ow)). Used for strides > 1 and for maps whose padding columns would waste more
    than 1/16 of `_conv2d_rows`' products (measured on ResNet-50's shapes: 41-59 -> 73-103 GFLOP/s for stride-2
    3x3 and 7x7 layers, 63 -> 83 for 7x7 maps)."""
    n, c = xp.shape[:2]
    f = wm.shape[0]
    cols = np.empty((n, c, kh * kw, oh, ow), dtype=xp.dtype)
    for ky in range(kh):
        for kx in range(kw):
            y0, x0 = ky * dy, kx * dx
            cols[:, :, ky * kw + kx] = xp[:, :, y0:y0 + (oh - 1) * sy + 1:sy, x0:x0 + (ow - 1) * sx + 1:sx]
    out = np.empty((n, f, oh * ow), dtype=xp.dtype)
    for i in range(n):                                                          # 2-D products run on BLAS
        np.matmul(wm, cols[i].reshape(c * kh * kw, oh * ow), out=out[i])
    return out.reshape(n, f, oh, ow)


def _conv2d_rows(xp: np.ndarray, wm: np.ndarray, kh: int, kw: int, dy: int, dx: int, oh: int, ow: int
                 ) -> np.ndarray:
    """Stride-1 convolution as one matrix product over whole padded rows: tap (ky, kx) of output (oy, ox) is
    element (oy + ky*dy) * Wp + ox + kx*dx of the flattened padded plane, so every tap is a contiguous slice
    (fast copies instead of a strided im2col); the Wp - ow extra columns per row are computed and dropped."""
    n, c, hp, wp = xp.shape
    f = wm.shape[0]
    span = oh * wp
    flat = np.zeros((n, c, hp * wp + (kw - 1) * dx), dtype=xp.dtype)
    flat[:, :, :hp * wp] = xp.reshape(n, c, hp * wp)
    cols = np.empty((n, c, kh * kw, span), dtype=xp.dtype)
    for ky in range(kh):
        for kx in range(kw):
            off = ky * dy * wp + kx * dx
            cols[:, :, ky * kw + kx] = flat[:, :, off:off + span]
    out = np.empty((n, f, span), dtype=xp.dtype)
    for i in range(n):
        np.matmul(wm, cols[i].reshape(c * kh * kw, span), out=out[i])
    return np.ascontiguousarray(out.reshape(n, f, oh, wp)[..., :ow])


def conv2d_winograd(xp: np.ndarray, u: np.ndarray, q: int, sy: int, dy: int, oh: int, ow: int) -> np.ndarray:
    """1-D Winograd F(q, 3) along the width (docs/isa.md section 4).

    xp: padded input (N, C, Hp, Wp); u: transformed filters (F, C, kh, q + 2). Output column groups start at
    0, q, 2q, ...; each reads q + 2 columns, zero beyond the padded tile; outputs at or beyond `ow` are dropped."""
    at, _, bt = winograd_matrices(q, 3)
    a = q + 2
    n, c, hp, wp = xp.shape
    f, _, kh, _ = u.shape
    groups = -(-ow // q)
    need = (groups - 1) * q + a
    x = np.zeros((n, c, hp, max(wp, need)), dtype=np.float32)
    x[..., :wp] = xp
    s0, s1, s2, s3 = x.strides
    # d[n, c, oy, ky, g, t] = x[n, c, oy*sy + ky*dy, g*q + t]
    d = as_strided(x, shape=(n, c, oh, kh, groups, a), strides=(s0, s1, sy * s2, dy * s2, q * s3, s3),
                   writeable=False)
    v = np.matmul(d, bt.T.astype(np.float32))                                   # (n, c, oh, kh, g, a)
    v = np.ascontiguousarray(v.transpose(5, 0, 2, 4, 1, 3)).reshape(a, n * oh * groups, c * kh)
    um = np.ascontiguousarray(u.transpose(3, 1, 2, 0), dtype=np.float32).reshape(a, c * kh, f)
    m = np.matmul(v, um)                                                        # (a, n*oh*g, f)
    y = np.tensordot(at.astype(np.float32), m, axes=(1, 0))                     # (q, n*oh*g, f)
    y = y.reshape(q, n, oh, groups, f).transpose(1, 4, 2, 3, 0).reshape(n, f, oh, groups * q)
    return np.ascontiguousarray(y[..., :ow])


def depthwise(xp: np.ndarray, w: np.ndarray, sy: int, sx: int, dy: int, dx: int, oh: int, ow: int,
              acc: type = np.float32) -> np.ndarray:
    """Per-channel convolution: xp (N, F, Hp, Wp) already holds each filter's input channel; w (F, kh, kw)."""
    n, f = xp.shape[:2]
    _, kh, kw = w.shape
    xp = np.ascontiguousarray(xp, dtype=acc)
    win = windows(xp, kh, kw, sy, sx, dy, dx, oh, ow)
    out = np.zeros((n, f, oh, ow), dtype=acc)
    wa = w.astype(acc)
    for i in range(kh):
        for j in range(kw):
            out += win[..., i, j] * wa[None, :, i, j, None, None]
    return out


# --- pooling ---------------------------------------------------------------------------------------------------
def _pool_extent(size: int, k: int, s: int, p0: int, o: int) -> int:
    """Zero/neutral elements needed after the input so that every window of the o outputs lies inside."""
    return max(0, (o - 1) * s - p0 + k - size)


def pool(x: np.ndarray, kind: str, kh: int, kw: int, sy: int, sx: int, pt: int, pb: int, pl: int, pr: int,
         oh: int, ow: int, incl_pad: bool, integer: bool = False) -> np.ndarray:
    """Max / average pooling of (N, C, H, W) per docs/isa.md section 5.2 (windows may reach past the pads)."""
    n, c, h, w = x.shape
    eb, er = _pool_extent(h, kh, sy, pt, oh), _pool_extent(w, kw, sx, pl, ow)
    if kind == "max":
        fill = np.iinfo(np.int64).min if integer else -np.inf
        xp = pad_nchw(x.astype(np.int64 if integer else np.float32), pt, eb, pl, er, fill)
        return _taps(xp, kh, kw, sy, sx, oh, ow, np.maximum).astype(np.int8 if integer else np.float32)
    xp = pad_nchw(x.astype(np.int64 if integer else np.float32), pt, eb, pl, er, 0)
    total = _taps(xp, kh, kw, sy, sx, oh, ow, np.add)
    lo_r, hi_r = (-pt, h + pb) if incl_pad else (0, h)
    lo_c, hi_c = (-pl, w + pr) if incl_pad else (0, w)
    rows = np.array([_count(oy * sy - pt, kh, lo_r, hi_r) for oy in range(oh)], dtype=np.int64)
    cols = np.array([_count(ox * sx - pl, kw, lo_c, hi_c) for ox in range(ow)], dtype=np.int64)
    count = np.maximum(rows[:, None] * cols[None, :], 1)
    if integer:
        return np.clip(round_div(total, count[None, None]), -128, 127).astype(np.int8)
    return (total / count.astype(np.float32)).astype(np.float32)


def _taps(xp: np.ndarray, kh: int, kw: int, sy: int, sx: int, oh: int, ow: int, op) -> np.ndarray:
    """Reduce the kh x kw window taps with `op` (np.maximum / np.add), one strided slice per tap."""
    out = None
    for i in range(kh):
        for j in range(kw):
            v = xp[:, :, i:i + (oh - 1) * sy + 1:sy, j:j + (ow - 1) * sx + 1:sx]
            out = v.copy() if out is None else op(out, v, out=out)
    return out


def _count(start: int, k: int, lo: int, hi: int) -> int:
    return max(0, min(start + k, hi) - max(start, lo))


# --- normalisation and elementwise ---------------------------------------------------------------------------------
def lrn(x: np.ndarray, size: int, alpha: float, beta: float, bias: float) -> np.ndarray:
    """ONNX LRN across channels of (N, C, H, W)."""
    c = x.shape[1]
    sq = np.square(x.astype(np.float32))
    before, after = (size - 1) // 2, math.ceil((size - 1) / 2)
    csum = np.concatenate([np.zeros_like(sq[:, :1]), np.cumsum(sq, axis=1)], axis=1)
    idx = np.arange(c)
    lo = np.clip(idx - before, 0, c)
    hi = np.clip(idx + after + 1, 0, c)
    s = csum[:, hi] - csum[:, lo]
    return (x / np.power(np.float32(bias) + np.float32(alpha / size) * s, np.float32(beta))).astype(np.float32)


def activation(x: np.ndarray, fn: str, alpha: float, beta: float, inplace: bool = False) -> np.ndarray:
    """The float activation functions of docs/isa.md section 5.1 on float32 values (`inplace`: relu and relu6 may
    overwrite `x`, which the caller owns)."""
    a, b = np.float32(alpha), np.float32(beta)
    if fn == "identity":
        return x
    if fn == "relu":
        return np.maximum(x, np.float32(0), out=x if inplace else None)
    if fn == "relu6":
        return np.minimum(np.maximum(x, np.float32(0)), np.float32(6))
    if fn == "leaky_relu":
        return np.where(x >= 0, x, a * x).astype(np.float32)
    if fn == "clip":
        return np.minimum(np.maximum(x, a), b)
    if fn == "sigmoid":
        return (np.float32(1) / (np.float32(1) + np.exp(-x))).astype(np.float32)
    if fn == "tanh":
        return np.tanh(x)
    if fn == "hard_sigmoid":
        return np.maximum(np.float32(0), np.minimum(np.float32(1), a * x + b))
    if fn == "hard_swish":
        return x * np.maximum(np.float32(0), np.minimum(np.float32(1), x / np.float32(6) + np.float32(0.5)))
    raise ValueError(f"activation '{fn}'")


def softmax_channels(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


def depth_to_space(x: np.ndarray, mode: str, block: int) -> np.ndarray:
    n, c, h, w = x.shape
    b = block
    if mode == "nearest":
        return np.repeat(np.repeat(x, b, axis=2), b, axis=3)
    if mode == "dcr":
        y = x.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
    else:
        y = x.reshape(n, c // (b * b), b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    return np.ascontiguousarray(y).reshape(n, c // (b * b), h * b, w * b)
