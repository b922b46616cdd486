"""Build honest elections in-process for the record and verifier tests."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from e2evote.encoding import pack, unpack
from e2evote.groups import Group
from e2evote.protocol.ballot import BallotState, PlaintextBallot, encrypt_ballot
from e2evote.protocol.ceremony import GuardianKey, GuardianPublicKeys, GuardianSetup
from e2evote.protocol.decryption import DecryptingGuardian
from e2evote.protocol.election import ElectionParameters
from e2evote.protocol.manifest import Manifest
from e2evote.protocol.tally import TallyAccumulator, decrypt_ballot, decrypt_tally
from e2evote.record.model import ChallengedBallot
from e2evote.record.native import RECORD_FORMAT, RECORD_INDEX, RecordWriter, record_root


@dataclass
class Election:
    params: ElectionParameters
    keys: list[GuardianKey]
    pubs: list[GuardianPublicKeys]
    expected: dict[str, dict[str, int]]


def ceremony(params: ElectionParameters) -> tuple[list[GuardianKey], list[GuardianPublicKeys]]:
    setups = [GuardianSetup.start(params, i) for i in range(1, params.n + 1)]
    pubs = [s.public for s in setups]
    aw = [s.receive_public_keys(pubs) for s in setups]
    shares = [sh for a in aw for sh in a.outgoing]
    keys = [a.receive_shares([sh for sh in shares if sh.ell == a.setup.i]).finalize() for a in aw]
    return keys, pubs


def random_ballot(manifest: Manifest, rng: random.Random, bid: str) -> PlaintextBallot:
    style = rng.choice(manifest.ballot_styles)
    votes: dict[str, dict[str, int]] = {}
    for c in manifest.contests_of_style(style.label):
        remaining = rng.randint(0, c.contest_limit)
        v: dict[str, int] = {}
        for o in rng.sample(list(c.options), len(c.options)):
            if remaining <= 0:
                break
            x = rng.randint(0, min(c.option_limit, remaining))
            if x:
                v[o.label] = x
                remaining -= x
        votes[c.label] = v
    return PlaintextBallot(bid, style.label, votes)


def run_election(
    group: Group,
    manifest: Manifest,
    out: Path,
    *,
    n: int = 3,
    k: int = 2,
    voters: int = 6,
    challenged: Sequence[int] = (),
    present: Sequence[int] | None = None,
    seed: int = 1,
) -> Election:
    """A whole election written to ``out`` as a sealed native record."""
    rng = random.Random(seed)
    params = ElectionParameters(group, manifest, n, k)
    keys, pubs = ceremony(params)
    ctx = keys[0].context
    present = list(present) if present is not None else list(range(1, k + 1))
    guardians = [DecryptingGuardian.from_key(keys[i - 1]) for i in present]
    w = RecordWriter(out, ctx, pubs, chunk_size=3)
    acc = TallyAccumulator(ctx)
    expected = {c.label: {o.label: 0 for o in c.options} for c in manifest.contests}
    opened = []
    for n_ in range(voters):
        pb = random_ballot(manifest, rng, f"b{n_}")
        is_ch = n_ in challenged
        enc, xi = encrypt_ballot(ctx, pb, state=BallotState.CHALLENGED if is_ch else BallotState.CAST)
        w.add_ballot(enc)
        if is_ch:
            if len(opened) % 2 == 0:
                opened.append(ChallengedBallot(enc.ballot_id, xi, pb, None))
            else:
                opened.append(
                    ChallengedBallot(enc.ballot_id, None, None, decrypt_ballot(ctx, pubs, guardians, enc))
                )
        else:
            acc.add(enc)
            for c, v in pb.votes.items():
                contest = manifest.contest(c)
                if sum(v.values()) <= contest.contest_limit:
                    for o, x in v.items():
                        expected[c][o] += x
    et = acc.result()
    w.set_tally(et, decrypt_tally(ctx, pubs, guardians, et))
    if opened:
        w.set_challenged(opened)
    w.seal()
    return Election(params, keys, pubs, expected)


def reseal(d: Path) -> None:
    """Re-authenticate an edited record (RECORD.msgpack), as its author could: only the verifier's
    checks beyond R1 can object."""
    H_E = unpack((d / "election.msgpack").read_bytes())["H_E"]
    listing = sorted(
        p.relative_to(d).as_posix() for p in d.rglob("*") if p.is_file() and p.name != RECORD_INDEX
    )
    digests = [(p, hashlib.sha256((d / p).read_bytes()).digest()) for p in listing]
    idx = {"format": RECORD_FORMAT, "files": [[p, h] for p, h in digests], "root": record_root(H_E, digests)}
    (d / RECORD_INDEX).write_bytes(pack(idx))
