"""Reading an ONNX model from disk (or taking a ModelProto) with one-line errors for every way it can be bad.

`load_model` parses the protobuf itself (so a truncated or foreign file is a `ModelError`, not a protobuf
traceback), checks and loads external data (`.onnx.data` files next to the model), inlines model-local
functions, and checks that the model is an ONNX graph at a supported opset.
"""
from __future__ import annotations

import os
from pathlib import Path

import onnx
from google.protobuf.message import DecodeError
from onnx import external_data_helper

from compiler.errors import ModelError

MIN_OPSET = 9
MAX_OPSET = 23  # 22 and 23 only widened type constraints of the supported operators (bfloat16, float8, int4)
DEFAULT_DOMAINS = ("", "ai.onnx")


def load_model(model: str | Path | onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """Return the model (external data loaded, local functions inlined) and a label naming it in messages."""
    if isinstance(model, onnx.ModelProto):
        label = model.graph.name or "<ModelProto>"
        for tensor in _external_tensors(model):
            raise ModelError(f"{label}: tensor '{tensor.name}' keeps its data in an external file; pass the model "
                             f"path (not a ModelProto) so the .onnx.data file can be found next to it")
        proto = model
    else:
        path = Path(model)
        label = str(path)
        if not path.is_file():
            raise ModelError(f"{label}: no such file; check the path of the ONNX model")
        data = path.read_bytes()
        proto = onnx.ModelProto()
        try:
            proto.ParseFromString(data)
        except (DecodeError, RuntimeError, ValueError) as exc:
            raise ModelError(f"{label}: cannot parse the ONNX protobuf ({_short(exc)}); the file is truncated, "
                             f"corrupted or not an ONNX model: re-export or re-download it") from None
        _check_is_onnx(proto, label, len(data))
        _load_external_data(proto, path, label)
    _check_is_onnx(proto, label, None)
    if proto.functions:
        try:
            proto = onnx.inliner.inline_local_functions(proto)
        except Exception as exc:  # onnx raises plain exceptions from C++
            raise ModelError(f"{label}: cannot inline the model's local functions ({_short(exc)})") from None
    return proto, label


def model_opset(proto: onnx.ModelProto, label: str) -> int:
    """The version of the default ('ai.onnx') operator set, checked against the supported range."""
    versions = [o.version for o in proto.opset_import if o.domain in DEFAULT_DOMAINS]
    if not versions:
        raise ModelError(f"{label}: the model imports no 'ai.onnx' operator set; it is not a standard ONNX model")
    opset = max(versions)
    if opset < MIN_OPSET:
        raise ModelError(f"{label}: opset {opset} is older than the supported {MIN_OPSET}..{MAX_OPSET}; convert it "
                         f"with onnx.version_converter.convert_version(model, 13) first")
    if opset > MAX_OPSET:
        raise ModelError(f"{label}: opset {opset} is newer than the supported {MIN_OPSET}..{MAX_OPSET}; re-export "
                         f"with opset_version=18")
    return opset


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) < 120 else text[:117] + "..."


def _check_is_onnx(proto: onnx.ModelProto, label: str, size: int | None) -> None:
    if proto.ir_version <= 0 or not proto.HasField("graph"):
        what = f"{size} bytes" if size is not None else "the model"
        raise ModelError(f"{label}: {what} parsed, but it holds no ONNX graph (no ir_version or graph); the file is "
                         f"not an ONNX model or is truncated: re-export or re-download it")
    if len(proto.graph.node) == 0:
        raise ModelError(f"{label}: the ONNX graph has no nodes; the file is truncated or empty: re-export it")


def _graph_tensors(graph: onnx.GraphProto):
    yield from graph.initializer
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from _graph_tensors(attr.g)
            for sub in attr.graphs:
                yield from _graph_tensors(sub)


def _external_tensors(proto: onnx.ModelProto) -> list[onnx.TensorProto]:
    return [t for t in _graph_tensors(proto.graph) if external_data_helper.uses_external_data(t)]


def _load_external_data(proto: onnx.ModelProto, path: Path, label: str) -> None:
    tensors = _external_tensors(proto)
    if not tensors:
        return
    base = path.parent
    for tensor in tensors:
        info = external_data_helper.ExternalDataInfo(tensor)
        location = base / info.location
        if not location.is_file():
            raise ModelError(f"{label}: tensor '{tensor.name}' is stored in the external data file "
                             f"'{info.location}', which is missing; keep it next to the model (in {base})")
        length = info.length if info.length else 0
        if (info.offset or 0) + length > os.path.getsize(location):
            raise ModelError(f"{label}: external data file '{info.location}' is shorter than tensor "
                             f"'{tensor.name}' needs (offset {info.offset}, length {length}); it is truncated: "
                             f"copy it again")
    try:
        external_data_helper.load_external_data_for_model(proto, str(base))
    except Exception as exc:  # onnx raises checker/OS errors for bad locations
        raise ModelError(f"{label}: cannot read external data ({_short(exc)})") from None
