"""Outcome rules recomputed from a verified decrypted tally (specs/09-outcomes.md).

Everything here is pure: no cryptography beyond one HMAC-SHA-256 used as a public, seeded lot for
ties, no floating point (quotients and remainders are :class:`fractions.Fraction` or integers), no
I/O. The verifier calls :func:`compute_outcome` / :func:`verify_outcome` on the counts it has
already verified and rejects a record whose published outcome differs (steps V20.A-V20.E).

Rules implemented:

* party-list seat allocation -- D'Hondt, Sainte-Laguë, Hare-Niemeyer (largest remainder, Hare
  quota) -- with an optional electoral threshold (``votes * den >= num * base`` qualifies);
* absolute majority with a two-round runoff (top two), and a plurality winner;
* a referendum with a designated "against all" option (absolute majority or plurality).

Ties that decide something are broken by more total votes first and then by a lot:
``HMAC-SHA-256(key=seed, b_file(LOT_TAG) || b_str(label))``, lowest digest wins. Without a seed
such a tie raises :class:`OutcomeError` naming the tied labels.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from types import MappingProxyType
from typing import Any, Final, Protocol

from e2evote.errors import E2EVoteError, VerificationError
from e2evote.hashing import EXT
from e2evote.protocol.manifest import Contest, Manifest

__all__ = [
    "LOT_TAG",
    "SEED_BYTES",
    "OutcomeError",
    "UndecidedOutcomeError",
    "Method",
    "ThresholdBase",
    "ReferendumRule",
    "PARTY_LIST_METHODS",
    "REFERENDUM_METHODS",
    "Allocation",
    "MajorityResult",
    "ReferendumResult",
    "OutcomeRule",
    "OutcomeResult",
    "tie_lot",
    "threshold_base_total",
    "qualifying_parties",
    "allocate_seats",
    "dhondt",
    "sainte_lague",
    "hare_niemeyer",
    "majority_runoff",
    "plurality_winner",
    "referendum_outcome",
    "compute_outcome",
    "verify_outcome",
    "contest_rule",
    "contest_rules",
    "compute_outcomes",
]

#: Domain tag of the tie lot (e2evote extension tag; hashed length-prefixed, see specs/09 §Tie rule).
LOT_TAG: Final = EXT.OUTCOME_TIE_LOT
#: Length of a tie seed in bytes.
SEED_BYTES: Final = 32

_THRESHOLD_RE: Final = re.compile(r"(0|[1-9][0-9]*)/([1-9][0-9]*)")
_SEED_RE: Final = re.compile(r"[0-9a-f]{64}")


class OutcomeError(E2EVoteError):
    """An outcome that the rules cannot decide, or malformed outcome inputs / rule / result.

    ``tied`` names the labels of a tie that decides a seat or a place when no tie seed was given
    (empty for other failures).
    """

    def __init__(self, message: str, tied: Iterable[str] = ()) -> None:
        self.tied: tuple[str, ...] = tuple(sorted(set(tied)))
        if self.tied:
            message = f"{message} (tied: {', '.join(repr(t) for t in self.tied)})"
        super().__init__(message)


class UndecidedOutcomeError(OutcomeError):
    """Well-formed inputs on which the rule decides nothing.

    Raised for: a deciding tie without a tie seed (``tied`` names it), no party reaching the
    threshold, qualifying parties without votes, no valid votes, no majority with fewer than two
    candidates. A record must then publish no outcome for the contest (V20.D).
    """


class Method(StrEnum):
    """Outcome methods; the value is the method's name in a serialised :class:`OutcomeRule`."""

    DHONDT = "dhondt"
    SAINTE_LAGUE = "sainte_lague"
    HARE_NIEMEYER = "hare_niemeyer"
    MAJORITY_RUNOFF = "majority_runoff"
    PLURALITY = "plurality"
    REFERENDUM_MAJORITY = "referendum_majority"
    REFERENDUM_PLURALITY = "referendum_plurality"


class ThresholdBase(StrEnum):
    """What an electoral threshold is a fraction of.

    ``VALID_VOTES``: the sum of the votes of all listed parties (every party, before exclusion).
    ``BALLOTS_CAST``: a caller-supplied count of ballots cast in the contest (including blank ones);
    it must be at least the valid votes.
    """

    VALID_VOTES = "valid_votes"
    BALLOTS_CAST = "ballots_cast"


class ReferendumRule(StrEnum):
    """How a referendum option is adopted (specs/09 §Referendum)."""

    ABSOLUTE_MAJORITY = "absolute_majority"
    PLURALITY = "plurality"


PARTY_LIST_METHODS: Final = frozenset({Method.DHONDT, Method.SAINTE_LAGUE, Method.HARE_NIEMEYER})
REFERENDUM_METHODS: Final = MappingProxyType(
    {
        Method.REFERENDUM_MAJORITY: ReferendumRule.ABSOLUTE_MAJORITY,
        Method.REFERENDUM_PLURALITY: ReferendumRule.PLURALITY,
    }
)


# --------------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------------


def _check_label(label: object, what: str = "label") -> str:
    if not isinstance(label, str) or not label:
        raise OutcomeError(f"{what} must be a non-empty string, got {label!r}")
    try:
        label.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise OutcomeError(f"{what} {label!r} is not encodable as UTF-8") from exc
    return label


def _check_count(value: object, what: str) -> int:
    # bool is an int subclass; a vote count of True is a bug, not a count.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise OutcomeError(f"{what} must be a non-negative int, got {value!r}")
    return value


def _check_counts(counts: Mapping[str, int], what: str = "votes") -> dict[str, int]:
    if not isinstance(counts, Mapping):
        raise OutcomeError(f"{what} must be a mapping label -> int")
    out: dict[str, int] = {}
    for label, value in counts.items():
        out[_check_label(label)] = _check_count(value, f"{what}[{label!r}]")
    return out


def _check_seed(seed: bytes | None) -> bytes | None:
    if seed is None:
        return None
    if not isinstance(seed, bytes) or len(seed) != SEED_BYTES:
        raise OutcomeError(f"tie seed must be {SEED_BYTES} bytes")
    return seed


def _check_threshold(threshold: Fraction) -> Fraction:
    if not isinstance(threshold, Fraction) or not 0 <= threshold <= 1:
        raise OutcomeError(f"threshold must be a Fraction in [0, 1], got {threshold!r}")
    return threshold


# --------------------------------------------------------------------------------------------------
# Tie rule
# --------------------------------------------------------------------------------------------------


def _lp(data: bytes) -> bytes:
    """4-byte big-endian length || data: the same bytes as ``e2evote.hashing.b_file`` (EG 2.0 §5.1.5).

    Written out here so that this pure module does not import the group/hashing stack.
    """
    if len(data) >= 2**32:
        raise OutcomeError("field longer than 2^32 bytes")
    return len(data).to_bytes(4, "big") + data


def tie_lot(seed: bytes, label: str) -> bytes:
    """The 32-byte lot of ``label``: HMAC-SHA-256(key=seed, b_file(LOT_TAG) || b_str(label)).

    ``b_file``/``b_str`` prefix the bytes with their 4-byte big-endian length (EG 2.0 §5.1.4-5).
    Among tied labels the lowest lot (as an unsigned big-endian integer, i.e. bytewise) wins.
    """
    key = _check_seed(seed)
    if key is None:
        raise OutcomeError("tie_lot needs a seed")
    return hmac.new(key, _lp(LOT_TAG) + _lp(_check_label(label).encode("utf-8")), hashlib.sha256).digest()


@dataclass(frozen=True, slots=True)
class _Item:
    """One candidate for a seat/place: ``primary`` (quotient, remainder, votes), then ``votes``."""

    primary: Fraction
    votes: int
    label: str


def _pick(items: Sequence[_Item], k: int, seed: bytes | None, what: str) -> tuple[list[str], tuple[str, ...]]:
    """Choose ``k`` items: larger ``primary`` first, then more ``votes``, then lowest lot.

    Returns the chosen labels (with repetition for highest-averages entries) and the labels of the
    tie that the lot decided (empty when no lot was needed). The lot is only consulted when a group
    of items equal in (primary, votes) straddles the k-th place; without a seed that raises.
    """
    if k <= 0:
        return [], ()
    ordered = sorted(items, key=lambda it: (-it.primary, -it.votes, it.label))
    if k >= len(ordered):
        return [it.label for it in ordered], ()
    edge = (ordered[k - 1].primary, ordered[k - 1].votes)
    lo = k - 1
    while lo > 0 and (ordered[lo - 1].primary, ordered[lo - 1].votes) == edge:
        lo -= 1
    hi = k
    while hi < len(ordered) and (ordered[hi].primary, ordered[hi].votes) == edge:
        hi += 1
    if hi == k:  # the whole tie group is inside the first k: nothing is decided by the tie
        return [it.label for it in ordered[:k]], ()
    group = ordered[lo:hi]
    tied = tuple(sorted(it.label for it in group))
    if seed is None:
        raise UndecidedOutcomeError(f"a tie decides {what} and no tie seed was given", tied=tied)
    by_lot = sorted(group, key=lambda it: tie_lot(seed, it.label))
    chosen = ordered[:lo] + by_lot[: k - lo]
    return [it.label for it in chosen], tied


# --------------------------------------------------------------------------------------------------
# Party-list allocation
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Allocation:
    """Seats per party (every input party appears, excluded ones with 0).

    ``qualified``/``excluded``: parties that passed / failed the threshold (label order).
    ``decided_by_lot``: the tied parties among which the seeded lot decided a seat (usually empty).
    """

    method: Method
    seats: Mapping[str, int]
    qualified: tuple[str, ...]
    excluded: tuple[str, ...]
    decided_by_lot: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "seats", MappingProxyType(dict(sorted(self.seats.items()))))

    def __hash__(self) -> int:
        return hash(
            (self.method, tuple(self.seats.items()), self.qualified, self.excluded, self.decided_by_lot)
        )

    @property
    def total(self) -> int:
        """Total seats allocated."""
        return sum(self.seats.values())


def threshold_base_total(
    votes: Mapping[str, int], base: ThresholdBase, ballots_cast: int | None = None
) -> int:
    """The integer the threshold fraction is applied to (see :class:`ThresholdBase`)."""
    clean = _check_counts(votes)
    valid = sum(clean.values())
    if base is ThresholdBase.VALID_VOTES:
        if ballots_cast is not None:
            raise OutcomeError("ballots_cast must not be given when the threshold base is valid_votes")
        return valid
    if base is ThresholdBase.BALLOTS_CAST:
        if ballots_cast is None:
            raise OutcomeError("ballots_cast is required when the threshold base is ballots_cast")
        cast = _check_count(ballots_cast, "ballots_cast")
        if cast < valid:
            raise OutcomeError(f"ballots_cast {cast} is smaller than the {valid} valid votes")
        return cast
    raise OutcomeError(f"unknown threshold base {base!r}")


def qualifying_parties(votes: Mapping[str, int], threshold: Fraction, base_total: int) -> tuple[str, ...]:
    """Parties with ``votes >= threshold * base_total`` (exact: ``v * den >= num * base``), label order."""
    clean = _check_counts(votes)
    t = _check_threshold(threshold)
    base = _check_count(base_total, "base_total")
    return tuple(sorted(p for p, v in clean.items() if v * t.denominator >= t.numerator * base))


def _divisor(method: Method, seats_held: int) -> int:
    """The divisor of a party that already holds ``seats_held`` seats: D'Hondt s+1, Sainte-Laguë 2s+1."""
    return seats_held + 1 if method is Method.DHONDT else 2 * seats_held + 1


def allocate_seats(
    votes: Mapping[str, int],
    seats: int,
    *,
    method: Method,
    threshold: Fraction = Fraction(0),
    threshold_base: ThresholdBase = ThresholdBase.VALID_VOTES,
    ballots_cast: int | None = None,
    tie_seed: bytes | None = None,
) -> Allocation:
    """Allocate ``seats`` among parties by ``method`` (D'Hondt, Sainte-Laguë or Hare-Niemeyer).

    1. The threshold base is computed (:func:`threshold_base_total`); parties with
       ``votes >= threshold * base`` qualify, the others get 0 seats.
    2. ``seats == 0``: every party gets 0 (no further checks).
    3. No party qualifies, or all qualifying parties have 0 votes: :class:`OutcomeError`.
    4. Seats are allocated among the qualifying parties; ties per :func:`tie_lot` / specs/09.
    """
    if method not in PARTY_LIST_METHODS:
        raise OutcomeError(f"{method!r} is not a party-list method")
    clean = _check_counts(votes)
    n_seats = _check_count(seats, "seats")
    seed = _check_seed(tie_seed)
    base = threshold_base_total(clean, threshold_base, ballots_cast)
    qualified = qualifying_parties(clean, threshold, base)
    excluded = tuple(sorted(set(clean) - set(qualified)))
    result = dict.fromkeys(clean, 0)
    if n_seats == 0:
        return Allocation(method, result, qualified, excluded)
    if not qualified:
        raise UndecidedOutcomeError(
            f"no party reaches the threshold {threshold} of {base}; {n_seats} seat(s) unallocated"
        )
    total = sum(clean[p] for p in qualified)
    if total == 0:
        raise UndecidedOutcomeError("the qualifying parties have no votes; seats cannot be allocated")

    lot: tuple[str, ...]
    if method is Method.HARE_NIEMEYER:
        # Quota-scaled integers: party p's exact quota is v*S/V = floor + rem/V; compare rem directly.
        for p in qualified:
            result[p] = clean[p] * n_seats // total
        remaining = n_seats - sum(result.values())
        items = [_Item(Fraction(clean[p] * n_seats % total), clean[p], p) for p in qualified]
        winners, lot = _pick(items, remaining, seed, "a remainder seat")
    else:
        # Highest averages: a party can win at most S seats, so its S first quotients suffice. Zero-vote
        # parties never win a seat here (some qualifying party has S positive quotients).
        items = [
            _Item(Fraction(clean[p], _divisor(method, s)), clean[p], p)
            for p in qualified
            if clean[p] > 0
            for s in range(n_seats)
        ]
        winners, lot = _pick(items, n_seats, seed, "a seat")
    for p in winners:
        result[p] += 1
    return Allocation(method, result, qualified, excluded, lot)


class _PartyListMethod(Protocol):
    """The call signature of :func:`dhondt`, :func:`sainte_lague` and :func:`hare_niemeyer`."""

    def __call__(
        self,
        votes: Mapping[str, int],
        seats: int,
        *,
        threshold: Fraction = ...,
        threshold_base: ThresholdBase = ...,
        ballots_cast: int | None = None,
        tie_seed: bytes | None = None,
    ) -> Allocation: ...


def _party_list_method(method: Method, doc: str) -> _PartyListMethod:
    """:func:`allocate_seats` with ``method`` fixed, as a module-level function named after it.

    The three public allocators differ only in the method they pass on; building them here keeps
    their keyword defaults in one place, identical to :func:`allocate_seats`'s.
    """

    def allocate(
        votes: Mapping[str, int],
        seats: int,
        *,
        threshold: Fraction = Fraction(0),
        threshold_base: ThresholdBase = ThresholdBase.VALID_VOTES,
        ballots_cast: int | None = None,
        tie_seed: bytes | None = None,
    ) -> Allocation:
        return allocate_seats(
            votes,
            seats,
            method=method,
            threshold=threshold,
            threshold_base=threshold_base,
            ballots_cast=ballots_cast,
            tie_seed=tie_seed,
        )

    allocate.__name__ = allocate.__qualname__ = method.value
    allocate.__doc__ = doc
    return allocate


dhondt: Final = _party_list_method(
    Method.DHONDT, "D'Hondt (divisors 1, 2, 3, ...); see :func:`allocate_seats`."
)
sainte_lague: Final = _party_list_method(
    Method.SAINTE_LAGUE, "Sainte-Laguë / Webster (divisors 1, 3, 5, ...); see :func:`allocate_seats`."
)
hare_niemeyer: Final = _party_list_method(
    Method.HARE_NIEMEYER,
    "Hare-Niemeyer / largest remainder with the Hare quota V/S; see :func:`allocate_seats`.",
)


# --------------------------------------------------------------------------------------------------
# Majority / runoff / plurality
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MajorityResult:
    """Either ``winner`` (absolute majority) or ``runoff`` (the top two, more votes first), never both."""

    winner: str | None
    runoff: tuple[str, str] | None
    decided_by_lot: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.winner is None) == (self.runoff is None):
            raise OutcomeError("a majority result has exactly one of winner and runoff")
        if self.runoff is not None and (len(self.runoff) != 2 or self.runoff[0] == self.runoff[1]):
            raise OutcomeError("a runoff is a pair of two distinct candidates")


def _check_valid_votes(counts: Mapping[str, int], valid_votes: int) -> int:
    valid = _check_count(valid_votes, "valid_votes")
    if valid < sum(counts.values()):
        raise OutcomeError(
            f"valid_votes {valid} is smaller than the sum of the counts {sum(counts.values())}"
        )
    if valid == 0:
        raise UndecidedOutcomeError("there are no valid votes; the outcome is undefined")
    return valid


def majority_runoff(
    counts: Mapping[str, int], valid_votes: int, *, tie_seed: bytes | None = None
) -> MajorityResult:
    """Absolute majority, else the top two go to a runoff.

    ``valid_votes`` is the number of valid votes in the contest (>= sum of counts; blank ballots
    counted as valid votes may make it larger). A candidate with ``2 * votes > valid_votes`` wins.
    Otherwise the two candidates with the most votes form the runoff; a tie for a place in the pair
    is broken by the seeded lot. The pair is ordered by votes (descending), then label.
    """
    clean = _check_counts(counts, "counts")
    valid = _check_valid_votes(clean, valid_votes)
    seed = _check_seed(tie_seed)
    for label, v in clean.items():
        if 2 * v > valid:
            return MajorityResult(label, None)
    if len(clean) < 2:
        raise UndecidedOutcomeError("no absolute majority and fewer than two candidates for a runoff")
    items = [_Item(Fraction(v), v, label) for label, v in clean.items()]
    pair, lot = _pick(items, 2, seed, "a runoff place")
    first, second = sorted(pair, key=lambda label: (-clean[label], label))
    return MajorityResult(None, (first, second), lot)


def plurality_winner(counts: Mapping[str, int], *, tie_seed: bytes | None = None) -> str:
    """The candidate with the most votes; a tie for first is broken by the seeded lot."""
    clean = _check_counts(counts, "counts")
    seed = _check_seed(tie_seed)
    if sum(clean.values()) == 0:
        raise UndecidedOutcomeError("there are no votes; the plurality winner is undefined")
    items = [_Item(Fraction(v), v, label) for label, v in clean.items()]
    (winner,), _ = _pick(items, 1, seed, "first place")
    return winner


# --------------------------------------------------------------------------------------------------
# Referendum
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReferendumResult:
    """``adopted``: the adopted option, or ``None`` when no option is adopted (status quo)."""

    rule: ReferendumRule
    adopted: str | None


def referendum_outcome(
    counts: Mapping[str, int],
    valid_votes: int,
    *,
    against_all: str,
    rule: ReferendumRule = ReferendumRule.ABSOLUTE_MAJORITY,
) -> ReferendumResult:
    """Decide a referendum whose options include the ``against_all`` label.

    ``ABSOLUTE_MAJORITY``: an option other than against-all with ``2 * votes > valid_votes`` is
    adopted; otherwise nothing is. ``PLURALITY``: the label with strictly the most votes wins; if that
    is against-all, or if the most votes are tied, nothing is adopted. No lot is ever drawn.
    """
    clean = _check_counts(counts, "counts")
    aa = _check_label(against_all, "against_all")
    if aa not in clean:
        raise OutcomeError(f"the against-all label {aa!r} is not among the options")
    if len(clean) < 2:
        raise OutcomeError("a referendum needs at least one option besides against-all")
    valid = _check_valid_votes(clean, valid_votes)
    if rule is ReferendumRule.ABSOLUTE_MAJORITY:
        for label, v in clean.items():
            if label != aa and 2 * v > valid:
                return ReferendumResult(rule, label)
        return ReferendumResult(rule, None)
    if rule is ReferendumRule.PLURALITY:
        top = max(clean.values())
        leaders = [label for label, v in clean.items() if v == top]
        if len(leaders) == 1 and leaders[0] != aa:
            return ReferendumResult(rule, leaders[0])
        return ReferendumResult(rule, None)
    raise OutcomeError(f"unknown referendum rule {rule!r}")


# --------------------------------------------------------------------------------------------------
# Serialisable rule and result
# --------------------------------------------------------------------------------------------------

_RULE_KEYS: Final = frozenset({"method", "seats", "threshold", "threshold_base", "against_all", "tie_seed"})
_RESULT_KEYS: Final = frozenset({"method", "seats", "winner", "runoff"})


def _exact_keys(d: object, keys: frozenset[str], what: str) -> Mapping[str, Any]:
    if not isinstance(d, Mapping):
        raise OutcomeError(f"{what} must be a JSON object")
    got = set(d)
    if got != keys:
        missing, extra = sorted(keys - got, key=str), sorted(got - keys, key=str)
        raise OutcomeError(f"{what} keys mismatch: missing {missing}, unexpected {extra}")
    return d


def _parse_method(value: object) -> Method:
    if not isinstance(value, str):
        raise OutcomeError(f"method must be a string, got {value!r}")
    try:
        return Method(value)
    except ValueError as exc:
        raise OutcomeError(f"unknown method {value!r}") from exc


def _format_threshold(t: Fraction) -> str:
    return f"{t.numerator}/{t.denominator}"


def _parse_threshold(value: object) -> Fraction:
    if not isinstance(value, str) or _THRESHOLD_RE.fullmatch(value) is None:
        raise OutcomeError(f"threshold must be a 'num/den' string, got {value!r}")
    num, den = (int(x) for x in value.split("/"))
    t = Fraction(num, den)
    if (t.numerator, t.denominator) != (num, den):
        raise OutcomeError(f"threshold {value!r} is not in lowest terms (expected {_format_threshold(t)!r})")
    return _check_threshold(t)


@dataclass(frozen=True, slots=True)
class OutcomeRule:
    """A contest's outcome rule, as stored in a manifest.

    Party-list methods: ``seats``, ``threshold`` and ``threshold_base`` are required, ``against_all``
    must be ``None``. Majority/plurality: only ``tie_seed`` may be set. Referendum methods:
    ``against_all`` is required, ``seats``/``threshold``/``threshold_base`` must be ``None``, and
    ``tie_seed`` must be ``None`` (a referendum never draws lots). ``tie_seed`` is 32 bytes or ``None``.
    """

    method: Method
    seats: int | None = None
    threshold: Fraction | None = None
    threshold_base: ThresholdBase | None = None
    against_all: str | None = None
    tie_seed: bytes | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.method, Method):
            raise OutcomeError(f"method must be a Method, got {self.method!r}")
        _check_seed(self.tie_seed)
        if self.method in PARTY_LIST_METHODS:
            if self.seats is None or self.threshold is None or self.threshold_base is None:
                raise OutcomeError(f"{self.method} needs seats, threshold and threshold_base")
            _check_count(self.seats, "seats")
            _check_threshold(self.threshold)
            if not isinstance(self.threshold_base, ThresholdBase):
                raise OutcomeError(f"threshold_base must be a ThresholdBase, got {self.threshold_base!r}")
            if self.against_all is not None:
                raise OutcomeError(f"{self.method} takes no against_all label")
            return
        if self.seats is not None or self.threshold is not None or self.threshold_base is not None:
            raise OutcomeError(f"{self.method} takes no seats, threshold or threshold_base")
        if self.method in REFERENDUM_METHODS:
            if self.against_all is None:
                raise OutcomeError(f"{self.method} needs an against_all label")
            _check_label(self.against_all, "against_all")
            if self.tie_seed is not None:
                raise OutcomeError(f"{self.method} never draws lots; tie_seed must be null")
        elif self.against_all is not None:
            raise OutcomeError(f"{self.method} takes no against_all label")

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON-compatible view (all keys present; inapplicable ones are ``None``)."""
        return {
            "method": self.method.value,
            "seats": self.seats,
            "threshold": None if self.threshold is None else _format_threshold(self.threshold),
            "threshold_base": None if self.threshold_base is None else self.threshold_base.value,
            "against_all": self.against_all,
            "tie_seed": None if self.tie_seed is None else self.tie_seed.hex(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OutcomeRule:
        """Strict inverse of :meth:`to_dict`: exact key set, exact types, canonical encodings."""
        d = _exact_keys(d, _RULE_KEYS, "outcome rule")
        method = _parse_method(d["method"])
        seats = d["seats"]
        if seats is not None:
            seats = _check_count(seats, "seats")
        threshold = None if d["threshold"] is None else _parse_threshold(d["threshold"])
        base_raw = d["threshold_base"]
        base: ThresholdBase | None = None
        if base_raw is not None:
            if not isinstance(base_raw, str) or base_raw not in {b.value for b in ThresholdBase}:
                raise OutcomeError(f"unknown threshold_base {base_raw!r}")
            base = ThresholdBase(base_raw)
        against_all = d["against_all"]
        if against_all is not None:
            against_all = _check_label(against_all, "against_all")
        seed_raw = d["tie_seed"]
        seed: bytes | None = None
        if seed_raw is not None:
            if not isinstance(seed_raw, str) or _SEED_RE.fullmatch(seed_raw) is None:
                raise OutcomeError("tie_seed must be 64 lowercase hex digits")
            seed = bytes.fromhex(seed_raw)
        return cls(method, seats, threshold, base, against_all, seed)


@dataclass(frozen=True, slots=True)
class OutcomeResult:
    """A published outcome: ``seats`` (party-list), ``winner`` and/or ``runoff`` (others).

    Party-list: ``seats`` set, ``winner``/``runoff`` ``None``. Majority-runoff: exactly one of
    ``winner``/``runoff``. Plurality: ``winner`` set. Referendum: ``winner`` is the adopted option or
    ``None`` (nothing adopted).
    """

    method: Method
    seats: Mapping[str, int] | None = None
    winner: str | None = None
    runoff: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.method, Method):
            raise OutcomeError(f"method must be a Method, got {self.method!r}")
        if self.seats is not None:
            clean = _check_counts(self.seats, "seats")
            object.__setattr__(self, "seats", MappingProxyType(dict(sorted(clean.items()))))
        if self.winner is not None:
            _check_label(self.winner, "winner")
        if self.runoff is not None:
            if not isinstance(self.runoff, tuple) or len(self.runoff) != 2:
                raise OutcomeError("runoff must be a pair of labels")
            a, b = (_check_label(x, "runoff candidate") for x in self.runoff)
            if a == b:
                raise OutcomeError("runoff candidates must differ")
        m = self.method
        if m in PARTY_LIST_METHODS:
            ok = self.seats is not None and self.winner is None and self.runoff is None
        elif m is Method.MAJORITY_RUNOFF:
            ok = self.seats is None and (self.winner is None) != (self.runoff is None)
        elif m is Method.PLURALITY:
            ok = self.seats is None and self.winner is not None and self.runoff is None
        else:
            ok = self.seats is None and self.runoff is None
        if not ok:
            raise OutcomeError(f"fields of the result do not fit method {m}")

    def __hash__(self) -> int:
        seats = None if self.seats is None else tuple(self.seats.items())
        return hash((self.method, seats, self.winner, self.runoff))

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON-compatible view (all keys present; seats sorted by label)."""
        return {
            "method": self.method.value,
            "seats": None if self.seats is None else dict(self.seats),
            "winner": self.winner,
            "runoff": None if self.runoff is None else list(self.runoff),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> OutcomeResult:
        """Strict inverse of :meth:`to_dict`."""
        d = _exact_keys(d, _RESULT_KEYS, "outcome result")
        method = _parse_method(d["method"])
        seats_raw = d["seats"]
        if seats_raw is not None and not isinstance(seats_raw, Mapping):
            raise OutcomeError("seats must be an object label -> int")
        runoff_raw = d["runoff"]
        runoff: tuple[str, str] | None = None
        if runoff_raw is not None:
            if not isinstance(runoff_raw, list) or len(runoff_raw) != 2:
                raise OutcomeError("runoff must be a list of two labels")
            runoff = (_check_label(runoff_raw[0]), _check_label(runoff_raw[1]))
        winner = d["winner"]
        if winner is not None:
            winner = _check_label(winner, "winner")
        return cls(method, seats_raw, winner, runoff)


# --------------------------------------------------------------------------------------------------
# Dispatch and verification
# --------------------------------------------------------------------------------------------------


def compute_outcome(
    rule: OutcomeRule,
    counts: Mapping[str, int],
    *,
    valid_votes: int | None = None,
    ballots_cast: int | None = None,
) -> OutcomeResult:
    """Apply ``rule`` to verified ``counts``.

    ``valid_votes`` (majority / referendum): defaults to the sum of ``counts``. ``ballots_cast``
    (party-list): required exactly when the rule's threshold base is ``ballots_cast``.
    Raises :class:`OutcomeError` when the rule cannot decide (e.g. a tie without a seed).
    """
    m = rule.method
    clean = _check_counts(counts, "counts")
    valid = sum(clean.values()) if valid_votes is None else valid_votes
    if m in PARTY_LIST_METHODS:
        if rule.seats is None or rule.threshold is None or rule.threshold_base is None:
            raise OutcomeError(f"{m} rule without seats/threshold/threshold_base")  # OutcomeRule forbids it
        if valid_votes is not None:
            raise OutcomeError("valid_votes does not apply to party-list methods")
        alloc = allocate_seats(
            clean,
            rule.seats,
            method=m,
            threshold=rule.threshold,
            threshold_base=rule.threshold_base,
            ballots_cast=ballots_cast,
            tie_seed=rule.tie_seed,
        )
        return OutcomeResult(m, seats=alloc.seats)
    if ballots_cast is not None:
        raise OutcomeError(f"ballots_cast does not apply to {m}")
    if m is Method.MAJORITY_RUNOFF:
        res = majority_runoff(clean, valid, tie_seed=rule.tie_seed)
        return OutcomeResult(m, winner=res.winner, runoff=res.runoff)
    if m is Method.PLURALITY:
        if valid_votes is not None:
            raise OutcomeError("valid_votes does not apply to plurality")
        return OutcomeResult(m, winner=plurality_winner(clean, tie_seed=rule.tie_seed))
    if rule.against_all is None:
        raise OutcomeError(f"{m} rule without against_all")  # OutcomeRule forbids it
    ref = referendum_outcome(clean, valid, against_all=rule.against_all, rule=REFERENDUM_METHODS[m])
    return OutcomeResult(m, winner=ref.adopted)


def _diff(expected: OutcomeResult, published: OutcomeResult) -> Iterator[str]:
    if expected.seats is not None and published.seats is not None:
        for p in sorted(set(expected.seats) | set(published.seats)):
            e, g = expected.seats.get(p), published.seats.get(p)
            if e != g:
                yield f"seats[{p!r}]: published {g}, recomputed {e}"
    if expected.winner != published.winner:
        yield f"winner: published {published.winner!r}, recomputed {expected.winner!r}"
    if expected.runoff != published.runoff:
        yield f"runoff: published {published.runoff!r}, recomputed {expected.runoff!r}"


def verify_outcome(
    rule: OutcomeRule,
    counts: Mapping[str, int],
    published: OutcomeResult | None,
    *,
    valid_votes: int | None = None,
    ballots_cast: int | None = None,
    obj: str = "outcome",
) -> None:
    """Steps V20.C-V20.E of specs/09: recompute the outcome and compare it with ``published``.

    ``published is None`` means the record publishes no outcome for the contest; that is accepted
    only when the rule decides nothing (:class:`UndecidedOutcomeError`). Inputs the rule rejects as
    inconsistent (e.g. ``ballots_cast`` below the valid votes) fail V20.B. Raises
    :class:`VerificationError`.
    """
    if published is not None and published.method is not rule.method:
        raise VerificationError("V20.C", obj, f"published method {published.method} != rule {rule.method}")
    if published is not None and published.seats is not None and set(published.seats) != set(counts):
        raise VerificationError("V20.C", obj, "published seats do not name exactly the contest's parties")
    try:
        expected = compute_outcome(rule, counts, valid_votes=valid_votes, ballots_cast=ballots_cast)
    except UndecidedOutcomeError as exc:
        if published is None:
            return
        raise VerificationError(
            "V20.D", obj, f"the rule decides no outcome ({exc}) but one is published"
        ) from exc
    except OutcomeError as exc:
        raise VerificationError("V20.B", obj, f"inputs rejected by the outcome rule: {exc}") from exc
    if published is None:
        raise VerificationError("V20.D", obj, "the rule decides an outcome but none is published")
    diffs = list(_diff(expected, published))
    if diffs:
        raise VerificationError("V20.E", obj, "; ".join(diffs))


def contest_rule(contest: Contest) -> OutcomeRule | None:
    """The parsed outcome rule of ``contest``, None if it names none; a malformed rule raises
    :class:`OutcomeError` naming the contest (V20.A reports it)."""
    if contest.outcome is None:
        return None
    try:
        return OutcomeRule.from_dict(dict(contest.outcome))
    except (E2EVoteError, TypeError, ValueError) as exc:
        raise OutcomeError(f"contest {contest.label!r}: outcome rule: {exc}") from None


def contest_rules(manifest: Manifest) -> dict[str, OutcomeRule]:
    """The parsed outcome rule of every contest of ``manifest`` that names one (:func:`contest_rule`,
    as V20.A parses them). The first malformed rule raises: checked when an election is created,
    since H_M binds the manifest and every record of it would fail V20.A."""
    rules: dict[str, OutcomeRule] = {}
    for c in manifest.contests:
        rule = contest_rule(c)
        if rule is not None:
            rules[c.label] = rule
    return rules


def compute_outcomes(
    manifest: Manifest, counts: Mapping[str, Mapping[str, int]], cast_per_contest: Mapping[int, int]
) -> dict[str, dict[str, Any]]:
    """A record's outcomes document (``outcomes.msgpack``, specs/09-outcomes.md §7) as V20 recomputes
    it: every decided outcome of a contest with a rule, from the decrypted ``counts`` (contest label ->
    option label -> votes) and, where the rule's threshold counts ballots cast, the number of cast
    ballots carrying the contest (``cast_per_contest``, by ind_c). An undecided contest publishes none
    (V20.D)."""
    rules = contest_rules(manifest)
    out: dict[str, dict[str, Any]] = {}
    for c in manifest.contests:
        rule = rules.get(c.label)
        if rule is None:
            continue
        cast = cast_per_contest.get(c.index, 0) if rule.threshold_base is ThresholdBase.BALLOTS_CAST else None
        try:
            out[c.label] = compute_outcome(rule, counts[c.label], ballots_cast=cast).to_dict()
        except UndecidedOutcomeError:
            continue
    return out
