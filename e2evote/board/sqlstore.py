"""The SQL logic shared by the SQLite and PostgreSQL board backends (specs/08-board.md §9).

Both backends keep the same tables (see :mod:`e2evote.board.storage`) and run the same statements, so
the schema, the append transaction and the reads live here once, in :class:`SQLStorage`. What really
differs is supplied by each subclass: the :class:`Dialect` (bind marker ``?`` vs ``%s``, BLOB vs BYTEA,
how the head row is locked), how connections are made and checked, how a write transaction is opened,
and how driver errors map onto :class:`~e2evote.board.errors.BoardStateError`. A fix to the append
logic therefore cannot reach one backend and miss the other.

This module imports no database driver: ``e2evote.board`` must stay importable without psycopg.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Protocol, TypeVar

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

__all__ = ["Connection", "Cursor", "Dialect", "SQLStorage"]

# The schema of both backends; the dialect fills in the type names and the statement seeding the head
# row. Rendered, it must stay byte-for-byte what earlier versions created (SQLite keeps the text).
_SCHEMA = """
CREATE TABLE IF NOT EXISTS head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    size {bigint} NOT NULL,
    frontier {blob} NOT NULL,
    ts {bigint} NOT NULL,
    phase INTEGER NOT NULL,
    sth {blob}
);
CREATE TABLE IF NOT EXISTS events (idx {bigint} PRIMARY KEY, data {blob} NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (k {bigint} PRIMARY KEY, hash {blob} NOT NULL);
CREATE TABLE IF NOT EXISTS sths (size {bigint} PRIMARY KEY, data {blob} NOT NULL);
CREATE TABLE IF NOT EXISTS ballots (
    code {blob} PRIMARY KEY,
    replay_key {blob} NOT NULL UNIQUE,
    idx {bigint} NOT NULL UNIQUE,
    credential {blob},
    receipt {blob} NOT NULL,
    challenged {boolean} NOT NULL DEFAULT {false}
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value {blob} NOT NULL);
{seed_head}
"""

# Statements in sqlite3's "?" style; Dialect.sql() turns them into the backend's.
_HEAD = "SELECT size, frontier, ts, phase, sth FROM head WHERE id = 1"
_HEAD_ROW = "SELECT 1 FROM head WHERE id = 1"
_SELECT_BALLOT = "SELECT code, replay_key, idx, credential, receipt, challenged FROM ballots WHERE "
_SELECT_BY_CODE = _SELECT_BALLOT + "code = ?"
_SELECT_BY_REPLAY = _SELECT_BALLOT + "replay_key = ?"
_INSERT_BALLOT = (
    "INSERT INTO ballots (code, replay_key, idx, credential, receipt, challenged) VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_EVENT = "INSERT INTO events (idx, data) VALUES (?, ?)"
_INSERT_NODE = "INSERT INTO nodes (k, hash) VALUES (?, ?)"
_UPDATE_HEAD = "UPDATE head SET size = ?, frontier = ?, ts = ?, phase = ?, sth = ? WHERE id = 1"
_REFRESH_HEAD = "UPDATE head SET ts = ?, sth = ? WHERE id = 1 AND size = ?"
_INSERT_STH = "INSERT INTO sths (size, data) VALUES (?, ?)"
_MARK_CHALLENGED = "UPDATE ballots SET challenged = ? WHERE code = ? AND challenged = ?"
_SELECT_EVENTS = "SELECT data FROM events WHERE idx >= ? AND idx < ? ORDER BY idx"
_SELECT_STH = "SELECT data FROM sths WHERE size = ?"
_SELECT_META = "SELECT value FROM meta WHERE name = ?"
_INSERT_META = "INSERT INTO meta (name, value) VALUES (?, ?)"


class Cursor(Protocol):
    """The DB-API cursor subset the shared code uses (``sqlite3.Cursor`` and psycopg's both fit)."""

    @property
    def rowcount(self) -> int: ...

    def execute(self, query: str, params: Sequence[Any] = ..., /) -> object: ...

    def executemany(self, query: str, params_seq: Iterable[Sequence[Any]], /) -> object: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    """What the shared code does with a connection itself: close it (the rest is dialect-specific)."""

    def close(self) -> None: ...


ConnT = TypeVar("ConnT", bound=Connection)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Dialect:
    """The SQL text that differs between the backends.

    ``param`` is the driver's bind marker; ``blob``, ``bigint``, ``boolean`` and ``false`` are column
    types and the ``challenged`` default; ``seed_head`` inserts the empty head row unless present;
    ``lock_head`` is appended to the head query inside a write transaction (``" FOR UPDATE"`` where the
    transaction does not lock by itself, ``""`` where it already holds the database's write lock).
    """

    param: str
    blob: str
    bigint: str
    boolean: str
    false: str
    seed_head: str
    lock_head: str

    def sql(self, query: str) -> str:
        """``query``, written with ``?`` markers (no statement holds a literal ``?``), for this driver."""
        return query if self.param == "?" else query.replace("?", self.param)

    def schema(self) -> str:
        """The ``CREATE TABLE IF NOT EXISTS`` script, idempotent so every open may run it."""
        return _SCHEMA.format(
            bigint=self.bigint,
            blob=self.blob,
            boolean=self.boolean,
            false=self.false,
            seed_head=self.seed_head,
        )


def _select_events(cur: Cursor, query: str, start: int, stop: int) -> list[bytes]:
    cur.execute(query, (start, stop))
    return [bytes(r[0]) for r in cur.fetchall()]


def _select_ballot(cur: Cursor, query: str, key: bytes) -> BallotRow | None:
    cur.execute(query, (key,))
    row = cur.fetchone()
    if row is None:
        return None
    code, replay_key, idx, credential, receipt, challenged = row
    return BallotRow(
        bytes(code),
        bytes(replay_key),
        int(idx),
        None if credential is None else bytes(credential),
        bytes(receipt),
        bool(challenged),  # SQLite keeps 0/1, PostgreSQL a BOOLEAN
    )


def _read_head(cur: Cursor, query: str) -> HeadState:
    cur.execute(query)
    row = cur.fetchone()
    if row is None:
        return EMPTY_HEAD
    size, frontier, ts, phase, sth = row
    return HeadState(
        int(size), unpack_frontier(bytes(frontier)), int(ts), int(phase), None if sth is None else bytes(sth)
    )


class _Tx:
    """The :class:`WriteTx` handed to ``prepare``: reads go through the write transaction's cursor."""

    __slots__ = ("_cur", "_dialect", "_head")

    def __init__(self, cur: Cursor, dialect: Dialect, head: HeadState) -> None:
        self._cur = cur
        self._dialect = dialect
        self._head = head

    @property
    def head(self) -> HeadState:
        return self._head

    def ballot_by_code(self, code: bytes) -> BallotRow | None:
        return _select_ballot(self._cur, self._dialect.sql(_SELECT_BY_CODE), code)

    def ballot_by_replay_key(self, replay_key: bytes) -> BallotRow | None:
        return _select_ballot(self._cur, self._dialect.sql(_SELECT_BY_REPLAY), replay_key)

    def events(self, start: int, stop: int) -> list[bytes]:
        return _select_events(self._cur, self._dialect.sql(_SELECT_EVENTS), start, stop)


class SQLStorage(ABC, Generic[ConnT]):
    """A :class:`~e2evote.board.storage.Storage` over an SQL database (see module docstring).

    One writer connection, used under an in-process lock (appends of this object are serialized before
    they reach the database, which serializes them across processes); one reader connection per thread,
    so reads never wait for the writer. Subclasses set :attr:`DIALECT` and their connection parameters,
    then call ``super().__init__()``, which opens the writer and creates the schema.
    """

    DIALECT: ClassVar[Dialect]

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()
        self._all: list[ConnT] = []
        self._all_lock = threading.Lock()
        self._closed = False
        self._writer = self._open(writer=True)
        self._create_schema(self._writer)

    # -- supplied by each backend ---------------------------------------------------------------------

    @abstractmethod
    def _connect(self, *, writer: bool) -> ConnT:
        """A new, configured connection: the writer (used in explicit transactions) or a reader."""

    @abstractmethod
    def _create_schema(self, conn: ConnT) -> None:
        """Run ``DIALECT.schema()`` on the writer, safe against other processes opening the database."""

    @abstractmethod
    def _cursor(self, conn: ConnT) -> AbstractContextManager[Cursor]:
        """A cursor for reads outside a transaction, closed on exit."""

    @abstractmethod
    def _transaction(self, conn: ConnT) -> AbstractContextManager[Cursor]:
        """A cursor inside a write transaction: COMMIT on normal exit, ROLLBACK if the body raises."""

    @abstractmethod
    def _translate_error(self, exc: Exception) -> BoardStateError | None:
        """The :class:`BoardStateError` a driver error raised by an append stands for (None: re-raise)."""

    @abstractmethod
    def _select_nodes(self, cur: Cursor, keys: list[int]) -> Iterable[Sequence[Any]]:
        """``(k, hash)`` rows of ``nodes`` for the packed ``keys`` (missing ones are left out)."""

    def _usable(self, conn: ConnT) -> bool:
        """Whether a cached connection can still be used (False: open a new one in its place)."""
        return True

    # -- connections ----------------------------------------------------------------------------------

    def _open(self, *, writer: bool) -> ConnT:
        conn = self._connect(writer=writer)
        with self._all_lock:
            self._all.append(conn)  # so that close() reaches every thread's reader too
        return conn

    def _reader(self) -> ConnT:
        if self._closed:
            raise BoardStateError("closed", "storage is closed")
        conn: ConnT | None = getattr(self._local, "conn", None)
        if conn is None or not self._usable(conn):
            conn = self._open(writer=False)
            self._local.conn = conn
        return conn

    def _get_writer(self) -> ConnT:
        if not self._usable(self._writer):
            self._writer = self._open(writer=True)
        return self._writer

    def _read_one(self, query: str, params: Sequence[Any]) -> Any:
        with self._cursor(self._reader()) as cur:
            cur.execute(self.DIALECT.sql(query), params)
            return cur.fetchone()

    # -- Storage --------------------------------------------------------------------------------------

    def read_head(self) -> HeadState:
        with self._cursor(self._reader()) as cur:
            return _read_head(cur, _HEAD)

    def _in_write_tx(self, body: Callable[[Cursor], T]) -> T:
        """Run ``body`` in one write transaction of the writer (serialized in-process by the lock)."""
        with self._lock:
            if self._closed:
                raise BoardStateError("closed", "storage is closed")
            conn = self._get_writer()
            try:
                with self._transaction(conn) as cur:
                    return body(cur)
            except Exception as exc:
                error = self._translate_error(exc)
                if error is None:
                    raise
                raise error from None

    def append(self, prepare: Callable[[WriteTx], PreparedAppend]) -> PreparedAppend:
        return self._in_write_tx(lambda cur: self._write(cur, prepare))

    def _write(self, cur: Cursor, prepare: Callable[[WriteTx], PreparedAppend]) -> PreparedAppend:
        """The body of :meth:`append`, inside the write transaction (the head row is locked)."""
        d = self.DIALECT
        old = _read_head(cur, _HEAD + d.lock_head)
        prepared = prepare(_Tx(cur, d, old))
        new = prepared.head
        if new.size != old.size + 1:
            raise BoardStateError("corrupt", "an append must add exactly one event")
        cur.execute(d.sql(_INSERT_EVENT), (old.size, prepared.event))
        cur.executemany(d.sql(_INSERT_NODE), [(node_key(k), h) for k, h in prepared.nodes])
        cur.execute(
            d.sql(_UPDATE_HEAD), (new.size, pack_frontier(new.frontier), new.timestamp_ms, new.phase, new.sth)
        )
        if new.sth is not None:
            cur.execute(d.sql(_INSERT_STH), (new.size, new.sth))
        b = prepared.ballot
        if b is not None:
            cur.execute(
                d.sql(_INSERT_BALLOT), (b.code, b.replay_key, b.index, b.credential, b.receipt, b.challenged)
            )
        if prepared.challenge_of is not None:
            cur.execute(d.sql(_MARK_CHALLENGED), (True, prepared.challenge_of, False))
            if cur.rowcount != 1:
                raise BoardStateError("corrupt", "challenged ballot vanished")
        return prepared

    def refresh(self, prepare: Callable[[HeadState], HeadState | None]) -> HeadState:
        return self._in_write_tx(lambda cur: self._write_refresh(cur, prepare))

    def _write_refresh(self, cur: Cursor, prepare: Callable[[HeadState], HeadState | None]) -> HeadState:
        """The body of :meth:`refresh`: only the head row's timestamp and latest STH may change."""
        d = self.DIALECT
        old = _read_head(cur, _HEAD + d.lock_head)
        new = prepare(old)
        if new is None:
            return old
        if (new.size, new.frontier, new.phase) != (old.size, old.frontier, old.phase) or new.sth is None:
            raise BoardStateError("corrupt", "a refresh may only change the timestamp and the tree head")
        if new.timestamp_ms < old.timestamp_ms:
            raise BoardStateError("corrupt", "a refresh may not move the head's timestamp backwards")
        cur.execute(d.sql(_REFRESH_HEAD), (new.timestamp_ms, new.sth, old.size))
        if cur.rowcount != 1:
            raise BoardStateError("corrupt", "head row vanished")
        return new

    def events(self, start: int, stop: int) -> list[bytes]:
        with self._cursor(self._reader()) as cur:
            return _select_events(cur, self.DIALECT.sql(_SELECT_EVENTS), start, stop)

    def get_nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]:
        ks = [node_key(k) for k in keys]
        with self._cursor(self._reader()) as cur:
            return {split_node_key(int(k)): bytes(h) for k, h in self._select_nodes(cur, ks)}

    def ballot_by_code(self, code: bytes) -> BallotRow | None:
        with self._cursor(self._reader()) as cur:
            return _select_ballot(cur, self.DIALECT.sql(_SELECT_BY_CODE), code)

    def get_sth(self, size: int) -> bytes | None:
        row = self._read_one(_SELECT_STH, (size,))
        return None if row is None else bytes(row[0])

    def get_meta(self, name: str) -> bytes | None:
        row = self._read_one(_SELECT_META, (name,))
        return None if row is None else bytes(row[0])

    def put_meta(self, name: str, value: bytes) -> None:
        d = self.DIALECT
        with self._lock:
            conn = self._get_writer()
            with self._transaction(conn) as cur:
                if d.lock_head:  # serialize with appends where the transaction does not lock by itself
                    cur.execute(_HEAD_ROW + d.lock_head)
                cur.execute(d.sql(_SELECT_META), (name,))
                row = cur.fetchone()
                if row is None:
                    cur.execute(d.sql(_INSERT_META), (name, value))
                elif bytes(row[0]) != value:
                    raise BoardStateError("conflict", f"metadata {name!r} already set to another value")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            with self._all_lock:
                conns, self._all = self._all, []
            for c in conns:
                c.close()
