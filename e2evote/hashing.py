"""The hash function H and every domain tag e2evote uses (specs/03-hashing.md).

H(B0; B1) = HMAC-SHA-256(B0, B1) with |B0| = 32 (EG 2.0 §5.2). B1 starts with a one-byte domain tag
followed by fixed-width or length-prefixed fields (EG 2.0 §5.1); callers build B1 from the encoders
below, never from ``str()`` or separators.

All domain tags live here and nowhere else: EG 2.0's one-byte tags (0x00…0x43, §5.5) and e2evote's
extension tags (``E2EVOTE-…`` byte strings, versioned).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Final

from e2evote.errors import EncodingError
from e2evote.groups.base import Group

__all__ = [
    "H",
    "H_ext",
    "Tag",
    "CeremonyKind",
    "b_u32",
    "b_str",
    "b_file",
    "kdf_ctr",
    "EXT",
    "SPEC_VERSION",
    "version_bytes",
    "parameter_base_hash",
    "manifest_hash",
    "base_hash",
    "extended_base_hash",
    "Dialect",
    "EG20",
    "EGK",
    "SHARE_ENC_LABEL",
    "SHARE_ENC_CONTEXT",
]


class Tag:
    """EG 2.0 §5.5 one-byte domain-separation tags (first byte of B1)."""

    PARAMETER_BASE: Final = 0x00  # H_P, eq. 4
    MANIFEST: Final = 0x01  # H_M, eq. 6
    BASE: Final = 0x02  # H_B, eq. 7
    COEFFICIENT_PROOF: Final = 0x10  # Schnorr challenge, eq. 12
    SHARE_ENCRYPTION_KEY: Final = 0x11  # k_{i,l}, eq. 15
    EXTENDED_BASE: Final = 0x12  # H_E, eq. 23
    NONCE: Final = 0x20  # selection / contest-data nonces, eq. 25, 50
    RANGE_PROOF: Final = 0x21  # range-proof challenges, eq. 28, 46, 56
    CONTEST_DATA_KEY: Final = 0x22  # hashed-ElGamal key for contest data, eq. 51
    CONTEST_HASH: Final = 0x23  # chi_l, eq. 57
    CONFIRMATION_CODE: Final = 0x24  # H(B), H_0, closing hash, eq. 58-61
    DECRYPTION_PROOF: Final = 0x30  # Chaum-Pedersen decryption challenge, eq. 71
    CONTEST_DATA_DECRYPTION_PROOF: Final = 0x31  # eq. 81
    PRE_SELECTION_HASH: Final = 0x40  # eq. 92-93
    PRE_CONTEST_HASH: Final = 0x41  # eq. 94
    PRE_BALLOT_HASH: Final = 0x42  # eq. 95
    PRE_NONCE: Final = 0x43  # eq. 96
    E2EVOTE_EXTENSION: Final = 0xE0  # e2evote: B1 = 0xE0 || b_file(EXT tag) || fields (specs/03-hashing.md)


class EXT:
    """e2evote extension tags: ASCII byte strings, each versioned, hashed as length-prefixed fields."""

    # --- parameters of non-EG groups (specs/02-groups.md) ---
    GROUP_PARAMETERS: Final = b"E2EVOTE-GROUP-PARAMETERS-v1"
    # --- record authentication (specs/07-record.md) ---
    RECORD_ROOT: Final = b"E2EVOTE-RECORD-ROOT-v1"
    # --- key-ceremony message signatures (specs/05-proofs.md §5, specs/06-ceremony.md §5) ---
    CEREMONY_SIGNATURE: Final = b"E2EVOTE-CEREMONY-SIGNATURE-v1"
    CEREMONY_KEYS: Final = b"E2EVOTE-CEREMONY-KEYS-v1"  # fingerprint of every guardian's round-1 keys
    # --- outcome rules (specs/09-outcomes.md) ---
    OUTCOME_TIE_LOT: Final = b"E2EVOTE-OUTCOME-TIE-LOT-v1"
    # --- e2evote extension tags: board (specs/08-board.md) ---
    BOARD_STH: Final = b"E2EVOTE-BOARD-STH-v1"  # signed tree head, specs/08-board.md §4.1
    BOARD_RECEIPT: Final = b"E2EVOTE-BOARD-RECEIPT-v1"  # ballot receipt, §4.2
    BOARD_BALLOT_SUBMISSION: Final = b"E2EVOTE-BOARD-BALLOT-SUBMISSION-v1"  # voter signature, §5.3
    BOARD_CREDENTIAL_LIST: Final = b"E2EVOTE-BOARD-CREDENTIAL-LIST-v1"  # credential-list hash, §5.2
    BOARD_CHALLENGE: Final = b"E2EVOTE-BOARD-CHALLENGE-v1"  # a voter's signed challenge, §6.2
    BOARD_RECORD: Final = b"E2EVOTE-BOARD-RECORD-v1"  # exported log file magic, §7
    # (the board adds its tags here)


class CeremonyKind:
    """The ``kind`` field of a guardian's ceremony-message signature (EXT.CEREMONY_SIGNATURE;
    specs/05-proofs.md §5, specs/06-ceremony.md §5.1)."""

    SHARE: Final = b"share"
    COMPLAINT: Final = b"complaint"
    REVEAL: Final = b"reveal"
    SHARE_CHECK: Final = b"share-check"
    KEY_CONFIRMATION: Final = b"key-confirmation"


@dataclass(frozen=True, slots=True)
class Dialect:
    """Byte-format variants of EG 2.0 hash inputs (specs/egk-compat.md).

    ``EG20`` is the specification text (e2evote's native records); ``EGK`` is what egk's records
    contain. Every field names one place where the two differ.
    """

    name: str
    baux_length_prefix: bool
    """eq. 58-59: B_aux preceded by b(len(B_aux), 4) (spec) or not (egk)"""
    chain_first_baux_is_h0_only: bool
    """eq. 60 for j = 1: B_aux,1 = H_0 || B_aux,0 (spec) or H_0 alone (egk)"""
    data_label: bytes
    """eq. 52 KDF Label"""
    data_context_uses_label: bool
    """eq. 52 Context: "contest data" || b(ind_c, 4) (spec) or "contest_data" || contest label (egk)"""
    data_context: bytes
    data_length_includes_mac_key: bool
    """eq. 52 length field: (b_D + 1)·256 (spec) or b_D·256 (egk)"""
    data_nonce_label_prefixed: bool
    """eq. 50 label: b(12, 4) || "contest_data" (spec table) or the 12 bytes alone (egk)"""
    data_proof_c1_hex: bool
    """eq. 81: C1 as b(C1, l_p) (spec table) or as the ASCII of its upper-case hex (egk)"""
    pre_labels_as_text: bool
    """eq. 94, 96: contest, selection and option by b(index, 4) (spec, and EGK: no egk record with
    pre-encrypted ballots was available) or by their labels' UTF-8 bytes without length (the layout
    of egk's 1.9-era pre-encryption vectors; specs/13-pre-encryption.md §2)"""


EG20 = Dialect(
    name="eg2.0",
    baux_length_prefix=True,
    chain_first_baux_is_h0_only=False,
    data_label=b"data enc keys",
    data_context_uses_label=False,
    data_context=b"contest data",
    data_length_includes_mac_key=True,
    data_nonce_label_prefixed=True,
    data_proof_c1_hex=False,
    pre_labels_as_text=False,
)
EGK = Dialect(
    name="egk",
    baux_length_prefix=False,
    chain_first_baux_is_h0_only=True,
    data_label=b"share_enc_keys",
    data_context_uses_label=True,
    data_context=b"contest_data",
    data_length_includes_mac_key=False,
    data_nonce_label_prefixed=False,
    data_proof_c1_hex=True,
    pre_labels_as_text=False,
)

# KDF labels of share encryption (EG 2.0 eq. 16-17); contest data labels are in Dialect
SHARE_ENC_LABEL: Final = b"share enc keys"
SHARE_ENC_CONTEXT: Final = b"share encrypt"


def H(key: bytes, tag: int, *parts: bytes) -> bytes:
    """EG 2.0 eq. 105: HMAC-SHA-256(key, tag || parts...). ``key`` must be 32 bytes."""
    if len(key) != 32:
        raise EncodingError(f"hash key must be 32 bytes, got {len(key)}")
    if not 0 <= tag <= 0xFF:
        raise EncodingError(f"domain tag {tag!r} is not one byte")
    mac = hmac.new(key, bytes((tag,)), hashlib.sha256)
    for part in parts:
        mac.update(part)
    return mac.digest()


def H_ext(key: bytes, ext_tag: bytes, *parts: bytes) -> bytes:
    """e2evote extension hash: H(key; 0xE0, b_file(ext_tag), parts…). 0xE0 is unused by EG 2.0, and
    the length-prefixed, versioned tag separates the extensions from each other."""
    return H(key, Tag.E2EVOTE_EXTENSION, b_file(ext_tag), *parts)


def b_u32(i: int) -> bytes:
    """EG 2.0 §5.1.3: a small integer 0 <= i < 2^31 as 4 big-endian bytes."""
    if not 0 <= i < 2**31:
        raise EncodingError(f"small integer {i} out of range [0, 2^31)")
    return i.to_bytes(4, "big")


def b_str(s: str) -> bytes:
    """EG 2.0 §5.1.4: a string as 4-byte big-endian length followed by its UTF-8 bytes."""
    raw = s.encode("utf-8")
    return b_file(raw)


def b_file(data: bytes) -> bytes:
    """EG 2.0 §5.1.5: a byte string (file) as 4-byte big-endian length followed by the bytes."""
    if len(data) >= 2**32:
        raise EncodingError("input longer than 2^32 bytes cannot be hashed")
    return len(data).to_bytes(4, "big") + data


def kdf_ctr(key: bytes, i: int, label: bytes, context: bytes, out_bits: int) -> bytes:
    """SP 800-108r1 KDF in counter mode, one 32-byte block (EG 2.0 eq. 16-17, 52, 86-87).

    k_i = HMAC(key, b(i,4) || label || 0x00 || context || b(out_bits, 4)).
    (The share-encryption KDF of eq. 16-17 writes the counter as one byte and the length as two;
    see ``e2evote.elgamal._share_kdf``.)
    """
    return hmac.new(
        key, i.to_bytes(4, "big") + label + b"\x00" + context + out_bits.to_bytes(4, "big"), hashlib.sha256
    ).digest()


# ---------------------------------------------------------------------------------------------------
# Election hashes (EG 2.0 §3.1.2-3.1.5, §3.2.3)
# ---------------------------------------------------------------------------------------------------

#: EG 2.0 §3.1.2 version string; ver = its UTF-8 bytes padded with 0x00 to 32 bytes (errata: 26 zeros)
SPEC_VERSION: Final = "v2.0.0"


def version_bytes(version: str = SPEC_VERSION) -> bytes:
    """ver: the version string's UTF-8 bytes right-padded with zeros to 32 bytes (EG 2.0 eq. 4)."""
    raw = version.encode("utf-8")
    if len(raw) > 32:
        raise EncodingError("version string longer than 32 bytes")
    return raw.ljust(32, b"\x00")


def parameter_base_hash(group: Group, version: str = SPEC_VERSION) -> bytes:
    """H_P = H(ver; 0x00, p, q, g) for the EG 2.0 standard group (eq. 4).

    Any other group (e2evote extension, specs/03-hashing.md §H_P): H(ver; 0x00,
    b_file("E2EVOTE-GROUP-PARAMETERS-v1"), b_str(group name), group.parameter_bytes()).
    """
    if group.name == "modp-4096":
        return H(version_bytes(version), Tag.PARAMETER_BASE, group.parameter_bytes())
    return H(
        version_bytes(version),
        Tag.PARAMETER_BASE,
        b_file(EXT.GROUP_PARAMETERS),
        b_str(group.name),
        group.parameter_bytes(),
    )


def manifest_hash(H_P: bytes, manifest_file: bytes) -> bytes:
    """H_M = H(H_P; 0x01, manifest) with the manifest file length-prefixed (eq. 6, §5.1.5)."""
    return H(H_P, Tag.MANIFEST, b_file(manifest_file))


def base_hash(H_P: bytes, H_M: bytes, n: int, k: int) -> bytes:
    """H_B = H(H_P; 0x02, H_M, n, k) (eq. 7)."""
    return H(H_P, Tag.BASE, _h32(H_M), b_u32(n), b_u32(k))


def extended_base_hash(H_B: bytes, K: bytes) -> bytes:
    """H_E = H(H_B; 0x12, K) (eq. 23); ``K`` is the encoded joint key."""
    return H(_h32(H_B), Tag.EXTENDED_BASE, K)


def _h32(h: bytes) -> bytes:
    if len(h) != 32:
        raise EncodingError(f"hash value must be 32 bytes, got {len(h)}")
    return h
