"""A whole election through the protocol layer, over every group (specs/06-*.md)."""

from __future__ import annotations

import dataclasses
import random

import pytest

from e2evote.elgamal import Ciphertext
from e2evote.errors import BallotError, CeremonyError, DecryptionError, VerificationError
from e2evote.groups import Group
from e2evote.protocol.ballot import (
    ContestData,
    ContestStatus,
    PlaintextBallot,
    encrypt_ballot,
    verify_ballot_nonce,
)
from e2evote.protocol.ceremony import (
    Complaint,
    GuardianSetup,
    check_complaint,
    check_reveal,
    keys_fingerprint,
)
from e2evote.protocol.decryption import DecryptingGuardian
from e2evote.protocol.election import ElectionContext, ElectionParameters
from e2evote.protocol.manifest import simple_manifest
from e2evote.protocol.tally import TallyAccumulator, decrypt_ballot, decrypt_tally


def _ceremony(params: ElectionParameters):  # type: ignore[no-untyped-def]
    setups = [GuardianSetup.start(params, i) for i in range(1, params.n + 1)]
    pubs = [s.public for s in setups]
    aw = [s.receive_public_keys(pubs) for s in setups]
    shares = [sh for a in aw for sh in a.outgoing]
    checked = [a.receive_shares([sh for sh in shares if sh.ell == a.setup.i]) for a in aw]
    return setups, pubs, aw, checked


def test_election_end_to_end(group: Group) -> None:
    m = simple_manifest("t", [("A", ["a", "b", "c", "d"], 1), ("B", ["v", "w", "x", "y", "z"], 2)])
    params = ElectionParameters(group, m, 3, 2)
    _, pubs, _, checked = _ceremony(params)
    keys = [c.finalize() for c in checked]
    ctx = keys[0].context
    assert all(k.context == ctx for k in keys)
    rng = random.Random(7)
    acc = TallyAccumulator(ctx)
    expect = {"A": dict.fromkeys("abcd", 0), "B": dict.fromkeys("vwxyz", 0)}
    for n in range(4):
        a = rng.choice("abcd")
        bs = rng.sample("vwxyz", 2)
        ballot = PlaintextBallot(f"b{n}", "default", {"A": {a: 1}, "B": {x: 1 for x in bs}})
        enc, xi_B = encrypt_ballot(ctx, ballot)
        verify_ballot_nonce(ctx, enc, xi_B, ballot)
        acc.add(enc)
        expect["A"][a] += 1
        for x in bs:
            expect["B"][x] += 1
    # any quorum decrypts: guardians 1,3 (2 missing)
    guardians = [DecryptingGuardian.from_key(keys[0]), DecryptingGuardian.from_key(keys[2])]
    tally = decrypt_tally(ctx, pubs, guardians, acc.result())
    assert tally.counts(ctx) == expect
    with pytest.raises(DecryptionError):
        decrypt_tally(ctx, pubs, guardians[:1], acc.result())


def test_overvote_and_write_in_go_to_contest_data(fast_group: Group) -> None:
    m = simple_manifest("t", [("A", ["a", "b"], 1)])
    params = ElectionParameters(fast_group, m, 1, 1)
    _, pubs, _, checked = _ceremony(params)
    key = checked[0].finalize()
    ctx = key.context
    ballot = PlaintextBallot("x", "default", {"A": {"a": 1, "b": 1}}, {"A": ["Z"]})
    enc, xi_B = encrypt_ballot(ctx, ballot)
    # contest data through the guardians: opt-in (egk's route; e2evote's guardians never decrypt it)
    dec = decrypt_ballot(ctx, pubs, [DecryptingGuardian.from_key(key)], enc, contest_data=True)
    assert dec.votes(ctx) == {"A": {"a": 0, "b": 0}}
    assert decrypt_ballot(ctx, pubs, [DecryptingGuardian.from_key(key)], enc).contests[0].data is None
    data = ContestData.decode(dec.contests[0].data.data)  # type: ignore[union-attr]
    assert data.status == ContestStatus.OVERVOTE and data.overvotes == (1, 2) and data.write_ins == ("Z",)
    # the released nonce opens the ballot, but only to what was really encrypted
    with pytest.raises(VerificationError):
        verify_ballot_nonce(ctx, enc, xi_B, PlaintextBallot("x", "default", {"A": {"a": 1}}))


def test_bad_ballots_rejected(fast_group: Group) -> None:
    m = simple_manifest("t", [("A", ["a", "b"], 1)])
    params = ElectionParameters(fast_group, m, 1, 1)
    ctx = _ceremony(params)[3][0].finalize().context
    for votes in ({"A": {"q": 1}}, {"A": {"a": 2}}, {"Z": {"a": 1}}, {"A": {"a": -1}}):
        with pytest.raises(BallotError):
            encrypt_ballot(ctx, PlaintextBallot("x", "default", votes))
    with pytest.raises(BallotError):
        encrypt_ballot(ctx, PlaintextBallot("x", "nostyle", {}))


def _three_guardians(group: Group):  # type: ignore[no-untyped-def]
    m = simple_manifest("t", [("A", ["a", "b"], 1)])
    params = ElectionParameters(group, m, 3, 2)
    setups = [GuardianSetup.start(params, i) for i in range(1, 4)]
    pubs = [s.public for s in setups]
    aw = [s.receive_public_keys(pubs) for s in setups]
    shares = [sh for a in aw for sh in a.outgoing]
    return params, setups, pubs, aw, shares


def test_keys_fingerprint_covers_every_commitment(fast_group: Group) -> None:
    params, setups, pubs, _, _ = _three_guardians(fast_group)
    fp = keys_fingerprint(params, pubs)
    assert keys_fingerprint(params, list(reversed(pubs))) == fp
    other = GuardianSetup.start(params, 3).public
    assert keys_fingerprint(params, [*pubs[:2], other]) != fp
    swapped = dataclasses.replace(pubs[1], K=(pubs[1].K[0], pubs[1].K[0]))
    assert keys_fingerprint(params, [pubs[0], swapped, pubs[2]]) != fp
    alien = ElectionParameters(fast_group, simple_manifest("u", [("A", ["a", "b"], 1)]), 3, 2)
    assert keys_fingerprint(alien, pubs) != fp


def test_share_damaged_in_transit_is_resent_not_complained_about(fast_group: Group) -> None:
    params, setups, pubs, aw, shares = _three_guardians(fast_group)
    good = next(sh for sh in shares if sh.i == 1 and sh.ell == 2)
    damaged = dataclasses.replace(good, ct=dataclasses.replace(good.ct, C1=bytes(len(good.ct.C1))))
    inbox = [sh for sh in shares if sh.ell == 2 and sh is not good]
    # damaged (its signature fails), or missing: nobody is blamed and the state is not used up
    with pytest.raises(CeremonyError, match="not signed by it: damaged or forged") as exc:
        aw[1].receive_shares([damaged, *inbox])
    assert exc.value.culprits == ()
    with pytest.raises(CeremonyError, match=r"no share yet from guardian\(s\) 1") as exc:
        aw[1].receive_shares(inbox)
    assert exc.value.culprits == ()
    # a share signed by another guardian is not guardian 1's either
    as_3 = setups[2].sign_share(2, good.ct)
    with pytest.raises(CeremonyError, match="not signed by it"):
        aw[1].receive_shares([dataclasses.replace(as_3, i=1), *inbox])
    # the share resent (signed afresh, so twice here): it checks, and no complaint is made
    checked = aw[1].receive_shares([good, setups[0].sign_share(2, good.ct), *inbox])
    assert checked.complaints == ()
    # two different shares, both signed by guardian 1: guardian 1 equivocated
    _, setups2, _, aw2, shares2 = _three_guardians(fast_group)
    good2 = next(sh for sh in shares2 if sh.i == 1 and sh.ell == 2)
    other = setups2[0].sign_share(2, dataclasses.replace(good2.ct, C1=bytes(len(good2.ct.C1))))
    with pytest.raises(CeremonyError, match="signed two different shares") as exc:
        aw2[1].receive_shares([*(sh for sh in shares2 if sh.ell == 2), other])
    assert exc.value.culprits == (1,)
    # signed by its sender, but addressed to another guardian
    with pytest.raises(CeremonyError, match="addressed to guardian 2, not 3") as exc:
        aw2[2].receive_shares([good2, *(sh for sh in shares2 if sh.ell == 3)])
    assert exc.value.culprits == ()


def test_complaint_reveal_and_their_signatures(fast_group: Group) -> None:
    params, setups, pubs, aw, shares = _three_guardians(fast_group)
    good = next(sh for sh in shares if sh.i == 1 and sh.ell == 2)
    # a dishonest guardian 1 signs a share for guardian 2 that does not decrypt: 2 complains, signed
    bad = setups[0].sign_share(2, dataclasses.replace(good.ct, C1=bytes(len(good.ct.C1))))
    inbox = [bad if sh is good else sh for sh in shares if sh.ell == 2]
    checked = aw[1].receive_shares(inbox)
    (complaint,) = checked.complaints
    assert (complaint.ell, complaint.i) == (2, 1)
    check_complaint(params, complaint, pubs[1])
    # a complaint altered or forged on its way (here: "guardian 3's" complaint signed by guardian 2,
    # then guardian 2's complaint with another reason) is refused and nothing is revealed
    forged = [
        Complaint(3, 1, complaint.reason, complaint.sigma),
        dataclasses.replace(complaint, reason="something else"),
    ]
    for c in forged:
        with pytest.raises(CeremonyError, match="complaint claimed from guardian . is not signed") as exc:
            aw[0].reveal_all([c])
        assert exc.value.culprits == ()
        with pytest.raises(CeremonyError, match="not signed"):
            check_complaint(params, c, pubs[c.ell - 1])
    # the genuine complaint is answered; the reveal (the honest share, which does not re-encrypt to
    # the signed bad one) convicts guardian 1
    reveal = aw[0].reveal(complaint)
    assert (reveal.i, reveal.ell) == (1, 2)
    # a reveal altered on its way is refused before the state is used, blaming nobody
    altered = dataclasses.replace(reveal, share=reveal.share + fast_group.scalar(1))
    with pytest.raises(CeremonyError, match="reveal claimed from guardian 1 is not signed") as exc:
        checked.finalize([altered])
    assert exc.value.culprits == ()
    with pytest.raises(CeremonyError, match="does not match its encryption") as exc:
        checked.finalize([altered, reveal])  # a forged reveal listed first does not hide the genuine one
    assert exc.value.culprits == (1,)
    # a state cannot be used twice
    with pytest.raises(CeremonyError, match="already used"):
        checked.finalize([reveal])
    # anybody checks a reveal: against the share guardian 1 published (and signed), it holds
    check_reveal(params, reveal, good, pubs[0], pubs[1])
    with pytest.raises(CeremonyError, match="not signed") as exc:
        check_reveal(params, altered, good, pubs[0], pubs[1])
    assert exc.value.culprits == ()
    # k = 2 signed complaints against guardian 1 would make P_1 public: refused, nothing revealed
    c3 = setups[2].sign_complaint(1, "share contradicts the sender's commitments (eq. 21)")
    with pytest.raises(CeremonyError, match="would reveal its secret key") as exc:
        aw[0].reveal(c3)
    assert exc.value.culprits == (1,)
    fresh = GuardianSetup.start(params, 1)
    again = fresh.receive_public_keys([fresh.public, *pubs[1:]])
    with pytest.raises(CeremonyError, match="2 complaints against guardian 1 with quorum 2"):
        again.reveal_all([complaint, c3, complaint])
    assert [r.ell for r in again.reveal_all([c3, c3])] == [3]


def test_bad_commitment_proof_names_the_guardian(fast_group: Group) -> None:
    import dataclasses

    m = simple_manifest("t", [("A", ["a", "b"], 1)])
    params = ElectionParameters(fast_group, m, 3, 2)
    setups = [GuardianSetup.start(params, i) for i in range(1, 4)]
    pubs = [s.public for s in setups]
    forged = dataclasses.replace(pubs[2], K=(pubs[2].K[0] * fast_group.generator(), pubs[2].K[1]))
    with pytest.raises(CeremonyError) as exc:
        setups[0].receive_public_keys([pubs[0], pubs[1], forged])
    assert exc.value.culprits == (3,)


def test_accumulator_equals_the_plain_products_across_flushes(fast_group: Group) -> None:
    m = simple_manifest("t", [("A", ["a", "b"], 1), ("B", ["x", "y", "z"], 2)])
    ctx = ElectionContext(
        ElectionParameters(fast_group, m, 1, 1), fast_group.g_pow(fast_group.random_scalar())
    )
    ballots = [
        encrypt_ballot(ctx, PlaintextBallot(f"b{i}", "default", {"A": {"ab"[i % 2]: 1}, "B": {"z": 1}}))[0]
        for i in range(7)
    ]
    acc = TallyAccumulator(ctx, flush_every=3)  # flushes in the middle and at the end
    for b in ballots:
        acc.add(b)
    got = dict(acc.result().contests)
    for ec in ballots[0].contests:
        for sel in ec.selections:
            cts = [
                s.ct
                for b in ballots
                for c in b.contests
                if c.index == ec.index
                for s in c.selections
                if s.index == sel.index
            ]
            alpha, beta = fast_group.identity(), fast_group.identity()
            for ct in cts:
                alpha, beta = alpha * ct.alpha, beta * ct.beta
            assert dict(got[ec.index])[sel.index] == Ciphertext(alpha, beta)
    assert acc.result().contests == tuple(got.items())  # result() twice: nothing added twice


def test_accumulators_add_nothing_from_a_ballot_that_does_not_fit(fast_group: Group) -> None:
    import dataclasses

    from e2evote.protocol.subtally import Aggregate, SubtallyError

    m = simple_manifest("t", [("A", ["a", "b"], 1), ("B", ["x", "y"], 1)])
    ctx = ElectionContext(
        ElectionParameters(fast_group, m, 1, 1), fast_group.g_pow(fast_group.random_scalar())
    )
    good, _ = encrypt_ballot(ctx, PlaintextBallot("g", "default", {"A": {"a": 1}, "B": {"x": 1}}))
    c1 = good.contests[1]
    bad = dataclasses.replace(
        good,
        contests=(
            good.contests[0],
            dataclasses.replace(c1, selections=(dataclasses.replace(c1.selections[0], index=9),)),
        ),
    )
    for acc, err in ((TallyAccumulator(ctx), BallotError), (Aggregate(ctx), SubtallyError)):
        acc.add(good)
        before = acc.result()
        with pytest.raises(err):
            acc.add(bad)
        assert acc.result() == before
    sparse = Aggregate(ctx, contests=[2])
    sparse.add(good)
    assert [ci for ci, _ in sparse.result().contests] == [2]
    assert [ci for ci, _ in TallyAccumulator(ctx).result().contests] == [1, 2]
