"""Per-phase benchmark of e2evote: encrypt, verify, aggregate, decrypt, whole record.

    .venv/bin/python benchmarks/harness.py --ballots 100 [--group modp-4096|ed25519] [--json]

Prints per-ballot and per-selection figures (and one JSON line with --json). The whole record is
verified twice: in one process with a worker thread per core (``verify_record_ms_per_ballot``) and on
one forked process per core (``verify_record_processes_ms_per_ballot``, the default of
``e2evote verify``). Not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import SELECTIONS_PER_BALLOT, ceremony, emit, random_ballots, reference_costs, timed  # noqa: E402

from e2evote.batch import encrypt_many  # noqa: E402
from e2evote.groups import group_by_name  # noqa: E402
from e2evote.protocol.ballot import encrypt_ballot  # noqa: E402
from e2evote.protocol.decryption import DecryptingGuardian  # noqa: E402
from e2evote.protocol.tally import TallyAccumulator, decrypt_tally  # noqa: E402
from e2evote.record.native import RecordWriter, read_record  # noqa: E402
from e2evote.verifier.distributed import process_runner  # noqa: E402
from e2evote.verifier.steps import verify_path  # noqa: E402


def run(n: int, group_name: str, processes: int | None) -> dict[str, object]:
    group = group_by_name(group_name)
    t_cer, (ctx, keys, pubs) = timed(lambda: ceremony(group))
    ballots = random_ballots(n)
    encrypt_ballot(ctx, ballots[0])  # build the fixed-base tables outside the timing
    t_enc1, _ = timed(lambda: [encrypt_ballot(ctx, b) for b in ballots[: max(1, n // 4)]])
    t_enc1 /= max(1, n // 4)
    t_enc, encrypted = timed(lambda: list(encrypt_many(ctx, ballots, processes=processes)))
    enc_ballots = [e for e, _ in encrypted]
    acc = TallyAccumulator(ctx)

    def aggregate():  # type: ignore[no-untyped-def]
        for b in enc_ballots:
            acc.add(b)
        return acc.result()

    t_agg, et = timed(aggregate)
    muls = 2 * sum(len(c.selections) for b in enc_ballots for c in b.contests)  # one per α and per β
    guardians = [DecryptingGuardian.from_key(k) for k in keys[:2]]
    t_dec, dt = timed(lambda: decrypt_tally(ctx, pubs, guardians, et))
    with tempfile.TemporaryDirectory() as d:
        # chunks of n/8 ballots, so that the process runner has work for every core
        w = RecordWriter(Path(d) / "r", ctx, pubs, chunk_size=max(1, n // 8))
        for b in enc_ballots:
            w.add_ballot(b)
        w.set_tally(et, dt)
        w.seal()
        t_read, rec = timed(lambda: (read_record(Path(d) / "r"), list(read_record(Path(d) / "r").ballots())))
        t_ver, report = timed(lambda: verify_path(Path(d) / "r"))
        assert report.ok, report.failures[:3]
        t_ver_p, report = timed(lambda: verify_path(Path(d) / "r", runner=process_runner(processes)))
        assert report.ok, report.failures[:3]
    per = 1000 / n
    ref = reference_costs()
    res: dict[str, object] = {
        "ballots": n,
        "group": group_name,
        "threads": os.environ.get("E2EVOTE_THREADS", "auto"),
        "encrypt_ms_per_ballot_1proc": round(t_enc1 * 1000, 3),
        "encrypt_ms_per_ballot": round(t_enc * per, 3),
        "encrypt_ms_per_selection": round(t_enc * per / SELECTIONS_PER_BALLOT, 3),
        "aggregate_ms_per_ballot": round(t_agg * per, 4),
        "decrypt_tally_s": round(t_dec, 3),
        "read_and_decode_ms_per_ballot": round(t_read * per, 3),
        "verify_record_ms_per_ballot": round(t_ver * per, 3),
        "verify_ms_per_selection": round(t_ver * per / SELECTIONS_PER_BALLOT, 3),
        "verify_record_processes_ms_per_ballot": round(t_ver_p * per, 3),
        "key_ceremony_s": round(t_cer, 3),
        **ref,
        "aggregate_us_per_mul": round(t_agg * 1e6 / muls, 3),
    }
    if "mulmod_4096_us" in ref and group_name == "modp-4096":
        # throughput of aggregation against bare `a * b % p` on the same machine, measured just after
        res["aggregate_vs_raw_mulmod"] = round(ref["mulmod_4096_us"] / (t_agg * 1e6 / muls), 3)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ballots", type=int, default=50)
    ap.add_argument("--group", default="modp-4096")
    ap.add_argument("--processes", type=int, default=None)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    res = run(a.ballots, a.group, a.processes)
    emit(res, as_json=a.json)


if __name__ == "__main__":
    main()
