"""The prime-order subgroup of edwards25519 through libsodium (PyNaCl) (specs/02-groups.md §Ed25519).

Elements are 32-byte compressed points; decoding accepts the identity and otherwise exactly the
canonical encodings of points in the order-l subgroup (libsodium's ``is_valid_point`` rejects
non-canonical y, small-order and torsioned points; no point of the subgroup has another encoding).
Scalars are integers mod l, encoded big-endian in 32 bytes like every EG scalar (converted to
little-endian only at the libsodium boundary). libsodium refuses the identity as input or result
of a scalar multiplication and a zero scalar; those cases are handled here.

libsodium is called through PyNaCl's cffi module directly (``nacl._sodium``: no argument checking
layer, one output buffer per call); cffi releases the GIL around every call, so batches of
scalar multiplications and subgroup tests run on the worker threads of ``e2evote.groups.parallel``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import gmpy2
from gmpy2 import mpz
from nacl._sodium import ffi as _ffi
from nacl._sodium import lib as _lib

from e2evote.errors import EncodingError, GroupMismatchError, InvalidElementError
from e2evote.groups.base import (
    Element,
    FrozenElement,
    GroupScalars,
    Scalar,
)
from e2evote.groups.parallel import map_shared

__all__ = ["Ed25519Group", "Ed25519Element", "ED25519"]

_L = 2**252 + 27742317777372353535851937790883648493
_IDENTITY = bytes([1]) + bytes(31)

# libsodium through cffi; each call releases the GIL. Every function writes 32 bytes to ``out``.
_new = _ffi.new
_buffer = _ffi.buffer
_SMUL = _lib.crypto_scalarmult_ed25519_noclamp  # (out, n, p): -1 unless p in the order-l subgroup
_SMUL_BASE = _lib.crypto_scalarmult_ed25519_base_noclamp  # (out, n): n·G from libsodium's G tables
_ADD = _lib.crypto_core_ed25519_add  # (out, p, q): -1 if p or q is not a curve point
_SUB = _lib.crypto_core_ed25519_sub
_VALID = _lib.crypto_core_ed25519_is_valid_point  # 1: canonical y, not small order, order-l subgroup


def _le(e: mpz) -> bytes:
    """A scalar 0 <= e < l in libsodium's little-endian 32 bytes."""
    return bytes(e.to_bytes(32, "little"))


def _smul_var(n: bytes, point: bytes) -> bytes:
    """n·point for a nonzero reduced scalar and a non-identity point of the order-l subgroup."""
    out = _new("unsigned char[32]")
    if _SMUL(out, n, point) != 0:
        raise InvalidElementError("libsodium refused the scalar multiplication (point not in the subgroup)")
    r: bytes = _buffer(out)[:]
    return r


def _smul_base(n: bytes) -> bytes:
    out = _new("unsigned char[32]")
    if _SMUL_BASE(out, n) != 0:
        raise InvalidElementError("libsodium refused the base-point multiplication")
    r: bytes = _buffer(out)[:]
    return r


def _point_op(op: Any, p: bytes, q: bytes) -> bytes:
    out = _new("unsigned char[32]")
    if op(out, p, q) != 0:
        raise InvalidElementError("point rejected by libsodium")
    r: bytes = _buffer(out)[:]
    return r


def _add(p: bytes, q: bytes) -> bytes:
    return _point_op(_ADD, p, q)


def _sub(p: bytes, q: bytes) -> bytes:
    return _point_op(_SUB, p, q)


_BASE = _smul_base((1).to_bytes(32, "little"))


def _validate(data: bytes) -> str | None:
    """Why ``data`` (32 bytes, not the identity) is not an element, or None if it is one: libsodium's
    ``is_valid_point`` (canonical y, not of small order, on the curve, in the order-l subgroup). That
    also makes the encoding the point's only one: a non-canonical y (y ≥ p) stands for y - p < 19,
    and no such y is the y of a point of the subgroup; x = 0 only on small-order points, so no sign
    bit is ambiguous (specs/02-groups.md §5.1; tests/unit/test_groups.py checks all 38 encodings)."""
    if _VALID(data) != 1:
        return "not a canonical point of the prime-order subgroup of edwards25519"
    return None


class Ed25519Element(FrozenElement["Ed25519Group", bytes]):
    """A point of the order-l subgroup of edwards25519, held in its canonical 32-byte encoding;
    build one with ``Ed25519Group.element()``."""

    __slots__ = ()

    def _v(self, other: Any) -> bytes:
        if not isinstance(other, Ed25519Element):
            raise GroupMismatchError(f"cannot combine ed25519 element with {type(other).__name__}")
        return other.value

    def __mul__(self, other: Any) -> Ed25519Element:
        o = self._v(other)
        if self.value == _IDENTITY:
            return Ed25519Element(self.group, o)
        if o == _IDENTITY:
            return self
        return Ed25519Element(self.group, _add(self.value, o))

    def __truediv__(self, other: Any) -> Ed25519Element:
        o = self._v(other)
        if o == _IDENTITY:
            return self
        return Ed25519Element(self.group, _sub(self.value, o))

    def __pow__(self, exponent: Scalar) -> Ed25519Element:
        return self.group._smul(self.value, self.group._exp(exponent))

    def inverse(self) -> Ed25519Element:
        if self.value == _IDENTITY:
            return self
        return Ed25519Element(self.group, _sub(_IDENTITY, self.value))

    def is_identity(self) -> bool:
        return self.value == _IDENTITY

    def to_bytes(self) -> bytes:
        return self.value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ed25519Element) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return f"Ed25519Element({self.value.hex()[:12]}…)"


class _Ed25519FixedBase:
    """No table of our own: the generator uses libsodium's precomputed base-point multiplication
    (~5× cheaper than a variable-base one); any other base a full scalar multiplication, which is
    cheaper than any table built from PyNaCl's point additions (each decodes two points and encodes
    one: ~1/7 of a scalar multiplication, and a 4-bit table needs 63 of them). See
    benchmarks/README.md §Groups."""

    __slots__ = ("base",)

    def __init__(self, base: Ed25519Element) -> None:
        self.base = base

    def pow(self, exponent: Scalar) -> Ed25519Element:
        return self.base**exponent

    def pow_many(self, exponents: Sequence[Scalar]) -> list[Ed25519Element]:
        return self.base.group.pow_exp_list(self.base, exponents)


class Ed25519Group(GroupScalars):
    """edwards25519's prime-order subgroup, order l = 2^252 + 27742317777372353535851937790883648493."""

    __slots__ = ("_gen", "_one")

    name = "ed25519"
    q = mpz(_L)
    element_bytes = 32
    scalar_bytes = 32
    fixed_base_on_workers = True
    """Fixed-base powers cost about as much as variable-base ones and release the GIL: batch
    verifiers (e2evote.proofs.range.RangeBatch) compute them on the worker threads too."""

    def __init__(self) -> None:
        self._gen = Ed25519Element(self, _BASE)
        self._one = Ed25519Element(self, _IDENTITY)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ed25519Group)

    def __hash__(self) -> int:
        return hash("ed25519")

    def __repr__(self) -> str:
        return "Ed25519Group()"

    def _exp(self, exponent: Scalar) -> mpz:
        if not isinstance(exponent, Scalar):
            raise TypeError(f"exponent must be a Scalar, got {type(exponent).__name__}")
        if not isinstance(exponent.group, Ed25519Group):
            raise GroupMismatchError(f"scalar of {exponent.group.name} used with ed25519")
        return exponent.value

    def _mine(self, x: Element) -> Ed25519Element:
        if not isinstance(x, Ed25519Element):
            raise GroupMismatchError(f"{x!r} used with ed25519")
        return x

    def _smul(self, point: bytes, e: mpz) -> Ed25519Element:
        if e == 0 or point == _IDENTITY:  # libsodium refuses both (and an identity result)
            return self._one
        if point == _BASE:
            return Ed25519Element(self, _smul_base(_le(e)))
        return Ed25519Element(self, _smul_var(_le(e), point))

    def generator(self) -> Ed25519Element:
        return self._gen

    def identity(self) -> Ed25519Element:
        return self._one

    def element(self, data: bytes) -> Ed25519Element:
        if not isinstance(data, bytes | bytearray) or len(data) != 32:
            raise EncodingError("ed25519 element must be exactly 32 bytes")
        data = bytes(data)
        if data == _IDENTITY:
            return self._one
        problem = _validate(data)
        if problem is not None:
            raise InvalidElementError(problem)
        return Ed25519Element(self, data)

    def g_pow(self, exponent: Scalar) -> Ed25519Element:
        return self._smul(_BASE, self._exp(exponent))

    def g_pow_sec(self, exponent: Scalar) -> Ed25519Element:
        # libsodium's scalar multiplication is constant time
        return self.g_pow(exponent)

    def pow_sec(self, base: Element, exponent: Scalar) -> Ed25519Element:
        return self._smul(self._mine(base).value, self._exp(exponent))

    def prepare(self, window: int) -> None:
        """No tables: libsodium's scalar multiplication is used directly."""

    def fixed_base(self, base: Element, window: int | None = None) -> _Ed25519FixedBase:
        return _Ed25519FixedBase(self._mine(base))

    def multi_pow(self, bases: Sequence[Element], exponents: Sequence[Scalar]) -> Ed25519Element:
        if len(bases) != len(exponents):
            raise ValueError("multi_pow: lengths differ")
        acc = self._one
        for b, e in zip(bases, exponents, strict=True):
            acc = acc * self._smul(self._mine(b).value, self._exp(e))
        return acc

    def product(self, elements: Iterable[Element]) -> Ed25519Element:
        acc = self.identity()
        for x in elements:
            acc = acc * self._mine(x)
        return acc

    def pow_shared(self, base: Element, exponents: Sequence[Scalar]) -> list[Ed25519Element]:
        """No shared work through libsodium's API: :meth:`pow_exp_list`."""
        return self.pow_exp_list(base, exponents)

    def pow_exp_list(self, base: Element, exponents: Sequence[Scalar]) -> list[Ed25519Element]:
        """[base^e for e in exponents]; libsodium calls release the GIL (cffi). The loop of
        :meth:`_smul`, inlined: this is the verifier's inner loop."""
        point = self._mine(base).value
        exps = [self._exp(e) for e in exponents]
        one = self._one
        if point == _IDENTITY:
            return [one] * len(exps)
        on_base = point == _BASE
        out: list[Ed25519Element] = []
        for e in exps:
            if not e:
                out.append(one)
                continue
            buf = _new("unsigned char[32]")
            n = e.to_bytes(32, "little")
            if (_SMUL_BASE(buf, n) if on_base else _SMUL(buf, n, point)) != 0:
                raise InvalidElementError("libsodium refused the scalar multiplication")
            out.append(Ed25519Element(self, _buffer(buf)[:]))
        return out

    def elements_batch(self, blobs: Sequence[bytes]) -> list[Ed25519Element]:
        """Every element validated exactly as by :meth:`element` (no batched shortcut is sound for
        a cofactor-8 curve), the tests spread over the worker threads and the calling thread."""
        items: list[tuple[int, bytes]] = []
        for n, data in enumerate(blobs):
            if not isinstance(data, bytes | bytearray) or len(data) != 32:
                raise EncodingError(f"element {n} of ed25519 must be exactly 32 bytes")
            items.append((n, bytes(data)))
        return map_shared(self._validate_chunk, items, chunk=16)

    def _validate_chunk(self, items: Sequence[tuple[int, bytes]]) -> list[Ed25519Element]:
        out: list[Ed25519Element] = []
        one = self._one
        for n, data in items:
            if data == _IDENTITY:
                out.append(one)
                continue
            problem = _validate(data)
            if problem is not None:
                raise InvalidElementError(f"element {n}: {problem}")
            out.append(Ed25519Element(self, data))
        return out

    def dlog(self, value: Element, base: Element, bound: int) -> int:
        """Baby-step giant-step for t in [0, bound] with base^t = value."""
        val = self._mine(value)
        b = self._mine(base)
        m = max(1, int(gmpy2.isqrt(bound + 1)) + 1)
        baby: dict[bytes, int] = {}
        acc = self._one
        for n in range(m):
            baby.setdefault(acc.value, n)
            acc = acc * b
        giant = acc.inverse()
        y = val
        for i in range(m + 1):
            j = baby.get(y.value)
            if j is not None:
                t = i * m + j
                if t <= bound:
                    return t
                break
            y = y * giant
        raise ValueError(f"no discrete log in [0, {bound}]")

    def parameter_bytes(self) -> bytes:
        """b(l, 32) || G: the group description hashed into H_P (specs/03-hashing.md §H_P)."""
        return int(self.q).to_bytes(32, "big") + _BASE

    def check_parameters(self, *, primality: bool | None = None) -> None:
        """l prime (30 Miller-Rabin rounds, ~1 ms: always run) and B of order l."""
        if not gmpy2.is_prime(self.q, 30):
            raise ValueError("ed25519: l is not prime")
        if _smul_var(_le(self.q - 1), _BASE) != _sub(_IDENTITY, _BASE):
            raise ValueError("ed25519: base point does not have order l")


ED25519 = Ed25519Group()
