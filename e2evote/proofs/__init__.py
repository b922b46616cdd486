"""Zero-knowledge proofs of EG 2.0 in compact (c, v) form (specs/05-proofs.md)."""

from e2evote.proofs.chaum_pedersen import (
    DecryptionProof,
    decryption_challenge,
    prove_decryption,
    verify_decryption,
)
from e2evote.proofs.range import RangeProof, prove_range, verify_range
from e2evote.proofs.schnorr import SchnorrProof, prove_schnorr, verify_schnorr

__all__ = [
    "DecryptionProof",
    "decryption_challenge",
    "prove_decryption",
    "verify_decryption",
    "RangeProof",
    "prove_range",
    "verify_range",
    "SchnorrProof",
    "prove_schnorr",
    "verify_schnorr",
]
