"""Export -> onnxruntime -> import round trip of the zoo's plain classifiers (no BatchNorm), at small input sizes
(the architectures are unchanged; AlexNet/ZFNet/VGG-16 shrink their first FC layer with the image)."""
from __future__ import annotations

from functools import lru_cache

import pytest

from test_zoo_reference import check_export
from workloads.zoo import export_onnx

CASES = {
    "alexnet": [(1, 3, 67, 67)],
    "zfnet": [(1, 3, 64, 64)],
    "vgg16": [(1, 3, 32, 32)],
    "googlenet": [(1, 3, 64, 64)],
    "squeezenet1_0": [(1, 3, 64, 64)],
    "squeezenet1_1": [(2, 3, 64, 64)],
}
LRN_NETS = {"alexnet": 2, "zfnet": 2, "googlenet": 2}


@lru_cache(maxsize=None)
def exported(name: str, seed: int = 3):
    return export_onnx(name, input_shapes=CASES[name], seed=seed)


@pytest.mark.parametrize("name", list(CASES))
def test_export_matches_torch_and_imports_with_torch_counts(name):
    model = exported(name)
    result = check_export(model, name, CASES[name], seed=3)
    assert result["ops"].count("LRN") == LRN_NETS.get(name, 0)  # one ONNX LRN node each, not a decomposition
    assert {m.key: m.value for m in model.metadata_props}["zoo"] == name


def test_grouped_convs_of_alexnet_survive_export():
    model = exported("alexnet")
    groups = [a.i for n in model.graph.node if n.op_type == "Conv" for a in n.attribute if a.name == "group"]
    assert groups == [1, 2, 1, 2, 2]
