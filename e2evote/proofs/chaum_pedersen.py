"""Chaum–Pedersen proofs of correct decryption (EG 2.0 §3.6.3-3.6.5, Verifications 9, 11, 12, 14;
specs/05-proofs.md §Decryption).

The statement is (K = g^s, M = A^s). The challenge binds H_E, K and the ciphertext: tag 0x30 for
an ElGamal ciphertext (A, B), 0x31 for contest data (C0, C1, C2). The joint k-of-n protocol that
produces these proofs lives in e2evote.protocol.decryption; this module holds the proof value, the
single-prover form and the verifier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from e2evote.errors import EncodingError, VerificationError
from e2evote.groups.base import Element, FixedBase, Group, Scalar
from e2evote.groups.parallel import start_shared
from e2evote.hashing import H, Tag

__all__ = [
    "DecryptionProof",
    "DecryptionStatement",
    "decryption_challenge",
    "prove_decryption",
    "verify_decryption",
    "verify_decryption_many",
]


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
    item = DecryptionStatement(A, M, proof, statement, step, obj)
    failure = verify_decryption_many(group, H_E, K, [item], tag=tag, K_table=K_table)[0]
    if failure is not None:
        raise failure


@dataclass(frozen=True, slots=True)
class DecryptionStatement:
    """One decryption proof to check in a batch: M = A^s for the s of K (step "V9", "V12", …)."""

    A: Element
    M: Element
    proof: DecryptionProof
    statement: tuple[bytes, ...]
    """the hashed statement: (A, B) encoded, or (C0, C1, C2)"""
    step: str
    obj: str


def verify_decryption_many(
    group: Group,
    H_E: bytes,
    K: Element,
    items: Sequence[DecryptionStatement],
    *,
    tag: int = Tag.DECRYPTION_PROOF,
    K_table: FixedBase | None = None,
) -> list[VerificationError | None]:
    """:func:`verify_decryption` over many proofs: per item, None or its failure. The variable-base
    powers A^v, M^c run on the worker threads (GIL-free) while this thread computes g^v K^c."""
    out: list[VerificationError | None] = [None] * len(items)
    ok: list[int] = []
    for n, it in enumerate(items):
        if it.proof.v.group != group:
            out[n] = VerificationError(f"{it.step}.A", it.obj, "response of another group")
        else:
            ok.append(n)
    cs = {n: group.scalar_reduce(int.from_bytes(items[n].proof.c, "big")) for n in ok}

    def var_part(chunk: Sequence[int]) -> list[Element]:
        return [
            group.pow_exp_list(items[n].A, [items[n].proof.v])[0] * group.pow_exp_list(items[n].M, [cs[n]])[0]
            for n in chunk
        ]

    job = start_shared(var_part, ok, chunk=2)
    table = K_table if K_table is not None and K_table.base == K else None
    gen = group.generator()
    a_values = [
        group.g_pow(items[n].proof.v) * table.pow(cs[n])
        if table is not None
        else group.multi_pow([gen, K], [items[n].proof.v, cs[n]])
        for n in ok
    ]
    for n, a, b in zip(ok, a_values, job.result(), strict=True):
        it = items[n]
        if decryption_challenge(H_E, tag, K, it.statement, a, b, it.M) != it.proof.c:
            out[n] = VerificationError(f"{it.step}.B", it.obj, "decryption challenge does not match")
    return out
