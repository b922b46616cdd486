"""Tests for e2evote.protocol.outcomes (specs/09-outcomes.md).

The textbook cases are worked by hand in the comments; the property tests compare the module with
an independent, naive, seat-by-seat reference implementation written below.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import random
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e2evote.errors import E2EVoteError, VerificationError
from e2evote.protocol.outcomes import (
    LOT_TAG,
    Allocation,
    MajorityResult,
    Method,
    OutcomeError,
    OutcomeResult,
    OutcomeRule,
    ReferendumRule,
    ThresholdBase,
    UndecidedOutcomeError,
    allocate_seats,
    compute_outcome,
    dhondt,
    hare_niemeyer,
    majority_runoff,
    plurality_winner,
    qualifying_parties,
    referendum_outcome,
    sainte_lague,
    threshold_base_total,
    tie_lot,
    verify_outcome,
)

# The classic example used throughout: 230,000 valid votes.
CLASSIC = {"A": 100_000, "B": 80_000, "C": 30_000, "D": 20_000}
SEED = bytes(range(32))


def ref_lot(seed: bytes, label: str) -> bytes:
    """specs/09 §Tie rule, written out independently: HMAC-SHA-256(seed, len||tag || len||label)."""
    raw = label.encode("utf-8")
    msg = len(LOT_TAG).to_bytes(4, "big") + LOT_TAG + len(raw).to_bytes(4, "big") + raw
    return hmac.new(seed, msg, hashlib.sha256).digest()


def seed_where(winner: str, loser: str) -> bytes:
    """A deterministic seed whose lot ranks ``winner`` before ``loser``."""
    for i in range(256):
        seed = bytes([i]) * 32
        if ref_lot(seed, winner) < ref_lot(seed, loser):
            return seed
    raise AssertionError("no seed found")  # probability 2^-256


# --------------------------------------------------------------------------------------------------
# Highest averages: textbook cases
# --------------------------------------------------------------------------------------------------


def test_dhondt_classic_example() -> None:
    # Quotients v/d, d = 1, 2, 3, 4, 5 (rank of the 8 largest in brackets):
    #        d=1          d=2         d=3          d=4         d=5
    #   A  100000 [1]   50000 [3]   33333.3 [5]  25000 [8]   20000
    #   B   80000 [2]   40000 [4]   26666.7 [7]  20000       16000
    #   C   30000 [6]   15000       10000
    #   D   20000       10000
    # The 8th largest is 25000 (A, d=4); the next ones (20000) miss -> A 4, B 3, C 1, D 0.
    alloc = dhondt(CLASSIC, 8)
    assert dict(alloc.seats) == {"A": 4, "B": 3, "C": 1, "D": 0}
    assert alloc.total == 8
    assert alloc.qualified == ("A", "B", "C", "D")
    assert alloc.excluded == ()
    assert alloc.decided_by_lot == ()
    assert alloc.method is Method.DHONDT


def test_sainte_lague_classic_example_tie_inside_the_seats_needs_no_seed() -> None:
    # Quotients v/d, d = 1, 3, 5, 7:
    #        d=1          d=3          d=5         d=7
    #   A  100000 [1]   33333.3 [3]  20000 [6/7] 14285.7
    #   B   80000 [2]   26666.7 [5]  16000 [8]   11428.6
    #   C   30000 [4]   10000
    #   D   20000 [6/7]  6666.7
    # A (d=5) and D (d=1) tie at 20000 for seats 6 and 7: both get a seat whatever the order, so no
    # lot is needed even without a seed. Seat 8 is B's 16000 -> A 3, B 3, C 1, D 1.
    alloc = sainte_lague(CLASSIC, 8)
    assert dict(alloc.seats) == {"A": 3, "B": 3, "C": 1, "D": 1}
    assert alloc.decided_by_lot == ()


def test_sainte_lague_tie_for_last_seat_broken_by_more_votes() -> None:
    # Same table with 6 seats: seats 1-5 are A, B, A, C, B; seat 6 is the 20000 tie between A (d=5,
    # 100000 votes) and D (d=1, 20000 votes). More total votes wins: A -> A 3, B 2, C 1, D 0.
    alloc = sainte_lague(CLASSIC, 6)
    assert dict(alloc.seats) == {"A": 3, "B": 2, "C": 1, "D": 0}
    assert alloc.decided_by_lot == ()  # decided by votes, not by lot


def test_dhondt_more_seats_than_votes() -> None:
    # A 2, B 1, 10 seats. Quotients A: 2, 1, 2/3, 1/2, 2/5, 1/3, 2/7, 1/4 ...; B: 1, 1/2, 1/3, 1/4 ...
    # Sorted: 2(A) 1(A,B) 2/3(A) 1/2(A,B) 2/5(A) 1/3(A,B) 2/7(A) = 10 entries -> A 7, B 3.
    # (The ties at 1, 1/2, 1/3 lie entirely inside the 10 seats.)
    assert dict(dhondt({"A": 2, "B": 1}, 10).seats) == {"A": 7, "B": 3}


# --------------------------------------------------------------------------------------------------
# Largest remainder: textbook cases
# --------------------------------------------------------------------------------------------------


def test_hare_niemeyer_classic_example() -> None:
    # V = 230000, S = 8, Hare quota V/S = 28750. Exact quotas v*S/V and remainders (scaled by V):
    #        v*S      floor   v*S mod V   quota
    #   A   800000     3       110000     3.478
    #   B   640000     2       180000     2.783
    #   C   240000     1        10000     1.043
    #   D   160000     0       160000     0.696
    # Floors give 6 seats; the 2 largest remainders are B (180000) and D (160000) -> A 3, B 3, C 1, D 1.
    alloc = hare_niemeyer(CLASSIC, 8)
    assert dict(alloc.seats) == {"A": 3, "B": 3, "C": 1, "D": 1}
    assert alloc.method is Method.HARE_NIEMEYER


def test_hare_niemeyer_alabama_paradox() -> None:
    # Votes A 6, B 6, C 2 (V = 14).
    # S = 10: quotas 60/14 = 4.286, 4.286, 20/14 = 1.429 -> floors 4, 4, 1 (9); the remaining seat goes
    #         to the largest remainder, C (0.429 > 0.286) -> A 4, B 4, C 2.
    # S = 11: quotas 66/14 = 4.714, 4.714, 22/14 = 1.571 -> floors 4, 4, 1 (9); the 2 remaining seats go
    #         to A and B (0.714 > 0.571) -> A 5, B 5, C 1.
    # C loses a seat when the house grows: the Alabama paradox, which Hare-Niemeyer must reproduce.
    votes = {"A": 6, "B": 6, "C": 2}
    assert dict(hare_niemeyer(votes, 10).seats) == {"A": 4, "B": 4, "C": 2}
    assert dict(hare_niemeyer(votes, 11).seats) == {"A": 5, "B": 5, "C": 1}


def test_hare_niemeyer_more_seats_than_votes() -> None:
    # A 2, B 1, 10 seats: quotas 20/3 = 6.667 and 10/3 = 3.333 -> floors 6, 3; the last seat goes to
    # A (remainder 2/3 > 1/3) -> A 7, B 3.
    assert dict(hare_niemeyer({"A": 2, "B": 1}, 10).seats) == {"A": 7, "B": 3}


def test_hare_niemeyer_remainder_tie_broken_by_votes() -> None:
    # A 3, B 2, C 1, S = 3, V = 6: quotas 1.5, 1.0, 0.5 -> floors 1, 1, 0, one seat left. A and C tie
    # on remainder 0.5; A has more votes -> A 2, B 1, C 0.
    alloc = hare_niemeyer({"A": 3, "B": 2, "C": 1}, 3)
    assert dict(alloc.seats) == {"A": 2, "B": 1, "C": 0}
    assert alloc.decided_by_lot == ()


def test_hare_niemeyer_remainder_tie_by_lot() -> None:
    # A 1, B 1, one seat: quotas 1/2 each, identical remainders and votes -> only the lot decides.
    with pytest.raises(UndecidedOutcomeError) as err:
        hare_niemeyer({"A": 1, "B": 1}, 1)
    assert err.value.tied == ("A", "B")
    seed = seed_where("B", "A")
    alloc = hare_niemeyer({"A": 1, "B": 1}, 1, tie_seed=seed)
    assert dict(alloc.seats) == {"A": 0, "B": 1}
    assert alloc.decided_by_lot == ("A", "B")


# --------------------------------------------------------------------------------------------------
# Threshold
# --------------------------------------------------------------------------------------------------


def test_threshold_exclusion_changes_the_allocation() -> None:
    # 10% of the 230000 valid votes = 23000: D (20000) is excluded, C (30000) qualifies.
    # Hare over the qualifying parties only: V = 210000, S = 8.
    #        v*S      floor   v*S mod V
    #   A   800000     3       170000
    #   B   640000     3        10000
    #   C   240000     1        30000
    # Floors give 7; the last seat goes to A (170000) -> A 4, B 3, C 1, D 0 (without the threshold
    # the result is A 3, B 3, C 1, D 1: D's seat moves to A).
    alloc = hare_niemeyer(CLASSIC, 8, threshold=Fraction(1, 10))
    assert dict(alloc.seats) == {"A": 4, "B": 3, "C": 1, "D": 0}
    assert alloc.qualified == ("A", "B", "C")
    assert alloc.excluded == ("D",)
    assert dict(hare_niemeyer(CLASSIC, 8).seats) == {"A": 3, "B": 3, "C": 1, "D": 1}


def test_threshold_reached_exactly_qualifies_and_base_is_explicit() -> None:
    # 8% threshold. Base valid votes: 0.08 * 230000 = 18400 -> D (20000) qualifies.
    # Base ballots cast 250000: 0.08 * 250000 = 20000 -> D has exactly the threshold and qualifies (>=).
    # Base ballots cast 250001: 20000.08 -> D falls short and is excluded.
    t = Fraction(8, 100)
    assert qualifying_parties(CLASSIC, t, threshold_base_total(CLASSIC, ThresholdBase.VALID_VOTES)) == (
        "A",
        "B",
        "C",
        "D",
    )
    at = sainte_lague(
        CLASSIC, 8, threshold=t, threshold_base=ThresholdBase.BALLOTS_CAST, ballots_cast=250_000
    )
    assert "D" in at.qualified and at.seats["D"] == 1
    below = sainte_lague(
        CLASSIC, 8, threshold=t, threshold_base=ThresholdBase.BALLOTS_CAST, ballots_cast=250_001
    )
    assert below.excluded == ("D",)
    # Without D the 8th Sainte-Laguë seat (D's 20000) goes to the next quotient, A's 14285.7 (d=7).
    assert dict(below.seats) == {"A": 4, "B": 3, "C": 1, "D": 0}


def test_threshold_base_inputs_are_checked() -> None:
    with pytest.raises(OutcomeError, match="smaller than"):
        threshold_base_total(CLASSIC, ThresholdBase.BALLOTS_CAST, 229_999)
    with pytest.raises(OutcomeError, match="required"):
        threshold_base_total(CLASSIC, ThresholdBase.BALLOTS_CAST)
    with pytest.raises(OutcomeError, match="must not be given"):
        threshold_base_total(CLASSIC, ThresholdBase.VALID_VOTES, 300_000)
    assert threshold_base_total(CLASSIC, ThresholdBase.BALLOTS_CAST, 230_000) == 230_000
    for bad in (Fraction(-1, 10), Fraction(11, 10), 0.05):
        with pytest.raises(OutcomeError, match="threshold"):
            dhondt(CLASSIC, 8, threshold=bad)  # type: ignore[arg-type]


def test_no_party_qualifying_is_an_error() -> None:
    # Four parties with 25% each and a 30% threshold: nobody qualifies, 5 seats cannot be filled.
    votes = {"A": 25, "B": 25, "C": 25, "D": 25}
    with pytest.raises(UndecidedOutcomeError, match="threshold"):
        dhondt(votes, 5, threshold=Fraction(3, 10))
    # ... but zero seats are trivially allocated.
    assert dict(dhondt(votes, 0, threshold=Fraction(3, 10)).seats) == dict.fromkeys(votes, 0)


# --------------------------------------------------------------------------------------------------
# Tie rule
# --------------------------------------------------------------------------------------------------


def test_tie_lot_bytes_are_the_specified_ones() -> None:
    # The lot is pinned to the exact bytes of specs/09 (known-answer value and independent recompute).
    assert LOT_TAG == b"E2EVOTE-OUTCOME-TIE-LOT-v1"
    assert tie_lot(SEED, "Party A") == ref_lot(SEED, "Party A")
    # Known-answer values, also listed in specs/09 §Tie rule (seed = 32 zero bytes).
    assert tie_lot(bytes(32), "A").hex() == "d74cd7dc05c0ab3551fca3c0299f4034a3bd9a96a68cac34eede479699b7a629"
    assert tie_lot(bytes(32), "B").hex() == "6d419e46c4e299c4b73ea70256745e0db3320a898e712872256bd032ba291847"
    assert tie_lot(SEED, "A") != tie_lot(SEED, "B")
    assert tie_lot(SEED, "A") != tie_lot(bytes(32), "A")
    with pytest.raises(OutcomeError, match="32 bytes"):
        tie_lot(bytes(31), "A")


def test_dhondt_tie_broken_by_votes_then_by_lot() -> None:
    # A 600, B 300, C 300. Quotients: A 600, 300, 200; B 300, 150; C 300, 150.
    # 2 seats: seat 1 = A (600); seat 2 = 300-tie of A (d=2), B, C -> A has most votes -> A 2.
    two = dhondt({"A": 600, "B": 300, "C": 300}, 2)
    assert dict(two.seats) == {"A": 2, "B": 0, "C": 0}
    assert two.decided_by_lot == ()
    # 3 seats: seat 3 = B or C (same quotient, same votes): only the lot can decide.
    votes = {"A": 600, "B": 300, "C": 300}
    with pytest.raises(UndecidedOutcomeError) as err:
        dhondt(votes, 3)
    assert err.value.tied == ("B", "C")  # A is not part of the deciding tie
    assert "'B'" in str(err.value) and "'C'" in str(err.value)
    assert isinstance(err.value, OutcomeError) and isinstance(err.value, E2EVoteError)
    # With a seed, the lowest HMAC lot among B and C wins; both outcomes occur for some seed.
    for winner, loser in (("B", "C"), ("C", "B")):
        seed = seed_where(winner, loser)
        alloc = dhondt(votes, 3, tie_seed=seed)
        assert dict(alloc.seats) == {"A": 2, winner: 1, loser: 0}
        assert alloc.decided_by_lot == ("B", "C")
    # 4 seats: B and C both get their 300 seat: the tie decides nothing, no seed needed.
    assert dict(dhondt(votes, 4).seats) == {"A": 2, "B": 1, "C": 1}


def test_seed_must_be_32_bytes() -> None:
    with pytest.raises(OutcomeError, match="32 bytes"):
        dhondt(CLASSIC, 8, tie_seed=b"short")


# --------------------------------------------------------------------------------------------------
# Edge cases and input validation
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", [Method.DHONDT, Method.SAINTE_LAGUE, Method.HARE_NIEMEYER])
def test_party_list_edge_cases(method: Method) -> None:
    # Zero seats: everyone gets 0, even with all-zero votes.
    assert dict(allocate_seats({"A": 0, "B": 0}, 0, method=method).seats) == {"A": 0, "B": 0}
    # A single party takes every seat.
    assert dict(allocate_seats({"A": 7}, 5, method=method).seats) == {"A": 5}
    # A zero-vote party qualifies under a zero threshold but wins nothing.
    alloc = allocate_seats({"A": 7, "Z": 0}, 5, method=method)
    assert dict(alloc.seats) == {"A": 5, "Z": 0}
    assert alloc.qualified == ("A", "Z")
    # All-zero votes, empty input: no seat can be allocated.
    with pytest.raises(UndecidedOutcomeError, match="no votes"):
        allocate_seats({"A": 0, "B": 0}, 3, method=method)
    with pytest.raises(UndecidedOutcomeError):
        allocate_seats({}, 1, method=method)


@pytest.mark.parametrize(
    ("votes", "seats"),
    [
        ({"A": -1}, 1),
        ({"A": True}, 1),
        ({"A": 1.0}, 1),
        ({"": 1}, 1),
        ({1: 1}, 1),
        ({"A": 1}, -1),
        ({"A": 1}, True),
        ({"\ud800": 1}, 1),
    ],
)
def test_party_list_rejects_malformed_input(votes: dict[Any, Any], seats: Any) -> None:
    with pytest.raises(OutcomeError) as err:
        dhondt(votes, seats)
    assert not isinstance(err.value, UndecidedOutcomeError)


def test_allocate_seats_rejects_non_party_list_method() -> None:
    with pytest.raises(OutcomeError, match="not a party-list method"):
        allocate_seats(CLASSIC, 8, method=Method.PLURALITY)


def test_allocation_is_frozen_and_hashable() -> None:
    alloc = dhondt(CLASSIC, 8)
    with pytest.raises(TypeError):
        alloc.seats["A"] = 9  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        alloc.seats = {}  # type: ignore[misc]
    assert hash(alloc) == hash(dhondt(dict(reversed(list(CLASSIC.items()))), 8))
    assert alloc == dhondt(CLASSIC, 8)
    assert list(alloc.seats) == ["A", "B", "C", "D"]
    assert isinstance(alloc, Allocation)


# --------------------------------------------------------------------------------------------------
# Majority / runoff / plurality
# --------------------------------------------------------------------------------------------------


def test_majority_clear_winner() -> None:
    # 51 of 100 valid votes is strictly more than half.
    res = majority_runoff({"A": 51, "B": 30, "C": 19}, 100)
    assert res == MajorityResult("A", None)


def test_majority_exactly_half_is_not_enough() -> None:
    # 50 of 100 is not strictly more than half -> runoff between the top two, more votes first.
    res = majority_runoff({"A": 50, "B": 30, "C": 20}, 100)
    assert res.winner is None and res.runoff == ("A", "B")


def test_majority_counts_blank_valid_votes() -> None:
    # 55 of 100 counted, but 110 valid votes (10 blank counted as valid): 2*55 = 110 is not > 110.
    assert majority_runoff({"A": 55, "B": 45}, 100).winner == "A"
    assert majority_runoff({"A": 55, "B": 45}, 110).runoff == ("A", "B")


def test_runoff_tie_for_second_place() -> None:
    counts = {"A": 40, "B": 30, "C": 30}
    with pytest.raises(UndecidedOutcomeError) as err:
        majority_runoff(counts, 100)
    assert err.value.tied == ("B", "C")
    for winner, loser in (("B", "C"), ("C", "B")):
        res = majority_runoff(counts, 100, tie_seed=seed_where(winner, loser))
        assert res.runoff == ("A", winner)
        assert res.decided_by_lot == ("B", "C")


def test_runoff_tie_for_first_place_needs_no_lot() -> None:
    # Two candidates tie for first: both go to the runoff; pair ordered by votes then label.
    res = majority_runoff({"C": 20, "B": 40, "A": 40}, 100)
    assert res.runoff == ("A", "B") and res.decided_by_lot == ()


def test_runoff_three_way_tie_for_first() -> None:
    counts = {"A": 30, "B": 30, "C": 30}
    with pytest.raises(UndecidedOutcomeError) as err:
        majority_runoff(counts, 90)
    assert err.value.tied == ("A", "B", "C")
    # With a seed the two lowest lots go through; recompute them independently.
    expected = tuple(sorted(sorted(counts, key=lambda c: ref_lot(SEED, c))[:2]))
    assert majority_runoff(counts, 90, tie_seed=SEED).runoff == expected


def test_majority_input_checks() -> None:
    with pytest.raises(OutcomeError, match="smaller than"):
        majority_runoff({"A": 60, "B": 50}, 100)
    with pytest.raises(UndecidedOutcomeError, match="no valid votes"):
        majority_runoff({"A": 0, "B": 0}, 0)
    with pytest.raises(UndecidedOutcomeError, match="fewer than two"):
        majority_runoff({"A": 5}, 10)
    with pytest.raises(OutcomeError, match="exactly one"):
        MajorityResult(None, None)
    with pytest.raises(OutcomeError, match="exactly one"):
        MajorityResult("A", ("A", "B"))


def test_plurality_winner() -> None:
    assert plurality_winner({"A": 10, "B": 11, "C": 3}) == "B"
    with pytest.raises(UndecidedOutcomeError) as err:
        plurality_winner({"A": 11, "B": 11, "C": 3})
    assert err.value.tied == ("A", "B")
    assert plurality_winner({"A": 11, "B": 11, "C": 3}, tie_seed=seed_where("B", "A")) == "B"
    with pytest.raises(UndecidedOutcomeError):
        plurality_winner({"A": 0, "B": 0})


# --------------------------------------------------------------------------------------------------
# Referendum with "against all"
# --------------------------------------------------------------------------------------------------

AA = "Against all"


def test_referendum_against_all_wins() -> None:
    # X 30, Y 25, against-all 45 of 100: no option has a majority, and against-all leads.
    counts = {"X": 30, "Y": 25, AA: 45}
    for rule in ReferendumRule:
        res = referendum_outcome(counts, 100, against_all=AA, rule=rule)
        assert res.adopted is None and res.rule is rule
    # Against-all with an absolute majority: nothing adopted either.
    assert referendum_outcome({"X": 40, AA: 60}, 100, against_all=AA).adopted is None


def test_referendum_majority_versus_plurality() -> None:
    # X 30, Y 25, AA 20 of 100 valid (25 blank): X leads but has no absolute majority.
    counts = {"X": 30, "Y": 25, AA: 20}
    assert referendum_outcome(counts, 100, against_all=AA).adopted is None
    assert referendum_outcome(counts, 100, against_all=AA, rule=ReferendumRule.PLURALITY).adopted == "X"
    # X 60 of 100: adopted under both rules.
    for rule in ReferendumRule:
        assert referendum_outcome({"X": 60, "Y": 20, AA: 20}, 100, against_all=AA, rule=rule).adopted == "X"


def test_referendum_tie_at_top_adopts_nothing() -> None:
    plurality = ReferendumRule.PLURALITY
    assert referendum_outcome({"X": 40, "Y": 40, AA: 20}, 100, against_all=AA, rule=plurality).adopted is None
    assert referendum_outcome({"X": 40, "Y": 20, AA: 40}, 100, against_all=AA, rule=plurality).adopted is None


def test_referendum_input_checks() -> None:
    with pytest.raises(OutcomeError, match="against-all label"):
        referendum_outcome({"X": 1, "Y": 2}, 3, against_all=AA)
    with pytest.raises(OutcomeError, match="at least one option"):
        referendum_outcome({AA: 2}, 3, against_all=AA)
    with pytest.raises(OutcomeError, match="smaller than"):
        referendum_outcome({"X": 3, AA: 2}, 4, against_all=AA)


# --------------------------------------------------------------------------------------------------
# Serialisation
# --------------------------------------------------------------------------------------------------

RULES = [
    OutcomeRule(Method.DHONDT, seats=8, threshold=Fraction(5, 100), threshold_base=ThresholdBase.VALID_VOTES),
    OutcomeRule(
        Method.HARE_NIEMEYER,
        seats=0,
        threshold=Fraction(0),
        threshold_base=ThresholdBase.BALLOTS_CAST,
        tie_seed=SEED,
    ),
    OutcomeRule(
        Method.SAINTE_LAGUE, seats=3, threshold=Fraction(1), threshold_base=ThresholdBase.VALID_VOTES
    ),
    OutcomeRule(Method.MAJORITY_RUNOFF, tie_seed=SEED),
    OutcomeRule(Method.PLURALITY),
    OutcomeRule(Method.REFERENDUM_MAJORITY, against_all=AA),
    OutcomeRule(Method.REFERENDUM_PLURALITY, against_all=AA),
]


def test_rule_to_dict_is_canonical() -> None:
    assert RULES[0].to_dict() == {
        "method": "dhondt",
        "seats": 8,
        "threshold": "1/20",
        "threshold_base": "valid_votes",
        "against_all": None,
        "tie_seed": None,
    }
    assert RULES[3].to_dict()["tie_seed"] == SEED.hex()
    assert RULES[1].to_dict()["threshold"] == "0/1"


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.method.value)
def test_rule_round_trip(rule: OutcomeRule) -> None:
    d = rule.to_dict()
    assert OutcomeRule.from_dict(d) == rule
    assert OutcomeRule.from_dict(d).to_dict() == d


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"extra": 1}, "unexpected"),
        ({"threshold": "10/100"}, "lowest terms"),
        ({"threshold": "1/0"}, "num/den"),
        ({"threshold": "0.05"}, "num/den"),
        ({"threshold": "+1/2"}, "num/den"),
        ({"threshold": "01/2"}, "num/den"),
        ({"threshold": "3/2"}, r"\[0, 1\]"),
        ({"threshold": None}, "needs"),
        ({"seats": True}, "seats"),
        ({"seats": -1}, "seats"),
        ({"seats": "8"}, "seats"),
        ({"method": "droop"}, "unknown method"),
        ({"method": "DHONDT"}, "unknown method"),
        ({"threshold_base": "ballots"}, "threshold_base"),
        ({"tie_seed": SEED.hex().upper()}, "hex"),
        ({"tie_seed": "00" * 31}, "hex"),
        ({"against_all": AA}, "against_all"),
    ],
)
def test_rule_from_dict_is_strict(change: dict[str, Any], match: str) -> None:
    d = RULES[0].to_dict() | change
    with pytest.raises(OutcomeError, match=match):
        OutcomeRule.from_dict(d)


def test_rule_from_dict_rejects_missing_keys_and_bad_combinations() -> None:
    d = RULES[0].to_dict()
    del d["tie_seed"]
    with pytest.raises(OutcomeError, match="missing"):
        OutcomeRule.from_dict(d)
    with pytest.raises(OutcomeError, match="JSON object"):
        OutcomeRule.from_dict([])  # type: ignore[arg-type]
    with pytest.raises(OutcomeError, match="never draws lots"):
        OutcomeRule.from_dict(RULES[5].to_dict() | {"tie_seed": SEED.hex()})
    with pytest.raises(OutcomeError, match="needs an against_all"):
        OutcomeRule.from_dict(RULES[5].to_dict() | {"against_all": None})
    with pytest.raises(OutcomeError, match="takes no seats"):
        OutcomeRule.from_dict(RULES[3].to_dict() | {"seats": 3})
    with pytest.raises(OutcomeError, match="takes no against_all"):
        OutcomeRule.from_dict(RULES[4].to_dict() | {"against_all": AA})


RESULTS = [
    OutcomeResult(Method.DHONDT, seats={"B": 3, "A": 4}),
    OutcomeResult(Method.MAJORITY_RUNOFF, winner="A"),
    OutcomeResult(Method.MAJORITY_RUNOFF, runoff=("A", "B")),
    OutcomeResult(Method.PLURALITY, winner="B"),
    OutcomeResult(Method.REFERENDUM_PLURALITY, winner=None),
]


@pytest.mark.parametrize("result", RESULTS)
def test_result_round_trip(result: OutcomeResult) -> None:
    d = result.to_dict()
    assert set(d) == {"method", "seats", "winner", "runoff"}
    assert OutcomeResult.from_dict(d) == result
    assert hash(OutcomeResult.from_dict(d)) == hash(result)


def test_result_to_dict_and_strictness() -> None:
    assert RESULTS[0].to_dict() == {
        "method": "dhondt",
        "seats": {"A": 4, "B": 3},
        "winner": None,
        "runoff": None,
    }
    assert list(RESULTS[0].to_dict()["seats"]) == ["A", "B"]  # sorted by label
    assert RESULTS[2].to_dict()["runoff"] == ["A", "B"]
    bad: list[tuple[dict[str, Any], str]] = [
        (RESULTS[0].to_dict() | {"winner": "A"}, "do not fit"),
        (RESULTS[0].to_dict() | {"seats": {"A": -1}}, "non-negative"),
        (RESULTS[0].to_dict() | {"seats": [4, 3]}, "seats must be"),
        (RESULTS[1].to_dict() | {"runoff": ["A", "B"]}, "do not fit"),
        (RESULTS[2].to_dict() | {"runoff": ["A", "A"]}, "differ"),
        (RESULTS[2].to_dict() | {"runoff": ["A"]}, "two labels"),
        (RESULTS[3].to_dict() | {"winner": None}, "do not fit"),
        (RESULTS[3].to_dict() | {"winner": ""}, "non-empty"),
        ({"method": "plurality", "winner": "B", "runoff": None}, "missing"),
    ]
    for d, match in bad:
        with pytest.raises(OutcomeError, match=match):
            OutcomeResult.from_dict(d)


# --------------------------------------------------------------------------------------------------
# compute_outcome / verify_outcome (steps V20.B-V20.E)
# --------------------------------------------------------------------------------------------------


def test_compute_outcome_dispatches_every_method() -> None:
    party = OutcomeRule(
        Method.DHONDT, seats=8, threshold=Fraction(0), threshold_base=ThresholdBase.VALID_VOTES
    )
    assert compute_outcome(party, CLASSIC) == OutcomeResult(
        Method.DHONDT, seats={"A": 4, "B": 3, "C": 1, "D": 0}
    )
    cast = OutcomeRule(
        Method.SAINTE_LAGUE, seats=8, threshold=Fraction(8, 100), threshold_base=ThresholdBase.BALLOTS_CAST
    )
    assert compute_outcome(cast, CLASSIC, ballots_cast=250_001).seats == {"A": 4, "B": 3, "C": 1, "D": 0}
    runoff = OutcomeRule(Method.MAJORITY_RUNOFF)
    assert compute_outcome(runoff, {"A": 50, "B": 30, "C": 20}).runoff == ("A", "B")
    assert compute_outcome(runoff, {"A": 51, "B": 30, "C": 19}).winner == "A"
    assert compute_outcome(runoff, {"A": 55, "B": 45}, valid_votes=110).runoff == ("A", "B")
    assert compute_outcome(OutcomeRule(Method.PLURALITY), {"A": 1, "B": 2}).winner == "B"
    ref = OutcomeRule(Method.REFERENDUM_PLURALITY, against_all=AA)
    assert compute_outcome(ref, {"X": 30, "Y": 25, AA: 20}).winner == "X"
    assert compute_outcome(ref, {"X": 30, "Y": 25, AA: 45}).winner is None
    with pytest.raises(OutcomeError, match="does not apply"):
        compute_outcome(party, CLASSIC, valid_votes=230_000)
    with pytest.raises(OutcomeError, match="does not apply"):
        compute_outcome(runoff, CLASSIC, ballots_cast=230_000)


def test_verify_outcome_accepts_the_recomputed_result() -> None:
    rule = OutcomeRule(
        Method.DHONDT, seats=8, threshold=Fraction(0), threshold_base=ThresholdBase.VALID_VOTES
    )
    published = OutcomeResult.from_dict(
        {"method": "dhondt", "seats": {"A": 4, "B": 3, "C": 1, "D": 0}, "winner": None, "runoff": None}
    )
    verify_outcome(rule, CLASSIC, published)  # returns None on success


def test_verify_outcome_rejects_differences() -> None:
    rule = OutcomeRule(
        Method.DHONDT, seats=8, threshold=Fraction(0), threshold_base=ThresholdBase.VALID_VOTES
    )
    cases: list[tuple[OutcomeResult | None, str]] = [
        (OutcomeResult(Method.DHONDT, seats={"A": 3, "B": 3, "C": 1, "D": 1}), "V20.E"),  # Hare's seats
        (OutcomeResult(Method.SAINTE_LAGUE, seats={"A": 4, "B": 3, "C": 1, "D": 0}), "V20.C"),
        (OutcomeResult(Method.DHONDT, seats={"A": 4, "B": 3, "C": 1}), "V20.C"),  # a party missing
        (None, "V20.D"),  # decided but not published
    ]
    for published, step in cases:
        with pytest.raises(VerificationError) as err:
            verify_outcome(rule, CLASSIC, published, obj="contest-1")
        assert err.value.step == step
        assert err.value.obj == "contest-1"
    with pytest.raises(VerificationError) as err:
        verify_outcome(rule, CLASSIC, OutcomeResult(Method.DHONDT, seats={"A": 5, "B": 2, "C": 1, "D": 0}))
    assert "seats['A']: published 5, recomputed 4" in str(err.value)


def test_verify_outcome_undecided_contests() -> None:
    # A deciding tie without a seed: the record must publish no outcome.
    rule = OutcomeRule(Method.PLURALITY)
    verify_outcome(rule, {"A": 3, "B": 3}, None)
    with pytest.raises(VerificationError) as err:
        verify_outcome(rule, {"A": 3, "B": 3}, OutcomeResult(Method.PLURALITY, winner="A"))
    assert err.value.step == "V20.D"
    # Inconsistent inputs (ballots cast below the valid votes) fail V20.B, never "undecided".
    cast = OutcomeRule(
        Method.DHONDT, seats=2, threshold=Fraction(0), threshold_base=ThresholdBase.BALLOTS_CAST
    )
    with pytest.raises(VerificationError) as err:
        verify_outcome(cast, CLASSIC, None, ballots_cast=1)
    assert err.value.step == "V20.B"


# --------------------------------------------------------------------------------------------------
# Property tests against an independent seat-by-seat reference
# --------------------------------------------------------------------------------------------------

LABELS = ["A", "B", "C", "D", "E", "F", "G"]
vote_counts = st.one_of(st.integers(0, 12), st.integers(0, 1_000_000))
votes_st = st.dictionaries(st.sampled_from(LABELS), vote_counts, min_size=1, max_size=len(LABELS))
seats_st = st.integers(0, 40)
hare_like = st.sampled_from([Method.DHONDT, Method.SAINTE_LAGUE, Method.HARE_NIEMEYER])


def ref_highest_averages(
    votes: dict[str, int], seats: int, first_divisor_step: int, seed: bytes
) -> dict[str, int]:
    """Seat-by-seat: award each seat to the max of (v/d(s), v, -lot). d(s) = 1 + step*s."""
    held = dict.fromkeys(votes, 0)
    for _ in range(seats):
        best = max(
            (p for p in votes if votes[p] > 0),
            key=lambda p: (
                Fraction(votes[p], 1 + first_divisor_step * held[p]),
                votes[p],
                _neg(ref_lot(seed, p)),
            ),
        )
        held[best] += 1
    return held


def _neg(lot: bytes) -> int:
    return -int.from_bytes(lot, "big")


def ref_hare(votes: dict[str, int], seats: int, seed: bytes) -> dict[str, int]:
    """Hare quota via Fractions: floor(v*S/V), then largest fractional parts, then votes, then lot."""
    total = sum(votes.values())
    quota = {p: Fraction(v * seats, total) for p, v in votes.items()}
    held = {p: int(q) for p, q in quota.items()}
    order = sorted(votes, key=lambda p: (-(quota[p] - held[p]), -votes[p], ref_lot(seed, p)))
    for p in order[: seats - sum(held.values())]:
        held[p] += 1
    return held


@settings(max_examples=300, deadline=None)
@given(votes=votes_st, seats=seats_st, method=hare_like)
def test_property_total_seats_and_reference_agreement(
    votes: dict[str, int], seats: int, method: Method
) -> None:
    if seats > 0 and sum(votes.values()) == 0:
        with pytest.raises(UndecidedOutcomeError):
            allocate_seats(votes, seats, method=method, tie_seed=SEED)
        return
    alloc = allocate_seats(votes, seats, method=method, tie_seed=SEED)
    assert alloc.total == seats
    assert set(alloc.seats) == set(votes)
    assert all(0 <= s <= seats for s in alloc.seats.values())
    if seats > 0:
        if method is Method.HARE_NIEMEYER:
            expected = ref_hare(votes, seats, SEED)
        else:
            expected = ref_highest_averages(votes, seats, 1 if method is Method.DHONDT else 2, SEED)
        assert dict(alloc.seats) == expected


@settings(max_examples=300, deadline=None)
@given(votes=votes_st, seats=st.integers(1, 40), num=st.integers(0, 30))
def test_property_threshold(votes: dict[str, int], seats: int, num: int) -> None:
    t = Fraction(num, 100)
    total = sum(votes.values())
    qualified = [p for p, v in votes.items() if Fraction(v) >= t * total]
    if not qualified or sum(votes[p] for p in qualified) == 0:
        with pytest.raises(UndecidedOutcomeError):
            dhondt(votes, seats, threshold=t, tie_seed=SEED)
        return
    alloc = dhondt(votes, seats, threshold=t, tie_seed=SEED)
    assert alloc.total == seats
    assert alloc.qualified == tuple(sorted(qualified))
    assert all(alloc.seats[p] == 0 for p in alloc.excluded)
    # Allocating among the qualifying parties alone gives the same seats.
    alone = dhondt({p: votes[p] for p in qualified}, seats, tie_seed=SEED)
    assert {p: alloc.seats[p] for p in qualified} == dict(alone.seats)


@settings(max_examples=300, deadline=None)
@given(votes=votes_st, seats=st.integers(1, 40))
def test_property_divisor_conditions(votes: dict[str, int], seats: int) -> None:
    if sum(votes.values()) == 0:
        return
    # D'Hondt: for all i, j with s_j > 0: v_i / (s_i + 1) <= v_j / s_j (equality only for ties).
    d = dhondt(votes, seats, tie_seed=SEED).seats
    # Sainte-Laguë: v_i / (2 s_i + 1) <= v_j / (2 s_j - 1).
    sl = sainte_lague(votes, seats, tie_seed=SEED).seats
    for i in votes:
        for j in votes:
            if i != j and d[j] > 0:
                assert votes[i] * d[j] <= votes[j] * (d[i] + 1)
            if i != j and sl[j] > 0:
                assert votes[i] * (2 * sl[j] - 1) <= votes[j] * (2 * sl[i] + 1)


@settings(max_examples=300, deadline=None)
@given(votes=votes_st, seats=st.integers(1, 40))
def test_property_hare_satisfies_quota(votes: dict[str, int], seats: int) -> None:
    total = sum(votes.values())
    if total == 0:
        return
    alloc = hare_niemeyer(votes, seats, tie_seed=SEED)
    for p, v in votes.items():
        lower = v * seats // total  # floor of the exact quota
        assert lower <= alloc.seats[p] <= lower + 1


@settings(max_examples=200, deadline=None)
@given(votes=votes_st, seats=st.integers(1, 30), k=st.integers(2, 50), method=hare_like, shuffle=st.randoms())
def test_property_scale_and_order_invariance(
    votes: dict[str, int], seats: int, k: int, method: Method, shuffle: random.Random
) -> None:
    if sum(votes.values()) == 0:
        return
    base = allocate_seats(votes, seats, method=method, tie_seed=SEED)
    scaled = allocate_seats({p: k * v for p, v in votes.items()}, seats, method=method, tie_seed=SEED)
    items = list(votes.items())
    shuffle.shuffle(items)
    reordered = allocate_seats(dict(items), seats, method=method, tie_seed=SEED)
    assert scaled.seats == base.seats
    assert reordered == base


@settings(max_examples=300, deadline=None)
@given(
    counts=st.dictionaries(st.sampled_from(LABELS), vote_counts, min_size=2, max_size=7),
    blank=st.integers(0, 50),
)
def test_property_majority_runoff(counts: dict[str, int], blank: int) -> None:
    valid = sum(counts.values()) + blank
    if valid == 0:
        return
    res = majority_runoff(counts, valid, tie_seed=SEED)
    if res.winner is not None:
        assert 2 * counts[res.winner] > valid
    else:
        assert all(2 * v <= valid for v in counts.values())
        assert res.runoff is not None
        a, b = res.runoff
        assert counts[a] >= counts[b]
        others = [v for c, v in counts.items() if c not in (a, b)]
        assert all(v <= counts[b] for v in others)


@settings(max_examples=200, deadline=None)
@given(
    method=st.sampled_from([Method.DHONDT, Method.SAINTE_LAGUE, Method.HARE_NIEMEYER]),
    seats=st.integers(0, 1000),
    num=st.integers(0, 100),
    den=st.integers(100, 1000),
    base=st.sampled_from(list(ThresholdBase)),
    seed=st.none() | st.binary(min_size=32, max_size=32),
)
def test_property_rule_round_trip(
    method: Method, seats: int, num: int, den: int, base: ThresholdBase, seed: bytes | None
) -> None:
    rule = OutcomeRule(method, seats=seats, threshold=Fraction(num, den), threshold_base=base, tie_seed=seed)
    d = rule.to_dict()
    assert OutcomeRule.from_dict(d) == rule
    assert OutcomeRule.from_dict(d).to_dict() == d
