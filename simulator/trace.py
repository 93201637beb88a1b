"""Chrome / Perfetto trace events of a timed program, and their summary.

`write_trace(timeline, path)` writes the JSON object form of the Trace Event Format (`{"traceEvents": [...]}`)
that chrome://tracing and ui.perfetto.dev open: one process for the overlay, one thread (track) per kernel:
`layers` (one event per layer run), `config`, `fread`, `wread`, `pe` (one event per bundle), `pe stalls` (one
event per stall with its reason), one track per auxiliary kernel, `fwrite` and `ddr` (every DDR burst).
Timestamps are microseconds at the architecture's clock; every event's `args` carries its cycles.

`summarize(path)` reads such a file back (checking every event) and returns the hottest layers, the stall
reasons and the busy time of every track; `ovl trace summarize` prints it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.errors import UserError
from simulator.report import KIND_OPS
from simulator.timing import Timeline

TRACKS = ("layers", "config", "fread", "wread", "pe", "pe stalls", "act", "pool", "lrn", "elt", "d2s", "smax",
          "fwrite", "ddr")
PHASES = {"X", "M", "C", "i", "I"}


class TraceError(UserError):
    """A trace file that is missing, not JSON, or not a valid trace-event file."""


def trace_events(timeline: Timeline, *, name: str = "overlay") -> list[dict[str, Any]]:
    arch = timeline.arch
    us = 1e6 / arch.clock_hz
    tid = {t: i + 1 for i, t in enumerate(TRACKS)}
    ev: list[dict[str, Any]] = [{"ph": "M", "name": "process_name", "pid": 1, "tid": 0,
                                 "args": {"name": f"{name} on {arch.name} ({arch.clock_mhz:g} MHz)"}}]
    for t, i in tid.items():
        ev.append({"ph": "M", "name": "thread_name", "pid": 1, "tid": i, "args": {"name": t}})
        ev.append({"ph": "M", "name": "thread_sort_index", "pid": 1, "tid": i, "args": {"sort_index": i}})

    def x(track: str, nm: str, start: float, end: float, cat: str, args: dict) -> None:
        ev.append({"name": nm, "cat": cat, "ph": "X", "pid": 1, "tid": tid[track], "ts": round(start * us, 4),
                   "dur": round(max(0.0, end - start) * us, 4), "args": {**args, "cycles": round(end - start, 1)}})

    # layers: contiguous runs of bundles of one layer along the PE-array timeline
    t = 0.0
    run: dict[str, Any] | None = None
    for d, bt in zip(timeline.demands, timeline.bundles):
        if run is None or run["layer"] != d.layer:
            if run is not None:
                x("layers", run["layer"], run["start"], t, "layer", {"op": run["kind"], "macs": run["macs"],
                                                                    "bundles": run["bundles"]})
            run = {"layer": d.layer, "kind": KIND_OPS.get(d.kind, d.kind), "start": t, "macs": 0, "bundles": 0}
        run["macs"] += d.macs
        run["bundles"] += 1
        t += bt.span
    if run is not None:
        x("layers", run["layer"], run["start"], t, "layer", {"op": run["kind"], "macs": run["macs"],
                                                            "bundles": run["bundles"]})
    for d, bt in zip(timeline.demands, timeline.bundles):
        for e in bt.events:
            track = e.track if e.track in tid else "pe"
            x(track, e.name, e.start, e.end, "ddr" if track == "ddr" else "bundle", dict(e.args, layer=d.layer))
        for reason, cyc in bt.stalls.items():
            if reason.startswith("output"):
                s0 = bt.compute_end
            elif reason == "drain":
                s0 = timeline.total_cycles - cyc
            else:
                s0 = bt.start - cyc
            x("pe stalls", f"stall: {reason}", s0, s0 + cyc, "stall",
              {"bundle": d.index, "layer": d.layer, "reason": reason})
    return ev


def write_trace(timeline: Timeline, path: str | Path, *, name: str = "overlay") -> int:
    """Write the trace file; returns the number of events."""
    ev = trace_events(timeline, name=name)
    doc = {"traceEvents": ev, "displayTimeUnit": "ns",
           "otherData": {"arch": timeline.arch.name, "clock_hz": timeline.arch.clock_hz,
                         "total_cycles": round(timeline.total_cycles), "bundles": len(timeline.bundles)}}
    Path(path).write_text(json.dumps(doc, separators=(",", ":")))
    return len(ev)


def validate_events(doc: Any, source: str = "trace") -> list[dict[str, Any]]:
    """Check the trace-event structure; returns the events. Raises TraceError naming the first bad event."""
    if isinstance(doc, list):
        events = doc
    elif isinstance(doc, dict) and isinstance(doc.get("traceEvents"), list):
        events = doc["traceEvents"]
    else:
        raise TraceError(f"{source}: expected a JSON object with a 'traceEvents' list (or a list of events)")
    for i, e in enumerate(events):
        where = f"{source}: event {i}"
        if not isinstance(e, dict):
            raise TraceError(f"{where} is not an object")
        if e.get("ph") not in PHASES:
            raise TraceError(f"{where}: phase {e.get('ph')!r} is not one of {sorted(PHASES)}")
        if not isinstance(e.get("name"), str) or not isinstance(e.get("pid"), int) or not isinstance(e.get("tid"), int):
            raise TraceError(f"{where}: needs a string name and integer pid and tid")
        if e["ph"] == "X":
            for k in ("ts", "dur"):
                v = e.get(k)
                if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                    raise TraceError(f"{where} ({e['name']}): '{k}' = {v!r} must be a number >= 0")
            if not isinstance(e.get("args", {}), dict):
                raise TraceError(f"{where} ({e['name']}): args must be an object")
    return events


@dataclass
class TraceSummary:
    arch: str
    total_cycles: float
    clock_hz: float
    layers: list[dict[str, Any]]          # hottest first: name, op, cycles, share, stall cycles by reason
    stalls: dict[str, float]              # reason -> cycles
    tracks: dict[str, float]              # track -> busy cycles
    events: int

    def to_json(self) -> dict[str, Any]:
        return {"arch": self.arch, "total_cycles": round(self.total_cycles), "clock_hz": self.clock_hz,
                "events": self.events, "layers": self.layers,
                "stalls": {k: round(v) for k, v in self.stalls.items()},
                "tracks": {k: round(v) for k, v in self.tracks.items()}}

    def text(self, top: int = 10) -> str:
        tot = self.total_cycles or 1.0
        ms = self.total_cycles / self.clock_hz * 1e3 if self.clock_hz else 0.0
        lines = [f"trace of {self.arch}: {self.total_cycles:,.0f} cycles ({ms:.3f} ms), {self.events:,} events",
                 "", f"hottest {min(top, len(self.layers))} layers:"]
        w = max([len(x["name"]) for x in self.layers[:top]] + [5])
        for x in self.layers[:top]:
            st = max(x["stalls"].items(), key=lambda kv: kv[1], default=("", 0))
            extra = f"  most stalled on {st[0]} ({100 * st[1] / x['cycles']:.0f}%)" if st[0] and x["cycles"] else ""
            lines.append(f"  {x['name']:<{w}}  {x['op']:<6} {x['cycles']:>12,.0f} cycles {100 * x['cycles'] / tot:5.1f}%"
                         + extra)
        lines += ["", "stall reasons (PE array):"]
        for k, v in sorted(self.stalls.items(), key=lambda kv: -kv[1]):
            lines.append(f"  {k:<20} {v:>12,.0f} cycles {100 * v / tot:5.1f}%")
        if not self.stalls:
            lines.append("  none")
        lines += ["", "busy time per track:"]
        for k, v in self.tracks.items():
            lines.append(f"  {k:<10} {v:>12,.0f} cycles {100 * v / tot:5.1f}%")
        return "\n".join(lines)


def summarize(path: str | Path, top: int | None = None) -> TraceSummary:
    p = Path(path)
    try:
        doc = json.loads(p.read_text())
    except FileNotFoundError:
        raise TraceError(f"trace {p}: no such file; write one with 'ovl sim ... --trace {p}'") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TraceError(f"trace {p}: not valid JSON ({exc})") from None
    events = validate_events(doc, f"trace {p}")
    other = doc.get("otherData", {}) if isinstance(doc, dict) else {}
    names = {e["tid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    layers: dict[str, dict[str, Any]] = {}
    stalls: dict[str, float] = {}
    tracks: dict[str, float] = {}
    for e in events:
        if e["ph"] != "X":
            continue
        track = names.get(e["tid"], str(e["tid"]))
        cyc = float(e.get("args", {}).get("cycles", 0.0))
        if track != "layers":
            tracks[track] = tracks.get(track, 0.0) + cyc
        if e.get("cat") == "layer":
            x = layers.setdefault(e["name"], {"name": e["name"], "op": e["args"].get("op", ""), "cycles": 0.0,
                                              "macs": 0, "stalls": {}})
            x["cycles"] += cyc
            x["macs"] += int(e["args"].get("macs", 0))
        elif e.get("cat") == "stall":
            reason = e["args"].get("reason", e["name"])
            stalls[reason] = stalls.get(reason, 0.0) + cyc
            layer = e["args"].get("layer")
            if layer:
                x = layers.setdefault(layer, {"name": layer, "op": "", "cycles": 0.0, "macs": 0, "stalls": {}})
                x["stalls"][reason] = x["stalls"].get(reason, 0.0) + cyc
    total = float(other.get("total_cycles") or sum(x["cycles"] for x in layers.values()))
    ranked = sorted(layers.values(), key=lambda x: -x["cycles"])
    for x in ranked:
        x["share"] = x["cycles"] / total if total else 0.0
    return TraceSummary(str(other.get("arch", "?")), total, float(other.get("clock_hz", 0.0)),
                        ranked[:top] if top else ranked, stalls, tracks, len(events))
