"""One exception hierarchy for e2evote (specs/00-overview.md §Errors).

Every ``verify…`` function returns ``None`` or raises a subclass of :class:`E2EVoteError`.
Crypto code never logs; it raises.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "E2EVoteError",
    "EncodingError",
    "GroupMismatchError",
    "InvalidElementError",
    "InvalidScalarError",
    "VerificationError",
    "CeremonyError",
    "ManifestError",
    "BallotError",
    "DecryptionError",
    "RecordError",
    "BoardError",
]


class E2EVoteError(Exception):
    """Root of every error e2evote raises on purpose."""


class EncodingError(E2EVoteError, ValueError):
    """Bytes or a JSON view that is not the canonical encoding of a well-formed value."""


class InvalidElementError(EncodingError):
    """A value that is not a member of the group's prime-order subgroup (or not canonical)."""


class InvalidScalarError(EncodingError):
    """A scalar outside its range (e.g. not in Z_q); scalars are rejected, never reduced."""


class GroupMismatchError(E2EVoteError, TypeError):
    """An operation mixing values of two different groups."""


class VerificationError(E2EVoteError):
    """A check failed. ``step`` is the specs/ step id (e.g. ``"V5.A"``), ``obj`` names the object."""

    def __init__(self, step: str, obj: str, detail: str = "") -> None:
        self.step = step
        self.obj = obj
        self.detail = detail
        msg = f"[{step}] {obj}"
        if detail:
            msg += f": {detail}"
        super().__init__(msg)


class CeremonyError(E2EVoteError):
    """A key-ceremony step failed; ``culprits`` are the guardian indices to blame."""

    def __init__(self, message: str, culprits: Iterable[int] = ()) -> None:
        self.culprits = tuple(sorted(set(culprits)))
        if self.culprits:
            message = f"{message} (guardian(s) {', '.join(map(str, self.culprits))})"
        super().__init__(message)


class ManifestError(E2EVoteError, ValueError):
    """An election manifest that is malformed or inconsistent."""


class BallotError(E2EVoteError, ValueError):
    """A plaintext or encrypted ballot that does not fit the manifest."""


class DecryptionError(E2EVoteError):
    """Decryption could not complete (e.g. no quorum, MAC failure, tally out of bounds)."""


class RecordError(E2EVoteError):
    """An election record that cannot be read (missing or unauthenticated file)."""


class BoardError(E2EVoteError):
    """A bulletin-board operation was refused."""
