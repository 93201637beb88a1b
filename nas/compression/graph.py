"""Direct IR of a (factorised) speech model, the same computation `export_onnx` writes, without an ONNX trip.

Searches cost thousands of rank tables; building the IR here takes milliseconds. Two forms mirror the ONNX
export: 'native' (ONNX LSTM nodes; a factorised input matrix becomes a MatMul by V.T before an LSTM whose W is U)
and 'unrolled' (input projection hoisted over all steps, per step the recurrent product as one or two MatMuls,
Split into gates, Sigmoid/Tanh/Mul/Add). With `model` given, constants carry its weights (ONNX LSTM gate order
i, o, f, c); without it the graph is cost-only (`data=None`).
"""
from __future__ import annotations

import numpy as np
import torch

from compiler.builder import GraphBuilder
from compiler.ir import Graph
from nas.compression.lowrank import ExportError
from workloads.speech.model import ModelConfig, Ranks, SpeechModel, check_ranks, matrix_specs

_ONNX_GATES = (0, 3, 1, 2)  # torch (i, f, g, o) blocks in ONNX order (i, o, f, c)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


class _Weights:
    """Numpy views of a model's factors, or shapes only."""

    def __init__(self, cfg: ModelConfig, ranks: Ranks, model: SpeechModel | None):
        self.cfg, self.ranks, self.model = cfg, ranks, model
        self.specs = {s.name: s for s in matrix_specs(cfg)}

    def factors(self, name: str) -> list[np.ndarray | None]:
        """[W] or [U, V] as numpy (None entries when cost-only)."""
        n = 1 if self.ranks[name] is None else 2
        if self.model is None:
            return [None] * n
        return [_np(f) for f in self.model.factors(name)]

    def shapes(self, name: str) -> list[tuple[int, int]]:
        s, r = self.specs[name], self.ranks[name]
        return [(s.rows, s.cols)] if r is None else [(s.rows, r), (r, s.cols)]

    def bias(self, key: str) -> np.ndarray | None:
        return None if self.model is None else _np(self.model.biases[key])


def _gate_rows(a: np.ndarray | None, h: int) -> np.ndarray | None:
    return None if a is None else np.concatenate([a[g * h:(g + 1) * h] for g in _ONNX_GATES])


def _project(gb: GraphBuilder, x: str, w: _Weights, name: str) -> str:
    """x @ M.T as MatMul(s) by transposed constants: by V.T then U.T when M = U @ V is factorised."""
    facs, shapes = w.factors(name), w.shapes(name)
    tag = name.replace(".", "_")
    parts = ("w",) if len(facs) == 1 else ("u", "v")
    for f, (rows, cols), part in reversed(list(zip(facs, shapes, parts))):
        x = gb.matmul(x, gb.const(f"{tag}_{part}T", (cols, rows), None if f is None else f.T), name=f"{tag}_{part}")
    return x


def build_graph(cfg: ModelConfig, ranks: Ranks, *, form: str = "auto", batch: int = 1,
                model: SpeechModel | None = None) -> Graph:
    """IR of the classifier on input 'features' (batch, frames, n_mels), output logits (batch, classes)."""
    ranks = check_ranks(cfg, ranks)
    if model is not None and (model.cfg != cfg or model.ranks != ranks):
        raise ExportError("build_graph: model's config or ranks differ from the ones given")
    has_rec = any(ranks[s.name] is not None for s in matrix_specs(cfg) if s.kind == "recurrent")
    if form == "auto":
        form = "unrolled" if has_rec else "native"
    if form == "native" and has_rec:
        raise ExportError("a factorised recurrent matrix has no ONNX LSTM form; use form='unrolled'")
    if form not in ("native", "unrolled"):
        raise ExportError(f"graph form '{form}' is unknown; use auto, native or unrolled")
    w = _Weights(cfg, ranks, model)
    gb = GraphBuilder(f"fsdd_lstm_{form}", weights="none")
    x = gb.input("features", (batch, cfg.frames, cfg.n_mels))
    last = _native(gb, x, w) if form == "native" else _unrolled(gb, x, w)
    logits = _linear(gb, last, w)
    g = gb.build([logits])
    g.metadata.update({"form": form, "ranks": dict(ranks)})
    g.validate()
    return g


def _linear(gb: GraphBuilder, x: str, w: _Weights) -> str:
    """FullyConnected with bias; a factorised fc first projects by V.T."""
    cfg = w.cfg
    facs = w.factors("fc")
    if len(facs) == 2:
        r = w.ranks["fc"]
        x = gb.matmul(x, gb.const("fc_vT", (cfg.hidden, r), None if facs[1] is None else facs[1].T), name="fc_v")
    u = facs[0]
    k = gb.shape(x)[1]
    wc = gb.const("fc_w", (cfg.classes, k), u)
    b = gb.const("fc_b", (cfg.classes,), w.bias("fc"))
    return gb.op("FullyConnected", [x, wc, b], name="fc")[0]


def _native(gb: GraphBuilder, x: str, w: _Weights) -> str:
    cfg, h = w.cfg, w.cfg.hidden
    x = gb.op("Transpose", [x], {"perm": [1, 0, 2]}, name="to_seq_major")[0]
    y_h = x
    for k in range(cfg.layers):
        name = f"lstm{k}.W"
        facs = w.factors(name)
        if len(facs) == 2:
            r = w.ranks[name]
            v = facs[1]
            x = gb.matmul(x, gb.const(f"lstm{k}_W_vT", (gb.shape(x)[2], r), None if v is None else v.T),
                          name=f"lstm{k}_W_v")
        in_w = facs[0]
        inp = gb.shape(x)[2]
        wc = gb.const(f"lstm{k}_W", (1, 4 * h, inp), None if in_w is None else _gate_rows(in_w, h)[None])
        rm = w.factors(f"lstm{k}.R")[0]
        rc = gb.const(f"lstm{k}_R", (1, 4 * h, h), None if rm is None else _gate_rows(rm, h)[None])
        b = w.bias(f"lstm{k}")
        bc = gb.const(f"lstm{k}_B", (1, 8 * h), None if b is None else
                      np.concatenate([_gate_rows(b[:4 * h], h), _gate_rows(b[4 * h:], h)])[None])
        y, y_h, _ = gb.op("LSTM", [x, wc, rc, bc], {"hidden_size": h, "direction": "forward"}, name=f"lstm{k}",
                          n_out=3)
        x = gb.op("Squeeze", [y], {"axes": [1]}, name=f"lstm{k}_squeeze")[0]
    return gb.op("Squeeze", [y_h], {"axes": [0]}, name="last_state")[0]


def _unrolled(gb: GraphBuilder, x: str, w: _Weights) -> str:
    cfg, h, steps = w.cfg, w.cfg.hidden, w.cfg.frames
    batch = gb.shape(x)[0]
    for k in range(cfg.layers):
        gx = _project(gb, x, w, f"lstm{k}.W")
        b = w.bias(f"lstm{k}")
        gx = gb.add(gx, gb.const(f"lstm{k}_b", (4 * h,), None if b is None else b[:4 * h] + b[4 * h:]),
                    name=f"lstm{k}_gx")
        per_step = gb.op("Split", [gx], {"axis": 1, "split": [1] * steps}, name=f"lstm{k}_steps", n_out=steps)
        rf, rs = w.factors(f"lstm{k}.R"), w.shapes(f"lstm{k}.R")
        rconsts = [gb.const(f"lstm{k}_R_{p}T", (c, r_), None if f is None else f.T)
                   for f, (r_, c), p in zip(rf[::-1], rs[::-1], ("vu" if len(rf) == 2 else "w"))]
        hs: list[str] = []
        hid = cell = None
        for t in range(steps):
            g = gb.reshape(per_step[t], (batch, 4 * h), name=f"l{k}t{t}_gx")
            if hid is not None:
                rec = hid
                for j, rc in enumerate(rconsts):
                    rec = gb.matmul(rec, rc, name=f"l{k}t{t}_rec{j}")
                g = gb.add(g, rec, name=f"l{k}t{t}_gates")
            i, f, gg, o = gb.op("Split", [g], {"axis": 1, "split": [h] * 4}, name=f"l{k}t{t}_split", n_out=4)
            i = gb.activation(i, "Sigmoid", name=f"l{k}t{t}_i")
            o = gb.activation(o, "Sigmoid", name=f"l{k}t{t}_o")
            gg = gb.activation(gg, "Tanh", name=f"l{k}t{t}_g")
            ig = gb.mul(i, gg, name=f"l{k}t{t}_ig")
            if cell is None:
                cell = ig
            else:
                f = gb.activation(f, "Sigmoid", name=f"l{k}t{t}_f")
                cell = gb.add(gb.mul(f, cell, name=f"l{k}t{t}_fc"), ig, name=f"l{k}t{t}_c")
            hid = gb.mul(o, gb.activation(cell, "Tanh", name=f"l{k}t{t}_tc"), name=f"l{k}t{t}_h")
            hs.append(hid)
        if k < cfg.layers - 1:
            ups = [gb.op("Unsqueeze", [s], {"axes": [1]}, name=f"l{k}t{t}_u")[0] for t, s in enumerate(hs)]
            x = gb.concat(ups, axis=1, name=f"lstm{k}_y")
        else:
            x = hid
    return x
