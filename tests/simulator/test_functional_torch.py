"""Acceptance: torch-exported CNN / LSTM / GRU / super-resolution models match torch in the FP32 reference mode, and
the reduced precisions report their error against FP32 and top-1 agreement."""
from __future__ import annotations

import warnings

import pytest

from compiler.compile import compile_model
from compiler.frontend import import_onnx
from simulator.api import run
from simulator.functional import FunctionalSimulator
from zoo_helpers import FP32, TOL, rel


def _torch_models():
    import torch
    from torch import nn

    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.b1 = nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16)
            self.c2, self.b2 = nn.Conv2d(16, 16, 3, padding=1, groups=4, bias=False), nn.BatchNorm2d(16)
            self.c3 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
            self.fc = nn.Linear(32, 10)

        def forward(self, x):
            y = torch.relu(self.b1(self.c1(x)))
            y = torch.relu(y + self.b2(self.c2(y)))
            y = nn.functional.max_pool2d(torch.relu(self.c3(y)), 2)
            return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(y, 1), 1))

    class SR(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = nn.Conv2d(1, 16, 5, padding=2), nn.Conv2d(16, 9, 3, padding=1)
            self.shuffle = nn.PixelShuffle(3)

        def forward(self, x):
            return self.shuffle(self.c2(torch.tanh(self.c1(x))))

    class LSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(12, 20, num_layers=2, bidirectional=True)

        def forward(self, x):
            return self.rnn(x)[0]

    class GRU(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.GRU(10, 16)

        def forward(self, x, h):
            return self.rnn(x, h)[0]

    return {"cnn": (CNN, [(2, 3, 16, 16)]), "sr": (SR, [(1, 1, 12, 12)]), "lstm": (LSTM, [(6, 2, 12)]),
            "gru": (GRU, [(5, 3, 10), (1, 3, 16)])}


def export_case(name, cls, shapes, folder):
    """Export model `name` (seeded weights, randomised BatchNorm statistics) to `folder`; returns (path, the
    seeded inputs as numpy arrays, torch's output)."""
    import torch

    torch.manual_seed(0)
    m = cls().eval()
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
    args = tuple(torch.randn(s, generator=torch.Generator().manual_seed(1)) for s in shapes)
    path = folder / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, args, str(path), opset_version=17, dynamo=False)
    with torch.no_grad():
        ref = m(*args).numpy()
    return path, [a.numpy() for a in args], ref


@pytest.fixture(scope="module")
def torch_exports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("torch")
    return {name: export_case(name, cls, shapes, folder) for name, (cls, shapes) in _torch_models().items()}


@pytest.mark.parametrize("name,opt", [("cnn", 2), ("cnn", 0), ("lstm", 2), ("lstm", 0), ("gru", 2), ("gru", 0),
                                      ("sr", 2), ("sr", 0)])
def test_torch_exports_match_torch(torch_exports, name, opt):
    path, args, ref = torch_exports[name]
    graph = import_onnx(path)
    feeds = dict(zip(graph.inputs, args))
    prog = compile_model(graph, FP32, opt_level=opt).program
    got = FunctionalSimulator(prog).run(feeds)[graph.outputs[0]]
    assert rel(got, ref) <= TOL


def test_reduced_precisions_report_error_against_fp32():
    from workloads.zoo import build_ir

    g = build_ir("resnet18", [(4, 3, 64, 64)], weights="random", seed=2)
    acc = {}
    for prec in ("fp32", "fp16", "bfp16", "bfp11", "int8"):
        res = run(g, "a10_generic", precision=prec, compare=True)
        (stats,) = res.report.accuracy.values()
        acc[prec] = stats
        assert stats["top1"] is not None and 0 <= stats["top1"] <= 1
    assert acc["fp32"]["max_rel"] <= TOL and acc["fp32"]["top1"] == 1.0
    assert 0 < acc["fp16"]["max_rel"] < 5e-3
    assert acc["fp16"]["max_rel"] <= acc["bfp16"]["max_rel"] < 1e-2      # 12-bit mantissas vs fp16's 11 + hidden bit
    assert acc["bfp16"]["max_rel"] < acc["bfp11"]["max_rel"] < 0.2       # 7-bit mantissas
    assert 0 < acc["int8"]["max_rel"] < 0.2
