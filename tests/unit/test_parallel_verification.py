"""The parallel paths of verification: batched range proofs (on the worker threads, whole commitments
for Ed25519), ``elements_batch`` spread over threads, ``parallel.map_shared`` (specs/02-groups.md
§Parallelism, specs/10-verification.md §1.5)."""

from __future__ import annotations

import dataclasses
import secrets
import subprocess
import sys
from collections.abc import Sequence

import nacl.bindings as sodium
import pytest

from e2evote.elgamal import Ciphertext, PublicKey
from e2evote.errors import EncodingError, InvalidElementError
from e2evote.groups import ED25519, TEST, Group
from e2evote.groups.parallel import in_worker, map_shared, pool, set_workers, start_shared
from e2evote.proofs.range import (
    RangeStatement,
    prove_range,
    range_commitments,
    range_commitments_many,
    verify_range_many,
)


@pytest.mark.parametrize("g", [TEST, ED25519], ids=lambda g: g.name)
def test_batched_range_proofs_flag_exactly_the_bad_ones(g: Group) -> None:
    H_E = secrets.token_bytes(32)
    key = PublicKey(g, g.g_pow(g.random_scalar()))
    items: list[RangeStatement] = []
    bad: set[str] = set()
    for n in range(23):
        R = 1 + n % 3
        ell = n % (R + 1)
        xi = g.random_scalar()
        ct = key.encrypt(ell, xi)
        proof = prove_range(key, H_E, ct, ell, R, xi)
        kind = n % 5
        if kind == 1:  # a response changed
            v = list(proof.v)
            v[0] = v[0] + g.scalar(1)
            proof = dataclasses.replace(proof, v=tuple(v))
        elif kind == 2:  # another ciphertext
            ct = Ciphertext(ct.alpha * g.generator(), ct.beta)
        elif kind == 3 and ell == 0:  # a challenge of the zero-scalar kind (libsodium refuses 0)
            c = list(proof.c)
            c[1] = g.scalar(0)
            proof = dataclasses.replace(proof, c=tuple(c))
        else:
            kind = 0
        obj = f"s{n}"
        if kind:
            bad.add(obj)
        items.append(RangeStatement(ct, proof, R, "V5", obj))
    failures = verify_range_many(key, H_E, items)
    assert {f.obj for f in failures} == bad
    assert all(f.step == "V5.D" for f in failures)


def test_a_ciphertext_half_of_another_group_is_a_failure_not_a_crash() -> None:
    """V5.C for a β (not only an α) of another group, in the batch as in verify_range."""
    H_E = secrets.token_bytes(32)
    key = PublicKey(TEST, TEST.g_pow(TEST.random_scalar()))
    xi = TEST.random_scalar()
    ct = key.encrypt(1, xi)
    proof = prove_range(key, H_E, ct, 1, 1, xi)
    mixed = Ciphertext(ct.alpha, ED25519.generator())
    failures = verify_range_many(key, H_E, [RangeStatement(mixed, proof, 1, "V5", "s")])
    assert [(f.step, f.obj) for f in failures] == [("V5.C", "s")]


def test_batch_failures_come_in_statement_order() -> None:
    """Whatever failed (an arity refused before any arithmetic, .B, or a challenge sum, .D), the batch
    names its statements in their order: a slice of a ballot's statements then reports what the
    same statements report in one batch (the process runner's split files rely on it)."""
    H_E = secrets.token_bytes(32)
    key = PublicKey(TEST, TEST.g_pow(TEST.random_scalar()))
    items: list[RangeStatement] = []
    for n in range(6):
        xi = TEST.random_scalar()
        ct = key.encrypt(n % 2, xi)
        proof = prove_range(key, H_E, ct, n % 2, 1, xi)
        if n in (1, 4):  # .D
            proof = dataclasses.replace(proof, v=(proof.v[0] + TEST.scalar(1), proof.v[1]))
        if n in (2, 5):  # .B: three terms for a 0/1 statement
            proof = dataclasses.replace(proof, c=(*proof.c, proof.c[0]), v=(*proof.v, proof.v[0]))
        items.append(RangeStatement(ct, proof, 1, "V5", f"s{n}"))
    failures = verify_range_many(key, H_E, items)
    assert [(f.step, f.obj) for f in failures] == [
        ("V5.D", "s1"),
        ("V5.B", "s2"),
        ("V5.D", "s4"),
        ("V5.B", "s5"),
    ]


def test_one_thread_processes_start_no_helper_thread() -> None:
    """With one worker thread (a worker process with a core of its own) a started job runs inline in
    the thread that asks for its result: no pool thread would take turns with it for the GIL."""
    code = (
        "from e2evote.groups import parallel as P\n"
        "P.set_workers(1)\n"
        "job = P.start_shared(lambda xs: [x * x for x in xs], list(range(40)), chunk=3)\n"
        "assert P._pool is None, 'no pool was started'\n"
        "assert job.result() == [x * x for x in range(40)] and P._pool is None\n"
        "print('inline')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "inline"


def test_prover_refuses_a_value_out_of_range_with_a_ballot_error() -> None:
    from e2evote.errors import BallotError

    key = PublicKey(TEST, TEST.g_pow(TEST.random_scalar()))
    xi = TEST.random_scalar()
    with pytest.raises(BallotError, match="outside the range 0..1"):
        prove_range(key, b"h" * 32, key.encrypt(2, xi), 2, 1, xi)


@pytest.mark.parametrize("g", [TEST, ED25519], ids=lambda g: g.name)
def test_commitments_as_lists_equal_the_plain_ones(g: Group) -> None:
    key = PublicKey(g, g.g_pow(g.random_scalar()))
    H_E = secrets.token_bytes(32)
    for ell, R in ((0, 1), (1, 1), (2, 3)):
        xi = g.random_scalar()
        ct = key.encrypt(ell, xi)
        proof = prove_range(key, H_E, ct, ell, R, xi)
        assert range_commitments_many(g, key.table, ct, proof) == range_commitments(key, ct, proof)
    # the identity as a ciphertext component and as a key power (w_j = 0) are handled
    one = g.identity()
    proof = prove_range(key, H_E, Ciphertext(one, one), 0, 1, g.scalar(0))
    assert range_commitments_many(g, key.table, Ciphertext(one, one), proof) == range_commitments(
        key, Ciphertext(one, one), proof
    )


def _ed_points(n: int) -> list[bytes]:
    return [ED25519.g_pow(ED25519.random_scalar()).to_bytes() for _ in range(n)]


def test_ed25519_batch_decoding_equals_single_decoding() -> None:
    blobs = _ed_points(70) + [ED25519.identity().to_bytes()] + _ed_points(9)
    out = ED25519.elements_batch(blobs)
    assert [e.to_bytes() for e in out] == blobs
    assert out == [ED25519.element(b) for b in blobs]
    assert out[70].is_identity()
    assert list(ED25519.elements_batch([])) == []


P = 2**255 - 19
ORDER_2 = bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda G: sodium.crypto_core_ed25519_add(G, ORDER_2), id="torsioned"),
        pytest.param(lambda G: ORDER_2, id="small-order"),
        pytest.param(lambda G: bytes([1]) + bytes(30) + b"\x80", id="identity-with-sign-bit"),
        pytest.param(lambda G: (P + 1).to_bytes(32, "little"), id="y-not-reduced"),
        pytest.param(lambda G: (2**255 - 1).to_bytes(32, "little"), id="y-all-ones"),
        pytest.param(lambda G: (2).to_bytes(32, "little"), id="not-on-curve"),
    ],
)
def test_ed25519_batch_decoding_names_the_first_non_member(bad: object) -> None:
    members = _ed_points(60)
    blob = bad(members[0])  # type: ignore[operator]
    with pytest.raises(InvalidElementError):
        ED25519.element(blob)
    for pos in (0, 17, 59):
        blobs = members[:pos] + [blob] + members[pos:]
        with pytest.raises(InvalidElementError, match=f"^element {pos}: "):
            ED25519.elements_batch(blobs)
        # a second bad element further on does not hide the first
        with pytest.raises(InvalidElementError, match=f"^element {pos}: "):
            ED25519.elements_batch(blobs + [blob])


def test_ed25519_batch_decoding_rejects_bad_lengths() -> None:
    members = _ed_points(20)
    with pytest.raises(EncodingError, match="element 5 "):
        ED25519.elements_batch(members[:5] + [members[5][:31]] + members[6:])
    with pytest.raises(EncodingError):
        ED25519.elements_batch(members + ["x" * 32])  # type: ignore[list-item]


def _square_chunk(xs: Sequence[int]) -> list[int]:
    if 13 in xs or 77 in xs:
        raise ValueError(f"bad {min(x for x in xs if x in (13, 77))}")
    return [x * x for x in xs]


def test_map_shared_keeps_order_and_raises_the_first_failure() -> None:
    items = list(range(200))
    assert map_shared(_square_chunk, [x for x in items if x not in (13, 77)], chunk=7) == [
        x * x for x in items if x not in (13, 77)
    ]
    assert map_shared(_square_chunk, [], chunk=7) == []
    assert map_shared(_square_chunk, [3], chunk=7) == [9]
    for _ in range(5):
        with pytest.raises(ValueError, match="bad 13"):
            map_shared(_square_chunk, items, chunk=3)


def test_map_shared_runs_inline_on_a_worker() -> None:
    assert not in_worker()

    def nested() -> tuple[bool, list[int]]:
        return in_worker(), map_shared(_square_chunk, [1, 2, 3, 4, 5], chunk=1)

    on_worker, squares = pool().submit(nested).result()
    assert on_worker and squares == [1, 4, 9, 16, 25]


def test_started_job_is_finished_by_the_waiting_thread() -> None:
    items = [x for x in range(300) if x not in (13, 77)]
    job = start_shared(_square_chunk, items, chunk=5)
    assert job.result() == [x * x for x in items]
    assert start_shared(_square_chunk, [], chunk=5).result() == []
    with pytest.raises(ValueError, match="bad 13"):
        start_shared(_square_chunk, list(range(300)), chunk=5).result()
    # on a worker thread nothing is submitted: the waiting thread runs every chunk itself
    assert pool().submit(lambda: start_shared(_square_chunk, [2, 3], chunk=1).result()).result() == [4, 9]


def test_set_workers_fixes_the_thread_count_of_a_process() -> None:
    """A forked worker process sets one thread before its first use of the pool (the verifier's
    process runners do); later calls are refused rather than silently ignored."""
    code = (
        "from e2evote.groups import parallel as P\n"
        "P.set_workers(1); assert P.workers() == 1 and P.pool()._max_workers == 1\n"
        "try:\n    P.set_workers(2)\nexcept RuntimeError:\n    print('refused')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "refused"
    with pytest.raises(ValueError):
        set_workers(0)
