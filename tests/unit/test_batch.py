"""Parallel encryption (e2evote.batch) yields ballots that verify, in order, with working nonces."""

from __future__ import annotations

from e2evote.batch import encrypt_many
from e2evote.groups import TEST
from e2evote.protocol.ballot import BallotState, PlaintextBallot, verify_ballot_nonce
from e2evote.protocol.election import ElectionContext, ElectionParameters
from e2evote.protocol.manifest import simple_manifest
from e2evote.verifier import verify_ballots


def test_encrypt_many_on_processes() -> None:
    m = simple_manifest("b", [("A", ["a", "b"], 1)])
    ctx = ElectionContext(ElectionParameters(TEST, m, 1, 1), TEST.g_pow(TEST.random_scalar()))
    ballots = [PlaintextBallot(f"b{i}", "default", {"A": {"ab"[i % 2]: 1}}) for i in range(12)]
    states = [BallotState.CHALLENGED if i == 3 else BallotState.CAST for i in range(12)]
    out = list(encrypt_many(ctx, ballots, states=states, processes=2))
    assert [e.ballot_id for e, _ in out] == [b.ballot_id for b in ballots]
    assert [e.state for e, _ in out] == states
    for (enc, nonce), plain in zip(out, ballots, strict=True):
        verify_ballot_nonce(ctx, enc, nonce, plain)
    assert verify_ballots(ctx, lambda: iter([e for e, _ in out])).ok
