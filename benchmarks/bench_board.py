"""Board ingestion benchmark: ballots accepted per second (specs/08-board.md §9).

Measures :meth:`e2evote.board.Board.submit` end to end — validation (injected), credential check,
one durable transaction per ballot (SQLite WAL + synchronous=FULL, or PostgreSQL), STH and receipt
signatures — with 1 and N client threads. Prints one JSON document.

    .venv/bin/python benchmarks/bench_board.py [--ballots 2000] [--threads 8] [--credentials]
        [--pg-url postgresql://…] [--validator package.module:function] [--ballot-bytes 2048]

``--validator`` plugs in a real ``validate(ballot: bytes) -> BallotInfo``; it is then fed
``--ballot-file`` payloads if given (one msgpack ``bin`` per ballot, e.g. from the protocol
module), else random bytes (which a real validator will refuse). Without ``--pg-url`` the
``E2EVOTE_TEST_PG_URL`` environment variable is used; with neither, PostgreSQL is skipped.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import platform
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from e2evote.board import (  # noqa: E402
    BallotInfo,
    BallotSubmission,
    Board,
    BoardKey,
    SQLiteStorage,
    Storage,
    issue_credentials,
)

ELECTION_HASH = hashlib.sha256(b"e2evote board benchmark").digest()


def trivial_validator(ballot: bytes) -> BallotInfo:
    """Stand-in validator: the confirmation code and replay key are hashes of the ballot."""
    h = hashlib.sha256(ballot).digest()
    return BallotInfo(confirmation_code=h, replay_key=hashlib.sha256(b"replay" + h).digest())


def load_validator(spec: str | None) -> Callable[[bytes], BallotInfo]:
    if spec is None:
        return trivial_validator
    module, _, name = spec.partition(":")
    fn = getattr(importlib.import_module(module), name)
    if not callable(fn):
        raise SystemExit(f"{spec} is not callable")
    return fn  # type: ignore[no-any-return]


def make_ballots(n: int, size: int, ballot_file: str | None) -> list[bytes]:
    if ballot_file is None:
        return [i.to_bytes(8, "big") + os.urandom(max(size - 8, 0)) for i in range(n)]
    import msgpack  # type: ignore[import-untyped]

    out: list[bytes] = []
    with open(ballot_file, "rb") as fh:
        for obj in msgpack.Unpacker(fh, raw=False):
            out.append(bytes(obj))
            if len(out) == n:
                break
    return out


def run_one(
    make_storage: Callable[[], Storage],
    validator: Callable[[bytes], BallotInfo],
    ballots: list[bytes],
    threads: int,
    credentials: bool,
) -> dict[str, Any]:
    key = BoardKey.generate()
    creds, clist = issue_credentials(len(ballots)) if credentials else ([], None)
    Board.create(
        make_storage(), key, validator, board_id="bench", election_hash=ELECTION_HASH, credentials=clist
    )
    subs = [
        creds[i].sign_ballot(ELECTION_HASH, b) if credentials else BallotSubmission(b)
        for i, b in enumerate(ballots)
    ]
    boards = [Board(make_storage(), key, validator) for _ in range(threads)]
    errors: list[BaseException] = []
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(t: int) -> None:
        mine: list[float] = []
        try:
            for s in subs[t::threads]:
                t0 = time.perf_counter()
                boards[t].submit(s)
                mine.append(time.perf_counter() - t0)
        except BaseException as exc:
            errors.append(exc)
        with lock:
            latencies.extend(mine)

    ts = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    start = time.perf_counter()
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise SystemExit(f"benchmark failed: {errors[0]!r}")
    latencies.sort()
    n = len(latencies)
    return {
        "threads": threads,
        "credentials": credentials,
        "ballots": n,
        "seconds": round(elapsed, 3),
        "ballots_per_second": round(n / elapsed, 1),
        "latency_ms_p50": round(1000 * latencies[n // 2], 3),
        "latency_ms_p99": round(1000 * latencies[min(n - 1, (99 * n) // 100)], 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--ballots", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--ballot-bytes", type=int, default=2048)
    ap.add_argument("--credentials", action="store_true", help="also run with voter credentials (§5)")
    ap.add_argument("--pg-url", default=os.environ.get("E2EVOTE_TEST_PG_URL"))
    ap.add_argument("--validator", default=None, help="module:function returning BallotInfo")
    ap.add_argument("--ballot-file", default=None)
    ap.add_argument("--dir", default=None, help="directory for the SQLite file (default: a temp dir)")
    args = ap.parse_args()

    validator = load_validator(args.validator)
    results: list[dict[str, Any]] = []
    cred_modes = [False, True] if args.credentials else [False]
    thread_modes = sorted({1, args.threads})

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for creds in cred_modes:
            for threads in thread_modes:
                ballots = make_ballots(args.ballots, args.ballot_bytes, args.ballot_file)
                db = Path(tmp) / f"bench-{uuid.uuid4().hex}.sqlite"
                opened: list[Storage] = []

                def sqlite_factory(db: Path = db, opened: list[Storage] = opened) -> Storage:
                    s = SQLiteStorage(db)
                    opened.append(s)
                    return s

                r = run_one(sqlite_factory, validator, ballots, threads, creds)
                results.append({"backend": "sqlite", **r})
                for s in opened:
                    s.close()

    if args.pg_url:
        from e2evote.board.postgres import PostgresStorage, drop_schema

        for creds in cred_modes:
            for threads in thread_modes:
                ballots = make_ballots(args.ballots, args.ballot_bytes, args.ballot_file)
                schema = f"bench_{uuid.uuid4().hex[:12]}"
                pg_opened: list[Storage] = []

                def pg_factory(schema: str = schema, opened: list[Storage] = pg_opened) -> Storage:
                    s = PostgresStorage(args.pg_url, schema=schema)
                    opened.append(s)
                    return s

                try:
                    r = run_one(pg_factory, validator, ballots, threads, creds)
                    results.append({"backend": "postgresql", **r})
                finally:
                    for s in pg_opened:
                        s.close()
                    drop_schema(args.pg_url, schema)
    else:
        results.append({"backend": "postgresql", "skipped": "no --pg-url and no E2EVOTE_TEST_PG_URL"})

    print(
        json.dumps(
            {
                "benchmark": "board_ingestion",
                "validator": args.validator or "trivial (sha256)",
                "ballot_bytes": args.ballot_bytes if args.ballot_file is None else "from file",
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "results": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
