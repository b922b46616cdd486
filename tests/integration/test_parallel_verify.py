"""Parallel and distributed verification give the same report as a local run
(specs/10-verification.md §1.5)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

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
from e2evote.record.native import read_record, write_record
from e2evote.verifier import Report, verify_ballots, verify_path, verify_record
from e2evote.verifier.distributed import dask_runner, process_runner, verify_ballot_blobs

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
