"""Area model: memory geometry, DSP packing, per-kernel structure, fit checks and the `ovl area` command."""
import json
import math

import pytest

from compiler.cli import main
from compiler.errors import ArchError
from hw_models.arch import PRECISIONS, devices, load_arch, shipped_archs
from hw_models.area import block_count, calibration, check_fits, estimate_area, mlab_count, pe_estimate
from hw_models.area.model import adder_tree

M20K = devices()["arria10_gx1150"].memory_shapes


@pytest.mark.parametrize("depth,width,blocks", [
    (512, 40, 1), (512, 41, 2), (1024, 20, 1), (2048, 10, 1), (16384, 1, 1), (16384, 2, 2),
    (513, 40, 2), (4096, 40, 8), (1024, 40, 2), (1000, 16, 1), (100, 1, 1), (0, 8, 0),
])
def test_m20k_block_counts_use_the_cheapest_aspect_ratio(depth, width, blocks):
    assert block_count(depth, width, M20K) == blocks


def test_block_count_never_beats_capacity_and_matches_a_brute_force():
    for depth in (300, 777, 2048, 5000, 31744):
        for width in (1, 7, 33, 117, 389, 512):
            n = block_count(depth, width, M20K)
            assert n * 20480 >= depth * width                      # enough bits
            brute = min(math.ceil(depth / d) * math.ceil(width / w) for d, w in M20K)
            assert n == brute


def test_mlab_count():
    assert mlab_count(32, 32) == 2 and mlab_count(32, 20) == 1 and mlab_count(64, 20) == 2


def test_dsp_packing_rules_from_calibration():
    cal = calibration()
    assert cal.packing("arria10", "bfp16") == (2, 1)     # the DLA FPGA'17 two-per-DSP packing
    assert cal.packing("arria10", "bfp11") == (4, 1)
    assert cal.packing("arria10", "int8") == (2, 1)
    assert cal.packing("cyclonev", "int8") == (3, 1)
    assert cal.packing("zynqus", "fp32") == (1, 2)


def test_every_packing_has_a_dsp_mode_and_modes_are_defined():
    cal = calibration()
    for fam, table in cal.raw["dsp_packing"].items():
        assert set(cal.raw["dsp_mode"][fam]) == set(table), fam
        for prec in table:
            mode = cal.dsp_mode(fam, prec)
            assert mode.sum >= 1 and mode.name in cal.raw["dsp_modes"]
    with pytest.raises(ArchError, match="no DSP mode"):
        cal.dsp_mode("virtex2", "int8")


@pytest.mark.parametrize("family,precision,mode,tree_inputs", [
    ("arria10", "bfp16", "18x19_sum2", 8),        # two products summed per 18x19 pair: C/2 tree operands
    ("arria10", "bfp11", "18x19_sum2_packed", 8),  # each packed field is a sum of two products
    ("arria10", "fp16", "18x19_full", 16),        # per-element exponents: products aligned before any sum
    ("cyclonev", "int8", "9x9", 16),              # the 9x9 mode has no adder: the tree takes all C products
    ("agilex7", "int8", "9x9_sum4", 4),           # 9x9 sum of 4: C/4 operands
    ("zynqus", "bfp16", "dsp48e2", 16),           # one product per DSP48E2 (cascade sums not modelled)
])
def test_fabric_tree_inputs_follow_the_family_dsp_mode(family, precision, mode, tree_inputs):
    e = pe_estimate(16, precision, family)
    assert e.dsp_mode == mode and e.tree_inputs == tree_inputs
    cal = calibration()
    m = PRECISIONS[precision].mantissa_bits
    width = 2 * m + math.ceil(math.log2(cal.dsp_mode(family, precision).sum))
    assert e.detail["adder_tree"] == pytest.approx(adder_tree(tree_inputs, width, cal)[0])


def test_cyclonev_int8_tree_is_the_exact_c_input_tree():
    """No in-block adder: C signed 16-bit products, one bit of growth per level, then the 32-bit accumulator;
    counted in carry-chain bits (what a synthesis tool reports before packing)."""
    for c in (4, 8, 16, 32):
        e = pe_estimate(c, "int8", "cyclonev")
        exact = sum((c >> lvl) * (16 + lvl) for lvl in range(1, int(math.log2(c)) + 1)) + 32
        assert e.adder_bits == exact
        assert e.dsps == pytest.approx(c / 3)
    assert pe_estimate(16, "int8", "agilex7").dsps == 4     # four 9x9 products per Agilex 7 block
    assert pe_estimate(16, "int8", "arria10").dsps == 8


def test_bias_mux_only_on_fabric_accumulators():
    """A fabric accumulator (INT32 in ALMs, or a soft FP32 adder) starts from the bias through a 32-bit 2:1
    multiplexer; a hard FP32 accumulator starts a sum with the DSP block's accumulate control."""
    for prec, fam in (("int8", "arria10"), ("int8", "cyclonev"), ("bfp16", "cyclonev"), ("fp32", "zynqus")):
        e = pe_estimate(16, prec, fam)
        assert e.mux_luts == 32 and e.detail["accumulator_init_mux"] == 16
    for prec in ("bfp11", "bfp16", "fp16", "fp32"):
        e = pe_estimate(16, prec, "arria10")
        assert e.accumulator_dsps == 1 and e.mux_luts == 0 and "accumulator_init_mux" not in e.detail


def test_unknown_packing_is_a_user_error():
    with pytest.raises(ArchError, match="no DSP packing rule"):
        calibration().packing("virtex2", "int8")


def test_dla_alexnet_dsps_from_packing_and_accumulators():
    a = load_arch("dla_alexnet_a10")            # k48 c8, Winograd F(4,3): w_vector 6, bfp16
    pe = estimate_area(a).kernel("pe_array")
    assert a.multipliers == 48 * 8 * 6
    assert pe.dsps == a.multipliers // 2 + 48 * 6  # two multipliers per DSP + one FP accumulator per unit
    assert estimate_area(a).total.dsps <= 1518      # "DSP use close to the 1,518 available" (FPGA'17, [R])


def test_adder_tree_counts():
    alms, regs = adder_tree(2, 10, calibration())
    assert alms == pytest.approx(11 / 2) and regs == 11
    alms, regs = adder_tree(8, 10, calibration())   # 4 adders of 11 bits, 2 of 12, 1 of 13
    assert alms == pytest.approx((4 * 11 + 2 * 12 + 13) / 2) and regs == 4 * 11 + 2 * 12 + 13


def test_pe_estimate_grows_with_c_vector_and_precision():
    for prec in ("int8", "bfp11", "bfp16", "fp16"):
        small, big = pe_estimate(8, prec), pe_estimate(32, prec)
        assert big.alms > small.alms and big.dsps == 4 * small.dsps and big.registers > small.registers
    assert pe_estimate(16, "fp16").alms > pe_estimate(16, "bfp16").alms > pe_estimate(16, "bfp11").alms
    int8 = pe_estimate(16, "int8")
    assert int8.accumulator_dsps == 0 and int8.dsps == 8       # INT32 accumulation in ALMs
    assert pe_estimate(16, "bfp16").accumulator_dsps == 1      # hard FP32 adder on Arria 10
    assert pe_estimate(16, "bfp16", "cyclonev").accumulator_dsps == 0   # no hard FP: soft accumulator


def test_soft_multipliers_cost_alms_not_dsps():
    hard, soft = pe_estimate(16, "int8"), pe_estimate(16, "int8", soft_multipliers=8)
    assert soft.dsps == hard.dsps / 2
    assert soft.logic_alms - hard.logic_alms >= 8 * 8 * 8 * 0.5   # m*m/2 ALMs per 8x8 multiplier, and more adders
    assert soft.alms > hard.alms


def test_dsp_limit_moves_multipliers_into_alms():
    a = load_arch("a10_generic")
    base = estimate_area(a)
    limited = estimate_area(a.with_changes(**{"pe_array.dsp_limit": 256}))
    pe0, pe1 = base.kernel("pe_array"), limited.kernel("pe_array")
    units = a.pe_array.k_vector * a.pe_array.lanes * a.pe_array.w_vector
    assert pe1.dsps == 256 + units
    assert pe1.alms > pe0.alms + 1000


def test_kernels_sum_to_total_and_breakdown_is_complete():
    r = estimate_area("a10_generic")
    for res in ("alms", "dsps", "mem_blocks", "registers"):
        assert sum(getattr(k, res) for k in r.kernels) == getattr(r.total, res)
    names = {k.name for k in r.kernels}
    assert {"pe_array", "filter_caches", "stream_buffer", "crossbar", "ddr_interface", "config_network",
            "aux.activation", "aux.pool"} <= names


def test_stream_buffer_blocks_follow_geometry():
    a = load_arch("a10_generic")                # bfp16, c16: 16 x 12 + 5 = 197-bit entries, 2 banks of 16384
    sb = estimate_area(a).kernel("stream_buffer")
    assert sb.mem_blocks == 2 * block_count(16384, 197, M20K)
    deeper = estimate_area(a.with_changes(**{"stream_buffer.depth": 65536})).kernel("stream_buffer")
    assert deeper.mem_blocks == 2 * block_count(32768, 197, M20K) > sb.mem_blocks


def test_disabling_an_aux_kernel_removes_it():
    a = load_arch("a10_generic")
    r = estimate_area(a.with_changes(**{"aux.lrn.enabled": False}))
    assert "aux.lrn" not in {k.name for k in r.kernels}
    assert r.total.alms < estimate_area(a).total.alms


@pytest.mark.parametrize("name", shipped_archs())
def test_every_shipped_arch_fits_its_device(name):
    assert check_fits(name).fits()


def _too_big():
    return load_arch("a10_generic").with_changes(**{"pe_array.k_vector": 128, "pe_array.c_vector": 32,
                                                    "stream_buffer.depth": 262144})


def test_check_fits_names_resource_need_and_capacity():
    with pytest.raises(ArchError) as e:
        check_fits(_too_big())
    msg = str(e.value)
    assert "\n" not in msg and "does not fit" in msg
    assert "DSP blocks: need" in msg and "capacity 1,518" in msg and "M20K blocks: need" in msg


def test_ovl_area_prints_table_and_json(capsys):
    assert main(["area", "--arch", "tiny"]) == 0
    out = capsys.readouterr().out
    assert "pe_array" in out and "M10K" in out and "utilisation" in out
    assert main(["area", "--arch", "a10_generic", "--json", "--power", "--pe"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["fits"] and data["total"]["dsps"] == estimate_area("a10_generic").total.dsps
    assert data["power"]["chip_w"] > data["power"]["static_w"] > 0 and data["pe"]["c_vector"] == 16


def test_ovl_area_exits_2_when_the_arch_does_not_fit(tmp_path, capsys):
    path = tmp_path / "big.toml"
    path.write_text('name = "big"\ndevice = "arria10_gx1150"\nprecision = "bfp16"\n'
                    '[pe_array]\nk_vector = 128\nc_vector = 32\n[stream_buffer]\ndepth = 262144\n'
                    '[filter_cache]\ndepth = 2048\n[ddr]\nbandwidth_gbs = 17.0\n')
    assert main(["area", "--arch", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ovl area: error: architecture big does not fit") and "DSP blocks: need" in err

    # ovl compile refuses it too, before any compiling, unless told to ignore the device
    model = tmp_path / "m.onnx"
    _tiny_conv_onnx(model)
    assert main(["compile", str(model), "--arch", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ovl compile: error: architecture big does not fit") and "DSP blocks: need" in err
    assert "\n" not in err.strip()
    assert main(["compile", str(model), "--arch", str(path), "--ignore-device", "--no-weights"]) == 0


def _tiny_conv_onnx(path) -> None:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.full((8, 3, 3, 3), 0.1, np.float32), "w")
    node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 16, 16])], [w])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(path))


def test_estimate_is_memoised_and_accepts_names():
    assert estimate_area("a10_generic") is estimate_area(load_arch("a10_generic"))
