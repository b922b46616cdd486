"""Exponential ElGamal and hashed ElGamal as EG 2.0 uses them (specs/04-elgamal.md).

* Enc(σ, ξ) = (g^ξ, K^(σ+ξ)) (eq. 24), homomorphic under component-wise multiplication (eq. 62);
* hashed ElGamal for guardian shares (eq. 14-20) and contest data (eq. 49-55, 86-89);
* nonce derivation from a ballot nonce ξ_B (eq. 25, 50).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from e2evote.errors import DecryptionError, EncodingError, GroupMismatchError
from e2evote.groups.base import Element, FixedBase, Group, Scalar
from e2evote.hashing import (
    EG20,
    SHARE_ENC_CONTEXT,
    SHARE_ENC_LABEL,
    Dialect,
    H,
    Tag,
    b_u32,
    kdf_ctr,
)

__all__ = [
    "Ciphertext",
    "PublicKey",
    "HashedCiphertext",
    "selection_nonce",
    "contest_data_nonce",
    "encrypt_share",
    "decrypt_share",
    "share_key",
    "encrypt_contest_data",
    "decrypt_contest_data",
    "contest_data_key",
    "CONTEST_DATA_NONCE_LABEL",
]


@dataclass(frozen=True, slots=True)
class Ciphertext:
    """(α, β) = (g^ξ, K^(σ+ξ)) — EG 2.0 eq. 24."""

    alpha: Element
    """α = g^ξ (specs/04-elgamal.md §Enc)"""
    beta: Element
    """β = K^(σ+ξ)"""

    def __mul__(self, other: Ciphertext) -> Ciphertext:
        """Homomorphic addition of the plaintexts (eq. 62)."""
        return Ciphertext(self.alpha * other.alpha, self.beta * other.beta)

    @staticmethod
    def product(items: Sequence[Ciphertext], group: Group) -> Ciphertext:
        """Π α_i, Π β_i (identity for an empty sequence)."""
        a = group.identity()
        b = group.identity()
        for c in items:
            a = a * c.alpha
            b = b * c.beta
        return Ciphertext(a, b)

    def to_bytes(self) -> bytes:
        return self.alpha.to_bytes() + self.beta.to_bytes()


class PublicKey:
    """An ElGamal public key K with its fixed-base table (built once, reused for a whole election)."""

    __slots__ = ("group", "K", "_table")

    def __init__(self, group: Group, K: Element) -> None:
        if K.group != group:
            raise GroupMismatchError("key of another group")
        self.group = group
        self.K = K
        self._table: FixedBase | None = None

    @property
    def table(self) -> FixedBase:
        if self._table is None:
            self._table = self.group.fixed_base(self.K)
        return self._table

    def build_tables(self) -> None:
        """Build the fixed-base tables of g and K now if they are not built yet (before forking worker
        processes, which then inherit them instead of each building its own)."""
        self.group.fixed_base(self.group.generator())
        _ = self.table

    def prepare(self, window: int) -> None:
        """Larger fixed-base tables for g and K before a long run (many ballots); see Group.prepare."""
        self.group.prepare(window)
        if self.group.name.startswith("modp"):
            self._table = self.group.fixed_base(self.K, window)

    def K_pow(self, e: Scalar) -> Element:
        """K^e through the fixed-base table."""
        return self.table.pow(e)

    def encrypt(self, sigma: int, xi: Scalar) -> Ciphertext:
        """Enc(σ, ξ) = (g^ξ, K^(σ+ξ)) (eq. 24); σ a small non-negative integer."""
        g = self.group
        return Ciphertext(g.g_pow(xi), self.K_pow(xi + g.scalar(sigma)))

    def __repr__(self) -> str:
        return f"PublicKey({self.group.name}, {self.K!r})"


def selection_nonce(group: Group, H_E: bytes, xi_B: bytes, contest_index: int, option_index: int) -> Scalar:
    """ξ_{i,j} = H(H_E; 0x20, ξ_B, ind_c(Λ_i), ind_o(λ_j)) mod q (eq. 25)."""
    _check32(xi_B, "ballot nonce")
    h = H(H_E, Tag.NONCE, xi_B, b_u32(contest_index), b_u32(option_index))
    return group.scalar_reduce(int.from_bytes(h, "big"))


#: eq. 50 label (the §5.5.3 table: b(12, 4) || "contest_data"; egk omits the length)
CONTEST_DATA_NONCE_LABEL = b"contest_data"


def contest_data_nonce(
    group: Group, H_E: bytes, xi_B: bytes, contest_index: int, dialect: Dialect = EG20
) -> Scalar:
    """ξ = H(H_E; 0x20, ξ_B, ind_c(Λ), "contest_data") mod q (eq. 50, §5.5.3 table)."""
    _check32(xi_B, "ballot nonce")
    label = CONTEST_DATA_NONCE_LABEL
    if dialect.data_nonce_label_prefixed:
        label = len(label).to_bytes(4, "big") + label
    h = H(H_E, Tag.NONCE, xi_B, b_u32(contest_index), label)
    return group.scalar_reduce(int.from_bytes(h, "big"))


def _check32(b: bytes, what: str) -> None:
    if not isinstance(b, bytes) or len(b) != 32:
        raise EncodingError(f"{what} must be 32 bytes")


# ---------------------------------------------------------------------------------------------------
# Hashed ElGamal
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HashedCiphertext:
    """(C0, C1, C2) — EG 2.0 eq. 18-19 (shares) and eq. 53-55 (contest data)."""

    C0: Element
    """C0 = α = g^ξ"""
    C1: bytes
    """C1 = data ⊕ key stream"""
    C2: bytes
    """C2 = HMAC(k0, b(C0) || C1), 32 bytes"""

    def __post_init__(self) -> None:
        if len(self.C2) != 32:
            raise EncodingError("C2 must be 32 bytes")


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


def share_key(
    group: Group, H_P: bytes, i: int, ell: int, K_ell: Element, alpha: Element, beta: Element
) -> bytes:
    """k_{i,ℓ} = H(H_P; 0x11, i, ℓ, K_ℓ, α, β) (eq. 15)."""
    return H(
        H_P,
        Tag.SHARE_ENCRYPTION_KEY,
        b_u32(i),
        b_u32(ell),
        K_ell.to_bytes(),
        alpha.to_bytes(),
        beta.to_bytes(),
    )


def _share_kdf(k: bytes, i: int, ell: int) -> tuple[bytes, bytes]:
    """k0, k1 of eq. 16-17: HMAC(k, ctr(1 byte) || Label || 0x00 || Context || 0x0200)."""
    context = SHARE_ENC_CONTEXT + b_u32(i) + b_u32(ell)
    k0 = hmac.new(k, b"\x01" + SHARE_ENC_LABEL + b"\x00" + context + b"\x02\x00", hashlib.sha256).digest()
    k1 = hmac.new(k, b"\x02" + SHARE_ENC_LABEL + b"\x00" + context + b"\x02\x00", hashlib.sha256).digest()
    return k0, k1


def encrypt_share(
    group: Group, H_P: bytes, i: int, ell: int, K_ell: Element, share: Scalar, xi: Scalar
) -> HashedCiphertext:
    """E_ℓ(P_i(ℓ)) (eq. 14-19): guardian i encrypts its share for guardian ℓ under K_ℓ with nonce ξ."""
    alpha = group.g_pow_sec(xi)
    beta = group.pow_sec(K_ell, xi)
    k = share_key(group, H_P, i, ell, K_ell, alpha, beta)
    k0, k1 = _share_kdf(k, i, ell)
    C1 = _xor(share.to_bytes(), k1[: group.scalar_bytes])
    C2 = hmac.new(k0, alpha.to_bytes() + C1, hashlib.sha256).digest()
    return HashedCiphertext(alpha, C1, C2)


def decrypt_share(
    group: Group, H_P: bytes, i: int, ell: int, K_ell: Element, s_ell: Scalar, ct: HashedCiphertext
) -> Scalar:
    """Guardian ℓ decrypts guardian i's share with its secret s_ℓ (eq. 20); MAC checked first."""
    beta = group.pow_sec(ct.C0, s_ell)
    k = share_key(group, H_P, i, ell, K_ell, ct.C0, beta)
    k0, k1 = _share_kdf(k, i, ell)
    if len(ct.C1) != group.scalar_bytes:
        raise DecryptionError(f"share ciphertext from guardian {i} has the wrong length")
    mac = hmac.new(k0, ct.C0.to_bytes() + ct.C1, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, ct.C2):
        raise DecryptionError(f"share from guardian {i} to guardian {ell}: MAC check failed")
    return group.scalar_from_bytes(_xor(ct.C1, k1[: group.scalar_bytes]))


def contest_data_key(H_E: bytes, K: Element, alpha: Element, beta: Element) -> bytes:
    """k = H(H_E; 0x22, K, α, β) (eq. 51)."""
    return H(H_E, Tag.CONTEST_DATA_KEY, K.to_bytes(), alpha.to_bytes(), beta.to_bytes())


def _data_keys(
    k: bytes, contest_index: int, contest_label: str, blocks: int, dialect: Dialect
) -> list[bytes]:
    """k_0 … k_{b_D} of eq. 52 / 86-87 in the given dialect."""
    if dialect.data_context_uses_label:
        context = dialect.data_context + contest_label.encode("utf-8")
    else:
        context = dialect.data_context + b_u32(contest_index)
    out_bits = (blocks + 1) * 256 if dialect.data_length_includes_mac_key else blocks * 256
    return [kdf_ctr(k, i, dialect.data_label, context, out_bits) for i in range(blocks + 1)]


def encrypt_contest_data(
    key: PublicKey,
    H_E: bytes,
    contest_index: int,
    data: bytes,
    xi: Scalar,
    *,
    contest_label: str = "",
    dialect: Dialect = EG20,
) -> HashedCiphertext:
    """C_D = (C0, C1, C2) for the padded contest data D of 32·b_D bytes (eq. 49-55)."""
    if len(data) == 0 or len(data) % 32:
        raise EncodingError("contest data must be a positive multiple of 32 bytes")
    blocks = len(data) // 32
    g = key.group
    alpha = g.g_pow(xi)
    beta = key.K_pow(xi)
    k = contest_data_key(H_E, key.K, alpha, beta)
    keys = _data_keys(k, contest_index, contest_label, blocks, dialect)
    C1 = b"".join(_xor(data[32 * (i - 1) : 32 * i], keys[i]) for i in range(1, blocks + 1))
    C2 = hmac.new(keys[0], alpha.to_bytes() + C1, hashlib.sha256).digest()
    return HashedCiphertext(alpha, C1, C2)


def decrypt_contest_data(
    H_E: bytes,
    K: Element,
    contest_index: int,
    ct: HashedCiphertext,
    beta: Element,
    *,
    contest_label: str = "",
    dialect: Dialect = EG20,
) -> bytes:
    """D from C_D given β = C0^s (eq. 86-89); the MAC is checked before any decryption.

    egk writes C1 of numBytes bytes, not always a multiple of 32; the last block is then partial.
    """
    if len(ct.C1) == 0:
        raise DecryptionError("empty contest data ciphertext")
    blocks = (len(ct.C1) + 31) // 32
    k = contest_data_key(H_E, K, ct.C0, beta)
    keys = _data_keys(k, contest_index, contest_label, blocks, dialect)
    mac = hmac.new(keys[0], ct.C0.to_bytes() + ct.C1, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, ct.C2):
        raise DecryptionError(f"contest data of contest {contest_index}: MAC check failed")
    out = b"".join(
        bytes(x ^ y for x, y in zip(ct.C1[32 * (i - 1) : 32 * i], keys[i], strict=False))
        for i in range(1, blocks + 1)
    )
    return out
