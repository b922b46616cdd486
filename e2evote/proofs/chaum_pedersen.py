"""Chaum–Pedersen proofs of correct decryption (EG 2.0 §3.6.3-3.6.5, Verifications 9, 11, 12, 14;
specs/05-proofs.md §Decryption).

The statement is (K = g^s, M = A^s). The challenge binds H_E, K and the ciphertext: tag 0x30 for
an ElGamal ciphertext (A, B), 0x31 for contest data (C0, C1, C2). The joint k-of-n protocol that
produces these proofs lives in e2evote.protocol.decryption; this module holds the proof value, the
single-prover form and the verifier.
"""

from __future__ import annotations

from dataclasses import dataclass

from e2evote.errors import EncodingError, VerificationError
from e2evote.groups.base import Element, FixedBase, Group, Scalar
from e2evote.hashing import H, Tag

__all__ = ["DecryptionProof", "decryption_challenge", "prove_decryption", "verify_decryption"]


@dataclass(frozen=True, slots=True)
class DecryptionProof:
    """(c, v) with a = g^v K^c, b = A^v M^c (specs/05-proofs.md §Decryption)."""

    c: bytes
    """c = H(H_E; tag, K, statement…, a, b, M), 32 bytes"""
    v: Scalar
    """v = (u - c s) mod q"""

    def __post_init__(self) -> None:
        if not isinstance(self.c, bytes) or len(self.c) != 32:
            raise EncodingError("decryption challenge must be 32 bytes")


def decryption_challenge(
    H_E: bytes, tag: int, K: Element, statement: tuple[bytes, ...], a: Element, b: Element, M: Element
) -> bytes:
    """eq. 71 (tag 0x30, statement = (A, B)) and eq. 81 (tag 0x31, statement = (C0, C1, C2))."""
    return H(H_E, tag, K.to_bytes(), *statement, a.to_bytes(), b.to_bytes(), M.to_bytes())


def prove_decryption(
    group: Group,
    H_E: bytes,
    K: Element,
    A: Element,
    M: Element,
    s: Scalar,
    statement: tuple[bytes, ...],
    tag: int = Tag.DECRYPTION_PROOF,
) -> DecryptionProof:
    """Single-prover proof that M = A^s for K = g^s (a quorum uses protocol.decryption instead)."""
    u = group.random_scalar()
    a = group.g_pow_sec(u)
    b = group.pow_sec(A, u)
    c = decryption_challenge(H_E, tag, K, statement, a, b, M)
    v = u - group.scalar_reduce(int.from_bytes(c, "big")) * s
    return DecryptionProof(c, v)


def verify_decryption(
    group: Group,
    H_E: bytes,
    K: Element,
    A: Element,
    M: Element,
    proof: DecryptionProof,
    statement: tuple[bytes, ...],
    *,
    tag: int = Tag.DECRYPTION_PROOF,
    step: str = "V9",
    obj: str = "",
    K_table: FixedBase | None = None,
) -> None:
    """Verification 9 / 11 / 12 / 14: a = g^v K^c, b = A^v M^c, c == H(…). ``K_table``, a fixed-base
    table of K (e.g. ``PublicKey.table``), makes a cheaper."""
    if proof.v.group != group:
        raise VerificationError(f"{step}.A", obj, "response of another group")
    c = group.scalar_reduce(int.from_bytes(proof.c, "big"))
    if K_table is not None and K_table.base == K:
        a = group.g_pow(proof.v) * K_table.pow(c)
    else:
        a = group.multi_pow([group.generator(), K], [proof.v, c])
    b = group.multi_pow([A, M], [proof.v, c])
    if decryption_challenge(H_E, tag, K, statement, a, b, M) != proof.c:
        raise VerificationError(f"{step}.B", obj, "decryption challenge does not match")
