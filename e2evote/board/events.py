"""Typed board events and the board setup payload (specs/08-board.md §2).

An event is the canonical msgpack array

    [1, index, kind, timestamp_ms, payload, code, ref, auth]

* ``index``: its position in the log (0-based), ``timestamp_ms``: board time, ms since the Unix epoch;
* ``kind``: one of :class:`EventKind` (a string), ``payload``: opaque canonical protocol bytes;
* ``code``: the confirmation code (``ballot`` only), ``ref``: the confirmation code of the ballot a
  ``challenge`` refers to, ``auth``: ``nil`` or ``[credential_public_key, signature]`` (``ballot``
  and ``challenge`` events of a board with voter credentials, §5, §6.2).

The leaf of the Merkle tree is the event's bytes: leaf hash ``SHA-256(0x00 || event)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from e2evote.board.codec import (
    MAX_EVENT_BYTES,
    expect_array,
    expect_bytes,
    expect_int,
    expect_opt_bytes,
    expect_str,
    pack,
    unpack,
)
from e2evote.board.merkle import HASH_SIZE, leaf_hash
from e2evote.board.signing import MAX_CODE_SIZE, PUBLIC_KEY_SIZE, SIGNATURE_SIZE, check_board_id
from e2evote.errors import EncodingError

__all__ = [
    "EVENT_VERSION",
    "EventKind",
    "PHASE",
    "Event",
    "BallotAuth",
    "BoardSetup",
]

EVENT_VERSION: Final = 1


class EventKind(StrEnum):
    """Event kinds (specs/08-board.md §2.2)."""

    SETUP = "setup"
    GUARDIAN_COMMITMENTS = "guardian_commitments"
    GUARDIAN_SHARES = "guardian_shares"
    BALLOT = "ballot"
    CHALLENGE = "challenge"
    CLOSE = "close"
    TALLY = "tally"
    DECRYPTION = "decryption"
    RESULT = "result"


PHASE: Final[dict[EventKind, int]] = {
    EventKind.SETUP: 0,
    EventKind.GUARDIAN_COMMITMENTS: 1,
    EventKind.GUARDIAN_SHARES: 1,
    EventKind.BALLOT: 2,
    EventKind.CHALLENGE: 2,
    EventKind.CLOSE: 3,
    EventKind.TALLY: 4,
    EventKind.DECRYPTION: 4,
    EventKind.RESULT: 5,
}
"""Phase of each kind; phases never decrease along the log (specs/08-board.md B1.D)."""


@dataclass(frozen=True, slots=True)
class BallotAuth:
    """A voter credential public key and its signature over the ballot (specs/08-board.md §5.3)."""

    credential: bytes
    signature: bytes

    def __post_init__(self) -> None:
        if len(self.credential) != PUBLIC_KEY_SIZE or len(self.signature) != SIGNATURE_SIZE:
            raise EncodingError("ballot auth: credential must be 32 bytes, signature 64 bytes")


@dataclass(frozen=True, slots=True)
class Event:
    """One log entry (specs/08-board.md §2.1)."""

    index: int
    kind: EventKind
    timestamp_ms: int
    payload: bytes
    code: bytes | None = None
    ref: bytes | None = None
    auth: BallotAuth | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, EventKind):
            raise EncodingError(f"unknown event kind {self.kind!r}")
        if not 0 <= self.index < 2**63 or not 0 <= self.timestamp_ms < 2**63:
            raise EncodingError("event index or timestamp out of range")
        if not isinstance(self.payload, bytes):
            raise EncodingError("event payload must be bytes")
        is_ballot = self.kind is EventKind.BALLOT
        is_challenge = self.kind is EventKind.CHALLENGE
        if is_ballot != (self.code is not None):
            raise EncodingError("a confirmation code is present exactly on ballot events")
        if self.code is not None and not 0 < len(self.code) <= MAX_CODE_SIZE:
            raise EncodingError("confirmation code must be 1..64 bytes")
        if is_challenge != (self.ref is not None):
            raise EncodingError("a ballot reference is present exactly on challenge events")
        if self.ref is not None and not 0 < len(self.ref) <= MAX_CODE_SIZE:
            raise EncodingError("challenge reference must be 1..64 bytes")
        if self.auth is not None and not (is_ballot or is_challenge):
            raise EncodingError("only ballot and challenge events carry a credential signature")

    def to_bytes(self) -> bytes:
        """Canonical msgpack encoding (the Merkle leaf)."""
        auth = None if self.auth is None else (self.auth.credential, self.auth.signature)
        out = pack(
            [
                EVENT_VERSION,
                self.index,
                str(self.kind),
                self.timestamp_ms,
                self.payload,
                self.code,
                self.ref,
                auth,
            ]
        )
        if len(out) > MAX_EVENT_BYTES:
            raise EncodingError(f"event larger than {MAX_EVENT_BYTES} bytes")
        return out

    def leaf_hash(self) -> bytes:
        """``SHA-256(0x00 || to_bytes())``."""
        return leaf_hash(self.to_bytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> Event:
        """Strict, canonical decoding; raises :class:`EncodingError`."""
        a = expect_array(unpack(data, what="event"), "event", 8)
        expect_int(a[0], "event version", EVENT_VERSION, EVENT_VERSION)
        kind_s = expect_str(a[2], "event kind", max_len=32)
        try:
            kind = EventKind(kind_s)
        except ValueError:
            raise EncodingError(f"unknown event kind {kind_s!r}") from None
        auth: BallotAuth | None = None
        if a[7] is not None:
            pair = expect_array(a[7], "ballot auth", 2)
            auth = BallotAuth(
                expect_bytes(pair[0], "credential", size=PUBLIC_KEY_SIZE),
                expect_bytes(pair[1], "signature", size=SIGNATURE_SIZE),
            )
        return cls(
            index=expect_int(a[1], "event index"),
            kind=kind,
            timestamp_ms=expect_int(a[3], "event timestamp"),
            payload=expect_bytes(a[4], "event payload"),
            code=expect_opt_bytes(a[5], "confirmation code", max_size=MAX_CODE_SIZE),
            ref=expect_opt_bytes(a[6], "challenge reference", max_size=MAX_CODE_SIZE),
            auth=auth,
        )

    def __repr__(self) -> str:
        code = self.code.hex() if self.code is not None else None
        size = len(self.payload)
        return f"Event(index={self.index}, kind={self.kind.value}, payload=<{size} bytes>, code={code})"


@dataclass(frozen=True, slots=True)
class BoardSetup:
    """Payload of the setup event (specs/08-board.md §2.3).

    ``[1, board_id, board_public_key, election_hash, credential_list_hash | nil, election]`` where
    ``election`` is opaque protocol bytes (e.g. the election manifest / parameters record).
    """

    board_id: str
    board_public_key: bytes
    election_hash: bytes
    credential_list_hash: bytes | None
    election: bytes = b""

    def __post_init__(self) -> None:
        check_board_id(self.board_id)
        if len(self.board_public_key) != PUBLIC_KEY_SIZE:
            raise EncodingError("board public key must be 32 bytes")
        if len(self.election_hash) != HASH_SIZE:
            raise EncodingError("election hash must be 32 bytes")
        if self.credential_list_hash is not None and len(self.credential_list_hash) != HASH_SIZE:
            raise EncodingError("credential list hash must be 32 bytes")

    def to_bytes(self) -> bytes:
        """Canonical msgpack encoding."""
        return pack(
            [
                1,
                self.board_id,
                self.board_public_key,
                self.election_hash,
                self.credential_list_hash,
                self.election,
            ]
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> BoardSetup:
        """Strict, canonical decoding; raises :class:`EncodingError`."""
        a = expect_array(unpack(data, what="board setup"), "board setup", 6)
        expect_int(a[0], "board setup version", 1, 1)
        return cls(
            board_id=check_board_id(expect_str(a[1], "board id", max_len=64)),
            board_public_key=expect_bytes(a[2], "board public key", size=PUBLIC_KEY_SIZE),
            election_hash=expect_bytes(a[3], "election hash", size=HASH_SIZE),
            credential_list_hash=expect_opt_bytes(a[4], "credential list hash", size=HASH_SIZE),
            election=expect_bytes(a[5], "election"),
        )

    @property
    def credentials_required(self) -> bool:
        """Whether ballots must carry a voter-credential signature (§5)."""
        return self.credential_list_hash is not None
