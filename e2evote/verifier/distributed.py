"""Spreading the per-ballot checks over processes or a Dask cluster (specs/10-verification.md §1.5).

A *runner* hands each ballot chunk of a native record to a worker, which re-reads the record's
parameters from its directory (a shared filesystem for a cluster), verifies the chunk's ballots
(V5, V6, V7.A-B, V5.E) and returns canonical msgpack bytes: its failures, check counts, per-option
products and its BallotIndex (fixed-size fingerprints per ballot, keyed with the run's key, and the
chunk's device-chain state). The coordinator merges them in chunk order and runs the checks across
ballots itself, so the report equals a local run's. Only bytes cross process boundaries.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any

from e2evote.encoding import pack, unpack
from e2evote.errors import RecordError
from e2evote.groups.base import Element, Group
from e2evote.protocol.election import ElectionContext
from e2evote.record.model import ElectionRecord
from e2evote.record.native import read_chunk, read_record
from e2evote.verifier.report import Report
from e2evote.verifier.steps import (
    BallotIndex,
    BallotPartial,
    BallotRunner,
    Progress,
    ballot_pass,
    empty_partial,
    fingerprint_key,
)

__all__ = ["verify_chunk", "process_runner", "dask_runner"]


@lru_cache(maxsize=4)
def _context(path: str) -> ElectionContext:
    rec = read_record(path)
    ctx = ElectionContext(rec.parameters, rec.K)
    ctx.key.prepare(12)  # a worker verifies many ballots: larger fixed-base tables pay off
    return ctx


def verify_chunk(path: str, chunk: str, key: bytes) -> bytes:
    """Worker: verify one chunk of the native record at ``path``; returns packed results.
    ``key``: the run's fingerprint key (steps.fingerprint_key), the same for every chunk."""
    ctx = _context(path)
    report = Report(source=chunk)
    part = ballot_pass(ctx, read_chunk(_path(path), ctx.group, chunk), report, key=key)
    return pack(
        {
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
    for blob in blobs:
        obj = unpack(blob)
        for step, o, detail in obj["failures"]:
            report.fail(step, o, detail)
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
        raise RecordError("parallel verification needs a native record read from a directory")
    return record.path, list(record.chunks)


def process_runner(processes: int | None = None) -> BallotRunner:
    """Verify chunks on ``processes`` local worker processes (default: every core)."""

    def run(
        record: ElectionRecord, ctx: ElectionContext, report: Report, progress: Progress | None
    ) -> BallotPartial:
        path, chunks = _chunks(record)
        key = fingerprint_key()
        n = processes or len(os.sched_getaffinity(0))
        if n <= 1 or len(chunks) <= 1:
            return _merge(ctx, key, (verify_chunk(path, c, key) for c in chunks), report, progress)
        with mp.get_context("fork").Pool(n, initializer=_one_thread) as pool:
            return _merge(ctx, key, pool.imap(_star, [(path, c, key) for c in chunks]), report, progress)

    return run


def _one_thread() -> None:
    """A worker process has a core to itself: one thread, shared-squaring powers (Group.pow_shared)."""
    os.environ["E2EVOTE_THREADS"] = "1"


def _star(args: tuple[str, str, bytes]) -> bytes:
    return verify_chunk(*args)


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
            futures = client.map(verify_chunk, [path] * len(chunks), chunks, [key] * len(chunks), pure=False)
            return _merge(ctx, key, _in_order(futures), report, progress)
        finally:
            if client is not address:
                client.close()  # type: ignore[no-untyped-call]

    return run


def _in_order(futures: list[Any]) -> Iterator[bytes]:
    for f in futures:
        yield f.result()


Runner = Callable[[ElectionRecord, ElectionContext, Report, "Progress | None"], BallotPartial]
