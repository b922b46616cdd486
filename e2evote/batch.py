"""Throughput helpers: encrypt many ballots on every core (specs/02-groups.md §Parallelism).

Ballot encryption is dominated by fixed-base exponentiations whose table look-ups hold the GIL, so
it scales with processes, not threads. Workers are forked from the parent (tables built before
the fork are shared copy-on-write) and exchange only canonical msgpack bytes with it; the parent
rebuilds the ballots with :func:`e2evote.record.codec.dec_ballot_unchecked`, skipping the subgroup
tests because the ciphertexts were just computed by this process tree (they are validated again
by the verifier like every other ballot).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterator, Sequence
from typing import Any

import msgpack

from e2evote.encoding import pack, unpack
from e2evote.protocol.ballot import BallotState, EncryptedBallot, PlaintextBallot, encrypt_ballot
from e2evote.protocol.election import ElectionContext
from e2evote.record import codec

__all__ = ["encrypt_many"]

_CTX: ElectionContext | None = None
LARGE_RUN = 2000
"""from this many ballots on, 12-bit fixed-base tables are built (specs/02-groups.md §Tables)"""


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
    ballots: Sequence[PlaintextBallot],
    *,
    states: Sequence[BallotState] | None = None,
    processes: int | None = None,
    chunksize: int = 4,
) -> Iterator[tuple[EncryptedBallot, bytes]]:
    """Encrypt ``ballots`` in order on ``processes`` workers (default: every core); yields
    (encrypted ballot, ballot nonce ξ_B)."""
    global _CTX
    states = states or [BallotState.CAST] * len(ballots)
    n = processes or len(os.sched_getaffinity(0))
    if n <= 1 or len(ballots) < 4 or "fork" not in mp.get_all_start_methods():
        for b, s in zip(ballots, states, strict=True):
            yield encrypt_ballot(ctx, b, state=s)
        return
    # build the tables before forking (the children share them); larger ones pay off for long runs
    if len(ballots) >= LARGE_RUN:
        ctx.key.prepare(12)
    ctx.group.g_pow(ctx.group.scalar(1))
    ctx.key.K_pow(ctx.group.scalar(1))
    _CTX = ctx
    items = [
        pack({"ballot": codec.enc_plaintext(b), "state": s.value})
        for b, s in zip(ballots, states, strict=True)
    ]
    with mp.get_context("fork").Pool(n) as pool:
        for out in pool.imap(_work, items, chunksize=chunksize):
            obj = _unpack_from_worker(out)
            yield codec.dec_ballot_unchecked(ctx.group, obj["ballot"]), obj["nonce"]
    _CTX = None
