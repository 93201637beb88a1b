"""Assembly text (.ovlasm) for ovl programs: `disassemble(program) -> str`, `assemble(text) -> Program`.

`assemble(disassemble(p)).encode() == p.encode()` for every program (byte-exact round trip). The text lists
the architecture, memory map and host partitions as one-line JSON directives, then every bundle: a header line
with its annotation (source nodes, shapes, tile) as JSON, a readable comment, and one line per active kernel
with all its fields as NAME=VALUE (integers in decimal, addresses in hex, enumerations by name, float32 fields as
the shortest decimal that reads back to the same bits). The weights blob and host constants follow as base64
blocks, or the weights live in a side file (`.weights file N` + `weights_file=`).
"""
from __future__ import annotations

import base64
import json
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from compiler.errors import ProgramError
from compiler.isa import ISA, MODULE_BY_NAME, MODULE_NAMES, Module
from compiler.program import VERSION, Bundle, Program, dumps_json, program_from_parts

GRAMMAR = Path(__file__).with_name("ovlasm.lark")
HEX_FIELDS = {"ddr", "r0_ddr", "r1_ddr", "lut_ddr", "bytes", "active"}
B64_LINE = 76
FIELD_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*([^\s;=]+)")   # one NAME=VALUE of a FIELDS token


@lru_cache(maxsize=1)
def _parser():
    from lark import Lark

    return Lark(GRAMMAR.read_text(), parser="lalr", lexer="contextual", maybe_placeholders=False)


# --- disassembly ---------------------------------------------------------------------------------------------
def _fmt_value(f, v: Any) -> str:
    if f.kind == "f32":
        x = float(v)
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        r = repr(float(np.float32(x)))
        return r if float(np.float32(float(r))) == np.float32(x) else repr(x)
    if f.kind == "enum":
        return str(v)
    if f.name in HEX_FIELDS:
        return hex(int(v))
    return str(int(v))


def _shape(s) -> str:
    return "x".join(map(str, s)) if s else "scalar"


def _comment(b: Bundle) -> str:
    n = b.note
    ins = ", ".join(f"{t} {_shape(s)}" for t, s in n.inputs)
    outs = ", ".join(f"{t} {_shape(s)}" for t, s in n.outputs)
    order = ["n", "k", "c", "y", "x"] + sorted(k for k in n.tile if k not in ("n", "k", "c", "y", "x", "index"))
    tile = " ".join(f"{k} {n.tile[k][0]}:{n.tile[k][1]}" for k in order
                    if isinstance(n.tile.get(k), list) and len(n.tile[k]) == 2)
    idx = n.tile.get("index")
    where = f" tile {idx[0] + 1}/{idx[1]}" if idx else ""
    return (f"; {n.kind} {n.name}{where}: {ins} -> {outs}; {tile}; nodes {', '.join(n.nodes)}; "
            f"onnx {', '.join(n.origin)}")


def disassemble(prog: Program, weights_file: str | None = None) -> str:
    """The annotated .ovlasm text of a program (weights inline as base64 unless `weights_file` is given, in
    which case the caller writes `prog.weights` to that file)."""
    isa = prog.isa
    hostdata = bytearray()
    meta = prog.meta_json(hostdata)
    out = [f".ovlasm {VERSION[0]}.{VERSION[1]}",
           f"; program {prog.meta.get('model', '')} for {prog.arch.name}: {len(prog.bundles)} bundles, "
           f"{len(prog.host)} host partition(s), weights {prog.weights_size:,} bytes",
           ".arch " + dumps_json(meta["arch"]),
           ".meta " + dumps_json(meta["meta"]),
           ".io " + dumps_json({"inputs": meta["inputs"], "outputs": meta["outputs"],
                                "weights_size": meta["weights_size"]})]
    for k, (base, size) in prog.regions.items():
        out.append(f".region {k} {hex(base)} {size}")
    for a in meta["memory"]:
        out.append(".tensor " + dumps_json(a))
    for h in meta["host"]:
        out.append(".host " + dumps_json(h))
    for b in prog.bundles:
        out.append(f"bundle {b.index} " + dumps_json(b.note.to_json()))
        out.append("  " + _comment(b))
        for m in sorted(b.config):
            lay = isa.layout(m)
            vals = b.config[m]
            parts = [f"{f.name}={_fmt_value(f, vals[f.name])}" for f in lay.fields
                     if m == Module.CFG or vals[f.name] != f.default()]
            out.append(f"  {MODULE_NAMES[m]:6s} " + " ".join(parts))
    if prog.weights is None:
        out.append(".weights absent 0")
    elif weights_file is not None:
        out.append(f".weights file {len(prog.weights)}")
    else:
        out.append(f".weights base64 {len(prog.weights)}")
        out.extend(_b64_lines(prog.weights))
        out.append(".end")
    out.append(f".hostdata base64 {len(hostdata)}")
    out.extend(_b64_lines(bytes(hostdata)))
    out.append(".end")
    return "\n".join(out) + "\n"


def _b64_lines(data: bytes) -> list[str]:
    text = base64.b64encode(data).decode()
    return [text[i:i + B64_LINE] for i in range(0, len(text), B64_LINE)]


# --- assembly ------------------------------------------------------------------------------------------------
def _cut_blocks(text: str, source: str) -> tuple[str, dict[str, tuple[str, int, str]]]:
    """Remove the base64 blocks; returns the rest of the text and {kind: (mode, size, payload)}."""
    lines = text.split("\n")
    keep: list[str] = []
    blocks: dict[str, tuple[str, int, str]] = {}
    i = 0
    while i < len(lines):
        ln = lines[i]
        s = ln.strip()
        if s.startswith(".weights") or s.startswith(".hostdata"):
            parts = s.split()
            if len(parts) != 3:
                raise ProgramError(f"{source}: line {i + 1}: expected '{parts[0]} MODE SIZE'")
            kind, mode, size = parts[0][1:], parts[1], parts[2]
            payload: list[str] = []
            if mode == "base64":
                j = i + 1
                while j < len(lines) and lines[j].strip() != ".end":
                    payload.append(lines[j].strip())
                    j += 1
                if j == len(lines):
                    raise ProgramError(f"{source}: line {i + 1}: {parts[0]} block has no .end")
                keep.extend([""] * (j - i + 1))
                i = j + 1
            else:
                keep.append("")
                i += 1
            try:
                blocks[kind] = (mode, int(size, 0), "".join(payload))
            except ValueError:
                raise ProgramError(f"{source}: line {i}: bad size '{size}'") from None
            continue
        keep.append(ln)
        i += 1
    return "\n".join(keep), blocks


def _parse_value(f, text: str, where: str) -> Any:
    try:
        if f.kind == "f32":
            return float(np.float32(float(text)))
        if f.kind == "enum":
            return text
        return int(text, 0)
    except ValueError:
        raise ProgramError(f"{where}: field {f.name} = '{text}' is not a valid "
                           f"{'float' if f.kind == 'f32' else 'integer'}") from None


def assemble(text: str, source: str = "<asm>", weights: bytes | None = None) -> Program:
    """Parse .ovlasm text into a Program (`weights`: the side file's bytes for `.weights file`)."""
    from lark.exceptions import LarkError, UnexpectedInput

    body, blocks = _cut_blocks(text, source)
    try:
        tree = _parser().parse(body + "\n")
    except UnexpectedInput as exc:
        line = body.split("\n")[exc.line - 1].strip() if getattr(exc, "line", None) else ""
        raise ProgramError(f"{source}: line {getattr(exc, 'line', '?')}: cannot parse '{line[:80]}'") from None
    except LarkError as exc:
        raise ProgramError(f"{source}: {exc.__class__.__name__}") from None
    version = str(tree.children[0].children[0])
    if int(version.split(".")[0]) != VERSION[0]:
        raise ProgramError(f"{source}: .ovlasm version {version} is not supported (this toolchain reads "
                           f"{VERSION[0]}.x)")
    meta: dict[str, Any] = {"memory": [], "host": [], "bundles": [], "format": list(VERSION), "regions": {}}
    raw_bundles: list[tuple[int, Any]] = []

    def js(tok, what: str) -> Any:
        try:
            return json.loads(str(tok))
        except json.JSONDecodeError as exc:
            raise ProgramError(f"{source}: line {tok.line}: {what} is not valid JSON ({exc.msg})") from None

    for item in tree.children[1:]:
        kind = item.data
        if kind == "arch":
            meta["arch"] = js(item.children[0], ".arch")
        elif kind == "meta":
            meta["meta"] = js(item.children[0], ".meta")
        elif kind == "io":
            io = js(item.children[0], ".io")
            meta.update(inputs=io["inputs"], outputs=io["outputs"], weights_size=io["weights_size"])
        elif kind == "region":
            name, base, size = item.children
            meta["regions"][str(name)] = [int(str(base), 0), int(str(size), 0)]
        elif kind == "tensor":
            meta["memory"].append(js(item.children[0], ".tensor"))
        elif kind == "host":
            meta["host"].append(js(item.children[0], ".host"))
        elif kind == "bundle":
            raw_bundles.append((int(str(item.children[0]), 0), item))
    for key in ("arch", "meta", "inputs"):
        if key not in meta:
            raise ProgramError(f"{source}: missing the .{key if key != 'inputs' else 'io'} directive")
    from hw_models.arch import arch_from_dict

    arch = arch_from_dict(meta["arch"], source=f"{source} (.arch)")
    isa = ISA.for_arch(arch)
    stream = bytearray()
    fields = {m: {f.name: f for f in lay.fields} for m, lay in isa.modules.items()}
    for k, (idx, item) in enumerate(raw_bundles):
        where = f"{source}: bundle {idx}"
        if idx != k:
            raise ProgramError(f"{where}: bundles must be numbered 0, 1, 2, ... in order (expected {k})")
        note = js(item.children[1], "bundle annotation")
        meta["bundles"].append(note)
        config: dict[Module, dict[str, Any]] = {}
        for mod in item.children[2:]:
            m = MODULE_BY_NAME[str(mod.children[0])]
            lay = isa.layout(m)
            if m in config:
                raise ProgramError(f"{where}: module {lay.name} appears twice")
            vals: dict[str, Any] = {}
            for tok in mod.children[1:]:
                for name, value in FIELD_RE.findall(tok):
                    if name not in lay._defaults:
                        raise ProgramError(f"{where} (line {tok.line}): module {lay.name}: unknown field "
                                           f"'{name}'; fields: {', '.join(lay.field_names)}")
                    if name in vals:
                        raise ProgramError(f"{where} (line {tok.line}): field {lay.name}.{name} given twice")
                    vals[name] = _parse_value(fields[m][name], value, f"{where}.{lay.name}")
            config[m] = vals
        if Module.CFG not in config:
            raise ProgramError(f"{where}: no cfg line")
        stream += isa.packets_to_bytes(isa.encode_bundle(config, where))
    mode, size, payload = blocks.get("weights", ("absent", 0, ""))
    if mode == "base64":
        blob = _b64(payload, size, source, "weights")
    elif mode == "file":
        if weights is None:
            raise ProgramError(f"{source}: the weights are in a side file; pass it (ovl asm --weights FILE)")
        if len(weights) != size:
            raise ProgramError(f"{source}: the weights side file has {len(weights)} bytes, .weights says {size}")
        blob = weights
    elif mode == "absent":
        blob = None
    else:
        raise ProgramError(f"{source}: .weights mode '{mode}': legal: base64, file, absent")
    hmode, hsize, hpayload = blocks.get("hostdata", ("base64", 0, ""))
    hostdata = _b64(hpayload, hsize, source, "hostdata") if hsize else b""
    return program_from_parts(meta, bytes(stream), blob, hostdata, source)


def _b64(payload: str, size: int, source: str, what: str) -> bytes:
    try:
        data = base64.b64decode(payload, validate=True)
    except (ValueError, base64.binascii.Error):
        raise ProgramError(f"{source}: the .{what} block is not valid base64") from None
    if len(data) != size:
        raise ProgramError(f"{source}: the .{what} block has {len(data)} bytes, its header says {size}")
    return data

