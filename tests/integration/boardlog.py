"""Test helpers: read and rewrite the board log of an exported record (ext/board.msgpack and, in
format v2, its event files ext/board/events-NNNNNN.msgpack; specs/08-board.md §12.3)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from e2evote.board.election import (
    BoardExtension,
    decode_board_extension,
    encode_board_extension,
    event_file_name,
    iter_board_events,
)
from e2evote.encoding import pack, unpack


def load_log(d: Path) -> tuple[BoardExtension, list[bytes]]:
    """The extension of record ``d`` and its events (any format)."""
    ext = decode_board_extension(unpack((d / "ext" / "board.msgpack").read_bytes()))
    return ext, list(iter_board_events(ext, d))


def store_log(d: Path, ext: BoardExtension, events: list[bytes], per_file: int | None = None) -> None:
    """Write ``events`` as the log of record ``d`` (not resealed) in ``ext``'s format; v2 files hold
    ``per_file`` events (default: as many as the first file did)."""
    files_dir = d / "ext" / "board"
    if ext.event_files is None:
        ext = dataclasses.replace(ext, events=tuple(events))
    else:
        if per_file is None:
            first = files_dir / event_file_name(0)
            per_file = len(unpack(first.read_bytes())) if first.exists() else 4096
        for f in files_dir.glob("*.msgpack"):
            f.unlink()
        names = []
        for i in range(0, len(events), per_file):
            names.append(event_file_name(len(names)))
            (files_dir / names[-1]).write_bytes(pack(events[i : i + per_file]))
        ext = dataclasses.replace(ext, event_files=tuple(names), event_count=len(events))
    (d / "ext" / "board.msgpack").write_bytes(pack(encode_board_extension(ext)))
