"""`fold-input`: first-layer folding (the FPGA AI Suite's `--ffolding-option`).

The first convolution of an image network reads 3 channels, so each c_vector-wide stream-buffer entry carries
3 useful features and the PE array's dot products run at 3 / c_vector of their width (AlexNet's conv1 on an
8-wide array: 23% utilisation). Folding moves the input's spatial dimensions into channels: the input, zero
padded to exactly the rows and columns the convolution reads, is rearranged by SpaceToDepth(f) into C f^2
channels of (H/f) x (W/f) pixels, and the convolution becomes one with C f^2 input channels, a
ceil(kh/f) x ceil(kw/f) kernel (taps beyond the original kernel are zero weights), stride s/f and no padding:

    y[k, oy, ox] = sum_{c, i, j, by, bx} xf[(by f + bx) C + c, oy s/f + i, ox s/f + j] . W'[k, (by f + bx) C + c, i, j]
    xf[(by f + bx) C + c, Y, X] = xpad[c, Y f + by, X f + bx],   W'[k, (by f + bx) C + c, i, j] = W[k, c, i f + by, j f + bx]

which is the original convolution term by term. The fold itself (Pad + SpaceToDepth) is an input layout
transform done by the host runtime before the input is written to DDR, as the AI Suite's runtime does
(a host partition, like every layout change the overlay has no kernel for); the folded input is also smaller
in DDR (fewer padding lanes).

Only convolutions that read a graph input are folded, with the factor f (1, or a common divisor of both
strides) whose folded layer needs the fewest PE-array passes x filter entries (the cycle model's count, with
the Winograd and column modes the later passes will choose): AlexNet's 11x11/4 conv1 becomes a 3x3/1
convolution over 48 channels that runs in Winograd mode; GoogLeNet's 7x7/2 conv1 becomes 4x4/1 over 12
channels. A factor whose folded window does not fit a filter-cache half is not considered.
"""
from __future__ import annotations

import numpy as np

from compiler.ir import Graph, Node
from compiler.lowering.support import filter_half
from compiler.passes import PassContext, note, register_pass
from compiler.passes.rewrite import Rewriter


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _modes(arch, ctx: PassContext, kw: int, sx: int) -> tuple[bool, str]:
    """(Winograd, pe.cols) that the later passes would pick for a convolution of width kw and stride sx."""
    pe = arch.pe_array
    wino = bool(pe.winograd and ctx.enabled("winograd") and kw == 3 and sx == 1)
    cols = "wide" if (pe.winograd and not wino and sx == 1 and ctx.enabled("direct-wide")) else "tile"
    return wino, cols


def fold_cycles(arch, ctx: PassContext, n: int, c: int, k: int, oh: int, ow: int, kh: int, kw: int, sx: int) -> int:
    """PE-array passes x filter entries of a (folded) first layer with the modes the later passes would pick
    (simulator.costs.conv_cycles without the lanes and accumulator-thread rounding, which are the same for
    every factor and are not planning parameters: `hw_models.optimizer.PLAN_FREE_FIELDS`)."""
    pe = arch.pe_array
    wino, cols = _modes(arch, ctx, kw, sx)
    width = pe.w_vector if cols == "wide" else pe.q_vector
    return _cdiv(k, pe.k_vector) * n * oh * _cdiv(ow, width) * _cdiv(c, pe.c_vector) * kh * (1 if wino else kw)


def choose_factor(g: Graph, n: Node, ctx: PassContext) -> tuple[int, dict[int, int]]:
    """The folding factor of a first-layer convolution and the PE cycles of each candidate."""
    arch = ctx.arch
    x = g.tensors[n.inputs[0]].shape
    w = g.tensors[n.inputs[1]].shape
    y = g.tensors[n.outputs[0]].shape
    kh, kw = list(n.attr("kernel_shape", w[2:]))
    sy, sx = list(n.attr("strides", [1, 1]))
    cost: dict[int, int] = {}
    for f in range(1, min(sy, sx) + 1):
        if sy % f or sx % f:
            continue
        khf, kwf = _cdiv(kh, f), _cdiv(kw, f)
        wino, _ = _modes(arch, ctx, kwf, sx // f)
        if khf * (arch.pe_array.w_vector if wino else kwf) > filter_half(arch):
            continue
        cost[f] = fold_cycles(arch, ctx, x[0], x[1] * f * f, y[1], y[2], y[3], khf, kwf, sx // f)
    best = min(cost, key=lambda f: (cost[f], f)) if cost else 1
    return best, cost


def folded_weights(W: np.ndarray, f: int) -> np.ndarray:
    """W (K, C, kh, kw) -> W' (K, C f^2, ceil(kh/f), ceil(kw/f)) with W'[k, (by f + bx) C + c, i, j] =
    W[k, c, i f + by, j f + bx] (zero beyond the kernel)."""
    K, C, kh, kw = W.shape
    khf, kwf = _cdiv(kh, f), _cdiv(kw, f)
    pad = np.zeros((K, C, khf * f, kwf * f), dtype=W.dtype)
    pad[:, :, :kh, :kw] = W
    # (K, C, i, by, j, bx) -> (K, by, bx, C, i, j)
    return pad.reshape(K, C, khf, f, kwf, f).transpose(0, 3, 5, 1, 2, 4).reshape(K, f * f * C, khf, kwf)


def _eligible(g: Graph, n: Node) -> bool:
    if n.op != "Conv" or n.inputs[0] not in g.inputs:
        return False
    x = g.tensors[n.inputs[0]].shape
    if len(x) != 4 or int(n.attr("group", 1)) != 1 or list(n.attr("dilations", [1, 1])) != [1, 1]:
        return False
    return g.tensors[n.inputs[1]].const and (len(n.inputs) < 3 or not n.inputs[2] or g.tensors[n.inputs[2]].const)


@register_pass("fold-input", "first-layer folding: a convolution on a graph input with few channels reads its "
               "input folded by SpaceToDepth(f) on the host (C f^2 channels, ceil(k/f) kernel, stride s/f)",
               levels=(2,))
def fold_input(g: Graph, ctx: PassContext) -> Graph:
    plans = {}
    for n in g.nodes:
        if _eligible(g, n):
            f, cost = choose_factor(g, n, ctx)
            if f > 1:
                plans[n.name] = (f, cost)
    if not plans:
        return note(g, "no first-layer convolution gains from folding")
    ed = Rewriter(g)
    done = []
    for n in g.nodes:
        if n.name not in plans:
            ed.keep(n)
            continue
        f, cost = plans[n.name]
        x = g.tensors[n.inputs[0]].shape
        wt = g.tensors[n.inputs[1]]
        y = g.tensors[n.outputs[0]].shape
        kh, kw = list(n.attr("kernel_shape", wt.shape[2:]))
        sy, sx = list(n.attr("strides", [1, 1]))
        pt, pl, _, _ = list(n.attr("pads", [0, 0, 0, 0]))
        khf, kwf = _cdiv(kh, f), _cdiv(kw, f)
        hneed, wneed = (y[2] - 1) * sy + khf * f, (y[3] - 1) * sx + kwf * f
        pads = [0, 0, pt, pl, 0, 0, hneed - pt - x[2], wneed - pl - x[3]]
        src = n.inputs[0]
        if any(pads):
            src = ed.add("Pad", [src], {"pads": pads, "mode": "constant"}, name=f"{n.name}_fold_pad",
                         origin=n.origin)
        xf = ed.add("SpaceToDepth", [src], {"blocksize": f}, name=f"{n.name}_fold", origin=n.origin)
        wdata = None if wt.data is None else folded_weights(np.asarray(wt.data), f)
        w2 = ed.const(f"{wt.name}_fold{f}", wdata, (wt.shape[0], wt.shape[1] * f * f, khf, kwf), wt.dtype)
        attrs = {k: v for k, v in n.attrs.items() if k not in ("auto_pad",)}
        attrs.update(kernel_shape=[khf, kwf], strides=[sy // f, sx // f], pads=[0, 0, 0, 0], dilations=[1, 1])
        ed.taken.discard(n.name)
        ed.add("Conv", [xf, w2] + list(n.inputs[2:]), attrs, out=n.outputs[0], name=n.name, origin=n.origin)
        done.append(f"{n.name} x{f} ({cost[1]:,} -> {cost[f]:,} PE passes x entries)")
    return note(ed.finish(), "folded " + ", ".join(done))
