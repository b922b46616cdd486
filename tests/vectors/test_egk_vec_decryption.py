"""TallyDecryption, TallyPartialDecryption, DecryptWithNonce and DecryptBallot test vectors.

* Tally(Partial)Decryption (spec 2.0, specs/egk-compat.md §7): the library's k-of-n protocol
  (decrypt_with_quorum: M_i = A^{P(i)}, Lagrange weights, eq. 74-75 checks) with the vector's trustee
  key shares, over every quorum-sized subset; T = B / M = K^t with t from the vector; the combined
  proofs verify (verify_decryption); key shares checked against public commitments (public_share_key).
  egk's ``missing`` flags are not meaningful (§7) and are ignored.
* DecryptWithNonce (1.9 nonce layouts, §7): selection and contest-data nonces through the egk19
  adapter; re-encryption (PublicKey.encrypt), decryption with the nonce, range proofs (verify_range),
  confirmation code (confirmation_code, EGK) and contest data (decrypt_contest_data, EGK) through
  the library; contest hash through the adapter.
* DecryptBallot (EGK record dialect + 1.9 contest hash): the library's decrypt_ballot (k-of-n,
  selections and contest data, EGK dialect) reproduces tally / b_over_m / beta / contest_data, and
  egk's proofs verify with verify_decryption (tag 0x30; tag 0x31 with contest_data_statement(EGK),
  which hashes C1 as upper-case hex text).
"""

from __future__ import annotations

import itertools
from typing import Any

import egk19
import pytest
from egkdata import (
    EGK_STATUS,
    GROUP,
    EgkContestData,
    Trustee,
    VectorContest,
    VectorContext,
    VectorManifest,
    VectorParameters,
    bump,
    ciphertext,
    decryption_proof,
    elem,
    encrypted_ballot,
    expected_status,
    flip,
    h32,
    hb,
    load_vector,
    poly_eval,
    require_reference,
    vector_trustees,
)

from e2evote.elgamal import (
    HashedCiphertext,
    PublicKey,
    contest_data_nonce,
    decrypt_contest_data,
    encrypt_contest_data,
)
from e2evote.errors import CeremonyError, DecryptionError, VerificationError
from e2evote.hashing import EG20, EGK, Tag
from e2evote.proofs import DecryptionProof, verify_decryption, verify_range
from e2evote.protocol.ballot import confirmation_code
from e2evote.protocol.ceremony import joint_key, public_share_key
from e2evote.protocol.decryption import CombinedDecryption, Target, decrypt_with_quorum
from e2evote.protocol.tally import contest_data_statement, decrypt_ballot

require_reference()

TALLY_VECTORS = ["TallyDecryption", "TallyPartialDecryption"]


def _ctx(v: Any, trustees: list[Trustee], manifest: VectorManifest | None = None) -> VectorContext:
    k = len(trustees[0].coefficients)
    return VectorContext(
        elem(v["joint_public_key"]),
        h32(v["extended_base_hash"]),
        VectorParameters(len(trustees), k),
        manifest if manifest is not None else VectorManifest(()),
    )


def _check_trustees(v: Any, trustees: list[Trustee]) -> None:
    """K = Π g^{a_i0} (joint_key), keyShare = Σ_j P_j(x_i), g^{keyShare} = Π_j Π_m K_jm^{x^m} (eq. 21)."""
    commitments = [t.commitments() for t in trustees]
    assert joint_key(GROUP, commitments).to_bytes() == elem(v["joint_public_key"]).to_bytes()
    for t in trustees:
        total = GROUP.scalar(0)
        for u in trustees:
            total = total + poly_eval(u.coefficients, t.x)
        assert total == t.key_share
        assert GROUP.g_pow(t.key_share) == public_share_key(GROUP, commitments, t.x)


# ---------------------------------------------------------------------------------------------------
# TallyDecryptionTestVector, TallyPartialDecryptionTestVector
# ---------------------------------------------------------------------------------------------------


def _tally_targets(v: Any) -> tuple[list[tuple[str, str]], list[Target]]:
    keys, targets = [], []
    for c in v["encrypted_tally"]["contests"]:
        for s in c["selections"]:
            ct = ciphertext(s["encrypted_vote"])
            keys.append((c["contest_id"], s["selection_id"]))
            targets.append(Target.ciphertext(ct.alpha, ct.beta))
    return keys, targets


def _expected_votes(v: Any) -> dict[tuple[str, str], int]:
    return {
        (c["contestId"], s["selectionId"]): s["expected_decrypted_vote"]
        for c in v["expected_decrypted_tally"]["contests"]
        for s in c["selections"]
    }


def _decrypt(v: Any, trustees: list[Trustee], subset: list[Trustee]) -> CombinedDecryption:
    _, targets = _tally_targets(v)
    return decrypt_with_quorum(
        _ctx(v, trustees).as_context(),
        [t.commitments() for t in trustees],
        [t.guardian() for t in subset],
        targets,
    )


@pytest.mark.parametrize("name", TALLY_VECTORS)
def test_tally_decryption(name: str) -> None:
    v = load_vector(name)
    trustees = vector_trustees(v)
    _check_trustees(v, trustees)
    K, H_E = elem(v["joint_public_key"]), h32(v["extended_base_hash"])
    keys, targets = _tally_targets(v)
    expected = _expected_votes(v)
    assert set(keys) == set(expected)
    quorum = len(trustees[0].coefficients)
    subsets = [list(s) for s in itertools.combinations(trustees, quorum)]
    if len(trustees) > quorum:
        subsets.append(trustees)
    Ms = None
    for subset in subsets:
        res = _decrypt(v, trustees, subset)
        for key, t, M, proof in zip(keys, targets, res.M, res.proofs, strict=True):
            B = elem(t.statement[1].hex())
            T = B / M
            assert GROUP.dlog(T, K, len(v["encrypted_tally"]["cast_ballot_ids"])) == expected[key]
            verify_decryption(GROUP, H_E, K, t.A, M, proof, t.statement)
        # every quorum gives the same M = A^s
        if Ms is None:
            Ms = [m.to_bytes() for m in res.M]
        assert [m.to_bytes() for m in res.M] == Ms


@pytest.mark.parametrize("name", TALLY_VECTORS)
def test_tally_decryption_negative(name: str) -> None:
    v = load_vector(name)
    trustees = vector_trustees(v)
    quorum = len(trustees[0].coefficients)
    K, H_E = elem(v["joint_public_key"]), h32(v["extended_base_hash"])
    # fewer than k trustees: the library refuses
    with pytest.raises(DecryptionError):
        _decrypt(v, trustees, trustees[: quorum - 1])
    # a trustee with a wrong key share is caught by eq. 74-75 and named
    bad = [
        Trustee(t.x, t.coefficients, bump(t.key_share)) if n == 0 else t
        for n, t in enumerate(trustees[:quorum])
    ]
    with pytest.raises(CeremonyError):
        _decrypt(v, trustees, bad)
    # a correct proof does not verify for another M, and the tally differs
    res = _decrypt(v, trustees, trustees[:quorum])
    _, targets = _tally_targets(v)
    t, M, proof = targets[0], res.M[0], res.proofs[0]
    with pytest.raises(VerificationError):
        verify_decryption(GROUP, H_E, K, t.A, M * K, proof, t.statement)
    B = elem(t.statement[1].hex())
    expected0 = _expected_votes(v)[_tally_targets(v)[0][0]]
    assert GROUP.dlog(B / (M / K), K, 100) != expected0


# ---------------------------------------------------------------------------------------------------
# DecryptWithNonceTestVector
# ---------------------------------------------------------------------------------------------------


def _dwn() -> tuple[Any, PublicKey, bytes, bytes]:
    v = load_vector("DecryptWithNonce")
    return (
        v,
        PublicKey(GROUP, elem(v["joint_public_key"])),
        h32(v["extended_base_hash"]),
        h32(v["primary_nonce"]),
    )


def test_decrypt_with_nonce() -> None:
    v, key, H_E, xi_B = _dwn()
    eb = v["encrypted_ballot"]
    ballot = encrypted_ballot(eb)
    exp = v["expected_decrypted_ballot"]
    assert exp["ballot_id"] == eb["ballot_id"]
    chis = []
    for c, ec, pc in zip(eb["contests"], ballot.contests, exp["contests"], strict=True):
        assert pc["contest_id"] == c["contest_id"]
        votes = []
        for s, es, ps in zip(c["selections"], ec.selections, pc["selections"], strict=True):
            assert ps["selection_id"] == s["selection_id"]
            xi = egk19.selection_nonce_19(GROUP, H_E, xi_B, c["contest_id"], s["selection_id"])
            R = es.proof.R
            sigma = GROUP.dlog(es.ct.beta / key.K_pow(xi), key.K, R)  # decryption with the nonce
            assert es.ct.alpha == GROUP.g_pow(xi)
            assert sigma == ps["vote"]
            assert key.encrypt(sigma, xi).to_bytes() == es.ct.to_bytes()
            verify_range(key, H_E, es.ct, es.proof, R, step="V5", obj=s["selection_id"])
            votes.append(sigma)
        agg = ec.aggregate(GROUP.identity())
        verify_range(key, H_E, agg, ec.proof, c["votes_allowed"], step="V6", obj=c["contest_id"])
        chi = egk19.contest_hash_19(H_E, c["contest_id"], key.K, [s.ct for s in ec.selections])
        assert chi == ec.chi
        chis.append(chi)
        # contest data, opened with its (1.9-layout) nonce
        assert ec.data is not None
        xi_d = egk19.contest_data_nonce_19(GROUP, H_E, xi_B, c["contest_id"])
        assert ec.data.C0 == GROUP.g_pow(xi_d)
        D = decrypt_contest_data(
            H_E,
            key.K,
            c["sequence_order"],
            ec.data,
            key.K_pow(xi_d),
            contest_label=c["contest_id"],
            dialect=EGK,
        )
        assert len(D) == c["encrypted_contest_data"]["numBytes"]
        cd = EgkContestData.parse(D)
        assert cd.encode(len(D)) == D
        assert cd.status == expected_status(votes, c["votes_allowed"])
        assert list(cd.write_ins) == pc["write_ins"]
        # and the library's encryption (EGK dialect) reproduces (C0, C1, C2) from D and the nonce
        again = encrypt_contest_data(
            key, H_E, c["sequence_order"], D, xi_d, contest_label=c["contest_id"], dialect=EGK
        )
        assert (again.C0.to_bytes(), again.C1, again.C2) == (ec.data.C0.to_bytes(), ec.data.C1, ec.data.C2)
    assert confirmation_code(H_E, chis, ballot.B_aux, EGK) == ballot.code


def test_decrypt_with_nonce_negative() -> None:
    v, key, H_E, xi_B = _dwn()
    eb = v["encrypted_ballot"]
    c = eb["contests"][0]
    ballot = encrypted_ballot(eb)
    ec = ballot.contests[0]
    assert ec.data is not None
    # another primary nonce / the library's 2.0 index-layout nonces do not open this ballot
    s0 = c["selections"][0]
    assert (
        GROUP.g_pow(egk19.selection_nonce_19(GROUP, H_E, flip(xi_B), c["contest_id"], s0["selection_id"]))
        != ec.selections[0].ct.alpha
    )
    for d in (EGK, EG20):
        assert GROUP.g_pow(contest_data_nonce(GROUP, H_E, xi_B, c["sequence_order"], d)) != ec.data.C0
    xi_d = egk19.contest_data_nonce_19(GROUP, H_E, xi_B, c["contest_id"])
    beta = key.K_pow(xi_d)

    def opens(ct: HashedCiphertext, b: Any = beta, label: str = c["contest_id"], dialect: Any = EGK) -> bool:
        try:
            decrypt_contest_data(H_E, key.K, c["sequence_order"], ct, b, contest_label=label, dialect=dialect)
        except DecryptionError:
            return False
        return True

    assert opens(ec.data)
    assert not opens(HashedCiphertext(ec.data.C0, flip(ec.data.C1), ec.data.C2))
    assert not opens(HashedCiphertext(ec.data.C0, ec.data.C1, flip(ec.data.C2)))
    assert not opens(ec.data, b=beta * key.K)
    assert not opens(ec.data, label=c["contest_id"] + "x")
    assert not opens(ec.data, dialect=EG20)
    # confirmation code: the spec's length-prefixed B_aux differs
    assert confirmation_code(H_E, [ec.chi], ballot.B_aux, EG20) != ballot.code


# ---------------------------------------------------------------------------------------------------
# DecryptBallotTestVector
# ---------------------------------------------------------------------------------------------------


def _db() -> tuple[Any, list[Trustee], VectorContext]:
    v = load_vector("DecryptBallot")
    trustees = vector_trustees(v)
    eb = v["encrypted_ballot"]
    manifest = VectorManifest(
        tuple(
            VectorContest(
                c["sequence_order"],
                c["contest_id"],
                len(c["selections"][0]["proof"]["proofs"]) - 1,
                c["votes_allowed"],
            )
            for c in eb["contests"]
        )
    )
    return v, trustees, _ctx(v, trustees, manifest)


def test_decrypt_ballot_encrypted_ballot() -> None:
    """The challenged ballot itself: range proofs (library), contest hash (1.9 adapter), code (EGK)."""
    v, _, ctx = _db()
    ballot = encrypted_ballot(v["encrypted_ballot"])
    chis = []
    for c, ec in zip(v["encrypted_ballot"]["contests"], ballot.contests, strict=True):
        for s in ec.selections:
            verify_range(ctx.key, ctx.H_E, s.ct, s.proof, s.proof.R, step="V5", obj="egk vector")
        verify_range(
            ctx.key,
            ctx.H_E,
            ec.aggregate(GROUP.identity()),
            ec.proof,
            c["votes_allowed"],
            step="V6",
            obj="egk",
        )
        chi = egk19.contest_hash_19(ctx.H_E, c["contest_id"], ctx.K, [s.ct for s in ec.selections])
        assert chi == ec.chi
        chis.append(chi)
    assert confirmation_code(ctx.H_E, chis, ballot.B_aux, EGK) == ballot.code


def test_decrypt_ballot() -> None:
    v, trustees, ctx = _db()
    _check_trustees(v, trustees)
    ballot = encrypted_ballot(v["encrypted_ballot"])
    commitments = [t.commitments() for t in trustees]
    guardians = [t.guardian() for t in trustees]
    got = decrypt_ballot(ctx.as_context(), commitments, guardians, ballot, contest_data=True)
    exp = v["expected_decrypted_ballot"]
    assert got.ballot_id == exp["id"]
    for ec, dc, ec_json in zip(ballot.contests, got.contests, exp["contests"], strict=True):
        for sel, (ind, sigma, proof), es in zip(
            ec.selections, dc.selections, ec_json["selections"], strict=True
        ):
            assert ind == sel.index
            A, B = sel.ct.alpha, sel.ct.beta
            assert ciphertext(es["encrypted_vote"]).to_bytes() == sel.ct.to_bytes()
            assert sigma == es["tally"]
            T = ctx.K ** GROUP.scalar(sigma)
            assert T.to_bytes() == elem(es["b_over_m"]).to_bytes()
            M = B / T
            # egk's proof and the library's own proof both verify (eq. 71, tag 0x30)
            verify_decryption(
                GROUP, ctx.H_E, ctx.K, A, M, decryption_proof(es["proof"]), (A.to_bytes(), B.to_bytes())
            )
            verify_decryption(GROUP, ctx.H_E, ctx.K, A, M, proof, (A.to_bytes(), B.to_bytes()))
        dcd = ec_json["decrypted_contest_data"]
        assert ec.data is not None and dc.data is not None
        exp_ct = dcd["encrypted_contest_data"]
        assert (ec.data.C0.to_bytes(), ec.data.C1, ec.data.C2) == (
            elem(exp_ct["c0"]).to_bytes(),
            hb(exp_ct["c1"]),
            hb(exp_ct["c2"]),
        )
        assert dc.data.beta.to_bytes() == elem(dcd["beta"]).to_bytes()
        cd = EgkContestData.parse(dc.data.data)
        assert cd.encode(exp_ct["numBytes"]) == dc.data.data
        assert cd.status == EGK_STATUS[dcd["contest_data"]["status"]]
        assert list(cd.over_votes) == dcd["contest_data"]["over_votes"]
        assert list(cd.write_ins) == dcd["contest_data"]["write_ins"]
        statement = contest_data_statement(GROUP, ec.data, EGK)
        for pf in (decryption_proof(dcd["proof"]), dc.data.proof):
            verify_decryption(
                GROUP,
                ctx.H_E,
                ctx.K,
                ec.data.C0,
                dc.data.beta,
                pf,
                statement,
                tag=Tag.CONTEST_DATA_DECRYPTION_PROOF,
            )


def test_decrypt_ballot_negative() -> None:
    v, trustees, ctx = _db()
    ballot = encrypted_ballot(v["encrypted_ballot"])
    exp = v["expected_decrypted_ballot"]["contests"][0]
    ec = ballot.contests[0]
    assert ec.data is not None
    # the quorum is all four trustees here
    with pytest.raises(DecryptionError):
        decrypt_ballot(
            ctx.as_context(),
            [t.commitments() for t in trustees],
            [t.guardian() for t in trustees[:-1]],
            ballot,
            contest_data=True,
        )
    # egk's selection proof fails for a changed response or the wrong M
    es = exp["selections"][0]
    sel = ec.selections[0]
    A, B = sel.ct.alpha, sel.ct.beta
    M = B / elem(es["b_over_m"])
    pf = decryption_proof(es["proof"])
    verify_decryption(GROUP, ctx.H_E, ctx.K, A, M, pf, (A.to_bytes(), B.to_bytes()))
    with pytest.raises(VerificationError):
        verify_decryption(
            GROUP, ctx.H_E, ctx.K, A, M, DecryptionProof(pf.c, bump(pf.v)), (A.to_bytes(), B.to_bytes())
        )
    with pytest.raises(VerificationError):
        verify_decryption(GROUP, ctx.H_E, ctx.K, A, M * ctx.K, pf, (A.to_bytes(), B.to_bytes()))
    # egk's contest-data proof needs egk's statement encoding (C1 as hex text)
    dcd = exp["decrypted_contest_data"]
    beta, cpf = elem(dcd["beta"]), decryption_proof(dcd["proof"])
    tag = Tag.CONTEST_DATA_DECRYPTION_PROOF
    verify_decryption(
        GROUP, ctx.H_E, ctx.K, ec.data.C0, beta, cpf, contest_data_statement(GROUP, ec.data, EGK), tag=tag
    )
    with pytest.raises(VerificationError):
        verify_decryption(
            GROUP,
            ctx.H_E,
            ctx.K,
            ec.data.C0,
            beta,
            cpf,
            contest_data_statement(GROUP, ec.data, EG20),
            tag=tag,
        )
    with pytest.raises(VerificationError):
        tampered = HashedCiphertext(ec.data.C0, flip(ec.data.C1), ec.data.C2)
        verify_decryption(
            GROUP,
            ctx.H_E,
            ctx.K,
            ec.data.C0,
            beta,
            cpf,
            contest_data_statement(GROUP, tampered, EGK),
            tag=tag,
        )
    # the contest data does not open with the wrong beta or in the spec dialect
    with pytest.raises(DecryptionError):
        decrypt_contest_data(
            ctx.H_E, ctx.K, ec.index, ec.data, beta * ctx.K, contest_label=exp["contest_id"], dialect=EGK
        )
    with pytest.raises(DecryptionError):
        decrypt_contest_data(
            ctx.H_E, ctx.K, ec.index, ec.data, beta, contest_label=exp["contest_id"], dialect=EG20
        )
