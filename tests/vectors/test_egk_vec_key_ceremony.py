"""KeyCeremonyTestVector and ShareEncryptionTestVector (egk's 1.9 layouts, specs/egk-compat.md §3-4).

Library: commitments K_ij (GuardianSetup.start / prove_schnorr with the vector's coefficients and
nonces), the joint key (ceremony.joint_key), share values P_i(ℓ) (GuardianSetup.P), the response
arithmetic and the Schnorr verification equation (multi_pow). Adapter (egk19): the challenge with
2-byte i, j; H_E over K and every K_ij; k_{i,ℓ} and the share KDF with 2-byte indices and
underscore labels. Every vector uses H_P = parameter_base_hash(group, "v2.0") (the version key of
ParametersTestVector; the files do not state it).
"""

from __future__ import annotations

from typing import Any

import egk19
import pytest
from egkdata import GROUP, bump, elem, flip, h32, hashed_ciphertext, load_vector, require_reference, scalar

from e2evote.elgamal import HashedCiphertext, decrypt_share
from e2evote.errors import DecryptionError, VerificationError
from e2evote.hashing import extended_base_hash, parameter_base_hash
from e2evote.proofs import SchnorrProof, prove_schnorr, verify_schnorr
from e2evote.protocol.ceremony import GuardianPublicKeys, GuardianSetup, joint_key
from e2evote.protocol.election import ElectionParameters
from e2evote.protocol.manifest import simple_manifest

require_reference()


def _H_P() -> bytes:
    return parameter_base_hash(GROUP, load_vector("Parameters")["parameter_base_hash"]["protocolVersion"])


def _params(n: int, k: int) -> ElectionParameters:
    return ElectionParameters(
        GROUP, simple_manifest("egk-vector", [("c", ["a", "b"], 1)]), n, k, version="v2.0"
    )


# ---------------------------------------------------------------------------------------------------
# KeyCeremonyTestVector
# ---------------------------------------------------------------------------------------------------


def _kc() -> Any:
    return load_vector("KeyCeremony")


def _kc_items() -> Any:
    for G in _kc()["guardians"]:
        for j, (a, u, pr) in enumerate(
            zip(G["polynomial_coefficients"], G["proof_nonces"], G["expected_proofs"], strict=True)
        ):
            yield G["coordinate"], j, scalar(a), scalar(u), pr


def test_commitments_through_guardian_setup() -> None:
    """GuardianSetup.start with the vector's a_ij and u_ij reproduces every K_ij byte for byte."""
    v = _kc()
    n, k = len(v["guardians"]), len(v["guardians"][0]["polynomial_coefficients"])
    params = _params(n, k)
    assert params.H_P == _H_P()
    for G in v["guardians"]:
        setup = GuardianSetup.start(
            params,
            G["coordinate"],
            coefficients=[scalar(a) for a in G["polynomial_coefficients"]],
            proof_nonces=[scalar(u) for u in G["proof_nonces"]],
        )
        assert [K.to_bytes() for K in setup.public.K] == [
            elem(p["public_key"]).to_bytes() for p in G["expected_proofs"]
        ]


def test_schnorr_proofs_19() -> None:
    H_P = _H_P()
    count = 0
    for i, j, a, u, pr in _kc_items():
        K_ij, _ = prove_schnorr(GROUP, H_P, i, j, a, u)  # library commitment K = g^a
        assert K_ij.to_bytes() == elem(pr["public_key"]).to_bytes()
        h = GROUP.g_pow(u)
        c = egk19.schnorr_challenge_19(H_P, i, j, K_ij, h)
        assert c == h32(pr["challenge"])
        c_q = GROUP.scalar_reduce(int.from_bytes(c, "big"))
        v = u - c_q * a  # eq. 11 (spec)
        assert v.to_bytes() == scalar(pr["response"]).to_bytes()
        # verifier side (Verification 2.1): h = g^v K^c
        assert GROUP.multi_pow([GROUP.generator(), K_ij], [v, c_q]) == h
        count += 1
    total: int = sum(len(G["expected_proofs"]) for G in _kc()["guardians"])
    assert count == total


def test_schnorr_proofs_negative() -> None:
    H_P = _H_P()
    i, j, _a, _u, pr = next(_kc_items())
    K_ij = elem(pr["public_key"])
    proof = SchnorrProof(h32(pr["challenge"]), scalar(pr["response"]))
    # the library's 2.0 layout (4-byte i, j) rejects egk's 1.9-layout proof ...
    with pytest.raises(VerificationError):
        verify_schnorr(GROUP, H_P, i, j, K_ij, proof)

    # ... and in the 1.9 layout a changed response or index no longer verifies
    def ok19(ii: int, jj: int, pf: SchnorrProof) -> bool:
        c_q = GROUP.scalar_reduce(int.from_bytes(pf.c, "big"))
        h = GROUP.multi_pow([GROUP.generator(), K_ij], [pf.v, c_q])
        return egk19.schnorr_challenge_19(H_P, ii, jj, K_ij, h) == pf.c

    assert ok19(i, j, proof)
    assert not ok19(i, j, SchnorrProof(proof.c, bump(proof.v)))
    assert not ok19(i, j + 1, proof)
    assert not ok19(i, j, SchnorrProof(flip(proof.c), proof.v))


def _kc_public() -> list[GuardianPublicKeys]:
    return [
        GuardianPublicKeys(
            G["coordinate"],
            tuple(elem(p["public_key"]) for p in G["expected_proofs"]),
            tuple(SchnorrProof(h32(p["challenge"]), scalar(p["response"])) for p in G["expected_proofs"]),
        )
        for G in _kc()["guardians"]
    ]


def test_joint_key_and_extended_base_hash_19() -> None:
    v = _kc()
    pubs = _kc_public()
    K = joint_key(GROUP, pubs)  # eq. 8 (spec)
    assert K.to_bytes() == elem(v["expected_joint_public_key"]).to_bytes()
    H_E = egk19.extended_base_hash_19(h32(v["election_base_hash"]), K, [pk.K for pk in pubs])
    assert H_E == h32(v["expected_extended_base_hash"])


def test_joint_key_and_extended_base_hash_negative() -> None:
    v = _kc()
    pubs = _kc_public()
    K = joint_key(GROUP, pubs)
    H_B, expected = h32(v["election_base_hash"]), h32(v["expected_extended_base_hash"])
    assert joint_key(GROUP, pubs[1:]).to_bytes() != elem(v["expected_joint_public_key"]).to_bytes()
    # spec 2.0 eq. 23 (library) hashes K alone: not this vector's layout
    assert extended_base_hash(H_B, K.to_bytes()) != expected
    # commitments in another order
    assert egk19.extended_base_hash_19(H_B, K, [pk.K for pk in reversed(pubs)]) != expected
    assert egk19.extended_base_hash_19(flip(H_B), K, [pk.K for pk in pubs]) != expected


# ---------------------------------------------------------------------------------------------------
# ShareEncryptionTestVector
# ---------------------------------------------------------------------------------------------------


def _se() -> Any:
    return load_vector("ShareEncryption")


def _setups() -> dict[str, GuardianSetup]:
    v = _se()
    n, k = len(v["guardians"]), len(v["guardians"][0]["polynomial_coefficients"])
    params = _params(n, k)
    return {
        G["name"]: GuardianSetup.start(
            params, G["coordinate"], coefficients=[scalar(a) for a in G["polynomial_coefficients"]]
        )
        for G in v["guardians"]
    }


def _shares() -> Any:
    """(sender name, recipient name, share object) for every share a guardian received."""
    v = _se()
    for G in v["expected_guardian_shares"]:
        for s in G["expected_shares"]:
            assert s["secretShareFor"] == G["name"]
            yield s["polynomialOwner"], G["name"], s


def test_share_values_and_encryptions_19() -> None:
    H_P = _H_P()
    setups = _setups()
    n = 0
    for sender, recipient, s in _shares():
        S, R = setups[sender], setups[recipient]
        i, ell = S.i, R.i
        assert s["ownerXcoord"] == i
        y = S.P(ell)  # library polynomial evaluation, eq. 9
        assert y.to_bytes() == scalar(s["yCoordinate"]).to_bytes()
        by_name = {G["name"]: G for G in _se()["expected_guardian_shares"]}
        xi = scalar(by_name[sender]["share_nonces"][recipient])
        expected = hashed_ciphertext(s["encryptedCoordinate"])
        got = egk19.encrypt_share_19(GROUP, H_P, i, ell, R.public.public_key, y, xi)
        assert (got.C0.to_bytes(), got.C1, got.C2) == (expected.C0.to_bytes(), expected.C1, expected.C2)
        # the recipient opens it with its secret a_{ℓ,0}
        s_ell = R.secret_coefficients()[0]
        assert egk19.decrypt_share_19(GROUP, H_P, i, ell, R.public.public_key, s_ell, expected) == y
        n += 1
    assert n == len(_se()["guardians"]) * (len(_se()["guardians"]) - 1)


def test_share_encryption_negative() -> None:
    H_P = _H_P()
    setups = _setups()
    sender, recipient, s = next(_shares())
    S, R = setups[sender], setups[recipient]
    ct = hashed_ciphertext(s["encryptedCoordinate"])
    s_ell = R.secret_coefficients()[0]
    K_ell = R.public.public_key
    # the library's spec-2.0 share layout (4-byte indices, "share enc keys") does not open egk's share
    with pytest.raises(DecryptionError):
        decrypt_share(GROUP, H_P, S.i, R.i, K_ell, s_ell, ct)
    # tampering: C1, C2, the indices or the recipient's secret
    assert (
        egk19.decrypt_share_19(
            GROUP, H_P, S.i, R.i, K_ell, s_ell, HashedCiphertext(ct.C0, flip(ct.C1), ct.C2)
        )
        is None
    )
    assert (
        egk19.decrypt_share_19(
            GROUP, H_P, S.i, R.i, K_ell, s_ell, HashedCiphertext(ct.C0, ct.C1, flip(ct.C2))
        )
        is None
    )
    assert egk19.decrypt_share_19(GROUP, H_P, R.i, S.i, K_ell, s_ell, ct) is None
    assert egk19.decrypt_share_19(GROUP, H_P, S.i, R.i, K_ell, bump(s_ell), ct) is None
    assert S.P(R.i + 1).to_bytes() != scalar(s["yCoordinate"]).to_bytes()


def test_my_share_of_secret() -> None:
    setups = _setups()
    for G in _se()["expected_guardian_shares"]:
        x = setups[G["name"]].i
        total = GROUP.scalar(0)
        for S in setups.values():
            total = total + S.P(x)  # eq. 22: P(x) = Σ_i P_i(x), own share included
        assert total.to_bytes() == scalar(G["expected_my_share_of_secret"]).to_bytes()


def test_my_share_of_secret_negative() -> None:
    setups = _setups()
    G = _se()["expected_guardian_shares"][0]
    me = setups[G["name"]]
    others = GROUP.scalar(0)
    for name, S in setups.items():
        if name != G["name"]:
            others = others + S.P(me.i)
    assert others.to_bytes() != scalar(G["expected_my_share_of_secret"]).to_bytes()
