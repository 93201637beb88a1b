"""cocotb tests of the config network (toplevel tb_cfg_net): delivery to every module ID in order, back-pressure
from full config FIFOs, full throughput when nothing stalls, and unknown module IDs flagged.

The scoreboard keeps one expected queue per module: a packet is appended when the chain accepts it
(in_valid and in_ready at a rising edge) and popped when the module's FIFO delivers a word; every test ends
with zero mismatches and all expected queues empty."""
from __future__ import annotations

import collections
import random

import cocotb
from cocotb.triggers import FallingEdge, Timer

from compiler.isa import HEADER_BITS, MODULE_ID_BITS, Module
from rtl import cosim

ARCH = cosim.tiny_arch()
P = ARCH.config_network.payload_bits
N = len(Module)
FW = P + 10
DEPTH = ARCH.config_network.fifo_depth


def packet(module: int, index: int, payload: int, last: bool, eob: bool) -> int:
    assert HEADER_BITS == 16 and MODULE_ID_BITS == 6
    return payload | (module << P) | (int(last) << (P + 6)) | (int(eob) << (P + 7)) | (index << (P + 8))


def fifo_word(pkt: int) -> int:
    """What the module's FIFO delivers for a packet: {word index, eob, last, payload}."""
    payload = pkt & ((1 << P) - 1)
    last, eob, index = (pkt >> (P + 6)) & 1, (pkt >> (P + 7)) & 1, (pkt >> (P + 8)) & 0xFF
    return payload | (last << P) | (eob << (P + 1)) | (index << (P + 2))


async def reset(dut) -> None:
    dut.rst.value = 1
    dut.in_valid.value = 0
    dut.cfg_ready.value = 0
    for _ in range(3):
        await FallingEdge(dut.clk)
    dut.rst.value = 0


async def run(dut, packets: list[int], ready_prob: list[float], rng: random.Random, max_cycles: int = 100_000):
    """Drive `packets` into the chain while module m reads its FIFO with probability ready_prob[m] per cycle.
    Returns (mismatches, expected queues, cycles, stall cycles, max FIFO occupancy seen per module)."""
    expected = [collections.deque() for _ in range(N)]
    mismatches: list[str] = []
    delivered = [0] * N
    occupancy = [0] * N
    peak = [0] * N
    stalls = 0
    i = 0
    cycles = 0
    while (i < len(packets) or any(expected)) and cycles < max_cycles:
        await FallingEdge(dut.clk)
        cycles += 1
        ready = 0
        for m in range(N):
            if rng.random() < ready_prob[m]:
                ready |= 1 << m
        dut.cfg_ready.value = ready
        sending = i < len(packets)
        dut.in_valid.value = int(sending)
        if sending:
            dut.in_data.value = packets[i]
        await Timer(1, unit="ns")
        accepted = sending and int(dut.in_ready.value)
        if sending and not accepted:
            stalls += 1
        valid = int(dut.cfg_valid.value)
        bits = str(dut.cfg_data.value) if valid & ready else ""    # MSB first; X where a FIFO is empty
        for m in range(N):
            if (valid >> m) & 1 and (ready >> m) & 1:
                lo = len(bits) - (m + 1) * FW
                word = int(bits[lo:lo + FW], 2)
                if not expected[m]:
                    mismatches.append(f"module {m}: unexpected word {word:#x}")
                else:
                    want = expected[m].popleft()
                    if word != want:
                        mismatches.append(f"module {m}: word {word:#x}, expected {want:#x}")
                delivered[m] += 1
                occupancy[m] -= 1
        if accepted:
            mod = (packets[i] >> P) & 0x3F
            expected[mod].append(fifo_word(packets[i]))
            occupancy[mod] += 1
            i += 1
        for m in range(N):
            peak[m] = max(peak[m], occupancy[m])
    dut.in_valid.value = 0
    if int(dut.bad_id.value):
        mismatches.append("bad_id raised for valid module IDs")
    return mismatches, expected, cycles, stalls, peak, delivered


def random_packets(rng: random.Random, count: int) -> list[int]:
    out = []
    for _ in range(count):
        m = rng.randrange(N)
        out.append(packet(m, rng.randrange(256), rng.getrandbits(P), rng.random() < 0.3, rng.random() < 0.05))
    return out


@cocotb.test()
async def test_every_module_in_order_under_backpressure(dut):
    """1500 random packets to all 13 module IDs; module 5's reader takes a word only 5% of the cycles and the
    others 30-100%, so module 5's FIFO fills and holds the chain: the input must stall, nothing is lost,
    duplicated or reordered, and every module receives its words in stream order."""
    rng = random.Random(6)
    await reset(dut)
    packets = random_packets(rng, 1500)
    probs = [0.3 + 0.7 * rng.random() for _ in range(N)]
    probs[5] = 0.05
    mismatches, expected, cycles, stalls, peak, delivered = await run(dut, packets, probs, rng)
    dut._log.info("%d packets in %d cycles, input stalled %d cycles, peak FIFO occupancy %s", len(packets), cycles,
                  stalls, peak)
    if stalls == 0:
        mismatches.append("no back-pressure observed although module 5 reads at 5%")
    if peak[5] < DEPTH:
        mismatches.append(f"module 5 FIFO peaked at {peak[5]} < depth {DEPTH}: back-pressure not exercised")
    if any(p > DEPTH + m for m, p in enumerate(peak)):     # FIFO + the output registers of hops 0 .. m-1
        mismatches.append(f"more words in flight than FIFO depth plus upstream hop registers: {peak}")
    missing = [m for m in range(N) if delivered[m] == 0]
    if missing:
        mismatches.append(f"modules without deliveries: {missing}")
    assert not mismatches, "\n".join(mismatches[:20])
    assert not any(expected), [len(q) for q in expected]


@cocotb.test()
async def test_full_rate_without_stalls(dut):
    """With every reader always ready the chain accepts one packet per cycle: 400 packets in 400 cycles of
    input (no stall), delivered to the last module after N hops at most."""
    rng = random.Random(7)
    await reset(dut)
    packets = random_packets(rng, 400)
    mismatches, expected, cycles, stalls, _, _ = await run(dut, packets, [1.0] * N, rng)
    if stalls:
        mismatches.append(f"input stalled {stalls} cycles with all readers ready")
    if cycles > len(packets) + N + 2:
        mismatches.append(f"{cycles} cycles for {len(packets)} packets")
    assert not mismatches, "\n".join(mismatches)
    assert not any(expected)


@cocotb.test()
async def test_compiled_bundles_and_unknown_id(dut):
    """The packets of real compiled bundles reach their modules in canonical order (word 0 first, then
    increasing word index, `last` on the module's final word); afterwards a packet for module ID 13..63
    travels off the end of the chain and raises bad_id."""
    from compiler.compile import compile_model

    rng = random.Random(8)
    await reset(dut)
    prep = cosim.random_case(2)
    program = compile_model(prep.graph, ARCH, opt_level=1).program
    packets = [p for b in program.bundles for p in program.packets(b)]
    mismatches, expected, _, _, _, delivered = await run(dut, packets, [0.5] * N, rng)
    active = set()
    for b in program.bundles:
        active.update(int(m) for m in b.active)
    for m in range(N):
        if (m in active) != (delivered[m] > 0):
            mismatches.append(f"module {m}: active {m in active}, delivered {delivered[m]}")
    assert not mismatches, "\n".join(mismatches)
    assert not any(expected)
    bad = packet(13 + rng.randrange(64 - 13), 0, 0xDEADBEEF, True, True)
    await FallingEdge(dut.clk)
    dut.in_valid.value = 1
    dut.in_data.value = bad
    await FallingEdge(dut.clk)
    dut.in_valid.value = 0
    for _ in range(N + 2):
        await FallingEdge(dut.clk)
    assert int(dut.bad_id.value) == 1, "a packet for an unknown module ID did not raise bad_id"
