"""Aggregation, tally decryption and decryption of challenged ballots
(EG 2.0 §3.5-3.6; specs/06-decryption.md)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from e2evote.elgamal import Ciphertext, HashedCiphertext, decrypt_contest_data
from e2evote.errors import BallotError, DecryptionError, E2EVoteError, VerificationError
from e2evote.groups.base import Element, Group
from e2evote.hashing import Dialect, Tag, b_file
from e2evote.proofs.chaum_pedersen import DecryptionProof
from e2evote.protocol.ballot import BallotState, EncryptedBallot, alpha_key, check_ballot_proofs
from e2evote.protocol.ceremony import GuardianPublicKeys
from e2evote.protocol.decryption import CombinedDecryption, DecryptingGuardian, Target, decrypt_with_quorum
from e2evote.protocol.election import ElectionContext

__all__ = [
    "EncryptedTally",
    "TallyAccumulator",
    "DecryptedSelection",
    "DecryptedContest",
    "DecryptedTally",
    "DecryptedContestData",
    "DecryptedBallotContest",
    "DecryptedBallot",
    "contest_data_statement",
    "decrypt_tally",
    "decrypt_ballot",
    "tally_targets",
    "tally_from_combined",
    "ballot_targets",
    "ballot_from_combined",
]


@dataclass(frozen=True, slots=True)
class EncryptedTally:
    """(A, B) per option of every contest (eq. 62) and the number of cast ballots aggregated."""

    contests: tuple[tuple[int, tuple[tuple[int, Ciphertext], ...]], ...]
    """((ind_c, ((ind_o, (A, B)), …)), …)"""
    ballots: int

    def items(self) -> Iterable[tuple[int, int, Ciphertext]]:
        for ci, sels in self.contests:
            for oi, ct in sels:
                yield ci, oi, ct


class TallyAccumulator:
    """Streams cast ballots into per-option products (eq. 62); memory independent of the number of
    ballots.

    ``contests``: the contests aggregated (None: every contest of the manifest; a ballot's other
    contests are skipped). ``dense``: every one of them appears in :meth:`result`, also when no
    ballot carried it (the tally, interim checkpoints); otherwise only contests carried by at least
    one aggregated ballot appear (precinct subtotals). A ballot that does not fit adds nothing.
    ``flush_every``: accepted ballots whose factors wait in per-cell lists before one tight product
    loop per cell (Group.product) multiplies them in; memory is bounded by that many ballots.
    """

    __slots__ = (
        "ctx",
        "_allowed",
        "_acc",
        "_pending",
        "_npending",
        "_flush_every",
        "ballots",
        "contest_cast",
    )

    def __init__(
        self,
        ctx: ElectionContext,
        contests: Iterable[int] | None = None,
        *,
        dense: bool = True,
        flush_every: int = 64,
    ) -> None:
        if flush_every < 1:
            raise ValueError("flush_every must be at least 1")
        self.ctx = ctx
        self._flush_every = flush_every
        self._allowed = frozenset(contests) if contests is not None else None
        self._acc: dict[int, dict[int, list[Element]]] = {}
        # factors of accepted ballots not yet multiplied in: (α list, β list) per (contest, option)
        self._pending: dict[tuple[int, int], tuple[list[Element], list[Element]]] = {}
        self._npending = 0
        self.ballots = 0
        self.contest_cast: dict[int, int] = {}
        """ind_c -> the aggregated ballots carrying the contest (an outcome's ballots cast, specs/09)"""
        if dense:
            wanted = self._allowed if self._allowed is not None else (c.index for c in ctx.manifest.contests)
            for ci in sorted(wanted):
                self._acc[ci] = self._new_row(ci)

    def _new_row(self, ci: int) -> dict[int, list[Element]]:
        try:
            contest = self.ctx.manifest.contest_by_index(ci)
        except E2EVoteError as exc:
            raise BallotError(f"unknown contest index {ci}") from exc
        one = self.ctx.group.identity()
        return {o.index: [one, one] for o in contest.options}

    def add(self, ballot: EncryptedBallot) -> None:
        if ballot.state != BallotState.CAST:
            raise BallotError(
                f"ballot {ballot.ballot_id!r} is {ballot.state.value}, only cast ballots are tallied"
            )
        rows = []
        new: dict[int, dict[int, list[Element]]] = {}
        for ec in ballot.contests:  # check the whole ballot first: nothing is added from a bad one
            if self._allowed is not None and ec.index not in self._allowed:
                continue
            row = self._acc.get(ec.index) or new.get(ec.index)
            if row is None:
                try:
                    row = new[ec.index] = self._new_row(ec.index)
                except BallotError as exc:
                    raise BallotError(f"ballot {ballot.ballot_id!r}: {exc}") from exc
            for sel in ec.selections:
                if sel.index not in row:
                    raise BallotError(
                        f"ballot {ballot.ballot_id!r}: unknown option {sel.index} in contest {ec.index}"
                    )
            rows.append((row, ec))
        self._acc.update(new)
        pending = self._pending
        cast = self.contest_cast
        for _row, ec in rows:
            ci = ec.index
            cast[ci] = cast.get(ci, 0) + 1
            for sel in ec.selections:
                lists = pending.get((ci, sel.index))
                if lists is None:
                    lists = pending[ci, sel.index] = ([], [])
                lists[0].append(sel.ct.alpha)
                lists[1].append(sel.ct.beta)
        self.ballots += 1
        self._npending += 1
        if self._npending >= self._flush_every:
            self._flush()

    def _flush(self) -> None:
        """Multiply the waiting factors into their cells, one product per cell (eq. 62)."""
        prod = self.ctx.group.product
        for (ci, oi), (alphas, betas) in self._pending.items():
            cell = self._acc[ci][oi]
            alphas.append(cell[0])
            betas.append(cell[1])
            cell[0] = prod(alphas)
            cell[1] = prod(betas)
        self._pending.clear()
        self._npending = 0

    def result(self) -> EncryptedTally:
        """The aggregate as an :class:`EncryptedTally` (contests and options in index order)."""
        self._flush()
        return EncryptedTally(
            tuple(
                (ci, tuple((oi, Ciphertext(a, b)) for oi, (a, b) in sorted(row.items())))
                for ci, row in sorted(self._acc.items())
            ),
            self.ballots,
        )


@dataclass(frozen=True, slots=True)
class DecryptedSelection:
    """t, T = K^t and the proof (c, v) for one option's tally (eq. 64, 71-76)."""

    index: int
    t: int
    T: Element
    proof: DecryptionProof


@dataclass(frozen=True, slots=True)
class DecryptedContest:
    index: int
    selections: tuple[DecryptedSelection, ...]


@dataclass(frozen=True, slots=True)
class DecryptedTally:
    contests: tuple[DecryptedContest, ...]
    ballots: int

    def counts(self, ctx: ElectionContext) -> dict[str, dict[str, int]]:
        """contest label -> option label -> count."""
        out: dict[str, dict[str, int]] = {}
        for dc in self.contests:
            c = ctx.manifest.contest_by_index(dc.index)
            opts = {o.index: o.label for o in c.options}
            out[c.label] = {opts[s.index]: s.t for s in dc.selections}
        return out


def tally_targets(tally: EncryptedTally) -> list[Target]:
    """The decryption targets of a tally, one per option in (contest, option) order."""
    return [Target.ciphertext(ct.alpha, ct.beta) for _, _, ct in tally.items()]


def tally_from_combined(
    ctx: ElectionContext, tally: EncryptedTally, combined: CombinedDecryption
) -> DecryptedTally:
    """Assemble the decrypted tally from the combined decryption of :func:`tally_targets`."""
    items = list(tally.items())
    if len(combined.M) != len(items):
        raise DecryptionError(f"{len(combined.M)} decryptions for {len(items)} tally cells")
    return _tally_from(ctx, tally, items, combined.M, combined.proofs)


def decrypt_tally(
    ctx: ElectionContext,
    commitments: Sequence[GuardianPublicKeys],
    guardians: Sequence[DecryptingGuardian],
    tally: EncryptedTally,
) -> DecryptedTally:
    """Decrypt every option total with the available guardians; t found by bounded discrete log
    (t <= ballots × option limit)."""
    combined = decrypt_with_quorum(ctx, commitments, guardians, tally_targets(tally))
    return tally_from_combined(ctx, tally, combined)


def _tally_from(
    ctx: ElectionContext,
    tally: EncryptedTally,
    items: Sequence[tuple[int, int, Ciphertext]],
    Ms: Sequence[Element],
    proofs: Sequence[DecryptionProof],
) -> DecryptedTally:
    g = ctx.group
    rows: dict[int, list[DecryptedSelection]] = {}
    for (ci, oi, ct), M, proof in zip(items, Ms, proofs, strict=True):
        T = ct.beta / M
        bound = tally.ballots * ctx.manifest.contest_by_index(ci).option_limit
        try:
            t = g.dlog(T, ctx.K, bound)
        except ValueError as exc:
            raise DecryptionError(f"contest {ci} option {oi}: tally exceeds {bound}") from exc
        rows.setdefault(ci, []).append(DecryptedSelection(oi, t, T, proof))
    return DecryptedTally(
        tuple(DecryptedContest(ci, tuple(v)) for ci, v in sorted(rows.items())), tally.ballots
    )


def check_request(
    ctx: ElectionContext,
    tally: EncryptedTally,
    to_open: Sequence[EncryptedBallot],
    ballots: Iterable[EncryptedBallot],
    *,
    contest_data: bool = False,
) -> int:
    """What a guardian checks before decrypting anything (specs/06-decryption.md §4): ``tally`` is
    the aggregate (eq. 62) of the cast ballots among ``ballots``, and every ballot in ``to_open`` is
    one of their challenged ballots, contest for contest, none of whose ciphertexts a decryption would
    open (selections; contest data only with ``contest_data``, the EG route of :func:`ballot_targets`)
    is also a cast ballot's; and every ballot involved passes its own checks
    (:func:`check_ballot_proofs`), so no re-randomised copy of a ballot enters a target. Otherwise a
    coordinator could have the guardians decrypt a cast ballot, listed as a challenged one or as
    tally cells; no selection ciphertext may appear in two cast ballots (a ballot, or a contest
    copied whole into another ballot, would weigh twice in the tally, and one repeated many times
    would show in it; α = g^ξ with a fresh ξ never repeats honestly), compared as V7.H does: within
    one ballot a repeat is its voter's own (selections sharing a nonce) and passes, as it passes the
    board and the verifier. ``ballots`` is streamed once (the record's or the
    election directory's); what this
    cannot establish is that the stream is the election's whole ballot box (specs/06-decryption.md
    §4.1). Returns the number of cast ballots; raises DecryptionError naming the first problem."""
    wanted: dict[str, EncryptedBallot] = {}
    for b in to_open:
        if b.ballot_id in wanted:
            raise DecryptionError(f"the request lists ballot {b.ballot_id} twice")
        try:  # proofs of knowledge of every selection's nonce: no re-randomised copy of a cast one
            check_ballot_proofs(ctx, b)
        except VerificationError as exc:
            raise DecryptionError(f"ballot {b.ballot_id} to open does not verify: {exc}") from None
        wanted[b.ballot_id] = b
    owner: dict[bytes, str] = {}
    for b in to_open:
        for x in _ciphertext_pads(b, contest_data):
            owner.setdefault(x, b.ballot_id)
    acc = TallyAccumulator(ctx)
    found: set[str] = set()
    seen: set[bytes] = set()  # V7.H's key of every cast selection before this ballot: a repeat weighs twice
    cast = 0
    for b in ballots:
        if b.state == BallotState.CAST:
            cast += 1
            mine = {alpha_key(sel.ct.alpha) for ec in b.contests for sel in ec.selections}
            if not mine.isdisjoint(seen):
                raise DecryptionError(
                    f"cast ballot {b.ballot_id} repeats a selection ciphertext of a cast ballot before it"
                )
            seen |= mine
            try:  # a tally cell is decrypted too: what goes into it must be proven ballots
                check_ballot_proofs(ctx, b)
            except VerificationError as exc:
                raise DecryptionError(f"cast ballot {b.ballot_id} does not verify: {exc}") from None
            acc.add(b)
            for x in _ciphertext_pads(b, contest_data):
                other = owner.get(x)
                if other is not None:
                    raise DecryptionError(
                        f"ballot {other} to open shares a ciphertext with cast ballot {b.ballot_id}"
                    )
        elif b.ballot_id in wanted:
            w = wanted[b.ballot_id]
            if (b.code, b.contests) != (w.code, w.contests):
                raise DecryptionError(f"ballot {b.ballot_id} to open differs from the challenged ballot")
            found.add(b.ballot_id)
    missing = sorted(set(wanted) - found)
    if missing:
        raise DecryptionError(f"ballot {missing[0]} to open is not a challenged ballot of the election")
    if acc.result() != tally:
        raise DecryptionError(f"the tally to decrypt is not the aggregate of the {cast} cast ballots")
    return cast


def _ciphertext_pads(b: EncryptedBallot, contest_data: bool) -> Iterator[bytes]:
    """The first components of every ciphertext a decryption of ``b`` would open (its contest data's
    only on the EG route, :func:`ballot_targets`)."""
    for ec in b.contests:
        for sel in ec.selections:
            yield sel.ct.alpha.to_bytes()
        if contest_data and ec.data is not None:
            yield ec.data.C0.to_bytes()


# ---------------------------------------------------------------------------------------------------
# challenged ballots (§3.6.5, guardian route)
# ---------------------------------------------------------------------------------------------------


def contest_data_statement(group: Group, ct: HashedCiphertext, dialect: Dialect) -> tuple[bytes, ...]:
    """(C0, C1, C2) as hashed in eq. 81 (§5.5.4 table: each b(·, l_p); egk: C1 as upper-case hex
    ASCII). Where C1 is longer than l_p (Ed25519) it is length-prefixed (specs/06-decryption.md)."""
    L = group.element_bytes
    if dialect.data_proof_c1_hex:
        return (ct.C0.to_bytes(), ct.C1.hex().upper().encode("ascii"), ct.C2)
    c1 = ct.C1.rjust(L, b"\x00") if len(ct.C1) <= L else b_file(ct.C1)
    c2 = ct.C2.rjust(L, b"\x00") if len(ct.C2) <= L else b_file(ct.C2)
    return (ct.C0.to_bytes(), c1, c2)


@dataclass(frozen=True, slots=True)
class DecryptedContestData:
    """β = C0^s with its proof (eq. 78-85) and the decrypted contest data D (eq. 89)."""

    beta: Element
    proof: DecryptionProof
    data: bytes


@dataclass(frozen=True, slots=True)
class DecryptedBallotContest:
    index: int
    selections: tuple[tuple[int, int, DecryptionProof], ...]
    """((ind_o, σ, proof), …); S = K^σ, M = β / S (Verification 12)"""
    data: DecryptedContestData | None


@dataclass(frozen=True, slots=True)
class DecryptedBallot:
    ballot_id: str
    contests: tuple[DecryptedBallotContest, ...]

    def votes(self, ctx: ElectionContext) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for dc in self.contests:
            c = ctx.manifest.contest_by_index(dc.index)
            labels = {o.index: o.label for o in c.options}
            out[c.label] = {labels[oi]: sigma for oi, sigma, _ in dc.selections}
        return out


def ballot_targets(
    ctx: ElectionContext, ballot: EncryptedBallot, *, contest_data: bool = False
) -> list[Target]:
    """Every selection (tag 0x30) of a ballot, in order; with ``contest_data`` also every contest data
    field (tag 0x31) after its contest's selections. The guardians' route never decrypts contest
    data (specs/06-decryption.md §4): its C0 has no proof of knowledge, so a challenged ballot could
    carry a cast ballot's selection pad there; ``contest_data=True`` is for other implementations'
    records and vectors (egk), whose guardians do."""
    targets: list[Target] = []
    for ec in ballot.contests:
        for sel in ec.selections:
            targets.append(Target.ciphertext(sel.ct.alpha, sel.ct.beta))
        if contest_data and ec.data is not None:
            targets.append(
                Target(
                    ec.data.C0,
                    contest_data_statement(ctx.group, ec.data, ctx.dialect),
                    Tag.CONTEST_DATA_DECRYPTION_PROOF,
                )
            )
    return targets


def ballot_from_combined(
    ctx: ElectionContext, ballot: EncryptedBallot, combined: CombinedDecryption, *, contest_data: bool = False
) -> DecryptedBallot:
    """Assemble a decrypted challenged ballot from the combined decryption of :func:`ballot_targets`
    (with the same ``contest_data``)."""
    g = ctx.group
    expected = sum(len(ec.selections) + (contest_data and ec.data is not None) for ec in ballot.contests)
    if len(combined.M) != expected:
        raise DecryptionError(
            f"{len(combined.M)} decryptions for {expected} targets of ballot {ballot.ballot_id}"
        )
    n = 0
    contests = []
    for ec in ballot.contests:
        contest = ctx.manifest.contest_by_index(ec.index)
        sels = []
        for sel in ec.selections:
            M, proof = combined.M[n], combined.proofs[n]
            n += 1
            try:
                sigma = g.dlog(sel.ct.beta / M, ctx.K, contest.option_limit)
            except ValueError as exc:
                raise DecryptionError(f"ballot {ballot.ballot_id}: selection out of range") from exc
            sels.append((sel.index, sigma, proof))
        data = None
        if contest_data and ec.data is not None:
            beta, proof = combined.M[n], combined.proofs[n]
            n += 1
            D = decrypt_contest_data(
                ctx.H_E, ctx.K, ec.index, ec.data, beta, contest_label=contest.label, dialect=ctx.dialect
            )
            data = DecryptedContestData(beta, proof, D)
        contests.append(DecryptedBallotContest(ec.index, tuple(sels), data))
    if n != len(combined.M):
        raise DecryptionError(f"{len(combined.M)} decryptions for {n} targets of ballot {ballot.ballot_id}")
    return DecryptedBallot(ballot.ballot_id, tuple(contests))


def decrypt_ballot(
    ctx: ElectionContext,
    commitments: Sequence[GuardianPublicKeys],
    guardians: Sequence[DecryptingGuardian],
    ballot: EncryptedBallot,
    *,
    contest_data: bool = False,
) -> DecryptedBallot:
    """Decrypt a challenged ballot with the guardians: every selection (and, with ``contest_data``,
    every contest data field; see :func:`ballot_targets`), each with a proof."""
    targets = ballot_targets(ctx, ballot, contest_data=contest_data)
    combined = decrypt_with_quorum(ctx, commitments, guardians, targets)
    return ballot_from_combined(ctx, ballot, combined, contest_data=contest_data)


def counts_by_label(ctx: ElectionContext, tally: DecryptedTally) -> Mapping[str, Mapping[str, int]]:
    return tally.counts(ctx)
