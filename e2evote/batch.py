"""Throughput helpers: encrypt many ballots on every core (specs/02-groups.md §Parallelism).

Ballot encryption is dominated by fixed-base exponentiations whose table look-ups hold the GIL, so
it scales with processes, not threads. Workers are forked from the parent (tables built before
the fork are shared copy-on-write) and exchange only canonical msgpack bytes with it; the parent
rebuilds the ballots with :func:`e2evote.record.codec.dec_ballot_unchecked`, skipping the subgroup
tests because the ciphertexts were just computed by this process tree (they are validated again
by the verifier like every other ballot). The input is read as the results are taken, a bounded
number of chunks ahead, so that a long run from a generator keeps this process's memory flat.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
from collections import deque
from collections.abc import Iterable, Iterator
from multiprocessing.pool import AsyncResult
from typing import Any, TypeVar

import msgpack

from e2evote.encoding import pack, unpack
from e2evote.protocol.ballot import BallotState, EncryptedBallot, PlaintextBallot, encrypt_ballot
from e2evote.protocol.election import ElectionContext
from e2evote.record import codec

__all__ = ["encrypt_many"]

_CTX: ElectionContext | None = None
LARGE_RUN = 2000
"""from this many ballots on, 12-bit fixed-base tables are built (specs/02-groups.md §Tables); the input is
read this far ahead to find out"""
IN_FLIGHT = 4
"""chunks per worker submitted ahead of the one being yielded (bounds the memory of a run)"""
_T = TypeVar("_T")


def _work_chunk(items: list[bytes]) -> list[bytes]:
    """Worker side: encrypt one chunk of packed (plaintext ballot, state) items."""
    return [_work(item) for item in items]


def _work(item: bytes) -> bytes:
    assert _CTX is not None
    obj = unpack(item)
    ballot = codec.dec_plaintext(obj["ballot"])
    enc, xi = encrypt_ballot(_CTX, ballot, state=BallotState(obj["state"]))
    return pack({"ballot": codec.enc_ballot(enc), "nonce": xi})


def _unpack_from_worker(data: bytes) -> Any:
    """Our own forked worker's canonical msgpack: decoded without the canonical re-encoding check
    (``unpack`` is for input from outside; this never is)."""
    return msgpack.unpackb(data, raw=False, strict_map_key=True, ext_hook=_no_ext)


def _no_ext(code: int, data: bytes) -> Any:
    raise ValueError("unexpected msgpack extension from a worker")


def encrypt_many(
    ctx: ElectionContext,
    ballots: Iterable[PlaintextBallot],
    *,
    states: Iterable[BallotState] | None = None,
    processes: int | None = None,
    chunksize: int = 4,
) -> Iterator[tuple[EncryptedBallot, bytes]]:
    """Encrypt ``ballots`` in order on ``processes`` workers (default: every core); yields
    (encrypted ballot, ballot nonce ξ_B).

    ``states`` defaults to every ballot cast; if given it must hold one state per ballot. Both are read
    lazily, in the caller's thread, as results are taken: at most :data:`IN_FLIGHT` chunks of
    ``chunksize`` ballots per worker are packed and submitted at a time, so the memory of the calling
    process stays flat however many ballots a generator supplies. The exception: up to
    :data:`LARGE_RUN` ballots are read ahead before the pool is started, because whether to build
    12-bit tables must be decided before the fork (built after it, each worker would build its own)."""
    pairs: Iterator[tuple[PlaintextBallot, BallotState]] = (
        zip(ballots, states, strict=True) if states is not None else ((b, BallotState.CAST) for b in ballots)
    )
    n = processes or len(os.sched_getaffinity(0))
    if n <= 1 or "fork" not in mp.get_all_start_methods():
        yield from _encrypt_here(ctx, pairs)
        return
    head = deque(itertools.islice(pairs, LARGE_RUN))
    if len(head) < 4:
        yield from _encrypt_here(ctx, _drain(head))
        return
    # build the tables before forking (the children share them); larger ones pay off for long runs
    if len(head) >= LARGE_RUN:
        ctx.key.prepare(12)
    ctx.group.g_pow(ctx.group.scalar(1))
    ctx.key.K_pow(ctx.group.scalar(1))
    yield from _encrypt_forked(ctx, itertools.chain(_drain(head), pairs), n, chunksize)


def _encrypt_here(
    ctx: ElectionContext, pairs: Iterable[tuple[PlaintextBallot, BallotState]]
) -> Iterator[tuple[EncryptedBallot, bytes]]:
    """The single-process path: one core, no fork, or too few ballots to pay for a pool."""
    for b, s in pairs:
        yield encrypt_ballot(ctx, b, state=s)


def _encrypt_forked(
    ctx: ElectionContext, pairs: Iterator[tuple[PlaintextBallot, BallotState]], n: int, chunksize: int
) -> Iterator[tuple[EncryptedBallot, bytes]]:
    """Encrypt on ``n`` forked workers, in order, with ``IN_FLIGHT * n`` chunks submitted ahead of the
    one being yielded; a further chunk is read from ``pairs`` and packed only when a finished one is
    taken, so neither the input nor the results pile up in this process."""
    global _CTX
    _CTX = ctx
    try:
        with mp.get_context("fork").Pool(n) as pool:
            pending: deque[AsyncResult[list[bytes]]] = deque()

            def submit() -> None:
                chunk = [
                    pack({"ballot": codec.enc_plaintext(b), "state": s.value})
                    for b, s in itertools.islice(pairs, chunksize)
                ]
                if chunk:
                    pending.append(pool.apply_async(_work_chunk, (chunk,)))

            for _ in range(IN_FLIGHT * n):
                submit()
            while pending:
                outs = pending.popleft().get()
                submit()  # before yielding: the workers keep busy while the caller handles these
                for out in outs:
                    obj = _unpack_from_worker(out)
                    yield codec.dec_ballot_unchecked(ctx.group, obj["ballot"]), obj["nonce"]
    finally:
        _CTX = None


def _drain(items: deque[_T]) -> Iterator[_T]:
    """Yield and drop the items of ``items`` (the read-ahead is released as it is submitted)."""
    while items:
        yield items.popleft()
