"""`ovl inspect`: the per-layer table and summary, --json, --no-canonicalize, on the nine light zoo networks."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from compiler.cli import main
from compiler.frontend import import_onnx

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
MODELS = sorted(p.name for p in LIGHT.glob("light_*.onnx"))


@pytest.mark.parametrize("name", MODELS)
def test_inspect_table_and_json_agree_with_the_graph(name, capsys):
    path = str(LIGHT / name)
    graph = import_onnx(path)
    totals = graph.totals()
    assert main(["inspect", path]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].split() == ["#", "node", "op", "input", "output", "MACs", "params"]
    assert len([ln for ln in lines[1:] if ln.strip() and ln.split()[0].isdigit()]) == len(graph.nodes)
    assert f"total MACs {totals.macs:,}" in text and f"params {totals.params:,}" in text
    assert main(["inspect", path, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["totals"]["macs"] == totals.macs == sum(r["macs"] for r in report["layers"])
    assert report["totals"]["params"] == sum(r["params"] for r in report["layers"])
    assert [o["shape"] for o in report["outputs"]] == [list(graph.tensors[o].shape) for o in graph.outputs]
    assert sum(v["nodes"] for v in report["by_op"].values()) == len(report["layers"])
    assert report["metadata"]["opset"] == 9


def test_no_canonicalize_shows_the_imported_ops(capsys):
    path = str(LIGHT / "light_resnet50.onnx")
    assert main(["inspect", path, "--json", "--no-canonicalize"]) == 0
    raw = json.loads(capsys.readouterr().out)
    assert main(["inspect", path, "--json"]) == 0
    canon = json.loads(capsys.readouterr().out)
    assert raw["by_op"]["BatchNormalization"]["nodes"] == 53 and raw["by_op"]["Sum"]["nodes"] == 16
    assert "BatchNormalization" not in canon["by_op"] and canon["by_op"]["Add"]["nodes"] == 16
    assert raw["totals"]["macs"] == canon["totals"]["macs"]
    # folding BN into convolutions adds a bias to each of the 53 bias-free convs and drops 4 BN vectors each
    assert raw["totals"]["params"] - canon["totals"]["params"] == sum(
        3 * r["params"] // 4 for r in raw["layers"] if r["op"] == "BatchNormalization")


def test_console_script_help_and_run():
    exe = Path(sys.executable).with_name("ovl")
    help_text = subprocess.run([str(exe), "inspect", "--help"], capture_output=True, text=True, check=True).stdout
    assert "--input-shape" in help_text and "--no-canonicalize" in help_text and "--json" in help_text
    done = subprocess.run([str(exe), "inspect", str(LIGHT / "light_squeezenet.onnx")], capture_output=True, text=True)
    assert done.returncode == 0 and "by op: Conv x26" in done.stdout
