"""e2evote bulletin board: an append-only RFC 6962 Merkle log of election events (specs/08-board.md).

Core API (this package, no web or PostgreSQL imports):

* :class:`Board` — create/open a board, :meth:`Board.submit` ballots, append protocol events, proofs;
* :class:`SQLiteStorage`, :func:`open_storage` — storage backends (PostgreSQL: ``e2evote.board.postgres``);
* :func:`verify_log`, :func:`verify_record`, :func:`counted_set`, :func:`verify_receipt`,
  :func:`verify_inclusion`, :func:`verify_consistency` — independent verification (steps B1-B3);
* :class:`CredentialList`, :class:`VoterCredential`, :func:`issue_credentials` — voter credentials (§5).

HTTP: ``e2evote.board.http`` (:func:`create_app`, :func:`serve`), ``e2evote.board.client``
(:class:`BoardClient`), ``e2evote.board.monitor`` (:func:`monitor`).
"""

from __future__ import annotations

from e2evote.board.board import BallotInfo, BallotLookup, BallotValidator, Board
from e2evote.board.credentials import (
    BallotSubmission,
    ChallengeRequest,
    CredentialList,
    VoterCredential,
    issue_credentials,
    submission_message,
)
from e2evote.board.errors import (
    BoardRejection,
    BoardStateError,
    CredentialRejected,
    DuplicateBallot,
    InvalidBallot,
    MalformedSubmission,
    MonitorAlarm,
    NotFound,
    PhaseViolation,
    RemoteBoardError,
    SubmissionTooLarge,
)
from e2evote.board.events import BallotAuth, BoardSetup, Event, EventKind
from e2evote.board.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from e2evote.board.signing import BoardKey, Receipt, SignedTreeHead, verify_receipt
from e2evote.board.sqlite import SQLiteStorage
from e2evote.board.storage import Storage, open_storage
from e2evote.board.verify import (
    BoardRecord,
    CountedBallot,
    CountedBallots,
    LogSummary,
    counted_set,
    read_record,
    record_stream,
    verify_log,
    verify_record,
    write_record,
)

__all__ = [
    "BallotAuth",
    "BallotInfo",
    "BallotLookup",
    "BallotSubmission",
    "ChallengeRequest",
    "BallotValidator",
    "Board",
    "BoardKey",
    "BoardRecord",
    "BoardRejection",
    "BoardSetup",
    "BoardStateError",
    "CountedBallot",
    "CountedBallots",
    "CredentialList",
    "CredentialRejected",
    "DuplicateBallot",
    "EMPTY_ROOT",
    "Event",
    "EventKind",
    "InvalidBallot",
    "LogSummary",
    "MalformedSubmission",
    "MemoryTree",
    "MonitorAlarm",
    "NotFound",
    "PhaseViolation",
    "Receipt",
    "RemoteBoardError",
    "SQLiteStorage",
    "SignedTreeHead",
    "Storage",
    "SubmissionTooLarge",
    "VoterCredential",
    "counted_set",
    "issue_credentials",
    "leaf_hash",
    "node_hash",
    "open_storage",
    "read_record",
    "record_stream",
    "submission_message",
    "verify_consistency",
    "verify_inclusion",
    "verify_log",
    "verify_receipt",
    "verify_record",
    "write_record",
]
