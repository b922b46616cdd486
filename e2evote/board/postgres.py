"""PostgreSQL board storage via psycopg 3 (specs/08-board.md §9.2).

Appends lock the single ``head`` row (``SELECT … FOR UPDATE``), so several board processes may share
one database; ``append`` returns after COMMIT (``synchronous_commit`` as configured on the server,
``on`` by default). ``schema`` puts the tables in their own schema (used by the test-suite).

The schema and the statements are shared with SQLite (:mod:`e2evote.board.sqlstore`); this module
supplies only what is PostgreSQL's own: types, connections, row locks and error translation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, ClassVar

import psycopg

from e2evote.board.errors import BoardStateError
from e2evote.board.sqlstore import Cursor, Dialect, SQLStorage

__all__ = ["PostgresStorage", "drop_schema"]

_INIT_LOCK_ID = 0x45325645_424F4152  # "E2VE" "BOAR"
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class PostgresStorage(SQLStorage["psycopg.Connection[Any]"]):
    """Board storage in a PostgreSQL database (see module docstring)."""

    DIALECT: ClassVar[Dialect] = Dialect(
        param="%s",
        blob="BYTEA",
        bigint="BIGINT",
        boolean="BOOLEAN",
        false="FALSE",
        seed_head=(
            "INSERT INTO head (id, size, frontier, ts, phase, sth) VALUES (1, 0, '\\x', 0, -1, NULL)\n"
            "    ON CONFLICT DO NOTHING;"
        ),
        lock_head=" FOR UPDATE",  # writers serialize on the head row, across processes
    )

    def __init__(self, url: str, *, schema: str | None = None, connect_timeout_s: int = 10) -> None:
        if schema is not None and not _SCHEMA_NAME.fullmatch(schema):
            raise ValueError(f"schema name {schema!r} must match {_SCHEMA_NAME.pattern}")
        self._url = url
        self._schema = schema
        self._timeout = connect_timeout_s
        super().__init__()

    def __repr__(self) -> str:
        # the URL may carry a password: never show it
        return f"PostgresStorage(schema={self._schema!r})"

    def _connect(self, *, writer: bool) -> psycopg.Connection[Any]:
        """A connection on ``schema``: the writer in transaction mode, readers in autocommit."""
        try:
            conn = psycopg.connect(self._url, autocommit=True, connect_timeout=self._timeout)
        except psycopg.Error as exc:
            raise BoardStateError(
                "unavailable", f"cannot connect to PostgreSQL ({type(exc).__name__})"
            ) from None
        if self._schema is not None:
            if writer:  # the writer (created first) makes the schema; readers only use it
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self._schema}"')
            conn.execute(f'SET search_path TO "{self._schema}"')
        conn.autocommit = not writer
        return conn

    def _usable(self, conn: psycopg.Connection[Any]) -> bool:
        return not (conn.broken or conn.closed)  # a dropped connection is replaced, not retried

    def _create_schema(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_INIT_LOCK_ID,))  # concurrent openers
            conn.execute(self.DIALECT.schema())

    def _cursor(self, conn: psycopg.Connection[Any]) -> AbstractContextManager[Cursor]:
        return conn.cursor()

    @contextmanager
    def _transaction(self, conn: psycopg.Connection[Any]) -> Iterator[Cursor]:
        with conn.transaction(), conn.cursor() as cur:
            yield cur

    def _translate_error(self, exc: Exception) -> BoardStateError | None:
        if isinstance(exc, psycopg.errors.IntegrityError):
            return BoardStateError("conflict", f"storage constraint violated: {exc.sqlstate}")
        if isinstance(exc, psycopg.OperationalError):
            return BoardStateError("unavailable", f"PostgreSQL error ({type(exc).__name__})")
        return None

    def _select_nodes(self, cur: Cursor, keys: list[int]) -> Iterable[Sequence[Any]]:
        cur.execute("SELECT k, hash FROM nodes WHERE k = ANY(%s)", (keys,))
        return cur.fetchall()


def drop_schema(url: str, schema: str) -> None:
    """Drop ``schema`` and everything in it (used by the test-suite to clean up)."""
    if not _SCHEMA_NAME.fullmatch(schema):
        raise ValueError(f"schema name {schema!r} must match {_SCHEMA_NAME.pattern}")
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
