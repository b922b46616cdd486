"""``e2evote trustee …``: one guardian's side of the key ceremony and of decryption (specs/11-cli.md).

Each trustee keeps a private directory (``--trustee``) with a passphrase-encrypted keystore and a
progress file; everything it publishes goes to the shared election directory (``--election``)
under ``trustees/<i>/``. Steps, in order::

    keygen → shares → check → [answer] → finalize → decrypt → respond

The ceremony's state machine (e2evote.protocol.ceremony) is rebuilt from the keystore at every step
through its public constructors; the checks are the library's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import IO, Annotated

import typer

from cli.common import (
    cli_errors,
    election_locked,
    err,
    fail,
    lock_dir,
    out,
    parse_board_key,
    passphrase,
    progress_bar,
)
from e2evote.errors import CeremonyError, DecryptionError
from e2evote.protocol.ballot import EncryptedBallot
from e2evote.protocol.ceremony import (
    AwaitingShares,
    Complaint,
    EncryptedShare,
    GuardianPublicKeys,
    GuardianSetup,
    ShareReveal,
    check_republished,
    check_share_check,
    keys_fingerprint,
    verify_public_keys,
)
from e2evote.protocol.decryption import DecryptingGuardian, PendingDecryption
from e2evote.protocol.election import ElectionContext, ElectionParameters
from e2evote.protocol.tally import check_request
from e2evote.record import files
from e2evote.record.files import (
    ElectionDir,
    Keystore,
    PendingNonces,
    TrusteeDir,
    TrusteeSecrets,
    TrusteeState,
)
from e2evote.record.model import ElectionRecord, RecordIssue
from e2evote.record.native import is_native_record, read_record

__all__ = ["app", "STEPS"]

app = typer.Typer(
    help=(
        "A trustee (guardian): key ceremony and decryption. Passphrase: $E2EVOTE_TRUSTEE_PASSPHRASE,"
        " else $E2EVOTE_PASSPHRASE, else a prompt."
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)

STEPS = ("keygen", "shares", "check", "answer", "finalize", "decrypt", "respond")

ElectionOpt = Annotated[Path, typer.Option("--election", help="the shared election directory")]
TrusteeOpt = Annotated[Path, typer.Option("--trustee", help="this trustee's private directory")]


# ---------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------


def _exclusive(d: Path) -> IO[bytes]:
    """An exclusive lock on a trustee directory, held while the returned file is open (the session's
    lifetime): two commands on one trustee at once could, e.g., both read the decryption nonces
    before either erases them and answer two challenges with them (specs/11-cli.md §1.3)."""
    fh = lock_dir(d, mode=0o600)
    assert fh is not None  # an exclusive lock is taken or the command fails
    return fh


class _Session:
    """The election and trustee directories, the parameters and the trustee's progress."""

    def __init__(self, election: Path, trustee: Path) -> None:
        self.edir = ElectionDir(election)
        self.tdir = TrusteeDir(trustee)
        self.params: ElectionParameters = self.edir.parameters()
        self.H_B = self.params.H_B
        if self.tdir.exists():  # no lock file in a directory that is no trustee's (read_state says so)
            self._lock = _exclusive(self.tdir.path)  # held for the session's lifetime
        self.state = self.tdir.read_state(self.H_B)
        self.i = self.state.i
        self._pubs: list[GuardianPublicKeys] | None = None

    def require(self, before: str, step: str, *, once: bool = True) -> None:
        if before not in self.state.steps:
            fail(f"run `e2evote trustee {before}` first")
        if once and step in self.state.steps:
            fail(f"`e2evote trustee {step}` was already run for guardian {self.i}")

    def done(self, step: str, **changes: object) -> None:
        steps = self.state.steps if step in self.state.steps else (*self.state.steps, step)
        self.state = replace(self.state, steps=steps, **changes)  # type: ignore[arg-type]
        self.tdir.write_state(self.H_B, self.state)

    def unlock(self) -> tuple[Keystore, TrusteeSecrets]:
        ks, secrets = Keystore.open(self.tdir.keystore_file, passphrase("trustee"))
        if secrets.H_B != self.H_B or secrets.i != self.i:
            fail("the key file belongs to another election or guardian")
        return ks, secrets

    def public_keys(self, *, pinned: bool = True) -> list[GuardianPublicKeys]:
        """Every guardian's public keys from the directory; with ``pinned``, refused unless they are
        the ones this guardian confirmed (:meth:`check_keys`)."""
        if self._pubs is None:  # read once per command (answer and finalize need them twice)
            pubs, missing = self.edir.public_keys(self.params)
            if missing:
                fail(f"waiting for the public keys of guardian(s) {_list(missing)} (`trustee keygen`)")
            self._pubs = pubs
        pubs = self._pubs
        if pinned:
            self.check_keys(pubs)
        return pubs

    def check_keys(self, pubs: list[GuardianPublicKeys] | tuple[GuardianPublicKeys, ...]) -> None:
        """Refuse guardians' public keys other than those this guardian confirmed at `shares`
        (specs/06-ceremony.md §5.1): a key replaced in the shared directory would let its maker sign
        complaints or receive shares in that guardian's name."""
        if self.state.keys is None:
            if "shares" in self.state.steps:  # a state file of a version that pinned nothing
                fail(
                    f"guardian {self.i} sent its shares before e2evote pinned the guardians' keys: confirm "
                    "the fingerprint (`trustee fingerprint`) out of band and run `e2evote trustee shares "
                    "--resend --fingerprint …` first"
                )
            return
        now = keys_fingerprint(self.params, pubs)
        if now != self.state.keys:
            fail(
                f"the guardians' public keys are not those guardian {self.i} confirmed at `trustee shares` "
                f"(fingerprint {_show(self.state.keys)}, now {_show(now)}): one was replaced; refusing"
            )

    def awaiting(self, secrets: TrusteeSecrets) -> AwaitingShares:
        """Rebuild state 2 from the keystore: same coefficients, same share nonces, same shares."""
        setup = GuardianSetup(self.params, self.i, secrets.coefficients, secrets.public)
        return setup.receive_public_keys(self.public_keys(), share_nonces=dict(secrets.share_nonces))

    def share_checks(self) -> dict[int, tuple[Complaint, ...]]:
        """Every guardian's share-check report, each checked to be signed by its author."""
        pubs = {pk.i: pk for pk in self.public_keys()}
        checks, missing = {}, []
        for j in range(1, self.params.n + 1):
            path = self.edir.share_check_file(j)
            if not self.edir.exists(path):
                missing.append(j)
                continue
            ell, complaints, sigma = files.decode_share_check(
                self.params.group, self.H_B, self.edir.read(path), str(path)
            )
            if ell != j:
                fail(f"{path} is guardian {ell}'s report, not guardian {j}'s")
            check_share_check(self.params, pubs[j], complaints, sigma)
            checks[j] = complaints
        if missing:
            fail(f"waiting for the share checks of guardian(s) {_list(missing)} (`trustee check`)")
        return checks

    def incoming(self) -> list[EncryptedShare]:
        shares, missing = [], []
        for j in range(1, self.params.n + 1):
            if j == self.i:
                continue
            path = self.edir.share_file(j, self.i)
            if not self.edir.exists(path):
                missing.append(j)
                continue
            sh = files.decode_share(self.params.group, self.H_B, self.edir.read(path), str(path))
            if (sh.i, sh.ell) != (j, self.i):
                fail(f"{path} holds the share from {sh.i} to {sh.ell}, not from {j} to {self.i}")
            shares.append(sh)
        if missing:
            fail(f"waiting for the shares of guardian(s) {_list(missing)} (`trustee shares`)")
        return shares


def _list(xs: list[int] | tuple[int, ...]) -> str:
    return ", ".join(map(str, xs))


def _show(fingerprint: bytes) -> str:
    """The keys fingerprint as guardians read it to each other: its first 16 bytes, in groups of 4
    hex digits."""
    h = fingerprint[:16].hex()
    return " ".join(h[n : n + 4] for n in range(0, 32, 4))


# ---------------------------------------------------------------------------------------------------
# key ceremony
# ---------------------------------------------------------------------------------------------------


@app.command()
@cli_errors
def keygen(
    election: ElectionOpt,
    index: Annotated[int, typer.Option("--index", help="this guardian's index i (1..n)")],
    out_dir: Annotated[Path, typer.Option("--out", help="new private trustee directory")],
) -> None:
    """Create the secret polynomial, store it encrypted, publish the commitments K_{i,j} and proofs."""
    edir = ElectionDir(election)
    params = edir.parameters()
    if not 1 <= index <= params.n:
        fail(f"--index must be in 1..{params.n}")
    shared = election.resolve()
    if out_dir.resolve() == shared or shared in out_dir.resolve().parents:
        # the election directory is copied to every participant: the keystore must never go there
        fail(
            f"{out_dir} is inside the shared election directory {election}; a trustee's directory is private"
        )
    tdir = TrusteeDir(out_dir)
    if tdir.exists() or tdir.keystore_file.exists():
        fail(f"{out_dir} already holds a trustee")
    if edir.exists(edir.public_keys_file(index)):
        fail(f"guardian {index} has already published its keys in {election}")
    pw = passphrase("trustee", confirm=True)
    setup = GuardianSetup.start(params, index)
    secrets = TrusteeSecrets(params.group, params.H_B, index, setup.secret_coefficients(), setup.public)
    Keystore.create(tdir.keystore_file, pw, secrets)
    tdir.write_state(params.H_B, TrusteeState(index, ("keygen",)))
    edir.write(edir.public_keys_file(index), files.encode_public_keys(params.H_B, setup.public))
    out.print(f"guardian {index}: keys created; public keys in {edir.public_keys_file(index)}")
    out.print(
        "next, once every guardian has run keygen: `e2evote trustee fingerprint`, compared with every "
        "other guardian out of band, then `e2evote trustee shares --fingerprint …`"
    )


@app.command()
@cli_errors
def fingerprint(election: ElectionOpt) -> None:
    """Check every guardian's public keys and print their fingerprint, to compare out of band before
    `trustee shares`."""
    edir = ElectionDir(election)
    params = edir.parameters()
    pubs, missing = edir.public_keys(params)
    for pk in pubs:
        verify_public_keys(params, pk)
    if missing:
        fail(f"waiting for the public keys of guardian(s) {_list(missing)} (`trustee keygen`)")
    out.print(f"keys fingerprint: {_show(keys_fingerprint(params, pubs))}")
    out.print(
        "compare it with every other guardian by phone or in person; if all agree, run "
        "`e2evote trustee shares --fingerprint '…'` with it"
    )


@app.command()
@cli_errors
def shares(
    election: ElectionOpt,
    trustee: TrusteeOpt,
    confirmed: Annotated[
        str | None,
        typer.Option(
            "--fingerprint",
            help="the keys fingerprint (`trustee fingerprint`) every guardian has confirmed out of band",
        ),
    ] = None,
    resend: Annotated[
        bool,
        typer.Option(
            "--resend",
            help="publish again the shares already made (the same ciphertexts, signed afresh), e.g. when "
            "a guardian's `trustee check` found one missing or damaged in transit",
        ),
    ] = False,
) -> None:
    """Check everybody's public keys against the confirmed fingerprint and publish a signed encrypted
    share P_i(ℓ) for every other guardian."""
    s = _Session(election, trustee)
    if resend:
        s.require("shares", "shares", once=False)
    else:
        s.require("keygen", "shares")
    pubs = s.public_keys(pinned=False)
    keys = keys_fingerprint(s.params, pubs)
    if s.state.keys is not None:  # pinned by the first `shares`: --resend to the same keys only
        s.check_keys(pubs)
    elif confirmed is None:  # the first `shares` (or a state file of a version that pinned nothing)
        fail(
            "the shares are encrypted to the other guardians' keys: first compare the keys fingerprint "
            "(`e2evote trustee fingerprint`) out of band, then pass it with --fingerprint"
        )
    if confirmed is not None and "".join(confirmed.split()).lower() != keys[:16].hex():
        fail(
            f"the guardians' public keys have fingerprint {_show(keys)}, not the one confirmed: do not "
            "send shares until every guardian sees the same keys"
        )
    s.state = replace(s.state, keys=keys)  # pinned (written with the step below)
    if resend:
        _, secrets = s.unlock()
        aw = s.awaiting(secrets)
    else:
        ks, secrets = s.unlock()
        g = s.params.group
        # the share nonces ξ_{i,ℓ} are kept (encrypted) to answer complaints and to resend the shares
        nonces = {pk.i: g.random_scalar() for pk in pubs if pk.i != s.i}
        setup = GuardianSetup(s.params, s.i, secrets.coefficients, secrets.public)
        aw = setup.receive_public_keys(pubs, share_nonces=nonces)
        ks.save(replace(secrets, share_nonces=nonces))
    for sh in aw.outgoing:
        s.edir.write(s.edir.share_file(s.i, sh.ell), files.encode_share(s.H_B, sh))
    s.done("shares", keys=keys)
    verb = "published again" if resend else "published"
    out.print(f"guardian {s.i}: all public keys check; {len(aw.outgoing)} signed encrypted shares {verb}")


@app.command()
@cli_errors
def check(election: ElectionOpt, trustee: TrusteeOpt) -> None:
    """Decrypt and check the shares addressed to this guardian; publish "ok" or complaints."""
    s = _Session(election, trustee)
    s.require("shares", "check")
    incoming = s.incoming()
    _, secrets = s.unlock()
    try:
        checked = s.awaiting(secrets).receive_shares(incoming)
    except CeremonyError as exc:
        if exc.culprits:
            raise
        # lost, damaged or forged in transit: nobody is blamed, nothing is published; the sender resends
        fail(f"{exc}; its sender can publish it again with `e2evote trustee shares --resend`")
    sigma = checked.awaiting.setup.sign_share_check(checked.complaints)
    s.edir.write(
        s.edir.share_check_file(s.i), files.encode_share_check(s.H_B, s.i, checked.complaints, sigma)
    )
    s.done("check")
    if checked.complaints:
        for c in checked.complaints:
            err.print(f"complaint against guardian {c.i}: {c.reason}", markup=False)
        out.print(
            f"guardian {s.i}: {len(checked.complaints)} complaint(s) published; the accused must run "
            "`e2evote trustee answer`"
        )
    else:
        out.print(f"guardian {s.i}: every share checks (ok)")


@app.command()
@cli_errors
def answer(election: ElectionOpt, trustee: TrusteeOpt) -> None:
    """Answer every complaint against this guardian by revealing the disputed share and its nonce."""
    s = _Session(election, trustee)
    s.require("shares", "answer")
    checks = s.share_checks()
    against = [c for cs in checks.values() for c in cs if c.i == s.i]
    _, secrets = s.unlock()
    aw = s.awaiting(secrets)
    sent = {sh.ell: sh for sh in aw.outgoing}
    reveals: list[tuple[ShareReveal, EncryptedShare]] = [(r, sent[r.ell]) for r in aw.reveal_all(against)]
    s.edir.write(s.edir.reveals_file(s.i), files.encode_reveals(s.H_B, s.i, reveals))
    s.done("answer")
    if against:
        out.print(
            f"guardian {s.i}: answered {len(against)} complaint(s) from guardian(s) "
            f"{_list(sorted(c.ell for c in against))}"
        )
    else:
        out.print(f"guardian {s.i}: no complaints against you")


@app.command()
@cli_errors
def finalize(election: ElectionOpt, trustee: TrusteeOpt) -> None:
    """Resolve complaints with the accused guardians' reveals, compute P(i), K and H_E; confirm."""
    s = _Session(election, trustee)
    s.require("check", "finalize")
    path = s.edir.share_check_file(s.i)
    _, mine, sigma = files.decode_share_check(s.params.group, s.H_B, s.edir.read(path), str(path))
    incoming = {sh.i: sh for sh in s.incoming()}
    pubs = {pk.i: pk for pk in s.public_keys()}
    check_share_check(s.params, pubs[s.i], mine, sigma)
    reveals: list[ShareReveal] = []
    for c in mine:
        rpath = s.edir.reveals_file(c.i)
        if not s.edir.exists(rpath):
            fail(f"waiting for guardian {c.i} to answer your complaint (`trustee answer`)")
        accused, answers = files.decode_reveals(s.params.group, s.H_B, s.edir.read(rpath), str(rpath))
        if accused != c.i:
            fail(f"{rpath} holds guardian {accused}'s answers, not guardian {c.i}'s")
        for rev, sh in answers:
            if rev.ell == s.i:
                check_republished(s.params, sh, incoming[c.i], pubs[c.i])
                reveals.append(rev)
    ks, secrets = s.unlock()
    aw = s.awaiting(secrets)
    key = aw.receive_shares(list(incoming.values())).finalize(reveals)
    ks.save(replace(secrets, P_i=key.P_i))
    H_E = key.context.H_E
    sigma = aw.setup.sign_key_confirmation(H_E)
    s.edir.write(s.edir.confirmation_file(s.i), files.encode_key_confirmation(s.H_B, s.i, H_E, sigma))
    s.done("finalize")
    out.print(f"guardian {s.i}: key share stored; H_E = {key.context.H_E.hex()}")


# ---------------------------------------------------------------------------------------------------
# decryption
# ---------------------------------------------------------------------------------------------------


@app.command()
@cli_errors
def decrypt(
    election: ElectionOpt,
    trustee: TrusteeOpt,
    record: Annotated[
        Path | None,
        typer.Option(
            "--record",
            help="the election's record so far (`e2evote board export`), to check the request against "
            "when the election directory holds no ballots",
        ),
    ] = None,
    board_key: Annotated[
        str | None,
        typer.Option(
            "--board-key",
            help="the board's public key (hex) as published: with --record, decrypt only the tally of "
            "the board's closed, signed log (checked in full)",
        ),
    ] = None,
    new_request: Annotated[
        bool,
        typer.Option(
            "--new-request",
            help="accept a request other than the first this guardian decrypted (a guardian decrypts "
            "one request per election; only with the other trustees' agreement)",
        ),
    ] = False,
) -> None:
    """Round 1: partial decryption of the tally and of the challenged ballots to open (M_i, a_i, b_i),
    after checking the request: the tally is the aggregate of the cast ballots and every ballot to
    open is a challenged one (specs/06-decryption.md §4)."""
    s = _Session(election, trustee)
    s.require("finalize", "decrypt", once=False)
    key = None if board_key is None else parse_board_key(board_key, "--board-key")
    if key is not None and record is None:
        fail("--board-key needs --record: the board's export (`e2evote board export`) after the close")
    ctx, guardians = s.edir.context(s.params)
    s.check_keys(guardians)  # the context must hold the keys this guardian confirmed
    if not s.edir.exists(s.edir.request_file):
        fail("nothing to decrypt yet (run `e2evote official tally` first)")
    req = files.decode_request(ctx.group, ctx.H_E, s.edir.read(s.edir.request_file), str(s.edir.request_file))
    ks, secrets = s.unlock()
    if secrets.P_i is None:
        fail("run `e2evote trustee finalize` first")
    if s.state.pinned is not None and req.digest != s.state.pinned:
        if not new_request:
            fail(
                f"this guardian already decrypted another request ({s.state.pinned.hex()[:16]}…); a guardian "
                "decrypts one request per election (pass --new-request only if all trustees agree)"
            )
        err.print("note: decrypting a new request (--new-request); the earlier one stays published")
    if s.state.request == req.digest:
        if secrets.pending is not None and secrets.pending.request == req.digest:
            fail("already committed to this decryption request; run `e2evote trustee respond`")
        # committed, but the nonces are gone without a published response (an interrupted
        # `respond`): commit afresh; the official then writes new challenges
        err.print("note: the earlier commitment to this request was used up; committing afresh")
    _check_request(s.edir, ctx, req, record, key)
    guardian = DecryptingGuardian(s.i, secrets.P_i, ctx.group)
    partials, nonces = {}, {}
    for name, targets in req.sections(ctx).items():
        partial, pending = guardian.commit(targets)
        partials[name] = partial
        nonces[name] = pending.nonces()
    ks.save(replace(secrets, pending=PendingNonces(req.digest, nonces)))
    with election_locked(s.edir.path):  # `official decrypt-challenge` withdraws partials under this lock
        s.edir.write(s.edir.partial_file(s.i), files.encode_partial(ctx.H_E, req.digest, s.i, partials))
    s.done("decrypt", request=req.digest, pinned=req.digest)
    out.print(
        f"guardian {s.i}: partial decryption of {sum(len(p.M) for p in partials.values())} values published"
    )


def _check_request(
    edir: ElectionDir,
    ctx: ElectionContext,
    req: files.DecryptionRequest,
    record: Path | None,
    board_key: bytes | None = None,
) -> None:
    """Refuse a request whose tally is not the aggregate of the election's cast ballots or that asks
    to open a ballot that is not challenged (check_request), before any secret is used. With
    ``board_key`` the ballots are the record's, which must be exactly the counted set of a closed
    board log signed by that key (specs/06-decryption.md §4.2)."""
    if record is not None:
        if not is_native_record(record):
            fail(f"{record} is not an e2evote record directory")
        rec = read_record(record)
        if rec.issues:
            fail(f"{record}: [{rec.issues[0].step}] {rec.issues[0].obj}: {rec.issues[0].detail}")
        if rec.stated.H_E != ctx.H_E:
            fail(f"{record} is the record of another election (H_E differs)")
        if board_key is not None:
            _check_closed_board(rec, ctx, board_key, record)
            if rec.encrypted_tally is not None and rec.encrypted_tally != req.tally:
                fail(f"refusing to decrypt: the request's tally is not the one {record} publishes (B4.F)")
        else:
            err.print(
                "note: the ballot set is not authenticated (a board election: pass --board-key to decrypt "
                "only the counted ballots of the board's closed, signed log)"
            )
        where, total = str(record), 0  # a record does not state its number of ballots up front

        def ballots() -> Iterator[EncryptedBallot]:
            for b in rec.ballots():
                if isinstance(b, RecordIssue):
                    fail(f"{record}: [{b.step}] {b.obj}: {b.detail}")
                yield b

    else:
        paths = edir.ballot_files()
        if not paths and (req.tally.ballots or req.ballots):
            fail(
                "cannot check the decryption request: the election directory holds no ballots; pass "
                "--record with the election's record so far (`e2evote board export`)"
            )
        where, total = "the election directory", len(paths)

        def ballots() -> Iterator[EncryptedBallot]:
            return (sb.ballot for sb in edir.iter_ballots(ctx.group, ctx.H_E))

    with progress_bar() as bar:
        task = bar.add_task("checking the request", total=total or None)

        def counted() -> Iterator[EncryptedBallot]:
            for b in ballots():
                bar.advance(task)
                yield b

        try:
            cast = check_request(ctx, req.tally, req.ballots, counted())
        except DecryptionError as exc:
            fail(f"refusing to decrypt: {exc} ({where})")
    out.print(f"request checked against {where}: tally of {cast} cast ballots, {len(req.ballots)} to open")


def _check_closed_board(rec: ElectionRecord, ctx: ElectionContext, key: bytes, where: Path) -> None:
    """The record is a board export whose log is signed by ``key``, closed, and checks in full (B1:
    every event, signature and ballot; B4: the record's cast ballots are exactly the log's counted set
    and its challenged ballots the log's challenged ones): the request is then checked against the
    ballot set the board closed, not one the coordinator chose (specs/06-decryption.md §4.2)."""
    from e2evote.board.election import BOARD_EXTENSION
    from e2evote.verifier.ext_board import check_board
    from e2evote.verifier.report import Report

    if BOARD_EXTENSION not in rec.extensions:
        fail(f"refusing to decrypt: {where} carries no board log (ext/board.msgpack): not a board export")
    report = Report(source=str(where))
    with progress_bar() as bar:
        bar.add_task("checking the board log", total=None)
        check_board(rec, ctx, report)  # decodes ext/board (B4.A) and checks the log under its own key
    if report.failures:
        f = report.failures[0]
        fail(f"refusing to decrypt: [{f.step}] {f.obj}: {f.detail} ({where})")
    board = report.summary["board"]
    if board["public_key"] != key.hex():
        fail(
            f"refusing to decrypt: {where}'s board log is signed by {board['public_key'][:16]}…, not by the "
            "--board-key given"
        )
    if not board["closed"]:
        fail(f"refusing to decrypt: the board log in {where} is not closed (voting is still open)")
    out.print(
        f"board log checked: {board['tree_size']} events signed by the given key, closed; "
        f"{board['counted']} ballots counted, {board['challenged']} challenged"
    )


@app.command()
@cli_errors
def respond(election: ElectionOpt, trustee: TrusteeOpt) -> None:
    """Round 2: answer the official's challenges (v_i = u_i − c_i·P(i)); the nonces are then erased."""
    s = _Session(election, trustee)
    s.require("decrypt", "respond", once=False)
    ctx, guardians = s.edir.context(s.params)
    s.check_keys(guardians)  # the context must hold the keys this guardian confirmed
    if s.state.request is None:
        fail(
            "this guardian's decryption was already answered; run `e2evote trustee decrypt` for a new request"
        )
    cpath = s.edir.challenge_file(s.i)
    if not s.edir.exists(cpath):
        fail(f"no challenge for guardian {s.i} yet (run `e2evote official decrypt-challenge` first)")
    raw_challenge = s.edir.read(cpath)
    request, i, challenges = files.decode_challenge(ctx.group, ctx.H_E, raw_challenge, str(cpath))
    if i != s.i:
        fail(f"{cpath} is addressed to guardian {i}")
    if request != s.state.request:
        fail("the challenge is for another decryption request than the one this guardian committed to")
    req = files.decode_request(ctx.group, ctx.H_E, s.edir.read(s.edir.request_file), str(s.edir.request_file))
    if req.digest != request:
        fail("the decryption request changed since `trustee decrypt`; run `trustee decrypt` again")
    ks, secrets = s.unlock()
    if secrets.pending is None or secrets.pending.request != request or secrets.P_i is None:
        fail(
            "no pending decryption in the key file: run `e2evote trustee decrypt` (after an interrupted "
            "`respond` it commits afresh, with new nonces; the official then writes new challenges)"
        )
    guardian = DecryptingGuardian(s.i, secrets.P_i, ctx.group)
    sections = req.sections(ctx)
    if set(challenges) != set(sections) or set(secrets.pending.sections) != set(sections):
        fail("the challenge does not cover exactly the requested sections")
    responses = {
        name: PendingDecryption(guardian, tuple(targets), secrets.pending.sections[name]).respond(
            challenges[name]
        )
        for name, targets in sections.items()
    }
    # the nonces are erased before anything is written: answers to two different challenges with
    # the same nonces would give P(i) away. An interruption after the erasure loses this answer;
    # `trustee decrypt` then commits afresh (new nonces, new challenges).
    with election_locked(s.edir.path):  # `official decrypt-challenge` replaces challenges under this lock
        if not s.edir.exists(cpath) or s.edir.read(cpath) != raw_challenge:
            fail("the official wrote new challenges meanwhile; run `e2evote trustee respond` again")
        ks.save(replace(secrets, pending=None))
        s.edir.write(s.edir.response_file(s.i), files.encode_response(ctx.H_E, request, s.i, responses))
    s.done("respond", request=None)
    out.print(f"guardian {s.i}: decryption responses published")
