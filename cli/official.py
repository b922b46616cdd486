"""``e2evote official …``: the election official's steps (specs/11-cli.md).

``create`` the election, ``open`` it once every trustee confirmed its key, ``tally`` the cast
ballots, run the two decryption rounds with the trustees (``decrypt-challenge``, ``combine``) and
``publish`` the sealed record. The official holds no secret; every check is the library's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.common import cli_errors, election_locked, err, fail, new_output_dir, out, parse_group, progress_bar
from e2evote.protocol.ballot import BallotState, ChainLink, Device, EncryptedBallot, chain_link, chain_order
from e2evote.protocol.ceremony import (
    GuardianPublicKeys,
    build_context,
    check_complaint,
    check_key_confirmation,
    check_republished,
    check_reveal,
    check_share_check,
)
from e2evote.protocol.decryption import (
    CombinedDecryption,
    DecryptionChallenge,
    DecryptionResponse,
    PartialDecryption,
    challenges,
)
from e2evote.protocol.decryption import combine as combine_decryption
from e2evote.protocol.election import ElectionContext, ElectionParameters
from e2evote.protocol.outcomes import OutcomeError, compute_outcomes, contest_rules
from e2evote.protocol.tally import DecryptedTally, TallyAccumulator, ballot_from_combined, tally_from_combined
from e2evote.record import files
from e2evote.record.files import DecryptionRequest, DecryptionResult, ElectionDir
from e2evote.record.model import ChallengedBallot
from e2evote.record.native import RecordWriter

__all__ = ["app", "print_tally", "device_closes"]

app = typer.Typer(
    help="The election official: create, open, tally, decrypt with the trustees, publish.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

ElectionOpt = Annotated[Path, typer.Option("--election", help="the shared election directory")]


def print_tally(ctx: ElectionContext, tally: DecryptedTally) -> None:
    """The decrypted counts as a table on stdout."""
    table = Table(title=f"Tally of {tally.ballots} cast ballots", title_justify="left")
    table.add_column("contest")
    table.add_column("option")
    table.add_column("votes", justify="right")
    for contest, row in tally.counts(ctx).items():
        for j, (option, n) in enumerate(row.items()):
            table.add_row(contest if j == 0 else "", option, str(n))
    out.print(table)


@app.command()
@cli_errors
def create(
    manifest: Annotated[Path, typer.Option("--manifest", help="the manifest (native JSON)")],
    trustees: Annotated[int, typer.Option("--trustees", help="number of guardians n")],
    quorum: Annotated[int, typer.Option("--quorum", help="quorum k")],
    out_dir: Annotated[Path, typer.Option("--out", help="new election directory")],
    group: Annotated[str, typer.Option(help="modp (EG 2.0, 4096-bit), ed25519 or test")] = "modp",
) -> None:
    """Fix the parameters (group, manifest, n, k): writes parameters.msgpack and the canonical manifest."""
    m = files.read_manifest_json(manifest)
    try:  # H_M binds the manifest: a rule V20.A cannot parse would fail every record of the election
        contest_rules(m)
    except OutcomeError as exc:
        fail(f"{manifest}: {exc}")
    params = ElectionParameters(parse_group(group), m, trustees, quorum)
    ElectionDir(out_dir).create(params)
    out.print(f"election created in {out_dir}: {params.group.name}, {trustees} guardians, quorum {quorum}")
    out.print(f"H_B = {params.H_B.hex()}")
    out.print(f"next: each trustee runs `e2evote trustee keygen --election {out_dir} --index i --out DIR`")


@app.command("open")
@cli_errors
def open_(election: ElectionOpt) -> None:
    """Collect and check every guardian's public keys and key confirmation; publish K and H_E."""
    edir = ElectionDir(election)
    params = edir.parameters()
    if edir.exists(edir.context_file):
        fail("the election is already open")
    n, g, H_B = params.n, params.group, params.H_B
    pubs, missing = edir.public_keys(params)
    if missing:
        fail(f"waiting for the public keys of guardian(s) {', '.join(map(str, missing))} (`trustee keygen`)")
    ctx = build_context(params, pubs)
    by_i = {pk.i: pk for pk in pubs}
    # every complaint must have been answered by a reveal that checks (anyone can check it)
    for ell in range(1, n + 1):
        path = edir.share_check_file(ell)
        if not edir.exists(path):
            fail(f"waiting for guardian {ell}'s share check (`trustee check`)")
        author, complaints, sigma = files.decode_share_check(g, H_B, edir.read(path), str(path))
        if author != ell:
            fail(f"{path} is guardian {author}'s report, not guardian {ell}'s")
        check_share_check(params, by_i[ell], complaints, sigma)
        for c in complaints:
            check_complaint(params, c, by_i[ell])
            rpath = edir.reveals_file(c.i)
            if not edir.exists(rpath):
                fail(f"guardian {c.i} has not answered guardian {ell}'s complaint (`trustee answer`)")
            _, answers = files.decode_reveals(g, H_B, edir.read(rpath), str(rpath))
            match = [(r, sh) for r, sh in answers if r.ell == ell]
            if len(match) != 1:
                fail(f"guardian {c.i}'s answers cover guardian {ell}'s complaint {len(match)} times")
            reveal, copy = match[0]
            spath = edir.share_file(c.i, ell)
            published = files.decode_share(g, H_B, edir.read(spath), str(spath))
            check_republished(params, copy, published, by_i[c.i])
            check_reveal(params, reveal, published, by_i[c.i], by_i[ell])
    unconfirmed = []
    for i in range(1, n + 1):
        path = edir.confirmation_file(i)
        if not edir.exists(path):
            unconfirmed.append(i)
            continue
        j, H_E, sigma = files.decode_key_confirmation(g, H_B, edir.read(path), str(path))
        if j != i or H_E != ctx.H_E:
            fail(f"guardian {i} confirmed a different election key (H_E {H_E.hex()[:12]}…)")
        check_key_confirmation(params, by_i[i], H_E, sigma)
    if unconfirmed:
        fail(f"waiting for guardian(s) {', '.join(map(str, unconfirmed))} to finalize (`trustee finalize`)")
    edir.write(edir.context_file, files.encode_context(ctx, pubs))
    out.print(f"election open: K and H_E published in {edir.context_file}")
    out.print(f"H_E = {ctx.H_E.hex()}")


@app.command()
@cli_errors
def tally(election: ElectionOpt) -> None:
    """Aggregate the cast ballots and publish the decryption request for the trustees.

    The aggregate is the product of the cast ballots' ciphertexts, option by option (EG 2.0 eq. 62)."""
    edir = ElectionDir(election)
    ctx, _ = edir.context()
    # locked: no ballot is cast, and no challenged ballot's nonce released, while the box is read
    with election_locked(edir.path):
        if edir.exists(edir.request_file):
            fail("the tally was already computed (tally/request.msgpack exists)")
        acc = TallyAccumulator(ctx)
        to_decrypt: list[EncryptedBallot] = []
        paths = edir.ballot_files()
        links: list[tuple[str, ChainLink | None]] = []  # (ballot id, its place in its device's chain)
        with progress_bar() as bar:
            task = bar.add_task("tallying", total=len(paths))
            for sb in edir.iter_ballots(ctx.group, ctx.H_E):
                if sb.ballot.state == BallotState.CAST:
                    acc.add(sb.ballot)
                elif not edir.exists(edir.opening_file(sb.ballot.ballot_id)):
                    to_decrypt.append(sb.ballot)
                if ctx.manifest.chaining:
                    links.append((sb.ballot.ballot_id, chain_link(sb.ballot)))
                bar.advance(task)
        _warn_unchained(chain_order(ctx, links, lambda item: item[1])[1])
        req = DecryptionRequest(acc.result(), tuple(sorted(to_decrypt, key=lambda b: b.ballot_id)))
        edir.write(edir.request_file, files.encode_request(ctx.H_E, req))
    out.print(f"tallied {req.tally.ballots} cast ballots; {len(req.ballots)} challenged ballot(s) to decrypt")
    out.print("next: the trustees run `e2evote trustee decrypt`")


def _warn_unchained(unchained: Sequence[tuple[str, ChainLink | None]]) -> None:
    """Ballots (id, chain link) that no device chain reaches (``chain_order``): a record listing them
    fails V7.D or V7.E, on at least the first of each device's. One warning a device."""
    by_device: dict[str, list[str]] = {}
    for bid, link in unchained:
        if link is not None:
            by_device.setdefault(link[0], []).append(bid)
    for device, ids in by_device.items():
        more = f" (and {len(ids) - 1} more of its ballots after it)" if len(ids) > 1 else ""
        err.print(
            f"warning: ballot {ids[0]}{more} does not continue device {device!r}'s chain: a ballot the "
            "device encrypted before it is not in the box, or another ballot holds its place; the record "
            "will fail V7.D or V7.E"
        )


def device_closes(ctx: ElectionContext, states: Sequence[tuple[str, bytes]]) -> dict[str, bytes]:
    """The closing hash of every device that encrypted a ballot (V7.F), from the ``(file name, bytes)``
    of the election directory's device states; empty unless the manifest chains confirmation codes."""
    closes: dict[str, bytes] = {}
    if not ctx.manifest.chaining:
        return closes
    for what, data in states:
        st = files.decode_device_state(ctx.H_E, data, what)
        if st.last_code is not None:
            device = Device(ctx, st.name)
            device.record(st.last_code)
            closes[st.name] = device.close()
    return closes


def _request(edir: ElectionDir, ctx: ElectionContext) -> DecryptionRequest:
    return _decode_request(
        edir, ctx, edir.read(edir.request_file) if edir.exists(edir.request_file) else None
    )


def _decode_request(edir: ElectionDir, ctx: ElectionContext, data: bytes | None) -> DecryptionRequest:
    if data is None:
        fail("no tally yet (run `e2evote official tally` first)")
    return files.decode_request(ctx.group, ctx.H_E, data, str(edir.request_file))


def _partials(
    edir: ElectionDir, ctx: ElectionContext, req: DecryptionRequest, only: Sequence[int] | None = None
) -> dict[int, dict[str, PartialDecryption]]:
    found: dict[int, dict[str, PartialDecryption]] = {}
    for i in range(1, ctx.parameters.n + 1):
        path = edir.partial_file(i)
        if (only is not None and i not in only) or not edir.exists(path):
            continue
        request, j, sections = files.decode_partial(ctx.group, ctx.H_E, edir.read(path), str(path))
        if j != i:
            fail(f"{path} is guardian {j}'s partial decryption")
        if request != req.digest:
            err.print(f"note: guardian {i}'s partial decryption is for an older request; ignored")
            continue
        found[i] = sections
    return found


def _parse_trustees(text: str, n: int) -> list[int]:
    """``--trustees 1,2,4``: distinct guardian indices 1..n, sorted."""
    chosen: set[int] = set()
    for item in text.split(","):
        item = item.strip()
        if not item.isdecimal():
            fail(f"--trustees: {item!r} is not a guardian index (a comma-separated list like 1,2,4)")
        i = int(item)
        if not 1 <= i <= n:
            fail(f"--trustees: there is no guardian {i} (the guardians are 1..{n})")
        if i in chosen:
            fail(f"--trustees: guardian {i} is listed twice")
        chosen.add(i)
    return sorted(chosen)


def _answered(edir: ElectionDir, ctx: ElectionContext, req: DecryptionRequest, i: int) -> bool:
    """Whether guardian i published a response to the current request."""
    path = edir.response_file(i)
    if not edir.exists(path):
        return False
    request, _, _ = files.decode_response(ctx.group, ctx.H_E, edir.read(path), str(path))
    return request == req.digest


@app.command("decrypt-challenge")
@cli_errors
def decrypt_challenge(
    election: ElectionOpt,
    trustees: Annotated[str | None, typer.Option(help="use only these guardians, e.g. 1,2,4")] = None,
) -> None:
    """Round 2: combine the available partial decryptions and write each guardian's challenges."""
    edir = ElectionDir(election)
    ctx, _ = edir.context()
    # locked: a trustee's `respond` checks, under the same lock, that its challenge is still the one
    # written here before it spends its nonces (specs/11-cli.md §2)
    with election_locked(edir.path):
        _decrypt_challenge(edir, ctx, trustees)


def _decrypt_challenge(edir: ElectionDir, ctx: ElectionContext, trustees: str | None) -> None:
    req = _request(edir, ctx)
    n = ctx.parameters.n
    only = _parse_trustees(trustees, n) if trustees is not None else None
    parts = _partials(edir, ctx, req, only)
    if only is not None and sorted(parts) != only:
        absent = [i for i in only if i not in parts]
        fail(
            f"no partial decryption of the current request from guardian(s) {', '.join(map(str, absent))} "
            "(trustees run `trustee decrypt`)"
        )
    k = ctx.parameters.k
    if len(parts) < k:
        fail(
            f"{len(parts)} partial decryption(s) available, the quorum is {k} "
            "(trustees run `trustee decrypt`)"
        )
    sections = req.sections(ctx)
    per_guardian: dict[int, dict[str, DecryptionChallenge]] = {i: {} for i in parts}
    for name, targets in sections.items():
        if any(name not in secs for secs in parts.values()):
            fail(f"a partial decryption lacks section {name!r}")
        for ch in challenges(ctx, targets, [secs[name] for secs in parts.values()]):
            per_guardian[ch.i][name] = ch
    new = {i: files.encode_challenge(ctx.H_E, req.digest, i, chs) for i, chs in per_guardian.items()}
    current = [i for i in range(1, n + 1) if edir.exists(edir.challenge_file(i))]
    if current == sorted(new) and all(edir.read(edir.challenge_file(i)) == new[i] for i in current):
        out.print(f"challenges for guardian(s) {', '.join(map(str, current))} unchanged")
        out.print("next: those trustees run `e2evote trustee respond`, then `e2evote official combine`")
        return
    answered = [i for i in current if _answered(edir, ctx, req, i)]
    if answered:
        # a response answers its challenge only; new challenges would make combine blame an honest guardian
        who = ", ".join(map(str, answered))
        if sorted(parts) != current:
            fail(
                f"guardian(s) {who} already responded to the current challenges (guardians "
                f"{', '.join(map(str, current))}); the guardian set cannot change now: wait for the "
                "others' responses and run `e2evote official combine`"
            )
        # same guardians, new commitments: one committed afresh (an interrupted respond). The answers
        # given to the old challenges cannot be combined with it; their nonces are spent, so those
        # guardians commit afresh too (their old partial decryptions and responses are withdrawn)
        for i in answered:
            edir.remove(edir.response_file(i))
            edir.remove(edir.partial_file(i))
        for i in current:
            edir.remove(edir.challenge_file(i))
        out.print(
            f"a guardian committed afresh after guardian(s) {who} answered the old challenges: their "
            "answers are withdrawn"
        )
        out.print(f"next: guardian(s) {who} run `e2evote trustee decrypt` again, then run this command again")
        return
    for i in range(1, n + 1):
        edir.remove(edir.challenge_file(i))
    for i, data in new.items():
        edir.write(edir.challenge_file(i), data)
    out.print(f"challenges written for guardian(s) {', '.join(map(str, sorted(parts)))}")
    out.print("next: those trustees run `e2evote trustee respond`, then `e2evote official combine`")


@app.command()
@cli_errors
def combine(election: ElectionOpt) -> None:
    """Check every guardian's responses (naming a cheating one) and publish the decrypted tally."""
    edir = ElectionDir(election)
    ctx, pubs = edir.context()
    with election_locked(edir.path):  # the challenges, partials and responses read as of one moment
        _combine(edir, ctx, pubs)


def _combine(edir: ElectionDir, ctx: ElectionContext, pubs: Sequence[GuardianPublicKeys]) -> None:
    req = _request(edir, ctx)
    U = [i for i in range(1, ctx.parameters.n + 1) if edir.exists(edir.challenge_file(i))]
    if not U:
        fail("no challenges yet (run `e2evote official decrypt-challenge` first)")
    parts = _partials(edir, ctx, req, U)
    if sorted(parts) != U:
        fail("the partial decryptions changed since `official decrypt-challenge`; run it again")
    responses: dict[int, dict[str, DecryptionResponse]] = {}
    waiting = []
    for i in U:
        path = edir.response_file(i)
        if not edir.exists(path):
            waiting.append(i)
            continue
        request, j, secs = files.decode_response(ctx.group, ctx.H_E, edir.read(path), str(path))
        if j != i or request != req.digest:
            fail(f"{path} is not guardian {i}'s response to the current request")
        responses[i] = secs
    if waiting:
        fail(f"waiting for the responses of guardian(s) {', '.join(map(str, waiting))} (`trustee respond`)")
    sections = req.sections(ctx)
    for i in U:
        missing = set(sections) - set(responses[i])
        if missing:
            fail(f"guardian {i}'s response lacks section(s) {', '.join(sorted(missing))}")

    def combined(name: str) -> CombinedDecryption:
        # checks every guardian's responses against its public commitments (eq. 74-75, naming a cheater)
        return combine_decryption(
            ctx, pubs, sections[name], [parts[i][name] for i in U], [responses[i][name] for i in U]
        )

    with progress_bar() as bar:
        task = bar.add_task("checking and combining", total=1 + len(req.ballots))
        decrypted = tally_from_combined(ctx, req.tally, combined("tally"))
        bar.advance(task)
        ballots = []
        for b in req.ballots:
            ballots.append(ballot_from_combined(ctx, b, combined(f"ballot:{b.ballot_id}")))
            bar.advance(task)
    result = DecryptionResult(req.digest, tuple(U), decrypted, tuple(ballots))
    edir.write(edir.result_file, files.encode_result(ctx.H_E, result))
    out.print(f"decryption by guardian(s) {', '.join(map(str, U))} checked and combined")
    print_tally(ctx, decrypted)
    out.print("next: `e2evote official publish`")


@app.command()
@cli_errors
def publish(
    election: ElectionOpt,
    out_dir: Annotated[Path, typer.Option("--out", help="new directory for the sealed record")],
) -> None:
    """Write the election record so far (native format, sealed) for anyone to verify."""
    edir = ElectionDir(election)
    ctx, pubs = edir.context()
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        fail(f"{out_dir} exists and is not an empty directory")
    # the box, the openings, the tally and the devices' states read as of one moment, under a reader's
    # lock; their bytes only (~0.1 ms a ballot): decoding (6-8 ms a ballot) waits for no lock
    with election_locked(edir.path, shared=True):
        raw_ballots = edir.read_all(edir.ballot_files())
        raw_openings = edir.read_all(edir.opening_files())
        raw_devices = edir.read_all(edir.device_files())
        raw_request = edir.read(edir.request_file) if edir.exists(edir.request_file) else None
        raw_result = edir.read(edir.result_file) if edir.exists(edir.result_file) else None
    # each device's ballots along its chain (V7.D-E), whatever order they were cast in
    submitted, unchained = chain_order(
        ctx,
        sorted(
            (files.decode_submitted_ballot(ctx.group, ctx.H_E, data, what) for what, data in raw_ballots),
            key=lambda sb: (sb.seq, sb.ballot.device, sb.ballot.ballot_id),
        ),
        lambda sb: chain_link(sb.ballot),
    )
    _warn_unchained([(sb.ballot.ballot_id, chain_link(sb.ballot)) for sb in unchained])
    with new_output_dir(out_dir):  # a failed publish leaves no half-written record behind
        writer = RecordWriter(out_dir, ctx, pubs)
        for sb in submitted:
            writer.add_ballot(sb.ballot)
        opened: list[ChallengedBallot] = []
        for what, data in raw_openings:
            bid, nonce, claimed = files.decode_opening(ctx.H_E, data, what)
            opened.append(ChallengedBallot(bid, nonce, claimed, None))
        result = None
        if raw_result is not None:
            req = _decode_request(edir, ctx, raw_request)
            result = files.decode_result(ctx.group, ctx.H_E, raw_result, str(edir.result_file))
            if result.request != req.digest:
                fail("the decryption result is for another tally; run the decryption again")
            writer.set_tally(req.tally, result.tally)
            opened += [ChallengedBallot(b.ballot_id, None, None, b) for b in result.ballots]
            cast = Counter(
                ec.index
                for sb in submitted
                if sb.ballot.state is BallotState.CAST
                for ec in sb.ballot.contests
            )
            outcomes = compute_outcomes(ctx.manifest, result.tally.counts(ctx), cast)
            if outcomes:  # every decided outcome, as V20 recomputes it (specs/09-outcomes.md §7)
                writer.set_outcomes(outcomes)
        if opened:
            writer.set_challenged(opened)
        closes = device_closes(ctx, raw_devices)
        if closes:
            writer.set_device_closes(closes)
        writer.seal()
    what = "final record" if result is not None else "record so far (no decrypted tally yet)"
    out.print(f"{what} with {len(submitted)} ballot(s) sealed in {out_dir}")
    out.print(f"verify it: e2evote verify {out_dir}")
