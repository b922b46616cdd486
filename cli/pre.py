"""``e2evote pre …``: pre-encrypted ballots (EG 2.0 §4; specs/13-pre-encryption.md, specs/11-cli.md).

``print`` is the encrypting tool: it pre-encrypts ballots and writes, per ballot, what is printed on
paper (the confirmation code, every option's short code) and, sealed under the printer's
passphrase, the primary nonces that open them. ``record`` is the recording tool: given a ballot's
code and the voter's marks (as a scanner reads them), it records the ballot with its proofs into a
voter file that ``e2evote voter cast`` or ``voter challenge`` submits, like any encrypted ballot.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from cli.common import cli_errors, fail, new_output_dir, out, passphrase, progress_bar
from e2evote.errors import BallotError
from e2evote.protocol.ballot import PlaintextBallot
from e2evote.protocol.election import ElectionContext
from e2evote.protocol.preencrypt import PreEncryptedBallot, pre_encrypt_ballot, record_pre_encrypted
from e2evote.record import files
from e2evote.record.files import ElectionDir, PrintedBallot, VoterBallot

__all__ = ["app"]

app = typer.Typer(
    help="Pre-encrypted ballots: print them (with short codes), record the marked ones.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

ElectionOpt = Annotated[Path, typer.Option("--election", help="the election directory")]
MAX_COUNT = 100_000


def _printable(ctx: ElectionContext, ballot: PreEncryptedBallot) -> dict[str, Any]:
    """What goes on paper: the code, and per contest each option with its short code; the null codes
    (the undervote marks, EG §4.1.4) last."""
    contests = []
    for c in ballot.contests:
        m = len(ctx.manifest.contest(c.label).options)
        contests.append(
            {
                "contest": c.label,
                "options": [{"option": s.label, "short_code": s.code} for s in c.selections[:m]],
                "null_codes": [s.code for s in c.selections[m:]],
            }
        )
    return {"code": ballot.code.hex(), "style": ballot.style, "contests": contests}


@app.command("print")
@cli_errors
def print_(
    election: ElectionOpt,
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            help="a new directory: ballots/<code>.json to print, and nonces.sealed (secret: it opens "
            "every ballot) under the printer passphrase ($E2EVOTE_PRINTER_PASSPHRASE, else "
            "$E2EVOTE_PASSPHRASE, else a prompt)",
        ),
    ],
    count: Annotated[int, typer.Option(help="how many ballots", min=1, max=MAX_COUNT)] = 1,
    style: Annotated[str | None, typer.Option(help="ballot style (default: the manifest's only one)")] = None,
) -> None:
    """Pre-encrypt ballots; write what is printed on them.

    The encrypting tool of EG §4.2: per ballot its confirmation code and every option's short code,
    and the primary nonces sealed under the printer's passphrase."""
    edir = ElectionDir(election)
    ctx, _ = edir.context()
    if ctx.manifest.short_code is None:
        fail('the manifest names no short-code function; add "short_code" (e.g. "omega2") to it')
    if style is None:
        if len(ctx.manifest.ballot_styles) != 1:
            fail("the manifest has several ballot styles; choose one with --style")
        style = ctx.manifest.ballot_styles[0].label
    ctx.manifest.style(style)  # an unknown style: a clear error before the passphrase is asked
    secret = passphrase("printer", confirm=True)
    kept: list[PrintedBallot] = []
    with new_output_dir(out_dir):
        (out_dir / "ballots").mkdir(parents=True)
        with progress_bar() as progress:
            task = progress.add_task("pre-encrypting", total=count)
            for _ in range(count):
                ballot, xi = pre_encrypt_ballot(ctx, style)
                kept.append(PrintedBallot(ballot.code, style, ballot.B_aux, xi))
                text = json.dumps(_printable(ctx, ballot), indent=2, ensure_ascii=False) + "\n"
                files.write_atomic(out_dir / "ballots" / f"{ballot.code.hex()}.json", text.encode())
                progress.advance(task)
        files.write_atomic(
            out_dir / "nonces.sealed", files.seal_printed_ballots(ctx.H_E, kept, secret), private=True
        )
    out.print(f"{count} pre-encrypted ballot(s) of style {escape(style)!r} in {out_dir / 'ballots'}")
    out.print(f"primary nonces sealed in {out_dir / 'nonces.sealed'}: keep it secret, it opens every ballot")


def _marks(doc: Any, what: str) -> tuple[str, dict[str, list[str]]]:
    """The ballot id and the marks per contest (option labels, null labels or short codes: the
    library resolves them, ``resolve_marks``)."""
    if not isinstance(doc, dict) or set(doc) - {"id", "marks"} or not isinstance(doc.get("id"), str):
        fail(
            f'{what}: expected {{"id": ballot id, "marks": {{contest: [option, null label or short code]}}}}'
        )
    marks = doc.get("marks", {})
    if not isinstance(marks, dict) or not all(
        isinstance(k, str) and isinstance(v, list) and all(isinstance(x, str) for x in v)
        for k, v in marks.items()
    ):
        fail(f"{what}: marks must map a contest label to a list of strings")
    return doc["id"], marks


@app.command("record")
@cli_errors
def record(
    election: ElectionOpt,
    nonces: Annotated[Path, typer.Option("--nonces", help="nonces.sealed written by `pre print`")],
    code: Annotated[str, typer.Option("--code", help="the ballot's confirmation code (hex), as printed")],
    marks: Annotated[
        Path,
        typer.Option(
            "--marks",
            help='JSON {"id": ballot id, "marks": {contest: [option label, null label or short code]}}',
        ),
    ],
    out_file: Annotated[
        Path,
        typer.Option(
            "--out",
            help="the voter file for `e2evote voter cast` or `voter challenge`, sealed under the voter "
            "passphrase",
        ),
    ],
) -> None:
    """Record a marked pre-encrypted ballot as a voter file.

    The recording tool of EG §4.3: the marks (short codes or option labels) pick the printed vectors;
    the voter file then goes to `e2evote voter cast` or `voter challenge`."""
    edir = ElectionDir(election)
    ctx, _ = edir.context()
    if out_file.exists():
        fail(f"{out_file} exists")
    try:
        wanted = bytes.fromhex(code)
    except ValueError:
        fail("--code must be hexadecimal")
    if len(wanted) != 32:
        fail("--code must be the whole 32-byte confirmation code (64 hex digits)")
    printed = files.open_printed_ballots(
        ctx.H_E, files.read_bytes(nonces), lambda: passphrase("printer"), str(nonces)
    )
    match = [p for p in printed if p.code == wanted]
    if not match:
        fail(f"no ballot with code {code} in {nonces}")
    ballot_id, given = _marks(files.read_json(marks), str(marks))
    if edir.exists(edir.ballot_file(ballot_id)):
        fail(f"ballot id {ballot_id!r} was already submitted")
    try:
        ballot = match[0]
        marked = record_pre_encrypted(
            ctx, ballot.style, ballot.xi, given, ballot_id=ballot_id, B_aux=ballot.B_aux
        )
    except BallotError as exc:
        fail(f"{marks}: {exc}")
    enc = marked.ballot
    claimed = PlaintextBallot(
        ballot_id, match[0].style, {c: dict.fromkeys(x, 1) for c, x in marked.choices.items()}
    )
    secret = passphrase("voter", confirm=True)
    files.write_atomic(
        out_file,
        files.seal_voter_ballot(ctx.H_E, VoterBallot(enc, match[0].xi, claimed), secret),
        private=True,
    )
    out.print(f"ballot {escape(ballot_id)} recorded to {out_file}; confirmation code {enc.code.hex()}")
    out.print("next: `e2evote voter cast` or `e2evote voter challenge`")
