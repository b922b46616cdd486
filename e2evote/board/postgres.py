"""PostgreSQL board storage via psycopg 3 (specs/08-board.md §9.2).

Appends lock the single ``head`` row (``SELECT … FOR UPDATE``), so several board processes may share
one database; ``append`` returns after COMMIT (``synchronous_commit`` as configured on the server,
``on`` by default). ``schema`` puts the tables in their own schema (used by the test-suite).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import psycopg

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

__all__ = ["PostgresStorage", "drop_schema"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size BIGINT NOT NULL,
    frontier BYTEA NOT NULL,
    ts BIGINT NOT NULL,
    phase INTEGER NOT NULL,
    sth BYTEA
);
CREATE TABLE IF NOT EXISTS events (idx BIGINT PRIMARY KEY, data BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (k BIGINT PRIMARY KEY, hash BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS sths (size BIGINT PRIMARY KEY, data BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS ballots (
    code BYTEA PRIMARY KEY,
    replay_key BYTEA NOT NULL UNIQUE,
    idx BIGINT NOT NULL UNIQUE,
    credential BYTEA,
    receipt BYTEA NOT NULL,
    challenged BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BYTEA NOT NULL);
INSERT INTO head (id, size, frontier, ts, phase, sth) VALUES (1, 0, '\\x', 0, -1, NULL)
    ON CONFLICT DO NOTHING;
"""

_SELECT_BY_CODE = "SELECT code, replay_key, idx, credential, receipt, challenged FROM ballots WHERE code = %s"
_SELECT_BY_REPLAY = (
    "SELECT code, replay_key, idx, credential, receipt, challenged FROM ballots WHERE replay_key = %s"
)
_INSERT_BALLOT = (
    "INSERT INTO ballots (code, replay_key, idx, credential, receipt, challenged)"
    " VALUES (%s, %s, %s, %s, %s, %s)"
)
_INIT_LOCK_ID = 0x45325645_424F4152  # "E2VE" "BOAR"
_HEAD = "SELECT size, frontier, ts, phase, sth FROM head WHERE id = 1"
_HEAD_FOR_UPDATE = _HEAD + " FOR UPDATE"
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _row_to_ballot(row: tuple[Any, ...] | None) -> BallotRow | None:
    if row is None:
        return None
    code, replay_key, idx, credential, receipt, challenged = row
    return BallotRow(
        bytes(code),
        bytes(replay_key),
        int(idx),
        None if credential is None else bytes(credential),
        bytes(receipt),
        bool(challenged),
    )


def _read_head(cur: psycopg.Cursor[Any], *, lock: bool) -> HeadState:
    row = cur.execute(_HEAD_FOR_UPDATE if lock else _HEAD).fetchone()
    if row is None:
        return EMPTY_HEAD
    size, frontier, ts, phase, sth = row
    return HeadState(
        int(size), unpack_frontier(bytes(frontier)), int(ts), int(phase), None if sth is None else bytes(sth)
    )


class _Tx:
    __slots__ = ("_cur", "_head")

    def __init__(self, cur: psycopg.Cursor[Any], head: HeadState) -> None:
        self._cur = cur
        self._head = head

    @property
    def head(self) -> HeadState:
        return self._head

    def ballot_by_code(self, code: bytes) -> BallotRow | None:
        q = _SELECT_BY_CODE
        return _row_to_ballot(self._cur.execute(q, (code,)).fetchone())

    def ballot_by_replay_key(self, replay_key: bytes) -> BallotRow | None:
        q = _SELECT_BY_REPLAY
        return _row_to_ballot(self._cur.execute(q, (replay_key,)).fetchone())


class PostgresStorage:
    """Board storage in a PostgreSQL database (see module docstring)."""

    def __init__(self, url: str, *, schema: str | None = None, connect_timeout_s: int = 10) -> None:
        if schema is not None and not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError(f"schema name {schema!r} must match {_SCHEMA_NAME.pattern}")
        self._url = url
        self._schema = schema
        self._timeout = connect_timeout_s
        self._lock = threading.Lock()
        self._local = threading.local()
        self._all: list[psycopg.Connection[Any]] = []
        self._all_lock = threading.Lock()
        self._closed = False
        self._writer = self._connect(autocommit=False)
        with self._writer.transaction():
            self._writer.execute("SELECT pg_advisory_xact_lock(%s)", (_INIT_LOCK_ID,))  # concurrent openers
            self._writer.execute(_SCHEMA)

    def __repr__(self) -> str:
        # the URL may carry a password: never show it
        return f"PostgresStorage(schema={self._schema!r})"

    def _connect(self, *, autocommit: bool) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(self._url, autocommit=True, connect_timeout=self._timeout)
        except psycopg.Error as exc:
            raise BoardStateError(
                "unavailable", f"cannot connect to PostgreSQL ({type(exc).__name__})"
            ) from None
        if self._schema is not None:
            if not autocommit:  # the writer (created first) makes the schema; readers only use it
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"')
            conn.execute(f'SET search_path TO "{self._schema}"')
        conn.autocommit = autocommit
        with self._all_lock:
            self._all.append(conn)
        return conn

    def _reader(self) -> psycopg.Connection[Any]:
        if self._closed:
            raise BoardStateError("closed", "storage is closed")
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is None or conn.broken or conn.closed:
            conn = self._connect(autocommit=True)
            self._local.conn = conn
        return conn

    def _get_writer(self) -> psycopg.Connection[Any]:
        if self._writer.broken or self._writer.closed:
            self._writer = self._connect(autocommit=False)
        return self._writer

    def read_head(self) -> HeadState:
        with self._reader().cursor() as cur:
            return _read_head(cur, lock=False)

    def append(self, prepare: Callable[[WriteTx], PreparedAppend]) -> PreparedAppend:
        with self._lock:
            if self._closed:
                raise BoardStateError("closed", "storage is closed")
            conn = self._get_writer()
            try:
                with conn.transaction(), conn.cursor() as cur:
                    old = _read_head(cur, lock=True)
                    prepared = prepare(_Tx(cur, old))
                    new = prepared.head
                    if new.size != old.size + 1:
                        raise BoardStateError("corrupt", "an append must add exactly one event")
                    cur.execute("INSERT INTO events (idx, data) VALUES (%s, %s)", (old.size, prepared.event))
                    cur.executemany(
                        "INSERT INTO nodes (k, hash) VALUES (%s, %s)",
                        [(node_key(k), h) for k, h in prepared.nodes],
                    )
                    cur.execute(
                        "UPDATE head SET size = %s, frontier = %s, ts = %s, phase = %s, sth = %s"
                        " WHERE id = 1",
                        (new.size, pack_frontier(new.frontier), new.timestamp_ms, new.phase, new.sth),
                    )
                    if new.sth is not None:
                        cur.execute("INSERT INTO sths (size, data) VALUES (%s, %s)", (new.size, new.sth))
                    b = prepared.ballot
                    if b is not None:
                        cur.execute(
                            _INSERT_BALLOT,
                            (b.code, b.replay_key, b.index, b.credential, b.receipt, b.challenged),
                        )
                    if prepared.challenge_of is not None:
                        cur.execute(
                            "UPDATE ballots SET challenged = TRUE WHERE code = %s AND NOT challenged",
                            (prepared.challenge_of,),
                        )
                        if cur.rowcount != 1:
                            raise BoardStateError("corrupt", "challenged ballot vanished")
            except psycopg.errors.IntegrityError as exc:
                raise BoardStateError("conflict", f"storage constraint violated: {exc.sqlstate}") from None
            except psycopg.OperationalError as exc:
                raise BoardStateError("unavailable", f"PostgreSQL error ({type(exc).__name__})") from None
            return prepared

    def events(self, start: int, stop: int) -> list[bytes]:
        with self._reader().cursor() as cur:
            rows = cur.execute(
                "SELECT data FROM events WHERE idx >= %s AND idx < %s ORDER BY idx", (start, stop)
            ).fetchall()
        return [bytes(r[0]) for r in rows]

    def get_nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        ks = [node_key(k) for k in keys]
        with self._reader().cursor() as cur:
            rows = cur.execute("SELECT k, hash FROM nodes WHERE k = ANY(%s)", (ks,)).fetchall()
        return {split_node_key(int(k)): bytes(h) for k, h in rows}

    def ballot_by_code(self, code: bytes) -> BallotRow | None:
        with self._reader().cursor() as cur:
            return _Tx(cur, EMPTY_HEAD).ballot_by_code(code)

    def get_sth(self, size: int) -> bytes | None:
        with self._reader().cursor() as cur:
            row = cur.execute("SELECT data FROM sths WHERE size = %s", (size,)).fetchone()
        return None if row is None else bytes(row[0])

    def get_meta(self, name: str) -> bytes | None:
        with self._reader().cursor() as cur:
            row = cur.execute("SELECT value FROM meta WHERE name = %s", (name,)).fetchone()
        return None if row is None else bytes(row[0])

    def put_meta(self, name: str, value: bytes) -> None:
        with self._lock:
            conn = self._get_writer()
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("SELECT 1 FROM head WHERE id = 1 FOR UPDATE")
                row = cur.execute("SELECT value FROM meta WHERE name = %s", (name,)).fetchone()
                if row is None:
                    cur.execute("INSERT INTO meta (name, value) VALUES (%s, %s)", (name, value))
                elif bytes(row[0]) != value:
                    raise BoardStateError("conflict", f"metadata {name!r} already set to another value")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            with self._all_lock:
                conns, self._all = self._all, []
            for c in conns:
                c.close()


def drop_schema(url: str, schema: str) -> None:
    """Drop ``schema`` and everything in it (used by the test-suite to clean up)."""
    if not _SCHEMA_NAME.fullmatch(schema):
        raise ValueError(f"schema name {schema!r} must match {_SCHEMA_NAME.pattern}")
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
