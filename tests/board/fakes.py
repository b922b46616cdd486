"""Test fixtures only: a stand-in ballot validator and election constants.

The real validator (ballot proofs, confirmation code per EG 2.0 eq. 58-59) is injected by the
protocol layer; the board must work without it.
"""

from __future__ import annotations

import hashlib

from e2evote.board import BallotInfo
from e2evote.errors import BallotError

ELECTION_HASH = hashlib.sha256(b"e2evote test election").digest()
BOARD_ID = "test-board"


def fake_validator(ballot: bytes) -> BallotInfo:
    """FAKE: accepts ``b"ballot:<body>[#<suffix>]"``.

    * replay key = SHA-256 of the part before ``#`` (models "same ciphertexts, different wrapper");
    * confirmation code = SHA-256 of the whole ballot, except ``ballot:collide…`` ballots, which all
      share one code (to exercise confirmation-code collisions).
    """
    if not ballot.startswith(b"ballot:"):
        raise BallotError("fake validator: not a fake ballot")
    body = ballot.split(b"#", 1)[0]
    if ballot.startswith(b"ballot:collide"):
        code = hashlib.sha256(b"collide").digest()
    else:
        code = hashlib.sha256(b"code:" + ballot).digest()
    return BallotInfo(confirmation_code=code, replay_key=hashlib.sha256(b"replay:" + body).digest())
