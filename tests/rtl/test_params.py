"""The Verilog parameter header is generated from the architecture and the ISA, and the checked-in copy is
current."""
import re

import pytest

from compiler.errors import ArchError, UserError
from compiler.isa import ISA, MODULE_NAMES, widths_for
from hw_models.arch import load_arch
from rtl.gen_params import header_path, main, params_header


def _localparams(text: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"\b([A-Z][A-Z0-9_]*) = (-?\d+)", text)}


def test_checked_in_header_matches_a_regeneration():
    arch = load_arch("tiny")
    assert header_path("tiny").read_text() == params_header(arch), \
        "rtl/generated/tiny_params.vh is stale: run `python -m rtl.gen_params tiny --write`"


@pytest.mark.parametrize("name", ["tiny", "a10_generic"])
def test_every_field_position_and_width_comes_from_the_isa(name):
    arch = load_arch("tiny")
    if name != "tiny":       # a second int8 geometry: wider PE array and buffers, other field widths
        arch = arch.with_changes(**{"pe_array.k_vector": 16, "pe_array.c_vector": 16, "stream_buffer.depth": 32768,
                                    "filter_cache.depth": 1024})
    isa = ISA.for_arch(arch)
    lp = _localparams(params_header(arch))
    count = 0
    for m, lay in isa.modules.items():
        mod = MODULE_NAMES[m].upper()
        assert lp[f"MOD_{mod}"] == int(m)
        assert lp[f"WORDS_{mod}"] == lay.words
        for f in lay.fields:
            assert lp[f"F_{mod}_{f.name.upper()}_LSB"] == f.word * isa.payload_bits + f.bit
            assert lp[f"F_{mod}_{f.name.upper()}_W"] == f.width
            count += 1
    assert count > 100
    w = widths_for(arch)
    assert (lp["W_SB"], lp["W_SBN"], lp["W_KT"], lp["W_FCN"]) == (w.SB, w.SBN, w.KT, w.FCN)
    assert (lp["K_VECTOR"], lp["C_VECTOR"], lp["ACC_THREADS"]) == (
        arch.pe_array.k_vector, arch.pe_array.c_vector, arch.accumulator_threads)
    assert lp["DDR_LATENCY_CYCLES"] == arch.ddr_latency_cycles


def test_float_architecture_is_refused():
    with pytest.raises(ArchError, match="int8"):
        params_header(load_arch("a10_generic"))
    assert issubclass(ArchError, UserError)


def test_cli_exit_codes(capsys, tmp_path):
    assert main(["a10_generic"]) == 2
    assert "int8" in capsys.readouterr().err
    assert main(["no_such_arch"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["tiny"]) == 0
    assert "localparam integer K_VECTOR = 4;" in capsys.readouterr().out
