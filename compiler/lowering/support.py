"""Which IR nodes the overlay runs, on which kernel, and why the others cannot run (host fallback reasons).

`classify(g, node, arch)` returns a `Support`: kind "pe" (PE array: Conv, FullyConnected), "aux" (one of the
auxiliary kernels), "view" (a reinterpretation of bytes already in DDR: Reshape family, aligned Slice),
"concat" (written in place or copied), or "host" with a one-line reason naming the limit and the architecture
parameter to raise when there is one.
"""
from __future__ import annotations

from dataclasses import dataclass

from compiler.ir import Graph, Node
from compiler.isa import CHANNEL_BITS, STRIDE_BITS, widths_for

ACT_FN = {"Relu": "relu", "Relu6": "relu6", "LeakyRelu": "leaky_relu", "Clip": "clip", "Sigmoid": "sigmoid",
          "Tanh": "tanh", "HardSigmoid": "hard_sigmoid", "HardSwish": "hard_swish"}
ELT_OP = {"Add": "add", "Sub": "sub", "Mul": "mul"}
VIEW_OPS = ("Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout")
STRIDE_MAX = (1 << STRIDE_BITS) - 1
CHANNEL_MAX = (1 << CHANNEL_BITS) - 1


@dataclass(frozen=True)
class Support:
    kind: str           # pe | aux | view | concat | host
    aux: str = ""       # act | pool | lrn | elt | d2s | smax
    reason: str = ""


def _host(reason: str) -> Support:
    return Support("host", reason=reason)


def filter_half(arch) -> int:
    """Filter-cache entries per PE one chunk may use (half the cache when double buffered)."""
    fc = arch.filter_cache
    return fc.depth // 2 if fc.double_buffered else fc.depth


def bias_half(arch) -> int:
    fc = arch.filter_cache
    return fc.bias_depth // 2 if fc.double_buffered else fc.bias_depth


def resize_block(g: Graph, n: Node) -> int | None:
    """The integer nearest-upsampling factor of a Resize that equals `block` nearest upsampling, else None."""
    x = g.tensors[n.inputs[0]].shape
    y = tuple(n.attr("sizes"))
    if len(x) != 4 or y[:2] != x[:2] or n.attr("mode", "nearest") != "nearest":
        return None
    if y[2] % x[2] or y[3] % x[3] or y[2] // x[2] != y[3] // x[3]:
        return None
    b = y[2] // x[2]
    ctm = n.attr("coordinate_transformation_mode", "half_pixel")
    nm = n.attr("nearest_mode", "round_prefer_floor")
    ok = (ctm == "asymmetric" and nm == "floor") or (
        ctm in ("half_pixel", "pytorch_half_pixel") and nm in ("round_prefer_floor", "round_prefer_ceil"))
    return b if ok else None


def conv_capacity_reason(arch, kh: int, kwp: int, name: str) -> str:
    """Why a window cannot fit even one channel block per filter (empty when it fits)."""
    need = kh * kwp
    half = filter_half(arch)
    if need > half:
        depth = need * (2 if arch.filter_cache.double_buffered else 1)
        return (f"window {kh}x{kwp} needs {need} filter-cache entries per channel block > {half} available; "
                f"raise filter_cache.depth to >= {depth}")
    return ""


def classify_cached(g: Graph, n: Node, arch) -> Support:
    """`classify`, memoised in `g.metadata["_support"]` per (node object, architecture object, tensor shapes):
    the planning passes classify the same nodes many times (host fallback, fusion, schedules), and graphs derived
    by `with_plan` / `Graph.copy` share the memo."""
    memo = g.metadata.get("_support")
    if memo is None:
        memo = g.metadata["_support"] = {}
    t = g.tensors
    shapes = tuple((t[i].shape, t[i].const) if i else None for i in n.inputs) + tuple(
        t[o].shape for o in n.outputs if o)
    hit = memo.get((id(n), id(arch)))
    if hit is not None and hit[0] is n and hit[1] is arch and hit[2] == shapes:
        return hit[3]
    s = classify(g, n, arch)
    memo[(id(n), id(arch))] = (n, arch, shapes, s)
    return s


def classify(g: Graph, n: Node, arch) -> Support:
    t = g.tensors
    op = n.op
    aux = arch.aux
    w = widths_for(arch)
    data_in = [i for i in n.inputs if i and not t[i].const]
    for o in n.outputs:
        if o and len(t[o].shape) >= 2 and t[o].shape[1] > CHANNEL_MAX:
            return _host(f"{t[o].shape[1]} channels exceed the {CHANNEL_BITS}-bit channel fields")
    if op == "Conv":
        x = t[n.inputs[0]].shape
        if len(x) != 4:
            return _host(f"{len(x) - 2}-D convolution (the overlay runs 2-D convolutions)")
        if not t[n.inputs[1]].const or (len(n.inputs) > 2 and n.inputs[2] and not t[n.inputs[2]].const):
            return _host("convolution weights are not constants")
        k = list(n.attr("kernel_shape", t[n.inputs[1]].shape[2:]))
        s, d = n.attr("strides", [1, 1]), n.attr("dilations", [1, 1])
        if max(s) > STRIDE_MAX or max(d) > STRIDE_MAX:
            return _host(f"stride {list(s)} / dilation {list(d)} over {STRIDE_MAX}")
        if max(list(n.attr("pads", [0] * 4)) + k) >= (1 << w.KS):
            return _host(f"kernel {k} or pads exceed the {w.KS}-bit window fields; raise filter_cache.depth")
        reason = conv_capacity_reason(arch, k[0], k[1], n.name)
        return _host(reason) if reason else Support("pe")
    if op == "FullyConnected":
        if not t[n.inputs[1]].const or (len(n.inputs) > 2 and n.inputs[2] and not t[n.inputs[2]].const):
            return _host("fully connected weights are not constants")
        from compiler.lowering.formats import view_of

        _, _, h, wd = view_of(t[n.inputs[0]].shape)
        reason = conv_capacity_reason(arch, h, wd, n.name)
        return _host(reason) if reason else Support("pe")
    if op in ACT_FN:
        fn = ACT_FN[op]
        if not aux.activation.enabled:
            return _host("the activation kernel is disabled; set aux.activation.enabled = true")
        if fn not in aux.activation.functions:
            return _host(f"activation '{fn}' is not built; add it to aux.activation.functions")
        if arch.precision == "int8" and op == "Clip" and len(data_in) != 1:
            return _host("clip bounds are tensors")
        return Support("aux", "act")
    if op == "PRelu":
        return _host("PRelu with per-channel slopes has no overlay kernel")
    if op in ("MaxPool", "AveragePool", "GlobalAveragePool"):
        x = t[n.inputs[0]].shape
        if len(x) != 4:
            return _host("pooling over other than 2 spatial dimensions")
        kind = "max" if op == "MaxPool" else "avg"
        if not aux.pool.enabled:
            return _host("the pool kernel is disabled; set aux.pool.enabled = true")
        if kind not in aux.pool.types:
            return _host(f"{kind} pooling is not built; add it to aux.pool.types")
        if op == "GlobalAveragePool":
            k, s, p, dil = [x[2], x[3]], [1, 1], [0] * 4, [1, 1]
        else:
            k = list(n.attr("kernel_shape"))
            s = list(n.attr("strides", [1, 1]))
            p = list(n.attr("pads", [0] * 4))
            dil = list(n.attr("dilations", [1, 1]))
        if max(k) > aux.pool.max_window:
            return _host(f"pool window {k[0]}x{k[1]} > aux.pool.max_window = {aux.pool.max_window}; raise it "
                         f"(legal 3, 7, 13)")
        if dil != [1, 1]:
            return _host("dilated pooling has no overlay kernel")
        if max(s) > STRIDE_MAX or max(p) >= (1 << w.PW):
            return _host(f"pool stride {s} or pads {p} exceed the pool fields")
        return Support("aux", "pool")
    if op == "LRN":
        if not aux.lrn.enabled:
            return _host("the LRN kernel is disabled; set aux.lrn.enabled = true")
        if n.attr("size") > aux.lrn.max_size:
            return _host(f"LRN size {n.attr('size')} > aux.lrn.max_size = {aux.lrn.max_size}; raise it")
        return Support("aux", "lrn")
    if op in ELT_OP:
        if len(data_in) != 2 or len(n.inputs) != 2:
            return _host(f"{op} with a constant operand that is not per-channel (legalize handles per-channel)")
        if t[n.inputs[0]].shape != t[n.inputs[1]].shape:
            return _host(f"{op} with broadcasting {list(t[n.inputs[0]].shape)} x {list(t[n.inputs[1]].shape)}")
        if not aux.eltwise.enabled:
            return _host("the eltwise kernel is disabled; set aux.eltwise.enabled = true")
        if ELT_OP[op] not in aux.eltwise.ops:
            return _host(f"eltwise '{ELT_OP[op]}' is not built; add it to aux.eltwise.ops")
        return Support("aux", "elt")
    if op == "Softmax":
        x = t[n.inputs[0]].shape
        axis = n.attr("axis", -1) % len(x)
        if axis != 1 or len(x) not in (2, 4):
            return _host(f"softmax over axis {axis} of a rank-{len(x)} tensor (the kernel reduces channels)")
        if not aux.softmax.enabled:
            return _host("the softmax kernel is disabled; set aux.softmax.enabled = true")
        return Support("aux", "smax")
    if op == "DepthToSpace":
        b = n.attr("blocksize")
        if not aux.depth_to_space.enabled:
            return _host("the depth-to-space kernel is disabled; set aux.depth_to_space.enabled = true")
        if b > aux.depth_to_space.max_block:
            return _host(f"block {b} > aux.depth_to_space.max_block = {aux.depth_to_space.max_block}; raise it")
        return Support("aux", "d2s")
    if op == "Resize":
        b = resize_block(g, n)
        if b is None:
            return _host("Resize other than integer nearest upsampling of H and W")
        if not aux.depth_to_space.enabled:
            return _host("upsampling needs the depth-to-space kernel; set aux.depth_to_space.enabled = true")
        if b > aux.depth_to_space.max_block:
            return _host(f"upsampling factor {b} > aux.depth_to_space.max_block = "
                         f"{aux.depth_to_space.max_block}; raise it")
        return Support("aux", "d2s")
    if op == "Concat":
        if len(data_in) != len([i for i in n.inputs if i]):
            return _host("concatenation of constants")
        rank = len(t[n.outputs[0]].shape)
        axis = n.attr("axis") % rank
        if view_axis(rank, axis) is None:
            return _host(f"concatenation along axis {axis} of a rank-{rank} tensor")
        return Support("concat")
    if op in VIEW_OPS:
        if not data_in:
            return _host("view of a constant")
        return Support("view")
    if op == "Slice":
        x = t[n.inputs[0]].shape
        if not data_in:
            return _host("slice of a constant")
        axes = [a % len(x) for a in n.attr("axes", list(range(len(n.attr("starts")))))]
        steps = list(n.attr("steps", [1] * len(axes)))
        if len(axes) != 1 or steps != [1]:
            return _host("slice of several axes or with a step")
        va = view_axis(len(x), axes[0])
        if va is None:
            return _host(f"slice along axis {axes[0]} of a rank-{len(x)} tensor")
        start = slice(n.attr("starts")[0], n.attr("ends")[0], 1).indices(x[axes[0]])[0]
        if va == 1 and start % arch.pe_array.c_vector:
            return _host(f"channel slice starting at {start}, not a multiple of c_vector = "
                         f"{arch.pe_array.c_vector} (legalize turns it into a selection conv)")
        return Support("view")
    if op in ("LSTM", "GRU", "RNN"):
        from compiler.passes.rnn import unsupported_reason

        return _host(unsupported_reason(g, n) or "recurrent node not unrolled (the lower-rnn pass is disabled)")
    if op == "Transpose":
        return _host("Transpose changes the layout (no overlay kernel)")
    if op == "SpaceToDepth":
        return _host("input layout transform (first-layer folding, fold-input): the host folds the input before "
                     "writing it to DDR")
    if op == "Pad":
        return _host("Pad that no convolution absorbs (with fold-input: the host pads the input it folds)")
    if op == "ConvTranspose":
        return _host("ConvTranspose has no overlay kernel")
    return _host(f"{op} has no overlay kernel")


def view_axis(rank: int, axis: int) -> int | None:
    """The (N, C, H, W) view axis a logical axis maps to (formats.view_of), None when it is not one."""
    if rank == 1:
        return 1 if axis == 0 else None
    if rank in (2, 3, 4):
        return axis
    if axis in (0, 1):
        return axis
    if axis == rank - 1:
        return 3
    return None


def window_extent(k: int, d: int) -> int:
    return (k - 1) * d + 1

