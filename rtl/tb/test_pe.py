"""cocotb test of the PE array (toplevel ovl_pe_array, parameters K, C, THREADS): INT8 x INT8 dot products with
INT32 accumulation through the interleaved accumulator.

The driver presents one slot per cycle in thread order, as the window walker does: groups of THREADS
accumulations, each stepping through E entries (first = entry 0 starts from the init value, last = entry E-1
emits), some threads invalid (a partial group), and bubble groups in between. A slot's init (bias) is driven
3 + clog2(C) cycles after its operands, when the slot reaches the accumulators. Expected results are int32 sums
computed with numpy and queued per valid thread; the test ends with zero mismatches and an empty queue."""
from __future__ import annotations

import collections
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, Timer


def _pack(values, bits: int) -> int:
    out = 0
    for i, v in enumerate(values):
        out |= (int(v) & ((1 << bits) - 1)) << (i * bits)
    return out


@cocotb.test()
async def test_interleaved_dot_products(dut):
    Clock(dut.clk, 10, unit="ns").start()
    k = int(os.environ.get("OVL_PE_K", "4"))
    c = int(os.environ.get("OVL_PE_C", "4"))
    t = int(os.environ.get("OVL_PE_THREADS", "4"))
    rng = np.random.default_rng(int(os.environ.get("OVL_PE_SEED", "5")))
    expected: collections.deque = collections.deque()
    init_delay = 3 + (c - 1).bit_length()
    inits = collections.deque([0] * init_delay)          # init values on their way to the accumulator stage
    mismatches: list[str] = []
    results = 0

    async def cycle(valid: int, first: int, last: int, x: int, w: int, init: int) -> None:
        nonlocal results
        await FallingEdge(dut.clk)
        dut.in_valid.value = valid
        dut.in_first.value = first
        dut.in_last.value = last
        dut.x.value = x
        dut.w.value = w
        inits.append(init)
        dut.init.value = inits.popleft()
        await Timer(1, unit="ns")
        if str(dut.out_valid.value) == "1":      # X until the first slots have passed the (unreset) pipeline
            got = int(dut.out_acc.value)
            vals = [((got >> (32 * p)) & 0xFFFFFFFF) for p in range(k)]
            vals = [v - (1 << 32) if v >> 31 else v for v in vals]
            results += 1
            if not expected:
                mismatches.append(f"unexpected result {vals}")
            else:
                want = expected.popleft()
                if vals != want:
                    mismatches.append(f"result {vals}, expected {want}")

    for _ in range(12):                                    # flush the pipeline
        await cycle(0, 1, 0, 0, 0, 0)
    for _ in range(60):                                    # groups
        if rng.random() < 0.2:                             # a bubble group
            for th in range(t):
                await cycle(0, 1, 0, 0, 0, 0)
            continue
        e_count = int(rng.integers(1, 7))
        valid = rng.random(t) < 0.8
        x = rng.integers(-128, 128, size=(t, e_count, c))
        w = rng.integers(-128, 128, size=(k, t, e_count, c))
        init = rng.integers(-2**31, 2**31, size=(k, t))
        if rng.random() < 0.1:                             # extremes: saturated operands
            x[...] = -128
            w[...] = -128
        for th in range(t):
            if valid[th]:
                acc = init[:, th].astype(np.int64) + np.einsum("ec,kec->k", x[th], w[:, th]).astype(np.int64)
                acc = ((acc + 2**31) % 2**32) - 2**31        # int32 wrap-around
                expected.append([int(v) for v in acc])
        for e in range(e_count):
            for th in range(t):
                await cycle(int(valid[th]), int(e == 0), int(e == e_count - 1), _pack(x[th, e], 8),
                            _pack(w[:, th, e].reshape(-1), 8), _pack(init[:, th], 32))
    for _ in range(20):                                    # drain
        await cycle(0, 0, 0, 0, 0, 0)
    dut._log.info("%d results checked", results)
    assert results >= 30
    assert not mismatches, "\n".join(mismatches[:10])
    assert not expected, f"{len(expected)} expected results never came out"
