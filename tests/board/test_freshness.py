"""Freshness STHs (specs/08-board.md §4.1, §8, B3.E): an idle board re-signs its head with the current
time, monitors with ``max_age_s`` tell a live idle board from a frozen one, and records still verify.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from e2evote.board import (
    BallotSubmission,
    Board,
    BoardKey,
    MonitorAlarm,
    SignedTreeHead,
    SQLiteStorage,
    Storage,
    read_record,
    record_stream,
    verify_record,
)
from e2evote.board.http import create_app, refresh_idle
from e2evote.board.monitor import load_state, monitor

from .conftest import StorageFactory
from .fakes import BOARD_ID, ELECTION_HASH, fake_validator

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

T0 = 1_700_000_000_000  # a fixed "now" in milliseconds


class Clock:
    """A settable clock in milliseconds, injected into boards and monitors."""

    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def clocked_board(storage: Storage, key: BoardKey, clock: Clock) -> Board:
    """A new board whose events and tree heads take their time from ``clock``."""
    return Board.create(
        storage, key, fake_validator, board_id=BOARD_ID, election_hash=ELECTION_HASH, clock=clock
    )


def test_refresh_signs_a_fresh_head(storage_factory: StorageFactory, board_key: BoardKey) -> None:
    clock = Clock()
    board = clocked_board(storage_factory(), board_key, clock)
    receipt = board.submit(BallotSubmission(b"ballot:fresh"))
    appended = board.latest_sth()
    assert appended.timestamp_ms == T0 and appended == board.sth_at(2)

    clock.now = T0 + 90_000
    fresh = board.refresh_sth()
    assert fresh.timestamp_ms == T0 + 90_000
    assert (fresh.tree_size, fresh.root_hash, fresh.board_id) == (2, appended.root_hash, BOARD_ID)
    fresh.verify(board.public_key, step="test")
    assert board.latest_sth() == fresh
    # what receipts and checkpoints refer to is unchanged
    assert board.sth_at(2) == appended
    look = board.lookup(receipt.confirmation_code)
    assert look.receipt == receipt and look.sth == fresh

    # persisted: another storage object on the same database sees the fresh head
    reopened = Board(storage_factory(), board_key, fake_validator, clock=clock)
    assert reopened.latest_sth() == fresh and reopened.sth_at(2) == appended

    # min_age_ms: a recent head is kept; a clock that has not advanced signs nothing new
    clock.now = T0 + 100_000
    assert board.refresh_sth(min_age_ms=60_000) == fresh
    clock.now = T0 + 50_000  # behind the head: never signs an older head
    assert board.refresh_sth() == fresh

    # the next event is not older than the fresh head (timestamps never go backwards, B1.B/B1.J)
    board.submit(BallotSubmission(b"ballot:after"))
    after = board.latest_sth()
    assert after.tree_size == 3 and after.timestamp_ms == T0 + 90_000 and board.sth_at(3) == after


def test_refresh_idle_signs_only_when_idle(board_key: BoardKey, tmp_path: Path) -> None:
    clock = Clock()
    board = clocked_board(SQLiteStorage(tmp_path / "b.sqlite"), board_key, clock)
    first = board.latest_sth()
    clock.now = T0 + 30_000
    assert refresh_idle(board, 60) == first  # not idle long enough
    clock.now = T0 + 61_000
    fresh = refresh_idle(board, 60)
    assert fresh.timestamp_ms == T0 + 61_000 and fresh.tree_size == first.tree_size


def lifespan_client(app: Starlette) -> TestClient:
    """Starlette's TestClient for ``app``; used as a context manager it runs the app's lifespan."""
    with warnings.catch_warnings():  # the import warns about TestClient's httpx backend
        warnings.simplefilter("ignore", UserWarning)  # StarletteDeprecationWarning
        from starlette.testclient import TestClient

    return TestClient(app)


def test_serve_lifespan_refreshes(board: Board) -> None:
    before = board.latest_sth()
    with lifespan_client(create_app(board, fresh_seconds=0.05)) as client:
        deadline = time.monotonic() + 10
        while True:
            got = SignedTreeHead.from_json(client.get("/v1/sth").json())
            if got.timestamp_ms > before.timestamp_ms or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        assert got.timestamp_ms > before.timestamp_ms
        assert (got.tree_size, got.root_hash) == (before.tree_size, before.root_hash)
        got.verify(board.public_key, step="test")
        # GET /v1/sth/{size} still serves the append's head
        assert SignedTreeHead.from_json(client.get(f"/v1/sth/{before.tree_size}").json()) == before


def test_serve_without_refresh(board: Board) -> None:
    before = board.latest_sth()
    with lifespan_client(create_app(board)) as client:
        time.sleep(0.2)
        assert SignedTreeHead.from_json(client.get("/v1/sth").json()) == before


def test_create_app_rejects_negative_interval(board: Board) -> None:
    with pytest.raises(ValueError):
        create_app(board, fresh_seconds=-1)


def test_export_after_refreshes_verifies(board_key: BoardKey, tmp_path: Path) -> None:
    clock = Clock()
    board = clocked_board(SQLiteStorage(tmp_path / "b.sqlite"), board_key, clock)
    board.submit(BallotSubmission(b"ballot:x"))
    for step in (1, 2, 3):
        clock.now = T0 + step * 60_000
        board.refresh_sth()
    sth, chunks = record_stream(board)
    assert sth.timestamp_ms == T0 + 180_000 and sth != board.sth_at(sth.tree_size)
    record = read_record(b"".join(chunks))
    assert record.sth == sth
    summary = verify_record(record, board.public_key, validator=fake_validator, board_id=BOARD_ID)
    assert summary.ballots == 1


# ---------------------------------------------------------------------------------------------- B3.E


@pytest.fixture
def idle(board_key: BoardKey, tmp_path: Path) -> tuple[Board, Clock]:
    clock = Clock()
    board = clocked_board(SQLiteStorage(tmp_path / "idle.sqlite"), board_key, clock)
    board.submit(BallotSubmission(b"ballot:m"))
    return board, clock


def test_monitor_max_age_fresh_board(idle: tuple[Board, Clock], tmp_path: Path) -> None:
    board, clock = idle
    state = tmp_path / "state.json"
    mon = Clock(T0 + 30_000)
    r1 = monitor(board, state, board.public_key, max_age_s=60, clock=mon)
    assert r1.status == "initial"
    # an hour later the board was idle but refreshed its head: unchanged, and the stored time advances
    clock.now = mon.now = T0 + 3_600_000
    board.refresh_sth()
    mon.now += 5_000
    r2 = monitor(board, state, board.public_key, max_age_s=60, clock=mon)
    assert r2.status == "unchanged" and r2.current.timestamp_ms == T0 + 3_600_000
    stored = load_state(state)
    assert stored is not None and stored.timestamp_ms == T0 + 3_600_000


def test_monitor_max_age_stale_board(idle: tuple[Board, Clock], tmp_path: Path) -> None:
    board, _ = idle
    state = tmp_path / "state.json"
    far = Clock(T0 + 61_000)
    # without --max-age the behaviour is unchanged: an old head is fine
    assert monitor(board, state, board.public_key, clock=far).status == "initial"
    before = state.read_bytes()
    with pytest.raises(MonitorAlarm) as ei:
        monitor(board, state, board.public_key, max_age_s=60, clock=far)
    assert ei.value.reason == "stale" and ei.value.step == "B3.E"
    assert state.read_bytes() == before  # evidence kept
    # the same head is accepted with a larger bound
    assert monitor(board, state, board.public_key, max_age_s=62, clock=far).status == "unchanged"


def test_monitor_fresh_head_going_back_in_time(idle: tuple[Board, Clock], tmp_path: Path) -> None:
    board, clock = idle
    state = tmp_path / "state.json"
    clock.now = T0 + 120_000
    board.refresh_sth()
    monitor(board, state, board.public_key, max_age_s=60, clock=Clock(T0 + 121_000))

    class Replayed:
        """A board serving its older (append) head again, e.g. a frozen or rolled-back replica."""

        def latest_sth(self) -> SignedTreeHead:
            return board.sth_at(board.latest_sth().tree_size)

        def consistency_proof(self, first: int, second: int) -> list[bytes]:
            return board.consistency_proof(first, second)

    before = state.read_bytes()
    with pytest.raises(MonitorAlarm) as ei:
        monitor(Replayed(), state, board.public_key, max_age_s=3600, clock=Clock(T0 + 121_000))
    assert ei.value.reason == "time_reversal" and ei.value.step == "B3.B"
    assert state.read_bytes() == before


def test_monitor_rejects_negative_max_age(idle: tuple[Board, Clock], tmp_path: Path) -> None:
    board, _ = idle
    with pytest.raises(ValueError):
        monitor(board, tmp_path / "s.json", board.public_key, max_age_s=-1)
