"""PreEncryptionTestVector and PreEncryptionRecordedTestVector (EG 2.0 §4, egk's 1.9 layouts;
specs/egk-compat.md §8).

Pre-encryption is not a library feature yet, so its hashes are composed in the egk19 adapter from
the library's H / Tag / PublicKey.encrypt: nonces over raw ids (0x43), ψ (0x40, spec form), the
contest hash over the raw contest id and sorted ψ's (0x41), the confirmation code over the χ's
only (0x42). The recorded ballot's ordinary parts go through the library: the selected vectors'
component-wise product (Ciphertext *), range and contest-limit proofs (verify_range).
"""

from __future__ import annotations

from typing import Any

import egk19
import pytest
from egkdata import (
    GROUP,
    bump_proof,
    ciphertext,
    elem,
    encrypted_ballot,
    flip,
    h32,
    load_vector,
    require_reference,
    scalar,
)

from e2evote.elgamal import Ciphertext, PublicKey
from e2evote.errors import VerificationError
from e2evote.hashing import EGK
from e2evote.proofs import verify_range
from e2evote.protocol.ballot import confirmation_code

require_reference()


def _setup(name: str) -> tuple[Any, PublicKey, bytes, bytes]:
    v = load_vector(name)
    return (
        v,
        PublicKey(GROUP, elem(v["joint_public_key"])),
        h32(v["extended_base_hash"]),
        h32(v["primary_nonce"]),
    )


def _manifest_contest(v: Any, contest_id: str) -> tuple[list[str], int]:
    mc = next(c for c in v["manifest"]["contests"] if c["object_id"] == contest_id)
    return [o["object_id"] for o in mc["ballot_selections"]], mc["votes_allowed"]


def _labels(options: list[str], L: int) -> list[str]:
    """Selection labels: the options in manifest order, then null1 … nullL (egk-compat §8)."""
    return options + [f"null{i + 1}" for i in range(L)]


# ---------------------------------------------------------------------------------------------------
# PreEncryptionTestVector
# ---------------------------------------------------------------------------------------------------


def test_pre_encryption() -> None:
    v, key, H_E, xi = _setup("PreEncryption")
    b = v["preencrypted_ballot"]
    assert h32(b["primaryNonce"]) == xi
    chis = []
    for c in b["contests"]:
        options, L = _manifest_contest(v, c["contestId"])
        assert [s["selectionId"] for s in c["selections"]] == _labels(options, L)
        psis = []
        for s in c["selections"]:
            nonces = [
                egk19.pre_nonce_19(GROUP, H_E, xi, c["contestId"], s["selectionId"], o) for o in options
            ]
            assert [n.to_bytes() for n in nonces] == [
                scalar(x).to_bytes() for x in s["expected_selectionNonces"]
            ]
            vec = egk19.pre_selection_vector_19(key, H_E, xi, c["contestId"], s["selectionId"], options)
            assert [ct.to_bytes() for ct in vec] == [
                ciphertext(e).to_bytes() for e in s["expected_selectionVector"]
            ]
            psi = egk19.pre_selection_hash(H_E, key.K, vec)
            assert psi == h32(s["expected_selectionHash"])
            assert egk19.short_code(psi) == s["shortCode"]
            psis.append(psi)
        chi = egk19.pre_contest_hash_19(H_E, c["contestId"], key.K, psis)
        assert chi == h32(c["expected_preencryptionHash"])
        chis.append(chi)
    assert egk19.pre_confirmation_code_19(H_E, chis) == h32(b["expected_confirmationCode"])


def test_pre_encryption_negative() -> None:
    v, key, H_E, xi = _setup("PreEncryption")
    b = v["preencrypted_ballot"]
    c = b["contests"][0]
    options, _ = _manifest_contest(v, c["contestId"])
    s = c["selections"][0]
    # another primary nonce, another label
    assert (
        egk19.pre_nonce_19(GROUP, H_E, flip(xi), c["contestId"], s["selectionId"], options[0]).to_bytes()
        != scalar(s["expected_selectionNonces"][0]).to_bytes()
    )
    other = egk19.pre_selection_vector_19(
        key, H_E, xi, c["contestId"], c["selections"][1]["selectionId"], options
    )
    assert egk19.pre_selection_hash(H_E, key.K, other) != h32(s["expected_selectionHash"])
    # contest hash: one ψ changed / another contest id; confirmation code: a χ changed
    psis = [h32(x["expected_selectionHash"]) for x in c["selections"]]
    chi = h32(c["expected_preencryptionHash"])
    assert egk19.pre_contest_hash_19(H_E, c["contestId"], key.K, [flip(psis[0]), *psis[1:]]) != chi
    assert egk19.pre_contest_hash_19(H_E, c["contestId"] + "x", key.K, psis) != chi
    assert egk19.pre_confirmation_code_19(H_E, [flip(chi)]) != h32(b["expected_confirmationCode"])
    # the spec's 0x24 code (library, either dialect) is not the pre-encryption code
    assert confirmation_code(H_E, [chi], b"", EGK) != h32(b["expected_confirmationCode"])


# ---------------------------------------------------------------------------------------------------
# PreEncryptionRecordedTestVector
# ---------------------------------------------------------------------------------------------------


def _regenerate(
    v: Any, key: PublicKey, H_E: bytes, xi: bytes, contest_id: str
) -> dict[str, tuple[bytes, list[Ciphertext]]]:
    options, L = _manifest_contest(v, contest_id)
    out = {}
    for label in _labels(options, L):
        vec = egk19.pre_selection_vector_19(key, H_E, xi, contest_id, label, options)
        out[label] = (egk19.pre_selection_hash(H_E, key.K, vec), vec)
    return out


def test_pre_encryption_recorded() -> None:
    v, key, H_E, xi = _setup("PreEncryptionRecorded")
    rb = v["expected_recorded_ballot"]
    assert rb["is_preencrypt"] is True
    ballot = encrypted_ballot(rb)
    chis = []
    for c, ec in zip(rb["contests"], ballot.contests, strict=True):
        pe = c["pre_encryption"]
        regen = _regenerate(v, key, H_E, xi, c["contest_id"])
        psis = sorted(psi for psi, _ in regen.values())
        assert psis == [h32(x) for x in pe["all_selection_hashes"]]
        chi = egk19.pre_contest_hash_19(H_E, c["contest_id"], key.K, psis)
        assert chi == h32(pe["preencryption_hash"])
        chis.append(chi)
        # the voter's short codes select vectors; egk records them sorted by selection hash
        by_code = {egk19.short_code(psi): (psi, vec) for psi, vec in regen.values()}
        chosen = sorted((by_code[code] for code in v["selected_codes"][c["contest_id"]]), key=lambda x: x[0])
        assert len(pe["selected_vectors"]) == len(chosen)
        for sv, (psi, vec) in zip(pe["selected_vectors"], chosen, strict=True):
            assert h32(sv["selection_hash"]) == psi
            assert sv["short_code"] == egk19.short_code(psi)
            assert [ciphertext(e).to_bytes() for e in sv["encryptions"]] == [ct.to_bytes() for ct in vec]
        # recorded selections = component-wise product of the selected vectors (library Ciphertext *)
        product = [
            Ciphertext.product([vec[k] for _, vec in chosen], GROUP) for k in range(len(ec.selections))
        ]
        assert [ct.to_bytes() for ct in product] == [s.ct.to_bytes() for s in ec.selections]
        for s in ec.selections:
            verify_range(key, H_E, s.ct, s.proof, s.proof.R, step="V5", obj=c["contest_id"])
        verify_range(
            key,
            H_E,
            ec.aggregate(GROUP.identity()),
            ec.proof,
            c["votes_allowed"],
            step="V6",
            obj=c["contest_id"],
        )
        assert egk19.contest_hash_19(H_E, c["contest_id"], key.K, [s.ct for s in ec.selections]) == ec.chi
    assert egk19.pre_confirmation_code_19(H_E, chis) == ballot.code


def test_pre_encryption_recorded_negative() -> None:
    v, key, H_E, xi = _setup("PreEncryptionRecorded")
    rb = v["expected_recorded_ballot"]
    ballot = encrypted_ballot(rb)
    c, ec = rb["contests"][0], ballot.contests[0]
    regen = _regenerate(v, key, H_E, xi, c["contest_id"])
    chosen_codes = set(v["selected_codes"][c["contest_id"]])
    # a vector the voter did not choose does not give the recorded encryption
    other = next(vec for psi, vec in regen.values() if egk19.short_code(psi) not in chosen_codes)
    assert [ct.to_bytes() for ct in other] != [s.ct.to_bytes() for s in ec.selections]
    with pytest.raises(VerificationError):
        s = ec.selections[0]
        verify_range(key, H_E, s.ct, bump_proof(s.proof), s.proof.R, step="V5", obj="egk")
    # the 0x24 code (library, EGK dialect) is not what a pre-encrypted ballot records
    assert confirmation_code(H_E, [x.chi for x in ballot.contests], ballot.B_aux, EGK) != ballot.code
    chis = [h32(x["pre_encryption"]["preencryption_hash"]) for x in rb["contests"]]
    assert egk19.pre_confirmation_code_19(H_E, chis[::-1]) != ballot.code
