"""`lower-rnn`: unroll LSTM / GRU / RNN over time into overlay work (same semantics as ONNX).

Matrix products become FullyConnected nodes (PE array); gate nonlinearities, the cell update and the hidden
state are Sigmoid / Tanh / Mul / Add / Sub nodes (activation and eltwise kernels). Sequences are handled as
row blocks: X (T, B, I) is read as T*B rows, step t is rows [t*B, (t+1)*B), Y is written row block by row block.

Naive form (plan.batch off, -O0): per step and gate, FC(x_t, W_g) + FC(h, R_g), each reloading its weights.
Batched form (`batch-matvec` on): one FC over all T*B rows computes the input projection of every gate and step
(hoisted out of the time loop); per step one FC(h, R_all) computes all gate products at once. Merged gate
blocks are padded to multiples of c_vector so that every gate is a channel-block-aligned slice.

Not lowered (left for host fallback): sequence_lens, peepholes, clip, input_forget, non-default activations.
"""
from __future__ import annotations

import numpy as np

from compiler.ir import Graph, Node
from compiler.ops import RECURRENT, RNN_GATES
from compiler.passes import PassContext, note, register_pass
from compiler.passes.legalize import _affine_conv
from compiler.passes.plan import get_plan
from compiler.passes.rewrite import Rewriter, const_data

DEFAULT_ACTS = {"LSTM": ["Sigmoid", "Tanh", "Tanh"], "GRU": ["Sigmoid", "Tanh"], "RNN": ["Tanh"]}


def unsupported_reason(g: Graph, n: Node) -> str | None:
    """Why `lower-rnn` cannot lower a recurrent node (None when it can)."""
    ins = list(n.inputs) + [""] * (8 - len(n.inputs))
    if ins[4]:
        return "sequence_lens is not supported (variable-length sequences)"
    if n.op == "LSTM" and ins[7]:
        return "LSTM peepholes are not supported"
    if n.attr("clip") is not None:
        return "cell clipping is not supported"
    if n.attr("input_forget", 0):
        return "input_forget is not supported"
    acts = n.attr("activations")
    d = 2 if n.attr("direction", "forward") == "bidirectional" else 1
    if acts and [a.lower() for a in acts] != [a.lower() for a in DEFAULT_ACTS[n.op] * d]:
        return f"activations {list(acts)} are not the defaults {DEFAULT_ACTS[n.op]}"
    if any(g.tensors[i].const and g.tensors[i].data is None for i in ins[5:7] if i):
        return None
    return None


class _Lower:
    def __init__(self, ed: Rewriter, g: Graph, n: Node, batched: bool, cv: int):
        self.ed, self.g, self.n, self.batched, self.cv = ed, g, n, batched, cv
        self.o = n.origin or (n.name,)
        self.base = n.name

    def add(self, op, ins, attrs=None, name="", out=None):
        return self.ed.add(op, ins, attrs, name=f"{self.base}/{name}" if name else None, out=out, origin=self.o)

    def rows(self, x: str, r0: int, r1: int, name: str) -> str:
        if r0 == 0 and r1 == self.ed.g.tensors[x].shape[0]:
            return x
        return self.add("Slice", [x], {"starts": [r0], "ends": [r1], "axes": [0], "steps": [1]}, name)

    def chans(self, x: str, c0: int, c1: int, name: str) -> str:
        shape = self.ed.g.tensors[x].shape
        if c0 == 0 and c1 == shape[1]:
            return x
        return self.add("Slice", [x], {"starts": [c0], "ends": [c1], "axes": [1], "steps": [1]}, name)

    def fc(self, x: str, w: np.ndarray | None, wshape, b: np.ndarray | None, name: str, share: str = "") -> str:
        """FC node; `share` names a weight set used by every step (one constant, so the compiled program can keep
        its filter chunk cached across steps)."""
        key = share or name
        cache = self.__dict__.setdefault("_consts", {})
        if share and key in cache:
            ins = [x, *cache[key]]
        else:
            wn = self.ed.const(f"{self.base}/{key}/W", w, wshape)
            ins = [x, wn]
            if b is not None or w is None:
                ins.append(self.ed.const(f"{self.base}/{key}/B", b, (wshape[0],)))
            if share:
                cache[key] = ins[1:]
        return self.add("FullyConnected", ins, name=name)


def _gate_blocks(m: np.ndarray | None, gates: int, h: int, hp: int, cols: int) -> np.ndarray | None:
    """(gates*h, cols) -> (gates*hp, cols) with each gate's rows padded to hp (zero rows)."""
    if m is None:
        return None
    out = np.zeros((gates * hp, cols))
    for k in range(gates):
        out[k * hp:k * hp + h] = m[k * h:(k + 1) * h]
    return out


def _pad_vec(v: np.ndarray | None, gates: int, h: int, hp: int) -> np.ndarray | None:
    if v is None:
        return None
    out = np.zeros(gates * hp)
    for k in range(gates):
        out[k * hp:k * hp + h] = v[k * h:(k + 1) * h]
    return out


def lower_recurrent(ed: Rewriter, g: Graph, n: Node, batched: bool, cv: int) -> None:
    L = _Lower(ed, g, n, batched, cv)
    t_ = g.tensors
    ins = list(n.inputs) + [""] * (8 - len(n.inputs))
    x, wname, rname, bname, _, h0name, c0name = ins[:7]
    T, B, I = t_[x].shape
    H = int(n.attr("hidden_size"))
    G = RNN_GATES[n.op]
    D = 2 if n.attr("direction", "forward") == "bidirectional" else 1
    hp = -(-H // cv) * cv
    W, R = const_data(g, wname), const_data(g, rname)
    Bv = const_data(g, bname) if bname else (None if (W is None or R is None) else np.zeros((D, 2 * G * H)))
    have = W is not None and R is not None and Bv is not None
    lbr = int(n.attr("linear_before_reset", 0))
    xrows = L.add("Reshape", [x], {"shape": [T * B, I]}, "x_rows")
    ys: dict[tuple[int, int], str] = {}
    last_h: list[str] = []
    last_c: list[str] = []
    for d in range(D):
        Wd = W[d].astype(np.float64) if have else None
        Rd = R[d].astype(np.float64) if have else None
        wb = Bv[d][:G * H].astype(np.float64) if have else None
        rb = Bv[d][G * H:].astype(np.float64) if have else None
        pre = f"d{d}"

        def init(name: str) -> str | None:
            if not name:
                return None
            v = name
            if D > 1:
                v = L.add("Slice", [v], {"starts": [d], "ends": [d + 1], "axes": [0], "steps": [1]}, f"{pre}/{name}")
            return L.add("Reshape", [v], {"shape": [B, H]}, f"{pre}/init_{name.split('/')[-1]}")

        h = init(h0name)
        c = init(c0name) if n.op == "LSTM" else None
        # input projection bias: both biases, except GRU's recurrent bias of the new gate when it sits inside r*()
        xbias = None
        if have:
            xbias = wb + rb
            if n.op == "GRU" and lbr:
                xbias = wb.copy()
                xbias[:2 * H] += rb[:2 * H]
        xw_all = None
        if batched:
            wpad = _gate_blocks(Wd, G, H, hp, I)
            xw_all = L.fc(xrows, wpad, (G * hp, I), _pad_vec(xbias, G, H, hp), f"{pre}/xw")
        steps = range(T) if (d == 0 and n.attr("direction", "forward") != "reverse") else range(T - 1, -1, -1)
        for t in steps:
            tag = f"{pre}/t{t}"
            if batched:
                xw = L.rows(xw_all, t * B, (t + 1) * B, f"{tag}/xw")
                gates = [L.chans(xw, k * hp, k * hp + H, f"{tag}/xw_g{k}") for k in range(G)]
                hr = None
                if h is not None:
                    if n.op == "GRU" and not lbr:
                        rz = _gate_blocks(Rd[:2 * H] if have else None, 2, H, hp, H)
                        hr = L.fc(h, rz, (2 * hp, H), None, f"{tag}/hr", share=f"{pre}/r_zr")
                    else:
                        rb_n = None
                        if have and n.op == "GRU":
                            rb_n = np.zeros(G * hp)
                            rb_n[2 * hp:2 * hp + H] = rb[2 * H:]
                        hr = L.fc(h, _gate_blocks(Rd, G, H, hp, H), (G * hp, H), rb_n, f"{tag}/hr",
                                  share=f"{pre}/r_all")
                hgate = (lambda k: L.chans(hr, k * hp, k * hp + H, f"{tag}/hr_g{k}")) if hr is not None else None
                acts = None
                if n.op == "LSTM":
                    # one add and two activations over aligned gate blocks instead of four
                    s = xw if hr is None else L.add("Add", [hr, xw], name=f"{tag}/pre")
                    ifo = L.add("Sigmoid", [L.chans(s, 0, 3 * hp, f"{tag}/ifo_pre")], name=f"{tag}/ifo")
                    gg = L.add("Tanh", [L.chans(s, 3 * hp, 4 * hp, f"{tag}/g_pre")], name=f"{tag}/g")
                    acts = [L.chans(ifo, k * hp, k * hp + H, f"{tag}/a{k}") for k in range(3)]
                    acts.append(L.chans(gg, 0, H, f"{tag}/a3"))
                    gates = None
            else:
                xt = L.rows(xrows, t * B, (t + 1) * B, f"{tag}/x")
                xb = (lambda k: None if xbias is None else xbias[k * H:(k + 1) * H])
                gates = [L.fc(xt, None if Wd is None else Wd[k * H:(k + 1) * H], (H, I), xb(k), f"{tag}/xw_g{k}")
                         for k in range(G)]
                hgate = None
                if h is not None:
                    cache: dict[int, str] = {}

                    def hgate(k, h=h, tag=tag, cache=cache):
                        if k not in cache:
                            bias = None
                            if have and n.op == "GRU" and lbr and k == 2:
                                bias = rb[2 * H:]
                            rows = None if Rd is None else Rd[k * H:(k + 1) * H]
                            cache[k] = L.fc(h, rows, (H, H), bias, f"{tag}/hr_g{k}")
                        return cache[k]
                acts = None
            # --- cell -------------------------------------------------------------------------------------
            if n.op == "LSTM":
                if acts is None:
                    fn = ["Sigmoid", "Sigmoid", "Sigmoid", "Tanh"]
                    acts = []
                    for k in range(4):
                        a = gates[k] if hgate is None else L.add("Add", [gates[k], hgate(k)], name=f"{tag}/pre{k}")
                        acts.append(L.add(fn[k], [a], name=f"{tag}/act{k}"))
                i, o, f, gg = acts
                ig = L.add("Mul", [i, gg], name=f"{tag}/ig")
                c = ig if c is None else L.add("Add", [L.add("Mul", [f, c], name=f"{tag}/fc"), ig], name=f"{tag}/c")
                h = L.add("Mul", [o, L.add("Tanh", [c], name=f"{tag}/tanh_c")], name=f"{tag}/h")
            elif n.op == "GRU":
                za = [gates[k] if hgate is None else L.add("Add", [gates[k], hgate(k)], name=f"{tag}/pre{k}")
                      for k in range(2)]
                z = L.add("Sigmoid", [za[0]], name=f"{tag}/z")
                r = L.add("Sigmoid", [za[1]], name=f"{tag}/r")
                if h is None:
                    if lbr and have and np.any(rb[2 * H:]):
                        rr = L.ed.fresh(f"{L.base}/{tag}/r_rb")
                        _affine_conv(L.ed, r, rr, rb[2 * H:], np.zeros(H), H, L.o, f"{L.base}/{tag}/r_rb")
                        npre = L.add("Add", [gates[2], rr], name=f"{tag}/npre")
                    elif lbr and not have:
                        rr = L.ed.fresh(f"{L.base}/{tag}/r_rb")
                        _affine_conv(L.ed, r, rr, None, None, H, L.o, f"{L.base}/{tag}/r_rb")
                        npre = L.add("Add", [gates[2], rr], name=f"{tag}/npre")
                    else:
                        npre = gates[2]
                    nn = L.add("Tanh", [npre], name=f"{tag}/n")
                    h = L.add("Sub", [nn, L.add("Mul", [z, nn], name=f"{tag}/zn")], name=f"{tag}/h")
                else:
                    if lbr:
                        rh = L.add("Mul", [r, hgate(2)], name=f"{tag}/rh")
                    else:
                        rhx = L.add("Mul", [r, h], name=f"{tag}/rhx")
                        rows = None if Rd is None else Rd[2 * H:]
                        rh = L.fc(rhx, rows, (H, H), None, f"{tag}/rh", share=f"{pre}/r_h" if batched else "")
                    nn = L.add("Tanh", [L.add("Add", [gates[2], rh], name=f"{tag}/npre")], name=f"{tag}/n")
                    diff = L.add("Sub", [h, nn], name=f"{tag}/hn")
                    h = L.add("Add", [nn, L.add("Mul", [z, diff], name=f"{tag}/zd")], name=f"{tag}/h")
            else:
                a = gates[0] if hgate is None else L.add("Add", [gates[0], hgate(0)], name=f"{tag}/pre0")
                h = L.add("Tanh", [a], name=f"{tag}/h")
            ys[(t, d)] = h
        last_h.append(h)
        if n.op == "LSTM":
            last_c.append(c)
    outs = list(n.outputs) + [""] * (3 - len(n.outputs))
    if outs[0]:
        parts = [ys[(t, d)] for t in range(T) for d in range(D)]
        yflat = parts[0] if len(parts) == 1 else L.add("Concat", parts, {"axis": 0}, "y_rows")
        L.add("Reshape", [yflat], {"shape": [T, D, B, H]}, "y", out=outs[0])
    for k, lst in ((1, last_h), (2, last_c)):
        if k < len(outs) and outs[k]:
            v = lst[0] if D == 1 else L.add("Concat", lst, {"axis": 0}, f"last{k}")
            L.add("Reshape", [v], {"shape": [D, B, H]}, f"y{'hc'[k - 1]}", out=outs[k])


@register_pass("lower-rnn", "unroll LSTM/GRU/RNN over time into FullyConnected + activation + eltwise nodes",
               kind="legalize")
def lower_rnn(g: Graph, ctx: PassContext) -> Graph:
    if not any(n.op in RECURRENT for n in g.nodes):
        return g
    batched = get_plan(g).batch
    ed = Rewriter(g)
    done, kept = [], []
    for n in g.nodes:
        if n.op in RECURRENT and unsupported_reason(g, n) is None:
            lower_recurrent(ed, g, n, batched, ctx.arch.pe_array.c_vector)
            done.append(n.name)
        else:
            if n.op in RECURRENT:
                kept.append(n.name)
            ed.keep(n)
    out = ed.finish()
    msg = f"unrolled {', '.join(done)} ({'batched' if batched else 'naive'} form)" if done else ""
    if kept:
        msg += f"; left {', '.join(kept)} for host fallback"
    return note(out, msg.strip("; "))
