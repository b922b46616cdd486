"""protocol.ballot.chain_order: each device's ballots along its chain (V7.D-E), whatever the order they
come in; what no chain reaches is set apart. The verifier is the judge: an ordering chain_order calls
whole verifies, and the unchained ballots are exactly those the verifier reports."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e2evote.groups import TEST
from e2evote.protocol.ballot import (
    Device,
    EncryptedBallot,
    PlaintextBallot,
    chain_link,
    chain_order,
    encrypt_ballot,
)
from e2evote.protocol.ceremony import GuardianSetup
from e2evote.protocol.election import ElectionContext, ElectionParameters
from e2evote.protocol.manifest import simple_manifest
from e2evote.verifier import verify_ballots

DEVICES = {"d1": 4, "d2": 3, "d3": 1}
"""device -> ballots it encrypts"""


def _context(chaining: bool) -> ElectionContext:
    manifest = simple_manifest("t", [("A", ["a", "b"], 1)], chaining=chaining)
    setup = GuardianSetup.start(ElectionParameters(TEST, manifest, 1, 1), 1)
    return setup.receive_public_keys([setup.public]).receive_shares([]).finalize().context


@pytest.fixture(scope="module")
def chained() -> tuple[ElectionContext, list[EncryptedBallot]]:
    """Every device's ballots, in encryption order."""
    ctx = _context(True)
    out = []
    for name, n in DEVICES.items():
        device = Device(ctx, name)
        for k in range(n):
            plain = PlaintextBallot(f"{name}-{k}", "default", {"A": {"a": 1}})
            out.append(encrypt_ballot(ctx, plain, device=device)[0])
    return ctx, out


def _chain_failures(ctx: ElectionContext, ballots: list[EncryptedBallot]) -> list[tuple[str, str]]:
    report = verify_ballots(ctx, lambda: iter(ballots))
    return [(f.step, f.obj) for f in report.failures if f.step in ("V7.D", "V7.E")]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_any_arrival_order_is_put_back_along_the_chains(
    chained: tuple[ElectionContext, list[EncryptedBallot]], seed: int
) -> None:
    ctx, ballots = chained
    shuffled = ballots[:]
    random.Random(seed).shuffle(shuffled)
    ordered, unchained = chain_order(ctx, shuffled, chain_link)
    assert unchained == []
    for name in DEVICES:
        assert [b for b in ordered if b.device == name] == [b for b in ballots if b.device == name]
    assert _chain_failures(ctx, ordered) == []


@pytest.mark.parametrize("missing", ["d1-0", "d1-2", "d2-1", "d3-0"])
def test_what_follows_a_missing_ballot_is_unchained_and_fails_the_record(
    chained: tuple[ElectionContext, list[EncryptedBallot]], missing: str
) -> None:
    """The ballots after a gap come last, in the given order. The verifier then fails the first of
    them (its predecessor is not the ballot before it) and, in encryption order, none after it (each
    continues the one before); in reverse order, every one."""
    ctx, ballots = chained
    device, k = missing.split("-")
    after = [f"{device}-{j}" for j in range(int(k) + 1, DEVICES[device])]
    for arrived, failing in (
        ([b for b in ballots if b.ballot_id != missing], after[:1]),
        ([b for b in reversed(ballots) if b.ballot_id != missing], after[::-1]),
    ):
        ordered, unchained = chain_order(ctx, arrived, chain_link)
        assert [b.ballot_id for b in unchained] == [b.ballot_id for b in arrived if b.ballot_id in after]
        assert ordered[len(ordered) - len(unchained) :] == unchained
        assert [obj for _, obj in _chain_failures(ctx, ordered)] == [f"ballot {bid}" for bid in failing]


def test_a_repeated_chain_position_keeps_the_first_and_sets_the_other_apart(
    chained: tuple[ElectionContext, list[EncryptedBallot]],
) -> None:
    """A device that lost its state starts again: two ballots claim its first place."""
    ctx, ballots = chained
    again = encrypt_ballot(
        ctx, PlaintextBallot("d3-again", "default", {"A": {"b": 1}}), device=Device(ctx, "d3")
    )[0]
    ordered, unchained = chain_order(ctx, [*ballots, again], chain_link)
    assert unchained == [again]
    assert _chain_failures(ctx, ordered) == [("V7.E", "ballot d3-again")]


def test_without_chaining_the_order_is_kept() -> None:
    ctx = _context(False)
    ballots = [encrypt_ballot(ctx, PlaintextBallot(f"b{k}", "default", {"A": {"a": 1}}))[0] for k in range(3)]
    assert chain_order(ctx, ballots[::-1], chain_link) == (ballots[::-1], [])
