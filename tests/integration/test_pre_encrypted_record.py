"""Recorded pre-encrypted ballots in a native record (specs/13-pre-encryption.md, specs/07-record.md
§3): cast and challenged ones among ordinary ballots, tallied and verified by ``verify_path``; each
tampering of the pre-encryption data caught with its step (V15-V18, V13.N)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from e2evote.groups import ED25519, TEST, Group
from e2evote.protocol.ballot import BallotState, EncryptedBallot, PlaintextBallot, encrypt_ballot
from e2evote.protocol.decryption import DecryptingGuardian
from e2evote.protocol.election import ElectionParameters
from e2evote.protocol.manifest import Manifest
from e2evote.protocol.preencrypt import pre_encrypt_ballot, record_pre_encrypted
from e2evote.protocol.tally import TallyAccumulator, decrypt_tally
from e2evote.record.model import ChallengedBallot
from e2evote.record.native import RecordWriter, read_record, write_record
from e2evote.verifier import Report, verify_path

from .elections import ceremony


def json_manifest() -> dict[str, object]:
    return {
        "label": "pre",
        "short_code": "omega2",
        "contests": [
            {"label": "mayor", "options": ["ann", "bob", "cy"]},
            {"label": "council", "options": ["w", "x", "y", "z"], "contest_limit": 2},
        ],
    }


MANIFEST = Manifest.from_json(json_manifest())
MARKS = [{"mayor": ["bob"], "council": ["x", "z"]}, {"council": ["w"]}, {"mayor": ["ann", "cy"]}, {}]


@pytest.fixture(scope="module", params=[TEST, ED25519], ids=lambda g: g.name)
def record(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Group, Path]:
    group: Group = request.param
    params = ElectionParameters(group, MANIFEST, 3, 2)
    keys, pubs = ceremony(params)
    ctx = keys[0].context
    out = tmp_path_factory.mktemp("pre") / "record"
    w = RecordWriter(out, ctx, pubs, chunk_size=2)
    acc = TallyAccumulator(ctx)
    for n, marks in enumerate(MARKS):  # pre-encrypted, cast
        _, xi = pre_encrypt_ballot(ctx, "default")
        ballot = record_pre_encrypted(ctx, "default", xi, marks, ballot_id=f"p{n}").ballot
        w.add_ballot(ballot)
        acc.add(ballot)
    ordinary, _ = encrypt_ballot(ctx, PlaintextBallot("o1", "default", {"mayor": {"cy": 1}}))
    w.add_ballot(ordinary)
    acc.add(ordinary)
    _, xi = pre_encrypt_ballot(ctx, "default")  # pre-encrypted, marked, then challenged
    spoiled = record_pre_encrypted(
        ctx, "default", xi, {"mayor": ["ann"]}, ballot_id="s1", state=BallotState.CHALLENGED
    ).ballot
    w.add_ballot(spoiled)
    guardians = [DecryptingGuardian.from_key(keys[i]) for i in (0, 2)]
    et = acc.result()
    w.set_tally(et, decrypt_tally(ctx, pubs, guardians, et))
    claimed = PlaintextBallot("s1", "default", {"mayor": {"ann": 1}})
    w.set_challenged([ChallengedBallot("s1", xi, claimed, None)])
    w.seal()
    return group, out


def test_record_with_pre_encrypted_ballots_verifies(record: tuple[Group, Path]) -> None:
    r = verify_path(record[1])
    assert r.ok, r.failures
    assert r.checks["V15"] == 5 * 7 and r.checks["V16"] == 5 * 2 and r.checks["V5"] == 7
    assert r.checks["V17"] == r.checks["V18"] == 5 and r.summary["cast"] == 5
    tally = read_record(record[1]).decrypted_tally
    assert tally is not None
    counts = {(c.index, s.index): s.t for c in tally.contests for s in c.selections}
    # mayor: bob 1, cy 1 (ordinary; ann+cy is an overvote); council: w 1, x 1, z 1
    assert [counts[(1, i)] for i in (1, 2, 3)] == [0, 1, 1]
    assert [counts[(2, i)] for i in (1, 2, 3, 4)] == [1, 1, 0, 1]


def _reseal(src: Path, dst: Path, change: object) -> Report:
    rec = read_record(src)
    ballots = [change(b) if b.pre is not None else b for b in rec.ballots()]  # type: ignore[operator]
    write_record(dataclasses.replace(rec, ballots=lambda: iter(ballots)), dst)
    return verify_path(dst)


def _pre(b: EncryptedBallot, contest: int = 1, **changes: object) -> EncryptedBallot:
    assert b.pre is not None
    pre = list(b.pre)
    pre[contest] = dataclasses.replace(pre[contest], **changes)  # type: ignore[arg-type]
    return dataclasses.replace(b, pre=tuple(pre))


def test_tampered_pre_encryption_data_is_caught(record: tuple[Group, Path], tmp_path: Path) -> None:
    def code(b: EncryptedBallot) -> EncryptedBallot:
        assert b.pre is not None
        sv = b.pre[1].selected[0]
        bad = dataclasses.replace(sv, code="ZZZZ")
        return _pre(b, selected=(bad, *b.pre[1].selected[1:]))

    def psis(b: EncryptedBallot) -> EncryptedBallot:
        assert b.pre is not None
        return _pre(b, psis=b.pre[1].psis[::-1])

    def dropped(b: EncryptedBallot) -> EncryptedBallot:
        assert b.pre is not None
        return _pre(b, selected=b.pre[1].selected[:1])

    def stripped(b: EncryptedBallot) -> EncryptedBallot:
        return dataclasses.replace(b, pre=None)

    def vectors(b: EncryptedBallot) -> EncryptedBallot:
        assert b.pre is not None
        a, c = b.pre[1].selected
        return _pre(b, selected=(dataclasses.replace(a, vector=c.vector), c))

    for name, change, step in (
        ("code", code, "V18.A"),
        ("psis", psis, "V17.B"),
        ("dropped", dropped, "V18.B"),
        ("stripped", stripped, "V7.B"),
        ("vectors", vectors, "V17.A"),
    ):
        r = _reseal(record[1], tmp_path / name, change)
        # every pre-encrypted ballot, the challenged one too, whose opening then fails as well
        found = [(f.step, f.obj) for f in r.failures]
        assert [f.step for f in r.failures if f.step == step] == [step] * 5, (name, found)
        others = [f for f in r.failures if f.step != step]
        assert [(f.step[:5], f.obj) for f in others] == [("V13.N", "ballot s1")], (name, r.failures)


def test_challenged_pre_encrypted_ballot_opening(record: tuple[Group, Path], tmp_path: Path) -> None:
    rec = read_record(record[1])
    (ch,) = rec.challenged
    assert ch.claimed is not None and ch.nonce is not None
    for name, claimed, step in (
        ("lie", dataclasses.replace(ch.claimed, votes={"mayor": {"bob": 1}}), "V13.N.B"),
        ("value", dataclasses.replace(ch.claimed, votes={"mayor": {"ann": 2}}), "V13.B"),
        ("unknown", dataclasses.replace(ch.claimed, votes={"senate": {"ann": 1}}), "V13.B"),
    ):
        dst = tmp_path / name
        write_record(dataclasses.replace(rec, challenged=(dataclasses.replace(ch, claimed=claimed),)), dst)
        r = verify_path(dst)
        assert [f.step for f in r.failures] == [step], (name, r.failures)
    dst = tmp_path / "nonce"
    write_record(dataclasses.replace(rec, challenged=(dataclasses.replace(ch, nonce=bytes(32)),)), dst)
    assert [f.step for f in verify_path(dst).failures] == ["V17.C"]


def test_pre_encrypted_ballots_on_the_board(tmp_path: Path) -> None:
    """The board validates a recorded pre-encrypted ballot as any ballot (check_ballot_proofs: V15-V18),
    refuses a tampered one with its step, indexes it again from its log after a restart (the replay
    key over the logged contests), and its export verifies."""
    from e2evote.board import BoardKey, SQLiteStorage
    from e2evote.board.election import ElectionBoard, export_record
    from e2evote.board.errors import DuplicateBallot, InvalidBallot

    params = ElectionParameters(TEST, MANIFEST, 1, 1)
    keys, pubs = ceremony(params)
    ctx = keys[0].context
    key = BoardKey.generate()
    path = tmp_path / "b.sqlite"
    eb = ElectionBoard.create(SQLiteStorage(path), key, ctx, board_id="pre")
    ballots = []
    for n, marks in enumerate(MARKS):
        _, xi = pre_encrypt_ballot(ctx, "default")
        ballots.append(record_pre_encrypted(ctx, "default", xi, marks, ballot_id=f"p{n}").ballot)
    for b in ballots[:2]:
        eb.submit(b)
    bad = _pre(ballots[2], psis=tuple(reversed(ballots[2].pre[1].psis)))  # type: ignore[index]
    with pytest.raises(InvalidBallot, match=r"V17\.B"):
        eb.submit(bad)
    eb = ElectionBoard.open(SQLiteStorage(path), key, ctx)
    assert len(eb.index) == 2
    with pytest.raises(DuplicateBallot, match="replay"):
        eb.submit(ballots[1])  # already logged: refused after the restart too
    eb.submit(ballots[2])
    out = tmp_path / "export"
    export_record(eb.board, ctx, pubs, out)
    r = verify_path(out, partial=True)
    assert r.ok, r.failures
    assert r.checks["V17"] == 3


def test_pre_encrypted_ballots_in_a_chaining_election(tmp_path: Path) -> None:
    """With chaining on, ordinary ballots chain per device (V7.D-G) and pre-encrypted ones, whose codes
    were fixed when printed, belong to no chain."""
    from e2evote.protocol.ballot import Device

    manifest = Manifest.from_json({**json_manifest(), "chaining": True})
    params = ElectionParameters(TEST, manifest, 1, 1)
    keys, pubs = ceremony(params)
    ctx = keys[0].context
    w = RecordWriter(tmp_path / "rec", ctx, pubs)
    acc = TallyAccumulator(ctx)
    device = Device(ctx, "booth-1")
    for n, marks in enumerate(MARKS):
        plain, _ = encrypt_ballot(
            ctx, PlaintextBallot(f"o{n}", "default", {"mayor": {"ann": 1}}), device=device
        )
        _, xi = pre_encrypt_ballot(ctx, "default")
        pre = record_pre_encrypted(ctx, "default", xi, marks, ballot_id=f"p{n}").ballot
        for b in (plain, pre):
            w.add_ballot(b)
            acc.add(b)
    et = acc.result()
    w.set_tally(et, decrypt_tally(ctx, pubs, [DecryptingGuardian.from_key(keys[0])], et))
    w.set_device_closes({"booth-1": device.close()})
    w.seal()
    r = verify_path(tmp_path / "rec")
    assert r.ok, r.failures
    assert r.checks["V17"] == 4
