"""SQLite board storage: the embedded default (specs/08-board.md §9.1).

WAL journal, ``synchronous=FULL``: an append returns only after its COMMIT is on disk, so every
acknowledged ballot survives a crash (SIGKILL or power loss). Writers take ``BEGIN IMMEDIATE``, which
serializes appends across threads (plus an in-process lock) and across processes (busy timeout).
Readers use one connection per thread and never block the writer.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence

from e2evote.board.errors import BoardStateError
from e2evote.board.merkle import NodeKey
from e2evote.board.storage import (
    EMPTY_HEAD,
    BallotRow,
    HeadState,
    PreparedAppend,
    WriteTx,
    node_key,
    pack_frontier,
    split_node_key,
    unpack_frontier,
)

__all__ = ["SQLiteStorage"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size INTEGER NOT NULL,
    frontier BLOB NOT NULL,
    ts INTEGER NOT NULL,
    phase INTEGER NOT NULL,
    sth BLOB
);
CREATE TABLE IF NOT EXISTS events (idx INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (k INTEGER PRIMARY KEY, hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS sths (size INTEGER PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS ballots (
    code BLOB PRIMARY KEY,
    replay_key BLOB NOT NULL UNIQUE,
    idx INTEGER NOT NULL UNIQUE,
    credential BLOB,
    receipt BLOB NOT NULL,
    challenged INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
INSERT OR IGNORE INTO head (id, size, frontier, ts, phase, sth) VALUES (1, 0, x'', 0, -1, NULL);
"""

_SELECT_BY_CODE = "SELECT code, replay_key, idx, credential, receipt, challenged FROM ballots WHERE code = ?"
_SELECT_BY_REPLAY = (
    "SELECT code, replay_key, idx, credential, receipt, challenged FROM ballots WHERE replay_key = ?"
)
_INSERT_BALLOT = (
    "INSERT INTO ballots (code, replay_key, idx, credential, receipt, challenged) VALUES (?, ?, ?, ?, ?, ?)"
)


def _row_to_ballot(row: tuple[object, ...] | None) -> BallotRow | None:
    if row is None:
        return None
    code, replay_key, idx, credential, receipt, challenged = row
    assert isinstance(code, bytes) and isinstance(replay_key, bytes) and isinstance(idx, int)
    assert isinstance(receipt, bytes) and (credential is None or isinstance(credential, bytes))
    return BallotRow(code, replay_key, idx, credential, receipt, bool(challenged))


def _read_head(conn: sqlite3.Connection) -> HeadState:
    row = conn.execute("SELECT size, frontier, ts, phase, sth FROM head WHERE id = 1").fetchone()
    if row is None:
        return EMPTY_HEAD
    size, frontier, ts, phase, sth = row
    return HeadState(int(size), unpack_frontier(bytes(frontier)), int(ts), int(phase), sth)


class _Tx:
    __slots__ = ("_conn", "_head")

    def __init__(self, conn: sqlite3.Connection, head: HeadState) -> None:
        self._conn = conn
        self._head = head

    @property
    def head(self) -> HeadState:
        return self._head

    def ballot_by_code(self, code: bytes) -> BallotRow | None:
        return _row_to_ballot(self._conn.execute(_SELECT_BY_CODE, (code,)).fetchone())

    def ballot_by_replay_key(self, replay_key: bytes) -> BallotRow | None:
        q = _SELECT_BY_REPLAY
        return _row_to_ballot(self._conn.execute(q, (replay_key,)).fetchone())


class SQLiteStorage:
    """Board storage in one SQLite database file (see module docstring)."""

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_s: float = 30.0) -> None:
        self._path = os.fspath(path)
        self._timeout = busy_timeout_s
        self._lock = threading.Lock()
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._closed = False
        self._writer = self._connect()
        self._writer.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"SQLiteStorage({self._path!r})"

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._path, timeout=self._timeout, isolation_level=None, check_same_thread=False
        )
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()
        if mode is None or str(mode[0]).lower() != "wal":
            raise BoardStateError("corrupt", f"could not enable WAL on {self._path}")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(f"PRAGMA busy_timeout={int(self._timeout * 1000)}")
        with self._all_lock:
            self._all.append(conn)
        return conn

    def _reader(self) -> sqlite3.Connection:
        if self._closed:
            raise BoardStateError("closed", "storage is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    def read_head(self) -> HeadState:
        return _read_head(self._reader())

    def append(self, prepare: Callable[[WriteTx], PreparedAppend]) -> PreparedAppend:
        with self._lock:
            if self._closed:
                raise BoardStateError("closed", "storage is closed")
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                old = _read_head(conn)
                prepared = prepare(_Tx(conn, old))
                new = prepared.head
                if new.size != old.size + 1:
                    raise BoardStateError("corrupt", "an append must add exactly one event")
                conn.execute("INSERT INTO events (idx, data) VALUES (?, ?)", (old.size, prepared.event))
                conn.executemany(
                    "INSERT INTO nodes (k, hash) VALUES (?, ?)", [(node_key(k), h) for k, h in prepared.nodes]
                )
                conn.execute(
                    "UPDATE head SET size = ?, frontier = ?, ts = ?, phase = ?, sth = ? WHERE id = 1",
                    (new.size, pack_frontier(new.frontier), new.timestamp_ms, new.phase, new.sth),
                )
                if new.sth is not None:
                    conn.execute("INSERT INTO sths (size, data) VALUES (?, ?)", (new.size, new.sth))
                b = prepared.ballot
                if b is not None:
                    conn.execute(
                        _INSERT_BALLOT,
                        (b.code, b.replay_key, b.index, b.credential, b.receipt, int(b.challenged)),
                    )
                if prepared.challenge_of is not None:
                    cur = conn.execute(
                        "UPDATE ballots SET challenged = 1 WHERE code = ? AND challenged = 0",
                        (prepared.challenge_of,),
                    )
                    if cur.rowcount != 1:
                        raise BoardStateError("corrupt", "challenged ballot vanished")
                conn.execute("COMMIT")
            except sqlite3.IntegrityError as exc:
                conn.execute("ROLLBACK")
                raise BoardStateError("conflict", f"storage constraint violated: {exc}") from None
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return prepared

    def events(self, start: int, stop: int) -> list[bytes]:
        rows = (
            self._reader()
            .execute("SELECT data FROM events WHERE idx >= ? AND idx < ? ORDER BY idx", (start, stop))
            .fetchall()
        )
        return [bytes(r[0]) for r in rows]

    def get_nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        conn = self._reader()
        out: dict[NodeKey, bytes] = {}
        ks = [node_key(k) for k in keys]
        for i in range(0, len(ks), 500):
            chunk = ks[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for k, h in conn.execute(f"SELECT k, hash FROM nodes WHERE k IN ({marks})", chunk):  # noqa: S608
                out[split_node_key(int(k))] = bytes(h)
        return out

    def ballot_by_code(self, code: bytes) -> BallotRow | None:
        return _Tx(self._reader(), EMPTY_HEAD).ballot_by_code(code)

    def get_sth(self, size: int) -> bytes | None:
        row = self._reader().execute("SELECT data FROM sths WHERE size = ?", (size,)).fetchone()
        return None if row is None else bytes(row[0])

    def get_meta(self, name: str) -> bytes | None:
        row = self._reader().execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else bytes(row[0])

    def put_meta(self, name: str, value: bytes) -> None:
        with self._lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
                if row is None:
                    conn.execute("INSERT INTO meta (name, value) VALUES (?, ?)", (name, value))
                elif bytes(row[0]) != value:
                    raise BoardStateError("conflict", f"metadata {name!r} already set to another value")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._closed = True
            with self._all_lock:
                conns, self._all = self._all, []
            for c in conns:
                c.close()
