"""Pre-encrypted ballots (EG 2.0 §4; specs/13-pre-encryption.md): the spec-form hashes composed
independently, completeness over random contests in both fast groups, every published value's
mutation rejected with its step, the short-code functions, the manifest field and the tools' errors.
(Byte-exactness with egk's vectors: tests/vectors/test_egk_vec_preencryption.py.)"""

from __future__ import annotations

import dataclasses
import secrets
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from e2evote.elgamal import Ciphertext, contest_data_nonce, encrypt_contest_data
from e2evote.errors import BallotError, ManifestError, VerificationError
from e2evote.groups import ED25519, TEST, Group
from e2evote.hashing import EG20, H, Tag, b_file, b_u32
from e2evote.protocol.ballot import (
    ContestData,
    ContestStatus,
    EncryptedBallot,
    PreRecordContest,
    PreSelectedVector,
    check_ballot_proofs,
    pre_encryption_failures,
)
from e2evote.protocol.election import ElectionContext, ElectionParameters
from e2evote.protocol.manifest import Manifest
from e2evote.protocol.preencrypt import (
    pre_encrypt_ballot,
    record_pre_encrypted,
    verify_pre_encrypted_cast,
    verify_pre_encrypted_uncast,
)
from e2evote.protocol.shortcodes import SHORT_CODES, short_code

FAST = st.sampled_from([TEST, ED25519])


def _context(
    group: Group, contests: list[dict[str, Any]], omega: str = "omega2"
) -> tuple[ElectionContext, Any]:
    manifest = Manifest.from_json(
        {"label": "pre", "contests": contests, "short_code": omega, "device_info": "scanner-7"}
    )
    s = group.random_scalar()
    return ElectionContext(ElectionParameters(group, manifest, 1, 1), group.g_pow(s)), s


def _decrypt(ctx: ElectionContext, s: Any, ct: Ciphertext) -> int:
    """σ from Enc(σ) = (g^ξ, K^(σ+ξ)): β / α^s = K^σ, σ small."""
    target = ct.beta * (ct.alpha**s).inverse()
    for sigma in range(20):
        if ctx.K ** ctx.group.scalar(sigma) == target:
            return sigma
    raise AssertionError("plaintext out of range")


CONTESTS = [
    {"label": "mayor", "options": ["a", "b", "c"]},
    {"label": "council", "options": ["w", "x", "y", "z"], "contest_limit": 2},
    {"label": "score", "options": ["p", "q"], "option_limit": 2, "contest_limit": 3},
]


# ---------------------------------------------------------------------------------------------------
# the spec's byte layouts (eq. 92-96), composed here from H and the encodings
# ---------------------------------------------------------------------------------------------------


def test_hashes_are_the_spec_forms() -> None:
    ctx, _ = _context(TEST, CONTESTS)
    ballot, xi = pre_encrypt_ballot(ctx, "default", B_aux=b"aux")
    g = ctx.group
    chis = []
    for ci, pc in enumerate(ballot.contests, start=1):
        spec = CONTESTS[ci - 1]
        m = len(spec["options"])
        L = spec.get("contest_limit", 1)
        assert [s.label for s in pc.selections] == spec["options"] + [f"null{i}" for i in range(1, L + 1)]
        assert [s.index for s in pc.selections] == list(range(1, m + L + 1))
        for j, sel in enumerate(pc.selections, start=1):
            for k, ct in enumerate(sel.vector, start=1):
                h = H(ctx.H_E, 0x43, xi, b_u32(ci), b_u32(j), b_u32(k))
                nonce = g.scalar_reduce(int.from_bytes(h, "big"))
                assert ct == ctx.key.encrypt(1 if j == k else 0, nonce)
            parts = [ctx.K.to_bytes()] + [x.to_bytes() for ct in sel.vector for x in (ct.alpha, ct.beta)]
            assert sel.psi == H(ctx.H_E, 0x40, *parts)
            assert sel.code == sel.psi[-2:].hex().upper()
        psis = sorted(s.psi for s in pc.selections)
        assert pc.chi == H(ctx.H_E, 0x41, b_u32(ci), ctx.K.to_bytes(), *psis)
        chis.append(pc.chi)
    assert ballot.code == H(ctx.H_E, 0x42, *chis, b_file(b"aux"))
    assert (Tag.PRE_SELECTION_HASH, Tag.PRE_CONTEST_HASH, Tag.PRE_BALLOT_HASH, Tag.PRE_NONCE) == (
        0x40,
        0x41,
        0x42,
        0x43,
    )
    assert ctx.dialect is EG20
    # B_aux defaults to the manifest's device information
    again, _ = pre_encrypt_ballot(ctx, "default", xi=xi)
    assert again.B_aux == b"scanner-7" and again.contests == ballot.contests and again.code != ballot.code
    assert "xi" not in repr(again) and xi.hex() not in repr(again)


# ---------------------------------------------------------------------------------------------------
# completeness and plaintexts
# ---------------------------------------------------------------------------------------------------


@st.composite
def _marks(draw: st.DrawFn) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for c in CONTESTS:
        if draw(st.booleans()):
            labels = c["options"] + [f"null{i}" for i in range(1, c.get("contest_limit", 1) + 1)]
            out[c["label"]] = draw(st.lists(st.sampled_from(labels), unique=True, max_size=len(labels)))
    return out


@given(FAST, _marks())
def test_recorded_ballots_verify_and_decrypt_to_the_marks(group: Group, marks: dict[str, list[str]]) -> None:
    ctx, s = _context(group, CONTESTS)
    pre, xi = pre_encrypt_ballot(ctx, "default")
    try:
        rec = record_pre_encrypted(ctx, "default", xi, marks, ballot_id="b1").ballot
    except BallotError as exc:
        # only: more vectors marked than the limit without an overvote of real options
        assert "more than the limit" in str(exc)
        return
    assert rec.code == pre.code
    verify_pre_encrypted_cast(ctx, rec)
    for spec, ec, pc in zip(CONTESTS, rec.contests, rec.pre, strict=True):
        real = [x for x in marks.get(spec["label"], []) if not x.startswith("null")]
        L = spec.get("contest_limit", 1)
        want = [1 if o in real and len(real) <= L else 0 for o in spec["options"]]
        assert [_decrypt(ctx, s, sel.ct) for sel in ec.selections] == want
        assert len(pc.selected) == L
        # the record's selected vectors are vectors of the printed ballot
        printed = {x.psi: x for x in next(c for c in pre.contests if c.index == ec.index).selections}
        assert all(printed[v.psi].vector == v.vector and printed[v.psi].code == v.code for v in pc.selected)
    verify_pre_encrypted_uncast(ctx, "default", pre.code, pre.B_aux, xi, pre)


def test_uncast_vectors_decrypt_to_unit_vectors(group: Group) -> None:
    ctx, s = _context(group, CONTESTS[:2])
    pre, xi = pre_encrypt_ballot(ctx, "default")
    for pc in pre.contests:
        m = len(pc.selections[0].vector)
        for j, sel in enumerate(pc.selections):
            assert [_decrypt(ctx, s, ct) for ct in sel.vector] == [int(j == k) for k in range(m)]
    verify_pre_encrypted_uncast(ctx, "default", pre.code, pre.B_aux, xi)


def test_under_and_overvotes_reach_the_contest_data() -> None:
    ctx, s = _context(TEST, CONTESTS[1:2])
    _, xi = pre_encrypt_ballot(ctx, "default")
    cases = {
        (): ContestStatus.NULL_VOTE,
        ("x",): ContestStatus.UNDERVOTE,
        ("x", "null2"): ContestStatus.UNDERVOTE,
        ("x", "z"): ContestStatus.NORMAL,
        ("w", "x", "z"): ContestStatus.OVERVOTE,
    }
    for marks, status in cases.items():
        rec = record_pre_encrypted(ctx, "default", xi, {"council": list(marks)}, ballot_id="b").ballot
        verify_pre_encrypted_cast(ctx, rec)
        real = [x for x in marks if not x.startswith("null")]
        want = [0, 0, 0, 0] if status == ContestStatus.OVERVOTE else [int(o in real) for o in "wxyz"]
        assert [_decrypt(ctx, s, sel.ct) for sel in rec.contests[0].selections] == want
        labels = {v.psi for v in rec.pre[0].selected}
        assert len(labels) == 2
        over = tuple(1 + "wxyz".index(o) for o in real) if status == ContestStatus.OVERVOTE else ()
        expected = ContestData(status, over).encode(2)
        xi_d = contest_data_nonce(ctx.group, ctx.H_E, xi, 1, ctx.dialect)
        again = encrypt_contest_data(
            ctx.key, ctx.H_E, 1, expected, xi_d, contest_label="council", dialect=ctx.dialect
        )
        assert rec.contests[0].data == again


def test_ballot_checks_take_the_pre_encryption_data() -> None:
    """check_ballot_proofs (what a ballot box and the board run) checks a recorded pre-encrypted
    ballot by V15-V18; the same ballot without its pre-encryption data is an ordinary ballot whose
    code is not eq. 58's (V7.B), and the data moved to another ballot does not fit it."""
    ctx, _ = _context(TEST, CONTESTS)
    _, xi = pre_encrypt_ballot(ctx, "default")
    rec = record_pre_encrypted(ctx, "default", xi, {"mayor": ["b"]}, ballot_id="b").ballot
    check_ballot_proofs(ctx, rec)
    with pytest.raises(VerificationError, match=r"V7\.B"):
        check_ballot_proofs(ctx, dataclasses.replace(rec, pre=None))
    with pytest.raises(VerificationError, match=r"V17\.B"):
        verify_pre_encrypted_cast(ctx, dataclasses.replace(rec, pre=None))
    _, xi2 = pre_encrypt_ballot(ctx, "default")
    other = record_pre_encrypted(ctx, "default", xi2, {"mayor": ["b"]}, ballot_id="c").ballot
    with pytest.raises(
        VerificationError, match=r"V18\.B"
    ):  # the other ballot's vectors multiply to its selections
        check_ballot_proofs(ctx, dataclasses.replace(rec, pre=other.pre))


# ---------------------------------------------------------------------------------------------------
# mutations
# ---------------------------------------------------------------------------------------------------


def _with_contest(rec: EncryptedBallot, n: int, **changes: Any) -> EncryptedBallot:
    pcs = list(rec.pre)
    pcs[n] = dataclasses.replace(pcs[n], **changes)
    return dataclasses.replace(rec, pre=tuple(pcs))


def _mutants(
    ctx: ElectionContext, xi: bytes, rec: EncryptedBallot, other: EncryptedBallot
) -> list[tuple[str, EncryptedBallot]]:
    g = ctx.group
    pc: PreRecordContest = rec.pre[1]  # council, L = 2
    sv = pc.selected[0]
    flip = bytes([sv.psi[0] ^ 1]) + sv.psi[1:]
    ct = sv.vector[0]
    bumped = Ciphertext(ct.alpha * g.generator(), ct.beta)
    foreign = other.pre[1].selected[0]
    out = [
        (
            "V17.A",
            _with_contest(
                rec, 1, selected=(dataclasses.replace(sv, vector=(bumped, *sv.vector[1:])), *pc.selected[1:])
            ),
        ),
        (
            "V17.A",
            _with_contest(
                rec, 1, selected=(dataclasses.replace(sv, vector=sv.vector[:-1]), *pc.selected[1:])
            ),
        ),
        ("V17.A", _with_contest(rec, 1, selected=(dataclasses.replace(sv, psi=flip), *pc.selected[1:]))),
        ("V17.A", _with_contest(rec, 1, selected=pc.selected[::-1])),
        ("V17.A", _with_contest(rec, 1, selected=(pc.selected[0], pc.selected[0]))),
        (
            "V17.A",
            _with_contest(
                rec,
                1,
                selected=(foreign, *pc.selected[1:])
                if foreign.psi < pc.selected[1].psi
                else (pc.selected[0], foreign),
            ),
        ),
        ("V17.B", _with_contest(rec, 1, psis=pc.psis[::-1])),
        ("V17.B", _with_contest(rec, 1, psis=pc.psis[:-1])),
        ("V17.B", _with_contest(rec, 1, chi=bytes(32))),
        ("V17.B", dataclasses.replace(rec, pre=rec.pre[:-1])),
        ("V17.C", dataclasses.replace(rec, code=bytes(32))),
        ("V17.C", dataclasses.replace(rec, B_aux=b"other")),
        (
            "V18.A",
            _with_contest(
                rec,
                1,
                selected=(
                    dataclasses.replace(sv, code="0000" if sv.code != "0000" else "0001"),
                    *pc.selected[1:],
                ),
            ),
        ),
        ("V18.B", _with_contest(rec, 1, selected=pc.selected[:1])),
    ]
    # another of the ballot's own vectors, in its sorted place: a valid ψ, but not what was recorded
    unused = [p for p in pc.psis if p not in {v.psi for v in pc.selected}]
    pre, _ = pre_encrypt_ballot(ctx, "default", xi=xi)
    vec = next(s for c in pre.contests if c.index == pc.index for s in c.selections if s.psi == unused[0])
    swapped = sorted([PreSelectedVector(vec.psi, vec.code, vec.vector), pc.selected[1]], key=lambda v: v.psi)
    out.append(("V18.B", _with_contest(rec, 1, selected=tuple(swapped))))
    return out


@pytest.mark.parametrize("group", [TEST, ED25519], ids=lambda g: g.name)
def test_every_mutation_is_rejected_with_its_step(group: Group) -> None:
    ctx, _ = _context(group, CONTESTS)
    _, xi = pre_encrypt_ballot(ctx, "default")
    rec = record_pre_encrypted(ctx, "default", xi, {"mayor": ["a"], "council": ["x"]}, ballot_id="b").ballot
    _, xi2 = pre_encrypt_ballot(ctx, "default")
    other = record_pre_encrypted(ctx, "default", xi2, {"council": ["w", "z"]}, ballot_id="c").ballot
    verify_pre_encrypted_cast(ctx, rec)
    for step, mutant in _mutants(ctx, xi, rec, other):
        with pytest.raises(VerificationError) as err:
            verify_pre_encrypted_cast(ctx, mutant)
        assert err.value.step == step, (step, err.value)
    # a proof changed: V15 (selection) / V16 (contest limit)
    c0 = rec.contests[0]
    for step, contest in (
        (
            "V15",
            dataclasses.replace(
                c0,
                selections=(
                    dataclasses.replace(c0.selections[0], proof=c0.selections[1].proof),
                    *c0.selections[1:],
                ),
            ),
        ),
        ("V16", dataclasses.replace(c0, proof=rec.contests[1].proof)),
    ):
        ballot = dataclasses.replace(rec, contests=(contest, *rec.contests[1:]))
        with pytest.raises(VerificationError) as err:
            verify_pre_encrypted_cast(ctx, ballot)
        assert err.value.step.startswith(step), err.value


def test_uncast_published_mutations() -> None:
    ctx, _ = _context(TEST, CONTESTS[:2])
    pre, xi = pre_encrypt_ballot(ctx, "default")
    pc = pre.contests[0]
    sel = pc.selections[1]
    ct = sel.vector[0]
    cases = [
        ("V17.A", dataclasses.replace(sel, vector=(Ciphertext(ct.beta, ct.alpha), *sel.vector[1:]))),
        ("V17.A", dataclasses.replace(sel, psi=bytes(32))),
        ("V18.A", dataclasses.replace(sel, code="ZZZZ")),
    ]
    for step, bad in cases:
        contest = dataclasses.replace(pc, selections=(pc.selections[0], bad, *pc.selections[2:]))
        published = dataclasses.replace(pre, contests=(contest, *pre.contests[1:]))
        with pytest.raises(VerificationError) as err:
            verify_pre_encrypted_uncast(ctx, "default", pre.code, pre.B_aux, xi, published)
        assert err.value.step == step
    with pytest.raises(VerificationError, match=r"V17\.B"):
        bad_chi = dataclasses.replace(
            pre, contests=(dataclasses.replace(pc, chi=bytes(32)), *pre.contests[1:])
        )
        verify_pre_encrypted_uncast(ctx, "default", pre.code, pre.B_aux, xi, bad_chi)
    with pytest.raises(VerificationError, match=r"V17\.C"):
        verify_pre_encrypted_uncast(ctx, "default", pre.code, b"other", xi)
    with pytest.raises(VerificationError, match=r"V17\.C"):
        verify_pre_encrypted_uncast(ctx, "default", pre.code, pre.B_aux, xi[:31])
    with pytest.raises(VerificationError, match=r"V5\.E"):
        verify_pre_encrypted_uncast(ctx, "nope", pre.code, pre.B_aux, xi)


# ---------------------------------------------------------------------------------------------------
# short codes, the manifest field, the tools' errors
# ---------------------------------------------------------------------------------------------------


def test_short_code_functions() -> None:
    ff = bytes(30) + b"\x12\xff"
    zero = bytes(32)
    expect = {
        "omega1": ("FF", "00"),
        "omega2": ("12FF", "0000"),
        "omega3": ("Z5", "A0"),
        "omega4": ("9V", "0A"),
        "omega5": ("255", "0"),
        "omega6": ("256", "1"),
        "omega7": ("355", "100"),
        "omega8": ("356", "101"),
        "egk-hex5": ("00000", "00000"),
    }
    assert set(expect) == set(SHORT_CODES)
    for name, (high, low) in expect.items():
        assert (short_code(name, ff), short_code(name, zero)) == (high, low), name
    assert short_code("egk-hex5", bytes.fromhex("abcdef12") + bytes(28)) == "ABCDE"
    # Ω3 and Ω4 are injective on a byte, as the spec's tables
    for name in ("omega3", "omega4"):
        assert len({short_code(name, bytes(31) + bytes([b])) for b in range(256)}) == 256
    with pytest.raises(ValueError):
        short_code("omega1", b"short")


def test_manifest_short_code_field() -> None:
    base = {"label": "m", "contests": [{"label": "c", "options": ["a", "b"]}]}
    plain = Manifest.from_json(base)
    assert plain.short_code is None and b"short_code" not in plain.raw  # manifests without it unchanged
    with_it = Manifest.from_json(base | {"short_code": "omega3"})
    assert with_it.short_code == "omega3" and Manifest.from_bytes(with_it.raw) == with_it
    for bad in ("omega9", "", 3):
        with pytest.raises(ManifestError, match="short_code"):
            Manifest.from_json(base | {"short_code": bad})


def test_tool_errors() -> None:
    ctx, _ = _context(TEST, CONTESTS)
    _, xi = pre_encrypt_ballot(ctx, "default")
    with pytest.raises(BallotError, match="32 bytes"):
        pre_encrypt_ballot(ctx, "default", xi=b"short")
    with pytest.raises(BallotError, match="style"):
        pre_encrypt_ballot(ctx, "nope")
    with pytest.raises(BallotError, match="not on style"):
        record_pre_encrypted(ctx, "default", xi, {"senate": ["a"]}, ballot_id="b")
    with pytest.raises(BallotError, match="neither an option nor a short code"):
        record_pre_encrypted(ctx, "default", xi, {"mayor": ["zz"]}, ballot_id="b")
    with pytest.raises(BallotError, match="marked twice"):
        record_pre_encrypted(ctx, "default", xi, {"mayor": ["a", "a"]}, ballot_id="b")
    with pytest.raises(BallotError, match="more than the limit"):
        record_pre_encrypted(ctx, "default", xi, {"mayor": ["a", "null1"], "council": []}, ballot_id="b")
    no_omega = ElectionContext(
        ElectionParameters(TEST, Manifest.from_json({"label": "m", "contests": CONTESTS}), 1, 1), ctx.K
    )
    with pytest.raises(BallotError, match="short_code"):
        pre_encrypt_ballot(no_omega, "default")
    rec = record_pre_encrypted(ctx, "default", xi, {}, ballot_id="b").ballot
    assert [f.step for f in pre_encryption_failures(no_omega, rec)] == ["V18.A"]
    nullish, _ = _context(TEST, [{"label": "c", "options": ["a", "null2"]}])
    with pytest.raises(BallotError, match="form of a null label"):
        pre_encrypt_ballot(nullish, "default")


def test_short_code_collisions() -> None:
    many = [{"label": "big", "options": [f"o{i}" for i in range(30)]}]
    ctx, _ = _context(TEST, many, omega="omega1")
    pre, xi = pre_encrypt_ballot(ctx, "default")  # redraws until the 31 codes are distinct
    assert len({s.code for s in pre.contests[0].selections}) == 31
    clash = next(x for x in iter(lambda: secrets.token_bytes(32), None) if _collides(ctx, x))
    with pytest.raises(BallotError, match="repeats"):
        pre_encrypt_ballot(ctx, "default", xi=clash)
    with pytest.raises(VerificationError, match=r"V18\.C"):
        bad, _ = _unchecked(ctx, clash)
        verify_pre_encrypted_uncast(ctx, "default", bad.code, bad.B_aux, clash)
    huge = [{"label": "huge", "options": [f"o{i}" for i in range(80)]}]
    ctx2, _ = _context(TEST, huge, omega="omega1")
    with pytest.raises(BallotError, match="too many"):
        pre_encrypt_ballot(ctx2, "default")


def _unchecked(ctx: ElectionContext, xi: bytes) -> Any:
    from e2evote.protocol.preencrypt import _pre_ballot

    return _pre_ballot(ctx, "default", xi, None)


def _collides(ctx: ElectionContext, xi: bytes) -> bool:
    pre, _ = _unchecked(ctx, xi)
    codes = [s.code for s in pre.contests[0].selections]
    return len(set(codes)) != len(codes)


def test_cast_ballot_with_colliding_short_codes_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """V18.C on a cast ballot: with a repeated code (here found by search under the 256-code Ω1) a
    voter's published code could name an option and a null vote at once. The recording tool refuses
    such a nonce; a recorder that records it anyway is caught by the ballot check."""
    import e2evote.protocol.preencrypt as pe

    ctx, _ = _context(TEST, CONTESTS[:1], omega="omega1")
    xi = next(x for x in iter(lambda: secrets.token_bytes(32), None) if _collides(ctx, x))
    with pytest.raises(BallotError, match="repeats"):
        record_pre_encrypted(ctx, "default", xi, {"mayor": ["a"]}, ballot_id="b")
    monkeypatch.setattr(pe, "_first_collision", lambda ballot: None)
    rec = record_pre_encrypted(ctx, "default", xi, {"mayor": ["a"]}, ballot_id="b").ballot
    with pytest.raises(VerificationError, match=r"V18\.C"):
        check_ballot_proofs(ctx, rec)


def test_nonce_opening_of_a_pre_encrypted_ballot() -> None:
    from e2evote.protocol.ballot import PlaintextBallot
    from e2evote.protocol.preencrypt import verify_pre_ballot_nonce

    ctx, _ = _context(TEST, CONTESTS[:2])
    _, xi = pre_encrypt_ballot(ctx, "default")
    marks = {"mayor": ["b"], "council": ["x", "null2"]}
    rec = record_pre_encrypted(ctx, "default", xi, marks, ballot_id="c").ballot
    claimed = PlaintextBallot("c", "default", {"mayor": {"b": 1, "a": 0}, "council": {"x": 1, "null2": 1}})
    verify_pre_ballot_nonce(ctx, rec, xi, claimed)
    cases = [
        ("V13.N.B", {"mayor": {"b": 1}, "council": {"x": 1}}),  # null1 instead of the marked null2
        ("V13.N.B", {"mayor": {"a": 1}, "council": {"x": 1, "null2": 1}}),
        ("V13.B", {"mayor": {"b": 1, "zed": 0}, "council": {"x": 1, "null2": 1}}),  # unknown, even at 0
        ("V13.B", {"mayor": {"b": 2}}),
        ("V13.B", {"senate": {"b": 1}}),
        ("V13.B", {"mayor": {"b": 1, "null2": 1}}),  # mayor has L = 1: only null1
    ]
    for step, votes in cases:
        with pytest.raises(VerificationError) as err:
            verify_pre_ballot_nonce(ctx, rec, xi, PlaintextBallot("c", "default", votes))
        assert err.value.step == step, (votes, err.value)
    for bad in (dataclasses.replace(rec, pre=rec.pre[:1]), dataclasses.replace(rec, pre=())):  # type: ignore[index]
        with pytest.raises(VerificationError, match=r"V13\.N\.A"):
            verify_pre_ballot_nonce(ctx, bad, xi, claimed)
    with pytest.raises(VerificationError, match=r"V13\.B"):
        verify_pre_ballot_nonce(ctx, rec, xi, dataclasses.replace(claimed, write_ins={"mayor": ["x"]}))


def test_null_indices_continue_past_the_largest_option_index() -> None:
    from e2evote.protocol.manifest import Contest, Option
    from e2evote.protocol.preencrypt import selection_labels

    c = Contest(1, "c", (Option(3, "a"), Option(7, "b")), option_limit=1, contest_limit=2)
    assert selection_labels(c) == [("a", 3), ("b", 7), ("null1", 8), ("null2", 9)]


def test_a_spoiled_blank_ballot_is_a_challenged_null_vote() -> None:
    """specs/13 §8: a blank ballot audited without marks is recorded as a null vote and challenged;
    its opening regenerates every printed vector."""
    from e2evote.protocol.ballot import BallotState, PlaintextBallot
    from e2evote.protocol.preencrypt import verify_pre_ballot_nonce

    ctx, s = _context(TEST, CONTESTS[:2])
    printed, xi = pre_encrypt_ballot(ctx, "default")
    blank = record_pre_encrypted(
        ctx, "default", xi, {}, ballot_id="spoiled", state=BallotState.CHALLENGED
    ).ballot
    assert blank.code == printed.code
    assert all(_decrypt(ctx, s, sel.ct) == 0 for c in blank.contests for sel in c.selections)
    verify_pre_ballot_nonce(ctx, blank, xi, PlaintextBallot("spoiled", "default", {}))
    with pytest.raises(VerificationError, match=r"V13\.N\.B"):
        verify_pre_ballot_nonce(ctx, blank, xi, PlaintextBallot("spoiled", "default", {"mayor": {"a": 1}}))
