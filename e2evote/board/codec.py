"""Canonical msgpack for board objects (specs/08-board.md §2).

Every board structure is a msgpack *array* of integers, byte strings (``bin``), UTF-8 strings,
``nil`` and nested arrays. Maps, floats, booleans and extension types never occur. Encoding uses the
shortest form for every header (what ``msgpack.packb(..., use_bin_type=True)`` emits); decoding is
strict: size bounds are enforced before and during parsing, and the input must re-encode to exactly
the same bytes, so every value has exactly one accepted encoding. No pickle, no ``eval``.
"""

from __future__ import annotations

from typing import Final

import e2evote.encoding as encoding
from e2evote.errors import EncodingError

__all__ = [
    "MAX_EVENT_BYTES",
    "MAX_ARRAY_LEN",
    "pack",
    "unpack",
    "expect_array",
    "expect_bytes",
    "expect_opt_bytes",
    "expect_int",
    "expect_str",
    "u64",
]

MAX_EVENT_BYTES: Final = 16 * 1024 * 1024
"""Upper bound on one encoded event (and on any single board object)."""

MAX_ARRAY_LEN: Final = 16 * 1024 * 1024
"""Upper bound on array lengths (credential lists are the only long arrays)."""

Packable = int | str | bytes | None | list["Packable"] | tuple["Packable", ...]


def pack(obj: Packable) -> bytes:
    """Canonical msgpack encoding of ``obj`` (arrays, ints, bin, str, nil only)."""
    _check_types(obj, "board object")
    return encoding.pack(obj)


def unpack(data: bytes, *, what: str, max_bytes: int = MAX_EVENT_BYTES) -> object:
    """Strictly decode one canonical msgpack value (e2evote.encoding.unpack: bounded, no trailing
    bytes, re-encodes identically) holding only the board's types; raise :class:`EncodingError`."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise EncodingError(f"{what}: expected bytes")
    try:
        obj: object = encoding.unpack(bytes(data), max_bytes=max_bytes)
    except EncodingError as exc:
        raise EncodingError(f"{what}: {exc}") from None
    _check_types(obj, what)
    return obj


def _check_types(obj: object, what: str) -> None:
    if obj is None or type(obj) in (int, str, bytes):
        return
    if isinstance(obj, list | tuple) and type(obj) in (list, tuple):
        for item in obj:
            _check_types(item, what)
        return
    raise EncodingError(f"{what}: value of type {type(obj).__name__} is not allowed")


def expect_array(obj: object, what: str, length: int | None = None) -> list[object]:
    """``obj`` as a list, optionally of exactly ``length`` items."""
    if type(obj) is not list:
        raise EncodingError(f"{what}: expected an array")
    if length is not None and len(obj) != length:
        raise EncodingError(f"{what}: expected an array of {length} items, got {len(obj)}")
    return obj


def expect_bytes(obj: object, what: str, *, size: int | None = None, max_size: int | None = None) -> bytes:
    """``obj`` as bytes of an exact ``size`` or at most ``max_size`` bytes."""
    if type(obj) is not bytes:
        raise EncodingError(f"{what}: expected a byte string")
    if size is not None and len(obj) != size:
        raise EncodingError(f"{what}: expected {size} bytes, got {len(obj)}")
    if max_size is not None and len(obj) > max_size:
        raise EncodingError(f"{what}: longer than {max_size} bytes")
    return obj


def expect_opt_bytes(
    obj: object, what: str, *, size: int | None = None, max_size: int | None = None
) -> bytes | None:
    """``None`` or bytes as in :func:`expect_bytes`."""
    if obj is None:
        return None
    return expect_bytes(obj, what, size=size, max_size=max_size)


def expect_int(obj: object, what: str, lo: int = 0, hi: int = 2**63 - 1) -> int:
    """``obj`` as an int in ``[lo, hi]`` (booleans are not integers here)."""
    if type(obj) is not int:
        raise EncodingError(f"{what}: expected an integer")
    if not lo <= obj <= hi:
        raise EncodingError(f"{what}: {obj} outside [{lo}, {hi}]")
    return obj


def expect_str(obj: object, what: str, *, max_len: int = 256) -> str:
    """``obj`` as a str of at most ``max_len`` characters."""
    if type(obj) is not str:
        raise EncodingError(f"{what}: expected a string")
    if len(obj) > max_len:
        raise EncodingError(f"{what}: longer than {max_len} characters")
    return obj


def u64(i: int) -> bytes:
    """An integer 0 <= i < 2^63 as 8 big-endian bytes (specs/08-board.md §4)."""
    if not 0 <= i < 2**63:
        raise EncodingError(f"integer {i} out of range [0, 2^63)")
    return i.to_bytes(8, "big")
