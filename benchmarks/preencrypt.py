"""Pre-encrypted ballots against ordinary ones, on the peer's manifest (1-of-4, 2-of-5), one thread.

    .venv/bin/python benchmarks/preencrypt.py [--group modp-4096|ed25519] [--ballots 20] [--json]

Per ballot, median of ``--ballots`` runs: printing (``pre_encrypt_ballot``: (4+1)·4 + (5+2)·5 = 55
encryptions, hashes, codes), recording (``record_pre_encrypted``: regenerating them, then the
proofs), ordinary encryption (``encrypt_ballot``), and the ballot check (``check_ballot_proofs``: V15-V18
against V5-V7) of each kind; the ratios pre/ordinary. Not a test (specs/13-pre-encryption.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PEER_MANIFEST, ceremony, emit, random_ballots, timed  # noqa: E402

from e2evote.groups import group_by_name  # noqa: E402
from e2evote.protocol.ballot import check_ballot_proofs, encrypt_ballot  # noqa: E402
from e2evote.protocol.manifest import Manifest  # noqa: E402
from e2evote.protocol.preencrypt import pre_encrypt_ballot, record_pre_encrypted  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--group", default="modp-4096")
    ap.add_argument("--ballots", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    doc = json.loads(PEER_MANIFEST.raw)
    manifest = Manifest.from_json({**doc, "short_code": "omega2"})
    ctx, _, _ = ceremony(group_by_name(args.group), manifest)
    ctx.key.table  # noqa: B018  (the fixed-base tables, built once per election, outside the timings)
    plains = random_ballots(args.ballots)
    times: dict[str, list[float]] = {
        k: [] for k in ("print", "record", "encrypt", "check_pre", "check_ordinary")
    }
    for plain in plains:
        t, (_, xi) = timed(lambda: pre_encrypt_ballot(ctx, "default"))
        times["print"].append(t)
        marks = {c: [o for o, v in votes.items() if v] for c, votes in plain.votes.items()}
        t, marked = timed(partial(record_pre_encrypted, ctx, "default", xi, marks, ballot_id=plain.ballot_id))
        pre = marked.ballot
        times["record"].append(t)
        t, (ordinary, _) = timed(lambda: encrypt_ballot(ctx, plain))  # noqa: B023
        times["encrypt"].append(t)
        times["check_pre"].append(timed(lambda: check_ballot_proofs(ctx, pre))[0])  # noqa: B023
        times["check_ordinary"].append(timed(lambda: check_ballot_proofs(ctx, ordinary))[0])  # noqa: B023
    ms = {k: statistics.median(v) * 1000 for k, v in times.items()}
    emit(
        {
            "group": args.group,
            "ballots": args.ballots,
            **{f"{k}_ms_per_ballot": round(v, 2) for k, v in ms.items()},
            "print_plus_record_over_encrypt": round((ms["print"] + ms["record"]) / ms["encrypt"], 2),
            "check_pre_over_ordinary": round(ms["check_pre"] / ms["check_ordinary"], 3),
        },
        as_json=args.json,
    )


if __name__ == "__main__":
    main()
