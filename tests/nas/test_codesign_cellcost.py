"""The co-design latency model equals the simulator's fast estimate on sampled (cell, configuration) pairs, and
the configuration space and its legality."""
from __future__ import annotations

import numpy as np
import pytest

from nas.codesign.cellcost import CLASSES, CellCostModel, build_class_table, build_network, cell_allowed, plan_class
from nas.codesign.hwspace import BASE, HW_PARAMS, HWParam, HWSpace, config_arch
from nas.codesign.joint import reference_archs
from nas.spaces import nb201
from simulator.estimate import estimate

RNG = np.random.default_rng(11)
CELLS = [tuple(int(k) for k in nb201.ops_matrix()[i]) for i in RNG.choice(nb201.SIZE, 14, replace=False)] + [
    nb201.parse("|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"),
    nb201.parse("|avg_pool_3x3~0|+|avg_pool_3x3~0|none~1|+|skip_connect~0|none~1|nor_conv_1x1~2|"),
    (0, 0, 0, 0, 0, 0)]


@pytest.fixture(scope="module")
def model():
    refs = reference_archs()
    return CellCostModel({c: build_class_table(c, refs[c], CELLS) for c in CLASSES})


def _random_cfg(rng):
    while True:
        cfg = {p.name: p.values[int(rng.integers(len(p.values)))] for p in HW_PARAMS}
        try:
            return cfg, config_arch(cfg)
        except Exception:
            continue


def test_equals_estimate(model):
    rng = np.random.default_rng(5)
    checked = set()
    handed = 0
    for trial in range(8):
        cfg, arch = _random_cfg(rng)
        if trial < 2:        # Winograd (its selection and the PE column mappings are re-made per architecture)
            cfg["winograd"], cfg["q_vector"], cfg["pool"], cfg["fc_depth"] = True, 4 - 2 * trial, True, 1024
            arch = config_arch(cfg)
        codes, cycles = model.cycles_by_code(arch)
        for j in rng.choice(len(codes), 2, replace=False):
            ops = nb201.from_code(int(codes[j]))
            ref = estimate(build_network(ops), arch, memo=False)
            assert ref.host_partitions == 0
            assert cycles[j] == pytest.approx(ref.cycles, rel=1e-9)
            checked.add((plan_class(arch), cfg["winograd"]))
            # the estimate's default on-chip hand-over is what the model decomposes (it matters on these cells)
            handed += estimate(build_network(ops), arch, memo=False, on_chip=False).cycles > ref.cycles
    assert ("pool", True) in checked and any(c == "nopool" for c, _ in checked)
    assert handed >= 8 and model.handovers > 0


def test_single_pair_and_legality(model):
    arch = config_arch({"k_vector": 32, "c_vector": 16, "lanes": 2, "q_vector": 2, "winograd": True,
                        "sb_depth": 4096, "fc_depth": 512, "pool": False, "precision": "int8", "mem_bits": 256})
    resnet = CELLS[-3]
    sec = model.seconds(resnet, arch)
    assert sec == pytest.approx(estimate(build_network(resnet), arch).seconds, rel=1e-9)
    pooled = CELLS[-2]
    assert not cell_allowed(pooled, "nopool") and cell_allowed(pooled, "pool")
    assert np.isnan(model.seconds(pooled, arch))
    # a dead avg_pool edge (its output is never used) is allowed without the pool kernel
    assert cell_allowed(nb201.parse("|avg_pool_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"), "nopool")


def test_interface_width_bounds_bandwidth():
    a256 = config_arch({"k_vector": 16, "c_vector": 8, "lanes": 1, "q_vector": 1, "winograd": False,
                        "sb_depth": 2048, "fc_depth": 256, "pool": True, "precision": "bfp16", "mem_bits": 256})
    assert a256.ddr.word_bytes == 32 and a256.ddr.bandwidth_gbs == pytest.approx(32 * BASE.clock_mhz * 1e6 / 1e9)
    a512 = config_arch({**{p.name: p.values[0] for p in HW_PARAMS}, "mem_bits": 512})
    assert a512.ddr.bandwidth_gbs == pytest.approx(min(17.0, 64 * BASE.clock_mhz * 1e6 / 1e9))
    assert a512.ddr.bandwidth_gbs > a256.ddr.bandwidth_gbs


def test_space_legality_counts():
    params = (HWParam("k_vector", (16, 32)), HWParam("c_vector", (16, 32)), HWParam("lanes", (1,)),
              HWParam("q_vector", (1, 2)), HWParam("winograd", (False, True)), HWParam("sb_depth", (2048,)),
              HWParam("fc_depth", (256,)), HWParam("pool", (True,)), HWParam("precision", ("bfp16",)),
              HWParam("mem_bits", (512,)))
    hw = HWSpace(params)
    # k=16 with c=32 is illegal (k multiple of c), Winograd with q=1 is illegal: 2*2*2*2 = 16 raw, legal 3 * 3
    assert hw.raw_size == 16 and len(hw) == 9
    assert sum(hw.illegal.values()) == 7
    assert any("multiple of c_vector" in k for k in hw.illegal) and any("Winograd" in k for k in hw.illegal)
    for p in hw.points:
        assert hw.find(hw.value_index[p.index]) == p.index
    assert hw.find([0, 1, 0, 0, 0, 0, 0, 0, 0, 0]) is None


def test_configuration_outside_the_space(model):
    """fc depth 256 with Winograd F(4,3) on c_vector 8: the fused conv + add groups of the cached plans do not tile,
    so the compiler plans those networks differently; the model says so instead of guessing."""
    arch = config_arch({"k_vector": 16, "c_vector": 8, "lanes": 1, "q_vector": 4, "winograd": True,
                        "sb_depth": 2048, "fc_depth": 256, "pool": True, "precision": "bfp16", "mem_bits": 256})
    errs = model.capacity_errors(arch)
    assert errs and "filter-cache entries" in errs[0]
    assert np.isnan(model.feature_costs(arch)).all()
    assert np.isnan(model.seconds(CELLS[-3], arch))
    ok = arch.with_changes(**{"filter_cache.depth": 512})
    assert not model.capacity_errors(ok) and np.isfinite(model.feature_costs(ok)).all()
