"""Independent verification of a board log and the counted-ballot rule (specs/08-board.md §6, §10).

Nothing here trusts the board: a verifier holding the exported record (§7), the board public key and,
if the credential extension is on, the credential list, re-runs steps B1.A-B1.K.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Final

import msgpack

from e2evote.board.board import BallotValidator, Board, check_phase
from e2evote.board.codec import MAX_EVENT_BYTES, expect_array, expect_bytes, expect_int, pack
from e2evote.board.credentials import BallotSubmission, CredentialList
from e2evote.board.errors import PhaseViolation
from e2evote.board.events import PHASE, BoardSetup, Event, EventKind
from e2evote.board.merkle import MemoryTree, leaf_hash, verify_consistency
from e2evote.board.signing import SignedTreeHead
from e2evote.errors import E2EVoteError, EncodingError, VerificationError
from e2evote.hashing import EXT

__all__ = [
    "RECORD_VERSION",
    "CountedBallot",
    "LogSummary",
    "BoardRecord",
    "counted_set",
    "verify_log",
    "verify_record",
    "record_stream",
    "write_record",
    "read_record",
]

RECORD_VERSION: Final = 1


@dataclass(frozen=True, slots=True)
class CountedBallot:
    """One ballot that counts (§6.3): its log index, confirmation code and credential (if any)."""

    index: int
    confirmation_code: bytes
    credential: bytes | None


@dataclass(frozen=True, slots=True)
class LogSummary:
    """What :func:`verify_log` established."""

    setup: BoardSetup
    tree_size: int
    root_hash: bytes
    ballots: int
    challenged: int
    closed: bool
    counted: tuple[CountedBallot, ...]


def counted_set(events: Iterable[Event]) -> tuple[CountedBallot, ...]:
    """The counted ballots (§6.3), in log order.

    A ballot counts unless it is challenged; with voter credentials, only the *last* unchallenged
    ballot of each credential counts (re-voting). Ballots after ``close`` cannot exist (B1.D).
    """
    ballots: list[Event] = []
    challenged: set[bytes] = set()
    for ev in events:
        if ev.kind is EventKind.BALLOT:
            ballots.append(ev)
        elif ev.kind is EventKind.CHALLENGE:
            assert ev.ref is not None
            challenged.add(ev.ref)
    last: dict[bytes, Event] = {}
    anonymous: list[Event] = []
    for ev in ballots:
        assert ev.code is not None
        if ev.code in challenged:
            continue
        if ev.auth is None:
            anonymous.append(ev)
        else:
            last[ev.auth.credential] = ev
    chosen = sorted([*anonymous, *last.values()], key=lambda e: e.index)
    out: list[CountedBallot] = []
    for ev in chosen:
        assert ev.code is not None
        out.append(CountedBallot(ev.index, ev.code, None if ev.auth is None else ev.auth.credential))
    return tuple(out)


def _fail(step: str, obj: str, detail: str) -> VerificationError:
    return VerificationError(step, obj, detail)


def verify_log(
    events: Sequence[bytes],
    sth: SignedTreeHead,
    public_key: bytes,
    *,
    credentials: CredentialList | None = None,
    validator: BallotValidator | None = None,
    board_id: str | None = None,
    election_hash: bytes | None = None,
    previous_sths: Iterable[tuple[SignedTreeHead, Sequence[bytes]]] = (),
) -> LogSummary:
    """Re-check a whole log against a signed tree head (steps B1.A-B1.K of specs/08-board.md).

    ``events`` are the raw event bytes in log order; ``public_key`` is the board key obtained out of
    band; ``credentials`` is the public credential list (required iff the setup commits to one);
    ``validator`` (optional) re-validates every ballot and recomputes its confirmation code;
    ``previous_sths`` are older (tree head, consistency proof to ``sth``) pairs a voter or monitor
    kept, checked with B1.K. Raises :class:`VerificationError`; returns a :class:`LogSummary`.
    """
    if not events:
        raise _fail("B1.A", "log", "the log is empty")
    decoded: list[Event] = []
    tree = MemoryTree()
    for i, raw in enumerate(events):
        try:
            ev = Event.from_bytes(raw)  # B1.A
        except EncodingError as exc:
            raise _fail("B1.A", f"event {i}", str(exc)) from None
        if ev.index != i:  # B1.B
            raise _fail("B1.B", f"event {i}", f"carries index {ev.index}")
        if decoded and ev.timestamp_ms < decoded[-1].timestamp_ms:
            raise _fail("B1.B", f"event {i}", "timestamp goes backwards")
        decoded.append(ev)
        tree.append(leaf_hash(raw))

    # B1.C setup
    first = decoded[0]
    if first.kind is not EventKind.SETUP:
        raise _fail("B1.C", "event 0", "the first event is not the setup event")
    try:
        setup = BoardSetup.from_bytes(first.payload)
    except EncodingError as exc:
        raise _fail("B1.C", "event 0", f"setup payload: {exc}") from None
    if setup.board_public_key != public_key:
        raise _fail("B1.C", "event 0", "setup names a different board public key")
    if board_id is not None and setup.board_id != board_id:
        raise _fail("B1.C", "event 0", f"board id {setup.board_id!r} != {board_id!r}")
    if election_hash is not None and setup.election_hash != election_hash:
        raise _fail("B1.C", "event 0", "setup names a different election hash")

    # B1.D ordering of kinds
    phase = -1
    for ev in decoded:
        try:
            check_phase(ev.index, phase, ev.kind)
        except PhaseViolation as exc:
            raise _fail("B1.D", f"event {ev.index}", exc.detail) from None
        phase = max(phase, PHASE[ev.kind])

    # B1.E credential list
    if setup.credential_list_hash is not None:
        if credentials is None:
            raise _fail("B1.E", "credential list", "the setup commits to a credential list; supply it")
        if credentials.hash() != setup.credential_list_hash:
            raise _fail("B1.E", "credential list", "hash differs from the setup commitment")
    elif credentials is not None:
        raise _fail("B1.E", "credential list", "the setup commits to no credential list")

    # B1.F-B1.H ballots and challenges
    codes: dict[bytes, int] = {}
    replay: dict[bytes, int] = {}
    payloads: dict[bytes, int] = {}
    challenged: set[bytes] = set()
    n_ballots = 0
    for ev in decoded:
        if ev.kind is EventKind.BALLOT:
            n_ballots += 1
            assert ev.code is not None
            where = f"ballot event {ev.index}"
            if setup.credentials_required:  # B1.F
                assert credentials is not None
                if ev.auth is None:
                    raise _fail("B1.F", where, "ballot carries no credential signature")
                if ev.auth.credential not in credentials:
                    raise _fail("B1.F", where, "credential is not on the credential list")
                sub = BallotSubmission(ev.payload, ev.auth.credential, ev.auth.signature)
                if not sub.signature_valid(setup.election_hash):
                    raise _fail("B1.F", where, "credential signature does not verify")
            elif ev.auth is not None:
                raise _fail("B1.F", where, "credential signature on a board without credentials")
            if ev.code in codes:  # B1.G
                raise _fail("B1.G", where, f"confirmation code already used by event {codes[ev.code]}")
            codes[ev.code] = ev.index
            if ev.payload in payloads:
                raise _fail("B1.G", where, f"same ballot bytes as event {payloads[ev.payload]}")
            payloads[ev.payload] = ev.index
            if validator is not None:
                try:
                    info = validator(ev.payload)
                except E2EVoteError as exc:
                    raise _fail("B1.G", where, f"invalid ballot: {exc}") from None
                if info.confirmation_code != ev.code:
                    raise _fail("B1.G", where, "confirmation code does not match the ballot")
                if info.replay_key in replay:
                    raise _fail("B1.G", where, f"replay of event {replay[info.replay_key]}")
                replay[info.replay_key] = ev.index
        elif ev.kind is EventKind.CHALLENGE:  # B1.H
            assert ev.ref is not None
            where = f"challenge event {ev.index}"
            if ev.ref not in codes:
                raise _fail("B1.H", where, "challenges no earlier ballot")
            if ev.ref in challenged:
                raise _fail("B1.H", where, "ballot challenged twice")
            challenged.add(ev.ref)

    # B1.I tree head signature; B1.J tree head matches the log
    sth.verify(public_key, step="B1.I", board_id=setup.board_id)
    if sth.tree_size != len(decoded):
        raise _fail("B1.J", "signed tree head", f"covers {sth.tree_size} events, the log has {len(decoded)}")
    root = tree.root()
    if sth.root_hash != root:
        raise _fail("B1.J", "signed tree head", "root hash differs from the recomputed Merkle root")
    if sth.timestamp_ms < decoded[-1].timestamp_ms:
        raise _fail("B1.J", "signed tree head", "tree head is older than the last event")

    # B1.K older tree heads (kept by voters/monitors) are prefixes of this log
    for old, proof in previous_sths:
        old.verify(public_key, step="B1.K", board_id=setup.board_id)
        verify_consistency(
            old.tree_size,
            sth.tree_size,
            old.root_hash,
            sth.root_hash,
            proof,
            step="B1.K",
            obj=f"tree head of size {old.tree_size}",
        )
        if old.tree_size <= len(decoded) and tree.root(old.tree_size) != old.root_hash:
            raise _fail("B1.K", f"tree head of size {old.tree_size}", "not a prefix of this log")

    return LogSummary(
        setup=setup,
        tree_size=sth.tree_size,
        root_hash=root,
        ballots=n_ballots,
        challenged=len(challenged),
        closed=phase >= PHASE[EventKind.CLOSE],
        counted=counted_set(decoded),
    )


# ---------------------------------------------------------------------------------------- record file


@dataclass(frozen=True, slots=True)
class BoardRecord:
    """An exported log (§7): the tree head, the credential list (if any) and every event."""

    sth: SignedTreeHead
    credentials: CredentialList | None
    events: tuple[bytes, ...]

    def __repr__(self) -> str:
        return f"BoardRecord(tree_size={self.sth.tree_size}, events=<{len(self.events)}>)"


def record_stream(board: Board, *, batch: int = 1024) -> tuple[SignedTreeHead, Iterator[bytes]]:
    """The record file (§7) for the current tree head: that head and the file as a stream of chunks.

    Chunks: the header, then one msgpack ``bin`` per event, exactly ``tree_size`` of them.
    """
    sth = board.latest_sth()
    creds = board.credentials

    def chunks() -> Iterator[bytes]:
        yield pack(
            [
                EXT.BOARD_RECORD,
                RECORD_VERSION,
                sth.to_bytes(),
                None if creds is None else creds.to_bytes(),
                sth.tree_size,
            ]
        )
        for raw in board.iter_events(sth.tree_size, batch=batch):
            yield pack(raw)

    return sth, chunks()


def write_record(board: Board, out: IO[bytes]) -> SignedTreeHead:
    """Write the record file to ``out``; return the tree head it is bound to."""
    sth, chunks = record_stream(board)
    for chunk in chunks:
        out.write(chunk)
    return sth


def read_record(data: bytes, *, max_events: int = 10**8) -> BoardRecord:
    """Strictly parse a record file (§7); raise :class:`EncodingError`."""
    unpacker = msgpack.Unpacker(
        raw=False,
        strict_map_key=True,
        max_buffer_size=max(len(data), 1),
        max_str_len=64,
        max_bin_len=max(len(data), 1),
        max_array_len=8,
        max_map_len=0,
        max_ext_len=0,
    )
    unpacker.feed(data)

    def next_obj(what: str) -> tuple[object, int]:
        start = unpacker.tell()
        try:
            obj = unpacker.unpack()
        except msgpack.OutOfData:
            raise EncodingError(f"record: truncated before {what}") from None
        except Exception as exc:
            raise EncodingError(f"record: bad msgpack in {what} ({type(exc).__name__})") from None
        if type(obj) not in (list, bytes) or len(pack(obj)) != unpacker.tell() - start:
            raise EncodingError(f"record: {what} is not canonically encoded")
        return obj, start

    header, _ = next_obj("header")
    h = expect_array(header, "record header", 5)
    if expect_bytes(h[0], "record magic") != EXT.BOARD_RECORD:
        raise EncodingError("record: not an e2evote board record")
    expect_int(h[1], "record version", RECORD_VERSION, RECORD_VERSION)
    sth = SignedTreeHead.from_bytes(expect_bytes(h[2], "record tree head"))
    creds = None if h[3] is None else CredentialList.from_bytes(expect_bytes(h[3], "credential list"))
    n = expect_int(h[4], "record event count", 0, max_events)
    if n != sth.tree_size:
        raise EncodingError("record: event count differs from the tree head size")
    events: list[bytes] = []
    for i in range(n):
        obj, _ = next_obj(f"event {i}")
        events.append(expect_bytes(obj, f"event {i}", max_size=MAX_EVENT_BYTES))
    if unpacker.tell() != len(data):
        raise EncodingError("record: trailing bytes after the last event")
    return BoardRecord(sth, creds, tuple(events))


def verify_record(
    record: BoardRecord,
    public_key: bytes,
    *,
    validator: BallotValidator | None = None,
    board_id: str | None = None,
    election_hash: bytes | None = None,
) -> LogSummary:
    """:func:`verify_log` over a parsed record file."""
    return verify_log(
        record.events,
        record.sth,
        public_key,
        credentials=record.credentials,
        validator=validator,
        board_id=board_id,
        election_hash=election_hash,
    )
