"""Parallel and distributed verification give the same report as a local run
(specs/10-verification.md §1.5)."""

from __future__ import annotations

import dataclasses
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2evote.elgamal import Ciphertext
from e2evote.encoding import pack, unpack
from e2evote.errors import EncodingError
from e2evote.groups import TEST
from e2evote.protocol.ballot import EncryptedBallot
from e2evote.protocol.election import ElectionContext
from e2evote.protocol.manifest import simple_manifest
from e2evote.record import codec
from e2evote.record.model import RecordIssue
from e2evote.record.native import CHUNK_SIZE, chunk_length, read_record, write_record
from e2evote.verifier import Report, verify_ballots, verify_path, verify_record
from e2evote.verifier.distributed import (
    _Forked,
    _forked_pass,
    _jobs,
    dask_runner,
    process_runner,
    verify_ballot_blobs,
)
from e2evote.verifier.steps import ballot_pass, fingerprint_key, wants_large_tables

from .elections import run_election

MANIFEST = simple_manifest("p", [("A", ["a", "b", "c"], 1), ("B", ["x", "y", "z"], 2)])


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("par")
    honest = base / "honest"
    run_election(TEST, MANIFEST, honest, voters=14, challenged=(4,))
    # a tampered copy: one ciphertext changed, one ballot duplicated across chunks
    rec = read_record(honest)
    bs = [b for b in rec.ballots() if isinstance(b, EncryptedBallot)]
    b0 = bs[0]
    c0 = b0.contests[0]
    s0 = c0.selections[0]
    s0 = dataclasses.replace(s0, ct=Ciphertext(s0.ct.alpha, s0.ct.beta * TEST.generator()))
    bs[0] = dataclasses.replace(
        b0, contests=(dataclasses.replace(c0, selections=(s0, *c0.selections[1:])), *b0.contests[1:])
    )
    bs.append(dataclasses.replace(bs[5], ballot_id="copy"))
    bad = base / "bad"
    write_record(dataclasses.replace(rec, ballots=lambda: iter(bs)), bad, chunk_size=4)
    assert len(read_record(bad).chunks) == 4 and len(read_record(honest).chunks) == 5
    return honest, bad


def _same(a: Report, b: Report) -> None:
    assert a.ok == b.ok
    assert sorted((f.step, f.obj) for f in a.failures) == sorted((f.step, f.obj) for f in b.failures)
    assert a.checks == b.checks
    assert a.summary == b.summary


def test_processes_match_local(records: tuple[Path, Path]) -> None:
    for path in records:
        _same(verify_path(path), verify_path(path, runner=process_runner(2)))
    assert not verify_path(records[1], runner=process_runner(2)).ok


def test_dask_local_cluster_matches_local(records: tuple[Path, Path]) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        with distributed.Client(cluster) as client:
            for path in records:
                _same(verify_path(path), verify_path(path, runner=dask_runner(client)))


def test_encoded_ballots_on_processes_match_a_local_run(records: tuple[Path, Path]) -> None:
    """verify_ballot_blobs (forked workers, batches of encoded ballots) reports what verify_ballots
    reports over the same ballots decoded here: a changed ciphertext, a copied ballot and an
    undecodable blob, each named in its place."""
    rec = read_record(records[1])
    ctx = ElectionContext(rec.parameters, rec.K)
    blobs = [pack(codec.enc_ballot(b)) for b in rec.ballots() if isinstance(b, EncryptedBallot)]
    blobs.insert(3, b"\xc1 not msgpack")

    def batches() -> Iterator[list[bytes]]:
        return (blobs[i : i + 4] for i in range(0, len(blobs), 4))

    def stream() -> Iterator[EncryptedBallot | RecordIssue]:
        for n, batch in enumerate(batches()):
            for i, blob in enumerate(batch):
                try:
                    yield codec.dec_ballot(ctx.group, unpack(blob))
                except EncodingError as exc:
                    yield RecordIssue(codec.decode_failure_step(exc), f"batch {n} ballot {i}", str(exc))

    local = verify_ballots(ctx, stream)
    steps = {f.step for f in local.failures}
    assert steps == {"R2.B", "V5.D", "V6.D", "V7.A", "V7.C", "V7.H"}, steps
    for processes in (2, 1):
        forked = verify_ballot_blobs(ctx, batches, processes=processes)
        _same(local, forked)
        assert [(f.step, f.obj) for f in forked.failures] == [(f.step, f.obj) for f in local.failures]


def test_processes_need_a_record_read_from_files(records: tuple[Path, Path]) -> None:
    rec = dataclasses.replace(read_record(records[0]), read_chunk=None)
    report = verify_record(rec, runner=process_runner(2))
    assert not report.ok and "read from a directory" in report.failures[0].detail


def _proof_plus_one(sel_or_contest: Any) -> Any:
    """The same object with its range proof's first challenge changed (V5.D / V6.D)."""
    p = sel_or_contest.proof
    bumped = (p.c[0] + TEST.scalar(1), *p.c[1:])
    return dataclasses.replace(sel_or_contest, proof=dataclasses.replace(p, c=bumped))


def test_one_ballot_split_over_runs_reports_what_one_run_does(records: tuple[Path, Path]) -> None:
    """ballot_pass's ``slice_of`` (how the process runner splits an egk record's last files): the
    k-th of m runs checks the k-th slice of the ballot's range proofs; concatenated in k order the
    runs report exactly the failures, in the order, and the checks of one run, and only run 0
    contributes the ballot itself (index, products, counts)."""
    rec = read_record(records[0])
    ctx = ElectionContext(rec.parameters, rec.K)
    b = next(x for x in rec.ballots() if isinstance(x, EncryptedBallot))
    first, last = b.contests[0], b.contests[-1]
    bad = dataclasses.replace(
        b,
        code=bytes(32),  # V7.B
        contests=(
            dataclasses.replace(
                first, selections=(_proof_plus_one(first.selections[0]), *first.selections[1:])
            ),
            *b.contests[1:-1],
            _proof_plus_one(last),  # the contest proof: the last statement
        ),
    )
    key = fingerprint_key()
    whole = Report()
    one = ballot_pass(ctx, iter([bad]), whole, key=key)
    assert [f.step for f in whole.failures] == ["V7.B", "V5.D", "V6.D"]
    for m in (2, 3, 7):
        reports = [Report() for _ in range(m)]
        parts = [ballot_pass(ctx, iter([bad]), r, key=key, slice_of=(k, m)) for k, r in enumerate(reports)]
        assert [f for r in reports for f in r.failures] == whole.failures
        assert sum((r.checks for r in reports), Counter()) == whole.checks
        assert [p.done for p in parts] == [1] + [0] * (m - 1)
        assert parts[0].index.to_wire() == one.index.to_wire() and parts[0].cast == one.cast == 1
        assert all(p.cast == 0 and not p.index.to_wire()["ids"] for p in parts[1:])
    # an undecodable ballot in the stream is reported by run 0 only
    issue = RecordIssue("R2.B", "ballot x", "bad")
    r0, r1 = Report(), Report()
    ballot_pass(ctx, iter([issue]), r0, key=key, slice_of=(0, 2))
    ballot_pass(ctx, iter([issue]), r1, key=key, slice_of=(1, 2))
    assert [f.step for f in r0.failures] == ["R2.B"] and r1.ok
    with pytest.raises(ValueError, match="one ballot"):
        ballot_pass(ctx, iter([b, b]), Report(), key=key, slice_of=(1, 2))
    with pytest.raises(ValueError):
        ballot_pass(ctx, iter([b]), Report(), key=key, slice_of=(2, 2))


def test_jobs_split_only_the_last_one_ballot_files() -> None:
    files = [f"f{i}" for i in range(5)]
    assert _jobs(files, 1) == [(f, f, (0, 1)) for f in files]
    assert _jobs(files, 2) == [(f, f, (0, 1)) for f in files[:4]] + [
        ("f4", "f4", (0, 2)),
        ("f4", "f4", (1, 2)),
    ]
    assert _jobs(files[:4], 2) == [(f, f, (0, 1)) for f in files[:4]]
    three = _jobs(files, 3)
    assert three[:3] == [(f, f, (0, 1)) for f in files[:3]]
    assert three[3:] == [(f, f, (k, 3)) for f in ("f3", "f4") for k in range(3)]
    assert _jobs(files[:1], 2) == [("f0", "f0", (0, 2)), ("f0", "f0", (1, 2))]


def test_workers_inherit_the_tables_instead_of_building_their_own(
    records: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fixed-base tables of g and K are built once, before the fork (specs/10-verification.md
    §1.5): no worker process builds one."""
    from e2evote.groups import modp

    log = tmp_path / "built-by"
    build = modp.ModPFixedBase.__init__

    def logged(self: modp.ModPFixedBase, *args: Any, **kwargs: Any) -> None:
        build(self, *args, **kwargs)
        with open(log, "a") as fh:
            fh.write(f"{os.getpid()}\n")

    monkeypatch.setattr(modp.ModPFixedBase, "__init__", logged)
    rec = read_record(records[0])
    ctx = ElectionContext(rec.parameters, rec.K)  # a new context: K's table is not built yet
    blobs = [pack(codec.enc_ballot(b)) for b in rec.ballots() if isinstance(b, EncryptedBallot)]
    batches = lambda: (blobs[i : i + 4] for i in range(0, len(blobs), 4))  # noqa: E731
    assert verify_ballot_blobs(ctx, batches, processes=2).ok
    assert set(log.read_text().split()) == {str(os.getpid())}


def _spoiled(b: EncryptedBallot) -> EncryptedBallot:
    """``b`` with a wrong confirmation code (V7.B) and its first selection's proof changed (V5.D)."""
    first = b.contests[0]
    selections = (_proof_plus_one(first.selections[0]), *first.selections[1:])
    contests = (dataclasses.replace(first, selections=selections), *b.contests[1:])
    return dataclasses.replace(b, code=bytes(32), contests=contests)


def test_a_ballot_s_failures_are_never_interleaved_with_the_next_one_s(records: tuple[Path, Path]) -> None:
    """Range proofs are checked in batches that span ballots; a failure found on the way (V7.B) waits
    for the range failures of the statements before it, so one run over the stream reports what the
    per-file runs report, concatenated (specs/10 §1.5)."""
    rec = read_record(records[0])
    ctx = ElectionContext(rec.parameters, rec.K)
    b1, b2 = [_spoiled(b) for b in rec.ballots() if isinstance(b, EncryptedBallot)][:2]
    key = fingerprint_key()
    whole, apart = Report(), Report()
    ballot_pass(ctx, iter([b1, b2]), whole, key=key)
    for b in (b1, b2):
        ballot_pass(ctx, iter([b]), apart, key=key)
    got = [(f.step, f.obj) for f in whole.failures]
    assert got == [
        ("V7.B", f"ballot {b1.ballot_id}"),
        ("V5.D", f"ballot {b1.ballot_id} contest A option 1"),
        ("V7.B", f"ballot {b2.ballot_id}"),
        ("V5.D", f"ballot {b2.ballot_id} contest A option 1"),
    ], got
    assert whole.failures == apart.failures


def test_split_runs_that_read_different_contents_fail_the_file(records: tuple[Path, Path]) -> None:
    """Run 0 of a split file alone counts the ballot and checks everything but its slice of the range
    proofs: if another run read something else (the file changed or vanished in between), the file
    is an R2.B failure, never verified in parts (specs/10 §1.5)."""
    rec = read_record(records[0])
    ctx = ElectionContext(rec.parameters, rec.K)
    honest, other = [b for b in rec.ballots() if isinstance(b, EncryptedBallot)][:2]
    jobs = [("f", "f", (0, 2)), ("f", "f", (1, 2))]

    def reader(*contents: EncryptedBallot | RecordIssue) -> _Forked:
        reads = iter(contents)
        return _Forked(ctx, lambda _item, _label: iter([next(reads)]))

    for second_read in (other, RecordIssue("R2.A", "f", "no such file")):
        report = Report()
        part = _forked_pass(reader(honest, second_read), jobs, 1, report, None)
        assert [(f.step, f.obj) for f in report.failures] == [("R2.B", "f")], report.failures
        assert part.done == 1
    report = Report()
    _forked_pass(reader(honest, honest), jobs, 1, report, None)
    assert report.ok


def test_table_size_follows_the_ballots_not_the_chunk_count(
    records: tuple[Path, Path], tmp_path: Path
) -> None:
    """12-bit tables are built for more than ~2000 ballots; a native chunk's length is read from its
    header, so a small record written in many small chunks (the demo's) does not build them."""
    rec = read_record(records[0])
    small = tmp_path / "small"
    write_record(rec, small, chunk_size=1)
    read = read_record(small)
    assert len(read.chunks) > 4 and not wants_large_tables(read)
    assert [chunk_length(small, c) for c in read.chunks] == [1] * len(read.chunks)
    # a chunk whose header cannot be read counts as a full one
    (small / read.chunks[0]).write_bytes(b"")
    assert chunk_length(small, read.chunks[0]) == CHUNK_SIZE
    assert chunk_length(small, "ballots/none.msgpack") == CHUNK_SIZE
    os.mkfifo(small / "ballots" / "fifo")  # not waited on
    assert chunk_length(small, "ballots/fifo") == CHUNK_SIZE


def test_many_failures_behind_a_pending_ballot_keep_their_order(records: tuple[Path, Path]) -> None:
    """Failures held behind a ballot's unchecked range proofs are merged in order, not re-sorted, and
    at most _Pipeline.MAX_HELD wait before the pending proofs are checked: thousands of record issues
    after a spoiled ballot come after its range failure, in their order."""
    rec = read_record(records[0])
    ctx = ElectionContext(rec.parameters, rec.K)
    b = _spoiled(next(x for x in rec.ballots() if isinstance(x, EncryptedBallot)))
    issues = [RecordIssue("R2.B", f"item {i}", "undecodable") for i in range(3000)]
    report = Report()
    ballot_pass(ctx, iter([b, *issues]), report, key=fingerprint_key())
    got = [f.obj for f in report.failures]
    assert got[:2] == [f"ballot {b.ballot_id}", f"ballot {b.ballot_id} contest A option 1"]
    assert got[2:] == [f"item {i}" for i in range(3000)]


def test_a_pass_stopped_by_an_exception_still_reports_what_it_found(records: tuple[Path, Path]) -> None:
    rec = read_record(records[0])
    ctx = ElectionContext(rec.parameters, rec.K)
    good, bad = [b for b in rec.ballots() if isinstance(b, EncryptedBallot)][:2]

    def stream() -> Iterator[EncryptedBallot | RecordIssue]:
        yield good
        yield dataclasses.replace(bad, code=bytes(32))
        raise KeyError("a defect no check anticipated")

    report = Report()
    with pytest.raises(KeyError):
        ballot_pass(ctx, stream(), report, key=fingerprint_key())
    assert [(f.step, f.obj) for f in report.failures] == [("V7.B", f"ballot {bad.ballot_id}")]


def test_a_record_of_fewer_chunks_than_workers_is_verified_in_parts(
    records: tuple[Path, Path], tmp_path: Path
) -> None:
    """One chunk on 2 or 3 workers: each verifies a consecutive part of its ballots (read_chunk_part),
    and the report is a local run's, in order; a damaged file is reported once, not once per part."""
    rec = read_record(records[1])
    one = tmp_path / "one"
    write_record(rec, one, chunk_size=1000)
    assert len(read_record(one).chunks) == 1
    local = verify_path(one)
    assert {"V6.D", "V7.H"} <= local.steps_failed()
    for processes in (2, 3):
        forked = verify_path(one, runner=process_runner(processes))
        _same(local, forked)
        assert [(f.step, f.obj) for f in forked.failures] == [(f.step, f.obj) for f in local.failures]
    # the parts in order are the chunk
    read = read_record(one)
    assert read.read_chunk is not None and read.read_chunk_part is not None
    whole = [b.ballot_id for b in read.read_chunk(read.chunks[0]) if isinstance(b, EncryptedBallot)]
    parts = [
        b.ballot_id
        for k in range(3)
        for b in read.read_chunk_part(read.chunks[0], k, 3)
        if isinstance(b, EncryptedBallot)
    ]
    assert parts == whole and len(whole) == 15
    # changed after the record was opened: one R1.B, from part 0
    (one / read.chunks[0]).write_bytes(b"\x90")
    issues = [list(read.read_chunk_part(read.chunks[0], k, 2)) for k in range(2)]
    assert [[i.step for i in got if isinstance(i, RecordIssue)] for got in issues] == [["R1.B"], []]
