"""Native records: honest elections verify, every tampering is caught with the right step
(specs/07-record.md, specs/10-verification.md)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e2evote.elgamal import Ciphertext
from e2evote.groups import ED25519, TEST, Group
from e2evote.protocol.ballot import EncryptedBallot
from e2evote.protocol.manifest import Manifest, simple_manifest
from e2evote.protocol.tally import DecryptedTally
from e2evote.record.native import read_record, write_record
from e2evote.verifier import Report, verify_path

from .elections import run_election

MANIFEST = simple_manifest("t", [("A", ["a", "b", "c", "d"], 1), ("B", ["v", "w", "x", "y", "z"], 2)])


def _steps(r: Report) -> set[str]:
    return {f.step.split(".")[0] for f in r.failures}


@pytest.fixture(scope="module", params=[TEST, ED25519], ids=lambda g: g.name)
def honest(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Group, Path]:
    group = request.param
    out = tmp_path_factory.mktemp("rec") / "record"
    run_election(group, MANIFEST, out, n=3, k=2, voters=7, challenged=(2, 5), present=(1, 3))
    return group, out


def test_honest_record_verifies(honest: tuple[Group, Path]) -> None:
    r = verify_path(honest[1])
    assert r.ok, r.failures
    assert r.checks["V5"] == 7 * 9 and r.checks["V12"] == 9 and r.summary["cast"] == 5


def test_any_byte_flip_fails(honest: tuple[Group, Path], tmp_path: Path) -> None:
    src = honest[1]
    files = sorted(p for p in src.rglob("*") if p.is_file())
    assert len(files) >= 6
    for f in files:
        size = f.stat().st_size
        for pos in sorted({0, size // 2, size - 1}):
            dst = tmp_path / f"c{abs(hash((f.name, pos)))}"
            shutil.copytree(src, dst)
            target = dst / f.relative_to(src)
            data = bytearray(target.read_bytes())
            data[pos] ^= 0x01
            target.write_bytes(bytes(data))
            r = verify_path(dst)
            assert not r.ok, (f.name, pos)
            shutil.rmtree(dst)


def _reseal(src: Path, dst: Path, **changes: object) -> Report:
    """Rewrite the record with changed content and a *consistent* RECORD.msgpack (an attacker who
    recomputes the digests): only the cryptographic checks can catch it."""
    rec = read_record(src)
    rec = dataclasses.replace(rec, **changes)  # type: ignore[arg-type]
    write_record(rec, dst)
    return verify_path(dst)


def _ballots(src: Path) -> list[EncryptedBallot]:
    return list(read_record(src).ballots())


def test_resealed_identity_still_verifies(honest: tuple[Group, Path], tmp_path: Path) -> None:
    """The paired positive case: rewriting without change passes (the tamper tests can fail)."""
    bs = _ballots(honest[1])
    assert _reseal(honest[1], tmp_path / "x", ballots=lambda: iter(bs)).ok


def test_changed_ciphertext(honest: tuple[Group, Path], tmp_path: Path) -> None:
    group, src = honest
    bs = _ballots(src)
    b = bs[0]
    c0 = b.contests[0]
    s0 = c0.selections[0]
    s0 = dataclasses.replace(s0, ct=Ciphertext(s0.ct.alpha, s0.ct.beta * group.generator()))
    c0 = dataclasses.replace(c0, selections=(s0, *c0.selections[1:]))
    bs[0] = dataclasses.replace(b, contests=(c0, *b.contests[1:]))
    r = _reseal(src, tmp_path / "x", ballots=lambda: iter(bs))
    assert {"V5", "V6", "V7", "V8"} <= _steps(r)


def test_removed_and_duplicated_ballots(honest: tuple[Group, Path], tmp_path: Path) -> None:
    src = honest[1]
    bs = _ballots(src)
    cast = [b for b in bs if b.state.value == "cast"]
    r = _reseal(src, tmp_path / "removed", ballots=lambda: iter([b for b in bs if b is not cast[0]]))
    assert "V8" in _steps(r) and "V19" in _steps(r)
    dup = dataclasses.replace(cast[0], ballot_id="copy")
    r = _reseal(src, tmp_path / "dup", ballots=lambda: iter([*bs, dup]))
    assert any(f.step == "V7.C" for f in r.failures) and "V8" in _steps(r)


def test_swapped_selections(honest: tuple[Group, Path], tmp_path: Path) -> None:
    src = honest[1]
    bs = _ballots(src)
    b = bs[0]
    c0 = b.contests[0]
    s = list(c0.selections)
    s[0], s[1] = (
        dataclasses.replace(s[0], ct=s[1].ct, proof=s[1].proof),
        dataclasses.replace(s[1], ct=s[0].ct, proof=s[0].proof),
    )
    bs[0] = dataclasses.replace(b, contests=(dataclasses.replace(c0, selections=tuple(s)), *b.contests[1:]))
    r = _reseal(src, tmp_path / "x", ballots=lambda: iter(bs))
    assert any(f.step == "V7.A" for f in r.failures) and "V8" in _steps(r)


def test_changed_count_and_proof(honest: tuple[Group, Path], tmp_path: Path) -> None:
    group, src = honest
    rec = read_record(src)
    dt = rec.decrypted_tally
    assert dt is not None
    c0 = dt.contests[0]
    s0 = c0.selections[0]
    bumped = dataclasses.replace(s0, t=s0.t + 1)
    t1 = DecryptedTally(
        (dataclasses.replace(c0, selections=(bumped, *c0.selections[1:])), *dt.contests[1:]), dt.ballots
    )
    r = _reseal(src, tmp_path / "t", decrypted_tally=t1)
    assert any(f.step == "V10.A" for f in r.failures)
    moved = dataclasses.replace(s0, t=s0.t + 1, T=s0.T * rec.K)
    t2 = DecryptedTally(
        (dataclasses.replace(c0, selections=(moved, *c0.selections[1:])), *dt.contests[1:]), dt.ballots
    )
    r = _reseal(src, tmp_path / "T", decrypted_tally=t2)
    assert any(f.step == "V9.B" for f in r.failures)
    proof = dataclasses.replace(s0.proof, v=s0.proof.v + group.scalar(1))
    t3 = DecryptedTally(
        (
            dataclasses.replace(c0, selections=(dataclasses.replace(s0, proof=proof), *c0.selections[1:])),
            *dt.contests[1:],
        ),
        dt.ballots,
    )
    r = _reseal(src, tmp_path / "p", decrypted_tally=t3)
    assert any(f.step == "V9.B" for f in r.failures)


def test_changed_key_and_guardian(honest: tuple[Group, Path], tmp_path: Path) -> None:
    group, src = honest
    rec = read_record(src)
    r = _reseal(src, tmp_path / "k", K=rec.K * group.generator())
    assert {"V3", "V4"} <= _steps(r)
    g0 = rec.guardians[0]
    forged = dataclasses.replace(
        g0, proofs=(dataclasses.replace(g0.proofs[0], v=g0.proofs[0].v + group.scalar(1)), *g0.proofs[1:])
    )
    r = _reseal(src, tmp_path / "g", guardians=(forged, *rec.guardians[1:]))
    assert any(f.step == "V2.C" for f in r.failures)


def test_unopened_challenge_and_lying_opening(honest: tuple[Group, Path], tmp_path: Path) -> None:
    src = honest[1]
    rec = read_record(src)
    r = _reseal(src, tmp_path / "none", challenged=())
    assert any(f.step == "V13.G" for f in r.failures)
    by_nonce = next(c for c in rec.challenged if c.nonce is not None)
    assert by_nonce.claimed is not None
    votes = {c: {o: 0 for o in v} for c, v in by_nonce.claimed.votes.items()}
    lie = dataclasses.replace(by_nonce, claimed=dataclasses.replace(by_nonce.claimed, votes=votes))
    others = tuple(c for c in rec.challenged if c is not by_nonce)
    if any(by_nonce.claimed.votes[c] for c in by_nonce.claimed.votes):
        r = _reseal(src, tmp_path / "lie", challenged=(lie, *others))
        assert any(f.step.startswith("V13.N") for f in r.failures)


def test_challenged_ballots_are_read_again_without_decoding_the_others(
    honest: tuple[Group, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """V12-V14 read the challenged ballots again through ballots_with_ids: only their trees are
    decoded (a national record is not decoded a second time for a few opened ballots)."""
    from e2evote.record import codec

    rec = read_record(honest[1])
    assert rec.ballots_with_ids is not None
    decoded: list[str] = []
    real = codec.dec_ballots

    def counting(group: Group, objs: list[dict[str, object]]) -> list[EncryptedBallot]:
        decoded.extend(str(o["id"]) for o in objs)
        return real(group, objs)

    monkeypatch.setattr(codec, "dec_ballots", counting)
    got = [b.ballot_id for b in rec.ballots_with_ids(frozenset({"b5", "b2", "nobody"}))]
    assert got == ["b2", "b5"] and sorted(decoded) == ["b2", "b5"]
    decoded.clear()
    r = verify_path(honest[1])  # in this process: the ballot pass, then V12-V14
    assert r.ok, r.failures
    assert len(decoded) == 7 + 2  # every ballot once, the two challenged ones again


def test_eligible_voters_exceeded(tmp_path: Path) -> None:
    m = Manifest.from_json(
        {"label": "t", "contests": [{"label": "A", "options": ["a", "b"]}], "eligible_voters": 2}
    )
    run_election(TEST, m, tmp_path / "r", voters=3, n=1, k=1)
    r = verify_path(tmp_path / "r")
    assert [f.step for f in r.failures] == ["V19.A"]


def test_not_a_record(tmp_path: Path) -> None:
    r = verify_path(tmp_path)
    assert not r.ok and r.failures[0].step == "R1.A"
    r = verify_path(tmp_path / "missing")
    assert not r.ok


@st.composite
def manifests(draw: st.DrawFn) -> Manifest:
    n_contests = draw(st.integers(1, 3))
    contests = []
    for c in range(n_contests):
        n_opts = draw(st.integers(1, 4))
        L = draw(st.integers(1, 3))
        R = draw(st.integers(1, L))
        contests.append(
            {
                "label": f"C{c}",
                "options": [f"o{j}" for j in range(n_opts)],
                "contest_limit": L,
                "option_limit": R,
            }
        )
    styles = [{"label": "all", "contests": list(range(1, n_contests + 1))}]
    if n_contests > 1:
        styles.append({"label": "first", "contests": [1]})
    return Manifest.from_json({"label": "h", "contests": contests, "ballot_styles": styles})


@settings(max_examples=6, deadline=None)
@given(
    st.sampled_from([TEST, ED25519]),
    manifests(),
    st.integers(1, 4).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n))),
    st.integers(0, 5),
    st.data(),
)
def test_honest_elections_always_verify(
    group: Group, manifest: Manifest, nk: tuple[int, int], voters: int, data: st.DataObject
) -> None:
    import tempfile

    n, k = nk
    present = sorted(data.draw(st.sets(st.integers(1, n), min_size=k, max_size=n)))
    challenged = data.draw(st.sets(st.integers(0, max(voters - 1, 0)), max_size=2)) if voters else set()
    with tempfile.TemporaryDirectory() as d:
        e = run_election(
            group,
            manifest,
            Path(d) / "r",
            n=n,
            k=k,
            voters=voters,
            challenged=tuple(challenged),
            present=present,
        )
        r = verify_path(Path(d) / "r")
        assert r.ok, r.failures
        counts = r.summary.get("counts", {})
        for c, opts in e.expected.items():
            assert counts[c] == opts
