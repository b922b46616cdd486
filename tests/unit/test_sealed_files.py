"""Secrets at rest (specs/11-cli.md §4.1): sealed files for the board key and the voter's ballot file."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from e2evote.board import BoardKey
from e2evote.encoding import pack, unpack
from e2evote.errors import EncodingError
from e2evote.groups import TEST
from e2evote.protocol.ceremony import GuardianSetup
from e2evote.protocol.election import ElectionParameters
from e2evote.protocol.manifest import simple_manifest
from e2evote.record.files import (
    KDF_MEMLIMIT,
    KDF_OPSLIMIT,
    SEALED_FORMAT,
    Keystore,
    KeystoreError,
    TrusteeSecrets,
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


def test_is_sealed_tells_the_form_only() -> None:
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
    path.touch(0o600)
    path.write_bytes(bytes(key._sk))  # as versions before sealing wrote it

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


def _trustee_secrets() -> TrusteeSecrets:
    params = ElectionParameters(TEST, simple_manifest("k", [("A", ["a", "b"], 1)]), 3, 2)
    setup = GuardianSetup.start(params, 1)
    return TrusteeSecrets(params.group, params.H_B, 1, setup.secret_coefficients(), setup.public)


def test_the_trustee_keystore_format_is_the_spec_s(tmp_path: Path) -> None:
    """specs/11-cli.md §4, implemented here independently of the module: a file built by hand opens,
    and the module's file decrypts with the associated data built by hand."""
    import nacl.bindings as nb
    import nacl.pwhash

    mine = _trustee_secrets()
    salt, nonce = bytes(range(16)), bytes(range(24))
    kdf = {"alg": "argon2id13", "ops": 1, "mem": 8192, "salt": salt}
    key = nacl.pwhash.argon2id.kdf(32, b"pw", salt, opslimit=1, memlimit=8192)
    header = {"format": "e2evote-keystore-v1", "kdf": kdf, "aead": "xchacha20poly1305-ietf", "nonce": nonce}
    ct = nb.crypto_aead_xchacha20poly1305_ietf_encrypt(mine.to_bytes(), pack(header), nonce, key)
    (tmp_path / "by-hand").write_bytes(pack({**header, "ct": ct}))
    _, opened = Keystore.open(tmp_path / "by-hand", "pw")
    assert opened.to_bytes() == mine.to_bytes()

    Keystore.create(tmp_path / "module", "pw", mine)
    f = unpack((tmp_path / "module").read_bytes())
    assert set(f) == {"format", "kdf", "aead", "nonce", "ct"} and f["format"] == "e2evote-keystore-v1"
    k = f["kdf"]
    key = nacl.pwhash.argon2id.kdf(32, b"pw", k["salt"], opslimit=k["ops"], memlimit=k["mem"])
    aad = pack({n: v for n, v in f.items() if n != "ct"})
    assert nb.crypto_aead_xchacha20poly1305_ietf_decrypt(f["ct"], aad, f["nonce"], key) == mine.to_bytes()


def test_files_written_outside_tests_record_the_production_kdf_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("E2EVOTE_TEST_FAST_KDF")
    kdf = unpack(seal("board-key", "pw", SECRET))["kdf"]
    assert (kdf["ops"], kdf["mem"]) == (KDF_OPSLIMIT, KDF_MEMLIMIT)


@pytest.mark.parametrize(("name", "value"), [("ops", 11), ("mem", 1024**3 + 1), ("ops", 0)])
def test_a_header_demanding_a_kdf_cost_out_of_bounds_is_refused_before_deriving(
    name: str, value: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = unpack(seal("board-key", "pw", SECRET))
    f["kdf"][name] = value

    def derive(*_a: object) -> bytes:
        raise AssertionError("derived a key for an out-of-bounds header")

    monkeypatch.setattr("e2evote.record.files._derive", derive)
    with pytest.raises(WrongPassphraseError):
        unseal(pack(f), "board-key", "pw")


def test_an_unknown_kind_is_not_echoed() -> None:
    f = unpack(seal("board-key", "pw", SECRET))
    f["kind"] = "x" * 3000
    with pytest.raises(WrongPassphraseError) as info:
        unseal(pack(f), "board-key", "pw")
    assert "xxx" not in str(info.value)


def test_save_never_leaves_a_partial_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "board.key"

    def broken(*_a: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "link", broken)
    with pytest.raises(OSError, match="disk full"):
        BoardKey.generate().save(path, "pw")
    assert list(tmp_path.iterdir()) == []
