"""Co-verification of the RTL core against the simulator (cocotb + iverilog), 80 seeded random layers in two
halves (one tb_core build each, so pytest-xdist runs them side by side):

- every program's final DDR image equals the functional simulator's bit for bit (checked in the cocotb test,
  rtl/tb/test_core.py, which ends with zero mismatches and an empty expected queue);
- per bundle, the cycle model's PE-array cycles (simulator.costs.conv_cycles) equal the RTL window walker's
  structural count ceil(passes * positions / T) * T * entries (T = Arch.accumulator_threads);
- the cycle model (simulator.timing, done - start) is within 5 % of the RTL's compute phase (first slot to last
  write) on every bundle; the measured distribution (docs/rtl.md) is exact agreement, which is asserted too, so
  a pipeline stage added to either side shows up here;
- the stage trace: each datapath stage of the RTL adds the number of cycles the model's fill charges for it
  (simulator.costs: stream-buffer read, Arch.pe_pipeline_cycles, output conversion, exit FIFO, aux kernels, writer).
"""
import json

import pytest

from rtl import cosim
from rtl.sim import build, have_iverilog, run_core
from simulator import costs as C

pytestmark = [pytest.mark.rtl, pytest.mark.skipif(not have_iverilog(), reason="iverilog not installed")]

TOL = 0.05


@pytest.mark.parametrize("seeds", [(0, 40), (40, 80)], ids=["seeds0-39", "seeds40-79"])
def test_random_layers_bit_exact_and_cycles(tmp_path, seeds):
    runner = build("tb_core", tmp_path)
    results = tmp_path / "results.json"
    run_core(runner, tmp_path, testcase="test_random_layers", seeds=seeds, results=results)
    data = json.loads(results.read_text())
    assert [r["seed"] for r in data] == list(range(*seeds))
    assert all(r["bit_exact"] for r in data)
    errors, bad = [], []
    for r in data:
        assert r["bundles"]
        for rec in r["bundles"]:
            rtl_pe, model_pe = rec["walker"], rec["model_pe"]       # rtl.cosim.walker_cycles
            rtl, model = rec["rtl_compute"], rec["model"]
            where = f"case {r['seed']} bundle {rec['bundle']}"
            if rtl_pe != model_pe:
                bad.append(f"{where}: walker count {rtl_pe} != cycle model PE cycles {model_pe}")
            errors.append(cosim.cycle_error(rtl, model))
            if abs(model - rtl) > TOL * rtl:
                bad.append(f"{where}: model {model:.0f} vs RTL {rtl} (more than 5 %)")
            elif round(model) != rtl:
                bad.append(f"{where}: model {model:.0f} vs RTL {rtl} (the fill no longer matches stage for stage)")
    print("model error", cosim.distribution(errors))
    assert not bad, "\n".join(bad)
    assert len(errors) >= 50


def test_stage_trace_matches_the_model_fill(tmp_path):
    """Seeds 19-20: no aux kernel with an idle slot in the last group, activation, activation + 3x3 stride-1
    max pool whose last row completes two output rows per pixel. Each stage's step is the model's count."""
    arch = cosim.tiny_arch()
    runner = build("tb_core", tmp_path)
    results = tmp_path / "stages.json"
    run_core(runner, tmp_path, testcase="test_stage_trace", seeds=(19, 21), results=results)
    data = json.loads(results.read_text())
    assert len(data) == 4
    for r in data:
        st, where = r["stages"], f"case {r['seed']} bundle {r['bundle']}"
        assert st["sb_read"] - st["slot"] == C.SB_READ_STAGES, where
        assert st["pe_out"] - st["sb_read"] == arch.pe_pipeline_cycles, where
        assert st["requant"] - st["pe_out"] == C.OUTPUT_CONVERSION_STAGES, where
        assert st["exit_fifo"] - st["requant"] == C.EXIT_FIFO_STAGES, where
        prev = st["exit_fifo"]
        if "act" in st:
            assert st["act"] - prev == C.aux_latency(arch, arch.aux.activation.k_vector, 16), where
            prev = st["act"]
        if "pool" in st:
            assert st["pool"] - prev > 1, where          # seed 19: the bottom row's completions queue up
            prev = st["pool"]
        assert max(st.get("write", -1), st.get("sb_write", -1)) - prev == C.WRITER_STAGES, where
        assert r["rtl_compute"] == round(r["model"]), where
    assert {tuple(sorted(r["stages"])) for r in data} >= {("exit_fifo", "pe_out", "requant", "sb_read", "slot",
                                                           "write")}


def test_backpressure_and_unsupported(tmp_path):
    """Stalled packet source and DDR reads change nothing but the load time; unsupported bundles stop the core
    with the documented error code (rtl/tb/test_core.py)."""
    runner = build("tb_core", tmp_path)
    run_core(runner, tmp_path, testcase=["test_backpressure_stalls", "test_unsupported_is_flagged"])
