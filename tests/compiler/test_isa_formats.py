"""Number formats shared with the simulator: bit packing, BFP, NCHWc layout, Winograd matrices, int8 helpers."""
import numpy as np
import pytest

from compiler.lowering.formats import (ChunkShape, bfp_quantize, chunk_size, decode_chunk, encode_chunk, from_blocked,
                                       pack_bits, requant_params, round_div, to_blocked, unpack_bits, view_of,
                                       winograd_filters, winograd_matrices)
from hw_models.arch import load_arch


@pytest.mark.parametrize("width", [1, 5, 7, 8, 11, 12, 16, 17, 32])
def test_pack_bits_round_trip(width):
    rng = np.random.default_rng(width)
    for n in (0, 1, 7, 8, 9, 1001):
        v = rng.integers(0, 1 << width, n, dtype=np.uint64)
        data = pack_bits(v, width)
        assert len(data) == -(-n * width // 8)
        np.testing.assert_array_equal(unpack_bits(data, width, n), v)


def test_pack_bits_is_lsb_first():
    assert pack_bits(np.array([1, 2, 3]), 4) == bytes([0x21, 0x03])
    assert pack_bits(np.array([0x7FF, 0x001]), 12) == bytes([0xFF, 0x17, 0x00])


def test_bfp_known_values():
    # block max 3.0 -> E = 1; 12-bit mantissas step 2^(1-10); 1/3 rounds to 171/512
    q = bfp_quantize(np.array([3.0, 1 / 3, -0.75, 0.0], dtype=np.float32), 12, 5)
    np.testing.assert_array_equal(q, np.array([3.0, 171 / 512, -0.75, 0.0], dtype=np.float32))
    # a tiny value next to a large one underflows to zero in 7-bit mantissas
    q = bfp_quantize(np.array([100.0, 0.01], dtype=np.float32), 7, 5)
    assert q[1] == 0.0 and q[0] == 100.0


@pytest.mark.parametrize("prec", ["fp32", "fp16", "bfp16", "bfp11", "int8"])
def test_chunk_size_matches_arch_filter_bytes(prec):
    arch = load_arch("a10_generic").with_changes(precision=prec)
    shape = ChunkShape(64, 9, 0)
    n = 64 * 9 * arch.pe_array.c_vector
    size = chunk_size(arch, shape)
    assert n * arch.filter_bytes <= size < n * arch.filter_bytes + 4 + arch.ddr.word_bytes
    rng = np.random.default_rng(0)
    w = rng.integers(-128, 128, (64, 9, 16)).astype(np.int8) if prec == "int8" else rng.standard_normal((64, 9, 16))
    back, bias = decode_chunk(arch, encode_chunk(arch, w, None), shape)
    assert bias is None and back.shape == (64, 9, 16)
    if prec in ("fp32", "int8"):
        np.testing.assert_array_equal(back, w.astype(back.dtype))


@pytest.mark.parametrize("shape", [(2, 5, 3, 4), (3, 20), (7,), (2, 3, 4), (1, 2, 3, 4, 5)])
def test_blocked_layout_round_trip(shape):
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape) + 1
    b = to_blocked(x, 4)
    n, c, h, w = view_of(shape)
    assert b.shape == (n, -(-c // 4), h, w, 4)
    np.testing.assert_array_equal(from_blocked(b, shape), x)
    # padding lanes are zero, element (n, c, y, x) is at [n, c // 4, y, x, c % 4]
    if len(shape) == 4:
        assert b[1, 1, 2, 3, 0] == x[1, 4, 2, 3]
        assert b[0, 1, 0, 0, 1] == 0


@pytest.mark.parametrize("q", [2, 4, 6])
def test_winograd_matrices_compute_correlation(q):
    AT, G, BT = winograd_matrices(q)
    rng = np.random.default_rng(q)
    d, g = rng.standard_normal(q + 2), rng.standard_normal(3)
    np.testing.assert_allclose(AT @ ((G @ g) * (BT @ d)), np.correlate(d, g, "valid"), atol=1e-12)
    np.testing.assert_allclose(winograd_filters(g[None], q)[0], G @ g)


def test_int8_helpers():
    m, s = requant_params(0.0123)
    assert abs(m / 2 ** s - 0.0123) / 0.0123 < 1e-4 and m < 2 ** 15
    np.testing.assert_array_equal(round_div(np.array([5, -5, 4, 7]), np.array([2, 2, 3, 2])), [3, -3, 1, 4])
