"""Streaming log verification (specs/08-board.md §12.4): the verifier reads a log once, in order,
and keeps no event — memory is bounded by one event file plus compact per-ballot state."""

from __future__ import annotations

import dataclasses
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2evote.board import BallotSubmission, Board, verify_log
from e2evote.board.election import BoardExtension, event_file_name, iter_board_events
from e2evote.board.events import Event
from e2evote.board.verify import LogVerifier, counted_set
from e2evote.encoding import pack
from e2evote.errors import EncodingError, VerificationError

from .fakes import fake_validator

N_BALLOTS = 1500
PAYLOAD = 8192
PER_FILE = 32


def _fill(board: Board) -> list[bytes]:
    for i in range(N_BALLOTS):
        board.submit(BallotSubmission(b"ballot:%d#" % i + b"x" * PAYLOAD))
    board.close_voting()
    return list(board.iter_events())


def _write_files(events: list[bytes], directory: Path) -> BoardExtension:
    base = directory / "ext" / "board"
    base.mkdir(parents=True)
    names = []
    for i in range(0, len(events), PER_FILE):
        names.append(event_file_name(len(names)))
        (base / names[-1]).write_bytes(pack(events[i : i + PER_FILE]))
    return BoardExtension(b"", None, None, (), event_files=tuple(names), event_count=len(events))  # type: ignore[arg-type]


def test_streamed_verification_keeps_no_events(board: Board, tmp_path: Path) -> None:
    events = _fill(board)
    total = sum(map(len, events))
    sth = board.latest_sth()
    expected = verify_log(events, sth, board.public_key, validator=fake_validator)
    ext = _write_files(events, tmp_path)
    del events
    tracemalloc.start()
    try:
        summary = verify_log(
            iter_board_events(ext, tmp_path), sth, board.public_key, validator=fake_validator
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert summary == expected and summary.ballots == N_BALLOTS
    # the log is ~12 MB; one event file is ~260 KB; per-ballot state is a few hundred bytes
    assert peak < total / 5, (peak, total)


def test_the_log_is_consumed_lazily(board: Board) -> None:
    """An early failure stops the pass: nothing after the bad event is read."""
    for i in range(20):
        board.submit(BallotSubmission(b"ballot:%d" % i))
    events = list(board.iter_events())
    events[5] = b"\x00"  # not an event
    read: list[int] = []

    def source() -> Iterator[bytes]:
        for i, raw in enumerate(events):
            read.append(i)
            yield raw

    with pytest.raises(VerificationError) as exc:
        verify_log(source(), board.latest_sth(), board.public_key)
    assert exc.value.step == "B1.A" and read == list(range(6))


def test_step_order_is_that_of_whole_log_passes(board: Board) -> None:
    """One pass, but the steps' order: a later B1.B failure outranks an earlier B1.G one (§10)."""
    for i in range(6):
        board.submit(BallotSubmission(b"ballot:%d" % i))
    events = list(board.iter_events())
    copy = Event.from_bytes(events[2]).payload  # event 3 repeats event 2's ballot
    events[3] = dataclasses.replace(Event.from_bytes(events[3]), payload=copy).to_bytes()
    with pytest.raises(VerificationError) as exc:
        verify_log(events, board.latest_sth(), board.public_key, validator=fake_validator)
    assert exc.value.step == "B1.G"
    bad_index = dataclasses.replace(Event.from_bytes(events[5]), index=9).to_bytes()
    with pytest.raises(VerificationError) as exc:
        verify_log([*events[:5], bad_index], board.latest_sth(), board.public_key, validator=fake_validator)
    assert exc.value.step == "B1.B"


def test_counted_set_and_verifier_agree(board: Board) -> None:
    for i in range(5):
        board.submit(BallotSubmission(b"ballot:%d" % i))
    events = list(board.iter_events())
    lv = LogVerifier(board.latest_sth(), board.public_key, prefix_sizes=[0, 3, len(events)])
    for raw in events:
        lv.add(raw)
    summary = lv.finish()
    assert summary.counted == counted_set(Event.from_bytes(r) for r in events)
    assert lv.prefix_root(len(events)) == summary.root_hash
    assert lv.prefix_root(3) == board.sth_at(3).root_hash and lv.prefix_root(0) is not None


def test_event_files_are_strict(tmp_path: Path) -> None:
    ext = BoardExtension(b"", None, None, (), event_files=(event_file_name(0),), event_count=1)  # type: ignore[arg-type]
    with pytest.raises(EncodingError, match="cannot read"):
        list(iter_board_events(ext, tmp_path))
    (tmp_path / "ext" / "board").mkdir(parents=True)
    (tmp_path / "ext" / "board" / event_file_name(0)).write_bytes(pack([]))
    with pytest.raises(EncodingError, match="list of 1 to"):
        list(iter_board_events(ext, tmp_path))
    (tmp_path / "ext" / "board" / event_file_name(0)).write_bytes(pack([b"a", b"b"]))
    with pytest.raises(EncodingError, match="more than"):
        list(iter_board_events(ext, tmp_path))
