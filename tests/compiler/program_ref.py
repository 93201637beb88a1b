"""A compact reference executor of docs/isa.md, used by the compiler tests as an oracle for the lowering.

It follows the text of the spec literally (sequential semantics, bundle by bundle, DDR and stream buffer as byte
arrays) and is deliberately simple and slow. The project's functional simulator (simulator/) is the real
implementation; the property tests run against both when the simulator is present.
"""
from __future__ import annotations

import math

import numpy as np

from compiler.isa import Module
from compiler.lowering.formats import (bfp_quantize, blocked_shape, from_blocked, rshift_round, round_div, sat8,
                                       to_blocked, winograd_matrices)
from compiler.lowering.weights import act_reference
from compiler.program import Program


class Machine:
    def __init__(self, prog: Program):
        self.p = prog
        a = prog.arch
        self.arch = a
        self.cv = a.pe_array.c_vector
        self.eb = int(a.feature_bytes)
        self.int8 = a.precision == "int8"
        self.fdt = {"fp32": np.float32, "int8": np.int8}.get(a.precision, np.float16)
        self.rdt = np.int32 if self.int8 else np.float32
        end = max(base + size for base, size in prog.regions.values())
        self.ddr = np.zeros(end + 4096, dtype=np.uint8)
        if prog.weights:
            self.ddr[:len(prog.weights)] = np.frombuffer(prog.weights, dtype=np.uint8)
        self.entry_bytes = self.cv * self.eb
        self.sb = np.zeros(a.stream_buffer.depth * self.entry_bytes, dtype=np.uint8)
        self.cache: dict[int, tuple] = {}
        self.rawx = max(1, 4 // self.eb)

    # --- tensors in DDR -------------------------------------------------------------------------------------------
    def read_tensor(self, name: str) -> np.ndarray:
        a = self.p.memory[name]
        n, c, h, w = a.view
        cb = -(-c // self.cv)
        out = np.zeros((n, cb, h, w, self.cv), dtype=self.fdt)
        pn, pc, py = a.pitches
        for i in range(n):
            for b in range(cb):
                for y in range(h):
                    s = a.ddr + i * pn + b * pc + y * py
                    out[i, b, y] = self.ddr[s:s + w * self.entry_bytes].view(self.fdt).reshape(w, self.cv)
        x = from_blocked(out, a.shape).astype(np.float32)
        return x * np.float32(a.scale) if self.int8 else x

    def write_tensor(self, name: str, x: np.ndarray) -> None:
        a = self.p.memory[name]
        x = np.asarray(x, dtype=np.float32).reshape(a.shape)
        if self.int8:
            x = np.clip(np.rint(x / a.scale), -128, 127)
        blk = to_blocked(x.reshape(a.view), self.cv, dtype=self.fdt)
        n, cb, h, w, _ = blk.shape
        pn, pc, py = a.pitches
        for i in range(n):
            for b in range(cb):
                for y in range(h):
                    s = a.ddr + i * pn + b * pc + y * py
                    self.ddr[s:s + w * self.entry_bytes] = blk[i, b, y].view(np.uint8).ravel()

    # --- bundle ---------------------------------------------------------------------------------------------------
    def sb_tile(self, sb: int, n: int, cb: int, rows: int, width: int, raw: bool) -> np.ndarray:
        dt = self.rdt if raw else self.fdt
        per = self.cv * (4 if raw else self.eb)
        start = sb * self.entry_bytes
        count = n * cb * rows * width
        data = self.sb[start:start + count * per].view(dt).reshape(n, cb, rows, width, self.cv)
        return data.transpose(0, 1, 4, 2, 3).reshape(n, cb * self.cv, rows, width)

    def fread(self, f: dict) -> None:
        for d in ("r0", "r1"):
            if not f.get(f"{d}_en"):
                continue
            raw = f[f"{d}_raw"]
            e = 4 if raw else self.eb
            rowb = f[f"{d}_width"] * self.cv * e
            k = 0
            for i in range(f[f"{d}_n"]):
                for b in range(f[f"{d}_cb"]):
                    for y in range(f[f"{d}_rows"]):
                        s = f[f"{d}_ddr"] + i * f[f"{d}_pn"] + b * f[f"{d}_pc"] + y * f[f"{d}_py"]
                        dst = f[f"{d}_sb"] * self.entry_bytes + k * rowb
                        self.sb[dst:dst + rowb] = self.ddr[s:s + rowb]
                        k += 1

    def pe(self, b) -> np.ndarray:
        s, pe = b.fields("sbuf"), b.fields("pe")
        x = self.sb_tile(s["sb"], s["n"], s["cb"], s["rows"], s["width"], False)
        mode = pe["mode"]
        if mode == "bypass":
            return x[:, :pe["k"]].astype(np.int64 if self.int8 else np.float32)
        prec = self.arch.precision_info
        if prec.block_exponent:
            blk = x.reshape(x.shape[0], s["cb"], self.cv, s["rows"], s["width"]).astype(np.float32)
            blk = bfp_quantize(blk, prec.mantissa_bits, prec.exponent_bits, axis=2)
            x = blk.reshape(x.shape)
        x = x.astype(np.int64 if self.int8 else np.float64)
        xp = np.pad(x, ((0, 0), (0, 0), (s["pt"], s["pb"]), (s["pl"], s["pr"])))
        w, bias = self.cache[pe["bank"]]
        kh, kw, sy, sx, dy, dx, oh, ow = (s[k] for k in ("kh", "kw", "sy", "sx", "dy", "dx", "oh", "ow"))
        k = pe["k"]
        out = np.zeros((x.shape[0], k, oh, ow), dtype=np.int64 if self.int8 else np.float64)
        wf = w.astype(np.int64 if self.int8 else np.float64)
        for f in range(k):
            ko = pe["k_first"] + f
            grp = ko // pe["k_per_group"]
            if mode == "depthwise":
                t = grp * pe["c_per_group"] + pe["c_offset"] - s["c_first"]
                taps = wf[f // self.cv, :, f % self.cv].reshape(kh, kw)
                chans = xp[:, t:t + 1]
                filt = taps[None, None]
            else:
                cs = grp * pe["c_per_group"] + pe["c_offset"]
                t = cs - s["c_first"]
                cc = pe["c_count"]
                kwp = self.arch.pe_array.w_vector if pe["wino"] else kw
                cb = -(-cc // self.cv)
                filt = wf[f].reshape(cb, kh, kwp, self.cv).transpose(0, 3, 1, 2).reshape(cb * self.cv, kh, kwp)[:cc]
                filt = filt[None]
                chans = xp[:, t:t + cc]
            if mode != "depthwise" and pe["wino"]:
                out[:, f] = self._wino(chans, filt[0], kh, sy, dy, oh, ow)
            else:
                acc = 0
                for ky in range(kh):
                    for kx in range(kw):
                        win = chans[:, :, ky * dy:ky * dy + (oh - 1) * sy + 1:sy, kx * dx:kx * dx + (ow - 1) * sx + 1:sx]
                        acc = acc + np.einsum("ncyx,c->nyx", win, filt[0, :, ky, kx])
                out[:, f] = acc
            if pe["bias"]:
                out[:, f] += bias[f]
        if pe["psum_in"]:
            out += self.sb_tile(pe["psum_sb"], x.shape[0], -(-k // self.cv), oh, ow, True)[:, :k]
        if pe["psum_out"]:
            return out
        if self.int8:
            return sat8(rshift_round(out * pe["rq_mult"], pe["rq_shift"])).astype(np.int64)
        return out.astype(np.float32)

    def _wino(self, chans, filt, kh, sy, dy, oh, ow):
        q = self.arch.pe_array.q_vector
        AT, _, BT = winograd_matrices(q)
        a = q + 2
        groups = -(-ow // q)
        need = groups * q + 2
        if chans.shape[3] < need:
            chans = np.pad(chans, ((0, 0), (0, 0), (0, 0), (0, need - chans.shape[3])))
        out = np.zeros((chans.shape[0], oh, groups * q))
        for ky in range(kh):
            rows = chans[:, :, ky * dy:ky * dy + (oh - 1) * sy + 1:sy]
            for gi in range(groups):
                d = rows[..., gi * q:gi * q + a]
                v = d @ BT.T
                m = np.einsum("ncya,ca->nya", v, filt[:, ky, :])
                out[..., gi * q:(gi + 1) * q] += m @ AT.T
        return out[..., :ow]

    def aux(self, b, kind: str, x: np.ndarray) -> np.ndarray:
        if kind == "act":
            f = b.fields("act")
            if self.int8:
                if f["lut"]:
                    out = x.copy()
                    for which, fn in ((0, f["fn"]), (1, f["fn2"])):
                        base = f["lut_ddr"] + 256 * which
                        table = self.ddr[base:base + 256].view(np.int8).astype(np.int64)
                        sel = slice(0, f["split"]) if f["split"] and which == 0 else (
                            slice(f["split"], None) if f["split"] else slice(None))
                        if which == 1 and not f["split"]:
                            continue
                        out[:, sel] = table[x[:, sel] + 128]
                    return out
                return np.clip(x, f["lo"], f["hi"])
            y = x.copy()
            c = f["split"] if f["split"] else x.shape[1]
            y[:, :c] = act_reference(f["fn"], f["alpha"], f["beta"])(x[:, :c])
            if f["split"]:
                y[:, c:] = act_reference(f["fn2"], f["alpha"], f["beta"])(x[:, c:])
            return y.astype(np.float32)
        if kind == "pool":
            f = b.fields("pool")
            n, c, h, w = x.shape
            oh, ow = f["oh"], f["ow"]
            out = np.zeros((n, c, oh, ow), dtype=x.dtype)
            for oy in range(oh):
                for ox in range(ow):
                    y0, x0 = oy * f["sy"] - f["pt"], ox * f["sx"] - f["pl"]
                    ya, yb = max(y0, 0), min(y0 + f["kh"], h)
                    xa, xb = max(x0, 0), min(x0 + f["kw"], w)
                    win = x[:, :, ya:yb, xa:xb]
                    if f["type"] == "max":
                        out[:, :, oy, ox] = win.max(axis=(2, 3))
                    else:
                        if f["incl_pad"]:
                            cnt = (min(y0 + f["kh"], h + f["pb"]) - max(y0, -f["pt"])) * (
                                min(x0 + f["kw"], w + f["pr"]) - max(x0, -f["pl"]))
                        else:
                            cnt = (yb - ya) * (xb - xa)
                        ssum = win.sum(axis=(2, 3))
                        out[:, :, oy, ox] = round_div(ssum, cnt) if self.int8 else ssum / cnt
            return out
        if kind == "lrn":
            f = b.fields("lrn")
            xf = x * f["in_scale"] if self.int8 else x.astype(np.float64)
            c = x.shape[1]
            sq = np.zeros_like(xf, dtype=np.float64)
            lo, hi = (f["size"] - 1) // 2, -(-(f["size"] - 1) // 2)
            for ch in range(c):
                sq[:, ch] = (xf[:, max(0, ch - lo):min(c, ch + hi + 1)] ** 2).sum(axis=1)
            y = xf / (f["bias"] + f["alpha"] / f["size"] * sq) ** f["beta"]
            return sat8(np.rint(y / f["out_scale"])).astype(np.int64) if self.int8 else y.astype(np.float32)
        if kind == "elt":
            f = b.fields("elt")
            o = self.sb_tile(f["sb"], x.shape[0], -(-x.shape[1] // self.cv), x.shape[2], x.shape[3], False)
            o = o[:, :x.shape[1]].astype(np.int64 if self.int8 else np.float32)
            a, bb = (o, x) if f["swap"] else (x, o)
            if self.int8:
                if f["op"] == "mul":
                    return sat8(rshift_round(a * bb * f["ma"], f["shift"])).astype(np.int64)
                ma, mb = (f["mb"], f["ma"]) if f["swap"] else (f["ma"], f["mb"])
                r = a * ma + (bb * mb if f["op"] == "add" else -bb * mb)
                return sat8(rshift_round(r, f["shift"])).astype(np.int64)
            return {"add": a + bb, "sub": a - bb, "mul": a * bb}[f["op"]].astype(np.float32)
        if kind == "d2s":
            f = b.fields("d2s")
            bs = f["block"]
            n, c, h, w = x.shape
            if f["mode"] == "nearest":
                return x.repeat(bs, axis=2).repeat(bs, axis=3)
            if f["mode"] == "dcr":
                t = x.reshape(n, bs, bs, c // bs ** 2, h, w).transpose(0, 3, 4, 1, 5, 2)
            else:
                t = x.reshape(n, c // bs ** 2, bs, bs, h, w).transpose(0, 1, 4, 2, 5, 3)
            return t.reshape(n, c // bs ** 2, h * bs, w * bs)
        if kind == "smax":
            f = b.fields("smax")
            xf = x * f["in_scale"] if self.int8 else x.astype(np.float64)
            e = np.exp(xf - xf.max(axis=1, keepdims=True))
            y = e / e.sum(axis=1, keepdims=True)
            return sat8(np.rint(y / f["out_scale"])).astype(np.int64) if self.int8 else y.astype(np.float32)
        raise ValueError(kind)

    def fwrite(self, f: dict, x: np.ndarray) -> None:
        raw = f["raw"]
        dt = self.rdt if raw else self.fdt
        e = 4 if raw else self.eb
        n, c, h, w = f["n"], f["c"], f["rows"], f["width"]
        assert x.shape == (n, c, h, w), (x.shape, (n, c, h, w))
        cf = f["c_first"]
        nb = -(-(cf + c) // self.cv)
        vals = x.astype(dt)
        for i in range(n):
            for bk in range(nb):
                for y in range(h):
                    s = f["ddr"] + i * f["pn"] + bk * f["pc"] + y * f["py"]
                    row = self.ddr[s:s + w * self.cv * e].view(dt).reshape(w, self.cv).copy()
                    for lane in range(self.cv):
                        ch = bk * self.cv + lane - cf
                        if 0 <= ch < c:
                            row[:, lane] = vals[i, ch, y]
                        elif ch >= c and f["zfill"]:
                            row[:, lane] = 0
                    self.ddr[s:s + w * self.cv * e] = row.view(np.uint8).ravel()

    def run_bundle(self, b) -> None:
        if b.is_active("fread"):
            self.fread(b.fields("fread"))
        if b.is_active("wread"):
            f = b.fields("wread")
            from compiler.lowering.formats import ChunkShape, decode_chunk

            w, bias = decode_chunk(self.arch, bytes(self.ddr[f["ddr"]:f["ddr"] + f["bytes"]]),
                                   ChunkShape(f["filters"], f["entries"], f["nbias"]))
            self.cache[f["bank"]] = (w, bias)
        x = self.pe(b)
        if b.is_active("xbar"):
            xb = b.fields("xbar")
            for i in range(6):
                k = xb[f"s{i}"]
                if k == "end":
                    break
                x = self.aux(b, {"act": "act", "pool": "pool", "lrn": "lrn", "elt": "elt", "d2s": "d2s",
                                 "smax": "smax"}[k], x)
        fw = b.fields("fwrite")
        if fw["ddr_en"]:
            self.fwrite(fw, x)
        if fw["sb_en"]:
            self.sb_write(fw, x)

    def sb_write(self, f: dict, x: np.ndarray) -> None:
        """Tile layout ((n * cb + b) * rows + y) * width + x at entry `sb`, lanes of missing channels zero."""
        n, c, h, w = x.shape
        cb = -(-c // self.cv)
        full = np.zeros((n, cb * self.cv, h, w), dtype=self.rdt if f["raw"] else self.fdt)
        full[:, :c] = x
        blk = full.reshape(n, cb, self.cv, h, w).transpose(0, 1, 3, 4, 2)
        data = np.ascontiguousarray(blk).view(np.uint8).ravel()
        start = f["sb"] * self.entry_bytes
        self.sb[start:start + data.size] = data

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from compiler.frontend import run_onnxruntime

        for k, v in feeds.items():
            self.write_tensor(k, v)
        for kind, item in self.p.schedule():
            if kind == "bundle":
                self.run_bundle(item)
            else:
                ins = {t: self.read_tensor(t) for t in item.graph.inputs}
                res = run_onnxruntime(item.graph, ins)
                for t, v in res.items():
                    self.write_tensor(t, v)
        return {o: self.read_tensor(o) for o in self.p.outputs}


def run_program(prog: Program, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return Machine(prog).run(feeds)


_ = (math, blocked_shape)
