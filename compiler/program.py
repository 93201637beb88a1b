"""The compiled program: bundles of decoded config fields, weights blob, DDR memory map, host partitions, metadata.

`Program` is everything a simulator needs to run a compiled network bundle by bundle without the ONNX graph:

    prog = Program.load("net.ovl")
    for step in prog.schedule():            # ("host", HostPartition) or ("bundle", Bundle), in program order
        ...
    b = prog.bundles[0]
    b.fields("pe")                          # {'mode': 'conv', 'k': 64, ...} (all fields, decoded)
    prog.memory["conv1"]                    # TensorAlloc: DDR address, shape, (N,C,H,W) view, dtype, scale
    prog.chunk(b)                           # the filter chunk a bundle loads, decoded

Binary file format (all integers little-endian), version 1.0:

    header   magic b"OVLPROG\\0" | u16 major | u16 minor | u32 flags (bit 0: weights present) | u32 n_sections
             | u32 reserved (0)
    table    n_sections x (u32 kind | u32 reserved | u64 offset | u64 size), kinds: 1 META (UTF-8 JSON,
             sorted keys), 2 CONFIG (the config stream exactly as the config reader reads it from DDR),
             3 WEIGHTS (the weights blob as it sits in DDR), 4 HOSTDATA (constants of host partitions)
    sections in table order, each starting 8-byte aligned (zero padding between)
    trailer  u32 CRC-32 (zlib) of every preceding byte

A program without weight data (compiled from a shapes-only graph, for cost models) has flag bit 0 clear and an
empty WEIGHTS section; META still records the blob size. Bad magic, another major version, a bad checksum,
truncation or inconsistent sections raise a one-line `ProgramError`.
"""
from __future__ import annotations

import json
import struct
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from compiler.errors import ProgramError
from compiler.ir import Graph, Node, Tensor
from compiler.isa import ISA, MODULE_NAMES, Module, _module
from compiler.lowering.formats import (ChunkShape, blocked_shape, decode_chunk, feature_dtype, from_blocked,
                                       raw_dtype, to_blocked)

MAGIC = b"OVLPROG\x00"
VERSION = (1, 0)
SECTION_META, SECTION_CONFIG, SECTION_WEIGHTS, SECTION_HOSTDATA = 1, 2, 3, 4
_HEADER = struct.Struct("<8sHHIII")
_ENTRY = struct.Struct("<IIQQ")


@dataclass
class TensorAlloc:
    """Where a tensor lives. `ddr` is an absolute DDR byte address (-1: never in DDR); `sb` a stream-buffer
    entry address (-1: not resident). `view` is the (N, C, H, W) view (formats.view_of) stored in the blocked
    NCHWc layout with c = c_vector; `alias_of` names the buffer this one is a window of (concat/slice), and
    then `ddr` already includes the window's offset and `pitches` are the parent's."""

    name: str
    role: str                       # input | output | intermediate | host (only used by host partitions)
    shape: tuple[int, ...]
    view: tuple[int, int, int, int]
    dtype: str                      # fp32 | fp16 | int8
    ddr: int = -1
    nbytes: int = 0
    scale: float = 1.0              # int8: real value = code * scale
    sb: int = -1
    alias_of: str = ""
    pitches: tuple[int, int, int] = (0, 0, 0)   # bytes between images, channel blocks, rows
    channel_offset: int = 0         # first channel inside the parent (alias) buffer

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["shape"], d["view"], d["pitches"] = list(self.shape), list(self.view), list(self.pitches)
        return d

    @staticmethod
    def from_json(d: dict[str, Any]) -> "TensorAlloc":
        d = dict(d)
        d["shape"], d["view"], d["pitches"] = tuple(d["shape"]), tuple(d["view"]), tuple(d["pitches"])
        return TensorAlloc(**d)


@dataclass
class BundleNote:
    """Annotation of a bundle (not executed): source nodes, shapes and the tile it computes."""

    name: str
    kind: str = ""                  # conv | depthwise | fc | pool | eltwise | copy | softmax | ...
    nodes: tuple[str, ...] = ()     # IR nodes fused into the bundle
    origin: tuple[str, ...] = ()    # source ONNX node names
    inputs: tuple[tuple[str, tuple[int, ...]], ...] = ()
    outputs: tuple[tuple[str, tuple[int, ...]], ...] = ()
    tile: dict[str, Any] = field(default_factory=dict)   # e.g. {"n": [0, 1], "k": [0, 64], "y": [0, 28], ...}

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "nodes": list(self.nodes), "origin": list(self.origin),
                "inputs": [[n, list(s)] for n, s in self.inputs], "outputs": [[n, list(s)] for n, s in self.outputs],
                "tile": self.tile}

    @staticmethod
    def from_json(d: dict[str, Any]) -> "BundleNote":
        return BundleNote(d["name"], d.get("kind", ""), tuple(d.get("nodes", ())), tuple(d.get("origin", ())),
                          tuple((n, tuple(s)) for n, s in d.get("inputs", ())),
                          tuple((n, tuple(s)) for n, s in d.get("outputs", ())), dict(d.get("tile", {})))


@dataclass
class Bundle:
    """One bundle: the decoded fields of every active module (all fields present) and its annotation."""

    config: dict[Module, dict[str, Any]]
    note: BundleNote

    @property
    def index(self) -> int:
        return int(self.config[Module.CFG]["seq"])

    @property
    def active(self) -> tuple[Module, ...]:
        return tuple(sorted(self.config))

    def fields(self, module: Module | str) -> dict[str, Any]:
        """Decoded fields of a module (all zero / defaults when the module is idle in this bundle)."""
        m = _module(module)
        if m in self.config:
            return self.config[m]
        return {}

    def is_active(self, module: Module | str) -> bool:
        return _module(module) in self.config


@dataclass
class HostPartition:
    """A subgraph the overlay cannot run, executed on the host before bundle `position` (after `position`
    bundles have run). Its inputs and outputs are tensors of the memory map; `reasons` maps each node to why it
    fell back. Run it with onnxruntime via `compiler.frontend.export_onnx(part.graph)`."""

    name: str
    position: int
    graph: Graph
    reasons: dict[str, str] = field(default_factory=dict)


@dataclass
class Program:
    arch: Any                                    # hw_models.arch.Arch
    bundles: list[Bundle]
    memory: dict[str, TensorAlloc]
    inputs: list[str]
    outputs: list[str]
    weights: bytes | None
    weights_size: int
    regions: dict[str, tuple[int, int]]          # name -> (DDR base, bytes): weights, features, config
    host: list[HostPartition] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    # --- views -----------------------------------------------------------------------------------------------
    @property
    def isa(self) -> ISA:
        return ISA.for_arch(self.arch)

    def schedule(self) -> Iterator[tuple[str, Any]]:
        """Steps in execution order: ("host", HostPartition) before the bundle at its position, ("bundle", b)."""
        hosts = sorted(self.host, key=lambda h: h.position)
        k = 0
        for i, b in enumerate(self.bundles):
            while k < len(hosts) and hosts[k].position <= i:
                yield "host", hosts[k]
                k += 1
            yield "bundle", b
        for h in hosts[k:]:
            yield "host", h

    def packets(self, bundle: Bundle) -> list[int]:
        return self.isa.encode_bundle(bundle.config, where=f"bundle {bundle.index}")

    def config_stream(self) -> bytes:
        isa = self.isa        # looked up once: ISA.for_arch keys its cache on the architecture's JSON
        return b"".join(isa.packets_to_bytes(isa.encode_bundle(b.config, where=f"bundle {b.index}"))
                        for b in self.bundles)

    def chunk(self, bundle: Bundle) -> tuple[np.ndarray, np.ndarray | None]:
        """The decoded filter chunk a bundle's filter reader loads (weights (filters, entries, cv), bias)."""
        f = bundle.fields(Module.FILTER_READER)
        if not f or not f["en"]:
            raise ProgramError(f"bundle {bundle.index} loads no filter chunk")
        if self.weights is None:
            raise ProgramError("program has no weight data (compiled from a shapes-only graph)")
        base = self.regions["weights"][0]
        off = f["ddr"] - base
        return decode_chunk(self.arch, self.weights[off:off + f["bytes"]],
                            ChunkShape(f["filters"], f["entries"], f["nbias"]))

    # --- features <-> bytes --------------------------------------------------------------------------------
    def pack_tensor(self, name: str, x: np.ndarray) -> bytes:
        """A logical array -> the bytes of its DDR buffer (blocked layout, element type, int8 scale applied)."""
        a = self.memory[name]
        x = np.asarray(x)
        if tuple(x.shape) != tuple(a.shape):
            raise ProgramError(f"tensor '{name}' expects shape {list(a.shape)}, got {list(x.shape)}")
        if a.dtype == "int8":
            x = np.clip(np.rint(x / a.scale), -128, 127)
        return to_blocked(x, self.arch.pe_array.c_vector, dtype=_np_dtype(a.dtype)).tobytes()

    def unpack_tensor(self, name: str, data: bytes) -> np.ndarray:
        """Inverse of `pack_tensor` (int8 codes are dequantised to float32)."""
        a = self.memory[name]
        shp = blocked_shape(a.view, self.arch.pe_array.c_vector)
        arr = np.frombuffer(data, dtype=_np_dtype(a.dtype), count=int(np.prod(shp))).reshape(shp)
        x = from_blocked(arr, a.shape)
        return x.astype(np.float32) * np.float32(a.scale) if a.dtype == "int8" else x.astype(np.float32)

    # --- statistics ----------------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Bundles, config bytes per module, weight bytes, DDR footprint and traffic, config-network overhead."""
        isa = self.isa
        per_module = {MODULE_NAMES[m]: 0 for m in Module}
        eb = self.arch.feature_bytes
        cv = self.arch.pe_array.c_vector
        traffic = {"config": 0, "features_read": 0, "filters_read": 0, "features_written": 0, "host": 0}
        for b in self.bundles:
            pk = isa.module_packets(b.config, where=f"bundle {b.index}")
            for m, _ in pk:
                per_module[MODULE_NAMES[m]] += isa.packet_bytes
            traffic["config"] += len(pk) * isa.packet_bytes
            r = b.fields(Module.FEATURE_READER)
            for d in ("r0", "r1"):
                if r and r[f"{d}_en"]:
                    traffic["features_read"] += int(r[f"{d}_n"] * r[f"{d}_cb"] * r[f"{d}_rows"] * r[f"{d}_width"]
                                                    * cv * (4 if r[f"{d}_raw"] else eb))
            w = b.fields(Module.FILTER_READER)
            if w and w["en"]:
                traffic["filters_read"] += int(w["bytes"])
            o = b.fields(Module.FEATURE_WRITER)
            if o and o["ddr_en"]:
                blocks = -(-(o["c_first"] + o["c"]) // cv)
                traffic["features_written"] += int(o["n"] * blocks * o["rows"] * o["width"] * cv
                                                   * (4 if o["raw"] else eb))
        for h in self.host:
            for t in list(h.graph.inputs) + list(h.graph.outputs):
                if t in self.memory and self.memory[t].ddr >= 0:
                    traffic["host"] += self.memory[t].nbytes
        total = sum(traffic.values())
        cfg = traffic["config"]
        return {
            "bundles": len(self.bundles),
            "host_partitions": len(self.host),
            "config_bytes": cfg,
            "config_bytes_per_module": per_module,
            "weight_bytes": self.weights_size,
            "ddr_footprint_bytes": sum(size for _, size in self.regions.values()),
            "regions": {k: list(v) for k, v in self.regions.items()},
            "ddr_traffic_bytes": traffic,
            "ddr_traffic_total_bytes": total,
            "config_overhead": cfg / total if total else 0.0,
        }

    # --- container -----------------------------------------------------------------------------------------
    def meta_json(self, hostdata: bytearray) -> dict[str, Any]:
        return {
            "format": list(VERSION),
            "arch": self.arch.model_dump(mode="json"),
            "inputs": list(self.inputs), "outputs": list(self.outputs),
            "memory": [a.to_json() for a in self.memory.values()],
            "regions": {k: list(v) for k, v in self.regions.items()},
            "weights_size": self.weights_size,
            "bundles": [b.note.to_json() for b in self.bundles],
            "host": [{"name": h.name, "position": h.position, "reasons": h.reasons,
                      "graph": graph_to_json(h.graph, hostdata)} for h in self.host],
            "meta": self.meta,
        }

    def encode(self) -> bytes:
        """The binary file (see the module docstring)."""
        for i, b in enumerate(self.bundles):
            if b.index != i:
                raise ProgramError(f"bundle {i} has cfg.seq = {b.index}; sequence numbers must equal positions")
        hostdata = bytearray()
        meta = dumps_json(self.meta_json(hostdata)).encode()
        config = self.config_stream()
        weights = self.weights or b""
        if self.weights is not None and len(weights) != self.weights_size:
            raise ProgramError(f"weights blob has {len(weights)} bytes, metadata says {self.weights_size}")
        return assemble_sections([(SECTION_META, meta), (SECTION_CONFIG, config), (SECTION_WEIGHTS, weights),
                                  (SECTION_HOSTDATA, bytes(hostdata))], flags=int(self.weights is not None))

    @staticmethod
    def decode(data: bytes, source: str = "program") -> "Program":
        sections, flags = split_sections(data, source)
        meta = loads_json(sections[SECTION_META], source)
        return program_from_parts(meta, sections[SECTION_CONFIG],
                                  sections[SECTION_WEIGHTS] if flags & 1 else None, sections[SECTION_HOSTDATA],
                                  source)

    def save(self, path: str | Path) -> int:
        data = self.encode()
        Path(path).write_bytes(data)
        return len(data)

    @staticmethod
    def load(path: str | Path) -> "Program":
        p = Path(path)
        if not p.exists():
            raise ProgramError(f"program file '{path}' not found")
        return Program.decode(p.read_bytes(), str(path))


# --- container helpers ------------------------------------------------------------------------------------------
def _np_dtype(name: str):
    return {"fp32": np.float32, "fp16": np.float16, "int8": np.int8, "int32": np.int32}[name]


def dumps_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (tuple, set, frozenset)):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def loads_json(data: bytes, source: str) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProgramError(f"{source}: metadata section is not valid JSON ({exc.__class__.__name__})") from None


def assemble_sections(sections: list[tuple[int, bytes]], flags: int) -> bytes:
    head = _HEADER.size + _ENTRY.size * len(sections)
    out = bytearray(head)
    entries = []
    for kind, payload in sections:
        out += bytes(-len(out) % 8)
        entries.append((kind, 0, len(out), len(payload)))
        out += payload
    _HEADER.pack_into(out, 0, MAGIC, VERSION[0], VERSION[1], flags, len(sections), 0)
    for i, e in enumerate(entries):
        _ENTRY.pack_into(out, _HEADER.size + i * _ENTRY.size, *e)
    out += struct.pack("<I", zlib.crc32(out) & 0xFFFFFFFF)
    return bytes(out)


def split_sections(data: bytes, source: str) -> tuple[dict[int, bytes], int]:
    if len(data) < _HEADER.size + 4:
        raise ProgramError(f"{source}: truncated ({len(data)} bytes is shorter than the header); recompile it")
    magic, major, minor, flags, n, _ = _HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        raise ProgramError(f"{source}: bad magic {magic!r}, not an ovl program (expected {MAGIC!r})")
    if major != VERSION[0]:
        raise ProgramError(f"{source}: format version {major}.{minor} is not supported (this toolchain reads "
                           f"{VERSION[0]}.x); recompile the model")
    body, (crc,) = data[:-4], struct.unpack("<I", data[-4:])
    if zlib.crc32(body) & 0xFFFFFFFF != crc:
        raise ProgramError(f"{source}: checksum mismatch (file corrupted or truncated); recompile or re-copy it")
    if _HEADER.size + n * _ENTRY.size > len(body):
        raise ProgramError(f"{source}: section table runs past the end of the file")
    sections: dict[int, bytes] = {}
    for i in range(n):
        kind, _, off, size = _ENTRY.unpack_from(data, _HEADER.size + i * _ENTRY.size)
        if off + size > len(body):
            raise ProgramError(f"{source}: section {kind} [{off}, {off + size}) runs past the end of the file")
        sections[kind] = bytes(body[off:off + size])
    for kind in (SECTION_META, SECTION_CONFIG, SECTION_WEIGHTS, SECTION_HOSTDATA):
        if kind not in sections:
            raise ProgramError(f"{source}: section {kind} is missing")
    return sections, flags


def program_from_parts(meta: dict[str, Any], config: bytes, weights: bytes | None, hostdata: bytes,
                       source: str = "program") -> Program:
    from hw_models.arch import arch_from_dict

    try:
        if tuple(meta["format"])[0] != VERSION[0]:
            raise ProgramError(f"{source}: metadata format {meta['format']} is not supported")
        arch = arch_from_dict(meta["arch"], source=f"{source} (embedded architecture)")
        isa = ISA.for_arch(arch)
        decoded = isa.decode_stream(config)
        notes = meta["bundles"]
        if len(notes) != len(decoded):
            raise ProgramError(f"{source}: {len(decoded)} bundles in the config stream, {len(notes)} in metadata")
        bundles = [Bundle(cfg, BundleNote.from_json(n)) for cfg, n in zip(decoded, notes)]
        for i, b in enumerate(bundles):
            if b.index != i:
                raise ProgramError(f"{source}: bundle {i} carries sequence number {b.index}")
        if weights is not None and len(weights) != meta["weights_size"]:
            raise ProgramError(f"{source}: weights section has {len(weights)} bytes, metadata says "
                               f"{meta['weights_size']}")
        host = [HostPartition(h["name"], h["position"], graph_from_json(h["graph"], hostdata), dict(h["reasons"]))
                for h in meta["host"]]
        return Program(arch, bundles, {a["name"]: TensorAlloc.from_json(a) for a in meta["memory"]},
                       list(meta["inputs"]), list(meta["outputs"]), weights, int(meta["weights_size"]),
                       {k: (int(v[0]), int(v[1])) for k, v in meta["regions"].items()}, host, meta["meta"])
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ProgramError(f"{source}: metadata is inconsistent ({exc.__class__.__name__}: {exc})") from None


# --- IR subgraphs (host partitions) ------------------------------------------------------------------------------
def graph_to_json(g: Graph, hostdata: bytearray) -> dict[str, Any]:
    """A JSON-able dict of an IR graph; constant data is appended to `hostdata` (8-byte aligned)."""
    tensors = {}
    for name, t in g.tensors.items():
        d: dict[str, Any] = {"shape": list(t.shape), "dtype": t.dtype, "const": t.const}
        if t.const and t.data is not None:
            hostdata += bytes(-len(hostdata) % 8)
            raw = np.ascontiguousarray(t.data, dtype=np.dtype(t.dtype).newbyteorder("<")).tobytes()
            d["data"] = [len(hostdata), len(raw)]
            hostdata += raw
        tensors[name] = d
    nodes = [{"name": n.name, "op": n.op, "inputs": list(n.inputs), "outputs": list(n.outputs),
              "attrs": {k: _attr_json(v) for k, v in n.attrs.items()}, "origin": list(n.origin)} for n in g.nodes]
    return {"name": g.name, "tensors": tensors, "nodes": nodes, "inputs": list(g.inputs), "outputs": list(g.outputs)}


def _attr_json(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (tuple, list)):
        return [_attr_json(x) for x in v]
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def graph_from_json(d: dict[str, Any], hostdata: bytes) -> Graph:
    tensors = {}
    for name, t in d["tensors"].items():
        data = None
        if "data" in t:
            off, size = t["data"]
            if off + size > len(hostdata):
                raise ProgramError(f"host constant '{name}' lies outside the host-data section")
            data = np.frombuffer(hostdata[off:off + size], dtype=np.dtype(t["dtype"]).newbyteorder("<")).astype(
                t["dtype"]).reshape(t["shape"])
        tensors[name] = Tensor(name, tuple(t["shape"]), t["dtype"], bool(t["const"]), data)
    nodes = [Node(n["name"], n["op"], tuple(n["inputs"]), tuple(n["outputs"]), dict(n["attrs"]), tuple(n["origin"]))
             for n in d["nodes"]]
    return Graph(d["name"], tensors, nodes, list(d["inputs"]), list(d["outputs"]))


def feature_np_dtype(arch, raw: bool = False):
    return raw_dtype(arch.precision) if raw else feature_dtype(arch.precision)
