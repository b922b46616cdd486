"""Pre-encrypted ballots through the ``e2evote`` command (specs/13-pre-encryption.md, 11-cli.md):
``pre print`` writes printable ballots and the sealed primary nonces, ``pre record`` turns a code and
the marks (short codes, labels or null codes) into a voter file, which ``voter cast`` / ``voter
challenge`` submit; ``voter check`` opens the challenged one; the published record verifies V15-V18.

Runs in the 511-bit test group with the fast key-derivation setting (E2EVOTE_TEST_FAST_KDF=1).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .test_cli import MANIFEST, PASSPHRASES, one_line_error, open_election, run, verify_json

PRINTER_PW = "the printing office's passphrase"


def _trustee(step: str, d: Path, i: int) -> None:
    run("trustee", step, "--election", d / "el", "--trustee", d / f"t{i}", passphrase=PASSPHRASES[i])


def test_pre_encrypted_ballots_through_the_cli(tmp_path: Path) -> None:
    el = open_election(tmp_path, {**MANIFEST, "short_code": "omega2"})
    out = tmp_path / "printed"
    one_line_error(run("pre", "print", "--election", el, "--out", out, "--style", "nope", expect=2), "nope")
    run("pre", "print", "--election", el, "--out", out, "--count", "3", passphrase=PRINTER_PW)
    assert (os.stat(out / "nonces.sealed").st_mode & 0o777) == 0o600
    printed = [json.loads(p.read_text()) for p in sorted((out / "ballots").iterdir())]
    assert len(printed) == 3
    for ballot in printed:
        chair, board = ballot["contests"]
        assert [o["option"] for o in chair["options"]] == ["Ann", "Ben", "Cy"] and len(
            chair["null_codes"]
        ) == 1
        assert len(board["options"]) == 4 and len(board["null_codes"]) == 2
        codes = [o["short_code"] for o in chair["options"]] + chair["null_codes"]
        assert len(set(codes)) == len(codes)

    def code_of(ballot: dict[str, object], contest: int, option: str) -> str:
        c = ballot["contests"][contest]  # type: ignore[index]
        return next(o["short_code"] for o in c["options"] if o["option"] == option)  # type: ignore[no-any-return]

    marks = {
        "p1": (
            printed[0],
            {"Chair": [code_of(printed[0], 0, "Ann")], "Board": [code_of(printed[0], 1, "Eve")]},
        ),
        "p2": (printed[1], {"Chair": ["Ben"], "Board": ["Dee", "Gus"]}),
        "p3": (printed[2], {"Chair": [printed[2]["contests"][0]["null_codes"][0]], "Board": ["Fay"]}),
    }
    for bid, (_ballot, m) in marks.items():
        (tmp_path / f"{bid}.marks.json").write_text(json.dumps({"id": bid, "marks": m}))
    record = ["pre", "record", "--election", el, "--nonces", out / "nonces.sealed"]
    # errors: a code not printed, a mark that is no option or code, a wrong printer passphrase
    one_line_error(
        run(
            *record,
            "--code",
            "00" * 32,
            "--marks",
            tmp_path / "p1.marks.json",
            "--out",
            tmp_path / "x.enc",
            passphrase=PRINTER_PW,
            expect=2,
        ),
        "no ballot with code",
    )
    (tmp_path / "bad.marks.json").write_text(json.dumps({"id": "x", "marks": {"Chair": ["ZZZZZ"]}}))
    one_line_error(
        run(
            *record,
            "--code",
            printed[0]["code"],
            "--marks",
            tmp_path / "bad.marks.json",
            "--out",
            tmp_path / "x.enc",
            passphrase=PRINTER_PW,
            expect=2,
        ),
        "neither an option nor a short code",
    )
    one_line_error(
        run(
            *record,
            "--code",
            printed[0]["code"],
            "--marks",
            tmp_path / "p1.marks.json",
            "--out",
            tmp_path / "x.enc",
            passphrase="wrong",
            expect=2,
        ),
        "wrong passphrase",
    )
    for n, bid in enumerate(marks):
        proc = run(
            *record,
            "--code",
            printed[n]["code"],
            "--marks",
            tmp_path / f"{bid}.marks.json",
            "--out",
            tmp_path / f"{bid}.enc",
            passphrase=PRINTER_PW,
        )
        assert printed[n]["code"] in proc.stdout  # the recorded ballot keeps the printed code
    run("voter", "cast", tmp_path / "p1.enc", "--election", el, passphrase=PRINTER_PW)
    run("voter", "cast", tmp_path / "p2.enc", "--election", el, passphrase=PRINTER_PW)
    proc = run("voter", "challenge", tmp_path / "p3.enc", "--election", el, passphrase=PRINTER_PW)
    nonce = proc.stdout.split("nonce released: ")[1].split()[0]
    claimed = {"id": "p3", "votes": {"Chair": {"null1": 1}, "Board": {"Fay": 1}}}
    (tmp_path / "p3.claimed.json").write_text(json.dumps(claimed))
    check = ["voter", "check", tmp_path / "p3.enc", "--election", el, "--nonce", nonce]
    assert (
        "encrypts exactly"
        in run(*check, "--ballot", tmp_path / "p3.claimed.json", passphrase=PRINTER_PW).stdout
    )
    (tmp_path / "lie.json").write_text(json.dumps({"id": "p3", "votes": {"Board": {"Dee": 1}}}))
    assert (
        "does NOT hold"
        in run(*check, "--ballot", tmp_path / "lie.json", passphrase=PRINTER_PW, expect=1).stdout
    )
    # tally and publish: the record verifies, pre-encrypted ballots under V15-V18
    run("official", "tally", "--election", el)
    for i in (1, 2):
        _trustee("decrypt", tmp_path, i)
    run("official", "decrypt-challenge", "--election", el)
    for i in (1, 2):
        _trustee("respond", tmp_path, i)
    proc = run("official", "combine", "--election", el)
    run("official", "publish", "--election", el, "--out", tmp_path / "rec")
    report = verify_json(tmp_path / "rec")
    assert report["ok"], report["failures"]
    checks = report["checks"]
    assert checks["V17"] == checks["V18"] == 3 and checks["V15"] == 3 * 7  # type: ignore[index]
    counts = report["summary"]["counts"]  # type: ignore[index]
    assert counts == {
        "Chair": {"Ann": 1, "Ben": 1, "Cy": 0},
        "Board": {"Dee": 1, "Eve": 1, "Fay": 0, "Gus": 1},
    }


def test_pre_print_needs_a_short_code_function(tmp_path: Path) -> None:
    el = open_election(tmp_path, MANIFEST, 1, 1)
    one_line_error(
        run("pre", "print", "--election", el, "--out", tmp_path / "o", passphrase=PRINTER_PW, expect=2),
        "no short-code function",
    )
    assert not (tmp_path / "o").exists()


def test_a_mark_that_is_a_label_and_another_option_s_code_is_refused() -> None:
    """Options named 1, 2, 3 and numeric short codes (Ω5): a scanned "2" could be option 2 or the
    code of another option; recording (``record_pre_encrypted``, which `pre record` calls) refuses to guess,
    and records a code that is no label as the option it is printed beside."""
    import pytest

    from e2evote.errors import BallotError
    from e2evote.groups import TEST
    from e2evote.protocol.election import ElectionContext, ElectionParameters
    from e2evote.protocol.manifest import Manifest
    from e2evote.protocol.preencrypt import pre_encrypt_ballot, record_pre_encrypted, resolve_marks

    labels = [str(n) for n in range(256)]
    manifest = Manifest.from_json(
        {"label": "n", "short_code": "omega5", "contests": [{"label": "c", "options": labels[:3]}]}
    )
    ctx = ElectionContext(ElectionParameters(TEST, manifest, 1, 1), TEST.g_pow(TEST.random_scalar()))
    while True:
        ballot, xi = pre_encrypt_ballot(ctx, "default")
        sels = ballot.contests[0].selections
        clash = [s for s in sels if s.code in labels[:3] and s.code != s.label]
        if clash:
            break
    with pytest.raises(BallotError, match="give the other one"):
        record_pre_encrypted(ctx, "default", xi, {"c": [clash[0].code]}, ballot_id="x")
    fine = next(s for s in sels if s.code not in labels[:3])
    assert resolve_marks(ballot, {"c": [fine.code]}) == {"c": [fine.label]}
    marked = record_pre_encrypted(ctx, "default", xi, {"c": [fine.code]}, ballot_id="x")
    assert marked.choices == {"c": (fine.label,)} and marked.ballot.code == ballot.code
