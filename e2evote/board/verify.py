"""Independent verification of a board log and the counted-ballot rule (specs/08-board.md §6, §10).

Nothing here trusts the board: a verifier holding the exported record (§7), the board public key and,
if the credential extension is on, the credential list, re-runs steps B1.A-B1.K.
"""

from __future__ import annotations

import hashlib
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Final, overload

import msgpack

from e2evote.board.board import MAX_REPLAY_KEY_SIZE, BallotValidator, Board, check_phase
from e2evote.board.codec import MAX_EVENT_BYTES, expect_array, expect_bytes, expect_int, pack
from e2evote.board.credentials import BallotSubmission, ChallengeRequest, CredentialList
from e2evote.board.errors import PhaseViolation
from e2evote.board.events import PHASE, BoardSetup, Event, EventKind
from e2evote.board.merkle import EMPTY_ROOT, frontier_root, leaf_hash, node_hash, verify_consistency
from e2evote.board.signing import MAX_CODE_SIZE, PUBLIC_KEY_SIZE, SignedTreeHead
from e2evote.board.table import ByteTable
from e2evote.errors import E2EVoteError, EncodingError, VerificationError
from e2evote.hashing import EXT

__all__ = [
    "RECORD_VERSION",
    "CountedBallot",
    "CountedBallots",
    "CountedTracker",
    "LogSummary",
    "LogVerifier",
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
    counted: CountedBallots


class CountedTracker:
    """The counted set (§6.3) of a log fed one event at a time, with compact per-ballot state.

    Per ballot (a *row*, in log order) it keeps the log index and a credential number (arrays of
    machine integers) and the confirmation code (a :class:`ByteTable`, with an index from code to
    row); per credential its key (another ByteTable); per challenge the code. No payload is kept, so a
    national log's counted set fits in memory (specs/08-board.md §12.4): ~70 bytes a ballot.
    """

    __slots__ = ("_indices", "_creds", "codes", "_credentials", "challenged")

    def __init__(self) -> None:
        self._indices = array("q")
        self._creds = array("i")  # -1: anonymous ballot
        self.codes = ByteTable(max_len=MAX_CODE_SIZE)
        """the ballots' confirmation codes, row by row (find: a code's first row)"""
        self._credentials = ByteTable(PUBLIC_KEY_SIZE)
        self.challenged: set[bytes] = set()

    def __len__(self) -> int:
        """The number of ballots (rows)."""
        return len(self._indices)

    def add(self, ev: Event) -> None:
        """Account for one event (only ballots and challenges matter)."""
        if ev.kind is EventKind.BALLOT:
            assert ev.code is not None
            cred = -1
            if ev.auth is not None:
                found = self._credentials.find(ev.auth.credential)
                cred = self._credentials.append(ev.auth.credential) if found is None else found
            self._indices.append(ev.index)
            self._creds.append(cred)
            self.codes.append(ev.code)
        elif ev.kind is EventKind.CHALLENGE:
            assert ev.ref is not None
            self.challenged.add(ev.ref)

    def index(self, row: int) -> int:
        """The log index of the ballot at ``row``."""
        return self._indices[row]

    def credential(self, row: int) -> bytes | None:
        """The credential that cast the ballot at ``row`` (None: anonymous)."""
        cred = self._creds[row]
        return None if cred < 0 else self._credentials[cred]

    def credential_at(self, index: int) -> bytes | None:
        """The credential that cast the ballot at log index ``index`` (None: anonymous)."""
        n = bisect_left(self._indices, index)
        if n == len(self._indices) or self._indices[n] != index:
            raise KeyError(index)
        return self.credential(n)

    def result(self) -> CountedBallots:
        """The counted ballots in log order: unchallenged, and the last such of each credential."""
        seen = bytearray(len(self._credentials))
        rows = array("i")
        codes = self.codes
        for i in range(len(self._indices) - 1, -1, -1):
            if self.challenged and codes[i] in self.challenged:
                continue
            cred = self._creds[i]
            if cred >= 0:
                if seen[cred]:
                    continue
                seen[cred] = 1
            rows.append(i)
        rows.reverse()
        return CountedBallots(self, rows)


class CountedBallots(Sequence[CountedBallot]):
    """The counted ballots in log order (§6.3): a read-only sequence of :class:`CountedBallot`, built
    on demand from the tracker's rows (4 bytes a counted ballot, 1 more for :meth:`has_row`)."""

    __slots__ = ("_tracker", "_rows", "_flags")

    def __init__(self, tracker: CountedTracker, rows: array[int]) -> None:
        self._tracker = tracker
        self._rows = rows
        self._flags = bytearray(len(tracker))
        for r in rows:
            self._flags[r] = 1

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, i: int) -> CountedBallot: ...

    @overload
    def __getitem__(self, i: slice) -> tuple[CountedBallot, ...]: ...

    def __getitem__(self, i: int | slice) -> CountedBallot | tuple[CountedBallot, ...]:
        if isinstance(i, slice):
            return tuple(self._ballot(r) for r in self._rows[i])
        return self._ballot(self._rows[i])

    def __iter__(self) -> Iterator[CountedBallot]:
        for r in self._rows:
            yield self._ballot(r)

    def __eq__(self, other: object) -> bool:
        """Equal to another CountedBallots or a tuple of the same ballots (as the tuple it replaces)."""
        if not isinstance(other, CountedBallots | tuple):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    def __hash__(self) -> int:
        return hash(tuple(self))  # equal to the equal tuple's: a LogSummary stays hashable

    def __repr__(self) -> str:
        return f"CountedBallots(<{len(self)}>)"

    def has_row(self, row: int) -> bool:
        """Whether the ballot at tracker row ``row`` counts."""
        return 0 <= row < len(self._flags) and self._flags[row] == 1

    def _ballot(self, row: int) -> CountedBallot:
        t = self._tracker
        return CountedBallot(t.index(row), t.codes[row], t.credential(row))


def counted_set(events: Iterable[Event]) -> CountedBallots:
    """The counted ballots (§6.3), in log order.

    A ballot counts unless it is challenged; with voter credentials, only the *last* unchallenged
    ballot of each credential counts (re-voting). Ballots after ``close`` cannot exist (B1.D).
    """
    tracker = CountedTracker()
    for ev in events:
        tracker.add(ev)
    return tracker.result()


def _fail(step: str, obj: str, detail: str) -> VerificationError:
    return VerificationError(step, obj, detail)


class LogVerifier:
    """Steps B1.A-B1.J over a log fed one raw event at a time (specs/08-board.md §10, §12.4).

    Memory does not grow with the events themselves: the Merkle root is computed on a frontier
    (O(log n) hashes), and what the log's rules need per ballot is kept compact: row by row (log
    order) in :class:`ByteTable` columns, the code, the SHA-256 of the ballot's bytes and its replay
    key, and the tracker's index and credential number (~110 bytes a ballot, ~150 with a validator).
    The failure reported is the one the step order of §10 names first, exactly as if the steps ran
    one after the other over the whole log: B1.A/B1.B raise at once (they come first), the first
    B1.C, B1.D and B1.F-B1.H failures are kept and raised by :meth:`finish` in step order, before
    B1.I and B1.J.

    ``prefix_sizes``: tree sizes whose roots to remember (:meth:`prefix_root`) for B1.K.
    ``on_event``: called with every decoded event in log order (cross-checks in the same pass).
    """

    def __init__(
        self,
        sth: SignedTreeHead,
        public_key: bytes,
        *,
        credentials: CredentialList | None = None,
        validator: BallotValidator | None = None,
        board_id: str | None = None,
        election_hash: bytes | None = None,
        prefix_sizes: Iterable[int] = (),
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        self.sth = sth
        self.public_key = public_key
        self.credentials = credentials
        self.validator = validator
        self.board_id = board_id
        self.election_hash = election_hash
        self.on_event = on_event
        self.size = 0
        self._frontier: list[bytes] = []
        self._last_ts = 0
        self._wanted = frozenset(prefix_sizes)
        self._prefix: dict[int, bytes] = {0: EMPTY_ROOT} if 0 in self._wanted else {}
        self.setup: BoardSetup | None = None
        self._deferred_c: VerificationError | None = None
        self._deferred_d: VerificationError | None = None
        self._deferred_e: VerificationError | None = None
        self._deferred_fh: VerificationError | None = None
        self._phase = -1
        self.tracker = CountedTracker()
        """the ballots row by row (log order): index, code, credential; the challenged codes"""
        self._payloads = ByteTable(32)
        """SHA-256 of each ballot's bytes, row by row"""
        self._replay = ByteTable(max_len=MAX_REPLAY_KEY_SIZE)
        """each ballot's replay key, row by row (with a validator)"""
        self.ballots = 0

    @property
    def challenged(self) -> set[bytes]:
        """The confirmation codes challenged so far."""
        return self.tracker.challenged

    def code_row(self, code: bytes) -> int | None:
        """The row (see :attr:`tracker`) of the first ballot with confirmation code ``code``, if any
        (B1.G keeps the codes unique)."""
        return self.tracker.codes.find(code)

    def code_index(self, code: bytes) -> int | None:
        """The log index of the first ballot with confirmation code ``code``, if any."""
        row = self.code_row(code)
        return None if row is None else self.tracker.index(row)

    def payload_digest(self, row: int) -> bytes:
        """The SHA-256 of the bytes of the ballot at ``row`` (a record can compare its own ballots
        without re-hashing the log)."""
        return self._payloads[row]

    def payload_index(self, digest: bytes) -> int | None:
        """The log index of the ballot whose bytes have SHA-256 ``digest``, if any (B1.G keeps the
        ballots' bytes unique)."""
        row = self._payloads.find(digest)
        return None if row is None else self.tracker.index(row)

    def prefix_root(self, size: int) -> bytes | None:
        """The root of the first ``size`` events, if ``size`` was asked for and reached."""
        return self._prefix.get(size)

    def add(self, raw: bytes) -> None:
        """Check the next event; raises :class:`VerificationError` for B1.A/B1.B at once."""
        i = self.size
        try:
            ev = Event.from_bytes(raw)  # B1.A
        except EncodingError as exc:
            raise _fail("B1.A", f"event {i}", str(exc)) from None
        if ev.index != i:  # B1.B
            raise _fail("B1.B", f"event {i}", f"carries index {ev.index}")
        if i and ev.timestamp_ms < self._last_ts:
            raise _fail("B1.B", f"event {i}", "timestamp goes backwards")
        self._last_ts = ev.timestamp_ms
        h = leaf_hash(raw)
        index = i
        while index & 1:
            h = node_hash(self._frontier.pop(), h)
            index >>= 1
        self._frontier.append(h)
        self.size = i + 1
        if self.size in self._wanted:
            self._prefix[self.size] = frontier_root(self._frontier)
        if i == 0:
            self._setup(ev)
        if self._deferred_d is None:  # B1.D
            try:
                check_phase(ev.index, self._phase, ev.kind)
            except PhaseViolation as exc:
                self._deferred_d = _fail("B1.D", f"event {ev.index}", exc.detail)
            self._phase = max(self._phase, PHASE[ev.kind])
        if self.setup is not None and self._deferred_e is None and self._deferred_fh is None:
            try:
                self._ballot_rules(ev, self.setup)
            except VerificationError as exc:
                self._deferred_fh = exc
        if self.on_event is not None:
            self.on_event(ev)

    def _setup(self, first: Event) -> None:
        """B1.C (kept for :meth:`finish`) and B1.E, from event 0."""
        if first.kind is not EventKind.SETUP:
            self._deferred_c = _fail("B1.C", "event 0", "the first event is not the setup event")
            return
        try:
            setup = BoardSetup.from_bytes(first.payload)
        except EncodingError as exc:
            self._deferred_c = _fail("B1.C", "event 0", f"setup payload: {exc}")
            return
        if setup.board_public_key != self.public_key:
            self._deferred_c = _fail("B1.C", "event 0", "setup names a different board public key")
        elif self.board_id is not None and setup.board_id != self.board_id:
            self._deferred_c = _fail("B1.C", "event 0", f"board id {setup.board_id!r} != {self.board_id!r}")
        elif self.election_hash is not None and setup.election_hash != self.election_hash:
            self._deferred_c = _fail("B1.C", "event 0", "setup names a different election hash")
        if setup.credential_list_hash is not None:
            if self.credentials is None:
                self._deferred_e = _fail(
                    "B1.E", "credential list", "the setup commits to a credential list; supply it"
                )
            elif self.credentials.hash() != setup.credential_list_hash:
                self._deferred_e = _fail("B1.E", "credential list", "hash differs from the setup commitment")
        elif self.credentials is not None:
            self._deferred_e = _fail("B1.E", "credential list", "the setup commits to no credential list")
        self.setup = setup

    def _ballot_rules(self, ev: Event, setup: BoardSetup) -> None:
        """B1.F-B1.H for one event."""
        if ev.kind is EventKind.BALLOT:
            self.ballots += 1
            assert ev.code is not None
            where = f"ballot event {ev.index}"
            if setup.credentials_required:  # B1.F
                assert self.credentials is not None
                if ev.auth is None:
                    raise _fail("B1.F", where, "ballot carries no credential signature")
                if ev.auth.credential not in self.credentials:
                    raise _fail("B1.F", where, "credential is not on the credential list")
                sub = BallotSubmission(ev.payload, ev.auth.credential, ev.auth.signature)
                if not sub.signature_valid(setup.election_hash):
                    raise _fail("B1.F", where, "credential signature does not verify")
            elif ev.auth is not None:
                raise _fail("B1.F", where, "credential signature on a board without credentials")
            tracker = self.tracker
            row = tracker.codes.find(ev.code)
            if row is not None:  # B1.G
                raise _fail("B1.G", where, f"confirmation code already used by event {tracker.index(row)}")
            digest = hashlib.sha256(ev.payload).digest()
            row = self._payloads.find(digest)
            if row is not None:
                raise _fail("B1.G", where, f"same ballot bytes as event {tracker.index(row)}")
            replay: bytes | None = None
            if self.validator is not None:
                try:
                    info = self.validator(ev.payload)
                except E2EVoteError as exc:
                    raise _fail("B1.G", where, f"invalid ballot: {exc}") from None
                if info.confirmation_code != ev.code:
                    raise _fail("B1.G", where, "confirmation code does not match the ballot")
                replay = info.replay_key
                if not isinstance(replay, bytes) or not 0 < len(replay) <= MAX_REPLAY_KEY_SIZE:
                    raise _fail("B1.G", where, "the validator gave no replay key")
                row = self._replay.find(replay)
                if row is not None:
                    raise _fail("B1.G", where, f"replay of event {tracker.index(row)}")
            # the ballot passed: one new row in every table (the tracker's below)
            self._payloads.append(digest)
            if replay is not None:
                self._replay.append(replay)
        elif ev.kind is EventKind.CHALLENGE:  # B1.H
            assert ev.ref is not None
            where = f"challenge event {ev.index}"
            row = self.tracker.codes.find(ev.ref)
            if row is None:
                raise _fail("B1.H", where, "challenges no earlier ballot")
            if ev.ref in self.tracker.challenged:
                raise _fail("B1.H", where, "ballot challenged twice")
            if setup.credentials_required:
                if ev.auth is None:
                    raise _fail("B1.H", where, "challenge carries no credential signature")
                if ev.auth.credential != self.tracker.credential(row):
                    raise _fail("B1.H", where, "not signed by the credential that cast the ballot")
                req = ChallengeRequest(ev.ref, ev.auth.credential, ev.auth.signature)
                if not req.signature_valid(setup.election_hash):
                    raise _fail("B1.H", where, "credential signature does not verify")
            elif ev.auth is not None:
                raise _fail("B1.H", where, "credential signature on a board without credentials")
        self.tracker.add(ev)

    def finish(self) -> LogSummary:
        """The remaining steps in order (B1.C, B1.D, B1.E, B1.F-B1.H, B1.I, B1.J); the summary."""
        if self.size == 0:
            raise _fail("B1.A", "log", "the log is empty")
        for deferred in (self._deferred_c, self._deferred_d, self._deferred_e, self._deferred_fh):
            if deferred is not None:
                raise deferred
        setup = self.setup
        assert setup is not None
        sth = self.sth
        sth.verify(self.public_key, step="B1.I", board_id=setup.board_id)
        if sth.tree_size != self.size:
            raise _fail("B1.J", "signed tree head", f"covers {sth.tree_size} events, the log has {self.size}")
        root = frontier_root(self._frontier)
        if sth.root_hash != root:
            raise _fail("B1.J", "signed tree head", "root hash differs from the recomputed Merkle root")
        if sth.timestamp_ms < self._last_ts:
            raise _fail("B1.J", "signed tree head", "tree head is older than the last event")
        return LogSummary(
            setup=setup,
            tree_size=sth.tree_size,
            root_hash=root,
            ballots=self.ballots,
            challenged=len(self.tracker.challenged),
            closed=self._phase >= PHASE[EventKind.CLOSE],
            counted=self.tracker.result(),
        )


def verify_log(
    events: Iterable[bytes],
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

    ``events`` are the raw event bytes in log order, any iterable (read once, not kept: a
    :class:`LogVerifier` pass); ``public_key`` is the board key obtained out of band;
    ``credentials`` is the public credential list (required iff the setup commits to one);
    ``validator`` (optional) re-validates every ballot and recomputes its confirmation code;
    ``previous_sths`` are older (tree head, consistency proof to ``sth``) pairs a voter or monitor
    kept, checked with B1.K. Raises :class:`VerificationError`; returns a :class:`LogSummary`.
    """
    previous = list(previous_sths)
    lv = LogVerifier(
        sth,
        public_key,
        credentials=credentials,
        validator=validator,
        board_id=board_id,
        election_hash=election_hash,
        prefix_sizes=[old.tree_size for old, _ in previous],
    )
    for raw in events:
        lv.add(raw)
    summary = lv.finish()

    # B1.K older tree heads (kept by voters/monitors) are prefixes of this log
    for old, proof in previous:
        old.verify(public_key, step="B1.K", board_id=summary.setup.board_id)
        verify_consistency(
            old.tree_size,
            sth.tree_size,
            old.root_hash,
            sth.root_hash,
            proof,
            step="B1.K",
            obj=f"tree head of size {old.tree_size}",
        )
        if old.tree_size <= lv.size and lv.prefix_root(old.tree_size) != old.root_hash:
            raise _fail("B1.K", f"tree head of size {old.tree_size}", "not a prefix of this log")
    return summary


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
