"""Test helper: run a board HTTP server in its own process (for the SIGKILL test).

E2EVOTE_TEST_BOARD_SEED=<hex> python -m tests.board._server DB_PATH PORT
"""

from __future__ import annotations

import os
import sys

from e2evote.board import Board, BoardKey, SQLiteStorage
from e2evote.board.http import serve

from .fakes import fake_validator


def main() -> None:
    db, port = sys.argv[1], int(sys.argv[2])
    key = BoardKey(bytes.fromhex(os.environ["E2EVOTE_TEST_BOARD_SEED"]))
    board = Board(SQLiteStorage(db), key, fake_validator)
    serve(board, "127.0.0.1", port, log_level="warning")


if __name__ == "__main__":
    main()
