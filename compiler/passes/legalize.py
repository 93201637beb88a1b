"""`legalize`: rewrite operators the overlay has no kernel for into ones it has (same semantics).

- MatMul(A, B constant 2-D) -> FullyConnected (A of rank > 2 is reshaped to rows and back). MatMuls that read
  the same constant (the steps of an unrolled RNN) share one transposed weight tensor, so the lowering stores it
  once and `filter-residency` keeps it in the filter cache across them.
- BatchNormalization left over by fold-batchnorm, and Mul/Add/Sub/Div of a tensor by a per-channel or scalar
  constant -> a 1x1 depthwise Conv (scale and shift); chains of such affine convs, and an affine conv after a
  Conv whose output nothing else reads, are merged into one Conv.
- ReduceMean over (H, W) -> GlobalAveragePool (+ Reshape when keepdims = 0).
- Average pooling the pool kernel cannot do (window over `aux.pool.max_window`, stride over 15, kernel
  disabled) -> depthwise Conv with 1/(kh*kw) weights, when the divisor is constant (count_include_pad or no
  padding); GlobalAveragePool likewise.
- PRelu with one slope -> LeakyRelu; a zero constant Pad of H/W before a Conv -> the Conv's pads.
- Split -> Slices; a channel Slice whose start is not a multiple of c_vector -> a 1x1 Conv with 0/1 weights
  (the feature reader addresses whole channel blocks).
- Softmax over the last axis of a 2-D tensor -> axis 1.
"""
from __future__ import annotations

import math
import numpy as np

from compiler.frontend.folding import compact
from compiler.ir import Graph, Node
from compiler.passes import PassContext, note, register_pass
from compiler.passes.plan import get_plan, with_plan
from compiler.passes.rewrite import Rewriter, const_data, is_const, readers

STRIDE_MAX = 15


def _per_channel(g: Graph, data_name: str, const_name: str) -> np.ndarray | None | bool:
    """The per-channel vector (C,) of a constant that broadcasts along channel 1 of `data_name` only;
    None when the constant has no data (shape-only graph); False when it is not per-channel."""
    x = g.tensors[data_name].shape
    c = g.tensors[const_name]
    if len(x) not in (2, 4) or len(c.shape) > len(x):
        return False
    cs = (1,) * (len(x) - len(c.shape)) + tuple(c.shape)
    if any(d != 1 for i, d in enumerate(cs) if i != 1) or cs[1] not in (1, x[1]):
        return False
    if np.broadcast_shapes(x, cs) != tuple(x):
        return False
    if c.data is None:
        return None
    v = np.asarray(c.data, dtype=np.float64).reshape(cs)[tuple(0 if i != 1 else slice(None) for i in range(len(cs)))]
    return np.broadcast_to(v, (x[1],)).astype(np.float64)


def _affine_conv(ed: Rewriter, x: str, out: str, scale: np.ndarray | None, shift: np.ndarray | None, c: int,
                 origin: tuple[str, ...], base: str) -> None:
    """y = x * scale + shift per channel as a depthwise 1x1 Conv (rank 2 inputs go through (N, C, 1, 1))."""
    shape = ed.g.tensors[x].shape
    w = ed.const(f"{base}/scale", None if scale is None else scale.reshape(c, 1, 1, 1), (c, 1, 1, 1))
    b = ed.const(f"{base}/shift", None if shift is None else shift, (c,))
    attrs = {"kernel_shape": [1, 1], "strides": [1, 1], "pads": [0, 0, 0, 0], "dilations": [1, 1], "group": c}
    if len(shape) == 4:
        ed.add("Conv", [x, w, b], attrs, out=out, name=base, origin=origin)
        return
    x4 = ed.add("Reshape", [x], {"shape": [shape[0], c, 1, 1]}, name=f"{base}/to4d", origin=origin)
    y4 = ed.add("Conv", [x4, w, b], attrs, name=base, origin=origin)
    ed.add("Reshape", [y4], {"shape": list(shape)}, out=out, name=f"{base}/to2d", origin=origin)


def _is_affine_conv(g: Graph, n: Node) -> bool:
    if n.op != "Conv" or len(n.inputs) < 2:
        return False
    w = g.tensors[n.inputs[1]].shape
    c = g.tensors[n.inputs[0]].shape[1]
    return (w == (c, 1, 1, 1) and n.attr("group", 1) == c and list(n.attr("strides", [1, 1])) == [1, 1]
            and not any(n.attr("pads", [0] * 4)))


def _merge_affine(g: Graph) -> tuple[Graph, int]:
    """Merge every affine 1x1 depthwise Conv into the Conv producing its input (read by nothing else), in one
    sweep in topological order (chains of affine convs collapse into their first producer)."""
    rd = readers(g)
    prod = g.producers()
    current: dict[str, Node] = {}
    dropped: set[str] = set()
    ed = Rewriter(g)
    merged = 0
    for n in g.nodes:
        if not _is_affine_conv(g, n):
            continue
        p = prod.get(n.inputs[0])
        if p is None:
            continue
        p = current.get(p.name, p)
        if p.op != "Conv" or rd.get(n.inputs[0], 0) != 1 or not is_const(ed.g, p.inputs[1]):
            continue
        if len(p.inputs) > 2 and p.inputs[2] and not is_const(ed.g, p.inputs[2]):
            continue
        t = ed.g.tensors
        wp, ws = t[p.inputs[1]], t[n.inputs[1]]
        bp = t[p.inputs[2]] if len(p.inputs) > 2 and p.inputs[2] else None
        bs = t[n.inputs[2]] if len(n.inputs) > 2 and n.inputs[2] else None
        k = wp.shape[0]
        have = wp.data is not None and ws.data is not None and (bp is None or bp.data is not None) and (
            bs is None or bs.data is not None)
        w_new = b_new = None
        if have:
            s = np.asarray(ws.data, dtype=np.float64).reshape(k)
            base = compact(np.asarray(wp.data)).astype(np.float64)   # a broadcast weight stays broadcast
            w_new = np.broadcast_to((base * s.reshape((k,) + (1,) * (len(wp.shape) - 1))).astype(np.float32),
                                    wp.shape)
            b0 = np.zeros(k) if bp is None else np.asarray(bp.data, dtype=np.float64)
            b_new = b0 * s + (0 if bs is None else np.asarray(bs.data, dtype=np.float64))
        wn = ed.const(f"{wp.name}/affine", w_new, wp.shape)
        bn = ed.const(f"{p.name}/affine_bias", b_new, (k,))
        q = p.replace(inputs=(p.inputs[0], wn, bn), outputs=n.outputs, origin=p.origin + n.origin)
        current[p.name] = q
        prod[n.outputs[0]] = q
        dropped.add(n.name)
        merged += 1
    if not merged:
        return g, 0
    for n in g.nodes:
        if n.name not in dropped:
            ed.keep(current.get(n.name, n))
    return ed.finish(), merged


def _pool_too_big(n: Node, arch) -> bool:
    pool = arch.aux.pool
    k = n.attr("kernel_shape")
    s = n.attr("strides", [1] * len(k))
    return (not pool.enabled or max(k) > pool.max_window or max(s) > STRIDE_MAX
            or ("avg" if n.op == "AveragePool" else "max") not in pool.types)


def _avg_pool_as_conv(ed: Rewriter, g: Graph, n: Node) -> bool:
    x = g.tensors[n.inputs[0]].shape
    if len(x) != 4:
        return False
    c = x[1]
    if n.op == "GlobalAveragePool":
        k, s, p = [x[2], x[3]], [1, 1], [0, 0, 0, 0]
    else:
        k = list(n.attr("kernel_shape"))
        s = list(n.attr("strides", [1, 1]))
        p = list(n.attr("pads", [0, 0, 0, 0]))
        out = g.tensors[n.outputs[0]].shape
        # ceil_mode windows that run past the padding have a smaller divisor: not a constant-weight conv
        for i in range(2):
            if (out[2 + i] - 1) * s[i] + k[i] > x[2 + i] + p[i] + p[i + 2]:
                return False
        if list(n.attr("dilations", [1, 1])) != [1, 1] or max(s) > STRIDE_MAX:
            return False
    divisor = k[0] * k[1]
    if n.op == "AveragePool" and any(p) and not n.attr("count_include_pad", 0):
        # padding excluded from the divisor: a constant-weight conv only when every window holds as many
        # input elements (e.g. a single output position)
        counts = []
        for i in range(2):
            counts.append({min(o * s[i] - p[i] + k[i], x[2 + i]) - max(o * s[i] - p[i], 0)
                           for o in range(g.tensors[n.outputs[0]].shape[2 + i])})
        if len(counts[0]) != 1 or len(counts[1]) != 1:
            return False
        divisor = counts[0].pop() * counts[1].pop()
    w = ed.const(f"{n.name}/avg_w", np.full((c, 1, k[0], k[1]), 1.0 / divisor), (c, 1, k[0], k[1]))
    ed.add("Conv", [n.inputs[0], w], {"kernel_shape": k, "strides": s, "pads": p, "dilations": [1, 1],
                                      "group": c}, out=n.outputs[0], name=n.name, origin=n.origin)
    return True


def _legalize_node(ed: Rewriter, g: Graph, n: Node, ctx: PassContext, rd: dict[str, int],
                   prod: dict[str, Node], pads_into: dict[str, list[int]], skip: set[str],
                   made: dict[tuple, str] | None = None) -> bool:
    """Emit the replacement of `n` into `ed`; False when `n` is kept as it is. `made` maps a (kind, source
    constant) to the constant already derived from it in this rewrite: MatMuls that read one weight tensor
    (every time step of an unrolled RNN) get one transposed tensor, which the lowering then treats as shared
    weights (one copy in the blob, resident in the filter cache across the steps when it fits)."""
    made = {} if made is None else made
    arch = ctx.arch
    cv = arch.pe_array.c_vector
    op = n.op
    t = g.tensors
    if n.name in skip:
        return True
    if op == "Add" and n.name in skip:
        return True      # a bias absorbed by the MatMul before it
    if op == "MatMul" and is_const(g, n.inputs[1]) and len(t[n.inputs[1]].shape) == 2 \
            and not is_const(g, n.inputs[0]) and len(t[n.inputs[0]].shape) >= 2:
        b = t[n.inputs[1]]
        w = made.get(("T", b.name))
        if w is None:
            data = const_data(g, n.inputs[1])
            w = made["T", b.name] = ed.const(f"{b.name}/T", None if data is None else data.T,
                                             (b.shape[1], b.shape[0]))
        ins = [n.inputs[0], w]
        out, origin = n.outputs[0], n.origin
        bias = _matmul_bias(g, n, rd)
        if bias is not None:
            add, vec = bias
            src = next(i for i in add.inputs if i != n.outputs[0])
            bname = made.get(("bias", src))
            if bname is None:
                bname = made["bias", src] = ed.const(f"{n.name}/bias", vec, (b.shape[1],))
            ins.append(bname)
            out, origin = add.outputs[0], n.origin + add.origin
            skip.add(add.name)
        a = t[n.inputs[0]].shape
        if len(a) == 2:
            ed.add("FullyConnected", ins, out=out, name=n.name, origin=origin)
        else:
            rows = ed.add("Reshape", [n.inputs[0]], {"shape": [math.prod(a[:-1]), a[-1]]}, name=f"{n.name}/rows",
                          origin=origin)
            y = ed.add("FullyConnected", [rows] + ins[1:], name=n.name, origin=origin)
            ed.add("Reshape", [y], {"shape": list(t[out].shape)}, out=out, name=f"{n.name}/unrows", origin=origin)
        return True
    if op == "BatchNormalization" and all(is_const(g, i) for i in n.inputs[1:5]) \
            and len(t[n.inputs[0]].shape) in (2, 4):
        c = t[n.inputs[0]].shape[1]
        params = [const_data(g, i) for i in n.inputs[1:5]]
        scale = shift = None
        if all(p is not None for p in params):
            gamma, beta, mean, var = (np.asarray(p, dtype=np.float64) for p in params)
            scale = gamma / np.sqrt(var + float(n.attr("epsilon", 1e-5)))
            shift = beta - mean * scale
        _affine_conv(ed, n.inputs[0], n.outputs[0], scale, shift, c, n.origin, n.name)
        return True
    if op in ("Mul", "Add", "Sub", "Div") and len(n.inputs) == 2:
        a, b = n.inputs
        if is_const(g, a) == is_const(g, b):
            return False
        x, k = (b, a) if is_const(g, a) else (a, b)
        if t[x].shape != t[n.outputs[0]].shape:
            return False
        v = _per_channel(g, x, k)
        if v is False:
            return False
        if op == "Div" and x != a:
            return False  # c / x is not affine
        c = t[x].shape[1]
        s = sh = None
        if v is not None:
            one, zero = np.ones(c), np.zeros(c)
            s, sh = {"Mul": (v, zero), "Add": (one, v), "Div": (1.0 / v, zero),
                     "Sub": ((one, -v) if x == a else (-one, v))}[op]
        _affine_conv(ed, x, n.outputs[0], s, sh, c, n.origin, n.name)
        return True
    if op == "ReduceMean":
        x = t[n.inputs[0]].shape
        axes = sorted(a % len(x) for a in (n.attr("axes") or range(len(x))))
        if len(x) == 4 and axes == [2, 3]:
            if n.attr("keepdims", 1):
                ed.add("GlobalAveragePool", [n.inputs[0]], out=n.outputs[0], name=n.name, origin=n.origin)
            else:
                y = ed.add("GlobalAveragePool", [n.inputs[0]], name=n.name, origin=n.origin)
                ed.add("Reshape", [y], {"shape": [x[0], x[1]]}, out=n.outputs[0], name=f"{n.name}/squeeze",
                       origin=n.origin)
            return True
        return False
    if op == "AveragePool" and _pool_too_big(n, arch):
        return _avg_pool_as_conv(ed, g, n)
    if op == "GlobalAveragePool":
        x = t[n.inputs[0]].shape
        pool = arch.aux.pool
        if len(x) == 4 and (not pool.enabled or "avg" not in pool.types or max(x[2], x[3]) > pool.max_window):
            return _avg_pool_as_conv(ed, g, n)
        return False
    if op == "PRelu" and is_const(g, n.inputs[1]) and t[n.inputs[1]].size == 1:
        d = const_data(g, n.inputs[1])
        if d is None:
            return False
        ed.add("LeakyRelu", [n.inputs[0]], {"alpha": float(np.ravel(d)[0])}, out=n.outputs[0], name=n.name,
               origin=n.origin)
        return True
    if op == "Pad" and n.name in pads_into:
        return True  # absorbed by the Conv that reads it
    if op == "Conv" and n.inputs[0] in pads_into:
        extra = pads_into[n.inputs[0]]
        p = list(n.attr("pads", [0, 0, 0, 0]))
        attrs = dict(n.attrs, pads=[p[i] + extra[i] for i in range(4)])
        pad_node = prod[n.inputs[0]]
        ed.add("Conv", [pad_node.inputs[0], *n.inputs[1:]], attrs, out=n.outputs[0], name=n.name,
               origin=pad_node.origin + n.origin)
        return True
    if op == "Split":
        axis = n.attr("axis", 0)
        start = 0
        for o, size in zip(n.outputs, n.attr("split")):
            ed.add("Slice", [n.inputs[0]], {"starts": [start], "ends": [start + size], "axes": [axis],
                                            "steps": [1]}, out=o, name=f"{n.name}/{o}", origin=n.origin)
            start += size
        return True
    if op == "Slice" and not is_const(g, n.inputs[0]):
        x = t[n.inputs[0]].shape
        axes = [a % len(x) for a in n.attr("axes", list(range(len(n.attr("starts")))))]
        steps = n.attr("steps", [1] * len(axes))
        if len(axes) != 1 or axes[0] != 1 or steps[0] != 1 or len(x) not in (2, 4):
            return False
        st = slice(n.attr("starts")[0], n.attr("ends")[0], 1).indices(x[1])[0]
        cout = t[n.outputs[0]].shape[1]
        if st % cv == 0 or cout == 0:
            return False
        sel = np.zeros((cout, x[1], 1, 1))
        sel[np.arange(cout), st + np.arange(cout), 0, 0] = 1.0
        base = f"{n.name}/select"
        w = ed.const(f"{base}/w", sel, sel.shape)
        attrs = {"kernel_shape": [1, 1], "strides": [1, 1], "pads": [0, 0, 0, 0], "dilations": [1, 1], "group": 1}
        if len(x) == 4:
            ed.add("Conv", [n.inputs[0], w], attrs, out=n.outputs[0], name=base, origin=n.origin)
        else:
            x4 = ed.add("Reshape", [n.inputs[0]], {"shape": [x[0], x[1], 1, 1]}, name=f"{base}/to4d",
                        origin=n.origin)
            y4 = ed.add("Conv", [x4, w], attrs, name=base, origin=n.origin)
            ed.add("Reshape", [y4], {"shape": [x[0], cout]}, out=n.outputs[0], name=f"{base}/to2d",
                   origin=n.origin)
        return True
    if op == "Softmax" and len(t[n.inputs[0]].shape) == 2 and n.attr("axis", -1) == -1:
        ed.add("Softmax", [n.inputs[0]], {"axis": 1}, out=n.outputs[0], name=n.name, origin=n.origin)
        return True
    return False


def _matmul_bias(g: Graph, n: Node, rd: dict[str, int]):
    """(Add node, bias vector or None) when the MatMul's only reader adds a constant along the last axis."""
    cons = [m for m in g.nodes if n.outputs[0] in m.inputs]
    if rd.get(n.outputs[0], 0) != 1 or len(cons) != 1 or cons[0].op != "Add":
        return None
    add = cons[0]
    other = [i for i in add.inputs if i != n.outputs[0]]
    if len(other) != 1 or not is_const(g, other[0]):
        return None
    c = g.tensors[other[0]]
    y = g.tensors[n.outputs[0]].shape
    if c.size != y[-1] or any(d != 1 for d in c.shape[:-1]) or (c.shape and c.shape[-1] != y[-1]):
        return None
    data = const_data(g, other[0])
    return add, (None if data is None else np.asarray(data, dtype=np.float64).reshape(-1))


def _pads_to_fold(g: Graph) -> dict[str, list[int]]:
    """Pad outputs (zero constant, H/W only) read by exactly one Conv: tensor -> [top, left, bottom, right]."""
    rd = readers(g)
    cons = g.consumers()
    out: dict[str, list[int]] = {}
    for n in g.nodes:
        if n.op != "Pad" or n.attr("mode", "constant") != "constant" or float(n.attr("value", 0.0)) != 0.0:
            continue
        p = list(n.attr("pads"))
        if len(p) != 8 or any(p[i] for i in (0, 1, 4, 5)) or min(p) < 0:
            continue
        users = cons.get(n.outputs[0], [])
        if rd.get(n.outputs[0], 0) == 1 and len(users) == 1 and users[0].op == "Conv" \
                and users[0].inputs[0] == n.outputs[0]:
            out[n.outputs[0]] = [p[2], p[3], p[6], p[7]]
    return out


@register_pass("legalize", "rewrite operators without an overlay kernel into ones with (MatMul->FC, BN/affine->"
               "1x1 depthwise conv, ReduceMean->GAP, big avg pools->conv, unaligned channel slices->conv, ...)",
               kind="legalize")
def legalize(g: Graph, ctx: PassContext) -> Graph:
    count: dict[str, int] = {}
    out = g
    for _ in range(4):   # a rewrite can produce nodes another rule legalises (Split -> unaligned Slice -> Conv)
        rd = readers(out)
        prod = out.producers()
        pads_into = _pads_to_fold(out)
        pad_nodes = {prod[t].name: t for t in pads_into}
        ed = Rewriter(out)
        changed = 0
        skip: set[str] = set()
        made: dict[tuple, str] = {}
        for n in out.nodes:
            if n.op == "Pad" and n.name in pad_nodes:
                count["Pad"] = count.get("Pad", 0) + 1
                changed += 1
                continue
            if _legalize_node(ed, out, n, ctx, rd, prod, pads_into, skip, made):
                count[n.op] = count.get(n.op, 0) + 1
                changed += 1
            else:
                ed.keep(n)
        if not changed:
            break
        out = ed.finish()
    out, merged = _merge_affine(out)
    # the depthwise convolutions legalize creates (per-channel scale and shift, average pooling) are one
    # operator each: they run in depthwise mode at every -O level (group-conv concerns the model's own convs)
    created = {n.name for n in out.nodes if n.op == "Conv" and n.name not in {m.name for m in g.nodes}
               and int(n.attr("group", 1)) == out.tensors[n.inputs[0]].shape[1] > 1}
    if created:
        plan = get_plan(out)
        out = with_plan(out, native_groups=plan.native_groups | created)
    parts = [f"{k} x{v}" for k, v in sorted(count.items())]
    if merged:
        parts.append(f"{merged} affine conv(s) merged into their producers")
    return note(out, "rewrote " + ", ".join(parts)) if parts else out

