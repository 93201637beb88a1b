"""cocotb tests of the overlay core (toplevel tb_core): compiled programs run on the RTL and are compared with the
functional simulator bit for bit, and per bundle with the cycle model.

Run through pytest (tests/rtl/test_rtl_core.py), which builds tb_core with iverilog and sets:
    OVL_COSIM_DIR   directory of the exchange files (the plusargs point there)
    OVL_SEEDS       "first:last" seeds of the random cases (test_random_layers)
    OVL_RESULTS     JSON file the per-case results are written to
"""
from __future__ import annotations

import collections
import json
import os
import time
from pathlib import Path

import cocotb
from cocotb.triggers import First, ReadOnly, RisingEdge, Timer

from rtl import cosim

ERROR_NAMES = {1: "bad module id", 2: "word index", 3: "pe mode", 4: "partial sums", 5: "groups", 6: "act lut",
               7: "pool", 8: "xbar", 9: "aux kernel", 10: "writer", 11: "filters", 12: "capacity"}


def _dir() -> Path:
    return Path(os.environ.get("OVL_COSIM_DIR", "."))


async def _pulse(sig) -> None:
    sig.value = 1
    await Timer(1, unit="ns")
    sig.value = 0
    await Timer(1, unit="ns")


async def run_on_rtl(dut, packets: list[int], ddr_init: bytes, dump_bytes: int, *, pkt_stall: int = 0,
                     rd_stall: int = 0, max_cycles: int = 2_000_000) -> dict:
    """Load a DDR image and a config stream, run the core to completion and read back DDR and perf records."""
    arch = cosim.tiny_arch()
    eb = cosim.entry_bytes(arch)
    d = _dir()
    cosim.write_words_hex(d / "ddr.hex", ddr_init, eb)
    cosim.write_packets_hex(d / "cfg.hex", packets, arch.config_network.reader_bits)
    (d / "perf.hex").unlink(missing_ok=True)
    dut.n_pkts.value = len(packets)
    dut.load_words.value = -(-len(ddr_init) // eb)
    dut.pkt_stall.value = pkt_stall
    dut.rd_stall.value = rd_stall
    dut.start.value = 0
    dut.rst.value = 1
    await _pulse(dut.load_req)
    for _ in range(3):
        await RisingEdge(dut.clk)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    dut.start.value = 1
    await RisingEdge(dut.clk)
    dut.start.value = 0
    fired = await First(RisingEdge(dut.finished), Timer(10 * max_cycles, unit="ns"))
    timed_out = not int(dut.finished.value)
    for _ in range(2):                       # the last perf record is stored one cycle after `done`
        await RisingEdge(dut.clk)
    words = -(-dump_bytes // eb)
    dut.dump_words.value = words
    await _pulse(dut.dump_req)
    del fired
    return {
        "timed_out": timed_out,
        "error": int(dut.error.value),
        "error_code": int(dut.error_code.value),
        "ddr": cosim.read_words_hex(d / "ddr_out.hex", eb)[:dump_bytes],
        "perf": cosim.read_perf_hex(d / "perf.hex"),
        "cycles": int(dut.cycles.value),
    }


@cocotb.test()
async def test_random_layers(dut):
    """Random conv layers compiled by our compiler: DDR bit-exact against the functional simulator, per-bundle
    cycles against the cycle model. Scoreboard: one expected record per bundle, popped when its RTL record
    arrives; the test ends with zero mismatches and an empty expected queue."""
    lo, hi = (int(v) for v in os.environ.get("OVL_SEEDS", "0:4").split(":"))
    results = []
    mismatches: list[str] = []
    expected: collections.deque = collections.deque()
    for seed in range(lo, hi):
        prep = cosim.prepare(cosim.random_case(seed))
        for bnd, model in zip(prep.program.bundles, prep.model_cycles):
            expected.append((seed, bnd.index, model))
        t_run = time.perf_counter()
        out = await run_on_rtl(dut, prep.packets, prep.ddr_init, len(prep.ddr_ref))
        t_run = time.perf_counter() - t_run
        if out["timed_out"] or out["error"]:
            mismatches.append(f"case {seed}: timed out={out['timed_out']} error={out['error_code']} "
                              f"({ERROR_NAMES.get(out['error_code'], '?')})")
        bad = cosim.diff_bytes(out["ddr"], prep.ddr_ref, prep.compare)
        if bad:
            mismatches.append(f"case {seed} ({prep.case.desc}): {len(bad)} DDR bytes differ, first at {bad[0]:#x}")
        bundles = []
        for rec in out["perf"]:
            if not expected or expected[0][0] != seed:
                mismatches.append(f"case {seed}: unexpected perf record for bundle {rec.seq}")
                continue
            _, index, model = expected.popleft()
            if rec.seq != index:
                mismatches.append(f"case {seed}: perf record of bundle {rec.seq}, expected bundle {index}")
            err = None if model is None else cosim.cycle_error(rec.compute, model)
            walker, model_pe = cosim.walker_cycles(prep.program, prep.program.bundles[index])
            bundles.append({"bundle": rec.seq, "rtl_compute": rec.compute, "rtl_load": rec.load,
                            "rtl_total": rec.total, "model": model, "error": err, "walker": walker,
                            "model_pe": model_pe})
        while expected and expected[0][0] == seed:
            _, index, _ = expected.popleft()
            mismatches.append(f"case {seed}: bundle {index} produced no perf record")
        results.append({"seed": seed, "desc": prep.case.desc, "bundles": bundles, "bit_exact": not bad,
                        "ddr_bytes": len(prep.ddr_ref), "rtl_cycles": out["cycles"]})
        dut._log.info("case %d %s: %s in %.2f s (%d cycles), bundles %s", seed, prep.case.desc,
                      "bit-exact" if not bad else "MISMATCH", t_run, out["cycles"],
                      [(b["rtl_compute"], None if b["model"] is None else round(b["model"])) for b in bundles])
    path = os.environ.get("OVL_RESULTS")
    if path:
        Path(path).write_text(json.dumps(results, indent=1))
    assert not mismatches, "\n".join(mismatches)
    assert not expected, f"{len(expected)} expected bundle records never arrived"


# stage probes of the stage trace: name -> (signals ANDed on the core's hierarchy); each records the last cycle
# of the bundle's compute phase in which it fired, relative to the first slot
STAGES = (("slot", ("walker.s_valid",)), ("sb_read", ("m_valid",)), ("pe_out", ("pe_valid",)),
          ("requant", ("rq_valid",)), ("exit_fifo", ("ex_valid", "ex_ready")), ("act", ("act_ov", "act_or")),
          ("pool", ("pool_ov", "pool_or")), ("write", ("wr_valid",)), ("sb_write", ("fw_sb_we",)))
S_COMPW = 11         # ovl_core state of the compute phase


async def _trace_stages(dut, out: list) -> None:
    """Per compute phase, the last cycle each stage fired (relative to the first slot), until cancelled."""
    core = dut.dut
    def handle(path: str):
        h = core
        for part in path.split("."):
            h = getattr(h, part)
        return h

    sigs = [(name, [handle(path) for path in paths]) for name, paths in STAGES]
    cur = None
    cyc = 0
    while True:
        await RisingEdge(dut.clk)
        await ReadOnly()
        cyc += 1
        if int(core.state.value) != S_COMPW:
            if cur is not None:
                out.append(cur)
                cur = None
            continue
        if cur is None:
            cur = {"first_slot": None}
        fired = {name: all(int(h.value) for h in hs) for name, hs in sigs}
        if fired["slot"] and cur["first_slot"] is None:
            cur["first_slot"] = cyc
        if cur["first_slot"] is None:
            continue
        for name, f in fired.items():
            if f:
                cur[name] = cyc - cur["first_slot"]


@cocotb.test()
async def test_stage_trace(dut):
    """Where a bundle's pipeline fill comes from: for each random case of OVL_SEEDS, the last cycle (relative to
    the bundle's first slot) in which each stage of the compute datapath fired, next to the perf record. Writes
    OVL_RESULTS; checks the perf counter equals the traced first-slot-to-last-write interval."""
    lo, hi = (int(v) for v in os.environ.get("OVL_SEEDS", "0:4").split(":"))
    results, mismatches = [], []
    for seed in range(lo, hi):
        prep = cosim.prepare(cosim.random_case(seed))
        traces: list = []
        mon = cocotb.start_soon(_trace_stages(dut, traces))
        out = await run_on_rtl(dut, prep.packets, prep.ddr_init, len(prep.ddr_ref))
        mon.cancel()
        if len(traces) != sum(1 for m in prep.model_cycles if m is not None):
            mismatches.append(f"case {seed}: {len(traces)} traced compute phases")
        k = 0
        for rec, model in zip(out["perf"], prep.model_cycles):
            if model is None:
                continue
            tr = traces[k] if k < len(traces) else {}
            k += 1
            last_write = max(tr.get("write", -1), tr.get("sb_write", -1))
            if last_write + 1 != rec.compute:
                mismatches.append(f"case {seed} bundle {rec.seq}: perf {rec.compute} vs traced {last_write + 1}")
            walker, _ = cosim.walker_cycles(prep.program, prep.program.bundles[rec.seq])
            results.append({"seed": seed, "bundle": rec.seq, "rtl_compute": rec.compute, "walker": walker,
                            "model": model, "stages": {kk: v for kk, v in tr.items() if kk != "first_slot"}})
        if out["error"] or out["timed_out"]:
            mismatches.append(f"case {seed}: error {out['error_code']}")
        if cosim.diff_bytes(out["ddr"], prep.ddr_ref, prep.compare):
            mismatches.append(f"case {seed}: DDR image differs from the functional simulator's")
    path = os.environ.get("OVL_RESULTS")
    if path:
        Path(path).write_text(json.dumps(results, indent=1))
    assert not mismatches, "\n".join(mismatches)


@cocotb.test()
async def test_backpressure_stalls(dut):
    """The same programs with the packet source and the DDR read port withholding data in 3 of every 16 cycles
    (back-pressure through the config network and the readers): still bit-exact, same compute cycles."""
    mismatches = []
    expected = collections.deque()
    for seed in (100, 117, 126):        # small cases: two layers, pool with padding, two images
        prep = cosim.prepare(cosim.random_case(seed))
        base = await run_on_rtl(dut, prep.packets, prep.ddr_init, len(prep.ddr_ref))
        expected.extend((seed, r.seq, r.compute) for r in base["perf"])
        out = await run_on_rtl(dut, prep.packets, prep.ddr_init, len(prep.ddr_ref), pkt_stall=3, rd_stall=3)
        if out["error"] or out["timed_out"]:
            mismatches.append(f"case {seed}: error {out['error_code']} timed out {out['timed_out']}")
        bad = cosim.diff_bytes(out["ddr"], prep.ddr_ref, prep.compare)
        if bad:
            mismatches.append(f"case {seed}: {len(bad)} DDR bytes differ under stalls")
        for rec in out["perf"]:
            s, index, compute = expected.popleft()
            if (s, index) != (seed, rec.seq):
                mismatches.append(f"case {seed}: record order {rec.seq} vs {index}")
            if rec.compute != compute:
                mismatches.append(f"case {seed} bundle {index}: compute {rec.compute} cycles with stalls vs "
                                  f"{compute} without (loads are stalled, the compute phase is not)")
        if out["cycles"] <= base["cycles"]:
            mismatches.append(f"case {seed}: stalls did not slow the run ({out['cycles']} <= {base['cycles']})")
    assert not mismatches, "\n".join(mismatches)
    assert not expected


@cocotb.test()
async def test_unsupported_is_flagged(dut):
    """A bundle outside the engine (average pooling; an unknown module ID in the stream) stops the core with the
    documented error code instead of computing something else."""
    from compiler.builder import GraphBuilder
    import numpy as np

    b = GraphBuilder("avg", weights="random", seed=3)
    x = b.input("x", (1, 4, 6, 6))
    g = b.build([b.avg_pool(b.conv(x, 4, 3, pad=1), 2, stride=2)])
    case = cosim.Case(3, "avg pool", g, {"x": np.random.default_rng(3).standard_normal((1, 4, 6, 6)).astype(np.float32)})
    from compiler.compile import compile_model

    program = compile_model(case.graph, cosim.tiny_arch(), opt_level=1).program
    packets = [p for bnd in program.bundles for p in program.packets(bnd)]
    assert cosim.unsupported(program.bundles[0]) is not None
    out = await run_on_rtl(dut, packets, bytes(64), 64, max_cycles=20_000)
    checks = [(out["error"], out["error_code"])]
    # a packet for module ID 13 (no such kernel) travels to the end of the chain
    bad = [(1 << 32) * 0 | (13 << 32) | (1 << 38) | (1 << 39)]
    out2 = await run_on_rtl(dut, packets[:1] + bad, bytes(64), 64, max_cycles=20_000)
    checks.append((out2["error"], out2["error_code"]))
    expected = collections.deque([(1, 7), (1, 1)])
    mismatches = []
    for got in checks:
        want = expected.popleft()
        if got != want:
            mismatches.append(f"error/code {got}, expected {want}")
    assert not mismatches, "; ".join(mismatches)
    assert not expected
