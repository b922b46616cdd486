"""Secrets at rest (specs/11-cli.md §4.1): sealed files for the board key and the voter's ballot file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from e2evote.board import BoardKey
from e2evote.encoding import pack, unpack
from e2evote.errors import EncodingError
from e2evote.record.files import (
    SEALED_FORMAT,
    KeystoreError,
    WrongPassphraseError,
    is_sealed,
    seal,
    unseal,
)

SECRET = bytes(range(32))


def test_a_sealed_file_opens_only_with_its_passphrase_and_kind() -> None:
    data = seal("board-key", "pw", SECRET)
    assert SECRET not in data and is_sealed(data)
    assert unseal(data, "board-key", "pw") == SECRET
    with pytest.raises(WrongPassphraseError):
        unseal(data, "board-key", "not the passphrase")
    with pytest.raises(KeystoreError, match="holds a sealed 'board-key', not a 'voter-ballot'"):
        unseal(data, "voter-ballot", "pw")
    # fresh salt and nonce each time: two seals of the same secret share nothing
    assert seal("board-key", "pw", SECRET) != data
    with pytest.raises(ValueError, match="unknown sealed-file kind"):
        seal("trustee-secrets", "pw", SECRET)


@pytest.mark.parametrize("field", ["kind", "salt", "nonce", "ct"])
def test_any_change_to_a_sealed_file_is_refused(field: str) -> None:
    f = unpack(seal("voter-ballot", "pw", SECRET))
    if field == "kind":
        f["kind"] = "board-key"  # relabelled: the kind is authenticated with the content
        with pytest.raises(WrongPassphraseError):
            unseal(pack(f), "board-key", "pw")
        return
    target = f["kdf"] if field == "salt" else f
    raw = bytearray(target[field])
    raw[0] ^= 1
    target[field] = bytes(raw)
    with pytest.raises(WrongPassphraseError):
        unseal(pack(f), "voter-ballot", "pw")


def test_a_header_demanding_a_huge_kdf_cost_is_refused_before_deriving() -> None:
    f = unpack(seal("board-key", "pw", SECRET))
    f["kdf"]["mem"] = 1 << 40
    with pytest.raises(WrongPassphraseError):
        unseal(pack(f), "board-key", "pw")
    assert not is_sealed(b"\x00" * 32) and not is_sealed(pack({"format": "e2evote-keystore-v1"}))
    assert is_sealed(pack({"format": SEALED_FORMAT}))  # the form only: unseal checks the rest


def test_the_board_key_file_is_sealed_and_opens_with_the_passphrase(tmp_path: Path) -> None:
    key = BoardKey.generate()
    path = tmp_path / "board.key"
    key.save(path, "board pw")
    data = path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and BoardKey.is_sealed_file(path)
    seed = bytes(key._sk)
    assert seed not in data and key.public_key not in data
    assert BoardKey.load(path, "board pw").public_key == key.public_key
    assert BoardKey.load(path, lambda: "board pw").public_key == key.public_key
    with pytest.raises(WrongPassphraseError):
        BoardKey.load(path, "wrong")
    with pytest.raises(KeystoreError, match="sealed; a passphrase is needed"):
        BoardKey.load(path)
    with pytest.raises(FileExistsError):
        key.save(path, "board pw")


def test_an_earlier_raw_seed_file_still_loads_and_can_be_sealed_in_place(tmp_path: Path) -> None:
    key = BoardKey.generate()
    path = tmp_path / "old.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(bytes(key._sk))

    def never() -> str:
        raise AssertionError("a raw seed file needs no passphrase")

    assert not BoardKey.is_sealed_file(path)
    assert BoardKey.load(path, never).public_key == key.public_key
    BoardKey.load(path).save(path, "pw", replace=True)
    assert BoardKey.is_sealed_file(path) and bytes(key._sk) not in path.read_bytes()
    assert BoardKey.load(path, "pw").public_key == key.public_key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_board_key_path_that_is_not_a_key_file_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.write_bytes(b"x" * 100)
    other.chmod(0o600)
    with pytest.raises(EncodingError, match="not a board key file"):
        BoardKey.load(other, "pw")
    big = tmp_path / "big"
    big.write_bytes(b"x" * 10_000)
    big.chmod(0o600)
    with pytest.raises(EncodingError, match="too large"):
        BoardKey.load(big, "pw")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(EncodingError, match="must be a regular file"):  # refused, not waited on
        BoardKey.load(fifo, "pw")
