"""The ISA layout: derived widths, field packing, packet codec, and docs/isa.md kept in sync with the code."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from compiler.errors import ArchError, ProgramError
from compiler.isa import ISA, MODULE_NAMES, Module, clog2
from hw_models.arch import load_arch, shipped_archs

ROOT = Path(__file__).resolve().parents[2]


def random_config(isa: ISA, rng, modules):
    cfg = {}
    for m in modules:
        lay = isa.layout(m)
        vals = {}
        for f in lay.fields:
            if f.kind == "f32":
                vals[f.name] = float(np.float32(rng.standard_normal()))
            elif f.kind == "enum":
                vals[f.name] = f.enum[int(rng.integers(len(f.enum)))]
            else:
                lo, hi = f.limits()
                vals[f.name] = int(rng.integers(lo, hi + 1))
        cfg[m] = vals
    return cfg


@pytest.mark.parametrize("name", shipped_archs())
def test_widths_derive_from_arch(name):
    arch = load_arch(name)
    isa = ISA.for_arch(arch)
    assert isa.widths.SB == clog2(arch.stream_buffer.depth)
    assert 2 ** isa.widths.SB >= arch.stream_buffer.depth > 2 ** (isa.widths.SB - 1)
    assert isa.layout("sbuf").field("sb").width == isa.widths.SB
    assert isa.layout("pool").field("kh").limits() == (1, arch.aux.pool.max_window)
    # every field sits inside its word(s) and fields never overlap
    for lay in isa.modules.values():
        used = set()
        for f in lay.fields:
            if f.width <= isa.payload_bits:
                assert f.bit + f.width <= isa.payload_bits
                bits = {(f.word, f.bit + i) for i in range(f.width)}
            else:
                bits = {(f.word + i // isa.payload_bits, i % isa.payload_bits) for i in range(f.width)}
            assert not bits & used, (lay.name, f.name)
            used |= bits


@pytest.mark.parametrize("name", shipped_archs())
def test_random_bundles_round_trip(name):
    isa = ISA.for_arch(load_arch(name))
    rng = np.random.default_rng(1)
    for trial in range(20):
        mods = [Module.CFG] + [m for m in Module if m != Module.CFG and rng.random() < 0.5]
        cfg = random_config(isa, rng, mods)
        cfg[Module.CFG]["active"] = sum(1 << int(m) for m in mods)
        packets = isa.encode_bundle(cfg)
        data = isa.packets_to_bytes(packets)
        assert len(data) == len(packets) * isa.packet_bytes
        (back,) = isa.decode_stream(data)
        assert back == cfg
        # canonical: re-encoding the decoded fields gives the same bytes
        assert isa.packets_to_bytes(isa.encode_bundle(back)) == data


def test_packet_header_layout_and_sparse_words():
    isa = ISA.for_arch(load_arch("tiny"))
    cfg = {Module.CFG: {"seq": 5}, Module.PE_ARRAY: {"mode": "conv", "rq_shift": 7}}
    packets = isa.encode_bundle(cfg)
    p = isa.payload_bits
    heads = [(x >> p) & 0x3F for x in packets]
    assert heads[:2] == [0, 0] and set(heads[2:]) == {int(Module.PE_ARRAY)}  # cfg: seq word, active word
    # pe: word 0 (mode) and the word holding rq_shift only; zero words in between are not sent
    idx = [(x >> (p + 8)) & 0xFF for x in packets if (x >> p) & 0x3F == int(Module.PE_ARRAY)]
    assert idx == [0, isa.layout("pe").field("rq_shift").word]
    assert (packets[-1] >> (p + 7)) & 1 == 1 and all(not (x >> (p + 7)) & 1 for x in packets[:-1])
    assert (packets[0] >> (p + 6)) & 1 == 0 and (packets[1] >> (p + 6)) & 1 == 1  # cfg has 2 words; 2nd is last
    assert packets[0] & 0xFFFFFF == 5


def test_field_range_errors_name_the_field():
    isa = ISA.for_arch(load_arch("tiny"))
    with pytest.raises(ProgramError, match=r"pool\.kh = 4: out of range 1\.\.3"):
        isa.encode_bundle({Module.CFG: {}, Module.POOL: {"kh": 4}})
    with pytest.raises(ProgramError, match="unknown field 'bogus'"):
        isa.encode_bundle({Module.CFG: {}, Module.PE_ARRAY: {"bogus": 1}})
    with pytest.raises(ProgramError, match="legal: bypass, conv, depthwise"):
        isa.encode_bundle({Module.CFG: {}, Module.PE_ARRAY: {"mode": "matmul"}})


def test_malformed_streams_rejected():
    isa = ISA.for_arch(load_arch("tiny"))
    good = isa.packets_to_bytes(isa.encode_bundle({Module.CFG: {"seq": 0}, Module.POOL: {"kh": 3, "kw": 3}}))
    with pytest.raises(ProgramError, match="whole number"):
        isa.decode_stream(good[:-3])
    with pytest.raises(ProgramError, match="no end-of-bundle"):
        isa.decode_stream(good[:-8])
    bad = bytearray(good)
    bad[4] = 63  # module ID byte of the first packet
    with pytest.raises(ProgramError, match="unknown module ID 63"):
        isa.decode_stream(bytes(bad))


def test_reader_must_carry_header():
    arch = load_arch("tiny").with_changes(**{"config_network.reader_bits": 32})
    with pytest.raises(ArchError, match="config_network.reader_bits = 32"):
        ISA(arch)


def test_sixteen_bit_payload_splits_wide_fields():
    arch = load_arch("tiny").with_changes(**{"config_network.payload_bits": 16,
                                             "config_network.reader_bits": 32})
    isa = ISA.for_arch(arch)
    f = isa.layout("fread").field("r0_ddr")
    assert f.width == 32 and f.bit == 0
    cfg = {Module.CFG: {}, Module.FEATURE_READER: {"r0_ddr": 0xDEADBEEF, "r0_en": 1}}
    (back,) = isa.decode_stream(isa.packets_to_bytes(isa.encode_bundle(cfg)))
    assert back[Module.FEATURE_READER]["r0_ddr"] == 0xDEADBEEF


@pytest.mark.parametrize("name", ["tiny", "a10_generic"])
def test_docs_field_tables_match_code(name):
    doc = (ROOT / "docs" / "isa.md").read_text()
    table = subprocess.run([sys.executable, "-m", "compiler.isa", name], capture_output=True, text=True,
                           check=True, cwd=ROOT).stdout.strip()
    assert table in doc, f"docs/isa.md field table for {name} is stale: regenerate with python -m compiler.isa {name}"


def test_module_names_unique():
    assert len(set(MODULE_NAMES.values())) == len(Module)
