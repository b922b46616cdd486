"""Completeness and soundness-by-mutation of every proof, over every group (specs/05-proofs.md)."""

from __future__ import annotations

import dataclasses
import secrets

import pytest
from hypothesis import given
from hypothesis import strategies as st

from e2evote.elgamal import Ciphertext, PublicKey
from e2evote.errors import VerificationError
from e2evote.groups import ED25519, TEST, Group, Scalar
from e2evote.hashing import Tag
from e2evote.proofs import (
    prove_decryption,
    prove_range,
    prove_schnorr,
    verify_decryption,
    verify_range,
    verify_schnorr,
)
from e2evote.proofs.chaum_pedersen import DecryptionStatement, verify_decryption_many
from e2evote.proofs.schnorr import sign_message, verify_message_signature

FAST = st.sampled_from([TEST, ED25519])


def _bump(group: Group, s: Scalar) -> Scalar:
    return s + group.scalar(1)


def _flip(b: bytes, i: int) -> bytes:
    i %= len(b)
    return b[:i] + bytes([b[i] ^ 1]) + b[i + 1 :]


@given(FAST, st.integers(1, 9), st.integers(0, 8), st.integers(0, 63))
def test_schnorr_complete_and_mutations_rejected(group: Group, i: int, j: int, where: int) -> None:
    H_P = secrets.token_bytes(32)
    a = group.random_scalar()
    K, proof = prove_schnorr(group, H_P, i, j, a)
    verify_schnorr(group, H_P, i, j, K, proof)
    mutants = [
        (H_P, i + 1, j, K, proof),
        (H_P, i, j + 1, K, proof),
        (_flip(H_P, where), i, j, K, proof),
        (H_P, i, j, K * group.generator(), proof),
        (H_P, i, j, K, dataclasses.replace(proof, v=_bump(group, proof.v))),
        (H_P, i, j, K, dataclasses.replace(proof, c=_flip(proof.c, where))),
    ]
    for args in mutants:
        with pytest.raises(VerificationError):
            verify_schnorr(group, *args)


@given(FAST, st.integers(1, 9), st.binary(max_size=64), st.integers(0, 63))
def test_ceremony_signature_binds_election_signer_kind_and_message(
    group: Group, i: int, message: bytes, where: int
) -> None:
    H_B = secrets.token_bytes(32)
    a = group.random_scalar()
    K = group.g_pow(a)
    sigma = sign_message(group, H_B, i, a, b"share", message)
    verify_message_signature(group, H_B, i, K, b"share", message, sigma)
    mutants = [
        (_flip(H_B, where), i, K, b"share", message, sigma),
        (H_B, i + 1, K, b"share", message, sigma),
        (H_B, i, K * group.generator(), b"share", message, sigma),
        (H_B, i, K, b"reveal", message, sigma),
        (H_B, i, K, b"share", message + b"\x00", sigma),
        (H_B, i, K, b"share", message, dataclasses.replace(sigma, v=_bump(group, sigma.v))),
        (H_B, i, K, b"share", message, dataclasses.replace(sigma, c=_flip(sigma.c, where))),
    ]
    if message:
        mutants.append((H_B, i, K, b"share", _flip(message, where), sigma))
    for args in mutants:
        with pytest.raises(VerificationError) as bad:
            verify_message_signature(group, *args)
        assert bad.value.step == "S1.B"
    with pytest.raises(VerificationError) as exc:
        verify_message_signature(group, H_B, i, group.identity(), b"share", message, sigma)
    assert exc.value.step == "S1.A"


@given(FAST, st.integers(1, 4), st.data())
def test_range_complete_and_mutations_rejected(group: Group, R: int, data: st.DataObject) -> None:
    ell = data.draw(st.integers(0, R))
    H_E = secrets.token_bytes(32)
    key = PublicKey(group, group.g_pow(group.random_scalar()))
    xi = group.random_scalar()
    ct = key.encrypt(ell, xi)
    proof = prove_range(key, H_E, ct, ell, R, xi)
    verify_range(key, H_E, ct, proof, R, step="V5", obj="t")
    j = data.draw(st.integers(0, R))
    c2 = list(proof.c)
    c2[j] = _bump(group, c2[j])
    v2 = list(proof.v)
    v2[j] = _bump(group, v2[j])
    bad_cases = [
        (key, H_E, ct, dataclasses.replace(proof, c=tuple(c2)), R),
        (key, H_E, ct, dataclasses.replace(proof, v=tuple(v2)), R),
        (key, _flip(H_E, j), ct, proof, R),
        (key, H_E, Ciphertext(ct.alpha * group.generator(), ct.beta), proof, R),
        (key, H_E, Ciphertext(ct.alpha, ct.beta * group.generator()), proof, R),
        (PublicKey(group, key.K * group.generator()), H_E, ct, proof, R),
        (key, H_E, ct, proof, R + 1),
    ]
    for args in bad_cases:
        with pytest.raises(VerificationError):
            verify_range(*args, step="V5", obj="t")


@given(FAST, st.integers(0, 1))
def test_range_proof_of_out_of_range_value_fails(group: Group, extra: int) -> None:
    """A ciphertext of R+1 (+extra) cannot carry a valid 0..R proof made for a different value."""
    R = 1
    H_E = secrets.token_bytes(32)
    key = PublicKey(group, group.g_pow(group.random_scalar()))
    xi = group.random_scalar()
    ct_bad = key.encrypt(R + 1 + extra, xi)
    honest = prove_range(key, H_E, key.encrypt(1, xi), 1, R, xi)
    with pytest.raises(VerificationError):
        verify_range(key, H_E, ct_bad, honest, R, step="V5", obj="t")


@given(FAST, st.integers(0, 50), st.sampled_from([Tag.DECRYPTION_PROOF, Tag.CONTEST_DATA_DECRYPTION_PROOF]))
def test_decryption_proof(group: Group, t: int, tag: int) -> None:
    H_E = secrets.token_bytes(32)
    s = group.random_scalar()
    K = group.g_pow(s)
    key = PublicKey(group, K)
    ct = key.encrypt(t, group.random_scalar())
    M = ct.alpha**s
    stmt = (ct.alpha.to_bytes(), ct.beta.to_bytes())
    proof = prove_decryption(group, H_E, K, ct.alpha, M, s, stmt, tag)
    verify_decryption(group, H_E, K, ct.alpha, M, proof, stmt, tag=tag)
    assert group.dlog(ct.beta / M, K, 50) == t
    for args in [
        (H_E, K, ct.alpha, M * group.generator(), proof, stmt),
        (H_E, K, ct.alpha, M, dataclasses.replace(proof, v=_bump(group, proof.v)), stmt),
        (H_E, K, ct.alpha, M, proof, (stmt[1], stmt[0])),
        (_flip(H_E, 3), K, ct.alpha, M, proof, stmt),
    ]:
        with pytest.raises(VerificationError):
            verify_decryption(group, *args, tag=tag)
    with pytest.raises(VerificationError):
        verify_decryption(group, H_E, K, ct.alpha, M, proof, stmt, tag=tag ^ 1)


@given(
    FAST, st.lists(st.sampled_from(["ok", "M", "v", "c", "group"]), min_size=1, max_size=12), st.booleans()
)
def test_decryption_proofs_in_a_batch_fail_exactly_the_bad_ones(
    group: Group, kinds: list[str], table: bool
) -> None:
    """verify_decryption_many: each item's result is the single check's, in order, with or without
    a table of K (the worker threads compute the variable-base powers)."""
    H_E = secrets.token_bytes(32)
    s = group.random_scalar()
    K = group.g_pow(s)
    key = PublicKey(group, K)
    other = ED25519 if group is TEST else TEST
    items = []
    for n, kind in enumerate(kinds):
        ct = key.encrypt(n, group.random_scalar())
        M = ct.alpha**s
        stmt = (ct.alpha.to_bytes(), ct.beta.to_bytes())
        proof = prove_decryption(group, H_E, K, ct.alpha, M, s, stmt)
        if kind == "M":
            M = M * group.generator()
        elif kind == "v":
            proof = dataclasses.replace(proof, v=_bump(group, proof.v))
        elif kind == "c":
            proof = dataclasses.replace(proof, c=_flip(proof.c, n))
        elif kind == "group":
            proof = dataclasses.replace(proof, v=other.scalar(1))
        items.append(DecryptionStatement(ct.alpha, M, proof, stmt, "V9", f"item {n}"))
    got = verify_decryption_many(group, H_E, K, items, K_table=key.table if table else None)
    want = {"ok": None, "M": "V9.B", "v": "V9.B", "c": "V9.B", "group": "V9.A"}
    assert [None if f is None else (f.step, f.obj) for f in got] == [
        None if want[k] is None else (want[k], f"item {n}") for n, k in enumerate(kinds)
    ]


def test_proofs_in_the_standard_group(group: Group) -> None:
    """One complete round of each proof in every group, including the 4096-bit one."""
    H = secrets.token_bytes(32)
    K, sp = prove_schnorr(group, H, 1, 0, group.random_scalar())
    verify_schnorr(group, H, 1, 0, K, sp)
    key = PublicKey(group, K)
    xi = group.random_scalar()
    ct = key.encrypt(1, xi)
    verify_range(key, H, ct, prove_range(key, H, ct, 1, 1, xi), 1, step="V5", obj="t")
