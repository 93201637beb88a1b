"""Overlay latency of every NAS-Bench-201 cell on many architectures, vectorised over cells.

The latency of a cell's network on an architecture is the simulator's fast estimate (`simulator.estimate`):
the compiler plans the network into fused groups, each group's tiles get closed-form costs, and the network's
cycles are the estimate's closed form over the tile sequence (`sequence_time`). That closed form is a sum of
terms each of which depends on one tile or on two consecutive tiles only, so for a fixed compiler plan

    cycles(cell, arch) = head + tail + sum_groups U(sig) + sum_consecutive_groups B(sig, sig', reads)

where `sig` is a group's *signature* (its nodes' operators, attributes and shapes: everything its geometry
depends on), U(sig) the terms inside one group, B the terms joining two groups (the second group's exposed
reads and the first one's overlap with the next prefetch, which depend on whether the second reads what the
first wrote) and head/tail the first and last tile's own terms. With T1(x) = total of the one-tile sequence [x]
and T2(x, y) = total of [x, y]:

    total = sum over consecutive tiles T2(t_i, t_i+1) - sum over the tiles other than the first and the last T1(t_i)

(exact: the first tile's header and the last tile's drain cancel in the telescoping sum; see `_pair_costs`).

The estimate's default on-chip hand-over (the memory plan keeps a single-tile result in the stream buffer for
the next single-tile group: no DDR write, no DDR read, no wait) changes only the producer's write and the
consumer's read/config fields. Those enter that pair's T2 and the one-tile terms T1, and T1 is a sum of an
input part and an output part; so a handed-over pair changes the total by exactly T2(x', y') - T2(x, y) (x' with
the hand-over out, y' with it in), however many neighbours hand over too. Whether a pair hands over depends on
the graph (nobody else reads the tensor, ...: the pair feature carries it, `handover_view`) and on the
architecture's tiles (`hands_over`, evaluated per architecture), so B(pair) is costed with or without it.

So the plan of each distinct pruned cell network is made once per *plan class* (pool kernel on or off; every
other parameter of the co-design space leaves the fusion and the schedule unchanged, which
tests/nas/test_codesign_cellcost.py checks against `estimate()` on sampled pairs) and stored as a sequence of
(signature, reads-previous) entries; a cell is then a row of counts over the features [U(sig)..., B(pair)...,
head, tail]. Per architecture only the signatures (about a hundred) are costed, each group's geometry and tile
plan recomputed for that architecture (`group_geometry`, `plan_group`, Winograd set) and its tiles costed by the
simulator's own memoised `group_cost`; the latencies of all cells are one sparse matrix-vector product.

The plans are a one-off cost (9,445 networks in the pool class, 2,128 without the pool kernel; 50-150 ms each),
cached on disk (`$OVL_CACHE`, default ~/.cache/ovl) keyed by the reference architectures and the network; on
every load a few random cells are planned again and compared with the cache, which is rebuilt when the
compiler now plans them differently.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import scipy.sparse as sp

from compiler.errors import CapacityError, UserError
from hw_models.arch import Arch
from nas.spaces import nb201
from nas.spaces.nb201_latency import canonical

#: The network every cell is evaluated in: NB201's CIFAR-100 network (C=16, N=5, 100 classes, 32x32, batch 1).
NETWORK = {"C": 16, "N": 5, "num_classes": 100, "image": 32, "batch": 1}
CLASSES = ("pool", "nopool")
POOL = nb201.POOL


def plan_class(arch: Arch) -> str:
    return "pool" if arch.aux.pool.enabled else "nopool"


def cell_allowed(ops: Sequence[int], cls: str) -> bool:
    """Without the pool kernel NB201's avg_pool_3x3 (count_include_pad=False: the divisor varies at the borders,
    so it cannot become a depthwise convolution) would run on the host CPU: such pairs are not legal."""
    return cls == "pool" or not any(alive and k == POOL for k, alive in zip(ops, nb201.live_edges(ops)))


def build_network(ops: Sequence[int]):
    return nb201.build_ir(tuple(ops), **NETWORK)


#: Planning passes whose decisions depend on fields that differ within a plan class (Winograd and the PE column
#: mappings); they are re-run per architecture on the cached plans.
ARCH_PASSES = ("winograd", "direct-wide", "matvec-columns")


# --- planning a cell network ------------------------------------------------------------------------------------
def _planned(graph, arch: Arch):
    from simulator.estimate import plan_graph as planned

    return planned(graph, arch, 2, False)     # planning only: the hand-over is decided per architecture


def _signature(g2, grp, c_off: int, native: bool) -> tuple:
    t = g2.tensors
    nodes = []
    for nm in grp.nodes:
        n = g2.node(nm)
        nodes.append((n.op, tuple(sorted((k, repr(v)) for k, v in n.attrs.items())),
                      tuple(tuple(t[i].shape) if i else None for i in n.inputs),
                      tuple(tuple(t[o].shape) for o in n.outputs if o)))
    operand = tuple(t[grp.operand].shape) if grp.operand else None
    return (tuple(nodes), operand, grp.operand == grp.input if grp.operand else False, grp.pe is None,
            tuple(t[grp.input].shape), c_off, native)


@dataclass
class CellPlan:
    """One cell network's schedule as (signature key, reads-previous-output, hand-over view) per group, in
    execution order. `views[i]` is the (n, c, h, w) view of the previous group's output when the graph lets the
    memory plan hand it to group i in the stream buffer (`handover_view`), else None."""

    sigs: list[tuple]
    reads_prev: list[bool]
    names: list[str]
    views: list[tuple | None] = field(default_factory=list)


def handover_view(g2, sched, u, v, readers: dict[str, int], parents: set[str]) -> tuple | None:
    """The view (n, c, h, w) of group `u`'s output when the graph allows the memory plan to hand it to the next
    group `v` in the stream buffer, else None: the graph conditions of `compiler.lowering.memory.choose_resident`
    (`v` reads it as its input, not as its operand; nobody else reads it; not a graph output, window or window
    parent). Whether it is handed over also depends on the architecture's tiles (`hands_over`)."""
    t = u.group.output
    if (v.group.input != t or v.group.operand == t or readers.get(t, 0) != 1 or t in g2.outputs
            or t in sched.windows or t in parents):
        return None
    return tuple(int(x) for x in sched.views[t])


def hands_over(arch: Arch, tu, tv, view: tuple | None) -> bool:
    """The tile conditions of `compiler.lowering.memory.choose_resident` for a graph-eligible pair (`view` not
    None): double buffering, both groups one tile without partial sums and within one bank, the consumer's tile
    the whole tensor, the tensor within one bank."""
    if view is None or tu is None or tv is None:
        return False
    sb, cv = arch.stream_buffer, arch.pe_array.c_vector
    if sb.banks < 2:
        return False
    bank = sb.depth // sb.banks
    if len(tu.tiles) != 1 or len(tv.tiles) != 1 or tu.psum or tv.psum:
        return False
    if tu.sb_entries > bank or tv.sb_entries > bank:
        return False
    n, c, h, w = view
    x = tv.tiles[0]
    if (x.rows[0].a, x.rows[0].b, x.cols[0].a, x.cols[0].b) != (0, h, 0, w) or x.blk0 != 0 or \
            x.blk1 != -(-c // cv) or (x.n0, x.n1) != (0, n):
        return False
    return n * -(-c // cv) * h * w <= bank


def plan_cell(ops: Sequence[int], ref: Arch) -> tuple[CellPlan, Any]:
    """Plan the cell's network on `ref`; returns the schedule and (planned graph, plan, schedule) for reuse."""
    from compiler.lowering.memory import resolve

    g2, plan, sched, geos, _ = _planned(build_network(ops), ref)
    weights = [geos[u.name].weight for u in sched.units if u.kind == "group" and geos[u.name].pe.kind != "bypass"]
    if len(weights) != len(set(weights)):
        raise UserError(f"NB201 cell {nb201.to_str(ops)}: groups share weights; the co-design model assumes they "
                        "do not (the estimate's cross-group filter-cache walk is not decomposed)")
    sigs, reads_prev, names, views = [], [], [], []
    readers = g2.reader_counts(include_outputs=False)
    parents = {w.parent for w in sched.windows.values()}
    prev_root = prev_unit = None
    for u in sched.units:
        if u.kind == "host":
            raise UserError(f"NB201 cell {nb201.to_str(ops)} sends node(s) to the host on {ref.name}; the "
                            "co-design latency model assumes every legal pair runs on the overlay")
        out_loc = resolve(u.group.output, sched.windows)
        native = geos[u.name].pe.node is not None and geos[u.name].pe.node.name in plan.native_groups
        sigs.append(_signature(g2, u.group, out_loc.c, native))
        reads = {resolve(x, sched.windows).root for x in u.reads}
        reads_prev.append(prev_root is not None and prev_root in reads)
        views.append(None if prev_unit is None else handover_view(g2, sched, prev_unit, u, readers, parents))
        names.append(u.name)
        prev_root, prev_unit = out_loc.root, u
    return CellPlan(sigs, reads_prev, names, views), (g2, plan, sched)


# --- the per-class tables -----------------------------------------------------------------------------------------
@dataclass
class ClassTable:
    """Everything arch-independent about one plan class.

    `codes`: canonical cell codes planned (row order of `counts`); `sig_keys`: signature keys; `reps`: for each
    signature, (representative cell code, group name); `pairs`: (sig, sig', reads, hand-over view or None) per
    pair feature (`CellPlan.views`: whether the graph lets the first group's output stay on chip); `counts`:
    sparse (cells x features) with features [U(sig) for sig] + [B(pair) for pair] + [head(sig) for `heads`] +
    [tail(sig) for `tails`] (the first and last group of a network: the stem and the classifier, possibly fused
    with the first cell's first operation).
    """

    cls: str
    ref: Arch
    codes: np.ndarray
    sig_keys: list[tuple]
    reps: list[tuple[int, str]]
    pairs: list[tuple[int, int, bool, tuple | None]]
    counts: sp.csr_matrix
    heads: list[int]
    tails: list[int]
    plan_seconds: float = 0.0
    row_of_code: dict[int, int] = field(default_factory=dict)
    _rep_plans: dict[int, Any] = field(default_factory=dict, repr=False)

    @property
    def n_features(self) -> int:
        return self.counts.shape[1]

    def rep_plan(self, code: int):
        if code not in self._rep_plans:
            _, planned = plan_cell(nb201.from_code(code), self.ref)
            self._rep_plans[code] = planned
        return self._rep_plans[code]


def build_class_table(cls: str, ref: Arch, cells: Sequence[Sequence[int]] | None = None, *,
                      progress: Callable[[int, int], None] | None = None) -> ClassTable:
    """Plan every distinct pruned network of the class (or of `cells`) on `ref` and build the count matrix."""
    t0 = time.perf_counter()
    pool = (nb201.ops_matrix() if cells is None else np.asarray(cells, dtype=np.int64))
    codes = sorted({nb201.to_code(canonical(tuple(int(k) for k in ops))) for ops in pool
                    if cell_allowed(tuple(int(k) for k in ops), cls)})
    sig_index: dict[tuple, int] = {}
    reps: list[tuple[int, str]] = []
    pair_index: dict[tuple, int] = {}
    rows: list[tuple[list[int], list[bool], list]] = []
    for k, code in enumerate(codes):
        cp, _ = plan_cell(nb201.from_code(code), ref)
        ids = []
        for key, name in zip(cp.sigs, cp.names):
            if key not in sig_index:
                sig_index[key] = len(reps)
                reps.append((code, name))
            ids.append(sig_index[key])
        rows.append((ids, cp.reads_prev, cp.views))
        if progress:
            progress(k + 1, len(codes))
    for ids, flags, views in rows:
        for a, b, r, w in zip(ids, ids[1:], flags[1:], views[1:]):
            pair_index.setdefault((a, b, bool(r), w), len(pair_index))
    n_sig, n_pair = len(reps), len(pair_index)
    heads = sorted({ids[0] for ids, _, _ in rows})
    tails = sorted({ids[-1] for ids, _, _ in rows})
    base_h, base_t = n_sig + n_pair, n_sig + n_pair + len(heads)
    data, ri, ci = [], [], []
    for r, (ids, flags, views) in enumerate(rows):
        feats: dict[int, int] = {}
        for s in ids:
            feats[s] = feats.get(s, 0) + 1
        for a, b, f, w in zip(ids, ids[1:], flags[1:], views[1:]):
            j = n_sig + pair_index[(a, b, bool(f), w)]
            feats[j] = feats.get(j, 0) + 1
        feats[base_h + heads.index(ids[0])] = 1
        feats[base_t + tails.index(ids[-1])] = 1
        for j, v in feats.items():
            ri.append(r)
            ci.append(j)
            data.append(v)
    counts = sp.csr_matrix((np.array(data, dtype=np.float64), (ri, ci)),
                           shape=(len(rows), base_t + len(tails)))
    table = ClassTable(cls, ref, np.array(codes, dtype=np.int64), list(sig_index), reps,
                       [None] * n_pair, counts, heads, tails, time.perf_counter() - t0)
    for p, j in pair_index.items():
        table.pairs[j] = p
    table.row_of_code = {int(c): i for i, c in enumerate(codes)}
    return table


# --- per-architecture costs ---------------------------------------------------------------------------------------
@dataclass
class _Geo:
    geo: Any
    tp: Any
    name: str
    op: str
    c_off: int
    native: bool
    reuse: bool                # the plan's filter reuse policy (group_cost's `batch`)
    double_buffer: bool        # this group's tiles alternate banks (compiler.lowering.tiling.group_double_buffered)
    error: str = ""


class CellCostModel:
    """Latency of cells on architectures for one or both plan classes (see the module docstring)."""

    def __init__(self, tables: dict[str, ClassTable]):
        self.tables = tables
        self._geo: dict[tuple[str, str], list[_Geo]] = {}
        self.arch_seconds = 0.0
        self.archs_costed = 0
        self.handovers = 0          # pair features costed with the on-chip hand-over (all architectures)

    def _geometries(self, t: ClassTable, arch: Arch) -> list[_Geo]:
        from compiler.lowering.geometry import group_geometry
        from compiler.lowering.tiling import group_double_buffered, plan_group
        from compiler.passes import REGISTRY, PassContext, list_passes
        from compiler.passes.plan import get_plan, with_plan
        from hw_models.optimizer import planning_key
        from simulator.estimate import group_kind
        from simulator.report import KIND_OPS

        key = (t.cls, planning_key(arch))
        got = self._geo.get(key)
        if got is not None:
            return got
        list_passes()          # registers the passes
        out: list[_Geo] = []
        plans: dict[int, Any] = {}
        for sig, (code, name) in zip(t.sig_keys, t.reps):
            g2, plan, sched = t.rep_plan(code)
            if code not in plans:
                # the planning decisions that depend on fields the class's reference architecture does not share:
                # Winograd selection and the PE column mappings, re-made by the compiler's own passes
                ctx = PassContext(arch, opt_level=2, verify=False)
                g = with_plan(g2, winograd=frozenset(), cols={})
                for pname in ARCH_PASSES:
                    if ctx.enabled(pname):
                        g = REGISTRY[pname].fn(g, ctx)
                q = get_plan(g)
                plans[code] = replace(plan, winograd=q.winograd, cols=q.cols, double_buffer=arch.stream_buffer.banks > 1,
                                      tiles=None)
            p = plans[code]
            unit = next(u for u in sched.units if u.name == name)
            try:
                geo = group_geometry(g2, unit.group, p, arch, sched.views)
                tp = plan_group(geo, arch, batch=p.batch, double_buffer=p.double_buffer, native=p.native_groups)
            except CapacityError as exc:        # this group does not tile on this architecture
                out.append(_Geo(None, None, name, "", sig[5], sig[6], p.reuse_filters, False, str(exc)))
                continue
            kind = group_kind(geo)
            out.append(_Geo(geo, tp, name, KIND_OPS.get(kind, kind), sig[5], sig[6], p.reuse_filters,
                            group_double_buffered(arch, p.double_buffer, tp)))
        if any(g.tp is not None and g.tp.lanes_sensitive for g in out):
            # the key leaves out pe_array.lanes, which only a group of several images reads (batch > 1); the
            # co-design cells are batch-1 networks, so this never happens there: fail loudly rather than share
            raise RuntimeError(f"plan class {t.cls}: a tile plan depends on pe_array.lanes (several images per "
                               "group); the co-design cost model supports batch-1 cells only")
        if len(self._geo) > 4096:
            self._geo.pop(next(iter(self._geo)))
        self._geo[key] = out
        return out

    def feature_costs(self, arch: Arch) -> np.ndarray:
        """Cycles of each feature of the arch's plan class on `arch` (see the module docstring)."""
        from simulator.estimate import group_cost, psum_wait, sequence_time

        t0 = time.perf_counter()
        t = self.tables[plan_class(arch)]
        geos = self._geometries(t, arch)
        if any(g.geo is None for g in geos):       # the compiler would fuse differently here: not supported
            self.arch_seconds += time.perf_counter() - t0
            return np.full(t.n_features, np.nan)
        cv = arch.pe_array.c_vector
        tiles = [None if g.geo is None else
                 group_cost(arch, g.geo, g.tp, name=g.name, op=g.op, lane=g.c_off % cv, batch=g.reuse,
                            native=g.native).tiles for g in geos]
        t1_memo: dict[int, float] = {}

        def t1(x) -> float:
            v = t1_memo.get(id(x))
            if v is None:
                v = t1_memo[id(x)] = float(sum(sequence_time(arch, [(x, True)])))
            return v

        def t2(x, y, wait: bool) -> float:
            return float(sum(sequence_time(arch, [(x, True), (y, wait)])))

        n_sig = len(t.sig_keys)
        v = np.empty(t.n_features)
        for s, ts in enumerate(tiles):
            if ts is None:
                v[s] = np.nan
                continue
            u = -sum(t1(x) for x in ts)
            for j in range(1, len(ts)):
                wait = (not geos[s].double_buffer) or psum_wait(ts[j - 1], ts[j])
                u += t2(ts[j - 1], ts[j], wait)
            v[s] = u
        outs: dict[int, Any] = {}      # group -> its last tile with the hand-over out (per architecture)
        ins: dict[int, Any] = {}       # group -> its first tile with the hand-over in
        for j, (a, b, reads, view) in enumerate(t.pairs):
            if tiles[a] is None or tiles[b] is None:
                v[n_sig + j] = np.nan
                continue
            x, y = tiles[a][-1], tiles[b][0]
            if hands_over(arch, geos[a].tp, geos[b].tp, view):
                # the memory plan keeps a's (single-tile) result in the stream buffer for b: a writes nothing, b
                # reads nothing of it and does not wait for it. Those fields enter only this pair's terms and the
                # one-tile terms, which add up per flag, so the network's total changes by exactly
                # T2(x with sb_out, y with sb_in) - T2(x, y): this feature's value (module docstring). A group
                # appears in many pairs: its flagged tile is costed once per architecture.
                x = outs.get(a)
                if x is None:
                    x = outs[a] = self._flagged(arch, geos[a], sb_out=True).tiles[-1]
                y = ins.get(b)
                if y is None:
                    y = ins[b] = self._flagged(arch, geos[b], sb_in=True).tiles[0]
                self.handovers += 1
                wait = (not geos[b].double_buffer) or (not geos[a].double_buffer)
            else:
                # as the estimate: a group waits when it is not double buffered, when the previous one was not,
                # or when it reads the previous group's output (not its partial sums)
                wait = (not geos[b].double_buffer) or (not geos[a].double_buffer) or (reads and not x.psum_out)
            v[n_sig + j] = t2(x, y, wait)
        base_h = n_sig + len(t.pairs)
        for j, s in enumerate(t.heads):
            v[base_h + j] = np.nan if tiles[s] is None else t1(tiles[s][0])
        for j, s in enumerate(t.tails):
            v[base_h + len(t.heads) + j] = np.nan if tiles[s] is None else t1(tiles[s][-1])
        self.arch_seconds += time.perf_counter() - t0
        self.archs_costed += 1
        return v

    @staticmethod
    def _flagged(arch: Arch, g: _Geo, **flags):
        from simulator.estimate import group_cost

        return group_cost(arch, replace(g.geo, **flags), g.tp, name=g.name, op=g.op,
                          lane=g.c_off % arch.pe_array.c_vector, batch=g.reuse, native=g.native)

    def capacity_errors(self, arch: Arch) -> list[str]:
        """Why groups of the arch's plan class do not tile on `arch` (empty: every group tiles). On such an
        architecture the compiler fuses those groups differently (it keeps a shorter chain, or slices input
        channels), so the cached plans do not describe it: `feature_costs` returns NaN (the configuration is
        outside the co-design space; the sweep counts these)."""
        return [g.error for g in self._geometries(self.tables[plan_class(arch)], arch) if g.geo is None]

    def cycles_by_code(self, arch: Arch) -> tuple[np.ndarray, np.ndarray]:
        """(canonical codes of the arch's class, cycles of each) on `arch`."""
        t = self.tables[plan_class(arch)]
        return t.codes, t.counts @ self.feature_costs(arch)

    def seconds(self, ops: Sequence[int], arch: Arch) -> float:
        """Latency of one cell (any, not only canonical) on `arch`; NaN when the pair is not legal."""
        t = self.tables[plan_class(arch)]
        if not cell_allowed(ops, t.cls):
            return float("nan")
        row = t.row_of_code.get(nb201.to_code(canonical(tuple(ops))))
        if row is None:
            raise UserError(f"cell {nb201.to_str(ops)} is not in the planned cell set of class '{t.cls}'")
        m = t.counts
        s, e = m.indptr[row], m.indptr[row + 1]
        return float(np.dot(m.data[s:e], self.feature_costs(arch)[m.indices[s:e]])) / arch.clock_hz


# --- disk cache ---------------------------------------------------------------------------------------------------
FORMAT = 2          # 2: pair features carry the hand-over view (the on-chip hand-over is costed)


def cache_dir() -> Path:
    return Path(os.environ.get("OVL_CACHE", Path.home() / ".cache" / "ovl")) / "codesign"


def _table_key(cls: str, ref: Arch, cells: Sequence[Sequence[int]] | None) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([FORMAT, cls, ref.model_dump(mode="json"), NETWORK], sort_keys=True).encode())
    if cells is not None:
        h.update(np.asarray(cells, dtype=np.int64).tobytes())
    return h.hexdigest()[:20]


def row_of(t: ClassTable, ops: Sequence[int]) -> np.ndarray | None:
    """Plan one cell afresh and return its feature-count row, or None when a signature or a pair of its schedule
    is not in the table (the compiler now plans it differently)."""
    cp, _ = plan_cell(ops, t.ref)
    ids = [t.sig_keys.index(k) if k in t.sig_keys else -1 for k in cp.sigs]
    if -1 in ids:
        return None
    pair_ids = {p: j for j, p in enumerate(t.pairs)}
    n_sig, n_pair = len(t.sig_keys), len(t.pairs)
    row = np.zeros(t.n_features)
    for s in ids:
        row[s] += 1
    for a, b, f, w in zip(ids, ids[1:], cp.reads_prev[1:], cp.views[1:]):
        j = pair_ids.get((a, b, bool(f), w))
        if j is None:
            return None
        row[n_sig + j] += 1
    if ids[0] not in t.heads or ids[-1] not in t.tails:
        return None
    row[n_sig + n_pair + t.heads.index(ids[0])] += 1
    row[n_sig + n_pair + len(t.heads) + t.tails.index(ids[-1])] += 1
    return row


def verify(t: ClassTable, samples: int = 4, seed: int = 0) -> bool:
    """Re-plan `samples` random cells of the table and compare their rows with the stored ones: the cached plans
    still describe what the compiler does."""
    rng = np.random.default_rng(seed)
    for j in rng.choice(len(t.codes), min(samples, len(t.codes)), replace=False):
        row = row_of(t, nb201.from_code(int(t.codes[j])))
        if row is None or not np.array_equal(row, t.counts[int(j)].toarray()[0]):
            return False
    return True


def load_or_build(cls: str, ref: Arch, cells: Sequence[Sequence[int]] | None = None, *, cache: bool = True,
                  progress: Callable[[int, int], None] | None = None, check: int = 4) -> ClassTable:
    """The class table from the disk cache (after re-planning `check` random cells to confirm that the compiler
    still plans them as cached; otherwise rebuilt), or built and cached."""
    path = cache_dir() / f"cells_{cls}_{_table_key(cls, ref, cells)}.pkl"
    if cache and path.exists():
        with open(path, "rb") as f:
            d = pickle.load(f)
        t = ClassTable(cls, ref, d["codes"], d["sig_keys"], d["reps"], d["pairs"], d["counts"], d["heads"],
                       d["tails"], d["plan_seconds"])
        t.row_of_code = {int(c): i for i, c in enumerate(t.codes)}
        if verify(t, check):
            return t
    t = build_class_table(cls, ref, cells, progress=progress)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            pickle.dump({"codes": t.codes, "sig_keys": t.sig_keys, "reps": t.reps, "pairs": t.pairs,
                         "counts": t.counts, "heads": t.heads, "tails": t.tails,
                         "plan_seconds": t.plan_seconds}, f)
        tmp.replace(path)
    return t
