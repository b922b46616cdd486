"""egk's ``allAvailable`` election record (EG 2.0 + the EGK record dialect; specs/egk-compat.md §2, §6).

Everything goes through library functions on a real ElectionContext built from the record:
H_P / H_M / H_B / H_E (ElectionParameters, ElectionContext), the guardians' Schnorr proofs
(build_context → verify_schnorr), trustee key shares (public_share_key), every ballot's contest
hashes and confirmation code (contest_hash, confirmation_code with Dialect EGK), range and
contest-limit proofs (verify_range; 3 ballots by default, the other 8 marked slow), selection and
contest-data decryption with the trustees' secrets (decrypt_contest_data, EGK), aggregation
(TallyAccumulator), and the tally: egk's proofs (verify_decryption) and the library's own k-of-n
decryption of the encrypted tally (decrypt_tally).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import egkrecord as R
import pytest
from egkdata import (
    GROUP,
    EgkContestData,
    bump,
    decryption_proof,
    elem,
    expected_status,
    flip,
    h32,
    hb,
    load_record,
    require_reference,
)

from e2evote.elgamal import HashedCiphertext, decrypt_contest_data
from e2evote.errors import BallotError, CeremonyError, DecryptionError, VerificationError
from e2evote.hashing import EG20, EGK, base_hash, extended_base_hash, manifest_hash, parameter_base_hash
from e2evote.proofs import DecryptionProof, SchnorrProof, verify_decryption, verify_range, verify_schnorr
from e2evote.protocol.ballot import BallotState, confirmation_code, contest_hash
from e2evote.protocol.ceremony import GuardianPublicKeys, build_context, public_share_key
from e2evote.protocol.tally import EncryptedTally, TallyAccumulator, decrypt_tally

require_reference()

#: ballots whose 1100 selection proofs are fully verified in the default run (first, middle, last)
SAMPLED = {R.BALLOT_FILES[0], R.BALLOT_FILES[len(R.BALLOT_FILES) // 2], R.BALLOT_FILES[-1]}


# ---------------------------------------------------------------------------------------------------
# election hashes and keys
# ---------------------------------------------------------------------------------------------------


def test_constants_are_the_standard_group() -> None:
    c = load_record("constants.json")
    got = b"".join(
        hb(c[k]).rjust(w, b"\0") for k, w in (("large_prime", 512), ("small_prime", 32), ("generator", 512))
    )
    assert got == GROUP.parameter_bytes()
    assert int(c["cofactor"], 16) == GROUP.r  # type: ignore[attr-defined]


def test_election_hashes() -> None:
    cfg = load_record("election_config.json")
    init = load_record("election_initialized.json")
    params = R.parameters()
    assert params.H_P == h32(cfg["parameter_base_hash"]) == parameter_base_hash(GROUP)  # "v2.0.0", spec eq. 4
    assert params.H_M == h32(cfg["manifest_hash"])  # eq. 6 over manifest.json as stored
    assert params.H_B == h32(cfg["election_base_hash"])  # eq. 7
    ctx = R.context()
    assert ctx.H_E == h32(init["extended_base_hash"])  # eq. 23


def test_election_hashes_negative() -> None:
    cfg = load_record("election_config.json")
    H_P, H_M, H_B = (h32(cfg[k]) for k in ("parameter_base_hash", "manifest_hash", "election_base_hash"))
    raw = R.manifest().raw
    assert manifest_hash(H_P, flip(raw, 100)) != H_M
    assert manifest_hash(H_P, raw + b"\n") != H_M
    assert parameter_base_hash(GROUP, "v2.0") != H_P
    n, k = cfg["number_of_guardians"], cfg["quorum"]
    assert base_hash(H_P, H_M, n + 1, k) != H_B
    K = elem(load_record("election_initialized.json")["joint_public_key"])
    assert extended_base_hash(flip(H_B), K.to_bytes()) != h32(
        load_record("election_initialized.json")["extended_base_hash"]
    )


def test_guardian_proofs_and_joint_key() -> None:
    params = R.parameters()
    pubs = R.guardian_public_keys()
    n = 0
    for pk in pubs:
        for j, (K_ij, proof) in enumerate(zip(pk.K, pk.proofs, strict=True)):
            verify_schnorr(GROUP, params.H_P, pk.i, j, K_ij, proof)  # eq. 12, Verification 2
            n += 1
    assert n == params.n * params.k
    ctx = build_context(params, pubs)  # Verifications 2-4: proofs, K = Π K_i0, H_E
    assert ctx.K == R.context().K
    assert ctx.H_E == h32(load_record("election_initialized.json")["extended_base_hash"])


def test_guardian_proofs_negative() -> None:
    params = R.parameters()
    pubs = list(R.guardian_public_keys())
    pk = pubs[0]
    bad = GuardianPublicKeys(pk.i, pk.K, (SchnorrProof(pk.proofs[0].c, bump(pk.proofs[0].v)), *pk.proofs[1:]))
    with pytest.raises(VerificationError):
        verify_schnorr(GROUP, params.H_P, bad.i, 0, bad.K[0], bad.proofs[0])
    with pytest.raises(CeremonyError):
        build_context(params, [bad, *pubs[1:]])
    with pytest.raises(VerificationError):  # proofs are bound to the guardian index
        verify_schnorr(GROUP, params.H_P, pubs[1].i, 0, pk.K[0], pk.proofs[0])


def test_trustee_secrets() -> None:
    pubs = R.guardian_public_keys()
    trustees = R.trustees()
    assert [t.x for t in trustees] == [pk.i for pk in pubs]
    for t, pk in zip(trustees, pubs, strict=True):
        assert tuple(GROUP.g_pow(a) for a in t.coefficients) == pk.K
        assert GROUP.g_pow(t.key_share) == public_share_key(GROUP, pubs, t.x)  # eq. 21
    assert GROUP.g_pow(R.joint_secret()) == R.context().K


def test_trustee_secrets_negative() -> None:
    pubs = R.guardian_public_keys()
    t = R.trustees()[0]
    assert GROUP.g_pow(bump(t.key_share)) != public_share_key(GROUP, pubs, t.x)
    assert GROUP.g_pow(t.key_share) != public_share_key(GROUP, pubs, t.x + 1)


# ---------------------------------------------------------------------------------------------------
# ballots
# ---------------------------------------------------------------------------------------------------


def test_all_contest_hashes_and_confirmation_codes() -> None:
    ctx = R.context()
    n = 0
    for f in R.BALLOT_FILES:
        eb, js = R.ballot(f), R.ballot_json(f)
        assert h32(js["election_id"]) == ctx.H_E
        assert eb.B_aux == ctx.manifest.device_info  # no chaining in this record
        chis = []
        for ec in eb.contests:
            chi = contest_hash(ctx.H_E, ec.index, ctx.K, [s.ct for s in ec.selections])  # eq. 57
            assert chi == ec.chi
            chis.append(chi)
            n += 1
        assert confirmation_code(ctx.H_E, chis, eb.B_aux, EGK) == eb.code  # eq. 58, egk: no len(B_aux)
    assert n == 220


def test_contest_hashes_and_confirmation_codes_negative() -> None:
    ctx = R.context()
    for f in R.BALLOT_FILES:
        eb = R.ballot(f)
        chis = [ec.chi for ec in eb.contests]
        # the spec's eq. 58 (length-prefixed B_aux) matches none of egk's codes
        assert confirmation_code(ctx.H_E, chis, eb.B_aux, EG20) != eb.code
    eb = R.ballot(R.BALLOT_FILES[0])
    ec = eb.contests[0]
    cts = [s.ct for s in ec.selections]
    assert contest_hash(ctx.H_E, ec.index + 1, ctx.K, cts) != ec.chi
    assert contest_hash(ctx.H_E, ec.index, ctx.K, cts[::-1]) != ec.chi
    assert confirmation_code(ctx.H_E, [ec.chi for ec in eb.contests][::-1], eb.B_aux, EGK) != eb.code


@pytest.mark.parametrize(
    "f",
    [f if f in SAMPLED else pytest.param(f, marks=pytest.mark.slow) for f in R.BALLOT_FILES],
    ids=lambda f: f.rsplit("/", 1)[1],
)
def test_ballot_range_proofs(f: str) -> None:
    ctx = R.context()
    eb = R.ballot(f)
    for ec in eb.contests:
        contest = ctx.manifest.contest_by_index(ec.index)
        assert len(ec.proof.c) == contest.contest_limit + 1
        for s in ec.selections:
            verify_range(ctx.key, ctx.H_E, s.ct, s.proof, contest.option_limit, step="V5", obj=f)  # eq. 46
        verify_range(
            ctx.key,
            ctx.H_E,
            ec.aggregate(GROUP.identity()),
            ec.proof,
            contest.contest_limit,
            step="V6",
            obj=f,
        )


def test_ballot_range_proofs_negative() -> None:
    ctx = R.context()
    eb = R.ballot(R.BALLOT_FILES[0])
    ec = eb.contests[0]
    s = ec.selections[0]
    with pytest.raises(VerificationError):
        verify_range(
            ctx.key,
            ctx.H_E,
            s.ct,
            dataclasses.replace(s.proof, v=(bump(s.proof.v[0]), *s.proof.v[1:])),
            1,
            step="V5",
            obj="",
        )
    with pytest.raises(VerificationError):  # another selection's ciphertext
        verify_range(ctx.key, ctx.H_E, ec.selections[1].ct, s.proof, 1, step="V5", obj="")
    with pytest.raises(VerificationError):  # the contest-limit proof over a partial product
        verify_range(ctx.key, ctx.H_E, ec.selections[0].ct, ec.proof, 1, step="V6", obj="")


def test_votes_contest_data_and_serial_numbers() -> None:
    """Decrypt with the trustees' joint secret s = Σ a_i0 (private_data): every selection equals the
    plaintext ballot, every contest data opens (EGK dialect) to egk's ContestData with the status the
    plaintext implies, and encrypted_sn decrypts to K^sn."""
    ctx = R.context()
    s = R.joint_secret()
    counts = {"selections": 0, "contest_data": 0}
    for f in R.BALLOT_FILES:
        eb = R.ballot(f)
        votes = R.plaintext_votes(f)
        for ec, cj in zip(eb.contests, R.ballot_json(f)["contests"], strict=True):
            contest = ctx.manifest.contest_by_index(ec.index)
            assert cj["contest_id"] == contest.label
            got = []
            for sel, sj in zip(ec.selections, cj["selections"], strict=True):
                sigma = GROUP.dlog(sel.ct.beta / sel.ct.alpha**s, ctx.K, contest.option_limit)
                assert sigma == votes.get((contest.label, sj["selection_id"]), 0)
                got.append(sigma)
                counts["selections"] += 1
            assert ec.data is not None
            D = decrypt_contest_data(
                ctx.H_E, ctx.K, ec.index, ec.data, ec.data.C0**s, contest_label=contest.label, dialect=EGK
            )
            assert len(D) == cj["encrypted_contest_data"]["numBytes"] == 32 * contest.data_blocks
            cd = EgkContestData.parse(D)
            assert cd.encode(len(D)) == D
            assert cd.status == expected_status(got, contest.contest_limit)
            assert cd.write_ins == () and cd.over_votes == ()
            counts["contest_data"] += 1
        A, B = R.encrypted_sn(f)
        assert B / A**s == ctx.K ** GROUP.scalar(R.plaintext_json(f)["sn"])
    assert counts == {"selections": 1100, "contest_data": 220}


def test_contest_data_negative() -> None:
    ctx = R.context()
    s = R.joint_secret()
    eb = R.ballot(R.BALLOT_FILES[0])
    ec = eb.contests[0]
    assert ec.data is not None
    label = ctx.manifest.contest_by_index(ec.index).label
    beta = ec.data.C0**s
    decrypt_contest_data(ctx.H_E, ctx.K, ec.index, ec.data, beta, contest_label=label, dialect=EGK)
    for kwargs in (
        {"contest_label": label, "dialect": EG20},
        {"contest_label": ctx.manifest.contest_by_index(ec.index + 1).label, "dialect": EGK},
    ):
        with pytest.raises(DecryptionError):
            decrypt_contest_data(ctx.H_E, ctx.K, ec.index, ec.data, beta, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(DecryptionError):
        decrypt_contest_data(
            ctx.H_E, ctx.K, ec.index, ec.data, beta * ctx.K, contest_label=label, dialect=EGK
        )
    with pytest.raises(DecryptionError):
        tampered = HashedCiphertext(ec.data.C0, flip(ec.data.C1, 0), ec.data.C2)
        decrypt_contest_data(ctx.H_E, ctx.K, ec.index, tampered, beta, contest_label=label, dialect=EGK)
    sel = ec.selections[0]
    with pytest.raises(ValueError):  # a wrong secret gives no small plaintext
        GROUP.dlog(sel.ct.beta / sel.ct.alpha ** bump(s), ctx.K, 10)


# ---------------------------------------------------------------------------------------------------
# aggregation and tally
# ---------------------------------------------------------------------------------------------------


def _accumulate(files: tuple[str, ...] | list[str]) -> Any:
    acc = TallyAccumulator(R.context())
    for f in files:
        eb = R.ballot(f)
        if eb.state == BallotState.CAST:
            acc.add(eb)
    return acc.result()


def _record_tally() -> dict[tuple[int, int], bytes]:
    et = load_record("encrypted_tally.json")
    return {
        (c["sequence_order"], s["sequence_order"]): elem(s["encrypted_vote"]["pad"]).to_bytes()
        + elem(s["encrypted_vote"]["data"]).to_bytes()
        for c in et["contests"]
        for s in c["selections"]
    }


def test_encrypted_tally() -> None:
    et = load_record("encrypted_tally.json")
    tally = _accumulate(R.BALLOT_FILES)  # eq. 62-63
    assert tally.ballots == len(et["cast_ballot_ids"])
    assert {R.ballot(f).ballot_id for f in R.BALLOT_FILES if R.ballot(f).state == BallotState.CAST} == set(
        et["cast_ballot_ids"]
    )
    assert {(ci, oi): ct.to_bytes() for ci, oi, ct in tally.items()} == _record_tally()
    assert h32(et["election_id"]) == R.context().H_E


def test_encrypted_tally_negative() -> None:
    expected = _record_tally()
    short = _accumulate(R.BALLOT_FILES[1:])
    assert all(ct.to_bytes() != expected[(ci, oi)] for ci, oi, ct in short.items())
    acc = TallyAccumulator(R.context())
    with pytest.raises(BallotError):
        acc.add(R.ballot(R.BALLOT_FILES[0]).with_state(BallotState.CHALLENGED))


def _tally_json() -> dict[tuple[str, str], dict]:  # type: ignore[type-arg]
    t = load_record("tally.json")
    return {(c["contest_id"], s["selection_id"]): s for c in t["contests"] for s in c["selections"]}


def _plaintext_counts() -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = {}
    for f in R.BALLOT_FILES:
        if R.ballot(f).state == BallotState.CAST:
            for k, vote in R.plaintext_votes(f).items():
                counts[k] = counts.get(k, 0) + vote
    return counts


def test_tally_proofs() -> None:
    """egk's published tally: T = K^t, t = the plaintext count, proof (eq. 71, tag 0x30) verifies."""
    ctx = R.context()
    counts = _plaintext_counts()
    items = _tally_json()
    assert len(items) == 100
    assert h32(load_record("tally.json")["election_id"]) == ctx.H_E
    for key, s in items.items():
        A, B = elem(s["encrypted_vote"]["pad"]), elem(s["encrypted_vote"]["data"])
        T = elem(s["b_over_m"])
        assert s["tally"] == counts.get(key, 0)
        assert T == ctx.K ** GROUP.scalar(s["tally"])
        verify_decryption(
            GROUP,
            ctx.H_E,
            ctx.K,
            A,
            B / T,
            decryption_proof(s["proof"]),
            (A.to_bytes(), B.to_bytes()),
            obj=str(key),
        )


def test_tally_proofs_negative() -> None:
    ctx = R.context()
    s = next(iter(_tally_json().values()))
    A, B, T = elem(s["encrypted_vote"]["pad"]), elem(s["encrypted_vote"]["data"]), elem(s["b_over_m"])
    proof = decryption_proof(s["proof"])
    st = (A.to_bytes(), B.to_bytes())
    with pytest.raises(VerificationError):  # a claimed tally one higher
        verify_decryption(GROUP, ctx.H_E, ctx.K, A, B / (T * ctx.K), proof, st)
    with pytest.raises(VerificationError):
        verify_decryption(GROUP, ctx.H_E, ctx.K, A, B / T, DecryptionProof(proof.c, bump(proof.v)), st)
    with pytest.raises(VerificationError):
        verify_decryption(GROUP, ctx.H_E, ctx.K, A, B / T, DecryptionProof(flip(proof.c), proof.v), st)


def test_tally_decryption_with_trustees() -> None:
    """The library's k-of-n decryption of the record's encrypted tally with the trustees' key shares
    reproduces egk's tally.json (t and T = K^t); its own proofs verify."""
    ctx = R.context()
    tally = _accumulate(R.BALLOT_FILES)
    guardians = [t.guardian() for t in R.trustees()]
    dec = decrypt_tally(ctx, R.guardian_public_keys(), guardians, tally)
    items = _tally_json()
    enc = {(ci, oi): ct for ci, oi, ct in tally.items()}
    n = 0
    for dc in dec.contests:
        contest = ctx.manifest.contest_by_index(dc.index)
        for ds in dc.selections:
            label = next(o.label for o in contest.options if o.index == ds.index)
            s = items[(contest.label, label)]
            assert ds.t == s["tally"]
            assert ds.T.to_bytes() == elem(s["b_over_m"]).to_bytes()
            ct = enc[(dc.index, ds.index)]
            verify_decryption(
                GROUP,
                ctx.H_E,
                ctx.K,
                ct.alpha,
                ct.beta / ds.T,
                ds.proof,
                (ct.alpha.to_bytes(), ct.beta.to_bytes()),
            )
            n += 1
    assert n == 100


def test_tally_decryption_with_trustees_negative() -> None:
    ctx = R.context()
    full = _accumulate(R.BALLOT_FILES)
    tally = EncryptedTally(full.contests[:1], full.ballots)  # one contest keeps this quick
    ts = R.trustees()
    with pytest.raises(DecryptionError):  # quorum 3 of 3
        decrypt_tally(ctx, R.guardian_public_keys(), [t.guardian() for t in ts[:-1]], tally)
    bad = [dataclasses.replace(ts[0], key_share=bump(ts[0].key_share)), *ts[1:]]
    with pytest.raises(CeremonyError):
        decrypt_tally(ctx, R.guardian_public_keys(), [t.guardian() for t in bad], tally)
