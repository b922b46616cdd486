"""The storage interface shared by the SQLite and PostgreSQL backends (specs/08-board.md §9).

Storage is deliberately dumb: it keeps bytes. The board computes events, Merkle nodes and signatures
inside :meth:`Storage.append`'s write transaction (a callback), so that appends are serialized across
threads *and* processes, and an append is durable when ``append`` returns (after COMMIT).

Tables (both backends, created and written by the shared code in :mod:`e2evote.board.sqlstore`):

* ``head``: one row ``(size, frontier, timestamp_ms, phase, sth)`` — the compact range of the tree and
  the latest STH (an append's, or a later freshness STH of the same size, :meth:`Storage.refresh`);
* ``events(idx, data)``: canonical event bytes;
* ``nodes(k, hash)``: every complete perfect subtree, ``k = level << 56 | index``;
* ``sths(size, data)``: the signed tree head produced by each append;
* ``ballots(code, replay_key, idx, credential, receipt, challenged)``: the ballot index;
* ``meta(name, value)``: e.g. the credential list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, TypeVar

from e2evote.board.merkle import HASH_SIZE, NodeKey
from e2evote.errors import EncodingError

__all__ = [
    "HeadState",
    "BallotRow",
    "PreparedAppend",
    "WriteTx",
    "Storage",
    "node_key",
    "split_node_key",
    "pack_frontier",
    "unpack_frontier",
    "open_storage",
]

T = TypeVar("T")

_LEVEL_SHIFT: Final = 56


def node_key(key: NodeKey) -> int:
    """``(level, index)`` as one signed-64-bit-safe integer."""
    level, index = key
    if not 0 <= level < 64 or not 0 <= index < 1 << _LEVEL_SHIFT:
        raise ValueError(f"node key {key} out of range")
    return (level << _LEVEL_SHIFT) | index


def split_node_key(k: int) -> NodeKey:
    """Inverse of :func:`node_key`."""
    return k >> _LEVEL_SHIFT, k & ((1 << _LEVEL_SHIFT) - 1)


def pack_frontier(frontier: Sequence[bytes]) -> bytes:
    """Concatenate the frontier hashes."""
    return b"".join(frontier)


def unpack_frontier(blob: bytes) -> tuple[bytes, ...]:
    """Inverse of :func:`pack_frontier`."""
    if len(blob) % HASH_SIZE:
        raise EncodingError("stored frontier is corrupt")
    return tuple(bytes(blob[i : i + HASH_SIZE]) for i in range(0, len(blob), HASH_SIZE))


@dataclass(frozen=True, slots=True)
class HeadState:
    """The tree head as stored: size, compact range, last timestamp, phase, encoded STH."""

    size: int
    frontier: tuple[bytes, ...]
    timestamp_ms: int
    phase: int
    sth: bytes | None

    def __post_init__(self) -> None:
        if len(self.frontier) != bin(self.size).count("1"):
            raise EncodingError("stored frontier does not match the stored tree size")


EMPTY_HEAD: Final = HeadState(0, (), 0, -1, None)


@dataclass(frozen=True, slots=True)
class BallotRow:
    """The ballot index entry of one accepted ballot."""

    code: bytes
    replay_key: bytes
    index: int
    credential: bytes | None
    receipt: bytes
    challenged: bool


@dataclass(frozen=True, slots=True)
class PreparedAppend:
    """Everything one append writes, computed by the board inside the write transaction."""

    event: bytes
    nodes: tuple[tuple[NodeKey, bytes], ...]
    head: HeadState
    ballot: BallotRow | None = None
    challenge_of: bytes | None = None

    def __repr__(self) -> str:
        return f"PreparedAppend(index={self.head.size - 1}, event=<{len(self.event)} bytes>)"


class WriteTx(Protocol):
    """The view a board has inside a write transaction (the head row is locked)."""

    @property
    def head(self) -> HeadState: ...

    def ballot_by_code(self, code: bytes) -> BallotRow | None: ...

    def ballot_by_replay_key(self, replay_key: bytes) -> BallotRow | None: ...

    def events(self, start: int, stop: int) -> list[bytes]:
        """Encoded events ``start <= index < stop`` (``stop`` at most the locked head's size), as this
        transaction sees them: everything any process committed before the head row was locked."""
        ...


class Storage(Protocol):
    """A board storage backend (specs/08-board.md §9)."""

    def read_head(self) -> HeadState: ...

    def append(self, prepare: Callable[[WriteTx], PreparedAppend]) -> PreparedAppend:
        """Lock the head, call ``prepare``, write its result and COMMIT; return it.

        If ``prepare`` raises, nothing is written and the exception propagates.
        """
        ...

    def refresh(self, prepare: Callable[[HeadState], HeadState | None]) -> HeadState:
        """Lock the head, call ``prepare`` on it and store the head it returns; return the stored head.

        For freshness STHs (specs/08-board.md §4.1): the new head must keep the size, frontier and
        phase and only change the timestamp and the latest STH; the ``sths`` table (one STH per size,
        the append's) is not touched. ``prepare`` returning ``None`` writes nothing.
        """
        ...

    def events(self, start: int, stop: int) -> list[bytes]:
        """Event bytes for indices ``start <= i < stop`` (stops early at the end of the log)."""
        ...

    def get_nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]: ...

    def ballot_by_code(self, code: bytes) -> BallotRow | None: ...

    def get_sth(self, size: int) -> bytes | None: ...

    def get_meta(self, name: str) -> bytes | None: ...

    def put_meta(self, name: str, value: bytes) -> None:
        """Insert a metadata value once (a second put of a different value is an error)."""
        ...

    def close(self) -> None: ...


def open_storage(url: str, *, create: bool = True) -> Storage:
    """Open a backend from a URL: ``sqlite:///abs/path``, a bare path, or ``postgresql://…`` (§9).

    Any other ``scheme://`` is refused (:class:`ValueError`). ``create=False``: a SQLite file that does
    not exist is an error (:class:`~e2evote.board.errors.BoardStateError` ``no_board``) instead of a
    new, empty database.
    """
    if url.startswith(("postgresql://", "postgres://")):
        from e2evote.board.postgres import PostgresStorage

        return PostgresStorage(url)
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", url)
    if scheme is not None and scheme.group(1).lower() != "sqlite":
        raise ValueError(
            f"unsupported storage URL scheme {scheme.group(1)!r} (use sqlite:///path, a file path or postgresql://…)"
        )
    # "sqlite:///abs/path.db" -> "/abs/path.db"; "sqlite://rel.db" -> "rel.db"; anything else is a path.
    url = url.removeprefix("sqlite://")
    from e2evote.board.sqlite import SQLiteStorage

    return SQLiteStorage(url, create=create)
