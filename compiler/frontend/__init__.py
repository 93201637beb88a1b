"""ONNX front-end: import ONNX models into the IR, canonicalise them, and export IR graphs back to ONNX.

    from compiler.frontend import import_onnx, export_onnx
    g = import_onnx("resnet50.onnx", input_shapes={"x": (1, 3, 224, 224)})
    print(g.summary())
    onnx.save(export_onnx(g), "resnet50.ir.onnx")

See docs/ir.md for the IR conventions, the supported operators and the import limits.
"""
from compiler.frontend.canonicalize import (CANONICALIZATIONS, canonicalize, clip_to_relu6, fold_batchnorm,
                                            recognise_fully_connected, remove_identity, sum_to_add)
from compiler.frontend.handlers import supported_ops
from compiler.frontend.onnx_export import EXPORT_OPSET, export_onnx
from compiler.frontend.onnx_import import import_onnx, parse_input_shape
from compiler.frontend.runtime import run_onnxruntime

__all__ = ["import_onnx", "export_onnx", "canonicalize", "CANONICALIZATIONS", "remove_identity", "sum_to_add",
           "clip_to_relu6", "fold_batchnorm", "recognise_fully_connected", "parse_input_shape", "supported_ops",
           "run_onnxruntime", "EXPORT_OPSET"]
