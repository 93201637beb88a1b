"""Operator registry of the IR: attribute schema, shape inference and cost of every operator.

`OPS[name]` is an `OpSpec`. `infer_node` validates a node's attributes against the schema (filling defaults is
the producer's job: the importer and builders write complete attributes) and returns its output shapes and
dtypes. `node_cost` gives MACs, parameters and bytes.

IR-only operators (not in ONNX): `Relu6` (Clip(0, 6)), `FullyConnected` (flatten from axis 1, then
x @ W.T + b with W of shape (out, in)).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from compiler.errors import ModelError
from compiler.ir import DTYPE_BYTES, Graph, Node, NodeCost, Tensor

Shape = tuple[int, ...]
Out = list[tuple[Shape, str]]


@dataclass(frozen=True)
class Attr:
    """Schema of one attribute: python type(s), whether required, and an optional legality check."""

    kind: type | tuple[type, ...]
    required: bool = False
    check: Callable[[Any], bool] | None = None
    legal: str = ""  # human description of legal values for error messages


@dataclass(frozen=True)
class OpSpec:
    name: str
    infer: Callable[[Node, list[Tensor | None]], Out]
    attrs: dict[str, Attr] = field(default_factory=dict)
    min_inputs: int = 1
    # families for passes to match on
    groups: frozenset[str] = frozenset()

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(k for k, a in self.attrs.items() if a.required)


OPS: dict[str, OpSpec] = {}
_REQUIRED: dict[str, tuple[str, ...]] = {}

# named families
ELEMENTWISE_UNARY = frozenset({"Relu", "LeakyRelu", "PRelu", "Clip", "Relu6", "Sigmoid", "Tanh", "HardSigmoid",
                               "HardSwish", "Cast", "Identity", "Dropout"})
ELEMENTWISE_BINARY = frozenset({"Add", "Sub", "Mul", "Div", "Sum"})
ACTIVATIONS = frozenset({"Relu", "LeakyRelu", "PRelu", "Clip", "Relu6", "Sigmoid", "Tanh", "HardSigmoid",
                         "HardSwish"})
POOLS = frozenset({"MaxPool", "AveragePool", "GlobalAveragePool"})
MAC_OPS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul", "FullyConnected", "LSTM", "GRU", "RNN"})
RECURRENT = frozenset({"LSTM", "GRU", "RNN"})
DATA_MOVEMENT = frozenset({"Concat", "Split", "Slice", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze",
                           "Pad", "Resize", "DepthToSpace", "SpaceToDepth", "Gather", "Expand", "Tile"})


def _fail(node: Node, msg: str) -> ModelError:
    return ModelError(f"node '{node.name}' ({node.op}): {msg}")


def register(name: str, attrs: dict[str, Attr] | None = None, min_inputs: int = 1,
             groups: Sequence[str] = ()) -> Callable:
    def deco(fn: Callable[[Node, list[Tensor | None]], Out]) -> Callable:
        spec = OpSpec(name, fn, attrs or {}, min_inputs, frozenset(groups))
        OPS[name] = spec
        _REQUIRED[name] = spec.required
        return fn

    return deco


def infer_node(node: Node, inputs: list[Tensor | None]) -> Out:
    spec = OPS.get(node.op)
    if spec is None:
        raise _fail(node, "operator is not supported by the IR")
    if sum(1 for t in inputs if t is not None) < spec.min_inputs or (inputs and inputs[0] is None
                                                                      and spec.min_inputs > 0):
        raise _fail(node, f"needs at least {spec.min_inputs} input(s), got {len([t for t in inputs if t])}")
    attrs = node.attrs
    for key in _REQUIRED[node.op]:
        if key not in attrs:
            raise _fail(node, f"attribute '{key}' is required")
    schema = spec.attrs
    for key, v in attrs.items():
        a = schema.get(key)
        if a is None:
            raise _fail(node, f"unknown attribute '{key}'; known: {', '.join(schema) or 'none'}")
        if not isinstance(v, a.kind) or (a.check is not None and not a.check(v)):
            raise _fail(node, f"attribute '{key}'={v!r} is illegal" + (f"; legal: {a.legal}" if a.legal else ""))
    return spec.infer(node, inputs)


# --- helpers --------------------------------------------------------------------------------------------------
INTS = (list, tuple)


def _ints(n: int | None = None, lo: int | None = None) -> Callable[[Any], bool]:
    def check(v: Any) -> bool:
        for x in v:
            if type(x) is not int or (lo is not None and x < lo):
                return False
        return n is None or len(v) == n

    return check


def _pos(v: Any) -> bool:
    return v >= 1


def _in(*vals: Any) -> Callable[[Any], bool]:
    return lambda v: v in vals


def broadcast(node: Node, shapes: Sequence[Shape]) -> Shape:
    rank = max(len(s) for s in shapes)
    out = []
    for k in range(rank):
        dims = {s[len(s) - rank + k] for s in shapes if len(s) - rank + k >= 0} - {1}
        if len(dims) > 1:
            raise _fail(node, f"shapes {[list(s) for s in shapes]} do not broadcast")
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def _axis(node: Node, axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise _fail(node, f"axis {axis} out of range for rank {rank}")
    return axis % rank


def _window_out(node: Node, size: int, k: int, s: int, pb: int, pe: int, d: int, ceil: bool) -> int:
    span = d * (k - 1) + 1
    num = size + pb + pe - span
    if num < 0:
        raise _fail(node, f"window {k} (dilation {d}) larger than padded input {size + pb + pe}")
    out = (-(-num // s) if ceil else num // s) + 1
    if ceil and (out - 1) * s >= size + pb:  # ONNX/torch: last window must start inside input or left padding
        out -= 1
    return out


def _spatial(node: Node, x: Shape, kernel: Sequence[int]) -> tuple[list[int], list[int], list[int], list[int]]:
    nsp = len(x) - 2
    if len(kernel) != nsp:
        raise _fail(node, f"kernel_shape {list(kernel)} does not match input rank {len(x)}")
    strides = list(node.attrs.get("strides", [1] * nsp))
    pads = list(node.attrs.get("pads", [0] * (2 * nsp)))
    dil = list(node.attrs.get("dilations", [1] * nsp))
    if len(strides) != nsp or len(pads) != 2 * nsp or len(dil) != nsp:
        raise _fail(node, f"strides/pads/dilations lengths do not match {nsp} spatial dims")
    return list(kernel), strides, pads, dil


def _same(node: Node, ins: list[Tensor | None]) -> Out:
    return [(ins[0].shape, ins[0].dtype)]


# --- convolution and matrix products ----------------------------------------------------------------------------
CONV_ATTRS = {
    "kernel_shape": Attr(INTS, check=_ints(lo=1)),
    "strides": Attr(INTS, check=_ints(lo=1), legal="positive ints"),
    "pads": Attr(INTS, check=_ints(lo=0), legal="non-negative ints, begins then ends"),
    "dilations": Attr(INTS, check=_ints(lo=1), legal="positive ints"),
    "group": Attr(int, check=_pos, legal=">= 1"),
}


@register("Conv", CONV_ATTRS, min_inputs=2, groups=["mac"])
def _conv(node: Node, ins: list[Tensor | None]) -> Out:
    x, w = ins[0].shape, ins[1].shape
    g = node.attrs.get("group", 1)
    if len(w) != len(x) or x[1] != w[1] * g or w[0] % g:
        raise _fail(node, f"weight {list(w)} does not match input {list(x)} with group={g}")
    k, s, p, d = _spatial(node, x, node.attrs.get("kernel_shape", w[2:]))
    if list(k) != list(w[2:]):
        raise _fail(node, f"kernel_shape {k} differs from weight {list(w[2:])}")
    nsp = len(k)
    out = [_window_out(node, x[2 + i], k[i], s[i], p[i], p[nsp + i], d[i], False) for i in range(nsp)]
    if len(ins) > 2 and ins[2] is not None and ins[2].shape != (w[0],):
        raise _fail(node, f"bias shape {list(ins[2].shape)} != ({w[0]},)")
    return [((x[0], w[0], *out), ins[0].dtype)]


@register("ConvTranspose", {**CONV_ATTRS, "output_padding": Attr(INTS, check=_ints(lo=0))}, min_inputs=2,
          groups=["mac"])
def _conv_transpose(node: Node, ins: list[Tensor | None]) -> Out:
    x, w = ins[0].shape, ins[1].shape
    g = node.attrs.get("group", 1)
    if len(w) != len(x) or x[1] != w[0]:
        raise _fail(node, f"weight {list(w)} does not match input {list(x)}")
    k, s, p, d = _spatial(node, x, node.attrs.get("kernel_shape", w[2:]))
    nsp = len(k)
    op = list(node.attrs.get("output_padding", [0] * nsp))
    out = [s[i] * (x[2 + i] - 1) + op[i] + d[i] * (k[i] - 1) + 1 - p[i] - p[nsp + i] for i in range(nsp)]
    if min(out) < 1:
        raise _fail(node, f"output size {out} is not positive")
    return [((x[0], w[1] * g, *out), ins[0].dtype)]


@register("Gemm", {"alpha": Attr((float, int)), "beta": Attr((float, int)), "transA": Attr(int, check=_in(0, 1)),
                   "transB": Attr(int, check=_in(0, 1))}, min_inputs=2, groups=["mac"])
def _gemm(node: Node, ins: list[Tensor | None]) -> Out:
    a, b = ins[0].shape, ins[1].shape
    if len(a) != 2 or len(b) != 2:
        raise _fail(node, f"Gemm needs 2-D operands, got {list(a)} and {list(b)}")
    m, ka = (a[1], a[0]) if node.attrs.get("transA", 0) else a
    kb, n = (b[1], b[0]) if node.attrs.get("transB", 0) else b
    if ka != kb:
        raise _fail(node, f"inner dimensions differ: {list(a)} x {list(b)}")
    if len(ins) > 2 and ins[2] is not None:
        broadcast(node, [(m, n), ins[2].shape])
    return [((m, n), ins[0].dtype)]


@register("FullyConnected", {}, min_inputs=2, groups=["mac"])
def _fc(node: Node, ins: list[Tensor | None]) -> Out:
    x, w = ins[0].shape, ins[1].shape
    k = math.prod(x[1:])
    if len(w) != 2 or w[1] != k:
        raise _fail(node, f"weight {list(w)} does not match flattened input ({x[0]}, {k})")
    return [((x[0], w[0]), ins[0].dtype)]


@register("MatMul", min_inputs=2, groups=["mac"])
def _matmul(node: Node, ins: list[Tensor | None]) -> Out:
    a, b = list(ins[0].shape), list(ins[1].shape)
    va, vb = len(a) == 1, len(b) == 1
    if va:
        a = [1] + a
    if vb:
        b = b + [1]
    if a[-1] != b[-2]:
        raise _fail(node, f"inner dimensions differ: {ins[0].shape} x {ins[1].shape}")
    batch = broadcast(node, [tuple(a[:-2]), tuple(b[:-2])])
    out = list(batch) + [a[-2], b[-1]]
    if va:
        out.pop(-2)
    if vb:
        out.pop(-1)
    return [(tuple(out), ins[0].dtype)]


# --- normalisation, activations, elementwise ------------------------------------------------------------------
@register("BatchNormalization", {"epsilon": Attr((float, int)), "momentum": Attr((float, int))}, min_inputs=5)
def _bn(node: Node, ins: list[Tensor | None]) -> Out:
    c = ins[0].shape[1]
    for t in ins[1:5]:
        if t.shape != (c,):
            raise _fail(node, f"parameter '{t.name}' shape {list(t.shape)} != ({c},)")
    return _same(node, ins)


for _name in ("Relu", "Sigmoid", "Tanh", "HardSwish", "Relu6", "Identity", "Dropout"):
    register(_name, groups=["elementwise"])(_same)
register("LeakyRelu", {"alpha": Attr((float, int))}, groups=["elementwise"])(_same)
register("HardSigmoid", {"alpha": Attr((float, int)), "beta": Attr((float, int))}, groups=["elementwise"])(_same)
register("Clip", {"min": Attr((float, int)), "max": Attr((float, int))}, groups=["elementwise"])(_same)
register("LRN", {"size": Attr(int, required=True, check=_pos, legal=">= 1"), "alpha": Attr((float, int)),
                 "beta": Attr((float, int)), "bias": Attr((float, int))})(_same)

CAST_TYPES = tuple(DTYPE_BYTES)


@register("Cast", {"to": Attr(str, required=True, check=_in(*CAST_TYPES), legal=", ".join(CAST_TYPES))})
def _cast(node: Node, ins: list[Tensor | None]) -> Out:
    return [(ins[0].shape, node.attrs["to"])]


@register("PRelu", min_inputs=2, groups=["elementwise"])
def _prelu(node: Node, ins: list[Tensor | None]) -> Out:
    broadcast(node, [ins[0].shape, ins[1].shape])
    return _same(node, ins)


def _binary(node: Node, ins: list[Tensor | None]) -> Out:
    present = [t for t in ins if t is not None]
    return [(broadcast(node, [t.shape for t in present]), present[0].dtype)]


for _name in ("Add", "Sub", "Mul", "Div"):
    register(_name, min_inputs=2, groups=["elementwise"])(_binary)
register("Sum", min_inputs=1, groups=["elementwise"])(_binary)


@register("Softmax", {"axis": Attr(int)})
def _softmax(node: Node, ins: list[Tensor | None]) -> Out:
    _axis(node, node.attrs.get("axis", -1), len(ins[0].shape))
    return _same(node, ins)


# --- pooling ----------------------------------------------------------------------------------------------------
POOL_ATTRS = {
    "kernel_shape": Attr(INTS, required=True, check=_ints(lo=1), legal="positive ints"),
    "strides": Attr(INTS, check=_ints(lo=1)), "pads": Attr(INTS, check=_ints(lo=0)),
    "dilations": Attr(INTS, check=_ints(lo=1)), "ceil_mode": Attr(int, check=_in(0, 1)),
    "count_include_pad": Attr(int, check=_in(0, 1)),
}


def _pool(node: Node, ins: list[Tensor | None]) -> Out:
    x = ins[0].shape
    k, s, p, d = _spatial(node, x, node.attrs["kernel_shape"])
    nsp = len(k)
    ceil = bool(node.attrs.get("ceil_mode", 0))
    for i in range(nsp):
        if p[i] >= k[i] or p[nsp + i] >= k[i]:
            raise _fail(node, f"pad {p} must be smaller than kernel {k}")
    out = [_window_out(node, x[2 + i], k[i], s[i], p[i], p[nsp + i], d[i], ceil) for i in range(nsp)]
    return [((x[0], x[1], *out), ins[0].dtype)]


register("MaxPool", POOL_ATTRS, groups=["pool"])(_pool)
register("AveragePool", POOL_ATTRS, groups=["pool"])(_pool)


@register("GlobalAveragePool", groups=["pool"])
def _gap(node: Node, ins: list[Tensor | None]) -> Out:
    x = ins[0].shape
    return [((x[0], x[1]) + (1,) * (len(x) - 2), ins[0].dtype)]


@register("ReduceMean", {"axes": Attr(INTS, check=_ints()), "keepdims": Attr(int, check=_in(0, 1))})
def _reduce_mean(node: Node, ins: list[Tensor | None]) -> Out:
    x = ins[0].shape
    axes = node.attrs.get("axes")
    axes = list(range(len(x))) if axes is None or len(axes) == 0 else [_axis(node, a, len(x)) for a in axes]
    keep = node.attrs.get("keepdims", 1)
    out = [1 if i in axes else d for i, d in enumerate(x)] if keep else [d for i, d in enumerate(x) if i not in axes]
    return [(tuple(out), ins[0].dtype)]


# --- data movement ----------------------------------------------------------------------------------------------
@register("Concat", {"axis": Attr(int, required=True)})
def _concat(node: Node, ins: list[Tensor | None]) -> Out:
    present = [t for t in ins if t is not None]
    rank = len(present[0].shape)
    ax = _axis(node, node.attrs["axis"], rank)
    base = list(present[0].shape)
    total = 0
    for t in present:
        if len(t.shape) != rank or any(t.shape[i] != base[i] for i in range(rank) if i != ax):
            raise _fail(node, f"input shapes {[list(t.shape) for t in present]} differ outside axis {ax}")
        total += t.shape[ax]
    base[ax] = total
    return [(tuple(base), present[0].dtype)]


@register("Split", {"axis": Attr(int), "split": Attr(INTS, required=True, check=_ints(lo=0))})
def _split(node: Node, ins: list[Tensor | None]) -> Out:
    x = ins[0].shape
    ax = _axis(node, node.attrs.get("axis", 0), len(x))
    sizes = node.attrs["split"]
    if sum(sizes) != x[ax] or len(sizes) != len(node.outputs):
        raise _fail(node, f"split {list(sizes)} does not cover axis {ax} of {list(x)} into {len(node.outputs)}")
    return [(x[:ax] + (s,) + x[ax + 1:], ins[0].dtype) for s in sizes]


@register("Slice", {"starts": Attr(INTS, required=True, check=_ints()), "ends": Attr(INTS, required=True,
                    check=_ints()), "axes": Attr(INTS, check=_ints()), "steps": Attr(INTS, check=_ints())})
def _slice(node: Node, ins: list[Tensor | None]) -> Out:
    x = list(ins[0].shape)
    starts, ends = node.attrs["starts"], node.attrs["ends"]
    axes = node.attrs.get("axes", list(range(len(starts))))
    steps = node.attrs.get("steps", [1] * len(starts))
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise _fail(node, "starts/ends/axes/steps lengths differ")
    for st, en, ax, sp in zip(starts, ends, axes, steps):
        if sp == 0:
            raise _fail(node, "slice step 0")
        ax = _axis(node, ax, len(x))
        x[ax] = len(range(*slice(st, en, sp).indices(x[ax])))
    return [(tuple(x), ins[0].dtype)]


def reshape_target(node: Node, x: Shape, shape: Sequence[int], allowzero: int = 0) -> Shape:
    out = [x[i] if (d == 0 and not allowzero and i < len(x)) else d for i, d in enumerate(shape)]
    total = math.prod(x)
    if out.count(-1) > 1:
        raise _fail(node, f"shape {list(shape)} has more than one -1")
    if -1 in out:
        rest = math.prod(d for d in out if d != -1)
        if rest == 0 or total % rest:
            raise _fail(node, f"cannot reshape {list(x)} to {list(shape)}")
        out[out.index(-1)] = total // rest
    if math.prod(out) != total:
        raise _fail(node, f"cannot reshape {list(x)} ({total} elements) to {list(shape)}")
    return tuple(out)


@register("Reshape", {"shape": Attr(INTS, required=True, check=_ints(lo=-1)), "allowzero": Attr(int)})
def _reshape(node: Node, ins: list[Tensor | None]) -> Out:
    return [(reshape_target(node, ins[0].shape, node.attrs["shape"], node.attrs.get("allowzero", 0)), ins[0].dtype)]


@register("Flatten", {"axis": Attr(int)})
def _flatten(node: Node, ins: list[Tensor | None]) -> Out:
    x = ins[0].shape
    ax = node.attrs.get("axis", 1)
    ax = ax + len(x) if ax < 0 else ax
    if not 0 <= ax <= len(x):
        raise _fail(node, f"axis {ax} out of range")
    return [((math.prod(x[:ax]), math.prod(x[ax:])), ins[0].dtype)]


@register("Transpose", {"perm": Attr(INTS, check=_ints(lo=0))})
def _transpose(node: Node, ins: list[Tensor | None]) -> Out:
    x = ins[0].shape
    perm = node.attrs.get("perm", list(range(len(x)))[::-1])
    if sorted(perm) != list(range(len(x))):
        raise _fail(node, f"perm {list(perm)} is not a permutation of rank {len(x)}")
    return [(tuple(x[p] for p in perm), ins[0].dtype)]


@register("Squeeze", {"axes": Attr(INTS, check=_ints())})
def _squeeze(node: Node, ins: list[Tensor | None]) -> Out:
    x = ins[0].shape
    axes = node.attrs.get("axes")
    if axes is None:
        return [(tuple(d for d in x if d != 1), ins[0].dtype)]
    axes = {_axis(node, a, len(x)) for a in axes}
    if any(x[a] != 1 for a in axes):
        raise _fail(node, f"cannot squeeze axes {sorted(axes)} of {list(x)}")
    return [(tuple(d for i, d in enumerate(x) if i not in axes), ins[0].dtype)]


@register("Unsqueeze", {"axes": Attr(INTS, required=True, check=_ints())})
def _unsqueeze(node: Node, ins: list[Tensor | None]) -> Out:
    x = list(ins[0].shape)
    rank = len(x) + len(node.attrs["axes"])
    for a in sorted(_axis(node, a, rank) for a in node.attrs["axes"]):
        x.insert(a, 1)
    return [(tuple(x), ins[0].dtype)]


@register("Pad", {"pads": Attr(INTS, required=True, check=_ints()), "mode": Attr(str, check=_in("constant", "reflect",
              "edge", "wrap"), legal="constant, reflect, edge, wrap"), "value": Attr((float, int))})
def _pad(node: Node, ins: list[Tensor | None]) -> Out:
    x = ins[0].shape
    p = node.attrs["pads"]
    if len(p) != 2 * len(x):
        raise _fail(node, f"pads {list(p)} need {2 * len(x)} values")
    out = tuple(d + p[i] + p[i + len(x)] for i, d in enumerate(x))
    if min(out) < 0:
        raise _fail(node, f"pads {list(p)} make a negative size")
    return [(out, ins[0].dtype)]


@register("Resize", {"sizes": Attr(INTS, required=True, check=_ints(lo=1)),
                     "mode": Attr(str, check=_in("nearest", "linear", "cubic"), legal="nearest, linear, cubic"),
                     "coordinate_transformation_mode": Attr(str), "nearest_mode": Attr(str),
                     "cubic_coeff_a": Attr((float, int)), "exclude_outside": Attr(int),
                     # set when the model gave scales (sizes = floor(input * scales)); runtimes map coordinates
                     # with these scales, not with sizes / input
                     "scales": Attr(INTS), "antialias": Attr(int, check=_in(0, 1), legal="0, 1")})
def _resize(node: Node, ins: list[Tensor | None]) -> Out:
    sizes = tuple(node.attrs["sizes"])
    if len(sizes) != len(ins[0].shape):
        raise _fail(node, f"sizes {list(sizes)} do not match rank {len(ins[0].shape)}")
    return [(sizes, ins[0].dtype)]


@register("DepthToSpace", {"blocksize": Attr(int, required=True, check=_pos, legal=">= 1"),
                           "mode": Attr(str, check=_in("DCR", "CRD"), legal="DCR, CRD")})
def _d2s(node: Node, ins: list[Tensor | None]) -> Out:
    n, c, h, w = ins[0].shape
    b = node.attrs["blocksize"]
    if c % (b * b):
        raise _fail(node, f"channels {c} not divisible by blocksize^2 = {b * b}")
    return [((n, c // (b * b), h * b, w * b), ins[0].dtype)]


@register("SpaceToDepth", {"blocksize": Attr(int, required=True, check=_pos, legal=">= 1")})
def _s2d(node: Node, ins: list[Tensor | None]) -> Out:
    n, c, h, w = ins[0].shape
    b = node.attrs["blocksize"]
    if h % b or w % b:
        raise _fail(node, f"height {h} and width {w} must be divisible by blocksize {b}")
    return [((n, c * b * b, h // b, w // b), ins[0].dtype)]


@register("Gather", {"axis": Attr(int), "indices": Attr((list, tuple, int), required=True)})  # int: scalar index
def _gather(node: Node, ins: list[Tensor | None]) -> Out:
    import numpy as np

    x = ins[0].shape
    ax = _axis(node, node.attrs.get("axis", 0), len(x))
    idx = np.asarray(node.attrs["indices"])
    if idx.size and (idx.max() >= x[ax] or idx.min() < -x[ax]):
        raise _fail(node, f"indices out of range for axis size {x[ax]}")
    return [(x[:ax] + idx.shape + x[ax + 1:], ins[0].dtype)]


@register("Expand", {"shape": Attr(INTS, required=True, check=_ints(lo=1))})
def _expand(node: Node, ins: list[Tensor | None]) -> Out:
    return [(broadcast(node, [ins[0].shape, tuple(node.attrs["shape"])]), ins[0].dtype)]


@register("Tile", {"repeats": Attr(INTS, required=True, check=_ints(lo=0))})
def _tile(node: Node, ins: list[Tensor | None]) -> Out:
    x = ins[0].shape
    r = node.attrs["repeats"]
    if len(r) != len(x):
        raise _fail(node, f"repeats {list(r)} do not match rank {len(x)}")
    return [(tuple(d * k for d, k in zip(x, r)), ins[0].dtype)]


# --- recurrent ----------------------------------------------------------------------------------------------------
RNN_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
RNN_ATTRS = {
    "hidden_size": Attr(int, required=True, check=_pos, legal=">= 1"),
    "direction": Attr(str, check=_in("forward", "reverse", "bidirectional"), legal="forward, reverse, bidirectional"),
    "layout": Attr(int, check=_in(0), legal="0 (seq-major; the importer transposes layout=1)"),
    "activations": Attr(INTS), "activation_alpha": Attr(INTS), "activation_beta": Attr(INTS), "clip": Attr((float, int)), "linear_before_reset": Attr(int, check=_in(0, 1)),
    "input_forget": Attr(int, check=_in(0)),
}


def _rnn(node: Node, ins: list[Tensor | None]) -> Out:
    """Inputs X (T, B, I), W (D, G*H, I), R (D, G*H, H), [B, seq_lens, initial_h, (initial_c)]."""
    t, b, i = ins[0].shape
    h = node.attrs["hidden_size"]
    g = RNN_GATES[node.op]
    d = 2 if node.attrs.get("direction", "forward") == "bidirectional" else 1
    if ins[1].shape != (d, g * h, i) or ins[2].shape != (d, g * h, h):
        raise _fail(node, f"W {list(ins[1].shape)} / R {list(ins[2].shape)} do not match "
                          f"(dirs={d}, {g}*hidden={g * h}, input={i})")
    outs: Out = [((t, d, b, h), ins[0].dtype), ((d, b, h), ins[0].dtype)]
    if node.op == "LSTM":
        outs.append(((d, b, h), ins[0].dtype))
    return outs[:len(node.outputs)]


for _name in ("LSTM", "GRU", "RNN"):
    register(_name, RNN_ATTRS, min_inputs=3, groups=["mac", "recurrent"])(_rnn)


# --- costs --------------------------------------------------------------------------------------------------------
def node_macs(node: Node, g: Graph) -> int:
    op = node.op
    if op not in MAC_OPS:
        return 0
    t = g.tensors
    out = t[node.outputs[0]].shape
    if op == "Conv":
        w = t[node.inputs[1]].shape
        return math.prod(out) * math.prod(w[1:])
    if op == "ConvTranspose":
        x, w = t[node.inputs[0]].shape, t[node.inputs[1]].shape
        return math.prod(x) * math.prod(w[1:])
    if op == "Gemm":
        a = t[node.inputs[0]].shape
        k = a[0] if node.attrs.get("transA", 0) else a[1]
        return math.prod(out) * k
    if op == "FullyConnected":
        return math.prod(out) * t[node.inputs[1]].shape[1]
    if op == "MatMul":
        return math.prod(out) * t[node.inputs[0]].shape[-1]
    # recurrent: gates x hidden x (input + hidden) per step, direction and batch element
    seq, batch, inp = t[node.inputs[0]].shape
    h = node.attrs["hidden_size"]
    d = 2 if node.attrs.get("direction", "forward") == "bidirectional" else 1
    return seq * batch * d * RNN_GATES[op] * h * (inp + h)


def node_cost(node: Node, g: Graph) -> NodeCost:
    t = g.tensors
    params = nbytes = 0
    for i in node.inputs:
        if i:
            tensor = t[i]
            nbytes += tensor.nbytes
            if tensor.const:
                params += tensor.size
    for o in node.outputs:
        if o:
            nbytes += t[o].nbytes
    return NodeCost(node_macs(node, g), params, nbytes)
