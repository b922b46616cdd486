"""Memory of the board log's verifier (specs/08-board.md §12.4): what it keeps per logged ballot.

Feeds ``--events`` synthetic events (a setup event, then ballots, every 50th ballot challenged) to
:class:`e2evote.board.verify.LogVerifier` as a stream, as the record verifier does, and reports the
peak RSS of the process against the same process before the log (the events are generated on the fly
and never held), the time, and bytes a ballot. ``--validator`` adds a trivial validator (confirmation
code and replay key are hashes of the ballot), so the replay keys are kept too. Prints one JSON line.

    .venv/bin/python benchmarks/board_memory.py --events 400000 [--validator]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from e2evote.board import BallotInfo, BoardKey, SignedTreeHead  # noqa: E402
from e2evote.board.events import BoardSetup, Event, EventKind  # noqa: E402
from e2evote.board.merkle import frontier_root, leaf_hash, node_hash  # noqa: E402
from e2evote.board.verify import LogVerifier  # noqa: E402

BOARD_ID = "memory-bench"
ELECTION_HASH = hashlib.sha256(b"e2evote board memory benchmark").digest()
CHALLENGE_EVERY = 50


def validator(ballot: bytes) -> BallotInfo:
    """Stand-in: the code is the SHA-256 of the ballot, the replay key a hash of it."""
    h = hashlib.sha256(ballot).digest()
    return BallotInfo(confirmation_code=h, replay_key=hashlib.sha256(b"replay" + h).digest())


def events(n: int, key: BoardKey) -> Iterator[bytes]:
    """The log: setup, then ``n - 1`` ballots (~600-byte payloads), each 50th followed by its
    challenge; deterministic, so two passes see the same bytes."""
    setup = BoardSetup(BOARD_ID, key.public_key, ELECTION_HASH, None)
    yield Event(0, EventKind.SETUP, 1, setup.to_bytes()).to_bytes()
    i = 1
    ballot = 0
    while i < n:
        payload = b"ballot:%d:" % ballot + hashlib.sha256(b"%d" % ballot).digest() * 18
        code = hashlib.sha256(payload).digest()
        yield Event(i, EventKind.BALLOT, 1 + i, payload, code=code).to_bytes()
        i += 1
        ballot += 1
        if ballot % CHALLENGE_EVERY == 0 and i < n:
            yield Event(i, EventKind.CHALLENGE, 1 + i, b"", ref=code).to_bytes()
            i += 1


def signed_head(n: int, key: BoardKey) -> SignedTreeHead:
    frontier: list[bytes] = []
    for i, raw in enumerate(events(n, key)):
        h, index = leaf_hash(raw), i
        while index & 1:
            h = node_hash(frontier.pop(), h)
            index >>= 1
        frontier.append(h)
    return SignedTreeHead.sign(key, BOARD_ID, n, n, frontier_root(frontier))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=int, default=100_000)
    ap.add_argument("--validator", action="store_true")
    args = ap.parse_args()
    key = BoardKey.generate()
    sth = signed_head(args.events, key)
    before = rss_mb()
    t = time.perf_counter()
    lv = LogVerifier(sth, key.public_key, validator=validator if args.validator else None)
    for raw in events(args.events, key):
        lv.add(raw)
    summary = lv.finish()
    counted = sum(1 for _ in summary.counted)
    seconds = time.perf_counter() - t
    grown = rss_mb() - before
    print(
        json.dumps(
            {
                "events": args.events,
                "ballots": summary.ballots,
                "counted": counted,
                "validator": args.validator,
                "seconds": round(seconds, 2),
                "rss_before_mb": round(before, 1),
                "rss_growth_mb": round(grown, 1),
                "bytes_per_ballot": round(grown * 2**20 / summary.ballots),
                "python": platform.python_version(),
            }
        )
    )


if __name__ == "__main__":
    main()
