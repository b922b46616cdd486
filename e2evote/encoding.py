"""Canonical encodings (specs/01-encoding.md).

Integers are fixed-width big-endian (EG 2.0 §5.1). Structured objects use canonical msgpack:
maps with string keys in sorted order, integers in their shortest form, binary data as ``bin``,
no floats, no extension types; decoding re-encodes and demands the same bytes, so exactly one byte
string encodes each value. Every decoder has an explicit size bound.
"""

from __future__ import annotations

import os
import stat
from typing import Any

import msgpack

from e2evote.errors import EncodingError

__all__ = [
    "int_to_fixed",
    "fixed_to_int",
    "pack",
    "unpack",
    "MAX_OBJECT_BYTES",
    "MAX_CONTAINER_ITEMS",
    "container_bound",
    "hex_to_fixed",
    "read_regular_file",
]

#: default upper bound on any single msgpack object we decode (64 MiB)
MAX_OBJECT_BYTES = 64 * 1024 * 1024
#: upper bound on the entries of one msgpack array or map (specs/01-encoding.md §2 rule 8), unless
#: the decoder's byte bound allows more at one entry per :data:`BYTES_PER_ITEM` bytes
MAX_CONTAINER_ITEMS = 1 << 20
#: a decoder given a byte bound above 40 MiB accepts one container entry per this many bytes (the
#: board's credential list, 2^24 keys of 34 bytes in 640 MiB, is the one long list)
BYTES_PER_ITEM = 40
#: at most one array or map per this many bytes of input (plus :data:`_FREE_CONTAINERS`): caps what
#: a flood of tiny containers can cost in memory (an empty one is 1 byte of msgpack, ~60 of Python)
BYTES_PER_CONTAINER = 8
_FREE_CONTAINERS = 1024
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


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
    """Hex text (either case, as egk writes it) of at most ``width`` bytes, left-padded to ``width``.

    Only hex digits: no whitespace, sign or prefix (``bytes.fromhex`` alone would skip whitespace)."""
    if not isinstance(text, str) or len(text) > 2 * width or len(text) == 0:
        raise EncodingError(f"expected hex of at most {width} bytes")
    if not _HEX_DIGITS.issuperset(text):
        raise EncodingError(f"not hex: {text[:16]!r}…")
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


def container_bound(max_bytes: int) -> int:
    """The most entries one array or map may hold in an object of at most ``max_bytes`` bytes:
    :data:`MAX_CONTAINER_ITEMS`, or one per :data:`BYTES_PER_ITEM` bytes if that is more."""
    return max(MAX_CONTAINER_ITEMS, max_bytes // BYTES_PER_ITEM)


def unpack(data: bytes, max_bytes: int = MAX_OBJECT_BYTES, *, max_items: int | None = None) -> Any:
    """Strictly decode canonical msgpack: bounded size, no trailing bytes, re-encodes identically.

    An array or map holds at most ``max_items`` entries (default :func:`container_bound` of
    ``max_bytes``), checked on its header before anything is allocated; and there is at most one
    array or map per :data:`BYTES_PER_CONTAINER` bytes of input (plus 1024), counted as they are
    built."""
    if not isinstance(data, bytes | bytearray):
        raise EncodingError("expected bytes")
    if len(data) > max_bytes:
        raise EncodingError(f"object of {len(data)} bytes exceeds the bound of {max_bytes}")
    items = container_bound(max_bytes) if max_items is None else max_items
    budget = [len(data) // BYTES_PER_CONTAINER + _FREE_CONTAINERS]

    def counted(container: Any) -> Any:
        budget[0] -= 1
        if budget[0] < 0:
            raise EncodingError(f"more than one array or map per {BYTES_PER_CONTAINER} bytes of input")
        return container

    try:
        obj = msgpack.unpackb(
            bytes(data),
            raw=False,
            strict_map_key=True,
            use_list=True,
            max_str_len=max_bytes,
            max_bin_len=max_bytes,
            max_array_len=items,
            max_map_len=items,
            max_ext_len=0,
            ext_hook=_reject_ext,
            list_hook=counted,
            object_hook=counted,
        )
    except EncodingError:
        raise
    except Exception as exc:  # noqa: BLE001 - msgpack raises many unrelated exception types
        raise EncodingError(f"malformed msgpack: {type(exc).__name__}: {exc}") from None
    _check_canonical(obj)  # sorted string keys, allowed types: pack(obj) would re-check and re-sort
    if msgpack.packb(obj, use_bin_type=True) != bytes(data):
        raise EncodingError("msgpack is not in canonical form")
    return obj


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def read_regular_file(path: str | os.PathLike[str], max_bytes: int, *, follow_links: bool = False) -> bytes:
    """The bytes of the regular file ``path``, of at most ``max_bytes`` bytes.

    A symbolic link (unless ``follow_links``: then the file it names), directory, FIFO, device or
    socket is refused without being opened (so it can neither block nor stream without end), the
    file is opened with ``O_NONBLOCK`` (and ``O_NOFOLLOW`` unless ``follow_links``) and checked again
    (a swap between the two checks is refused), and at most ``max_bytes + 1`` bytes are read
    whatever its stated size (a file that grows past the bound is refused).

    Raises :class:`FileNotFoundError` if ``path`` does not exist, :class:`EncodingError` naming
    ``path`` for every other refusal or read error."""
    name = os.fspath(path)
    try:
        st = os.stat(path) if follow_links else os.lstat(path)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise EncodingError(f"{name}: cannot read ({exc.strerror or type(exc).__name__})") from None
    if not stat.S_ISREG(st.st_mode):
        raise EncodingError(f"{name}: {_kind(st.st_mode)}, not a regular file")
    if st.st_size > max_bytes:
        raise EncodingError(f"{name}: larger than {max_bytes} bytes")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | (0 if follow_links else getattr(os, "O_NOFOLLOW", 0))
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise EncodingError(f"{name}: cannot read ({exc.strerror or type(exc).__name__})") from None
    parts: list[bytes] = []
    total = 0
    limit = max_bytes + 1
    try:
        with os.fdopen(fd, "rb", buffering=0) as fh:
            now = os.fstat(fh.fileno())
            if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                raise EncodingError(f"{name}: replaced while being opened")
            while total < limit:
                # the stated size first (one read for an unchanged file), then small steps to EOF
                chunk = fh.read(min(limit - total, max(now.st_size + 1 - total, 1 << 16)))
                if not chunk:
                    break
                parts.append(chunk)
                total += len(chunk)
    except OSError as exc:
        raise EncodingError(f"{name}: cannot read ({exc.strerror or type(exc).__name__})") from None
    if total > max_bytes:
        raise EncodingError(f"{name}: larger than {max_bytes} bytes")
    return parts[0] if len(parts) == 1 else b"".join(parts)
