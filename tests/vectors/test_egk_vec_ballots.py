"""BallotEncryption, ConfirmationCode, BallotChaining and BallotAggregation test vectors.

* BallotEncryption (1.9 nonce layout, specs/egk-compat.md §5a): selection nonces through the egk19
  adapter; encryption (PublicKey.encrypt), range-proof challenge (range_challenge), commitments
  (range_commitments) and verification (verify_range) through the library; the proofs are recomputed
  from the vector's u_j / c_j nonces and compared challenge by challenge, response by response.
* ConfirmationCode (1.9 contest hash, §5a): contest hash through the adapter; confirmation code
  through the library's confirmation_code with Dialect EGK.
* BallotChaining (2.0 index layout, §5b): everything through the library — selection_nonce,
  PublicKey.encrypt, contest_hash, confirmation_code(EGK) and the chaining Device (EGK dialect:
  B_aux,1 = H_0 alone, no length prefixes).
* BallotAggregation (§7): Ciphertext.product through the library; the ballots' α checked against
  the adapter's selection nonces.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import egk19
import pytest
from egkdata import (
    GROUP,
    VectorContext,
    VectorParameters,
    bump_proof,
    ciphertext,
    elem,
    flip,
    h32,
    hb,
    load_vector,
    require_reference,
    scalar,
    signed_bytes,
)

from e2evote.elgamal import Ciphertext, PublicKey, selection_nonce
from e2evote.errors import VerificationError
from e2evote.groups.base import Element, Scalar
from e2evote.hashing import EG20, EGK
from e2evote.proofs import RangeProof, verify_range
from e2evote.proofs.range import range_challenge, range_commitments
from e2evote.protocol.ballot import Device, confirmation_code, contest_hash

require_reference()


def _key(v: Any) -> tuple[PublicKey, bytes]:
    return PublicKey(GROUP, elem(v["joint_public_key"])), h32(v["extended_base_hash"])


def recompute_range_proof(
    key: PublicKey,
    H_E: bytes,
    ct: Ciphertext,
    ell: int,
    xi: Scalar,
    u: Sequence[Scalar],
    c_nonce: Sequence[Scalar],
) -> tuple[RangeProof, list[Element]]:
    """Spec 2.0 eq. 44-48 with given nonces: a_j = g^{u_j}, b_j = K^{u_j + (ℓ-j) c_j} (j ≠ ℓ),
    b_ℓ = K^{u_ℓ}; c = range_challenge(…) (library); c_ℓ = c − Σ_{j≠ℓ} c_j; v_j = u_j − c_j ξ."""
    g = GROUP
    commitments: list[Element] = []
    for j, u_j in enumerate(u):
        e = u_j if j == ell else u_j + g.scalar_reduce(ell - j) * c_nonce[j]
        commitments += [g.g_pow(u_j), key.K_pow(e)]
    c = g.scalar_reduce(int.from_bytes(range_challenge(H_E, key.K, ct, commitments), "big"))
    cs = list(c_nonce)
    cs[ell] = c
    for j in range(len(u)):
        if j != ell:
            cs[ell] = cs[ell] - c_nonce[j]
    return RangeProof(tuple(cs), tuple(u_j - c_j * xi for u_j, c_j in zip(u, cs, strict=True))), commitments


def _check_proof(
    key: PublicKey, H_E: bytes, ct: Ciphertext, ell: int, xi: Scalar, proofs: Any, step: str
) -> None:
    u = [scalar(p["u_nonce"]) for p in proofs]
    cn = [scalar(p["c_nonce"]) for p in proofs]
    expected = RangeProof(
        tuple(scalar(p["expected_challenge"]) for p in proofs),
        tuple(scalar(p["expected_response"]) for p in proofs),
    )
    got, commitments = recompute_range_proof(key, H_E, ct, ell, xi, u, cn)
    assert [c.to_bytes() for c in got.c] == [c.to_bytes() for c in expected.c]
    assert [v.to_bytes() for v in got.v] == [v.to_bytes() for v in expected.v]
    # the verifier's recomputed commitments are the prover's, and the proof verifies
    assert [x.to_bytes() for x in range_commitments(key, ct, expected)] == [x.to_bytes() for x in commitments]
    verify_range(key, H_E, ct, expected, len(proofs) - 1, step=step, obj="egk vector")


# ---------------------------------------------------------------------------------------------------
# BallotEncryptionTestVector
# ---------------------------------------------------------------------------------------------------


def _be_items(v: Any) -> Any:
    for b, eb in zip(v["ballots"], v["expected_encrypted_ballots"], strict=True):
        for c, ec in zip(b["contests"], eb["contests"], strict=True):
            yield h32(eb["ballotNonce"]), c, ec


def test_ballot_encryption() -> None:
    v = load_vector("BallotEncryption")
    key, H_E = _key(v)
    n = 0
    for xi_B, c, ec in _be_items(v):
        cts, nonces, votes = [], [], []
        for s, es in zip(c["selections"], ec["selections"], strict=True):
            xi = egk19.selection_nonce_19(GROUP, H_E, xi_B, c["contest_id"], s["selection_id"])
            assert xi.to_bytes() == scalar(es["expected_selection_nonce"]).to_bytes()
            ct = key.encrypt(s["vote"], xi)  # eq. 24
            assert ct.to_bytes() == ciphertext(es["expected_encrypted_vote"]).to_bytes()
            _check_proof(key, H_E, ct, s["vote"], xi, es["expected_proof"]["proofs"], "V5")
            cts.append(ct)
            nonces.append(xi)
            votes.append(s["vote"])
            n += 1
        agg = Ciphertext.product(cts, GROUP)
        xi_sum = GROUP.scalar(0)
        for x in nonces:
            xi_sum = xi_sum + x
        proofs = ec["expected_proof"]["proofs"]
        assert len(proofs) == c["votes_allowed"] + 1
        _check_proof(key, H_E, agg, sum(votes), xi_sum, proofs, "V6")
    assert n > 0


def test_ballot_encryption_negative() -> None:
    v = load_vector("BallotEncryption")
    key, H_E = _key(v)
    xi_B, c, ec = next(_be_items(v))
    s, es = c["selections"][0], ec["selections"][0]
    expected_xi = scalar(es["expected_selection_nonce"]).to_bytes()
    # the 2.0 index layout of the library is not this vector's nonce; nor is another ballot nonce
    assert (
        selection_nonce(GROUP, H_E, xi_B, c["sequence_order"], s["sequence_order"]).to_bytes() != expected_xi
    )
    assert (
        egk19.selection_nonce_19(GROUP, H_E, flip(xi_B), c["contest_id"], s["selection_id"]).to_bytes()
        != expected_xi
    )
    xi = scalar(es["expected_selection_nonce"])
    ct = ciphertext(es["expected_encrypted_vote"])
    assert key.encrypt(1 - s["vote"], xi).to_bytes() != ct.to_bytes()
    proofs = es["expected_proof"]["proofs"]
    proof = RangeProof(
        tuple(scalar(p["expected_challenge"]) for p in proofs),
        tuple(scalar(p["expected_response"]) for p in proofs),
    )
    verify_range(key, H_E, ct, proof, 1, step="V5", obj="egk vector")
    with pytest.raises(VerificationError):
        verify_range(key, H_E, ct, bump_proof(proof, 1), 1, step="V5", obj="egk vector")
    with pytest.raises(VerificationError):
        verify_range(key, flip(H_E), ct, proof, 1, step="V5", obj="egk vector")
    # a recomputation that claims the other plaintext gives other challenges
    u = [scalar(p["u_nonce"]) for p in proofs]
    cn = [scalar(p["c_nonce"]) for p in proofs]
    wrong, _ = recompute_range_proof(key, H_E, ct, 1 - s["vote"], xi, u, cn)
    assert [x.to_bytes() for x in wrong.c] != [x.to_bytes() for x in proof.c]


# ---------------------------------------------------------------------------------------------------
# ConfirmationCodeTestVector
# ---------------------------------------------------------------------------------------------------


def _cc_chis(v: Any, eb: Any, b: Any, key: PublicKey, H_E: bytes) -> list[bytes]:
    xi_B = h32(eb["ballotNonce"])
    chis = []
    for c, ec in zip(b["contests"], eb["contests"], strict=True):
        cts = [
            key.encrypt(
                s["vote"], egk19.selection_nonce_19(GROUP, H_E, xi_B, c["contest_id"], s["selection_id"])
            )
            for s in c["selections"]
        ]
        chi = egk19.contest_hash_19(H_E, c["contest_id"], key.K, cts)
        assert chi == h32(ec["expected_contestHash"])
        # the library's 2.0 form (b(ind_c, 4) instead of the contest id) is not this vector's
        assert contest_hash(H_E, c["sequence_order"], key.K, cts) != chi
        chis.append(chi)
    return chis


def test_confirmation_code() -> None:
    v = load_vector("ConfirmationCode")
    key, H_E = _key(v)
    for b, eb in zip(v["ballots"], v["expected_encrypted_ballots"], strict=True):
        chis = _cc_chis(v, eb, b, key, H_E)
        code = confirmation_code(H_E, chis, hb(eb["codeBaux"]), EGK)
        assert code == h32(eb["expected_confirmationCode"])


def test_confirmation_code_negative() -> None:
    v = load_vector("ConfirmationCode")
    key, H_E = _key(v)
    b, eb = v["ballots"][0], v["expected_encrypted_ballots"][0]
    chis = _cc_chis(v, eb, b, key, H_E)
    expected, baux = h32(eb["expected_confirmationCode"]), hb(eb["codeBaux"])
    assert confirmation_code(H_E, chis, baux, EG20) != expected  # spec eq. 58 length-prefixes B_aux
    assert confirmation_code(H_E, chis, flip(baux), EGK) != expected
    assert confirmation_code(H_E, [flip(chis[0]), *chis[1:]], baux, EGK) != expected
    # a changed vote changes the contest hash
    c = b["contests"][0]
    xi_B = h32(eb["ballotNonce"])
    cts = [
        key.encrypt(
            1 - s["vote"] if n == 0 else s["vote"],
            egk19.selection_nonce_19(GROUP, H_E, xi_B, c["contest_id"], s["selection_id"]),
        )
        for n, s in enumerate(c["selections"])
    ]
    assert egk19.contest_hash_19(H_E, c["contest_id"], key.K, cts) != chis[0]


# ---------------------------------------------------------------------------------------------------
# BallotChainingTestVector (2.0 index layout: all library)
# ---------------------------------------------------------------------------------------------------


def _device(ctx: VectorContext, baux0: bytes) -> Device:
    """A chaining library Device whose B_aux,0 is egk's ``configBaux0`` (32 arbitrary bytes, not UTF-8).

    The library's Device derives B_aux,0 from its name's UTF-8 bytes, which cannot express these
    bytes, so its public ``info`` attribute (B_aux,0) is set; an ``info=`` argument is used if the
    constructor offers one."""
    try:
        return Device(ctx.as_context(), "device", info=baux0, chaining=True)  # type: ignore[call-arg,unused-ignore]
    except TypeError:
        device = Device(ctx.as_context(), "device", chaining=True)
        device.info = baux0
        return device


def _chain_codes(
    v: Any, ballots: Sequence[Any], expected: Sequence[Any], dialect: Any = EGK
) -> list[tuple[bytes, bytes, list[bytes]]]:
    """Encrypt the chained ballots through a library Device; returns (B_aux, code, contest hashes) each."""
    key, H_E = _key(v)
    ctx = VectorContext(key.K, H_E, VectorParameters(1, 1), dialect=dialect)
    device = _device(ctx, signed_bytes(v["configBaux0"]))
    out = []
    for b, eb in zip(ballots, expected, strict=True):
        xi_B = h32(eb["ballotNonce"])
        chis = []
        for c in b["contests"]:
            cts = [
                key.encrypt(
                    s["vote"], selection_nonce(GROUP, H_E, xi_B, c["sequence_order"], s["sequence_order"])
                )
                for s in c["selections"]
            ]
            chis.append(contest_hash(H_E, c["sequence_order"], key.K, cts))
        baux = device.next_baux()
        code = confirmation_code(H_E, chis, baux, dialect)
        device.record(code)
        out.append((baux, code, chis))
    return out


def test_ballot_chaining() -> None:
    v = load_vector("BallotChaining")
    res = _chain_codes(v, v["ballots"], v["expected_encrypted_ballots"])
    assert len(res) == len(v["expected_encrypted_ballots"]) > 1
    for (baux, code, chis), eb in zip(res, v["expected_encrypted_ballots"], strict=True):
        assert chis == [h32(ec["expected_contestHash"]) for ec in eb["contests"]]
        assert baux == hb(eb["codeBaux"])
        assert code == h32(eb["expected_confirmationCode"])


def test_ballot_chaining_negative() -> None:
    v = load_vector("BallotChaining")
    ballots, expected = v["ballots"], v["expected_encrypted_ballots"]
    # the spec's eq. 59-60 (EG20: length prefixes, B_aux,1 = H_0 || B_aux,0) is not egk's chain
    spec = _chain_codes(v, ballots[:2], expected[:2], EG20)
    assert spec[0][0] != hb(expected[0]["codeBaux"])
    assert spec[1][1] != h32(expected[1]["expected_confirmationCode"])
    # ballots in another order break the chain from the first swapped ballot on
    swapped = _chain_codes(v, [ballots[1], ballots[0]], [expected[1], expected[0]])
    assert swapped[1][0] != hb(expected[1]["codeBaux"])
    # another B_aux,0
    v2 = dict(v, configBaux0=[x ^ 1 for x in v["configBaux0"]])
    other = _chain_codes(v2, ballots[:1], expected[:1])
    assert other[0][0] != hb(expected[0]["codeBaux"])
    assert other[0][1] != h32(expected[0]["expected_confirmationCode"])


# ---------------------------------------------------------------------------------------------------
# BallotAggregationTestVector
# ---------------------------------------------------------------------------------------------------


def _aggregate(v: Any, ballots: Sequence[Any]) -> dict[tuple[str, str], Ciphertext]:
    cts: dict[tuple[str, str], list[Ciphertext]] = {}
    for eb in ballots:
        for c in eb["contests"]:
            for s in c["selections"]:
                cts.setdefault((c["contestId"], s["selectionId"]), []).append(ciphertext(s["encrypted_vote"]))
    return {k: Ciphertext.product(x, GROUP) for k, x in cts.items()}  # eq. 63


def _expected_tally(v: Any) -> dict[tuple[str, str], bytes]:
    et = v["expected_encrypted_tally"]
    return {
        (c["contest_id"], s["selection_id"]): ciphertext(s["encrypted_vote"]).to_bytes()
        for c in et["contests"]
        for s in c["selections"]
    }


def test_ballot_aggregation() -> None:
    v = load_vector("BallotAggregation")
    agg = _aggregate(v, v["encrypted_ballots"])
    assert {k: ct.to_bytes() for k, ct in agg.items()} == _expected_tally(v)
    assert [eb["ballotId"] for eb in v["encrypted_ballots"]] == v["expected_encrypted_tally"][
        "cast_ballot_ids"
    ]
    # the ballots were encrypted with the 1.9 string-label selection nonces
    _, H_E = _key(v)
    for eb in v["encrypted_ballots"]:
        xi_B = h32(eb["ballotNonce"])
        for c in eb["contests"]:
            for s in c["selections"]:
                xi = egk19.selection_nonce_19(GROUP, H_E, xi_B, c["contestId"], s["selectionId"])
                assert GROUP.g_pow(xi) == elem(s["encrypted_vote"]["pad"])


def test_ballot_aggregation_negative() -> None:
    v = load_vector("BallotAggregation")
    expected = _expected_tally(v)
    short = _aggregate(v, v["encrypted_ballots"][1:])
    assert all(short[k].to_bytes() != expected[k] for k in expected)
    _, H_E = _key(v)
    eb = v["encrypted_ballots"][0]
    c, s = eb["contests"][0], eb["contests"][0]["selections"][0]
    xi = selection_nonce(GROUP, H_E, h32(eb["ballotNonce"]), c["sequenceOrder"], s["sequenceOrder"])
    assert GROUP.g_pow(xi) != elem(s["encrypted_vote"]["pad"])
