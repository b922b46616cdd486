"""RFC 6962 Merkle tree: known vectors and brute-force comparison for every size 1..64."""

from __future__ import annotations

import hashlib

import pytest

from e2evote.board.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    consistency_proof,
    frontier_append,
    frontier_audit_path,
    frontier_root,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)
from e2evote.errors import VerificationError

# RFC 6962 reference data (certificate-transparency test vectors)
CT_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# (leaf index 0-based, tree size, audit path)
CT_INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CT_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


# ---- a naive, literal transcription of RFC 6962 §2.1 (reference for brute-force comparison)


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return d[0]  # d holds leaf hashes
    k = _k(n)
    return node_hash(mth(d[:k]), mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    n = len(d)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = _k(n)
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


LEAVES64 = [leaf_hash(b"leaf %d" % i) for i in range(64)]
TREE64 = MemoryTree(LEAVES64)


def test_empty_root() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert MemoryTree().root() == EMPTY_ROOT == root_from_leaves([])


def test_ct_roots() -> None:
    leaves = [leaf_hash(x) for x in CT_LEAVES]
    tree = MemoryTree(leaves)
    for n in range(1, 9):
        assert tree.root(n).hex() == CT_ROOTS[n - 1]
        assert root_from_leaves(leaves[:n]).hex() == CT_ROOTS[n - 1]


@pytest.mark.parametrize(("index", "size", "expected"), CT_INCLUSION)
def test_ct_inclusion(index: int, size: int, expected: list[str]) -> None:
    tree = MemoryTree(leaf_hash(x) for x in CT_LEAVES)
    proof = inclusion_proof(index, size, tree)
    assert [p.hex() for p in proof] == expected
    verify_inclusion(leaf_hash(CT_LEAVES[index]), index, size, proof, bytes.fromhex(CT_ROOTS[size - 1]))


@pytest.mark.parametrize(("first", "second", "expected"), CT_CONSISTENCY)
def test_ct_consistency(first: int, second: int, expected: list[str]) -> None:
    tree = MemoryTree(leaf_hash(x) for x in CT_LEAVES)
    proof = consistency_proof(first, second, tree)
    assert [p.hex() for p in proof] == expected
    verify_consistency(
        first, second, bytes.fromhex(CT_ROOTS[first - 1]), bytes.fromhex(CT_ROOTS[second - 1]), proof
    )


def test_roots_match_naive_all_sizes() -> None:
    frontier: tuple[bytes, ...] = ()
    for n in range(1, 65):
        frontier, _, _ = frontier_append(frontier, n - 1, LEAVES64[n - 1])
        want = mth(LEAVES64[:n])
        assert TREE64.root(n) == want
        assert frontier_root(frontier) == want


def test_inclusion_all_sizes() -> None:
    for n in range(1, 65):
        root = mth(LEAVES64[:n])
        for m in range(n):
            proof = inclusion_proof(m, n, TREE64)
            assert proof == path(m, LEAVES64[:n]), (m, n)
            verify_inclusion(LEAVES64[m], m, n, proof, root)
            # wrong index / size / leaf / root all fail
            for bad_m in {m - 1, m + 1, m ^ 2} - {m}:
                if bad_m >= 0:
                    with pytest.raises(VerificationError):
                        verify_inclusion(LEAVES64[m], bad_m, n, proof, root)
            # (as in the CT suite: the size is bound by the signed tree head, not the root alone)
            for bad_n in {n * 2, n // 2} - {n}:
                if bad_n > m:
                    with pytest.raises(VerificationError):
                        verify_inclusion(LEAVES64[m], m, bad_n, proof, root)
            with pytest.raises(VerificationError):
                verify_inclusion(LEAVES64[(m + 1) % 64], m, n, proof, root)
            with pytest.raises(VerificationError):
                verify_inclusion(LEAVES64[m], m, n, [*proof, root], root)
            if proof:
                with pytest.raises(VerificationError):
                    verify_inclusion(LEAVES64[m], m, n, proof[:-1], root)
                flipped = [bytes([proof[0][0] ^ 8]) + proof[0][1:], *proof[1:]]
                with pytest.raises(VerificationError):
                    verify_inclusion(LEAVES64[m], m, n, flipped, root)


def test_consistency_all_sizes() -> None:
    roots = [mth(LEAVES64[:n]) for n in range(65)]
    for n in range(1, 65):
        for m in range(1, n + 1):
            proof = consistency_proof(m, n, TREE64)
            assert proof == (subproof(m, LEAVES64[:n], True) if m < n else []), (m, n)
            verify_consistency(m, n, roots[m], roots[n], proof)
            if m == n:
                with pytest.raises(VerificationError):
                    verify_consistency(m, n, roots[m], roots[m - 1], proof)
                continue
            with pytest.raises(VerificationError):
                verify_consistency(m, n, roots[n], roots[m], proof)  # swapped roots
            with pytest.raises(VerificationError):
                verify_consistency(m, n, roots[m], roots[n], [])
            with pytest.raises(VerificationError):
                verify_consistency(m, n, roots[m], roots[n], [*proof, roots[m]])
            with pytest.raises(VerificationError):
                verify_consistency(m, n, roots[m], roots[n], proof[:-1])
            for i in range(len(proof)):
                bad = list(proof)
                bad[i] = bytes([bad[i][0] ^ 16]) + bad[i][1:]
                with pytest.raises(VerificationError):
                    verify_consistency(m, n, roots[m], roots[n], bad)
            if m + 1 < n:
                with pytest.raises(VerificationError):
                    verify_consistency(m + 1, n, roots[m], roots[n], proof)


def test_consistency_edge_cases() -> None:
    verify_consistency(0, 5, EMPTY_ROOT, TREE64.root(5), [])
    with pytest.raises(VerificationError):
        verify_consistency(0, 5, EMPTY_ROOT, TREE64.root(5), [EMPTY_ROOT])
    with pytest.raises(VerificationError):
        verify_consistency(5, 4, TREE64.root(5), TREE64.root(4), [])
    with pytest.raises(VerificationError) as ei:
        verify_consistency(3, 4, b"short", TREE64.root(4), [], step="B3.C")
    assert ei.value.step == "B3.C"


def test_frontier_audit_path_is_rfc_path() -> None:
    frontier: tuple[bytes, ...] = ()
    for n in range(64):
        frontier, nodes, merged = frontier_append(frontier, n, LEAVES64[n])
        assert frontier_audit_path(frontier, merged) == path(n, LEAVES64[: n + 1])
        assert dict(nodes).items() <= TREE64.get_nodes([k for k, _ in nodes]).items()


def test_verify_inclusion_error_carries_step() -> None:
    with pytest.raises(VerificationError) as ei:
        verify_inclusion(LEAVES64[0], 0, 2, [], TREE64.root(2), step="B2.D", obj="ballot 7")
    assert ei.value.step == "B2.D" and ei.value.obj == "ballot 7"
