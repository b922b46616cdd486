"""Parallel and distributed verification give the same report as a local run
(specs/10-verification.md §1.5)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from e2evote.elgamal import Ciphertext
from e2evote.groups import TEST
from e2evote.protocol.ballot import EncryptedBallot
from e2evote.protocol.manifest import simple_manifest
from e2evote.record.native import read_record, write_record
from e2evote.verifier import Report, verify_path
from e2evote.verifier.distributed import dask_runner, process_runner

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
