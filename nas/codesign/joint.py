"""The joint space: every NAS-Bench-201 cell x every legal overlay configuration, with its objectives.

    from nas.codesign.joint import JointSpace, Constraints
    js = JointSpace.create()                      # HWSpace(), the cell cost tables (disk cache), accuracies
    o = js.evaluate(cell_index, hw_index)         # Objectives: accuracy %, latency s, area, perf/area, legal
    js.latency(hw_index)                          # seconds of all 15,625 cells on one configuration (NaN: illegal)

Objectives: accuracy (NB201 CIFAR-100 test accuracy, %, maximised), latency (seconds per image from the
simulator's fast estimate, minimised), area (`hw_models.optimizer.area_fraction`: mean fraction of the device's
ALMs, DSPs and M20Ks, minimised) and performance per area (images/s per area fraction, maximised; a function of
the latency and the area, so it adds no new Pareto dimension). Constraints (optional): latency <= L, area <= A,
and "fits the device" (on by default). A pair is *legal* when the configuration is legal (`HWSpace`) and the cell
runs on it without host fallback (no live avg_pool_3x3 edge when the pool kernel is off). Configurations on
which a group of the cached NB201 plans does not tile (`CellCostModel.capacity_errors`: a filter cache too small
for a fused group's Winograd filters) are outside the co-design space: the compiler plans differently there.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

import numpy as np

from compiler.errors import UserError
from nas.codesign.cellcost import CLASSES, CellCostModel, ClassTable, load_or_build
from nas.codesign.hwspace import BASE, HWSpace
from nas.spaces import nb201
from nas.spaces.nb201_latency import canonical

RESNET_CELL = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|"


@dataclass(frozen=True)
class Constraints:
    latency_max: float | None = None      # seconds
    area_max: float | None = None         # area fraction
    fits: bool = True

    def violation(self, latency: float, area: float, fits: bool) -> float:
        """0 when satisfied, else the summed relative excess (plus 1 for not fitting the device)."""
        v = 0.0
        if self.fits and not fits:
            v += 1.0
        if self.latency_max is not None and latency > self.latency_max:
            v += latency / self.latency_max - 1.0
        if self.area_max is not None and area > self.area_max:
            v += area / self.area_max - 1.0
        return v

    def describe(self) -> dict:
        return {"latency_max": self.latency_max, "area_max": self.area_max, "fits": self.fits}


@dataclass(frozen=True)
class Objectives:
    legal: bool
    accuracy: float = float("nan")
    latency: float = float("nan")
    area: float = float("nan")
    fits: bool = False

    @property
    def perf_per_area(self) -> float:
        return 1.0 / (self.latency * self.area) if self.legal else float("nan")


def cell_sample(n: int | None, seed: int = 0) -> list[tuple[int, ...]] | None:
    """`n` NB201 cells drawn without replacement (seeded), always with the ResNet-style cell; None: all cells."""
    if n is None or n >= nb201.SIZE:
        return None
    if n < 1:
        raise UserError(f"cell sample of {n}: give 1 or more cells")
    rng = np.random.default_rng(seed)
    idx = set(int(i) for i in rng.choice(nb201.SIZE, n, replace=False))
    idx.add(nb201.to_index(RESNET_CELL))
    return [nb201.as_ops(i) for i in sorted(idx)]


def reference_archs() -> dict[str, object]:
    return {c: BASE.with_changes(**{"aux.pool.enabled": c == "pool"}) for c in CLASSES}


class JointSpace:
    def __init__(self, hw: HWSpace, tables: dict[str, ClassTable], *, dataset: str = "cifar100",
                 cache_archs: int = 4096, cells: int | None = None, cells_seed: int = 0):
        from nas.data import nb201_table

        self.hw = hw
        self.model = CellCostModel(tables)
        self.tables = tables
        self.dataset = dataset
        self.accuracy = np.asarray(nb201_table().accuracy(dataset), dtype=np.float64)
        mat = nb201.ops_matrix()
        self.rows: dict[str, np.ndarray] = {}
        for cls, t in tables.items():
            r = np.full(nb201.SIZE, -1, dtype=np.int64)
            for i in range(nb201.SIZE):
                ops = tuple(int(k) for k in mat[i])
                r[i] = t.row_of_code.get(nb201.to_code(canonical(ops)), -1)
            self.rows[cls] = r
        self._vec: OrderedDict[int, np.ndarray] = OrderedDict()
        self.cache_archs = cache_archs
        self.stored_costs: dict[int, np.ndarray] = {}     # configuration -> feature costs (from a sweep)
        self.cells, self.cells_seed = cells, cells_seed     # the cell sample (None: all 15,625)

    @classmethod
    def create(cls, hw: HWSpace | str = "default", *, cells: int | None = None, cells_seed: int = 0,
               progress: Callable[[str, int, int], None] | None = None, dataset: str = "cifar100") -> "JointSpace":
        """The joint space of `hw` (an HWSpace or a preset name) and all cells (or a seeded sample of `cells`,
        for quick runs); cell plans come from the disk cache."""
        space = hw if isinstance(hw, HWSpace) else HWSpace(hw)       # bad names fail before any planning
        refs = reference_archs()
        sample = cell_sample(cells, cells_seed)
        tables = {c: load_or_build(c, refs[c], sample,
                                   progress=(lambda k, n, c=c: progress(c, k, n)) if progress else None)
                  for c in CLASSES}
        return cls(space, tables, dataset=dataset, cells=None if sample is None else cells, cells_seed=cells_seed)

    @property
    def n_cells(self) -> int:
        return nb201.SIZE

    def cls_of(self, p: int) -> str:
        return "pool" if self.hw.points[p].cfg["pool"] else "nopool"

    def feature_costs(self, p: int) -> np.ndarray:
        """Per-feature cycles of configuration `p` (stored from a sweep, else computed and kept in an LRU)."""
        v = self.stored_costs.get(p)
        if v is not None:
            return v
        v = self._vec.get(p)
        if v is None:
            v = self._vec[p] = self.model.feature_costs(self.hw.points[p].arch)
            if len(self._vec) > self.cache_archs:
                self._vec.popitem(last=False)
        else:
            self._vec.move_to_end(p)
        return v

    def latency_codes(self, p: int) -> np.ndarray:
        """Seconds of every planned network of the configuration's class (rows of its table)."""
        arch = self.hw.points[p].arch
        return self.tables[self.cls_of(p)].counts @ self.feature_costs(p) / arch.clock_hz

    def latency(self, p: int) -> np.ndarray:
        """Seconds of all 15,625 cells on configuration `p` (NaN where the pair is not legal or not planned)."""
        rows = self.rows[self.cls_of(p)]
        lat = self.latency_codes(p)
        return np.where(rows >= 0, lat[np.clip(rows, 0, None)], np.nan)

    def latency_of(self, cell: int, p: int) -> float:
        """Seconds of one pair (NaN when not legal): one sparse row times the configuration's feature costs."""
        cls = self.cls_of(p)
        row = int(self.rows[cls][cell])
        if row < 0:
            return float("nan")
        m = self.tables[cls].counts
        s, e = m.indptr[row], m.indptr[row + 1]
        v = self.feature_costs(p)
        return float(np.dot(m.data[s:e], v[m.indices[s:e]])) / self.hw.points[p].arch.clock_hz

    def illegal_reason(self, cell: int, p: int) -> str:
        from nas.codesign.cellcost import cell_allowed

        if not cell_allowed(nb201.as_ops(cell), self.cls_of(p)):
            return "a live avg_pool_3x3 edge without the pool kernel"
        if self.rows[self.cls_of(p)][cell] < 0:
            return "cell not in the planned cell sample"
        errs = self.model.capacity_errors(self.hw.points[p].arch)
        return ("configuration outside the co-design space: the compiler plans the NB201 networks differently on "
                "it (" + (errs[0] if errs else "unknown") + ")")

    def evaluate(self, cell: int, p: int) -> Objectives:
        if not (0 <= cell < nb201.SIZE) or not (0 <= p < len(self.hw)):
            raise UserError(f"pair ({cell}, {p}) is outside the joint space")
        lat = self.latency_of(cell, p)
        if not np.isfinite(lat):
            return Objectives(False)
        pt = self.hw.points[p]
        return Objectives(True, float(self.accuracy[cell]), lat, pt.area, pt.fits)

    def resnet_index(self) -> int:
        return nb201.to_index(RESNET_CELL)
