"""Compact per-ballot state for the log's verifiers (specs/08-board.md §12.4).

A national log has millions of ballots, and its verifiers keep a few byte strings per ballot (the
confirmation code, the ballot's digest, the credential). As Python ``bytes`` in dicts and sets these
cost ~120 bytes each beyond the value; :class:`ByteTable` keeps them in one ``bytearray`` with an
open-addressing index of 32-bit row numbers: the value's length (+ 8 bytes of offset when lengths
vary) + 8-16 bytes a row.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

__all__ = ["ByteTable"]

_MIN_SLOTS = 16
_U64 = (1 << 64) - 1
_SHIFT = 5  # CPython's PERTURB_SHIFT: i = 5 i + 1 + perturb, perturb >>= 5 (all slots, once perturb is 0)
MAX_ROWS = 2**31 - 2
"""row numbers are stored + 1 in 32-bit slots (0: empty)"""


class ByteTable:
    """Byte strings appended as rows 0, 1, … with an index from each value to its *first* row.

    ``width``: every value has exactly this many bytes (no offsets kept); None: 0..``max_len`` bytes.
    ``indexed``: False keeps the rows only (no :meth:`find`, no index memory).
    The index hashes with Python's ``hash`` of ``bytes`` (SipHash, keyed at random per process unless
    PYTHONHASHSEED is set) and probes as CPython's dicts do (the next slot depends on every bit of the
    hash, not only on the slot's), at most half full: even with a known hash key, a log's author would
    need full 64-bit hash collisions, not merely equal low bits, to build long probe chains. Values
    are compared in full, so equal hashes never conflate two values. Not thread-safe (callers lock).
    """

    __slots__ = ("width", "max_len", "_data", "_ends", "_slots", "_mask", "_rows", "_miss")

    def __init__(self, width: int | None = None, *, max_len: int = 64, indexed: bool = True) -> None:
        if width is not None and width < 1:
            raise ValueError("width must be positive")
        self.width = width
        self.max_len = width if width is not None else max_len
        self._data = bytearray()
        self._ends: array[int] | None = None if width is not None else array("Q")
        self._slots: array[int] | None = array("i", bytes(4 * _MIN_SLOTS)) if indexed else None
        self._mask = _MIN_SLOTS - 1
        self._rows = 0
        self._miss: tuple[bytes, int] | None = None
        """(value, empty slot) of the last find that missed: an append of that very value (nothing
        added in between) takes the slot without probing again"""

    def __len__(self) -> int:
        return self._rows

    def __getitem__(self, row: int) -> bytes:
        if not 0 <= row < self._rows:
            raise IndexError(row)
        if self._ends is None:
            w = self.width
            assert w is not None
            return bytes(self._data[row * w : (row + 1) * w])
        start = self._ends[row - 1] if row else 0
        return bytes(self._data[start : self._ends[row]])

    def __iter__(self) -> Iterator[bytes]:
        for row in range(self._rows):
            yield self[row]

    def __contains__(self, value: object) -> bool:
        return isinstance(value, bytes) and self.find(value) is not None

    def find(self, value: bytes) -> int | None:
        """The first row holding ``value``, or None."""
        slots, mask = self._slots, self._mask
        if slots is None:
            raise TypeError("a table without index has no find")
        perturb = hash(value) & _U64
        i = perturb & mask
        while True:
            r = slots[i]
            if r == 0:
                self._miss = (value, i)
                return None
            if self._equal(r - 1, value):
                return r - 1
            perturb >>= _SHIFT
            i = (5 * i + 1 + perturb) & mask

    def append(self, value: bytes) -> int:
        """Add ``value`` as the next row (indexed unless an earlier row holds it); return its row."""
        n = len(value)
        if self.width is not None and n != self.width:
            raise ValueError(f"value must be {self.width} bytes")
        if n > self.max_len:
            raise ValueError(f"value must be at most {self.max_len} bytes")
        row = self._rows
        if row >= MAX_ROWS:
            raise OverflowError("table full")
        self._data += value
        if self._ends is not None:
            self._ends.append(len(self._data))
        self._rows = row + 1
        slots = self._slots
        if slots is None:
            return row
        miss, self._miss = self._miss, None
        if 2 * self._rows > len(slots):
            self._grow()
        elif miss is not None and miss[0] is value:
            slots[miss[1]] = row + 1
        else:
            self._index(row, value)
        return row

    def nbytes(self) -> int:
        """Bytes held in the arrays (not counting the object headers)."""
        ends = 0 if self._ends is None else self._ends.itemsize * len(self._ends)
        slots = 0 if self._slots is None else self._slots.itemsize * len(self._slots)
        return len(self._data) + ends + slots

    # ----------------------------------------------------------------------------------------------

    def _equal(self, row: int, value: bytes) -> bool:
        if self._ends is None:
            w = len(value)
            if w != self.width:
                return False
            return self._data[row * w : (row + 1) * w] == value
        start = self._ends[row - 1] if row else 0
        end = self._ends[row]
        return end - start == len(value) and self._data[start:end] == value

    def _index(self, row: int, value: bytes) -> None:
        slots, mask = self._slots, self._mask
        assert slots is not None
        perturb = hash(value) & _U64
        i = perturb & mask
        while True:
            r = slots[i]
            if r == 0:
                slots[i] = row + 1
                return
            if self._equal(r - 1, value):
                return  # an earlier row holds it: lookups keep finding that one
            perturb >>= _SHIFT
            i = (5 * i + 1 + perturb) & mask

    def _grow(self) -> None:
        assert self._slots is not None
        size = 2 * len(self._slots)
        self._slots = array("i", bytes(4 * size))
        self._mask = size - 1
        data, ends, w = self._data, self._ends, self.width
        start = 0
        for row in range(self._rows):  # ascending: each value's first row is indexed first
            end = ends[row] if ends is not None else start + (w or 0)
            self._index(row, bytes(data[start:end]))
            start = end
