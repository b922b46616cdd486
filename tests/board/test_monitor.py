"""The monitor detects forks (rewritten / reordered logs) and rollbacks (truncated logs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from e2evote.board import BallotSubmission, Board, BoardKey, MonitorAlarm, SignedTreeHead, SQLiteStorage
from e2evote.board.monitor import load_state, monitor

from .fakes import BOARD_ID, ELECTION_HASH, fake_validator


def make_board(path: Path, key: BoardKey, bodies: list[str]) -> Board:
    b = Board.create(SQLiteStorage(path), key, fake_validator, board_id=BOARD_ID, election_hash=ELECTION_HASH)
    for body in bodies:
        b.submit(BallotSubmission(b"ballot:" + body.encode()))
    return b


BODIES = [f"m{i}" for i in range(7)]


@pytest.fixture
def honest(tmp_path: Path, board_key: BoardKey) -> Board:
    return make_board(tmp_path / "honest.sqlite", board_key, BODIES)


def test_monitor_follows_an_honest_board(honest: Board, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    r1 = monitor(honest, state, honest.public_key)
    assert r1.status == "initial" and load_state(state) == honest.latest_sth()
    assert monitor(honest, state, honest.public_key).status == "unchanged"
    honest.submit(BallotSubmission(b"ballot:more"))
    r3 = monitor(honest, state, honest.public_key, board_id=BOARD_ID)
    assert r3.status == "extended" and r3.previous == r1.current and r3.current.tree_size == 9


@pytest.mark.parametrize(
    ("bodies", "reason"),
    [
        (BODIES[:3] + ["EVIL"] + BODIES[4:] + ["x"], "fork"),  # rewritten (and re-signed) log
        (BODIES[:3] + ["EVIL"] + BODIES[4:], "fork"),  # same size, different root
        ([BODIES[1], BODIES[0], *BODIES[2:], "x"], "fork"),  # reordered
        (BODIES[:4], "rollback"),  # truncated
        (BODIES[:4] + ["y", "z", "w", "v", "u"], "fork"),  # truncated, then extended
    ],
    ids=["rewritten", "rewritten-same-size", "reordered", "truncated", "truncated-extended"],
)
def test_monitor_detects_misbehaviour(
    honest: Board, tmp_path: Path, board_key: BoardKey, bodies: list[str], reason: str
) -> None:
    state = tmp_path / "state.json"
    monitor(honest, state, honest.public_key)
    before = state.read_bytes()
    evil = make_board(tmp_path / "evil.sqlite", board_key, bodies)  # same key: the board itself cheats
    with pytest.raises(MonitorAlarm) as ei:
        monitor(evil, state, honest.public_key)
    assert ei.value.reason == reason and ei.value.step in {"B3.B", "B3.C"}
    assert state.read_bytes() == before  # evidence kept


def test_monitor_rejects_foreign_signatures(honest: Board, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    other = make_board(tmp_path / "other.sqlite", BoardKey.generate(), BODIES)
    with pytest.raises(MonitorAlarm) as ei:
        monitor(other, state, honest.public_key)
    assert ei.value.reason == "bad_signature" and ei.value.step == "B3.A"
    assert not state.exists()


def test_monitor_time_reversal(honest: Board, tmp_path: Path, board_key: BoardKey) -> None:
    state = tmp_path / "state.json"
    monitor(honest, state, honest.public_key)
    sth = honest.latest_sth()

    class Backdated:
        def latest_sth(self) -> SignedTreeHead:
            return SignedTreeHead.sign(
                board_key, BOARD_ID, sth.tree_size, sth.timestamp_ms - 1, sth.root_hash
            )

        def consistency_proof(self, first: int, second: int) -> list[bytes]:
            return []

    with pytest.raises(MonitorAlarm) as ei:
        monitor(Backdated(), state, honest.public_key)
    assert ei.value.reason == "time_reversal"


def test_monitor_bad_state_file(honest: Board, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"version": 99}))
    from e2evote.errors import EncodingError

    with pytest.raises(EncodingError):
        monitor(honest, state, honest.public_key)
