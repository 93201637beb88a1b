"""Acceptance: the FP32 reference mode reproduces onnxruntime (max |sim - ref| / max |ref| <= 1e-4) on the nine light
model-zoo networks of the onnx wheel and their shipped expected outputs, at several levels and architectures."""
from __future__ import annotations

import onnx
import pytest
from onnx import numpy_helper

from hw_models.arch import load_arch
from zoo_helpers import FP32, LIGHT, MODELS, TOL, _marks, ort_outputs, rel, simulate_model, with_random_weights


@pytest.mark.parametrize("name", [pytest.param(n, marks=_marks(n)) for n in MODELS])
def test_light_zoo_matches_onnxruntime_and_shipped_outputs(name):
    model = onnx.load(LIGHT / f"light_{name}.onnx")
    got, feeds = simulate_model(model, FP32, 2)
    ref = ort_outputs(model, feeds)
    shipped = numpy_helper.to_array(onnx.load_tensor(str(LIGHT / f"light_{name}_output_0.pb")))
    assert rel(got[0], ref[0]) <= TOL
    assert rel(got[0], shipped) <= TOL


@pytest.mark.parametrize("name,opt,arch", [("resnet50", 0, "a10_generic"), ("inception_v1", 0, "dla_alexnet_a10"),
                                           ("squeezenet", 2, "tiny"), ("shufflenet", 0, "tiny")])
def test_light_zoo_other_levels_and_architectures(name, opt, arch):
    model = with_random_weights(onnx.load(LIGHT / f"light_{name}.onnx"), seed=3)
    got, feeds = simulate_model(model, load_arch(arch).with_changes(precision="fp32"), opt)
    ref = ort_outputs(model, feeds)
    assert rel(got[0], ref[0]) <= TOL


