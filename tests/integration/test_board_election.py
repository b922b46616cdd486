"""Elections on the bulletin board (specs/08-board.md §12): real EG 2.0 ballots submitted over HTTP
are checked in full and receipted, bad ones refused with their step; with voter credentials only the
last ballot counts; the exported record verifies (B1 + B4), and tampering with its log or its ballots
is caught with a B* step — each tamper test paired with the honest export passing.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from e2evote.board import (
    BallotSubmission,
    BoardKey,
    SQLiteStorage,
    Storage,
    issue_credentials,
    verify_receipt,
)
from e2evote.board.client import BoardClient
from e2evote.board.election import (
    BallotIndex,
    ElectionBoard,
    ballot_bytes,
    ballot_submission,
    ballot_validator,
    decode_ballot,
    decode_board_extension,
    encode_board_extension,
    export_record,
    replay_key,
)
from e2evote.board.errors import InvalidBallot
from e2evote.board.events import Event
from e2evote.encoding import pack, unpack
from e2evote.errors import EncodingError, VerificationError
from e2evote.groups import TEST
from e2evote.proofs.range import RangeProof
from e2evote.protocol.ballot import (
    BallotState,
    EncryptedBallot,
    PlaintextBallot,
    confirmation_code,
    encrypt_ballot,
)
from e2evote.protocol.ceremony import GuardianKey, GuardianPublicKeys
from e2evote.protocol.decryption import DecryptingGuardian
from e2evote.protocol.election import ElectionContext, ElectionParameters
from e2evote.protocol.manifest import simple_manifest
from e2evote.protocol.tally import DecryptedTally, decrypt_tally
from e2evote.record.model import ChallengedBallot
from e2evote.verifier import Report, verify_path

from .boardlog import load_log, store_log
from .elections import ceremony, reseal
from .test_cli import BOARD_PW

with warnings.catch_warnings():  # starlette's TestClient warns about its httpx backend on import
    warnings.simplefilter("ignore", UserWarning)  # StarletteDeprecationWarning
    from starlette.testclient import TestClient

try:  # the board tests' storage fixtures: SQLite and a throw-away PostgreSQL (skips if unavailable)
    from board.conftest import free_port, pg_url, storage_factory  # noqa: F401
except ImportError:  # pragma: no cover - run from another rootdir
    if os.environ.get("CI"):  # CI runs from the repository root: a skip there would hide a failure
        raise
    pytest.skip("tests/board fixtures unavailable", allow_module_level=True)

MSGPACK = {"content-type": "application/msgpack"}
MANIFEST = simple_manifest(
    "board-test",
    [("A", ["a", "b", "c"], 1), ("B", ["x", "y", "z"], 2)],
    ballot_styles=[{"label": "all", "contests": [1, 2]}, {"label": "only-a", "contests": [1]}],
)


@dataclasses.dataclass
class Election:
    ctx: ElectionContext
    keys: list[GuardianKey]
    pubs: list[GuardianPublicKeys]

    def decrypt(self, eb: ElectionBoard) -> DecryptedTally:
        et = eb.encrypted_tally()
        guardians = [DecryptingGuardian.from_key(k) for k in self.keys[:2]]
        return decrypt_tally(self.ctx, self.pubs, guardians, et)


@pytest.fixture(scope="module")
def election() -> Election:
    params = ElectionParameters(TEST, MANIFEST, 3, 2)
    keys, pubs = ceremony(params)
    return Election(keys[0].context, keys, pubs)


def vote(ctx: ElectionContext, bid: str, a: str = "a", b: tuple[str, ...] = ("x",)) -> EncryptedBallot:
    pb = PlaintextBallot(bid, "all", {"A": {a: 1}, "B": {o: 1 for o in b}})
    return encrypt_ballot(ctx, pb)[0]


def post(client: TestClient, body: bytes, path: str = "/v1/ballots") -> Any:
    return client.post(path, content=body, headers=MSGPACK)


def steps(r: Report) -> set[str]:
    return r.steps_failed()


def edit_log(d: Path, fn: Any) -> None:
    """Apply ``fn(events: list[bytes]) -> list[bytes]`` to the exported log and reseal."""
    ext, events = load_log(d)
    store_log(d, ext, fn(events))
    reseal(d)


def edit_ballots(d: Path, fn: Any) -> None:
    """Apply ``fn(trees: list[dict]) -> list[dict]`` to the record's ballots (one chunk) and reseal."""
    chunks = sorted((d / "ballots").glob("*.msgpack"))
    trees = [t for c in chunks for t in unpack(c.read_bytes())]
    for c in chunks:
        c.unlink()
    (d / "ballots" / "000000.msgpack").write_bytes(pack(fn(trees)))
    reseal(d)


# ---------------------------------------------------------------------------------------------------
# acceptance over HTTP (SQLite and PostgreSQL)
# ---------------------------------------------------------------------------------------------------


def test_http_accepts_valid_and_refuses_invalid_ballots(
    election: Election, storage_factory: Any, tmp_path: Path
) -> None:
    ctx = election.ctx
    eb = ElectionBoard.create(storage_factory(), BoardKey.generate(), ctx, board_id="eg-http")
    client = TestClient(eb.app())
    good = [vote(ctx, f"v{i}", a="abc"[i % 3]) for i in range(3)]
    for n, b in enumerate(good):
        r = post(client, ballot_submission(ctx, b))
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["confirmation_code"] == b.code.hex()
        assert body["leaf_index"] == n + 1
        verify_receipt(eb.board.lookup(b.code).receipt, eb.board.public_key)

    def refused(ballot: EncryptedBallot | bytes, status: int, reason: str, step: str | None = None) -> None:
        data = ballot if isinstance(ballot, bytes) else ballot_bytes(ballot)
        r = post(client, BallotSubmission(data).to_bytes())
        assert r.status_code == status, r.text
        assert r.json()["error"] == reason
        if step is not None:
            assert r.json()["detail"].startswith(f"[{step}] "), r.json()

    # a mutated selection range proof: V5.D names the ballot, contest and option
    fresh = vote(ctx, "m1")
    c0 = fresh.contests[0]
    s0 = c0.selections[0]
    bad_proof = RangeProof(s0.proof.c, (s0.proof.v[1], s0.proof.v[0], *s0.proof.v[2:]))
    bad_sel = dataclasses.replace(s0, proof=bad_proof)
    bad_contest = dataclasses.replace(c0, selections=(bad_sel, *c0.selections[1:]))
    mutated = dataclasses.replace(fresh, contests=(bad_contest, *fresh.contests[1:]))
    refused(mutated, 422, "invalid_ballot", "V5.D")
    r = post(client, ballot_submission(ctx, mutated))
    assert "ballot m1 contest A option 1" in r.json()["detail"]
    # a mutated contest limit proof: V6.D
    bad_limit = dataclasses.replace(c0, proof=RangeProof(c0.proof.c, tuple(reversed(c0.proof.v))))
    refused(
        dataclasses.replace(fresh, contests=(bad_limit, *fresh.contests[1:])), 422, "invalid_ballot", "V6.D"
    )
    # wrong ballot style (the contests do not match it) and an unknown style: V5.E
    refused(dataclasses.replace(fresh, style="only-a"), 422, "invalid_ballot", "V5.E")
    refused(dataclasses.replace(fresh, style="nope"), 422, "invalid_ballot", "V5.E")
    # a wrong confirmation code (V7.B), a wrong contest hash (V7.A)
    refused(dataclasses.replace(fresh, code=bytes(32)), 422, "invalid_ballot", "V7.B")
    bad_chi = dataclasses.replace(c0, chi=bytes(32))
    refused(
        dataclasses.replace(fresh, contests=(bad_chi, *fresh.contests[1:])), 422, "invalid_ballot", "V7.A"
    )
    # submitted as challenged (the board decides challenges): B5.A; not a ballot at all: R2.B
    refused(fresh.with_state(BallotState.CHALLENGED), 422, "invalid_ballot", "B5.A")
    refused(b"\x81\xa1a\x01", 422, "invalid_ballot", "R2.B")
    # a fresh ballot that copies another voter's contest (with a recomputed code): V7.H
    copy = vote(ctx, "copycat")
    chis = [good[0].contests[0].chi, copy.contests[1].chi]
    copied = dataclasses.replace(
        copy,
        contests=(good[0].contests[0], copy.contests[1]),
        code=confirmation_code(ctx.H_E, chis, copy.B_aux, ctx.dialect),
    )
    refused(copied, 422, "invalid_ballot", "V7.H")
    # an accepted ballot id reused by another ballot: V19.E
    refused(vote(ctx, "v0"), 422, "invalid_ballot", "V19.E")
    # replays: the same bytes, and the same ciphertexts under another id (re-wrapped) -> 409 replay
    refused(good[1], 409, "replay")
    refused(dataclasses.replace(good[1], ballot_id="other-id"), 409, "replay")
    # nothing refused reached the log
    assert eb.board.latest_sth().tree_size == 1 + len(good)
    # after close: 409 closed; a valid ballot before that is still accepted
    assert post(client, ballot_submission(ctx, fresh)).status_code == 201
    eb.close_voting()
    refused(vote(ctx, "late"), 409, "closed")


def test_validator_alone_names_step_and_object(election: Election) -> None:
    ctx = election.ctx
    validate = ballot_validator(ctx)
    b = vote(ctx, "solo")
    info = validate(ballot_bytes(b))
    assert info.confirmation_code == b.code and len(info.replay_key) == 32
    with pytest.raises(VerificationError) as ei:
        validate(ballot_bytes(dataclasses.replace(b, style="only-a")))
    assert ei.value.step == "V5.E" and ei.value.obj == "ballot solo"
    # the replay key ignores id, B_aux, device and time
    other = dataclasses.replace(b, ballot_id="x", timestamp=5)
    assert validate(ballot_bytes(other)).replay_key == info.replay_key


# ---------------------------------------------------------------------------------------------------
# credentials: re-voting counts the last ballot
# ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def revote(election: Election, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A credential election over HTTP with re-votes and a challenge, closed, tallied and exported."""
    ctx = election.ctx
    tmp = tmp_path_factory.mktemp("revote")
    creds, clist = issue_credentials(4)
    storage = SQLiteStorage(tmp / "board.sqlite")
    eb = ElectionBoard.create(storage, BoardKey.generate(), ctx, board_id="eg-cred", credentials=clist)
    client = TestClient(eb.app())
    first = vote(ctx, "c0-1", a="a", b=("x",))
    last = vote(ctx, "c0-2", a="b", b=("y", "z"))
    plan = [
        (0, first),
        (1, vote(ctx, "c1-1", a="c", b=("z",))),
        (2, vote(ctx, "c2-1", a="a", b=())),
        (0, last),  # voter 0 re-votes
        (3, vote(ctx, "c3-1", a="a", b=("x", "y"))),
    ]
    for who, b in plan:
        r = post(client, ballot_submission(ctx, b, creds[who]))
        assert r.status_code == 201, r.text
    # someone else's ballot re-signed by another credential is a replay; unsigned ballots are refused
    assert post(client, ballot_submission(ctx, first, creds[1])).json()["error"] == "replay"
    assert post(client, ballot_submission(ctx, vote(ctx, "anon"))).json()["error"] == "credential_required"
    # voter 3 challenges (spoils) their ballot over HTTP, signed with its credential (voter 0 cannot)
    spoil = plan[4][1].code
    wrong = creds[0].sign_challenge(ctx.H_E, spoil).to_bytes()
    assert post(client, wrong, "/v1/challenges").json()["error"] == "wrong_credential"
    assert (
        post(client, creds[3].sign_challenge(ctx.H_E, spoil).to_bytes(), "/v1/challenges").status_code == 201
    )
    final3 = vote(ctx, "c3-2", a="c", b=("x",))
    assert post(client, ballot_submission(ctx, final3, creds[3])).status_code == 201
    counted = [c.confirmation_code for c in eb.counted()]
    assert counted == [plan[1][1].code, plan[2][1].code, last.code, final3.code]
    eb.close_voting()
    dt = election.decrypt(eb)
    eb.publish_tally(eb.encrypted_tally())
    assert dt.counts(ctx) == {"A": {"a": 1, "b": 1, "c": 2}, "B": {"x": 1, "y": 1, "z": 2}}
    spoiled = eb.challenged_ballots()
    assert [b.ballot_id for b in spoiled] == ["c3-1"]
    from e2evote.protocol.tally import decrypt_ballot
    from e2evote.record.model import ChallengedBallot

    guardians = [DecryptingGuardian.from_key(k) for k in election.keys[:2]]
    opened = [ChallengedBallot("c3-1", None, None, decrypt_ballot(ctx, election.pubs, guardians, spoiled[0]))]
    out = tmp / "record"
    eb.export(election.pubs, out, tally=dt, challenged=opened)
    info = {"first": first, "last": last, "storage": storage, "ctx": ctx, "tally": dt, "opened": opened}
    return out, info


def test_revote_counts_only_the_last_ballot_and_export_verifies(revote: tuple[Path, dict[str, Any]]) -> None:
    out, info = revote
    t0 = time.perf_counter()
    report = verify_path(out)
    assert report.ok, report.failures
    assert report.checks["B1"] == 1 and report.checks["B4"] >= 1
    board = report.summary["board"]
    assert board["ballots"] == 6 and board["counted"] == 4 and board["challenged"] == 1 and board["closed"]
    assert report.summary["cast"] == 4 and report.summary["challenged"] == 1
    assert report.summary["counts"]["A"] == {"a": 1, "b": 1, "c": 2}
    # the superseded ballot is on the log (and verifiable from it) but not in the record's ballots
    payloads = {Event.from_bytes(e).payload for e in load_log(out)[1]}
    assert ballot_bytes(info["first"]) in payloads
    ids = [t["id"] for c in sorted((out / "ballots").glob("*.msgpack")) for t in unpack(c.read_bytes())]
    assert "c0-1" not in ids and "c0-2" in ids
    assert time.perf_counter() - t0 < 30


def _tampered(src: Path, tmp_path: Path, name: str) -> Path:
    d = tmp_path / name
    shutil.copytree(src, d)
    return d


def test_tampered_log_fails_with_b1_steps(revote: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    src, _ = revote
    assert verify_path(src).ok  # the honest export

    def drop(events: list[bytes]) -> list[bytes]:
        return events[:3] + events[4:]

    def swap(events: list[bytes]) -> list[bytes]:
        events[2], events[3] = events[3], events[2]
        return events

    def change_payload(events: list[bytes]) -> list[bytes]:
        ev = Event.from_bytes(events[2])
        tree = unpack(ev.payload)
        tree["time"] = tree["time"] + 1  # still a valid ballot: only the Merkle root can object
        events[2] = dataclasses.replace(ev, payload=pack(tree)).to_bytes()
        return events

    def truncate(events: list[bytes]) -> list[bytes]:
        return events[:-1]

    for name, fn, want in [
        ("drop", drop, "B1.B"),
        ("swap", swap, "B1.B"),
        ("payload", change_payload, "B1.F"),  # the credential signature covers the ballot bytes
        ("truncate", truncate, "B1.J"),
    ]:
        d = _tampered(src, tmp_path, name)
        edit_log(d, fn)
        r = verify_path(d)
        assert want in steps(r), (name, r.failures)
        assert all(s.startswith("B") for s in steps(r)), (name, r.failures)


def test_record_ballots_must_match_the_log(revote: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
    src, info = revote
    assert verify_path(src).ok

    # a superseded ballot counted instead of the voter's last one
    superseded = unpack(ballot_bytes(info["first"]))

    def resurrect(trees: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [superseded if t["id"] == "c0-2" else t for t in trees]

    # a counted ballot missing from the record
    def drop(trees: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [t for t in trees if t["id"] != "c1-1"]

    # a record ballot that differs from the logged bytes (time is outside the confirmation code)
    def retime(trees: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for t in trees:
            if t["id"] == "c2-1":
                t["time"] = 99
        return trees

    # the challenged ballot presented as cast
    def uncheck(trees: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for t in trees:
            if t["id"] == "c3-1":
                t["state"] = "cast"
        return trees

    for name, fn, want in [
        ("resurrect", resurrect, "B4.C"),
        ("drop", drop, "B4.C"),
        ("retime", retime, "B4.D"),
        ("uncheck", uncheck, "B4.C"),
    ]:
        d = _tampered(src, tmp_path, name)
        edit_ballots(d, fn)
        r = verify_path(d)
        assert want in steps(r), (name, r.failures)
    d = _tampered(src, tmp_path, "retime-only")
    edit_ballots(d, retime)
    assert steps(verify_path(d)) == {"B4.D"}  # nothing else notices


def test_foreign_board_key_and_wrong_election(
    revote: tuple[Path, dict[str, Any]], election: Election, tmp_path: Path
) -> None:
    src, info = revote
    d = _tampered(src, tmp_path, "key")
    path = d / "ext" / "board.msgpack"
    ext = decode_board_extension(unpack(path.read_bytes()))
    path.write_bytes(pack(encode_board_extension(dataclasses.replace(ext, public_key=bytes(32)))))
    reseal(d)
    assert "B1.C" in steps(verify_path(d))
    # a board of another election cannot be exported under this one
    other_params = ElectionParameters(TEST, MANIFEST, 1, 1)
    other_ctx = ceremony(other_params)[0][0].context
    with pytest.raises(Exception, match="another election"):
        export_record(info["storage"], other_ctx, [], tmp_path / "wrong")


# ---------------------------------------------------------------------------------------------------
# a real server (SQLite and PostgreSQL): client, receipts, monitor, export from storage, the CLI
# ---------------------------------------------------------------------------------------------------


@pytest.fixture
def served(election: Election, storage_factory: Any) -> Iterator[tuple[ElectionBoard, str, Storage]]:
    storage = storage_factory()
    eb = ElectionBoard.create(storage, BoardKey.generate(), election.ctx, board_id="eg-served")
    config = uvicorn.Config(eb.app(), host="127.0.0.1", port=free_port(), log_level="warning", lifespan="off")
    srv = uvicorn.Server(config)
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline and t.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    yield eb, f"http://127.0.0.1:{config.port}", storage
    srv.should_exit = True
    t.join(10)


def test_served_board_monitor_export_and_cli(
    election: Election, served: tuple[ElectionBoard, str, Storage], tmp_path: Path
) -> None:
    from cli.board import app

    ctx = election.ctx
    eb, url, storage = served
    runner = CliRunner()
    pk = eb.board.public_key.hex()
    state = tmp_path / "monitor.json"
    with BoardClient(url) as client:
        for i in range(3):
            receipt = client.submit(ballot_submission(ctx, vote(ctx, f"s{i}")))
            verify_receipt(receipt, eb.board.public_key)
        r = runner.invoke(app, ["monitor", url, "--state", str(state), "--public-key", pk])
        assert r.exit_code == 0 and r.stdout.startswith("initial"), r.output
        client.submit(ballot_submission(ctx, vote(ctx, "s3")))
        r = runner.invoke(app, ["monitor", url, "--state", str(state), "--public-key", pk])
        assert r.exit_code == 0 and r.stdout.startswith("extended"), r.output
        # a monitor holding another key raises the alarm: exit 1, one line, B3.A
        r = runner.invoke(app, ["monitor", url, "--state", str(state), "--public-key", "00" * 32])
        assert r.exit_code == 1 and "[B3.A] bad_signature" in r.output and len(r.output.splitlines()) == 1
        # --max-age (B3.E): a head older than the bound is an alarm, a refreshed one is fine
        time.sleep(0.02)
        r = runner.invoke(app, ["monitor", url, "--state", str(state), "--public-key", pk, "--max-age", "0"])
        assert r.exit_code == 1 and "[B3.E] stale" in r.output, r.output
        r = runner.invoke(app, ["monitor", url, "--state", str(state), "--public-key", pk, "--max-age", "60"])
        assert r.exit_code == 0 and r.stdout.startswith("unchanged"), r.output
    eb.close_voting()
    dt = election.decrypt(eb)
    time.sleep(0.002)
    fresh = eb.board.refresh_sth()  # the export carries a freshness STH, not the last append's
    assert fresh != eb.board.sth_at(fresh.tree_size) and fresh == eb.board.latest_sth()
    rec = tmp_path / "record"
    export_record(storage, ctx, election.pubs, rec, tally=dt)  # from the storage alone: no key needed
    report = verify_path(rec)
    assert report.ok, report.failures
    assert report.summary["board"]["counted"] == 4
    assert decode_board_extension(unpack((rec / "ext" / "board.msgpack").read_bytes())).sth == fresh

    # `e2evote board export` of the same board (SQLite only: the CLI opens the database by URL)
    if isinstance(storage, SQLiteStorage):
        db = str(storage_path(storage))
        cli_rec = tmp_path / "cli-record"
        r = runner.invoke(app, ["export", "--db", db, "--election", str(rec), "--out", str(cli_rec)])
        assert r.exit_code == 0, r.output
        cli_report = verify_path(cli_rec)
        assert steps(cli_report) == {"R2.C"}  # no decrypted tally in a native record's directory
        assert cli_report.checks["B4"] >= 1


def storage_path(storage: SQLiteStorage) -> Path:
    for attr in ("path", "_path"):
        p = getattr(storage, attr, None)
        if p is not None:
            return Path(p)
    raise AssertionError("SQLiteStorage has no path attribute")


def test_mid_election_export_verifies_as_partial(election: Election, tmp_path: Path) -> None:
    """A record exported while voting is open has no tally (B4.F allows one only for a closed log):
    it verifies with --partial, and a complete verification names only the missing tally."""
    ctx = election.ctx
    storage = SQLiteStorage(tmp_path / "b.sqlite")
    eb = ElectionBoard.create(storage, BoardKey.generate(), ctx, board_id="eg-mid")
    eb.submit(vote(ctx, "m0"))
    out = tmp_path / "mid"
    export_record(eb.board, ctx, election.pubs, out)
    assert verify_path(out, partial=True).ok
    assert steps(verify_path(out)) == {"V8.A"}


def test_reopened_board_remembers_its_ballots(election: Election, tmp_path: Path) -> None:
    """ElectionBoard.open rebuilds the copy/id index from the log (V7.H, V19.E across restarts)."""
    ctx = election.ctx
    key = BoardKey.generate()
    path = tmp_path / "b.sqlite"
    eb = ElectionBoard.create(SQLiteStorage(path), key, ctx, board_id="eg-reopen")
    first = vote(ctx, "r0")
    eb.submit(first)
    eb2 = ElectionBoard.open(SQLiteStorage(path), key, ctx)
    assert len(eb2.index) == 1
    with pytest.raises(Exception, match=r"\[V19.E\]"):
        eb2.submit(vote(ctx, "r0"))
    other = ceremony(ElectionParameters(TEST, MANIFEST, 1, 1))[0][0].context
    with pytest.raises(Exception, match="another election"):
        ElectionBoard.open(SQLiteStorage(path), key, other)
    assert os.path.exists(path)


def test_rebuilt_index_hashes_the_logged_contests_as_the_validator_does(election: Election) -> None:
    """Rebuilding the index from the log hashes the canonical bytes of each ballot's contests as they
    lie in the payload; that is the validator's replay key (which encodes the decoded contests again),
    so a re-submitted ballot is still a replay after a restart, not a copy (V7.H)."""
    from e2evote.board.election import _tree, canonical_replay_key

    ctx = election.ctx
    for n, (a, b) in enumerate([("a", ("x",)), ("c", ()), ("b", ("y", "z"))]):
        payload = ballot_bytes(vote(ctx, f"k{n}", a=a, b=b))
        assert canonical_replay_key(payload) == replay_key(_tree(payload)) == decode_ballot(ctx, payload)[1]
    index = BallotIndex()
    logged = vote(ctx, "k-logged")
    index._log(ballot_bytes(logged))
    index.claim(
        "k-logged",
        [("α", logged.contests[0].selections[0].ct.alpha.to_bytes())],
        replay_key(_tree(ballot_bytes(logged))),
    )
    # a log holding a ballot that could never have been accepted is a corrupt board, not a traceback
    for broken in (
        {"id": "k-bad", "contests": [{"sel": [{"ct": [b"short", b"x"]}]}]},
        {"id": "k-bad", "contests": [1]},
    ):
        with pytest.raises(EncodingError):
            index._log(pack(broken))


def test_board_processes_sharing_a_database_refuse_each_others_copies(
    election: Election, storage_factory: Any
) -> None:
    """Two boards on one database (as two processes would be, each with its own storage and index):
    the second, opened before the first accepts a ballot, still refuses a copy of that ballot's
    ciphertexts (V7.H) or of its id (V19.E), because the index catches up with the log inside the
    append's transaction; nothing refused is logged, and a fresh ballot is accepted by either."""
    ctx = election.ctx
    key = BoardKey.generate()
    first = ElectionBoard.create(storage_factory(), key, ctx, board_id="eg-shared")
    second = ElectionBoard.open(storage_factory(), key, ctx)  # its index: the log as it was now
    original = vote(ctx, "s0")
    first.submit(original)
    copy = vote(ctx, "s-copy")
    chis = [original.contests[0].chi, copy.contests[1].chi]
    copied = dataclasses.replace(
        copy,
        contests=(original.contests[0], copy.contests[1]),
        code=confirmation_code(ctx.H_E, chis, copy.B_aux, ctx.dialect),
    )
    assert len(second.index) == 0  # the copy passes its validator: only the append's check catches it
    with pytest.raises(InvalidBallot, match=r"\[V7.H\] ballot s-copy contest 1 option 1"):
        second.submit(copied)
    with pytest.raises(InvalidBallot, match=r"\[V19.E\] ballot s0"):
        second.submit(vote(ctx, "s0"))
    assert len(second.index) == 1 and second.index.synced == 2
    second.submit(vote(ctx, "s1"))
    with pytest.raises(InvalidBallot, match=r"\[V19.E\] ballot s1"):
        first.submit(vote(ctx, "s1"))
    first.submit(vote(ctx, "s2"))
    assert first.board.latest_sth().tree_size == 4  # setup and s0, s1, s2
    assert [b.ballot_id for b in first.counted_ballots()] == ["s0", "s1", "s2"]


def test_counted_ballots_are_decoded_one_at_a_time(
    election: Election, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ElectionBoard.counted_ballots streams: taking the first counted ballot decodes that ballot
    only (a national log is never held decoded); superseded and challenged ballots are skipped."""
    from e2evote.board import election as board_election

    ctx = election.ctx
    eb = ElectionBoard.create(SQLiteStorage(tmp_path / "b.sqlite"), BoardKey.generate(), ctx, board_id="eg-s")
    ballots = [vote(ctx, f"c{i}", a="abc"[i % 3]) for i in range(4)]
    for b in ballots:
        eb.submit(b)
    eb.challenge(ballots[1].code)
    decoded: list[bytes] = []
    real = board_election.decode_ballot

    def counting(ctx_: ElectionContext, data: bytes) -> Any:
        decoded.append(data)
        return real(ctx_, data)

    monkeypatch.setattr(board_election, "decode_ballot", counting)
    stream = eb.counted_ballots()
    assert next(stream).ballot_id == "c0" and len(decoded) == 1
    assert [b.ballot_id for b in stream] == ["c2", "c3"] and len(decoded) == 3
    assert [b.ballot_id for b in eb.challenged_ballots()] == ["c1"]
    assert eb.challenged_ballots()[0].state is BallotState.CHALLENGED


def test_cli_tally_and_export_with_an_election_directory(election: Election, tmp_path: Path) -> None:
    """`board tally` closes and writes the trustees' request; after their decryption (here: in
    process), `board export` writes a final record that verifies."""
    from cli.board import app
    from e2evote.record import files
    from e2evote.record.files import DecryptionResult, ElectionDir

    ctx = election.ctx
    edir = ElectionDir(tmp_path / "election")
    edir.create(ctx.parameters)
    edir.write(edir.context_file, files.encode_context(ctx, election.pubs))
    key_file = tmp_path / "board.key"
    key = BoardKey.generate()
    key.save(key_file, BOARD_PW)
    db = tmp_path / "board.sqlite"
    eb = ElectionBoard.create(SQLiteStorage(db), key, ctx, board_id="eg-cli")
    for i in range(3):
        eb.submit(vote(ctx, f"k{i}", a="abc"[i]))
    spoil = vote(ctx, "k-spoil")
    eb.submit(spoil)
    eb.challenge(spoil.code)
    runner = CliRunner(env={"E2EVOTE_PASSPHRASE": BOARD_PW, "E2EVOTE_BOARD_PASSPHRASE": None})
    argv = ["tally", "--election", str(edir.path), "--db", str(db), "--key", str(key_file)]
    r = runner.invoke(app, argv)
    assert r.exit_code == 0, r.output
    assert "3 counted ballots; 1 challenged" in r.stdout
    assert runner.invoke(app, argv).exit_code == 2  # only once
    req = files.decode_request(ctx.group, ctx.H_E, edir.read(edir.request_file))
    # what `trustee decrypt --record` checks the request against: the board's record so far
    so_far = tmp_path / "so-far"
    r = runner.invoke(app, ["export", "--db", str(db), "--election", str(edir.path), "--out", str(so_far)])
    assert r.exit_code == 0 and "record so far" in r.stdout, r.output
    from e2evote.protocol.tally import check_request, decrypt_ballot
    from e2evote.record.native import read_record

    ballots = (b for b in read_record(so_far).ballots() if isinstance(b, EncryptedBallot))
    assert check_request(ctx, req.tally, req.ballots, ballots) == 3
    guardians = [DecryptingGuardian.from_key(k) for k in election.keys[:2]]

    result = DecryptionResult(
        req.digest,
        (1, 2),
        decrypt_tally(ctx, election.pubs, guardians, req.tally),
        tuple(decrypt_ballot(ctx, election.pubs, guardians, b) for b in req.ballots),
    )
    edir.write(edir.result_file, files.encode_result(ctx.H_E, result))
    out = tmp_path / "record"
    r = runner.invoke(app, ["export", "--db", str(db), "--election", str(edir.path), "--out", str(out)])
    assert r.exit_code == 0 and "final record" in r.stdout, r.output
    report = verify_path(out)
    assert report.ok, report.failures
    assert report.summary["counts"]["A"] == {"a": 1, "b": 1, "c": 1}
    assert report.summary["challenged"] == 1 and report.summary["board"]["closed"]


def test_cli_challenge_takes_the_voter_s_signed_request(election: Election, tmp_path: Path) -> None:
    """On a board with credentials `board challenge` takes the voter's signed request (§6.2); a bare
    code, or a request signed by another credential, is a one-line error and appends nothing."""
    from cli.board import app
    from e2evote.record import files
    from e2evote.record.files import ElectionDir

    ctx = election.ctx
    edir = ElectionDir(tmp_path / "election")
    edir.create(ctx.parameters)
    edir.write(edir.context_file, files.encode_context(ctx, election.pubs))
    creds, clist = issue_credentials(2)
    key = BoardKey.generate()
    key.save(tmp_path / "board.key", BOARD_PW)
    db = tmp_path / "board.sqlite"
    eb = ElectionBoard.create(SQLiteStorage(db), key, ctx, board_id="eg-cred", credentials=clist)
    code = eb.submit(vote(ctx, "c1"), creds[0]).confirmation_code
    size = eb.board.latest_sth().tree_size
    board = ["challenge", "--election", str(edir.path), "--db", str(db), "--key", str(tmp_path / "board.key")]
    (tmp_path / "other.msgpack").write_bytes(creds[1].sign_challenge(ctx.H_E, code).to_bytes())
    (tmp_path / "own.msgpack").write_bytes(creds[0].sign_challenge(ctx.H_E, code).to_bytes())
    runner = CliRunner(env={"E2EVOTE_PASSPHRASE": BOARD_PW, "E2EVOTE_BOARD_PASSPHRASE": None})
    for extra, why in [
        (["--code", code.hex()], "credential_required"),
        (["--request", str(tmp_path / "other.msgpack")], "wrong_credential"),
    ]:
        r = runner.invoke(app, board + extra)
        assert r.exit_code == 2 and why in r.stderr and r.stderr.startswith("error:"), r.output
    assert eb.board.latest_sth().tree_size == size
    r = runner.invoke(app, board + ["--request", str(tmp_path / "own.msgpack")])
    assert r.exit_code == 0 and "challenged" in r.stdout, r.output
    assert [b.ballot_id for b in eb.challenged_ballots()] == ["c1"]


def test_export_publishes_the_outcomes_the_verifier_recomputes(tmp_path: Path) -> None:
    """A board election whose manifest names an outcome rule: `export` with the decrypted tally
    writes every decided outcome (compute_outcomes), so the record passes V20 without the caller
    computing them; before, it failed V20.D ("none is published")."""
    from e2evote.protocol.ballot import encrypt_ballot
    from e2evote.protocol.manifest import Manifest

    rule = {"method": "plurality", "seats": None, "threshold": None, "threshold_base": None}
    manifest = Manifest.from_json(
        {
            "label": "ruled",
            "contests": [
                {
                    "label": "A",
                    "options": ["a", "b"],
                    "outcome": {**rule, "against_all": None, "tie_seed": "00" * 32},
                }
            ],
        }
    )
    keys, pubs = ceremony(ElectionParameters(TEST, manifest, 1, 1))
    ctx = keys[0].context
    eb = ElectionBoard.create(SQLiteStorage(str(tmp_path / "b.db")), BoardKey.generate(), ctx, board_id="o")
    for n, vote in enumerate(["b", "a", "b"]):
        eb.submit(encrypt_ballot(ctx, PlaintextBallot(f"v{n}", "default", {"A": {vote: 1}}))[0])
    eb.close_voting()
    tally = decrypt_tally(ctx, pubs, [DecryptingGuardian.from_key(keys[0])], eb.encrypted_tally())
    eb.export(pubs, tmp_path / "rec", tally=tally)
    report = verify_path(tmp_path / "rec")
    assert report.ok and report.checks["V20"] == 1, report.failures
    from e2evote.record.native import read_record

    assert read_record(tmp_path / "rec").outcomes["A"]["winner"] == "b"


def test_board_refuses_a_ballot_that_breaks_its_device_s_chain(storage_factory: Any, tmp_path: Path) -> None:
    """A chaining election (specs/08-board.md §12.1): a ballot must continue its device's chain on the
    log (V7.D for a device's first ballot, V7.E after it), checked inside the append's transaction, so
    also across board processes sharing the database. Before, the board logged such a ballot and its
    record then failed V7.D / V7.E. A refused ballot submitted again in its turn is accepted, and a
    refused ballot's id is free again (BallotIndex.release); the export, with the devices' closing
    hashes, verifies."""
    from e2evote.protocol.ballot import Device

    manifest = simple_manifest("chained", [("A", ["a", "b"], 1)], chaining=True)
    keys, pubs = ceremony(ElectionParameters(TEST, manifest, 1, 1))
    ctx = keys[0].context
    key = BoardKey.generate()
    first = ElectionBoard.create(storage_factory(), key, ctx, board_id="eg-chain")
    second = ElectionBoard.open(storage_factory(), key, ctx)

    plain: dict[str, PlaintextBallot] = {}
    nonces: dict[str, bytes] = {}

    def chained(device: Device, n: int) -> list[EncryptedBallot]:
        out = []
        for k in range(n):
            pb = plain[f"{device.name}-{k}"] = PlaintextBallot(
                f"{device.name}-{k}", "default", {"A": {"a": 1}}
            )
            ballot, nonces[pb.ballot_id] = encrypt_ballot(ctx, pb, device=device)
            out.append(ballot)
        return out

    d1 = Device(ctx, "d1")
    b0, b1, b2 = chained(d1, 3)
    with pytest.raises(InvalidBallot, match=r"\[V7.D\] ballot d1-1: B_aux does not continue device 'd1'"):
        first.submit(b1)  # its predecessor is not on the board yet
    first.submit(b0)
    with pytest.raises(InvalidBallot, match=r"\[V7.E\] ballot d1-2"):
        second.submit(b2)  # skips b1: refused by the other process too, its index caught up
    restarted = chained(Device(ctx, "d1"), 1)[0]  # a device that lost its state restarts the chain
    restarted = dataclasses.replace(restarted, ballot_id="d1-again")
    restarted = dataclasses.replace(
        restarted,
        code=confirmation_code(ctx.H_E, [c.chi for c in restarted.contests], restarted.B_aux, ctx.dialect),
    )
    with pytest.raises(InvalidBallot, match=r"\[V7.E\] ballot d1-again"):
        first.submit(restarted)
    second.submit(b1)  # refused before, accepted in its turn
    first.submit(b2)
    resumed = encrypt_ballot(ctx, PlaintextBallot("d1-again", "default", {"A": {"b": 1}}), device=d1)[0]
    first.submit(resumed)  # the refusal released the id: the device, resumed, may use it
    d2 = Device(ctx, "d2")
    first.submit(chained(d2, 1)[0])  # another device starts its own chain
    first.challenge(b1.code)  # a challenged ballot stays in its device's chain
    assert first.board.latest_sth().tree_size == 7  # setup, five ballots, the challenge
    first.close_voting()
    tally = decrypt_tally(ctx, pubs, [DecryptingGuardian.from_key(keys[0])], first.encrypted_tally())
    out = tmp_path / "rec"
    opened = [ChallengedBallot("d1-1", nonces["d1-1"], plain["d1-1"])]
    first.export(
        pubs, out, tally=tally, challenged=opened, device_closes={"d1": d1.close(), "d2": d2.close()}
    )
    report = verify_path(out)
    assert report.ok, report.failures
    assert report.checks["V7"] >= 6
