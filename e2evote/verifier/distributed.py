"""Spreading the per-ballot checks over processes or a Dask cluster (specs/10-verification.md §1.5).

A *runner* hands each ballot file of a record (a native chunk, an egk ballot file) to a worker, which
verifies its ballots (V5, V6, V7.A-B, V5.E) and returns canonical msgpack bytes: its failures, check
counts, per-option products and its BallotIndex (fixed-size fingerprints per ballot, keyed with the
run's key, and the file's device-chain state). The coordinator merges them in file order and runs the
checks across ballots itself, so the report equals a local run's. Only bytes cross process boundaries.

* :func:`process_runner` forks local workers: they inherit the election context with its fixed-base
  tables and read their files through ``record.read_chunk``; one thread each.
* :func:`blob_runner` / :func:`verify_ballot_blobs` do the same for a stream of encoded ballots that
  is not a record (a board, a benchmark), batch by batch.
* :func:`dask_runner` sends native chunks to a Dask cluster, whose workers re-read the record's
  parameters from its directory (a shared filesystem) and build their own tables.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from e2evote.encoding import pack, unpack
from e2evote.errors import EncodingError, RecordError
from e2evote.groups import parallel
from e2evote.groups.base import Element, Group
from e2evote.protocol.ballot import EncryptedBallot
from e2evote.protocol.election import ElectionContext
from e2evote.record import codec
from e2evote.record.model import ElectionRecord, RecordIssue
from e2evote.record.native import CHUNK_SIZE, decode_ballots, read_chunk, read_record
from e2evote.verifier.report import Report
from e2evote.verifier.steps import (
    BallotIndex,
    BallotPartial,
    BallotRunner,
    Progress,
    ballot_pass,
    empty_partial,
    fingerprint_key,
    verify_ballots,
    wants_large_tables,
)

__all__ = ["verify_chunk", "process_runner", "dask_runner", "blob_runner", "verify_ballot_blobs"]


@lru_cache(maxsize=4)
def _context(path: str) -> tuple[ElectionContext, Mapping[str, bytes]]:
    rec = read_record(path)
    ctx = ElectionContext(rec.parameters, rec.K)
    ctx.key.prepare(12)  # a worker verifies many ballots: larger fixed-base tables pay off
    return ctx, rec.digests


def verify_chunk(path: str, chunk: str, key: bytes, digest: bytes | None = None) -> bytes:
    """Worker: verify one chunk of the native record at ``path``; returns packed results.
    ``key``: the run's fingerprint key (steps.fingerprint_key), the same for every chunk; ``digest``:
    the chunk's SHA-256 as the coordinator authenticated it (R1) — a chunk whose bytes differ is
    R1.B (without it, the worker's own reading of RECORD.msgpack)."""
    ctx, digests = _context(path)
    report = Report(source=chunk)
    want = digest if digest is not None else digests.get(chunk)
    ballots = read_chunk(_path(path), ctx.group, chunk, digest=want)
    part = ballot_pass(ctx, ballots, report, key=key)
    return _packed(report, part)


def _packed(
    report: Report, part: BallotPartial, label: str = "", slice_of: tuple[int, int] = (0, 1)
) -> bytes:
    """A worker's results as canonical bytes (read back by :func:`_merge`)."""
    return pack(
        {
            "label": label,
            "slice": list(slice_of),
            "seen": part.seen,
            "failures": [[f.step, f.obj, f.detail] for f in report.failures],
            "checks": dict(report.checks),
            "acc": [
                [ci, oi, a.to_bytes(), b.to_bytes()]
                for ci, row in sorted(part.acc.items())
                for oi, (a, b) in sorted(row.items())
            ],
            "index": part.index.to_wire(),
            "cast": part.cast,
            "contest_cast": [[ci, n] for ci, n in sorted((part.contest_cast or {}).items())],
            "done": part.done,
        }
    )


def _path(path: str) -> Any:
    from pathlib import Path

    return Path(path)


def _merge(
    ctx: ElectionContext, key: bytes, blobs: Iterable[bytes], report: Report, progress: Progress | None
) -> BallotPartial:
    g = ctx.group
    total = empty_partial(ctx, key)
    first_read = b""  # what run 0 of the current split file read
    for blob in blobs:
        obj = unpack(blob)
        for step, o, detail in obj["failures"]:
            report.fail(step, o, detail)
        k, m = obj["slice"]
        if m > 1 and k == 0:
            first_read = obj["seen"]
        elif m > 1 and obj["seen"] != first_read:
            # run 0 alone checked the rest of this ballot and counted it: the runs must have read the
            # same one (a file changed or removed between their reads is never verified in parts)
            report.fail(
                "R2.B",
                obj["label"],
                "the file changed while it was verified: its split runs read different contents",
            )
        for k, n in obj["checks"].items():
            report.checked(k, n)
        acc: dict[int, dict[int, list[Element]]] = {}
        for ci, oi, a, b in obj["acc"]:
            acc.setdefault(ci, {})[oi] = [_trusted(g, a), _trusted(g, b)]
        part = BallotPartial(
            acc,
            BallotIndex.from_wire(key, obj["index"]),
            obj["cast"],
            {ci: n for ci, n in obj["contest_cast"]},
            obj["done"],
        )
        total.merge(part)
        if progress is not None:
            progress("ballots", total.done, 0)
    return total


def _trusted(group: Group, blob: bytes) -> Element:
    """Products computed by our own workers from validated ballots: no second subgroup test."""
    unchecked = getattr(group, "element_unchecked", None)
    if unchecked is not None:
        return unchecked(int.from_bytes(blob, "big"))  # type: ignore[no-any-return]
    return group.element(blob)


def _chunks(record: ElectionRecord) -> tuple[str, list[str]]:
    if record.path is None or record.source != "native":
        raise RecordError("distributed verification needs a native record read from a directory")
    return record.path, list(record.chunks)


def process_runner(processes: int | None = None) -> BallotRunner:
    """Verify the record's ballot files (native chunks, egk ballot files) on ``processes`` forked
    local worker processes (default: every core). The workers inherit the election context, with
    its fixed-base tables, and read their files themselves."""

    def run(
        record: ElectionRecord, ctx: ElectionContext, report: Report, progress: Progress | None
    ) -> BallotPartial:
        read = record.read_chunk
        if read is None:
            raise RecordError("parallel verification needs a record read from a directory")
        if wants_large_tables(record):
            ctx.key.prepare(12)  # built once, before the fork: every worker inherits them

        part = record.read_chunk_part

        def chunk(item: object, label: str) -> Iterator[EncryptedBallot | RecordIssue]:
            if isinstance(item, tuple):
                assert part is not None
                name, k, m = item
                return part(name, k, m)
            assert read is not None and isinstance(item, str)
            return read(item)

        cores = processes or _cores()
        jobs: list[tuple[object, str, tuple[int, int]]]
        if record.source == "egk":
            jobs = list(_jobs(record.chunks, min(cores, len(record.chunks))))
        elif part is not None and 0 < len(record.chunks) < cores:
            # fewer chunks than workers: each chunk in consecutive parts, one job each (specs/10 §1.5)
            m = -(-cores // len(record.chunks))
            jobs = [((c, k, m), c, (0, 1)) for c in record.chunks for k in range(m)]
        else:
            jobs = list(_jobs(record.chunks, 1))
        n = min(cores, len(jobs))
        return _forked_pass(_Forked(ctx, chunk), jobs, n, report, progress)

    return run


def _jobs(files: Sequence[str], n: int) -> list[tuple[str, str, tuple[int, int]]]:
    """One job per ballot file, except that with ``n`` > 1 workers and files of one ballot each (an egk
    record), the last (number of files mod n) files are split n ways (ballot_pass's ``slice_of``), so
    that no worker idles while another checks a last whole file (specs/10 §1.5)."""
    whole = len(files) - (len(files) % n if n > 1 else 0)
    out = [(f, f, (0, 1)) for f in files[:whole]]
    out += [(f, f, (k, n)) for f in files[whole:] for k in range(n)]
    return out


def _cores() -> int:
    return len(os.sched_getaffinity(0))


def worker_chunk_size(ballots: int) -> int:
    """A native record's chunk size for ``ballots`` ballots that gives every local worker process at
    least one whole chunk to read: max(16, ⌈ballots / (2 · cores)⌉), at most the default CHUNK_SIZE.
    (With fewer chunks than workers :func:`process_runner` still splits each chunk into parts, but
    every part's worker then reads and unpacks the whole file.) The record verifies the same
    whatever its chunk size."""
    return min(CHUNK_SIZE, max(16, -(-ballots // (2 * _cores()))))


def _one_thread() -> None:
    """A worker process has a core to itself: one thread, shared-squaring powers (Group.pow_shared)."""
    parallel.set_workers(1)


# ---------------------------------------------------------------------------------------------------
# forked local workers
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Forked:
    """What a forked worker inherits: the election context (and its tables) and how to read a job's
    ballots: ``read(item, label)``."""

    ctx: ElectionContext
    read: Callable[[object, str], Iterator[EncryptedBallot | RecordIssue]]


_inherited: _Forked | None = None


def _inherit(state: _Forked) -> None:
    global _inherited
    _inherited = state
    _one_thread()


def _work_with(state: _Forked, job: tuple[object, str, tuple[int, int], bytes]) -> bytes:
    item, label, slice_of, key = job
    report = Report(source=label)
    part = ballot_pass(state.ctx, state.read(item, label), report, key=key, slice_of=slice_of)
    return _packed(report, part, label, slice_of)


def _work(job: tuple[object, str, tuple[int, int], bytes]) -> bytes:
    assert _inherited is not None, "forked workers inherit their state (_inherit)"
    return _work_with(_inherited, job)


def _forked_pass(
    state: _Forked,
    jobs: Iterable[tuple[object, str, tuple[int, int]]],
    n: int,
    report: Report,
    progress: Progress | None,
) -> BallotPartial:
    """Each job's ballots (or its slice of a ballot's proofs) through ballot_pass on ``n`` forked
    processes (one thread each), the results merged in job order; with one process, or without
    "fork" (not Linux), in this one."""
    key = fingerprint_key()
    keyed = ((item, label, slice_of, key) for item, label, slice_of in jobs)
    if n <= 1 or "fork" not in mp.get_all_start_methods():
        return _merge(state.ctx, key, (_work_with(state, j) for j in keyed), report, progress)
    # fork does not pickle the initializer's arguments: the workers share the parent's objects, and
    # the tables built here (the tally's checks use them afterwards in this process too)
    state.ctx.key.build_tables()
    with mp.get_context("fork").Pool(n, initializer=_inherit, initargs=(state,)) as pool:
        return _merge(state.ctx, key, pool.imap(_work, keyed), report, progress)


def blob_runner(
    batches: Callable[[], Iterable[Sequence[bytes]]], processes: int | None = None
) -> BallotRunner:
    """Verify encoded ballots (``pack(codec.enc_ballot(b))``), one batch per task, on ``processes``
    forked local processes (default: every core), as :func:`process_runner` does a record's files.
    Results are merged in batch order, so the report equals a one-process run's."""

    def run(
        record: ElectionRecord, ctx: ElectionContext, report: Report, progress: Progress | None
    ) -> BallotPartial:
        def blobs(item: object, label: str) -> Iterator[EncryptedBallot | RecordIssue]:
            assert isinstance(item, list)
            return _decoded(ctx, item, label)

        jobs = ((list(b), f"batch {i}", (0, 1)) for i, b in enumerate(batches()))
        return _forked_pass(_Forked(ctx, blobs), jobs, processes or _cores(), report, progress)

    return run


def _decoded(
    ctx: ElectionContext, blobs: Sequence[bytes], where: str
) -> Iterator[EncryptedBallot | RecordIssue]:
    """Unpack and decode encoded ballots; an undecodable one is a RecordIssue in its place."""
    items: list[Any] = []
    start = 0
    for i, blob in enumerate(blobs):
        try:
            items.append(unpack(blob))
        except EncodingError as exc:
            # an undecodable blob is reported in its place; the ballots around it still verify
            yield from decode_ballots(ctx.group, items, where, start)
            yield RecordIssue(codec.decode_failure_step(exc), f"{where} ballot {i}", str(exc))
            items, start = [], i + 1
    yield from decode_ballots(ctx.group, items, where, start)


def verify_ballot_blobs(
    ctx: ElectionContext,
    batches: Callable[[], Iterable[Sequence[bytes]]],
    *,
    processes: int | None = None,
    progress: Progress | None = None,
) -> Report:
    """Steps V5-V7 over encoded ballots on local worker processes (see :func:`blob_runner`); the
    report equals :func:`e2evote.verifier.verify_ballots`'s over the decoded ballots. ``batches``
    is called once for the pass and again only if a duplicate must be confirmed by re-reading."""

    def stream() -> Iterator[EncryptedBallot | RecordIssue]:
        for n, b in enumerate(batches()):
            yield from _decoded(ctx, b, f"batch {n}")

    return verify_ballots(ctx, stream, progress=progress, runner=blob_runner(batches, processes))


def dask_runner(address: str | Any) -> BallotRunner:
    """Verify chunks on a Dask cluster: ``address`` is a scheduler address or a ``distributed.Client``.
    Workers must see the record directory at the same path."""

    def run(
        record: ElectionRecord, ctx: ElectionContext, report: Report, progress: Progress | None
    ) -> BallotPartial:
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - dask is an optional dependency
            raise RecordError("distributed verification needs `pip install e2evote[dask]`") from exc
        path, chunks = _chunks(record)
        key = fingerprint_key()
        client = address if isinstance(address, Client) else Client(address)  # type: ignore[no-untyped-call]
        try:
            digests = [record.digests.get(c) for c in chunks]
            n = len(chunks)
            futures = client.map(verify_chunk, [path] * n, chunks, [key] * n, digests, pure=False)
            return _merge(ctx, key, _in_order(futures), report, progress)
        finally:
            if client is not address:
                client.close()  # type: ignore[no-untyped-call]

    return run


def _in_order(futures: list[Any]) -> Iterator[bytes]:
    for f in futures:
        yield f.result()


Runner = Callable[[ElectionRecord, ElectionContext, Report, "Progress | None"], BallotPartial]
