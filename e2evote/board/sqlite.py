"""SQLite board storage: the embedded default (specs/08-board.md §9.1).

WAL journal, ``synchronous=FULL``: an append returns only after its COMMIT is on disk, so every
acknowledged ballot survives a crash (SIGKILL or power loss). Writers take ``BEGIN IMMEDIATE``, which
serializes appends across threads (plus an in-process lock) and across processes (busy timeout).
Readers use one connection per thread and never block the writer.

The schema and the statements are shared with PostgreSQL (:mod:`e2evote.board.sqlstore`); this module
supplies only what is SQLite's own: types, connections, ``BEGIN IMMEDIATE`` and error translation.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, closing, contextmanager
from typing import Any, ClassVar

from e2evote.board.errors import BoardStateError
from e2evote.board.sqlstore import Cursor, Dialect, SQLStorage

__all__ = ["SQLiteStorage"]

# bind parameters per statement: well below SQLITE_MAX_VARIABLE_NUMBER (999 before SQLite 3.32)
_NODES_PER_QUERY = 500


class SQLiteStorage(SQLStorage[sqlite3.Connection]):
    """Board storage in one SQLite database file (see module docstring)."""

    DIALECT: ClassVar[Dialect] = Dialect(
        param="?",
        blob="BLOB",
        bigint="INTEGER",  # "INTEGER PRIMARY KEY" is the rowid: 64-bit
        boolean="INTEGER",
        false="0",
        seed_head=(
            "INSERT OR IGNORE INTO head (id, size, frontier, ts, phase, sth) VALUES (1, 0, x'', 0, -1, NULL);"
        ),
        lock_head="",  # BEGIN IMMEDIATE already holds the database's write lock
    )

    def __init__(
        self, path: str | os.PathLike[str], *, busy_timeout_s: float = 30.0, create: bool = True
    ) -> None:
        """Open (``create``: or create) the database file at ``path``; a file that cannot be opened as
        a SQLite database (a directory, a missing directory, another kind of file) or, without
        ``create``, a missing file raises :class:`BoardStateError` naming ``path``."""
        self._path = os.fspath(path)
        self._timeout = busy_timeout_s
        if os.path.isdir(self._path):
            raise BoardStateError("corrupt", f"{self._path}: is a directory, not a board database")
        if not create and not os.path.isfile(self._path):
            raise BoardStateError("no_board", f"{self._path}: no such board database")
        try:
            super().__init__()
        except sqlite3.Error as exc:
            self._close_quietly()
            raise BoardStateError(
                "corrupt", f"{self._path}: cannot open as a SQLite board database ({exc})"
            ) from None

    def _close_quietly(self) -> None:
        for conn in getattr(self, "_all", []):
            try:
                conn.close()
            except sqlite3.Error:  # pragma: no cover - closing a broken connection
                pass

    def __repr__(self) -> str:
        return f"SQLiteStorage({self._path!r})"

    def _connect(self, *, writer: bool) -> sqlite3.Connection:
        """An autocommit connection in WAL mode (the writer and readers are configured alike)."""
        conn = sqlite3.connect(
            self._path, timeout=self._timeout, isolation_level=None, check_same_thread=False
        )
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()
        if mode is None or str(mode[0]).lower() != "wal":
            raise BoardStateError("corrupt", f"could not enable WAL on {self._path}")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute(f"PRAGMA busy_timeout={int(self._timeout * 1000)}")
        return conn

    def _create_schema(self, conn: sqlite3.Connection) -> None:
        conn.executescript(self.DIALECT.schema())

    def _cursor(self, conn: sqlite3.Connection) -> AbstractContextManager[Cursor]:
        return closing(conn.cursor())

    @contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[Cursor]:
        cur = conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            cur.close()

    def _translate_error(self, exc: Exception) -> BoardStateError | None:
        if isinstance(exc, sqlite3.IntegrityError):
            return BoardStateError("conflict", f"storage constraint violated: {exc}")
        return None

    def _select_nodes(self, cur: Cursor, keys: list[int]) -> Iterable[Sequence[Any]]:
        rows: list[Sequence[Any]] = []
        for i in range(0, len(keys), _NODES_PER_QUERY):
            chunk = keys[i : i + _NODES_PER_QUERY]
            marks = ",".join("?" * len(chunk))
            cur.execute(f"SELECT k, hash FROM nodes WHERE k IN ({marks})", chunk)  # noqa: S608
            rows += cur.fetchall()
        return rows
