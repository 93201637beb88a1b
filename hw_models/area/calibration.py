"""Typed access to `hw_models/calibration.toml`, the one file that states every area and power constant.

The file is read once per process (`calibration()` is cached). Tests and the refit in `bench/area_table.py`
build variants with `Calibration.with_fit(...)` instead of editing the file.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from compiler.errors import ArchError

CALIBRATION_FILE = Path(__file__).resolve().parent.parent / "calibration.toml"


@dataclass(frozen=True)
class Fit:
    """Constants fitted to the published Arria 10 table (see the [fit] section of calibration.toml)."""

    alm_scale: float = 1.0
    alm_fixed: float = 0.0
    register_scale_pe: float = 1.0
    register_scale_rest: float = 1.0
    register_fixed: float = 0.0


@dataclass(frozen=True)
class DSPMode:
    """A DSP block mode: `sum` products are added inside the block per output (1: no hard adder used);
    `shared_operand`: two products share one multiplier as bit fields (sign fix-up of the upper field)."""

    name: str
    sum: int
    shared_operand: bool


@dataclass(frozen=True)
class Calibration:
    raw: dict[str, Any] = field(repr=False, hash=False, compare=False)
    fit: Fit
    key: str  # identity for memoisation: the file text plus any fit override

    def __hash__(self) -> int:
        return hash(self.key)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Calibration) and other.key == self.key

    # --- sections --------------------------------------------------------------------------------------------
    def packing(self, family: str, precision: str) -> tuple[int, int]:
        """(multipliers, DSP blocks) of one packing group for `precision` on `family`."""
        table = self.raw["dsp_packing"].get(family)
        if table is None or precision not in table:
            raise ArchError(f"area model: no DSP packing rule for precision '{precision}' on family '{family}'; "
                            f"add one under [dsp_packing.{family}] in {CALIBRATION_FILE.name}")
        mults, dsps = table[precision]
        return int(mults), int(dsps)

    def dsp_mode(self, family: str, precision: str) -> DSPMode:
        """The DSP block mode that `precision`'s packing uses on `family`: products summed per block output and
        whether products share a multiplier as bit fields ([dsp_mode.FAMILY] and [dsp_modes])."""
        name = self.raw["dsp_mode"].get(family, {}).get(precision)
        if name is None:
            raise ArchError(f"area model: no DSP mode for precision '{precision}' on family '{family}'; "
                            f"add one under [dsp_mode.{family}] in {CALIBRATION_FILE.name}")
        m = self.raw["dsp_modes"][name]
        return DSPMode(name, int(m["sum"]), bool(m["shared_operand"]))

    @property
    def dsp(self) -> dict[str, Any]:
        return self.raw["dsp"]

    @property
    def alm(self) -> dict[str, Any]:
        return self.raw["alm"]

    @property
    def kernel(self) -> dict[str, Any]:
        return self.raw["kernel"]

    @property
    def aux_lane(self) -> dict[str, Any]:
        return self.raw["aux_lane"]

    @property
    def power(self) -> dict[str, Any]:
        return self.raw["power"]

    def with_fit(self, fit: Fit) -> "Calibration":
        """The same structural constants with other fitted ones (used by the refit and by tests)."""
        return Calibration(self.raw, fit, f"{self.key}|{fit}")


@cache
def calibration() -> Calibration:
    text = CALIBRATION_FILE.read_text()
    raw = tomllib.loads(text)
    return Calibration(raw, Fit(**raw["fit"]), text)
