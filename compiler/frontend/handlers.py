"""The importer's table of small handlers, keyed by ONNX op type and the opset where its semantics changed.

`@handler("Squeeze", since=13)` registers the form used from opset 13 on; `select_handler(op, opset)` picks the
newest registration not newer than the model's opset (so old attribute forms and new input forms of Squeeze,
Unsqueeze, Split, ReduceMean, Pad, Clip, Slice, Resize, Softmax, ... each get their own few lines). Every
handler writes complete IR attributes (defaults filled in, negative axes normalised, auto_pad resolved to pads,
parameters that ONNX passes as constant inputs turned into attributes).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from compiler.frontend.folding import tensor_to_array
from compiler.frontend.onnx_import import NodeContext, dtype_name
from compiler.ir import DTYPE_BYTES
from compiler.ops import RNN_GATES, reshape_target

Handler = Callable[[NodeContext], None]
HANDLERS: dict[str, list[tuple[int, Handler]]] = {}

# ops whose handler folds constant inputs itself (through `emit` and `compiler.frontend.folding.FOLD`, or because
# the op only ever produces constants); any other node with only constant inputs is folded by onnx.reference.
SELF_FOLDING = frozenset({"Constant", "ConstantOfShape", "Shape", "Size", "CastLike", "Identity", "Dropout",
                          "Cast", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Slice", "Split",
                          "Concat", "Gather", "Expand", "Tile", "Add", "Sub", "Mul", "Div", "Relu"})


def handler(*ops: str, since: int = 1) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        for op in ops:
            HANDLERS.setdefault(op, []).append((since, fn))
            HANDLERS[op].sort(key=lambda e: e[0])
        return fn

    return deco


def select_handler(op: str, opset: int) -> Handler | None:
    chosen = None
    for since, fn in HANDLERS.get(op, ()):
        if since <= opset:
            chosen = fn
    return chosen


def supported_ops() -> list[str]:
    return sorted(HANDLERS)


def _axis(nc: NodeContext, axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise nc.fail(f"axis {axis} is out of range for rank {rank}")
    return axis % rank


# --- constants and shape arithmetic ---------------------------------------------------------------------------
@handler("Constant")
def _constant(nc: NodeContext) -> None:
    from compiler.frontend.onnx_import import _constant_value

    nc.set_const(nc.outputs[0], _constant_value(nc.attrs, nc.fail))


@handler("ConstantOfShape")
def _constant_of_shape(nc: NodeContext) -> None:
    shape = nc.ints(0)
    value = nc.attr("value")
    v = np.zeros((), np.float32) if value is None else tensor_to_array(value).reshape(-1)[:1].reshape(())
    nc.set_const(nc.outputs[0], np.broadcast_to(v, tuple(shape)))  # a zero-stride view: no memory


@handler("Shape")
def _shape(nc: NodeContext) -> None:
    shape = nc.shape(0)
    start, end = nc.attr("start", 0), nc.attr("end", None)
    nc.set_const(nc.outputs[0], np.asarray(shape[start:end], dtype=np.int64))


@handler("Size")
def _size(nc: NodeContext) -> None:
    nc.set_const(nc.outputs[0], np.asarray(math.prod(nc.shape(0)), dtype=np.int64))


@handler("Cast")
def _cast(nc: NodeContext) -> None:
    to = dtype_name(nc.attr("to"))
    if to not in DTYPE_BYTES:
        raise nc.fail(f"cast to {to} is not supported by the IR ({', '.join(DTYPE_BYTES)})")
    nc.emit("Cast", [nc.input(0)], {"to": to})


@handler("CastLike", since=15)
def _cast_like(nc: NodeContext) -> None:
    nc.emit("Cast", [nc.input(0)], {"to": nc.dtype(1)}, outputs=nc.outputs[:1])


@handler("Identity")
def _identity(nc: NodeContext) -> None:
    nc.emit("Identity", [nc.input(0)])


@handler("Dropout")
def _dropout(nc: NodeContext) -> None:
    nc.only_first_output("mask")
    if nc.opset >= 12 and nc.has(2) and bool(nc.const(2).reshape(-1)[0]):
        raise nc.fail("training_mode=True is not supported (import inference graphs)")
    nc.emit("Dropout", [nc.input(0)], outputs=nc.outputs[:1])


# --- convolution and matrix products --------------------------------------------------------------------------
def _resolve_pads(nc: NodeContext, spatial: tuple[int, ...], k: list[int], s: list[int], d: list[int]) -> list[int]:
    nsp = len(spatial)
    auto = nc.attr("auto_pad", "NOTSET") or "NOTSET"
    if auto == "NOTSET":
        pads = list(nc.attr("pads", [0] * 2 * nsp))
        if len(pads) != 2 * nsp:
            raise nc.fail(f"pads {pads} need {2 * nsp} values")
        return pads
    if auto == "VALID":
        return [0] * 2 * nsp
    if auto not in ("SAME_UPPER", "SAME_LOWER"):
        raise nc.fail(f"auto_pad '{auto}' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
    begins, ends = [], []
    for i in range(nsp):
        out = -(-spatial[i] // s[i])
        total = max((out - 1) * s[i] + (k[i] - 1) * d[i] + 1 - spatial[i], 0)
        small, big = total // 2, total - total // 2
        begins.append(small if auto == "SAME_UPPER" else big)
        ends.append(big if auto == "SAME_UPPER" else small)
    return begins + ends


def _window(nc: NodeContext, x: tuple[int, ...], kernel: list[int] | tuple[int, ...]) -> dict:
    nsp = len(x) - 2
    k = [int(v) for v in kernel]
    s = list(nc.attr("strides", [1] * nsp))
    d = list(nc.attr("dilations", [1] * nsp))
    return {"kernel_shape": k, "strides": s, "pads": _resolve_pads(nc, x[2:], k, s, d), "dilations": d}


@handler("Conv")
def _conv(nc: NodeContext) -> None:
    x, w = nc.shape(0), nc.shape(1)
    attrs = _window(nc, x, nc.attr("kernel_shape", w[2:]))
    attrs["group"] = int(nc.attr("group", 1))
    nc.emit("Conv", nc.inputs[:3], attrs)


@handler("ConvTranspose")
def _conv_transpose(nc: NodeContext) -> None:
    x, w = nc.shape(0), nc.shape(1)
    nsp = len(x) - 2
    k = [int(v) for v in nc.attr("kernel_shape", w[2:])]
    s = list(nc.attr("strides", [1] * nsp))
    d = list(nc.attr("dilations", [1] * nsp))
    opad = list(nc.attr("output_padding", [0] * nsp))
    auto = nc.attr("auto_pad", "NOTSET") or "NOTSET"
    out_shape = nc.attr("output_shape")
    if out_shape or auto in ("SAME_UPPER", "SAME_LOWER"):
        target = list(out_shape)[-nsp:] if out_shape else [x[2 + i] * s[i] for i in range(nsp)]
        begins, ends = [], []
        for i in range(nsp):
            total = s[i] * (x[2 + i] - 1) + opad[i] + (k[i] - 1) * d[i] + 1 - target[i]
            if total < 0:  # the requested output is larger than the natural one: grow output_padding
                opad[i] -= total
                total = 0
            half = total // 2
            if auto == "SAME_UPPER":
                begins.append(half)
                ends.append(total - half)
            else:
                begins.append(total - half)
                ends.append(half)
        pads = begins + ends
    elif auto == "VALID":
        pads = [0] * 2 * nsp
    else:
        pads = _resolve_pads(nc, x[2:], k, s, d)
    attrs = {"kernel_shape": k, "strides": s, "pads": pads, "dilations": d, "group": int(nc.attr("group", 1)),
             "output_padding": opad}
    nc.emit("ConvTranspose", nc.inputs[:3], attrs)


@handler("Gemm")
def _gemm(nc: NodeContext) -> None:
    attrs = {"alpha": float(nc.attr("alpha", 1.0)), "beta": float(nc.attr("beta", 1.0)),
             "transA": int(nc.attr("transA", 0)), "transB": int(nc.attr("transB", 0))}
    nc.emit("Gemm", nc.inputs[:3], attrs)


@handler("MatMul")
def _matmul(nc: NodeContext) -> None:
    nc.emit("MatMul", nc.inputs[:2])


# --- normalisation, activations, elementwise ------------------------------------------------------------------
@handler("BatchNormalization")
def _batchnorm(nc: NodeContext) -> None:
    if nc.attr("training_mode", 0):
        raise nc.fail("training_mode=1 is not supported (import inference graphs)")
    nc.only_first_output("running statistics")
    nc.emit("BatchNormalization", nc.inputs[:5], {"epsilon": float(nc.attr("epsilon", 1e-5)),
                                                   "momentum": float(nc.attr("momentum", 0.9))},
            outputs=nc.outputs[:1])


@handler("Relu", "Sigmoid", "Tanh", "HardSwish", "GlobalAveragePool")
def _plain(nc: NodeContext) -> None:
    nc.emit(nc.op, nc.inputs[:1])


@handler("LeakyRelu")
def _leaky_relu(nc: NodeContext) -> None:
    nc.emit("LeakyRelu", nc.inputs[:1], {"alpha": float(nc.attr("alpha", 0.01))})


@handler("HardSigmoid")
def _hard_sigmoid(nc: NodeContext) -> None:
    nc.emit("HardSigmoid", nc.inputs[:1], {"alpha": float(nc.attr("alpha", 0.2)),
                                            "beta": float(nc.attr("beta", 0.5))})


@handler("PRelu")
def _prelu(nc: NodeContext) -> None:
    nc.emit("PRelu", nc.inputs[:2])


def _clip(nc: NodeContext, lo: float | None, hi: float | None) -> None:
    attrs = {k: float(v) for k, v in (("min", lo), ("max", hi)) if v is not None}
    nc.emit("Clip", nc.inputs[:1], attrs)


@handler("Clip")
def _clip_attrs(nc: NodeContext) -> None:
    _clip(nc, nc.attr("min"), nc.attr("max"))


@handler("Clip", since=11)
def _clip_inputs(nc: NodeContext) -> None:
    _clip(nc, nc.scalar(1), nc.scalar(2))


@handler("Add", "Sub", "Mul", "Div")
def _binary(nc: NodeContext) -> None:
    nc.emit(nc.op, nc.inputs[:2])


@handler("Sum")
def _sum(nc: NodeContext) -> None:
    nc.emit("Sum", nc.inputs)


@handler("Softmax")
def _softmax_coerced(nc: NodeContext) -> None:
    """Opset < 13: the input is coerced to 2-D at `axis` (default 1) and normalised over the flattened tail."""
    x = nc.shape(0)
    axis = _axis(nc, nc.attr("axis", 1), len(x))
    if math.prod(x[axis + 1:]) == 1:
        nc.emit("Softmax", nc.inputs[:1], {"axis": axis})
        return
    flat = nc.emit("Reshape", nc.inputs[:1], {"shape": [math.prod(x[:axis]), math.prod(x[axis:])]},
                   outputs=[nc.temp("coerced")])
    soft = nc.emit("Softmax", flat, {"axis": 1}, outputs=[nc.temp("softmax")])
    nc.emit("Reshape", soft, {"shape": list(x)})


@handler("Softmax", since=13)
def _softmax(nc: NodeContext) -> None:
    nc.emit("Softmax", nc.inputs[:1], {"axis": _axis(nc, nc.attr("axis", -1), len(nc.shape(0)))})


@handler("LRN")
def _lrn(nc: NodeContext) -> None:
    nc.emit("LRN", nc.inputs[:1], {"size": int(nc.attr("size")), "alpha": float(nc.attr("alpha", 1e-4)),
                                    "beta": float(nc.attr("beta", 0.75)), "bias": float(nc.attr("bias", 1.0))})


# --- pooling ------------------------------------------------------------------------------------------------------
@handler("MaxPool", "AveragePool")
def _pool(nc: NodeContext) -> None:
    if nc.op == "MaxPool":
        nc.only_first_output("indices")
    x = nc.shape(0)
    attrs = _window(nc, x, nc.attr("kernel_shape"))
    attrs["ceil_mode"] = int(nc.attr("ceil_mode", 0))
    if nc.op == "AveragePool":
        attrs["count_include_pad"] = int(nc.attr("count_include_pad", 0))
    nc.emit(nc.op, nc.inputs[:1], attrs, outputs=nc.outputs[:1])


# --- reductions -------------------------------------------------------------------------------------------------
def _reduce_mean(nc: NodeContext, axes: list[int] | None, noop_if_empty: bool) -> None:
    rank = len(nc.shape(0))
    if not axes:
        if noop_if_empty:
            nc.emit("Identity", nc.inputs[:1])
            return
        axes = list(range(rank))
    axes = sorted({_axis(nc, a, rank) for a in axes})
    nc.emit("ReduceMean", nc.inputs[:1], {"axes": axes, "keepdims": int(nc.attr("keepdims", 1))})


@handler("ReduceMean")
def _reduce_mean_attr(nc: NodeContext) -> None:
    _reduce_mean(nc, nc.attr("axes"), False)


@handler("ReduceMean", since=18)
def _reduce_mean_input(nc: NodeContext) -> None:
    _reduce_mean(nc, nc.ints(1), bool(nc.attr("noop_with_empty_axes", 0)))


# --- data movement ----------------------------------------------------------------------------------------------
@handler("Concat")
def _concat(nc: NodeContext) -> None:
    present = [i for i in nc.inputs if i]
    rank = len(nc.shape(nc.inputs.index(present[0])))
    nc.emit("Concat", present, {"axis": _axis(nc, nc.attr("axis"), rank)})


def _split(nc: NodeContext, split: list[int] | None) -> None:
    x = nc.shape(0)
    ax = _axis(nc, nc.attr("axis", 0), len(x))
    if not split:
        n = int(nc.attr("num_outputs", len(nc.outputs)))
        chunk = -(-x[ax] // n)
        split = [chunk] * (n - 1) + [x[ax] - chunk * (n - 1)]
    if len(split) != len(nc.outputs):
        raise nc.fail(f"split {split} has {len(split)} parts but the node has {len(nc.outputs)} outputs")
    outs = [o or nc.temp(f"unused{k}") for k, o in enumerate(nc.outputs)]
    nc.emit("Split", nc.inputs[:1], {"axis": ax, "split": [int(s) for s in split]}, outputs=outs)


@handler("Split")
def _split_attr(nc: NodeContext) -> None:
    _split(nc, nc.attr("split"))


@handler("Split", since=13)
def _split_input(nc: NodeContext) -> None:
    _split(nc, nc.ints(1))


def _slice(nc: NodeContext, starts: list[int], ends: list[int], axes: list[int] | None,
           steps: list[int] | None) -> None:
    x = nc.shape(0)
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise nc.fail("starts/ends/axes/steps have different lengths")
    attrs: dict[str, list[int]] = {"starts": [], "ends": [], "axes": [], "steps": []}
    for st, en, ax, sp in zip(starts, ends, axes, steps):
        if sp == 0:
            raise nc.fail("slice step 0")
        ax = _axis(nc, ax, len(x))
        st, en, sp = slice(st, en, sp).indices(x[ax])
        if sp < 0 and en == -1:
            en = -x[ax] - 1  # "before element 0" (a plain -1 would mean the last element)
        for key, v in (("starts", st), ("ends", en), ("axes", ax), ("steps", sp)):
            attrs[key].append(int(v))
    nc.emit("Slice", nc.inputs[:1], attrs)


@handler("Slice")
def _slice_attr(nc: NodeContext) -> None:
    _slice(nc, list(nc.attr("starts")), list(nc.attr("ends")), nc.attr("axes"), None)


@handler("Slice", since=10)
def _slice_input(nc: NodeContext) -> None:
    _slice(nc, nc.ints(1), nc.ints(2), nc.ints(3), nc.ints(4))


@handler("Reshape")
def _reshape(nc: NodeContext) -> None:
    shape = nc.ints(1)
    target = reshape_target(_proxy(nc), nc.shape(0), shape, int(nc.attr("allowzero", 0)))
    nc.emit("Reshape", nc.inputs[:1], {"shape": list(target)})


def _proxy(nc: NodeContext):
    from compiler.ir import Node

    return Node(nc.name, nc.op, (), ())


@handler("Flatten")
def _flatten(nc: NodeContext) -> None:
    rank = len(nc.shape(0))
    axis = nc.attr("axis", 1)
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis <= rank:
        raise nc.fail(f"axis {nc.attr('axis')} is out of range for rank {rank}")
    nc.emit("Flatten", nc.inputs[:1], {"axis": axis})


@handler("Transpose")
def _transpose(nc: NodeContext) -> None:
    rank = len(nc.shape(0))
    nc.emit("Transpose", nc.inputs[:1], {"perm": list(nc.attr("perm", list(range(rank))[::-1]))})


def _squeeze(nc: NodeContext, axes: list[int] | None) -> None:
    x = nc.shape(0)
    axes = [i for i, d in enumerate(x) if d == 1] if axes is None else sorted({_axis(nc, a, len(x)) for a in axes})
    nc.emit("Squeeze", nc.inputs[:1], {"axes": axes})


@handler("Squeeze")
def _squeeze_attr(nc: NodeContext) -> None:
    _squeeze(nc, nc.attr("axes"))


@handler("Squeeze", since=13)
def _squeeze_input(nc: NodeContext) -> None:
    _squeeze(nc, nc.ints(1))


def _unsqueeze(nc: NodeContext, axes: list[int] | None) -> None:
    if axes is None:
        raise nc.fail("axes are required")
    rank = len(nc.shape(0)) + len(axes)
    nc.emit("Unsqueeze", nc.inputs[:1], {"axes": sorted({_axis(nc, a, rank) for a in axes})})


@handler("Unsqueeze")
def _unsqueeze_attr(nc: NodeContext) -> None:
    _unsqueeze(nc, nc.attr("axes"))


@handler("Unsqueeze", since=13)
def _unsqueeze_input(nc: NodeContext) -> None:
    _unsqueeze(nc, nc.ints(1))


def _pad(nc: NodeContext, pads: list[int], value: float | None, axes: list[int] | None) -> None:
    rank = len(nc.shape(0))
    if axes is not None:
        full = [0] * (2 * rank)
        for j, a in enumerate(axes):
            a = _axis(nc, a, rank)
            full[a], full[a + rank] = pads[j], pads[j + len(axes)]
        pads = full
    mode = nc.attr("mode", "constant")
    attrs = {"pads": [int(p) for p in pads], "mode": mode}
    if mode == "constant":
        attrs["value"] = float(value or 0.0)
    nc.emit("Pad", nc.inputs[:1], attrs)


@handler("Pad")
def _pad_attr(nc: NodeContext) -> None:
    _pad(nc, list(nc.attr("pads")), nc.attr("value", 0.0), None)


@handler("Pad", since=11)
def _pad_input(nc: NodeContext) -> None:
    _pad(nc, nc.ints(1), nc.scalar(2), nc.ints(3) if nc.opset >= 18 else None)


def _resize(nc: NodeContext, scales: list[float] | None, sizes: list[int] | None, attrs: dict) -> None:
    x = nc.shape(0)
    if sizes:
        if len(sizes) != len(x):
            raise nc.fail(f"sizes {sizes} do not match input rank {len(x)}")
        out = {"sizes": [int(s) for s in sizes]}
    elif scales:
        if len(scales) != len(x):
            raise nc.fail(f"scales {scales} do not match input rank {len(x)}")
        s32 = np.asarray(scales, np.float32)
        sizes = [int(v) for v in np.floor(np.asarray(x, np.float32) * s32)]  # float32 arithmetic, as runtimes do
        out = {"sizes": sizes, "scales": [float(v) for v in s32]}
    else:
        raise nc.fail("neither scales nor sizes is given")
    nc.emit("Resize", nc.inputs[:1], {**out, **attrs})


def _upsample(nc: NodeContext, scales: list[float]) -> None:
    """Upsample and opset-10 Resize: asymmetric coordinates; nearest takes floor when upsampling and ceil when
    downsampling (as onnxruntime does; one nearest_mode cannot express both directions at once)."""
    mode = nc.attr("mode", "nearest")
    mode = {"bilinear": "linear", "trilinear": "linear"}.get(mode, mode)
    if mode not in ("nearest", "linear"):
        raise nc.fail(f"mode '{mode}' is not supported (nearest, linear)")
    down, up = any(s < 1 for s in scales), any(s > 1 for s in scales)
    if mode == "nearest" and down and up:
        raise nc.fail(f"nearest resize that shrinks some axes and grows others (scales {scales}) is not supported")
    _resize(nc, scales, None, {"mode": mode, "coordinate_transformation_mode": "asymmetric",
                               "nearest_mode": "ceil" if down else "floor"})


@handler("Upsample")
def _upsample_attr(nc: NodeContext) -> None:
    _upsample(nc, [float(v) for v in nc.attr("scales", [])])


@handler("Upsample", since=9)
def _upsample_input(nc: NodeContext) -> None:
    _upsample(nc, [float(v) for v in nc.const(1).reshape(-1)])


@handler("Resize", since=10)
def _resize10(nc: NodeContext) -> None:
    _upsample(nc, [float(v) for v in nc.const(1).reshape(-1)])


@handler("Resize", since=11)
def _resize11(nc: NodeContext) -> None:
    x = nc.shape(0)
    ctm = nc.attr("coordinate_transformation_mode", "half_pixel")
    if ctm == "tf_crop_and_resize":
        raise nc.fail("coordinate_transformation_mode 'tf_crop_and_resize' is not supported")
    if nc.attr("keep_aspect_ratio_policy", "stretch") != "stretch":
        raise nc.fail("keep_aspect_ratio_policy other than 'stretch' is not supported")
    scales = [float(v) for v in nc.const(2).reshape(-1)] if nc.has(2) else None
    sizes = nc.ints(3)
    axes = nc.attr("axes")
    if axes:
        axes = [_axis(nc, a, len(x)) for a in axes]
        if scales:
            full = [1.0] * len(x)
            for a, s in zip(axes, scales):
                full[a] = s
            scales = full
        if sizes:
            full_sizes = list(x)
            for a, s in zip(axes, sizes):
                full_sizes[a] = s
            sizes = full_sizes
    attrs = {"mode": nc.attr("mode", "nearest"), "coordinate_transformation_mode": ctm,
             "nearest_mode": nc.attr("nearest_mode", "round_prefer_floor"),
             "cubic_coeff_a": float(nc.attr("cubic_coeff_a", -0.75)),
             "exclude_outside": int(nc.attr("exclude_outside", 0))}
    if nc.attr("antialias", 0):
        attrs["antialias"] = 1
    _resize(nc, scales, sizes, attrs)


@handler("DepthToSpace")
def _depth_to_space(nc: NodeContext) -> None:
    mode = nc.attr("mode", "DCR") if nc.opset >= 11 else "DCR"
    nc.emit("DepthToSpace", nc.inputs[:1], {"blocksize": int(nc.attr("blocksize")), "mode": mode})


@handler("Gather")
def _gather(nc: NodeContext) -> None:
    x = nc.shape(0)
    ax = _axis(nc, nc.attr("axis", 0), len(x))
    idx = np.asarray(nc.const(1)).astype(np.int64)
    if idx.size and (idx.max() >= x[ax] or idx.min() < -x[ax]):
        raise nc.fail(f"indices out of range for axis {ax} of size {x[ax]}")
    idx = np.where(idx < 0, idx + x[ax], idx)
    nc.emit("Gather", nc.inputs[:1], {"axis": ax, "indices": idx.tolist()})


@handler("Expand")
def _expand(nc: NodeContext) -> None:
    try:
        out = np.broadcast_shapes(nc.shape(0), tuple(nc.ints(1)))
    except ValueError:
        raise nc.fail(f"shape {nc.ints(1)} does not broadcast with input {list(nc.shape(0))}") from None
    nc.emit("Expand", nc.inputs[:1], {"shape": [int(d) for d in out]})


@handler("Tile")
def _tile(nc: NodeContext) -> None:
    nc.emit("Tile", nc.inputs[:1], {"repeats": nc.ints(1)})


# --- recurrent ----------------------------------------------------------------------------------------------------
@handler("LSTM", "GRU", "RNN")
def _recurrent(nc: NodeContext) -> None:
    op = nc.op
    gates = RNN_GATES[op]
    w = nc.shape(1)
    hidden = int(nc.attr("hidden_size", w[1] // gates))
    attrs: dict = {"hidden_size": hidden, "direction": nc.attr("direction", "forward")}
    for key in ("activations", "activation_alpha", "activation_beta"):
        if nc.attr(key) is not None:
            attrs[key] = list(nc.attr(key))
    if nc.attr("clip") is not None:
        attrs["clip"] = float(nc.attr("clip"))
    if op == "GRU":
        attrs["linear_before_reset"] = int(nc.attr("linear_before_reset", 0))
    if op == "LSTM" and nc.attr("input_forget", 0):
        raise nc.fail("input_forget=1 (coupled input and forget gates) is not supported")
    layout = int(nc.attr("layout", 0))
    n_in = 8 if op == "LSTM" else 6
    ins = [nc.input(i) for i in range(n_in)]
    seq = 1 if layout else 0
    if ins[4] and nc.is_const(4) and np.all(nc.const(4) == nc.shape(0)[seq]):
        ins[4] = ""  # every sequence has full length: the same as no sequence_lens
    outs = list(nc.outputs)
    if layout == 1:  # batch-major: transpose to the IR's sequence-major layout and back
        ins[0] = nc.emit("Transpose", [ins[0]], {"perm": [1, 0, 2]}, outputs=[nc.temp("X_seq_major")])[0]
        for i in (5, 6):
            if i < len(ins) and ins[i]:
                ins[i] = nc.emit("Transpose", [ins[i]], {"perm": [1, 0, 2]}, outputs=[nc.temp(f"state{i}")])[0]
        outs = [nc.temp(f"out{k}") if o else "" for k, o in enumerate(nc.outputs)]
    nc.emit(op, ins, attrs, outputs=outs)
    if layout == 1:
        for k, (tmp, final) in enumerate(zip(outs, nc.outputs)):
            if final:
                nc.emit("Transpose", [tmp], {"perm": [2, 0, 1, 3] if k == 0 else [1, 0, 2]}, outputs=[final])
