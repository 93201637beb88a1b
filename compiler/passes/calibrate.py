"""`calibrate`: per-tensor int8 scales for the int8 architecture (a no-op for the float precisions).

The float graph runs on onnxruntime over calibration inputs (`PassContext.calibration`: {input name: array};
by default 4 seeded standard-normal samples per input, a crude stand-in that the user should replace with
real data via `ovl compile --calibrate FILE.npz`). Each tensor's scale is max|x| / 127 (symmetric, zero point 0).
Tensors that the int8 kernels pass through without rescaling share one scale (the largest of the set):
inputs and outputs of max/average pooling, clamp-type activations (ReLU, ReLU6, Clip: the PE array then
requantises straight to the activation's output scale), depth-to-space / upsampling, views and slices, and all
inputs and the output of a concatenation. Weights use one scale per layer, chosen at lowering (max|w| / 127).
A graph without weight data cannot be run: every scale is 1.0 and the pass says so.
"""
from __future__ import annotations

import numpy as np

from compiler.ir import Graph
from compiler.passes import PassContext, note, register_pass
from compiler.passes.plan import get_plan, with_plan

SHARED = {"MaxPool", "AveragePool", "GlobalAveragePool", "Relu", "Relu6", "Clip", "DepthToSpace", "Resize",
          "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Slice", "Identity", "Dropout", "Concat", "Split"}


def calibration_feeds(g: Graph, ctx: PassContext, samples: int = 4) -> list[dict[str, np.ndarray]]:
    if ctx.calibration:
        arrays = {k: np.asarray(v, dtype=np.float32) for k, v in ctx.calibration.items()}
        missing = [i for i in g.inputs if i not in arrays]
        if missing:
            from compiler.errors import UserError

            raise UserError(f"calibration data has no array for input(s) {missing}; give one per graph input")
        return [{i: arrays[i] for i in g.inputs}]
    rng = np.random.default_rng(ctx.seed)
    return [{i: rng.standard_normal(g.tensors[i].shape).astype(np.float32) for i in g.inputs}
            for _ in range(samples)]


def tensor_ranges(g: Graph, feeds: list[dict[str, np.ndarray]]) -> dict[str, float]:
    from compiler.frontend import run_onnxruntime

    names = [t for t, v in g.tensors.items() if not v.const and t not in g.inputs
             and any(t in n.outputs for n in g.nodes)]
    full = Graph(g.name, g.tensors, g.nodes, g.inputs, list(dict.fromkeys(list(g.outputs) + names)))
    amax: dict[str, float] = {}
    for feed in feeds:
        res = run_onnxruntime(full, feed)
        for k, v in list(res.items()) + list(feed.items()):
            m = float(np.max(np.abs(v))) if np.size(v) else 0.0
            amax[k] = max(amax.get(k, 0.0), m)
    return amax


def shared_scales(g: Graph, amax: dict[str, float]) -> dict[str, float]:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for n in g.nodes:
        if n.op not in SHARED:
            continue
        ts = [t for t in list(n.inputs[:1] if n.op != "Concat" else n.inputs) + list(n.outputs)
              if t and not g.tensors[t].const]
        for t in ts[1:]:
            a, b = find(ts[0]), find(t)
            if a != b:
                parent[b] = a
    group_max: dict[str, float] = {}
    for t, m in amax.items():
        r = find(t)
        group_max[r] = max(group_max.get(r, 0.0), m)
    scales = {}
    for t, v in g.tensors.items():
        if v.const:
            continue
        m = group_max.get(find(t), 0.0)
        scales[t] = m / 127 if m > 0 else 1.0
    return scales


@register_pass("calibrate", "int8 architectures: per-tensor scales from onnxruntime runs on calibration inputs "
               "(shared across pooling, clamp activations, views and concatenations)", kind="plan")
def calibrate(g: Graph, ctx: PassContext) -> Graph:
    if ctx.arch.precision != "int8":
        return note(g, f"{ctx.arch.precision} architecture: no calibration needed")
    if any(t.const and t.data is None for t in g.tensors.values()):
        scales = {t: 1.0 for t, v in g.tensors.items() if not v.const}
        return note(with_plan(g, scales=scales), "graph has no weight data: scales left at 1.0 (uncalibrated)")
    amax = tensor_ranges(g, calibration_feeds(g, ctx))
    scales = shared_scales(g, amax)
    out = with_plan(g, scales=scales, notes={**get_plan(g).notes, "calibration": "user data" if ctx.calibration
                                               else "4 seeded standard-normal samples"})
    return note(out, f"{len(scales)} tensor scales from {'user data' if ctx.calibration else 'random inputs'}")
