"""`e2evote voter check-receipt` (specs/08-board.md §12.6): a voter's board receipt checked against the
exported record — the receipt itself (B2.A-B2.D), the record's log (B1), the receipted leaf (B2.E),
no fork or rewritten history (B2.F) and the ballot's fate (B2.G: counted, challenged or superseded).

One credential election on a board (small test group), its receipts as the board handed them out
(the JSON of ``POST /v1/ballots``, the JSON of ``GET /v1/ballots/{code}``, msgpack), closed, tallied
and exported; every tamper test is paired with the honest receipt passing.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app
from e2evote.board import BoardKey, Receipt, SQLiteStorage, issue_credentials
from e2evote.board.election import (
    ElectionBoard,
    ballot_submission,
    export_record,
)
from e2evote.board.events import Event
from e2evote.board.receipt_check import BallotFate, check_receipt_against_record, parse_receipt
from e2evote.encoding import pack, unpack
from e2evote.errors import EncodingError, RecordError
from e2evote.groups import TEST
from e2evote.protocol.ballot import EncryptedBallot, PlaintextBallot, encrypt_ballot
from e2evote.protocol.decryption import DecryptingGuardian
from e2evote.protocol.election import ElectionContext, ElectionParameters
from e2evote.protocol.manifest import simple_manifest
from e2evote.protocol.tally import decrypt_tally
from e2evote.record.native import read_record

from .boardlog import load_log, store_log
from .elections import ceremony, reseal

with warnings.catch_warnings():  # starlette's TestClient warns about its httpx backend on import
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

MANIFEST = simple_manifest("receipt-test", [("A", ["a", "b", "c"], 1)])
FIXED_CLOCK = 1_700_000_000_000
ALL_STEPS = ["B2.A", "B2.B", "B2.C", "B2.D", "B1", "B2.E", "B2.F", "B2.G"]


def vote(ctx: ElectionContext, bid: str, choice: str = "a") -> EncryptedBallot:
    return encrypt_ballot(ctx, PlaintextBallot(bid, "default", {"A": {choice: 1}}))[0]


@dataclasses.dataclass
class World:
    ctx: ElectionContext
    pubs: Any
    record: Path
    receipts: dict[str, Receipt]
    files: dict[str, Path]
    public_key: bytes
    indices: dict[str, int]
    tmp: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """A closed, tallied credential election: voter 0 re-votes, voter 2's ballot is challenged."""
    tmp = tmp_path_factory.mktemp("receipts")
    keys, pubs = ceremony(ElectionParameters(TEST, MANIFEST, 3, 2))
    ctx = keys[0].context
    creds, clist = issue_credentials(4)
    key = BoardKey.generate()
    eb = ElectionBoard.create(SQLiteStorage(tmp / "board.sqlite"), key, ctx, board_id="rc", credentials=clist)
    client = TestClient(eb.app())
    files: dict[str, Path] = {}
    receipts: dict[str, Receipt] = {}
    ballots: dict[str, EncryptedBallot] = {}
    for name, who, choice in [
        ("superseded", 0, "a"),
        ("counted", 1, "b"),
        ("challenged", 2, "c"),
        ("revote", 0, "c"),
        ("other", 3, "a"),
    ]:
        ballots[name] = vote(ctx, name, choice)
        resp = client.post(
            "/v1/ballots",
            content=ballot_submission(ctx, ballots[name], creds[who]),
            headers={"content-type": "application/msgpack"},
        )
        assert resp.status_code == 201, resp.text
        files[name] = tmp / f"{name}.json"
        files[name].write_bytes(resp.content)  # exactly what the board handed out
        receipts[name] = Receipt.from_json(resp.json())
    spoil = creds[2].sign_challenge(ctx.H_E, ballots["challenged"].code)  # the voter audits its ballot
    resp = client.post(
        "/v1/challenges", content=spoil.to_bytes(), headers={"content-type": "application/msgpack"}
    )
    assert resp.status_code == 201, resp.text
    lookup = client.get(f"/v1/ballots/{ballots['counted'].code.hex()}")
    assert lookup.status_code == 200
    files["lookup"] = tmp / "lookup.json"
    files["lookup"].write_bytes(lookup.content)
    files["msgpack"] = tmp / "revote.msgpack"
    files["msgpack"].write_bytes(receipts["revote"].to_bytes())
    eb.close_voting()
    guardians = [DecryptingGuardian.from_key(k) for k in keys[:2]]
    tally = decrypt_tally(ctx, pubs, guardians, eb.encrypted_tally())
    eb.publish_tally(eb.encrypted_tally())
    record = tmp / "record"
    eb.export(pubs, record, tally=tally)
    indices = {name: r.leaf_index for name, r in receipts.items()}
    return World(ctx, pubs, record, receipts, files, key.public_key, indices, tmp)


def cli(*args: str | Path) -> Any:
    argv = ["voter", "check-receipt", *(str(a) for a in args)]
    r = CliRunner().invoke(app, argv, env={"NO_COLOR": "1", "COLUMNS": "200"}, catch_exceptions=True)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.stdout + r.stderr
    return r


def check_json(receipt: Path, record: Path, *extra: str, code: int) -> dict[str, Any]:
    r = cli("--record", record, receipt, "--json", *extra)
    assert r.exit_code == code, r.stdout + r.stderr
    out: dict[str, Any] = json.loads(r.stdout)
    assert [s["step"] for s in out["steps"]][:4] == ALL_STEPS[:4] and len(out["steps"]) == len(ALL_STEPS)
    assert out["ok"] is (code == 0)
    return out


def failed(result: dict[str, Any]) -> set[str]:
    return {s["step"] for s in result["steps"] if s["ok"] is False}


def write_receipt(world: World, name: str, receipt: Receipt) -> Path:
    path = world.tmp / name
    path.write_text(json.dumps(receipt.to_json()))
    return path


def copy_record(world: World, tmp_path: Path) -> Path:
    d = tmp_path / "record"
    shutil.copytree(world.record, d)
    return d


# ---------------------------------------------------------------------------------------------------
# honest receipts: counted, superseded, challenged (every format the board hands out)
# ---------------------------------------------------------------------------------------------------


def test_honest_receipt_is_counted(world: World) -> None:
    r = cli("--record", world.record, world.files["counted"])
    assert r.exit_code == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    for step in ALL_STEPS:
        assert any(line.startswith(f"✓ [{step}]") for line in lines), (step, r.stdout)
    assert "the record's; compare it with the key the board published" in r.stdout
    assert world.public_key.hex() in r.stdout
    assert lines[-1] == "✓ receipt holds; the ballot is counted"
    assert "✗" not in r.stdout and r.stderr == ""


@pytest.mark.parametrize("name", ["counted", "lookup", "msgpack"])
def test_every_receipt_format_and_the_given_key(world: World, name: str) -> None:
    out = check_json(world.files[name], world.record, "--public-key", world.public_key.hex(), code=0)
    assert out["fate"] == "counted" and out["key_source"] == "given"
    assert [s["step"] for s in out["steps"]] == ALL_STEPS and all(s["ok"] for s in out["steps"])
    assert out["public_key"] == world.public_key.hex() and out["record_board_id"] == "rc"


def test_superseded_ballot_is_reported(world: World) -> None:
    out = check_json(world.files["superseded"], world.record, code=0)
    assert out["fate"] == "superseded" and out["superseded_by"] == world.indices["revote"]
    r = cli("--record", world.record, world.files["superseded"])
    assert r.exit_code == 0
    assert f"superseded by ballot event {world.indices['revote']}" in r.stdout.splitlines()[-1]
    assert "not counted" in r.stdout.splitlines()[-1]


def test_challenged_ballot_is_reported(world: World) -> None:
    out = check_json(world.files["challenged"], world.record, code=0)
    assert out["fate"] == "challenged" and out["superseded_by"] is None
    r = cli("--record", world.record, world.files["challenged"])
    assert r.exit_code == 0 and "challenged" in r.stdout.splitlines()[-1]


def test_library_function(world: World) -> None:
    record = read_record(world.record)
    check = check_receipt_against_record(record, world.receipts["other"])
    assert check.ok and check.fate is BallotFate.COUNTED and check.key_source == "record"
    bad = dataclasses.replace(world.receipts["other"], leaf_index=world.receipts["other"].leaf_index - 1)
    assert not check_receipt_against_record(record, bad, world.public_key).ok
    with pytest.raises(EncodingError):
        check_receipt_against_record(record, world.receipts["other"], b"short")
    with pytest.raises(EncodingError):
        parse_receipt(b'{"receipt": 1}')


# ---------------------------------------------------------------------------------------------------
# tampered receipts: exit 1, the failing step named
# ---------------------------------------------------------------------------------------------------


def _flip(b: bytes, i: int = 0) -> bytes:
    return b[:i] + bytes([b[i] ^ 1]) + b[i + 1 :]


def test_tampered_receipts_fail_with_their_step(world: World) -> None:
    honest = world.receipts["counted"]
    assert honest.audit_path, "the receipted leaf needs an audit path for this test"
    path = (_flip(honest.audit_path[0], 5), *honest.audit_path[1:])
    cases: list[tuple[str, Receipt, set[str]]] = [
        ("path", dataclasses.replace(honest, audit_path=path), {"B2.D"}),
        ("signature", dataclasses.replace(honest, signature=_flip(honest.signature, 7)), {"B2.A"}),
        (
            "sth-signature",
            dataclasses.replace(
                honest, sth=dataclasses.replace(honest.sth, signature=_flip(honest.sth.signature))
            ),
            {"B2.B"},
        ),
        (
            "index",
            dataclasses.replace(honest, leaf_index=honest.leaf_index + 1),
            {"B2.A", "B2.C", "B2.D", "B2.E"},
        ),
        ("leaf", dataclasses.replace(honest, leaf_hash=_flip(honest.leaf_hash)), {"B2.A", "B2.D", "B2.E"}),
    ]
    for name, receipt, want in cases:
        out = check_json(write_receipt(world, f"tampered-{name}.json", receipt), world.record, code=1)
        assert failed(out) == want, (name, out["steps"])
    # the human output names the step and what failed, and ends with the verdict
    r = cli("--record", world.record, world.tmp / "tampered-path.json")
    assert r.exit_code == 1
    assert "✗ [B2.D] audit path: audit path does not lead to the root hash" in r.stdout
    assert r.stdout.splitlines()[-1] == "✗ receipt check FAILED: [B2.D] audit path"


def test_receipt_from_another_board(world: World, tmp_path: Path) -> None:
    """Same election, another board (key, id): its receipt does not hold against this record."""
    key = BoardKey.generate()
    eb = ElectionBoard.create(SQLiteStorage(tmp_path / "b.sqlite"), key, world.ctx, board_id="elsewhere")
    foreign = write_receipt(world, "foreign.json", eb.submit(vote(world.ctx, "foreign")))
    out = check_json(foreign, world.record, code=1)
    assert {"B2.A", "B2.B"} <= failed(out), out["steps"]
    assert "'elsewhere'" in out["steps"][0]["detail"]
    # with the other board's key, the receipt holds but the record's log is not that board's (B1.C)
    out = check_json(foreign, world.record, "--public-key", key.public_key.hex(), code=1)
    assert failed(out) == {"B1.C"}
    assert [s["ok"] for s in out["steps"][-3:]] == [None, None, None]  # B2.E-G not checked
    assert out["key_source"] == "given" and out["warnings"]
    # and this board's honest receipt against a record of the other board fails too
    eb.close_voting()
    other = tmp_path / "other-record"
    export_record(eb.board, world.ctx, world.pubs, other)
    out = check_json(world.files["counted"], other, code=1)
    assert {"B2.A", "B2.B"} <= failed(out)


def test_forked_log_fails_b2f(world: World, tmp_path: Path) -> None:
    """A board that rewrites history before an acknowledged ballot (same key, same id, same bytes of
    that ballot event) is caught by B2.F alone; the honest receipt of the honest board holds."""
    keys_ctx = world.ctx
    key = BoardKey.generate()
    creds, clist = issue_credentials(2)
    honest_ballot = vote(keys_ctx, "kept")

    def board(name: str, first: str) -> tuple[ElectionBoard, Receipt]:
        eb = ElectionBoard.create(
            SQLiteStorage(tmp_path / f"{name}.sqlite"),
            key,
            keys_ctx,
            board_id="forky",
            credentials=clist,
            clock=lambda: FIXED_CLOCK,
        )
        eb.submit(vote(keys_ctx, first), creds[0])
        return eb, eb.submit(honest_ballot, creds[1])

    original, receipt = board("original", "first")
    forked, forked_receipt = board("forked", "rewritten")
    assert (
        forked_receipt.leaf_hash == receipt.leaf_hash
        and forked_receipt.sth.root_hash != receipt.sth.root_hash
    )
    path = write_receipt(world, "forky.json", receipt)
    for eb, name in [(original, "original-record"), (forked, "forked-record")]:
        eb.close_voting()
        export_record(eb.board, keys_ctx, world.pubs, tmp_path / name)
    assert check_json(path, tmp_path / "original-record", code=0)["fate"] == "counted"
    out = check_json(path, tmp_path / "forked-record", code=1)
    assert failed(out) == {"B2.F"}, out["steps"]
    assert "forked or rewrote" in out["steps"][6]["detail"]


# ---------------------------------------------------------------------------------------------------
# a record that does not match the log
# ---------------------------------------------------------------------------------------------------


def test_record_log_altered_after_export(world: World, tmp_path: Path) -> None:
    d = copy_record(world, tmp_path)
    path = d / "ext" / "board.msgpack"
    ext, events = load_log(d)
    store_log(d, ext, events[:-1])
    out = check_json(world.files["counted"], d, code=1)
    assert failed(out) == {"B1.J"}, out["steps"]
    assert [s["ok"] for s in out["steps"][-3:]] == [None, None, None]
    assert any("integrity" in w for w in out["warnings"])
    # an undecodable board log: B4.A; without --public-key there is no key to check the receipt with
    path.write_bytes(pack({"format": "e2evote-board-ext-v0"}))
    out = check_json(world.files["counted"], d, code=1)
    assert failed(out) == {"B4.A"} and [s["ok"] for s in out["steps"]].count(None) == 7
    out = check_json(world.files["counted"], d, "--public-key", world.public_key.hex(), code=1)
    assert failed(out) == {"B4.A"} and [s["ok"] for s in out["steps"][:4]] == [True] * 4
    r = cli("--record", d, world.files["counted"])
    assert r.exit_code == 1 and "board key: none" in r.stdout


def edit_ballots(world: World, tmp_path: Path, name: str, fn: Any, *, sealed: bool = True) -> Path:
    """A copy of the record whose ballots are ``fn(trees)``, resealed as its author could (R1 holds:
    only B2.G may object), or with ``sealed=False`` edited after sealing."""
    d = copy_record(world, tmp_path / name)
    chunks = sorted((d / "ballots").glob("*.msgpack"))
    trees = [t for c in chunks for t in unpack(c.read_bytes())]
    for c in chunks:
        c.unlink()
    (d / "ballots" / "000000.msgpack").write_bytes(pack(fn(trees)))
    if sealed:
        reseal(d)
    return d


def test_record_ballots_disagree_with_the_log(world: World, tmp_path: Path) -> None:
    # a counted ballot missing from the record: not counted, and no reason on the log
    def drop_counted(trees: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [t for t in trees if t["id"] != "counted"]

    d = edit_ballots(world, tmp_path, "drop", drop_counted)
    out = check_json(world.files["counted"], d, code=1)
    assert failed(out) == {"B2.G"}, out["steps"]
    assert "does not list it as cast" in out["steps"][-1]["detail"]
    assert check_json(world.files["other"], d, code=0)["fate"] == "counted"  # the others still hold
    # the same edit made after sealing: the edited file is not read as ballots at all (R1.B)
    d = edit_ballots(world, tmp_path, "unsealed", drop_counted, sealed=False)
    out = check_json(world.files["other"], d, code=1)
    assert failed(out) == {"B2.G"} and any("integrity" in w for w in out["warnings"]), out
    # the superseded ballot counted in place of the re-vote
    old = unpack(Event.from_bytes(load_log(world.record)[1][world.indices["superseded"]]).payload)
    d = edit_ballots(world, tmp_path, "resurrect", lambda ts: [old if t["id"] == "revote" else t for t in ts])
    out = check_json(world.files["superseded"], d, code=1)
    assert failed(out) == {"B2.G"} and out["fate"] == "superseded", out["steps"]
    assert "listed in the record" in out["steps"][-1]["detail"]
    assert failed(check_json(world.files["msgpack"], d, code=1)) == {"B2.G"}  # the re-vote is missing

    # a record ballot that differs from the logged bytes
    def retime(trees: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**t, "time": 99} if t["id"] == "other" else t for t in trees]

    out = check_json(world.files["other"], edit_ballots(world, tmp_path, "retime", retime), code=1)
    assert failed(out) == {"B2.G"} and "differs from the logged one" in out["steps"][-1]["detail"]
    # the same ballot listed twice
    twice = edit_ballots(world, tmp_path, "twice", lambda ts: ts + [t for t in ts if t["id"] == "other"])
    out = check_json(world.files["other"], twice, code=1)
    assert failed(out) == {"B2.G"} and "lists it 2 times" in out["steps"][-1]["detail"]


# ---------------------------------------------------------------------------------------------------
# unreadable input: exit 2, one line
# ---------------------------------------------------------------------------------------------------


def test_unreadable_input_exits_2(world: World, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"\x93\x01\x02 not a receipt")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"confirmation_code": "zz"}')
    no_ext = copy_record(world, tmp_path)
    (no_ext / "ext" / "board.msgpack").unlink()
    for args in [
        ("--record", world.record, garbage),
        ("--record", world.record, bad_json),
        ("--record", world.record, tmp_path / "missing.json"),
        ("--record", tmp_path, world.files["counted"]),
        ("--record", no_ext, world.files["counted"]),
        ("--record", world.record, world.files["counted"], "--public-key", "zz"),
        ("--record", world.record, world.files["counted"], "--public-key", "00" * 31),
    ]:
        r = cli(*args)
        assert r.exit_code == 2, (args, r.stdout, r.stderr)
        assert r.stdout == "" and len(r.stderr.splitlines()) == 1 and r.stderr.startswith("error: "), args
    with pytest.raises(RecordError, match="no board log"):
        check_receipt_against_record(read_record(no_ext), world.receipts["counted"])


def test_receipts_check_against_v1_and_split_v2_logs(world: World, tmp_path: Path) -> None:
    """The receipt check streams the log: inline (v1) or over many event files (v2), same verdicts."""
    ext, events = load_log(world.record)
    split = copy_record(world, tmp_path / "split")
    store_log(split, ext, events, per_file=2)
    assert len(list((split / "ext" / "board").iterdir())) >= 3
    v1 = copy_record(world, tmp_path / "v1")
    shutil.rmtree(v1 / "ext" / "board")
    store_log(v1, dataclasses.replace(ext, event_files=None, event_count=0), events)
    for name in ("counted", "superseded", "challenged", "other"):
        want = check_json(world.files[name], world.record, code=0)
        for d in (split, v1):
            got = check_json(world.files[name], d, code=0)  # not resealed: an integrity warning only
            assert got["fate"] == want["fate"] and got["steps"] == want["steps"], (name, d)
