"""A whole election through the ``e2evote`` command, every trustee a separate process with its own
private directory, the record verified after every phase (CONVENTIONS §10; specs/11-cli.md).

Runs in the 511-bit test group with the fast key-derivation setting (E2EVOTE_TEST_FAST_KDF=1).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from e2evote.protocol.ballot import confirmation_code
from e2evote.protocol.ceremony import GuardianSetup
from e2evote.record import files
from e2evote.record.files import ElectionDir, Keystore, TrusteeDir
from e2evote.record.native import read_record

MANIFEST = {
    "label": "Club election",
    "contests": [
        {
            "label": "Chair",
            "options": ["Ann", "Ben", "Cy"],
            "contest_limit": 1,
            # `official publish` writes the outcome the verifier recomputes (V20)
            "outcome": {
                "method": "plurality",
                "seats": None,
                "threshold": None,
                "threshold_base": None,
                "against_all": None,
                "tie_seed": "00" * 32,
            },
        },
        {"label": "Board", "options": ["Dee", "Eve", "Fay", "Gus"], "contest_limit": 2},
    ],
}

BALLOTS = [
    {"id": "v1", "votes": {"Chair": {"Ann": 1}, "Board": {"Dee": 1, "Eve": 1}}},
    {"id": "v2", "votes": {"Chair": {"Ben": 1}, "Board": {"Fay": 1}}},
    {"id": "v3", "votes": {"Chair": {"Ann": 1}, "Board": {"Eve": 1, "Gus": 1}}},
    {"id": "v4", "votes": {"Chair": {"Cy": 1}, "Board": {"Gus": 1, "Eve": 1}}},  # challenged, nonce released
    {"id": "v5", "votes": {"Chair": {"Ann": 1}}},  # challenged, decrypted by the guardians
]

N, K = 3, 2
PASSPHRASES = {1: "correct horse 1", 2: "battery staple 2", 3: "trustee three"}
VOTER_PW = "the voter's own passphrase"
"""seals the voters' files (`voter encrypt --out`)"""
BOARD_PW = "the board operator's passphrase"
"""seals the board key (`board serve --create`, BoardKey.save)"""


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def run(
    *args: str | Path, passphrase: str | None = None, expect: int | None = 0, process: bool = False
) -> Result:
    """One ``e2evote`` invocation: trustees (and ``process=True``) in a separate process, the
    official's and voters' public steps in-process (faster; same code path below the argument parser)."""
    env = {**os.environ, "E2EVOTE_TEST_FAST_KDF": "1", "NO_COLOR": "1", "COLUMNS": "200"}
    for role in ("", "TRUSTEE_", "VOTER_", "BOARD_", "PRINTER_"):
        env.pop(f"E2EVOTE_{role}PASSPHRASE", None)
    if passphrase is not None:
        env["E2EVOTE_PASSPHRASE"] = passphrase
    argv = [str(a) for a in args]
    if process or argv[0] == "trustee":
        proc = subprocess.run(
            [sys.executable, "-m", "cli.main", *argv], capture_output=True, text=True, env=env, timeout=300
        )
        res = Result(proc.returncode, proc.stdout, proc.stderr)
    else:
        r = CliRunner().invoke(app, argv, env=env, catch_exceptions=True)
        assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
        res = Result(r.exit_code, r.stdout, r.stderr)
    assert "Traceback" not in res.stdout + res.stderr, res.stdout + res.stderr
    if expect is not None:
        assert res.returncode == expect, f"exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res


def trustee(step: str, election: Path, tmp: Path, i: int, *flags: str, expect: int = 0) -> Result:
    return run(
        "trustee",
        step,
        "--election",
        election,
        "--trustee",
        tmp / f"t{i}",
        *flags,
        passphrase=PASSPHRASES[i],
        expect=expect,
    )


def verify_json(record: Path, *flags: str) -> dict[str, object]:
    proc = run("verify", record, "--json", "-q", *flags, expect=None)
    report = json.loads(proc.stdout)
    assert proc.returncode == (0 if report["ok"] else 1)
    return report  # type: ignore[no-any-return]


def one_line_error(proc: Result, needle: str) -> None:
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert needle in lines[0], lines[0]


def create(manifest: Path, n: int, k: int, out: Path, expect: int = 0) -> Result:
    """``official create`` of an election of n guardians (quorum k) in the test group."""
    return run(
        "official",
        "create",
        "--manifest",
        manifest,
        "--trustees",
        n,
        "--quorum",
        k,
        "--group",
        "test",
        "--out",
        out,
        expect=expect,
    )


def keygen(election: Path, i: int, out: Path) -> Result:
    """``trustee keygen`` of guardian i (its test passphrase) into the private directory ``out``."""
    return run(
        "trustee", "keygen", "--election", election, "--index", i, "--out", out, passphrase=PASSPHRASES[i]
    )


def fingerprint(election: Path) -> str:
    """The keys fingerprint `trustee fingerprint` shows (what the guardians compare out of band)."""
    out = run("trustee", "fingerprint", "--election", election).stdout
    return out.split("keys fingerprint:")[1].splitlines()[0].strip()


def open_election(d: Path, manifest: dict[str, object], n: int = 3, k: int = 2) -> Path:
    """An election of ``manifest`` created in ``d / "el"`` and opened after an honest key ceremony of
    n trustees (private directories ``d / "t<i>"``, their test passphrases)."""
    (d / "manifest.json").write_text(json.dumps(manifest))
    el = d / "el"
    create(d / "manifest.json", n, k, el)
    for i in range(1, n + 1):
        keygen(el, i, d / f"t{i}")
    fp = fingerprint(el)
    for i in range(1, n + 1):
        trustee("shares", el, d, i, "--fingerprint", fp)
    for step in ("check", "answer", "finalize"):
        for i in range(1, n + 1):
            trustee(step, el, d, i)
    run("official", "open", "--election", el)
    return el


def test_election_through_the_cli(tmp_path: Path) -> None:
    el = tmp_path / "election"
    (tmp_path / "manifest.json").write_text(json.dumps(MANIFEST))
    for b in BALLOTS:
        (tmp_path / f"{b['id']}.json").write_text(json.dumps(b))
    create(tmp_path / "manifest.json", N, K, el)

    # --- key ceremony: each trustee in its own process and directory --------------------------------
    for i in range(1, N + 1):
        keygen(el, i, tmp_path / f"t{i}")
        assert (os.stat(tmp_path / f"t{i}" / "keystore.e2evote-key").st_mode & 0o777) == 0o600
    one_line_error(trustee("check", el, tmp_path, 1, expect=2), "run `e2evote trustee shares` first")
    one_line_error(
        trustee("shares", el, tmp_path, 1, "--resend", expect=2), "run `e2evote trustee shares` first"
    )
    # the keys fingerprint, compared out of band, must be confirmed before any share is encrypted
    fp = fingerprint(el)
    one_line_error(trustee("shares", el, tmp_path, 1, expect=2), "pass it with --fingerprint")
    one_line_error(
        trustee("shares", el, tmp_path, 1, "--fingerprint", "0" * 32, expect=2), "not the one confirmed"
    )
    for i in range(1, N + 1):
        trustee("shares", el, tmp_path, i, "--fingerprint", fp)
    one_line_error(trustee("shares", el, tmp_path, 1, "--fingerprint", fp, expect=2), "already run")
    # guardian 2's public keys replaced in the shared directory after the shares went out (e.g. to sign
    # complaints in its name, or to receive a resent share): every later step refuses
    edir = ElectionDir(el)
    params = edir.parameters()
    keys2 = edir.public_keys_file(2)
    genuine_keys = keys2.read_bytes()
    keys2.write_bytes(files.encode_public_keys(params.H_B, GuardianSetup.start(params, 2).public))
    for step, flags in (("check", ()), ("shares", ("--resend",))):
        one_line_error(trustee(step, el, tmp_path, 1, *flags, expect=2), "one was replaced; refusing")
    keys2.write_bytes(genuine_keys)
    wrong = trustee("shares", el, tmp_path, 1, "--resend", "--fingerprint", "0" * 32, expect=2)
    one_line_error(wrong, "not the one confirmed")
    # a state file of a version that pinned no keys: refused until the fingerprint is confirmed
    t3 = TrusteeDir(tmp_path / "t3")
    t3.write_state(params.H_B, replace(t3.read_state(params.H_B), keys=None))
    one_line_error(trustee("check", el, tmp_path, 3, expect=2), "before e2evote pinned the guardians' keys")
    one_line_error(trustee("shares", el, tmp_path, 3, "--resend", expect=2), "pass it with --fingerprint")
    trustee("shares", el, tmp_path, 3, "--resend", "--fingerprint", fp)
    assert t3.read_state(params.H_B).keys is not None
    one_line_error(
        run("trustee", "check", "--election", el, "--trustee", tmp_path / "t1", passphrase="wrong", expect=2),
        "wrong passphrase or corrupted key file",
    )

    # the share from guardian 1 to guardian 2 damaged in transit: its signature fails, so guardian 2
    # publishes nothing (no complaint, which would make guardian 1 reveal P_1(2)) until it is resent
    path = edir.share_file(1, 2)
    share = files.decode_share(params.group, params.H_B, path.read_bytes())
    bad_ct = replace(share.ct, C1=bytes([share.ct.C1[0] ^ 1]) + share.ct.C1[1:])
    path.write_bytes(files.encode_share(params.H_B, replace(share, ct=bad_ct)))
    one_line_error(trustee("check", el, tmp_path, 2, expect=2), "trustee shares --resend")
    assert not edir.share_check_file(2).exists()
    assert "published again" in trustee("shares", el, tmp_path, 1, "--resend").stdout
    assert files.decode_share(params.group, params.H_B, path.read_bytes()).ct == share.ct

    # a dishonest guardian 1 signs a share that does not decrypt: guardian 2 complains (signed)
    ks_path = tmp_path / "t1" / "keystore.e2evote-key"
    _, secrets1 = Keystore.open(ks_path, PASSPHRASES[1])
    dishonest = GuardianSetup(params, 1, secrets1.coefficients, secrets1.public)
    path.write_bytes(files.encode_share(params.H_B, dishonest.sign_share(2, bad_ct)))
    for i in range(1, N + 1):
        proc = trustee("check", el, tmp_path, i)
    assert "complaint" in trustee_output(el, 2)
    one_line_error(run("official", "open", "--election", el, expect=2), "has not answered")
    one_line_error(trustee("finalize", el, tmp_path, 2, expect=2), "waiting for guardian 1 to answer")
    # a complaint altered (or forged) on its way is not answered: nothing is revealed
    check_path = edir.share_check_file(2)
    genuine = check_path.read_bytes()
    _, (complaint,), report_sigma = files.decode_share_check(params.group, params.H_B, genuine)
    forged = files.encode_share_check(params.H_B, 2, [replace(complaint, reason="forged")], report_sigma)
    check_path.write_bytes(forged)
    one_line_error(
        trustee("answer", el, tmp_path, 1, expect=2), "share-check claimed from guardian 2 is not signed"
    )
    # nor can the report be turned into "ok" (hiding the complaint) without guardian 2's key
    check_path.write_bytes(files.encode_share_check(params.H_B, 2, [], report_sigma))
    one_line_error(run("official", "open", "--election", el, expect=2), "not signed by it")
    assert not edir.reveals_file(1).exists()
    one_line_error(run("official", "open", "--election", el, expect=2), "not signed by it")
    check_path.write_bytes(genuine)
    proc = trustee("answer", el, tmp_path, 1)
    assert "answered 1 complaint" in proc.stdout
    # its answer re-publishes the genuine share, which differs from the bad one it signed: guardian 1
    # signed two different shares and is named, by guardian 2 and by the official
    for proc in (
        trustee("finalize", el, tmp_path, 2, expect=2),
        run("official", "open", "--election", el, expect=2),
    ):
        one_line_error(proc, "guardian 1 signed two different shares for guardian 2")
        assert "(guardian(s) 1)" in proc.stderr
    # guardian 1 publishes its genuine share again: its reveal now checks and the ceremony completes
    trustee("shares", el, tmp_path, 1, "--resend")
    one_line_error(run("official", "open", "--election", el, expect=2), "to finalize")
    for i in range(1, N + 1):
        trustee("finalize", el, tmp_path, i)
    # a key confirmation is signed by its guardian: one made in guardian 3's name is refused
    confirm3 = edir.confirmation_file(3)
    genuine3 = confirm3.read_bytes()
    _, H_E, _ = files.decode_key_confirmation(params.group, params.H_B, genuine3)
    _, _, sigma2 = files.decode_key_confirmation(
        params.group, params.H_B, edir.confirmation_file(2).read_bytes()
    )
    confirm3.write_bytes(files.encode_key_confirmation(params.H_B, 3, H_E, sigma2))
    one_line_error(
        run("official", "open", "--election", el, expect=2), "key-confirmation claimed from guardian 3"
    )
    confirm3.write_bytes(genuine3)
    run("official", "open", "--election", el)

    # a message for another election is refused
    alien = tmp_path / "alien"
    run(
        "official",
        "create",
        "--manifest",
        tmp_path / "manifest.json",
        "--trustees",
        N,
        "--quorum",
        N,
        "--group",
        "test",
        "--out",
        alien,
    )
    (alien / "context.msgpack").write_bytes((el / "context.msgpack").read_bytes())
    one_line_error(
        run(
            "voter",
            "encrypt",
            "--election",
            alien,
            "--ballot",
            tmp_path / "v1.json",
            "--out",
            tmp_path / "x.msgpack",
            expect=2,
            passphrase=VOTER_PW,
        ),
        "another election",
    )

    # without a device `voter encrypt` writes nothing into the election directory, not even its lock
    # file: the directory may be read-only
    run("voter", "encrypt", "--election", el, "--ballot", tmp_path / "v1.json", "--out",
        tmp_path / "no-device.enc", passphrase=VOTER_PW)  # fmt: skip
    assert not (el / ".election-lock").exists()

    run("official", "publish", "--election", el, "--out", tmp_path / "rec-ceremony")
    report = verify_json(tmp_path / "rec-ceremony")
    assert report["ok"], report
    assert {"V1", "V2", "V3", "V4"} <= set(report["checks"])  # type: ignore[arg-type]

    # --- voting ---------------------------------------------------------------------------------------
    for b in BALLOTS:
        proc = run(
            "voter",
            "encrypt",
            "--election",
            el,
            "--ballot",
            tmp_path / f"{b['id']}.json",
            "--device",
            "booth-1",
            "--out",
            tmp_path / f"{b['id']}.enc",
            passphrase=VOTER_PW,
        )
        assert "confirmation code:" in proc.stdout
    for bid in ("v1", "v2", "v3"):
        run("voter", "cast", tmp_path / f"{bid}.enc", "--election", el, passphrase=VOTER_PW)
    one_line_error(
        run("voter", "cast", tmp_path / "v1.enc", "--election", el, expect=2, passphrase=VOTER_PW),
        "already cast",
    )
    proc = run("voter", "challenge", tmp_path / "v4.enc", "--election", el, passphrase=VOTER_PW)
    nonce = proc.stdout.split("nonce released: ")[1].split()[0]
    # the voter's file is sealed (it holds the choices and the nonce): the nonce is not readable in
    # it, and with a wrong passphrase nothing is challenged
    assert bytes.fromhex(nonce) not in (tmp_path / "v4.enc").read_bytes()
    wrong = run("voter", "challenge", tmp_path / "v5.enc", "--election", el, expect=2, passphrase="wrong")
    one_line_error(wrong, "wrong passphrase or corrupted sealed file")
    assert not edir.ballot_file("v5").exists()
    # a voter file whose nonce does not open its ballot: the opening it would publish fails V13.N,
    # so nothing is challenged or published
    ctx, _ = edir.context()
    vb = files.open_voter_ballot(ctx.group, ctx.H_E, (tmp_path / "v5.enc").read_bytes(), lambda: VOTER_PW)
    forged = files.seal_voter_ballot(ctx.H_E, replace(vb, nonce=bytes(32)), VOTER_PW)
    (tmp_path / "v5-forged.enc").write_bytes(forged)
    bad = run(
        "voter", "challenge", tmp_path / "v5-forged.enc", "--election", el, expect=2, passphrase=VOTER_PW
    )
    one_line_error(bad, "ballot v5 refused: its nonce does not open it")
    assert not edir.ballot_file("v5").exists() and not edir.opening_file("v5").exists()
    # v1 copied under a new id (same code: V7.C), and again with a new B_aux, so a new valid code
    # (V7.H): the ballot box refuses both, before they could fail the record and block the tally
    v1 = files.open_voter_ballot(ctx.group, ctx.H_E, (tmp_path / "v1.enc").read_bytes(), lambda: VOTER_PW)
    aux = b"another booth"
    code = confirmation_code(ctx.H_E, [c.chi for c in v1.ballot.contests], aux, ctx.dialect)
    for name, copy, step in (
        ("same-code", replace(v1.ballot, ballot_id="copy"), "[V7.C]"),
        ("new-code", replace(v1.ballot, ballot_id="copy", B_aux=aux, code=code), "[V7.H]"),
    ):
        path = tmp_path / f"{name}.enc"
        path.write_bytes(files.seal_voter_ballot(ctx.H_E, replace(v1, ballot=copy), VOTER_PW))
        refused = run("voter", "cast", path, "--election", el, expect=2, passphrase=VOTER_PW)
        one_line_error(refused, f"ballot copy refused: {step}")
    assert not edir.ballot_file("copy").exists()
    run("voter", "challenge", tmp_path / "v5.enc", "--election", el, "--keep-nonce", passphrase=VOTER_PW)
    run(
        "voter",
        "check",
        tmp_path / "v4.enc",
        "--election",
        el,
        "--nonce",
        nonce,
        "--ballot",
        tmp_path / "v4.json",
        passphrase=VOTER_PW,
    )
    proc = run(
        "voter",
        "check",
        tmp_path / "v4.enc",
        "--election",
        el,
        "--nonce",
        nonce,
        "--ballot",
        tmp_path / "v1.json",
        expect=1,
        passphrase=VOTER_PW,
    )
    assert "does NOT" in proc.stdout

    run("official", "publish", "--election", el, "--out", tmp_path / "rec-voting")
    # every ballot verifies; what is missing is only what the tally and decryption will add:
    # a complete verification fails on exactly that, a partial one passes with warnings
    report = verify_json(tmp_path / "rec-voting")
    steps = {f["step"] for f in report["failures"]}  # type: ignore[union-attr]
    assert steps == {"V8.A", "V13.G"}, report["failures"]
    report = verify_json(tmp_path / "rec-voting", "--partial")
    assert report["ok"] and report["warnings"], report
    assert report["checks"]["V5"] > 0 and report["checks"]["V7"] == len(BALLOTS)  # type: ignore[index]

    # --- tally and decryption with guardian 2 absent ------------------------------------------------
    one_line_error(trustee("decrypt", el, tmp_path, 1, expect=2), "official tally")
    run("official", "tally", "--election", el)
    one_line_error(
        run("voter", "cast", tmp_path / "v1.enc", "--election", el, expect=2, passphrase=VOTER_PW),
        "already cast",
    )
    # a trustee decrypts nothing it was not meant to: a cast ballot slipped in among the ballots to
    # open, or tally cells that are not the cast ballots' aggregate, are refused before any secret
    ctx, _ = edir.context()
    honest_request = edir.request_file.read_bytes()
    req = files.decode_request(ctx.group, ctx.H_E, honest_request)
    cast = next(sb.ballot for sb in edir.iter_ballots(ctx.group, ctx.H_E) if sb.ballot.state.value == "cast")
    for forged, why in [
        (replace(req, ballots=(*req.ballots, cast)), "shares a ciphertext with cast ballot"),
        (replace(req, tally=replace(req.tally, ballots=req.tally.ballots + 1)), "not the aggregate"),
    ]:
        edir.request_file.write_bytes(files.encode_request(ctx.H_E, forged))
        one_line_error(trustee("decrypt", el, tmp_path, 1, expect=2), why)
    edir.request_file.write_bytes(honest_request)
    for i in (1, 3):
        trustee("decrypt", el, tmp_path, i)
    one_line_error(trustee("respond", el, tmp_path, 1, expect=2), "decrypt-challenge")
    run("official", "decrypt-challenge", "--election", el)
    trustee("respond", el, tmp_path, 3)  # guardian 3 answers first
    # a trustee directory serves one command at a time (two responds could share the nonces)
    with open(tmp_path / "t1" / ".lock", "a+b") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        one_line_error(trustee("respond", el, tmp_path, 1, expect=2), "in use by another e2evote command")
    # guardian 1's respond is interrupted after its nonces are erased (publishing fails): respond
    # cannot answer again (that could reuse the nonces for another challenge), decrypt commits afresh
    edir.response_file(1).mkdir()
    assert trustee("respond", el, tmp_path, 1, expect=2).stderr.strip().startswith("error:")
    edir.response_file(1).rmdir()
    one_line_error(trustee("respond", el, tmp_path, 1, expect=2), "commits afresh")
    assert "committing afresh" in trustee("decrypt", el, tmp_path, 1).stderr
    # guardian 3's answer was to the old challenges: withdrawn, and guardian 3 commits afresh too
    # (before: the old challenges were kept and combine named honest guardian 1 a cheater)
    assert (
        "guardian(s) 3 run `e2evote trustee decrypt` again"
        in run("official", "decrypt-challenge", "--election", el).stdout
    )
    trustee("decrypt", el, tmp_path, 3)
    run("official", "decrypt-challenge", "--election", el)
    trustee("respond", el, tmp_path, 1)
    trustee("respond", el, tmp_path, 3)
    one_line_error(trustee("respond", el, tmp_path, 1, expect=2), "already answered")
    # a guardian decrypts one request per election: a second, different one is refused (a coordinator
    # cannot run a forged request and then the honest one), unless the trustee passes --new-request
    other = replace(req, ballots=())
    edir.request_file.write_bytes(files.encode_request(ctx.H_E, other))
    one_line_error(trustee("decrypt", el, tmp_path, 1, expect=2), "already decrypted another request")
    edir.request_file.write_bytes(honest_request)

    # a cheating trustee is named
    ctx, _ = edir.context()
    rpath = edir.response_file(3)
    honest = rpath.read_bytes()
    req, i, secs = files.decode_response(ctx.group, ctx.H_E, honest)
    first = next(iter(secs))
    v = list(secs[first].v)
    v[0] = v[0] + ctx.group.scalar(1)
    secs[first] = replace(secs[first], v=tuple(v))
    rpath.write_bytes(files.encode_response(ctx.H_E, req, i, secs))
    one_line_error(run("official", "combine", "--election", el, expect=2), "guardian(s) 3")
    rpath.write_bytes(honest)

    proc = run("official", "combine", "--election", el)
    assert "Ann" in proc.stdout
    run("official", "publish", "--election", el, "--out", tmp_path / "rec-final")
    report = verify_json(tmp_path / "rec-final")
    assert report["ok"], report["failures"]
    summary = report["summary"]
    assert summary["cast"] == 3 and summary["challenged"] == 2  # type: ignore[index]
    assert summary["counts"]["Chair"] == {"Ann": 2, "Ben": 1, "Cy": 0}  # type: ignore[index]
    assert summary["counts"]["Board"] == {"Dee": 1, "Eve": 2, "Fay": 1, "Gus": 1}  # type: ignore[index]
    assert read_record(tmp_path / "rec-final").outcomes["Chair"]["winner"] == "Ann"
    assert verify_json(tmp_path / "rec-final", "--processes", "1") == report  # threads, one process
    assert "'--processes'" in run("verify", tmp_path / "rec-final", "--processes", "0", expect=2).stderr
    proc = run("verify", tmp_path / "rec-final", process=True)
    assert "verified" in proc.stdout

    # tampering with the published record is caught; bad paths are one-line errors
    target = next((tmp_path / "rec-final" / "ballots").iterdir())
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    proc = run("verify", tmp_path / "rec-final", expect=1, process=True)
    assert "[R1.B]" in proc.stdout
    one_line_error(run("verify", tmp_path / "nowhere", expect=2), "no such file")
    one_line_error(
        run("official", "open", "--election", tmp_path / "nowhere", expect=2), "not an election directory"
    )
    (el / "context.msgpack").write_bytes(b"\x00" + (el / "context.msgpack").read_bytes()[1:])
    one_line_error(run("official", "tally", "--election", el, expect=2), "context.msgpack")


def trustee_output(el: Path, ell: int) -> str:
    """Guardian ell's published share check, as text."""
    edir = ElectionDir(el)
    params = edir.parameters()
    _, complaints, _ = files.decode_share_check(
        params.group, params.H_B, edir.share_check_file(ell).read_bytes()
    )
    return "; ".join(f"complaint against {c.i}: {c.reason}" for c in complaints)


def test_create_refuses_an_outcome_rule_the_verifier_cannot_parse(tmp_path: Path) -> None:
    """H_M binds the manifest, so a rule V20.A cannot parse would fail every record of the election:
    `official create` refuses it, naming the contest, and creates nothing."""
    bad = json.loads(json.dumps(MANIFEST))
    bad["contests"][0]["outcome"] = {"method": "plurality"}
    (tmp_path / "manifest.json").write_text(json.dumps(bad))
    proc = create(tmp_path / "manifest.json", 3, 2, tmp_path / "el", expect=2)
    one_line_error(proc, "contest 'Chair': outcome rule")
    assert not (tmp_path / "el").exists()
