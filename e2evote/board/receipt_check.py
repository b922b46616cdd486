"""A voter's board receipt checked against an exported election record (specs/08-board.md §12.6).

The receipt (§4.2) is what the board signed when it acknowledged the ballot; the record (specs/07,
§12.3) carries the board's whole log in ``ext/board.msgpack`` (v1) or its event files (v2), which
are streamed once: B1 and everything B2.E-B2.G need are gathered in that one pass.
:func:`check_receipt_against_record` runs, each on its own so that every failure is named:

* **B2.A-B2.D** the receipt itself (signature, tree-head signature, tree size, audit path) under the
  board key — the one the voter supplies, else the record's;
* **B1** the record's log under the same key (B1.A-B1.J, without re-validating the ballots; that and
  everything else about the record is ``e2evote verify``'s job);
* **B2.E** event ``leaf_index`` of the record's log is the receipted ballot (leaf hash, code);
* **B2.F** the root of the log's first ``tree_size`` events is the receipt's root: the board neither
  forked nor rewrote its log after acknowledging the ballot;
* **B2.G** the ballot's fate: counted (one of the record's cast ballots, byte for byte the logged
  one), challenged (a ``challenge`` event and one of the record's challenged ballots), or superseded
  by a later ballot of the same credential (a re-vote; not an error). Anything else fails.

Layering: uses the board and the record model, never e2evote.verifier.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from e2evote.board.election import (
    BOARD_EXTENSION,
    BoardExtension,
    ballot_bytes,
    decode_board_extension,
    iter_board_events,
)
from e2evote.board.events import Event, EventKind
from e2evote.board.merkle import leaf_hash
from e2evote.board.signing import Receipt, receipt_failures
from e2evote.board.verify import LogSummary, LogVerifier
from e2evote.errors import E2EVoteError, EncodingError, RecordError, VerificationError
from e2evote.protocol.ballot import BallotState, EncryptedBallot
from e2evote.record.model import ElectionRecord, RecordIssue

__all__ = [
    "MAX_RECEIPT_BYTES",
    "TITLES",
    "BallotFate",
    "ReceiptStep",
    "ReceiptCheck",
    "parse_receipt",
    "load_receipt",
    "check_receipt_against_record",
]

MAX_RECEIPT_BYTES: Final = 64 * 1024
"""a receipt (or a ballot lookup answer) is a few kilobytes at most"""
_LOOKUP_KEYS: Final = {"receipt", "challenged", "inclusion", "sth"}


class BallotFate(StrEnum):
    """What became of the receipted ballot in the record (step B2.G)."""

    COUNTED = "counted"
    CHALLENGED = "challenged"
    SUPERSEDED = "superseded"
    NOT_COUNTED = "not counted"


TITLES: Final = {
    "B2.A": "receipt signature",
    "B2.B": "tree head signature",
    "B2.C": "tree size",
    "B2.D": "audit path",
    "B1": "record's board log",
    "B2.E": "logged ballot",
    "B2.F": "consistent log",
    "B2.G": "ballot's fate",
}
"""the steps of a receipt check, in report order (B1 stands for B1.A-B1.J and B4.A)"""


@dataclass(frozen=True, slots=True)
class ReceiptStep:
    """One check: its step id, ``ok`` (``None``: not checked, an earlier step failed) and a sentence."""

    step: str
    ok: bool | None
    detail: str

    @property
    def title(self) -> str:
        return TITLES.get(self.step, TITLES["B1"])

    def to_json(self) -> dict[str, object]:
        return {"step": self.step, "title": self.title, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class ReceiptCheck:
    """The outcome of :func:`check_receipt_against_record`.

    ``key_source`` is ``"given"`` (the caller's key) or ``"record"`` (the record's ``ext/board`` key,
    to be compared with the key the board published). ``ok`` iff every step passed, which includes a
    fate of counted, challenged or superseded.
    """

    receipt: Receipt
    public_key: bytes
    key_source: str
    board_id: str | None
    steps: tuple[ReceiptStep, ...]
    fate: BallotFate | None
    superseded_by: int | None
    warnings: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return all(s.ok is True for s in self.steps)

    @property
    def failures(self) -> tuple[ReceiptStep, ...]:
        return tuple(s for s in self.steps if s.ok is False)

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "confirmation_code": self.receipt.confirmation_code.hex(),
            "leaf_index": self.receipt.leaf_index,
            "receipt_board_id": self.receipt.sth.board_id,
            "record_board_id": self.board_id,
            "public_key": self.public_key.hex(),
            "key_source": self.key_source,
            "fate": None if self.fate is None else self.fate.value,
            "superseded_by": self.superseded_by,
            "steps": [s.to_json() for s in self.steps],
            "warnings": list(self.warnings),
        }


# ---------------------------------------------------------------------------------------------------
# reading a receipt
# ---------------------------------------------------------------------------------------------------


def parse_receipt(data: bytes) -> Receipt:
    """A receipt as the board hands it out: the JSON of ``POST /v1/ballots`` (§4.2), the JSON of
    ``GET /v1/ballots/{code}`` (its ``receipt``), or the canonical msgpack receipt. Raises
    :class:`EncodingError`; the receipt is *not* verified here."""
    if len(data) > MAX_RECEIPT_BYTES:
        raise EncodingError(f"receipt: larger than {MAX_RECEIPT_BYTES} bytes")
    if not data.lstrip()[:1] == b"{":
        return Receipt.from_bytes(data)
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise EncodingError(f"receipt: not JSON ({exc})") from None
    if isinstance(obj, dict) and set(obj) == _LOOKUP_KEYS:
        obj = obj["receipt"]
    return Receipt.from_json(obj)


def load_receipt(path: str | os.PathLike[str]) -> Receipt:
    """:func:`parse_receipt` of a file; a missing or oversized file is a :class:`RecordError`."""
    from e2evote.record.files import read_bytes

    return parse_receipt(read_bytes(path, max_bytes=MAX_RECEIPT_BYTES))


# ---------------------------------------------------------------------------------------------------
# the checks
# ---------------------------------------------------------------------------------------------------


def _receipt_steps(receipt: Receipt, key: bytes, board_id: str | None) -> list[ReceiptStep]:
    """B2.A-B2.D, each checked on its own (:func:`receipt_failures`), as report lines."""
    sth = receipt.sth
    holds = (
        f"signed by the board key (board {sth.board_id!r})",
        f"the tree head of size {sth.tree_size} is signed by the board key",
        f"tree size {sth.tree_size} = leaf index {receipt.leaf_index} + 1",
        f"proves leaf {receipt.leaf_index} under the receipt's root",
    )
    failures = receipt_failures(receipt, key, board_id=board_id)
    return [
        ReceiptStep(step, f is None, ok if f is None else f.detail)
        for step, ok, f in zip(("B2.A", "B2.B", "B2.C", "B2.D"), holds, failures, strict=True)
    ]


@dataclass(slots=True)
class _Seen:
    """What B2.E-B2.G need from the log, gathered while B1 streams it: the event at the receipt's
    leaf index (raw and decoded) and the first ballot event with the receipt's code."""

    leaf_index: int
    code: bytes
    raw_leaf: bytes | None = None
    leaf: Event | None = None
    ballot: Event | None = None


def _log_step(
    ext: BoardExtension, key: bytes, record: ElectionRecord, receipt: Receipt
) -> tuple[ReceiptStep, LogSummary | None, LogVerifier, _Seen]:
    """B1.A-B1.J on the record's log (no ballot validator), streamed (v1 or v2 event files)."""
    seen = _Seen(receipt.leaf_index, receipt.confirmation_code)
    events = iter_board_events(ext, record.path or ".")
    current: list[bytes] = []

    def feed() -> Iterator[bytes]:
        for raw in events:
            current[:] = [raw]
            yield raw

    def observe(ev: Event) -> None:
        if ev.index == seen.leaf_index:
            seen.raw_leaf, seen.leaf = current[0], ev
        if seen.ballot is None and ev.kind is EventKind.BALLOT and ev.code == seen.code:
            seen.ballot = ev

    lv = LogVerifier(
        ext.sth,
        key,
        credentials=ext.credentials,
        prefix_sizes=[receipt.sth.tree_size],
        on_event=observe,
    )
    try:
        for raw in feed():
            lv.add(raw)
        summary = lv.finish()
    except VerificationError as exc:
        return ReceiptStep(exc.step, False, f"{exc.obj}: {exc.detail}"), None, lv, seen
    except E2EVoteError as exc:
        return ReceiptStep("B1.A", False, str(exc)), None, lv, seen
    detail = (
        f"{summary.tree_size} events of board {summary.setup.board_id!r} under its signed tree head "
        f"(root {summary.root_hash.hex()[:16]}…)"
    )
    return ReceiptStep("B1", True, detail), summary, lv, seen


def _leaf_step(receipt: Receipt, size: int, seen: _Seen) -> ReceiptStep:
    """B2.E: event ``leaf_index`` of the record's log is the receipted ballot."""
    i = receipt.leaf_index
    if i >= size or seen.raw_leaf is None or seen.leaf is None:
        return ReceiptStep("B2.E", False, f"the record's log has only {size} events, no event {i}")
    if leaf_hash(seen.raw_leaf) != receipt.leaf_hash:
        return ReceiptStep("B2.E", False, f"event {i} of the record's log is not the receipted one")
    ev = seen.leaf
    if ev.kind is not EventKind.BALLOT or ev.code != receipt.confirmation_code:
        return ReceiptStep("B2.E", False, f"event {i} is not a ballot with the receipt's confirmation code")
    return ReceiptStep("B2.E", True, f"event {i} of the record's log is this ballot")


def _prefix_step(receipt: Receipt, lv: LogVerifier) -> ReceiptStep:
    """B2.F: the record's log extends the receipt's tree head (no fork, no rewritten history)."""
    size = receipt.sth.tree_size
    if size > lv.size:
        detail = f"the receipt's tree head covers {size} events, the record's log has {lv.size}"
        return ReceiptStep("B2.F", False, detail)
    if lv.prefix_root(size) != receipt.sth.root_hash:
        detail = (
            f"the root of the log's first {size} events is not the receipt's: the board forked or rewrote it"
        )
        return ReceiptStep("B2.F", False, detail)
    return ReceiptStep("B2.F", True, f"the record's log extends the receipt's tree head (size {size})")


def _record_copies(record: ElectionRecord, code: bytes) -> tuple[list[EncryptedBallot], int]:
    """The record's ballots carrying ``code``, and how many record ballots did not decode."""
    found: list[EncryptedBallot] = []
    broken = 0
    for b in record.ballots():
        if isinstance(b, RecordIssue):
            broken += 1
        elif b.code == code:
            found.append(b)
    return found, broken


def _fate_step(
    record: ElectionRecord, ballot: Event, summary: LogSummary, challenged: set[bytes]
) -> tuple[ReceiptStep, BallotFate, int | None]:
    """B2.G: counted, challenged or superseded on the log, and the record agrees."""
    assert ballot.code is not None
    copies, broken = _record_copies(record, ballot.code)
    states = [b.state for b in copies]
    same = all(ballot_bytes(b.with_state(BallotState.CAST)) == ballot.payload for b in copies)
    where = f"ballot event {ballot.index}"

    def listed(fate: BallotFate, state: BallotState) -> tuple[ReceiptStep, BallotFate, int | None]:
        ok = False
        if copies and not same:
            detail = f"{where} is {fate} but the record's ballot with its code differs from the logged one"
        elif len(copies) > 1:
            detail = f"{where} is {fate} but the record lists it {len(copies)} times"
        elif states != [state]:
            note = f" ({broken} record ballot(s) do not decode)" if broken else ""
            detail = f"{where} is {fate} but the record does not list it as {state.value}{note}"
        elif fate is BallotFate.CHALLENGED:
            ok, detail = True, f"{where} was challenged (spoiled): the record lists it as challenged"
        else:
            tally = "a tally" if record.encrypted_tally is not None else "no tally yet"
            ok, detail = (
                True,
                f"{where} is a cast ballot of the record, byte for byte as logged; it has {tally}",
            )
        return ReceiptStep("B2.G", ok, detail), fate, None

    if ballot.code in challenged:
        return listed(BallotFate.CHALLENGED, BallotState.CHALLENGED)
    counted = summary.counted
    if any(c.index == ballot.index for c in counted):
        return listed(BallotFate.COUNTED, BallotState.CAST)
    cred = None if ballot.auth is None else ballot.auth.credential
    later = [c.index for c in counted if cred is not None and c.credential == cred and c.index > ballot.index]
    if not later:
        detail = f"{where} is neither counted, challenged nor superseded by a later ballot of its credential"
        return ReceiptStep("B2.G", False, detail), BallotFate.NOT_COUNTED, None
    if copies:
        detail = f"{where} is superseded by ballot event {later[0]} but listed in the record"
        return ReceiptStep("B2.G", False, detail), BallotFate.SUPERSEDED, later[0]
    detail = (
        f"{where} is superseded by ballot event {later[0]} of the same credential (re-vote), counted instead"
    )
    return ReceiptStep("B2.G", True, detail), BallotFate.SUPERSEDED, later[0]


def _skipped(steps: Sequence[str], why: str) -> list[ReceiptStep]:
    return [ReceiptStep(s, None, f"not checked: {why}") for s in steps]


def check_receipt_against_record(
    record: ElectionRecord, receipt: Receipt, public_key: bytes | None = None
) -> ReceiptCheck:
    """Check a voter's receipt against an exported record (steps B2.A-B2.G and B1; module docstring).

    ``public_key`` is the board key the voter trusts (published out of band); without it the record's
    ``ext/board`` key is used (``key_source = "record"``). Raises :class:`RecordError` if the record
    carries no board log, :class:`EncodingError` for a key that is not 32 bytes; every check failure
    is a failed step of the returned :class:`ReceiptCheck`.
    """
    ext_file = f"ext/{BOARD_EXTENSION}.msgpack"
    # ext/board.msgpack present but unreadable (the reader's R2.A issue): a failed B4.A step, not "no log"
    unreadable = next((i for i in record.issues if i.obj == ext_file and i.step == "R2.A"), None)
    if BOARD_EXTENSION not in record.extensions and unreadable is None:
        raise RecordError("the record has no board log (ext/board.msgpack): not a board election")
    if public_key is not None and len(public_key) != 32:
        raise EncodingError("the board public key must be 32 bytes")
    warnings: list[str] = []
    if record.issues:
        warnings.append(f"the record has {len(record.issues)} integrity issue(s): run `e2evote verify`")
    key_source = "given" if public_key is not None else "record"
    later = ("B2.E", "B2.F", "B2.G")
    try:
        if BOARD_EXTENSION not in record.extensions:
            raise EncodingError(unreadable.detail if unreadable is not None else "missing")
        ext = decode_board_extension(record.extensions[BOARD_EXTENSION])
    except (EncodingError, ValueError, TypeError) as exc:
        failed = ReceiptStep("B4.A", False, f"ext/board: {exc}")
        if public_key is None:
            first = _skipped(("B2.A", "B2.B", "B2.C", "B2.D"), "no board key (give --public-key)")
        else:
            first = _receipt_steps(receipt, public_key, None)
        steps = (*first, failed, *_skipped(later, "the record's board log does not decode"))
        return ReceiptCheck(receipt, public_key or b"", key_source, None, steps, None, None, tuple(warnings))
    key = ext.public_key if public_key is None else public_key
    if key != ext.public_key:
        warnings.append("the record's ext/board names another board public key")
    log, summary, lv, seen = _log_step(ext, key, record, receipt)
    if summary is None:
        steps = (
            *_receipt_steps(receipt, key, None),
            log,
            *_skipped(later, "the record's board log does not verify"),
        )
        return ReceiptCheck(receipt, key, key_source, None, steps, None, None, tuple(warnings))
    if not summary.closed:
        warnings.append("voting is not closed in this record: the ballot's fate may still change")
    leaf = _leaf_step(receipt, lv.size, seen)
    prefix = _prefix_step(receipt, lv)
    ballot = seen.ballot
    fate: BallotFate | None = None
    superseded_by: int | None = None
    if ballot is None:
        fate_step = ReceiptStep("B2.G", False, "no ballot with this confirmation code in the record's log")
    else:
        fate_step, fate, superseded_by = _fate_step(record, ballot, summary, lv.challenged)
        if ballot.index != receipt.leaf_index:
            detail = f"{fate_step.detail} (found by its code, not at the receipt's leaf index)"
            fate_step = dataclasses.replace(fate_step, detail=detail)
    steps = (*_receipt_steps(receipt, key, summary.setup.board_id), log, leaf, prefix, fate_step)
    return ReceiptCheck(
        receipt, key, key_source, summary.setup.board_id, steps, fate, superseded_by, tuple(warnings)
    )
