"""``e2evote voter …``: encrypt a ballot, then cast or challenge it; check a challenged ballot; check
a board receipt against the exported record (specs/11-cli.md). ``encrypt`` plays the encryption
device; the resulting file is private to the voter (it holds the ballot nonce) until the ballot is
cast (nonce discarded) or challenged (nonce released so anyone can re-encrypt and compare)."""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from cli.common import cli_errors, election_locked, fail, out, parse_board_key, passphrase
from e2evote.board.election import check_ballot
from e2evote.board.receipt_check import BallotFate, ReceiptCheck, check_receipt_against_record, load_receipt
from e2evote.errors import VerificationError
from e2evote.protocol.ballot import BallotState, Device, alpha_key, device_info, encrypt_ballot, expected_baux
from e2evote.protocol.election import ElectionContext
from e2evote.protocol.preencrypt import verify_opening
from e2evote.record import codec, files
from e2evote.record.files import DeviceState, ElectionDir, MessageError, SubmittedBallot, VoterBallot
from e2evote.record.native import is_native_record, read_record

__all__ = ["app"]

app = typer.Typer(
    help="A voter: encrypt a ballot, cast or challenge it, check a challenged ballot or a board receipt.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

ElectionOpt = Annotated[Path, typer.Option("--election", help="the election directory")]


def _load_voter_ballot(edir: ElectionDir, ctx: ElectionContext, path: Path) -> VoterBallot:
    return files.open_voter_ballot(
        ctx.group, ctx.H_E, files.read_bytes(path), lambda: passphrase("voter"), str(path)
    )


@app.command()
@cli_errors
def encrypt(
    election: ElectionOpt,
    ballot: Annotated[
        Path, typer.Option("--ballot", help='plaintext ballot JSON {"id", "votes": {contest: {option: 1}}}')
    ],
    out_file: Annotated[
        Path,
        typer.Option(
            "--out",
            help="the voter's file: the encrypted ballot with its choices and nonce, sealed under the "
            "passphrase ($E2EVOTE_VOTER_PASSPHRASE, else $E2EVOTE_PASSPHRASE, else a prompt)",
        ),
    ],
    device: Annotated[
        str | None, typer.Option(help="encrypting device name (chains confirmation codes)")
    ] = None,
) -> None:
    """Encrypt a plaintext ballot with range proofs; prints the confirmation code."""
    edir = ElectionDir(election)
    ctx, _ = edir.context()
    plain = files.read_plaintext_json(ballot)
    if edir.exists(edir.ballot_file(plain.ballot_id)):
        fail(f"ballot id {plain.ballot_id!r} was already submitted")
    if out_file.exists():
        fail(f"{out_file} exists")
    name = device if device is not None else ("default" if ctx.manifest.chaining else None)
    secret = passphrase("voter", confirm=True)
    # with a device, locked from reading its state to writing it: two ballots encrypted on one device
    # at once would otherwise both continue its last ballot (one chain position, two ballots: V7.E);
    # without one nothing is written into the directory, which may then be read-only
    with election_locked(edir.path) if name is not None else nullcontext():
        dev = None
        seq = 0
        if name is not None:
            dev = Device(ctx, name)
            dpath = edir.device_file(name)
            if edir.exists(dpath):
                st = files.decode_device_state(ctx.H_E, edir.read(dpath), str(dpath))
                if st.name != name:
                    fail(f"{dpath} is the state of device {st.name!r}")
                if st.last_code is not None:
                    dev.record(st.last_code)
                seq = st.count
            seq += 1
        enc, nonce = encrypt_ballot(ctx, plain, device=dev)
        sealed = files.seal_voter_ballot(ctx.H_E, VoterBallot(enc, nonce, plain, seq), secret)
        files.write_atomic(out_file, sealed, private=True)
        if dev is not None and name is not None:
            state = files.encode_device_state(ctx.H_E, DeviceState(name, enc.code, seq))
            edir.write(edir.device_file(name), state)
    out.print(f"ballot {plain.ballot_id} encrypted to {out_file}")
    out.print(f"confirmation code: {enc.code.hex()}")
    out.print("next: `e2evote voter cast` or `e2evote voter challenge`")


def _submit(edir: ElectionDir, ctx: ElectionContext, vb: VoterBallot, state: BallotState) -> None:
    """Put the ballot into the box; the caller holds the election directory's lock."""
    bid = vb.ballot.ballot_id
    if edir.exists(edir.ballot_file(bid)):
        fail(f"ballot {bid!r} was already cast or challenged")
    if edir.exists(edir.request_file):
        fail("the tally is closed; no more ballots are accepted")
    # the ballot box accepts only a ballot whose own proofs, contests, contest hashes and code verify
    # (V5, V6, V5.E, V7.A-B), and that shares no confirmation code (V7.C) and no selection ciphertext
    # (V7.H) with a ballot already in it: a copied ballot or contest would fail the record and make
    # every guardian refuse the tally (check_request). With chaining, its B_aux must be a link of its
    # device's chain that no ballot in the box holds (V7.D-E); ballots may come in any order, so a
    # missing predecessor is only found at the tally (`official tally` and `publish` warn)
    try:
        check_ballot(ctx, vb.ballot.with_state(BallotState.CAST))
    except VerificationError as exc:
        fail(f"ballot {bid} refused: {exc}")
    chained = ctx.manifest.chaining and vb.ballot.pre is None
    if chained:
        info = device_info(ctx, vb.ballot.device)
        baux = vb.ballot.B_aux
        link = len(baux) == 32 + len(info) and baux.endswith(info)  # H(B_prev) || B_aux,0
        if not link and baux != expected_baux(ctx, info, None):
            fail(f"ballot {bid} refused: [V7.E] its B_aux is no link of device {vb.ballot.device!r}'s chain")
    mine = {alpha_key(sel.ct.alpha) for ec in vb.ballot.contests for sel in ec.selections}
    for name, tree in edir.iter_ballot_trees(ctx.H_E):
        other = tree.get("id")
        if tree.get("code") == vb.ballot.code:
            fail(f"ballot {bid} refused: [V7.C] ballot {other} has the same confirmation code")
        if any(alpha_key(a) in mine for a in codec.ballot_alphas(tree, name)):
            fail(f"ballot {bid} refused: [V7.H] it repeats a selection ciphertext of ballot {other}")
        if (
            chained
            and "pre" not in tree
            and (tree.get("device"), tree.get("baux")) == (vb.ballot.device, vb.ballot.B_aux)
        ):
            fail(
                f"ballot {bid} refused: [V7.E] ballot {other} holds the same place in device "
                f"{vb.ballot.device!r}'s chain (the same B_aux)"
            )
    edir.write(
        edir.ballot_file(bid),
        files.encode_submitted_ballot(ctx.H_E, SubmittedBallot(vb.ballot.with_state(state), vb.seq)),
    )


@app.command()
@cli_errors
def cast(
    encrypted: Annotated[Path, typer.Argument(help="the file written by `voter encrypt`")],
    election: ElectionOpt,
) -> None:
    """Cast the encrypted ballot: it goes into the ballot box and will be tallied."""
    edir = ElectionDir(election)
    ctx, _ = edir.context()
    vb = _load_voter_ballot(edir, ctx, encrypted)
    with election_locked(edir.path):
        _submit(edir, ctx, vb, BallotState.CAST)
    out.print(f"ballot {vb.ballot.ballot_id} cast; confirmation code {vb.ballot.code.hex()}")


@app.command()
@cli_errors
def challenge(
    encrypted: Annotated[Path, typer.Argument(help="the file written by `voter encrypt`")],
    election: ElectionOpt,
    keep_nonce: Annotated[
        bool,
        typer.Option(
            "--keep-nonce", help="do not release the nonce; the guardians decrypt the ballot instead"
        ),
    ] = False,
) -> None:
    """Challenge (spoil) the ballot: it is not tallied and is opened for everybody to check."""
    edir = ElectionDir(election)
    ctx, _ = edir.context()
    vb = _load_voter_ballot(edir, ctx, encrypted)
    bid = vb.ballot.ballot_id
    if not keep_nonce:  # the opening published below is V13.N's: checked before anything is written
        try:
            verify_opening(ctx, vb.ballot, vb.nonce, vb.plaintext)
        except VerificationError as exc:
            fail(f"ballot {bid} refused: its nonce does not open it to its choices ({exc})")
    # locked across both writes: a tally in between would send the ballot to the guardians as well
    # as publish its opening (V13.G)
    with election_locked(edir.path):
        _submit(edir, ctx, vb, BallotState.CHALLENGED)
        if not keep_nonce:
            edir.write(edir.opening_file(bid), files.encode_opening(ctx.H_E, bid, vb.nonce, vb.plaintext))
    if keep_nonce:
        out.print(f"ballot {bid} challenged; the guardians will decrypt it")
        return
    out.print(f"ballot {bid} challenged; nonce released: {vb.nonce.hex()}")
    out.print(
        f"check it: e2evote voter check --election {election} {encrypted} "
        f"--nonce {vb.nonce.hex()} --ballot PLAIN.json"
    )


@app.command("check")
@cli_errors
def check_(
    encrypted: Annotated[Path, typer.Argument(help="the encrypted ballot (voter file or ballot-box file)")],
    election: ElectionOpt,
    nonce: Annotated[str, typer.Option("--nonce", help="the released ballot nonce (hex)")],
    ballot: Annotated[
        Path, typer.Option("--ballot", help="the choices the ballot should hold (plaintext JSON)")
    ],
) -> None:
    """Instant verification: re-encrypt the claimed choices with the nonce and compare (V13.N)."""
    edir = ElectionDir(election)
    ctx, _ = edir.context()
    raw = files.read_bytes(encrypted)
    try:
        enc = files.open_voter_ballot(
            ctx.group, ctx.H_E, raw, lambda: passphrase("voter"), str(encrypted)
        ).ballot
    except MessageError:
        enc = files.decode_submitted_ballot(ctx.group, ctx.H_E, raw, str(encrypted)).ballot
    try:
        xi = bytes.fromhex(nonce)
    except ValueError:
        fail("--nonce must be hexadecimal")
    if len(xi) != 32:
        fail("--nonce must be 32 bytes (64 hex digits)")
    claimed = files.read_plaintext_json(ballot)
    try:
        verify_opening(ctx, enc, xi, claimed)
    except VerificationError as exc:
        out.print(
            f"[bold red]✗ ballot {escape(enc.ballot_id)} does NOT hold these choices[/]: {escape(str(exc))}"
        )
        raise typer.Exit(1) from None
    out.print(
        f"[bold green]✓[/] ballot {escape(enc.ballot_id)} (code {enc.code.hex()[:16]}…) "
        "encrypts exactly these choices"
    )


_MARK = {True: "[bold green]✓[/]", False: "[bold red]✗[/]", None: "[dim]-[/]"}


def _print_receipt_check(check: ReceiptCheck) -> None:
    r = check.receipt
    out.print(
        f"receipt: confirmation code {r.confirmation_code.hex()}, leaf {r.leaf_index}, "
        f"board {escape(repr(r.sth.board_id))}"
    )
    source = (
        "given with --public-key"
        if check.key_source == "given"
        else "the record's; compare it with the key the board published"
    )
    out.print(f"board key: {check.public_key.hex() or 'none'} ({source})")
    for s in check.steps:
        out.print(f"{_MARK[s.ok]} {escape(f'[{s.step}] {s.title}: {s.detail}')}")
    for w in check.warnings:
        out.print(f"[bold yellow]warning:[/] {escape(w)}")
    if not check.ok:
        failed = ", ".join(f"[{s.step}] {s.title}" for s in check.failures)
        out.print(f"[bold red]✗ receipt check FAILED[/]: {escape(failed)}")
    elif check.fate is BallotFate.SUPERSEDED:
        out.print(
            f"[bold green]✓ receipt holds[/]; the ballot is superseded by ballot event {check.superseded_by} "
            "(a later ballot of the same credential): not counted, the later one is"
        )
    elif check.fate is BallotFate.CHALLENGED:
        out.print("[bold green]✓ receipt holds[/]; the ballot was challenged (spoiled): not counted")
    else:
        out.print("[bold green]✓ receipt holds[/]; the ballot is counted")


@app.command("check-receipt")
@cli_errors
def check_receipt(
    receipt: Annotated[
        Path, typer.Argument(metavar="RECEIPT_FILE", help="the receipt the board returned (JSON or msgpack)")
    ],
    record: Annotated[Path, typer.Option("--record", help="the exported election record (native)")],
    public_key: Annotated[
        str | None,
        typer.Option("--public-key", help="the board's public key (hex) as published; default: the record's"),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the result as one JSON object")] = False,
) -> None:
    """Check a board receipt against the exported record (B2, B1): logged, not forked, counted.

    Exit 0 if the receipt holds and the ballot is counted, challenged or superseded by a re-vote;
    1 if a check fails."""
    pk = None if public_key is None else parse_board_key(public_key)
    rec = load_receipt(receipt)
    if not is_native_record(record):
        fail(f"{record} is not a native election record")
    check = check_receipt_against_record(read_record(record), rec, pk)
    if json_out:
        typer.echo(json.dumps(check.to_json()))
    else:
        _print_receipt_check(check)
    if not check.ok:
        raise typer.Exit(1)
