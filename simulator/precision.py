"""Precision emulation: what the PE array multiplies, how results are stored, and error metrics against FP32.

The arithmetic follows docs/isa.md section 4 ("Arithmetic"):

- fp32 / fp16: the operands are the stored values (fp16 features are exact in fp32); sums in fp32.
- bfp16 / bfp11: filters arrive as BFP blocks (decoded by the filter reader); each input entry (the c_vector
  lanes of one pixel of one channel block) is quantised to BFP at the PE input with the architecture's mantissa
  and exponent widths (`formats.bfp_quantize`); products and sums in fp32.
- int8: int8 codes, int32 accumulation, requantisation `sat8((acc * mult + 2^(shift-1)) >> shift)`.

Results are stored in the feature format: fp32, fp16 (round to nearest even; also in the BFP modes) or int8.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from compiler.lowering.formats import bfp_quantize, feature_dtype, rshift_round, sat8


def pe_operand(arch, tile: np.ndarray) -> np.ndarray:
    """Stream-buffer tile (..., c_vector) in the feature format -> the values the multipliers see.

    fp32 / fp16 / int8: the stored values themselves (fp16 and int8 codes are exact in the float accumulator
    types); BFP: each entry quantised to a block (float32)."""
    p = arch.precision_info
    if p.block_exponent:
        return bfp_quantize(tile.astype(np.float32), p.mantissa_bits, p.exponent_bits, axis=-1)
    return tile


def store_features(arch, values: np.ndarray) -> np.ndarray:
    """Stream values -> the feature format the writer stores (fp32 -> fp16 rounds to nearest even)."""
    dt = feature_dtype(arch.precision)
    if arch.precision_info.integer:
        return np.asarray(values).astype(np.int8)
    return np.asarray(values, dtype=np.float32).astype(dt, copy=False)


def requantize(acc: np.ndarray, mult: int, shift: int) -> np.ndarray:
    """int8 requantisation of int32 accumulators (docs/isa.md section 4)."""
    return sat8(rshift_round(np.asarray(acc, dtype=np.int64) * int(mult), int(shift)))


def dequantize_requantize(q: np.ndarray, in_scale: float, out_scale: float, fn) -> np.ndarray:
    """int8 LRN / softmax: x = q * in_scale, y = fn(x), q' = sat8(round_half_even(y / out_scale))."""
    x = q.astype(np.float32) * np.float32(in_scale)
    y = fn(x)
    return sat8(np.rint(y / np.float32(out_scale)))


@dataclass(frozen=True)
class ErrorStats:
    """Error of an output against a reference. `max_rel` is max |got - ref| / max |ref| (relative to the
    output's range, so that values near zero do not dominate); `top1` is the fraction of rows (first axis) whose
    arg-max over the remaining axes agrees (classification outputs), None for other shapes."""

    max_abs: float
    max_rel: float
    mean_abs: float
    top1: float | None

    def to_json(self) -> dict:
        return {"max_abs": self.max_abs, "max_rel": self.max_rel, "mean_abs": self.mean_abs, "top1": self.top1}


def compare(got: np.ndarray, ref: np.ndarray) -> ErrorStats:
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if got.shape != ref.shape:
        raise ValueError(f"shapes differ: {got.shape} vs {ref.shape}")
    diff = np.abs(got - ref)
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    max_abs = float(diff.max()) if diff.size else 0.0
    top1 = None
    if ref.ndim >= 2 and ref.shape[0] >= 1 and int(np.prod(ref.shape[1:])) > 1:
        a = got.reshape(ref.shape[0], -1).argmax(axis=1)
        b = ref.reshape(ref.shape[0], -1).argmax(axis=1)
        top1 = float(np.mean(a == b))
    return ErrorStats(max_abs, max_abs / scale if scale else max_abs, float(diff.mean()) if diff.size else 0.0, top1)
