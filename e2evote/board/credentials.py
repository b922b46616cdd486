"""Voter credentials: an e2evote extension, version 1 (specs/08-board.md §5).

A credential authority gives each eligible voter an Ed25519 signing key (the *credential*) and
publishes only the list of public keys. The board commits to that list's hash in its setup event and
accepts a ballot only with a valid signature by a listed key over

    b_file(EXT.BOARD_BALLOT_SUBMISSION) || election_hash (32 bytes) || b_file(ballot)

A voter may re-vote; the last ballot per credential counts (§6). Only the credential that cast a
ballot can challenge (spoil) it, with a signature over

    b_file(EXT.BOARD_CHALLENGE) || election_hash (32 bytes) || b_file(confirmation_code)
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

from nacl.signing import SigningKey

from e2evote.board.codec import (
    MAX_ARRAY_LEN,
    expect_array,
    expect_bytes,
    expect_int,
    expect_opt_bytes,
    pack,
    unpack,
)
from e2evote.board.merkle import HASH_SIZE
from e2evote.board.signing import MAX_CODE_SIZE, PUBLIC_KEY_SIZE, SIGNATURE_SIZE, ed25519_verify
from e2evote.errors import EncodingError
from e2evote.hashing import EXT, b_file

__all__ = [
    "CREDENTIAL_EXTENSION_VERSION",
    "MAX_SUBMISSION_BYTES",
    "CredentialList",
    "VoterCredential",
    "BallotSubmission",
    "ChallengeRequest",
    "issue_credentials",
    "submission_message",
    "challenge_message",
]

CREDENTIAL_EXTENSION_VERSION: Final = 1
MAX_SUBMISSION_BYTES: Final = 4 * 1024 * 1024
"""Absolute upper bound on an encoded submission (the HTTP limit is usually lower)."""


def submission_message(election_hash: bytes, ballot: bytes) -> bytes:
    """The bytes a voter credential signs (specs/08-board.md §5.3)."""
    if len(election_hash) != HASH_SIZE:
        raise EncodingError("election hash must be 32 bytes")
    return b_file(EXT.BOARD_BALLOT_SUBMISSION) + election_hash + b_file(ballot)


def challenge_message(election_hash: bytes, confirmation_code: bytes) -> bytes:
    """The bytes a voter credential signs to challenge its ballot (specs/08-board.md §6.2)."""
    if len(election_hash) != HASH_SIZE:
        raise EncodingError("election hash must be 32 bytes")
    return b_file(EXT.BOARD_CHALLENGE) + election_hash + b_file(confirmation_code)


def _check_pair(credential: bytes | None, signature: bytes | None) -> None:
    """A credential public key and its signature: both absent, or 32 and 64 bytes."""
    if (credential is None) != (signature is None):
        raise EncodingError("credential and signature come together")
    if credential is not None and len(credential) != PUBLIC_KEY_SIZE:
        raise EncodingError("credential must be 32 bytes")
    if signature is not None and len(signature) != SIGNATURE_SIZE:
        raise EncodingError("signature must be 64 bytes")


def _signed(credential: bytes | None, signature: bytes | None, message: bytes) -> bool:
    """Whether ``signature`` by ``credential`` verifies over ``message`` (False if unsigned)."""
    if credential is None or signature is None:
        return False
    return ed25519_verify(credential, message, signature)


@dataclass(frozen=True, slots=True, repr=False)
class CredentialList:
    """The public credential list: sorted, distinct 32-byte Ed25519 public keys (§5.2)."""

    keys: tuple[bytes, ...]
    _members: frozenset[bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for k in self.keys:
            if not isinstance(k, bytes) or len(k) != PUBLIC_KEY_SIZE:
                raise EncodingError("credential public keys must be 32 bytes")
        if any(a >= b for a, b in zip(self.keys, self.keys[1:], strict=False)):
            raise EncodingError("credential list must be sorted and free of duplicates")
        object.__setattr__(self, "_members", frozenset(self.keys))

    @classmethod
    def of(cls, keys: Iterable[bytes]) -> CredentialList:
        """Build from keys in any order (duplicates rejected)."""
        ks = list(keys)
        if len(set(ks)) != len(ks):
            raise EncodingError("duplicate credential public key")
        return cls(tuple(sorted(ks)))

    def __repr__(self) -> str:
        return f"CredentialList(<{len(self.keys)} keys>, hash={self.hash().hex()})"

    def __contains__(self, key: object) -> bool:
        return key in self._members

    def __len__(self) -> int:
        return len(self.keys)

    def to_bytes(self) -> bytes:
        """Canonical msgpack: ``[1, [pk_1, ..., pk_n]]``."""
        return pack([CREDENTIAL_EXTENSION_VERSION, list(self.keys)])

    @classmethod
    def from_bytes(cls, data: bytes) -> CredentialList:
        """Strict inverse of :meth:`to_bytes`."""
        a = expect_array(
            unpack(data, what="credential list", max_bytes=40 * MAX_ARRAY_LEN), "credential list", 2
        )
        expect_int(a[0], "credential list version", 1, 1)
        keys = expect_array(a[1], "credential keys")
        return cls(tuple(expect_bytes(k, "credential", size=PUBLIC_KEY_SIZE) for k in keys))

    def hash(self) -> bytes:
        """``SHA-256(b_file(EXT.BOARD_CREDENTIAL_LIST) || b_file(to_bytes()))`` (§5.2)."""
        return hashlib.sha256(b_file(EXT.BOARD_CREDENTIAL_LIST) + b_file(self.to_bytes())).digest()


class VoterCredential:
    """A voter's secret Ed25519 credential. ``repr`` shows the public key only."""

    __slots__ = ("_sk",)

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, bytes) or len(seed) != 32:
            raise EncodingError("credential seed must be 32 bytes")
        self._sk = SigningKey(seed)

    @classmethod
    def generate(cls) -> VoterCredential:
        """A fresh random credential."""
        return cls(os.urandom(32))

    @property
    def public_key(self) -> bytes:
        """The 32-byte public credential that goes on the list."""
        return bytes(self._sk.verify_key)

    def seed(self) -> bytes:
        """The 32-byte secret seed (for handing the credential to the voter)."""
        return bytes(self._sk)

    def sign_ballot(self, election_hash: bytes, ballot: bytes) -> BallotSubmission:
        """A submission of ``ballot`` signed with this credential (§5.3)."""
        sig = bytes(self._sk.sign(submission_message(election_hash, ballot)).signature)
        return BallotSubmission(ballot, self.public_key, sig)

    def sign_challenge(self, election_hash: bytes, confirmation_code: bytes) -> ChallengeRequest:
        """A request to challenge (spoil) this credential's ballot ``confirmation_code`` (§6.2)."""
        sig = bytes(self._sk.sign(challenge_message(election_hash, confirmation_code)).signature)
        return ChallengeRequest(confirmation_code, self.public_key, sig)

    def __repr__(self) -> str:
        return f"VoterCredential(public_key={self.public_key.hex()})"

    def __reduce__(self) -> Any:
        raise TypeError("VoterCredential cannot be pickled")


def issue_credentials(count: int) -> tuple[list[VoterCredential], CredentialList]:
    """The credential authority: ``count`` fresh credentials and their public list."""
    creds = [VoterCredential.generate() for _ in range(count)]
    return creds, CredentialList.of(c.public_key for c in creds)


@dataclass(frozen=True, slots=True)
class BallotSubmission:
    """What a voter sends: ``[1, ballot, credential | nil, signature | nil]`` (§5.3, §8)."""

    ballot: bytes
    credential: bytes | None = None
    signature: bytes | None = None

    def __post_init__(self) -> None:
        _check_pair(self.credential, self.signature)

    def to_bytes(self) -> bytes:
        """Canonical msgpack encoding."""
        return pack([1, self.ballot, self.credential, self.signature])

    @classmethod
    def from_bytes(cls, data: bytes, *, max_bytes: int = MAX_SUBMISSION_BYTES) -> BallotSubmission:
        """Strict inverse of :meth:`to_bytes`."""
        a = expect_array(unpack(data, what="ballot submission", max_bytes=max_bytes), "ballot submission", 4)
        expect_int(a[0], "submission version", 1, 1)
        return cls(
            expect_bytes(a[1], "ballot"),
            expect_opt_bytes(a[2], "credential", size=PUBLIC_KEY_SIZE),
            expect_opt_bytes(a[3], "signature", size=SIGNATURE_SIZE),
        )

    def signature_valid(self, election_hash: bytes) -> bool:
        """Whether the credential signature verifies (False if unsigned)."""
        return _signed(self.credential, self.signature, submission_message(election_hash, self.ballot))

    def __repr__(self) -> str:
        cred = self.credential.hex() if self.credential is not None else None
        return f"BallotSubmission(ballot=<{len(self.ballot)} bytes>, credential={cred})"


@dataclass(frozen=True, slots=True)
class ChallengeRequest:
    """What a voter sends to challenge its ballot: ``[1, confirmation_code, credential | nil,
    signature | nil]`` (§6.2, §8); unsigned only on a board without credentials."""

    MAX_BYTES: ClassVar[int] = 1024
    """bound on an encoded request (a code of at most 64 bytes, a key, a signature and framing)"""

    confirmation_code: bytes
    """the confirmation code of the ballot to spoil (1–64 bytes, §2.1 ``ref``)"""
    credential: bytes | None = None
    """the credential public key that cast the ballot (32 bytes), or None on a board without credentials"""
    signature: bytes | None = None
    """Ed25519 by ``credential`` over :func:`challenge_message` (64 bytes), with ``credential``"""

    def __post_init__(self) -> None:
        code = self.confirmation_code
        if not isinstance(code, bytes) or not 0 < len(code) <= MAX_CODE_SIZE:
            raise EncodingError(f"confirmation code must be 1..{MAX_CODE_SIZE} bytes")
        _check_pair(self.credential, self.signature)

    def to_bytes(self) -> bytes:
        """Canonical msgpack encoding."""
        return pack([1, self.confirmation_code, self.credential, self.signature])

    @classmethod
    def from_bytes(cls, data: bytes) -> ChallengeRequest:
        """Strict inverse of :meth:`to_bytes`."""
        tree = unpack(data, what="challenge request", max_bytes=cls.MAX_BYTES)
        a = expect_array(tree, "challenge request", 4)
        expect_int(a[0], "challenge request version", 1, 1)
        return cls(
            expect_bytes(a[1], "confirmation code"),
            expect_opt_bytes(a[2], "credential", size=PUBLIC_KEY_SIZE),
            expect_opt_bytes(a[3], "signature", size=SIGNATURE_SIZE),
        )

    def signature_valid(self, election_hash: bytes) -> bool:
        """Whether the credential signature verifies (False if unsigned)."""
        message = challenge_message(election_hash, self.confirmation_code)
        return _signed(self.credential, self.signature, message)
