"""``e2evote board …``: run the bulletin board of an election, monitor it, export its record
(specs/08-board.md §12.5).

* ``serve``   — serve the HTTP API (§8) of an election's existing board, or with ``--create`` of a
  new one;
* ``monitor`` — one monitor run against a board URL (B3); exit 1 on an alarm;
* ``tally``   — close voting, aggregate the counted ballots, publish the tally event and write the
  decryption request for the trustees (``e2evote trustee decrypt`` / ``official combine`` follow);
* ``seal-key`` — seal an earlier version's raw key file under a passphrase, in place;
* ``export``  — write the sealed native record of the board (counted ballots + the whole log),
  including the decrypted tally once ``official combine`` produced it.

This module is a Typer sub-app only; ``cli/main.py`` mounts it as ``board``.
"""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from cli.common import (
    cli_errors,
    election_locked,
    err,
    fail,
    new_output_dir,
    out,
    parse_board_key,
    passphrase,
)
from cli.official import device_closes
from e2evote.board.credentials import ChallengeRequest, CredentialList
from e2evote.board.election import ElectionBoard, export_record, load_election
from e2evote.board.errors import BoardStateError, MonitorAlarm
from e2evote.board.events import PHASE, EventKind
from e2evote.board.signing import BoardKey, check_board_id
from e2evote.board.storage import Storage, open_storage
from e2evote.errors import EncodingError
from e2evote.protocol.election import ElectionContext
from e2evote.protocol.tally import DecryptedTally, EncryptedTally
from e2evote.record import files
from e2evote.record.files import DecryptionRequest, DecryptionResult, ElectionDir
from e2evote.record.model import ChallengedBallot

__all__ = ["app", "serve", "monitor", "tally", "export"]

app = typer.Typer(
    help="The bulletin board: serve it, monitor it, tally and export its election record.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

ElectionOpt = Annotated[
    Path, typer.Option("--election", help="the election directory (opened) or a native record")
]
DbOpt = Annotated[
    str, typer.Option("--db", help="board storage: sqlite:///abs/path.db, a file path or postgresql://…")
]
KeyOpt = Annotated[
    Path,
    typer.Option(
        "--key",
        help=(
            "the board's Ed25519 key file (sealed under the passphrase: $E2EVOTE_BOARD_PASSPHRASE,"
            " else $E2EVOTE_PASSPHRASE, else a prompt)"
        ),
    ),
]

ALARM_EXIT = 1


def _open_storage(db: str, *, create: bool = False) -> Storage:
    """The board database at ``db``; unless ``create``, an existing one (no new, empty SQLite file)."""
    try:
        return open_storage(db, create=create)
    except ImportError as exc:
        fail(f"cannot open {db}: {exc}")
    except ValueError as exc:
        fail(f"--db {db}: {exc}")
    except BoardStateError as exc:
        fail(f"--db: {exc.detail}")


def _load_key(path: Path) -> BoardKey:
    """The board key at ``path`` (its passphrase is asked if it is sealed; a raw key is warned about)."""
    if not path.exists():
        fail(f"{path}: no such board key")
    if not BoardKey.is_sealed_file(path):
        err.print(
            f"warning: {path} holds the board key unencrypted (an earlier version's file); "
            f"seal it: `e2evote board seal-key --key {path}`"
        )
    return BoardKey.load(path, lambda: passphrase("board"))


def _election_board(
    db: str, election: Path, key_file: Path, board_id: str, credentials: Path | None, create: bool
) -> ElectionBoard:
    ctx, _ = load_election(election)
    if create:
        check_board_id(board_id)
        creds = None if credentials is None else CredentialList.from_bytes(files.read_bytes(credentials))
    # the key is opened (or a new key's passphrase asked) before the storage is: a wrong or refused
    # passphrase leaves no new database behind
    key = _load_key(key_file) if key_file.exists() else None
    secret = passphrase("board", confirm=True) if key is None and create else None
    storage = _open_storage(db, create=create)
    empty = storage.read_head().size == 0
    if create:
        if not empty:
            storage.close()
            fail(f"{db} already holds a board; serve it without --create")
        if key is None:
            assert secret is not None
            key = BoardKey.generate()
            key.save(key_file, secret)
            err.print(f"new board key written to {key_file} (sealed under the passphrase, mode 0600)")
        eb = ElectionBoard.create(storage, key, ctx, board_id=board_id, credentials=creds)
        out.print(f"board {board_id!r} created for H_E = {ctx.H_E.hex()}")
        return eb
    if empty:
        storage.close()
        fail(f"{db} holds no board (to start a new board for this election, add --create)")
    if key is None:
        storage.close()
        fail(f"{key_file}: no such board key")
    if credentials is not None:
        err.print("note: the board exists already; --credentials is ignored")
    return ElectionBoard.open(storage, key, ctx)


def _check_url(url: str) -> None:
    """An ``http(s)://host[:port][/path]`` URL, or a one-line error."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        fail(f"{url!r} is not a board URL ({exc})")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        fail(f"{url!r} is not a board URL (expected http://host:port or https://host)")


@app.command()
@cli_errors
def serve(
    election: ElectionOpt,
    db: DbOpt,
    key: KeyOpt,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8080,
    board_id: Annotated[str, typer.Option("--board-id", help="board id (new boards only)")] = "e2evote-board",
    credentials: Annotated[
        Path | None,
        typer.Option("--credentials", help="public credential list (canonical msgpack), new boards only"),
    ] = None,
    max_body_bytes: Annotated[
        int, typer.Option("--max-body-bytes", min=1024, help="largest accepted request (bytes)")
    ] = (1024 * 1024),
    fresh_seconds: Annotated[
        float,
        typer.Option(
            "--fresh-seconds",
            min=0,
            help="while idle, re-sign the tree head with the current time this often (0: never)",
        ),
    ] = 60.0,
    create: Annotated[
        bool,
        typer.Option(
            "--create",
            help="create a new board (new or empty database); without it only an existing board is served",
        ),
    ] = False,
) -> None:
    """Serve the election's board over HTTP; `--create` starts a new board."""
    from e2evote.board.http import serve as serve_http

    _check_bind(host, port)
    eb = _election_board(db, election, key, board_id, credentials, create)
    b = eb.board
    out.print(f"board {b.board_id!r}, public key {b.public_key.hex()}, {b.latest_sth().tree_size} events")
    out.print(f"serving on http://{host}:{port} (Ctrl-C to stop)")
    try:
        serve_http(
            b, host, port, max_body_bytes=max_body_bytes, fresh_seconds=fresh_seconds, log_level="warning"
        )
    except SystemExit as exc:  # uvicorn exits (code 3) when it cannot start, e.g. the port was taken
        if exc.code not in (0, None):
            fail(f"the server on {host}:{port} could not start or stopped (exit {exc.code})")
        raise


def _check_bind(host: str, port: int) -> None:
    """Fail with one line if ``host:port`` cannot be listened on (taken, not a local address)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError as exc:
            fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


@app.command()
@cli_errors
def monitor(
    url: Annotated[str, typer.Argument(help="the board's base URL, e.g. http://127.0.0.1:8080")],
    state: Annotated[Path, typer.Option("--state", help="state file kept between runs")],
    public_key: Annotated[str, typer.Option("--public-key", help="the board's public key (hex)")],
    board_id: Annotated[str | None, typer.Option("--board-id", help="expected board id")] = None,
    max_age: Annotated[
        float | None,
        typer.Option(
            "--max-age",
            min=0,
            help="alarm (B3.E stale) if the latest tree head is older than this many seconds",
        ),
    ] = None,
) -> None:
    """One monitor run (steps B3): exit 0 if the board's tree head is consistent, 1 on an alarm."""
    from e2evote.board.monitor import monitor as run_monitor

    _check_url(url)
    pk = parse_board_key(public_key)
    try:
        report = run_monitor(url, state, pk, board_id=board_id, max_age_s=max_age)
    except MonitorAlarm as exc:
        err.print(f"ALARM {exc}", markup=False, highlight=False)
        raise typer.Exit(ALARM_EXIT) from None
    sth = report.current
    out.print(f"{report.status}: size {sth.tree_size}, root {sth.root_hash.hex()}", markup=False)


@app.command()
@cli_errors
def tally(election: ElectionOpt, db: DbOpt, key: KeyOpt) -> None:
    """Close voting, aggregate the counted ballots and write the trustees' decryption request."""
    edir = ElectionDir(election)
    if not edir.is_election():
        fail(f"{election} is not an election directory")
    ctx, _ = load_election(election)
    with election_locked(edir.path):  # from the check that no request exists to writing it
        _tally(edir, ctx, db, key)


def _tally(edir: ElectionDir, ctx: ElectionContext, db: str, key: Path) -> None:
    if edir.exists(edir.request_file):
        fail("the tally was already computed (tally/request.msgpack exists)")
    eb = ElectionBoard.open(_open_storage(db), _load_key(key), ctx)
    if eb.board.storage.read_head().phase < 3:
        eb.close_voting()
        out.print("voting closed")
    et = eb.encrypted_tally()
    if eb.board.storage.read_head().phase < PHASE[EventKind.TALLY]:
        eb.publish_tally(et)  # a retry after a failed request write does not log a second tally
    spoiled = eb.challenged_ballots()
    req = DecryptionRequest(et, tuple(sorted(spoiled, key=lambda b: b.ballot_id)))
    edir.write(edir.request_file, files.encode_request(ctx.H_E, req))
    out.print(f"tallied {et.ballots} counted ballots; {len(spoiled)} challenged ballot(s) to decrypt")
    out.print(
        "next: `e2evote board export … --out RECORD`; the trustees run `e2evote trustee decrypt --record "
        f"RECORD --board-key {eb.board.public_key.hex()}`; then `e2evote official decrypt-challenge`, "
        "the trustees' `e2evote trustee respond` and `e2evote official combine`"
    )


@app.command()
@cli_errors
def challenge(
    election: ElectionOpt,
    db: DbOpt,
    key: KeyOpt,
    code: Annotated[
        str | None,
        typer.Option("--code", help="the ballot's confirmation code (hex), on a board without credentials"),
    ] = None,
    request: Annotated[
        Path | None,
        typer.Option(
            "--request",
            help="the voter's challenge request signed with its credential (msgpack), on a board with "
            "credentials",
        ),
    ] = None,
) -> None:
    """Spoil an accepted ballot at its voter's request, so that it is opened instead of counted."""
    if (code is None) == (request is None):
        fail("give exactly one of --code (a board without credentials) and --request (with credentials)")
    req: ChallengeRequest | bytes
    if request is not None:
        try:
            req = ChallengeRequest.from_bytes(files.read_bytes(request, ChallengeRequest.MAX_BYTES))
        except EncodingError as exc:
            fail(f"{request}: not a challenge request ({exc})")
        raw = req.confirmation_code
    else:
        assert code is not None
        try:
            raw = bytes.fromhex(code) if code.isalnum() else b""
        except ValueError:
            raw = b""
        if not raw:
            fail(f"{code!r} is not a confirmation code (hex digits)")
        req = raw
    ctx, _ = load_election(election)
    eb = ElectionBoard.open(_open_storage(db), _load_key(key), ctx)
    sth = eb.challenge(req)
    out.print(f"ballot {raw.hex()} challenged; the log now has {sth.tree_size} events")


def _result_parts(election: Path, ctx: ElectionContext) -> tuple[DecryptionRequest, DecryptionResult] | None:
    """The decrypted tally and opened challenged ballots of the election directory, if they exist
    and belong to the board's current tally."""
    edir = ElectionDir(election)
    if not edir.is_election() or not edir.exists(edir.result_file) or not edir.exists(edir.request_file):
        return None
    req = files.decode_request(ctx.group, ctx.H_E, edir.read(edir.request_file), str(edir.request_file))
    res = files.decode_result(ctx.group, ctx.H_E, edir.read(edir.result_file), str(edir.result_file))
    if res.request != req.digest:
        fail("the decryption result is for another request; run the decryption again")
    return req, res


@app.command()
@cli_errors
def export(
    db: DbOpt,
    election: ElectionOpt,
    out_dir: Annotated[Path, typer.Option("--out", help="new directory for the sealed record")],
) -> None:
    """Write the sealed election record of the board (counted ballots, the whole log as ext/board)."""
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        fail(f"{out_dir} exists and is not an empty directory")
    ctx, guardians = load_election(election)
    storage = _open_storage(db)
    parts = _result_parts(election, ctx)
    decrypted: DecryptedTally | None = None
    encrypted: EncryptedTally | None = None
    opened: list[ChallengedBallot] = []
    if parts is not None:
        req, res = parts
        encrypted, decrypted = req.tally, res.tally
        opened = [ChallengedBallot(b.ballot_id, None, None, b) for b in res.ballots]
    edir = ElectionDir(election)
    # the devices' closing hashes (V7.F), as `official publish` writes them
    closes = device_closes(ctx, edir.read_all(edir.device_files())) if edir.is_election() else {}
    with new_output_dir(out_dir):
        try:
            export_record(
                storage,
                ctx,
                guardians,
                out_dir,
                tally=decrypted,
                encrypted_tally=encrypted,
                challenged=opened,
                device_closes=closes or None,
            )
        except EncodingError as exc:
            fail(f"the board's log is not readable: {exc}")
    what = "final record" if decrypted is not None else "record so far (no decrypted tally yet)"
    out.print(f"{what} sealed in {out_dir}")
    out.print(f"verify it: e2evote verify {out_dir}")


@app.command("seal-key")
@cli_errors
def seal_key(key: KeyOpt) -> None:
    """Seal a board key file that an earlier version wrote unencrypted (the 32-byte seed) under a
    passphrase, in place; the key itself, and so the board's public key, stay the same."""
    try:
        st = os.lstat(key)
    except FileNotFoundError:
        fail(f"{key}: no such board key")
    # replacing a link (symbolic or hard) would seal a new file and leave the raw seed behind it
    if stat.S_ISLNK(st.st_mode):
        fail(f"{key} is a symbolic link; seal the file it points to: --key {os.path.realpath(key)}")
    if st.st_nlink > 1:
        fail(f"{key} has other hard links, which would keep the raw seed; remove them first")
    if BoardKey.is_sealed_file(key):
        fail(f"{key} is sealed already")
    bk = BoardKey.load(key)
    bk.save(key, passphrase("board", confirm=True), replace=True)
    out.print(f"{key} sealed (public key {bk.public_key.hex()})")
