"""Torch side of the zoo: seeded modules, example inputs, and ONNX export with static shapes.

The default exporter is torch's TorchScript-based ("legacy") one: fast, static shapes, and it keeps
BatchNormalization nodes when asked (training mode PRESERVE on a module in eval mode), so the compiler's BN
folding sees real running statistics. `dynamo=True` uses the torch.export-based exporter instead.
"""
from __future__ import annotations

import importlib
import io
import json
import logging
import os
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Sequence

import onnx
import torch

from workloads.zoo.onnx_tidy import skeleton, tidy
from workloads.zoo.registry import ZooError, entry, format_shape
from workloads.zoo.torch_common import build_seeded, lrn_onnxscript

OPSETS = range(13, 21)  # IR convention: opset 13+ forms; 20 is the newest the legacy exporter writes
DEFAULT_OPSET = 17


@contextmanager
def _quiet(loggers: Sequence[str] = ("torch.onnx", "onnxscript", "onnx_ir")):
    """Silence the exporters' progress and fallback chatter for the duration of one export (levels restored)."""
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in loggers]
    for logger, _ in saved:
        logger.setLevel(logging.ERROR if logger.level < logging.ERROR else logger.level)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


def build_torch(name: str, input_shapes: Sequence[Sequence[int]] | None = None, *, seed: int = 0,
                **options: Any) -> torch.nn.Module:
    """The network as a torch module in eval mode, every parameter and buffer drawn from `seed`."""
    e = entry(name)
    shapes = e.resolve_shapes(input_shapes)
    opts = e.resolve_options(options)
    module_name, cls_name = e.torch_class.split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    from workloads.zoo.registry import build_ir

    build_ir(name, shapes, **opts)  # validates the shapes with the zoo's own message before torch sees them
    return build_seeded(lambda: cls(shape=shapes[0], **e.fixed, **opts), seed)


def example_inputs(name: str, input_shapes: Sequence[Sequence[int]] | None = None, *,
                   seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Seeded standard-normal inputs of the network's (or the given) shapes."""
    shapes = entry(name).resolve_shapes(input_shapes)
    gen = torch.Generator().manual_seed(seed + 1)
    return tuple(torch.randn(*s, generator=gen) for s in shapes)


def export_onnx(name: str, path: str | os.PathLike | None = None, *, opset: int = DEFAULT_OPSET,
                input_shapes: Sequence[Sequence[int]] | None = None, seed: int = 0, dynamo: bool = False,
                fold_bn: bool = False, clean: bool = True, **options: Any) -> onnx.ModelProto:
    """Export zoo network `name` to ONNX (static shapes); write it to `path` if given and return the model.

    `fold_bn=True` lets the legacy exporter fold BatchNormalization into the preceding Conv. `clean` runs
    `onnx_tidy.tidy` (constant shape arithmetic folded, zero RNN initial states dropped).
    """
    if opset not in OPSETS:
        raise ZooError(f"opset {opset} is not supported for zoo export; use {OPSETS.start}..{OPSETS.stop - 1}")
    if dynamo and fold_bn:
        raise ZooError("--fold-bn applies to the legacy exporter only; drop it or --dynamo")
    e = entry(name)
    shapes = e.resolve_shapes(input_shapes)
    module = build_torch(name, shapes, seed=seed, **options)
    args = example_inputs(name, shapes, seed=seed)
    in_names = [i.name for i in e.inputs]
    with _quiet(), torch.no_grad():
        if dynamo:
            program = torch.onnx.export(module, args, dynamo=True, opset_version=opset, input_names=in_names,
                                        output_names=list(e.outputs), optimize=True, verbose=False,
                                        custom_translation_table=lrn_onnxscript())
            model = program.model_proto
        else:
            buf = io.BytesIO()
            training = torch.onnx.TrainingMode.EVAL if fold_bn else torch.onnx.TrainingMode.PRESERVE
            torch.onnx.export(module, args, buf, dynamo=False, opset_version=opset, training=training,
                              do_constant_folding=True, input_names=in_names, output_names=list(e.outputs))
            model = onnx.load_from_string(buf.getvalue())
    if clean:
        model = tidy(model)
    model.producer_name = "ovl zoo"
    model.doc_string = f"{name}: {e.description}"
    meta = {"zoo": name, "seed": str(seed), "options": json.dumps(e.resolve_options(options)),
            "input_shapes": ", ".join(map(format_shape, shapes)), "exporter": "dynamo" if dynamo else "legacy",
            "fold_bn": str(bool(fold_bn)), "source": e.source}
    del model.metadata_props[:]
    for k, v in meta.items():
        model.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(skeleton(model))  # full-model check serialises every weight: seconds for VGG
    if path is not None:
        path = Path(path)
        if not path.parent.exists():
            raise ZooError(f"output directory '{path.parent}' does not exist; create it or choose another -o")
        onnx.save_model(model, str(path))
    return model
