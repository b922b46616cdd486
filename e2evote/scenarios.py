"""End-to-end election scenarios on synthetic voters (specs/12-election-types.md §6).

:func:`run_scenario` runs a whole election in-process — key ceremony, ballots encrypted on devices,
tally, outcomes, precinct subtotals, interim checkpoints — writes a sealed native record per round
and verifies it with :func:`e2evote.verifier.verify_path`. The scenarios are shaped after real
elections but every vote is synthetic: vote shares per district / region are drawn from a seeded
generator, apportioned to exact counts and shuffled, so a run is reproducible from ``seed``.

* ``kg-parliament-2021`` — a mixed system: 54 list seats (Hare–Niemeyer, 5 % threshold of the
  ballots cast) and 36 single-mandate districts (plurality); one ballot style per district holding the
  national list contest and the district's contest;
* ``kg-referendum-2021`` — presidential / parliamentary republic / against both (absolute majority);
* ``tm-presidential-2022`` — nine candidates, no majority in round 1, and the runoff between the top
  two in a second election whose manifest is derived from, and linked to, the first round's record.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from e2evote.errors import E2EVoteError
from e2evote.groups import group_by_name
from e2evote.groups.base import Group
from e2evote.protocol.ballot import BallotState, Device, PlaintextBallot, encrypt_ballot
from e2evote.protocol.ceremony import GuardianKey, GuardianPublicKeys, GuardianSetup
from e2evote.protocol.decryption import DecryptingGuardian
from e2evote.protocol.election import ElectionParameters
from e2evote.protocol.manifest import Manifest
from e2evote.protocol.outcomes import OutcomeRule, compute_outcomes
from e2evote.protocol.runoff import derive_runoff_manifest
from e2evote.protocol.subtally import (
    MIN_GAP_METADATA_KEY,
    InterimAccumulator,
    InterimTallies,
    PrecinctAccumulator,
    PrecinctKey,
    PrecinctSubtotals,
    decrypt_subtotals,
    plan_checkpoints,
)
from e2evote.protocol.tally import TallyAccumulator, decrypt_tally
from e2evote.record.model import ChallengedBallot
from e2evote.record.native import RecordWriter
from e2evote.verifier import verify_path
from e2evote.verifier.distributed import process_runner, worker_chunk_size
from e2evote.verifier.extensions import encode_interim, encode_precincts, verify_runoff_link

__all__ = [
    "SCENARIOS",
    "ScenarioError",
    "ContestResult",
    "RoundResult",
    "ScenarioResult",
    "run_scenario",
]

Progress = Callable[[str, int, int], None]
"""progress(phase, done, total)"""

GUARDIANS: Final = (3, 2)
"""n guardians, quorum k (the first k decrypt)"""
MIN_GAP: Final = 10
"""the manifests' floor for the interim gap rule"""


class ScenarioError(E2EVoteError):
    """A scenario that cannot run as asked (unknown name, too few voters, an unexpected outcome)."""


# ---------------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ContestResult:
    """A contest's verified counts and its published outcome."""

    label: str
    kind: str
    counts: Mapping[str, int]
    outcome: Mapping[str, Any] | None
    """the published OutcomeResult.to_dict(), None when the rule decided nothing"""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "counts": dict(self.counts), "outcome": self.outcome}
        if self.outcome is not None and self.outcome.get("seats") is not None:
            out["seats"] = dict(self.outcome["seats"])
        return out


@dataclass(frozen=True, slots=True)
class RoundResult:
    """One round: its sealed record, what it published and the verifier's verdict."""

    round: int
    path: str
    manifest_label: str
    H_E: bytes
    root: bytes
    cast: int
    contests: tuple[ContestResult, ...]
    precincts: tuple[str, ...]
    """labels of the published precinct subtotals (empty: none published)"""
    checkpoints: tuple[int, ...]
    """N_j of the published interim checkpoints (empty: none published)"""
    failures: tuple[str, ...]
    """the verifier's failures (empty: the record verifies)"""
    timings: Mapping[str, float] = field(default_factory=dict)

    @property
    def verified(self) -> bool:
        return not self.failures

    def contest(self, label: str) -> ContestResult:
        for c in self.contests:
            if c.label == label:
                return c
        raise ScenarioError(f"no contest {label!r} in round {self.round}")

    def to_json(self) -> dict[str, Any]:
        return {
            "round": self.round,
            "record": self.path,
            "manifest": self.manifest_label,
            "H_E": self.H_E.hex(),
            "root": self.root.hex(),
            "cast": self.cast,
            "verified": self.verified,
            "failures": list(self.failures),
            "contests": {c.label: c.to_json() for c in self.contests},
            "precincts": list(self.precincts),
            "checkpoints": list(self.checkpoints),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    """What :func:`run_scenario` returns; :meth:`to_json` is the scenario's one JSON document."""

    name: str
    group: str
    voters: int
    seed: int
    rounds: tuple[RoundResult, ...]
    runoff_link: str | None = None
    """None: no runoff; "" : the link verified (V21); otherwise the V21 failure"""

    @property
    def ok(self) -> bool:
        return all(r.verified for r in self.rounds) and not self.runoff_link

    def to_json(self) -> str:
        doc: dict[str, Any] = {
            "scenario": self.name,
            "group": self.group,
            "voters": self.voters,
            "seed": self.seed,
            "ok": self.ok,
            "rounds": [r.to_json() for r in self.rounds],
        }
        if self.runoff_link is not None:
            doc["runoff_link"] = {"verified": not self.runoff_link, "failure": self.runoff_link or None}
        return json.dumps(doc, sort_keys=True, ensure_ascii=False)


# ---------------------------------------------------------------------------------------------------
# synthetic voters
# ---------------------------------------------------------------------------------------------------

BLANK: Final = ""
"""a voter who leaves the contest blank"""


@dataclass(frozen=True, slots=True)
class _Voter:
    style: str
    device: str
    votes: Mapping[str, Mapping[str, int]]


def _apportion(shares: Mapping[str, float], n: int) -> list[str]:
    """Exactly n choices distributed by ``shares`` (largest remainder), in label order."""
    total = sum(shares.values())
    exact = {k: v * n / total for k, v in shares.items()}
    counts = {k: int(x) for k, x in exact.items()}
    rest = sorted(shares, key=lambda k: (-(exact[k] - counts[k]), k))
    for k in rest[: n - sum(counts.values())]:
        counts[k] += 1
    return [k for k in shares for _ in range(counts[k])]


def _perturb(rng: random.Random, shares: Mapping[str, float], spread: float) -> dict[str, float]:
    return {k: v * rng.uniform(1 - spread, 1 + spread) for k, v in shares.items()}


def _split(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


def _choice(contest: str, pick: str) -> dict[str, dict[str, int]]:
    return {contest: {} if pick == BLANK else {pick: 1}}


# ---------------------------------------------------------------------------------------------------
# scenario definitions
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _RoundPlan:
    manifest: Manifest
    voters: tuple[_Voter, ...]
    precincts: PrecinctKey | None
    precinct_contests: tuple[int, ...]
    """contests subtotalled per precinct"""
    interim_contests: tuple[int, ...]
    """contests covered by interim checkpoints (empty: none)"""


def _tie_seed(name: str, seed: int) -> str:
    return hashlib.sha256(f"e2evote-scenario:{name}:{seed}".encode()).hexdigest()


def _metadata(name: str) -> dict[str, str]:
    return {"e2evote.scenario": name, "e2evote.synthetic": "true", MIN_GAP_METADATA_KEY: str(MIN_GAP)}


PARTIES: Final = tuple(f"Party {i:02d}" for i in range(1, 16))
PARTY_SHARES: Final = (
    0.19,
    0.14,
    0.12,
    0.09,
    0.08,
    0.07,
    0.055,
    0.045,
    0.04,
    0.035,
    0.03,
    0.025,
    0.02,
    0.015,
    0.01,
)
DISTRICTS: Final = 36
DISTRICT_CANDIDATES: Final = 6
LIST_CONTEST: Final = "National party list"


def _parliament(voters: int, rng: random.Random, name: str, seed: int) -> _RoundPlan:
    if voters < DISTRICTS:
        raise ScenarioError(f"{name} needs at least {DISTRICTS} voters (one per district)")
    tie = _tie_seed(name, seed)
    list_rule = OutcomeRule.from_dict(
        {
            "method": "hare_niemeyer",
            "seats": 54,
            "threshold": "1/20",
            "threshold_base": "ballots_cast",
            "against_all": None,
            "tie_seed": tie,
        }
    )
    district_rule = OutcomeRule.from_dict(
        {
            "method": "plurality",
            "seats": None,
            "threshold": None,
            "threshold_base": None,
            "against_all": None,
            "tie_seed": tie,
        }
    )
    candidates = [f"Candidate {chr(ord('A') + j)}" for j in range(DISTRICT_CANDIDATES)]
    contests: list[dict[str, Any]] = [
        {"label": LIST_CONTEST, "options": list(PARTIES), "kind": "list", "outcome": list_rule.to_dict()}
    ]
    styles = []
    for d in range(1, DISTRICTS + 1):
        contests.append(
            {
                "label": f"District {d:02d}",
                "options": candidates,
                "kind": "plurality",
                "district": f"district-{d:02d}",
                "outcome": district_rule.to_dict(),
            }
        )
        styles.append({"label": f"district-{d:02d}", "contests": [1, 1 + d]})
    manifest = Manifest.from_json(
        {
            "label": "Jogorku Kenesh 2021 (synthetic)",
            "contests": contests,
            "ballot_styles": styles,
            "eligible_voters": voters * 2,
            "chaining": True,
            "metadata": _metadata(name),
        }
    )
    national = dict(zip(PARTIES, PARTY_SHARES, strict=True))
    national[BLANK] = 1 - sum(PARTY_SHARES)
    # the list vote is apportioned nationally (a district has too few synthetic voters to carry the
    # national shape), the district vote per district
    pool = _apportion(_perturb(rng, national, 0.2), voters)
    rng.shuffle(pool)
    plan: list[_Voter] = []
    for d, n in enumerate(_split(voters, DISTRICTS), 1):
        lists, pool = pool[:n], pool[n:]
        weights = {c: rng.gammavariate(2.0, 1.0) for c in candidates}
        weights[BLANK] = 0.03 * sum(weights.values())
        cands = _apportion(weights, n)
        rng.shuffle(cands)
        style = f"district-{d:02d}"
        region = REGIONS_KG[(d - 1) * len(REGIONS_KG) // DISTRICTS]
        for party, cand in zip(lists, cands, strict=True):
            votes = _choice(LIST_CONTEST, party) | _choice(f"District {d:02d}", cand)
            plan.append(_Voter(style, region, votes))
    rng.shuffle(plan)
    # precincts = the regions' devices (4 districts each), subtotalling the national list: the district
    # contests' own tallies are already per district
    return _RoundPlan(manifest, tuple(plan), PrecinctKey.DEVICE, (1,), (1,))


REFERENDUM_OPTIONS: Final = ("Presidential republic", "Parliamentary republic", "Against both")
REGIONS_KG: Final = (
    "Batken",
    "Bishkek",
    "Chuy",
    "Issyk-Kul",
    "Jalal-Abad",
    "Naryn",
    "Osh",
    "Osh city",
    "Talas",
)


def _referendum(voters: int, rng: random.Random, name: str, seed: int) -> _RoundPlan:
    rule = OutcomeRule.from_dict(
        {
            "method": "referendum_majority",
            "seats": None,
            "threshold": None,
            "threshold_base": None,
            "against_all": "Against both",
            "tie_seed": None,
        }
    )
    contest = "Form of government"
    manifest = Manifest.from_json(
        {
            "label": "Referendum on the form of government 2021 (synthetic)",
            "contests": [
                {
                    "label": contest,
                    "options": list(REFERENDUM_OPTIONS),
                    "kind": "referendum",
                    "outcome": rule.to_dict(),
                }
            ],
            "eligible_voters": voters * 2,
            "chaining": True,
            "metadata": _metadata(name),
        }
    )
    shares = {
        REFERENDUM_OPTIONS[0]: 0.81,
        REFERENDUM_OPTIONS[1]: 0.11,
        REFERENDUM_OPTIONS[2]: 0.05,
        BLANK: 0.03,
    }
    plan = []
    for region, n in zip(REGIONS_KG, _split(voters, len(REGIONS_KG)), strict=True):
        for pick in _apportion(_perturb(rng, shares, 0.3), n):
            plan.append(_Voter("default", region, _choice(contest, pick)))
    rng.shuffle(plan)
    return _RoundPlan(manifest, tuple(plan), PrecinctKey.DEVICE, (1,), (1,))


CANDIDATES_TM: Final = tuple(f"Candidate {i}" for i in range(1, 10))
CANDIDATE_SHARES: Final = (0.34, 0.26, 0.12, 0.08, 0.06, 0.05, 0.04, 0.03, 0.02)
REGIONS_TM: Final = ("Ahal", "Ashgabat", "Balkan", "Dashoguz", "Lebap", "Mary")
PRESIDENT: Final = "President"


def _presidential(voters: int, rng: random.Random, name: str, seed: int) -> _RoundPlan:
    rule = OutcomeRule.from_dict(
        {
            "method": "majority_runoff",
            "seats": None,
            "threshold": None,
            "threshold_base": None,
            "against_all": None,
            "tie_seed": _tie_seed(name, seed),
        }
    )
    manifest = Manifest.from_json(
        {
            "label": "Presidential election 2022 (synthetic)",
            "contests": [
                {
                    "label": PRESIDENT,
                    "options": list(CANDIDATES_TM),
                    "kind": "majority",
                    "outcome": rule.to_dict(),
                }
            ],
            "eligible_voters": voters * 2,
            "chaining": True,
            "metadata": _metadata(name),
        }
    )
    shares = dict(zip(CANDIDATES_TM, CANDIDATE_SHARES, strict=True))
    plan = []
    for region, n in zip(REGIONS_TM, _split(voters, len(REGIONS_TM)), strict=True):
        for pick in _apportion(_perturb(rng, shares, 0.25), n):
            plan.append(_Voter("default", region, _choice(PRESIDENT, pick)))
    rng.shuffle(plan)
    return _RoundPlan(manifest, tuple(plan), PrecinctKey.DEVICE, (1,), (1,))


def _runoff_plan(manifest: Manifest, voters: int, rng: random.Random) -> _RoundPlan:
    first, second = manifest.contests[0].options[0].label, manifest.contests[0].options[1].label
    plan = []
    for region, n in zip(REGIONS_TM, _split(voters, len(REGIONS_TM)), strict=True):
        shares = _perturb(rng, {first: 0.55, second: 0.41, BLANK: 0.04}, 0.15)
        for pick in _apportion(shares, n):
            plan.append(_Voter("default", region, _choice(PRESIDENT, pick)))
    rng.shuffle(plan)
    return _RoundPlan(manifest, tuple(plan), PrecinctKey.DEVICE, (1,), (1,))


SCENARIOS: Final[Mapping[str, int]] = {
    "kg-parliament-2021": 72,
    "kg-referendum-2021": 300,
    "tm-presidential-2022": 120,
}
"""scenario name -> default number of voters (sized for well under a minute on the 4096-bit group)"""

_PLANS: Final = {
    "kg-parliament-2021": _parliament,
    "kg-referendum-2021": _referendum,
    "tm-presidential-2022": _presidential,
}


# ---------------------------------------------------------------------------------------------------
# running a round
# ---------------------------------------------------------------------------------------------------


def _ceremony(params: ElectionParameters) -> tuple[list[GuardianKey], list[GuardianPublicKeys]]:
    setups = [GuardianSetup.start(params, i) for i in range(1, params.n + 1)]
    pubs = [s.public for s in setups]
    awaiting = [s.receive_public_keys(pubs) for s in setups]
    shares = [sh for a in awaiting for sh in a.outgoing]
    keys = [a.receive_shares([sh for sh in shares if sh.ell == a.setup.i]).finalize() for a in awaiting]
    return keys, pubs


def _run_round(
    number: int, plan: _RoundPlan, out: Path, group: Group, progress: Progress | None
) -> RoundResult:
    timings: dict[str, float] = {}

    @contextmanager
    def phase(name: str) -> Iterator[None]:
        t = time.perf_counter()
        yield
        timings[name] = time.perf_counter() - t

    def tick(name: str, done: int, total: int) -> None:
        if progress is not None:
            progress(f"round {number}: {name}", done, total)

    manifest = plan.manifest
    with phase("key ceremony"):
        params = ElectionParameters(group, manifest, *GUARDIANS)
        keys, pubs = _ceremony(params)
        ctx = keys[0].context
        guardians = [DecryptingGuardian.from_key(k) for k in keys[: params.k]]
    writer = RecordWriter(out, ctx, pubs, chunk_size=worker_chunk_size(len(plan.voters)))
    devices: dict[str, Device] = {}
    acc = TallyAccumulator(ctx)
    precincts = (
        PrecinctAccumulator(ctx, plan.precincts, plan.precinct_contests)
        if plan.precincts is not None
        else None
    )
    total = len(plan.voters)
    positions = plan_checkpoints(total, 2, MIN_GAP) if plan.interim_contests else ()
    interim = InterimAccumulator(ctx, positions, plan.interim_contests, MIN_GAP) if positions else None
    opened: list[ChallengedBallot] = []
    with phase("encryption"):
        # one challenged ballot (opened by its nonce) before the first cast ballot: Benaloh challenge
        spoil = PlaintextBallot(f"r{number}-challenge", plan.voters[0].style, plan.voters[0].votes)
        for n, voter in enumerate([None, *plan.voters]):
            if voter is None:
                dev_name, pb, state = plan.voters[0].device, spoil, BallotState.CHALLENGED
            else:
                dev_name, state = voter.device, BallotState.CAST
                pb = PlaintextBallot(f"r{number}-{n:06d}", voter.style, voter.votes)
            device = devices.get(dev_name)
            if device is None:
                device = devices[dev_name] = Device(ctx, dev_name)
            enc, xi = encrypt_ballot(ctx, pb, device=device, state=state)
            writer.add_ballot(enc)
            if state is BallotState.CHALLENGED:
                opened.append(ChallengedBallot(enc.ballot_id, xi, pb, None))
                continue
            acc.add(enc)
            if precincts is not None:
                precincts.add(enc)
            if interim is not None:
                interim.add(enc)
            tick("encrypting ballots", n, total)
        writer.set_device_closes({name: d.close() for name, d in sorted(devices.items())})
        writer.set_challenged(opened)
    with phase("tally decryption"):
        tally = acc.result()
        decrypted = decrypt_tally(ctx, pubs, guardians, tally)
        writer.set_tally(tally, decrypted)
        counts = decrypted.counts(ctx)
        outcomes = compute_outcomes(ctx.manifest, counts, acc.contest_cast)
        writer.set_outcomes(outcomes)
    precinct_labels: tuple[str, ...] = ()
    if precincts is not None and plan.precincts is not None:
        with phase("precinct subtotals"):
            aggregates = precincts.result()
            tick("decrypting precinct subtotals", 0, len(aggregates))
            subs = decrypt_subtotals(ctx, pubs, guardians, aggregates)
            tree = encode_precincts(PrecinctSubtotals(plan.precincts, plan.precinct_contests, subs))
            writer.set_extension("precincts", tree)
            precinct_labels = tuple(s.label for s in subs)
    if interim is not None:
        with phase("interim checkpoints"):
            checkpoints = decrypt_subtotals(ctx, pubs, guardians, interim.result())
            tallies = InterimTallies(MIN_GAP, plan.interim_contests, checkpoints)
            writer.set_extension("interim", encode_interim(tallies))
    root = writer.seal()
    with phase("verification"):
        report = verify_path(
            out, progress=lambda p, d, t: tick(f"verifying {p}", d, total), runner=process_runner()
        )
    contests = tuple(
        ContestResult(c.label, c.kind, counts[c.label], outcomes.get(c.label)) for c in manifest.contests
    )
    return RoundResult(
        number,
        str(out),
        manifest.label,
        ctx.H_E,
        root,
        tally.ballots,
        contests,
        precinct_labels,
        positions,
        tuple(str(f) for f in report.failures),
        timings,
    )


def run_scenario(
    name: str,
    out_dir: str | Path,
    *,
    group_name: str = "modp-4096",
    voters: int | None = None,
    seed: int = 1,
    progress: Progress | None = None,
) -> ScenarioResult:
    """Run scenario ``name`` end to end, writing ``out_dir/round-<n>`` records, and verify them.

    ``voters`` defaults to :data:`SCENARIOS` [name]; ``group_name`` is ``modp-4096``, ``modp-test-511``
    or ``ed25519``. Everything synthetic is derived from ``seed``; the cryptographic randomness is not.
    """
    if name not in _PLANS:
        raise ScenarioError(f"unknown scenario {name!r}; known: {', '.join(sorted(_PLANS))}")
    n = SCENARIOS[name] if voters is None else voters
    if n < 1:
        raise ScenarioError("a scenario needs at least one voter")
    group = group_by_name(group_name)
    rng = random.Random(f"{name}:{seed}")
    base = Path(out_dir)
    base.mkdir(parents=True, exist_ok=True)
    plan = _PLANS[name](n, rng, name, seed)
    rounds = [_run_round(1, plan, base / "round-1", group, progress)]
    link: str | None = None
    if name == "tm-presidential-2022":
        r1 = rounds[0]
        outcome = r1.contest(PRESIDENT).outcome
        if outcome is None or outcome.get("runoff") is None:
            raise ScenarioError(f"round 1 produced no runoff: {outcome}")
        manifest2 = derive_runoff_manifest(
            plan.manifest, outcome, contest=PRESIDENT, H_E=r1.H_E, root=r1.root
        )
        rounds.append(_run_round(2, _runoff_plan(manifest2, n, rng), base / "round-2", group, progress))
        try:  # V21; round 1 was verified just above
            verify_runoff_link(base / "round-1", base / "round-2", verify_round1=False)
            link = ""
        except E2EVoteError as exc:
            link = str(exc)
    return ScenarioResult(name, group.name, n, seed, tuple(rounds), link)
