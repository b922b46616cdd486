"""The ballot box (``check_ballot_proofs``: what a ballot box and the board run before accepting a
ballot) and the record verifier check a ballot alike: a ballot the board accepts is one the
verifier passes, and both name the same first failure (specs/10-verification.md §3, V5-V7)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from e2evote.elgamal import Ciphertext
from e2evote.errors import VerificationError
from e2evote.groups import Group
from e2evote.protocol.ballot import (
    EncryptedBallot,
    PlaintextBallot,
    check_ballot_proofs,
    encrypt_ballot,
)
from e2evote.protocol.ceremony import GuardianSetup
from e2evote.protocol.election import ElectionContext, ElectionParameters
from e2evote.protocol.manifest import simple_manifest
from e2evote.verifier import verify_ballots

MANIFEST = simple_manifest("t", [("A", ["a", "b", "c"], 1), ("B", ["x", "y"], 2)])


@pytest.fixture
def election(fast_group: Group) -> tuple[ElectionContext, EncryptedBallot]:
    setup = GuardianSetup.start(ElectionParameters(fast_group, MANIFEST, 1, 1), 1)
    ctx = setup.receive_public_keys([setup.public]).receive_shares([]).finalize().context
    ballot, _ = encrypt_ballot(ctx, PlaintextBallot("v1", "default", {"A": {"b": 1}, "B": {"x": 1}}))
    return ctx, ballot


def _contest(b: EncryptedBallot, n: int, **changes: object) -> EncryptedBallot:
    contests = list(b.contests)
    contests[n] = dataclasses.replace(contests[n], **changes)  # type: ignore[arg-type]
    return dataclasses.replace(b, contests=tuple(contests))


def _data(b: EncryptedBallot, n: int, blocks: int) -> EncryptedBallot:
    """Contest n's data with ``blocks`` more (or fewer) 32-byte blocks."""
    data = b.contests[n].data
    assert data is not None
    C1 = data.C1 + bytes(32 * blocks) if blocks > 0 else data.C1[-32 * blocks :]
    return _contest(b, n, data=dataclasses.replace(data, C1=C1))


def _swap_ct(b: EncryptedBallot) -> EncryptedBallot:
    s0, s1, *rest = b.contests[0].selections
    swapped = (dataclasses.replace(s0, ct=s1.ct), dataclasses.replace(s1, ct=s0.ct), *rest)
    return _contest(b, 0, selections=swapped)


def _other_ct(b: EncryptedBallot) -> EncryptedBallot:
    sel = b.contests[0].selections[0]
    g = sel.ct.alpha.group
    moved = dataclasses.replace(sel, ct=Ciphertext(sel.ct.alpha * g.generator(), sel.ct.beta))
    return _contest(b, 0, selections=(moved, *b.contests[0].selections[1:]))


def _bad_proof(b: EncryptedBallot) -> EncryptedBallot:
    ec = b.contests[1]
    g = ec.proof.c[0].group
    c = (ec.proof.c[0] + g.scalar(1), *ec.proof.c[1:])
    return _contest(b, 1, proof=dataclasses.replace(ec.proof, c=c))


MUTATIONS: dict[str, tuple[Callable[[EncryptedBallot], EncryptedBallot], str]] = {
    "unknown style": (lambda b: dataclasses.replace(b, style="nope"), "V5.E"),
    "missing contest": (lambda b: dataclasses.replace(b, contests=b.contests[:1]), "V5.E"),
    "contests reordered": (lambda b: dataclasses.replace(b, contests=b.contests[::-1]), "V5.E"),
    "selection missing": (lambda b: _contest(b, 0, selections=b.contests[0].selections[:2]), "V5.E"),
    "contest data a block longer": (lambda b: _data(b, 0, 1), "V5.E"),
    "contest data a block shorter": (lambda b: _data(b, 1, -1), "V5.E"),
    "contest data missing": (lambda b: _contest(b, 0, data=None), "V5.E"),
    "selections swapped": (_swap_ct, "V7.A"),
    "contest hash": (lambda b: _contest(b, 1, chi=bytes(32)), "V7.A"),
    "confirmation code": (lambda b: dataclasses.replace(b, code=bytes(32)), "V7.B"),
    "auxiliary data": (lambda b: dataclasses.replace(b, B_aux=b"other"), "V7.B"),
    "ciphertext": (_other_ct, "V7.A"),
    "contest proof": (_bad_proof, "V6"),
}


def test_an_honest_ballot_passes_both(election: tuple[ElectionContext, EncryptedBallot]) -> None:
    ctx, ballot = election
    check_ballot_proofs(ctx, ballot)
    report = verify_ballots(ctx, lambda: iter([ballot]))
    assert report.ok, report.failures


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_ballot_box_and_verifier_agree(election: tuple[ElectionContext, EncryptedBallot], name: str) -> None:
    ctx, ballot = election
    mutate, step = MUTATIONS[name]
    bad = mutate(ballot)
    with pytest.raises(VerificationError) as raised:
        check_ballot_proofs(ctx, bad)
    report = verify_ballots(ctx, lambda: iter([bad]))
    assert not report.ok
    first = report.failures[0]
    assert (raised.value.step, raised.value.obj) == (first.step, first.obj)
    assert first.step.split(".")[0] == step.split(".")[0] and first.step.startswith(step)
