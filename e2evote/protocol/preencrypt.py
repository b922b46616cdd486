"""Pre-encrypted ballots (EG 2.0 §4; specs/13-pre-encryption.md).

The encrypting tool (:func:`pre_encrypt_ballot`) derives, from one primary nonce ξ, a selection
vector per option and L null vectors per contest, their selection hashes ψ and short codes ω, the
contest hashes χ and the ballot's confirmation code, all before the voter marks anything. The
recording tool (:func:`record_pre_encrypted`) regenerates them from ξ and turns the marked options into
an ordinary :class:`~e2evote.protocol.ballot.EncryptedBallot` with ordinary proofs, plus what the
record publishes of the pre-encryption. :func:`verify_pre_encrypted_cast` and
:func:`verify_pre_encrypted_uncast` are EG Verifications 15-18.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from e2evote.elgamal import Ciphertext, contest_data_nonce, encrypt_contest_data
from e2evote.errors import BallotError, E2EVoteError, VerificationError
from e2evote.groups.base import Element, Group, Scalar
from e2evote.hashing import Dialect, H, Tag, b_file, b_u32
from e2evote.proofs.range import prove_range, verify_range_many
from e2evote.protocol.ballot import (
    BallotState,
    ContestStatus,
    EncryptedBallot,
    EncryptedContest,
    EncryptedSelection,
    ballot_statements,
    contest_hash,
    contest_values,
)
from e2evote.protocol.election import ElectionContext
from e2evote.protocol.manifest import Contest
from e2evote.protocol.shortcodes import SHORT_CODE_SPACE, SHORT_CODES

__all__ = [
    "PreSelection",
    "PreContest",
    "PreEncryptedBallot",
    "PreSelectedVector",
    "PreRecordContest",
    "RecordedPreBallot",
    "selection_labels",
    "pre_nonce",
    "selection_hash",
    "pre_contest_hash",
    "pre_confirmation_code",
    "pre_encrypt_ballot",
    "record_pre_encrypted",
    "verify_pre_encrypted_cast",
    "verify_pre_encrypted_uncast",
]

MAX_DRAWS = 1000
"""fresh primary nonces tried before giving up on short codes distinct within every contest"""
MIN_DISTINCT_CHANCE = 0.01
"""a contest whose n short codes are distinct with a lower chance (out of the function's N) is refused
up front instead of drawing nonces for nothing"""


def _distinct_chance(n: int, N: int) -> float:
    """The chance that n uniform draws out of N are distinct (the birthday bound, exactly)."""
    chance = 1.0
    for i in range(n):
        chance *= max(0.0, 1 - i / N)
    return chance


@dataclass(frozen=True, slots=True)
class PreSelection:
    """A selection vector Ψ_j (eq. 91) with its selection hash ψ_j (eq. 92-93) and short code ω_j."""

    label: str
    """the option's label, or ``nullℓ``"""
    index: int
    """ind_o of the option, or m + ℓ for ``nullℓ`` (specs/13 §1)"""
    vector: tuple[Ciphertext, ...]
    psi: bytes
    code: str


@dataclass(frozen=True, slots=True)
class PreContest:
    """One contest of a pre-encrypted ballot: m + L selection vectors in label order, χ (eq. 94)."""

    index: int
    label: str
    selections: tuple[PreSelection, ...]
    chi: bytes


@dataclass(frozen=True, slots=True)
class PreEncryptedBallot:
    """What the encrypting tool outputs for printing (EG §4.2), without the primary nonce."""

    style: str
    contests: tuple[PreContest, ...]
    code: bytes
    """H(B) (eq. 95), printed on the ballot"""
    B_aux: bytes


@dataclass(frozen=True, slots=True)
class PreSelectedVector:
    """A vector the voter selected, as the record publishes it: ψ, ω and the m encryptions."""

    psi: bytes
    code: str
    vector: tuple[Ciphertext, ...]


@dataclass(frozen=True, slots=True)
class PreRecordContest:
    """The pre-encryption data of one cast contest (EG §4.4)."""

    index: int
    chi: bytes
    """χ_i (eq. 94)"""
    psis: tuple[bytes, ...]
    """all m + L selection hashes, ascending"""
    selected: tuple[PreSelectedVector, ...]
    """the L selected vectors, ascending by ψ"""


@dataclass(frozen=True, slots=True)
class RecordedPreBallot:
    """A recorded pre-encrypted ballot: the ordinary encrypted ballot (its code is eq. 95) and the
    pre-encryption data of each of its contests, in the same order."""

    ballot: EncryptedBallot
    contests: tuple[PreRecordContest, ...]


# ---------------------------------------------------------------------------------------------------
# values (eq. 91-96)
# ---------------------------------------------------------------------------------------------------


def selection_labels(contest: Contest) -> list[tuple[str, int]]:
    """(label, index) of the m options in ind_o order, then ``null1`` … ``nullL`` as m+1 … m+L."""
    m = len(contest.options)
    return [(o.label, o.index) for o in contest.options] + [
        (f"null{ell}", m + ell) for ell in range(1, contest.contest_limit + 1)
    ]


def _check_xi(xi: bytes) -> None:
    if not isinstance(xi, bytes) or len(xi) != 32:
        raise BallotError("the primary nonce ξ must be 32 bytes")


def pre_nonce(
    group: Group,
    H_E: bytes,
    xi: bytes,
    contest: Contest,
    selection: tuple[str, int],
    option: int,
    dialect: Dialect,
) -> Scalar:
    """ξ_{i,j,k} = H(H_E; 0x43, ξ, ind_c, ind(λ_j), ind_o(λ_k)) mod q (eq. 96); ``option`` is the
    position k in the contest (0-based). EGK: the three labels' UTF-8 bytes instead of indices."""
    _check_xi(xi)
    o = contest.options[option]
    if dialect.pre_labels_as_text:
        parts = [contest.label.encode(), selection[0].encode(), o.label.encode()]
    else:
        parts = [b_u32(contest.index), b_u32(selection[1]), b_u32(o.index)]
    return group.scalar_reduce(int.from_bytes(H(H_E, Tag.PRE_NONCE, xi, *parts), "big"))


def selection_hash(H_E: bytes, K: Element, vector: Sequence[Ciphertext]) -> bytes:
    """ψ = H(H_E; 0x40, K, α_1, β_1, …, α_m, β_m) (eq. 92-93)."""
    parts = [K.to_bytes()]
    for ct in vector:
        parts += [ct.alpha.to_bytes(), ct.beta.to_bytes()]
    return H(H_E, Tag.PRE_SELECTION_HASH, *parts)


def pre_contest_hash(
    H_E: bytes, contest: Contest, K: Element, psis: Sequence[bytes], dialect: Dialect
) -> bytes:
    """χ = H(H_E; 0x41, ind_c, K, ψ's ascending) (eq. 94; EGK: the contest label's UTF-8 bytes)."""
    head = contest.label.encode() if dialect.pre_labels_as_text else b_u32(contest.index)
    return H(H_E, Tag.PRE_CONTEST_HASH, head, K.to_bytes(), *sorted(psis))


def pre_confirmation_code(H_E: bytes, chis: Sequence[bytes], B_aux: bytes, dialect: Dialect) -> bytes:
    """H(B) = H(H_E; 0x42, χ_1, …, χ_mB, B_aux) (eq. 95; B_aux as in eq. 58, by dialect)."""
    return H(H_E, Tag.PRE_BALLOT_HASH, *chis, b_file(B_aux) if dialect.baux_length_prefix else B_aux)


def _omega(ctx: ElectionContext) -> str:
    name = ctx.manifest.short_code
    if name is None:
        raise BallotError("the manifest names no short-code function (short_code), needed for pre-encryption")
    return name


def _vectors(
    ctx: ElectionContext, xi: bytes, contest: Contest
) -> list[tuple[tuple[Ciphertext, ...], list[Scalar]]]:
    """Every selection vector of ``contest`` in label order, with its nonces ξ_{i,j,k}."""
    g = ctx.group
    out = []
    for sel in selection_labels(contest):
        nonces = [
            pre_nonce(g, ctx.H_E, xi, contest, sel, k, ctx.dialect) for k in range(len(contest.options))
        ]
        vector = tuple(
            ctx.key.encrypt(1 if o.index == sel[1] else 0, n)
            for o, n in zip(contest.options, nonces, strict=True)
        )
        out.append((vector, nonces))
    return out


def _pre_contest(
    ctx: ElectionContext, xi: bytes, contest: Contest, omega: str
) -> tuple[PreContest, list[list[Scalar]]]:
    sels = []
    nonces = []
    for (label, index), (vector, ns) in zip(
        selection_labels(contest), _vectors(ctx, xi, contest), strict=True
    ):
        psi = selection_hash(ctx.H_E, ctx.K, vector)
        sels.append(PreSelection(label, index, vector, psi, SHORT_CODES[omega](psi)))
        nonces.append(ns)
    chi = pre_contest_hash(ctx.H_E, contest, ctx.K, [s.psi for s in sels], ctx.dialect)
    return PreContest(contest.index, contest.label, tuple(sels), chi), nonces


def _style(ctx: ElectionContext, style: str) -> tuple[Contest, ...]:
    try:
        return ctx.manifest.contests_of_style(style)
    except E2EVoteError as exc:
        raise BallotError(f"pre-encrypted ballot: {exc}") from None


def _pre_ballot(
    ctx: ElectionContext, style: str, xi: bytes, B_aux: bytes | None
) -> tuple[PreEncryptedBallot, list[list[list[Scalar]]]]:
    _check_xi(xi)
    omega = _omega(ctx)
    contests = []
    nonces = []
    for contest in _style(ctx, style):
        pc, ns = _pre_contest(ctx, xi, contest, omega)
        contests.append(pc)
        nonces.append(ns)
    B = ctx.manifest.device_info if B_aux is None else B_aux
    code = pre_confirmation_code(ctx.H_E, [c.chi for c in contests], B, ctx.dialect)
    return PreEncryptedBallot(style, tuple(contests), code, B), nonces


def _first_collision(ballot: PreEncryptedBallot) -> str | None:
    for c in ballot.contests:
        codes = [s.code for s in c.selections]
        if len(set(codes)) != len(codes):
            dup = next(x for x in codes if codes.count(x) > 1)
            return f"contest {c.label!r}: short code {dup!r} repeats"
    return None


# ---------------------------------------------------------------------------------------------------
# the encrypting tool (§4.2) and the recording tool (§4.3)
# ---------------------------------------------------------------------------------------------------


def pre_encrypt_ballot(
    ctx: ElectionContext, style: str, *, xi: bytes | None = None, B_aux: bytes | None = None
) -> tuple[PreEncryptedBallot, bytes]:
    """A pre-encrypted ballot of ``style`` and its primary nonce ξ (secret: it opens the ballot).

    Without ``xi``, fresh nonces are drawn until the short codes are distinct within every contest;
    with ``xi``, a repeated short code is a :class:`BallotError`."""
    omega = _omega(ctx)
    for contest in _style(ctx, style):
        n = len(contest.options) + contest.contest_limit
        if _distinct_chance(n, SHORT_CODE_SPACE[omega]) < MIN_DISTINCT_CHANCE:
            raise BallotError(
                f"pre-encrypted ballot: contest {contest.label!r} needs {n} distinct short codes, too many "
                f"for short_code {omega!r} ({SHORT_CODE_SPACE[omega]} codes); choose a larger function "
                "such as omega2"
            )
    if xi is not None:
        ballot, _ = _pre_ballot(ctx, style, xi, B_aux)
        clash = _first_collision(ballot)
        if clash is not None:
            raise BallotError(f"pre-encrypted ballot: {clash}; draw another primary nonce")
        return ballot, xi
    for _ in range(MAX_DRAWS):
        xi = secrets.token_bytes(32)
        ballot, _ = _pre_ballot(ctx, style, xi, B_aux)
        clash = _first_collision(ballot)
        if clash is None:
            return ballot, xi
    raise BallotError(
        f"pre-encrypted ballot: short codes kept repeating over {MAX_DRAWS} primary nonces ({clash}); "
        "the manifest's short_code function has too few codes for these contests"
    )


def record_pre_encrypted(
    ctx: ElectionContext,
    style: str,
    xi: bytes,
    choices: Mapping[str, Sequence[str]],
    *,
    ballot_id: str,
    B_aux: bytes | None = None,
    state: BallotState = BallotState.CAST,
    device: str = "",
    timestamp: int = 0,
) -> RecordedPreBallot:
    """Record a marked pre-encrypted ballot (EG §4.3): ``choices`` maps a contest label to the labels
    of the options the voter marked (a contest left out is a null vote), possibly with null labels
    ``nullℓ`` (a scanner that reads null short codes). Each contest takes the marked vectors and
    further null vectors up to exactly L (an overvote takes the L null vectors and records OVERVOTE in
    the contest data); selections are their component-wise products, proved with the summed nonces."""
    pre, all_nonces = _pre_ballot(ctx, style, xi, B_aux)
    contests = _style(ctx, style)
    unknown = set(choices) - {c.label for c in contests}
    if unknown:
        raise BallotError(
            f"ballot {ballot_id!r}: contest(s) not on style {style!r}: {', '.join(sorted(unknown))}"
        )
    g = ctx.group
    key = ctx.key
    enc_contests = []
    records = []
    for contest, pc, nonces in zip(contests, pre.contests, all_nonces, strict=True):
        marked = list(choices.get(contest.label, ()))
        if len(set(marked)) != len(marked):
            raise BallotError(f"ballot {ballot_id!r} contest {contest.label!r}: an option is marked twice")
        m = len(contest.options)
        L = contest.contest_limit
        null_at = {label: j for j, (label, _) in enumerate(selection_labels(contest)) if j >= m}
        nulls = [null_at[x] for x in marked if x in null_at]
        values, data = contest_values(contest, dict.fromkeys((x for x in marked if x not in null_at), 1))
        picked = [j for j in range(m) if values[j]]
        if data.status == ContestStatus.OVERVOTE:
            nulls = []
        elif len(picked) + len(nulls) > L:
            raise BallotError(
                f"ballot {ballot_id!r} contest {contest.label!r}: {len(picked) + len(nulls)} vectors "
                f"selected, more than the limit {L}"
            )
        picked += nulls
        picked += [j for j in range(m, m + L) if j not in nulls][: L - len(picked)]  # fill up to L
        sels = []
        xi_total: Scalar | None = None
        for k, option in enumerate(contest.options):
            ct = Ciphertext.product([pc.selections[j].vector[k] for j in picked], g)
            xi_k = nonces[picked[0]][k]
            for j in picked[1:]:
                xi_k = xi_k + nonces[j][k]
            proof = prove_range(key, ctx.H_E, ct, values[k], contest.option_limit, xi_k)
            sels.append(EncryptedSelection(option.index, ct, proof))
            xi_total = xi_k if xi_total is None else xi_total + xi_k
        assert xi_total is not None  # a contest has at least one option
        agg = Ciphertext.product([s.ct for s in sels], g)
        limit_proof = prove_range(key, ctx.H_E, agg, sum(values), L, xi_total)
        chi = contest_hash(ctx.H_E, contest.index, ctx.K, [s.ct for s in sels])
        xi_d = contest_data_nonce(g, ctx.H_E, xi, contest.index, ctx.dialect)
        cdata = encrypt_contest_data(
            key,
            ctx.H_E,
            contest.index,
            data.encode(contest.data_blocks),
            xi_d,
            contest_label=contest.label,
            dialect=ctx.dialect,
        )
        enc_contests.append(EncryptedContest(contest.index, tuple(sels), limit_proof, chi, cdata))
        chosen = sorted((pc.selections[j] for j in picked), key=lambda s: s.psi)
        records.append(
            PreRecordContest(
                contest.index,
                pc.chi,
                tuple(sorted(s.psi for s in pc.selections)),
                tuple(PreSelectedVector(s.psi, s.code, s.vector) for s in chosen),
            )
        )
    ballot = EncryptedBallot(
        ballot_id, style, tuple(enc_contests), pre.code, pre.B_aux, state, device, timestamp
    )
    return RecordedPreBallot(ballot, tuple(records))


# ---------------------------------------------------------------------------------------------------
# verification (EG Verifications 15-18; specs/13-pre-encryption.md §6)
# ---------------------------------------------------------------------------------------------------


def verify_pre_encrypted_cast(ctx: ElectionContext, recorded: RecordedPreBallot) -> None:
    """V5.E, V7.A, V15-V18 on a recorded (cast) pre-encrypted ballot; raises the first failure."""
    ballot = recorded.ballot
    obj = f"ballot {ballot.ballot_id}"
    omega = ctx.manifest.short_code
    if omega is None:
        raise VerificationError("V18.A", obj, "the manifest names no short-code function")
    statements = ballot_statements(ctx, ballot, steps=("V15", "V16"))
    contests = {c.index: c for c in ctx.manifest.contests_of_style(ballot.style)}
    if [c.index for c in recorded.contests] != [c.index for c in ballot.contests]:
        raise VerificationError("V17.B", obj, "pre-encryption data is not one per contest, in order")
    g = ctx.group
    for ec, pc in zip(ballot.contests, recorded.contests, strict=True):
        contest = contests[ec.index]
        cobj = f"{obj} contest {contest.label}"
        m = len(contest.options)
        L = contest.contest_limit
        if len(pc.psis) != m + L:
            raise VerificationError("V17.B", cobj, f"{len(pc.psis)} selection hashes, not m + L = {m + L}")
        if any(a >= b for a, b in zip(pc.psis, pc.psis[1:], strict=False)):
            raise VerificationError("V17.B", cobj, "selection hashes are not strictly ascending")
        if pre_contest_hash(ctx.H_E, contest, ctx.K, pc.psis, ctx.dialect) != pc.chi:
            raise VerificationError("V17.B", cobj, "pre-encryption contest hash χ is wrong")
        if len(pc.selected) != L:
            raise VerificationError("V18.B", cobj, f"{len(pc.selected)} selected vectors, not L = {L}")
        known = set(pc.psis)
        previous = b""
        for n, sv in enumerate(pc.selected, start=1):
            vobj = f"{cobj} selected vector {n}"
            if len(sv.vector) != m:
                raise VerificationError("V17.A", vobj, f"{len(sv.vector)} encryptions, not m = {m}")
            if selection_hash(ctx.H_E, ctx.K, sv.vector) != sv.psi:
                raise VerificationError("V17.A", vobj, "selection hash ψ is wrong")
            if sv.psi not in known:
                raise VerificationError("V17.A", vobj, "ψ is not among the contest's selection hashes")
            if sv.psi <= previous:
                raise VerificationError("V17.A", vobj, "selected vectors are not distinct and ascending by ψ")
            previous = sv.psi
            if SHORT_CODES[omega](sv.psi) != sv.code:
                raise VerificationError("V18.A", vobj, f"short code {sv.code!r} is not Ω(ψ)")
        for k, sel in enumerate(ec.selections):
            if Ciphertext.product([sv.vector[k] for sv in pc.selected], g) != sel.ct:
                raise VerificationError(
                    "V18.B", f"{cobj} option {sel.index}", "not the product of the selected vectors"
                )
    chis = [pc.chi for pc in recorded.contests]
    if pre_confirmation_code(ctx.H_E, chis, ballot.B_aux, ctx.dialect) != ballot.code:
        raise VerificationError("V17.C", obj, "confirmation code is not H(B) of the contest hashes (eq. 95)")
    failures = verify_range_many(ctx.key, ctx.H_E, statements)
    if failures:
        raise failures[0]


def verify_pre_encrypted_uncast(
    ctx: ElectionContext,
    style: str,
    code: bytes,
    B_aux: bytes,
    xi: bytes,
    published: PreEncryptedBallot | None = None,
) -> None:
    """An uncast pre-encrypted ballot opened by its primary nonce ξ: the regenerated code equals the
    printed ``code`` (V17.C), short codes are distinct within each contest (V18.C) and, if given,
    the published ballot is the regenerated one (V17.A, V17.B, V18.A)."""
    obj = f"pre-encrypted ballot {code.hex()}"
    if not isinstance(xi, bytes) or len(xi) != 32:
        raise VerificationError("V17.C", obj, "the primary nonce is not 32 bytes")
    try:
        regen, _ = _pre_ballot(ctx, style, xi, B_aux)
    except BallotError as exc:
        raise VerificationError("V5.E", obj, str(exc)) from None
    if regen.code != code:
        raise VerificationError("V17.C", obj, "the primary nonce does not regenerate this confirmation code")
    clash = _first_collision(regen)
    if clash is not None:
        raise VerificationError("V18.C", obj, clash)
    if published is None or published == regen:
        return
    if published.style != style or published.code != code or published.B_aux != B_aux:
        raise VerificationError("V17.C", obj, "published style, code or B_aux differ from the ballot's")
    if [c.index for c in published.contests] != [c.index for c in regen.contests]:
        raise VerificationError("V17.B", obj, "published contests are not the style's")
    for pc, rc in zip(published.contests, regen.contests, strict=True):
        cobj = f"{obj} contest {rc.label}"
        if len(pc.selections) != len(rc.selections):
            raise VerificationError("V17.B", cobj, "published selections are not the contest's m + L")
        for ps, rs in zip(pc.selections, rc.selections, strict=True):
            sobj = f"{cobj} selection {rs.label}"
            if ps.vector != rs.vector or ps.label != rs.label or ps.index != rs.index:
                raise VerificationError("V17.A", sobj, "published vector differs from the regenerated one")
            if ps.psi != rs.psi:
                raise VerificationError("V17.A", sobj, "published selection hash differs")
            if ps.code != rs.code:
                raise VerificationError("V18.A", sobj, f"published short code {ps.code!r} is not Ω(ψ)")
        if pc != rc:
            raise VerificationError("V17.B", cobj, "published contest hash χ differs")
