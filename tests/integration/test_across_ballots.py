"""The checks across ballots (V7.C-H, V19.E) on fixed-size fingerprints: failures are found with the
right step and object, also across chunks on worker processes, and a fingerprint collision without a
real duplicate reports nothing (specs/10-verification.md §1.6)."""

from __future__ import annotations

import dataclasses
import random
from array import array
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from e2evote.errors import E2EVoteError
from e2evote.groups import TEST
from e2evote.protocol.ballot import BallotState, Device, EncryptedBallot, encrypt_ballot
from e2evote.protocol.decryption import DecryptingGuardian
from e2evote.protocol.election import ElectionContext, ElectionParameters
from e2evote.protocol.manifest import simple_manifest
from e2evote.protocol.tally import TallyAccumulator, decrypt_tally
from e2evote.record.model import ChallengedBallot, ElectionRecord, RecordIssue
from e2evote.record.native import RecordWriter, read_record, write_record
from e2evote.verifier import Report, steps, verify_ballots, verify_path
from e2evote.verifier.distributed import process_runner

from .elections import ceremony, random_ballot

MANIFEST = simple_manifest("c", [("A", ["a", "b", "c"], 1), ("B", ["x", "y"], 1)], chaining=True)
ACROSS = {"V7.C", "V7.D", "V7.E", "V7.F", "V7.G", "V7.H", "V19.E"}
BROKEN = "B_aux does not continue the device's chain"
SELECTIONS = 5


def _device(i: int) -> str:
    return "d2" if i % 3 == 0 else "d1"


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 ballots on 2 chaining devices (d2: b0 b3 b6 b9, d1: the others), b4 challenged, chunks of 3."""
    out = tmp_path_factory.mktemp("chain") / "honest"
    rng = random.Random(7)
    params = ElectionParameters(TEST, MANIFEST, 1, 1)
    keys, pubs = ceremony(params)
    ctx = keys[0].context
    devices = {name: Device(ctx, name) for name in ("d1", "d2")}
    w = RecordWriter(out, ctx, pubs, chunk_size=3)
    acc = TallyAccumulator(ctx)
    opened = []
    for i in range(12):
        pb = random_ballot(MANIFEST, rng, f"b{i}")
        state = BallotState.CHALLENGED if i == 4 else BallotState.CAST
        enc, xi = encrypt_ballot(ctx, pb, device=devices[_device(i)], state=state)
        assert len([s for c in enc.contests for s in c.selections]) == SELECTIONS
        w.add_ballot(enc)
        if state is BallotState.CAST:
            acc.add(enc)
        else:
            opened.append(ChallengedBallot(enc.ballot_id, xi, pb, None))
    et = acc.result()
    w.set_tally(et, decrypt_tally(ctx, pubs, [DecryptingGuardian.from_key(keys[0])], et))
    w.set_challenged(opened)
    w.set_device_closes({name: d.close() for name, d in devices.items()})
    w.seal()
    return out


def _ballots(path: Path) -> list[EncryptedBallot]:
    return [b for b in read_record(path).ballots() if isinstance(b, EncryptedBallot)]


def _selection(b: EncryptedBallot, n: int, src: EncryptedBallot) -> EncryptedBallot:
    """``b`` with its contest n's first selection (ciphertext and proof) taken from ``src``."""
    c = b.contests[n]
    s = dataclasses.replace(c.selections[0], ct=src.contests[n].selections[0].ct)
    s = dataclasses.replace(s, proof=src.contests[n].selections[0].proof)
    contests = list(b.contests)
    contests[n] = dataclasses.replace(c, selections=(s, *c.selections[1:]))
    return dataclasses.replace(b, contests=tuple(contests))


Tamper = Callable[[list[EncryptedBallot], ElectionRecord], ElectionRecord]


def _with(rec: ElectionRecord, bs: list[EncryptedBallot], **changes: object) -> ElectionRecord:
    return dataclasses.replace(rec, ballots=lambda: iter(bs), **changes)  # type: ignore[arg-type]


def _dup_code(bs: list[EncryptedBallot], rec: ElectionRecord) -> ElectionRecord:
    return _with(rec, [*bs, dataclasses.replace(bs[1], ballot_id="copy")])


def _copied(bs: list[EncryptedBallot], rec: ElectionRecord) -> ElectionRecord:
    bs[10] = _selection(bs[10], 0, bs[2])
    return _with(rec, bs)


def _dup_id(bs: list[EncryptedBallot], rec: ElectionRecord) -> ElectionRecord:
    bs[9] = dataclasses.replace(bs[9], ballot_id="b1")
    return _with(rec, bs)


def _swapped(bs: list[EncryptedBallot], rec: ElectionRecord) -> ElectionRecord:
    bs[2], bs[4] = bs[4], bs[2]  # two d1 ballots, now in chunks 0 and 1 the other way round
    return _with(rec, bs)


def _first_gone(bs: list[EncryptedBallot], rec: ElectionRecord) -> ElectionRecord:
    return _with(rec, bs[1:], device_closes={"d2": rec.device_closes["d2"]})


CASES: dict[str, tuple[Tamper, list[tuple[str, str, str]]]] = {
    "dup_code": (
        _dup_code,
        [("V7.H", f"ballot copy selection {n}", "ciphertext copied from ballot b1") for n in range(1, 6)]
        + [
            ("V7.C", "ballot copy", "confirmation code duplicates ballot b1"),
            ("V7.E", "ballot copy", BROKEN),
            ("V7.G", "device d1", "closing hash is wrong"),
        ],
    ),
    "copied": (_copied, [("V7.H", "ballot b10 selection 1", "ciphertext copied from ballot b2")]),
    "dup_id": (_dup_id, [("V19.E", "ballot b1", "ballot id appears twice")]),
    "swapped": (
        _swapped,
        [("V7.E", "ballot b4", BROKEN), ("V7.E", "ballot b2", BROKEN), ("V7.E", "ballot b5", BROKEN)],
    ),
    "first_gone": (
        _first_gone,
        [("V7.D", "ballot b3", BROKEN), ("V7.F", "device d1", "no closing hash published")],
    ),
}


@pytest.fixture(scope="module")
def tampered(honest: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("tampered")
    rec = read_record(honest)
    out = {}
    for name, (tamper, _) in CASES.items():
        write_record(tamper(_ballots(honest), rec), base / name, chunk_size=3)
        out[name] = base / name
    return out


def _across(r: Report) -> list[tuple[str, str, str]]:
    return [(f.step, f.obj, f.detail) for f in r.failures if f.step in ACROSS]


def _local_and_processes(path: Path) -> tuple[Report, Report]:
    local = verify_path(path)
    par = verify_path(path, runner=process_runner(2))
    assert _across(local) == _across(par)  # same failures, in the same order
    assert local.checks == par.checks and local.summary == par.summary
    return local, par


def test_honest_chained_record(honest: Path) -> None:
    assert len(read_record(honest).chunks) == 4
    local, par = _local_and_processes(honest)
    assert local.ok and par.ok, local.failures
    assert local.checks["V7"] == 12 + 2 and local.summary["challenged"] == 1


@pytest.mark.parametrize("name", sorted(CASES))
def test_found_with_step_and_object(name: str, tampered: dict[str, Path]) -> None:
    local, _ = _local_and_processes(tampered[name])
    assert _across(local) == CASES[name][1]


@pytest.mark.parametrize("name", sorted(CASES))
def test_fingerprint_collisions_change_nothing(
    name: str, honest: Path, tampered: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With 1-bit fingerprints every ballot collides with others: the second reading must clear
    all but the real duplicates (the worker processes are forked, so they see the narrow mask)."""
    calls = []
    reread = steps._reread

    def counting(*args: object) -> object:
        calls.append(1)
        return reread(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(steps, "_FP_MASK", 1)
    monkeypatch.setattr(steps, "_reread", counting)
    local, _ = _local_and_processes(honest)
    assert local.ok, local.failures
    local, _ = _local_and_processes(tampered[name])
    assert _across(local) == CASES[name][1]
    assert len(calls) == 4


# ---------------------------------------------------------------------------------------------------
# verify_ballots: ballots without an entry, and no second reading
# ---------------------------------------------------------------------------------------------------


def _context(path: Path) -> ElectionContext:
    rec = read_record(path)
    return ElectionContext(rec.parameters, rec.K)


def _duplicates(ctx: ElectionContext, stream: Callable[[], Iterator[Any]]) -> list[tuple[str, str, str]]:
    return [f for f in _across(verify_ballots(ctx, stream)) if f[0] in ("V19.E", "V7.C", "V7.H")]


@pytest.mark.parametrize("mask", [(1 << 64) - 1, 1, 0])
def test_skipped_ballots_keep_positions(honest: Path, mask: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ballot whose checks raise has no entry; the second reading must still find the others."""
    ctx = _context(honest)
    bs = _ballots(honest)
    bs[7] = dataclasses.replace(bs[7], ballot_id="b2")
    stream = [bs[0], RecordIssue("R2.B", "x", "y"), *bs[1:]]
    original = steps._ballot

    def raising(ctx: ElectionContext, ballot: EncryptedBallot, report: Report) -> object:
        if ballot.ballot_id in ("b1", "b5"):
            raise E2EVoteError("boom")
        return original(ctx, ballot, report)

    monkeypatch.setattr(steps, "_ballot", raising)
    monkeypatch.setattr(steps, "_FP_MASK", mask)
    found = _duplicates(ctx, lambda: iter(stream))
    assert found == [("V19.E", "ballot b2", "ballot id appears twice")]
    once = iter(stream)
    if mask == (1 << 64) - 1:  # no second reading: reported on the fingerprints, positions counted
        found = _duplicates(ctx, lambda: once)
        assert len(found) == 1
        step, obj, detail = found[0]
        assert (step, obj) == ("V19.E", "ballot #7")  # b0..b6, then the copy (RecordIssue not counted)
        assert "fingerprint evidence only" in detail and "could not be read again" in detail


def test_changed_between_readings(honest: Path) -> None:
    ctx = _context(honest)
    bs = _ballots(honest)
    first = [*bs, dataclasses.replace(bs[3], ballot_id="copy")]
    second = [*bs, dataclasses.replace(bs[4], ballot_id="copy")]
    streams = iter([first, second])
    found = _duplicates(ctx, lambda: iter(next(streams)))
    assert [(s, o) for s, o, _ in found] == [("V7.H", f"ballot #12 selection {n}") for n in range(1, 6)] + [
        ("V7.C", "ballot #12")
    ]
    assert all("differs between two readings" in d for _, _, d in found)


def test_repeated_bucketed() -> None:
    rng = random.Random(3)
    values = array("Q", (rng.getrandbits(64) for _ in range(20_000)))
    values[17_000] = values[5]
    values[12_345] = values[9_999] = values[19_999]
    assert steps._repeated(values) == [5, 9_999, 12_345, 17_000, 19_999]
    assert steps._repeated(array("Q", [3, 1, 3, 2, 1])) == [0, 1, 2, 4]
    assert steps._repeated(array("Q", [1])) == []


def test_index_merge_and_wire() -> None:
    """Heads of later parts become links; the wire form round-trips."""
    key = steps.fingerprint_key()
    a = steps.BallotIndex(key)
    a.heads = {"d": (0, "x", b"h")}
    a.tails = {"d": b"c0"}
    a.codes.extend([1, 2])
    b = steps.BallotIndex(key)
    b.heads = {"d": (0, "y", b"B"), "e": (1, "z", b"E")}
    b.tails = {"e": b"c1", "d": b"c2"}
    b.codes.extend([3, 4])
    b.skipped = [1]
    b.chain_failures = [(1, "z")]
    b = steps.BallotIndex.from_wire(key, b.to_wire())
    a.merge(b, 5)
    assert a.heads == {"d": (0, "x", b"h"), "e": (3, "z", b"E")}
    assert a.links == [(2, "y", "d", b"B", b"c0")]
    assert list(a.tails) == ["d", "e"] and a.tails["d"] == b"c2"
    assert a.skipped == [6] and a.chain_failures == [(3, "z")] and list(a.codes) == [1, 2, 3, 4]
    with pytest.raises(ValueError):
        a.merge(steps.BallotIndex(steps.fingerprint_key()), 0)
