"""Program container: binary round trip, corrupted files rejected, tensor packing, filter chunks."""
import struct
import zlib

import numpy as np
import pytest

from compiler.builder import GraphBuilder
from compiler.errors import ProgramError
from compiler.isa import ISA, Module
from compiler.lowering.formats import ChunkShape, encode_chunk, quantize_filters
from compiler.program import Bundle, BundleNote, HostPartition, Program, TensorAlloc
from hw_models.arch import load_arch


def small_program(arch_name="a10_generic", weights=True) -> Program:
    arch = load_arch(arch_name)
    cv = arch.pe_array.c_vector
    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 9, cv)).astype(np.float32)
    chunk = encode_chunk(arch, w if not arch.precision_info.integer else (w * 10).astype(np.int8),
                         np.arange(4, dtype=np.float32))
    isa_cfg = [
        {Module.CFG: {"seq": 0}, Module.FILTER_READER: {"en": 1, "ddr": 0, "bytes": len(chunk), "filters": 4,
                                                         "entries": 9, "nbias": 4},
         Module.PE_ARRAY: {"mode": "conv", "k": 4, "bias": 1}, Module.XBAR: {"s0": "act"},
         Module.ACTIVATION: {"fn": "leaky_relu", "alpha": 0.1}, Module.FEATURE_WRITER: {"ddr_en": 1, "ddr": 4096}},
        {Module.CFG: {"seq": 1, "last": 1}, Module.POOL: {"type": "avg", "kh": 3, "kw": 3, "sy": 1, "sx": 1}},
    ]
    isa = ISA.for_arch(arch)
    bundles = [Bundle(isa.canonical(cfg), BundleNote(f"b{i}", "conv", ("conv1",), ("Conv_0",), (("x", (1, 3, 8, 8)),),
                                                     (("y", (1, 4, 8, 8)),), {"k": [0, 4], "y": [0, 8]}))
               for i, cfg in enumerate(isa_cfg)]
    b = GraphBuilder("host", weights="random")
    x = b.input("y", (1, 4, 8, 8))
    g = b.build([b.op("Transpose", [b.mul(x, b.const("s", (1,), fill=2.0))], {"perm": [0, 1, 3, 2]})[0]])
    memory = {"x": TensorAlloc("x", "input", (1, 3, 8, 8), (1, 3, 8, 8), "fp16", 4096, 2048, pitches=(2048, 2048, 256)),
              "y": TensorAlloc("y", "output", (1, 4, 8, 8), (1, 4, 8, 8), "fp16", 8192, 2048)}
    return Program(arch, bundles, memory, ["x"], ["y"], chunk if weights else None, len(chunk),
                   {"weights": (0, len(chunk)), "features": (4096, 8192), "config": (12288, 256)},
                   [HostPartition("host0", 1, g, {"transpose": "Transpose is not an overlay operation"})],
                   {"model": "test", "options": {"opt_level": 2}})


@pytest.mark.parametrize("arch", ["tiny", "a10_generic", "dla_alexnet_a10"])
def test_binary_round_trip_is_exact(arch):
    p = small_program(arch)
    data = p.encode()
    q = Program.decode(data)
    assert q.encode() == data
    assert [b.config for b in q.bundles] == [b.config for b in p.bundles]
    assert q.bundles[0].fields("act")["alpha"] == pytest.approx(0.1)
    assert q.bundles[0].fields("act")["fn"] == "leaky_relu"
    assert q.bundles[1].fields("pe") == {}
    assert q.memory["x"] == p.memory["x"]
    assert q.host[0].graph.nodes == p.host[0].graph.nodes
    np.testing.assert_array_equal(q.host[0].graph.tensors["s"].data, p.host[0].graph.tensors["s"].data)
    assert [s for s, _ in q.schedule()] == ["bundle", "host", "bundle"]


def test_program_without_weights_round_trips():
    p = small_program(weights=False)
    q = Program.decode(p.encode())
    assert q.weights is None and q.weights_size == p.weights_size
    with pytest.raises(ProgramError, match="no weight data"):
        q.chunk(q.bundles[0])


def test_chunk_decodes_to_quantised_filters():
    p = small_program("a10_generic")
    w, bias = p.chunk(p.bundles[0])
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((4, 9, p.arch.pe_array.c_vector)).astype(np.float32)
    np.testing.assert_array_equal(w, quantize_filters(p.arch, ref))
    np.testing.assert_array_equal(bias, np.arange(4, dtype=np.float32))


def _recrc(data: bytearray) -> bytes:
    data[-4:] = struct.pack("<I", zlib.crc32(bytes(data[:-4])) & 0xFFFFFFFF)
    return bytes(data)


def test_corrupted_files_rejected_with_one_line_errors(tmp_path):
    data = small_program().encode()
    cases = {
        "bad magic": (b"XXXXXXXX" + data[8:], "bad magic"),
        "checksum": (data[:100] + bytes([data[100] ^ 0xFF]) + data[101:], "checksum mismatch"),
        "truncated": (data[: len(data) // 2], "checksum mismatch"),
        "tiny": (data[:10], "truncated"),
        "version": (_recrc(bytearray(data[:8] + struct.pack("<H", 9) + data[10:])), "format version 9.0"),
    }
    for name, (blob, msg) in cases.items():
        with pytest.raises(ProgramError, match=msg) as e:
            Program.decode(blob, "f.ovl")
        assert "\n" not in str(e.value), name
    path = tmp_path / "p.ovl"
    path.write_bytes(data[:-1])
    with pytest.raises(ProgramError, match="p.ovl"):
        Program.load(path)
    with pytest.raises(ProgramError, match="not found"):
        Program.load(tmp_path / "missing.ovl")


def test_inconsistent_metadata_rejected():
    p = small_program()
    p.bundles[1].config[Module.CFG]["seq"] = 5
    with pytest.raises(ProgramError, match="sequence numbers"):
        p.encode()


@pytest.mark.parametrize("arch", ["tiny", "a10_generic"])
def test_pack_unpack_tensor(arch):
    p = small_program(arch)
    x = np.random.default_rng(2).standard_normal((1, 3, 8, 8)).astype(np.float32)
    p.memory["x"].dtype = "int8" if arch == "tiny" else "fp16"
    p.memory["x"].scale = 0.05
    raw = p.pack_tensor("x", x)
    cv = p.arch.pe_array.c_vector
    assert len(raw) == 1 * -(-3 // cv) * cv * 64 * (1 if arch == "tiny" else 2)
    back = p.unpack_tensor("x", raw)
    tol = 0.025 if arch == "tiny" else 2e-3
    np.testing.assert_allclose(back, np.clip(x, -128 * 0.05, 127 * 0.05), atol=tol)
    with pytest.raises(ProgramError, match="expects shape"):
        p.pack_tensor("x", x[0])


def test_stats_count_config_and_traffic():
    p = small_program()
    s = p.stats()
    assert s["bundles"] == 2
    assert s["config_bytes"] == len(p.config_stream())
    assert sum(s["config_bytes_per_module"].values()) == s["config_bytes"]
    assert s["ddr_traffic_bytes"]["filters_read"] == p.weights_size
    assert 0 < s["config_overhead"] < 1
