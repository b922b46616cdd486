"""The election record as the verifier sees it (EG 2.0 §3.7; specs/07-record.md §Model).

Both the native record (e2evote.record.native) and egk's JSON layout (e2evote.record.egk) load into
:class:`ElectionRecord`. Every value in it is *stated* by the record; the verifier recomputes and
compares. Ballots are streamed (``ballots()`` returns a fresh iterator) so memory stays flat.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from e2evote.groups.base import Element
from e2evote.protocol.ballot import EncryptedBallot, PlaintextBallot
from e2evote.protocol.ceremony import GuardianPublicKeys
from e2evote.protocol.election import ElectionParameters
from e2evote.protocol.tally import DecryptedBallot, DecryptedTally, EncryptedTally

__all__ = ["StatedHashes", "ChallengedBallot", "ElectionRecord", "RecordIssue"]


@dataclass(frozen=True, slots=True)
class StatedHashes:
    """H_P, H_M, H_B, H_E as written in the record (compared in V1.F-H and V4.A)."""

    H_P: bytes
    H_M: bytes
    H_B: bytes
    H_E: bytes


@dataclass(frozen=True, slots=True)
class ChallengedBallot:
    """A challenged ballot opened either by its released nonce ξ_B (re-encryption) or by guardians."""

    ballot_id: str
    nonce: bytes | None = field(default=None, repr=False)
    claimed: PlaintextBallot | None = None
    decrypted: DecryptedBallot | None = None


@dataclass(frozen=True, slots=True)
class RecordIssue:
    """A problem found while *reading* the record (the verifier reports it as a failed step)."""

    step: str
    obj: str
    detail: str


@dataclass(frozen=True)
class ElectionRecord:
    """Everything the verifier needs (EG 2.0 §3.7)."""

    parameters: ElectionParameters
    stated: StatedHashes
    guardians: tuple[GuardianPublicKeys, ...]
    K: Element
    """the stated joint key"""
    ballots: Callable[[], Iterator[EncryptedBallot | RecordIssue]]
    """a fresh stream of the ballots in record order; an undecodable ballot appears as a RecordIssue"""
    encrypted_tally: EncryptedTally | None = None
    decrypted_tally: DecryptedTally | None = None
    challenged: tuple[ChallengedBallot, ...] = ()
    device_closes: Mapping[str, bytes] = field(default_factory=dict)
    """device name -> closing hash of its confirmation-code chain (eq. 61)"""
    outcomes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """contest label -> published outcome (specs/09-outcomes.md)"""
    source: str = "native"
    """"native" or "egk" (which reader produced it)"""
    issues: tuple[RecordIssue, ...] = ()
    """problems found while reading (integrity, missing files)"""
    extensions: Mapping[str, Any] = field(default_factory=dict)
    path: str | None = None
    """the record's directory, when it was read from one"""
    digests: Mapping[str, bytes] = field(default_factory=dict)
    """the SHA-256 of every file RECORD.msgpack lists (R1), by record path: a file read again after
    the record was opened (ballot chunks, board event files) is checked against it, so a file
    changed in between is R1.B, not silently verified in its new form"""
    chunks: tuple[str, ...] = ()
    """the ballot files (native: chunks of many ballots; egk: one ballot each), in record order"""
    read_chunk: Callable[[str], Iterator[EncryptedBallot | RecordIssue]] | None = None
    """the ballots of one of ``chunks``, decoded and validated as ``ballots()`` does them: reading
    every chunk in order gives exactly ``ballots()`` (local parallel verification)"""
    read_chunk_part: Callable[[str, int, int], Iterator[EncryptedBallot | RecordIssue]] | None = None
    """native records: ``(name, k, m)`` -> the ballots of the k-th of m consecutive parts of a chunk
    (a failure of the whole file in part 0 only): the parts in order give ``read_chunk(name)``, so a
    record of fewer chunks than workers still keeps every worker busy"""
    ballots_with_ids: Callable[[frozenset[str]], Iterator[EncryptedBallot | RecordIssue]] | None = None
    """the ballots of ``ballots()`` whose id is in the set, in record order, decoded and validated as
    ``ballots()`` does them; the others are skipped before their elements are decoded (V12-V14 read
    the challenged ballots again this way)"""
