"""ParametersTestVector: H_P (spec 2.0 eq. 4 with egk's version key "v2.0") through the library;
H_B in egk's 1.9 layout through the egk19 adapter (specs/egk-compat.md §1)."""

from __future__ import annotations

from typing import Any

import egk19
from egkdata import GROUP, h32, hb, load_vector, require_reference

from e2evote.groups import TEST
from e2evote.hashing import H, Tag, base_hash, parameter_base_hash, version_bytes

require_reference()


def _v() -> Any:
    return load_vector("Parameters")


def test_vector_primes_are_the_standard_group() -> None:
    pr = _v()["parameter_base_hash"]["primes"]
    vec = (
        hb(pr["large_prime"]).rjust(512, b"\0")
        + hb(pr["small_prime"]).rjust(32, b"\0")
        + hb(pr["generator"]).rjust(512, b"\0")
    )
    assert GROUP.parameter_bytes() == vec


def test_parameter_base_hash() -> None:
    ph = _v()["parameter_base_hash"]
    assert parameter_base_hash(GROUP, ph["protocolVersion"]) == h32(ph["expected"])
    # the vector's H_B input is the same H_P
    assert h32(_v()["election_base_hash"]["parameterBaseHash"]) == h32(ph["expected"])


def test_parameter_base_hash_negative() -> None:
    ph = _v()["parameter_base_hash"]
    expected = h32(ph["expected"])
    # another version key (the spec's "v2.0.0", which egk's record uses) or another group differ
    assert parameter_base_hash(GROUP, "v2.0.0") != expected
    assert parameter_base_hash(TEST, ph["protocolVersion"]) != expected
    # one flipped bit of p
    params = bytearray(GROUP.parameter_bytes())
    params[100] ^= 1
    assert H(version_bytes(ph["protocolVersion"]), Tag.PARAMETER_BASE, bytes(params)) != expected


def test_base_hash_19_layout() -> None:
    eb = _v()["election_base_hash"]
    H_P, H_M = h32(eb["parameterBaseHash"]), h32(eb["manifest_hash"])
    got = egk19.base_hash_19(
        H_P, eb["numberOfGuardians"], eb["quorum"], eb["date"], eb["jurisdiction_info"], H_M
    )
    assert got == h32(eb["expected"])


def test_base_hash_negative() -> None:
    eb = _v()["election_base_hash"]
    H_P, H_M = h32(eb["parameterBaseHash"]), h32(eb["manifest_hash"])
    n, k, expected = eb["numberOfGuardians"], eb["quorum"], h32(eb["expected"])
    # the spec 2.0 layout (library base_hash) is not what this vector used
    assert base_hash(H_P, H_M, n, k) != expected
    # one changed input each
    assert egk19.base_hash_19(H_P, n, k + 1, eb["date"], eb["jurisdiction_info"], H_M) != expected
    assert egk19.base_hash_19(H_P, n, k, eb["date"] + " ", eb["jurisdiction_info"], H_M) != expected
    assert egk19.base_hash_19(H_P, n, k, eb["date"], eb["jurisdiction_info"], bytes(32)) != expected
