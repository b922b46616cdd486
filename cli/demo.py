"""``e2evote demo``: a whole election in one process (specs/11-cli.md §demo).

Key ceremony with n guardians, N random ballots on two devices with chained confirmation codes (a
few challenged: half opened by their released nonce, half decrypted by the guardians), the tally
decrypted with m guardians absent, outcomes, a sealed native record, and independent verification
of that record. Every step is a library call; this module only orchestrates, times and reports.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2evote.groups.base import Group
from e2evote.protocol.ballot import BallotState, Device, PlaintextBallot, encrypt_ballot
from e2evote.protocol.ceremony import GuardianSetup
from e2evote.protocol.decryption import DecryptingGuardian
from e2evote.protocol.election import ElectionParameters
from e2evote.protocol.manifest import Manifest
from e2evote.protocol.outcomes import compute_outcomes
from e2evote.protocol.preencrypt import pre_encrypt_ballot, record_pre_encrypted
from e2evote.protocol.tally import DecryptedTally, TallyAccumulator, decrypt_ballot, decrypt_tally
from e2evote.record.model import ChallengedBallot
from e2evote.record.native import RecordWriter
from e2evote.verifier import Report, verify_path
from e2evote.verifier.distributed import process_runner, worker_chunk_size

__all__ = ["DEMO_MANIFEST", "DemoConfig", "DemoResult", "check_config", "run_demo"]

DEMO_MANIFEST: dict[str, Any] = {
    "label": "e2evote demo election",
    "chaining": True,
    "short_code": "omega2",  # the paper ballots' short codes: four hex digits (EG §4.6 Ω2)
    "contests": [
        {
            "label": "Mayor",
            "options": ["Alice", "Bob", "Carol", "Dave"],
            "contest_limit": 1,
            "option_limit": 1,
            "kind": "plurality",
            # recomputed by the verifier (V20); ties broken by votes, then by a lot from this seed
            "outcome": {
                "method": "plurality",
                "seats": None,
                "threshold": None,
                "threshold_base": None,
                "against_all": None,
                "tie_seed": hashlib.sha256(b"e2evote demo election").hexdigest(),
            },
        },
        {
            "label": "Council",
            "options": ["Erin", "Frank", "Grace", "Heidi", "Ivan"],
            "contest_limit": 2,
            "option_limit": 1,
            "kind": "k-of-n",
        },
        {
            "label": "Proposition 1",
            "options": ["Yes", "No"],
            "contest_limit": 1,
            "option_limit": 1,
            "kind": "referendum",
        },
    ],
}

DEVICES = ("polling-station-1", "polling-station-2")

Step = Callable[[str, int, int], None]
"""step(phase, done, total): progress of the running phase"""


@dataclass(frozen=True, slots=True)
class DemoConfig:
    """The demo's knobs (``e2evote demo --help``)."""

    out: Path
    group: Group
    voters: int = 100
    trustees: int = 5
    quorum: int = 3
    missing: int = 1
    challenged: int = 4
    seed: int | None = None
    paper: int = 0
    """voters who vote on pre-encrypted paper ballots (specs/13-pre-encryption.md)"""


@dataclass
class DemoResult:
    """What the demo did and how long each phase took."""

    config: DemoConfig
    H_E: bytes = b""
    absent: tuple[int, ...] = ()
    cast: int = 0
    opened_by_nonce: int = 0
    opened_by_guardians: int = 0
    paper: int = 0
    """ballots recorded from pre-encrypted paper ballots"""
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    report: Report | None = None

    @property
    def ok(self) -> bool:
        return self.report is not None and self.report.ok


def _random_ballot(rng: random.Random, n: int, manifest: Manifest) -> PlaintextBallot:
    votes: dict[str, dict[str, int]] = {}
    for c in manifest.contests:
        labels = [o.label for o in c.options]
        r = rng.random()
        if r < 0.05:
            chosen: list[str] = []  # blank contest (null vote)
        elif r < 0.15 and c.contest_limit > 1:
            chosen = rng.sample(labels, c.contest_limit - 1)  # undervote
        else:
            weights = [len(labels) - j for j in range(len(labels))]  # a visible, deterministic skew
            chosen = []
            while len(chosen) < c.contest_limit:
                pick = rng.choices(labels, weights)[0]
                if pick not in chosen:
                    chosen.append(pick)
        votes[c.label] = {label: 1 for label in chosen}
    return PlaintextBallot(f"ballot-{n:06d}", "default", votes)


def check_config(cfg: DemoConfig) -> None:
    """Refuse (:class:`ValueError`) knobs the demo cannot run to a verified record: the tally and the
    outcome need at least one cast ballot, so ``0 <= challenged < voters``."""
    if not 1 <= cfg.quorum <= cfg.trustees:
        raise ValueError(f"need 1 <= quorum <= trustees, got quorum {cfg.quorum} of {cfg.trustees}")
    if not 0 <= cfg.missing <= cfg.trustees - cfg.quorum:
        raise ValueError(
            f"with {cfg.trustees} trustees and quorum {cfg.quorum}, at most "
            f"{cfg.trustees - cfg.quorum} may be missing (got {cfg.missing})"
        )
    if cfg.voters < 1:
        raise ValueError(f"need at least 1 voter (got --voters {cfg.voters})")
    if not 0 <= cfg.paper <= cfg.voters:
        raise ValueError(f"need 0 <= paper <= voters (got --paper {cfg.paper} of --voters {cfg.voters})")
    if not 0 <= cfg.challenged < cfg.voters:
        raise ValueError(
            f"need 0 <= challenged < voters so that at least one ballot is cast "
            f"(got --challenged {cfg.challenged} of --voters {cfg.voters})"
        )


def run_demo(cfg: DemoConfig, progress: Callable[[str, int], Step] | None = None) -> DemoResult:
    """Run the election; ``progress(description, total)`` returns a step callback for a phase."""
    check_config(cfg)
    rng = random.Random(cfg.seed)
    res = DemoResult(cfg)

    def bar(description: str, total: int) -> Step:
        if progress is None:
            return lambda _p, _d, _t: None
        return progress(description, total)

    @contextmanager
    def phase(name: str) -> Iterator[None]:
        t = time.perf_counter()
        yield
        res.timings[name] = time.perf_counter() - t

    manifest = Manifest.from_json(DEMO_MANIFEST)
    params = ElectionParameters(cfg.group, manifest, cfg.trustees, cfg.quorum)

    with phase("key ceremony"):
        step = bar("key ceremony", 3 * cfg.trustees)
        setups = []
        for i in range(1, cfg.trustees + 1):
            setups.append(GuardianSetup.start(params, i))
            step("key ceremony", i, 3 * cfg.trustees)
        publics = [s.public for s in setups]
        awaiting = []
        for s in setups:
            awaiting.append(s.receive_public_keys(publics))
            step("key ceremony", cfg.trustees + len(awaiting), 3 * cfg.trustees)
        shares = [sh for a in awaiting for sh in a.outgoing]
        keys = []
        for a in awaiting:
            checked = a.receive_shares([sh for sh in shares if sh.ell == a.setup.i])
            keys.append(checked.finalize())
            step("key ceremony", 2 * cfg.trustees + len(keys), 3 * cfg.trustees)
        ctx = keys[0].context
        res.H_E = ctx.H_E

    # chunks small enough that every worker process of the verification below has one
    writer = RecordWriter(cfg.out, ctx, publics, chunk_size=worker_chunk_size(cfg.voters))
    challenged_ix = set(rng.sample(range(cfg.voters), cfg.challenged))
    paper_ix = set(rng.sample(range(cfg.voters), cfg.paper))
    by_nonce = set(sorted(challenged_ix)[: (cfg.challenged + 1) // 2])
    devices = [Device(ctx, name) for name in DEVICES]
    acc = TallyAccumulator(ctx)
    to_open: list[tuple[PlaintextBallot, Any, bytes]] = []

    with phase("encryption"):
        step = bar("encrypting ballots", cfg.voters)
        for n in range(cfg.voters):
            plain = _random_ballot(rng, n, manifest)
            state = BallotState.CHALLENGED if n in challenged_ix else BallotState.CAST
            if n in paper_ix:  # printed before the vote, marked, then scanned and recorded
                _, xi = pre_encrypt_ballot(ctx, plain.style)
                marks = {c: [o for o, v in votes.items() if v] for c, votes in plain.votes.items()}
                ballot = record_pre_encrypted(
                    ctx, plain.style, xi, marks, ballot_id=plain.ballot_id, state=state
                ).ballot
                res.paper += 1
            else:
                ballot, xi = encrypt_ballot(ctx, plain, device=devices[n % len(devices)], state=state)
            writer.add_ballot(ballot)
            if state == BallotState.CAST:
                acc.add(ballot)
            else:
                to_open.append((plain, ballot, xi if n in by_nonce else b""))
            step("encrypting ballots", n + 1, cfg.voters)
        writer.set_device_closes({d.name: d.close() for d in devices if d.count})
        tally = acc.result()
        res.cast = tally.ballots

    absent = tuple(sorted(rng.sample(range(1, cfg.trustees + 1), cfg.missing)))
    res.absent = absent
    present = [DecryptingGuardian.from_key(k) for k in keys if k.i not in absent]

    with phase("decryption"):
        step = bar("decrypting", 1 + len(to_open))
        decrypted: DecryptedTally = decrypt_tally(ctx, publics, present, tally)
        step("decrypting", 1, 1 + len(to_open))
        opened = []
        for j, (plain, ballot, xi) in enumerate(to_open):
            if xi:
                opened.append(ChallengedBallot(ballot.ballot_id, xi, plain, None))
                res.opened_by_nonce += 1
            else:
                opened.append(
                    ChallengedBallot(
                        ballot.ballot_id, None, None, decrypt_ballot(ctx, publics, present, ballot)
                    )
                )
                res.opened_by_guardians += 1
            step("decrypting", j + 2, 1 + len(to_open))
        res.counts = decrypted.counts(ctx)
        res.outcomes = compute_outcomes(manifest, res.counts, acc.contest_cast)

    with phase("record"):
        writer.set_tally(tally, decrypted)
        writer.set_challenged(opened)
        if res.outcomes:
            writer.set_outcomes(res.outcomes)
        writer.seal()

    with phase("verification"):
        vstep = bar("verifying the record", cfg.voters)
        # as `e2evote verify` does: one forked worker process per core (in this process with one core)
        res.report = verify_path(
            cfg.out, progress=lambda p, d, t: vstep(p, d, cfg.voters), runner=process_runner()
        )
    return res
