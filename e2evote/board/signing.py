"""Board signing key, signed tree heads and ballot receipts (specs/08-board.md §4).

Signed bytes (all integers big-endian; ``b_str``/``b_file`` are 4-byte length prefixes, EG 2.0 §5.1):

* STH:     ``b_file(EXT.BOARD_STH) || b_str(board_id) || u64(tree_size) || u64(timestamp_ms) || root``
* receipt: ``b_file(EXT.BOARD_RECEIPT) || b_str(board_id) || b_file(confirmation_code)
  || u64(leaf_index) || leaf_hash || u64(tree_size) || u64(timestamp_ms) || root``

Signatures are Ed25519 (RFC 8032) over exactly those bytes, by the board key.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from e2evote.board.codec import (
    expect_array,
    expect_bytes,
    expect_int,
    expect_str,
    pack,
    u64,
    unpack,
)
from e2evote.board.merkle import HASH_SIZE, verify_inclusion
from e2evote.errors import EncodingError, VerificationError
from e2evote.hashing import EXT, b_file, b_str
from e2evote.record.files import KeystoreError, is_sealed, seal, unseal, write_atomic

__all__ = [
    "BOARD_ID_PATTERN",
    "PUBLIC_KEY_SIZE",
    "SIGNATURE_SIZE",
    "MAX_CODE_SIZE",
    "BoardKey",
    "SignedTreeHead",
    "Receipt",
    "ed25519_verify",
    "check_board_id",
    "receipt_failures",
    "verify_receipt",
]

PUBLIC_KEY_SIZE: Final = 32
SIGNATURE_SIZE: Final = 64
MAX_CODE_SIZE: Final = 64
BOARD_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9._:-]{1,64}")
BOARD_KEY_KIND: Final = "board-key"
"""the sealed-file kind of a board key (specs/11-cli.md §4.1)"""
_MAX_KEY_FILE = 4096


def check_board_id(board_id: object) -> str:
    """A board id is 1-64 characters of ``[A-Za-z0-9._:-]`` (specs/08-board.md §2.3)."""
    if not isinstance(board_id, str) or not BOARD_ID_PATTERN.fullmatch(board_id):
        raise EncodingError(f"board id {board_id!r} must match {BOARD_ID_PATTERN.pattern}")
    return board_id


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """``True`` iff ``signature`` is a valid Ed25519 signature of ``message`` under ``public_key``."""
    if len(public_key) != PUBLIC_KEY_SIZE or len(signature) != SIGNATURE_SIZE:
        return False
    try:
        VerifyKey(public_key).verify(message, signature)
    except (BadSignatureError, ValueError, TypeError):
        return False
    except Exception:  # libsodium rejects some malformed points with a generic CryptoError
        return False
    return True


class BoardKey:
    """The board's Ed25519 signing key. Its ``repr`` shows only the public key."""

    __slots__ = ("_sk",)

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, bytes) or len(seed) != 32:
            raise EncodingError("board key seed must be 32 bytes")
        self._sk = SigningKey(seed)

    @classmethod
    def generate(cls) -> BoardKey:
        """A fresh random key."""
        return cls(os.urandom(32))

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], passphrase: str | Callable[[], str] | None = None
    ) -> BoardKey:
        """Read a key written by :meth:`save`: a sealed file (specs/11-cli.md §4.1), opened with
        ``passphrase`` (a callable is asked only then), or the 32 raw seed bytes that versions before
        sealing wrote (still read: :meth:`is_sealed_file` tells them apart; ``board seal-key`` seals one).

        Like ssh with a private key, refuses (:class:`EncodingError`) a key file that its group or
        other users may read or write (POSIX mode bits ``0o077``): chmod 600 it.
        """
        data = _read_key_file(path)
        if len(data) == 32:
            return cls(data)
        if not is_sealed(data):
            raise EncodingError(f"{os.fspath(path)}: not a board key file")
        if passphrase is None:
            raise KeystoreError(f"{os.fspath(path)}: the board key is sealed; a passphrase is needed")
        secret = passphrase() if callable(passphrase) else passphrase
        return cls(unseal(data, BOARD_KEY_KIND, secret, os.fspath(path)))

    @staticmethod
    def is_sealed_file(path: str | os.PathLike[str]) -> bool:
        """Whether the key file at ``path`` is sealed (not the raw seed of earlier versions)."""
        return is_sealed(_read_key_file(path))

    def save(self, path: str | os.PathLike[str], passphrase: str, *, replace: bool = False) -> None:
        """Write the key sealed under ``passphrase`` to ``path`` with mode 0600; refuses to overwrite
        unless ``replace`` (then atomically, as ``board seal-key`` does to a raw seed file)."""
        data = seal(BOARD_KEY_KIND, passphrase, bytes(self._sk))
        if replace:
            write_atomic(path, data, private=True)
            return
        # written whole beside the target, then linked into place (which fails if the target exists):
        # a crash never leaves a truncated key file
        p = Path(path)
        tmp = p.with_name(f".{p.name}.{secrets.token_hex(4)}.new")
        write_atomic(tmp, data, private=True)
        try:
            os.link(tmp, p)
        finally:
            os.unlink(tmp)

    @property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key."""
        return bytes(self._sk.verify_key)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        return bytes(self._sk.sign(message).signature)

    def __repr__(self) -> str:
        return f"BoardKey(public_key={self.public_key.hex()})"

    def __reduce__(self) -> Any:
        raise TypeError("BoardKey cannot be pickled")


def _read_key_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of a board key file: a regular file (opened without blocking, so a FIFO is refused,
    not waited on) that only its owner may read or write, of at most ``_MAX_KEY_FILE`` bytes."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise EncodingError(f"{os.fspath(path)}: the board key must be a regular file")
        if os.name == "posix" and mode & 0o077:
            raise EncodingError(
                f"{os.fspath(path)}: board key file is accessible by others "
                f"(mode {stat.S_IMODE(mode):04o}); run `chmod 600 {os.fspath(path)}`"
            )
        data = fh.read(_MAX_KEY_FILE + 1)
    if len(data) > _MAX_KEY_FILE:
        raise EncodingError(f"{os.fspath(path)}: not a board key file (too large)")
    return data


def _hex(obj: object, what: str, size: int | None = None, max_size: int | None = None) -> bytes:
    if not isinstance(obj, str):
        raise EncodingError(f"{what}: expected a hex string")
    if obj != obj.lower():
        raise EncodingError(f"{what}: hex must be lowercase")
    try:
        raw = bytes.fromhex(obj)
    except ValueError:
        raise EncodingError(f"{what}: not valid hex") from None
    if size is not None and len(raw) != size:
        raise EncodingError(f"{what}: expected {size} bytes")
    if max_size is not None and not 0 < len(raw) <= max_size:
        raise EncodingError(f"{what}: expected 1..{max_size} bytes")
    return raw


def _json_int(obj: object, what: str) -> int:
    if type(obj) is not int or not 0 <= obj < 2**63:
        raise EncodingError(f"{what}: expected a non-negative integer")
    return obj


def _json_obj(obj: object, what: str, keys: set[str]) -> dict[str, object]:
    if not isinstance(obj, dict) or set(obj) != keys:
        raise EncodingError(f"{what}: expected an object with keys {sorted(keys)}")
    return obj


@dataclass(frozen=True, slots=True)
class SignedTreeHead:
    """A signed tree head (specs/08-board.md §4.1)."""

    board_id: str
    tree_size: int
    timestamp_ms: int
    root_hash: bytes
    signature: bytes

    def __post_init__(self) -> None:
        check_board_id(self.board_id)
        u64(self.tree_size)
        u64(self.timestamp_ms)
        if len(self.root_hash) != HASH_SIZE or len(self.signature) != SIGNATURE_SIZE:
            raise EncodingError("tree head: bad root hash or signature length")

    @staticmethod
    def signed_bytes_of(board_id: str, tree_size: int, timestamp_ms: int, root_hash: bytes) -> bytes:
        """The exact bytes the board signs for a tree head (§4.1)."""
        return b_file(EXT.BOARD_STH) + b_str(board_id) + u64(tree_size) + u64(timestamp_ms) + root_hash

    @classmethod
    def sign(
        cls, key: BoardKey, board_id: str, tree_size: int, timestamp_ms: int, root_hash: bytes
    ) -> SignedTreeHead:
        """Sign a tree head with the board key."""
        sig = key.sign(cls.signed_bytes_of(board_id, tree_size, timestamp_ms, root_hash))
        return cls(board_id, tree_size, timestamp_ms, root_hash, sig)

    def signed_bytes(self) -> bytes:
        """The bytes covered by :attr:`signature`."""
        return self.signed_bytes_of(self.board_id, self.tree_size, self.timestamp_ms, self.root_hash)

    def verify(self, public_key: bytes, *, step: str = "B2.B", board_id: str | None = None) -> None:
        """Check the signature (and optionally the board id); raise :class:`VerificationError`."""
        if board_id is not None and self.board_id != board_id:
            raise VerificationError(step, "signed tree head", f"board id {self.board_id!r} != {board_id!r}")
        if not ed25519_verify(public_key, self.signed_bytes(), self.signature):
            raise VerificationError(step, "signed tree head", f"bad board signature at size {self.tree_size}")

    def to_bytes(self) -> bytes:
        """Canonical msgpack: ``[1, board_id, tree_size, timestamp_ms, root_hash, signature]``."""
        return pack([1, self.board_id, self.tree_size, self.timestamp_ms, self.root_hash, self.signature])

    @classmethod
    def from_bytes(cls, data: bytes) -> SignedTreeHead:
        """Strict inverse of :meth:`to_bytes`."""
        a = expect_array(unpack(data, what="tree head", max_bytes=512), "tree head", 6)
        expect_int(a[0], "tree head version", 1, 1)
        return cls(
            check_board_id(expect_str(a[1], "board id", max_len=64)),
            expect_int(a[2], "tree size"),
            expect_int(a[3], "timestamp"),
            expect_bytes(a[4], "root hash", size=HASH_SIZE),
            expect_bytes(a[5], "signature", size=SIGNATURE_SIZE),
        )

    def to_json(self) -> dict[str, object]:
        """JSON view (bytes as lowercase hex)."""
        return {
            "board_id": self.board_id,
            "tree_size": self.tree_size,
            "timestamp_ms": self.timestamp_ms,
            "root_hash": self.root_hash.hex(),
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_json(cls, obj: object) -> SignedTreeHead:
        """Strict inverse of :meth:`to_json`."""
        d = _json_obj(obj, "tree head", {"board_id", "tree_size", "timestamp_ms", "root_hash", "signature"})
        return cls(
            check_board_id(d["board_id"]),
            _json_int(d["tree_size"], "tree_size"),
            _json_int(d["timestamp_ms"], "timestamp_ms"),
            _hex(d["root_hash"], "root_hash", HASH_SIZE),
            _hex(d["signature"], "signature", SIGNATURE_SIZE),
        )


@dataclass(frozen=True, slots=True)
class Receipt:
    """A signed ballot receipt (specs/08-board.md §4.2).

    ``sth`` is the tree head at size ``leaf_index + 1`` (the ballot is its last leaf) and
    ``audit_path`` proves inclusion of ``leaf_hash`` in it (unsigned; checked against ``sth``).
    """

    confirmation_code: bytes
    leaf_index: int
    leaf_hash: bytes
    sth: SignedTreeHead
    signature: bytes
    audit_path: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not 0 < len(self.confirmation_code) <= MAX_CODE_SIZE:
            raise EncodingError("receipt: confirmation code must be 1..64 bytes")
        u64(self.leaf_index)
        if len(self.leaf_hash) != HASH_SIZE or len(self.signature) != SIGNATURE_SIZE:
            raise EncodingError("receipt: bad leaf hash or signature length")
        if any(len(p) != HASH_SIZE for p in self.audit_path) or len(self.audit_path) > 64:
            raise EncodingError("receipt: bad audit path")

    @staticmethod
    def signed_bytes_of(code: bytes, leaf_index: int, leaf_hash: bytes, sth: SignedTreeHead) -> bytes:
        """The exact bytes the board signs for a receipt (§4.2)."""
        return (
            b_file(EXT.BOARD_RECEIPT)
            + b_str(sth.board_id)
            + b_file(code)
            + u64(leaf_index)
            + leaf_hash
            + u64(sth.tree_size)
            + u64(sth.timestamp_ms)
            + sth.root_hash
        )

    @classmethod
    def sign(
        cls,
        key: BoardKey,
        code: bytes,
        leaf_index: int,
        leaf_hash: bytes,
        sth: SignedTreeHead,
        audit_path: list[bytes],
    ) -> Receipt:
        """Sign a receipt with the board key."""
        sig = key.sign(cls.signed_bytes_of(code, leaf_index, leaf_hash, sth))
        return cls(code, leaf_index, leaf_hash, sth, sig, tuple(audit_path))

    def signed_bytes(self) -> bytes:
        """The bytes covered by :attr:`signature`."""
        return self.signed_bytes_of(self.confirmation_code, self.leaf_index, self.leaf_hash, self.sth)

    def to_bytes(self) -> bytes:
        """Canonical msgpack: ``[1, code, leaf_index, leaf_hash, sth, signature, [path...]]``."""
        return pack(
            [
                1,
                self.confirmation_code,
                self.leaf_index,
                self.leaf_hash,
                self.sth.to_bytes(),
                self.signature,
                list(self.audit_path),
            ]
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> Receipt:
        """Strict inverse of :meth:`to_bytes`."""
        a = expect_array(unpack(data, what="receipt", max_bytes=8192), "receipt", 7)
        expect_int(a[0], "receipt version", 1, 1)
        path = expect_array(a[6], "audit path")
        return cls(
            expect_bytes(a[1], "confirmation code", max_size=MAX_CODE_SIZE),
            expect_int(a[2], "leaf index"),
            expect_bytes(a[3], "leaf hash", size=HASH_SIZE),
            SignedTreeHead.from_bytes(expect_bytes(a[4], "tree head")),
            expect_bytes(a[5], "signature", size=SIGNATURE_SIZE),
            tuple(expect_bytes(p, "audit path element", size=HASH_SIZE) for p in path),
        )

    def to_json(self) -> dict[str, object]:
        """JSON view (bytes as lowercase hex)."""
        return {
            "confirmation_code": self.confirmation_code.hex(),
            "leaf_index": self.leaf_index,
            "leaf_hash": self.leaf_hash.hex(),
            "sth": self.sth.to_json(),
            "signature": self.signature.hex(),
            "audit_path": [p.hex() for p in self.audit_path],
        }

    @classmethod
    def from_json(cls, obj: object) -> Receipt:
        """Strict inverse of :meth:`to_json`."""
        d = _json_obj(
            obj, "receipt", {"confirmation_code", "leaf_index", "leaf_hash", "sth", "signature", "audit_path"}
        )
        path = d["audit_path"]
        if not isinstance(path, list):
            raise EncodingError("audit_path: expected a list")
        return cls(
            _hex(d["confirmation_code"], "confirmation_code", max_size=MAX_CODE_SIZE),
            _json_int(d["leaf_index"], "leaf_index"),
            _hex(d["leaf_hash"], "leaf_hash", HASH_SIZE),
            SignedTreeHead.from_json(d["sth"]),
            _hex(d["signature"], "signature", SIGNATURE_SIZE),
            tuple(_hex(p, "audit_path element", HASH_SIZE) for p in path),
        )


def receipt_failures(
    receipt: Receipt, public_key: bytes, *, board_id: str | None = None
) -> list[VerificationError | None]:
    """Steps B2.A-B2.D of specs/08-board.md, each checked on its own (no log needed): one entry per
    step, in that order, ``None`` where the step holds (a voter's report names every failure)."""
    sth = receipt.sth
    a: VerificationError | None = None
    if board_id is not None and sth.board_id != board_id:
        a = VerificationError("B2.A", "receipt", f"board id {sth.board_id!r} != {board_id!r}")
    elif not ed25519_verify(public_key, receipt.signed_bytes(), receipt.signature):
        a = VerificationError("B2.A", "receipt", "bad board signature")
    b: VerificationError | None = None
    try:
        sth.verify(public_key, step="B2.B")
    except VerificationError as exc:
        b = exc
    c: VerificationError | None = None
    if sth.tree_size != receipt.leaf_index + 1:
        c = VerificationError(
            "B2.C",
            "receipt",
            f"tree size {sth.tree_size} != leaf index {receipt.leaf_index} + 1: "
            "the tree head is not the one that appended the ballot",
        )
    d: VerificationError | None = None
    try:
        verify_inclusion(
            receipt.leaf_hash,
            receipt.leaf_index,
            sth.tree_size,
            receipt.audit_path,
            sth.root_hash,
            step="B2.D",
            obj="receipt audit path",
        )
    except VerificationError as exc:
        d = exc
    return [a, b, c, d]


def verify_receipt(receipt: Receipt, public_key: bytes, *, board_id: str | None = None) -> None:
    """Steps B2.A-B2.D of specs/08-board.md: check a receipt on its own (no log needed).

    Raises the first failing step's :class:`VerificationError`; returns ``None`` if the receipt is
    genuine and self-consistent.
    """
    for failure in receipt_failures(receipt, public_key, board_id=board_id):
        if failure is not None:
            raise failure
