"""Fixtures for the board tests: storage backends (SQLite, PostgreSQL) and a test board.

PostgreSQL: ``E2EVOTE_TEST_PG_URL`` if set; otherwise a throw-away cluster made with the local
``initdb``/``pg_ctl`` (run as the ``postgres`` user when we are root); otherwise those tests skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # the package may not be installed in the venv
    sys.path.insert(0, str(REPO))

from e2evote.board import Board, BoardKey, SQLiteStorage, Storage  # noqa: E402

from .fakes import BOARD_ID, ELECTION_HASH, fake_validator  # noqa: E402

StorageFactory = Callable[[], Storage]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bindir() -> Path | None:
    if shutil.which("initdb") and shutil.which("pg_ctl"):
        return Path(shutil.which("initdb") or "").parent
    for d in sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True
    ):
        if (Path(d) / "initdb").exists() and (Path(d) / "pg_ctl").exists():
            return Path(d)
    return None


def _unavailable(reason: str) -> NoReturn:
    """Skip locally; in CI (.ci/run installs PostgreSQL) a missing server is a failure, not a skip."""
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    url = os.environ.get("E2EVOTE_TEST_PG_URL")
    if url:
        yield url
        return
    bindir = _pg_bindir()
    if bindir is None:
        _unavailable("PostgreSQL unavailable: set E2EVOTE_TEST_PG_URL or install postgresql (initdb, pg_ctl)")
    prefix: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="e2evote-pg-"))
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            _unavailable("running as root and there is no 'postgres' user to run initdb as")
        if shutil.which("runuser") is None:
            _unavailable("running as root and runuser is missing")
        os.chown(base, pw.pw_uid, pw.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    data = base / "data"
    port = free_port()

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, text=True)

    try:
        run(
            str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "e2evote", "-E", "UTF8", "--no-sync"
        )
        opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "-o", opts, "start")
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(base, ignore_errors=True)
        _unavailable(f"could not start a temporary PostgreSQL: {exc.stderr.strip()[:300]}")
    try:
        yield f"postgresql://e2evote@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgres"])
def storage_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StorageFactory]:
    """A factory opening (again) the same fresh database with a new Storage object."""
    opened: list[Storage] = []
    if request.param == "sqlite":
        path = tmp_path / "board.sqlite"

        def make() -> Storage:
            s = SQLiteStorage(path)
            opened.append(s)
            return s

        yield make
    else:
        from e2evote.board.postgres import PostgresStorage, drop_schema

        url = request.getfixturevalue("pg_url")
        schema = f"t_{uuid.uuid4().hex[:16]}"

        def make() -> Storage:
            s = PostgresStorage(url, schema=schema)
            opened.append(s)
            return s

        yield make
        for s in opened:
            s.close()
        opened.clear()
        drop_schema(url, schema)
    for s in opened:
        s.close()


@pytest.fixture
def storage(storage_factory: StorageFactory) -> Storage:
    return storage_factory()


@pytest.fixture(scope="session")
def board_key() -> BoardKey:
    return BoardKey(bytes(range(32)))


@pytest.fixture
def board(storage: Storage, board_key: BoardKey) -> Board:
    return Board.create(storage, board_key, fake_validator, board_id=BOARD_ID, election_hash=ELECTION_HASH)
