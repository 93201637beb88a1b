"""Acceptance: the light model-zoo networks with seeded random weights (so that channels differ) match onnxruntime
in the FP32 reference mode."""
from __future__ import annotations

import onnx
import pytest

from zoo_helpers import BIG, FP32, LIGHT, MODELS, TOL, ort_outputs, rel, simulate_model, with_random_weights


@pytest.mark.parametrize("name", [n for n in MODELS if n not in BIG])
def test_light_zoo_with_random_weights_matches_onnxruntime(name):
    check(name)


def check(name: str) -> None:
    model = with_random_weights(onnx.load(LIGHT / f"light_{name}.onnx"))
    got, feeds = simulate_model(model, FP32, 2)
    ref = ort_outputs(model, feeds)
    for g, r in zip(got, ref):
        assert rel(g, r) <= TOL, name
