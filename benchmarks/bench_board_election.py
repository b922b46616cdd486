"""Board ingestion with FULL ballot validation (decode, subgroup checks, every proof, codes):
ballots accepted per second on SQLite and PostgreSQL (specs/08-board.md §12).

    .venv/bin/python benchmarks/bench_board_election.py --ballots 200 [--group modp-4096] [--pg-url URL]

The ballots are encrypted first (not timed), then submitted one by one; each is acknowledged only
after its full validation and a durable commit. Prints one JSON line. Not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ceremony, random_ballots  # noqa: E402

from e2evote.batch import encrypt_many  # noqa: E402
from e2evote.board.election import ElectionBoard  # noqa: E402
from e2evote.board.signing import BoardKey  # noqa: E402
from e2evote.board.storage import open_storage  # noqa: E402
from e2evote.groups import group_by_name  # noqa: E402


def run(url: str, ballots: list, ctx) -> float:  # type: ignore[no-untyped-def,type-arg]
    board = ElectionBoard.create(open_storage(url), BoardKey.generate(), ctx, board_id="bench")
    t = time.perf_counter()
    for b in ballots:
        board.submit(b)
    return len(ballots) / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ballots", type=int, default=200)
    ap.add_argument("--group", default="modp-4096")
    ap.add_argument("--pg-url", default=None)
    a = ap.parse_args()
    ctx, _, _ = ceremony(group_by_name(a.group))
    encrypted = [e for e, _ in encrypt_many(ctx, random_ballots(a.ballots))]
    res: dict[str, object] = {"ballots": a.ballots, "group": a.group}
    with tempfile.TemporaryDirectory() as d:
        res["sqlite_ballots_per_s"] = round(run(str(Path(d) / "board.sqlite"), encrypted, ctx), 1)
    if a.pg_url:
        res["postgresql_ballots_per_s"] = round(run(a.pg_url, encrypted, ctx), 1)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
