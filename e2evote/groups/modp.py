"""Prime-order subgroups of Z_p^* (specs/02-groups.md §ModP).

``STANDARD`` is the EG 2.0 §3.1.1 group (p 4096-bit, q = 2^256 - 189, g = 2^r mod p);
``TEST`` is a small group of the same shape (q = 2^64 - 59, p 511-bit, (p-1)/2q prime) for fast tests.
Both are self-checked on construction (cheap structural checks); their p, q and r/2 are known primes,
which :meth:`ModPGroup.check_parameters` re-proves with ``primality=True`` (the test suite does).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import gmpy2
from gmpy2 import mpz

from e2evote.errors import EncodingError, GroupMismatchError, InvalidElementError
from e2evote.groups.base import (
    Element,
    FrozenElement,
    GroupScalars,
    Scalar,
)

__all__ = ["ModPGroup", "ModPElement", "ModPFixedBase", "STANDARD", "TEST"]


class ModPElement(FrozenElement["ModPGroup", mpz]):
    """An element of the order-q subgroup Z_p^r (EG 2.0 §3.1); build one with ``ModPGroup.element()``."""

    __slots__ = ()

    def _v(self, other: Any) -> mpz:
        if not isinstance(other, ModPElement):
            raise GroupMismatchError(f"cannot combine {self.group.name} element with {type(other).__name__}")
        if other.group is not self.group and other.group != self.group:
            raise GroupMismatchError(f"element of {other.group.name} used with {self.group.name}")
        return other.value

    def __mul__(self, other: Any) -> ModPElement:
        return ModPElement(self.group, self.value * self._v(other) % self.group.p)

    def __truediv__(self, other: Any) -> ModPElement:
        return ModPElement(self.group, self.value * gmpy2.invert(self._v(other), self.group.p) % self.group.p)

    def __pow__(self, exponent: Scalar) -> ModPElement:
        e = self.group._exp(exponent)
        return ModPElement(self.group, gmpy2.powmod(self.value, e, self.group.p))

    def inverse(self) -> ModPElement:
        return ModPElement(self.group, gmpy2.invert(self.value, self.group.p))

    def is_identity(self) -> bool:
        return bool(self.value == 1)

    def to_bytes(self) -> bytes:
        return int(self.value).to_bytes(self.group.element_bytes, "big")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModPElement) and other.group == self.group and other.value == self.value

    def __hash__(self) -> int:
        return hash(int(self.value))

    def __int__(self) -> int:
        return int(self.value)

    def __repr__(self) -> str:
        h = f"{int(self.value):x}"
        return f"ModPElement({self.group.name}, 0x{h[:8]}…{h[-4:]})"


class ModPFixedBase:
    """Fixed-base table with shifted digits: T[i][d] = base^((d + 1) · 2^(w·i)) for 0 <= d < 2^w, the
    first row multiplied by F = base^(-Σ_i 2^(w·i)); base^e = Π_i T[i][d_i] over the w-bit digits d_i
    of e (0 <= e < q).

    Every power costs the same ⌈bits(q)/w⌉ - 1 multiplications by full-size values, whatever the
    exponent (no digit is skipped, no entry is 1, the loop never stops early), so per-ballot secret
    nonces can use it; the table look-up itself still depends on the digit (specs/02-groups.md §7).
    """

    __slots__ = ("base", "_group", "_w", "_first", "_rows")

    def __init__(self, base: ModPElement, window: int = 8) -> None:
        if not 1 <= window <= 16:
            raise ValueError("window must be 1..16 bits")
        group = base.group
        self.base = base
        self._group = group
        self._w = window
        p = group.p
        digits = 1 << window
        n_windows = (group.q.bit_length() + window - 1) // window
        table: list[list[mpz]] = []
        b = base.value  # base^(2^(w i)) for the row being built
        shift = mpz(1)  # Π of the rows' b: what the shifted digits add
        for _ in range(n_windows):
            row = [b]
            acc = b
            for _d in range(2, digits + 1):
                acc = acc * b % p
                row.append(acc)
            table.append(row)
            shift = shift * b % p
            b = acc  # base^(2^w · 2^(w i))
        fix = gmpy2.invert(shift, p)
        self._first = [x * fix % p for x in table[0]]  # F folded into the first row
        self._rows = table[1:]

    def pow(self, exponent: Scalar) -> ModPElement:
        group = self._group
        e = int(group._exp(exponent))
        p = group.p
        mask = (1 << self._w) - 1
        w = self._w
        acc = self._first[e & mask]
        for row in self._rows:
            e >>= w
            acc = acc * row[e & mask] % p
        return ModPElement(group, acc)

    def pow_many(self, exponents: Sequence[Scalar]) -> list[ModPElement]:
        return [self.pow(e) for e in exponents]


def _bucket_product(pairs: Iterable[tuple[int, mpz]], w: int, p: mpz) -> mpz:
    """Π x^d mod p over (d, x) pairs with 0 <= d < 2^w (the bucket method): B_d = Π_{d_i = d} x_i,
    then Π_d B_d^d as a running product of the buckets from the largest d down."""
    buckets: list[mpz | None] = [None] * (1 << w)
    for d, x in pairs:
        if d:
            b = buckets[d]
            buckets[d] = x if b is None else b * x % p
    acc: mpz | None = None
    run: mpz | None = None
    for b in reversed(buckets[1:]):
        if b is not None:
            run = b if run is None else run * b % p
        if run is not None:
            acc = run if acc is None else acc * run % p
    return acc if acc is not None else mpz(1)


def _multi_exp_small(xs: Sequence[mpz], exps: Sequence[int], p: mpz, bits: int) -> mpz:
    """Π xs[i]^exps[i] mod p for exponents < 2^bits (Pippenger's bucket method, window by size)."""
    n = len(xs)
    w = 2 if n < 16 else 4 if n < 256 else 6 if n < 4096 else 8
    mask = (1 << w) - 1
    acc = mpz(1)
    for shift in range(((bits + w - 1) // w - 1) * w, -1, -w):
        for _ in range(w):
            acc = acc * acc % p
        digits = (((e >> shift) & mask, x) for x, e in zip(xs, exps, strict=True))
        acc = acc * _bucket_product(digits, w, p) % p
    return acc


_SHARED_W = 4  # digit width of pow_shared (measured best of 3, 4, 5 for 2-3 exponents of 256 bits)


class ModPGroup(GroupScalars):
    """The order-q subgroup of Z_p^* with generator g (EG 2.0 §3.1)."""

    __slots__ = (
        "name",
        "p",
        "q",
        "r",
        "g",
        "element_bytes",
        "scalar_bytes",
        "_g_table",
        "_gen",
        "_one",
        "_safe_cofactor",
        "_known_primes",
    )

    def __init__(
        self,
        name: str,
        p: int,
        q: int,
        g: int,
        *,
        element_bytes: int,
        scalar_bytes: int,
    ) -> None:
        self.name = name
        self.p = mpz(p)
        self.q = mpz(q)
        self.element_bytes = element_bytes
        self.scalar_bytes = scalar_bytes
        if (self.p - 1) % self.q != 0:
            raise ValueError(f"{name}: q does not divide p - 1")
        self.r = (self.p - 1) // self.q
        self.g = mpz(g)
        if not 1 < self.g < self.p or gmpy2.powmod(self.g, self.q, self.p) != 1:
            raise ValueError(f"{name}: g is not of order q")
        if self.r % self.q == 0:
            raise ValueError(f"{name}: q divides the cofactor r")
        if self.p.bit_length() > 8 * element_bytes or self.q.bit_length() > 8 * scalar_bytes:
            raise ValueError(f"{name}: encoding widths too small")
        self._gen = ModPElement(self, self.g)
        self._one = ModPElement(self, mpz(1))
        self._known_primes = False  # see _builtin
        self._safe_cofactor: bool | None = None  # r = 2 r' with r' prime: see _cofactor_is_safe
        self._g_table: ModPFixedBase | None = None

    # equality: groups are equal iff their parameters are
    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModPGroup) and (self.p, self.q, self.g) == (other.p, other.q, other.g)

    def __hash__(self) -> int:
        return hash((int(self.p), int(self.q), int(self.g)))

    def __repr__(self) -> str:
        return f"ModPGroup({self.name})"

    # ---- helpers -----------------------------------------------------------------------------------

    def _mine(self, x: Element) -> ModPElement:
        """Narrow an Element to this group's element type, or raise GroupMismatchError."""
        if not isinstance(x, ModPElement) or (x.group is not self and x.group != self):
            raise GroupMismatchError(f"{x!r} used with {self.name}")
        return x

    def _cofactor_is_safe(self) -> bool:
        """r = 2 r' with r' prime, as the batched membership test needs: known for the built-in groups,
        else the strong Baillie-PSW test, run on first use (~0.1 s for 4096 bits)."""
        if self._safe_cofactor is None:
            self._safe_cofactor = self._r_half_is_prime()
        return self._safe_cofactor

    def _r_half_is_prime(self) -> bool:
        return self.r % 2 == 0 and bool(gmpy2.is_strong_bpsw_prp(self.r // 2))

    def _exp(self, exponent: Scalar) -> mpz:
        if not isinstance(exponent, Scalar):
            raise TypeError(f"exponent must be a Scalar, got {type(exponent).__name__}")
        if exponent.group is not self and exponent.group != self:
            raise GroupMismatchError(f"scalar of {exponent.group.name} used with {self.name}")
        return exponent.value

    # ---- elements ----------------------------------------------------------------------------------

    def generator(self) -> ModPElement:
        return self._gen

    def identity(self) -> ModPElement:
        return self._one

    def element(self, data: bytes) -> ModPElement:
        if not isinstance(data, bytes | bytearray) or len(data) != self.element_bytes:
            raise EncodingError(f"element of {self.name} must be exactly {self.element_bytes} bytes")
        return self.element_from_int(int.from_bytes(data, "big"))

    def element_from_int(self, value: int) -> ModPElement:
        """Validate 0 < x < p and x^q = 1 mod p (EG 2.0 Z_p^r membership)."""
        x = mpz(value)
        if not 0 < x < self.p:
            raise InvalidElementError(f"value not in [1, p) for {self.name}")
        if gmpy2.powmod(x, self.q, self.p) != 1:
            raise InvalidElementError(f"value not in the order-q subgroup of {self.name}")
        return ModPElement(self, x)

    def element_unchecked(self, value: int) -> ModPElement:
        """Wrap a value already known to be a subgroup member (e.g. from a verified batch check)."""
        return ModPElement(self, mpz(value))

    def g_pow(self, exponent: Scalar) -> ModPElement:
        if self._g_table is None:
            self._g_table = ModPFixedBase(self._gen)
        return self._g_table.pow(exponent)

    def g_pow_sec(self, exponent: Scalar) -> ModPElement:
        e = self._exp(exponent)
        # e + q: never zero (powmod_sec refuses 0) and of near-constant length; g^q = 1
        return ModPElement(self, gmpy2.powmod_sec(self.g, e + self.q, self.p))

    def pow_sec(self, base: Element, exponent: Scalar) -> ModPElement:
        e = self._exp(exponent)
        return ModPElement(self, gmpy2.powmod_sec(self._mine(base).value, e + self.q, self.p))

    def prepare(self, window: int) -> None:
        """Rebuild the table of g with ``window``-bit digits if it is smaller (for long runs: 12 bits
        make a power ~27% cheaper for a 46 MB table built in ~0.8 s; specs/02-groups.md §Tables)."""
        if self._g_table is None or self._g_table._w < window:
            self._g_table = ModPFixedBase(self._gen, window)

    def fixed_base(self, base: Element, window: int | None = None) -> ModPFixedBase:
        b = self._mine(base)
        if b == self._gen and window is None:
            if self._g_table is None:
                self._g_table = ModPFixedBase(self._gen)
            return self._g_table
        return ModPFixedBase(b, window or 8)

    def multi_pow(self, bases: Sequence[Element], exponents: Sequence[Scalar]) -> ModPElement:
        if len(bases) != len(exponents):
            raise ValueError("multi_pow: lengths differ")
        p = self.p
        acc = mpz(1)
        for b, e in zip(bases, exponents, strict=True):
            acc = acc * gmpy2.powmod(self._mine(b).value, self._exp(e), p) % p
        return ModPElement(self, acc)

    def product(self, elements: Iterable[Element]) -> ModPElement:
        p = self.p
        acc = mpz(1)
        for x in elements:
            if type(x) is not ModPElement or (x.group is not self and x.group != self):
                raise GroupMismatchError(f"{x!r} used with {self.name}")
            acc = acc * x.value % p
        return ModPElement(self, acc)

    def pow_exp_list(self, base: Element, exponents: Sequence[Scalar]) -> list[ModPElement]:
        """[base^e for e in exponents] in one GIL-free gmpy2 call (variable time)."""
        vals = gmpy2.powmod_exp_list(self._mine(base).value, [self._exp(e) for e in exponents], self.p)
        return [ModPElement(self, v) for v in vals]

    def pow_shared(self, base: Element, exponents: Sequence[Scalar]) -> list[ModPElement]:
        """[base^e for e in exponents] with one shared chain P_i = base^(2^(4 i)) and, per exponent,
        the bucket method over its 4-bit digits (Yao; specs/02-groups.md §Shared squarings): 256
        squarings in all plus ~94 multiplications per exponent, against ~320 steps per exponent in
        one powmod. Python-level, so it holds the GIL; measured 0.75x the time of
        :meth:`pow_exp_list` for 2 exponents, 0.64x for 3."""
        b = self._mine(base).value
        exps = [int(self._exp(e)) for e in exponents]
        if len(exps) < 2:
            return self.pow_exp_list(base, exponents)
        p = self.p
        w = _SHARED_W
        mask = (1 << w) - 1
        chain = [b]
        x = b
        for _ in range((self.q.bit_length() + w - 1) // w - 1):
            for _ in range(w):
                x = x * x % p
            chain.append(x)
        return [
            ModPElement(
                self, _bucket_product((((e >> (w * i)) & mask, c) for i, c in enumerate(chain)), w, p)
            )
            for e in exps
        ]

    def elements_batch(self, blobs: Sequence[bytes]) -> list[ModPElement]:
        """Decode many elements with one batched subgroup test (specs/02-groups.md §Batch membership).

        Each x must satisfy 0 < x < p and Jacobi(x, p) = 1; then (Π x_i^{e_i})^q = 1 for fresh
        random 64-bit e_i. p = 2 q r' + 1 with r' prime, so a non-member passes with probability at
        most 2^-64. On failure the elements are checked one by one to name the culprit.
        """
        L = self.element_bytes
        p = self.p
        xs: list[mpz] = []
        for n, data in enumerate(blobs):
            if not isinstance(data, bytes | bytearray) or len(data) != L:
                raise EncodingError(f"element {n} of {self.name} must be exactly {L} bytes")
            x = mpz(int.from_bytes(data, "big"))
            if not 0 < x < p:
                raise InvalidElementError(f"element {n}: value not in [1, p) for {self.name}")
            xs.append(x)
        if not xs:
            return []
        if len(xs) < 4 or not self._cofactor_is_safe():
            return [self.element_from_int(x) for x in xs]
        for n, x in enumerate(xs):
            if gmpy2.jacobi(x, p) != 1:
                raise InvalidElementError(f"element {n}: not in the order-q subgroup of {self.name}")
        import secrets as _secrets

        exps = [_secrets.randbits(64) for _ in xs]
        prod = _multi_exp_small(xs, exps, p, 64)
        if gmpy2.powmod(prod, self.q, p) != 1:
            for n, x in enumerate(xs):
                if gmpy2.powmod(x, self.q, p) != 1:
                    raise InvalidElementError(f"element {n}: not in the order-q subgroup of {self.name}")
        return [ModPElement(self, x) for x in xs]

    def dlog(self, value: Element, base: Element, bound: int) -> int:
        """Baby-step giant-step for t in [0, bound] with base^t = value."""
        v = self._mine(value).value
        b = self._mine(base).value
        p = self.p
        m = max(1, int(gmpy2.isqrt(bound + 1)) + 1)
        baby: dict[int, int] = {}
        acc = mpz(1)
        for n in range(m):
            baby.setdefault(int(acc), n)
            acc = acc * b % p
        giant = gmpy2.invert(acc, p)  # base^-m
        y = v
        for i in range(m + 1):
            j = baby.get(int(y))
            if j is not None:
                t = i * m + j
                if t <= bound:
                    return t
                break
            y = y * giant % p
        raise ValueError(f"no discrete log in [0, {bound}]")

    def parameter_bytes(self) -> bytes:
        """EG 2.0 eq. 4 inputs after the tag: b(p, l_p) || b(q, l_q) || b(g, l_p)."""
        return (
            int(self.p).to_bytes(self.element_bytes, "big")
            + int(self.q).to_bytes(self.scalar_bytes, "big")
            + int(self.g).to_bytes(self.element_bytes, "big")
        )

    def check_parameters(self, *, primality: bool | None = None) -> None:
        """EG 2.0 §3.1 / footnote 19: p, q, r/2 prime; p - 1 = q r; q does not divide r; g of order q.

        The constants are built in (a record names its group, it cannot supply one), so primality is
        a self-test, done with the strong Baillie-PSW test: deterministic, no composite known to pass
        it, and cheaper than 30 Miller-Rabin rounds on p and r/2 (measured 0.19 s against 0.49 s).
        ``primality``: None (default) runs it unless the group is a built-in one, whose primes are
        known (:func:`_builtin`; the test suite runs it, ~0.2 s for 4096 bits); True always runs it."""
        if primality is None:
            primality = not self._known_primes
        if primality:
            if not gmpy2.is_strong_bpsw_prp(self.q):
                raise ValueError(f"{self.name}: q is not prime")
            if not gmpy2.is_strong_bpsw_prp(self.p):
                raise ValueError(f"{self.name}: p is not prime")
            if not self._r_half_is_prime():
                raise ValueError(f"{self.name}: r/2 is not prime")
        if self.p - 1 != self.q * self.r or self.r % self.q == 0:
            raise ValueError(f"{self.name}: p - 1 != q r or q | r")
        if not 1 < self.g < self.p or gmpy2.powmod(self.g, self.q, self.p) != 1:
            raise ValueError(f"{self.name}: g is not of order q")


# EG 2.0 §3.1.1 standard baseline parameters
_P_HEX = (
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
    "B17217F7D1CF79ABC9E3B39803F2F6AF40F343267298B62D8A0D175B8BAAFA2B"
    "E7B876206DEBAC98559552FB4AFA1B10ED2EAE35C138214427573B291169B825"
    "3E96CA16224AE8C51ACBDA11317C387EB9EA9BC3B136603B256FA0EC7657F74B"
    "72CE87B19D6548CAF5DFA6BD38303248655FA1872F20E3A2DA2D97C50F3FD5C6"
    "07F4CA11FB5BFB90610D30F88FE551A2EE569D6DFC1EFA157D2E23DE1400B396"
    "17460775DB8990E5C943E732B479CD33CCCC4E659393514C4C1A1E0BD1D6095D"
    "25669B333564A3376A9C7F8A5E148E82074DB6015CFE7AA30C480A5417350D2C"
    "955D5179B1E17B9DAE313CDB6C606CB1078F735D1B2DB31B5F50B5185064C18B"
    "4D162DB3B365853D7598A1951AE273EE5570B6C68F96983496D4E6D330AF889B"
    "44A02554731CDC8EA17293D1228A4EF98D6F5177FBCF0755268A5C1F9538B982"
    "61AFFD446B1CA3CF5E9222B88C66D3C5422183EDC99421090BBB16FAF3D949F2"
    "36E02B20CEE886B905C128D53D0BD2F9621363196AF503020060E49908391A0C"
    "57339BA2BEBA7D052AC5B61CC4E9207CEF2F0CE2D7373958D762265890445744"
    "FB5F2DA4B751005892D356890DEFE9CAD9B9D4B713E06162A2D8FDD0DF2FD608"
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
)
_Q = 2**256 - 189
#: the EG 2.0 §3.1.1 δ: p = 2^4096 - 2^3840 + 2^256 (floor(2^3584 ln 2) + δ) + (2^256 - 1)
_DELTA = 287975203778583638958138611533602521491887169409704874643524560756486080635197037903


def _builtin(group: ModPGroup) -> ModPGroup:
    """Mark one of this module's own constant sets: its p, q and r/2 are known primes (specs/02-groups.md
    §2.3), proved by the test suite, not on every start. Not an argument of the constructor: a group
    built from other numbers always proves its own (a wrong claim would void the batched membership
    test's 2^-64 bound)."""
    group._known_primes = True
    group._safe_cofactor = True
    return group


def _standard() -> ModPGroup:
    p = int(_P_HEX, 16)
    # g = 2^r mod p (EG 2.0 §3.1.1): derived, and compared with the published value in tests
    r = (p - 1) // _Q
    g = int(gmpy2.powmod(2, r, p))
    return _builtin(ModPGroup("modp-4096", p, _Q, g, element_bytes=512, scalar_bytes=32))


def _test() -> ModPGroup:
    # q = 2^64 - 59 (largest 64-bit prime); r = 2 r' with r' the smallest prime >= 2^446 such that
    # p = q r + 1 is prime; g = 2^r mod p. Same shape as the standard group; INSECURE, tests only.
    p = int(
        "7fffffffffffffe2800000000000000000000000000000000000000000000000"
        "000000000000000000000000000000000000000000058bddfffffffffeb8c3d7",
        16,
    )
    q = 2**64 - 59
    g = int(gmpy2.powmod(2, (p - 1) // q, p))
    return _builtin(ModPGroup("modp-test-511", p, q, g, element_bytes=64, scalar_bytes=8))


STANDARD = _standard()
TEST = _test()
