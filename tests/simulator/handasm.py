"""Hand assembly of small overlay programs for the ISA unit tests (no compiler involved).

`Asm` lays out a weights region (fixed capacity) followed by a features region, packs filter chunks with
`formats.encode_chunk`, and turns {module: fields} dicts into canonical bundles. `conv_chunk` / `dw_chunk`
arrange filters in the cache entry order of docs/isa.md section 4.
"""
from __future__ import annotations

import numpy as np

from compiler.isa import ISA, Module
from compiler.lowering.formats import encode_chunk, view_of, winograd_filters
from compiler.program import Bundle, BundleNote, HostPartition, Program, TensorAlloc

WEIGHTS_CAP = 1 << 20


class Asm:
    def __init__(self, arch):
        self.arch = arch
        self.cv = arch.pe_array.c_vector
        self.isa = ISA.for_arch(arch)
        self.weights = bytearray()
        self.memory: dict[str, TensorAlloc] = {}
        self.bundles: list[Bundle] = []
        self.host: list[HostPartition] = []
        self.feat = 0
        self.dtype = {"fp32": "fp32", "int8": "int8"}.get(arch.precision, "fp16")
        self.e = {"fp32": 4, "fp16": 2, "int8": 1}[self.dtype]

    # --- memory ---------------------------------------------------------------------------------------------
    def tensor(self, name: str, shape, role: str = "intermediate", scale: float = 1.0) -> TensorAlloc:
        n, c, h, w = view_of(tuple(shape))
        cb = -(-c // self.cv)
        nbytes = n * cb * h * w * self.cv * self.e
        a = TensorAlloc(name, role, tuple(shape), (n, c, h, w), self.dtype, WEIGHTS_CAP + self.feat, nbytes,
                        scale=scale, pitches=(cb * h * w * self.cv * self.e, h * w * self.cv * self.e,
                                              w * self.cv * self.e))
        self.feat += -(-nbytes // 64) * 64
        self.memory[name] = a
        return a

    def chunk(self, w: np.ndarray, bias: np.ndarray | None) -> tuple[int, int]:
        data = encode_chunk(self.arch, w, bias)
        addr = len(self.weights)
        self.weights += data
        assert len(self.weights) <= WEIGHTS_CAP
        return addr, len(data)

    def raw_bytes(self, data: bytes) -> int:
        addr = len(self.weights)
        self.weights += data
        self.weights += bytes(-len(self.weights) % self.arch.ddr.word_bytes)
        return addr

    # --- bundles ------------------------------------------------------------------------------------------------
    def bundle(self, cfg: dict, name: str = "", kind: str = "", nodes=()) -> Bundle:
        cfg = {Module(m) if not isinstance(m, str) else m: dict(v) for m, v in cfg.items()}
        cfg.setdefault(Module.CFG, {})
        cfg[Module.CFG] = dict(cfg[Module.CFG], seq=len(self.bundles))
        b = Bundle(self.isa.canonical(cfg), BundleNote(name or f"b{len(self.bundles)}", kind, tuple(nodes)))
        self.bundles.append(b)
        return b

    def read(self, a: TensorAlloc, sb: int = 0, d: str = "r0") -> dict:
        n, c, h, w = a.view
        pn, pc, py = a.pitches
        return {f"{d}_en": 1, f"{d}_ddr": a.ddr, f"{d}_pn": pn, f"{d}_pc": pc, f"{d}_py": py, f"{d}_n": n,
                f"{d}_cb": -(-c // self.cv), f"{d}_rows": h, f"{d}_width": w, f"{d}_sb": sb}

    def write(self, a: TensorAlloc, c_first: int = 0, channels: int | None = None, ddr: int | None = None) -> dict:
        n, c, h, w = a.view
        pn, pc, py = a.pitches
        return {"ddr_en": 1, "ddr": a.ddr if ddr is None else ddr, "pn": pn, "pc": pc, "py": py, "n": n,
                "c": c if channels is None else channels, "c_first": c_first, "rows": h, "width": w}

    def tile(self, a: TensorAlloc, sb: int = 0, **win) -> dict:
        n, c, h, w = a.view
        out = {"sb": sb, "n": n, "cb": -(-c // self.cv), "c_first": 0, "rows": h, "width": w, "kh": 1, "kw": 1,
               "sy": 1, "sx": 1, "dy": 1, "dx": 1, "oh": h, "ow": w}
        out.update(win)
        return out

    def build(self, inputs, outputs, finish: bool = True) -> Program:
        if finish and self.bundles:
            self.bundles[-1].config[Module.CFG]["last"] = 1
        weights = bytes(self.weights) + bytes(WEIGHTS_CAP - len(self.weights))
        feat = max(self.feat, 64)
        return Program(self.arch, self.bundles, self.memory, list(inputs), list(outputs), weights, WEIGHTS_CAP,
                       {"weights": (0, WEIGHTS_CAP), "features": (WEIGHTS_CAP, feat),
                        "config": (WEIGHTS_CAP + feat, 64)}, self.host, {})


def conv_chunk(w: np.ndarray, cv: int, q: int | None = None) -> np.ndarray:
    """(K, Cg, kh, kw) filters -> (K, ceil(Cg/cv) * kh * kw', cv) cache entries; Winograd-transformed when q."""
    if q:
        w = winograd_filters(w, q)
    k, c, kh, kw = w.shape
    cb = -(-c // cv)
    p = np.zeros((k, cb * cv, kh, kw), dtype=np.float64 if w.dtype != np.int8 else np.int8)
    p[:, :c] = w
    return p.reshape(k, cb, cv, kh, kw).transpose(0, 1, 3, 4, 2).reshape(k, cb * kh * kw, cv)


def dw_chunk(w: np.ndarray, cv: int) -> np.ndarray:
    """(K, 1, kh, kw) depthwise filters -> (ceil(K/cv), kh * kw, cv)."""
    k, _, kh, kw = w.shape
    blocks = -(-k // cv)
    p = np.zeros((blocks * cv, kh * kw), dtype=w.dtype)
    p[:k] = w.reshape(k, kh * kw)
    return p.reshape(blocks, cv, kh * kw).transpose(0, 2, 1)
