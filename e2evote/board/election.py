"""ElectionGuard elections on the bulletin board (specs/08-board.md §12 "Elections on the board").

The board (e2evote.board) is generic over the election; this module binds it to an EG 2.0 election:

* :func:`ballot_validator` — the validator injected into :class:`~e2evote.board.Board` (§6.1 step 3):
  a submitted ballot is the canonical msgpack of :func:`e2evote.record.codec.enc_ballot`, checked in
  full before it is acknowledged (ballot style and options, contest hashes, confirmation code, every
  selection range proof and contest limit proof — verification steps V5-V7 of specs/10);
* :class:`BallotIndex` — ballot ids and selection ciphertexts already on the board, so that no
  accepted ballot copies another's ciphertexts (V7.H) or reuses its id (V19.E);
* :class:`ElectionBoard` — an official's glue: create/open a board for an election context, submit,
  close voting, the counted ballots and their encrypted tally (eq. 62), publish the tally;
* :func:`export_record` — a sealed native record (specs/07-record.md) made from the board: the
  counted ballots (the §6.3 counted set), the challenged ballots, the tally parts if given, and the
  whole log as the ``ext/board.msgpack`` extension with its event files ``ext/board/`` (§12.3),
  which the verifier re-checks (B1, B4); :func:`iter_board_events` reads the log back in chunks;
* :func:`load_election` — the election context and guardian keys from a native record or an
  election directory.

Layering: this module uses protocol/, proofs/ and record/, never verifier/.
"""

from __future__ import annotations

import hashlib
import os
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgpack

from e2evote.board.board import MAX_REPLAY_KEY_SIZE, BallotInfo, BallotValidator, Board, stored_events
from e2evote.board.credentials import BallotSubmission, ChallengeRequest, CredentialList, VoterCredential
from e2evote.board.errors import BoardStateError
from e2evote.board.events import BoardSetup, Event, EventKind
from e2evote.board.signing import BoardKey, Receipt, SignedTreeHead
from e2evote.board.storage import Storage, WriteTx
from e2evote.board.table import ByteTable
from e2evote.board.verify import CountedBallots, CountedTracker, counted_set
from e2evote.encoding import MAX_OBJECT_BYTES, pack, read_regular_file, unpack
from e2evote.errors import (
    E2EVoteError,
    EncodingError,
    ManifestError,
    RecordError,
    VerificationError,
)
from e2evote.hashing import b_file
from e2evote.protocol.ballot import (
    ALPHA_KEY_BYTES,
    BallotState,
    EncryptedBallot,
    alpha_key,
    ballot_id_bytes,
    check_ballot_proofs,
    device_info,
    expected_baux,
)
from e2evote.protocol.ceremony import GuardianPublicKeys
from e2evote.protocol.election import ElectionContext
from e2evote.protocol.outcomes import compute_outcomes
from e2evote.protocol.tally import DecryptedTally, EncryptedTally, TallyAccumulator
from e2evote.record import codec
from e2evote.record.model import ChallengedBallot
from e2evote.record.native import CHUNK_SIZE, RecordWriter

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = [
    "BOARD_EXTENSION",
    "BOARD_EXTENSION_FORMAT",
    "BOARD_EXTENSION_FORMAT_V1",
    "MAX_EVENTS_PER_FILE",
    "MAX_EVENT_FILE_BYTES",
    "ELECTION_BINDING_FORMAT",
    "REPLAY_TAG",
    "MAX_BALLOT_BYTES",
    "BallotIndex",
    "BoardExtension",
    "ElectionBinding",
    "ElectionBoard",
    "ballot_bytes",
    "ballot_submission",
    "ballot_validator",
    "chain_rule",
    "check_ballot",
    "decode_ballot",
    "decode_board_extension",
    "encode_board_extension",
    "event_file_name",
    "export_record",
    "iter_board_events",
    "load_election",
    "read_event_file",
    "replay_key",
    "canonical_replay_key",
]

BOARD_EXTENSION: Final = "board"
"""name of the record extension holding the log: ``ext/board.msgpack``"""
BOARD_EXTENSION_FORMAT: Final = "e2evote-board-ext-v2"
"""the format :func:`export_record` writes: events streamed into ``ext/board/events-NNNNNN.msgpack``"""
BOARD_EXTENSION_FORMAT_V1: Final = "e2evote-board-ext-v1"
"""the older format, every event inline in ``ext/board.msgpack`` (still read)"""
MAX_EVENTS_PER_FILE: Final = 4096
"""at most this many events per v2 event file"""
MAX_EVENT_FILE_BYTES: Final = 40 * 1024 * 1024
"""a v2 event file is closed before its events pass this size (one event is at most 16 MiB, so a
file stays under the 64 MiB msgpack bound of the record reader)"""
ELECTION_BINDING_FORMAT: Final = "e2evote-board-election-v1"
REPLAY_TAG: Final = b"E2EVOTE-BOARD-BALLOT-REPLAY-v1"
MAX_BALLOT_BYTES: Final = 4 * 1024 * 1024
"""upper bound on one encoded ballot (the board's HTTP body limit is usually lower)"""


# ---------------------------------------------------------------------------------------------------
# ballot bytes, replay key, validation (§12.1)
# ---------------------------------------------------------------------------------------------------


def ballot_bytes(ballot: EncryptedBallot) -> bytes:
    """The bytes a voter submits and the board logs: canonical msgpack of ``codec.enc_ballot``."""
    return pack(codec.enc_ballot(ballot))


def ballot_submission(
    ctx: ElectionContext, ballot: EncryptedBallot, credential: VoterCredential | None = None
) -> bytes:
    """The ``BallotSubmission`` body for ``POST /v1/ballots`` (§5.3), signed if ``credential`` is given."""
    data = ballot_bytes(ballot)
    if credential is None:
        return BallotSubmission(data).to_bytes()
    return credential.sign_ballot(ctx.H_E, data).to_bytes()


def _tree(data: bytes) -> dict[str, Any]:
    try:
        tree = unpack(data, max_bytes=MAX_BALLOT_BYTES)
    except EncodingError as exc:
        raise VerificationError("R2.B", "ballot", f"not canonical msgpack: {exc}") from None
    if not isinstance(tree, dict) or not isinstance(tree.get("contests"), list):
        raise VerificationError("R2.B", "ballot", "not an encoded ballot")
    return tree


def replay_key(tree: Mapping[str, Any]) -> bytes:
    """``SHA-256(b_file(REPLAY_TAG) || canonical msgpack of the ballot's contests)`` (§12.1).

    The contests carry every ciphertext, range proof, contest hash and contest data of the ballot, but
    not its id, style, state, B_aux, device or time: the same ciphertexts re-wrapped under another
    id (or re-signed by another credential) have the same replay key.
    """
    return hashlib.sha256(b_file(REPLAY_TAG) + pack(tree["contests"])).digest()


def canonical_replay_key(payload: bytes) -> bytes:
    """:func:`replay_key` of a ballot whose bytes ``payload`` were checked canonical (decoded with
    :func:`e2evote.encoding.unpack`), without encoding its contests again: in a canonical encoding, the
    bytes of the ``contests`` value are the canonical encoding of the contests (msgpack is
    concatenative), so they are hashed as they lie (~10 µs against ~100 µs for a 12 KB ballot:
    rebuilding a board's index from its log, the record's own ballots in its board check)."""
    u = msgpack.Unpacker(raw=False, max_buffer_size=max(len(payload), 1))
    u.feed(payload)
    for _ in range(u.read_map_header()):
        name = u.unpack()
        start = u.tell()
        u.skip()
        if name == "contests":
            return hashlib.sha256(b_file(REPLAY_TAG) + payload[start : u.tell()]).digest()
    raise EncodingError("logged ballot has no contests")


def decode_ballot(ctx: ElectionContext, data: bytes) -> tuple[EncryptedBallot, bytes]:
    """Strictly decode submitted ballot bytes; return the ballot and its replay key.

    Raises :class:`VerificationError` (``R2.B`` not the canonical encoding, ``V5.A``/``V5.C`` a value
    outside the group / Z_q).
    """
    tree = _tree(data)
    try:
        ballot = codec.dec_ballot(ctx.group, tree)
    except (EncodingError, ValueError, TypeError) as exc:
        raise VerificationError(codec.decode_failure_step(exc), "ballot", str(exc)) from None
    if ballot_bytes(ballot) != data:
        raise VerificationError("R2.B", f"ballot {ballot.ballot_id}", "not the canonical ballot encoding")
    return ballot, replay_key(tree)


def check_ballot(ctx: ElectionContext, ballot: EncryptedBallot) -> None:
    """Steps V5-V7 for one ballot (as e2evote.verifier checks a record's ballot); raise on the first
    failure with its step id and object (:class:`VerificationError`)."""
    obj = f"ballot {ballot.ballot_id}"
    if ballot.state is not BallotState.CAST:
        raise VerificationError("B5.A", obj, f"submitted in state {ballot.state.value!r}, expected 'cast'")
    check_ballot_proofs(ctx, ballot)


class BallotIndex:
    """Ballot ids and selection ciphertexts (α) already accepted, with the replay key that brought them.

    A new ballot may reuse neither another ballot's id (V19.E) nor any of its ciphertexts (V7.H, α
    compared by its last 16 bytes as the verifier does); the *same* ballot (same replay key) passes, so
    the board then refuses it as a ``replay`` (§6.1 step 4). Two layers (specs/08-board.md §12.1):
    *logged* entries, read from the log, and *pending* ones, claimed by this process's validator for a
    ballot not yet appended. :meth:`claim` checks both; :meth:`confirm`, inside the append's write
    transaction, first reads what other processes sharing the database appended since, then checks
    the ballot against the logged layer, which is authoritative; :meth:`release` drops the pending
    entries of a ballot the board then refused (``BallotInfo.abort``). Thread-safe. The logged layer
    is packed rows (:class:`ByteTable`): per ballot its id and replay key, per selection its α suffix
    and ballot row, ~39 bytes a selection (specs/08-board.md §12.7).

    With ``chain`` (an election chaining confirmation codes: ``chain(device, last_code)`` is the B_aux
    the device's next ballot must carry, ``last_code`` None for its first), the logged layer also keeps
    each device's last code, and :meth:`confirm` refuses a ballot that does not continue its device's
    chain on the log (V7.D, V7.E); pre-encrypted ballots chain to no device.
    """

    __slots__ = (
        "_lock",
        "_ids",
        "_keys",
        "_alphas",
        "_alpha_ballot",
        "_pending_ids",
        "_pending_alphas",
        "_synced",
        "_chain",
        "_tails",
    )

    def __init__(self, chain: Callable[[str, bytes | None], bytes] | None = None) -> None:
        self._lock = threading.Lock()
        self._ids = ByteTable(max_len=MAX_BALLOT_BYTES)
        """logged ballots' ids (UTF-8), a row per ballot"""
        self._keys = ByteTable(max_len=MAX_REPLAY_KEY_SIZE, indexed=False)
        """logged ballots' replay keys, by ballot row"""
        self._alphas = ByteTable(ALPHA_KEY_BYTES)
        """logged selections' α suffixes, a row per selection"""
        self._alpha_ballot = array("i")
        """the ballot row of each α row"""
        self._pending_ids: dict[str, bytes] = {}
        self._pending_alphas: dict[bytes, bytes] = {}
        self._synced = 0  # events 0 .. _synced - 1 of the log are in the logged layer
        self._chain = chain
        self._tails: dict[str, bytes] = {}
        """with ``chain``: device -> confirmation code of its last logged ballot"""

    def __len__(self) -> int:
        """The number of logged ballots."""
        return len(self._ids)

    @property
    def chains(self) -> bool:
        """Whether the index follows device chains (it was given a ``chain`` rule)."""
        return self._chain is not None

    @property
    def synced(self) -> int:
        """The size of the log prefix the logged layer holds."""
        return self._synced

    def _logged_conflict(
        self, ballot_id: str, alphas: Sequence[tuple[str, bytes]], key: bytes
    ) -> VerificationError | None:
        row = self._ids.find(ballot_id_bytes(ballot_id))
        if row is not None and self._keys[row] != key:
            return VerificationError("V19.E", f"ballot {ballot_id}", "ballot id already used on the board")
        for name, a in alphas:
            arow = self._alphas.find(alpha_key(a))
            if arow is not None and self._keys[self._alpha_ballot[arow]] != key:
                return VerificationError("V7.H", name, "ciphertext copied from a ballot already on the board")
        return None

    def _pending_conflict(
        self, ballot_id: str, alphas: Sequence[tuple[str, bytes]], key: bytes
    ) -> VerificationError | None:
        prev = self._pending_ids.get(ballot_id)
        if prev is not None and prev != key:
            return VerificationError("V19.E", f"ballot {ballot_id}", "ballot id already used on the board")
        for name, a in alphas:
            other = self._pending_alphas.get(alpha_key(a))
            if other is not None and other != key:
                return VerificationError("V7.H", name, "ciphertext copied from a ballot already on the board")
        return None

    def claim(self, ballot_id: str, alphas: Sequence[tuple[str, bytes]], key: bytes) -> None:
        """Check a ballot against logged and pending entries, then hold it as pending; ``alphas`` are
        ``(object name, α bytes)``. Raises VerificationError."""
        with self._lock:
            err = self._logged_conflict(ballot_id, alphas, key) or self._pending_conflict(
                ballot_id, alphas, key
            )
            if err is not None:
                raise err
            self._pending_ids[ballot_id] = key
            for _, a in alphas:
                self._pending_alphas[alpha_key(a)] = key

    def release(self, ballot_id: str, alphas: Sequence[tuple[str, bytes]], key: bytes) -> None:
        """Drop a refused ballot's pending entries (those its ``key`` holds), so that its id and α's
        block nothing: e.g. a device refused for its chain (V7.E) submits the ballot again in turn."""
        with self._lock:
            self._drop_pending(ballot_id, alphas, key)

    def _drop_pending(self, ballot_id: str, alphas: Sequence[tuple[str, bytes]], key: bytes) -> None:
        """The pending entries that ``key`` holds for this ballot go (the caller holds the lock)."""
        if self._pending_ids.get(ballot_id) == key:
            del self._pending_ids[ballot_id]
        for _, a in alphas:
            suffix = alpha_key(a)
            if self._pending_alphas.get(suffix) == key:
                del self._pending_alphas[suffix]

    def confirm(
        self,
        tx: WriteTx,
        ballot_id: str,
        alphas: Sequence[tuple[str, bytes]],
        key: bytes,
        link: tuple[str, bytes] | None = None,
    ) -> None:
        """Inside the append's write transaction: catch up with the log (:meth:`catch_up`), then check
        the ballot against the logged layer; ``link`` is its ``(device, B_aux)`` when it must continue
        its device's chain. Raises VerificationError (V19.E, V7.H, V7.D, V7.E)."""
        self.catch_up(tx.head.size, tx.events)
        with self._lock:
            err = self._logged_conflict(ballot_id, alphas, key)
            last = self._tails.get(link[0]) if link is not None else None
        if err is not None:
            raise err
        if link is not None and self._chain is not None:
            device, baux = link
            if baux != self._chain(device, last):
                where = "its first ballot" if last is None else "the device's last ballot on the board"
                raise VerificationError(
                    "V7.D" if last is None else "V7.E",
                    f"ballot {ballot_id}",
                    f"B_aux does not continue device {device!r}'s chain (after {where})",
                )

    def catch_up(self, size: int, read: Callable[[int, int], Sequence[bytes]], batch: int = 1024) -> None:
        """Log the ballots of events ``synced .. size - 1``, read by ``read(start, stop)`` a batch at a
        time. Raises BoardStateError("corrupt") if the log itself holds a copy."""
        with self._lock:
            while self._synced < size:
                stop = min(size, self._synced + batch)
                raws = read(self._synced, stop)
                if len(raws) != stop - self._synced:
                    raise BoardStateError("corrupt", f"events {self._synced}..{stop - 1} are missing")
                for raw in raws:
                    ev = Event.from_bytes(raw)
                    if ev.kind is EventKind.BALLOT:
                        try:
                            self._log(ev.payload)
                        except E2EVoteError as exc:
                            raise BoardStateError("corrupt", f"ballot event {ev.index}: {exc}") from None
                    self._synced += 1

    def _log(self, payload: bytes) -> None:
        """Move a logged ballot into the logged layer (no proof checks: the board validated it on
        submission); its pending entries, if this process claimed it, go."""
        tree = _tree(payload)
        bid = tree.get("id")
        if not isinstance(bid, str):
            raise EncodingError("logged ballot has no id")
        alphas = [(f"ballot {bid}", a) for a in codec.ballot_alphas(tree, "logged ballot")]
        if any(len(a) < ALPHA_KEY_BYTES for _, a in alphas):
            raise EncodingError(f"logged ballot has an α shorter than {ALPHA_KEY_BYTES} bytes")
        key = canonical_replay_key(payload)
        err = self._logged_conflict(bid, alphas, key)
        if err is not None:
            raise err
        if self._chain is not None and "pre" not in tree:
            device, code = tree.get("device"), tree.get("code")
            if not isinstance(device, str) or not isinstance(code, bytes):
                raise EncodingError("logged ballot has no device or confirmation code")
            self._tails[device] = code
        row = self._ids.append(ballot_id_bytes(bid))
        self._keys.append(key)
        for _, a in alphas:
            self._alphas.append(alpha_key(a))
            self._alpha_ballot.append(row)
        self._drop_pending(bid, alphas, key)


def _same_ballot(tracker: CountedTracker, row: int, ev: Event) -> None:
    """A second pass over the log meets the ballot events the tracker saw, in the same order."""
    if row >= len(tracker) or tracker.index(row) != ev.index:
        raise BoardStateError("corrupt", f"ballot event {ev.index} was not read by the first pass")


def chain_rule(ctx: ElectionContext) -> Callable[[str, bytes | None], bytes] | None:
    """The :class:`BallotIndex` ``chain`` of an election that chains confirmation codes (else None):
    the B_aux a device's next ballot carries, given its last ballot's code (V7.D-E)."""
    if not ctx.manifest.chaining:
        return None
    return lambda device, last: expected_baux(ctx, device_info(ctx, device), last)


def ballot_validator(ctx: ElectionContext, *, index: BallotIndex | None = None) -> BallotValidator:
    """The EG 2.0 ballot validator injected into the board (specs/08-board.md §6.1 step 3, §12.1).

    ``validate(data)`` decodes the ballot strictly (:func:`decode_ballot`), checks it in full
    (:func:`check_ballot`: B5.A state, V5.E style/options, V7.A contest hashes, V7.B confirmation
    code, V5/V6 range proofs), then, with an ``index``, that it copies no ciphertext (V7.H) and no id
    (V19.E) of an accepted ballot and, if the election chains codes, continues its device's chain on
    the log (V7.D-E; the index then needs :func:`chain_rule`). It raises :class:`VerificationError`
    ``[step] object: detail`` (the board answers 422 ``invalid_ballot`` with that text as the detail)
    or returns ``BallotInfo(ballot.code, replay_key, confirm)``.
    """
    if index is not None and ctx.manifest.chaining and not index.chains:
        raise ValueError("the election chains confirmation codes: its index needs chain_rule(ctx)")

    def validate(data: bytes) -> BallotInfo:
        ballot, key = decode_ballot(ctx, data)
        check_ballot(ctx, ballot)
        if index is not None:
            obj = f"ballot {ballot.ballot_id}"
            alphas = [
                (f"{obj} contest {ec.index} option {sel.index}", sel.ct.alpha.to_bytes())
                for ec in ballot.contests
                for sel in ec.selections
            ]
            index.claim(ballot.ballot_id, alphas, key)
            bid = ballot.ballot_id
            link = (ballot.device, ballot.B_aux) if ctx.manifest.chaining and ballot.pre is None else None
            return BallotInfo(
                ballot.code,
                key,
                confirm=lambda tx: index.confirm(tx, bid, alphas, key, link),
                abort=lambda: index.release(bid, alphas, key),
            )
        return BallotInfo(confirmation_code=ballot.code, replay_key=key)

    return validate


# ---------------------------------------------------------------------------------------------------
# the setup binding (§12.2)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ElectionBinding:
    """The setup event's ``election`` bytes: ``{format, group, H_B, K, H_E}`` (canonical msgpack)."""

    group: str
    H_B: bytes
    K: bytes
    H_E: bytes

    @classmethod
    def of(cls, ctx: ElectionContext) -> ElectionBinding:
        return cls(ctx.group.name, ctx.parameters.H_B, ctx.K.to_bytes(), ctx.H_E)

    def to_bytes(self) -> bytes:
        return pack(
            {
                "format": ELECTION_BINDING_FORMAT,
                "group": self.group,
                "H_B": self.H_B,
                "K": self.K,
                "H_E": self.H_E,
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> ElectionBinding:
        f = codec.fields(
            unpack(data, max_bytes=64 * 1024), {"format", "group", "H_B", "K", "H_E"}, "election binding"
        )
        if f["format"] != ELECTION_BINDING_FORMAT:
            raise EncodingError(f"election binding: unknown format {f['format']!r}")
        if not isinstance(f["group"], str):
            raise EncodingError("election binding: group must be a string")
        return cls(
            f["group"],
            codec._bytes(f["H_B"], "H_B", 32),
            codec._bytes(f["K"], "K", max_len=4096),
            codec._bytes(f["H_E"], "H_E", 32),
        )


# ---------------------------------------------------------------------------------------------------
# the official's glue (§12.2)
# ---------------------------------------------------------------------------------------------------


class ElectionBoard:
    """A :class:`Board` bound to one election context (specs/08-board.md §12.2).

    The setup event names ``H_E`` as the board's election hash (voter credentials sign it, §5.3) and
    carries an :class:`ElectionBinding`. Ballots are checked by :func:`ballot_validator` with a
    :class:`BallotIndex` rebuilt from the log on :meth:`open` (one index per process; inside each append
    it catches up with what other board processes sharing the database appended, §12.1).
    """

    __slots__ = ("board", "ctx", "index")

    def __init__(self, board: Board, ctx: ElectionContext, index: BallotIndex) -> None:
        self.board = board
        self.ctx = ctx
        self.index = index

    @classmethod
    def create(
        cls,
        storage: Storage,
        key: BoardKey,
        ctx: ElectionContext,
        *,
        board_id: str,
        credentials: CredentialList | None = None,
        clock: Callable[[], int] | None = None,
    ) -> ElectionBoard:
        """Initialize an empty storage for this election (setup event, §2.3) and open it."""
        if credentials is not None and ctx.manifest.chaining:
            raise ManifestError(
                "re-voting with credentials breaks confirmation-code chains; use one or the other"
            )
        index = BallotIndex(chain_rule(ctx))
        board = Board.create(
            storage,
            key,
            ballot_validator(ctx, index=index),
            board_id=board_id,
            election_hash=ctx.H_E,
            credentials=credentials,
            election=ElectionBinding.of(ctx).to_bytes(),
            clock=clock,
        )
        return cls(board, ctx, index)

    @classmethod
    def open(
        cls, storage: Storage, key: BoardKey, ctx: ElectionContext, *, clock: Callable[[], int] | None = None
    ) -> ElectionBoard:
        """Open an existing board; refuse one made for another election; rebuild the ballot index."""
        index = BallotIndex(chain_rule(ctx))
        board = Board(storage, key, ballot_validator(ctx, index=index), clock=clock)
        _check_binding(board.setup, ctx)
        index.catch_up(storage.read_head().size, storage.events)
        return cls(board, ctx, index)

    @classmethod
    def open_or_create(
        cls,
        storage: Storage,
        key: BoardKey,
        ctx: ElectionContext,
        *,
        board_id: str,
        credentials: CredentialList | None = None,
    ) -> ElectionBoard:
        """:meth:`open` if the storage holds a board, else :meth:`create`."""
        if storage.read_head().size:
            return cls.open(storage, key, ctx)
        return cls.create(storage, key, ctx, board_id=board_id, credentials=credentials)

    def __repr__(self) -> str:
        return f"ElectionBoard({self.board!r}, H_E={self.ctx.H_E.hex()[:16]}…)"

    def submit(self, ballot: EncryptedBallot | bytes, credential: VoterCredential | None = None) -> Receipt:
        """Submit an encrypted ballot (or raw submission bytes); the signed receipt once committed."""
        if isinstance(ballot, EncryptedBallot):
            return self.board.submit(ballot_submission(self.ctx, ballot, credential))
        return self.board.submit(ballot)

    def challenge(self, request: ChallengeRequest | bytes) -> SignedTreeHead:
        """Spoil an accepted ballot (§6.2); the record then lists it as challenged, to be opened.
        ``request``: the voter's signed :class:`ChallengeRequest` (or a bare confirmation code on a
        board without credentials)."""
        return self.board.challenge(request)

    def close_voting(self) -> SignedTreeHead:
        """Append the close event: no ballot or challenge afterwards (§2.2)."""
        return self.board.close_voting()

    def counted(self) -> CountedBallots:
        """The counted set of the current log (§6.3)."""
        return counted_set(Event.from_bytes(raw) for raw in self.board.iter_events())

    def counted_ballots(self) -> Iterator[EncryptedBallot]:
        """The counted ballots, decoded one at a time, in log order (two passes over the log, paged
        from storage: the counted set, then the ballots; memory does not grow with the ballots)."""
        return self._ballots(counted=True)

    def challenged_ballots(self) -> list[EncryptedBallot]:
        """The challenged ballots (state ``challenged``), in log order."""
        return list(self._ballots(counted=False))

    def _ballots(self, *, counted: bool) -> Iterator[EncryptedBallot]:
        stop = self.board.storage.read_head().size  # both passes read the same prefix of the log
        tracker = CountedTracker()
        for ev in _events(self.board.iter_events(stop)):
            tracker.add(ev)
        counted_rows = tracker.result()
        row = -1  # the tracker's row of each ballot event, as the second pass meets it
        for ev in _events(self.board.iter_events(stop)):
            if ev.kind is not EventKind.BALLOT:
                continue
            row += 1
            _same_ballot(tracker, row, ev)
            if counted and counted_rows.has_row(row):
                yield decode_ballot(self.ctx, ev.payload)[0]
            elif not counted and ev.code in tracker.challenged:
                yield decode_ballot(self.ctx, ev.payload)[0].with_state(BallotState.CHALLENGED)

    def encrypted_tally(self) -> EncryptedTally:
        """The encrypted tally (eq. 62) of the counted ballots; requires voting to be closed."""
        if self.board.storage.read_head().phase < 3:
            raise BoardStateError("not_closed", "close voting before tallying")
        acc = TallyAccumulator(self.ctx)
        for b in self.counted_ballots():
            acc.add(b)
        return acc.result()

    def publish_tally(self, tally: EncryptedTally) -> SignedTreeHead:
        """Append the encrypted tally as a ``tally`` event (checked against the record: B4.F)."""
        return self.board.append_event(EventKind.TALLY, pack(codec.enc_encrypted_tally(tally)))

    def app(self, *, max_body_bytes: int | None = None, fresh_seconds: float = 0) -> Starlette:
        """The board's Starlette application (specs/08-board.md §8); ``fresh_seconds``: see create_app."""
        from e2evote.board.http import DEFAULT_MAX_BODY_BYTES, create_app

        return create_app(
            self.board, max_body_bytes=max_body_bytes or DEFAULT_MAX_BODY_BYTES, fresh_seconds=fresh_seconds
        )

    def export(
        self, guardians: Sequence[GuardianPublicKeys], out_dir: str | os.PathLike[str], **kwargs: Any
    ) -> bytes:
        """:func:`export_record` of this board."""
        return export_record(self.board, self.ctx, guardians, out_dir, **kwargs)


def _check_binding(setup: BoardSetup, ctx: ElectionContext) -> None:
    if setup.election_hash != ctx.H_E:
        raise BoardStateError("wrong_election", "the board was made for another election (H_E differs)")
    try:
        binding = ElectionBinding.from_bytes(setup.election)
    except EncodingError as exc:
        raise BoardStateError("wrong_election", f"the board's election binding: {exc}") from None
    if binding != ElectionBinding.of(ctx):
        raise BoardStateError("wrong_election", "the board's election binding names another election")


def _events(raws: Iterable[bytes]) -> Iterator[Event]:
    for raw in raws:
        yield Event.from_bytes(raw)


# ---------------------------------------------------------------------------------------------------
# export (§12.3)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BoardExtension:
    """The tree of ``ext/board.msgpack`` (§12.3), in one of two formats::

        v1 {format: "e2evote-board-ext-v1", public_key: bin32, sth: bin, credentials: bin | nil,
            events: [bin, …], checkpoints: [bin, …]}
        v2 {format: "e2evote-board-ext-v2", public_key: bin32, sth: bin, credentials: bin | nil,
            events: n, event_files: [name, …], checkpoints: [bin, …]}

    ``sth`` is the tree head of the whole log (§4.1 msgpack), ``credentials`` the public credential
    list (§5.2) if the setup commits to one, ``checkpoints`` earlier signed tree heads worth
    re-checking (the one made by the close event, B1.K). v1 carries every event inline (``events``);
    v2 (written by :func:`export_record`) streams them: ``event_files`` names the files
    ``ext/board/events-NNNNNN.msgpack`` (each a list of at most :data:`MAX_EVENTS_PER_FILE` raw events,
    in log order) and ``event_count`` their total, so no file grows with the log (§12.3).
    ``event_files is None`` means v1. Read the events with :func:`iter_board_events`.
    """

    public_key: bytes
    sth: SignedTreeHead
    credentials: CredentialList | None
    events: tuple[bytes, ...]
    checkpoints: tuple[SignedTreeHead, ...] = ()
    event_files: tuple[str, ...] | None = None
    event_count: int = 0

    def __repr__(self) -> str:
        n = len(self.events) if self.event_files is None else self.event_count
        return f"BoardExtension(tree_size={self.sth.tree_size}, events=<{n}>)"


def event_file_name(i: int) -> str:
    """The name of the ``i``-th event file (v2), relative to ``ext/board/``."""
    return f"events-{i:06d}.msgpack"


def encode_board_extension(ext: BoardExtension) -> dict[str, Any]:
    """The ``ext/board.msgpack`` tree (v1 if ``ext.event_files is None``, else v2)."""
    common = {
        "public_key": ext.public_key,
        "sth": ext.sth.to_bytes(),
        "credentials": None if ext.credentials is None else ext.credentials.to_bytes(),
        "checkpoints": [c.to_bytes() for c in ext.checkpoints],
    }
    if ext.event_files is None:
        return {"format": BOARD_EXTENSION_FORMAT_V1, **common, "events": list(ext.events)}
    return {
        "format": BOARD_EXTENSION_FORMAT,
        **common,
        "events": ext.event_count,
        "event_files": list(ext.event_files),
    }


def decode_board_extension(tree: Any) -> BoardExtension:
    """Strict inverse of :func:`encode_board_extension` (v1 or v2); raises :class:`EncodingError`."""
    fmt = tree.get("format") if isinstance(tree, dict) else None
    keys = {"format", "public_key", "sth", "credentials", "events", "checkpoints"}
    if fmt == BOARD_EXTENSION_FORMAT:
        keys.add("event_files")
    f = codec.fields(tree, keys, "ext/board")
    if f["format"] not in (BOARD_EXTENSION_FORMAT, BOARD_EXTENSION_FORMAT_V1):
        raise EncodingError(f"ext/board: unknown format {f['format']!r}")
    events = f["events"]
    checkpoints = f["checkpoints"]
    files: tuple[str, ...] | None = None
    count = 0
    if f["format"] == BOARD_EXTENSION_FORMAT_V1:
        if not isinstance(events, list) or not all(isinstance(e, bytes) for e in events):
            raise EncodingError("ext/board: events must be a list of byte strings")
        events = tuple(events)
    else:
        if isinstance(events, bool) or not isinstance(events, int) or not 0 <= events < 2**53:
            raise EncodingError("ext/board: events must be the number of events")
        names = f["event_files"]
        if not isinstance(names, list) or names != [event_file_name(i) for i in range(len(names))]:
            raise EncodingError("ext/board: event_files must be events-000000.msgpack, … in order")
        files, count, events = tuple(names), events, ()
    if not isinstance(checkpoints, list) or not all(isinstance(c, bytes) for c in checkpoints):
        raise EncodingError("ext/board: checkpoints must be a list of byte strings")
    creds = f["credentials"]
    return BoardExtension(
        public_key=codec._bytes(f["public_key"], "ext/board public_key", 32),
        sth=SignedTreeHead.from_bytes(codec._bytes(f["sth"], "ext/board sth", max_len=512)),
        credentials=None if creds is None else CredentialList.from_bytes(codec._bytes(creds, "credentials")),
        events=events,
        checkpoints=tuple(SignedTreeHead.from_bytes(c) for c in checkpoints),
        event_files=files,
        event_count=count,
    )


def read_event_file(path: Path, digest: bytes | None = None) -> list[bytes]:
    """The raw events of one v2 event file: a non-empty msgpack list of at most
    :data:`MAX_EVENTS_PER_FILE` byte strings. Raises :class:`EncodingError` (also for a file that
    cannot be read or is not a regular file — a link, FIFO or device —, naming it, so that the
    verifier reports B1.A; and for bytes whose SHA-256 is not ``digest``, the file's digest in the
    record, i.e. a file changed after the record was authenticated)."""
    where = f"ext/{BOARD_EXTENSION}/{path.name}"
    try:
        data = read_regular_file(path, MAX_OBJECT_BYTES)
    except OSError as exc:
        raise EncodingError(f"{where}: cannot read ({exc.strerror or type(exc).__name__})") from None
    except EncodingError as exc:
        raise EncodingError(f"{where}: {str(exc).removeprefix(os.fspath(path) + ': ')}") from None
    if digest is not None and hashlib.sha256(data).digest() != digest:
        raise EncodingError(f"{where}: changed after the record was authenticated (R1)")
    try:
        items = unpack(data, max_items=MAX_EVENTS_PER_FILE)  # a flat list of bins: no larger container
    except EncodingError as exc:
        raise EncodingError(f"{where}: {exc}") from None
    if (
        not isinstance(items, list)
        or not 0 < len(items) <= MAX_EVENTS_PER_FILE
        or not all(isinstance(e, bytes) for e in items)
    ):
        raise EncodingError(f"{where}: must be a list of 1 to {MAX_EVENTS_PER_FILE} byte strings")
    return items


def iter_board_events(
    ext: BoardExtension, record_dir: str | os.PathLike[str], digests: Mapping[str, bytes] | None = None
) -> Iterator[bytes]:
    """The log's raw events in order: v1 from the extension itself, v2 from its event files in
    ``record_dir/ext/board/``, read one file at a time (memory bounded by one file, §12.3).

    Each call starts a fresh pass. A missing or malformed file, or a total other than the stated
    count, raises :class:`EncodingError` when reached. The files' integrity is the record's (R1):
    with ``digests`` (the record's, by record path) each file is checked against its digest as it is
    read.
    """
    if ext.event_files is None:
        yield from ext.events
        return
    base = Path(record_dir) / "ext" / BOARD_EXTENSION
    n = 0
    for name in ext.event_files:
        digest = None if digests is None else digests.get(f"ext/{BOARD_EXTENSION}/{name}")
        items = read_event_file(base / name, digest)
        n += len(items)
        if n > ext.event_count:
            raise EncodingError(f"ext/board: the event files hold more than the stated {ext.event_count}")
        yield from items
        del items
    if n != ext.event_count:
        raise EncodingError(f"ext/board: the event files hold {n} events, {ext.event_count} stated")


def _log_of(source: Board | Storage) -> tuple[SignedTreeHead, CredentialList | None, Storage]:
    """The latest tree head and the credential list of a board or storage, and the storage."""
    from e2evote.board.board import CREDENTIALS_META

    storage = source.storage if isinstance(source, Board) else source
    head = storage.read_head()
    if head.sth is None:
        raise BoardStateError("no_board", "the storage holds no board")
    sth = SignedTreeHead.from_bytes(head.sth)
    raw_creds = storage.get_meta(CREDENTIALS_META)
    creds = None if raw_creds is None else CredentialList.from_bytes(raw_creds)
    return sth, creds, storage


def export_record(
    board: Board | Storage,
    ctx: ElectionContext,
    guardians: Sequence[GuardianPublicKeys],
    out_dir: str | os.PathLike[str],
    *,
    tally: DecryptedTally | None = None,
    encrypted_tally: EncryptedTally | None = None,
    challenged: Sequence[ChallengedBallot] = (),
    device_closes: Mapping[str, bytes] | None = None,
    outcomes: Mapping[str, Mapping[str, Any]] | None = None,
    checkpoints: Sequence[SignedTreeHead] | None = None,
    chunk_size: int = CHUNK_SIZE,
    events_per_file: int = MAX_EVENTS_PER_FILE,
) -> bytes:
    """Write a sealed native record of the election on ``board`` (specs/08-board.md §12.3); its root.

    Ballots: the counted set (§6.3, state ``cast``) and the challenged ballots (state
    ``challenged``), interleaved in log order, byte for byte as logged. Once the log is closed (or
    with ``tally``), the encrypted tally is the product of the counted ballots (``encrypted_tally``,
    if given, must equal it); ``tally`` is its decryption (without it a record with cast ballots is a
    *pre-tally* record: R2.C); while voting is open the record has no tally. ``challenged``
    opens the challenged ballots (V12-V14). ``outcomes``: the outcomes document; by default, with
    ``tally``, every decided outcome computed from it (``compute_outcomes``). ``ext/board.msgpack``
    (format v2) holds the log's tree head, the board key, the credential list and ``checkpoints``
    (default: the tree head made by the close event); the events go to
    ``ext/board/events-NNNNNN.msgpack``, ``events_per_file`` each (fewer if a file would pass
    :data:`MAX_EVENT_FILE_BYTES`). ``board`` may be a :class:`Board` or a bare :class:`Storage`
    (no signing key needed).

    The log is streamed from storage twice (the counted set, then the record), never held whole.
    """
    if not 0 < events_per_file <= MAX_EVENTS_PER_FILE:
        raise ValueError(f"events_per_file must be 1..{MAX_EVENTS_PER_FILE}")
    sth, creds, storage = _log_of(board)
    if sth.tree_size == 0:
        raise BoardStateError("no_board", "the log is empty")
    setup = BoardSetup.from_bytes(Event.from_bytes(storage.events(0, 1)[0]).payload)
    _check_binding(setup, ctx)
    tracker = CountedTracker()
    close: int | None = None
    for raw in stored_events(storage, sth.tree_size):  # pass 1: the counted set (compact)
        ev = Event.from_bytes(raw)
        tracker.add(ev)
        if ev.kind is EventKind.CLOSE and close is None:
            close = ev.index
    counted = tracker.result()
    spoiled = tracker.challenged
    row = -1  # the tracker's row of each ballot event, as pass 2 meets it
    writer = RecordWriter(out_dir, ctx, guardians, chunk_size=chunk_size)
    acc = TallyAccumulator(ctx)
    files: list[str] = []
    batch: list[bytes] = []
    batch_bytes = 0

    def flush() -> None:
        nonlocal batch, batch_bytes
        if batch:
            name = event_file_name(len(files))
            writer.add_extension_file(BOARD_EXTENSION, name, pack(batch))
            files.append(name)
            batch, batch_bytes = [], 0

    for raw in stored_events(storage, sth.tree_size):  # pass 2: ballots and event files
        if batch and batch_bytes + len(raw) > MAX_EVENT_FILE_BYTES:
            flush()
        batch.append(raw)
        batch_bytes += len(raw)
        if len(batch) >= events_per_file:
            flush()
        ev = Event.from_bytes(raw)
        if ev.kind is not EventKind.BALLOT:
            continue
        row += 1
        _same_ballot(tracker, row, ev)
        if counted.has_row(row):
            ballot = decode_ballot(ctx, ev.payload)[0]
            writer.add_ballot(ballot)
            acc.add(ballot)
        elif ev.code in spoiled:
            writer.add_ballot(decode_ballot(ctx, ev.payload)[0].with_state(BallotState.CHALLENGED))
    flush()
    computed = acc.result()
    given = None if encrypted_tally is None else codec.enc_encrypted_tally(encrypted_tally)
    if given is not None and given != codec.enc_encrypted_tally(computed):
        raise RecordError("the encrypted tally given is not the product of the board's counted ballots")
    if close is not None or tally is not None:  # mid-election: no tally yet (B4.F: only a closed log's)
        writer.set_tally(computed, tally)
    if challenged:
        writer.set_challenged(challenged)
    if device_closes:
        writer.set_device_closes(device_closes)
    if outcomes is None and tally is not None:  # every decided outcome, as V20 recomputes it (specs/09 §7)
        outcomes = compute_outcomes(ctx.manifest, tally.counts(ctx), acc.contest_cast)
    if outcomes:
        writer.set_outcomes(outcomes)
    if checkpoints is None:
        raw_cp = None if close is None else storage.get_sth(close + 1)
        checkpoints = [] if raw_cp is None else [SignedTreeHead.from_bytes(raw_cp)]
    ext = BoardExtension(
        setup.board_public_key,
        sth,
        creds,
        (),
        tuple(checkpoints),
        event_files=tuple(files),
        event_count=sth.tree_size,
    )
    writer.set_extension(BOARD_EXTENSION, encode_board_extension(ext))
    return writer.seal()


# ---------------------------------------------------------------------------------------------------
# loading an election (CLI)
# ---------------------------------------------------------------------------------------------------


def load_election(path: str | os.PathLike[str]) -> tuple[ElectionContext, tuple[GuardianPublicKeys, ...]]:
    """The election context and guardians' public keys from a native record or an election directory
    (``e2evote official create/open``); raises :class:`RecordError`."""
    from e2evote.record.files import ElectionDir
    from e2evote.record.native import is_native_record, read_record

    p = Path(path)
    if not p.is_dir():
        raise RecordError(f"{p} is not a directory")
    edir = ElectionDir(p)
    if edir.is_election():
        ctx, pubs = edir.context()
        return ctx, tuple(pubs)
    if is_native_record(p):
        record = read_record(p)
        ctx = ElectionContext(record.parameters, record.K)
        if ctx.H_E != record.stated.H_E:
            raise RecordError(f"{p}: the stated H_E is not H(H_B; 0x12, K)")
        return ctx, tuple(record.guardians)
    raise RecordError(f"{p} is neither an election directory nor a native record")
