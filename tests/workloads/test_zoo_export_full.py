"""The slow zoo exports: the speech model at its full documented size, and the torch.export-based exporter."""
from __future__ import annotations

import pytest

from test_zoo_reference import check_export
from workloads.zoo import ZOO, export_onnx


@pytest.mark.slow
def test_full_size_speech_model_exports_and_imports():
    """60 M parameters, 5 encoder + 2 decoder LSTM layers of 1024, 16 unrolled steps; only T is shortened."""
    shapes = [(16, 1, 80)]
    result = check_export(export_onnx("asr_attention", input_shapes=shapes), "asr_attention", shapes)
    assert result["counts"].params > 60_000_000 and result["ops"].count("LSTM") == 5


@pytest.mark.slow
@pytest.mark.parametrize("name", ["fsrcnn", "espcn", "googlenet"])
def test_dynamo_exporter_round_trip(name):
    shapes = None if ZOO[name].family == "super-resolution" else [(1, 3, 64, 64)]
    result = check_export(export_onnx(name, input_shapes=shapes, dynamo=True, seed=2), name, shapes, seed=2)
    assert result["error"] <= 1e-4
