"""Architecture optimiser (`ovl arch optimize`): search overlay parameters for one or more networks on a device.

    from hw_models.optimizer import NetworkCost, ArchSpace, Budget, optimize
    cost = NetworkCost(graph)                       # one network, many architectures
    cost.cycles(arch)                               # == simulator.estimate.estimate(graph, arch).cycles
    res = optimize([graph], base_arch, budget=Budget.parse("dsp=1200"), time_limit=60, seed=0)
    res.best.arch, res.front, res.rejections

Cost model. `NetworkCost` is the simulator's memoised fast estimate (`simulator.estimate`) with one more level
of memoisation: the compiler's planning (fusion, tiling, memory plan), which is 90% of an estimate's time, is
shared by every architecture with the same *planning key*, i.e. the same values of every field the compiler's
passes and lowering read (the precision only as its feature width and int8 flag). Fields they do not read (`PLAN_FREE_FIELDS`: clock, DDR timing, lanes, PE
interleaving, DSP limit, exit FIFO depth, auxiliary-kernel widths) vary without re-planning; each
architecture is costed from the shared plan by `simulator.estimate.estimate_planned`, so the result equals
`estimate(graph, arch).cycles` exactly (tests/hw_models/test_optimizer.py checks it on random architectures).

Search. `ArchSpace` lists the values of each searched parameter; a candidate is one value per parameter. The
optimiser starts from the base architecture and random candidates, then mutates the best and the Pareto front
(throughput against area) one or two parameters at a time. Every candidate is checked in this order and, when
rejected, the reason is recorded: the architecture's legality rules (`hw_models.arch.legality_errors`: the rule
and the legal values), the device (`hw_models.area`: resource, need, capacity), the `--budget` (resource, need,
limit), and host fallback (a disabled auxiliary kernel would send a model's nodes to the host CPU, whose time the
estimate does not count). It stops at the time limit, at `max_candidates`, or when the space is exhausted.
With `workers` > 1 worker processes estimate the candidates the search is about to visit (`_EvalPool`); the
search visits the same candidates with the same results as with one process.
docs/optimizer.md has the derivations and the GoogLeNet result.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from compiler.errors import ArchError, UserError
from compiler.ir import Graph
from compiler.memo import Memo
from hw_models.arch import Arch, arch_from_dict, devices, legality_errors, load_arch

# --- one network on many architectures ------------------------------------------------------------------------
#: Architecture fields that no compiler pass or lowering step reads (checked by grep and by the equality test);
#: architectures differing only in these share one compiler plan.
PLAN_FREE_FIELDS = ("name", "description", "notes", "clock_mhz", "ddr.bandwidth_gbs", "ddr.latency_ns",
                    "ddr.efficiency", "pe_array.lanes", "pe_array.interleave_features",
                    "pe_array.interleave_filters", "pe_array.dsp_limit", "pe_array.exit_fifo_depth",
                    "aux.*.k_vector")


def planning_key(arch: Arch) -> str:
    """JSON of the architecture without `PLAN_FREE_FIELDS`, its precision reduced to what planning reads: equal
    keys give equal compiler plans.

    The compiler's planning reads the precision only through the feature width (the tiler's raw partial-sum words
    per entry, the memory plan's tensor sizes) and whether it is int8 (int8-only operator support); the filter
    format enters the estimate's chunk sizes, which are costed per architecture. So bfp16, bfp11 and fp16
    architectures that agree elsewhere share one plan (tests/hw_models/test_optimizer_speed.py)."""
    d = arch.model_dump(mode="json")
    d["precision"] = [arch.precision_info.feature_bits, arch.precision == "int8"]
    for f in PLAN_FREE_FIELDS:
        *path, leaf = f.split(".")
        targets = [d]
        for p in path:
            targets = [t[k] for t in targets for k in (t if p == "*" else [p])]
        for t in targets:
            t.pop(leaf, None)
    return json.dumps(d, sort_keys=True)


def _plan_weight(planned) -> int:
    """A memoised plan's weight in `NetworkCost`'s bound: its groups plus their tiles (1 for the lanes marker)."""
    if planned is _BY_LANES:
        return 1
    return len(planned[4]) + sum(len(tp.tiles) for tp in planned[4].values())


# Memo value under a planning key whose plans depend on pe_array.lanes: with several images per group (batch > 1,
# or an LSTM's hoisted input projection) the tiler picks the images per tile by PE positions, which read the lanes.
# Such plans are memoised under the planning key plus the lanes.
_BY_LANES = "plans of this key depend on pe_array.lanes"


def _lanes_sensitive(planned) -> bool:
    return any(tp.lanes_sensitive for tp in planned[4].values())


class NetworkCost:
    """Latency of one graph on many architectures, equal to `simulator.estimate.estimate(graph, arch).cycles`
    (with the same `on_chip`: the memory plan's stream-buffer hand-over, part of the plan, costed by default).

    Compiler plans (`simulator.estimate.plan_graph`) are memoised per planning key (at most `max_plans`, and at
    most `max_plan_tiles` tiles in all of them: a plan's memory grows with its tiles, thousands for large images;
    least recently used dropped: a `compiler.memo.Memo`; `plan_count`, `plan_tiles`, `has_plan` and `plan_weights`
    read it); each architecture is then costed from its plan by
    `simulator.estimate.estimate_planned` (`cycles_planned` for the total alone; tile costs from the simulator's
    group memo). `host_partitions(arch)` counts the partitions the compiler sends
    to the host, `host_reasons(arch)` gives the compiler's reason for each host node.
    """

    def __init__(self, graph: Graph, *, opt_level: int = 2, name: str | None = None, max_plans: int = 512,
                 max_plan_tiles: int = 1 << 20, on_chip: bool = True):
        self.graph = graph
        self.opt_level = opt_level
        self.on_chip = on_chip
        self.name = name or graph.name
        from compiler.compile import graph_batch

        self.batch = graph_batch(graph)     # images (or sequences) per inference, for throughput
        self._plans = Memo(max_plans, max_weight=max_plan_tiles, weigh=_plan_weight)
        self.plans_made = 0
        self.plan_seconds = 0.0

    @property
    def max_plans(self) -> int:
        return self._plans.size

    @property
    def max_plan_tiles(self) -> int:
        return self._plans.max_weight

    @property
    def plan_count(self) -> int:
        """Compiler plans memoised now."""
        return len(self._plans)

    @property
    def plan_tiles(self) -> int:
        """Tiles (and groups) held by the memoised plans, the weight bounded by `max_plan_tiles`."""
        return self._plans.weight

    def has_plan(self, key: str) -> bool:
        """Whether the plan of planning key `key` (`planning_key(arch)`) is memoised (a read: recency unchanged);
        for a key whose plans depend on the lanes (batch > 1) whether that is known, its plans being per lanes."""
        return key in self._plans

    def plan_weights(self) -> dict[str, int]:
        """Planning key -> tiles (and groups) of each memoised plan, least recently used first (a copy)."""
        return {k: self._plans.weights[k] for k in self._plans.data}

    def _plan(self, arch: Arch):
        key = planning_key(arch)
        hit = self._plans.peek(key)
        if hit is _BY_LANES:
            return self._plans.get(f"{key}|lanes={arch.pe_array.lanes}", lambda: self._make_plan(arch))
        if hit is not None:
            return hit
        p = self._make_plan(arch)
        if _lanes_sensitive(p):
            self._plans.put(key, _BY_LANES)
            key = f"{key}|lanes={arch.pe_array.lanes}"
        self._plans.put(key, p)
        return p

    def _make_plan(self, arch: Arch):
        from simulator.estimate import plan_graph

        t0 = time.perf_counter()
        p = plan_graph(self.graph, arch, self.opt_level, self.on_chip)
        self.plans_made += 1
        self.plan_seconds += time.perf_counter() - t0
        return p

    def host_partitions(self, arch: Arch) -> int:
        return sum(1 for u in self._plan(arch)[2].units if u.kind == "host")

    def host_reasons(self, arch: Arch) -> tuple[str, ...]:
        """The compiler's reason for every node it sends to the host under `arch`."""
        plan = self._plan(arch)[1]
        return tuple(r for part in plan.host or () for r in part.reasons.values())

    def estimate(self, arch: Arch):
        """The full `simulator.estimate.Estimate` (per-layer costs) from the shared plan."""
        from simulator.estimate import estimate_planned

        return estimate_planned(self._plan(arch), arch, network=self.name, batch=self.batch)

    def cycles(self, arch: Arch) -> float:
        """Cycles of one inference (the batch of the graph's input), as `simulator.estimate.estimate`."""
        from simulator.estimate import cycles_planned

        return float(cycles_planned(self._plan(arch), arch))

    def seconds(self, arch: Arch) -> float:
        return self.cycles(arch) / arch.clock_hz


# --- area -------------------------------------------------------------------------------------------------------
AREA_RESOURCES = ("alms", "dsps", "mem_blocks")


def area_fraction(arch: Arch) -> float:
    """The area objective: the mean fraction of the device's ALMs, DSP blocks and block RAMs the overlay uses
    (`hw_models.area.estimate_area`). A device-relative stand-in for silicon area: no per-resource mm2 figures
    for Arria 10 are published."""
    from hw_models.area import estimate_area

    u = estimate_area(arch).utilisation()
    return float(sum(u[r] for r in AREA_RESOURCES) / len(AREA_RESOURCES))


@dataclass(frozen=True)
class Budget:
    """Resource limits below the device's capacity (None: the device's)."""

    alms: int | None = None
    dsps: int | None = None
    mem_blocks: int | None = None

    _KEYS = {"alm": "alms", "alms": "alms", "dsp": "dsps", "dsps": "dsps", "m20k": "mem_blocks",
             "m20ks": "mem_blocks", "m10k": "mem_blocks", "bram": "mem_blocks", "mem": "mem_blocks",
             "mem_blocks": "mem_blocks"}

    @classmethod
    def parse(cls, text: str | None, device: str) -> "Budget":
        """`dsp=1200,alm=300000,m20k=2000`; a value may be a percentage of the device (`dsp=80%`)."""
        if not text:
            return cls()
        dev = devices()[device]
        cap = {"alms": dev.alms, "dsps": dev.dsps, "mem_blocks": dev.memory_blocks}
        out: dict[str, int] = {}
        for part in text.split(","):
            key, sep, val = part.partition("=")
            field_name = cls._KEYS.get(key.strip().lower())
            if not sep or field_name is None:
                raise UserError(f"--budget '{part}': expected RESOURCE=VALUE with RESOURCE one of dsp, alm, m20k "
                                "(e.g. --budget dsp=1200,m20k=2000 or dsp=80%)")
            val = val.strip()
            try:
                n = cap[field_name] * float(val[:-1]) / 100 if val.endswith("%") else float(val)
            except ValueError:
                raise UserError(f"--budget '{part}': '{val}' is not a number or percentage") from None
            if not n > 0:
                raise UserError(f"--budget '{part}': the limit must be positive")
            out[field_name] = int(n)
        return cls(**out)

    def overflows(self, report) -> list[tuple[str, str]]:
        """(category, message) per resource over the budget."""
        out = []
        mem = f"{report.mem_kind.upper()} blocks"
        for r, label in (("alms", "ALMs"), ("dsps", "DSP blocks"), ("mem_blocks", mem)):
            lim = getattr(self, r)
            need = getattr(report.total, r)
            if lim is not None and need > lim:
                out.append((f"over budget: {label}", f"{label}: need {need:,}, budget {lim:,}"))
        return out

    def describe(self) -> str:
        parts = [f"{k}={v:,}" for k, v in (("alm", self.alms), ("dsp", self.dsps), ("m20k", self.mem_blocks))
                 if v is not None]
        return ", ".join(parts) if parts else "the whole device"


# --- the search space -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Param:
    """One searched parameter: the dotted fields it sets together and the values it takes, in order (a mutation
    moves to a neighbouring value)."""

    name: str
    keys: tuple[str, ...]
    values: tuple[tuple[Any, ...], ...]

    def label(self, i: int) -> str:
        v = self.values[i]
        return str(v[0]) if len(v) == 1 else "/".join(str(x) for x in v)


PE_MODES = ((False, 1), (False, 2), (True, 2), (True, 4), (True, 6))   # (winograd, q_vector)
AUX_SEARCHED = ("activation", "pool", "lrn", "eltwise")
AUX_OPTIONAL = ("pool", "lrn", "softmax", "depth_to_space")


@dataclass(frozen=True)
class ArchSpace:
    """Base architecture plus the searched parameters; a candidate is a tuple of value indices."""

    base: Arch
    params: tuple[Param, ...]

    @classmethod
    def default(cls, base: Arch, *, precisions: Sequence[str] | None = None) -> "ArchSpace":
        """The optimiser's default space around `base` (device, clock, DDR and the parameters not listed kept)."""
        combos = tuple(tuple(c) for c in devices()[base.device].interleave)
        ks = (8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256)
        params = [
            Param("precision", ("precision",), tuple((p,) for p in (precisions or (base.precision,)))),
            Param("c_vector", ("pe_array.c_vector",), ((4,), (8,), (16,), (32,), (64,))),
            Param("k_vector", ("pe_array.k_vector",), tuple((k,) for k in ks)),
            Param("lanes", ("pe_array.lanes",), ((1,), (2,), (4,))),
            Param("pe_mode", ("pe_array.winograd", "pe_array.q_vector"), PE_MODES),
            Param("interleave", ("pe_array.interleave_features", "pe_array.interleave_filters"), combos),
            Param("stream_buffer", ("stream_buffer.depth",), tuple((1 << e,) for e in range(11, 18))),
            Param("filter_cache", ("filter_cache.depth",), ((128,), (256,), (512,), (1024,), (2048,), (4096,))),
        ]
        params += [Param(f"aux.{a}.k_vector", (f"aux.{a}.k_vector",), ((4,), (8,), (16,), (32,), (64,)))
                   for a in AUX_SEARCHED]
        params += [Param(f"aux.{a}.enabled", (f"aux.{a}.enabled",), ((True,), (False,))) for a in AUX_OPTIONAL]
        return cls(base, tuple(params))

    @property
    def size(self) -> int:
        return math.prod(len(p.values) for p in self.params)

    def changes(self, genome: Sequence[int]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for p, i in zip(self.params, genome):
            out.update(zip(p.keys, p.values[i]))
        return out

    def nearest(self, arch: Arch) -> tuple[int, ...]:
        """The candidate closest to `arch` (exact where its values are in the space)."""
        d = arch.model_dump()
        genome = []
        for p in self.params:
            cur = tuple(_get(d, k) for k in p.keys)
            dist = [sum(0 if a == b else (abs(a - b) / max(abs(a), abs(b), 1) if isinstance(a, (int, float))
                                          and not isinstance(a, bool) else 1) for a, b in zip(cur, v))
                    for v in p.values]
            genome.append(int(np.argmin(dist)))
        return tuple(genome)

    def random(self, rng: np.random.Generator) -> tuple[int, ...]:
        return tuple(int(rng.integers(len(p.values))) for p in self.params)

    def plan_free(self) -> tuple[int, ...]:
        """Indices of the parameters that set only `PLAN_FREE_FIELDS` (no re-planning when they change)."""
        def free(key: str) -> bool:
            return key in PLAN_FREE_FIELDS or (key.startswith("aux.") and key.endswith(".k_vector"))
        return tuple(i for i, p in enumerate(self.params) if all(free(k) for k in p.keys))

    def mutate(self, genome: Sequence[int], rng: np.random.Generator, n: int = 1,
               only: Sequence[int] | None = None) -> tuple[int, ...]:
        g = list(genome)
        movable = [i for i, p in enumerate(self.params) if len(p.values) > 1 and (only is None or i in only)]
        for i in rng.choice(movable, size=min(n, len(movable)), replace=False):
            m = len(self.params[i].values)
            if rng.random() < 0.7:
                g[i] = int(np.clip(g[i] + (1 if rng.random() < 0.5 else -1), 0, m - 1))
            else:
                g[i] = int(rng.integers(m))
        return tuple(g)

    def describe(self, genome: Sequence[int]) -> dict[str, str]:
        return {p.name: p.label(i) for p, i in zip(self.params, genome)}


def _get(d: dict, dotted: str) -> Any:
    for k in dotted.split("."):
        d = d[k]
    return d


def _set(d: dict, dotted: str, value: Any) -> None:
    *path, leaf = dotted.split(".")
    for k in path:
        d = d[k]
    d[leaf] = value


# --- evaluation ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Evaluated:
    """One candidate: `status` ok | rejected; `category` and `reason` say why a rejected one was rejected."""

    genome: tuple[int, ...]
    status: str
    arch: Arch | None = None
    fps: tuple[float, ...] = ()
    throughput: float = 0.0          # geometric mean of the models' inferences per second
    area: float = 0.0                # area_fraction
    resources: dict[str, int] = field(default_factory=dict)
    category: str = ""
    reason: str = ""

    @property
    def perf_per_area(self) -> float:
        return self.throughput / self.area if self.area else 0.0

    def objective(self, kind: str) -> float:
        return self.throughput if kind == "throughput" else self.perf_per_area


OBJECTIVES = ("throughput", "perf-per-area")


class Evaluator:
    """Checks and estimates candidates of an `ArchSpace` against a list of networks within a budget."""

    def __init__(self, space: ArchSpace, graphs: Sequence[Graph], budget: Budget = Budget(), *, opt_level: int = 2,
                 _base_checks: tuple[list[int], dict[str, str]] | None = None):
        self.space = space
        self.costs = [NetworkCost(g, opt_level=opt_level) for g in graphs]
        self.budget = budget
        self.batches = [c.batch for c in self.costs]
        self.opt_level = opt_level
        if _base_checks is not None:       # a worker process: the parent found them already
            self._host_base, self.required = _base_checks
            return
        full = space.base.model_dump()
        for a in AUX_OPTIONAL:
            full["aux"][a]["enabled"] = True
        full = arch_from_dict(full, "base with every auxiliary kernel")
        self._host_base = [c.host_partitions(full) for c in self.costs]
        # auxiliary kernels a network needs: disabling one alone sends nodes to the host (checked once here, so
        # candidates without it are rejected before any planning; the plan of every estimated candidate is
        # checked again below)
        self.required: dict[str, str] = {}
        for a in AUX_OPTIONAL:
            one = full.with_changes(**{f"aux.{a}.enabled": False})
            for c, h0 in zip(self.costs, self._host_base):
                if c.host_partitions(one) > h0:
                    reason = next(iter(set(c.host_reasons(one)) - set(c.host_reasons(full))), "")
                    self.required[a] = f"{c.name} needs aux.{a}: {reason}".rstrip(": ")
                    break

    def build(self, genome: Sequence[int]) -> Arch | Evaluated:
        d = self.space.base.model_dump()
        for k, v in self.space.changes(genome).items():
            _set(d, k, v)
        d["name"] = "candidate"
        try:
            return arch_from_dict(d, "candidate")
        except ArchError as exc:
            msg = str(exc).removeprefix("architecture candidate: ")
            first = msg.split(" | ")[0].split(";")[0]
            fld = first.split(" = ")[0].strip()
            rule = first.split(": ", 1)[1].split(";")[0] if ": " in first else ""
            rule = rule.split(" (")[0] if rule.startswith("must") else "value not legal"
            return Evaluated(tuple(genome), "rejected", category=f"illegal: {fld} {rule}", reason=msg)

    def __call__(self, genome: Sequence[int]) -> Evaluated:
        pre = self.precheck(genome)
        if isinstance(pre, Evaluated):
            return pre
        return self.complete(pre, self.network_outcome(pre.arch))

    def precheck(self, genome: Sequence[int]) -> "Evaluated | _Fits":
        """The checks that need no compiler plan (legality, device, budget, required aux kernels): the rejection,
        or the candidate's architecture and area for `network_outcome`."""
        from hw_models.area import estimate_area

        genome = tuple(genome)
        arch = self.build(genome)
        if isinstance(arch, Evaluated):
            return arch
        rep = estimate_area(arch)
        res = {r: int(getattr(rep.total, r)) for r in ("alms", "dsps", "mem_blocks", "registers")}
        over = rep.overflows()
        if over:
            cat = "does not fit the device: " + ", ".join(o.split(":")[0] for o in over)
            return Evaluated(genome, "rejected", arch, resources=res, category=cat, reason="; ".join(over))
        budget = self.budget.overflows(rep)
        if budget:
            return Evaluated(genome, "rejected", arch, resources=res,
                             category=", ".join(c for c, _ in budget), reason="; ".join(m for _, m in budget))
        for a, why in self.required.items():
            if not getattr(arch.aux, a).enabled:
                return Evaluated(genome, "rejected", arch, resources=res, category=f"host fallback: aux.{a} disabled",
                                 reason=f"{why} (the estimate does not count host time)")
        u = rep.utilisation()
        return _Fits(genome, arch, res, float(sum(u[r] for r in AREA_RESOURCES) / len(AREA_RESOURCES)))

    def network_outcome(self, arch: Arch) -> tuple:
        """The planned part of a candidate that passed `precheck`: ("host", reason) when a model would send nodes
        to the host, else ("ok", fps per model). A pure function of the architecture (what the worker processes
        of `optimize(workers=N)` compute)."""
        for c, h0 in zip(self.costs, self._host_base):
            if c.host_partitions(arch) > h0:
                why = sorted(set(c.host_reasons(arch)))
                return "host", f"{c.name}: {'; '.join(why)} (the estimate does not count host time)"
        return "ok", tuple(b / c.seconds(arch) for c, b in zip(self.costs, self.batches))

    @staticmethod
    def complete(pre: "_Fits", outcome: tuple) -> Evaluated:
        status, value = outcome
        if status == "host":
            return Evaluated(pre.genome, "rejected", pre.arch, resources=pre.resources, category="host fallback",
                             reason=value)
        thr = float(np.exp(np.mean(np.log(value))))
        return Evaluated(pre.genome, "ok", pre.arch, value, thr, pre.area, pre.resources)

    def planning_key(self, genome: Sequence[int]) -> str | None:
        arch = self.build(genome)
        return None if isinstance(arch, Evaluated) else planning_key(arch)


@dataclass(frozen=True)
class _Fits:
    """A candidate that passed `Evaluator.precheck`: its architecture, resources and area fraction."""

    genome: tuple[int, ...]
    arch: Arch
    resources: dict[str, int]
    area: float


def _overflow(e: Evaluated, ev: Evaluator) -> float:
    """How far a rejected candidate is from fitting: its largest need / limit over the resources."""
    dev = e.arch.device_info
    lim = {"alms": ev.budget.alms or dev.alms, "dsps": ev.budget.dsps or dev.dsps,
           "mem_blocks": ev.budget.mem_blocks or dev.memory_blocks}
    return max(e.resources.get(r, 0) / lim[r] for r in lim) if e.resources else math.inf


# --- Pareto front ----------------------------------------------------------------------------------------------
def pareto_front(points: Sequence[Evaluated]) -> list[Evaluated]:
    """Candidates not dominated in (throughput max, area min), by increasing area."""
    pts = sorted(points, key=lambda e: (e.area, -e.throughput))
    out: list[Evaluated] = []
    best = -math.inf
    for e in pts:
        if e.throughput > best:
            out.append(e)
            best = e.throughput
    return out


# --- the optimiser -----------------------------------------------------------------------------------------------
@dataclass
class OptimizeResult:
    best: Evaluated | None
    base: Evaluated
    front: list[Evaluated]
    evaluated: int                  # candidates estimated against the networks
    considered: int                 # evaluated + rejected
    rejections: dict[str, list]     # category -> [count, example reason, example candidate]
    seconds: float
    cpu_seconds: float
    stop_reason: str
    plans: int
    objective: str
    space: ArchSpace
    models: tuple[str, ...]
    history: list[tuple[int, float]] = field(default_factory=list)   # (considered, best objective) improvements
    workers: int = 1
    worker_cpu_seconds: float = 0.0   # CPU of the worker processes (workers > 1), besides `cpu_seconds`
    speculated: tuple[int, int] = (0, 0)   # (candidates sent to workers, of which the search used)

    def to_json(self) -> dict[str, Any]:
        def ev(e: Evaluated | None) -> dict[str, Any] | None:
            if e is None:
                return None
            return {"parameters": self.space.describe(e.genome), "fps": dict(zip(self.models, e.fps)),
                    "throughput": e.throughput, "area": e.area, "perf_per_area": e.perf_per_area,
                    "resources": e.resources}
        return {"objective": self.objective, "models": list(self.models), "best": ev(self.best), "base": ev(self.base),
                "front": [ev(e) for e in self.front], "evaluated": self.evaluated, "considered": self.considered,
                "rejections": {k: {"count": v[0], "example": v[1]} for k, v in self.rejections.items()},
                "seconds": self.seconds, "cpu_seconds": self.cpu_seconds, "stop_reason": self.stop_reason,
                "plans": self.plans, "space_size": self.space.size}


def optimize(graphs: Sequence[Graph], base: Arch, *, budget: Budget = Budget(), objective: str = "throughput",
             time_limit: float = 60.0, max_candidates: int | None = None, seed: int = 0,
             precisions: Sequence[str] | None = None, space: ArchSpace | None = None, initial: int = 32,
             inner: int = 6, progress: Callable[[int, int, float], None] | None = None, opt_level: int = 2,
             workers: int = 1) -> OptimizeResult:
    """Search `space` (default `ArchSpace.default(base)`) for the best architecture for `graphs`.

    Each newly planned structure (a new planning key) is followed by `inner` variants that change only
    plan-free parameters (lanes, interleaving, aux widths), which cost a few milliseconds instead of a plan.
    Stops at `time_limit` seconds (checked between candidates; one candidate costs at most one compiler plan per
    network, well under a second), after `max_candidates` candidates, or when every candidate was seen. With
    `max_candidates` reached before the time limit the result depends only on `seed`, not on `workers`.

    `workers` > 1 estimates candidates in that many worker processes (`_EvalPool`): the search itself runs
    unchanged in this process, which proposes the candidates it will visit next (the same proposals, replayed on
    a copy of the random generator, assuming the ones in flight change nothing) so the workers estimate them
    ahead; a candidate is a pure function of its parameters, so the search visits the same candidates with the
    same results as with one process. Only `plans` differs (each worker plans for itself).
    """
    if objective not in OBJECTIVES:
        raise UserError(f"--objective {objective!r}: choose {' or '.join(OBJECTIVES)}")
    if not graphs:
        raise UserError("give at least one model (--model)")
    if time_limit <= 0:
        raise UserError(f"--time-limit {time_limit}: give a positive number of seconds")
    if workers < 1:
        raise UserError(f"--workers {workers}: give 1 or more processes")
    t0, c0 = time.perf_counter(), time.process_time()
    space = space or ArchSpace.default(base, precisions=precisions)
    ev = Evaluator(space, graphs, budget, opt_level=opt_level)
    rng = np.random.default_rng(seed)
    seen: dict[tuple[int, ...], Evaluated] = {}
    ok: list[Evaluated] = []
    rejections: dict[str, list] = {}
    history: list[tuple[int, float]] = []
    best: Evaluated | None = None
    base_genome = space.nearest(base)
    queue = [base_genome] + [space.mutate(base_genome, rng, n=2 + int(rng.integers(3))) if k % 2 else
                             space.random(rng) for k in range(initial)]
    cheap = space.plan_free()
    keys_seen: set[str] = set()
    top: list[Evaluated] = []          # the 8 best by the objective
    legal: list[Evaluated] = []        # legal but rejected candidates, while none is accepted
    front: list[Evaluated] = []        # non-dominated (throughput, area), by area
    stop = "space exhausted"
    dup_run = 0
    limit = max_candidates if max_candidates is not None else math.inf

    def score(e: Evaluated) -> float:
        return e.objective(objective)

    def propose(queue: list, rng: np.random.Generator) -> tuple[int, ...]:
        if queue:
            return queue.pop(0)
        if not ok:     # nothing accepted yet: shrink the legal candidate that overflowed least
            if not legal or rng.random() < 0.2:
                return space.random(rng)
            parent = min(legal[-64:], key=lambda e: _overflow(e, ev))
            return space.mutate(parent.genome, rng, n=1 + int(rng.integers(2)))
        if rng.random() < 0.1:
            return space.random(rng)
        if rng.random() < 0.3:
            parent = front[int(rng.integers(len(front)))]
        else:
            parent = top[int(rng.integers(len(top)))]
        return space.mutate(parent.genome, rng, n=1 if rng.random() < 0.6 else 2)

    def plan_free_variants(g: tuple[int, ...], r: np.random.Generator) -> list[tuple[int, ...]]:
        """Variants of `g` that reuse its compiler plan, queued when `g` brings a new planning key."""
        return [space.mutate(g, r, n=1 + int(r.integers(2)), only=cheap) for _ in range(inner)]

    def upcoming(g0: tuple[int, ...], count: int) -> list[tuple[int, ...]]:
        """The `count` new candidates the loop below will propose after `g0`, replayed on copies of the queue and
        the random generator, assuming that every candidate passing the cheap checks is accepted without entering
        the best or the front: one with a new planning key queues its plan-free variants, as the loop does."""
        q, r, run = list(queue), copy.deepcopy(rng), dup_run
        keys: set[str] = set()

        def accept(g: tuple[int, ...]) -> None:
            key = pool.key(g)
            if key is not None and cheap and key not in keys_seen and key not in keys:
                keys.add(key)
                q.extend(plan_free_variants(g, r))

        accept(g0)
        out: list[tuple[int, ...]] = []
        taken: set[tuple[int, ...]] = {g0}
        for _ in range(8 * count):
            if len(out) >= count or len(seen) + len(out) >= min(limit, space.size):
                break
            g = propose(q, r)
            if g in seen or g in taken:
                run += 1
                if run > 2000:
                    q.append(space.random(r))
                continue
            run = 0
            taken.add(g)
            out.append(g)
            accept(g)
        return out

    pool = _EvalPool(ev, workers) if workers > 1 else None
    try:
        while True:
            if len(seen) >= limit:
                stop = f"max candidates ({max_candidates:,}) reached"
                break
            if time.perf_counter() - t0 >= time_limit:
                stop = f"time limit ({time_limit:g} s) reached"
                break
            if len(seen) >= space.size:
                break
            g = propose(queue, rng)
            if g in seen:
                dup_run += 1
                if dup_run > 2000:          # the neighbourhoods are exhausted: fall back to random candidates
                    queue.append(space.random(rng))
                continue
            dup_run = 0
            if pool is None:
                e = ev(g)
            else:
                pre = pool.start(g)                 # this one first, then the ones expected next
                pool.ahead(upcoming(g, pool.depth))
                e = pool.finish(pre)
            seen[g] = e
            if e.status == "ok":
                ok.append(e)
                top = sorted(top + [e], key=score, reverse=True)[:8]
                if not any(f.area <= e.area and f.throughput >= e.throughput for f in front):
                    front = sorted([f for f in front if not (e.area <= f.area and e.throughput >= f.throughput)]
                                   + [e], key=lambda f: f.area)
                key = planning_key(e.arch)
                if key not in keys_seen and cheap:      # a new compiler plan: try variants that reuse it
                    keys_seen.add(key)
                    queue.extend(plan_free_variants(g, rng))
                if best is None or score(e) > score(best):
                    best = e
                    history.append((len(seen), score(e)))
            else:
                r = rejections.setdefault(e.category, [0, e.reason, space.describe(g)])
                r[0] += 1
                if e.arch is not None and not ok:
                    legal.append(e)
            if progress:
                progress(len(seen), len(ok), time.perf_counter() - t0)
        base_eval = seen.get(base_genome) or (ev(base_genome) if pool is None else pool.evaluate(base_genome))
    except BaseException:
        if pool is not None:
            pool.abort()    # an interrupt may have stopped mid-read of a result: read nothing more
        raise
    plans = sum(c.plans_made for c in ev.costs)
    if pool is not None:
        plans += pool.close()
    return OptimizeResult(best, base_eval, pareto_front(ok), len(ok), len(seen), rejections,
                          time.perf_counter() - t0, time.process_time() - c0, stop,
                          plans, objective, space, tuple(c.name for c in ev.costs), history, workers,
                          pool.cpu_seconds if pool else 0.0, (pool.submitted, pool.used) if pool else (0, 0))


class _EvalPool:
    """Worker processes that estimate candidates for `optimize(workers=N)`.

    This process runs the cheap checks (`Evaluator.precheck`: legality, area, budget); a candidate that passes
    goes to a worker, which plans and estimates it (`Evaluator.network_outcome`) on its own plan and group-cost
    memos. Candidates of one planning key go to the worker that planned it unless that worker is well behind the
    others. `ahead` submits candidates the search is expected to visit next; `evaluate` returns a candidate's
    result, waiting for its worker. Workers ignore SIGINT: an interrupt reaches the search, which `abort`s them
    (terminate, nothing more read: the interrupt may have stopped the search half-way through reading a result,
    leaving the results pipe unreadable); a finished search `close`s them (sentinel, then terminate)."""

    SLACK = 8

    def __init__(self, ev: Evaluator, workers: int):
        import multiprocessing
        import pickle

        methods = multiprocessing.get_all_start_methods()
        ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
        self.ev = ev
        self.n = workers
        self.depth = 2 * workers
        blob = pickle.dumps((ev.space, [c.graph for c in ev.costs], ev.budget, ev.opt_level,
                             (ev._host_base, ev.required)))
        self.results = ctx.Queue()
        self.tasks = [ctx.Queue() for _ in range(workers)]
        self.procs = [ctx.Process(target=_pool_worker, args=(blob, q, self.results), daemon=True,
                                  name=f"ovl-arch-optimize-{i}") for i, q in enumerate(self.tasks)]
        for p in self.procs:
            p.start()
        self.pending: dict[tuple[int, ...], int] = {}
        self.done: dict[tuple[int, ...], tuple] = {}
        self.pre: dict[tuple[int, ...], Any] = {}
        self.keys: dict[tuple[int, ...], str] = {}
        self.load = [0] * workers
        self.home: dict[str, int] = {}
        self.plans = 0
        self.cpu_seconds = 0.0
        self.submitted = self.used = 0
        self.closed = False

    def _precheck(self, g: tuple[int, ...]):
        pre = self.pre.get(g)
        if pre is None:
            if len(self.pre) > 50_000:
                self.pre.clear()
            pre = self.pre[g] = self.ev.precheck(g)
        return pre

    def key(self, g: tuple[int, ...]) -> str | None:
        """The planning key of a candidate that passes the cheap checks (None for one they reject)."""
        k = self.keys.get(g)
        if k is None:
            pre = self._precheck(g)
            if not isinstance(pre, _Fits):
                return None
            if len(self.keys) > 50_000:
                self.keys.clear()
            k = self.keys[g] = planning_key(pre.arch)
        return k

    def _submit(self, pre: _Fits) -> None:
        g = pre.genome
        if g in self.done or g in self.pending:
            return
        key = self.key(g)
        least = min(range(self.n), key=self.load.__getitem__)
        w = self.home.get(key)
        if w is None or self.load[w] > self.load[least] + self.SLACK:
            w = self.home[key] = least
        self.tasks[w].put(g)
        self.submitted += 1
        self.pending[g] = w
        self.load[w] += 1

    def ahead(self, genomes: Sequence[tuple[int, ...]]) -> None:
        for g in genomes:
            if len(self.pending) >= self.depth:
                break
            pre = self._precheck(g)
            if isinstance(pre, _Fits):
                self._submit(pre)

    def _receive(self) -> None:
        import queue as _queue

        while True:
            try:
                g, outcome = self.results.get(timeout=1.0)
                break
            except _queue.Empty:
                dead = [p.name for p in self.procs if not p.is_alive()]
                if dead:
                    raise RuntimeError(f"arch optimize: worker process(es) {', '.join(dead)} exited unexpectedly "
                                       "(a script calling optimize(workers > 1) needs an `if __name__ == "
                                       "'__main__':` guard: the workers import it)")
        w = self.pending.pop(g)
        self.load[w] -= 1
        self.done[g] = outcome

    def start(self, g: tuple[int, ...]):
        """Check `g` and send it to a worker if it needs estimating; returns what `finish` takes."""
        pre = self._precheck(g)
        if isinstance(pre, _Fits):
            self._submit(pre)
        return pre

    def finish(self, pre) -> Evaluated:
        self.pre.pop(pre.genome, None)
        self.keys.pop(pre.genome, None)
        if isinstance(pre, Evaluated):
            return pre
        g = pre.genome
        while g not in self.done:
            self._receive()
        outcome = self.done.pop(g)
        self.used += 1
        if outcome[0] == "error":
            raise outcome[1]
        return self.ev.complete(pre, outcome)

    def evaluate(self, g: tuple[int, ...]) -> Evaluated:
        return self.finish(self.start(g))

    def close(self) -> int:
        """Stop the workers; returns the compiler plans they made."""
        import queue as _queue

        if self.closed:
            return self.plans
        self.closed = True
        for q in self.tasks:
            q.put(None)
        deadline = time.perf_counter() + 10
        stopped = 0
        while stopped < self.n and time.perf_counter() < deadline:
            try:
                g, outcome = self.results.get(timeout=0.5)
            except _queue.Empty:
                if not any(p.is_alive() for p in self.procs):
                    break
                continue
            if g is None:
                stopped += 1
                self.plans += outcome[0]
                self.cpu_seconds += outcome[1]
        for p in self.procs:
            p.join(timeout=2)
            if p.is_alive():
                p.terminate()
                p.join()
        for q in (*self.tasks, self.results):
            q.close()
            q.join_thread()
        return self.plans

    def abort(self) -> None:
        """Stop the workers at once, reading nothing from them (after an exception or interrupt)."""
        if self.closed:
            return
        self.closed = True
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.join(timeout=10)
        for q in (*self.tasks, self.results):
            q.cancel_join_thread()  # data queued for a terminated worker is dropped, not flushed
            q.close()


def _pool_worker(blob: bytes, tasks, results) -> None:
    """A worker of `_EvalPool`: estimates candidates (genomes) until it receives None, or until the search's process
    is gone (killed without closing the pool, e.g. by SIGTERM: daemonic workers are only stopped on a normal exit)."""
    import pickle
    import signal

    from nas.runtime.executors import exit_with_parent

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent()
    space, graphs, budget, opt_level, checks = pickle.loads(blob)
    ev = Evaluator(space, graphs, budget, opt_level=opt_level, _base_checks=checks)
    while True:
        g = tasks.get()
        if g is None:
            break
        try:
            arch = ev.build(g)
            outcome = ev.network_outcome(arch)
        except Exception as exc:     # noqa: BLE001 - re-raised in the search's process
            outcome = ("error", exc)
        results.put((g, outcome))
    results.put((None, (sum(c.plans_made for c in ev.costs), time.process_time())))


# --- output -------------------------------------------------------------------------------------------------------
def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} to TOML")


def result_header_lines(res, seed: int, *, label: str, fps_digits: int = 1) -> list[str]:
    """The best candidate's fps and area and the search's size, as comment lines for a written architecture file."""
    e = res.best
    return [f"{label}: " + ", ".join(f"{m} {f:,.{fps_digits}f} fps" for m, f in zip(res.models, e.fps))
            + f"; area {100 * e.area:.1f}% of the device ({e.resources['dsps']:,} DSPs, "
              f"{e.resources['mem_blocks']:,} M20Ks, {e.resources['alms']:,} ALMs)",
            f"search: {res.considered:,} candidates ({res.evaluated:,} estimated) in {res.seconds:.1f} s, "
            f"seed {seed}; stopped: {res.stop_reason}"]


def arch_to_toml(arch: Arch, header: Iterable[str] = ()) -> str:
    """The architecture as a TOML file `load_arch` reads back to an equal `Arch` (comment lines first)."""
    d = arch.model_dump(mode="json")
    lines = [f"# {h}" if h else "#" for h in header]
    tables: list[tuple[str, dict]] = []

    def emit(prefix: str, obj: dict) -> None:
        scalars = {k: v for k, v in obj.items() if not isinstance(v, dict)}
        if prefix:
            tables.append((prefix, scalars))
        else:
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in scalars.items())
        for k, v in obj.items():
            if isinstance(v, dict):
                emit(f"{prefix}.{k}" if prefix else k, v)

    emit("", d)
    for name, scalars in tables:
        if scalars:
            lines += ["", f"[{name}]"] + [f"{k} = {_toml_value(v)}" for k, v in scalars.items()]
    return "\n".join(lines) + "\n"


def _short(space: ArchSpace, e: Evaluated) -> str:
    d = space.describe(e.genome)
    a = e.arch
    pe = a.pe_array
    mode = f"wino F({pe.q_vector},3)" if pe.winograd else f"q={pe.q_vector}"
    off = [x for x in AUX_OPTIONAL if not getattr(a.aux, x).enabled]
    return (f"{a.precision} {pe.k_vector}x{pe.c_vector}x{pe.lanes} {mode} sb={a.stream_buffer.depth} "
            f"fc={a.filter_cache.depth} act/pool/elt={d['aux.activation.k_vector']}/{d['aux.pool.k_vector']}/"
            f"{d['aux.eltwise.k_vector']}" + (f" off:{','.join(off)}" if off else ""))


def front_table(res: OptimizeResult) -> str:
    """The Pareto front (throughput against area), one row per architecture, smallest first."""
    models = res.models
    head = ["area %", *(f"{m} fps" for m in models)] + (["geo-mean fps"] if len(models) > 1 else []) + \
        ["fps/area%", "ALMs", "DSPs", "M20Ks", "parameters (precision k x c x lanes, mode, depths, aux widths)"]
    rows = []
    for e in res.front:
        marker = " *" if res.best is not None and e.genome == res.best.genome else ""
        rows.append([f"{100 * e.area:.1f}", *(f"{f:,.1f}" for f in e.fps)]
                    + ([f"{e.throughput:,.1f}"] if len(models) > 1 else [])
                    + [f"{e.perf_per_area / 100:,.1f}", f"{e.resources['alms']:,}", f"{e.resources['dsps']:,}",
                       f"{e.resources['mem_blocks']:,}", _short(res.space, e) + marker])
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.rjust(w) if i < len(r) - 1 else c for i, (c, w) in enumerate(zip(r, widths)))  # noqa
    return "\n".join([fmt(head), "  ".join("-" * w for w in widths)] + [fmt(r) for r in rows])


def summary(res: OptimizeResult) -> str:
    lines = [f"searched {res.considered:,} candidate architectures in {res.seconds:.1f} s "
             f"({res.cpu_seconds:.1f} s CPU): {res.evaluated:,} estimated against {len(res.models)} network(s), "
             f"{res.considered - res.evaluated:,} rejected; {res.plans} compiler plan(s); stopped: {res.stop_reason}",
             f"rate: {60 * res.considered / max(res.seconds, 1e-9):,.0f} candidates/min "
             f"({60 * res.evaluated / max(res.seconds, 1e-9):,.0f} estimated/min) wall, "
             f"{60 * res.evaluated / max(res.cpu_seconds + res.worker_cpu_seconds, 1e-9):,.0f} estimated per "
             f"CPU-minute" + (f" ({res.workers} workers: {res.worker_cpu_seconds:.1f} s CPU, {res.speculated[0]:,} "
                              f"candidates sent to them, {res.speculated[1]:,} used by the search)"
                              if res.workers > 1 else "")]
    b = res.base
    if b.status == "ok":
        lines.append(f"base architecture: {', '.join(f'{m} {f:,.1f} fps' for m, f in zip(res.models, b.fps))}, "
                     f"area {100 * b.area:.1f}%")
    else:
        lines.append(f"base architecture rejected: {b.reason}")
    if res.best is None:
        lines.append("no candidate was accepted; see the rejections below")
    else:
        e = res.best
        lines.append(f"best ({res.objective}): {', '.join(f'{m} {f:,.1f} fps' for m, f in zip(res.models, e.fps))}, "
                     f"area {100 * e.area:.1f}% ({e.resources['dsps']:,} DSPs, {e.resources['mem_blocks']:,} "
                     f"M20Ks, {e.resources['alms']:,} ALMs): {_short(res.space, e)}")
    if res.rejections:
        lines.append("rejected candidates, by reason (count: example):")
        for cat, (n, reason, _) in sorted(res.rejections.items(), key=lambda kv: -kv[1][0]):
            lines.append(f"  {n:7,d}  {cat}  (e.g. {reason})")
    return "\n".join(lines)


# --- command line -------------------------------------------------------------------------------------------------
def configure_optimize(p: argparse.ArgumentParser) -> None:
    p.description = ("Search overlay parameters (precision, k/c vectors, lanes, Winograd, buffer depths, aux widths "
                     "and kernels) for one or more networks within a device or budget, using the simulator's fast "
                     "estimate; write the best architecture and print the Pareto front.")
    p.add_argument("--model", nargs="+", required=True, metavar="MODEL",
                   help="ONNX files, or network names of `ovl zoo list` (built directly)")
    p.add_argument("--device", default=None, help="device key of hw_models/devices.toml (default: the base's)")
    p.add_argument("--base", default="a10_generic",
                   help="architecture whose other fields (clock, DDR, config network) the candidates keep")
    p.add_argument("--budget", default=None, help="resource limits, e.g. dsp=1200,alm=300000,m20k=2000 or dsp=80%%")
    p.add_argument("--objective", choices=OBJECTIVES, default="throughput",
                   help="maximise the geometric-mean fps, or fps per area fraction (default throughput)")
    p.add_argument("--time-limit", type=float, default=60.0, help="seconds of search (default 60); always honoured")
    p.add_argument("--max-candidates", type=int, default=None, help="stop after this many candidates")
    p.add_argument("--precision", default=None,
                   help="comma-separated precisions to search (default: the base's; accuracy is not evaluated)")
    p.add_argument("--clock-mhz", type=float, default=None, help="override the base's assumed clock")
    p.add_argument("--ddr-gbs", type=float, default=None, help="override the base's DDR bandwidth")
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME=DIMS",
                   help="fix dynamic ONNX input dimensions (as ovl inspect)")
    p.add_argument("--batch", type=int, default=None,
                   help="tailor for throughput at this batch: every model's inputs get this batch dimension "
                        "(dimension 0; 1 for an LSTM/GRU sequence) (fps = batch / latency; default: the models' own)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=1,
                   help="worker processes that estimate candidates (default 1: none); the search visits the same "
                        "candidates with the same results for any number")
    p.add_argument("-o", "--output", required=True, help="architecture file (.toml) to write the best candidate to")
    p.add_argument("--front", default=None, help="also write the Pareto front as CSV")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def load_models(specs: Sequence[str], input_shapes: Sequence[str] = (), batch: int | None = None) -> list[Graph]:
    """ONNX paths or zoo network names -> IR graphs; `batch` sets every input's batch dimension
    (`compiler.compile.rebatch`)."""
    from compiler.compile import rebatch
    from compiler.errors import ModelError

    graphs = []
    for spec in specs:
        path = Path(spec)
        if path.suffix == ".onnx" or path.exists():
            from compiler.frontend import import_onnx, parse_input_shape

            shapes = dict(parse_input_shape(s) for s in input_shapes) if input_shapes else None
            if not path.exists():
                raise ModelError(f"model {spec}: file not found")
            g = import_onnx(path, input_shapes=shapes)
            g.name = path.stem
        else:
            from workloads import zoo

            if spec not in zoo.names():
                raise ModelError(f"model '{spec}': not an .onnx file or a network of `ovl zoo list` "
                                 f"({', '.join(zoo.names())})")
            g = zoo.build_ir(spec)
        if batch is not None:
            g = rebatch(g, batch)
            g.name = f"{g.name}@b{batch}"
        graphs.append(g)
    return graphs


def run_optimize(args: argparse.Namespace) -> int:
    base = load_arch(args.base)
    changes: dict[str, Any] = {}
    if args.device and args.device != base.device:
        if args.device not in devices():
            raise ArchError(f"--device {args.device!r}: unknown; legal: {', '.join(devices())}")
        changes["device"] = args.device
        combos = devices()[args.device].interleave
        changes["pe_array.interleave_features"], changes["pe_array.interleave_filters"] = combos[0]
    if args.clock_mhz:
        changes["clock_mhz"] = args.clock_mhz
    if args.ddr_gbs:
        changes["ddr.bandwidth_gbs"] = args.ddr_gbs
    if changes:
        base = base.with_changes(**changes)
    precisions = [p.strip() for p in args.precision.split(",")] if args.precision else None
    if precisions:
        from hw_models.arch import PRECISIONS

        bad = [p for p in precisions if p not in PRECISIONS]
        if bad:
            raise ArchError(f"--precision {','.join(bad)}: unknown; legal: {', '.join(PRECISIONS)}")
    budget = Budget.parse(args.budget, base.device)
    graphs = load_models(args.model, args.input_shape, args.batch)
    out = Path(args.output)
    if out.suffix != ".toml":
        raise UserError(f"-o {out}: the architecture file must end in .toml")

    from nas.runtime.progress import progress as bar

    pb = bar(None, total=None, desc="arch optimize", quiet=args.quiet or args.json, unit="cand")
    last = [0]

    def tick(n: int, n_ok: int, dt: float) -> None:
        pb.update(n - last[0])
        last[0] = n
        pb.set_postfix_str(f"{n_ok:,} estimated")

    try:
        res = optimize(graphs, base, budget=budget, objective=args.objective, time_limit=args.time_limit,
                       max_candidates=args.max_candidates, seed=args.seed, precisions=precisions, progress=tick,
                       workers=args.workers)
    finally:
        pb.close()
    if res.best is not None:
        e = res.best
        arch = e.arch.model_copy(update={"name": out.stem, "description": f"tailored by ovl arch optimize for "
                                         f"{', '.join(res.models)} ({res.objective})"})
        header = [f"written by `ovl arch optimize` for {', '.join(res.models)} on {base.device} within "
                  f"{budget.describe()}, objective {res.objective}",
                  *result_header_lines(res, args.seed, label="simulated (fast estimate)")]
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(arch_to_toml(arch, header))
    if args.front:
        _write_front_csv(res, Path(args.front))
    if args.json:
        print(json.dumps(res.to_json(), indent=2))
    else:
        print(summary(res))
        print()
        print(f"Pareto front (throughput against area), * = best by {res.objective}:")
        print(front_table(res))
        if res.best is not None:
            print(f"\nwrote {out}")
    return 0 if res.best is not None else 1


def _write_front_csv(res: OptimizeResult, path: Path) -> None:
    import csv

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        names = [p.name for p in res.space.params]
        w.writerow(["area", *(f"fps_{m}" for m in res.models), "throughput", "alms", "dsps", "mem_blocks", *names])
        for e in res.front:
            d = res.space.describe(e.genome)
            w.writerow([f"{e.area:.6g}", *(f"{x:.6g}" for x in e.fps), f"{e.throughput:.6g}", e.resources["alms"],
                        e.resources["dsps"], e.resources["mem_blocks"], *(d[n] for n in names)])
