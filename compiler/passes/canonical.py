"""The ONNX front-end's canonicalisations, listed as compiler passes (they run at every -O level).

The importer already applies them (`import_onnx(canonicalize=True)`); running them again is a no-op on an
imported graph and makes graphs built directly (compiler.builder, workloads) canonical too.
"""
from __future__ import annotations

from compiler.frontend.canonicalize import CANONICALIZATIONS
from compiler.ir import Graph
from compiler.passes import PassContext, register_pass

_DOCS = {
    "remove-identity": "drop Identity and inference Dropout nodes",
    "sum-to-add": "Sum of n inputs -> a chain of Add",
    "clip-to-relu6": "Clip(0, 6) -> Relu6, Clip(0, none) -> Relu",
    "fold-batchnorm": "fold BatchNormalization into the Conv before it",
    "recognise-fully-connected": "Gemm with constant weights (+ Flatten/Reshape feeding it) -> FullyConnected",
}


def _wrap(fn):
    def run(g: Graph, ctx: PassContext) -> Graph:
        return fn(g)

    return run


for _name, _fn in CANONICALIZATIONS:
    register_pass(_name, _DOCS.get(_name, (_fn.__doc__ or "").strip().split("\n")[0]), kind="canonicalize")(
        _wrap(_fn))
