"""The election context: parameters, manifest, guardians' joint key and the hashes H_P, H_M, H_B, H_E
(EG 2.0 §3.1.2-3.1.5, §3.2.3; specs/06-manifest.md §Context)."""

from __future__ import annotations

from dataclasses import dataclass, field

from e2evote.elgamal import PublicKey
from e2evote.errors import ManifestError
from e2evote.groups.base import Element, Group
from e2evote.hashing import (
    EG20,
    SPEC_VERSION,
    Dialect,
    base_hash,
    extended_base_hash,
    manifest_hash,
    parameter_base_hash,
)
from e2evote.protocol.manifest import Manifest

__all__ = ["ElectionParameters", "ElectionContext"]


@dataclass(frozen=True, slots=True)
class ElectionParameters:
    """What is fixed before the key ceremony: group, version, manifest, n and k (H_P, H_M, H_B)."""

    group: Group
    manifest: Manifest
    n: int
    """number of guardians"""
    k: int
    """quorum"""
    version: str = SPEC_VERSION
    dialect: Dialect = EG20
    H_P: bytes = field(init=False)
    H_M: bytes = field(init=False)
    H_B: bytes = field(init=False)

    def __post_init__(self) -> None:
        if not 1 <= self.k <= self.n < 2**31:
            raise ManifestError(f"need 1 <= k <= n, got n={self.n}, k={self.k}")
        H_P = parameter_base_hash(self.group, self.version)
        H_M = manifest_hash(H_P, self.manifest.raw)
        object.__setattr__(self, "H_P", H_P)
        object.__setattr__(self, "H_M", H_M)
        object.__setattr__(self, "H_B", base_hash(H_P, H_M, self.n, self.k))


@dataclass(frozen=True, slots=True)
class ElectionContext:
    """Parameters plus the joint key K and H_E = H(H_B; 0x12, K): what ballots are encrypted under."""

    parameters: ElectionParameters
    K: Element
    """the joint election public key (eq. 8)"""
    H_E: bytes = field(init=False)
    key: PublicKey = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.K.group != self.parameters.group:
            raise ManifestError("joint key of another group")
        object.__setattr__(self, "H_E", extended_base_hash(self.parameters.H_B, self.K.to_bytes()))
        object.__setattr__(self, "key", PublicKey(self.parameters.group, self.K))

    @property
    def group(self) -> Group:
        return self.parameters.group

    @property
    def manifest(self) -> Manifest:
        return self.parameters.manifest

    @property
    def dialect(self) -> Dialect:
        return self.parameters.dialect
