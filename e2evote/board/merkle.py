"""RFC 6962 Merkle tree hashing, audit paths and consistency proofs (specs/08-board.md §3).

* leaf hash  ``SHA-256(0x00 || leaf)``, node hash ``SHA-256(0x01 || left || right)``;
* ``MTH(D[n])`` splits at the largest power of two ``k < n`` (RFC 6962 §2.1);
* audit paths ``PATH(m, D[n])`` (§2.1.1) and consistency proofs ``PROOF(m, D[n])`` (§2.1.2);
* verifiers follow RFC 9162 §2.1.3.2 and §2.1.4.2, which check RFC 6962 proofs.

Every subtree that the RFC recursion visits is *aligned*: it is a run of perfect subtrees
``(level, index)`` covering leaves ``[index * 2^level, (index + 1) * 2^level)``. Storage keeps those
perfect nodes (they never change once complete), so any proof needs O(log n) stored hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, Protocol

from e2evote.errors import VerificationError

__all__ = [
    "HASH_SIZE",
    "EMPTY_ROOT",
    "NodeKey",
    "NodeSource",
    "MemoryTree",
    "leaf_hash",
    "node_hash",
    "root_from_leaves",
    "frontier_append",
    "frontier_root",
    "frontier_audit_path",
    "perfect_decomposition",
    "inclusion_ranges",
    "consistency_ranges",
    "subtree_hashes",
    "inclusion_proof",
    "consistency_proof",
    "tree_root",
    "verify_inclusion",
    "verify_consistency",
]

HASH_SIZE: Final = 32
EMPTY_ROOT: Final = hashlib.sha256(b"").digest()

NodeKey = tuple[int, int]
"""``(level, index)`` of a perfect subtree: leaves ``[index << level, (index + 1) << level)``."""


class NodeSource(Protocol):
    """Anything that can return stored perfect-subtree hashes (a storage backend, a MemoryTree)."""

    def get_nodes(self, keys: Sequence[NodeKey]) -> Mapping[NodeKey, bytes]: ...


def leaf_hash(data: bytes) -> bytes:
    """RFC 6962 §2.1: ``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 6962 §2.1: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _is_pow2(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


# --------------------------------------------------------------------------------------------------
# Compact range ("frontier"): the perfect subtrees of a tree of size n, left to right.


def frontier_append(
    frontier: Sequence[bytes], size: int, leaf: bytes
) -> tuple[tuple[bytes, ...], list[tuple[NodeKey, bytes]], list[bytes]]:
    """Append leaf hash ``leaf`` at index ``size`` to the compact range of a tree of ``size`` leaves.

    Returns ``(new_frontier, new_nodes, merged)``: the compact range of the size ``size + 1`` tree,
    every perfect node completed by this append (including the leaf itself, level 0) and the left
    siblings merged on the way up (deepest first).
    """
    if len(frontier) != bin(size).count("1"):
        raise ValueError("frontier does not match the tree size")
    stack = list(frontier)
    h = leaf
    level, index = 0, size
    nodes: list[tuple[NodeKey, bytes]] = [((0, size), leaf)]
    merged: list[bytes] = []
    while index & 1:
        left = stack.pop()
        merged.append(left)
        h = node_hash(left, h)
        level, index = level + 1, index >> 1
        nodes.append(((level, index), h))
    stack.append(h)
    return tuple(stack), nodes, merged


def frontier_root(frontier: Sequence[bytes]) -> bytes:
    """``MTH`` of the tree whose compact range is ``frontier`` (right fold, RFC 6962 §2.1)."""
    if not frontier:
        return EMPTY_ROOT
    acc = frontier[-1]
    for h in reversed(frontier[:-1]):
        acc = node_hash(h, acc)
    return acc


def frontier_audit_path(new_frontier: Sequence[bytes], merged: Sequence[bytes]) -> list[bytes]:
    """``PATH(n, D[n+1])`` for the leaf just appended, from :func:`frontier_append`'s output."""
    return list(merged) + list(reversed(new_frontier[:-1]))


def root_from_leaves(leaves: Iterable[bytes]) -> bytes:
    """``MTH`` over leaf *hashes* (not raw leaves), in O(n) time and O(log n) memory."""
    frontier: tuple[bytes, ...] = ()
    size = 0
    for leaf in leaves:
        frontier, _, _ = frontier_append(frontier, size, leaf)
        size += 1
    return frontier_root(frontier)


# --------------------------------------------------------------------------------------------------
# Which subtrees a proof needs.


def perfect_decomposition(lo: int, hi: int) -> list[NodeKey]:
    """The perfect subtrees, left to right, whose right fold is ``MTH(D[lo:hi])``.

    ``[lo, hi)`` must be a subtree the RFC recursion visits (aligned on its first split).
    """
    if not 0 <= lo < hi:
        raise ValueError(f"empty or negative range [{lo}, {hi})")
    keys: list[NodeKey] = []
    while lo < hi:
        size = hi - lo
        k = size if _is_pow2(size) else _split(size)
        level = k.bit_length() - 1
        if lo % k:
            raise ValueError(f"range [{lo}, {hi}) is not aligned")
        keys.append((level, lo >> level))
        lo += k
    return keys


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """Leaf ranges whose ``MTH`` form ``PATH(index, D[size])`` (RFC 6962 §2.1.1), deepest first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} not in a tree of size {size}")
    path: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            path.append((lo + k, hi))
            hi = lo + k
        else:
            path.append((lo, lo + k))
            lo = lo + k
    path.reverse()
    return path


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """Leaf ranges whose ``MTH`` form ``PROOF(first, D[second])`` (RFC 6962 §2.1.2)."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    if first == 0 or first == second:
        return []
    acc: list[tuple[int, int]] = []
    lo, hi, m, complete = 0, second, first, True
    while True:
        size = hi - lo
        if m == size:
            if not complete:
                acc.append((lo, hi))
            break
        k = _split(size)
        if m <= k:
            acc.append((lo + k, hi))
            hi = lo + k
        else:
            acc.append((lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    acc.reverse()
    return acc


def subtree_hashes(ranges: Sequence[tuple[int, int]], source: NodeSource) -> list[bytes]:
    """``MTH(D[lo:hi])`` for each range, with one batched lookup of the perfect nodes needed."""
    decomps = [perfect_decomposition(lo, hi) for lo, hi in ranges]
    needed = sorted({key for d in decomps for key in d})
    nodes = source.get_nodes(needed) if needed else {}
    out: list[bytes] = []
    for d in decomps:
        try:
            hashes = [nodes[key] for key in d]
        except KeyError as exc:
            raise LookupError(f"perfect node {exc.args[0]} is not stored") from None
        acc = hashes[-1]
        for h in reversed(hashes[:-1]):
            acc = node_hash(h, acc)
        out.append(acc)
    return out


def tree_root(size: int, source: NodeSource) -> bytes:
    """``MTH(D[size])`` from stored perfect nodes."""
    if size == 0:
        return EMPTY_ROOT
    return subtree_hashes([(0, size)], source)[0]


def inclusion_proof(index: int, size: int, source: NodeSource) -> list[bytes]:
    """``PATH(index, D[size])`` (RFC 6962 §2.1.1)."""
    return subtree_hashes(inclusion_ranges(index, size), source)


def consistency_proof(first: int, second: int, source: NodeSource) -> list[bytes]:
    """``PROOF(first, D[second])`` (RFC 6962 §2.1.2)."""
    return subtree_hashes(consistency_ranges(first, second), source)


class MemoryTree:
    """An in-memory RFC 6962 tree over leaf hashes, storing every complete perfect node.

    Used by verifiers that recompute the whole log (specs/08-board.md B1.J) and by tests.
    """

    __slots__ = ("_levels",)

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for leaf in leaves:
            self.append(leaf)

    def __len__(self) -> int:
        return len(self._levels[0])

    def append(self, leaf: bytes) -> None:
        """Append one leaf hash."""
        index = len(self._levels[0])
        self._levels[0].append(leaf)
        level = 0
        while index & 1:
            row = self._levels[level]
            h = node_hash(row[index - 1], row[index])
            level, index = level + 1, index >> 1
            if len(self._levels) == level:
                self._levels.append([])
            self._levels[level].append(h)

    def get_nodes(self, keys: Sequence[NodeKey]) -> dict[NodeKey, bytes]:
        """Stored perfect nodes (missing keys are simply absent)."""
        out: dict[NodeKey, bytes] = {}
        for level, index in keys:
            if level < len(self._levels) and index < len(self._levels[level]):
                out[(level, index)] = self._levels[level][index]
        return out

    def root(self, size: int | None = None) -> bytes:
        """``MTH`` of the first ``size`` leaves (default: all)."""
        return tree_root(len(self) if size is None else size, self)


# --------------------------------------------------------------------------------------------------
# Verification (RFC 9162 §2.1.3.2 and §2.1.4.2).


def _check_hash(value: bytes, step: str, obj: str, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise VerificationError(step, obj, f"{what} is not a {HASH_SIZE}-byte hash")


def verify_inclusion(
    leaf: bytes,
    index: int,
    size: int,
    proof: Sequence[bytes],
    root: bytes,
    *,
    step: str = "B2.D",
    obj: str = "inclusion proof",
) -> None:
    """Check that leaf hash ``leaf`` is leaf ``index`` of the tree of ``size`` leaves with ``root``.

    Raises :class:`VerificationError` ``(step, obj)``; returns ``None`` on success.
    """
    _check_hash(leaf, step, obj, "leaf hash")
    _check_hash(root, step, obj, "root hash")
    for p in proof:
        _check_hash(p, step, obj, "proof element")
    if not 0 <= index < size:
        raise VerificationError(step, obj, f"leaf index {index} not in a tree of size {size}")
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            raise VerificationError(step, obj, "audit path too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise VerificationError(step, obj, "audit path too short")
    if r != root:
        raise VerificationError(step, obj, "audit path does not lead to the root hash")


def verify_consistency(
    first_size: int,
    second_size: int,
    first_root: bytes,
    second_root: bytes,
    proof: Sequence[bytes],
    *,
    step: str = "B3.C",
    obj: str = "consistency proof",
) -> None:
    """Check that the tree ``(first_size, first_root)`` is a prefix of ``(second_size, second_root)``.

    Raises :class:`VerificationError` ``(step, obj)``; returns ``None`` on success.
    """
    _check_hash(first_root, step, obj, "first root")
    _check_hash(second_root, step, obj, "second root")
    for p in proof:
        _check_hash(p, step, obj, "proof element")
    if not 0 <= first_size <= second_size:
        raise VerificationError(step, obj, f"size {first_size} cannot be a prefix of size {second_size}")
    if first_size == second_size:
        if proof:
            raise VerificationError(step, obj, "proof between equal sizes must be empty")
        if first_root != second_root:
            raise VerificationError(step, obj, "different roots for the same tree size")
        return
    if first_size == 0:
        if proof:
            raise VerificationError(step, obj, "proof from the empty tree must be empty")
        if first_root != EMPTY_ROOT:
            raise VerificationError(step, obj, "root of the empty tree is wrong")
        return
    if not proof:
        raise VerificationError(step, obj, "empty proof")
    path = list(proof)
    if _is_pow2(first_size):
        path.insert(0, first_root)
    fn, sn = first_size - 1, second_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError(step, obj, "proof too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise VerificationError(step, obj, "proof too short")
    if fr != first_root:
        raise VerificationError(step, obj, "proof does not reproduce the first root")
    if sr != second_root:
        raise VerificationError(step, obj, "proof does not reproduce the second root")
