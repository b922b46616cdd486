"""A guardian's check of a decryption request (specs/06-decryption.md §4): only the cast ballots'
aggregate and genuinely challenged ballots are decrypted."""

from __future__ import annotations

import dataclasses

import pytest

from e2evote.elgamal import Ciphertext
from e2evote.errors import DecryptionError
from e2evote.groups import Group
from e2evote.protocol.ballot import (
    BallotState,
    EncryptedBallot,
    PlaintextBallot,
    check_ballot_proofs,
    confirmation_code,
    contest_hash,
    encrypt_ballot,
)
from e2evote.protocol.ceremony import GuardianSetup
from e2evote.protocol.election import ElectionContext, ElectionParameters
from e2evote.protocol.manifest import simple_manifest
from e2evote.protocol.tally import TallyAccumulator, check_request

MANIFEST = simple_manifest("t", [("A", ["a", "b", "c"], 1)])


def _election(group: Group) -> tuple[ElectionContext, list[EncryptedBallot]]:
    setup = GuardianSetup.start(ElectionParameters(group, MANIFEST, 1, 1), 1)
    awaiting = setup.receive_public_keys([setup.public])
    ctx = awaiting.receive_shares([]).finalize().context
    ballots = []
    for n, (opt, state) in enumerate(
        [("a", BallotState.CAST), ("b", BallotState.CHALLENGED), ("c", BallotState.CAST)]
    ):
        ballots.append(
            encrypt_ballot(ctx, PlaintextBallot(f"v{n}", "default", {"A": {opt: 1}}), state=state)[0]
        )
    return ctx, ballots


def test_honest_and_forged_requests(fast_group: Group) -> None:
    ctx, ballots = _election(fast_group)
    acc = TallyAccumulator(ctx)
    for b in ballots:
        if b.state == BallotState.CAST:
            acc.add(b)
    tally = acc.result()
    spoiled = ballots[1]
    assert check_request(ctx, tally, [spoiled], iter(ballots)) == 2
    assert check_request(ctx, tally, [], iter(ballots)) == 2

    def refused(to_open: list[EncryptedBallot], why: str, stream: list[EncryptedBallot] = ballots) -> None:
        with pytest.raises(DecryptionError, match=why):
            check_request(ctx, tally, to_open, iter(stream))

    # a cast ballot to open (as is, or relabelled challenged): its ciphertexts are a cast ballot's
    refused([ballots[0]], "shares a ciphertext with cast ballot v0")
    relabelled = dataclasses.replace(ballots[0], ballot_id="fake", state=BallotState.CHALLENGED)
    refused([relabelled], "shares a ciphertext with cast ballot v0", [*ballots, relabelled])
    # not on the record at all; listed twice; the challenged ballot's contests swapped for another's
    refused([relabelled], "fake to open is not a challenged ballot", ballots[1:2])
    refused([spoiled, spoiled], "twice")
    other = dataclasses.replace(spoiled, contests=ballots[2].contests, code=ballots[2].code)
    refused([other], "v1 to open differs from the challenged ballot", [ballots[1]])
    # a re-randomised copy of a cast ballot's selections (α·g^r, β·K^r), its hashes recomputed,
    # published as challenged: decrypting it would reveal v0's vote; its proofs do not verify
    g, r = ctx.group, fast_group.random_scalar()
    contests = []
    for ec in ballots[0].contests:
        sels = tuple(
            dataclasses.replace(s, ct=Ciphertext(s.ct.alpha * g.g_pow(r), s.ct.beta * ctx.key.K_pow(r)))
            for s in ec.selections
        )
        chi = contest_hash(ctx.H_E, ec.index, ctx.K, [s.ct for s in sels])
        contests.append(dataclasses.replace(ec, selections=sels, chi=chi))
    code = confirmation_code(ctx.H_E, [c.chi for c in contests], ballots[0].B_aux, ctx.dialect)
    rerandomised = dataclasses.replace(
        ballots[0], ballot_id="rr", state=BallotState.CHALLENGED, contests=tuple(contests), code=code
    )
    refused([rerandomised], "rr to open does not verify: \\[V5.D\\]", [*ballots, rerandomised])
    # tally cells that are not the cast ballots' aggregate (here: a cast ballot left out)
    with pytest.raises(DecryptionError, match="not the aggregate of the 1 cast ballots"):
        check_request(ctx, tally, [spoiled], iter(ballots[1:]))
    # a cast ballot streamed twice, or copied under a new id and B_aux (so a new, valid confirmation
    # code): it would weigh twice; refused even with the tally made to match
    acc.add(ballots[0])
    aux = b"another device"
    copy = dataclasses.replace(
        ballots[0],
        ballot_id="copy",
        B_aux=aux,
        code=confirmation_code(ctx.H_E, [c.chi for c in ballots[0].contests], aux, ctx.dialect),
    )
    check_ballot_proofs(ctx, copy)  # the copy passes its own checks
    for extra in (ballots[0], copy):
        with pytest.raises(DecryptionError, match=f"cast ballot {extra.ballot_id} repeats a selection"):
            check_request(ctx, acc.result(), [spoiled], iter([*ballots, extra]))


def test_guardians_never_decrypt_contest_data(fast_group: Group) -> None:
    """A challenged ballot whose contest data C0 is a re-randomised selection pad of a cast ballot
    passes every check (C0 has no proof of knowledge, and the hashes do not cover it); the guardians'
    targets for it are its selections only, so no share of that pad is ever published."""
    from e2evote.record.files import DecryptionRequest

    ctx, ballots = _election(fast_group)
    cast, spoiled = ballots[0], ballots[1]
    pad = cast.contests[0].selections[0].ct.alpha * ctx.group.g_pow(fast_group.random_scalar())
    ec = spoiled.contests[0]
    assert ec.data is not None
    forged = dataclasses.replace(
        spoiled, contests=(dataclasses.replace(ec, data=dataclasses.replace(ec.data, C0=pad)),)
    )
    check_ballot_proofs(ctx, forged)  # the forgery is not caught by the ballot's own checks
    acc = TallyAccumulator(ctx)
    acc.add(cast)
    acc.add(ballots[2])
    stream = [cast, forged, ballots[2]]
    assert check_request(ctx, acc.result(), [forged], iter(stream)) == 2
    targets = DecryptionRequest(acc.result(), (forged,)).sections(ctx)["ballot:v1"]
    assert [t.A for t in targets] == [s.ct.alpha for s in ec.selections] and pad not in [t.A for t in targets]


def test_cast_ballots_in_the_stream_must_verify(fast_group: Group) -> None:
    """A forged 'cast' ballot carrying another cast ballot's selections re-randomised (no valid
    proofs) would put that ballot's vote into a tally cell a request then decrypts: refused."""
    ctx, ballots = _election(fast_group)
    g, r = ctx.group, fast_group.random_scalar()
    ec = ballots[0].contests[0]
    sels = tuple(
        dataclasses.replace(s, ct=Ciphertext(s.ct.alpha * g.g_pow(r), s.ct.beta * ctx.key.K_pow(r)))
        for s in ec.selections
    )
    forged = dataclasses.replace(
        ballots[0], ballot_id="f", contests=(dataclasses.replace(ec, selections=sels),)
    )
    acc = TallyAccumulator(ctx)
    acc.add(forged)
    with pytest.raises(DecryptionError, match="cast ballot f does not verify"):
        check_request(ctx, acc.result(), [], iter([forged]))
