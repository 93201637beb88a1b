"""compile_model end to end: compiled programs compute what onnxruntime computes (through the reference executor
of docs/isa.md in program_ref.py and through simulator.functional), the report, capacity errors, and the CLI."""
import json

import numpy as np
import pytest

from compiler.builder import GraphBuilder
from compiler.cli import main
from compiler.compile import compile_model
from compiler.errors import CapacityError, UserError
from compiler.frontend import export_onnx, run_onnxruntime
from compiler.program import Program
from hw_models.arch import load_arch
from tests.compiler.program_ref import run_program

ARCHS = ["tiny", "a10_generic", "dla_alexnet_a10"]
TOL = {"fp32": 2e-5, "bfp16": 3e-2, "fp16": 1e-2, "int8": 0.15}


def cnn(seed: int = 0, n: int = 2):
    b = GraphBuilder("cnn", weights="random", seed=seed)
    x = b.input("x", (n, 3, 12, 12))
    y = b.relu(b.conv(x, 8, 3, pad=1))
    y = b.max_pool(y, 2)
    z = b.conv(y, 8, 3, pad=1)
    y = b.relu(b.add(z, y))
    d = b.conv(y, 8, 3, pad=1, groups=8)
    g2 = b.conv(y, 8, 1, groups=2)
    y = b.concat([y, d, g2])
    y = b.avg_pool(y, 3, 1, pad=1)
    y = b.global_avg_pool(y)
    return b.build([b.softmax(b.fc(y, 10), axis=1)])


def rnn(op: str):
    b = GraphBuilder(op.lower(), weights="random", seed=7)
    x = b.input("x", (5, 2, 12))
    outs = b.recurrent(op, x, 20)
    y = b.op("Reshape", [outs[0]], {"shape": [10, 20]})[0]
    return b.build([b.fc(y, 6)])


def sr():
    b = GraphBuilder("sr", weights="random", seed=8)
    x = b.input("x", (1, 4, 6, 6))
    y = b.relu(b.conv(x, 16, 3, pad=1))
    y = b.depth_to_space(b.conv(y, 16, 3, pad=1), 2, mode="CRD")
    up = b.op("Resize", [x], {"sizes": [1, 4, 12, 12], "mode": "nearest",
                               "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"})[0]
    return b.build([b.add(b.conv(up, 4, 1), y)])


def feeds(g, seed=0):
    rng = np.random.default_rng(seed)
    return {i: rng.standard_normal(g.tensors[i].shape).astype(np.float32) for i in g.inputs}


def check(g, arch, level, tol, simulator=True, **kw):
    f = feeds(g)
    ref = run_onnxruntime(g, f)
    prog = compile_model(g, arch, opt_level=level, **kw).program
    prog = Program.decode(prog.encode())            # what a simulator reads from the file
    outs = [run_program(prog, f)]
    if simulator:
        sim = pytest.importorskip("simulator.functional")
        outs.append(sim.FunctionalSimulator(prog).run(f))
    for out in outs:
        for k in g.outputs:
            scale = max(1.0, float(np.abs(ref[k]).max()))
            np.testing.assert_allclose(out[k], ref[k], atol=tol * scale, rtol=0)
    return prog


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("level", [0, 1, 2])
def test_cnn_fp32_variants_match_onnxruntime(arch, level):
    check(cnn(), load_arch(arch).with_changes(precision="fp32"), level, TOL["fp32"])


@pytest.mark.parametrize("arch", ARCHS)
def test_cnn_native_precision_close_to_onnxruntime(arch):
    a = load_arch(arch)
    check(cnn(), a, 2, TOL[a.precision])


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("level", [0, 2])
def test_recurrent_programs_match_onnxruntime(op, level):
    check(rnn(op), load_arch("a10_generic").with_changes(precision="fp32"), level, TOL["fp32"])


def test_depth_to_space_and_upsampling():
    for level in (0, 2):
        check(sr(), load_arch("a10_generic").with_changes(precision="fp32"), level, TOL["fp32"])


def test_host_partition_program_runs():
    b = GraphBuilder("h", weights="random")
    x = b.input("x", (1, 8, 4, 4))
    y = b.op("Transpose", [b.relu(b.conv(x, 8, 3, pad=1))], {"perm": [0, 1, 3, 2]})[0]
    g = b.build([b.conv(y, 4, 1)])
    prog = check(g, load_arch("tiny").with_changes(precision="fp32"), 2, TOL["fp32"])
    assert len(prog.host) == 1


def test_input_channel_slicing_with_partial_sums():
    b = GraphBuilder("big", weights="random", seed=3)
    x = b.input("x", (2, 256, 3, 3))
    g = b.build([b.relu(b.fc(x, 8))])               # 2304 inputs per filter > tiny's 128-entry cache half
    prog = check(g, load_arch("tiny").with_changes(precision="fp32"), 2, TOL["fp32"])
    pes = [bd.fields("pe") for bd in prog.bundles]
    assert pes[0]["psum_out"] and pes[-1]["psum_in"] and not pes[-1]["psum_out"]


def test_report_and_summary():
    res = compile_model(cnn(), "a10_generic", opt_level=2)
    rep = res.report()
    assert rep["bundles"] == len(res.program.bundles) and rep["weight_bytes"] == res.program.weights_size
    assert sum(rep["config_bytes_per_module"].values()) == rep["config_bytes"]
    assert 0 < rep["config_overhead"] < 0.2
    assert {p["name"] for p in rep["passes"] if p["ran"]} >= {"fuse", "tile", "memory-plan"}
    text = res.summary()
    for word in ("bundles", "config overhead", "DDR footprint", "fuse", "memory-plan"):
        assert word in text
    assert json.dumps(rep)


def test_shapes_only_graph_compiles_without_weights():
    b = GraphBuilder("shapes", weights="none")
    x = b.input("x", (1, 3, 16, 16))
    g = b.build([b.fc(b.relu(b.conv(x, 16, 3)), 10)])
    p = compile_model(g, "a10_generic").program
    assert p.weights is None and p.weights_size > 0
    assert Program.decode(p.encode()).weights_size == p.weights_size


def test_capacity_error_names_layer_and_parameter():
    b = GraphBuilder("k", weights="none")
    x = b.input("x", (1, 4, 40, 40))
    g = b.build([b.conv(x, 4, 17, name="huge")])     # 17x17 window > tiny's filter cache half
    with pytest.raises(CapacityError, match=r"'huge'.*raise filter_cache.depth to >= 578"):
        compile_model(g, "tiny", host_fallback=False)


def test_bad_options():
    with pytest.raises(UserError, match="-O3"):
        compile_model(cnn(), "tiny", opt_level=3)
    with pytest.raises(UserError, match="not found"):
        compile_model("missing.onnx", "tiny")


# --- CLI -------------------------------------------------------------------------------------------------------
def test_cli_compile_disasm_asm_round_trip(tmp_path, capsys):
    model = tmp_path / "cnn.onnx"
    model.write_bytes(export_onnx(cnn(n=1)).SerializeToString())
    out = tmp_path / "cnn.ovl"
    assert main(["compile", str(model), "--arch", "tiny", "-O2", "-o", str(out), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["output"]["bytes"] == out.stat().st_size and rep["arch"] == "tiny"
    text = tmp_path / "cnn.ovlasm"
    assert main(["disasm", str(out), "-o", str(text)]) == 0
    assert "; conv" in text.read_text()
    back = tmp_path / "back.ovl"
    assert main(["asm", str(text), "-o", str(back)]) == 0
    assert back.read_bytes() == out.read_bytes()
    side = tmp_path / "w.bin"
    assert main(["disasm", str(out), "-o", str(text), "--weights-file", str(side)]) == 0
    assert main(["asm", str(text), "-o", str(back), "--weights", str(side)]) == 0
    assert back.read_bytes() == out.read_bytes()
    assert main(["compile", str(model), "-O0", "--batch", "3", "--arch", "a10_generic"]) == 0
    assert "-O0" in capsys.readouterr().out


def test_cli_errors_exit_2(tmp_path, capsys):
    assert main(["compile", str(tmp_path / "none.onnx")]) == 2
    assert "not found" in capsys.readouterr().err
    bad = tmp_path / "bad.ovl"
    bad.write_bytes(b"OVLPROG\x00" + bytes(40))
    assert main(["disasm", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "format version 0.0" in err
    assert main(["compile", "--list-passes"]) == 0
    assert "memory-plan" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["lstm_cell", "gru_stack", "googlenet"])
def test_rebatch_sets_the_batch_dimension(name):
    """--batch sets dimension 1 of a recurrent node's (time, batch, features) sequence, dimension 0 otherwise:
    the rebatched graph equals the network built at that batch (it used to set the time steps of an LSTM)."""
    from compiler.compile import rebatch
    from simulator.estimate import estimate
    from workloads.zoo import ZOO, build_ir

    spec = ZOO[name].inputs[0]
    shape = list(spec.shape)
    shape[spec.layout.index("N") if "N" in spec.layout else spec.layout.index("B")] = 3
    direct, re = build_ir(name, [tuple(shape)]), rebatch(build_ir(name), 3)
    assert [re.tensors[i].shape for i in re.inputs] == [tuple(shape)]
    a = load_arch("a10_generic")
    assert estimate(re, a, memo=False).cycles == estimate(direct, a, memo=False).cycles


def test_program_records_the_batch_of_a_recurrent_network(tmp_path):
    """The report's throughput counts the sequences of an LSTM built at batch 4 (dimension 1 of its input),
    also after a round trip through the program file, without --batch."""
    from simulator.report import build_report, program_batch
    from simulator.timing import simulate_timing
    from workloads.zoo import build_ir

    g = build_ir("lstm_cell", [(5, 4, 64)], hidden=64)
    prog = compile_model(g, "a10_generic").program
    path = tmp_path / "lstm.ovl"
    prog.save(path)
    back = Program.load(path)
    assert program_batch(prog) == program_batch(back) == 4
    rep = build_report(back, simulate_timing(back, events=False), energy=False)
    assert rep.totals()["throughput_per_s"] == pytest.approx(4 / rep.latency_s)
