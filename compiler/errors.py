"""The one exception type for mistakes a user can fix.

Every user-facing entry point raises `UserError` (or a subclass) for bad input; the CLI turns it into a
one-line message and exit code 2. Anything else escaping is a bug in the toolchain.
"""
from __future__ import annotations


class UserError(Exception):
    """Bad input a user can fix: the message names the thing and says what to do, on one line."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(" ".join(message.split("\n")))


class ModelError(UserError):
    """An ONNX model that cannot be read or imported (malformed, unsupported operator, dynamic shape)."""


class ArchError(UserError):
    """An architecture file that is malformed or illegal, or an architecture that does not fit its device."""


class CapacityError(UserError):
    """A program that does not fit the architecture (a layer exceeds a buffer or a limit)."""


class ProgramError(UserError):
    """A program file that is corrupted, truncated or from an incompatible version."""
