"""Functional simulator: the executable form of the instruction set (docs/isa.md sections 3-5).

One handler per kernel (`@impl(Module.X)`) updates the explicit machine state (`simulator.machine.Machine`:
DDR image, stream buffer, filter/bias caches) or the bundle's stream. A bundle runs in the order of
docs/isa.md section 3: feature reader, filter reader, stream buffer + PE array, the auxiliary kernels in
crossbar order, feature writer. Host partitions run on onnxruntime between bundles, reading and writing their
tensors in the DDR image.

    from simulator.functional import FunctionalSimulator
    sim = FunctionalSimulator(program)
    outputs = sim.run({"x": x})          # {output name: float32 array}
    sim.read_tensor("conv1")             # any DDR-resident tensor of the memory map after the run

Every address is bounds-checked and every ISA rule the hardware relies on is checked; a violation raises
`SimulationError` (a `ProgramError`) that names the bundle, the kernel and the field.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from compiler.errors import UserError
from compiler.isa import AUX_ARCH_NAME, AUX_KERNELS, MODULE_BY_NAME, MODULE_NAMES, XBAR_SLOTS, Module
from compiler.lowering.formats import ChunkShape, decode_chunk, rshift_round, sat8
from simulator import numerics as K
from simulator.machine import CacheHalf, Machine, SimulationError
from simulator.precision import dequantize_requantize, pe_operand, requantize, store_features


@dataclass
class Step:
    """Execution context of one bundle."""

    machine: Machine
    bundle: object                      # compiler.program.Bundle
    where: str
    sim: "FunctionalSimulator"
    tile: np.ndarray | None = None      # input tile (n, cb, rows, width, cv), feature format
    stream: np.ndarray | None = None    # (n, c, h, w): float32 (float modes), int8 codes, or raw accumulators
    raw: bool = False

    def f(self, module: Module) -> dict:
        return self.bundle.fields(module)

    def fail(self, module: Module, msg: str) -> SimulationError:
        return SimulationError(f"{self.where} {MODULE_NAMES[module]}: {msg}")


Handler = Callable[[Step], None]
HANDLERS: dict[Module, Handler] = {}


def impl(module: Module) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        HANDLERS[module] = fn
        return fn

    return deco


# --- feature reader -----------------------------------------------------------------------------------------------
@impl(Module.FEATURE_READER)
def _fread(s: Step) -> None:
    f = s.f(Module.FEATURE_READER)
    m = s.machine
    for d in ("r0", "r1"):
        if not f[f"{d}_en"]:
            continue
        e = 4 if f[f"{d}_raw"] else m.fdtype.itemsize
        n, cb, rows, width = f[f"{d}_n"], f[f"{d}_cb"], f[f"{d}_rows"], f[f"{d}_width"]
        row = width * m.cv * e
        where = f"{s.where} fread.{d}"
        src = m.ddr_block(f[f"{d}_ddr"], (n, cb, rows, row), (f[f"{d}_pn"], f[f"{d}_pc"], f[f"{d}_py"], 1), where)
        dst = m.sb_bytes(f[f"{d}_sb"], n * cb * rows * row, where)
        dst.reshape(n, cb, rows, row)[...] = src


# --- filter reader -------------------------------------------------------------------------------------------------
@impl(Module.FILTER_READER)
def _wread(s: Step) -> None:
    f = s.f(Module.FILTER_READER)
    if not f["en"]:
        return
    arch, m = s.machine.arch, s.machine
    halves = 2 if arch.filter_cache.double_buffered else 1
    bank = f["bank"]
    if bank >= halves:
        raise s.fail(Module.FILTER_READER, f"bank = {bank} but the filter cache is not double buffered")
    kv = arch.pe_array.k_vector
    per_pe = -(-f["filters"] // kv) * f["entries"]
    depth = arch.filter_cache.depth // halves
    if per_pe > depth:
        raise s.fail(Module.FILTER_READER, f"{f['filters']} filters x {f['entries']} entries need {per_pe} entries "
                                           f"per PE; a filter-cache half holds {depth} (filter_cache.depth)")
    if -(-f["nbias"] // kv) > arch.filter_cache.bias_depth // halves:
        raise s.fail(Module.FILTER_READER, f"nbias = {f['nbias']} exceeds the bias cache "
                                           f"({arch.filter_cache.bias_depth // halves} per PE per half)")
    s.machine.cache[bank] = CacheHalf(*s.sim.chunk(m, f, s.where), s.bundle.index)


# --- stream buffer (window walker) and PE array --------------------------------------------------------------------
@impl(Module.STREAM_BUFFER)
def _sbuf(s: Step) -> None:
    g = s.f(Module.STREAM_BUFFER)
    if g["c_first"] % s.machine.cv:
        raise s.fail(Module.STREAM_BUFFER, f"c_first = {g['c_first']} is not a multiple of c_vector")
    s.tile = s.machine.sb_tile(g["sb"], g["n"], g["cb"], g["rows"], g["width"], f"{s.where} sbuf")


def _padded(blocked: np.ndarray, pt: int, pb: int, pl: int, pr: int, dtype) -> np.ndarray:
    """(n, cb, rows, width, cv) -> zero-padded logical (n, cb * cv, pt + rows + pb, pl + width + pr), one copy."""
    n, cb, h, w, cv = blocked.shape
    out = np.empty((n, cb * cv, pt + h + pb, pl + w + pr), dtype=dtype)
    out.reshape(n, cb, cv, pt + h + pb, pl + w + pr)[:, :, :, pt:pt + h, pl:pl + w] = blocked.transpose(0, 1, 4, 2, 3)
    if pt or pb or pl or pr:                 # zero only the border, not the whole array
        out[:, :, :pt] = 0
        out[:, :, pt + h:] = 0
        out[:, :, pt:pt + h, :pl] = 0
        out[:, :, pt:pt + h, pl + w:] = 0
    return out


def _logical(blocked: np.ndarray) -> np.ndarray:
    """(n, cb, rows, width, cv) -> (n, cb * cv, rows, width)."""
    n, cb, h, w, cv = blocked.shape
    return blocked.transpose(0, 1, 4, 2, 3).reshape(n, cb * cv, h, w)


@impl(Module.PE_ARRAY)
def _pe(s: Step) -> None:
    p = s.f(Module.PE_ARRAY)
    if s.tile is None:
        raise s.fail(Module.PE_ARRAY, "the stream buffer (sbuf) is not active in this bundle")
    arch = s.machine.arch
    integer = arch.precision_info.integer
    g = s.f(Module.STREAM_BUFFER)
    _check_cols(s, p, g)
    if p["mode"] == "bypass":
        x = _logical(s.tile)
        if p["k"] > x.shape[1]:
            raise s.fail(Module.PE_ARRAY, f"bypass k = {p['k']} exceeds the tile's {x.shape[1]} channels")
        x = x[:, :p["k"]]
        s.stream = np.ascontiguousarray(x) if integer else x.astype(np.float32)
        s.raw = False
        return
    half = s.machine.cache[p["bank"]]
    if half is None:
        raise s.fail(Module.PE_ARRAY, f"reads filter-cache half {p['bank']}, which no earlier bundle loaded")
    k = p["k"]
    kh, kw, sy, sx, dy, dx = g["kh"], g["kw"], g["sy"], g["sx"], g["dy"], g["dx"]
    pt, pb, pl, pr, oh, ow = g["pt"], g["pb"], g["pl"], g["pr"], g["oh"], g["ow"]
    rows_need = (oh - 1) * sy + (kh - 1) * dy + 1
    cols_need = (ow - 1) * sx + (kw - 1) * dx + 1
    if rows_need > pt + g["rows"] + pb or (not p["wino"] and cols_need > pl + g["width"] + pr):
        raise s.fail(Module.STREAM_BUFFER, f"{oh}x{ow} outputs of a {kh}x{kw} window (stride {sy},{sx}, dilation "
                                           f"{dy},{dx}) need {rows_need}x{cols_need} padded inputs; the tile has "
                                           f"{pt + g['rows'] + pb}x{pl + g['width'] + pr}")
    acc_t = s.sim.accumulator
    xp = _padded(pe_operand(arch, s.tile), pt, pb, pl, pr, acc_t)  # (n, C_tile, pt + rows + pb, pl + width + pr)
    c_tile = s.tile.shape[1] * s.tile.shape[4]
    if p["mode"] == "conv":
        out = _conv(s, p, half, xp, c_tile, acc_t)
    else:
        out = _depthwise(s, p, half, xp, c_tile, acc_t)
    if p["bias"]:
        if half.bias is None or half.bias.size < k:
            raise s.fail(Module.PE_ARRAY, f"bias = 1 needs {k} cached biases, bank {p['bank']} holds "
                                          f"{0 if half.bias is None else half.bias.size}")
        bias = half.bias[:k].astype(acc_t)[None, :, None, None]
        if integer or p["psum_in"] or acc_t is np.float32:
            out += bias
        else:                                # float64 sums: add the bias and round to fp32 in one pass
            out = np.add(out, bias, out=np.empty(out.shape, np.float32), casting="same_kind")
    if p["psum_in"]:
        cv = s.machine.cv
        psum = s.machine.sb_tile(p["psum_sb"], g["n"], -(-k // cv), oh, ow, f"{s.where} pe.psum_sb", raw=True)
        out += _logical(psum)[:, :k].astype(acc_t)
    s.raw = bool(p["psum_out"])
    if integer:
        acc = np.rint(out).astype(np.int64)
        if np.abs(acc).max(initial=0) >= 2 ** 31:
            raise s.fail(Module.PE_ARRAY, "int32 accumulator overflow")
        s.stream = acc.astype(np.int32) if s.raw else requantize(acc, p["rq_mult"], p["rq_shift"])
    else:
        s.stream = out.astype(np.float32, copy=False)


def _check_cols(s: Step, p: dict, g: dict) -> None:
    """`pe.cols` (Winograd architectures) changes which outputs a pass of the multiplier columns computes, not
    the values: check that the mapping exists for this bundle (docs/isa.md section 4)."""
    cols = p.get("cols", "tile")
    if cols == "tile":
        return
    if p["mode"] == "bypass" or p["wino"]:
        raise s.fail(Module.PE_ARRAY, f"cols = {cols} needs a direct convolution (mode conv/depthwise, wino = 0)")
    if cols == "wide" and g["sx"] != 1:
        raise s.fail(Module.PE_ARRAY, f"cols = wide needs horizontal stride 1 (sbuf.sx = {g['sx']})")
    if cols == "images" and (p["mode"] != "conv" or g["ow"] != 1):
        raise s.fail(Module.PE_ARRAY, f"cols = images needs mode conv and one output column (sbuf.ow = {g['ow']})")


def _conv(s: Step, p: dict, half: CacheHalf, xp: np.ndarray, c_tile: int, acc_t: type) -> np.ndarray:
    arch = s.machine.arch
    cv = s.machine.cv
    g = s.f(Module.STREAM_BUFFER)
    k, kh, kw = p["k"], g["kh"], g["kw"]
    wino = bool(p["wino"])
    if wino:
        if not arch.pe_array.winograd:
            raise s.fail(Module.PE_ARRAY, "wino = 1 but the architecture has no Winograd PE array")
        if kw != 3 or g["sx"] != 1 or g["dx"] != 1:
            raise s.fail(Module.PE_ARRAY, f"wino = 1 needs kw = 3, sx = 1, dx = 1 (got {kw}, {g['sx']}, {g['dx']})")
        if arch.precision_info.integer:
            raise s.fail(Module.PE_ARRAY, "wino = 1 is not defined for int8")
    kw2 = arch.pe_array.w_vector if wino else kw
    c_count = p["c_count"]
    cbf = -(-c_count // cv)
    entries = cbf * kh * kw2
    wts = half.weights
    if wts.shape[0] < k or wts.shape[1] != entries:
        raise s.fail(Module.PE_ARRAY, f"{k} filters of {entries} entries (c_count {c_count}, {kh}x{kw2} taps) do not "
                                      f"match the cached chunk of {wts.shape[0]} filters x {wts.shape[1]} entries")
    w = s.sim.filter_matrix(wts, k, cbf, kh, kw2, c_count, np.float32 if wino else acc_t)
    if p["k_per_group"] <= 0:
        raise s.fail(Module.PE_ARRAY, "k_per_group = 0")
    kf, kpg = p["k_first"], p["k_per_group"]
    groups = range(kf // kpg, (kf + k - 1) // kpg + 1)       # the groups of output channels kf .. kf + k - 1
    out = None if len(groups) == 1 else np.empty((xp.shape[0], k, g["oh"], g["ow"]), dtype=acc_t)
    for gi in groups:
        f0, f1 = max(gi * kpg, kf) - kf, min((gi + 1) * kpg, kf + k) - kf
        t0 = gi * p["c_per_group"] + p["c_offset"] - g["c_first"]
        if t0 < 0 or t0 + c_count > c_tile:
            raise s.fail(Module.PE_ARRAY, f"filters {f0}..{f1 - 1} read input channels {t0 + g['c_first']}.."
                                          f"{t0 + g['c_first'] + c_count - 1}, outside the tile's channels "
                                          f"{g['c_first']}..{g['c_first'] + c_tile - 1}")
        xs = xp[:, t0:t0 + c_count]
        wg = w[f0:f1]
        same = s.sim.duplicate_filters(w, f0, f1) if acc_t is np.float32 else None
        if same is not None:                 # each distinct filter once, then copied to its duplicates
            wg = wg[same[0]]
        if wino:
            r = K.conv2d_winograd(xs, wg, arch.pe_array.q_vector, g["sy"], g["dy"], g["oh"], g["ow"])
        else:
            r = K.conv2d(xs, wg, g["sy"], g["sx"], g["dy"], g["dx"], g["oh"], g["ow"], acc_t)
        if same is not None:
            r = r[:, same[1]]
        if out is None:                      # one group: the product is the bundle's output (no copy)
            return r.astype(acc_t, copy=False)
        out[:, f0:f1] = r
    return out


def _depthwise(s: Step, p: dict, half: CacheHalf, xp: np.ndarray, c_tile: int, acc_t: type) -> np.ndarray:
    cv = s.machine.cv
    g = s.f(Module.STREAM_BUFFER)
    k, kh, kw = p["k"], g["kh"], g["kw"]
    wts = half.weights
    blocks = -(-k // cv)
    if wts.shape[0] < blocks or wts.shape[1] != kh * kw:
        raise s.fail(Module.PE_ARRAY, f"depthwise: {blocks} channel blocks of {kh * kw} taps do not match the cached "
                                      f"chunk of {wts.shape[0]} x {wts.shape[1]} entries")
    w = wts[:blocks].transpose(0, 2, 1).reshape(blocks * cv, kh, kw)[:k]
    if p["k_per_group"] <= 0:
        raise s.fail(Module.PE_ARRAY, "k_per_group = 0")
    ko = p["k_first"] + np.arange(k)
    t = (ko // p["k_per_group"]) * p["c_per_group"] + p["c_offset"] - g["c_first"]
    if t.min() < 0 or t.max() >= c_tile:
        raise s.fail(Module.PE_ARRAY, f"depthwise filters read tile channels {int(t.min())}..{int(t.max())}, "
                                      f"outside 0..{c_tile - 1}")
    return K.depthwise(xp[:, t], w, g["sy"], g["sx"], g["dy"], g["dx"], g["oh"], g["ow"], acc_t)


# --- crossbar and auxiliary kernels ------------------------------------------------------------------------------
@impl(Module.XBAR)
def _xbar(s: Step) -> None:
    f = s.f(Module.XBAR)
    chain: list[Module] = []
    for i in range(XBAR_SLOTS):
        code = f[f"s{i}"]
        if code == "end":
            break
        mod = MODULE_BY_NAME[code]
        if mod in chain:
            raise s.fail(Module.XBAR, f"kernel {code} appears twice in the chain")
        if not s.bundle.is_active(mod):
            raise s.fail(Module.XBAR, f"slot s{i} = {code} but kernel {code} is not active in this bundle")
        chain.append(mod)
    if chain and s.raw:
        raise s.fail(Module.XBAR, "pe.psum_out = 1 emits raw partial sums; the aux chain must be empty")
    if chain and s.stream is None:
        raise s.fail(Module.XBAR, "the aux chain has no stream (the PE array is not active)")
    for mod in chain:
        HANDLERS[mod](s)


@impl(Module.ACTIVATION)
def _act(s: Step) -> None:
    f = s.f(Module.ACTIVATION)
    x = s.stream
    if s.machine.arch.precision_info.integer:
        if f["lut"]:
            tables = s.machine.ddr_bytes(f["lut_ddr"], 512 if f["split"] else 256, f"{s.where} act.lut_ddr")
            t = tables.view(np.int8)
            idx = x.astype(np.int16) + 128
            if f["split"]:
                c = np.arange(x.shape[1])[None, :, None, None]
                s.stream = np.where(c < f["split"], t[idx], t[256 + idx]).astype(np.int8)
            else:
                s.stream = t[idx].astype(np.int8)
        else:
            s.stream = np.clip(x, f["lo"], f["hi"]).astype(np.int8)
        return
    if f["split"]:
        sp = f["split"]
        out = np.empty_like(x)
        out[:, :sp] = K.activation(x[:, :sp], f["fn"], f["alpha"], f["beta"])
        out[:, sp:] = K.activation(x[:, sp:], f["fn2"], f["alpha"], f["beta"])
        s.stream = out
    else:
        s.stream = K.activation(x, f["fn"], f["alpha"], f["beta"], inplace=True).astype(np.float32, copy=False)


@impl(Module.POOL)
def _pool(s: Step) -> None:
    f = s.f(Module.POOL)
    integer = s.machine.arch.precision_info.integer
    n, c, h, w = s.stream.shape
    if min(f["oh"], f["ow"]) <= 0:
        raise s.fail(Module.POOL, f"output {f['oh']}x{f['ow']} is empty")
    for name, start_max in (("rows", (f["oh"] - 1) * f["sy"] - f["pt"]), ("columns", (f["ow"] - 1) * f["sx"] - f["pl"])):
        if start_max >= (h if name == "rows" else w) + (f["pb"] if name == "rows" else f["pr"]):
            raise s.fail(Module.POOL, f"the last window starts past the padded input {name}")
    s.stream = K.pool(s.stream, f["type"], f["kh"], f["kw"], f["sy"], f["sx"], f["pt"], f["pb"], f["pl"], f["pr"],
                      f["oh"], f["ow"], bool(f["incl_pad"]), integer)


@impl(Module.LRN)
def _lrn(s: Step) -> None:
    f = s.f(Module.LRN)

    def fn(x: np.ndarray) -> np.ndarray:
        return K.lrn(x, f["size"], f["alpha"], f["beta"], f["bias"])

    if s.machine.arch.precision_info.integer:
        s.stream = dequantize_requantize(s.stream, f["in_scale"], f["out_scale"], fn)
    else:
        s.stream = fn(s.stream)


@impl(Module.ELTWISE)
def _elt(s: Step) -> None:
    f = s.f(Module.ELTWISE)
    m = s.machine
    n, c, h, w = s.stream.shape
    b = _logical(m.sb_tile(f["sb"], n, -(-c // m.cv), h, w, f"{s.where} elt.sb"))[:, :c]
    x = s.stream
    op = f["op"]
    if m.arch.precision_info.integer:
        xa, ba = x.astype(np.int64) * f["ma"], b.astype(np.int64) * f["mb"]
        if op == "mul":
            r = x.astype(np.int64) * b.astype(np.int64) * f["ma"]
        elif op == "add":
            r = xa + ba
        else:
            r = ba - xa if f["swap"] else xa - ba
        s.stream = sat8(rshift_round(r, f["shift"]))
        return
    ufunc = {"add": np.add, "sub": np.subtract, "mul": np.multiply}[op]
    if x.dtype == np.float32 and x.flags.writeable:      # the stream is this bundle's own array: update in place
        s.stream = ufunc(b, x, out=x) if f["swap"] else ufunc(x, b, out=x)
    else:
        bf = b.astype(np.float32)
        s.stream = (ufunc(bf, x) if f["swap"] else ufunc(x, bf)).astype(np.float32)


@impl(Module.DEPTH_TO_SPACE)
def _d2s(s: Step) -> None:
    f = s.f(Module.DEPTH_TO_SPACE)
    blk, c = f["block"], s.stream.shape[1]
    if f["mode"] != "nearest" and c % (blk * blk):
        raise s.fail(Module.DEPTH_TO_SPACE, f"{c} channels are not divisible by block^2 = {blk * blk}")
    s.stream = K.depth_to_space(s.stream, f["mode"], blk)


@impl(Module.SOFTMAX)
def _smax(s: Step) -> None:
    f = s.f(Module.SOFTMAX)
    if s.machine.arch.precision_info.integer:
        s.stream = dequantize_requantize(s.stream, f["in_scale"], f["out_scale"], K.softmax_channels)
    else:
        s.stream = K.softmax_channels(s.stream)


# --- feature writer ------------------------------------------------------------------------------------------------
@impl(Module.FEATURE_WRITER)
def _fwrite(s: Step) -> None:
    f = s.f(Module.FEATURE_WRITER)
    m = s.machine
    if s.stream is None:
        raise s.fail(Module.FEATURE_WRITER, "no stream to write (the PE array is not active)")
    want = (f["n"], f["c"], f["rows"], f["width"])
    if tuple(s.stream.shape) != want:
        raise s.fail(Module.FEATURE_WRITER, f"the stream is {list(s.stream.shape)} (n, c, rows, width) but the writer "
                                            f"expects {list(want)}")
    if bool(f["raw"]) != s.raw:
        what = "raw partial sums" if s.raw else "features"
        raise s.fail(Module.FEATURE_WRITER, f"raw = {f['raw']} but the stream carries {what}")
    vals = s.stream.astype(m.rdtype, copy=False) if s.raw else store_features(m.arch, s.stream)
    cv = m.cv
    n, c, rows, width = want
    cf = f["c_first"]
    e = vals.dtype.itemsize
    if f["ddr_en"]:
        blocks = -(-(cf + c) // cv)
        dst = m.ddr_block(f["ddr"], (n, blocks, rows, width * cv * e), (f["pn"], f["pc"], f["py"], 1),
                          f"{s.where} fwrite")
        m.note_write(f["ddr"], f["ddr"] + (n - 1) * f["pn"] + (blocks - 1) * f["pc"] + (rows - 1) * f["py"]
                     + width * cv * e)
        if m.weights_dirty:
            s.sim.forget_chunks()
        _write_lanes(dst, vals, cf, bool(f["zfill"]), cv)
    if f["sb_en"]:
        if cf:
            raise s.fail(Module.FEATURE_WRITER, f"sb_en = 1 needs c_first = 0, got {cf}")
        blocks = -(-c // cv)
        dst = m.sb_bytes(f["sb"], n * blocks * rows * width * cv * e, f"{s.where} fwrite.sb")
        dst = dst.reshape(n, blocks, rows, width * cv * e)
        _write_lanes(dst, vals, 0, bool(f["zfill"]), cv)


def _write_lanes(dst: np.ndarray, vals: np.ndarray, cf: int, zfill: bool, cv: int) -> None:
    """Write `vals` (n, c, rows, width) into channels [cf, cf + c) of the destination blocks `dst` (uint8 view
    (n, blocks, rows, width * cv * e) of DDR or the stream buffer); other lanes keep their contents, except the
    lanes after the last channel, which become zero with `zfill` (masked writes, docs/isa.md section 5.7).
    Block-aligned writes (cf a multiple of c_vector, the usual case) go straight into the destination with one
    strided copy; others merge through `_merge_lanes`."""
    n, c, rows, width = vals.shape
    tiles = None
    if cf % cv == 0:
        try:
            tiles = dst.view(vals.dtype).reshape(n, dst.shape[1], rows, width, cv)
        except ValueError:
            tiles = None
        if tiles is not None and not np.shares_memory(tiles, dst):
            tiles = None
    if tiles is None:
        dst[...] = _merge_lanes(dst, vals, cf, zfill, cv)
        return
    b0, whole, rem = cf // cv, c // cv, c % cv
    if whole:
        tiles[:, b0:b0 + whole] = vals[:, :whole * cv].reshape(n, whole, cv, rows, width).transpose(0, 1, 3, 4, 2)
    if rem:
        tiles[:, b0 + whole, :, :, :rem] = vals[:, whole * cv:].transpose(0, 2, 3, 1)
        if zfill:
            tiles[:, b0 + whole, :, :, rem:] = 0


def _merge_lanes(dst: np.ndarray, vals: np.ndarray, cf: int, zfill: bool, cv: int) -> np.ndarray:
    """Bytes (n, blocks, rows, width * cv * e) of the destination blocks with channels [cf, cf + c) replaced by
    `vals` (n, c, rows, width); other lanes keep their contents, except the lanes after the last channel, which
    become zero with `zfill` (masked writes, docs/isa.md section 5.7)."""
    n, c, rows, width = vals.shape
    blocks = dst.shape[1]
    if cf == 0 and (zfill or c == blocks * cv):        # every lane is written: no need to read the old contents
        full = np.zeros((n, blocks * cv, rows, width), dtype=vals.dtype)
    else:
        cur = np.ascontiguousarray(dst).view(vals.dtype).reshape(n, blocks, rows, width, cv)
        full = cur.transpose(0, 1, 4, 2, 3).reshape(n, blocks * cv, rows, width).copy()
    full[:, cf:cf + c] = vals
    if zfill:
        full[:, cf + c:] = 0
    tiles = np.ascontiguousarray(full.reshape(n, blocks, cv, rows, width).transpose(0, 1, 3, 4, 2))
    return tiles.view(np.uint8).reshape(dst.shape)


BUNDLE_ORDER = (Module.FEATURE_READER, Module.FILTER_READER, Module.STREAM_BUFFER, Module.PE_ARRAY, Module.XBAR,
                Module.FEATURE_WRITER)


# --- tensors in DDR --------------------------------------------------------------------------------------------------
_DTYPES = {"fp32": np.float32, "fp16": np.float16, "int8": np.int8}


def _tensor_block(m: Machine, a, where: str) -> tuple[np.ndarray, int, np.dtype]:
    """Strided uint8 view (n, blocks, h, w*cv*e) of a tensor's DDR buffer, its first lane, its element type."""
    if a.ddr < 0:
        raise SimulationError(f"{where}: tensor '{a.name}' is not in DDR (stream-buffer resident)")
    dt = np.dtype(_DTYPES[a.dtype])
    cv, e = m.cv, dt.itemsize
    n, c, h, w = a.view
    lane0 = a.channel_offset % cv if a.alias_of else 0
    blocks = -(-(lane0 + c) // cv)
    pn, pc, py = a.pitches if any(a.pitches) else (-(-c // cv) * h * w * cv * e, h * w * cv * e, w * cv * e)
    return m.ddr_block(a.ddr, (n, blocks, h, w * cv * e), (pn, pc, py, 1), where), lane0, dt


def read_tensor(m: Machine, program, name: str) -> np.ndarray:
    """A memory-map tensor from the DDR image as float32 (int8 codes dequantised with the tensor's scale)."""
    a = program.memory[name]
    raw, lane0, dt = _tensor_block(m, a, f"reading tensor '{name}'")
    n, c, h, w = a.view
    blocks = np.ascontiguousarray(raw).view(dt).reshape(n, raw.shape[1], h, w, m.cv)
    x = _logical(blocks)[:, lane0:lane0 + c].reshape(a.shape).astype(np.float32)
    return x * np.float32(a.scale) if a.dtype == "int8" else x


def write_tensor(m: Machine, program, name: str, x: np.ndarray) -> None:
    """Store a logical array into a memory-map tensor's DDR buffer (quantised with its scale when int8)."""
    a = program.memory[name]
    x = np.asarray(x)
    if tuple(x.shape) != tuple(a.shape):
        raise UserError(f"input '{name}' must have shape {list(a.shape)}, got {list(x.shape)}")
    raw, lane0, dt = _tensor_block(m, a, f"writing tensor '{name}'")
    n, c, h, w = a.view
    v = x.reshape(n, c, h, w)
    if a.dtype == "int8":
        v = np.clip(np.rint(v / a.scale), -128, 127)
    blocks = np.ascontiguousarray(raw).view(dt).reshape(n, raw.shape[1], h, w, m.cv).copy()
    full = _logical(blocks).copy()
    full[:, lane0:lane0 + c] = v.astype(dt)
    if not a.alias_of:
        full[:, c:] = 0
    nb = raw.shape[1]
    tiles = np.ascontiguousarray(full.reshape(n, nb, m.cv, h, w).transpose(0, 1, 3, 4, 2))
    st = raw.strides
    m.note_write(a.ddr, a.ddr + (n - 1) * st[0] + (nb - 1) * st[1] + (h - 1) * st[2] + raw.shape[3])
    raw[...] = tiles.view(np.uint8).reshape(raw.shape)


# --- the simulator -------------------------------------------------------------------------------------------------
@dataclass
class RunStats:
    bundles: int = 0
    host_partitions: int = 0
    seconds: float = 0.0
    host_seconds: float = 0.0


@dataclass
class FunctionalSimulator:
    """Runs a `compiler.program.Program` bundle by bundle. Decoded filter chunks of the weights region and
    onnxruntime sessions of host partitions are kept between runs (both are immutable)."""

    program: object
    threads: int | None = 1
    accumulate: str | None = None
    machine: Machine | None = None
    stats: RunStats = field(default_factory=RunStats)
    _chunks: dict = field(default_factory=dict)
    _mats: dict = field(default_factory=dict)
    _mat_bytes: int = 0
    _kept: dict = field(default_factory=dict)          # id -> filter matrix kept in _mats
    _dups: dict = field(default_factory=dict)
    _sessions: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        arch = self.program.arch
        if self.accumulate is None:
            self.accumulate = "fp32"
        if self.accumulate not in ("fp32", "fp64"):
            raise UserError(f"accumulate = {self.accumulate!r} is not an accumulator type: use fp32 (the PE "
                            f"array's) or fp64 (reference sums rounded to fp32 once)")
        for mod in AUX_KERNELS:
            if not getattr(arch.aux, AUX_ARCH_NAME[mod]).enabled:
                for b in self.program.bundles:
                    if b.is_active(mod):
                        raise SimulationError(f"bundle {b.index} ({b.note.name}): kernel {MODULE_NAMES[mod]} is "
                                              f"active but disabled in architecture {arch.name}")
        n = len(self.program.bundles)
        for i, b in enumerate(self.program.bundles):
            last = b.fields(Module.CFG).get("last", 0)
            if last and i != n - 1:
                raise SimulationError(f"bundle {i} ({b.note.name}): cfg.last = 1 but {n - 1 - i} bundles follow")
        if n and not self.program.bundles[-1].fields(Module.CFG).get("last", 0):
            raise SimulationError(f"bundle {n - 1} ({self.program.bundles[-1].note.name}): the final bundle must "
                                  f"set cfg.last = 1")

    @property
    def accumulator(self) -> type:
        """numpy type of the PE accumulators: float32 (the default: the fp32 accumulators of the float modes),
        float64 for int8 (exact int32 sums) and for `accumulate="fp64"` (a reference: every sum rounded to fp32
        once, nearly independent of the summation order; about 1.9x slower)."""
        if self.program.arch.precision_info.integer or self.accumulate == "fp64":
            return np.float64
        return np.float32

    #: bytes of filter matrices `filter_matrix` keeps between runs (float64 ResNet-50: 205 MB; VGG-19's 1.1 GB
    #: would not fit and is rearranged per bundle instead)
    MATRIX_CACHE_BYTES = 512 << 20

    def forget_chunks(self) -> None:
        self._chunks.clear()
        self._mats.clear()
        self._kept.clear()
        self._dups.clear()
        self._mat_bytes = 0

    def filter_matrix(self, wts: np.ndarray, k: int, cbf: int, kh: int, kw: int, c_count: int, dtype
                      ) -> np.ndarray:
        """The first k filters of a cached chunk (filters, cbf * kh * kw, c_vector) as a contiguous (k, c_count,
        kh, kw) array of the accumulator type: the matrix the convolution multiplies. Kept between bundles and
        runs for chunks of the weights region (immutable), so that each run does not rearrange and convert every
        weight again."""
        key = (id(wts), k, cbf, kh, kw, c_count, np.dtype(dtype).char)
        hit = self._mats.get(key)
        if hit is not None and hit[0] is wts:
            return hit[1]
        cv = wts.shape[2]
        w = wts[:k].reshape(k, cbf, kh, kw, cv).transpose(0, 1, 4, 2, 3).reshape(k, cbf * cv, kh, kw)[:, :c_count]
        w = np.ascontiguousarray(w, dtype=dtype)
        if any(c[0] is wts for c in self._chunks.values()) and self._mat_bytes + w.nbytes <= self.MATRIX_CACHE_BYTES:
            self._mats[key] = (wts, w)
            self._kept[id(w)] = w
            self._mat_bytes += w.nbytes
        return w

    def duplicate_filters(self, w: np.ndarray, f0: int, f1: int) -> tuple[np.ndarray, np.ndarray] | None:
        """None when filters f0..f1-1 of the filter matrix `w` are all distinct; else (the index of one filter
        per distinct value, each filter's position among those). With fp32 accumulation the simulator computes
        each distinct filter once: every PE adds its products in the same order, so identical filters give
        identical sums, but BLAS does not (OpenBLAS's sgemm adds the rows of one product in different orders:
        34 of 64 identical rows of a K = 16 product differ), which turns a tie into a different result."""
        key = (id(w), f0, f1)
        hit = self._dups.get(key)
        if hit is not None and hit[0] is w:
            return hit[1]
        rows = np.ascontiguousarray(w[f0:f1]).reshape(f1 - f0, -1)
        _, first, inverse = np.unique(rows.view(np.dtype((np.void, rows.shape[1] * rows.itemsize)))[:, 0],
                                      return_index=True, return_inverse=True)
        res = None if first.size == rows.shape[0] else (first, inverse.reshape(-1))
        if self._kept.get(id(w)) is w:
            self._dups[key] = (w, res)
        return res

    def chunk(self, m: Machine, f: dict, where: str) -> tuple[np.ndarray, np.ndarray | None]:
        base, size = self.program.regions.get("weights", (0, 0))
        key = (f["ddr"], f["bytes"], f["filters"], f["entries"], f["nbias"])
        immutable = base <= f["ddr"] and f["ddr"] + f["bytes"] <= base + size
        if immutable and key in self._chunks:
            return self._chunks[key]
        data = m.ddr_bytes(f["ddr"], f["bytes"], f"{where} wread")
        try:
            out = decode_chunk(m.arch, data.tobytes(), ChunkShape(f["filters"], f["entries"], f["nbias"]))
        except UserError as exc:
            raise SimulationError(f"{where} wread: {exc}") from None
        if immutable:
            self._chunks[key] = out
        return out

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Execute the whole program on `inputs` ({input name: array}); returns {output name: float32 array}."""
        prog = self.program
        missing = [i for i in prog.inputs if i not in inputs]
        extra = [i for i in inputs if i not in prog.inputs]
        if missing or extra:
            raise UserError(f"program inputs are {prog.inputs}; missing {missing}, unknown {extra}")
        if prog.weights is None and prog.bundles:
            raise UserError("the program has no weight data (compiled from a shapes-only graph); the functional "
                            "simulator needs weights: compile a model with weights")
        t0 = time.perf_counter()
        self.stats = RunStats()
        if self.machine is None:
            self.machine = Machine.for_program(prog)
        else:
            if self.machine.weights_dirty:   # the blob is reloaded: forget anything decoded from overwritten bytes
                self.forget_chunks()
            self.machine.reset(prog)
        m = self.machine
        with _blas_threads(self.threads):
            for name in prog.inputs:
                write_tensor(m, prog, name, inputs[name])
            for kind, step in prog.schedule():
                if m.weights_dirty:
                    self.forget_chunks()
                if kind == "host":
                    self._host(m, step)
                else:
                    self._bundle(m, step)
            out = {o: read_tensor(m, prog, o) for o in prog.outputs}
        self.stats.seconds = time.perf_counter() - t0
        return out

    def read_tensor(self, name: str) -> np.ndarray:
        if self.machine is None:
            raise UserError("run the program first")
        if name not in self.program.memory:
            raise UserError(f"tensor '{name}' is not in the program's memory map")
        return read_tensor(self.machine, self.program, name)

    def _bundle(self, m: Machine, b) -> None:
        s = Step(m, b, f"bundle {b.index} ({b.note.name})", self)
        for mod in BUNDLE_ORDER:
            if b.is_active(mod):
                HANDLERS[mod](s)
        if b.is_active(Module.PE_ARRAY) and not b.is_active(Module.FEATURE_WRITER):
            raise s.fail(Module.PE_ARRAY, "the bundle computes a stream but the feature writer is not active")
        self.stats.bundles += 1

    def _host(self, m: Machine, part) -> None:
        t0 = time.perf_counter()
        feeds = {}
        for name in part.graph.inputs:
            if name not in self.program.memory:
                raise SimulationError(f"host partition '{part.name}': input '{name}' is not in the memory map")
            feeds[name] = read_tensor(m, self.program, name).astype(part.graph.tensors[name].dtype)
        sess = self._sessions.get(part.name)
        if sess is None:
            sess = self._sessions[part.name] = _ort_session(part.graph)
        outs = sess.run(list(part.graph.outputs), feeds)
        for name, value in zip(part.graph.outputs, outs):
            if name not in self.program.memory:
                raise SimulationError(f"host partition '{part.name}': output '{name}' is not in the memory map")
            write_tensor(m, self.program, name, value)
        self.stats.host_partitions += 1
        self.stats.host_seconds += time.perf_counter() - t0


def _blas_threads(threads: int | None):
    """Limit the BLAS thread pool for the duration of a run and restore it afterwards (threadpoolctl); one
    thread is several times faster than two on a shared machine and matches onnxruntime's single-threaded
    reference. `None` leaves the process setting alone."""
    import contextlib

    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads, user_api="blas")


def _ort_session(graph):
    import onnxruntime as ort

    from compiler.frontend import export_onnx

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(export_onnx(graph).SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


def simulate(program, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run `program` on `inputs` once; returns {output name: float32 array}."""
    return FunctionalSimulator(program).run(inputs)
