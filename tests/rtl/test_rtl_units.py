"""cocotb unit testbenches run by pytest with iverilog: the PE array (interleaved INT32 accumulation) for the tiny
geometry and a second one, and the config network (delivery order, back-pressure, every module ID)."""
import pytest

from hw_models.arch import load_arch
from rtl.sim import build, have_iverilog, run

pytestmark = [pytest.mark.rtl, pytest.mark.skipif(not have_iverilog(), reason="iverilog not installed")]


@pytest.mark.parametrize("k,c,threads", [(None, None, None), (2, 8, 2)])
def test_pe_array(tmp_path, k, c, threads):
    arch = load_arch("tiny")
    k = k or arch.pe_array.k_vector
    c = c or arch.pe_array.c_vector
    threads = threads or arch.accumulator_threads
    params = {"K": k, "C": c, "THREADS": threads}
    runner = build("ovl_pe_array", tmp_path, parameters=params)
    run(runner, "ovl_pe_array", "rtl.tb.test_pe", tmp_path, parameters=params,
        env={"OVL_PE_K": str(k), "OVL_PE_C": str(c), "OVL_PE_THREADS": str(threads)})


def test_config_network(tmp_path):
    runner = build("tb_cfg_net", tmp_path)
    run(runner, "tb_cfg_net", "rtl.tb.test_cfg_net", tmp_path)
