"""The overlay half of the co-design space: CHaiDNN/Codesign-NAS-style knobs mapped onto the overlay's parameters.

| knob (Codesign-NAS / CHaiDNN)         | overlay field                          | values                    |
|---------------------------------------|----------------------------------------|---------------------------|
| filter_par (XI_KER_PROC)              | pe_array.k_vector                      | 16, 32, 64, 128           |
| dot-product width                     | pe_array.c_vector                      | 8, 16, 32                 |
| pixel_par (XI_PIX_PROC): rows         | pe_array.lanes                         | 1, 2, 4                   |
| pixel_par: columns                    | pe_array.q_vector                      | 1, 2, 4                   |
| Winograd                              | pe_array.winograd (F(q, 3), needs q>=2)| off, on                   |
| input buffer depth (XI_ISTAGEBUFF)    | stream_buffer.depth                    | 2048, 4096, 8192, 16384   |
| weights buffer depth (XI_WEIGHTBUFF)  | filter_cache.depth                     | 256, 512, 1024            |
| pooling engine (POOL_ENABLE)          | aux.pool.enabled                       | on, off                   |
| precision (6/8-bit in CHaiDNN)        | precision                              | bfp16, int8               |
| memory interface width                | ddr.word_bytes (and bandwidth)         | 256, 512 bits             |

Everything else comes from `BASE` (Arria 10 GX 1150, 265 MHz, one 17 GB/s DDR4 bank): the auxiliary kernels the
NB201 network needs (activation, pool up to 3x3, eltwise) at 16 channels per cycle, the others disabled. The
memory interface bounds the bandwidth: `ddr.bandwidth_gbs = min(17, width / 8 x clock)` (256 bits at 265 MHz:
8.5 GB/s). A configuration is legal when `hw_models.arch` accepts it (k_vector a multiple of c_vector, Winograd
with q_vector >= 2, ...); "fits the device" (`hw_models.area`) is a constraint of the search, on by default.
Accuracy is the NB201 CIFAR-100 test accuracy of the cell, which does not depend on the precision (its effect
on accuracy is not modelled).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Sequence

import numpy as np

from compiler.errors import ArchError
from hw_models.arch import Arch, arch_from_dict, load_arch

BOARD_DDR_GBS = 17.0


def _base() -> Arch:
    a = load_arch("a10_generic").model_dump()
    a["name"] = "codesign_base"
    a["description"] = "co-design base: a10_generic with the NB201 aux kernels only"
    a["aux"]["pool"]["max_window"] = 3
    for k in ("lrn", "softmax", "depth_to_space"):
        a["aux"][k]["enabled"] = False
    return arch_from_dict(a, "codesign base")


BASE = _base()


@dataclass(frozen=True)
class HWParam:
    name: str
    values: tuple[Any, ...]


HW_PARAMS: tuple[HWParam, ...] = (
    HWParam("k_vector", (16, 32, 64, 128)),
    HWParam("c_vector", (8, 16, 32)),
    HWParam("lanes", (1, 2, 4)),
    HWParam("q_vector", (1, 2, 4)),
    HWParam("winograd", (False, True)),
    HWParam("sb_depth", (2048, 4096, 8192, 16384)),
    HWParam("fc_depth", (256, 512, 1024)),
    HWParam("pool", (True, False)),
    HWParam("precision", ("bfp16", "int8")),
    HWParam("mem_bits", (256, 512)),
)


#: Named parameter tables: `default` is the co-design space; `small` a sub-space for quick runs and tests.
PRESETS: dict[str, tuple[HWParam, ...]] = {
    "default": HW_PARAMS,
    "small": (HWParam("k_vector", (16, 64)), HWParam("c_vector", (8, 16)), HWParam("lanes", (1, 2)),
              HWParam("q_vector", (1, 2)), HWParam("winograd", (False, True)), HWParam("sb_depth", (2048, 8192)),
              HWParam("fc_depth", (256,)), HWParam("pool", (True, False)), HWParam("precision", ("bfp16",)),
              HWParam("mem_bits", (256, 512))),
}


def config_changes(cfg: dict[str, Any], base: Arch = BASE) -> dict[str, Any]:
    """Dotted field changes of a configuration (HW_PARAMS name -> value) relative to `base`."""
    return {"pe_array.k_vector": cfg["k_vector"], "pe_array.c_vector": cfg["c_vector"], "pe_array.lanes": cfg["lanes"],
            "pe_array.q_vector": cfg["q_vector"], "pe_array.winograd": cfg["winograd"],
            "stream_buffer.depth": cfg["sb_depth"], "filter_cache.depth": cfg["fc_depth"],
            "aux.pool.enabled": cfg["pool"], "precision": cfg["precision"], "ddr.word_bytes": cfg["mem_bits"] // 8,
            "ddr.bandwidth_gbs": min(BOARD_DDR_GBS, cfg["mem_bits"] / 8 * base.clock_mhz * 1e6 / 1e9)}


def config_arch(cfg: dict[str, Any], base: Arch = BASE) -> Arch:
    d = base.model_dump()
    for key, v in config_changes(cfg, base).items():
        *path, leaf = key.split(".")
        x = d
        for p in path:
            x = x[p]
        x[leaf] = v
    d["name"] = "cd_" + "_".join(f"{v}" for v in cfg.values()).lower()
    return arch_from_dict(d, "co-design configuration")


@dataclass(frozen=True)
class HWPoint:
    """One legal configuration: its index in `HWSpace.points`, values, architecture and area."""

    index: int
    cfg: dict[str, Any]
    arch: Arch
    area: float            # hw_models.optimizer.area_fraction
    fits: bool
    resources: tuple[int, int, int]   # ALMs, DSPs, block RAMs

    def label(self) -> str:
        c = self.cfg
        mode = f"wino F({c['q_vector']},3)" if c["winograd"] else f"q{c['q_vector']}"
        return (f"{c['k_vector']}x{c['c_vector']}x{c['lanes']} {mode} sb{c['sb_depth']} fc{c['fc_depth']} "
                f"{'pool' if c['pool'] else 'nopool'} {c['precision']} {c['mem_bits']}b")


class HWSpace:
    """All legal configurations of `params` (default HW_PARAMS), in lexicographic order of the value indices.

    `illegal` records why each rejected combination is illegal (the first legality message)."""

    def __init__(self, params: Sequence[HWParam] | str = HW_PARAMS, base: Arch = BASE):
        if isinstance(params, str):
            if params not in PRESETS:
                from compiler.errors import UserError

                raise UserError(f"hardware space '{params}': choose one of {', '.join(PRESETS)}")
            self.preset = params
            params = PRESETS[params]
        else:
            self.preset = next((k for k, v in PRESETS.items() if tuple(v) == tuple(params)), "custom")
        self.params = tuple(params)
        self.base = base
        self.illegal: dict[str, int] = {}
        pts: list[HWPoint] = []
        from hw_models.area import estimate_area
        from hw_models.optimizer import AREA_RESOURCES

        for values in itertools.product(*(p.values for p in self.params)):
            cfg = dict(zip((p.name for p in self.params), values))
            try:
                arch = config_arch(cfg, base)
            except ArchError as exc:
                rule = str(exc).split(": ", 1)[1].split(" | ")[0].split(";")[0]
                key = rule.split(" = ")[0] + ": " + rule.split(": ", 1)[-1].split(";")[0]
                self.illegal[key] = self.illegal.get(key, 0) + 1
                continue
            rep = estimate_area(arch)
            u = rep.utilisation()
            area = float(sum(u[r] for r in AREA_RESOURCES) / len(AREA_RESOURCES))
            pts.append(HWPoint(len(pts), cfg, arch, area, rep.fits(),
                               (rep.total.alms, rep.total.dsps, rep.total.mem_blocks)))
        self.points = tuple(pts)

    def __len__(self) -> int:
        return len(self.points)

    @property
    def raw_size(self) -> int:
        return int(np.prod([len(p.values) for p in self.params]))

    @cached_property
    def area(self) -> np.ndarray:
        return np.array([p.area for p in self.points])

    @cached_property
    def fits(self) -> np.ndarray:
        return np.array([p.fits for p in self.points])

    @cached_property
    def value_index(self) -> np.ndarray:
        """(points x params) index of each point's value in its parameter's value list."""
        return np.array([[p.values.index(pt.cfg[p.name]) for p in self.params] for pt in self.points])

    @cached_property
    def _lookup(self) -> dict[tuple[int, ...], int]:
        return {tuple(int(x) for x in row): i for i, row in enumerate(self.value_index)}

    def find(self, indices: Sequence[int]) -> int | None:
        """Point index of a tuple of value indices, None when that combination is illegal."""
        return self._lookup.get(tuple(int(i) for i in indices))

    def find_cfg(self, **cfg: Any) -> int | None:
        return self.find([p.values.index(cfg[p.name]) for p in self.params])
