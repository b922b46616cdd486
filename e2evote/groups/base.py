"""The group interface every protocol function is written against (specs/02-groups.md).

A group is a value passed explicitly, never a global. Elements and scalars carry their group;
combining values of two groups raises :class:`~e2evote.errors.GroupMismatchError`. The protocol
uses multiplicative notation (EG 2.0): ``a * b`` is the group operation, ``a ** s`` exponentiation by
a :class:`Scalar`, ``g_pow(s)`` a fixed-base exponentiation of the generator.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import gmpy2

from e2evote.errors import EncodingError, GroupMismatchError, InvalidScalarError

__all__ = ["Group", "Element", "Scalar", "FixedBase"]

_G = TypeVar("_G")
_V = TypeVar("_V")


@runtime_checkable
class Element(Protocol):
    """A member of the group's prime-order subgroup (validated on construction from bytes)."""

    @property
    def group(self) -> Group: ...

    def __mul__(self, other: Any) -> Element: ...

    def __truediv__(self, other: Any) -> Element: ...

    def __pow__(self, exponent: Scalar) -> Element: ...

    def inverse(self) -> Element: ...

    def is_identity(self) -> bool: ...

    def to_bytes(self) -> bytes: ...


class FrozenElement(Generic[_G, _V]):
    """The immutable ``(group, value)`` storage shared by the concrete element classes.

    ``ModPElement`` and ``Ed25519Element`` hold the same two slots and refuse attribute assignment in
    the same way; only the arithmetic differs. A subclass declares ``__slots__ = ()`` (no instance
    dict) and inherits ``__init__``: construction does the same two slot writes, and attribute
    access and the operators the same Python-level work, as when each class defined these itself
    (every group operation builds an element, on the verifier's inner loop). The one deeper MRO
    costs CPython ~100 machine instructions per element built (``object.__setattr__``'s override
    check, deallocation): ~0.2% of a 4096-bit ``ModPElement.__mul__``, below timing noise.
    """

    __slots__ = ("group", "value")

    group: _G
    value: _V

    def __init__(self, group: _G, value: _V) -> None:
        """Unchecked: elements come from the group's decoding/validating methods, never from here."""
        object.__setattr__(self, "group", group)
        object.__setattr__(self, "value", value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")


class FixedBase(Protocol):
    """Precomputed powers of one base (built once per election, reused)."""

    @property
    def base(self) -> Element: ...

    def pow(self, exponent: Scalar) -> Element: ...

    def pow_many(self, exponents: Sequence[Scalar]) -> Sequence[Element]: ...


class Group(Protocol):
    """A prime-order group usable by EG 2.0 (specs/02-groups.md §Interface)."""

    @property
    def name(self) -> str:
        """Short stable identifier (``modp-4096``, ``modp-test-511``, ``ed25519``)."""
        ...

    @property
    def q(self) -> int:
        """The prime order of the subgroup."""
        ...

    @property
    def element_bytes(self) -> int:
        """l_p: width of an encoded element (512 for the EG 2.0 standard group)."""
        ...

    @property
    def scalar_bytes(self) -> int:
        """l_q: width of an encoded scalar (32)."""
        ...

    def generator(self) -> Element: ...

    def identity(self) -> Element: ...

    def element(self, data: bytes) -> Element:
        """Decode and validate (canonical, in the prime-order subgroup; identity allowed)."""
        ...

    def g_pow(self, exponent: Scalar) -> Element:
        """g^e through the fixed-base table (variable time in the exponent's digits)."""
        ...

    def g_pow_sec(self, exponent: Scalar) -> Element:
        """g^e computed in constant time (for long-term secrets)."""
        ...

    def fixed_base(self, base: Element, window: int | None = None) -> FixedBase: ...

    def prepare(self, window: int) -> None:
        """Enlarge the generator's fixed-base table for a long run (no-op where tables are unused)."""
        ...

    def multi_pow(self, bases: Sequence[Element], exponents: Sequence[Scalar]) -> Element:
        """prod bases[i] ** exponents[i] (verification work; variable time)."""
        ...

    def product(self, elements: Iterable[Element]) -> Element:
        """The group product of ``elements`` (the identity for none); one tight loop, for aggregation."""
        ...

    def pow_sec(self, base: Element, exponent: Scalar) -> Element:
        """base^e in constant time (for secret exponents)."""
        ...

    def pow_exp_list(self, base: Element, exponents: Sequence[Scalar]) -> Sequence[Element]:
        """[base^e for e in exponents], releasing the GIL where the backend can (variable time)."""
        ...

    def pow_shared(self, base: Element, exponents: Sequence[Scalar]) -> Sequence[Element]:
        """[base^e for e in exponents] sharing work between the exponents where the backend can
        (one chain of squarings for Z_p^r); may hold the GIL: for a thread that has the core to
        itself, e.g. a worker process (variable time)."""
        ...

    def elements_batch(self, blobs: Sequence[bytes]) -> Sequence[Element]:
        """Decode and validate many elements at once (batched subgroup test where sound)."""
        ...

    def dlog(self, value: Element, base: Element, bound: int) -> int:
        """The t in [0, bound] with base^t == value, or raise ``ValueError``."""
        ...

    def parameter_bytes(self) -> bytes:
        """The bytes hashed into H_P after the tag (EG 2.0 eq. 4 for the standard group)."""
        ...

    def check_parameters(self, *, primality: bool | None = None) -> None:
        """Self-check of the subgroup structure and, with ``primality`` (None: unless the built-in
        constants' primes are known, specs/02-groups.md §2.3), the primality tests; raises on failure."""
        ...

    # scalars -------------------------------------------------------------------------------------

    def scalar(self, value: int) -> Scalar:
        """A scalar in Z_q; out-of-range values are rejected, never reduced."""
        ...

    def scalar_from_bytes(self, data: bytes) -> Scalar: ...

    def scalar_reduce(self, value: int) -> Scalar:
        """value mod q: only for hash outputs and arithmetic results, never for decoded input."""
        ...

    def random_scalar(self) -> Scalar: ...


class Scalar:
    """An integer modulo the group order q (EG 2.0 Z_q). Its value never appears in repr."""

    __slots__ = ("group", "value")

    group: Group
    value: gmpy2.mpz

    def __init__(self, group: Group, value: gmpy2.mpz) -> None:  # unchecked: use Group.scalar()
        object.__setattr__(self, "group", group)
        object.__setattr__(self, "value", value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Scalar is immutable")

    def _other(self, other: Scalar) -> gmpy2.mpz:
        if not isinstance(other, Scalar):
            raise TypeError(f"expected Scalar, got {type(other).__name__}")
        if other.group is not self.group and other.group != self.group:
            raise GroupMismatchError(f"scalar of {other.group.name} used with {self.group.name}")
        return other.value

    def __add__(self, other: Scalar) -> Scalar:
        return Scalar(self.group, (self.value + self._other(other)) % self.group.q)

    def __sub__(self, other: Scalar) -> Scalar:
        return Scalar(self.group, (self.value - self._other(other)) % self.group.q)

    def __mul__(self, other: Scalar) -> Scalar:
        return Scalar(self.group, (self.value * self._other(other)) % self.group.q)

    def __neg__(self) -> Scalar:
        return Scalar(self.group, (-self.value) % self.group.q)

    def inverse(self) -> Scalar:
        if self.value == 0:
            raise ZeroDivisionError("zero has no inverse mod q")
        return Scalar(self.group, gmpy2.invert(self.value, self.group.q))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scalar) and other.group == self.group and other.value == self.value

    def __hash__(self) -> int:
        return hash((self.group.name, int(self.value)))

    def __int__(self) -> int:
        return int(self.value)

    def __bool__(self) -> bool:
        return bool(self.value)

    def __repr__(self) -> str:
        return f"Scalar({self.group.name}, …)"

    def to_bytes(self) -> bytes:
        return int(self.value).to_bytes(self.group.scalar_bytes, "big")


def scalar_checked(group: Group, value: int) -> Scalar:
    """Shared implementation of ``Group.scalar``: reject values outside [0, q)."""
    if isinstance(value, bool) or not isinstance(value, int | type(gmpy2.mpz(0))):
        raise InvalidScalarError(f"scalar must be an integer, got {type(value).__name__}")
    if not 0 <= value < group.q:
        raise InvalidScalarError(f"scalar not in Z_q of {group.name}")
    return Scalar(group, gmpy2.mpz(value))


def scalar_from_bytes_checked(group: Group, data: bytes) -> Scalar:
    if not isinstance(data, bytes | bytearray) or len(data) != group.scalar_bytes:
        raise EncodingError(f"scalar of {group.name} must be exactly {group.scalar_bytes} bytes")
    return scalar_checked(group, int.from_bytes(data, "big"))


def random_scalar(group: Group) -> Scalar:
    """Uniform in Z_q from the ``secrets`` module."""
    return Scalar(group, gmpy2.mpz(secrets.randbelow(group.q)))


class GroupScalars:
    """The scalar half of :class:`Group`, shared by the concrete groups (a mixin, no state).

    Scalars of every group are the same thing, integers in Z_q, so ``ModPGroup`` and
    ``Ed25519Group`` build them the same way; only ``q`` and ``scalar_bytes`` differ, and those are
    read from the group. ``self`` is typed as :class:`Group`: only a full group may mix this in.
    """

    __slots__ = ()

    def scalar(self: Group, value: int) -> Scalar:
        """A scalar in Z_q; out-of-range values are rejected, never reduced."""
        return scalar_checked(self, value)

    def scalar_from_bytes(self: Group, data: bytes) -> Scalar:
        """Decode exactly ``scalar_bytes`` big-endian bytes into Z_q (no reduction)."""
        return scalar_from_bytes_checked(self, data)

    def scalar_reduce(self: Group, value: int) -> Scalar:
        """value mod q: only for hash outputs and arithmetic results, never for decoded input."""
        return Scalar(self, gmpy2.mpz(value) % self.q)

    def random_scalar(self: Group) -> Scalar:
        """Uniform in Z_q from the ``secrets`` module."""
        return random_scalar(self)
