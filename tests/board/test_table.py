"""ByteTable (the log verifiers' compact per-ballot columns) against a plain list-and-dict model, and
the memory the log verifier keeps per ballot (specs/08-board.md §12.4)."""

from __future__ import annotations

import hashlib
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e2evote.board import BoardKey, SignedTreeHead
from e2evote.board.events import BoardSetup, Event, EventKind
from e2evote.board.merkle import leaf_hash, root_from_leaves
from e2evote.board.table import ByteTable
from e2evote.board.verify import LogVerifier

VALUES = st.binary(min_size=0, max_size=6)  # short: many repeats, many hash-slot collisions


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), VALUES), max_size=300))
def test_variable_width_table_matches_a_model(ops: list[tuple[bool, bytes]]) -> None:
    table = ByteTable(max_len=6)
    rows: list[bytes] = []
    first: dict[bytes, int] = {}
    for do_append, value in ops:
        if do_append:
            assert table.append(value) == len(rows)
            first.setdefault(value, len(rows))
            rows.append(value)
        else:
            assert table.find(value) == first.get(value)
        assert len(table) == len(rows)
    assert list(table) == rows
    assert all(table.find(v) == r for v, r in first.items())
    assert all((v in table) == (v in first) for v in (b"", b"\x00", b"zz"))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=300))
def test_fixed_width_table_matches_a_model(keys: list[int]) -> None:
    table = ByteTable(4)
    first: dict[bytes, int] = {}
    for n, k in enumerate(keys):
        value = k.to_bytes(4, "big")
        assert table.find(value) == first.get(value)
        assert table.append(value) == n  # repeats are kept as rows; the index keeps the first
        first.setdefault(value, n)
    assert [table[n] for n in range(len(keys))] == [k.to_bytes(4, "big") for k in keys]
    assert table.nbytes() <= 4 * len(keys) + 4 * max(32, 4 * len(keys))


def test_table_refuses_what_does_not_fit() -> None:
    fixed = ByteTable(32)
    with pytest.raises(ValueError, match="32 bytes"):
        fixed.append(b"x" * 31)
    short = ByteTable(max_len=4)
    with pytest.raises(ValueError, match="at most 4"):
        short.append(b"12345")
    rows = ByteTable(indexed=False)
    rows.append(b"kept")
    assert rows[0] == b"kept" and len(rows) == 1
    with pytest.raises(TypeError):
        rows.find(b"kept")
    with pytest.raises(IndexError):
        rows[1]


def test_a_miss_remembered_by_find_is_not_reused_for_another_value() -> None:
    table = ByteTable(max_len=8)
    table.append(b"a")
    assert table.find(b"b") is None  # remembers b's empty slot
    table.append(b"c")  # another value: probes for its own slot
    table.append(b"b")
    assert (table.find(b"a"), table.find(b"b"), table.find(b"c")) == (0, 2, 1)


def _log(n: int, key: BoardKey) -> list[bytes]:
    setup = BoardSetup("mem", key.public_key, hashlib.sha256(b"mem").digest(), None)
    out = [Event(0, EventKind.SETUP, 1, setup.to_bytes()).to_bytes()]
    for i in range(1, n):
        payload = b"ballot:%d" % i + bytes(200)
        out.append(
            Event(i, EventKind.BALLOT, 1 + i, payload, code=hashlib.sha256(payload).digest()).to_bytes()
        )
    return out


def test_log_verifier_keeps_about_a_hundred_bytes_a_ballot() -> None:
    """20 000 ballots: what the verifier holds once the log is through (its rows, the counted set)
    stays under 160 bytes a ballot (a dict-and-set version kept ~450)."""
    key = BoardKey.generate()
    events = _log(20_001, key)
    root = root_from_leaves(leaf_hash(e) for e in events)
    sth = SignedTreeHead.sign(key, "mem", len(events), len(events), root)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        lv = LogVerifier(sth, key.public_key)
        for raw in events:
            lv.add(raw)
        summary = lv.finish()
        held = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert summary.ballots == 20_000 and len(summary.counted) == 20_000
    assert held / 20_000 < 160, held / 20_000
    assert summary.counted[-1].confirmation_code == Event.from_bytes(events[-1]).code


def test_board_copy_index_keeps_tens_of_bytes_a_selection() -> None:
    """The board's V7.H/V19.E index (one per board process, every logged ballot): 2 000 ballots of
    10 selections with 512-byte α hold under 60 bytes a selection (full α in dicts took ~600)."""
    import os

    from e2evote.board.election import BallotIndex
    from e2evote.encoding import pack
    from e2evote.errors import VerificationError

    trees = [
        {
            "id": f"b{i}",
            "contests": [{"sel": [{"ct": [os.urandom(512), os.urandom(512)]} for _ in range(10)]}],
        }
        for i in range(2_000)
    ]
    payloads = [pack(t) for t in trees]
    index = BallotIndex()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for p in payloads:
            index._log(p)
        held = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert len(index) == 2_000
    assert held / 20_000 < 60, held / 20_000
    # still exact where it matters: a copied α (compared by its last 16 bytes) and a reused id
    alpha = trees[7]["contests"][0]["sel"][3]["ct"][0]  # type: ignore[index]
    with pytest.raises(VerificationError, match="V7.H"):
        index.claim("fresh", [("sel", bytes(16) + alpha[-16:])], b"k" * 32)
    with pytest.raises(VerificationError, match="V19.E"):
        index.claim("b5", [], b"k" * 32)
    index.claim("fresh", [("sel", alpha[:-1] + bytes([alpha[-1] ^ 1]))], b"k" * 32)


def test_values_sharing_low_hash_bits_do_not_pile_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """Values whose hashes agree in their low bits (what a log's author could grind for if the hash
    key were known, e.g. PYTHONHASHSEED=0) still take a few probes each: the probe sequence follows
    every bit of the hash, as CPython's dicts do (linear probing took ~n/2 comparisons each)."""
    from e2evote.board import table as table_module

    n, slots = 2_000, 4_096  # the table's final size for n rows
    chosen: list[bytes] = []
    counter = 0
    while len(chosen) < n:
        value = counter.to_bytes(8, "big")
        counter += 1
        if hash(value) % slots < 64:
            chosen.append(value)
    compared = 0
    original = table_module.ByteTable._equal

    def counting(self: ByteTable, row: int, value: bytes) -> bool:
        nonlocal compared
        compared += 1
        return original(self, row, value)

    t = ByteTable(max_len=8)
    monkeypatch.setattr(table_module.ByteTable, "_equal", counting)
    for v in chosen:
        assert t.find(v) is None
        t.append(v)
    assert len(t._slots or ()) == slots
    assert compared < 10 * n, compared


def test_counted_ballots_compare_and_hash_as_the_tuple_they_replace() -> None:
    key = BoardKey.generate()
    events = _log(4, key)
    sth = SignedTreeHead.sign(key, "mem", 4, 4, root_from_leaves(leaf_hash(e) for e in events))
    lv = LogVerifier(sth, key.public_key)
    for raw in events:
        lv.add(raw)
    summary = lv.finish()
    as_tuple = tuple(summary.counted)
    assert summary.counted == as_tuple and hash(summary.counted) == hash(as_tuple)
    assert summary.counted != list(as_tuple)  # as a tuple compares with a list
    assert summary.counted[1:] == as_tuple[1:] and hash(summary) == hash(summary)
    # the lookups a record's checker uses (B4): code -> row / log index, the digest of a row's bytes
    code = Event.from_bytes(events[2]).code
    assert code is not None and lv.code_row(code) == 1 and lv.code_index(code) == 2
    digest = hashlib.sha256(Event.from_bytes(events[2]).payload).digest()
    assert lv.payload_digest(1) == digest and lv.payload_index(digest) == 2
    assert lv.code_row(b"nobody") is None and lv.payload_index(bytes(32)) is None


def test_a_validator_without_a_replay_key_fails_b1g() -> None:
    """A duck-typed validator that gives no replay key cannot shift the replay rows: B1.G."""
    from types import SimpleNamespace

    from e2evote.errors import VerificationError

    key = BoardKey.generate()
    events = _log(3, key)
    sth = SignedTreeHead.sign(key, "mem", 3, 3, root_from_leaves(leaf_hash(e) for e in events))

    def validator(payload: bytes) -> SimpleNamespace:
        return SimpleNamespace(confirmation_code=hashlib.sha256(payload).digest(), replay_key=None)

    lv = LogVerifier(sth, key.public_key, validator=validator)  # type: ignore[arg-type]
    for raw in events:
        lv.add(raw)
    with pytest.raises(VerificationError, match="no replay key") as ei:
        lv.finish()
    assert ei.value.step == "B1.G" and ei.value.obj == "ballot event 1"
