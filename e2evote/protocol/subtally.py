"""Verifiable subtotals: per-precinct tallies and interim checkpoints (specs/12-election-types.md §3-4).

Both are homomorphic aggregates of a *subset* of the cast ballots, decrypted by the guardians with the
same Chaum–Pedersen proofs as the final tally (tag 0x30, statement (A, B)):

* a **precinct subtotal** aggregates the cast ballots of one precinct, the precinct of a ballot being
  its encrypting device (``by="device"``) or its ballot style (``by="style"``, e.g. a single-mandate
  district). Of the declared contests it covers exactly those that appear on at least one of the
  precinct's cast ballots, so observers can hold it against the precinct's paper protocol;
* an **interim checkpoint** aggregates the first N_j cast ballots in record order, over a fixed set of
  contests. Consecutive checkpoints (and the last checkpoint and the final tally) are at least
  ``min_gap`` cast ballots apart, so that no difference of two published tallies reveals the votes
  of fewer than ``min_gap`` voters (the gap rule, :func:`check_gap_rule`).

This module only aggregates and decrypts; the record trees and the verifier's steps V22/V23 live in
e2evote.verifier.extensions. Every function here is pure apart from the guardians' randomness.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from e2evote.errors import BallotError, E2EVoteError
from e2evote.protocol.ballot import BallotState, EncryptedBallot
from e2evote.protocol.ceremony import GuardianPublicKeys
from e2evote.protocol.decryption import DecryptingGuardian
from e2evote.protocol.election import ElectionContext
from e2evote.protocol.manifest import Manifest
from e2evote.protocol.tally import DecryptedTally, EncryptedTally, TallyAccumulator, decrypt_tally

__all__ = [
    "MIN_GAP_METADATA_KEY",
    "SubtallyError",
    "PrecinctKey",
    "precinct_of",
    "Subtotal",
    "PrecinctSubtotals",
    "InterimTallies",
    "Aggregate",
    "PrecinctAccumulator",
    "InterimAccumulator",
    "manifest_min_gap",
    "check_gap_rule",
    "plan_checkpoints",
    "decrypt_subtotals",
]

MIN_GAP_METADATA_KEY: Final = "e2evote.interim.min_gap"
"""manifest metadata key: the smallest ``min_gap`` an interim extension may use (decimal string)"""


class SubtallyError(E2EVoteError, ValueError):
    """Subtotals that cannot be formed as asked (bad checkpoints, gap rule, non-cast ballot, …)."""


class PrecinctKey(StrEnum):
    """What places a cast ballot in a precinct."""

    DEVICE = "device"
    """the ballot's encrypting device (``EncryptedBallot.device``)"""
    STYLE = "style"
    """the ballot's style (e.g. the voter's single-mandate district)"""


def precinct_of(ballot: EncryptedBallot, by: PrecinctKey) -> str:
    """The label of the precinct ``ballot`` belongs to."""
    return ballot.device if by is PrecinctKey.DEVICE else ballot.style


# ---------------------------------------------------------------------------------------------------
# values
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subtotal:
    """One decrypted aggregate: a precinct's (label = precinct) or a checkpoint's (label = "")."""

    label: str
    encrypted: EncryptedTally
    """(A, B) per option of each covered contest; ``ballots`` = number of ballots aggregated"""
    decrypted: DecryptedTally
    """t, T = K^t and the proof per option, same order as ``encrypted``"""

    def counts(self, manifest: Manifest) -> dict[str, dict[str, int]]:
        """contest label -> option label -> t."""
        out: dict[str, dict[str, int]] = {}
        for dc in self.decrypted.contests:
            c = manifest.contest_by_index(dc.index)
            labels = {o.index: o.label for o in c.options}
            out[c.label] = {labels[s.index]: s.t for s in dc.selections}
        return out


@dataclass(frozen=True, slots=True)
class PrecinctSubtotals:
    """The content of ext/precincts.msgpack: every precinct's subtotal, precincts in label order."""

    by: PrecinctKey
    contests: tuple[int, ...]
    """ind_c of the contests subtotalled, increasing; a precinct covers those on its ballots"""
    precincts: tuple[Subtotal, ...]


@dataclass(frozen=True, slots=True)
class InterimTallies:
    """The content of ext/interim.msgpack: checkpoints over ``contests``, N_j strictly increasing."""

    min_gap: int
    """the gap rule's minimum number of new cast ballots between published tallies"""
    contests: tuple[int, ...]
    """ind_c of the contests every checkpoint covers, increasing"""
    checkpoints: tuple[Subtotal, ...]

    @property
    def positions(self) -> tuple[int, ...]:
        """N_1 < N_2 < … (cast ballots covered by each checkpoint)."""
        return tuple(c.encrypted.ballots for c in self.checkpoints)


# ---------------------------------------------------------------------------------------------------
# aggregation
# ---------------------------------------------------------------------------------------------------


class Aggregate(TallyAccumulator):
    """Per-option products over some cast ballots: :class:`~e2evote.protocol.tally.TallyAccumulator`
    with ``dense=False`` by default (only the contests carried by the aggregated ballots appear) and
    :class:`SubtallyError` for a ballot that does not fit. Its default ``flush_every`` is small: a
    precinct accumulator holds one per precinct."""

    __slots__ = ()

    def __init__(
        self,
        ctx: ElectionContext,
        contests: Iterable[int] | None = None,
        *,
        dense: bool = False,
        flush_every: int = 8,
    ) -> None:
        try:
            super().__init__(ctx, contests, dense=dense, flush_every=flush_every)
        except BallotError as exc:
            raise SubtallyError(str(exc)) from exc

    def add(self, ballot: EncryptedBallot) -> None:
        """Multiply a cast ballot in (raises :class:`SubtallyError` for another state)."""
        try:
            super().add(ballot)
        except BallotError as exc:
            raise SubtallyError(str(exc)) from exc


class PrecinctAccumulator:
    """Streams cast ballots into one :class:`Aggregate` per precinct (challenged ballots are skipped).

    A precinct's aggregate covers the ``contests`` (None: all) that appear on its ballots.
    """

    __slots__ = ("ctx", "by", "contests", "_precincts")

    def __init__(
        self,
        ctx: ElectionContext,
        by: PrecinctKey = PrecinctKey.DEVICE,
        contests: Sequence[int] | None = None,
    ) -> None:
        self.ctx = ctx
        self.by = PrecinctKey(by)
        self.contests = (
            tuple(contests) if contests is not None else tuple(c.index for c in ctx.manifest.contests)
        )
        if not self.contests or list(self.contests) != sorted(set(self.contests)):
            raise SubtallyError("precinct contests must be a non-empty increasing list of contest indices")
        known = {c.index for c in ctx.manifest.contests}
        if not set(self.contests) <= known:
            raise SubtallyError(
                f"precinct contests {sorted(set(self.contests) - known)} are not in the manifest"
            )
        self._precincts: dict[str, Aggregate] = {}

    def add(self, ballot: EncryptedBallot) -> None:
        if ballot.state != BallotState.CAST:
            return
        key = precinct_of(ballot, self.by)
        agg = self._precincts.get(key)
        if agg is None:
            agg = self._precincts[key] = Aggregate(self.ctx, self.contests)
        agg.add(ballot)

    def result(self) -> dict[str, EncryptedTally]:
        """precinct label -> its aggregate, in label order."""
        return {k: self._precincts[k].result() for k in sorted(self._precincts)}


class InterimAccumulator:
    """Streams cast ballots (in record order) and snapshots the running aggregate after the N_j-th.

    Challenged ballots are skipped. ``positions`` must satisfy the gap rule for *some* final count;
    :meth:`result` checks it against the number of cast ballots actually seen.
    """

    __slots__ = ("contests", "positions", "min_gap", "_agg", "_snapshots")

    def __init__(
        self, ctx: ElectionContext, positions: Sequence[int], contests: Sequence[int], min_gap: int
    ) -> None:
        if not contests or list(contests) != sorted(set(contests)):
            raise SubtallyError("interim contests must be a non-empty increasing list of contest indices")
        if (
            not positions
            or any(b <= a for a, b in zip(positions, positions[1:], strict=False))
            or positions[0] < 1
        ):
            raise SubtallyError(
                f"checkpoints must be a non-empty increasing list of positive counts, got {positions}"
            )
        self.contests = tuple(contests)
        self.positions = tuple(positions)
        self.min_gap = min_gap
        self._agg = Aggregate(ctx, contests, dense=True)
        self._snapshots: list[EncryptedTally] = []

    def add(self, ballot: EncryptedBallot) -> None:
        if ballot.state != BallotState.CAST:
            return
        self._agg.add(ballot)
        n = len(self._snapshots)
        if n < len(self.positions) and self._agg.ballots == self.positions[n]:
            self._snapshots.append(self._agg.result())

    @property
    def cast(self) -> int:
        """Cast ballots seen so far."""
        return self._agg.ballots

    def result(self) -> tuple[EncryptedTally, ...]:
        """The checkpoint aggregates; raises if a checkpoint was not reached or the gap rule fails."""
        if len(self._snapshots) != len(self.positions):
            missed = self.positions[len(self._snapshots)]
            raise SubtallyError(f"only {self.cast} cast ballots; checkpoint {missed} not reached")
        check_gap_rule(self.positions, self.cast, self.min_gap)
        return tuple(self._snapshots)


# ---------------------------------------------------------------------------------------------------
# the gap rule
# ---------------------------------------------------------------------------------------------------


def manifest_min_gap(manifest: Manifest) -> int | None:
    """The manifest's floor for ``min_gap`` (metadata ``e2evote.interim.min_gap``), if it states one."""
    raw = manifest.metadata.get(MIN_GAP_METADATA_KEY)
    if raw is None:
        return None
    if (
        not raw.isascii()
        or not raw.isdigit()
        or (len(raw) > 1 and raw[0] == "0")
        or not 1 <= int(raw) <= 2**31
    ):
        raise SubtallyError(
            f"manifest metadata {MIN_GAP_METADATA_KEY} must be a canonical positive integer, got {raw!r}"
        )
    return int(raw)


def check_gap_rule(positions: Sequence[int], total: int, min_gap: int) -> None:
    """The gap rule (specs/12 §4.3): with g = ``min_gap`` >= 1 and checkpoints N_1 < … < N_m <= total,
    N_1 >= g, N_{j+1} − N_j >= g, and (if m >= 1) total − N_m is 0 or >= g. Raises :class:`SubtallyError`."""
    if isinstance(min_gap, bool) or not isinstance(min_gap, int) or min_gap < 1:
        raise SubtallyError(f"min_gap must be a positive integer, got {min_gap!r}")
    prev = 0
    for n in positions:
        if n <= prev:
            raise SubtallyError(f"checkpoints must increase: {n} after {prev}")
        if n - prev < min_gap:
            raise SubtallyError(
                f"checkpoint {n} is only {n - prev} ballots after {prev}; the gap is {min_gap}"
            )
        prev = n
    if prev > total:
        raise SubtallyError(f"checkpoint {prev} exceeds the {total} cast ballots")
    if positions and 0 < total - prev < min_gap:
        raise SubtallyError(
            f"the final tally is only {total - prev} ballots after checkpoint {prev}; the gap is {min_gap}"
        )


def plan_checkpoints(total: int, count: int, min_gap: int) -> tuple[int, ...]:
    """Up to ``count`` evenly spaced checkpoints strictly before ``total`` that satisfy the gap rule
    (fewer, possibly none, when ``total`` is too small)."""
    if count < 0:
        raise SubtallyError("count must be non-negative")
    check_gap_rule((), total, min_gap)
    for m in range(count, 0, -1):
        if total >= (m + 1) * min_gap:
            out = tuple(total * j // (m + 1) for j in range(1, m + 1))
            check_gap_rule(out, total, min_gap)
            return out
    return ()


# ---------------------------------------------------------------------------------------------------
# decryption
# ---------------------------------------------------------------------------------------------------


def decrypt_subtotals(
    ctx: ElectionContext,
    commitments: Sequence[GuardianPublicKeys],
    guardians: Sequence[DecryptingGuardian],
    aggregates: Mapping[str, EncryptedTally] | Sequence[EncryptedTally],
) -> tuple[Subtotal, ...]:
    """Decrypt each aggregate with the available guardians (same proofs as the final tally).

    A mapping (precinct label -> aggregate) gives labelled subtotals in label order; a sequence
    (checkpoints) gives unlabelled ones in the given order.
    """
    items = sorted(aggregates.items()) if isinstance(aggregates, Mapping) else [("", a) for a in aggregates]
    return tuple(
        Subtotal(label, enc, decrypt_tally(ctx, commitments, guardians, enc)) for label, enc in items
    )
