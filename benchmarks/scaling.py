"""Scaling: a whole election of N ballots, streamed, with time and peak memory per size.

    .venv/bin/python benchmarks/scaling.py --sizes 1000 10000 100000 [--group modp-4096] [--json]

Each size runs in its own process (peak RSS is per process): ballots are generated, encrypted on every
core and written to the record in chunks as they come; the tally is accumulated on the fly; then the
tally is decrypted (quorum 2 of 3), the record sealed and verified with `verify_path`. Not a test.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def one(n: int, group_name: str, processes: int | None) -> dict[str, object]:
    from common import ceremony, random_ballots

    from e2evote.batch import encrypt_many
    from e2evote.groups import group_by_name
    from e2evote.protocol.decryption import DecryptingGuardian
    from e2evote.protocol.tally import TallyAccumulator, decrypt_tally
    from e2evote.record.native import RecordWriter
    from e2evote.verifier import verify_path
    from e2evote.verifier.distributed import process_runner

    group = group_by_name(group_name)
    ctx, keys, pubs = ceremony(group)
    out: dict[str, object] = {"ballots": n, "group": group_name}
    with tempfile.TemporaryDirectory() as d:
        w = RecordWriter(Path(d) / "r", ctx, pubs, chunk_size=500)
        acc = TallyAccumulator(ctx)
        t = time.perf_counter()
        for enc, _nonce in encrypt_many(ctx, random_ballots(n), processes=processes):
            w.add_ballot(enc)
            acc.add(enc)
        out["encrypt_and_write_s"] = round(time.perf_counter() - t, 2)
        et = acc.result()
        t = time.perf_counter()
        dt = decrypt_tally(ctx, pubs, [DecryptingGuardian.from_key(k) for k in keys[:2]], et)
        out["decrypt_tally_s"] = round(time.perf_counter() - t, 2)
        w.set_tally(et, dt)
        w.seal()
        out["record_mb"] = round(sum(f.stat().st_size for f in (Path(d) / "r").rglob("*")) / 1e6, 1)
        t = time.perf_counter()
        report = verify_path(Path(d) / "r", runner=process_runner(processes))
        out["verify_s"] = round(time.perf_counter() - t, 2)
        out["verified"] = report.ok
    out["encrypt_ms_per_ballot"] = round(float(out["encrypt_and_write_s"]) * 1000 / n, 3)  # type: ignore[arg-type]
    out["verify_ms_per_ballot"] = round(float(out["verify_s"]) * 1000 / n, 3)  # type: ignore[arg-type]
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["peak_rss_children_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--group", default="modp-4096")
    ap.add_argument("--processes", type=int, default=None)
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.one:
        print(json.dumps(one(a.one, a.group, a.processes)))
        return
    rows = []
    for n in a.sizes:
        cmd = [sys.executable, __file__, "--one", str(n), "--group", a.group]
        if a.processes:
            cmd += ["--processes", str(a.processes)]
        res = subprocess.run(cmd, check=True, capture_output=True, text=True)
        row = json.loads(res.stdout.strip().splitlines()[-1])
        rows.append(row)
        if not a.json:
            print(row, flush=True)
    if a.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()
