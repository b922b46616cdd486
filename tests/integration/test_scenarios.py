"""The election scenarios end to end on the fast test group (specs/12-election-types.md §6).

Each scenario's records verify — tally, recomputed outcomes (V20), precinct subtotals (V22), interim
checkpoints (V23) and, for the presidential runoff, the link between the rounds (V21). A record whose
published seats or runoff pair disagree with its tally is rejected with V20, paired with the honest
record rewritten the same way, which still verifies.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from e2evote.errors import ManifestError, VerificationError
from e2evote.groups import TEST
from e2evote.protocol.manifest import Manifest
from e2evote.protocol.outcomes import OutcomeResult
from e2evote.protocol.runoff import RunoffLink, derive_runoff_manifest
from e2evote.record.native import chunk_length, read_record, write_record
from e2evote.scenarios import REGIONS_KG, SCENARIOS, ScenarioError, ScenarioResult, run_scenario
from e2evote.verifier import Report, verify_path
from e2evote.verifier.extensions import runoff_manifest_from_record, verify_runoff_link

from .elections import run_election

GROUP = TEST.name
VOTERS = {"kg-parliament-2021": 72, "kg-referendum-2021": 60, "tm-presidential-2022": 50}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ScenarioResult]:
    base = tmp_path_factory.mktemp("scenarios")
    return {
        name: run_scenario(name, base / name, group_name=GROUP, voters=n, seed=3)
        for name, n in VOTERS.items()
    }


def _steps(r: Report) -> set[str]:
    return {f.step for f in r.failures}


def _rewrite_outcomes(src: str, dst: Path, change: dict[str, dict[str, Any]]) -> Report:
    """Rewrite outcomes.msgpack (write_record reseals, so R1 passes) and verify."""
    rec = read_record(src)
    write_record(dataclasses.replace(rec, outcomes={**rec.outcomes, **change}), dst)
    return verify_path(dst)


# --- every scenario -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(VOTERS))
def test_scenario_records_verify(runs: dict[str, ScenarioResult], name: str) -> None:
    res = runs[name]
    assert res.ok, [r.failures for r in res.rounds]
    for rnd in res.rounds:
        report = verify_path(rnd.path)
        assert report.ok, report.failures
        # outcomes were recomputed (V20), subtotals (V22) and checkpoints (V23) checked
        assert report.checks["V20"] >= 1 and report.checks["V22"] > 1 and report.checks["V23"] > 1
        assert rnd.cast == VOTERS[name] and len(rnd.checkpoints) == 2 and rnd.precincts
        rec = read_record(rnd.path)
        assert set(rec.extensions) == {"precincts", "interim"}
        assert set(rec.outcomes) == {c.label for c in rnd.contests if c.outcome is not None}
    doc = json.loads(res.to_json())
    assert doc["ok"] and doc["scenario"] == name and doc["group"] == GROUP
    assert len(doc["rounds"]) == (2 if name == "tm-presidential-2022" else 1)


def test_unknown_scenario_and_defaults(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError):
        run_scenario("xx-nowhere-1999", tmp_path)
    with pytest.raises(ScenarioError, match="one per district"):
        run_scenario("kg-parliament-2021", tmp_path / "p", group_name=GROUP, voters=10)
    assert set(SCENARIOS) == set(VOTERS)


# --- kg-parliament-2021: a mixed system through ballot styles -------------------------------------------


def test_parliament_mixed_system(runs: dict[str, ScenarioResult]) -> None:
    res = runs["kg-parliament-2021"]
    rnd = res.rounds[0]
    m = read_record(rnd.path).parameters.manifest
    assert len(m.contests) == 37 and len(m.ballot_styles) == 36
    for style in m.ballot_styles:  # the national list plus the voter's own district
        contests = m.contests_of_style(style.label)
        assert [c.kind for c in contests] == ["list", "plurality"] and contests[1].district == style.label
    doc = json.loads(res.to_json())["rounds"][0]["contests"]
    seats = doc["National party list"]["seats"]
    assert sum(seats.values()) == 54 and set(seats) == {o.label for o in m.contests[0].options}
    # 5 % of the ballots cast: a party below it holds no seat
    counts = doc["National party list"]["counts"]
    assert all(seats[p] == 0 for p, v in counts.items() if 20 * v < rnd.cast)
    assert sum(1 for c in doc.values() if c["kind"] == "plurality" and c["outcome"]["winner"]) == 36
    # precincts: one device per region (4 districts each), subtotalling the national list only
    assert rnd.precincts == REGIONS_KG
    tree = read_record(rnd.path).extensions["precincts"]
    assert tree["by"] == "device" and tree["contests"] == [1]


def test_parliament_wrong_seats_rejected_with_v20(runs: dict[str, ScenarioResult], tmp_path: Path) -> None:
    rnd = runs["kg-parliament-2021"].rounds[0]
    published = rnd.contest("National party list").outcome
    assert published is not None
    honest = _rewrite_outcomes(rnd.path, tmp_path / "honest", {})
    assert honest.ok, honest.failures
    seats = dict(published["seats"])
    winner, loser = max(seats, key=lambda p: seats[p]), min(seats, key=lambda p: seats[p])
    seats[winner] -= 1
    seats[loser] += 1
    r = _rewrite_outcomes(
        rnd.path, tmp_path / "seats", {"National party list": {**published, "seats": seats}}
    )
    assert _steps(r) == {"V20.E"}, r.failures
    assert any("National party list" in f.obj for f in r.failures)


# --- kg-referendum-2021 ------------------------------------------------------------------------------------


def test_referendum_against_all(runs: dict[str, ScenarioResult], tmp_path: Path) -> None:
    rnd = runs["kg-referendum-2021"].rounds[0]
    (c,) = rnd.contests
    assert c.kind == "referendum" and "Against both" in c.counts
    assert c.outcome is not None and c.outcome["winner"] == "Presidential republic"
    r = _rewrite_outcomes(rnd.path, tmp_path / "r", {c.label: {**c.outcome, "winner": None}})
    assert _steps(r) == {"V20.E"}, r.failures


def test_scenarios_are_deterministic_by_seed(runs: dict[str, ScenarioResult], tmp_path: Path) -> None:
    again = run_scenario("kg-referendum-2021", tmp_path, group_name=GROUP, voters=60, seed=3)
    first = runs["kg-referendum-2021"].rounds[0]
    assert again.rounds[0].contests == first.contests and again.rounds[0].H_E != first.H_E


# --- tm-presidential-2022: two rounds ---------------------------------------------------------------------


def test_presidential_runoff_rounds_are_linked(runs: dict[str, ScenarioResult]) -> None:
    res = runs["tm-presidential-2022"]
    r1, r2 = res.rounds
    o1 = r1.contest("President").outcome
    assert o1 is not None and o1["winner"] is None and o1["runoff"] is not None
    assert 2 * max(r1.contest("President").counts.values()) <= r1.cast  # no absolute majority
    assert list(r2.contest("President").counts) == o1["runoff"]
    m2 = read_record(r2.path).parameters.manifest
    link = RunoffLink.from_metadata(m2.metadata)
    assert (link.H_E, link.root, list(link.pair)) == (r1.H_E, r1.root, o1["runoff"])
    assert runoff_manifest_from_record(r1.path, label=m2.label).raw == m2.raw
    verify_runoff_link(r1.path, r2.path)  # V21.A-E, round 1 fully re-verified
    assert json.loads(res.to_json())["runoff_link"] == {"verified": True, "failure": None}


def test_wrong_runoff_pair_rejected_with_v20(runs: dict[str, ScenarioResult], tmp_path: Path) -> None:
    r1 = runs["tm-presidential-2022"].rounds[0]
    published = r1.contest("President").outcome
    assert published is not None
    first, second = published["runoff"]
    third = sorted((v, k) for k, v in r1.contest("President").counts.items() if k not in (first, second))[-1][
        1
    ]
    for n, pair in enumerate(([second, first], [first, third])):
        r = _rewrite_outcomes(r1.path, tmp_path / f"p{n}", {"President": {**published, "runoff": pair}})
        assert _steps(r) == {"V20.E"}, r.failures
    r = _rewrite_outcomes(
        r1.path, tmp_path / "w", {"President": {**published, "runoff": None, "winner": first}}
    )
    assert _steps(r) == {"V20.E"}, r.failures


def test_runoff_link_rejects_a_rewritten_first_round(runs: dict[str, ScenarioResult], tmp_path: Path) -> None:
    r1, r2 = runs["tm-presidential-2022"].rounds
    rec = read_record(r1.path)
    # the root is a function of the content and its chunking: resealed alike, the same record
    size = chunk_length(Path(r1.path), rec.chunks[0])
    write_record(rec, tmp_path / "resealed", chunk_size=size)
    verify_runoff_link(tmp_path / "resealed", r2.path, verify_round1=False)
    # a still valid round 1 without its precinct subtotals: another root, round 2 does not point at it
    write_record(
        dataclasses.replace(rec, extensions={"interim": rec.extensions["interim"]}),
        tmp_path / "other",
        chunk_size=size,
    )
    assert verify_path(tmp_path / "other").ok
    with pytest.raises(VerificationError) as exc:
        verify_runoff_link(tmp_path / "other", r2.path)
    assert exc.value.step == "V21.B"
    with pytest.raises(VerificationError) as exc:
        verify_runoff_link(r2.path, r2.path)  # round 2 is not round 2's first round
    assert exc.value.step == "V21.B"


def test_runoff_link_rejects_a_pair_round_1_did_not_publish(
    runs: dict[str, ScenarioResult], tmp_path: Path
) -> None:
    r1 = runs["tm-presidential-2022"].rounds[0]
    rec = read_record(r1.path)
    m1 = rec.parameters.manifest
    counts = r1.contest("President").counts
    first, _, third = sorted(counts, key=lambda k: (-counts[k], k))[:3]
    forged = OutcomeResult.from_dict(
        {"method": "majority_runoff", "seats": None, "winner": None, "runoff": [first, third]}
    )
    m2 = derive_runoff_manifest(m1, forged, contest="President", H_E=r1.H_E, root=r1.root)
    run_election(TEST, m2, tmp_path / "forged", voters=3)  # a round 2 between the first and the third
    with pytest.raises(VerificationError) as exc:
        verify_runoff_link(r1.path, tmp_path / "forged", verify_round1=False)
    assert exc.value.step == "V21.D"

    # a runoff manifest edited after derivation (same link, other label rules) fails V21.E
    doc = json.loads(
        derive_runoff_manifest(
            m1, r1.contest("President").outcome or {}, contest="President", H_E=r1.H_E, root=r1.root
        ).raw
    )
    doc["contests"][0]["contest_limit"] = doc["contests"][0]["option_limit"] = 2
    run_election(TEST, Manifest.from_json(doc), tmp_path / "edited", voters=3)
    with pytest.raises(VerificationError) as exc:
        verify_runoff_link(r1.path, tmp_path / "edited", verify_round1=False)
    assert exc.value.step == "V21.E"


def test_no_runoff_manifest_without_a_runoff(runs: dict[str, ScenarioResult]) -> None:
    rnd = runs["kg-referendum-2021"].rounds[0]
    with pytest.raises(ManifestError, match="runoff"):
        runoff_manifest_from_record(rnd.path)
