"""Shared set-up for e2evote's benchmarks: the peer's election (3 guardians, quorum 2; contests
1-of-4 and 2-of-5), reference costs of one powmod and one modular multiplication."""

from __future__ import annotations

import json
import random
import secrets
import time
from collections.abc import Callable
from typing import Any

import gmpy2

from e2evote.groups import Group, group_by_name
from e2evote.protocol.ballot import PlaintextBallot
from e2evote.protocol.ceremony import GuardianKey, GuardianPublicKeys, GuardianSetup
from e2evote.protocol.election import ElectionContext, ElectionParameters
from e2evote.protocol.manifest import Manifest, simple_manifest

PEER_MANIFEST = simple_manifest(
    "bench", [("A", ["a1", "a2", "a3", "a4"], 1), ("B", ["b1", "b2", "b3", "b4", "b5"], 2)]
)
SELECTIONS_PER_BALLOT = 9  # e2evote encrypts no placeholders (the peer: 12)


def ceremony(
    group: Group, manifest: Manifest = PEER_MANIFEST, n: int = 3, k: int = 2
) -> tuple[ElectionContext, list[GuardianKey], list[GuardianPublicKeys]]:
    params = ElectionParameters(group, manifest, n, k)
    setups = [GuardianSetup.start(params, i) for i in range(1, n + 1)]
    pubs = [s.public for s in setups]
    aw = [s.receive_public_keys(pubs) for s in setups]
    shares = [sh for a in aw for sh in a.outgoing]
    keys = [a.receive_shares([sh for sh in shares if sh.ell == a.setup.i]).finalize() for a in aw]
    return keys[0].context, keys, pubs


def random_ballots(n: int, seed: int = 1) -> list[PlaintextBallot]:
    """Random valid ballots like the peer's: 0..k marks per contest."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        a = rng.sample(["a1", "a2", "a3", "a4"], rng.randint(0, 1))
        b = rng.sample(["b1", "b2", "b3", "b4", "b5"], rng.randint(0, 2))
        out.append(PlaintextBallot(f"b{i}", "default", {"A": dict.fromkeys(a, 1), "B": dict.fromkeys(b, 1)}))
    return out


def reference_costs(group_name: str = "modp-4096") -> dict[str, float]:
    """ms of one 4096-bit powmod with a 256-bit exponent, µs of one modular multiplication."""
    g = group_by_name(group_name)
    if not hasattr(g, "p"):
        return {}
    p = g.p  # type: ignore[attr-defined]
    a = gmpy2.mpz(secrets.randbelow(int(p)))
    b = gmpy2.mpz(secrets.randbelow(int(p)))
    e = gmpy2.mpz(secrets.randbelow(int(g.q)))
    t = time.perf_counter()
    for _ in range(100):
        gmpy2.powmod(a, e, p)
    powmod_ms = (time.perf_counter() - t) * 10
    t = time.perf_counter()
    for _ in range(5000):
        a * b % p
    mulmod_us = (time.perf_counter() - t) / 5000 * 1e6
    return {"powmod_4096_by_256bit_ms": round(powmod_ms, 4), "mulmod_4096_us": round(mulmod_us, 3)}


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def emit(res: dict[str, Any], *, as_json: bool) -> None:
    """Print a benchmark's results: one JSON line, or one aligned `key: value` line each."""
    if as_json:
        print(json.dumps(res))
    else:
        for k, v in res.items():
            print(f"{k:>34}: {v}")
