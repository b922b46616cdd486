"""Schnorr proofs of knowledge of polynomial coefficients (EG 2.0 eq. 11-12, Verification 2;
specs/05-proofs.md §1), and the e2evote Schnorr signatures a guardian puts on its key-ceremony
messages with its key K_{i,0} (specs/05-proofs.md §5)."""

from __future__ import annotations

from dataclasses import dataclass

from e2evote.errors import EncodingError, VerificationError
from e2evote.groups.base import Element, Group, Scalar
from e2evote.hashing import EXT, H, H_ext, Tag, b_file, b_u32

__all__ = [
    "SchnorrProof",
    "prove_schnorr",
    "verify_schnorr",
    "schnorr_challenge",
    "sign_message",
    "verify_message_signature",
]


@dataclass(frozen=True, slots=True)
class SchnorrProof:
    """(c_{i,j}, v_{i,j}) for K_{i,j} = g^{a_{i,j}} (specs/05-proofs.md §Schnorr)."""

    c: bytes
    """c = H(H_P; 0x10, i, j, K_{i,j}, h_{i,j}), a 32-byte hash value"""
    v: Scalar
    """v = (u - c·a) mod q"""

    def __post_init__(self) -> None:
        if not isinstance(self.c, bytes) or len(self.c) != 32:
            raise EncodingError("Schnorr challenge must be 32 bytes")


def schnorr_challenge(H_P: bytes, i: int, j: int, K_ij: Element, h_ij: Element) -> bytes:
    """eq. 12."""
    return H(H_P, Tag.COEFFICIENT_PROOF, b_u32(i), b_u32(j), K_ij.to_bytes(), h_ij.to_bytes())


def prove_schnorr(
    group: Group, H_P: bytes, i: int, j: int, a_ij: Scalar, u: Scalar | None = None
) -> tuple[Element, SchnorrProof]:
    """Commit K_{i,j} = g^a and prove knowledge of a (``u`` only for test vectors)."""
    if u is None:
        u = group.random_scalar()
    K_ij = group.g_pow_sec(a_ij)
    h = group.g_pow_sec(u)
    c = schnorr_challenge(H_P, i, j, K_ij, h)
    v = u - group.scalar_reduce(int.from_bytes(c, "big")) * a_ij
    return K_ij, SchnorrProof(c, v)


def verify_schnorr(group: Group, H_P: bytes, i: int, j: int, K_ij: Element, proof: SchnorrProof) -> None:
    """Verification 2 for one coefficient: 2.A/2.B hold by construction of the decoded values."""
    obj = f"guardian {i} coefficient {j}"
    if K_ij.group != group or proof.v.group != group:
        raise VerificationError("V2.A", obj, "value of another group")
    c = group.scalar_reduce(int.from_bytes(proof.c, "big"))
    h = group.multi_pow([group.generator(), K_ij], [proof.v, c])  # (2.1)
    if schnorr_challenge(H_P, i, j, K_ij, h) != proof.c:
        raise VerificationError("V2.C", obj, "Schnorr challenge does not match")


def _signature_challenge(H_B: bytes, i: int, K_i: Element, h: Element, kind: bytes, message: bytes) -> bytes:
    """c = H(H_B; E0 ‖ b_file(CEREMONY_SIGNATURE) ‖ b(i,4) ‖ E(K_i) ‖ E(h) ‖ b_file(kind) ‖
    b_file(message))"""
    return H_ext(
        H_B, EXT.CEREMONY_SIGNATURE, b_u32(i), K_i.to_bytes(), h.to_bytes(), b_file(kind), b_file(message)
    )


def sign_message(
    group: Group, H_B: bytes, i: int, a_i: Scalar, kind: bytes, message: bytes, u: Scalar | None = None
) -> SchnorrProof:
    """Guardian i's Schnorr signature (c, v) on ``message`` of type ``kind`` with its secret
    a_{i,0} (K_i = g^{a_i}): h = g^u, c as above, v = u - c·a_i (specs/05-proofs.md §5). ``u`` only
    for tests."""
    if u is None:
        u = group.random_scalar()
    K_i = group.g_pow_sec(a_i)
    h = group.g_pow_sec(u)
    c = _signature_challenge(H_B, i, K_i, h, kind, message)
    v = u - group.scalar_reduce(int.from_bytes(c, "big")) * a_i
    return SchnorrProof(c, v)


def verify_message_signature(
    group: Group, H_B: bytes, i: int, K_i: Element, kind: bytes, message: bytes, sigma: SchnorrProof
) -> None:
    """S1: ``sigma`` is guardian i's signature on (kind, message) under K_i (specs/05-proofs.md §5)."""
    obj = f"guardian {i} {kind.decode('ascii', 'replace')} signature"
    if K_i.group != group or sigma.v.group != group:
        raise VerificationError("S1.A", obj, "value of another group")
    if K_i.is_identity():
        raise VerificationError("S1.A", obj, "the signing key is the identity")
    c = group.scalar_reduce(int.from_bytes(sigma.c, "big"))
    h = group.multi_pow([group.generator(), K_i], [sigma.v, c])
    if _signature_challenge(H_B, i, K_i, h, kind, message) != sigma.c:
        raise VerificationError("S1.B", obj, "signature does not match")
