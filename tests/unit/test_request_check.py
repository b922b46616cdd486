"""A guardian's check of a decryption request (specs/06-decryption.md §4): only the cast ballots'
aggregate and genuinely challenged ballots are decrypted."""

from __future__ import annotations

import dataclasses

import pytest

from e2evote.elgamal import Ciphertext
from e2evote.errors import DecryptionError
from e2evote.groups import Group
from e2evote.proofs.range import prove_range
from e2evote.protocol.ballot import (
    BallotState,
    EncryptedBallot,
    EncryptedSelection,
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
from e2evote.verifier import verify_ballots

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


def _same_nonce_ballot(ctx: ElectionContext) -> EncryptedBallot:
    """A voter's own ballot whose three selections share one nonce (hence one α), each with a valid
    proof: the board and the verifier accept it (V7.H compares ballots with each other)."""
    contest = MANIFEST.contests[0]
    key, g = ctx.key, ctx.group
    xi = g.random_scalar()
    values = [1, 0, 0]
    sels = []
    for o, v in zip(contest.options, values, strict=True):
        ct = key.encrypt(v, xi)
        sels.append(
            EncryptedSelection(o.index, ct, prove_range(key, ctx.H_E, ct, v, contest.option_limit, xi))
        )
    agg = Ciphertext.product([s.ct for s in sels], g)
    limit = prove_range(key, ctx.H_E, agg, 1, contest.contest_limit, xi + xi + xi)
    honest = encrypt_ballot(ctx, PlaintextBallot("own", "default", {"A": {"a": 1}}))[0]
    chi = contest_hash(ctx.H_E, contest.index, ctx.K, [s.ct for s in sels])
    ec = dataclasses.replace(honest.contests[0], selections=tuple(sels), proof=limit, chi=chi)
    code = confirmation_code(ctx.H_E, [chi], honest.B_aux, ctx.dialect)
    return dataclasses.replace(honest, contests=(ec,), code=code)


def test_a_voter_s_own_repeated_nonce_does_not_block_the_tally(fast_group: Group) -> None:
    """Selections of one ballot sharing a nonce pass the ballot box, the verifier and the guardians'
    request check alike; the same ballot streamed twice is still refused."""
    ctx, ballots = _election(fast_group)
    own = _same_nonce_ballot(ctx)
    assert len({s.ct.alpha for s in own.contests[0].selections}) == 1
    check_ballot_proofs(ctx, own)
    assert verify_ballots(ctx, lambda: iter([*ballots, own])).ok
    acc = TallyAccumulator(ctx)
    for b in [*ballots, own]:
        if b.state == BallotState.CAST:
            acc.add(b)
    assert check_request(ctx, acc.result(), [ballots[1]], iter([*ballots, own])) == 3
    acc.add(own)
    with pytest.raises(DecryptionError, match="cast ballot own repeats a selection"):
        check_request(ctx, acc.result(), [ballots[1]], iter([*ballots, own, own]))


def test_copied_contest_data_blocks_only_the_eg_route(fast_group: Group) -> None:
    """A challenged ballot carrying a copy of a cast ballot's contest data (nothing binds contest data
    to a ballot): the guardians' route never opens it, so the request passes; on the EG route, which
    would decrypt that C0, it is refused."""
    ctx, ballots = _election(fast_group)
    cast, spoiled = ballots[0], ballots[1]
    copied = dataclasses.replace(
        spoiled, contests=(dataclasses.replace(spoiled.contests[0], data=cast.contests[0].data),)
    )
    stream = [cast, copied, ballots[2]]
    assert verify_ballots(ctx, lambda: iter(stream)).ok
    acc = TallyAccumulator(ctx)
    acc.add(cast)
    acc.add(ballots[2])
    assert check_request(ctx, acc.result(), [copied], iter(stream)) == 2
    with pytest.raises(DecryptionError, match="v1 to open shares a ciphertext with cast ballot v0"):
        check_request(ctx, acc.result(), [copied], iter(stream), contest_data=True)
