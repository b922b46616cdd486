"""Scaling: a whole election of N ballots, streamed, with time and peak memory per size.

    .venv/bin/python benchmarks/scaling.py --sizes 1000 10000 100000 [--group modp-4096] [--json]

Each size runs in its own process (peak RSS is per process): ballots are generated as they are needed
(``--list-input``: all at once, as a list), encrypted on every core and written to the record in chunks
as they come; the tally is accumulated on the fly; then the tally is decrypted (quorum 2 of 3) and the
record sealed. It is then verified with `verify_path` (worker processes) in a process of its own,
started by the small top-level process (a child inherits the peak RSS of the process that spawns it),
so that `verify_peak_rss_mb` is the verifier's alone (the coordinator; `verify_peak_rss_workers_mb`:
its largest worker), not the encryption's. Not a test.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from e2evote.protocol.ballot import PlaintextBallot

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def ballot_stream(n: int, chunk: int = 1000) -> Iterator[PlaintextBallot]:
    """``n`` random ballots like ``random_ballots``, made ``chunk`` at a time (seeds 1, 2, ...; ids b0 ...)
    so that the input itself does not grow with ``n``."""
    from common import random_ballots

    for start in range(0, n, chunk):
        for j, b in enumerate(random_ballots(min(chunk, n - start), seed=1 + start // chunk)):
            yield dataclasses.replace(b, ballot_id=f"b{start + j}")


def one(
    n: int, group_name: str, processes: int | None, directory: str, list_input: bool = False
) -> dict[str, object]:
    from common import ceremony, random_ballots

    from e2evote.batch import encrypt_many
    from e2evote.groups import group_by_name
    from e2evote.protocol.decryption import DecryptingGuardian
    from e2evote.protocol.tally import TallyAccumulator, decrypt_tally
    from e2evote.record.native import RecordWriter

    group = group_by_name(group_name)
    ctx, keys, pubs = ceremony(group)
    out: dict[str, object] = {"ballots": n, "group": group_name, "input": "list" if list_input else "stream"}
    ballots = random_ballots(n) if list_input else ballot_stream(n)
    w = RecordWriter(Path(directory) / "r", ctx, pubs, chunk_size=500)
    acc = TallyAccumulator(ctx)
    t = time.perf_counter()
    for enc, _nonce in encrypt_many(ctx, ballots, processes=processes):
        w.add_ballot(enc)
        acc.add(enc)
    out["encrypt_and_write_s"] = round(time.perf_counter() - t, 2)
    et = acc.result()
    t = time.perf_counter()
    dt = decrypt_tally(ctx, pubs, [DecryptingGuardian.from_key(k) for k in keys[:2]], et)
    out["decrypt_tally_s"] = round(time.perf_counter() - t, 2)
    w.set_tally(et, dt)
    w.seal()
    out["record_mb"] = round(sum(f.stat().st_size for f in (Path(directory) / "r").rglob("*")) / 1e6, 1)
    out["encrypt_ms_per_ballot"] = round(float(out["encrypt_and_write_s"]) * 1000 / n, 3)  # type: ignore[arg-type]
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out


def verify(path: str, processes: int | None) -> dict[str, object]:
    from e2evote.verifier import verify_path
    from e2evote.verifier.distributed import process_runner

    t = time.perf_counter()
    report = verify_path(path, runner=process_runner(processes))
    return {
        "verify_s": round(time.perf_counter() - t, 2),
        "verified": report.ok,
        "verify_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "verify_peak_rss_workers_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--group", default="modp-4096")
    ap.add_argument("--processes", type=int, default=None)
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--verify", help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--list-input",
        action="store_true",
        help="pass encrypt_many a list of all the ballots (default: a generator)",
    )
    a = ap.parse_args()
    if a.verify:
        print(json.dumps(verify(a.verify, a.processes)))
        return
    if a.one:
        print(json.dumps(one(a.one, a.group, a.processes, a.dir, a.list_input)))
        return
    extra = ["--processes", str(a.processes)] if a.processes else []
    rows = []
    for n in a.sizes:
        with tempfile.TemporaryDirectory() as d:
            cmd = [sys.executable, __file__, "--one", str(n), "--group", a.group, "--dir", d, *extra]
            row = _run(cmd + ["--list-input"] * a.list_input)
            row.update(_run([sys.executable, __file__, "--verify", str(Path(d) / "r"), *extra]))
        row["verify_ms_per_ballot"] = round(float(row["verify_s"]) * 1000 / n, 3)
        rows.append(row)
        if not a.json:
            print(row, flush=True)
    if a.json:
        print(json.dumps(rows))


def _run(cmd: list[str]) -> dict[str, Any]:
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


if __name__ == "__main__":
    main()
