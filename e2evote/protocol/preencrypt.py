"""Pre-encrypted ballots (EG 2.0 §4; specs/13-pre-encryption.md).

The encrypting tool (:func:`pre_encrypt_ballot`) derives, from one primary nonce ξ, a selection
vector per option and L null vectors per contest, their selection hashes ψ and short codes ω, the
contest hashes χ and the ballot's confirmation code, all before the voter marks anything. The
recording tool (:func:`record_pre_encrypted`) regenerates them from ξ and turns the marked options into
an ordinary :class:`~e2evote.protocol.ballot.EncryptedBallot` with ordinary proofs, plus what the
record publishes of the pre-encryption (``EncryptedBallot.pre``). :func:`verify_pre_encrypted_cast`
and :func:`verify_pre_encrypted_uncast` are EG Verifications 15-18; the hashes and the checks of the
published data live with the ballot (:mod:`e2evote.protocol.ballot`), which every ballot check uses.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from e2evote.elgamal import Ciphertext, HashedCiphertext
from e2evote.errors import BallotError, E2EVoteError, VerificationError
from e2evote.groups.base import Group, Scalar
from e2evote.hashing import Dialect, H, Tag, b_u32
from e2evote.proofs.range import prove_range
from e2evote.protocol.ballot import (
    BallotState,
    ContestStatus,
    EncryptedBallot,
    EncryptedContest,
    EncryptedSelection,
    PlaintextBallot,
    PreRecordContest,
    PreSelectedVector,
    check_ballot_proofs,
    contest_data_of,
    contest_hash,
    contest_values,
    pre_confirmation_code,
    pre_contest_hash,
    selection_hash,
    verify_ballot_nonce,
)
from e2evote.protocol.election import ElectionContext
from e2evote.protocol.manifest import Contest
from e2evote.protocol.shortcodes import SHORT_CODE_SPACE, short_code

__all__ = [
    "PreSelection",
    "PreContest",
    "PreEncryptedBallot",
    "selection_labels",
    "pre_nonce",
    "pre_encrypt_ballot",
    "record_pre_encrypted",
    "MarkedBallot",
    "resolve_marks",
    "verify_pre_encrypted_cast",
    "verify_pre_encrypted_uncast",
    "verify_pre_ballot_nonce",
    "verify_opening",
]

_NULL = re.compile(r"null[0-9]+")
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
    """ind_o of the option, or (largest ind_o) + ℓ for ``nullℓ`` (specs/13 §1)"""
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


# ---------------------------------------------------------------------------------------------------
# values (eq. 91-96)
# ---------------------------------------------------------------------------------------------------


def selection_labels(contest: Contest) -> list[tuple[str, int]]:
    """(label, index) of the m options in ind_o order, then ``null1`` … ``nullL`` numbered on from the
    largest option index (m+1 … m+L in a native manifest; specs/13 §1): no null shares an index with
    an option, so no nonce ξ_{i,j,k} of a null vector is an option vector's."""
    top = max(o.index for o in contest.options)
    return [(o.label, o.index) for o in contest.options] + [
        (f"null{ell}", top + ell) for ell in range(1, contest.contest_limit + 1)
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


def _omega(ctx: ElectionContext) -> str:
    name = ctx.manifest.short_code
    if name is None:
        raise BallotError("the manifest names no short-code function (short_code), needed for pre-encryption")
    return name


def _vectors(
    ctx: ElectionContext, xi: bytes, contest: Contest
) -> list[tuple[tuple[str, int], tuple[Ciphertext, ...], list[Scalar]]]:
    """Every selection label of ``contest`` in order, with its vector and nonces ξ_{i,j,k}."""
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
        out.append((sel, vector, nonces))
    return out


def _pre_contest(
    ctx: ElectionContext, xi: bytes, contest: Contest, omega: str
) -> tuple[PreContest, list[list[Scalar]]]:
    sels = []
    nonces = []
    for (label, index), vector, ns in _vectors(ctx, xi, contest):
        psi = selection_hash(ctx.H_E, ctx.K, vector)
        sels.append(PreSelection(label, index, vector, psi, short_code(omega, psi)))
        nonces.append(ns)
    chi = pre_contest_hash(ctx.H_E, contest, ctx.K, [s.psi for s in sels], ctx.dialect)
    return PreContest(contest.index, contest.label, tuple(sels), chi), nonces


def _style(ctx: ElectionContext, style: str) -> tuple[Contest, ...]:
    try:
        contests = ctx.manifest.contests_of_style(style)
    except E2EVoteError as exc:
        raise BallotError(f"pre-encrypted ballot: {exc}") from None
    for c in contests:
        clash = [o.label for o in c.options if _NULL.fullmatch(o.label)]
        if clash:
            raise BallotError(
                f"contest {c.label!r}: option label {clash[0]!r} has the form of a null label; "
                "pre-encryption names its null vectors null1, null2, … (EG §4.2.1)"
            )
    return contests


def _pre_ballot(
    ctx: ElectionContext,
    style: str,
    xi: bytes,
    B_aux: bytes | None,
    on_style: Sequence[Contest] | None = None,
) -> tuple[PreEncryptedBallot, list[list[list[Scalar]]]]:
    _check_xi(xi)
    omega = _omega(ctx)
    contests = []
    nonces = []
    for contest in _style(ctx, style) if on_style is None else on_style:
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
    contests = _style(ctx, style)
    for contest in contests:
        n = len(contest.options) + contest.contest_limit
        if _distinct_chance(n, SHORT_CODE_SPACE[omega]) < MIN_DISTINCT_CHANCE:
            raise BallotError(
                f"pre-encrypted ballot: contest {contest.label!r} needs {n} distinct short codes, too many "
                f"for short_code {omega!r} ({SHORT_CODE_SPACE[omega]} codes); choose a larger function "
                "such as omega2"
            )
    if xi is not None:
        ballot, _ = _pre_ballot(ctx, style, xi, B_aux, contests)
        clash = _first_collision(ballot)
        if clash is not None:
            raise BallotError(f"pre-encrypted ballot: {clash}; draw another primary nonce")
        return ballot, xi
    for _ in range(MAX_DRAWS):
        xi = secrets.token_bytes(32)
        ballot, _ = _pre_ballot(ctx, style, xi, B_aux, contests)
        clash = _first_collision(ballot)
        if clash is None:
            return ballot, xi
    raise BallotError(
        f"pre-encrypted ballot: short codes kept repeating over {MAX_DRAWS} primary nonces ({clash}); "
        "the manifest's short_code function has too few codes for these contests"
    )


@dataclass(frozen=True, slots=True)
class _RecordedContest:
    """The deterministic part of a recorded contest: values, selection encryptions with their summed
    nonces, contest data and the published pre-encryption data."""

    values: list[int] = field(repr=False)
    cts: list[Ciphertext]
    nonces: list[Scalar] = field(repr=False)
    data: HashedCiphertext
    pre: PreRecordContest


def _record_contest(
    ctx: ElectionContext,
    xi: bytes,
    contest: Contest,
    pc: PreContest,
    nonces: list[list[Scalar]],
    marked: Sequence[str],
    what: str,
) -> _RecordedContest:
    if len(set(marked)) != len(marked):
        raise BallotError(f"{what} contest {contest.label!r}: an option is marked twice")
    g = ctx.group
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
            f"{what} contest {contest.label!r}: {len(picked) + len(nulls)} vectors selected, more than "
            f"the limit {L}"
        )
    picked += nulls
    picked += [j for j in range(m, m + L) if j not in nulls][: L - len(picked)]  # fill up to L
    cts = []
    sums = []
    for k in range(m):
        cts.append(Ciphertext.product([pc.selections[j].vector[k] for j in picked], g))
        xi_k = nonces[picked[0]][k]
        for j in picked[1:]:
            xi_k = xi_k + nonces[j][k]
        sums.append(xi_k)
    cdata = contest_data_of(ctx, xi, contest, data.encode(contest.data_blocks))
    chosen = sorted((pc.selections[j] for j in picked), key=lambda s: s.psi)
    pre = PreRecordContest(
        contest.index,
        pc.chi,
        tuple(sorted(s.psi for s in pc.selections)),
        tuple(PreSelectedVector(s.psi, s.code, s.vector) for s in chosen),
    )
    return _RecordedContest(values, cts, sums, cdata, pre)


def _marks(contests: Sequence[Contest], style: str, choices: Mapping[str, Sequence[str]], what: str) -> None:
    unknown = set(choices) - {c.label for c in contests}
    if unknown:
        raise BallotError(f"{what}: contest(s) not on style {style!r}: {', '.join(sorted(unknown))}")


@dataclass(frozen=True, slots=True)
class MarkedBallot:
    """What :func:`record_pre_encrypted` recorded: the ballot, and the marks as selection labels (option or
    null labels, short codes resolved) per contest, e.g. for the voter's claim when challenging."""

    ballot: EncryptedBallot
    choices: Mapping[str, tuple[str, ...]]


def resolve_marks(
    ballot: PreEncryptedBallot, marks: Mapping[str, Sequence[str]], what: str = "marks"
) -> dict[str, list[str]]:
    """The marks read from a printed ballot as selection labels: each mark is an option's label, a
    null label (``nullℓ``) or the short code printed beside one of them (specs/13 §5). A mark that is
    the label of one selection and the short code of another is refused (a scanner must not guess:
    numeric labels with numeric codes), as is a mark that is neither; contests not on the ballot are
    refused."""
    by_label = {c.label: c for c in ballot.contests}
    out: dict[str, list[str]] = {}
    for contest, given in marks.items():
        pc = by_label.get(contest)
        if pc is None:
            raise BallotError(f"{what}: contest(s) not on style {ballot.style!r}: {contest}")
        labels = {s.label for s in pc.selections}
        codes = {s.code: s.label for s in pc.selections}
        chosen = []
        for x in given:
            if x in labels and x in codes and codes[x] != x:
                raise BallotError(
                    f"{what}: {x!r} is an option of contest {contest!r} and the short code of "
                    f"{codes[x]!r}; give the other one"
                )
            if x in labels:
                chosen.append(x)
            elif x in codes:
                chosen.append(codes[x])
            else:
                raise BallotError(
                    f"{what}: {x!r} is neither an option nor a short code of contest {contest!r}"
                )
        out[contest] = chosen
    return out


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
) -> MarkedBallot:
    """Record a marked pre-encrypted ballot (EG §4.3): ``choices`` maps a contest label to the options
    the voter marked (a contest left out is a null vote), each given by its label, a null label
    ``nullℓ``, or the short code printed beside it (:func:`resolve_marks`: what a scanner reads).
    Each contest takes the marked vectors and further null vectors up to exactly L (an overvote takes
    the L null vectors and records OVERVOTE in the contest data); selections are their component-wise
    products, proved with the summed nonces.
    The result's ballot is an :class:`EncryptedBallot` with ``pre`` set, whose code is the printed
    H(B); its choices are the marks as selection labels."""
    what = f"ballot {ballot_id!r}"
    contests = _style(ctx, style)
    _marks(contests, style, choices, what)
    pre, all_nonces = _pre_ballot(ctx, style, xi, B_aux, contests)
    clash = _first_collision(pre)
    if (
        clash is not None
    ):  # never printed (pre_encrypt_ballot refuses it): a voter could not tell options apart
        raise BallotError(f"{what}: {clash} on the ballot of this primary nonce")
    choices = resolve_marks(pre, choices, what)
    key = ctx.key
    enc_contests = []
    for contest, pc, nonces in zip(contests, pre.contests, all_nonces, strict=True):
        rc = _record_contest(ctx, xi, contest, pc, nonces, list(choices.get(contest.label, ())), what)
        sels = tuple(
            EncryptedSelection(o.index, ct, prove_range(key, ctx.H_E, ct, v, contest.option_limit, n))
            for o, ct, v, n in zip(contest.options, rc.cts, rc.values, rc.nonces, strict=True)
        )
        xi_total = rc.nonces[0]
        for n in rc.nonces[1:]:
            xi_total = xi_total + n
        agg = Ciphertext.product(rc.cts, ctx.group)
        limit_proof = prove_range(key, ctx.H_E, agg, sum(rc.values), contest.contest_limit, xi_total)
        chi = contest_hash(ctx.H_E, contest.index, ctx.K, rc.cts)
        enc_contests.append((EncryptedContest(contest.index, sels, limit_proof, chi, rc.data), rc.pre))
    ballot = EncryptedBallot(
        ballot_id,
        style,
        tuple(c for c, _ in enc_contests),
        pre.code,
        pre.B_aux,
        state,
        device,
        timestamp,
        tuple(p for _, p in enc_contests),
    )
    return MarkedBallot(ballot, {c: tuple(x) for c, x in choices.items()})


# ---------------------------------------------------------------------------------------------------
# verification (EG Verifications 15-18; specs/13-pre-encryption.md §6)
# ---------------------------------------------------------------------------------------------------


def verify_pre_encrypted_cast(ctx: ElectionContext, ballot: EncryptedBallot) -> None:
    """V5.E, V7.A, V15-V18 on a recorded pre-encrypted ballot (:func:`check_ballot_proofs`, which
    takes a ballot's ``pre`` data into account); raises the first failure, and V17.B if the ballot
    carries no pre-encryption data."""
    if ballot.pre is None:
        raise VerificationError("V17.B", f"ballot {ballot.ballot_id}", "not a pre-encrypted ballot")
    check_ballot_proofs(ctx, ballot)


def _regenerated(
    ctx: ElectionContext, style: str, code: bytes, B_aux: bytes, xi: bytes, obj: str
) -> tuple[PreEncryptedBallot, list[list[list[Scalar]]]]:
    """The printed ballot ξ regenerates, with its nonces, once it checks against the printed code
    (V17.C) and its short codes are distinct within each contest (V18.C)."""
    if not isinstance(xi, bytes) or len(xi) != 32:
        raise VerificationError("V17.C", obj, "the primary nonce is not 32 bytes")
    try:
        regen, nonces = _pre_ballot(ctx, style, xi, B_aux)
    except BallotError as exc:
        raise VerificationError("V5.E", obj, str(exc)) from None
    if regen.code != code:
        raise VerificationError("V17.C", obj, "the primary nonce does not regenerate this confirmation code")
    clash = _first_collision(regen)
    if clash is not None:
        raise VerificationError("V18.C", obj, clash)
    return regen, nonces


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
    regen, _ = _regenerated(ctx, style, code, B_aux, xi, obj)
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


def verify_pre_ballot_nonce(
    ctx: ElectionContext, ballot: EncryptedBallot, xi: bytes, claimed: PlaintextBallot
) -> None:
    """A challenged recorded pre-encrypted ballot opened by its primary nonce ξ (the V13.N analogue,
    specs/13-pre-encryption.md §6): ξ regenerates the printed ballot (V17.C, V18.C), and recording
    the claimed marks with ξ gives exactly the ballot's selections, contest data and pre-encryption
    data (V13.N.B). The claimed votes name options and the null labels the voter marked, each 0 or 1;
    anything else is V13.B."""
    obj = f"ballot {ballot.ballot_id}"
    if claimed.style != ballot.style or claimed.ballot_id != ballot.ballot_id:
        raise VerificationError(
            "V13.N.A", obj, "claimed ballot id or style differs from the encrypted ballot's"
        )
    pre, all_nonces = _regenerated(
        ctx, ballot.style, ballot.code, ballot.B_aux, xi, f"pre-encrypted ballot {ballot.code.hex()}"
    )
    contests = _style(ctx, ballot.style)  # the style is known: ξ regenerated it
    indices = [c.index for c in contests]
    if [c.index for c in ballot.contests] != indices or [p.index for p in ballot.pre or ()] != indices:
        raise VerificationError(
            "V13.N.A", obj, "contests or pre-encryption data are not one per contest of the style, in order"
        )
    by_label = {c.label: c for c in contests}
    marks: dict[str, list[str]] = {}
    for contest_label, votes in claimed.votes.items():
        contest = by_label.get(contest_label)
        if contest is None:
            raise VerificationError("V13.B", obj, f"claimed contest {contest_label!r} is not on the style")
        known = {label for label, _ in selection_labels(contest)}
        for label, v in votes.items():
            if label not in known:
                raise VerificationError(
                    "V13.B",
                    obj,
                    f"contest {contest_label!r}: {label!r} is neither an option nor a null label",
                )
            if type(v) is not int or v not in (0, 1):
                raise VerificationError(
                    "V13.B", obj, f"contest {contest_label!r}: a claimed value is not 0 or 1"
                )
        marks[contest_label] = [o for o, v in votes.items() if v]
    if any(claimed.write_ins.values()):
        raise VerificationError("V13.B", obj, "a pre-encrypted ballot has no write-ins")
    try:
        recorded = [
            _record_contest(ctx, xi, c, pc, ns, marks.get(c.label, []), obj)
            for c, pc, ns in zip(contests, pre.contests, all_nonces, strict=True)
        ]
    except BallotError as exc:
        raise VerificationError("V13.B", obj, str(exc)) from None
    assert ballot.pre is not None  # its indices matched the style's
    for contest, ec, pc, rc in zip(contests, ballot.contests, ballot.pre, recorded, strict=True):
        if [s.ct for s in ec.selections] != rc.cts:
            raise VerificationError(
                "V13.N.B", obj, f"contest {contest.label!r}: selections are not the claimed marks' vectors"
            )
        if ec.data != rc.data:
            raise VerificationError(
                "V13.N.B", obj, f"contest data of {contest.label!r} is not the claimed marks' with this nonce"
            )
        if pc != rc.pre:
            raise VerificationError(
                "V13.N.B", obj, f"pre-encryption data of {contest.label!r} is not the claimed marks'"
            )


def verify_opening(
    ctx: ElectionContext, ballot: EncryptedBallot, nonce: bytes, claimed: PlaintextBallot
) -> None:
    """A challenged ballot opened by its nonce (V13.N): :func:`verify_ballot_nonce` (ξ_B) for an
    ordinary ballot, :func:`verify_pre_ballot_nonce` (the primary nonce ξ) for a pre-encrypted one.
    What the verifier checks, and what the ballot box checks before it publishes an opening."""
    opening = verify_ballot_nonce if ballot.pre is None else verify_pre_ballot_nonce
    opening(ctx, ballot, nonce, claimed)
