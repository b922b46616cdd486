"""PreEncryptionTestVector and PreEncryptionRecordedTestVector (EG 2.0 §4, egk's 1.9 layouts;
specs/13-pre-encryption.md, specs/egk-compat.md §8).

The library's pre-encryption (``e2evote.protocol.preencrypt``) runs under ``EGK19``: the EGK dialect
with ``pre_labels_as_text`` set, the layout of these vectors (nonces and contest hashes over the raw
UTF-8 ids; no B_aux in the code). Everything deterministic is compared byte for byte: nonces,
vectors, selection hashes, short codes, contest hashes, the confirmation code, the recorded
selections (products of the chosen vectors) and the published pre-encryption data. The recorded
ballot's proofs are randomised, so egk's are checked with the library's range-proof verifier and the
library's own with :func:`verify_pre_encrypted_cast`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from egkdata import (
    GROUP,
    VectorContext,
    VectorParameters,
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

from e2evote.elgamal import Ciphertext
from e2evote.errors import BallotError, VerificationError
from e2evote.hashing import EGK
from e2evote.proofs import verify_range
from e2evote.protocol.ballot import confirmation_code
from e2evote.protocol.election import ElectionContext
from e2evote.protocol.manifest import Manifest
from e2evote.protocol.preencrypt import (
    pre_confirmation_code,
    pre_contest_hash,
    pre_encrypt_ballot,
    pre_nonce,
    record_pre_encrypted,
    selection_labels,
    verify_pre_encrypted_cast,
    verify_pre_encrypted_uncast,
)

require_reference()

EGK19 = dataclasses.replace(EGK, name="egk-1.9-vectors", pre_labels_as_text=True)


def _manifest(v: Any) -> Manifest:
    """The vector's contests as a native manifest: ids as labels, options in sequence order, L =
    votes_allowed, egk's short codes; one style with every contest."""
    contests = []
    for c in sorted(v["manifest"]["contests"], key=lambda c: c["sequence_order"]):
        sels = sorted(c["ballot_selections"], key=lambda s: s["sequence_order"])
        contests.append(
            {
                "label": c["object_id"],
                "options": [s["object_id"] for s in sels],
                "contest_limit": c["votes_allowed"],
            }
        )
    return Manifest.from_json({"label": "egk-vector", "contests": contests, "short_code": "egk-hex5"})


def _setup(name: str) -> tuple[Any, ElectionContext, bytes]:
    v = load_vector(name)
    vc = VectorContext(
        elem(v["joint_public_key"]), h32(v["extended_base_hash"]), VectorParameters(1, 1), dialect=EGK19
    )
    object.__setattr__(vc, "manifest", _manifest(v))
    return v, vc.as_context(), h32(v["primary_nonce"])


# ---------------------------------------------------------------------------------------------------
# PreEncryptionTestVector
# ---------------------------------------------------------------------------------------------------


def test_pre_encryption() -> None:
    v, ctx, xi = _setup("PreEncryption")
    b = v["preencrypted_ballot"]
    assert h32(b["primaryNonce"]) == xi
    ballot, xi_out = pre_encrypt_ballot(ctx, "default", xi=xi, B_aux=b"")
    assert xi_out == xi
    assert [c.label for c in ballot.contests] == [c["contestId"] for c in b["contests"]]
    for pc, c in zip(ballot.contests, b["contests"], strict=True):
        contest = ctx.manifest.contest(pc.label)
        assert [s.label for s in pc.selections] == [s["selectionId"] for s in c["selections"]]
        for n, (ps, s) in enumerate(zip(pc.selections, c["selections"], strict=True)):
            nonces = [
                pre_nonce(GROUP, ctx.H_E, xi, contest, selection_labels(contest)[n], k, EGK19)
                for k in range(len(contest.options))
            ]
            assert [x.to_bytes() for x in nonces] == [
                scalar(x).to_bytes() for x in s["expected_selectionNonces"]
            ]
            assert [ct.to_bytes() for ct in ps.vector] == [
                ciphertext(e).to_bytes() for e in s["expected_selectionVector"]
            ]
            assert ps.psi == h32(s["expected_selectionHash"])
            assert ps.code == s["shortCode"]
        assert pc.chi == h32(c["expected_preencryptionHash"])
    assert ballot.code == h32(b["expected_confirmationCode"])
    verify_pre_encrypted_uncast(ctx, "default", ballot.code, b"", xi, ballot)


def test_pre_encryption_negative() -> None:
    v, ctx, xi = _setup("PreEncryption")
    b = v["preencrypted_ballot"]
    c = b["contests"][0]
    contest = ctx.manifest.contest(c["contestId"])
    s = c["selections"][0]
    label = selection_labels(contest)[0]
    # another primary nonce, another selection label
    assert (
        pre_nonce(GROUP, ctx.H_E, flip(xi), contest, label, 0, EGK19).to_bytes()
        != scalar(s["expected_selectionNonces"][0]).to_bytes()
    )
    other, _ = pre_encrypt_ballot(ctx, "default", xi=xi, B_aux=b"")
    assert other.contests[0].selections[1].psi != h32(s["expected_selectionHash"])
    # contest hash: one ψ changed / the spec's index form; confirmation code: a χ changed, B_aux added
    psis = [h32(x["expected_selectionHash"]) for x in c["selections"]]
    chi = h32(c["expected_preencryptionHash"])
    assert pre_contest_hash(ctx.H_E, contest, ctx.K, [flip(psis[0]), *psis[1:]], EGK19) != chi
    assert pre_contest_hash(ctx.H_E, contest, ctx.K, psis, EGK) != chi
    code = h32(b["expected_confirmationCode"])
    assert pre_confirmation_code(ctx.H_E, [flip(chi)], b"", EGK19) != code
    assert (
        pre_confirmation_code(ctx.H_E, [chi], b"", dataclasses.replace(EGK19, baux_length_prefix=True))
        != code
    )
    # the spec's 0x24 code is not the pre-encryption code
    assert confirmation_code(ctx.H_E, [chi], b"", EGK) != code
    # the uncast check: another nonce or another code is V17.C
    with pytest.raises(VerificationError, match=r"V17\.C"):
        verify_pre_encrypted_uncast(ctx, "default", code, b"", flip(xi))
    with pytest.raises(VerificationError, match=r"V17\.C"):
        verify_pre_encrypted_uncast(ctx, "default", flip(code), b"", xi)
    # a published short code that is not Ω(ψ) is V18.A
    pc = other.contests[0]
    sel = dataclasses.replace(pc.selections[0], code="00000")
    bad = dataclasses.replace(
        other, contests=(dataclasses.replace(pc, selections=(sel, *pc.selections[1:])),)
    )
    with pytest.raises(VerificationError, match=r"V18\.A"):
        verify_pre_encrypted_uncast(ctx, "default", code, b"", xi, bad)


# ---------------------------------------------------------------------------------------------------
# PreEncryptionRecordedTestVector
# ---------------------------------------------------------------------------------------------------


def _choices(v: Any, ctx: ElectionContext, xi: bytes) -> dict[str, list[str]]:
    """The voter's short codes as option labels (what a scanner reads off the marked ballot)."""
    ballot, _ = pre_encrypt_ballot(ctx, "default", xi=xi, B_aux=b"")
    out = {}
    for pc in ballot.contests:
        by_code = {s.code: s.label for s in pc.selections}
        out[pc.label] = [by_code[code] for code in v["selected_codes"][pc.label]]
    return out


def test_pre_encryption_recorded() -> None:
    v, ctx, xi = _setup("PreEncryptionRecorded")
    rb = v["expected_recorded_ballot"]
    assert rb["is_preencrypt"] is True
    expected = encrypted_ballot(rb)
    rec = record_pre_encrypted(
        ctx, "default", xi, _choices(v, ctx, xi), ballot_id=rb["ballot_id"], B_aux=b""
    ).ballot
    assert rec.code == expected.code
    for c, pc, ec, mine in zip(rb["contests"], rec.pre, expected.contests, rec.contests, strict=True):
        pe = c["pre_encryption"]
        assert pc.chi == h32(pe["preencryption_hash"])
        assert list(pc.psis) == [h32(x) for x in pe["all_selection_hashes"]]
        assert len(pc.selected) == len(pe["selected_vectors"]) == c["votes_allowed"]
        for sv, x in zip(pc.selected, pe["selected_vectors"], strict=True):
            assert sv.psi == h32(x["selection_hash"])
            assert sv.code == x["short_code"]
            assert [ct.to_bytes() for ct in sv.vector] == [ciphertext(e).to_bytes() for e in x["encryptions"]]
        # the recorded selections are the products of the selected vectors, as egk's
        assert [s.ct.to_bytes() for s in mine.selections] == [s.ct.to_bytes() for s in ec.selections]
        # egk's proofs over them verify with the library's verifier
        for s in ec.selections:
            verify_range(ctx.key, ctx.H_E, s.ct, s.proof, s.proof.R, step="V15", obj=c["contest_id"])
        agg = ec.aggregate(GROUP.identity())
        verify_range(ctx.key, ctx.H_E, agg, ec.proof, c["votes_allowed"], step="V16", obj=c["contest_id"])
    verify_pre_encrypted_cast(ctx, rec)


def test_pre_encryption_recorded_negative() -> None:
    v, ctx, xi = _setup("PreEncryptionRecorded")
    rec = record_pre_encrypted(ctx, "default", xi, _choices(v, ctx, xi), ballot_id="b", B_aux=b"").ballot
    expected = encrypted_ballot(v["expected_recorded_ballot"])
    # other choices give other selections
    other = record_pre_encrypted(ctx, "default", xi, {}, ballot_id="b", B_aux=b"").ballot
    assert [s.ct for s in other.contests[0].selections] != [s.ct for s in expected.contests[0].selections]
    verify_pre_encrypted_cast(ctx, other)
    with pytest.raises(VerificationError, match=r"V15\.D"):
        c0 = rec.contests[0]
        s0 = dataclasses.replace(c0.selections[0], proof=bump_proof(c0.selections[0].proof))
        bad = dataclasses.replace(c0, selections=(s0, *c0.selections[1:]))
        verify_pre_encrypted_cast(
            ctx,
            dataclasses.replace(rec, contests=(bad, *rec.contests[1:])),
        )
    # the 0x24 code is not what a pre-encrypted ballot records
    assert confirmation_code(ctx.H_E, [x.chi for x in rec.contests], b"", EGK) != rec.code
    with pytest.raises(BallotError, match="marked twice"):
        record_pre_encrypted(
            ctx, "default", xi, {"contestTwoVotes": ["selection4", "selection4"]}, ballot_id="b"
        )
    assert Ciphertext.product([], GROUP) == Ciphertext(GROUP.identity(), GROUP.identity())
