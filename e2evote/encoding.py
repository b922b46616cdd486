"""Canonical encodings (specs/01-encoding.md).

Integers are fixed-width big-endian (EG 2.0 §5.1). Structured objects use canonical msgpack:
maps with string keys in sorted order, integers in their shortest form, binary data as ``bin``,
no floats, no extension types; decoding re-encodes and demands the same bytes, so exactly one byte
string encodes each value. Every decoder has an explicit size bound.
"""

from __future__ import annotations

from typing import Any

import msgpack

from e2evote.errors import EncodingError

__all__ = [
    "int_to_fixed",
    "fixed_to_int",
    "pack",
    "unpack",
    "MAX_OBJECT_BYTES",
    "hex_to_fixed",
]

#: default upper bound on any single msgpack object we decode (64 MiB)
MAX_OBJECT_BYTES = 64 * 1024 * 1024


def int_to_fixed(value: int, width: int) -> bytes:
    """b(value, width) of EG 2.0 eq. 98; raises if it does not fit."""
    if value < 0 or value >= 1 << (8 * width):
        raise EncodingError(f"integer does not fit in {width} bytes")
    return int(value).to_bytes(width, "big")


def fixed_to_int(data: bytes, width: int) -> int:
    """Strict inverse of :func:`int_to_fixed`: the length must be exactly ``width``."""
    if not isinstance(data, bytes | bytearray) or len(data) != width:
        got = len(data) if isinstance(data, bytes | bytearray) else type(data).__name__
        raise EncodingError(f"expected {width} bytes, got {got}")
    return int.from_bytes(data, "big")


def hex_to_fixed(text: str, width: int) -> bytes:
    """Hex text (either case, as egk writes it) of at most ``width`` bytes, left-padded to ``width``."""
    if not isinstance(text, str) or len(text) > 2 * width or len(text) == 0:
        raise EncodingError(f"expected hex of at most {width} bytes")
    try:
        raw = bytes.fromhex(text if len(text) % 2 == 0 else "0" + text)
    except ValueError as exc:
        raise EncodingError(f"not hex: {text[:16]!r}…") from exc
    return raw.rjust(width, b"\x00")


def _reject_ext(code: int, data: bytes) -> Any:
    raise EncodingError(f"msgpack extension type {code} is not allowed")


def _check_canonical(obj: Any, depth: int = 0) -> None:
    if depth > 64:
        raise EncodingError("msgpack object nested too deeply")
    if isinstance(obj, dict):
        keys = list(obj.keys())
        if not all(isinstance(k, str) for k in keys):
            raise EncodingError("msgpack map keys must be strings")
        if keys != sorted(keys):
            raise EncodingError("msgpack map keys not in canonical (sorted) order")
        for v in obj.values():
            _check_canonical(v, depth + 1)
    elif isinstance(obj, list):
        for v in obj:
            _check_canonical(v, depth + 1)
    elif obj is None or isinstance(obj, bool | int | str | bytes):
        return
    else:
        raise EncodingError(f"type {type(obj).__name__} not allowed in canonical msgpack")


def _sort_maps(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _sort_maps(obj[k]) for k in sorted(obj)}
    if isinstance(obj, list | tuple):
        return [_sort_maps(v) for v in obj]
    return obj


def pack(obj: Any) -> bytes:
    """Canonical msgpack bytes of a tree of dict/list/str/bytes/int/bool/None."""
    tree = _sort_maps(obj)
    _check_canonical(tree)
    return msgpack.packb(tree, use_bin_type=True, strict_types=False)  # type: ignore[no-any-return]


def unpack(data: bytes, max_bytes: int = MAX_OBJECT_BYTES) -> Any:
    """Strictly decode canonical msgpack: bounded size, no trailing bytes, re-encodes identically."""
    if not isinstance(data, bytes | bytearray):
        raise EncodingError("expected bytes")
    if len(data) > max_bytes:
        raise EncodingError(f"object of {len(data)} bytes exceeds the bound of {max_bytes}")
    try:
        obj = msgpack.unpackb(
            bytes(data),
            raw=False,
            strict_map_key=True,
            use_list=True,
            max_str_len=max_bytes,
            max_bin_len=max_bytes,
            max_array_len=max_bytes,
            max_map_len=max_bytes,
            max_ext_len=0,
            ext_hook=_reject_ext,
        )
    except EncodingError:
        raise
    except Exception as exc:  # noqa: BLE001 - msgpack raises many unrelated exception types
        raise EncodingError(f"malformed msgpack: {type(exc).__name__}: {exc}") from None
    _check_canonical(obj)  # sorted string keys, allowed types: pack(obj) would re-check and re-sort
    if msgpack.packb(obj, use_bin_type=True) != bytes(data):
        raise EncodingError("msgpack is not in canonical form")
    return obj
