"""Typed board refusals with machine-readable reasons (specs/08-board.md §8.3).

Each refusal is a :class:`~e2evote.errors.BoardError` with a stable ``reason`` string (sent as the
``error`` field of HTTP error bodies) and the HTTP status the API maps it to.
"""

from __future__ import annotations

from typing import ClassVar

from e2evote.errors import BoardError

__all__ = [
    "BoardRejection",
    "MalformedSubmission",
    "SubmissionTooLarge",
    "InvalidBallot",
    "DuplicateBallot",
    "CredentialRejected",
    "PhaseViolation",
    "NotFound",
    "BoardStateError",
    "MonitorAlarm",
    "RemoteBoardError",
]


class BoardRejection(BoardError):
    """A request the board refused. ``reason`` is machine-readable, ``detail`` human-readable."""

    status: ClassVar[int] = 400
    default_reason: ClassVar[str] = "rejected"

    def __init__(self, reason: str | None = None, detail: str = "") -> None:
        self.reason = reason or self.default_reason
        self.detail = detail
        super().__init__(f"{self.reason}: {detail}" if detail else self.reason)


class MalformedSubmission(BoardRejection):
    """The request body is not a canonical encoding of the expected object (``malformed``)."""

    status = 400
    default_reason = "malformed"


class SubmissionTooLarge(BoardRejection):
    """The request body exceeds the size limit (``too_large``)."""

    status = 413
    default_reason = "too_large"


class InvalidBallot(BoardRejection):
    """The injected ballot validator refused the ballot (``invalid_ballot``)."""

    status = 422
    default_reason = "invalid_ballot"


class DuplicateBallot(BoardRejection):
    """``replay`` (same replay key) or ``confirmation_code_collision``."""

    status = 409
    default_reason = "replay"


class CredentialRejected(BoardRejection):
    """``credential_required``, ``unknown_credential``, ``bad_signature`` or ``unexpected_credential``."""

    status = 403
    default_reason = "unknown_credential"


class PhaseViolation(BoardRejection):
    """The event kind is not allowed now, e.g. a ballot after ``close`` (``closed``, ``phase``)."""

    status = 409
    default_reason = "phase"


class NotFound(BoardRejection):
    """Unknown confirmation code, tree size, … (``not_found``)."""

    status = 404
    default_reason = "not_found"


class BoardStateError(BoardRejection):
    """The storage does not hold a usable board (``no_board``, ``wrong_key``, ``corrupt``)."""

    status = 500
    default_reason = "corrupt"


class MonitorAlarm(BoardError):
    """A monitor found misbehaviour: ``reason`` is ``fork``, ``rollback``, ``bad_signature``, …

    ``step`` is the specs/08-board.md step (B3.*) that failed.
    """

    def __init__(self, reason: str, step: str, detail: str = "") -> None:
        self.reason = reason
        self.step = step
        self.detail = detail
        super().__init__(f"[{step}] {reason}" + (f": {detail}" if detail else ""))


class RemoteBoardError(BoardError):
    """An HTTP board answered with an error (``status``, ``reason`` from its JSON body)."""

    def __init__(self, status: int, reason: str, detail: str = "") -> None:
        self.status = status
        self.reason = reason
        self.detail = detail
        super().__init__(f"HTTP {status} {reason}" + (f": {detail}" if detail else ""))
