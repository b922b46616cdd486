"""Hardening of the verifier against malformed but authenticated records: every part of a record is
checked, a malformed part is a failure with a step id (specs/10-verification.md) and never a
traceback, and nothing sized by the record is materialized (specs/07-record.md §3, §8)."""

from __future__ import annotations

import dataclasses
import shutil
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from e2evote.elgamal import Ciphertext
from e2evote.encoding import pack, unpack
from e2evote.errors import EncodingError, InvalidElementError, InvalidScalarError, VerificationError
from e2evote.groups import TEST
from e2evote.protocol.ballot import ContestData, EncryptedBallot, PlaintextBallot, verify_ballot_nonce
from e2evote.protocol.decryption import DecryptingGuardian
from e2evote.protocol.election import ElectionContext
from e2evote.protocol.manifest import simple_manifest
from e2evote.protocol.tally import decrypt_ballot
from e2evote.record import codec
from e2evote.record.model import ElectionRecord
from e2evote.record.native import read_record, write_record
from e2evote.verifier import Report, steps, verify_path, verify_record

from .elections import Election, reseal, run_election

MANIFEST = simple_manifest("h", [("A", ["a", "b", "c"], 1), ("B", ["x", "y", "z"], 2)])
NONCE_ID, DECRYPTED_ID = (
    "b2",
    "b5",
)  # run_election opens the 1st challenged ballot by nonce, the 2nd by guardians


@pytest.fixture(scope="module")
def honest(tmp_path_factory: pytest.TempPathFactory) -> tuple[Election, Path]:
    out = tmp_path_factory.mktemp("hard") / "record"
    e = run_election(TEST, MANIFEST, out, n=2, k=2, voters=6, challenged=(2, 5))
    return e, out


def _failures(r: Report) -> set[tuple[str, str]]:
    return {(f.step, f.obj) for f in r.failures}


def _edited(src: Path, dst: Path, name: str, edit: Callable[[Any], Any]) -> Report:
    """Copy the record, apply ``edit`` to the unpacked tree of file ``name``, reseal, verify."""
    shutil.copytree(src, dst)
    f = dst / name
    tree = unpack(f.read_bytes()) if f.exists() else None
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_bytes(pack(edit(tree)))
    reseal(dst)
    return verify_path(dst)


def _rewritten(src: Path, dst: Path, **changes: object) -> Report:
    rec = read_record(src)
    bs = list(rec.ballots())
    rec = dataclasses.replace(rec, ballots=lambda: iter(bs), **changes)  # type: ignore[arg-type]
    write_record(rec, dst)
    return verify_path(dst)


def _ctx(e: Election) -> ElectionContext:
    return e.keys[0].context


def _ballot(src: Path, bid: str) -> EncryptedBallot:
    return next(
        b for b in read_record(src).ballots() if isinstance(b, EncryptedBallot) and b.ballot_id == bid
    )


def test_honest_record_verifies(honest: tuple[Election, Path], tmp_path: Path) -> None:
    """The paired positive case: the record, and the record edited without change, verify."""
    assert verify_path(honest[1]).ok
    assert _edited(honest[1], tmp_path / "same", "tally.msgpack", lambda t: t).ok


# --- finding 1: duplicate contests or cells in the tally ---------------------------------------------


def _swap(ct: list[bytes]) -> list[bytes]:
    return [ct[1], ct[0]]


def _dup_contest(t: Any) -> Any:
    first = t["encrypted"]["contests"][0]
    t["encrypted"]["contests"].insert(1, [first[0], [[oi, _swap(ct)] for oi, ct in first[1]]])
    return t


def _dup_cell(t: Any) -> Any:
    sels = t["encrypted"]["contests"][0][1]
    sels.insert(1, [sels[0][0], _swap(sels[0][1])])
    return t


def _unsorted_contests(t: Any) -> Any:
    t["encrypted"]["contests"].reverse()
    return t


def _dup_decrypted_cell(t: Any) -> Any:
    sels = t["decrypted"]["contests"][0]["sel"]
    sels.insert(1, dict(sels[0]))
    return t


def _dup_decrypted_contest(t: Any) -> Any:
    t["decrypted"]["contests"].append(dict(t["decrypted"]["contests"][-1]))
    return t


@pytest.mark.parametrize(
    "edit", [_dup_contest, _dup_cell, _unsorted_contests, _dup_decrypted_cell, _dup_decrypted_contest]
)
def test_tally_entries_are_unique_and_ordered(
    honest: tuple[Election, Path], tmp_path: Path, edit: Callable[[Any], Any]
) -> None:
    r = _edited(honest[1], tmp_path / "t", "tally.msgpack", edit)
    assert not r.ok
    assert ("R2.A", "tally.msgpack") in _failures(r), r.failures


def test_decrypted_ballot_options_are_unique(honest: tuple[Election, Path], tmp_path: Path) -> None:
    def edit(items: Any) -> Any:
        for it in items:
            if it["decrypted"] is not None:
                sels = it["decrypted"]["contests"][0]["sel"]
                sels.insert(1, dict(sels[0]))
        return items

    r = _edited(honest[1], tmp_path / "c", "challenged.msgpack", edit)
    assert ("R2.A", "challenged.msgpack") in _failures(r), r.failures


def test_duplicate_cells_from_another_reader_fail_v8(honest: tuple[Election, Path]) -> None:
    """Defence in depth for readers other than the native codec (egk): the verifier itself
    reports a cell stated twice instead of checking only the last one."""
    rec = read_record(honest[1])
    t = rec.encrypted_tally
    assert t is not None
    ci, sels = t.contests[0]
    (oi, ct), rest = sels[0], sels[1:]
    bad = dataclasses.replace(
        t, contests=((ci, ((oi, Ciphertext(ct.beta, ct.alpha)), (oi, ct), *rest)), *t.contests[1:])
    )
    r = verify_record(dataclasses.replace(rec, encrypted_tally=bad))
    assert ("V8.A", f"tally contest {ci} option {oi}") in _failures(r), r.failures


# --- finding 2: malformed entries are failures, never an IndexError -----------------------------------


def _short_contest(t: Any) -> Any:
    t["encrypted"]["contests"][0] = [1]
    return t


def _short_selection(t: Any) -> Any:
    t["encrypted"]["contests"][0][1][0] = [1]
    return t


def _long_selection(t: Any) -> Any:
    t["encrypted"]["contests"][0][1][0].append(b"")
    return t


def _short_ciphertext(t: Any) -> Any:
    t["encrypted"]["contests"][0][1][0][1] = t["encrypted"]["contests"][0][1][0][1][:1]
    return t


@pytest.mark.parametrize("edit", [_short_contest, _short_selection, _long_selection, _short_ciphertext])
def test_malformed_tally_entry_is_r2a(
    honest: tuple[Election, Path], tmp_path: Path, edit: Callable[[Any], Any]
) -> None:
    r = _edited(honest[1], tmp_path / "t", "tally.msgpack", edit)
    assert ("R2.A", "tally.msgpack") in _failures(r), r.failures
    assert not any(f.obj == "record" for f in r.failures), r.failures


def _tally_tree(src: Path) -> tuple[Any, Any]:
    t = unpack((src / "tally.msgpack").read_bytes())
    return t["encrypted"], t["decrypted"]


@pytest.mark.parametrize("name", ["precincts", "interim"])
def test_malformed_extension_tally_is_a_failure(
    honest: tuple[Election, Path], tmp_path: Path, name: str
) -> None:
    enc, dec = _tally_tree(honest[1])
    enc["contests"][0] = [1]
    if name == "precincts":
        tree = {"format": "e2evote-precincts-v1", "by": "style", "contests": [1, 2]}
        tree["precincts"] = [{"label": "p", "encrypted": enc, "decrypted": dec}]
    else:
        tree = {"format": "e2evote-interim-v1", "min_gap": 1, "contests": [1, 2]}
        tree["checkpoints"] = [{"encrypted": enc, "decrypted": dec}]
    r = _edited(honest[1], tmp_path / "x", f"ext/{name}.msgpack", lambda _: tree)
    assert not r.ok
    assert {f.step for f in r.failures} <= {"V22.A", "V23.A", "R2.A"}, r.failures


def test_unexpected_error_in_a_step_is_reported(
    honest: tuple[Election, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_: object) -> None:
        raise IndexError("list index out of range")

    monkeypatch.setattr(steps, "_consistency", boom)
    r = verify_path(honest[1])
    assert not r.ok
    assert ("R2.B", "record") in _failures(r), r.failures


def test_unexpected_error_while_reading_is_reported(
    honest: tuple[Election, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_: object) -> ElectionRecord:
        raise IndexError("list index out of range")

    monkeypatch.setattr(steps, "read_record", boom)
    r = verify_path(honest[1])
    assert ("R2.B", "record") in _failures(r), r.failures


def test_unexpected_error_in_a_ballot_or_an_opening_is_reported(
    honest: tuple[Election, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = steps._ballot

    def ballot(ctx: ElectionContext, b: EncryptedBallot, report: Report) -> Any:
        if b.ballot_id == "b0":
            raise ValueError("malformed")
        return real(ctx, b, report)

    def nonce(*_: object) -> None:
        raise IndexError("tuple index out of range")

    monkeypatch.setattr(steps, "_ballot", ballot)
    monkeypatch.setattr(steps, "verify_opening", nonce)
    r = verify_path(honest[1])
    got = _failures(r)
    assert ("V5.A", "ballot b0") in got and ("V13.N.A", f"ballot {NONCE_ID}") in got, r.failures
    assert ("R2.B", "record") not in got  # the run went on


# --- finding 3: a huge guardian count ---------------------------------------------------------------


def test_huge_guardian_count_is_v2a_without_memory(honest: tuple[Election, Path], tmp_path: Path) -> None:
    def edit(t: Any) -> Any:
        t["n"] = 20_000_000
        return t

    r = _edited(honest[1], tmp_path / "n", "election.msgpack", edit)
    assert ("V2.A", "guardians") in _failures(r), r.failures
    rec = read_record(tmp_path / "n")
    tracemalloc.start()
    try:
        steps._guardians(rec, Report())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak


# --- finding 4: parts accepted without being checked -------------------------------------------------


def test_opening_with_both_nonce_and_decryption_fails_v13g(
    honest: tuple[Election, Path], tmp_path: Path
) -> None:
    e, src = honest
    rec = read_record(src)
    ctx = _ctx(e)
    dec = decrypt_ballot(
        ctx, e.pubs, [DecryptingGuardian.from_key(k) for k in e.keys], _ballot(src, NONCE_ID)
    )
    opened = tuple(
        dataclasses.replace(c, decrypted=dec) if c.ballot_id == NONCE_ID else c for c in rec.challenged
    )
    r = _rewritten(src, tmp_path / "both", challenged=opened)
    assert _failures(r) == {("V13.G", f"ballot {NONCE_ID}")}, r.failures


def _claimed(src: Path) -> PlaintextBallot:
    c = next(c for c in read_record(src).challenged if c.ballot_id == NONCE_ID)
    assert c.claimed is not None
    return c.claimed


@pytest.mark.parametrize(
    "change, step",
    [
        (lambda p: dataclasses.replace(p, votes={**p.votes, "Z": {"q": 1}}), "V13.B"),
        (lambda p: dataclasses.replace(p, write_ins={"Z": ["x"]}), "V13.B"),
        (lambda p: dataclasses.replace(p, write_ins={"A": ["x"]}), "V13.N.B"),
    ],
    ids=["unknown-contest", "write-in-unknown-contest", "write-in-not-encrypted"],
)
def test_nonce_opening_claims_are_checked(
    honest: tuple[Election, Path],
    tmp_path: Path,
    change: Callable[[PlaintextBallot], PlaintextBallot],
    step: str,
) -> None:
    src = honest[1]
    rec = read_record(src)
    claimed = change(_claimed(src))
    opened = tuple(
        dataclasses.replace(c, claimed=claimed) if c.ballot_id == NONCE_ID else c for c in rec.challenged
    )
    r = _rewritten(src, tmp_path / "c", challenged=opened)
    assert _failures(r) == {(step, f"ballot {NONCE_ID}")}, r.failures


def test_nonce_opening_checks_the_contest_data(honest: tuple[Election, Path], tmp_path: Path) -> None:
    """C1 and C2 of a challenged ballot are bound by no hash: the nonce opening re-encrypts them."""

    def edit(trees: Any) -> Any:
        for b in trees:
            if b["id"] == NONCE_ID:
                data = b["contests"][0]["data"]
                data["C1"] = bytes([data["C1"][0] ^ 1]) + data["C1"][1:]
        return trees

    shutil.copytree(honest[1], tmp_path / "d")
    chunks = sorted((tmp_path / "d" / "ballots").glob("*.msgpack"))
    for c in chunks:
        c.write_bytes(pack(edit(unpack(c.read_bytes()))))
    reseal(tmp_path / "d")
    r = verify_path(tmp_path / "d")
    assert _failures(r) == {("V13.N.B", f"ballot {NONCE_ID}")}, r.failures


def _replace_contest(b: EncryptedBallot, n: int, **changes: object) -> EncryptedBallot:
    contests = list(b.contests)
    contests[n] = dataclasses.replace(contests[n], **changes)  # type: ignore[arg-type]
    return dataclasses.replace(b, contests=tuple(contests))


def test_nonce_opening_requires_the_style_structure(honest: tuple[Election, Path]) -> None:
    e, src = honest
    ctx = _ctx(e)
    b = _ballot(src, NONCE_ID)
    c = next(c for c in read_record(src).challenged if c.ballot_id == NONCE_ID)
    assert c.nonce is not None and c.claimed is not None
    verify_ballot_nonce(ctx, b, c.nonce, c.claimed)  # the paired positive case
    s0, s1, *rest = b.contests[0].selections
    swapped = (dataclasses.replace(s0, index=s1.index), dataclasses.replace(s1, index=s0.index), *rest)
    dup = dataclasses.replace(b, contests=(b.contests[0], *b.contests))
    for bad in (_replace_contest(b, 0, selections=swapped), dup):
        with pytest.raises(VerificationError) as info:
            verify_ballot_nonce(ctx, bad, c.nonce, c.claimed)
        assert info.value.step == "V13.N.A", info.value


def test_outcome_for_unknown_label_fails_v20a(honest: tuple[Election, Path], tmp_path: Path) -> None:
    r = _rewritten(honest[1], tmp_path / "o", outcomes={"Z": {"winners": []}})
    assert ("V20.A", "outcome Z") in _failures(r), r.failures


def test_closing_hash_of_a_device_without_ballots_fails_v7f(
    honest: tuple[Election, Path], tmp_path: Path
) -> None:
    r = _rewritten(honest[1], tmp_path / "dev", device_closes={"ghost": bytes(32)})
    assert _failures(r) == {("V7.F", "device ghost")}, r.failures


# --- finding 5: the step of an undecodable ballot does not depend on its id --------------------------


@pytest.mark.parametrize("bid", ["subgroup", "Z_q", "plain"])
def test_decode_failure_step_ignores_the_ballot_id(
    honest: tuple[Election, Path], tmp_path: Path, bid: str
) -> None:
    def edit(trees: Any) -> Any:
        trees[0]["id"] = bid
        trees[0]["time"] = -1  # a structural defect: R2.B whatever the id says
        return trees

    shutil.copytree(honest[1], tmp_path / "b")
    first = sorted((tmp_path / "b" / "ballots").glob("*.msgpack"))[0]
    first.write_bytes(pack(edit(unpack(first.read_bytes()))))
    reseal(tmp_path / "b")
    r = verify_path(tmp_path / "b")
    assert "R2.B" in {f.step for f in r.failures} and not {"V5.A", "V5.C"} & {f.step for f in r.failures}


def test_decode_failures_keep_their_type(honest: tuple[Election, Path]) -> None:
    tree = unpack(sorted((honest[1] / "ballots").glob("*.msgpack"))[0].read_bytes())[0]
    g = TEST
    bad_elem = dict(tree, id="ok")
    bad_elem["contests"] = [dict(c) for c in tree["contests"]]
    sel = dict(bad_elem["contests"][0]["sel"][0])
    sel["ct"] = [bytes(g.element_bytes), sel["ct"][1]]  # 0 is not in [1, p)
    bad_elem["contests"][0]["sel"] = [sel, *bad_elem["contests"][0]["sel"][1:]]
    with pytest.raises(InvalidElementError) as ie:
        codec.dec_ballots(g, [bad_elem])
    assert codec.decode_failure_step(ie.value) == "V5.A"
    bad_scalar = dict(tree)
    bad_scalar["contests"] = [dict(c) for c in tree["contests"]]
    proof = dict(bad_scalar["contests"][0]["proof"])
    proof["v"] = [b"\xff" * g.scalar_bytes, *proof["v"][1:]]
    bad_scalar["contests"][0]["proof"] = proof
    with pytest.raises(InvalidScalarError) as se:
        codec.dec_ballots(g, [bad_scalar])
    assert codec.decode_failure_step(se.value) == "V5.C"
    assert codec.decode_failure_step(EncodingError("value not in the order-q subgroup, Z_q")) == "R2.B"


# --- finding 6: contest data has one encoding ---------------------------------------------------------


def _data(body: dict[str, Any]) -> bytes:
    b = pack(body)
    return (len(b).to_bytes(2, "big") + b).ljust(64, b"\x00")


def test_contest_data_rejects_booleans_as_integers() -> None:
    assert ContestData.decode(_data({"o": [1], "s": 2, "t": False, "w": []})) == ContestData(2, (1,))
    for body in ({"o": [], "s": True, "t": False, "w": []}, {"o": [True], "s": 2, "t": False, "w": []}):
        with pytest.raises(EncodingError):
            ContestData.decode(_data(body))


def test_claimed_ballot_without_nonce_fails_v13na(honest: tuple[Election, Path], tmp_path: Path) -> None:
    """A guardian opening carrying a claimed plaintext: the claim would go unchecked."""
    src = honest[1]
    rec = read_record(src)
    claimed = PlaintextBallot(DECRYPTED_ID, "default", {})
    opened = tuple(
        dataclasses.replace(c, claimed=claimed) if c.ballot_id == DECRYPTED_ID else c for c in rec.challenged
    )
    r = _rewritten(src, tmp_path / "cl", challenged=opened)
    assert _failures(r) == {("V13.N.A", f"ballot {DECRYPTED_ID}")}, r.failures
