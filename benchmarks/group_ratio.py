"""Ed25519 against the 4096-bit group on whole-record verification, side by side in one run.

    .venv/bin/python benchmarks/group_ratio.py --ballots 100 [--rounds 2] [--json]

Writes the peer's election (benchmarks/common.py) for both groups, then verifies the two records in
interleaved rounds, in both modes of ``e2evote verify``: one forked process per core (the default)
and one process with a worker thread per core. Prints ms per ballot and the ratio modp/Ed25519 per
mode (the best round of each); the target of issue 6 is a ratio of 10. Not a test.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ceremony, emit, random_ballots, reference_costs, timed  # noqa: E402

from e2evote.batch import encrypt_many  # noqa: E402
from e2evote.groups import group_by_name  # noqa: E402
from e2evote.protocol.decryption import DecryptingGuardian  # noqa: E402
from e2evote.protocol.tally import TallyAccumulator, decrypt_tally  # noqa: E402
from e2evote.record.native import RecordWriter  # noqa: E402
from e2evote.verifier.distributed import process_runner  # noqa: E402
from e2evote.verifier.steps import verify_path  # noqa: E402

GROUPS = ("modp-4096", "ed25519")


def write(n: int, group_name: str, where: Path) -> Path:
    ctx, keys, pubs = ceremony(group_by_name(group_name))
    ballots = [e for e, _ in encrypt_many(ctx, random_ballots(n))]
    acc = TallyAccumulator(ctx)
    for b in ballots:
        acc.add(b)
    et = acc.result()
    dt = decrypt_tally(ctx, pubs, [DecryptingGuardian.from_key(k) for k in keys[:2]], et)
    path = where / group_name
    w = RecordWriter(path, ctx, pubs, chunk_size=max(1, n // 8))  # work for every core
    for b in ballots:
        w.add_ballot(b)
    w.set_tally(et, dt)
    w.seal()
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ballots", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    best: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory() as d:
        paths = {name: write(a.ballots, name, Path(d)) for name in GROUPS}
        for _ in range(a.rounds):
            for mode in ("processes", "threads"):
                for name in GROUPS:
                    runner = process_runner() if mode == "processes" else None
                    t, report = timed(lambda: verify_path(paths[name], runner=runner))  # noqa: B023
                    assert report.ok, report.failures[:3]
                    ms = t * 1000 / a.ballots
                    best[mode, name] = min(best.get((mode, name), ms), ms)
    res: dict[str, object] = {"ballots": a.ballots, "rounds": a.rounds}
    for mode in ("processes", "threads"):
        for name in GROUPS:
            res[f"{mode}_{name}_ms_per_ballot"] = round(best[mode, name], 3)
        res[f"{mode}_ratio"] = round(best[mode, "modp-4096"] / best[mode, "ed25519"], 2)
    res.update(reference_costs())
    emit(res, as_json=a.json)


if __name__ == "__main__":
    main()
