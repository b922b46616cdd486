"""Ballot encryption, contest data, contest hashes, confirmation codes and chaining
(EG 2.0 §3.3-3.4; specs/06-ballots.md).

``encrypt_ballot`` turns a plaintext ballot into an :class:`EncryptedBallot` whose every selection
carries a 0..R range proof and every contest a 0..L limit proof; all selection nonces derive from one
32-byte ballot nonce ξ_B (eq. 25), so releasing ξ_B opens a challenged ballot and anyone can
re-encrypt and compare (:func:`verify_ballot_nonce`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TypeVar

from e2evote.elgamal import (
    Ciphertext,
    HashedCiphertext,
    contest_data_nonce,
    encrypt_contest_data,
    selection_nonce,
)
from e2evote.encoding import pack
from e2evote.errors import BallotError, E2EVoteError, EncodingError, VerificationError
from e2evote.groups.base import Element, Scalar
from e2evote.hashing import Dialect, H, Tag, b_file, b_u32
from e2evote.proofs.range import RangeProof, RangeStatement, prove_range, verify_range_many
from e2evote.protocol.election import ElectionContext
from e2evote.protocol.manifest import Contest
from e2evote.protocol.shortcodes import short_code

__all__ = [
    "BallotState",
    "ContestStatus",
    "PlaintextBallot",
    "EncryptedSelection",
    "EncryptedContest",
    "EncryptedBallot",
    "ContestData",
    "Device",
    "encrypt_ballot",
    "contest_hash",
    "confirmation_code",
    "chain_initial_hash",
    "chain_close_hash",
    "device_info",
    "expected_baux",
    "chain_order",
    "chain_link",
    "ChainLink",
    "verify_ballot_nonce",
    "ballot_id_bytes",
    "alpha_key",
    "ALPHA_KEY_BYTES",
    "ballot_checks",
    "BallotChecks",
    "contest_values",
    "contest_data_of",
    "range_steps",
    "PreSelectedVector",
    "PreRecordContest",
    "selection_hash",
    "pre_contest_hash",
    "pre_confirmation_code",
    "pre_encryption_failures",
]


class BallotState(StrEnum):
    CAST = "cast"
    CHALLENGED = "challenged"


class ContestStatus:
    """Contest data status codes (same numbering as egk's ContestData.Status)."""

    NORMAL = 0
    NULL_VOTE = 1
    OVERVOTE = 2
    UNDERVOTE = 3


@dataclass(frozen=True, slots=True)
class PlaintextBallot:
    """A voter's choices: contest label -> option label -> value (missing options count 0)."""

    ballot_id: str
    style: str
    votes: Mapping[str, Mapping[str, int]]
    write_ins: Mapping[str, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EncryptedSelection:
    """One option's encryption (α, β) with its 0..R range proof (eq. 24, 44-48)."""

    index: int
    """ind_o"""
    ct: Ciphertext
    proof: RangeProof


@dataclass(frozen=True, slots=True)
class EncryptedContest:
    """A contest on a ballot: selections, limit proof (eq. 56), contest hash χ (eq. 57), contest data."""

    index: int
    """ind_c"""
    selections: tuple[EncryptedSelection, ...]
    proof: RangeProof
    chi: bytes
    """χ_l = H(H_E; 0x23, ind_c, K, α_1, β_1, …)"""
    data: HashedCiphertext | None

    def aggregate(self, group_identity: Element) -> Ciphertext:
        """(ᾱ, β̄) = (Π α_i, Π β_i) over the contest's selections (6.1, 6.2)."""
        a = group_identity
        b = group_identity
        for s in self.selections:
            a = a * s.ct.alpha
            b = b * s.ct.beta
        return Ciphertext(a, b)


@dataclass(frozen=True, slots=True)
class PreSelectedVector:
    """A pre-encrypted vector the voter selected, as the record publishes it (EG §4.4): its selection
    hash ψ (eq. 92-93), short code ω = Ω(ψ) and the m encryptions."""

    psi: bytes
    code: str
    vector: tuple[Ciphertext, ...]


@dataclass(frozen=True, slots=True)
class PreRecordContest:
    """The pre-encryption data of one contest of a recorded pre-encrypted ballot (EG §4.4;
    specs/13-pre-encryption.md §5)."""

    index: int
    """ind_c, as the ballot contest it belongs to"""
    chi: bytes
    """χ_i = H(H_E; 0x41, ind_c, K, ψ's ascending) (eq. 94)"""
    psis: tuple[bytes, ...]
    """all m + L selection hashes, ascending"""
    selected: tuple[PreSelectedVector, ...]
    """the L selected vectors, ascending by ψ"""


@dataclass(frozen=True, slots=True)
class EncryptedBallot:
    """An encrypted ballot as published (EG 2.0 §3.7)."""

    ballot_id: str
    style: str
    contests: tuple[EncryptedContest, ...]
    code: bytes
    """the confirmation code H(B) (eq. 58; eq. 95 for a pre-encrypted ballot)"""
    B_aux: bytes
    state: BallotState
    device: str = ""
    timestamp: int = 0
    pre: tuple[PreRecordContest, ...] | None = None
    """a recorded pre-encrypted ballot's pre-encryption data, one per contest (EG §4.4); None for a
    ballot encrypted after the voter chose"""

    def with_state(self, state: BallotState) -> EncryptedBallot:
        return replace(self, state=state)


def ballot_id_bytes(ballot_id: str) -> bytes:
    """A ballot id as bytes, for fingerprints and packed tables (UTF-8 with lone surrogates kept:
    injective on every ``str``)."""
    return ballot_id.encode("utf-8", "surrogatepass")


def _is_int(x: object) -> bool:
    """An integer that is not a bool (msgpack true is not 1: one value, one encoding)."""
    return isinstance(x, int) and not isinstance(x, bool)


# ---------------------------------------------------------------------------------------------------
# contest data (native e2evote format, specs/06-ballots.md §Contest data)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContestData:
    """Overvote/undervote/null-vote status, the overvoted options and write-in texts."""

    status: int
    overvotes: tuple[int, ...] = ()
    write_ins: tuple[str, ...] = ()
    truncated: bool = False

    def encode(self, blocks: int) -> bytes:
        """D = b(len, 2) || msgpack{o, s, t, w} || 0x00 padding, exactly 32·b_D bytes.

        Write-ins that do not fit are dropped from the end and ``t`` (truncated) is set.
        """
        size = 32 * blocks
        w = list(self.write_ins)
        truncated = self.truncated
        while True:
            body = pack({"o": list(self.overvotes), "s": self.status, "t": truncated, "w": w})
            if len(body) + 2 <= size:
                return (len(body).to_bytes(2, "big") + body).ljust(size, b"\x00")
            if not w:
                raise BallotError("contest data does not fit even without write-ins")
            w = w[:-1]
            truncated = True

    @staticmethod
    def decode(data: bytes) -> ContestData:
        if len(data) < 2:
            raise EncodingError("contest data too short")
        n = int.from_bytes(data[:2], "big")
        if n + 2 > len(data) or any(data[2 + n :]):
            raise EncodingError("contest data length or padding is wrong")
        from e2evote.encoding import unpack

        obj = unpack(data[2 : 2 + n], max_bytes=len(data))
        if not isinstance(obj, dict) or set(obj) != {"o", "s", "t", "w"}:
            raise EncodingError("contest data has the wrong fields")
        o, s, t, w = obj["o"], obj["s"], obj["t"], obj["w"]
        if (
            not _is_int(s)
            or not isinstance(t, bool)
            or not isinstance(o, list)
            or not all(_is_int(x) for x in o)
            or not isinstance(w, list)
            or not all(isinstance(x, str) for x in w)
        ):
            raise EncodingError("contest data has fields of the wrong type")
        if s not in (
            ContestStatus.NORMAL,
            ContestStatus.NULL_VOTE,
            ContestStatus.OVERVOTE,
            ContestStatus.UNDERVOTE,
        ):
            raise EncodingError(f"contest data status {s} is unknown")
        return ContestData(s, tuple(o), tuple(w), t)


# ---------------------------------------------------------------------------------------------------
# hashes (eq. 57-61)
# ---------------------------------------------------------------------------------------------------


def contest_hash(H_E: bytes, contest_index: int, K: Element, cts: Sequence[Ciphertext]) -> bytes:
    """χ_l = H(H_E; 0x23, ind_c(Λ_l), K, α_1, β_1, …, α_m, β_m) (eq. 57)."""
    return H(H_E, Tag.CONTEST_HASH, b_u32(contest_index), *_ct_parts(K, cts))


def _baux(B_aux: bytes, dialect: Dialect) -> bytes:
    return b_file(B_aux) if dialect.baux_length_prefix else B_aux


def confirmation_code(H_E: bytes, chis: Sequence[bytes], B_aux: bytes, dialect: Dialect) -> bytes:
    """H(B) = H(H_E; 0x24, χ_1, …, χ_mB, B_aux) (eq. 58; egk omits B_aux's length)."""
    return H(H_E, Tag.CONFIRMATION_CODE, *chis, _baux(B_aux, dialect))


def chain_initial_hash(H_E: bytes, B_aux0: bytes, dialect: Dialect) -> bytes:
    """H_0 = H(H_E; 0x24, B_aux,0) (eq. 59)."""
    return H(H_E, Tag.CONFIRMATION_CODE, _baux(B_aux0, dialect))


def chain_close_hash(H_E: bytes, last_code: bytes, B_aux0: bytes) -> bytes:
    """H = H(H_E; 0x24, H(B_ℓ) || b(len B_aux,0, 4) || B_aux,0 || b(5, 4) || "CLOSE") (eq. 61, §5.5.3)."""
    return H(H_E, Tag.CONFIRMATION_CODE, last_code, b_file(B_aux0), b_file(b"CLOSE"))


def device_info(ctx: ElectionContext, device: str) -> bytes:
    """B_aux,0 of the device named ``device``: its name's UTF-8 bytes (native records); an egk record
    states one for every device (its election config's ``device_info``)."""
    if ctx.dialect.chain_first_baux_is_h0_only and ctx.manifest.device_info:
        return ctx.manifest.device_info
    return device.encode("utf-8")


def expected_baux(ctx: ElectionContext, info: bytes, last_code: bytes | None) -> bytes:
    """With chaining, the B_aux that a device with B_aux,0 = ``info`` gives its next ballot (V7.D-E):
    after ``last_code``, the code of its previous ballot, ``H(B_prev) || B_aux,0`` (eq. 60); for its
    first ballot ``H_0 || B_aux,0`` with H_0 of eq. 59 (egk: H_0 alone)."""
    if last_code is not None:
        return last_code + info
    h0 = chain_initial_hash(ctx.H_E, info, ctx.dialect)
    return h0 if ctx.dialect.chain_first_baux_is_h0_only else h0 + info


_T = TypeVar("_T")


ChainLink = tuple[str, bytes, bytes]
"""(device, B_aux, confirmation code): what :func:`chain_order` needs of a ballot"""


def chain_link(ballot: EncryptedBallot) -> ChainLink | None:
    """The ballot's place in its device's chain; None for a pre-encrypted ballot (it chains to no
    device, EG §4)."""
    return None if ballot.pre is not None else (ballot.device, ballot.B_aux, ballot.code)


def chain_order(
    ctx: ElectionContext, items: Sequence[_T], link: Callable[[_T], ChainLink | None]
) -> tuple[list[_T], list[_T]]:
    """``(ordered, unchained)``: ``items`` in an order in which every device's ballots follow its
    chain (V7.D-E), and those that no chain reaches; ``link(item)`` is the item's :func:`chain_link`
    (so that callers may keep just that of each ballot).

    Without chaining, the items as given. With chaining, each device's chain is followed from its
    start (:func:`expected_baux`), a link at a time, taking the first item, in the given order, that
    carries the expected B_aux; a device's chain is placed where its first item was, and items with
    no link stay in place. The unchained items — after a ballot missing from ``items``, repeating a
    chain position, or of another device's information — come last, in the given order: a record
    listing them so fails V7.D or V7.E on at least the first of each device's, and on no item a chain
    reached."""
    if not ctx.manifest.chaining:
        return list(items), []
    links = [link(item) for item in items]
    waiting: dict[tuple[str, bytes], list[int]] = {}
    for k, lk in enumerate(links):
        if lk is not None:
            waiting.setdefault((lk[0], lk[1]), []).append(k)
    ordered: list[_T] = []
    placed = [False] * len(items)
    started: set[str] = set()
    for k, lk in enumerate(links):
        if lk is None:
            ordered.append(items[k])
            placed[k] = True
            continue
        device = lk[0]
        if device in started:
            continue
        started.add(device)
        info = device_info(ctx, device)
        last: bytes | None = None
        while True:
            ks = waiting.get((device, expected_baux(ctx, info, last)))
            if not ks:
                break
            j = ks.pop(0)
            placed[j] = True
            ordered.append(items[j])
            lj = links[j]
            assert lj is not None  # only items with a link wait in a chain
            last = lj[2]
    unchained = [item for k, item in enumerate(items) if not placed[k]]
    return ordered + unchained, unchained


def _ct_parts(K: Element, cts: Sequence[Ciphertext]) -> list[bytes]:
    parts = [K.to_bytes()]
    for ct in cts:
        parts += [ct.alpha.to_bytes(), ct.beta.to_bytes()]
    return parts


def selection_hash(H_E: bytes, K: Element, vector: Sequence[Ciphertext]) -> bytes:
    """ψ = H(H_E; 0x40, K, α_1, β_1, …, α_m, β_m) (eq. 92-93)."""
    return H(H_E, Tag.PRE_SELECTION_HASH, *_ct_parts(K, vector))


def pre_contest_hash(
    H_E: bytes, contest: Contest, K: Element, psis: Sequence[bytes], dialect: Dialect
) -> bytes:
    """χ = H(H_E; 0x41, ind_c, K, ψ's ascending) (eq. 94; labels as text: the contest label's UTF-8)."""
    head = contest.label.encode() if dialect.pre_labels_as_text else b_u32(contest.index)
    return H(H_E, Tag.PRE_CONTEST_HASH, head, K.to_bytes(), *sorted(psis))


def pre_confirmation_code(H_E: bytes, chis: Sequence[bytes], B_aux: bytes, dialect: Dialect) -> bytes:
    """H(B) = H(H_E; 0x42, χ_1, …, χ_mB, B_aux) (eq. 95; B_aux as in eq. 58, by dialect)."""
    return H(H_E, Tag.PRE_BALLOT_HASH, *chis, _baux(B_aux, dialect))


class Device:
    """An encrypting device with device information B_aux,0 (default: :func:`device_info`, in native
    records its name's UTF-8 bytes; egk's vectors use arbitrary bytes). With chaining, each
    B_aux,j = H(B_{j-1}) || B_aux,0 (eq. 60)."""

    __slots__ = ("ctx", "name", "info", "chaining", "_last", "count")

    def __init__(
        self, ctx: ElectionContext, name: str, chaining: bool | None = None, *, info: bytes | None = None
    ) -> None:
        self.ctx = ctx
        self.name = name
        self.info = info if info is not None else device_info(ctx, name)
        self.chaining = ctx.manifest.chaining if chaining is None else chaining
        self._last: bytes | None = None
        self.count = 0

    def next_baux(self) -> bytes:
        if not self.chaining:
            return self.info
        return expected_baux(self.ctx, self.info, self._last)

    def record(self, code: bytes) -> None:
        self._last = code
        self.count += 1

    def resume(self, last_code: bytes | None, count: int) -> None:
        """Restore the chain position of a device that encrypted ``count`` ballots already."""
        self._last = last_code
        self.count = count

    def close(self) -> bytes:
        """The closing hash (eq. 61); raises if no ballot was encrypted."""
        if self._last is None:
            raise BallotError(f"device {self.name!r} encrypted no ballot; nothing to close")
        return chain_close_hash(self.ctx.H_E, self._last, self.info)


# ---------------------------------------------------------------------------------------------------
# encryption
# ---------------------------------------------------------------------------------------------------


def contest_values(contest: Contest, votes: Mapping[str, int]) -> tuple[list[int], ContestData]:
    known = {o.label for o in contest.options}
    unknown = set(votes) - known
    if unknown:
        raise BallotError(f"contest {contest.label!r}: unknown option(s) {', '.join(sorted(unknown))}")
    values = []
    for o in contest.options:
        v = votes.get(o.label, 0)
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= contest.option_limit:
            raise BallotError(
                f"contest {contest.label!r} option {o.label!r}: value {v!r} outside 0..{contest.option_limit}"
            )
        values.append(v)
    total = sum(values)
    if total > contest.contest_limit:
        over = tuple(o.index for o, v in zip(contest.options, values, strict=True) if v)
        return [0] * len(values), ContestData(ContestStatus.OVERVOTE, over)
    if total == 0:
        return values, ContestData(ContestStatus.NULL_VOTE)
    if total < contest.contest_limit:
        return values, ContestData(ContestStatus.UNDERVOTE)
    return values, ContestData(ContestStatus.NORMAL)


def contest_data_of(ctx: ElectionContext, xi_B: bytes, contest: Contest, D: bytes) -> HashedCiphertext:
    """C_D: the contest data D encrypted with the nonce eq. 50 derives from the ballot nonce ξ_B (the
    primary nonce ξ of a pre-encrypted ballot) — deterministic, so an opening re-encrypts and compares."""
    xi_d = contest_data_nonce(ctx.group, ctx.H_E, xi_B, contest.index, ctx.dialect)
    return encrypt_contest_data(
        ctx.key, ctx.H_E, contest.index, D, xi_d, contest_label=contest.label, dialect=ctx.dialect
    )


def encrypt_ballot(
    ctx: ElectionContext,
    ballot: PlaintextBallot,
    *,
    device: Device | None = None,
    xi_B: bytes | None = None,
    timestamp: int = 0,
    state: BallotState = BallotState.CAST,
) -> tuple[EncryptedBallot, bytes]:
    """Encrypt ``ballot``; returns the encrypted ballot and its ballot nonce ξ_B (keep it secret,
    release it only to open a challenged ballot)."""
    group = ctx.group
    manifest = ctx.manifest
    try:
        contests = manifest.contests_of_style(ballot.style)
    except Exception as exc:
        raise BallotError(f"ballot {ballot.ballot_id!r}: {exc}") from exc
    unknown = (set(ballot.votes) | set(ballot.write_ins)) - {c.label for c in contests}
    if unknown:
        raise BallotError(
            f"ballot {ballot.ballot_id!r}: contest(s) not on style {ballot.style!r}: "
            + ", ".join(sorted(unknown))
        )
    if xi_B is None:
        xi_B = secrets.token_bytes(32)
    key = ctx.key
    enc_contests = []
    for contest in contests:
        values, data = contest_values(contest, ballot.votes.get(contest.label, {}))
        if ballot.write_ins.get(contest.label):
            data = ContestData(data.status, data.overvotes, tuple(ballot.write_ins[contest.label]))
        sels = []
        nonces: list[Scalar] = []
        for option, sigma in zip(contest.options, values, strict=True):
            xi = selection_nonce(group, ctx.H_E, xi_B, contest.index, option.index)
            ct = key.encrypt(sigma, xi)
            proof = prove_range(key, ctx.H_E, ct, sigma, contest.option_limit, xi)
            sels.append(EncryptedSelection(option.index, ct, proof))
            nonces.append(xi)
        agg = Ciphertext.product([s.ct for s in sels], group)
        xi_sum = nonces[0]
        for x in nonces[1:]:
            xi_sum = xi_sum + x
        limit_proof = prove_range(key, ctx.H_E, agg, sum(values), contest.contest_limit, xi_sum)
        chi = contest_hash(ctx.H_E, contest.index, ctx.K, [s.ct for s in sels])
        cdata = contest_data_of(ctx, xi_B, contest, data.encode(contest.data_blocks))
        enc_contests.append(EncryptedContest(contest.index, tuple(sels), limit_proof, chi, cdata))
    B_aux = device.next_baux() if device is not None else manifest.device_info
    code = confirmation_code(ctx.H_E, [c.chi for c in enc_contests], B_aux, ctx.dialect)
    if device is not None:
        device.record(code)
    enc = EncryptedBallot(
        ballot.ballot_id,
        ballot.style,
        tuple(enc_contests),
        code,
        B_aux,
        state,
        device.name if device is not None else "",
        timestamp,
    )
    return enc, xi_B


def check_ballot_proofs(ctx: ElectionContext, ballot: EncryptedBallot) -> None:
    """The checks that need only the ballot (:func:`ballot_checks`, then every range proof, batched:
    V5/V6, or V15/V16 for a pre-encrypted ballot); raise the first failure with its step id and
    object (:class:`VerificationError`), the failure the record verifier reports first for the same
    ballot. The range proofs prove knowledge of every selection's nonce: a ballot that passes does
    not re-use another ballot's selections, even re-randomised."""
    checks = ballot_checks(ctx, ballot)
    if checks.failures:
        raise checks.failures[0]
    failures = verify_range_many(ctx.key, ctx.H_E, checks.statements)
    if failures:
        raise failures[0]


ALPHA_KEY_BYTES = 16
"""V7.H compares selection ciphertexts by the last 16 bytes of α (specs/10-verification.md §1.6)"""


def alpha_key(alpha: Element | bytes) -> bytes:
    """V7.H's key of a selection ciphertext (α, β): the last :data:`ALPHA_KEY_BYTES` bytes of E(α)
    (given as the element or as its canonical encoding), as the verifier, the board, the CLI ballot
    box and a guardian's request check compare them. An honest collision between two fresh α has
    probability ≈ n²/2^129; a voter aiming at another ballot's key needs ~2^128 work."""
    data = alpha if isinstance(alpha, bytes) else alpha.to_bytes()
    return data[-ALPHA_KEY_BYTES:]


def range_steps(ballot: EncryptedBallot) -> tuple[str, str]:
    """The step ids of a ballot's selection and contest range proofs: V5/V6, or V15/V16 for a
    pre-encrypted ballot (EG Verifications 15-16, specs/13-pre-encryption.md §6)."""
    return ("V5", "V6") if ballot.pre is None else ("V15", "V16")


@dataclass(frozen=True)
class BallotChecks:
    """What :func:`ballot_checks` found: its failures in report order, and the range statements left
    for the caller to verify in a batch."""

    failures: tuple[VerificationError, ...]
    statements: tuple[RangeStatement, ...]


def ballot_checks(ctx: ElectionContext, ballot: EncryptedBallot) -> BallotChecks:
    """Every check of one ballot short of its range proofs, in the order the verifier reports them:
    V5.E (style, contests, options, the contest data's length), V7.A (contest hashes) and V7.B (the
    confirmation code), or for a pre-encrypted ballot V17-V18 in place of V7.B. One function for the
    ballot box, the board and the record verifier, so what one accepts the other passes
    (specs/10-verification.md §3). Returns the failures, and the range statements (V5/V6, or V15/V16,
    :func:`range_steps`) of the contests whose selections match their options."""
    g = ctx.group
    obj = f"ballot {ballot.ballot_id}"
    steps = range_steps(ballot)
    failures: list[VerificationError] = []
    statements: list[RangeStatement] = []
    try:
        contests = {c.index: c for c in ctx.manifest.contests_of_style(ballot.style)}
    except E2EVoteError:
        failures.append(VerificationError("V5.E", obj, f"unknown ballot style {ballot.style!r}"))
        return BallotChecks(tuple(failures), ())
    got = [ec.index for ec in ballot.contests]
    if got != sorted(contests):
        failures.append(
            VerificationError(
                "V5.E", obj, f"contests {got} do not match style {ballot.style!r} {sorted(contests)}"
            )
        )
    for ec in ballot.contests:
        contest = contests.get(ec.index)
        if contest is None:
            continue
        cobj = f"{obj} contest {contest.label}"
        if [s.index for s in ec.selections] != [o.index for o in contest.options]:
            failures.append(VerificationError("V5.E", cobj, "selections do not match the contest's options"))
            continue
        if ctx.dialect.name == "eg2.0" and (ec.data is None or len(ec.data.C1) != 32 * contest.data_blocks):
            failures.append(
                VerificationError(
                    "V5.E", cobj, f"contest data must be {32 * contest.data_blocks} bytes (manifest b_D)"
                )
            )
        for sel in ec.selections:
            statements.append(
                RangeStatement(
                    sel.ct, sel.proof, contest.option_limit, steps[0], f"{cobj} option {sel.index}"
                )
            )
        statements.append(
            RangeStatement(ec.aggregate(g.identity()), ec.proof, contest.contest_limit, steps[1], cobj)
        )
        if contest_hash(ctx.H_E, ec.index, ctx.K, [s.ct for s in ec.selections]) != ec.chi:
            failures.append(VerificationError("V7.A", cobj, "contest hash χ is wrong"))
    if ballot.pre is not None:  # specs/13-pre-encryption.md §6
        failures += pre_encryption_failures(ctx, ballot)
    elif (
        confirmation_code(ctx.H_E, [c.chi for c in ballot.contests], ballot.B_aux, ctx.dialect) != ballot.code
    ):
        failures.append(VerificationError("V7.B", obj, "confirmation code is wrong"))
    return BallotChecks(tuple(failures), tuple(statements))


def pre_encryption_failures(ctx: ElectionContext, ballot: EncryptedBallot) -> list[VerificationError]:
    """V17.A-C and V18.A-B on a recorded pre-encrypted ballot's published data (EG Verifications
    17-18; specs/13-pre-encryption.md §6): every contest's first failure, then the code's. Contests
    that are not the style's are V5.E's (reported by the caller) and skipped here."""
    obj = f"ballot {ballot.ballot_id}"
    pre = ballot.pre
    if pre is None:
        return [VerificationError("V17.B", obj, "not a pre-encrypted ballot: no pre-encryption data")]
    omega = ctx.manifest.short_code
    if omega is None:
        return [VerificationError("V18.A", obj, "the manifest names no short-code function (short_code)")]
    if [c.index for c in pre] != [c.index for c in ballot.contests]:
        return [VerificationError("V17.B", obj, "pre-encryption data is not one per contest, in order")]
    try:
        contests = {c.index: c for c in ctx.manifest.contests_of_style(ballot.style)}
    except E2EVoteError:
        return []
    out = []
    for ec, pc in zip(ballot.contests, pre, strict=True):
        contest = contests.get(ec.index)
        if contest is None or len(ec.selections) != len(contest.options):
            continue
        failure = _pre_contest_failure(ctx, contest, ec, pc, omega, f"{obj} contest {contest.label}")
        if failure is not None:
            out.append(failure)
    if pre_confirmation_code(ctx.H_E, [pc.chi for pc in pre], ballot.B_aux, ctx.dialect) != ballot.code:
        out.append(
            VerificationError("V17.C", obj, "confirmation code is not H(B) of the contest hashes (eq. 95)")
        )
    return out


def _pre_contest_failure(
    ctx: ElectionContext, contest: Contest, ec: EncryptedContest, pc: PreRecordContest, omega: str, cobj: str
) -> VerificationError | None:
    m = len(contest.options)
    L = contest.contest_limit
    if len(pc.psis) != m + L:
        return VerificationError("V17.B", cobj, f"{len(pc.psis)} selection hashes, not m + L = {m + L}")
    if any(a >= b for a, b in zip(pc.psis, pc.psis[1:], strict=False)):
        return VerificationError("V17.B", cobj, "selection hashes are not strictly ascending")
    if pre_contest_hash(ctx.H_E, contest, ctx.K, pc.psis, ctx.dialect) != pc.chi:
        return VerificationError("V17.B", cobj, "pre-encryption contest hash χ is wrong")
    if len({short_code(omega, psi) for psi in pc.psis}) != m + L:  # EG §4.1.4: else a code is ambiguous
        return VerificationError("V18.C", cobj, "two of the contest's short codes are equal")
    if len(pc.selected) != L:
        return VerificationError("V18.B", cobj, f"{len(pc.selected)} selected vectors, not L = {L}")
    known = set(pc.psis)
    previous = b""
    for n, sv in enumerate(pc.selected, start=1):
        vobj = f"{cobj} selected vector {n}"
        if len(sv.vector) != m:
            return VerificationError("V17.A", vobj, f"{len(sv.vector)} encryptions, not m = {m}")
        if selection_hash(ctx.H_E, ctx.K, sv.vector) != sv.psi:
            return VerificationError("V17.A", vobj, "selection hash ψ is wrong")
        if sv.psi not in known:
            return VerificationError("V17.A", vobj, "ψ is not among the contest's selection hashes")
        if sv.psi <= previous:
            return VerificationError("V17.A", vobj, "selected vectors are not distinct and ascending by ψ")
        previous = sv.psi
        if short_code(omega, sv.psi) != sv.code:
            return VerificationError("V18.A", vobj, f"short code {sv.code!r} is not Ω(ψ)")
    g = ctx.group
    for k, sel in enumerate(ec.selections):
        if Ciphertext.product([sv.vector[k] for sv in pc.selected], g) != sel.ct:
            return VerificationError(
                "V18.B", f"{cobj} option {sel.index}", "not the product of the selected vectors"
            )
    return None


def verify_ballot_nonce(
    ctx: ElectionContext, ballot: EncryptedBallot, xi_B: bytes, claimed: PlaintextBallot
) -> None:
    """ "Instant verification" of a challenged ballot (EG 2.0 §3.6.5, nonce method): re-encrypt the
    claimed selections with the released ξ_B and compare every ciphertext, the contest data and the
    confirmation code. Step ids V13.N.*, V13.B (specs/06-ballots.md §7, specs/10-verification.md);
    every failure is a :class:`VerificationError`."""
    obj = f"ballot {ballot.ballot_id}"
    group = ctx.group
    if claimed.style != ballot.style or claimed.ballot_id != ballot.ballot_id:
        raise VerificationError(
            "V13.N.A", obj, "claimed ballot id or style differs from the encrypted ballot's"
        )
    try:
        style = ctx.manifest.contests_of_style(ballot.style)
    except (E2EVoteError, LookupError) as exc:
        raise VerificationError("V13.N.A", obj, f"unknown ballot style {ballot.style!r}") from exc
    contests = {c.index: c for c in style}
    got = [ec.index for ec in ballot.contests]
    for ci in got:
        if ci not in contests:
            raise VerificationError("V13.N.A", obj, f"contest index {ci} not on style {ballot.style!r}")
    if got != sorted(contests):  # §7 step 1: the style's contests, ascending, each once
        raise VerificationError(
            "V13.N.A",
            obj,
            f"contests {got} are not the contests {sorted(contests)} of style {ballot.style!r}",
        )
    on_style = {c.label for c in style}
    for what, labels in (("votes", claimed.votes), ("write-ins", claimed.write_ins)):
        unknown = sorted(set(labels) - on_style, key=repr)
        if unknown:
            raise VerificationError(
                "V13.B", obj, f"claimed {what} for contest(s) not on style {ballot.style!r}: {unknown}"
            )
    for ec in ballot.contests:
        contest = contests[ec.index]
        if [s.index for s in ec.selections] != [o.index for o in contest.options]:
            raise VerificationError(
                "V13.N.A", obj, f"contest {contest.label!r}: selections are not one per option, in order"
            )
        try:
            values, data = contest_values(contest, claimed.votes.get(contest.label, {}))
            write_ins = claimed.write_ins.get(contest.label)
            if write_ins:
                data = ContestData(data.status, data.overvotes, tuple(write_ins))
            D = data.encode(contest.data_blocks) if ec.data is not None else b""
        except BallotError as exc:
            raise VerificationError("V13.B", obj, str(exc)) from exc
        for sel, option, sigma in zip(ec.selections, contest.options, values, strict=True):
            xi = selection_nonce(group, ctx.H_E, xi_B, contest.index, option.index)
            if ctx.key.encrypt(sigma, xi) != sel.ct:
                raise VerificationError(
                    "V13.N.B",
                    obj,
                    f"contest {contest.label!r} option {option.label!r} does not re-encrypt to {sigma}",
                )
        chi = contest_hash(ctx.H_E, contest.index, ctx.K, [s.ct for s in ec.selections])
        if chi != ec.chi:
            raise VerificationError("V13.N.C", obj, f"contest hash of {contest.label!r} differs")
        if ec.data is not None:
            # §7 step 4: C_D is a deterministic function of ξ_B and D (eq. 49-55): re-encrypt, compare
            if contest_data_of(ctx, xi_B, contest, D) != ec.data:
                raise VerificationError(
                    "V13.N.B",
                    obj,
                    f"contest data of {contest.label!r} is not the encryption of the claimed status and "
                    "write-ins with this nonce",
                )
    code = confirmation_code(ctx.H_E, [c.chi for c in ballot.contests], ballot.B_aux, ctx.dialect)
    if code != ballot.code:
        raise VerificationError("V13.N.C", obj, "confirmation code differs")
