"""Groups: parameters, canonical encodings, strict decoding, arithmetic (specs/02-groups.md)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from e2evote.errors import EncodingError, GroupMismatchError, InvalidElementError, InvalidScalarError
from e2evote.groups import ED25519, STANDARD, TEST, Group

# EG 2.0 §3.1.1, as published (the module derives g = 2^r mod p; this pins it to the text)
PUBLISHED_G_PREFIX = "36036FED214F3B50DC566D3A312FE4131FEE1C2BCE6D02EA39B477AC05F7F885"
PUBLISHED_G_SUFFIX = "E7EBA151BA486094D68722B054633FEC51CA3F29B31E77E317B178B6B9D8AE0F"


def test_standard_parameters_match_the_spec() -> None:
    assert STANDARD.q == 2**256 - 189
    assert STANDARD.p.bit_length() == 4096
    g_hex = f"{int(STANDARD.g):X}"
    assert g_hex.startswith(PUBLISHED_G_PREFIX) and g_hex.endswith(PUBLISHED_G_SUFFIX)
    r_hex = f"{int(STANDARD.r):X}"
    assert r_hex.startswith("100000000") and r_hex.endswith("4A7F529FD4A7F52A")
    # §3.1.1 closed form: p = 2^4096 - 2^3840 + 2^256 (floor(2^3584 ln 2) + δ) + (2^256 - 1)
    import gmpy2

    from e2evote.groups.modp import _DELTA

    with gmpy2.context(precision=4000):
        ln2_bits = int(gmpy2.floor(gmpy2.const_log2() * gmpy2.mpz(2) ** 3584))
    assert STANDARD.p == 2**4096 - 2**3840 + 2**256 * (ln2_bits + _DELTA) + (2**256 - 1)


@pytest.mark.parametrize("g", [STANDARD, TEST, ED25519], ids=lambda g: g.name)
def test_full_parameter_check(g: Group) -> None:
    g.check_parameters(primality=True)


def test_builtin_primes_are_known_not_reproved(monkeypatch: pytest.MonkeyPatch) -> None:
    """The built-in groups' p, q and r/2 are proved prime by the test above, not on every start:
    neither the default self-check (the verifier's V1.B) nor the batched membership test runs a
    primality test for them; ``primality=True`` re-proves them afresh."""
    import gmpy2

    from e2evote.groups import modp

    calls: list[int] = []
    real = gmpy2.is_strong_bpsw_prp
    monkeypatch.setattr(modp.gmpy2, "is_strong_bpsw_prp", lambda x: calls.append(1) or real(x))
    for g in (STANDARD, TEST):
        g.check_parameters()
        xs = [(g.generator() ** g.scalar(k)).to_bytes() for k in range(2, 8)]
        assert g.elements_batch(xs)[3] == g.generator() ** g.scalar(5)
    assert calls == []
    TEST.check_parameters(primality=True)
    assert len(calls) == 3
    # the same numbers given to the constructor are not "built in": their primes are proved
    copy = modp.ModPGroup("copy", int(TEST.p), int(TEST.q), int(TEST.g), element_bytes=64, scalar_bytes=8)
    copy.check_parameters()
    assert len(calls) == 6


def test_roundtrip_and_generator(group: Group) -> None:
    G = group.generator()
    assert group.element(G.to_bytes()) == G
    assert len(G.to_bytes()) == group.element_bytes
    one = group.identity()
    assert group.element(one.to_bytes()).is_identity()
    assert G ** group.scalar(group.q - 1) == G.inverse()


@given(st.integers(min_value=0), st.integers(min_value=0))
def test_homomorphic_exponents(fast: int, other: int) -> None:
    for group in (TEST, ED25519):
        x = group.scalar_reduce(fast)
        y = group.scalar_reduce(other)
        assert group.g_pow(x) * group.g_pow(y) == group.g_pow(x + y)
        assert group.g_pow(x) / group.g_pow(y) == group.g_pow(x - y)
        assert group.g_pow(x) == group.g_pow_sec(x)
        assert group.scalar_from_bytes(x.to_bytes()) == x


def test_fixed_base_matches_plain_pow(group: Group) -> None:
    K = group.g_pow(group.random_scalar())
    table = group.fixed_base(K)
    for _ in range(5):
        e = group.random_scalar()
        assert table.pow(e) == K**e == group.pow_sec(K, e)
    assert table.pow(group.scalar(0)).is_identity()


def test_fixed_base_is_uniform_and_exact_for_every_window() -> None:
    """The shifted-digit table (specs/02-groups.md §7): exact for edge exponents and every window
    width, and the same number of multiplications whatever the exponent (counted on the values)."""
    from e2evote.groups.modp import ModPFixedBase

    K = TEST.g_pow(TEST.random_scalar())
    q = int(TEST.q)
    for w in (1, 3, 8, 13):
        table = TEST.fixed_base(K, w)
        for e in (0, 1, 2, (1 << w) - 1, 1 << w, q - 1, q - 2, int(TEST.random_scalar())):
            assert table.pow(TEST.scalar(e)) == K ** TEST.scalar(e)

    table = ModPFixedBase(K, 8)  # type: ignore[arg-type]
    counts = []
    for e in (0, 1, q - 1, 1 << 40):
        n = 0
        first, rows = table._first, table._rows

        class Row(list):  # type: ignore[type-arg]
            def __getitem__(self, d: int) -> object:
                nonlocal n
                n += 1
                return list.__getitem__(self, d)

        table._first, table._rows = Row(first), [Row(r) for r in rows]
        table.pow(TEST.scalar(e))
        table._first, table._rows = first, rows
        counts.append(n)
    assert len(set(counts)) == 1 and counts[0] == 1 + len(rows)


def test_product_is_the_fold_of_the_group_operation(group: Group) -> None:
    xs = [group.g_pow(group.random_scalar()) for _ in range(7)] + [group.identity()]
    fold = group.identity()
    for x in xs:
        fold = fold * x
    assert group.product(xs) == fold
    assert group.product([]) == group.identity()
    other = ED25519 if group != ED25519 else TEST
    with pytest.raises(GroupMismatchError):
        group.product([xs[0], other.generator()])


def test_pow_shared_matches_pow_exp_list(group: Group) -> None:
    base = group.g_pow(group.random_scalar())
    q = int(group.q)
    for exps in ([1], [0, 1], [q - 1, 2, 0], [int(group.random_scalar()) for _ in range(5)]):
        es = [group.scalar(e) for e in exps]
        assert list(group.pow_shared(base, es)) == list(group.pow_exp_list(base, es))
    assert all(x.is_identity() for x in group.pow_shared(group.identity(), [group.scalar(3)] * 2))


def test_dlog(group: Group) -> None:
    K = group.g_pow(group.random_scalar())
    for t in (0, 1, 2, 99, 1000):
        assert group.dlog(K ** group.scalar(t), K, 1000) == t
    with pytest.raises(ValueError):
        group.dlog(K ** group.scalar(1001), K, 1000)


# ---- strict decoding: rejects -------------------------------------------------------------------


@pytest.mark.parametrize("g", [STANDARD, TEST], ids=lambda g: g.name)
def test_modp_rejects(g: Group) -> None:
    p = int(g.p)  # type: ignore[attr-defined]
    L = g.element_bytes
    for bad in (0, p - 1, p, p + 1, 2 ** (8 * L) - 1):
        with pytest.raises(InvalidElementError if bad < 2 ** (8 * L) else EncodingError):
            g.element(bad.to_bytes(L, "big"))
    # a quadratic non-residue: p ≡ 3 mod 4 here is not assumed; search a small non-residue
    import gmpy2

    n = next(x for x in range(2, 100) if gmpy2.jacobi(x, p) == -1)
    with pytest.raises(InvalidElementError):
        g.element(n.to_bytes(L, "big"))
    with pytest.raises(EncodingError):
        g.element(b"\x01" * (L - 1))
    with pytest.raises(EncodingError):
        g.element(b"\x00" + g.generator().to_bytes())


def test_ed25519_rejects_small_order_and_noncanonical() -> None:
    # the 8 small-order points (identity allowed, the other 7 rejected)
    small_order = [
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    ]
    for h in small_order:
        with pytest.raises(InvalidElementError):
            ED25519.element(bytes.fromhex(h))
    # a point with torsion: G + (order-2 point) is on the curve but not in the prime-order subgroup
    import nacl.bindings as sodium

    G = ED25519.generator().to_bytes()
    T = bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
    torsioned = sodium.crypto_core_ed25519_add(G, T)
    with pytest.raises(InvalidElementError):
        ED25519.element(torsioned)
    # non-canonical: y >= p. Every such field stands for y - p < 19; none of those 19 y (either sign
    # of x) is a point of the order-l subgroup, so no element has a second encoding (specs/02 §5.1)
    p = 2**255 - 19
    for y in range(19):
        for sign in (0, 1):
            if (y, sign) != (1, 0):  # 01 00…00 is the identity, accepted as such
                with pytest.raises(InvalidElementError):
                    ED25519.element((y | sign << 255).to_bytes(32, "little"))
            with pytest.raises(InvalidElementError):
                ED25519.element((y + p | sign << 255).to_bytes(32, "little"))
    with pytest.raises(EncodingError):
        ED25519.element(G[:31])


def test_scalar_range_rejected_never_reduced(group: Group) -> None:
    for bad in (group.q, group.q + 1, -1, 2 ** (8 * group.scalar_bytes) - 1):
        with pytest.raises(InvalidScalarError):
            group.scalar(bad)
    with pytest.raises(InvalidScalarError):
        group.scalar_from_bytes(int(group.q).to_bytes(group.scalar_bytes, "big"))
    with pytest.raises(EncodingError):
        group.scalar_from_bytes(b"\x00" * (group.scalar_bytes + 1))
    with pytest.raises(InvalidScalarError):
        group.scalar(True)


def test_mixing_groups_raises() -> None:
    with pytest.raises(GroupMismatchError):
        _ = TEST.generator() * ED25519.generator()
    with pytest.raises(GroupMismatchError):
        _ = TEST.scalar(1) + ED25519.scalar(1)
    with pytest.raises(GroupMismatchError):
        _ = TEST.generator() ** STANDARD.scalar(2)
    with pytest.raises(GroupMismatchError):
        _ = ED25519.generator() ** TEST.scalar(2)


def test_secrets_not_in_repr(group: Group) -> None:
    s = group.scalar(123456789)
    assert "123456789" not in repr(s) and f"{123456789:x}" not in repr(s)


def test_parameter_check_rejects_composites() -> None:
    """The self-check's primality tests fail on a composite q, p or r/2 (small groups built so that
    every structural check of the constructor still passes)."""
    from e2evote.groups.modp import ModPGroup

    def group(p: int, q: int) -> ModPGroup:
        g = next(x for x in (pow(h, (p - 1) // q, p) for h in range(2, p)) if x != 1 and pow(x, q, p) == 1)
        return ModPGroup("t", p, q, g, element_bytes=8, scalar_bytes=8)

    group(67, 11).check_parameters()  # 67 = 11 * 2 * 3 + 1: the genuine article (not built in: tested)
    for p, q, what in [
        (1035, 11, "p is not prime"),
        (61, 15, "q is not prime"),
        (89, 11, "r/2 is not prime"),
    ]:
        with pytest.raises(ValueError, match=what):
            group(p, q).check_parameters()
