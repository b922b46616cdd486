"""Streamed board logs in exported records (format e2evote-board-ext-v2, specs/08-board.md §12.3):
the events split over several ext/board/events-NNNNNN.msgpack files verify exactly as before,
tampering with those files is caught with the right step, and v1 records still verify."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

from e2evote.board.election import event_file_name, export_record
from e2evote.board.events import Event
from e2evote.encoding import pack, unpack
from e2evote.protocol.election import ElectionContext
from e2evote.record.model import RecordIssue
from e2evote.record.native import read_record, write_record
from e2evote.verifier import Report, verify_path

from . import test_board_election as tbe
from .boardlog import load_log, store_log
from .test_board_election import Election, reseal, steps

election = tbe.election  # the fixtures: a small election, and a closed, tallied credential board
revote = tbe.revote

PER_FILE = 3


def _export(revote: tuple[Path, dict[str, Any]], election: Election, out: Path, per_file: int) -> Path:
    _, info = revote
    export_record(
        info["storage"],
        info["ctx"],
        election.pubs,
        out,
        tally=info["tally"],
        challenged=info["opened"],
        events_per_file=per_file,
    )
    return out


def _same_verdict(a: Report, b: Report) -> None:
    assert a.ok and b.ok, (a.failures, b.failures)
    assert a.summary["board"] == b.summary["board"]
    assert a.checks == b.checks
    assert a.summary["counts"] == b.summary["counts"]


def test_v2_export_over_several_event_files_verifies_like_one(
    revote: tuple[Path, dict[str, Any]], election: Election, tmp_path: Path
) -> None:
    src, _ = revote
    out = _export(revote, election, tmp_path / "split", PER_FILE)
    files = sorted((out / "ext" / "board").iterdir())
    tree = unpack((out / "ext" / "board.msgpack").read_bytes())
    assert tree["format"] == "e2evote-board-ext-v2" and len(files) >= 3
    assert tree["event_files"] == [f.name for f in files] and tree["events"] == len(load_log(out)[1])
    assert all(len(unpack(f.read_bytes())) <= PER_FILE for f in files)
    # the event files are authenticated (R1) but are not record extensions
    rec = read_record(out)
    assert set(rec.extensions) == {"board"} and not rec.issues
    assert load_log(out)[1] == load_log(src)[1]
    _same_verdict(verify_path(out), verify_path(src))
    # rewriting the record (write_record) carries the event files along
    write_record(rec, tmp_path / "copy")
    assert sorted(f.name for f in (tmp_path / "copy" / "ext" / "board").iterdir()) == [f.name for f in files]
    _same_verdict(verify_path(tmp_path / "copy"), verify_path(src))


def _split(revote: tuple[Path, dict[str, Any]], election: Election, tmp_path: Path, name: str) -> Path:
    base = tmp_path / "base"
    if not base.exists():
        _export(revote, election, base, PER_FILE)
    d = tmp_path / name
    shutil.copytree(base, d)
    return d


def test_tampered_event_files_are_caught(
    revote: tuple[Path, dict[str, Any]], election: Election, tmp_path: Path
) -> None:
    def edit(name: str, fn: Any, *, per_file: int = PER_FILE) -> Report:
        d = _split(revote, election, tmp_path, name)
        ext, events = load_log(d)
        store_log(d, ext, fn(events), per_file=per_file)
        reseal(d)
        return verify_path(d)

    def swap_across_files(events: list[bytes]) -> list[bytes]:
        events[PER_FILE - 1], events[PER_FILE] = events[PER_FILE], events[PER_FILE - 1]
        return events

    def change_payload(events: list[bytes]) -> list[bytes]:
        ev = Event.from_bytes(events[4])
        tree = unpack(ev.payload)
        tree["time"] = tree["time"] + 1  # a valid ballot; the credential signature objects
        events[4] = dataclasses.replace(ev, payload=pack(tree)).to_bytes()
        return events

    def flip_byte(events: list[bytes]) -> list[bytes]:
        raw = bytearray(events[5])
        raw[0] ^= 1  # the event header: no longer a strict event
        events[5] = bytes(raw)
        return events

    for name, fn, want in [
        ("drop", lambda evs: evs[:4] + evs[5:], "B1.B"),
        ("swap", swap_across_files, "B1.B"),
        ("payload", change_payload, "B1.F"),
        ("flip", flip_byte, "B1.A"),
        ("truncate", lambda evs: evs[:-1], "B1.J"),
    ]:
        r = edit(name, fn)
        assert want in steps(r), (name, r.failures)
        assert all(s.startswith("B") for s in steps(r)), (name, r.failures)
    # other file boundaries change nothing
    assert verify_path(_split(revote, election, tmp_path, "plain")).ok
    assert edit("regrouped", lambda evs: evs, per_file=2).ok

    # a listed event file missing (resealed without it): the log cannot be read
    d = _split(revote, election, tmp_path, "missing")
    (d / "ext" / "board" / event_file_name(1)).unlink()
    reseal(d)
    r = verify_path(d)
    assert steps(r) == {"B1.A"} and "events-000001.msgpack" in str(r.failures), r.failures
    # a stated event count that the files do not hold
    d = _split(revote, election, tmp_path, "count")
    tree = unpack((d / "ext" / "board.msgpack").read_bytes())
    (d / "ext" / "board.msgpack").write_bytes(pack({**tree, "events": tree["events"] + 1}))
    reseal(d)
    assert steps(verify_path(d)) == {"B1.A"}
    # an event file edited without resealing: R1.B, and the log cannot be read (B1.A: the file's
    # bytes are not the authenticated ones, so they are not checked as events)
    d = _split(revote, election, tmp_path, "unsealed")
    ext, events = load_log(d)
    store_log(d, ext, swap_across_files(events))
    assert steps(verify_path(d)) == {"R1.B", "B1.A"}
    # an extra event file not in the manifest: R1.C
    d = _split(revote, election, tmp_path, "extra")
    shutil.copy(d / "ext" / "board" / event_file_name(0), d / "ext" / "board" / "events-999999.msgpack")
    assert "R1.C" in steps(verify_path(d))


def test_v1_records_still_verify(revote: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    src, _ = revote
    d = tmp_path / "v1"
    shutil.copytree(src, d)
    ext, events = load_log(d)
    shutil.rmtree(d / "ext" / "board")
    store_log(d, dataclasses.replace(ext, event_files=None, event_count=0), events)
    reseal(d)
    assert unpack((d / "ext" / "board.msgpack").read_bytes())["format"] == "e2evote-board-ext-v1"
    _same_verdict(verify_path(d), verify_path(src))
    # and tampering with a v1 log is still caught
    store_log(d, load_log(d)[0], events[:-1])
    reseal(d)
    assert "B1.J" in steps(verify_path(d))


def test_files_changed_after_the_record_was_opened_are_r1(
    revote: tuple[Path, dict[str, Any]], election: Election, tmp_path: Path
) -> None:
    """A record's files are authenticated when it is opened (R1) and read again later (ballot chunks
    by V5-V7 and the workers, event files by B1): bytes changed in between — by someone who can write
    the directory while a verifier or a guardian checks it — are R1.B / B1.A, never verified in their
    new form."""
    from e2evote.verifier.ext_board import check_board

    d = _split(revote, election, tmp_path, "live")
    rec = read_record(d)
    assert not rec.issues and rec.digests
    chunk = d / rec.chunks[0]
    items = unpack(chunk.read_bytes())
    chunk.write_bytes(pack(items[:-1]))  # a counted ballot dropped after R1 was checked
    issues = [b for b in rec.ballots() if isinstance(b, RecordIssue)]
    assert [(i.step, i.obj) for i in issues] == [("R1.B", rec.chunks[0])], issues
    assert rec.read_chunk is not None
    assert [getattr(i, "step", None) for i in rec.read_chunk(rec.chunks[0])] == ["R1.B"]
    # an event file of the board log changed after the record was opened
    d = _split(revote, election, tmp_path, "live-events")
    rec = read_record(d)
    events_file = d / "ext" / "board" / event_file_name(1)
    events_file.write_bytes(pack(unpack(events_file.read_bytes())[:-1]))
    report = Report(source=str(d))
    check_board(rec, ElectionContext(rec.parameters, rec.K), report)
    assert [f.step for f in report.failures] == ["B1.A"], report.failures
    assert "changed after the record was authenticated" in report.failures[0].detail
