"""Export round trip of the zoo's BatchNorm networks (ResNet-18/50/101, MobileNetV2): BN stays in the ONNX with
seeded non-trivial running statistics, so the front-end's folding changes weights and must keep numerics."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import onnxruntime as ort
import pytest
import torch

from test_zoo_reference import check_export, relative_error
from compiler.frontend import import_onnx
from workloads.zoo import build_torch, example_inputs, export_onnx

CASES = {
    "resnet18": [(1, 3, 32, 32)],
    "resnet50": [(1, 3, 32, 32)],
    "resnet101": [(1, 3, 32, 32)],
    "mobilenet_v2": [(1, 3, 64, 64)],
}


@lru_cache(maxsize=None)
def exported(name: str, fold_bn: bool = False):
    return export_onnx(name, input_shapes=CASES[name], seed=5, fold_bn=fold_bn)


@pytest.mark.parametrize("name", list(CASES))
def test_export_keeps_bn_matches_torch_and_imports_with_torch_counts(name):
    result = check_export(exported(name), name, CASES[name], seed=5)
    assert result["ops"].count("BatchNormalization") == result["ops"].count("Conv")


def test_running_statistics_are_seeded_and_not_trivial():
    m = build_torch("resnet18", CASES["resnet18"], seed=5)
    bns = [x for x in m.modules() if isinstance(x, torch.nn.BatchNorm2d)]
    means = torch.cat([b.running_mean for b in bns])
    variances = torch.cat([b.running_var for b in bns])
    assert means.abs().min() > 0 and (variances - 1).abs().mean() > 0.1 and variances.min() > 0
    again = build_torch("resnet18", CASES["resnet18"], seed=5)
    other = build_torch("resnet18", CASES["resnet18"], seed=6)
    assert torch.equal(again.layers[0].body[0][1].running_var, bns[1].running_var)
    assert not torch.equal(other.layers[0].body[0][1].running_var, bns[1].running_var)


def test_fold_bn_export_has_no_bn_and_same_numerics():
    folded = exported("resnet18", fold_bn=True)
    assert "BatchNormalization" not in {n.op_type for n in folded.graph.node}
    x, = example_inputs("resnet18", CASES["resnet18"], seed=5)
    with torch.no_grad():
        ref = build_torch("resnet18", CASES["resnet18"], seed=5)(x).numpy()
    out = ort.InferenceSession(folded.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        None, {"x": x.numpy()})[0]
    assert relative_error(out, ref) <= 1e-4
    # the exporter's folding and our front-end's folding give the same parameter count
    assert import_onnx(folded).totals().params == import_onnx(exported("resnet18")).totals().params


def test_residual_adds_and_depthwise_convs_survive_export():
    ops = [n.op_type for n in exported("mobilenet_v2").graph.node]
    groups = [a.i for n in exported("mobilenet_v2").graph.node if n.op_type == "Conv" for a in n.attribute
              if a.name == "group"]
    assert ops.count("Add") == 10 and ops.count("Clip") == 35
    assert sum(g > 1 for g in groups) == 17  # one depthwise 3x3 per inverted residual block
    assert np.all(np.array(groups) >= 1)
