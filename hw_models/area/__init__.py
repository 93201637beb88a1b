"""FPGA area model of the overlay: ALMs, DSP blocks, block RAMs and registers per kernel.

    from hw_models.area import estimate_area, check_fits, pe_estimate
    estimate_area("a10_generic").table()
    check_fits(arch)                       # ArchError naming the resource, the need and the capacity
    pe_estimate(16, "int8", "arria10")     # one PE dot-product unit, for comparison with RTL synthesis

Constants live in hw_models/calibration.toml (each with its source); docs/area_model.md derives the formulas
and bench/area_table.py compares the model with the FPGA AI Suite's published Arria 10 builds.
"""
from hw_models.area.calibration import Calibration, calibration
from hw_models.area.memory import block_count, mlab_count
from hw_models.area.model import PEEstimate, Resources, pe_estimate
from hw_models.area.report import AreaReport, KernelArea, check_fits, estimate_area

__all__ = ["AreaReport", "Calibration", "KernelArea", "PEEstimate", "Resources", "block_count", "calibration",
           "check_fits", "estimate_area", "mlab_count", "pe_estimate"]
