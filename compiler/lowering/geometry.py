"""Geometry of a fused group: the stages a tile passes (PE array, then aux kernels) with their window parameters.

Every stage works on an (N, C, H, W) view. The PE stage is `conv` (dense or grouped convolution; a
FullyConnected is a convolution whose window is its whole input plane), `dw` (depthwise mode) or `bypass`.
"""
from __future__ import annotations

from dataclasses import dataclass

from compiler.errors import CapacityError
from compiler.ir import Graph, Node
from compiler.lowering.formats import view_of
from compiler.lowering.support import ACT_FN, resize_block
from compiler.passes.plan import Group, Plan


@dataclass
class Stage:
    kind: str                  # conv | dw | bypass | act | pool | lrn | elt | d2s | smax
    node: Node | None
    cin: int
    hin: int
    win: int
    cout: int
    hout: int
    wout: int
    kh: int = 1
    kw: int = 1
    sy: int = 1
    sx: int = 1
    dy: int = 1
    dx: int = 1
    pt: int = 0
    pl: int = 0
    pb: int = 0
    pr: int = 0
    block: int = 1
    mode: str = ""             # d2s mode, pool type, act fn, elt op
    cross_channel: bool = False

    @property
    def windowed(self) -> bool:
        return self.kind in ("conv", "dw", "pool")


@dataclass
class GroupGeo:
    group: Group
    stages: list[Stage]
    n: int
    input: str
    output: str
    operand: str | None
    elt_stage: int              # index of the eltwise stage, -1 when none
    # PE stage parameters (conv / dw)
    K: int = 0
    C: int = 0
    groups: int = 1
    kwp: int = 1                # cached filter width: kw, or w_vector under Winograd
    wino: bool = False
    cols: str = "tile"          # pe.cols: how the w_vector multiplier columns are used (Winograd architectures)
    # on-chip hand-over (memory-plan `resident`), set only by simulator.estimate with `on_chip=True`:
    sb_in: bool = False         # the input tile is left in the stream buffer by the previous bundle
    sb_out: bool = False        # the result stays in the stream buffer for the next bundle
    fc: bool = False
    weight: str = ""
    bias: str = ""

    @property
    def pe(self) -> Stage:
        return self.stages[0]

    @property
    def k_per_group(self) -> int:
        return self.K // self.groups

    @property
    def c_per_group(self) -> int:
        return self.C // self.groups

    @property
    def whole_channels(self) -> bool:
        """A cross-channel stage (LRN, softmax, DCR/CRD depth-to-space) needs every channel in one tile."""
        return any(s.cross_channel for s in self.stages)


def _view(g: Graph, name: str, views: dict | None = None) -> tuple[int, int, int, int]:
    if views is not None and name in views:
        return tuple(views[name])
    return view_of(g.tensors[name].shape)


def _window(n: Node, x: tuple[int, int, int, int], kernel: list[int]) -> dict:
    s = list(n.attr("strides", [1, 1]))
    d = list(n.attr("dilations", [1, 1]))
    p = list(n.attr("pads", [0, 0, 0, 0]))
    return dict(kh=kernel[0], kw=kernel[1], sy=s[0], sx=s[1], dy=d[0], dx=d[1], pt=p[0], pl=p[1], pb=p[2], pr=p[3])


def pe_stage(g: Graph, n: Node | None, x: tuple[int, int, int, int], plan: Plan, arch, views=None
             ) -> tuple[Stage, dict]:
    """The PE stage of a group and extra group parameters."""
    if n is None:
        return Stage("bypass", None, x[1], x[2], x[3], x[1], x[2], x[3]), {}
    out = _view(g, n.outputs[0], views)
    w = g.tensors[n.inputs[1]]
    bias = n.inputs[2] if len(n.inputs) > 2 and n.inputs[2] else ""
    if n.op == "FullyConnected":
        st = Stage("conv", n, x[1], x[2], x[3], out[1], 1, 1, kh=x[2], kw=x[3])
        return st, dict(K=out[1], C=x[1], groups=1, kwp=x[3], fc=True, weight=n.inputs[1], bias=bias,
                        cols=plan.cols.get(n.name, "tile"))
    groups = int(n.attr("group", 1))
    k = list(n.attr("kernel_shape", list(w.shape[2:])))
    win = _window(n, x, k)
    native = n.name in plan.native_groups
    depthwise = groups > 1 and groups == x[1] and native
    wino = n.name in plan.winograd
    kind = "dw" if depthwise else "conv"
    st = Stage(kind, n, x[1], x[2], x[3], out[1], out[2], out[3], **win)
    kwp = arch.pe_array.w_vector if wino else win["kw"]
    return st, dict(K=out[1], C=x[1], groups=groups, kwp=kwp, wino=wino, weight=n.inputs[1], bias=bias,
                    cols=plan.cols.get(n.name, "tile"))


def aux_stage(g: Graph, kind: str, n: Node, x: tuple[int, int, int, int], views=None) -> Stage:
    out = _view(g, n.outputs[0], views)
    base = dict(cin=x[1], hin=x[2], win=x[3], cout=out[1], hout=out[2], wout=out[3])
    if kind == "pool":
        if n.op == "GlobalAveragePool":
            return Stage("pool", n, **base, kh=x[2], kw=x[3], sy=1, sx=1, mode="avg")
        return Stage("pool", n, **base, mode="max" if n.op == "MaxPool" else "avg",
                     **_window(n, x, list(n.attr("kernel_shape"))))
    if kind == "d2s":
        if n.op == "Resize":
            return Stage("d2s", n, **base, block=resize_block(g, n), mode="nearest")
        return Stage("d2s", n, **base, block=n.attr("blocksize"), mode=n.attr("mode", "DCR").lower(),
                     cross_channel=True)
    if kind == "act":
        return Stage("act", n, **base, mode=ACT_FN[n.op])
    if kind == "elt":
        return Stage("elt", n, **base, mode={"Add": "add", "Sub": "sub", "Mul": "mul"}[n.op])
    if kind in ("lrn", "smax"):
        return Stage(kind, n, **base, cross_channel=True)
    raise ValueError(kind)


def group_geometry(g: Graph, grp: Group, plan: Plan, arch, views: dict | None = None) -> GroupGeo:
    """Stages of a group over the (N, C, H, W) views (`views`: the schedule's unified views). Memoised per graph,
    group, the plan decisions the PE stage reads and the views object (shared result: read it only)."""
    from compiler.lowering.units import graph_memo

    pe = grp.pe
    key = ("geo", grp, id(views), pe in plan.native_groups, pe in plan.winograd,
           plan.cols.get(pe, "tile") if pe else "tile")
    hit = graph_memo(g, key, lambda: (views, _group_geometry(g, grp, plan, arch, views)), arch)
    if hit[0] is not views:                   # a different views object reused the id: recompute
        return _group_geometry(g, grp, plan, arch, views)
    return hit[1]


def _group_geometry(g: Graph, grp: Group, plan: Plan, arch, views: dict | None = None) -> GroupGeo:
    nodes = {n.name: n for n in g.nodes}
    x = _view(g, grp.input, views)
    pe = nodes[grp.pe] if grp.pe else None
    st, extra = pe_stage(g, pe, x, plan, arch, views)
    stages = [st]
    cur = (x[0], st.cout, st.hout, st.wout)
    elt = -1
    for kind, name in grp.chain:
        s = aux_stage(g, kind, nodes[name], cur, views)
        if kind == "elt":
            elt = len(stages)
        stages.append(s)
        cur = (cur[0], s.cout, s.hout, s.wout)
    if x[0] != _view(g, grp.output, views)[0]:
        raise CapacityError(f"group '{grp.name}' changes the batch dimension")
    return GroupGeo(grp, stages, x[0], grp.input, grp.output, grp.operand, elt, **extra)
