"""SIGKILL during ingestion loses no acknowledged ballot (SQLite, WAL, synchronous=FULL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from e2evote.board import (
    BallotSubmission,
    Board,
    BoardKey,
    Receipt,
    SQLiteStorage,
    verify_consistency,
    verify_log,
    verify_receipt,
)
from e2evote.board.events import Event

from .conftest import REPO, free_port
from .fakes import BOARD_ID, ELECTION_HASH, fake_validator


def test_sigkill_loses_no_acknowledged_ballot(tmp_path: Path) -> None:
    db = tmp_path / "board.sqlite"
    seed = os.urandom(32)
    key = BoardKey(seed)
    s = SQLiteStorage(db)
    Board.create(s, key, fake_validator, board_id=BOARD_ID, election_hash=ELECTION_HASH)
    s.close()

    port = free_port()
    env = {**os.environ, "E2EVOTE_TEST_BOARD_SEED": seed.hex(), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.board._server", str(db), str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{url}/v1/sth", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "server died"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)

        receipts: list[Receipt] = []
        lock = threading.Lock()
        stop = threading.Event()

        def client(t: int) -> None:
            with httpx.Client(base_url=url, timeout=5) as c:
                i = 0
                while not stop.is_set():
                    body = BallotSubmission(f"ballot:k{t}-{i}".encode()).to_bytes()
                    i += 1
                    try:
                        resp = c.post(
                            "/v1/ballots", content=body, headers={"content-type": "application/msgpack"}
                        )
                    except httpx.HTTPError:
                        return  # server gone: this ballot was never acknowledged
                    if resp.status_code == 201:
                        with lock:
                            receipts.append(Receipt.from_json(resp.json()))

        threads = [threading.Thread(target=client, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 15
        while len(receipts) < 150 and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)  # mid-ingestion: clients are still posting
        proc.wait(10)
        stop.set()
        for t in threads:
            t.join(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if proc.stderr:
            proc.stderr.close()

    assert len(receipts) >= 50, "too few ballots acknowledged before the kill"
    storage = SQLiteStorage(db)
    try:
        board = Board(storage, key, fake_validator)
        events = list(board.iter_events())
        latest = board.latest_sth()
        verify_log(events, latest, key.public_key, validator=fake_validator)
        for r in receipts:
            verify_receipt(r, key.public_key)
            ev = Event.from_bytes(events[r.leaf_index])
            assert ev.code == r.confirmation_code
            assert board.lookup(r.confirmation_code).receipt == r
            proof = board.consistency_proof(r.sth.tree_size, latest.tree_size)
            verify_consistency(r.sth.tree_size, latest.tree_size, r.sth.root_hash, latest.root_hash, proof)
        # and the board keeps working after the crash
        board.submit(BallotSubmission(b"ballot:after-crash"))
    finally:
        storage.close()
