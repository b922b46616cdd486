"""The command line under bad input, bad order and interruption (specs/11-cli.md §1, 08-board.md §12.5):
exit 2 with one ``error:`` line and no traceback, no partial output left behind, and a chaining
election that runs from ``voter cast`` to a verified record, on the ballot box and on the board.

Runs in the 511-bit test group with the fast key-derivation setting (E2EVOTE_TEST_FAST_KDF=1).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer.main

from e2evote.board import BoardKey, Receipt, SQLiteStorage
from e2evote.board.election import ElectionBoard, export_record
from e2evote.board.events import Event
from e2evote.board.monitor import monitor
from e2evote.encoding import pack, unpack
from e2evote.protocol.ballot import confirmation_code
from e2evote.record import files
from e2evote.record.files import ElectionDir
from e2evote.verifier import verify_path

from .elections import reseal
from .test_cli import (
    BALLOTS,
    BOARD_PW,
    MANIFEST,
    PASSPHRASES,
    VOTER_PW,
    Result,
    create,
    one_line_error,
    open_election,
    run,
    verify_json,
)

ROOT = Path(__file__).resolve().parents[2]
CHAINING = {**MANIFEST, "chaining": True}


def trustee(step: str, world: Path, i: int, *extra: str, expect: int = 0) -> Result:
    return run(
        "trustee",
        step,
        "--election",
        world / "el",
        "--trustee",
        world / f"t{i}",
        *extra,
        passphrase=PASSPHRASES[i],
        expect=expect,
    )


@pytest.fixture(scope="module")
def opened(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An opened election of 3 guardians (quorum 2) whose manifest chains the confirmation codes, the
    trustees' private directories t1..t3 and the plaintext ballots v1..v5.json."""
    d = tmp_path_factory.mktemp("hardening")
    for b in BALLOTS:
        (d / f"{b['id']}.json").write_text(json.dumps(b))
    open_election(d, CHAINING)
    return d


@pytest.fixture
def world(opened: Path, tmp_path: Path) -> Path:
    """A private copy of the opened election and its trustees."""
    w = tmp_path / "w"
    shutil.copytree(opened, w)
    return w


def encrypt(world: Path, *ids: str) -> None:
    for bid in ids:
        run(
            "voter",
            "encrypt",
            "--election",
            world / "el",
            "--ballot",
            world / f"{bid}.json",
            "--out",
            world / f"{bid}.enc",
            passphrase=VOTER_PW,
        )


# ---------------------------------------------------------------------------------------------------
# findings 1, 13, 3: a chaining election through the ballot box; the guardian set of a decryption
# ---------------------------------------------------------------------------------------------------


def test_chaining_ballots_are_cast_and_challenged_and_the_record_verifies(world: Path) -> None:
    el = world / "el"
    encrypt(world, "v1", "v2", "v3", "v4", "v5")
    run("voter", "cast", world / "v1.enc", "--election", el, passphrase=VOTER_PW)
    run("voter", "challenge", world / "v4.enc", "--election", el, passphrase=VOTER_PW)
    run("voter", "cast", world / "v2.enc", "--election", el, passphrase=VOTER_PW)
    run("voter", "challenge", world / "v5.enc", "--election", el, "--keep-nonce", passphrase=VOTER_PW)
    run("voter", "cast", world / "v3.enc", "--election", el, passphrase=VOTER_PW)
    # the ballot's own checks still refuse a damaged ballot (here: the confirmation code, V7.B)
    vb = files.open_voter_ballot(*_ctx_keys(el), (world / "v1.enc").read_bytes(), lambda: VOTER_PW)
    bad = dataclasses.replace(vb, ballot=dataclasses.replace(vb.ballot, ballot_id="v9", code=bytes(32)))
    files.write_atomic(world / "v9.enc", files.encode_voter_ballot(_ctx_keys(el)[1], bad))
    one_line_error(
        run("voter", "cast", world / "v9.enc", "--election", el, expect=2, passphrase=VOTER_PW), "[V7.B]"
    )
    run("official", "publish", "--election", el, "--out", world / "rec")
    report = verify_json(world / "rec", "--partial")
    assert report["ok"], report["failures"]
    assert report["checks"]["V7"] >= 5  # type: ignore[index]


def test_the_box_keeps_device_chains_whole_and_publish_follows_them(world: Path) -> None:
    """With chaining, `publish` lists each device's ballots along its chain, whatever their cast order
    and `seq`; `voter cast` refuses a ballot that can never continue its device's chain: one taking a
    place another ballot in the box holds (a device that lost its state and started again; V7.E), or
    whose B_aux is no link of the device's chain; `official tally` names a ballot whose predecessor
    never reached the box (the record fails V7.E on it, as it must)."""
    el = world / "el"
    ctx, _ = ElectionDir(el).context()

    def encrypt_on(device: str, *ids: str) -> None:
        for bid in ids:
            if not (world / f"{bid}.json").exists():
                (world / f"{bid}.json").write_text(json.dumps({**BALLOTS[0], "id": bid}))
            run("voter", "encrypt", "--election", el, "--ballot", world / f"{bid}.json", "--out",
                world / f"{bid}.enc", "--device", device, passphrase=VOTER_PW)  # fmt: skip

    def rewrite(bid: str, **changes: Any) -> None:
        path = world / f"{bid}.enc"
        vb = files.open_voter_ballot(ctx.group, ctx.H_E, path.read_bytes(), lambda: VOTER_PW)
        files.write_atomic(path, files.encode_voter_ballot(ctx.H_E, dataclasses.replace(vb, **changes)))

    def cast(bid: str, expect: int = 0) -> Any:
        return run(
            "voter", "cast", world / f"{bid}.enc", "--election", el, expect=expect, passphrase=VOTER_PW
        )

    encrypt_on("booth", "v1", "v2")
    rewrite("v2", seq=0)
    cast("v2")  # out of turn, and its seq forged
    cast("v1")
    run("official", "publish", "--election", el, "--out", world / "rec")
    assert verify_json(world / "rec", "--partial")["ok"]  # v1 before v2, although v2's seq (0) sorts first

    encrypt_on("kiosk", "v3")
    for f in (el / "devices").glob("kiosk*"):  # the kiosk loses its state: its next ballot starts again
        f.unlink()
    encrypt_on("kiosk", "v4", "v5")
    cast("v3")
    one_line_error(cast("v4", expect=2), "[V7.E] ballot v3 holds the same place in device 'kiosk''s chain")
    vb = files.open_voter_ballot(ctx.group, ctx.H_E, (world / "v5.enc").read_bytes(), lambda: VOTER_PW)
    baux = vb.ballot.B_aux[:32] + b"booth"  # a link of another device's chain
    code = confirmation_code(ctx.H_E, [c.chi for c in vb.ballot.contests], baux, ctx.dialect)
    rewrite("v5", ballot=dataclasses.replace(vb.ballot, B_aux=baux, code=code))
    one_line_error(cast("v5", expect=2), "[V7.E] its B_aux is no link of device 'kiosk''s chain")

    encrypt_on("tablet", "w1", "w2")
    cast("w2")  # w1 never reaches the box
    r = run("official", "tally", "--election", el)
    assert "warning: ballot w2 does not continue device 'tablet''s chain" in r.stderr, r.stderr
    assert "ballot v" not in r.stderr  # every other ballot continues its chain


def _ctx_keys(el: Path) -> tuple[Any, bytes]:
    ctx, _ = ElectionDir(el).context()
    return ctx.group, ctx.H_E


def test_guardian_set_is_parsed_and_fixed_once_a_guardian_responded(world: Path) -> None:
    el = world / "el"
    encrypt(world, "v1", "v2")
    run("voter", "cast", world / "v1.enc", "--election", el, passphrase=VOTER_PW)
    run("voter", "cast", world / "v2.enc", "--election", el, passphrase=VOTER_PW)
    run("official", "tally", "--election", el)
    for i in (1, 2, 3):
        trustee("decrypt", world, i)
    for bad, needle in [
        ("1,x", "'x' is not a guardian index"),
        ("1,7", "there is no guardian 7 (the guardians are 1..3)"),
        ("0,1", "there is no guardian 0"),
        ("1,1", "guardian 1 is listed twice"),
        ("", "'' is not a guardian index"),
    ]:
        one_line_error(
            run("official", "decrypt-challenge", "--election", el, "--trustees", bad, expect=2), needle
        )
    assert not (el / "tally" / "challenges").exists()
    run("official", "decrypt-challenge", "--election", el, "--trustees", "1,2")
    trustee("respond", world, 1)
    # new challenges now would make `combine` accuse guardian 1, whose response answers the old one
    for extra in (["--trustees", "1,3"], ["--trustees", "2,3"], []):
        r = run("official", "decrypt-challenge", "--election", el, *extra, expect=2)
        one_line_error(r, "guardian(s) 1 already responded to the current challenges")
    r = run("official", "decrypt-challenge", "--election", el, "--trustees", "2,1")
    assert "unchanged" in r.stdout
    trustee("respond", world, 2)
    r = run("official", "combine", "--election", el)
    assert "guardian(s) 1, 2 checked and combined" in r.stdout
    run("official", "publish", "--election", el, "--out", world / "rec")
    report = verify_json(world / "rec")
    assert report["ok"], report["failures"]


def test_failed_publish_leaves_no_partial_record(world: Path) -> None:
    el = world / "el"
    encrypt(world, "v1", "v4")
    run("voter", "cast", world / "v1.enc", "--election", el, passphrase=VOTER_PW)
    run("voter", "challenge", world / "v4.enc", "--election", el, passphrase=VOTER_PW)
    (opening,) = (el / "challenged").iterdir()
    good = opening.read_bytes()
    opening.write_bytes(b"\x81\xa1x\x01 corrupt")
    one_line_error(
        run("official", "publish", "--election", el, "--out", world / "pub", expect=2), "challenged"
    )
    assert not (world / "pub").exists()
    (world / "empty").mkdir()
    run("official", "publish", "--election", el, "--out", world / "empty", expect=2)
    assert (world / "empty").is_dir() and not any((world / "empty").iterdir())
    opening.write_bytes(good)
    run("official", "publish", "--election", el, "--out", world / "pub")  # the retry works
    assert verify_json(world / "pub", "--partial")["ok"]


# ---------------------------------------------------------------------------------------------------
# the election directory's lock (specs/11-cli.md §2)
# ---------------------------------------------------------------------------------------------------


def test_a_cast_waits_for_the_election_lock_and_fails_after_the_wait(
    world: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commands that check the box and then write it hold the election directory's lock: a cast
    started while another command holds it waits and then completes; one that waits too long fails
    naming the directory, writing nothing."""
    import cli.common

    el = world / "el"
    encrypt(world, "v1", "v2")
    holder = cli.common.lock_dir(el, name=cli.common.ELECTION_LOCK_FILE)
    assert holder is not None
    env = {**os.environ, "E2EVOTE_TEST_FAST_KDF": "1", "E2EVOTE_PASSPHRASE": VOTER_PW, "NO_COLOR": "1"}
    cast = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "voter", "cast", str(world / "v1.enc"), "--election", str(el)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            cast.wait(timeout=2.0)  # it waits for the lock
        assert not list((el / "ballots").glob("*")) if (el / "ballots").exists() else True
        monkeypatch.setattr(cli.common, "ELECTION_LOCK_WAIT", 0.2)
        one_line_error(
            run("voter", "cast", world / "v2.enc", "--election", el, expect=2, passphrase=VOTER_PW),
            f"{el} is in use by another e2evote command (waited 0 s)",
        )
    finally:
        holder.close()
    stdout, stderr = cast.communicate(timeout=120)
    assert cast.returncode == 0, stderr
    assert "ballot v1 cast" in stdout
    assert len(list((el / "ballots").iterdir())) == 1  # v1 only: v2 gave up


def test_a_trustee_directory_is_never_inside_the_election_directory(world: Path) -> None:
    """The election directory is shared, the trustee's holds the keystore; the same directory would
    also make the trustee's lock and the election's one file (a command waiting for itself)."""
    for inside in (world / "el", world / "el" / "trustees" / "9"):
        r = trustee_keygen(world, inside, expect=2)
        one_line_error(r, "is inside the shared election directory")
    assert not list((world / "el").rglob("keystore*"))


def trustee_keygen(world: Path, out: Path, expect: int) -> Result:
    return run(
        "trustee", "keygen", "--election", world / "el", "--index", "1", "--out", out,
        passphrase=PASSPHRASES[1], expect=expect,
    )  # fmt: skip


def test_respond_refuses_challenges_replaced_while_it_computed(
    world: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`trustee respond` spends its nonces only under the election lock, after checking that its
    challenge is still the one it answered (`official decrypt-challenge` replaces challenges under
    the same lock): replaced meanwhile, it refuses and keeps its nonces, so answering the current
    challenge still works."""
    from typer.testing import CliRunner

    import cli.trustee
    from cli.main import app

    el = world / "el"
    encrypt(world, "v1")
    run("voter", "cast", world / "v1.enc", "--election", el, passphrase=VOTER_PW)
    run("official", "tally", "--election", el)
    for i in (1, 2):
        trustee("decrypt", world, i)
    run("official", "decrypt-challenge", "--election", el)
    challenge = el / "tally" / "challenges" / "1.msgpack"
    good = challenge.read_bytes()
    real = cli.trustee.election_locked

    def replaced_first(path: Path) -> Any:
        challenge.write_bytes(good[:-1] + bytes([good[-1] ^ 1]))  # the official's new challenge
        return real(path)

    monkeypatch.setattr(cli.trustee, "election_locked", replaced_first)
    env = {"E2EVOTE_TEST_FAST_KDF": "1", "E2EVOTE_PASSPHRASE": PASSPHRASES[1], "NO_COLOR": "1"}
    argv = ["trustee", "respond", "--election", str(el), "--trustee", str(world / "t1")]
    r = CliRunner().invoke(app, argv, env=env)
    assert r.exit_code == 2, r.output
    assert "the official wrote new challenges meanwhile" in r.stderr
    assert not (el / "trustees" / "1" / "decryption-response.msgpack").exists()
    del r  # its traceback holds the session, and so the trustee directory's lock, open
    gc.collect()
    monkeypatch.setattr(cli.trustee, "election_locked", real)
    challenge.write_bytes(good)
    trustee("respond", world, 1)  # the nonces were kept
    trustee("respond", world, 2)
    run("official", "combine", "--election", el)


# ---------------------------------------------------------------------------------------------------
# findings 2, 9, 11: the board's record of a chaining election; a corrupt board log; error names
# ---------------------------------------------------------------------------------------------------


def board_with(world: Path, *ids: str) -> tuple[ElectionBoard, BoardKey, Path, list[Receipt]]:
    """A new board (key in world/board.key, database world/board.db) for the election, holding the
    ballots ``ids`` encrypted by `voter encrypt`; their receipts in order."""
    ctx, _ = ElectionDir(world / "el").context()
    key = BoardKey.generate()
    key.save(world / "board.key", BOARD_PW)
    db = world / "board.db"
    eb = ElectionBoard.create(SQLiteStorage(db), key, ctx, board_id="hardening")
    encrypt(world, *ids)
    receipts = []
    for bid in ids:
        vb = files.open_voter_ballot(
            ctx.group, ctx.H_E, (world / f"{bid}.enc").read_bytes(), lambda: VOTER_PW
        )
        receipts.append(eb.submit(vb.ballot))
    return eb, key, db, receipts


def test_board_export_publishes_the_device_closes(world: Path) -> None:
    el = world / "el"
    ctx, pubs = ElectionDir(el).context()
    eb, key, db, receipts = board_with(world, "v1", "v2", "v3")
    eb.close_voting()
    run("board", "export", "--db", db, "--election", el, "--out", world / "rec")
    report = verify_json(world / "rec", "--partial")
    assert report["ok"], report["failures"]
    # what `board export` wrote before: the same record without the devices' closing hashes
    export_record(SQLiteStorage(db), ctx, pubs, world / "bare")
    assert "V7.F" in verify_path(world / "bare", partial=True).steps_failed()

    # check-receipt: a present but unreadable ext/board.msgpack is a failed B4.A step (exit 1)
    receipt = world / "receipt.json"
    receipt.write_text(json.dumps(receipts[0].to_json()))
    run("voter", "check-receipt", "--record", world / "rec", receipt, passphrase=VOTER_PW)
    broken = world / "broken"
    shutil.copytree(world / "rec", broken)
    (broken / "ext" / "board.msgpack").write_bytes(b"\xc1 not msgpack")
    r = run("voter", "check-receipt", "--record", broken, receipt, expect=1, passphrase=VOTER_PW)
    assert "✗ [B4.A]" in r.stdout and "receipt check FAILED" in r.stdout, r.stdout

    # the monitor's state file, and a message file, name the destination on a write error
    with pytest.raises(FileNotFoundError) as exc:
        monitor(eb.board, world / "missing" / "state.json", key.public_key)
    assert exc.value.filename == str(world / "missing" / "state.json")
    dest = world / "dest.msgpack"
    dest.mkdir()
    with pytest.raises(IsADirectoryError) as exc2:
        files.write_atomic(dest, b"x")
    assert exc2.value.filename == str(dest) and ".tmp" not in str(exc2.value)
    assert not [p for p in world.iterdir() if p.name.endswith(".tmp")]


def test_board_challenge_and_a_retried_tally(world: Path) -> None:
    """`board challenge` spoils an accepted ballot (a bad code is a one-line error); a `board tally`
    whose request file could not be written logs its tally once when rerun."""
    el = world / "el"
    ctx, _ = ElectionDir(el).context()
    eb, key, db, receipts = board_with(world, "v1", "v2")
    codes = [r.confirmation_code for r in receipts]
    board = ["--election", el, "--db", db, "--key", world / "board.key"]
    one_line_error(
        run("board", "challenge", *board, "--code", "zz", expect=2, passphrase=BOARD_PW),
        "not a confirmation code",
    )
    one_line_error(
        run("board", "challenge", *board, "--code", "00" * 32, expect=2, passphrase=BOARD_PW), "no ballot"
    )
    (world / "garbage.msgpack").write_bytes(b"\x91\x02")
    garbage = run(
        "board", "challenge", *board, "--request", world / "garbage.msgpack", expect=2, passphrase=BOARD_PW
    )
    one_line_error(garbage, "not a challenge request")
    both = run(
        "board",
        "challenge",
        *board,
        "--code",
        "00",
        "--request",
        world / "garbage.msgpack",
        expect=2,
        passphrase=BOARD_PW,
    )
    one_line_error(both, "exactly one of --code")
    assert (
        "challenged"
        in run("board", "challenge", *board, "--code", codes[1].hex(), passphrase=BOARD_PW).stdout
    )
    one_line_error(
        run("board", "challenge", *board, "--code", codes[1].hex(), expect=2, passphrase=BOARD_PW), "already"
    )
    request = ElectionDir(el).request_file
    request.parent.mkdir(parents=True, exist_ok=True)
    request.mkdir()  # the request cannot be written: the tally fails after logging its tally event
    assert run("board", "tally", *board, expect=2, passphrase=BOARD_PW).stderr.strip().startswith("error:")
    request.rmdir()
    assert "1 counted ballots; 1 challenged" in run("board", "tally", *board, passphrase=BOARD_PW).stdout
    kinds = [
        Event.from_bytes(raw).kind.name
        for raw in ElectionBoard.open(SQLiteStorage(db), key, ctx).board.iter_events()
    ]
    assert kinds.count("TALLY") == 1 and kinds.count("CHALLENGE") == 1


def test_trustees_decrypt_only_the_board_s_closed_signed_ballot_set(world: Path) -> None:
    """`trustee decrypt --record R --board-key K` (specs/06-decryption.md §4.2): the record must be
    a board export whose log K signed, that is closed and that checks in full (B1, B4)."""
    el = world / "el"
    _, key, db, _ = board_with(world, "v1", "v2", "v3")
    board = ["--election", el, "--db", db, "--key", world / "board.key"]
    run("board", "export", "--db", db, "--election", el, "--out", world / "open")  # before the close
    run("board", "tally", *board, passphrase=BOARD_PW)
    run("board", "export", "--db", db, "--election", el, "--out", world / "closed")
    hexkey = key.public_key.hex()
    one_line_error(
        trustee("decrypt", world, 1, "--board-key", hexkey, expect=2), "--board-key needs --record"
    )
    one_line_error(trustee("decrypt", world, 1, "--board-key", "abc", expect=2), "64 hex digits")
    other = BoardKey.generate().public_key.hex()
    one_line_error(
        trustee("decrypt", world, 1, "--record", world / "closed", "--board-key", other, expect=2),
        "not by the --board-key given",
    )
    one_line_error(
        trustee("decrypt", world, 1, "--record", world / "open", "--board-key", hexkey, expect=2),
        "is not closed",
    )
    # the board log taken out of the record: refused (the record no longer authenticates)
    bare = world / "bare"
    shutil.copytree(world / "closed", bare)
    shutil.rmtree(bare / "ext")
    one_line_error(trustee("decrypt", world, 1, "--record", bare, "--board-key", hexkey, expect=2), "R1")
    # a record that lists a counted ballot twice (re-sealed: R1 holds) — it would weigh twice — is refused
    dup = world / "dup"
    shutil.copytree(world / "closed", dup)
    chunk = sorted((dup / "ballots").iterdir())[0]
    items = unpack(chunk.read_bytes())
    chunk.write_bytes(pack([*items, items[0]]))
    reseal(dup)
    one_line_error(
        trustee("decrypt", world, 1, "--record", dup, "--board-key", hexkey, expect=2),
        "repeat another's confirmation code",
    )
    # the genuine closed log: checked, then the request against its counted ballots
    ok = trustee("decrypt", world, 1, "--record", world / "closed", "--board-key", hexkey)
    assert "board log checked" in ok.stdout and "3 ballots counted, 0 challenged" in ok.stdout, ok.stdout
    assert "request checked against" in ok.stdout
    # without --board-key the guardian is told the ballot set is not authenticated
    assert "not authenticated" in trustee("decrypt", world, 2, "--record", world / "closed").stderr


# ---------------------------------------------------------------------------------------------------
# findings 4, 5, 7, 12: `board serve` options, storage and key; `board monitor` URLs
# ---------------------------------------------------------------------------------------------------


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """`board serve` runs everything but the HTTP server, whose ports are recorded."""
    ports: list[int] = []
    monkeypatch.setattr("e2evote.board.http.serve", lambda _b, _h, port, **_kw: ports.append(port))
    return ports


def test_board_serve_refuses_bad_options_storage_and_keys(world: Path, served: list[int]) -> None:
    el, key = world / "el", world / "board.key"
    serve = ["board", "serve", "--election", el, "--key", key]
    db = world / "board.db"
    for extra in (["--port", "99999"], ["--port", "-1"], ["--port", "0"], ["--max-body-bytes", "-5"]):
        r = run(*serve, "--db", db, "--create", *extra, expect=2, passphrase=BOARD_PW)
        assert "Invalid value" in r.stderr, r.stderr
    not_db = world / "v1.json"
    for target, needle in [
        (world, "is a directory, not a board database"),
        (world / "nonexistent" / "x.db", "cannot open as a SQLite board database"),
        ("mysql://x/y", "unsupported storage URL scheme 'mysql'"),
        (not_db, "cannot open as a SQLite board database"),
    ]:
        one_line_error(run(*serve, "--db", target, "--create", expect=2, passphrase=BOARD_PW), needle)
    one_line_error(
        run(*serve, "--db", world / "nonexistent" / "x.db", expect=2, passphrase=BOARD_PW),
        "no such board database",
    )
    # no board without --create: a new or mistyped database is an error and no file is created
    for cmd in (
        serve,
        ["board", "tally", "--election", el, "--key", key],
        ["board", "export", "--election", el],
    ):
        args = [*cmd, "--db", db] + (["--out", world / "out"] if cmd[1] == "export" else [])
        one_line_error(run(*args, expect=2, passphrase=BOARD_PW), "no such board database")
        assert not db.exists() and not (world / "out").exists()
    assert not key.exists() and served == []
    r = run(*serve, "--db", db, "--create", "--port", "18080", passphrase=BOARD_PW)
    assert "created" in r.stdout and served == [18080]
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    one_line_error(
        run(*serve, "--db", db, "--create", expect=2, passphrase=BOARD_PW), "already holds a board"
    )
    r = run(*serve, "--db", db, passphrase=BOARD_PW)
    assert "created" not in r.stdout and served == [18080, 8080]
    # a key file others can read is refused, as ssh does
    key.chmod(0o644)
    one_line_error(run(*serve, "--db", db, expect=2, passphrase=BOARD_PW), "accessible by others (mode 0644)")
    key.chmod(0o600)
    # an empty database holds no board
    SQLiteStorage(world / "empty.db").close()
    one_line_error(run(*serve, "--db", world / "empty.db", expect=2, passphrase=BOARD_PW), "holds no board")


def _raw_key(path: Path) -> BoardKey:
    """A new key written as `board serve --create` wrote it before sealing: the raw seed, mode 0600."""
    key = BoardKey.generate()
    path.touch(0o600)
    path.write_bytes(bytes(key._sk))
    return key


def test_a_raw_board_key_of_an_earlier_version_is_served_with_a_warning_and_sealed_in_place(
    world: Path, served: list[int]
) -> None:
    key, db = world / "board.key", world / "board.db"
    serve = ["board", "serve", "--election", world / "el", "--key", key, "--db"]
    old = _raw_key(key)
    r = run(*serve, db, "--create")
    assert "unencrypted" in r.stderr and "board seal-key" in r.stderr, r.stderr
    r = run("board", "seal-key", "--key", key, passphrase=BOARD_PW)
    assert old.public_key.hex() in r.stdout and bytes(old._sk) not in key.read_bytes()
    one_line_error(run("board", "seal-key", "--key", key, expect=2, passphrase=BOARD_PW), "sealed already")
    one_line_error(run(*serve, db, expect=2, passphrase="wrong"), "wrong passphrase")
    r = run(*serve, db, passphrase=BOARD_PW)
    assert old.public_key.hex() in r.stdout and "unencrypted" not in r.stderr
    assert served == [8080, 8080]


def test_seal_key_refuses_links_that_would_keep_the_raw_seed(world: Path) -> None:
    real = world / "real.key"
    raw = _raw_key(real)
    (world / "sym.key").symlink_to(real)
    os.link(real, world / "hard.key")
    one_line_error(run("board", "seal-key", "--key", world / "sym.key", expect=2), "symbolic link")
    one_line_error(run("board", "seal-key", "--key", world / "hard.key", expect=2), "other hard links")
    assert real.read_bytes() == bytes(raw._sk)
    (world / "hard.key").unlink()
    run("board", "seal-key", "--key", real, passphrase=BOARD_PW)
    assert bytes(raw._sk) not in real.read_bytes()


def test_a_refused_passphrase_leaves_no_new_board_database(world: Path, served: list[int]) -> None:
    key, db = world / "board.key", world / "board.db"
    serve = ["board", "serve", "--election", world / "el", "--key", key, "--db"]
    # no $E2EVOTE_PASSPHRASE and no input at the prompt: nothing is created, neither key nor database
    refused = run(*serve, db, "--create", expect=2)
    assert refused.stderr.splitlines()[-1] == "error: interrupted", refused.stderr
    assert not key.exists() and not db.exists() and served == []
    run(*serve, db, "--create", passphrase=BOARD_PW)
    wrong = run(*serve, world / "b2.db", "--create", expect=2, passphrase="wrong")
    one_line_error(wrong, "wrong passphrase")
    assert not (world / "b2.db").exists() and served == [8080]


def test_board_serve_reports_a_port_it_cannot_use(
    world: Path, served: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    el, key, db = world / "el", world / "board.key", world / "board.db"
    serve = ["board", "serve", "--election", el, "--key", key, "--db", db]
    run(*serve, "--create", passphrase=BOARD_PW)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = run(*serve, "--port", port, expect=2, passphrase=BOARD_PW)
        one_line_error(r, f"cannot listen on 127.0.0.1:{port}")
        assert "serving on" not in r.stdout

    def exits(*_a: Any, **_k: Any) -> None:
        raise SystemExit(3)  # what uvicorn does when it cannot start

    monkeypatch.setattr("e2evote.board.http.serve", exits)
    one_line_error(run(*serve, expect=2, passphrase=BOARD_PW), "could not start")


@pytest.mark.parametrize("url", ["notaurl", "ftp://host/x", "http://", "http://host:port", "127.0.0.1:8080"])
def test_board_monitor_refuses_a_malformed_url(url: str, tmp_path: Path) -> None:
    r = run("board", "monitor", url, "--state", tmp_path / "s.json", "--public-key", "00" * 32, expect=2)
    one_line_error(r, "is not a board URL")
    assert not (tmp_path / "s.json").exists()


# ---------------------------------------------------------------------------------------------------
# finding 6: interruptions; finding 10: `verify` of a directory that is no record
# ---------------------------------------------------------------------------------------------------


def test_end_of_input_at_the_passphrase_prompt_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(json.dumps(MANIFEST))
    el = tmp_path / "el"
    create(tmp_path / "manifest.json", 1, 1, el)
    env = {k: v for k, v in os.environ.items() if not (k.startswith("E2EVOTE_") and k.endswith("PASSPHRASE"))}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "trustee",
            "keygen",
            "--election",
            el,
            "--index",
            "1",
            "--out",
            tmp_path / "t",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env={**env, "E2EVOTE_TEST_FAST_KDF": "1", "NO_COLOR": "1"},
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines()[-1] == "error: interrupted", proc.stderr
    assert "Aborted" not in proc.stderr and "Traceback" not in proc.stderr


def test_an_interrupt_outside_any_command_is_an_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import cli.main

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.main, "app", interrupted)
    try:
        with pytest.raises(SystemExit) as exc:
            cli.main.main()
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped cli.main.main")
    assert exc.value.code == 2
    assert capsys.readouterr().err == "error: interrupted\n"
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["e2evote"] == "cli.main:main"


def test_verify_of_a_directory_that_is_no_record_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    one_line_error(run("verify", tmp_path, expect=2), "neither an e2evote record nor an egk election record")
    (tmp_path / "RECORD.msgpack").write_bytes(b"garbage")  # a (broken) record: a failed verification
    r = run("verify", tmp_path, "-q", expect=1)
    assert "R1" in r.stdout


# ---------------------------------------------------------------------------------------------------
# findings 7, 8: the demo
# ---------------------------------------------------------------------------------------------------

DEMO = ["demo", "--group", "test", "--trustees", "2", "--quorum", "1", "--missing", "0", "-q"]


def test_demo_refuses_options_that_leave_nothing_to_tally(tmp_path: Path) -> None:
    out = tmp_path / "d"
    for extra, needle in [
        (["--voters", "0"], "need at least 1 voter"),
        (["--voters", "-3"], "need at least 1 voter"),
        (["--voters", "1", "--challenged", "1"], "at least one ballot is cast"),
        (["--voters", "3", "--challenged", "5"], "at least one ballot is cast"),
    ]:
        one_line_error(run(*DEMO, "--out", out, *extra, expect=2), needle)
        assert not out.exists()
    r = run(*DEMO, "--out", out, "--voters", "1")  # the default --challenged leaves one ballot cast
    assert "1 cast" in r.stdout


def test_failed_demo_leaves_no_partial_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import cli.demo

    def interrupted(*_a: Any, **_k: Any) -> None:
        raise KeyboardInterrupt  # Ctrl-C once the record is written, while it is verified

    monkeypatch.setattr(cli.demo, "verify_path", interrupted)
    out = tmp_path / "d"
    one_line_error(run(*DEMO, "--out", out, "--voters", "2", expect=2), "interrupted")
    assert not out.exists()
    out.mkdir()
    one_line_error(run(*DEMO, "--out", out, "--voters", "2", expect=2), "interrupted")
    assert out.is_dir() and not any(out.iterdir())  # a directory it did not create is emptied, kept
    monkeypatch.undo()
    run(*DEMO, "--out", out, "--voters", "2")  # the retry works


# ---------------------------------------------------------------------------------------------------
# finding 14: --help lists every command with a whole first sentence
# ---------------------------------------------------------------------------------------------------


def test_every_commands_short_help_is_not_cut_inside_parentheses() -> None:
    from cli.main import app

    def walk(cmd: Any, path: list[str]) -> list[tuple[list[str], str]]:
        found = []
        for name, sub in getattr(cmd, "commands", {}).items():
            found.append(([*path, name], sub.get_short_help_str(limit=10**6)))
            found += walk(sub, [*path, name])
        return found

    helps = walk(typer.main.get_command(app), [])
    assert len(helps) > 20
    for path, short in helps:
        assert short.count("(") == short.count(")"), (path, short)
        assert not short.endswith((" eq", " e.g", " i.e")), (path, short)


def test_a_role_passphrase_variable_wins_over_the_shared_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """$E2EVOTE_<ROLE>_PASSPHRASE, else $E2EVOTE_PASSPHRASE (specs/11-cli.md §4.1): one machine can keep a
    trustee's keystore and a board key under different passphrases; an empty variable is an error
    naming it."""
    from cli.common import CliError, passphrase

    monkeypatch.setenv("E2EVOTE_PASSPHRASE", "shared")
    monkeypatch.setenv("E2EVOTE_BOARD_PASSPHRASE", "board's own")
    monkeypatch.delenv("E2EVOTE_TRUSTEE_PASSPHRASE", raising=False)
    monkeypatch.delenv("E2EVOTE_VOTER_PASSPHRASE", raising=False)
    assert passphrase("board") == "board's own"
    assert passphrase("trustee") == passphrase("voter") == "shared"
    monkeypatch.setenv("E2EVOTE_VOTER_PASSPHRASE", "")
    with pytest.raises(CliError, match="E2EVOTE_VOTER_PASSPHRASE is empty"):
        passphrase("voter")
