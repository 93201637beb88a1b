"""Run an IR graph on onnxruntime through `export_onnx` (reference numerics for tests and host fallback)."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from compiler.frontend.onnx_export import export_onnx
from compiler.ir import Graph


def run_onnxruntime(graph: Graph, feeds: Mapping[str, np.ndarray], *, outputs: Sequence[str] | None = None,
                    threads: int = 1, optimize: bool = True) -> dict[str, np.ndarray]:
    """Execute `graph` on onnxruntime's CPU provider; returns {output name: array}.

    `threads` sets this session's intra-op threads only (no global setting is touched); `optimize=False` turns
    off onnxruntime's graph optimisations (faster start for big graphs, no fused kernels)."""
    import onnxruntime as ort

    model = export_onnx(graph)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    names = list(outputs or graph.outputs)
    results = session.run(names, {k: np.asarray(v) for k, v in feeds.items()})
    return dict(zip(names, results))
