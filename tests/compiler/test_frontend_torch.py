"""Models exported from torch with both exporters (TorchScript `dynamo=False` and `dynamo=True`) at opsets 17 and
18: a small CNN with BatchNorm, a PixelShuffle super-resolution net, a bidirectional 2-layer LSTM and a GRU with
initial states. Shapes equal onnxruntime's, numerics match torch, MACs match a count taken from the torch modules
(forward hooks on Conv2d/Linear, the recurrent formula from the module's configuration)."""
from __future__ import annotations

import json
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from compiler.cli import main
from compiler.frontend import import_onnx, run_onnxruntime

# one xdist worker runs every case, so the session fixture exports the 16 models once (make test: --dist loadgroup)
pytestmark = pytest.mark.xdist_group("frontend_torch_exports")


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.c2, self.b2 = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=2, bias=False), nn.BatchNorm2d(8)
        self.b3 = nn.BatchNorm2d(8)  # after pooling: not foldable, stays a BatchNormalization
        self.drop = nn.Dropout(0.25)
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        x = torch.relu(self.b1(self.c1(x)))
        x = nn.functional.relu6(self.b2(self.c2(x)))
        x = self.b3(nn.functional.max_pool2d(x, 2))
        return self.fc(self.drop(torch.flatten(x, 1)))


class PixelShuffleSR(nn.Module):
    """ESPCN-style x2 super-resolution with a nearest-upsampled skip."""

    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(3, 16, 5, padding=2), nn.Conv2d(16, 12, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x):
        y = self.shuffle(self.c2(torch.tanh(self.c1(x))))
        return y + nn.functional.interpolate(x, scale_factor=2.0, mode="nearest")


class Recurrent(nn.Module):
    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind
        self.rnn = getattr(nn, kind)(6, 5, num_layers=2 if kind == "LSTM" else 1, batch_first=True,
                                     bidirectional=True)

    def forward(self, x, h, c=None):
        if self.kind == "LSTM":
            y, (h, c) = self.rnn(x, (h, c))
            return y, h, c
        y, h = self.rnn(x, h)
        return y, h


def _models():
    torch.manual_seed(0)
    cnn = SmallCNN()
    with torch.no_grad():
        for bn in (cnn.b1, cnn.b2, cnn.b3):  # non-trivial statistics so that folding matters
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
    g = torch.Generator().manual_seed(1)
    return {
        "cnn": (cnn, (torch.randn(2, 3, 16, 16, generator=g),)),
        "sr": (PixelShuffleSR(), (torch.rand(1, 3, 12, 10, generator=g),)),
        "lstm": (Recurrent("LSTM"), (torch.randn(3, 7, 6, generator=g), torch.randn(4, 3, 5, generator=g),
                                     torch.randn(4, 3, 5, generator=g))),
        "gru": (Recurrent("GRU"), (torch.randn(3, 7, 6, generator=g), torch.randn(2, 3, 5, generator=g))),
    }


def torch_macs(module: nn.Module, args) -> int:
    """MACs counted on the torch side, independent of ONNX and of the IR."""
    total = 0

    def hook(m, inputs, output):
        nonlocal total
        if isinstance(m, nn.Conv2d):
            total += output.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        elif isinstance(m, nn.Linear):
            total += output.numel() * m.in_features
        elif isinstance(m, (nn.LSTM, nn.GRU, nn.RNN)):
            x = inputs[0]
            batch, seq = (x.shape[0], x.shape[1]) if m.batch_first else (x.shape[1], x.shape[0])
            gates = {nn.LSTM: 4, nn.GRU: 3, nn.RNN: 1}[type(m)]
            dirs = 2 if m.bidirectional else 1
            for layer in range(m.num_layers):
                width = m.input_size if layer == 0 else m.hidden_size * dirs
                total += seq * batch * dirs * gates * m.hidden_size * (width + m.hidden_size)

    handles = [m.register_forward_hook(hook) for m in module.modules()]
    with torch.no_grad():
        module(*args)
    for h in handles:
        h.remove()
    return total


CASES = [(name, exporter, opset) for name in ("cnn", "sr", "lstm", "gru") for exporter in ("legacy", "dynamo")
         for opset in (17, 18)]


@pytest.fixture(scope="session")
def exported(tmp_path_factory):
    """Export every (model, exporter, opset) once per session; returns {case: (path, inputs, outputs, MACs)}."""
    root = tmp_path_factory.mktemp("torch_onnx")
    out = {}
    for name, (module, args) in _models().items():
        module.eval()
        with torch.no_grad():
            ref = module(*args)
        ref = [r.numpy() for r in (ref if isinstance(ref, tuple) else (ref,))]
        macs = torch_macs(module, args)
        for _, exporter, opset in [c for c in CASES if c[0] == name]:
            path = root / f"{name}_{exporter}_{opset}.onnx"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if exporter == "legacy":  # no constant folding: keep BatchNorm nodes for our own folding
                    torch.onnx.export(module, args, str(path), opset_version=opset, dynamo=False,
                                      do_constant_folding=False)
                else:
                    torch.onnx.export(module, args, str(path), opset_version=opset, dynamo=True, optimize=False,
                                      verbose=False)
            out[(name, exporter, opset)] = (path, [a.numpy() for a in args], ref, macs)
    return out


@pytest.mark.parametrize("case", CASES, ids=["-".join(map(str, c)) for c in CASES])
def test_torch_exports(exported, case, capsys):
    path, args, ref, macs = exported[case]
    model = onnx.load(path)
    assert model.opset_import[0].version == case[2]
    graph = import_onnx(path)
    feeds = dict(zip(graph.inputs, args))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 3
    ort_out = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"]).run(None, feeds)
    assert [graph.tensors[o].shape for o in graph.outputs] == [r.shape for r in ort_out]
    assert graph.totals().macs == macs > 0
    got = run_onnxruntime(graph, feeds)
    for o, r in zip(graph.outputs, ref):
        np.testing.assert_allclose(got[o], r, rtol=1e-4, atol=1e-5 * np.abs(r).max())
    assert main(["inspect", str(path), "--json"]) == 0  # the CLI view of the same model
    report = json.loads(capsys.readouterr().out)
    assert report["totals"]["macs"] == macs and [o["shape"] for o in report["outputs"]] == [list(r.shape)
                                                                                          for r in ort_out]
    ops = [n.op for n in graph.nodes]
    if case[0] == "cnn":
        assert ops.count("BatchNormalization") == 1  # b1 and b2 folded into their convs, b3 kept
        assert "Relu6" in ops and "FullyConnected" in ops and "Dropout" not in ops
    if case[0] == "sr":
        assert "DepthToSpace" in ops and "Resize" in ops
    if case[0] in ("lstm", "gru"):
        assert ops.count(case[0].upper()) == (2 if case[0] == "lstm" else 1)
