"""yosys synthesis of the PE / PE array against the area model's per-PE estimate (hw_models.area.pe_estimate).

The full sweep (rtl.synth.PE_POINTS x {dsp, soft} and ARRAY_POINTS) takes minutes, so it is stored in
rtl/synth/results.json (`python -m rtl.synth` regenerates it); this file checks that the stored results belong
to the current RTL, re-runs yosys on the smallest point to confirm them, and compares them with the model.

yosys does not pack ALMs, so the comparison is made first on what both sides count before packing (carry-chain
adder bits, LUTs, DSP blocks, registers), then on yosys' ALM estimate (rtl.synth.derived). Stated tolerances
(docs/rtl.md has the table):
- DSP blocks: equal (Cyclone V's 9x9 mode, three int8 products per block);
- adder bits: equal (the fabric tree over all C products, since the 9x9 mode has no adder, plus the 32-bit
  accumulator);
- LUTs in DSP mode: the model's start-from-bias multiplexer (32) within 2 of yosys' LUTs (measured 33);
- logic ALMs in DSP mode: within 5 % of yosys' ALM estimate (measured 1.00-1.01);
- registers: within 20 % (measured 0.96-1.15 yosys / model);
- soft multipliers cannot be compared: yosys 0.23 maps an 8x8 multiplier to ~139 LUTs with no carry chain, an
  upper bound against a carry-chain array multiplier as Quartus can build it. Checked: the model's count lies
  between the carry-chain lower bound and yosys', and the rest of the soft-mode PE matches as in DSP mode;
- the PE array costs K times one PE in logic (within 5 % of K x the model).
"""
import math

import pytest

from hw_models.area.calibration import calibration
from rtl import synth

RESULTS = synth.load_results()
ROWS = synth.comparison(RESULTS)


def test_stored_results_belong_to_the_current_rtl():
    assert RESULTS["sources_sha256"] == synth.sources_digest(), \
        "rtl/hdl/ovl_pe*.v changed since rtl/synth/results.json was made: run `python -m rtl.synth`"
    assert RESULTS["family"] == "cyclonev"
    assert {(r["params"]["C"], r["mode"]) for r in RESULTS["pe"]} == {
        (c, m) for c in synth.PE_POINTS for m in ("dsp", "soft")}
    assert {(r["params"]["K"], r["params"]["C"]) for r in RESULTS["array"]} == set(synth.ARRAY_POINTS)


@pytest.mark.skipif(not synth.have_yosys(), reason="yosys not installed (make setup installs it)")
@pytest.mark.parametrize("mode", ["dsp", "soft"])
def test_yosys_reproduces_the_stored_smallest_point(mode):
    got = synth.synthesize("ovl_pe", {"C": 4, "THREADS": synth.THREADS}, mode)
    stored = next(r for r in RESULTS["pe"] if r["params"]["C"] == 4 and r["mode"] == mode)
    assert got["cells"] == stored["cells"]


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"C{r['c_vector']}-{r['mode']}")
def test_per_pe_counts_before_packing(row):
    c = row["c_vector"]
    assert row["yosys_dsp"] == pytest.approx(row["model_dsp"], abs=1e-3)
    assert row["yosys_adder_bits"] == row["model_adder_bits"]
    exact = sum((c >> lvl) * (16 + lvl) for lvl in range(1, int(math.log2(c)) + 1)) + 32
    assert row["yosys_adder_bits"] == exact          # C-input tree of 17-, 18-, ... bit adders + accumulator
    assert abs(row["reg_ratio"] - 1) <= 0.20, row
    if row["mode"] == "dsp":
        assert abs(row["yosys_luts"] - row["model_luts"]) <= 2, row


@pytest.mark.parametrize("row", [r for r in ROWS if r["mode"] == "dsp"], ids=lambda r: f"C{r['c_vector']}")
def test_dsp_mode_logic_alms_against_the_yosys_estimate(row):
    assert abs(row["alm_ratio"] - 1) <= 0.05, row


@pytest.mark.parametrize("row", [r for r in ROWS if r["mode"] == "soft"], ids=lambda r: f"C{r['c_vector']}")
def test_soft_multipliers_between_the_carry_chain_bound_and_yosys(row):
    """yosys: ~139 LUTs and no adder bits per signed 8x8 multiplier (the soft run has the DSP run's adder bits);
    the model: 0.5 ALM per bit^2 = 32 ALMs, at least the (m - 1) m-bit rows of an array multiplier's carry
    chain at two adder bits per ALM (28) and at most yosys' LUT-only mapping. The rest of the PE (tree,
    multiplexer, accumulator) is the DSP-mode PE in both: compared as there."""
    m = 8
    assert 120 <= row["yosys_soft_mult_luts"] <= 160, row
    per_alm = calibration().alm["adder_bits_per_alm"]
    assert (m - 1) * m / per_alm <= row["model_soft_mult_alms"] <= row["yosys_soft_mult_alms"], row
    c = row["c_vector"]
    rest_model = row["model_logic_alms"] - c * row["model_soft_mult_alms"]
    rest_yosys = row["yosys_alms"] - c * row["yosys_soft_mult_alms"]
    assert rest_model == pytest.approx(rest_yosys, rel=0.05)


@pytest.mark.parametrize("row", synth.array_rows(RESULTS), ids=lambda r: f"K{r['k_vector']}C{r['c_vector']}")
def test_array_is_k_pes(row):
    assert row["dsp"] == pytest.approx(row["model_dsp"], abs=1e-3)
    assert row["alms_est"] == pytest.approx(row["k_times_pe_alms"], rel=0.01)
    assert row["alms_est"] == pytest.approx(row["model_logic_alms"], rel=0.05)
    assert row["k_times_pe_ff"] <= row["ff"] <= row["k_times_pe_ff"] + row["c_vector"] * 8 * (row["k_vector"] + 1) + 3
    assert abs(row["ff"] / row["model_registers"] - 1) <= 0.20, row
