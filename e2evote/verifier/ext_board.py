"""Verification of the ``board`` record extension: the bulletin-board log behind the record
(specs/08-board.md §12.4, steps B1 and B4).

``ext/board.msgpack`` (e2evote.board.election.BoardExtension) holds the log's signed tree head, the
board key, the credential list and checkpoints, and the events themselves (format v1) or the names
of the event files ``ext/board/events-NNNNNN.msgpack`` (v2), which are read one at a time. The
checker streams the log once (memory independent of the number of events, §12.4) and

* re-verifies the log (B1.A-B1.J, e2evote.board.verify_log): strict events, indices and timestamps,
  the setup event, the ordering rule, credential list and signatures, unique confirmation codes and
  replay keys, challenges, the tree-head signature and the recomputed Merkle root; every ballot on
  the log is valid (B1.G with the EG 2.0 ballot validator — ballots that the record does not carry,
  e.g. ones superseded by a re-vote, are checked here in full; the record's own ballots by V5-V7);
* checks each checkpoint tree head (B1.K): signature, and equal to the root of its prefix (the
  prefix roots are taken from the Merkle frontier as the stream reaches those sizes);
* cross-checks the record with the log (B4.B-B4.F): the setup binds the record's election, the
  record's cast ballots are exactly the log's counted set (§6.3), every record ballot is byte for
  byte the logged ballot, the challenged ballots are the log's challenged ballots, and a tally is
  published only for a closed log (and equals any ``tally`` event).
"""

from __future__ import annotations

import hashlib

from e2evote.board.board import BallotInfo
from e2evote.board.election import (
    BOARD_EXTENSION,
    ElectionBinding,
    ballot_bytes,
    ballot_validator,
    canonical_replay_key,
    decode_board_extension,
    iter_board_events,
)
from e2evote.board.events import Event, EventKind
from e2evote.board.signing import MAX_CODE_SIZE
from e2evote.board.table import ByteTable
from e2evote.board.verify import LogSummary, LogVerifier
from e2evote.encoding import pack, unpack
from e2evote.errors import E2EVoteError, EncodingError, VerificationError
from e2evote.protocol.ballot import BallotState, EncryptedBallot, ballot_id_bytes
from e2evote.protocol.election import ElectionContext
from e2evote.record import codec
from e2evote.record.model import ElectionRecord, RecordIssue
from e2evote.verifier.report import Report
from e2evote.verifier.steps import EXTENSION_CHECKS

__all__ = ["check_board"]

_OBJ = "ext/board"


def _light_info(payload: bytes) -> BallotInfo:
    """Confirmation code and replay key of a ballot the record carries (its V5-V7 run elsewhere)."""
    tree = unpack(payload)
    if not isinstance(tree, dict) or not isinstance(tree.get("contests"), list):
        raise EncodingError("not an encoded ballot")
    code = tree.get("code")
    if not isinstance(code, bytes):
        raise EncodingError("ballot has no confirmation code")
    return BallotInfo(confirmation_code=code, replay_key=canonical_replay_key(payload))


class _Tallies:
    """What B4.F needs from the log, gathered while B1 streams it: each ``tally`` event's index and
    whether it carries the record's encrypted tally."""

    def __init__(self, expected_tally: bytes | None) -> None:
        self.expected_tally = expected_tally
        self.found: list[tuple[int, bool]] = []

    def __call__(self, ev: Event) -> None:
        if ev.kind is EventKind.TALLY:
            self.found.append((ev.index, ev.payload == self.expected_tally))


def check_board(record: ElectionRecord, ctx: ElectionContext, report: Report) -> None:
    """Steps B1 (the log) and B4 (record vs log) of specs/08-board.md §10, §12.4.

    The log (v1 inline or v2 event files) is streamed once; memory holds the per-ballot state the
    log's rules need (codes, fingerprints, the counted set), never the events themselves.
    """
    report.checked("B1")
    try:
        ext = decode_board_extension(record.extensions[BOARD_EXTENSION])
    except (EncodingError, ValueError, TypeError) as exc:
        report.fail("B4.A", _OBJ, str(exc))
        return

    # the record's ballots, as logged bytes (a challenged ballot was logged in state "cast")
    recorded = _Recorded()
    for b in record.ballots():
        if isinstance(b, RecordIssue):
            recorded.complete = False  # already reported by V5-V7 (R2.B)
            continue
        recorded.add(b)
    full = ballot_validator(ctx)

    def validate(payload: bytes) -> BallotInfo:
        if recorded.digests.find(hashlib.sha256(payload).digest()) is not None:
            return _light_info(payload)
        return full(payload)

    expected: bytes | None = None
    if record.encrypted_tally is not None:
        expected = pack(codec.enc_encrypted_tally(record.encrypted_tally))
    tallies = _Tallies(expected)
    # B1.A-B1.J the whole log, streamed
    lv = LogVerifier(
        ext.sth,
        ext.public_key,
        credentials=ext.credentials,
        validator=validate,
        prefix_sizes=[cp.tree_size for cp in ext.checkpoints],
        on_event=tallies,
    )
    try:
        for raw in iter_board_events(ext, record.path or ".", record.digests):
            lv.add(raw)
        summary = lv.finish()
    except VerificationError as exc:
        report.fail(exc.step, exc.obj, exc.detail)
        return
    except E2EVoteError as exc:
        report.fail("B1.A", _OBJ, str(exc))
        return
    report.summary["board"] = {
        "board_id": summary.setup.board_id,
        "public_key": ext.public_key.hex(),
        "tree_size": summary.tree_size,
        "root_hash": summary.root_hash.hex(),
        "ballots": summary.ballots,
        "counted": len(summary.counted),
        "challenged": summary.challenged,
        "closed": summary.closed,
        "credentials": None if ext.credentials is None else len(ext.credentials),
    }

    # B1.K checkpoints: signed, and the root of a prefix of this log
    for cp in ext.checkpoints:
        where = f"checkpoint tree head of size {cp.tree_size}"
        try:
            cp.verify(ext.public_key, step="B1.K", board_id=summary.setup.board_id)
        except VerificationError as exc:
            report.fail("B1.K", where, exc.detail)
            continue
        if cp.tree_size > summary.tree_size or lv.prefix_root(cp.tree_size) != cp.root_hash:
            report.fail("B1.K", where, "not a prefix of this log")

    report.checked("B4")
    _binding(record, ctx, summary, report)
    _ballots(lv, summary, recorded, report)
    _tally(record, tallies.found, summary, report)


def _binding(record: ElectionRecord, ctx: ElectionContext, summary: LogSummary, report: Report) -> None:
    """B4.B: the board was set up for this record's election."""
    setup = summary.setup
    if setup.election_hash != record.stated.H_E or setup.election_hash != ctx.H_E:
        report.fail("B4.B", "board setup", "the board's election hash is not the record's H_E")
    try:
        binding = ElectionBinding.from_bytes(setup.election)
    except (EncodingError, ValueError, TypeError) as exc:
        report.fail("B4.B", "board setup", f"election binding: {exc}")
        return
    if binding != ElectionBinding.of(ctx) or binding.H_B != record.stated.H_B:
        report.fail("B4.B", "board setup", "the election binding names another group, H_B, K or H_E")


class _Recorded:
    """The record's ballots as B4 needs them, row by row in record order, in compact columns
    (specs/08-board.md §12.4): id, confirmation code, state, and the SHA-256 of the bytes it was
    logged as; besides, an index of the cast ballots' codes and the challenged ballots' codes."""

    def __init__(self) -> None:
        self.ids = ByteTable(max_len=2**31, indexed=False)
        self.codes = ByteTable(max_len=MAX_CODE_SIZE, indexed=False)
        self.digests = ByteTable(32)
        self.cast = bytearray()
        """1: cast, 0: challenged"""
        self.cast_codes = ByteTable(max_len=MAX_CODE_SIZE)
        """the cast ballots' codes, in record order"""
        self.repeated = 0
        """cast ballots whose code an earlier cast ballot has"""
        self.challenged: set[bytes] = set()
        self.complete = True

    def __len__(self) -> int:
        return len(self.cast)

    def add(self, b: EncryptedBallot) -> None:
        self.ids.append(ballot_id_bytes(b.ballot_id))
        self.codes.append(b.code)
        self.digests.append(hashlib.sha256(ballot_bytes(b.with_state(BallotState.CAST))).digest())
        cast = b.state is BallotState.CAST
        self.cast.append(cast)
        if cast:
            if self.cast_codes.find(b.code) is not None:
                self.repeated += 1
            self.cast_codes.append(b.code)
        else:
            self.challenged.add(b.code)

    def ballot_id(self, row: int) -> str:
        return self.ids[row].decode("utf-8", "surrogatepass")  # ballot_id_bytes, inverted


def _ballots(lv: LogVerifier, summary: LogSummary, recorded: _Recorded, report: Report) -> None:
    """B4.C counted set, B4.D bytes, B4.E challenged set, from the log pass ``lv``: its confirmation
    codes (code -> row of the ballot), challenged codes and ballot-bytes digests."""
    spoiled = lv.challenged
    counted = summary.counted
    report.checked("B4", len(recorded))
    for k in range(len(recorded)):
        obj = f"ballot {recorded.ballot_id(k)}"
        code = recorded.codes[k]
        is_cast = recorded.cast[k] == 1
        row = lv.code_row(code)
        if row is None:
            step = "B4.C" if is_cast else "B4.E"
            report.fail(step, obj, "not on the board (no ballot event with its confirmation code)")
            continue
        index = lv.tracker.index(row)
        if lv.payload_digest(row) != recorded.digests[k]:  # B4.D: the logged bytes at ``index`` differ
            report.fail("B4.D", obj, f"differs from the ballot logged at event {index}")
        if is_cast and not counted.has_row(row):
            why = "challenged" if code in spoiled else "superseded by a later ballot of its credential"
            report.fail("B4.C", obj, f"counted in the record but {why} on the board (event {index})")
        if not is_cast and code not in spoiled:
            report.fail("B4.E", obj, f"challenged in the record but not on the board (event {index})")
    if recorded.repeated:  # a counted ballot listed twice would weigh twice in the tally
        report.fail(
            "B4.C",
            "ballots",
            f"{recorded.repeated} cast ballot(s) of the record repeat another's confirmation code",
        )
    if recorded.complete:
        missing = False
        for c in counted:
            if recorded.cast_codes.find(c.confirmation_code) is None:
                missing = True
                report.fail(
                    "B4.C", f"ballot event {c.index}", "counted on the board but missing from the record"
                )
        for code in sorted(spoiled - recorded.challenged):
            report.fail(
                "B4.E",
                f"ballot event {lv.code_index(code)}",
                "challenged on the board but missing from the record",
            )
        # the same codes (nothing missing either way, no repeat): then they must come in log order
        if not missing and not recorded.repeated and len(recorded.cast_codes) == len(counted):
            if any(c.confirmation_code != recorded.cast_codes[n] for n, c in enumerate(counted)):
                report.fail(
                    "B4.C", "ballots", "the record lists the counted ballots in another order than the log"
                )


def _tally(
    record: ElectionRecord, tallies: list[tuple[int, bool]], summary: LogSummary, report: Report
) -> None:
    """B4.F: a tally only for a closed log; ``tally`` events (``(index, equal)`` pairs gathered in
    the log pass) carry the record's encrypted tally."""
    has_tally = record.encrypted_tally is not None or record.decrypted_tally is not None
    if has_tally and not summary.closed:
        report.fail("B4.F", "tally", "the record has a tally but the board log was never closed")
    for index, equal in tallies:
        if record.encrypted_tally is None:
            report.fail("B4.F", f"tally event {index}", "the record has no encrypted tally")
        elif not equal:
            report.fail("B4.F", f"tally event {index}", "differs from the record's encrypted tally")


EXTENSION_CHECKS[BOARD_EXTENSION] = check_board
