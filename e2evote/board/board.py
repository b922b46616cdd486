"""The bulletin board: an append-only, Merkle-tree-authenticated log (specs/08-board.md).

The board is generic over the election: events carry opaque canonical payload bytes, and the
protocol-specific ballot check is *injected* as a :data:`BallotValidator`. Every append — setup,
ballot, challenge, close, tally, … — runs inside one storage write transaction that assigns the log
index, extends the RFC 6962 tree, signs the new tree head (and, for a ballot, the receipt) and
commits. A receipt is returned only after COMMIT.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from e2evote.board.credentials import BallotSubmission, ChallengeRequest, CredentialList
from e2evote.board.errors import (
    BoardStateError,
    CredentialRejected,
    DuplicateBallot,
    InvalidBallot,
    MalformedSubmission,
    NotFound,
    PhaseViolation,
)
from e2evote.board.events import PHASE, BallotAuth, BoardSetup, Event, EventKind
from e2evote.board.merkle import (
    consistency_proof,
    frontier_append,
    frontier_audit_path,
    frontier_root,
    inclusion_proof,
    leaf_hash,
)
from e2evote.board.signing import MAX_CODE_SIZE, BoardKey, Receipt, SignedTreeHead
from e2evote.board.storage import BallotRow, HeadState, PreparedAppend, Storage, WriteTx
from e2evote.errors import BoardError, E2EVoteError, EncodingError

__all__ = [
    "BallotInfo",
    "BallotValidator",
    "BallotLookup",
    "Board",
    "check_phase",
    "stored_events",
    "CREDENTIALS_META",
]

CREDENTIALS_META = "credential_list"
MAX_REPLAY_KEY_SIZE = 64


@dataclass(frozen=True, slots=True)
class BallotInfo:
    """What the injected validator returns for a valid ballot (specs/08-board.md §6.1).

    ``confirmation_code``: the ballot's confirmation code (1-64 bytes; EG 2.0 eq. 58-59);
    ``replay_key``: 1-64 bytes identifying the ballot's ciphertexts/proofs, e.g. a hash of them; two
    submissions with the same replay key are the same ballot;
    ``confirm``: optional, called inside the append's write transaction once the board's own replay
    and code checks pass; it raises an :class:`~e2evote.errors.E2EVoteError` to refuse the ballot
    against what other processes appended meanwhile (e.g. the V7.H/V19.E index, §12.1);
    ``abort``: optional, called if the board then refuses the ballot or the append fails (the
    validator's claims on it are released).
    """

    confirmation_code: bytes
    replay_key: bytes
    confirm: Callable[[WriteTx], None] | None = field(default=None, compare=False, repr=False)
    abort: Callable[[], None] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if (
            not isinstance(self.confirmation_code, bytes)
            or not 0 < len(self.confirmation_code) <= MAX_CODE_SIZE
        ):
            raise EncodingError("confirmation code must be 1..64 bytes")
        if not isinstance(self.replay_key, bytes) or not 0 < len(self.replay_key) <= MAX_REPLAY_KEY_SIZE:
            raise EncodingError("replay key must be 1..64 bytes")


BallotValidator = Callable[[bytes], BallotInfo]
"""``validate(ballot_bytes) -> BallotInfo``; raises an :class:`~e2evote.errors.E2EVoteError` if invalid."""


@dataclass(frozen=True, slots=True)
class BallotLookup:
    """A stored receipt plus a fresh inclusion proof against the latest tree head."""

    receipt: Receipt
    sth: SignedTreeHead
    audit_path: tuple[bytes, ...]
    challenged: bool

    def to_json(self) -> dict[str, object]:
        """JSON view used by ``GET /v1/ballots/{code}``."""
        return {
            "receipt": self.receipt.to_json(),
            "challenged": self.challenged,
            "inclusion": {
                "leaf_index": self.receipt.leaf_index,
                "tree_size": self.sth.tree_size,
                "audit_path": [p.hex() for p in self.audit_path],
            },
            "sth": self.sth.to_json(),
        }


def check_phase(head_size: int, head_phase: int, kind: EventKind) -> None:
    """Event-ordering rule B1.D (specs/08-board.md §2.2); raise :class:`PhaseViolation`."""
    if head_size == 0:
        if kind is not EventKind.SETUP:
            raise PhaseViolation("phase", "the first event must be the setup event")
        return
    if kind is EventKind.SETUP:
        raise PhaseViolation("phase", "there is exactly one setup event")
    close = PHASE[EventKind.CLOSE]
    if head_phase >= close and (kind is EventKind.CLOSE or PHASE[kind] < close):
        raise PhaseViolation("closed", f"voting is closed; no {kind.value} event allowed")
    if PHASE[kind] > close and head_phase < close:
        raise PhaseViolation("not_closed", f"a {kind.value} event needs a close event first")
    if PHASE[kind] < head_phase:
        raise PhaseViolation("phase", f"a {kind.value} event is not allowed in phase {head_phase}")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Board:
    """A bulletin board over a :class:`~e2evote.board.storage.Storage` (specs/08-board.md).

    Thread-safe: appends serialize in the storage; reads run concurrently.
    """

    __slots__ = ("_storage", "_key", "_validator", "_clock", "_setup", "_credentials")

    def __init__(
        self,
        storage: Storage,
        key: BoardKey,
        validator: BallotValidator,
        *,
        clock: Callable[[], int] | None = None,
    ) -> None:
        """Open an existing board (created by :meth:`create`) with its signing key."""
        self._storage = storage
        self._key = key
        self._validator = validator
        self._clock = clock or _now_ms
        first = storage.events(0, 1)
        if not first:
            raise BoardStateError("no_board", "storage holds no board yet (use Board.create)")
        try:
            ev = Event.from_bytes(first[0])
            if ev.kind is not EventKind.SETUP:
                raise EncodingError("event 0 is not a setup event")
            self._setup = BoardSetup.from_bytes(ev.payload)
        except EncodingError as exc:
            raise BoardStateError("corrupt", f"setup event: {exc}") from None
        if self._setup.board_public_key != key.public_key:
            raise BoardStateError("wrong_key", "the signing key does not match the board's public key")
        self._credentials: CredentialList | None = None
        if self._setup.credential_list_hash is not None:
            raw = storage.get_meta(CREDENTIALS_META)
            if raw is None:
                raise BoardStateError("corrupt", "credential list missing from storage")
            creds = CredentialList.from_bytes(raw)
            if creds.hash() != self._setup.credential_list_hash:
                raise BoardStateError("corrupt", "stored credential list does not match the setup event")
            self._credentials = creds

    @classmethod
    def create(
        cls,
        storage: Storage,
        key: BoardKey,
        validator: BallotValidator,
        *,
        board_id: str,
        election_hash: bytes,
        credentials: CredentialList | None = None,
        election: bytes = b"",
        clock: Callable[[], int] | None = None,
    ) -> Board:
        """Initialize an empty storage with the setup event (§2.3) and open the board."""
        setup = BoardSetup(
            board_id=board_id,
            board_public_key=key.public_key,
            election_hash=election_hash,
            credential_list_hash=None if credentials is None else credentials.hash(),
            election=election,
        )
        if storage.read_head().size != 0:
            raise BoardStateError("exists", "storage already holds a board")
        if credentials is not None:
            storage.put_meta(CREDENTIALS_META, credentials.to_bytes())
        _append(storage, key, board_id, clock or _now_ms, EventKind.SETUP, setup.to_bytes())
        return cls(storage, key, validator, clock=clock)

    def __repr__(self) -> str:
        pk = self.public_key.hex()
        return f"Board(board_id={self.board_id!r}, public_key={pk}, storage={self._storage!r})"

    # ------------------------------------------------------------------ properties

    @property
    def storage(self) -> Storage:
        """The storage backend."""
        return self._storage

    @property
    def setup(self) -> BoardSetup:
        """The setup event payload."""
        return self._setup

    @property
    def board_id(self) -> str:
        """The board id (bound into every signature)."""
        return self._setup.board_id

    @property
    def public_key(self) -> bytes:
        """The board's Ed25519 public key."""
        return self._setup.board_public_key

    @property
    def credentials(self) -> CredentialList | None:
        """The public credential list, if the credential extension is on (§5)."""
        return self._credentials

    # ------------------------------------------------------------------ writes

    def submit(self, submission: BallotSubmission | bytes) -> Receipt:
        """Validate and append a ballot (§6.1); return its signed receipt once committed.

        Raises :class:`MalformedSubmission`, :class:`CredentialRejected`, :class:`InvalidBallot`,
        :class:`DuplicateBallot` or :class:`PhaseViolation`.
        """
        if not isinstance(submission, BallotSubmission):
            try:
                submission = BallotSubmission.from_bytes(submission)
            except EncodingError as exc:
                raise MalformedSubmission("malformed", str(exc)) from None
        auth = self._check_credential(submission, "ballots must be signed with a voter credential")
        try:
            info = self._validator(submission.ballot)
        except E2EVoteError as exc:
            raise InvalidBallot("invalid_ballot", str(exc)) from None
        if not isinstance(info, BallotInfo):
            raise TypeError("the ballot validator must return a BallotInfo")

        def check(tx: WriteTx) -> None:
            if tx.ballot_by_replay_key(info.replay_key) is not None:
                raise DuplicateBallot("replay", "this ballot is already on the board")
            if tx.ballot_by_code(info.confirmation_code) is not None:
                raise DuplicateBallot("confirmation_code_collision", "confirmation code already on the board")
            if info.confirm is not None:
                try:
                    info.confirm(tx)
                except BoardError:
                    raise
                except E2EVoteError as exc:
                    raise InvalidBallot("invalid_ballot", str(exc)) from None

        try:
            prepared = _append(
                self._storage,
                self._key,
                self.board_id,
                self._clock,
                EventKind.BALLOT,
                submission.ballot,
                code=info.confirmation_code,
                auth=auth,
                replay_key=info.replay_key,
                check=check,
            )
        except BaseException:
            if info.abort is not None:
                info.abort()
            raise
        assert prepared.ballot is not None
        return Receipt.from_bytes(prepared.ballot.receipt)

    def _check_credential(
        self, signed: BallotSubmission | ChallengeRequest, required: str
    ) -> BallotAuth | None:
        """§5.4 for a submission or a challenge request; ``required`` says what must be signed."""
        if self._credentials is None:
            if signed.credential is not None:
                raise CredentialRejected("unexpected_credential", "this board does not use voter credentials")
            return None
        if signed.credential is None or signed.signature is None:
            raise CredentialRejected("credential_required", required)
        if signed.credential not in self._credentials:
            raise CredentialRejected("unknown_credential", "credential is not on the credential list")
        if not signed.signature_valid(self._setup.election_hash):
            raise CredentialRejected("bad_signature", "credential signature does not verify")
        return BallotAuth(signed.credential, signed.signature)

    def challenge(self, request: ChallengeRequest | bytes, payload: bytes = b"") -> SignedTreeHead:
        """Append a challenge (spoil) event for an accepted ballot (§6.2). ``request`` is a
        :class:`ChallengeRequest` or, on a board without credentials, the bare confirmation code;
        with credentials it must be signed by the credential that cast the ballot.

        Raises :class:`MalformedSubmission`, :class:`CredentialRejected`, :class:`NotFound` or
        :class:`PhaseViolation`."""
        if not isinstance(request, ChallengeRequest):
            try:
                request = ChallengeRequest(request)
            except EncodingError as exc:
                raise MalformedSubmission("malformed", str(exc)) from None
        confirmation_code = request.confirmation_code
        auth = self._check_credential(
            request, "a challenge must be signed with the credential that cast the ballot"
        )

        def check(tx: WriteTx) -> None:
            row = tx.ballot_by_code(confirmation_code)
            if row is None:
                raise NotFound("not_found", "no ballot with this confirmation code")
            if auth is not None and row.credential != auth.credential:
                raise CredentialRejected(
                    "wrong_credential", "only the credential that cast this ballot can challenge it"
                )
            if row.challenged:
                raise PhaseViolation("already_challenged", "ballot already challenged")

        p = _append(
            self._storage,
            self._key,
            self.board_id,
            self._clock,
            EventKind.CHALLENGE,
            payload,
            ref=confirmation_code,
            auth=auth,
            check=check,
        )
        return _sth_of(p.head)

    def append_event(self, kind: EventKind, payload: bytes) -> SignedTreeHead:
        """Append a protocol event (guardian_*, close, tally, decryption, result); return the new STH."""
        kind = EventKind(kind)
        if kind in (EventKind.SETUP, EventKind.BALLOT, EventKind.CHALLENGE):
            raise PhaseViolation("phase", f"use Board.create/submit/challenge for {kind.value} events")
        p = _append(self._storage, self._key, self.board_id, self._clock, kind, payload)
        return _sth_of(p.head)

    def close_voting(self, payload: bytes = b"") -> SignedTreeHead:
        """Append the close event: no ballots or challenges are accepted afterwards."""
        return self.append_event(EventKind.CLOSE, payload)

    def refresh_sth(self, *, min_age_ms: int = 0) -> SignedTreeHead:
        """Sign a freshness STH (same size and root, current time; §4.1); return the latest STH.

        No event is appended, so an idle board can still show monitors that it is live (B3.E). The
        ``sths`` table keeps the append's STH of each size (``sth_at``, receipts and checkpoints refer
        to it); only the head's latest STH and timestamp advance. The timestamp is ``max(now, previous
        timestamp)``, so it never goes backwards and later events are not older than it (B1.B, B1.J).
        If the latest STH is younger than ``min_age_ms`` (the board was not idle), nothing is signed.
        """

        def prepare(head: HeadState) -> HeadState | None:
            _sth_of(head)  # raises on an empty log
            now = self._clock()
            if now - head.timestamp_ms < min_age_ms or now <= head.timestamp_ms:
                return None  # recent enough, or the clock has not moved past the last head
            sth = SignedTreeHead.sign(self._key, self.board_id, head.size, now, frontier_root(head.frontier))
            return HeadState(head.size, head.frontier, now, head.phase, sth.to_bytes())

        return _sth_of(self._storage.refresh(prepare))

    # ------------------------------------------------------------------ reads

    def latest_sth(self) -> SignedTreeHead:
        """The signed tree head of the whole log."""
        return _sth_of(self._storage.read_head())

    def sth_at(self, size: int) -> SignedTreeHead:
        """The tree head signed when the log reached ``size`` events."""
        raw = self._storage.get_sth(size)
        if raw is None:
            raise NotFound("not_found", f"no tree head for size {size}")
        return SignedTreeHead.from_bytes(raw)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """``PATH(index, D[size])`` (default: latest size)."""
        current = self._storage.read_head().size
        n = current if size is None else size
        if not 0 <= index < n or n > current:
            raise NotFound("not_found", f"no leaf {index} in a tree of size {n}")
        return inclusion_proof(index, n, self._storage)

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """``PROOF(first, D[second])``; ``0 <= first <= second <= size``."""
        size = self._storage.read_head().size
        if not 0 <= first <= second <= size:
            raise NotFound("not_found", f"no consistency proof from {first} to {second} (size {size})")
        return consistency_proof(first, second, self._storage)

    def lookup(self, confirmation_code: bytes) -> BallotLookup:
        """The receipt of a ballot and its inclusion proof in the latest tree head."""
        row: BallotRow | None = self._storage.ballot_by_code(confirmation_code)
        if row is None:
            raise NotFound("not_found", "no ballot with this confirmation code")
        sth = self.latest_sth()
        path = inclusion_proof(row.index, sth.tree_size, self._storage)
        return BallotLookup(Receipt.from_bytes(row.receipt), sth, tuple(path), row.challenged)

    def events(self, start: int, stop: int) -> list[bytes]:
        """Raw event bytes ``start <= i < stop``."""
        return self._storage.events(start, stop)

    def iter_events(self, stop: int | None = None, *, batch: int = 1024) -> Iterator[bytes]:
        """All raw event bytes up to ``stop`` (default: the size when called), in order."""
        end = self._storage.read_head().size if stop is None else stop
        return stored_events(self._storage, end, batch=batch)


def stored_events(storage: Storage, stop: int, *, batch: int = 1024) -> Iterator[bytes]:
    """Raw event bytes ``0 <= i < stop`` from ``storage``, read ``batch`` at a time (memory bounded by
    one batch); a missing event raises :class:`BoardStateError` ``corrupt``."""
    for start in range(0, stop, batch):
        chunk = storage.events(start, min(start + batch, stop))
        if len(chunk) != min(batch, stop - start):
            raise BoardStateError("corrupt", "log has a gap")
        yield from chunk


def _sth_of(head: HeadState) -> SignedTreeHead:
    if head.sth is None:
        raise BoardStateError("no_board", "the log is empty")
    return SignedTreeHead.from_bytes(head.sth)


def _append(
    storage: Storage,
    key: BoardKey,
    board_id: str,
    clock: Callable[[], int],
    kind: EventKind,
    payload: bytes,
    *,
    code: bytes | None = None,
    ref: bytes | None = None,
    auth: BallotAuth | None = None,
    replay_key: bytes | None = None,
    check: Callable[[WriteTx], None] | None = None,
) -> PreparedAppend:
    """One append (specs/08-board.md §3.3), computed inside the storage's write transaction."""

    def prepare(tx: WriteTx) -> PreparedAppend:
        head = tx.head
        check_phase(head.size, head.phase, kind)
        if check is not None:
            check(tx)
        ts = max(clock(), head.timestamp_ms)
        event = Event(head.size, kind, ts, payload, code=code, ref=ref, auth=auth)
        data = event.to_bytes()
        lh = leaf_hash(data)
        frontier, nodes, merged = frontier_append(head.frontier, head.size, lh)
        size = head.size + 1
        sth = SignedTreeHead.sign(key, board_id, size, ts, frontier_root(frontier))
        row: BallotRow | None = None
        if kind is EventKind.BALLOT:
            assert code is not None and replay_key is not None
            receipt = Receipt.sign(key, code, head.size, lh, sth, frontier_audit_path(frontier, merged))
            row = BallotRow(
                code,
                replay_key,
                head.size,
                None if auth is None else auth.credential,
                receipt.to_bytes(),
                False,
            )
        new_head = HeadState(size, frontier, ts, max(head.phase, PHASE[kind]), sth.to_bytes())
        return PreparedAppend(data, tuple(nodes), new_head, row, ref)

    return storage.append(prepare)
