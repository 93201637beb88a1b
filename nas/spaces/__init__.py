"""Search spaces: NAS-Bench-201 (`nas.spaces.nb201`, torch module in `nb201_torch`) and the DARTS cell space
(`nas.spaces.darts`). Cell encodings, torch networks and direct IR builds (no ONNX) for each; see docs/nas.md.
"""
from __future__ import annotations

from compiler.errors import UserError


class SpaceError(UserError):
    """An architecture string, index or genotype that is not a member of the named search space."""
