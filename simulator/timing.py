"""Cycle-approximate timing of a compiled program (phase 2 of the cycle model: service of the demands).

Each bundle's demand (`simulator.demand`) is serviced in program order by the kernels and one shared DDR
channel:

- config network: the config reader fetches a bundle's packets from DDR and pushes one packet per cycle along
  the chain; kernels buffer up to `config_network.fifo_depth` words, so delivery runs up to
  `fifo_depth // (most words one module takes per bundle)` bundles ahead of execution.
- feature reader: fills stream-buffer regions from DDR as soon as its config has arrived, the reader is free,
  no running bundle still reads or writes the region it fills (this is the double buffering: the compiler
  alternates regions), and, with `cfg.wait`, every earlier write is complete.
- filter reader: loads a chunk into the cache half that no running bundle reads (double buffering when
  `filter_cache.double_buffered`), at DDR speed and at most one entry per PE per cycle.
- PE array: starts when its input and operand tiles, its filter half and every stream-buffer tile it reads
  are complete and the previous bundle has left the PE array; it then streams for `max(PE, aux kernels,
  writer)` cycles plus the pipeline latency; DDR writes share the channel and can hold the PE back.
- DDR: `ddr_bytes_per_cycle` sustained; transfers split into bursts that fill idle channel time from their
  ready time on, in issue order (`DDRChannel`); reads see `ddr_latency_cycles` before data arrives.
- host partitions: a barrier (all earlier writes complete) taking zero overlay time, as Intel's estimator
  assumes for CPU parts; they are counted and reported.

Every cycle of the PE array's timeline is accounted for: a bundle's span (from the previous bundle leaving the
PE array to this one leaving it) is busy cycles plus stalls, each stall attributed to one reason (input,
filters, config, dependency, host, output backpressure by a named kernel or by DDR writes, final drain).
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from simulator.demand import Demand, program_demands

INF = float("inf")


class DDRChannel:
    """A single DDR channel of `bytes_per_cycle` sustained bandwidth shared by every reader and the writer.

    `reserve(ready, nbytes)` books the transfer into the channel's idle time from `ready` on (splitting it into
    bursts around earlier bookings) and returns (first burst start, last burst end)."""

    def __init__(self, bytes_per_cycle: float):
        self.bpc = bytes_per_cycle
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.busy_cycles = 0.0

    def reserve(self, ready: float, nbytes: float) -> tuple[float, float, list[tuple[float, float]]]:
        if nbytes <= 0:
            return ready, ready, []
        need = nbytes / self.bpc
        self.busy_cycles += need
        segs: list[tuple[float, float]] = []
        t = ready
        i = bisect.bisect_right(self.ends, t)
        while need > 1e-12:
            if i < len(self.starts) and self.starts[i] <= t:
                t = max(t, self.ends[i])
                i += 1
                continue
            gap_end = self.starts[i] if i < len(self.starts) else INF
            take = min(gap_end - t, need)
            if take > 1e-12:
                segs.append((t, t + take))
                need -= take
            t = t + take
        for s, e in segs:
            self._insert(s, e)
        return segs[0][0], segs[-1][1], segs

    def _insert(self, s: float, e: float) -> None:
        i = bisect.bisect_left(self.starts, s)
        if i > 0 and self.ends[i - 1] >= s - 1e-9:
            i -= 1
            s = self.starts[i]
            e = max(e, self.ends[i])
            del self.starts[i], self.ends[i]
        while i < len(self.starts) and self.starts[i] <= e + 1e-9:
            e = max(e, self.ends[i])
            del self.starts[i], self.ends[i]
        self.starts.insert(i, s)
        self.ends.insert(i, e)

    def prune(self, before: float) -> None:
        """Forget bookings that end before `before` (no later request can be ready earlier)."""
        k = bisect.bisect_left(self.ends, before)
        if k:
            del self.starts[:k], self.ends[:k]


@dataclass
class Event:
    """One interval on a kernel's track (for traces)."""

    track: str
    name: str
    start: float
    end: float
    args: dict = field(default_factory=dict)


@dataclass
class BundleTiming:
    index: int
    layer: str
    kind: str
    start: float = 0.0            # PE array starts (or the loads complete, for a bundle without PE work)
    compute_end: float = 0.0      # PE array done with its own work
    release: float = 0.0          # the bundle leaves the PE array (output backpressure included)
    done: float = 0.0             # last write complete
    span: float = 0.0             # cycles of the PE timeline attributed to this bundle
    busy: float = 0.0             # PE-array busy cycles within the span
    stalls: dict[str, float] = field(default_factory=dict)        # reason -> cycles (span = busy + stalls)
    waits: dict[str, float] = field(default_factory=dict)         # kernel.reason -> cycles (off the PE timeline)
    events: list[Event] = field(default_factory=list)


@dataclass
class Timeline:
    arch: object
    demands: list[Demand]
    bundles: list[BundleTiming]
    total_cycles: float
    ddr_busy_cycles: float
    host_partitions: int

    @property
    def seconds(self) -> float:
        return self.total_cycles / self.arch.clock_hz


def _overlaps(ranges: list[tuple[int, int]], lo: int, hi: int) -> bool:
    return any(a < hi and lo < b for a, b in ranges)


def simulate_timing(program, demands: list[Demand] | None = None, *, events: bool = True) -> Timeline:
    """Service every bundle's demand; returns per-bundle timings, stall attribution and trace events."""
    arch = program.arch
    demands = program_demands(program) if demands is None else demands
    lat = arch.ddr_latency_cycles
    ddr = DDRChannel(arch.ddr_bytes_per_cycle)
    fifo = arch.config_network.fifo_depth
    ahead = max(1, fifo // max([d.cfg_words_max for d in demands] or [1]))
    hosts: dict[int, int] = {}
    for h in program.host:
        hosts[h.position] = hosts.get(h.position, 0) + 1

    cfg_free = reader_free = wreader_free = pe_free = writer_free = 0.0
    bank_ready = [0.0, 0.0]
    bank_release = [0.0, 0.0]
    writes_done = 0.0             # all writes so far complete
    barrier = 0.0
    frontier = 0.0
    starts: list[float] = []
    sb_use: list[tuple[int, int, float]] = []        # regions read/written by issued bundles, free at time
    sb_written: list[tuple[int, int, float]] = []    # regions written by fwrite.sb_en, complete at time
    out: list[BundleTiming] = []

    for i, d in enumerate(demands):
        bt = BundleTiming(d.index, d.layer, d.kind)
        ev = bt.events if events else None
        if hosts.get(i):
            barrier = max(barrier, writes_done)
        # --- config delivery
        c_ready = max(cfg_free, starts[i - ahead] if i >= ahead else 0.0)
        cs, ce, _ = ddr.reserve(c_ready, d.cfg_bytes)
        cfg_done = max(c_ready + d.cfg_packets, ce + lat)
        cfg_free = cfg_done
        if ev is not None:
            ev.append(Event("config", f"cfg {d.index}", c_ready, cfg_done, {"packets": d.cfg_packets}))
        # --- feature reader
        in_ready = cfg_done
        if d.read_fill:
            war = max([t for lo, hi, t in sb_use if any(lo < b and a < hi for a, b in d.read_fill)], default=0.0)
            r_ready = max(cfg_done, reader_free, barrier, war, writes_done if d.wait else 0.0)
            rs, re_, segs = ddr.reserve(r_ready, d.read_xfer)
            if rs > r_ready:
                bt.waits["fread.ddr_busy"] = rs - r_ready
            reader_free = re_
            in_ready = re_ + lat
            if ev is not None:
                ev.append(Event("fread", f"read {d.index}", r_ready, in_ready, {"bytes": d.read_bytes}))
                ev.extend(Event("ddr", f"read {d.index}", s, e, {"kind": "features"}) for s, e in segs)
        # --- filter reader
        if d.filt_en:
            b = d.filt_bank
            f_ready = max(cfg_done, wreader_free, bank_release[b], barrier)
            fs, fe, segs = ddr.reserve(f_ready, d.filt_xfer)
            if fs > f_ready:
                bt.waits["wread.ddr_busy"] = fs - f_ready
            wreader_free = fe
            bank_ready[b] = max(fe + lat, f_ready + d.filt_cache_cycles)
            if ev is not None:
                ev.append(Event("wread", f"filters {d.index}", f_ready, bank_ready[b],
                                {"bytes": d.filt_bytes, "bank": b}))
                ev.extend(Event("ddr", f"filters {d.index}", s, e, {"kind": "filters"}) for s, e in segs)
        # --- PE array and stream
        if d.pe_active:
            raw = max([t for lo, hi, t in sb_written if _overlaps(d.pe_reads, lo, hi)], default=0.0)
            terms = {"input": in_ready, "config": cfg_done, "dependency": raw, "host": barrier,
                     "previous": pe_free}
            if d.pe_bank >= 0:
                terms["filters"] = bank_ready[d.pe_bank]
            start = max(terms.values())
            gap = start - pe_free
            if gap > 1e-9:
                reason = max((k for k in terms if k != "previous"), key=lambda k: terms[k])
                bt.stalls[reason] = gap
            compute_end = start + d.pe_cycles
            fill = d.latency
            stream = d.stream_cycles
            release = start + stream
            done = start + fill + stream
            bound, _ = d.downstream
            if d.write_xfer:
                w_ready = max(start + fill, writer_free)
                ws, we, segs = ddr.reserve(w_ready, d.write_xfer)
                if ws > w_ready:
                    bt.waits["fwrite.ddr_busy"] = ws - w_ready
                if we - fill > release:
                    release, bound = we - fill, "ddr_write"
                done = max(done, we)
                if ev is not None:
                    ev.extend(Event("ddr", f"write {d.index}", s, e, {"kind": "features"}) for s, e in segs)
            if release > compute_end + 1e-9:
                bt.stalls[f"output.{bound}"] = release - compute_end
            writer_free = done
            pe_free = release
            writes_done = max(writes_done, done)
            if d.pe_bank >= 0:
                bank_release[d.pe_bank] = max(bank_release[d.pe_bank], release)
            sb_use.extend((lo, hi, release) for lo, hi in d.pe_reads)
            sb_use.extend((lo, hi, done) for lo, hi in d.write_sb)
            sb_written.extend((lo, hi, done) for lo, hi in d.write_sb)
            bt.start, bt.compute_end, bt.release, bt.done = start, compute_end, release, done
            bt.busy = float(d.pe_cycles)
            if ev is not None:
                ev.append(Event("pe", d.layer, start, compute_end,
                                {"bundle": d.index, "mode": d.pe_mode, "cycles": d.pe_cycles, "macs": d.macs}))
                for k, cyc in d.aux.items():
                    ev.append(Event(k, d.layer, start + 1, start + 1 + cyc, {"bundle": d.index, "cycles": cyc}))
                if d.writer_cycles:
                    ev.append(Event("fwrite", d.layer, start + fill, done,
                                    {"bundle": d.index, "bytes": d.write_bytes}))
            new_frontier = max(frontier, release)
        else:
            ready = max(in_ready, bank_ready[d.filt_bank] if d.filt_en else 0.0, cfg_done)
            bt.start = bt.compute_end = bt.release = bt.done = ready
            if ready > frontier:
                bt.stalls["load"] = ready - frontier
            new_frontier = max(frontier, ready)
        bt.span = new_frontier - frontier
        if bt.span < bt.busy + sum(bt.stalls.values()) - 1e-6:
            # the bundle overlapped an earlier one's tail: scale its stall shares into the span it added
            extra = bt.span - bt.busy
            tot = sum(bt.stalls.values())
            if extra <= 0:
                bt.busy, bt.stalls = bt.span, {}
            else:
                bt.stalls = {k: v * extra / tot for k, v in bt.stalls.items()}
        frontier = new_frontier
        starts.append(bt.start)
        out.append(bt)
        floor = min(reader_free, wreader_free, cfg_free, pe_free)
        ddr.prune(floor)
        sb_use = [u for u in sb_use if u[2] > reader_free]
        sb_written = [u for u in sb_written if u[2] > pe_free]

    if hosts.get(len(demands)):
        barrier = max(barrier, writes_done)
    total = max(writes_done, frontier, barrier)
    if out and total > frontier:
        out[-1].stalls["drain"] = out[-1].stalls.get("drain", 0.0) + total - frontier
        out[-1].span += total - frontier
    return Timeline(arch, demands, out, total, ddr.busy_cycles, len(program.host))
