"""The workload zoo: the networks of the papers as torch modules, ONNX exports and direct IR builds.

Torch-free entry points (registry, IR builders, counts) import eagerly; `build_torch`, `example_inputs` and
`export_onnx` import torch on first use.
"""
from __future__ import annotations

from typing import Any

from workloads.zoo.registry import (FAMILIES, ZOO, InputSpec, Option, ZooEntry, ZooError, build_ir, count_macs,
                                    count_params, entry, format_shape, info, names)

_TORCH_API = {"build_torch", "example_inputs", "export_onnx"}

__all__ = ["FAMILIES", "ZOO", "InputSpec", "Option", "ZooEntry", "ZooError", "build_ir", "count_macs",
           "count_params", "entry", "format_shape", "info", "names", *sorted(_TORCH_API)]


def __getattr__(name: str) -> Any:
    if name in _TORCH_API:
        from workloads.zoo import export

        return getattr(export, name)
    raise AttributeError(f"module 'workloads.zoo' has no attribute '{name}'")
