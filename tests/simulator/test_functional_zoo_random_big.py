"""Acceptance, the three big light zoo networks (VGG-19, AlexNet, ZFNet: tens of millions of weights) with seeded
random weights vs onnxruntime in the FP32 reference mode (slow: about a minute)."""
from __future__ import annotations

import pytest

from test_functional_zoo_random import check
from zoo_helpers import BIG


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BIG))
def test_big_light_zoo_with_random_weights_matches_onnxruntime(name):
    check(name)
