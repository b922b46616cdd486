"""Precinct subtotals and interim checkpoints (specs/12-election-types.md §3-4, steps V22/V23).

Aggregation and decryption are checked against the plaintexts; the gap rule on its own; and a sealed
record carrying both extensions verifies, while each tampering (a precinct subtotal, a checkpoint
count, a ballot count, the gap) is rejected under its V22/V23 step — each paired with the honest record.
"""

from __future__ import annotations

import copy
import dataclasses
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from e2evote.groups import ED25519, TEST, Group
from e2evote.protocol.ballot import BallotState, Device, PlaintextBallot, encrypt_ballot
from e2evote.protocol.ceremony import GuardianSetup
from e2evote.protocol.decryption import DecryptingGuardian
from e2evote.protocol.election import ElectionContext, ElectionParameters
from e2evote.protocol.manifest import Manifest
from e2evote.protocol.subtally import (
    MIN_GAP_METADATA_KEY,
    Aggregate,
    InterimAccumulator,
    InterimTallies,
    PrecinctAccumulator,
    PrecinctKey,
    PrecinctSubtotals,
    SubtallyError,
    check_gap_rule,
    decrypt_subtotals,
    manifest_min_gap,
    plan_checkpoints,
)
from e2evote.protocol.tally import TallyAccumulator, decrypt_tally
from e2evote.record.model import ChallengedBallot
from e2evote.record.native import RecordWriter, read_record, write_record
from e2evote.verifier import Report, verify_path
from e2evote.verifier.extensions import decode_interim, decode_precincts, encode_interim, encode_precincts

# approval (k-of-n: L = 2 of 4), cumulative (R = 2, L = 3), and a district contest on one style only
MANIFEST = Manifest.from_json(
    {
        "label": "subtotals",
        "contests": [
            {"label": "Council", "options": ["a", "b", "c", "d"], "contest_limit": 2, "kind": "approval"},
            {
                "label": "Budget",
                "options": ["x", "y", "z"],
                "option_limit": 2,
                "contest_limit": 3,
                "kind": "cumulative",
            },
            {"label": "District", "options": ["p", "q"], "kind": "plurality", "district": "north"},
        ],
        "ballot_styles": [
            {"label": "north", "contests": [1, 2, 3]},
            {"label": "south", "contests": [1, 2]},
        ],
        "chaining": True,
        "metadata": {MIN_GAP_METADATA_KEY: "3"},
    }
)
DEVICES = ("ps-1", "ps-2", "ps-3")
VOTERS = 14
GAP = 3


@dataclasses.dataclass
class Built:
    ctx: ElectionContext
    path: Path
    plain: list[tuple[str, str, PlaintextBallot]]
    """(device, state, ballot) in record order"""
    precincts: PrecinctSubtotals
    interim: InterimTallies


def _votes(rng: random.Random, style: str) -> dict[str, dict[str, int]]:
    council = rng.sample(["a", "b", "c", "d"], rng.randint(0, 2))
    budget: dict[str, int] = {}
    left = 3
    for o in ("x", "y", "z"):
        v = rng.randint(0, min(2, left))
        left -= v
        if v:
            budget[o] = v
    votes = {"Council": {o: 1 for o in council}, "Budget": budget}
    if style == "north":
        votes["District"] = {rng.choice(["p", "q"]): 1}
    return votes


def _build(group: Group, out: Path, by: PrecinctKey = PrecinctKey.DEVICE) -> Built:
    rng = random.Random(7)
    params = ElectionParameters(group, MANIFEST, 3, 2)
    setups = [GuardianSetup.start(params, i) for i in range(1, 4)]
    pubs = [s.public for s in setups]
    aw = [s.receive_public_keys(pubs) for s in setups]
    shares = [sh for a in aw for sh in a.outgoing]
    keys = [a.receive_shares([sh for sh in shares if sh.ell == a.setup.i]).finalize() for a in aw]
    ctx = keys[0].context
    guardians = [DecryptingGuardian.from_key(k) for k in (keys[0], keys[2])]
    devices = {d: Device(ctx, d) for d in DEVICES}
    w = RecordWriter(out, ctx, pubs, chunk_size=4)
    acc = TallyAccumulator(ctx)
    pacc = PrecinctAccumulator(ctx, by)
    positions = (4, 9)
    iacc = InterimAccumulator(ctx, positions, (1, 2), GAP)
    plain: list[tuple[str, str, PlaintextBallot]] = []
    opened = []
    for n in range(VOTERS + 2):
        style = "north" if n % 3 else "south"
        dev = DEVICES[0] if style == "south" else DEVICES[1 + n % 2]  # ps-1 holds only "south" ballots
        pb = PlaintextBallot(f"b{n}", style, _votes(rng, style))
        state = BallotState.CHALLENGED if n in (2, 11) else BallotState.CAST
        enc, xi = encrypt_ballot(ctx, pb, device=devices[dev], state=state)
        w.add_ballot(enc)
        plain.append((dev, state.value, pb))
        if state is BallotState.CHALLENGED:
            opened.append(ChallengedBallot(enc.ballot_id, xi, pb, None))
            with pytest.raises(SubtallyError):
                Aggregate(ctx).add(enc)
        else:
            acc.add(enc)
        pacc.add(enc)  # challenged ballots are skipped by the accumulators
        iacc.add(enc)
    w.set_device_closes({d: dev.close() for d, dev in devices.items()})
    w.set_challenged(opened)
    tally = acc.result()
    w.set_tally(tally, decrypt_tally(ctx, pubs, guardians, tally))
    precincts = PrecinctSubtotals(by, (1, 2, 3), decrypt_subtotals(ctx, pubs, guardians, pacc.result()))
    interim = InterimTallies(GAP, (1, 2), decrypt_subtotals(ctx, pubs, guardians, iacc.result()))
    w.set_extension("precincts", encode_precincts(precincts))
    w.set_extension("interim", encode_interim(interim))
    w.seal()
    return Built(ctx, out, plain, precincts, interim)


@pytest.fixture(scope="module", params=[TEST, ED25519], ids=lambda g: g.name)
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    return _build(request.param, tmp_path_factory.mktemp("subtally") / "record")


@pytest.fixture(scope="module")
def fast(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The tampering tests run on the test group only (the checks are group-independent)."""
    return _build(TEST, tmp_path_factory.mktemp("subtally-fast") / "record")


def _sums(ballots: list[PlaintextBallot]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for b in ballots:
        for c, v in b.votes.items():
            row = out.setdefault(c, {o.label: 0 for o in MANIFEST.contest(c).options})
            for o, x in v.items():
                row[o] += x
    return out


# --- aggregation and decryption ---------------------------------------------------------------------


def test_precinct_subtotals_are_the_precincts_plaintext_sums(built: Built) -> None:
    cast = [(d, b) for d, s, b in built.plain if s == "cast"]
    assert [s.label for s in built.precincts.precincts] == list(DEVICES)
    for sub in built.precincts.precincts:
        mine = [b for d, b in cast if d == sub.label]
        assert sub.encrypted.ballots == sub.decrypted.ballots == len(mine)
        assert sub.counts(MANIFEST) == _sums(mine)
    # ps-1 holds only "south" ballots: its subtotal covers exactly the contests on them
    assert [ci for ci, _ in built.precincts.precincts[0].encrypted.contests] == [1, 2]
    assert [ci for ci, _ in built.precincts.precincts[1].encrypted.contests] == [1, 2, 3]


def test_interim_checkpoints_are_prefix_sums(built: Built) -> None:
    cast = [b for _, s, b in built.plain if s == "cast"]
    assert built.interim.positions == (4, 9)
    for cp in built.interim.checkpoints:
        prefix = _sums(cast[: cp.encrypted.ballots])
        assert cp.counts(MANIFEST) == {c: prefix[c] for c in ("Council", "Budget")}


def test_grouping_by_style(tmp_path: Path) -> None:
    b = _build(TEST, tmp_path / "r", PrecinctKey.STYLE)
    assert [s.label for s in b.precincts.precincts] == ["north", "south"]
    assert verify_path(b.path).ok


def test_trees_round_trip(built: Built) -> None:
    g = built.ctx.group
    assert decode_precincts(g, encode_precincts(built.precincts)) == built.precincts
    assert decode_interim(g, encode_interim(built.interim)) == built.interim


# --- the gap rule -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("positions", "total", "gap"),
    [((), 0, 1), ((), 5, 10), ((3, 6), 6, 3), ((3, 6), 9, 3), ((10, 25), 40, 10), ((1, 2, 3), 4, 1)],
)
def test_gap_rule_accepts(positions: tuple[int, ...], total: int, gap: int) -> None:
    check_gap_rule(positions, total, gap)


@pytest.mark.parametrize(
    ("positions", "total", "gap"),
    [
        ((2, 6), 9, 3),  # first checkpoint too early
        ((3, 5), 9, 3),  # two checkpoints too close
        ((3, 6), 8, 3),  # the final tally too close to the last checkpoint
        ((3, 3), 9, 1),  # not increasing
        ((3, 12), 9, 3),  # beyond the cast ballots
        ((3,), 9, 0),  # gap must be positive
    ],
)
def test_gap_rule_rejects(positions: tuple[int, ...], total: int, gap: int) -> None:
    with pytest.raises(SubtallyError):
        check_gap_rule(positions, total, gap)


@pytest.mark.parametrize(
    ("total", "count", "gap"), [(100, 2, 10), (30, 2, 10), (25, 2, 10), (19, 3, 10), (7, 2, 1)]
)
def test_plan_checkpoints_obeys_the_gap_rule(total: int, count: int, gap: int) -> None:
    planned = plan_checkpoints(total, count, gap)
    check_gap_rule(planned, total, gap)
    assert len(planned) == min(count, max(0, total // gap - 1))


def test_manifest_min_gap_and_unreached_checkpoint(built: Built) -> None:
    assert manifest_min_gap(MANIFEST) == 3
    for bad in ("0", "03", "x", "-1"):
        m = Manifest.from_json(
            {
                "label": "m",
                "contests": [{"label": "c", "options": ["a"]}],
                "metadata": {MIN_GAP_METADATA_KEY: bad},
            }
        )
        with pytest.raises(SubtallyError):
            manifest_min_gap(m)
    acc = InterimAccumulator(built.ctx, (5, 50), (1,), 5)
    with pytest.raises(SubtallyError, match="not reached"):
        acc.result()


# --- the record: honest vs tampered ---------------------------------------------------------------------


def _steps(r: Report) -> set[str]:
    return {f.step for f in r.failures}


def test_honest_record_verifies_with_v16_v17(built: Built) -> None:
    r = verify_path(built.path)
    assert r.ok, r.failures
    # one check per extension plus one per option cell: ps-1 holds contests 1-2 (7 options), ps-2/3 all 9
    assert r.checks["V22"] == 1 + 7 + 9 + 9 and r.checks["V23"] == 1 + 2 * 7


def _tampered(built: Built, tmp_path: Path, name: str, mutate: Callable[[Any], None]) -> Report:
    rec = read_record(built.path)
    tree = copy.deepcopy(rec.extensions[name])
    mutate(tree)
    out = tmp_path / f"tampered-{name}"
    write_record(dataclasses.replace(rec, extensions={**rec.extensions, name: tree}), out)  # reseals
    return verify_path(out)


def _consistent_t(built: Built, sel: dict[str, Any], t: int) -> None:
    """Set t and T = K^t together, so only the proof and the sums can catch it."""
    sel["t"] = t
    sel["T"] = built.ctx.key.K_pow(built.ctx.group.scalar(t)).to_bytes()


def test_rewriting_the_honest_record_keeps_it_valid(fast: Built, tmp_path: Path) -> None:
    assert _tampered(fast, tmp_path, "precincts", lambda t: None).ok
    assert _tampered(fast, tmp_path, "interim", lambda t: None).ok


def test_tampered_precinct_subtotal_fails_v16(fast: Built, tmp_path: Path) -> None:
    def shift(tree: Any) -> None:
        sel = tree["precincts"][1]["decrypted"]["contests"][0]["sel"][0]
        _consistent_t(fast, sel, sel["t"] + 1)

    r = _tampered(fast, tmp_path, "precincts", shift)
    assert {"V22.D", "V22.F"} <= _steps(r) and all(s.startswith("V22") for s in _steps(r)), r.failures


def test_precinct_count_without_proof_fails_v16e(fast: Built, tmp_path: Path) -> None:
    def bump(tree: Any) -> None:
        tree["precincts"][0]["decrypted"]["contests"][1]["sel"][2]["t"] += 1

    r = _tampered(fast, tmp_path, "precincts", bump)
    assert "V22.E" in _steps(r) and all(s.startswith("V22") for s in _steps(r)), r.failures


def test_dropped_precinct_fails_v16b(fast: Built, tmp_path: Path) -> None:
    r = _tampered(fast, tmp_path, "precincts", lambda tree: tree["precincts"].pop(0))
    assert {"V22.B", "V22.F"} <= _steps(r) and all(s.startswith("V22") for s in _steps(r)), r.failures


def test_swapped_precinct_aggregates_fail_v16c(fast: Built, tmp_path: Path) -> None:
    def swap(tree: Any) -> None:
        a, b = tree["precincts"][1], tree["precincts"][2]
        a["label"], b["label"] = b["label"], a["label"]
        tree["precincts"][1], tree["precincts"][2] = b, a

    r = _tampered(fast, tmp_path, "precincts", swap)
    assert "V22.C" in _steps(r) and all(s.startswith("V22") for s in _steps(r)), r.failures


def test_tampered_checkpoint_count_fails_v17(fast: Built, tmp_path: Path) -> None:
    def shift(tree: Any) -> None:
        sel = tree["checkpoints"][1]["decrypted"]["contests"][0]["sel"][0]
        _consistent_t(fast, sel, sel["t"] + 1)

    r = _tampered(fast, tmp_path, "interim", shift)
    assert "V23.D" in _steps(r) and all(s.startswith("V23") for s in _steps(r)), r.failures


def test_checkpoint_count_below_previous_fails_v17f(fast: Built, tmp_path: Path) -> None:
    def lower(tree: Any) -> None:
        first = tree["checkpoints"][0]["decrypted"]["contests"][0]["sel"]
        second = tree["checkpoints"][1]["decrypted"]["contests"][0]["sel"]
        i = max(range(len(first)), key=lambda j: first[j]["t"])
        assert first[i]["t"] > 0
        _consistent_t(fast, second[i], first[i]["t"] - 1)

    r = _tampered(fast, tmp_path, "interim", lower)
    assert {"V23.D", "V23.F"} <= _steps(r) and all(s.startswith("V23") for s in _steps(r)), r.failures


def test_gap_rule_violation_fails_v17b(fast: Built, tmp_path: Path) -> None:
    def gap(tree: Any) -> None:
        tree["min_gap"] = 5  # 4 and 9 are fine for 3, not for 5

    r = _tampered(fast, tmp_path, "interim", gap)
    assert _steps(r) == {"V23.B"}, r.failures

    def below_floor(tree: Any) -> None:
        tree["min_gap"] = 2  # the manifest's floor is 3

    r = _tampered(fast, tmp_path / "floor", "interim", below_floor)
    assert _steps(r) == {"V23.B"}, r.failures


def test_wrong_checkpoint_position_fails_v17c(fast: Built, tmp_path: Path) -> None:
    def move(tree: Any) -> None:
        cp = tree["checkpoints"][1]
        cp["encrypted"]["ballots"] = cp["decrypted"]["ballots"] = 8

    r = _tampered(fast, tmp_path, "interim", move)
    assert "V23.C" in _steps(r) and all(s.startswith("V23") for s in _steps(r)), r.failures


def test_malformed_trees_fail_form_steps(fast: Built, tmp_path: Path) -> None:
    r = _tampered(fast, tmp_path, "precincts", lambda tree: tree.update(by="district"))
    assert _steps(r) == {"V22.A"}, r.failures
    r = _tampered(fast, tmp_path / "c", "precincts", lambda tree: tree.update(contests=[1, 2, 3, 9]))
    assert _steps(r) == {"V22.A"}, r.failures  # contest 9 is not in the manifest
    r = _tampered(fast, tmp_path / "d", "precincts", lambda tree: tree.update(contests=[1, 2]))
    assert _steps(r) == {"V22.A"}, r.failures  # precincts cover the undeclared contest 3
    r = _tampered(fast, tmp_path / "i", "interim", lambda tree: tree.update(contests=[2, 1]))
    assert _steps(r) == {"V23.A"}, r.failures
