"""Canonical encodings, hashing, hashed ElGamal and batched membership (specs/01, 02, 03, 04)."""

from __future__ import annotations

import secrets

import gmpy2
import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from e2evote.elgamal import (
    HashedCiphertext,
    PublicKey,
    decrypt_contest_data,
    decrypt_share,
    encrypt_contest_data,
    encrypt_share,
)
from e2evote.encoding import fixed_to_int, hex_to_fixed, int_to_fixed, pack, unpack
from e2evote.errors import DecryptionError, EncodingError, InvalidElementError
from e2evote.groups import ED25519, STANDARD, TEST, Group
from e2evote.hashing import EG20, EGK, H, b_str, b_u32, parameter_base_hash
from e2evote.protocol.ballot import ContestData, ContestStatus

# ---- canonical msgpack -----------------------------------------------------------------------------


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**63), 2**64 - 1)
        | st.text(max_size=20)
        | st.binary(max_size=20),
        lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
        max_leaves=20,
    )
)
def test_pack_unpack_roundtrip(obj: object) -> None:
    assert unpack(pack(obj)) == obj


def test_unpack_rejects_non_canonical() -> None:
    unsorted = msgpack.packb({"b": 1, "a": 2})
    with pytest.raises(EncodingError):
        unpack(unsorted)
    with pytest.raises(EncodingError):
        unpack(msgpack.packb(1.5))
    with pytest.raises(EncodingError):
        unpack(pack({"a": 1}) + b"\x00")  # trailing bytes
    with pytest.raises(EncodingError):
        unpack(b"\xcd\x00\x01")  # 1 as uint16: not the shortest form
    with pytest.raises(EncodingError):
        unpack(msgpack.packb({1: 2}, strict_types=False))  # non-string key
    with pytest.raises(EncodingError):
        unpack(pack(b"x" * 100), max_bytes=50)
    with pytest.raises(EncodingError):
        unpack(b"\xc1")  # never-used byte
    assert unpack(pack({"a": 1})) == {"a": 1}  # paired positive


def test_fixed_width_integers() -> None:
    assert int_to_fixed(15, 4) == b"\x00\x00\x00\x0f"
    assert fixed_to_int(b"\x00\x0f", 2) == 15
    with pytest.raises(EncodingError):
        int_to_fixed(256, 1)
    with pytest.raises(EncodingError):
        int_to_fixed(-1, 4)
    with pytest.raises(EncodingError):
        fixed_to_int(b"\x00", 2)
    assert hex_to_fixed("f", 2) == b"\x00\x0f"
    with pytest.raises(EncodingError):
        hex_to_fixed("zz", 2)
    with pytest.raises(EncodingError):
        hex_to_fixed("000000", 2)


# ---- hashing ---------------------------------------------------------------------------------------


def test_parameter_base_hash_spec_and_egk() -> None:
    # EG 2.0 eq. 5 (ver "v2.0.0") and egk's ParametersTestVector convention (ver "v2.0")
    assert parameter_base_hash(STANDARD).hex().upper() == (
        "2B3B025E50E09C119CBA7E9448ACD1CABC9447EF39BF06327D81C665CDD86296"
    )
    assert parameter_base_hash(STANDARD, "v2.0").hex().upper().startswith("AB91D83C")
    # extension groups hash a different, tagged description
    assert parameter_base_hash(ED25519) != parameter_base_hash(TEST) != parameter_base_hash(STANDARD)


def test_hash_inputs_are_unambiguous() -> None:
    k = bytes(32)
    assert H(k, 0x21, b_str("ab"), b_str("c")) != H(k, 0x21, b_str("a"), b_str("bc"))
    assert b_u32(5) == b"\x00\x00\x00\x05"
    with pytest.raises(EncodingError):
        b_u32(2**31)
    with pytest.raises(EncodingError):
        H(b"short", 0x00)
    with pytest.raises(EncodingError):
        H(k, 0x100)


# ---- hashed ElGamal ----------------------------------------------------------------------------------


@pytest.mark.parametrize("g", [TEST, ED25519, STANDARD], ids=lambda g: g.name)
def test_share_encryption_roundtrip_and_mac(g: Group) -> None:
    H_P = secrets.token_bytes(32)
    s = g.random_scalar()
    K = g.g_pow(s)
    share = g.random_scalar()
    ct = encrypt_share(g, H_P, 1, 2, K, share, g.random_scalar())
    assert decrypt_share(g, H_P, 1, 2, K, s, ct) == share
    bad = HashedCiphertext(ct.C0, bytes([ct.C1[0] ^ 1]) + ct.C1[1:], ct.C2)
    with pytest.raises(DecryptionError):
        decrypt_share(g, H_P, 1, 2, K, s, bad)
    with pytest.raises(DecryptionError):
        decrypt_share(g, H_P, 2, 1, K, s, ct)  # bound to (i, ℓ)


@pytest.mark.parametrize("dialect", [EG20, EGK], ids=lambda d: d.name)
def test_contest_data_roundtrip(dialect: object) -> None:
    g = TEST
    s = g.random_scalar()
    key = PublicKey(g, g.g_pow(s))
    H_E = secrets.token_bytes(32)
    data = ContestData(ContestStatus.OVERVOTE, (1, 3), ("Write In",)).encode(2)
    xi = g.random_scalar()
    ct = encrypt_contest_data(key, H_E, 4, data, xi, contest_label="C", dialect=dialect)  # type: ignore[arg-type]
    beta = ct.C0**s
    out = decrypt_contest_data(H_E, key.K, 4, ct, beta, contest_label="C", dialect=dialect)  # type: ignore[arg-type]
    assert ContestData.decode(out) == ContestData(ContestStatus.OVERVOTE, (1, 3), ("Write In",))
    with pytest.raises(DecryptionError):
        decrypt_contest_data(H_E, key.K, 5, ct, beta, contest_label="D", dialect=dialect)  # type: ignore[arg-type]


def test_contest_data_truncates_write_ins_and_rejects_garbage() -> None:
    cd = ContestData(ContestStatus.NORMAL, (), ("x" * 40, "y" * 40))
    out = ContestData.decode(cd.encode(2))
    assert out.truncated and out.write_ins == ("x" * 40,)
    with pytest.raises(EncodingError):
        ContestData.decode(b"\x00\x05" + b"\x00" * 30)
    with pytest.raises(EncodingError):
        ContestData.decode(b"\x00\x01\x01" + b"\x01" * 29)  # padding must be zero


# ---- batched membership ------------------------------------------------------------------------------


@pytest.mark.parametrize("g", [TEST, STANDARD], ids=lambda g: g.name)
def test_batch_membership_catches_every_kind_of_non_member(g: Group) -> None:
    members = [g.g_pow(g.random_scalar()).to_bytes() for _ in range(20)]
    assert [e.to_bytes() for e in g.elements_batch(members)] == members
    p = int(g.p)  # type: ignore[attr-defined]
    q = int(g.q)
    order_r = int(gmpy2.powmod(3, 2 * q, p))  # a quadratic residue of order r' (passes Jacobi)
    non_residue = next(x for x in range(2, 200) if gmpy2.jacobi(x, p) == -1)
    for bad in (order_r, p - 1, non_residue, 0, p):
        blob = bad.to_bytes(g.element_bytes, "big")
        with pytest.raises((InvalidElementError, EncodingError)):
            g.elements_batch(members[:7] + [blob] + members[7:])
