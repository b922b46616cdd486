"""Parallel encryption (e2evote.batch) yields ballots that verify, in order, with working nonces;
it reads its input lazily (a generator of any length is encrypted in bounded memory)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from e2evote import batch
from e2evote.batch import encrypt_many
from e2evote.groups import TEST
from e2evote.protocol.ballot import BallotState, EncryptedBallot, PlaintextBallot, verify_ballot_nonce
from e2evote.protocol.election import ElectionContext, ElectionParameters
from e2evote.protocol.manifest import simple_manifest
from e2evote.verifier import verify_ballots


def _ctx() -> ElectionContext:
    m = simple_manifest("b", [("A", ["a", "b"], 1)])
    return ElectionContext(ElectionParameters(TEST, m, 1, 1), TEST.g_pow(TEST.random_scalar()))


def _ballots(n: int) -> list[PlaintextBallot]:
    return [PlaintextBallot(f"b{i}", "default", {"A": {"ab"[i % 2]: 1}}) for i in range(n)]


def _check(
    ctx: ElectionContext,
    out: list[tuple[EncryptedBallot, bytes]],
    ballots: list[PlaintextBallot],
    states: list[BallotState],
) -> None:
    assert [e.ballot_id for e, _ in out] == [b.ballot_id for b in ballots]
    assert [e.state for e, _ in out] == states
    for (enc, nonce), plain in zip(out, ballots, strict=True):
        verify_ballot_nonce(ctx, enc, nonce, plain)
    assert verify_ballots(ctx, lambda: iter([e for e, _ in out])).ok


def test_encrypt_many_on_processes() -> None:
    ctx = _ctx()
    ballots = _ballots(12)
    states = [BallotState.CHALLENGED if i == 3 else BallotState.CAST for i in range(12)]
    _check(ctx, list(encrypt_many(ctx, ballots, states=states, processes=2)), ballots, states)


@pytest.mark.parametrize("processes", [1, 2])
@pytest.mark.parametrize("n", [0, 3, 30])
def test_encrypt_many_from_generators(processes: int, n: int) -> None:
    """Generators of ballots and states give what lists give (one process, a pool, a tiny input)."""
    ctx = _ctx()
    ballots = _ballots(n)
    states = [BallotState.CHALLENGED if i % 7 == 3 else BallotState.CAST for i in range(n)]
    out = list(encrypt_many(ctx, iter(ballots), states=iter(states), processes=processes))
    _check(ctx, out, ballots, states)
    out = list(encrypt_many(ctx, (b for b in ballots), processes=processes, chunksize=3))
    _check(ctx, out, ballots, [BallotState.CAST] * n)


def test_encrypt_many_states_must_match() -> None:
    ctx = _ctx()
    with pytest.raises(ValueError):
        list(encrypt_many(ctx, _ballots(10), states=[BallotState.CAST] * 9, processes=2))


@pytest.mark.parametrize("processes", [1, 2])
def test_encrypt_many_reads_lazily(monkeypatch: pytest.MonkeyPatch, processes: int) -> None:
    """The first result comes before the input is exhausted, with a bounded read-ahead
    (LARGE_RUN, lowered here, plus IN_FLIGHT chunks per worker)."""
    monkeypatch.setattr(batch, "LARGE_RUN", 8)
    ctx = _ctx()
    total, chunksize = 400, 2
    read = 0

    def source() -> Iterator[PlaintextBallot]:
        nonlocal read
        for b in _ballots(total):
            read += 1
            yield b

    results = encrypt_many(ctx, source(), processes=processes, chunksize=chunksize)
    first, _ = next(results)
    assert first.ballot_id == "b0"
    bound = 1 if processes == 1 else 8 + (batch.IN_FLIGHT * processes + 1) * chunksize
    assert read <= bound
    for i, (enc, _) in enumerate(results, start=1):
        assert enc.ballot_id == f"b{i}"
        assert read <= min(total, bound + i)
    assert i == total - 1


def test_encrypt_many_stopped_early() -> None:
    """Closing the results part-way stops the pool and forgets the context."""
    ctx = _ctx()
    results = encrypt_many(ctx, iter(_ballots(200)), processes=2)
    assert [next(results)[0].ballot_id for _ in range(5)] == [f"b{i}" for i in range(5)]
    results.close()
    assert batch._CTX is None
