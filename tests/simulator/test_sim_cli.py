"""`ovl sim`, `ovl trace summarize` and `ovl demo`: outputs are the library's results; bad input gives one line and
exit code 2."""
import json

import numpy as np
import pytest

from compiler.cli import main
from compiler.compile import compile_model
from simulator.estimate import estimate
from workloads.zoo import build_ir


def ovl(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_sim_json_report_and_trace(capsys, tmp_path):
    trace, report = tmp_path / "t.json", tmp_path / "r.json"
    code, out, _ = ovl(capsys, "sim", "fsrcnn", "--arch", "tiny", "--json", "--trace", str(trace), "--report",
                       str(report))
    assert code == 0
    doc = json.loads(out)
    assert doc["arch"] == "tiny" and doc["layers"] and doc["totals"]["cycles"] > 0
    assert json.loads(report.read_text()) == doc
    code, out, _ = ovl(capsys, "trace", "summarize", str(trace), "--json", "--top", "3")
    s = json.loads(out)
    assert code == 0 and len(s["layers"]) == 3 and s["total_cycles"] == doc["totals"]["cycles"]
    hottest = max(doc["layers"], key=lambda x: x["cycles"])
    assert s["layers"][0]["name"] == hottest["name"]
    code, out, _ = ovl(capsys, "trace", "summarize", str(trace))
    assert code == 0 and "hottest 3 layers" not in out and "hottest" in out and "stall reasons" in out


def test_sim_estimate_matches_the_library(capsys):
    code, out, _ = ovl(capsys, "sim", "resnet18", "--estimate", "--json", "-O0")
    assert code == 0
    doc = json.loads(out)
    e = estimate(build_ir("resnet18", weights="none"), "a10_generic", opt_level=0)
    assert doc["totals"]["cycles"] == round(e.cycles) and doc["estimate"] is True


def test_sim_functional_compare_on_a_program_file(capsys, tmp_path):
    g = build_ir("espcn", [(1, 1, 24, 24)], weights="random")
    prog = compile_model(g, "a10_generic", opt_level=2).program
    path = tmp_path / "espcn.ovl"
    prog.save(path)
    x = np.random.default_rng(0).standard_normal((1, 1, 24, 24)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    code, out, _ = ovl(capsys, "sim", str(path), "--functional", "--input", f"x={tmp_path / 'x.npy'}", "--outputs",
                       str(tmp_path / "y.npz"))
    assert code == 0 and "espcn" in out
    y = np.load(tmp_path / "y.npz")[g.outputs[0]]
    assert y.shape == (1, 1, 72, 72)
    code, out, _ = ovl(capsys, "sim", "espcn", "--compare", "--json", "--precision", "fp32")
    acc = json.loads(out)["accuracy"]
    (stats,) = acc.values()
    assert code == 0 and stats["max_rel"] <= 1e-4


@pytest.mark.parametrize("argv,msg", [
    (["sim", "missing.onnx"], "not found"),
    (["sim", "no_such_net"], "neither a file"),
    (["sim", "resnet18", "--arch", "nope"], "architecture 'nope' not found"),
    (["sim", "resnet18", "--functional", "--input", "x"], "expected NAME=FILE.npy"),
    (["sim", "resnet18", "--estimate", "--functional"], "timing only"),
    (["trace", "summarize", "missing.json"], "no such file"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, argv, msg):
    code, out, err = ovl(capsys, *argv)
    assert code == 2 and msg in err and err.count("\n") == 1


def test_program_file_errors(capsys, tmp_path):
    prog = compile_model(build_ir("fsrcnn", weights="none"), "tiny", opt_level=2).program
    path = tmp_path / "p.ovl"
    prog.save(path)
    code, _, err = ovl(capsys, "sim", str(path), "--estimate")
    assert code == 2 and "not a compiled .ovl program" in err
    code, _, err = ovl(capsys, "sim", str(path), "--precision", "fp32")
    assert code == 2 and "recompile the model for fp32" in err
    code, _, err = ovl(capsys, "sim", str(path), "--functional")
    assert code == 2 and "no weight data" in err
    path.write_bytes(path.read_bytes()[:-3])
    code, _, err = ovl(capsys, "sim", str(path))
    assert code == 2 and "p.ovl" in err


def test_demo_writes_program_report_and_trace(capsys, tmp_path):
    code, out, _ = ovl(capsys, "demo", "--out", str(tmp_path), "--network", "squeezenet1_1", "--arch", "a10_generic")
    assert code == 0
    for f in ("squeezenet1_1.ovl", "squeezenet1_1.report.json", "squeezenet1_1.trace.json"):
        assert (tmp_path / f).stat().st_size > 0
    assert "hottest" in out


def test_sim_batch_of_onnx_models(capsys, tmp_path):
    """`ovl sim --batch` sets the batch as `ovl compile --batch` does: also on an ONNX model that fixes it (it was
    an error) and in dimension 1 of an LSTM's (time, batch, features) input (not the time steps)."""
    from simulator.api import load_model
    from workloads.zoo.export import export_onnx

    cnn, lstm = tmp_path / "espcn.onnx", tmp_path / "lstm.onnx"
    export_onnx("espcn", cnn, input_shapes=[(1, 1, 32, 32)])
    export_onnx("lstm_cell", lstm, input_shapes=[(6, 1, 32)], hidden=32)
    _, g = load_model(str(lstm), weights=False, batch=3)
    assert [g.tensors[i].shape for i in g.inputs] == [(6, 3, 32)]
    code, out, err = ovl(capsys, "sim", str(cnn), "--batch", "2", "--json")
    assert code == 0, err
    assert json.loads(out)["totals"]["batch"] == 2


def test_sim_batch_of_graphs_and_programs(capsys, tmp_path):
    """A graph is rebatched as a zoo network is; a compiled program's batch is fixed, so another --batch is a
    one-line error (it was ignored: the report said batch 1), and its own batch is accepted."""
    from simulator.api import load_model

    g = build_ir("espcn", weights="none")
    _, g3 = load_model(g, weights=False, batch=3)
    assert g3.tensors[g3.inputs[0]].shape[0] == 3 and g.tensors[g.inputs[0]].shape[0] == 1
    assert compile_model(g, "tiny", opt_level=2, batch=3).program.meta["batch"] == 3  # the compiler agrees
    path = tmp_path / "espcn.ovl"
    compile_model(g, "tiny", opt_level=2).program.save(path)
    code, _, err = ovl(capsys, "sim", str(path), "--batch", "4")
    assert code == 2 and "'" + str(path) + "' was compiled at batch 1" in err and "--batch 4" in err
    assert len(err.strip().splitlines()) == 1
    code, out, err = ovl(capsys, "sim", str(path), "--batch", "1", "--json")
    assert code == 0, err
    assert json.loads(out)["totals"]["batch"] == 1
