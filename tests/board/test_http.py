"""HTTP API against a real uvicorn server on 127.0.0.1 (both storage backends)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from e2evote.board import (
    BallotSubmission,
    Board,
    BoardKey,
    CredentialList,
    Receipt,
    RemoteBoardError,
    SQLiteStorage,
    issue_credentials,
    read_record,
    verify_inclusion,
    verify_receipt,
    verify_record,
)
from e2evote.board.client import BoardClient
from e2evote.board.codec import pack
from e2evote.board.credentials import ChallengeRequest
from e2evote.board.http import create_app

from .conftest import free_port
from .fakes import BOARD_ID, ELECTION_HASH, fake_validator

MAX_BODY = 64 * 1024


def _run_server(board: Board) -> tuple[uvicorn.Server, threading.Thread, str]:
    port = free_port()
    config = uvicorn.Config(
        create_app(board, max_body_bytes=MAX_BODY),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    srv = uvicorn.Server(config)
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        if time.monotonic() > deadline or not t.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    return srv, t, f"http://127.0.0.1:{port}"


@pytest.fixture
def server(board: Board) -> Iterator[str]:
    """A real uvicorn server on 127.0.0.1 for this test's board (SQLite and PostgreSQL)."""
    srv, t, url = _run_server(board)
    yield url
    srv.should_exit = True
    t.join(10)


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One SQLite-backed server for the many error-mapping cases (HTTP layer only)."""
    storage = SQLiteStorage(tmp_path_factory.mktemp("shared") / "board.sqlite")
    board = Board.create(
        storage, BoardKey.generate(), fake_validator, board_id=BOARD_ID, election_hash=ELECTION_HASH
    )
    srv, t, url = _run_server(board)
    yield url
    srv.should_exit = True
    t.join(10)
    storage.close()


def ballot(body: str) -> bytes:
    return BallotSubmission(b"ballot:" + body.encode()).to_bytes()


def test_submit_lookup_and_proofs(server: str, board: Board) -> None:
    with BoardClient(server) as c:
        r = c.submit(ballot("h1"))
        verify_receipt(r, board.public_key)
        c.submit(BallotSubmission(b"ballot:h2"))
        look = c.lookup(r.confirmation_code)
        assert look.receipt == r and not look.challenged
        verify_inclusion(r.leaf_hash, r.leaf_index, look.sth.tree_size, look.audit_path, look.sth.root_hash)
        sth = c.latest_sth()
        assert sth == board.latest_sth() == look.sth
        assert c.sth_at(r.sth.tree_size) == r.sth
        assert c.consistency_proof(2, 3) == board.consistency_proof(2, 3)
        assert c.inclusion_proof(1, 3) == board.inclusion_proof(1, 3)
        info = c.info()
        assert info["board_public_key"] == board.public_key.hex() and info["max_body_bytes"] == MAX_BODY
        record = read_record(c.download_record())
        assert verify_record(record, board.public_key, validator=fake_validator).tree_size == 3


def test_openapi(shared_server: str) -> None:
    doc = httpx.get(f"{shared_server}/openapi.json").json()
    assert doc["openapi"].startswith("3.") and "/v1/ballots" in doc["paths"]


@pytest.mark.parametrize(
    ("content", "ctype", "status", "reason"),
    [
        (b"\xc1", "application/msgpack", 400, "malformed"),
        (b"", "application/msgpack", 400, "malformed"),
        (pack([1, b"ballot:x", None]), "application/msgpack", 400, "malformed"),  # wrong arity
        (pack([1, b"ballot:x", None, None]) + b"\x00", "application/msgpack", 400, "malformed"),  # trailing
        (
            b"\x94\x01\xc5\x00\x08ballot:x\xc0\xc0",
            "application/msgpack",
            400,
            "malformed",
        ),  # bin16 for 8 bytes
        (b"\x94\x01\xa8ballot:x\xc0\xc0", "application/msgpack", 400, "malformed"),  # str, not bin
        (b"\x81\x01\x02", "application/msgpack", 400, "malformed"),  # a map
        (ballot("y" * (MAX_BODY + 1)), "application/msgpack", 413, "too_large"),
        (ballot("z"), "application/json", 415, "unsupported_media_type"),
        (BallotSubmission(b"not-a-ballot").to_bytes(), "application/msgpack", 422, "invalid_ballot"),
    ],
    ids=[
        "garbage",
        "empty",
        "arity",
        "trailing",
        "noncanonical",
        "str",
        "map",
        "oversized",
        "json",
        "invalid",
    ],
)
def test_bad_submissions(shared_server: str, content: bytes, ctype: str, status: int, reason: str) -> None:
    resp = httpx.post(f"{shared_server}/v1/ballots", content=content, headers={"content-type": ctype})
    assert resp.status_code == status
    assert resp.json()["error"] == reason


def test_oversized_chunked_body(shared_server: str) -> None:
    def gen() -> Iterator[bytes]:
        for _ in range(100):
            yield b"\x00" * 1024

    resp = httpx.post(
        f"{shared_server}/v1/ballots", content=gen(), headers={"content-type": "application/msgpack"}
    )
    assert resp.status_code == 413 and resp.json()["error"] == "too_large"


def test_replay_refused(server: str, board: Board) -> None:
    with BoardClient(server) as c:
        c.submit(ballot("r1"))
        for again in (ballot("r1"), ballot("r1#other-wrapper")):
            with pytest.raises(RemoteBoardError) as ei:
                c.submit(again)
            assert ei.value.status == 409 and ei.value.reason == "replay"
    assert board.latest_sth().tree_size == 2


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        ("/v1/ballots/zz", 400, "malformed"),
        ("/v1/ballots/" + "00" * 32, 404, "not_found"),
        ("/v1/sth/99", 404, "not_found"),
        ("/v1/sth/-1", 400, "malformed"),
        ("/v1/consistency?first=1", 400, "malformed"),
        ("/v1/consistency?first=2&second=1", 404, "not_found"),
        ("/v1/consistency?first=1&second=99", 404, "not_found"),
        ("/v1/inclusion?index=5&tree_size=1", 404, "not_found"),
        ("/v1/credentials", 404, "not_found"),
        ("/nope", 404, "not_found"),
    ],
)
def test_bad_reads(shared_server: str, path: str, status: int, reason: str) -> None:
    resp = httpx.get(shared_server + path)
    assert resp.status_code == status and resp.json()["error"] == reason


def test_concurrent_http_clients(server: str, board: Board) -> None:
    clients, per_client = 8, 12
    receipts: list[Receipt] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def run(t: int) -> None:
        try:
            with BoardClient(server) as c:
                for i in range(per_client):
                    r = c.submit(ballot(f"c{t}-{i}"))
                    with lock:
                        receipts.append(r)
        except BaseException as exc:  # pragma: no cover
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert len(receipts) == clients * per_client
    assert len({r.confirmation_code for r in receipts}) == len(receipts)
    assert sorted(r.leaf_index for r in receipts) == list(range(1, len(receipts) + 1))
    with BoardClient(server) as c:
        record = read_record(c.download_record())
    summary = verify_record(record, board.public_key, validator=fake_validator)
    assert summary.tree_size == len(receipts) + 1 and len(summary.counted) == len(receipts)
    for r in receipts:
        verify_receipt(r, board.public_key)
        assert record.events[r.leaf_index] and board.lookup(r.confirmation_code).receipt == r


def test_unreachable_board_is_typed() -> None:
    with (
        BoardClient(f"http://127.0.0.1:{free_port()}", timeout_s=2) as c,
        pytest.raises(RemoteBoardError) as ei,
    ):
        c.latest_sth()
    assert ei.value.reason == "unreachable"


def test_key_not_in_repr(board_key: BoardKey, board: Board) -> None:
    seed = bytes(range(32)).hex()
    assert seed not in repr(board_key) and seed not in repr(board)


def test_monitor_over_http(server: str, board: Board, tmp_path: Path) -> None:
    from e2evote.board.monitor import monitor

    state = tmp_path / "monitor.json"
    assert monitor(server, state, board.public_key).status == "initial"
    with BoardClient(server) as c:
        c.submit(ballot("mon"))
    assert monitor(server, state, board.public_key, board_id=board.board_id).status == "extended"


def test_challenges_over_http_need_credentials(shared_server: str) -> None:
    """Without voter credentials the board refuses POST /v1/challenges: codes are public (§6.2)."""
    r = httpx.post(
        f"{shared_server}/v1/challenges",
        content=ChallengeRequest(b"\x01" * 32).to_bytes(),
        headers={"content-type": "application/msgpack"},
    )
    assert (r.status_code, r.json()["error"]) == (403, "operator_only")


def test_credentials_over_http(tmp_path: Path, board_key: BoardKey) -> None:
    creds, clist = issue_credentials(2)
    storage = SQLiteStorage(tmp_path / "creds.sqlite")
    board = Board.create(
        storage, board_key, fake_validator, board_id=BOARD_ID, election_hash=ELECTION_HASH, credentials=clist
    )
    srv, t, url = _run_server(board)
    try:
        assert CredentialList.from_bytes(httpx.get(f"{url}/v1/credentials").content) == clist
        with BoardClient(url) as c:
            election_hash = bytes.fromhex(c.info()["election_hash"])
            c.submit(creds[0].sign_ballot(election_hash, b"ballot:one"))
            c.submit(creds[0].sign_ballot(election_hash, b"ballot:two"))  # re-vote
            spoil = c.submit(creds[1].sign_ballot(election_hash, b"ballot:audited"))
            code = spoil.confirmation_code
            # POST /v1/challenges: only the ballot's own credential spoils it (§6.2, §8.1)
            for bad_challenge, status, why in [
                (creds[0].sign_challenge(election_hash, code), 403, "wrong_credential"),
                (ChallengeRequest(code), 403, "credential_required"),
                (creds[1].sign_challenge(election_hash, b"\x07" * 32), 404, "not_found"),
            ]:
                with pytest.raises(RemoteBoardError) as ci:
                    c.challenge(bad_challenge)
                assert (ci.value.status, ci.value.reason) == (status, why)
            for body, ctype, status, why in [
                (b"\x93\x01", "application/msgpack", 400, "malformed"),
                (ChallengeRequest(code).to_bytes(), "text/plain", 415, "unsupported_media_type"),
                (b"\x00" * 2048, "application/msgpack", 413, "too_large"),
            ]:
                r = httpx.post(f"{url}/v1/challenges", content=body, headers={"content-type": ctype})
                assert (r.status_code, r.json()["error"]) == (status, why)
            sth = c.challenge(creds[1].sign_challenge(election_hash, code))
            sth.verify(board.public_key)
            assert c.lookup(code).challenged
            with pytest.raises(RemoteBoardError) as ci:
                c.challenge(creds[1].sign_challenge(election_hash, code))
            assert (ci.value.status, ci.value.reason) == (409, "already_challenged")
            for bad, reason in [
                (BallotSubmission(b"ballot:anon"), "credential_required"),
                (issue_credentials(1)[0][0].sign_ballot(election_hash, b"ballot:eve"), "unknown_credential"),
            ]:
                with pytest.raises(RemoteBoardError) as ei:
                    c.submit(bad)
                assert ei.value.status == 403 and ei.value.reason == reason
            summary = verify_record(
                read_record(c.download_record()), board.public_key, validator=fake_validator
            )
        assert [x.credential for x in summary.counted] == [creds[0].public_key] and summary.ballots == 3
    finally:
        srv.should_exit = True
        t.join(10)
        storage.close()
