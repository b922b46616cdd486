"""``e2evote demo`` produces a record that ``e2evote verify`` accepts, and flipping any single byte of
any file of that record makes ``e2evote verify`` fail cleanly (specs/11-cli.md §demo, §verify)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app

ENV = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}


def e2evote(*args: str | Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return proc


def test_demo_default_group_verifies(tmp_path: Path) -> None:
    """The README's main job, in the EG 2.0 4096-bit group (about 20 s on 2 cores)."""
    rec = tmp_path / "demo"
    proc = e2evote(
        "demo",
        "--voters",
        "40",
        "--trustees",
        "5",
        "--quorum",
        "3",
        "--missing",
        "1",
        "--out",
        rec,
        "--json",
        "-q",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["ok"] and result["group"] == "modp-4096" and len(result["absent"]) == 1
    assert result["cast"] + result["challenged"]["nonce"] + result["challenged"]["guardians"] == 40
    assert result["paper"] == 4  # the default: a tenth of the voters on pre-encrypted paper
    assert sum(result["counts"]["Mayor"].values()) <= result["cast"]
    # ballots in chunks of max(16, ceil(40 / (2 cores))): one per worker process of the verification
    if len(os.sched_getaffinity(0)) > 1:
        assert len(list((rec / "ballots").iterdir())) >= 2
    proc = e2evote("verify", rec)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "verified" in proc.stdout and "V17 4," in proc.stdout


def test_demo_rejects_bad_options(tmp_path: Path) -> None:
    r = CliRunner().invoke(
        app,
        [
            "demo",
            "--trustees",
            "3",
            "--quorum",
            "3",
            "--missing",
            "1",
            "--group",
            "test",
            "--out",
            str(tmp_path / "x"),
        ],
        env=ENV,
    )
    assert r.exit_code == 2 and "at most 0 may be missing" in r.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "file").write_text("x")
    r = CliRunner().invoke(app, ["demo", "--group", "test", "--out", str(tmp_path / "full")], env=ENV)
    assert r.exit_code == 2 and "not an empty directory" in r.stderr


@pytest.mark.parametrize("group", ["test", "ed25519"])
def test_any_flipped_byte_fails_verification(tmp_path: Path, group: str) -> None:
    """Every file: six positions (first, last, between) in the test group; first and last in Ed25519."""
    rec = tmp_path / "demo"
    runner = CliRunner()
    r = runner.invoke(
        app,
        [
            "demo",
            "--voters",
            "12",
            "--trustees",
            "3",
            "--quorum",
            "2",
            "--missing",
            "1",
            "--challenged",
            "4",
            "--paper",
            "6",  # half the ballots on pre-encrypted paper, some of them challenged
            "--group",
            group,
            "--seed",
            "7",
            "--out",
            str(rec),
            "-q",
        ],
        env=ENV,
    )
    assert r.exit_code == 0, r.stdout + r.stderr
    r = runner.invoke(app, ["verify", str(rec), "-q"], env=ENV)
    assert r.exit_code == 0, r.stdout

    paths = sorted(p for p in rec.rglob("*") if p.is_file())
    assert {p.name for p in paths} >= {
        "RECORD.msgpack",
        "election.msgpack",
        "manifest.json",
        "tally.msgpack",
        "challenged.msgpack",
        "devices.msgpack",
    }
    flips = 0
    for path in paths:
        original = path.read_bytes()
        n = len(original)
        positions = {0, 1, n // 3, n // 2, (2 * n) // 3, n - 1} if group == "test" else {0, n - 1}
        for pos in sorted(positions):
            data = bytearray(original)
            data[pos] ^= 0x01 if pos % 2 else 0x80
            path.write_bytes(bytes(data))
            try:
                r = runner.invoke(app, ["verify", str(rec), "--json", "-q"], env=ENV)
            finally:
                path.write_bytes(original)
            where = f"{path.relative_to(rec)} byte {pos}"
            assert r.exception is None or isinstance(r.exception, SystemExit), f"{where}: {r.exception!r}"
            assert r.exit_code != 0, f"{where}: verification still passes"
            assert "Traceback" not in r.stdout + r.stderr, where
            if r.exit_code == 1:
                assert json.loads(r.stdout)["ok"] is False
            flips += 1
    assert flips >= 2 * len(paths)

    # and through the installed console script, once at the first and last byte of the index
    index = rec / "RECORD.msgpack"
    original = index.read_bytes()
    for pos in (0, len(original) - 1):
        data = bytearray(original)
        data[pos] ^= 0x01
        index.write_bytes(bytes(data))
        proc = e2evote("verify", rec)
        index.write_bytes(original)
        assert proc.returncode != 0 and "verification failed" in proc.stdout
    assert e2evote("verify", rec).returncode == 0


@pytest.mark.parametrize(
    ("scenario", "contest"),
    [("kg-referendum-2021", "Form of government"), ("kg-parliament-2021", None)],
)
def test_demo_scenario_json(tmp_path: Path, scenario: str, contest: str | None) -> None:
    """`e2evote demo --scenario NAME --json`: the last line is one JSON document with every contest's
    counts and, for list contests, a `seats` object (issue: election types)."""
    r = CliRunner().invoke(
        app,
        [
            "demo",
            "--scenario",
            scenario,
            "--group",
            "test",
            "--voters",
            "40",
            "--out",
            str(tmp_path / "s"),
            "--json",
            "-q",
        ],
        env=ENV,
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output.strip().splitlines()[-1])
    assert doc["ok"] and doc["scenario"] == scenario
    contests = doc["rounds"][0]["contests"]
    if contest is not None:
        assert sum(contests[contest]["counts"].values()) == 40
    else:
        seats = [c["seats"] for c in contests.values() if "seats" in c]
        assert len(seats) == 1 and sum(seats[0].values()) == 54
    r = CliRunner().invoke(
        app, ["demo", "--scenario", "nope", "--group", "test", "--out", str(tmp_path / "x")], env=ENV
    )
    assert r.exit_code == 2 and "unknown scenario" in r.output


def test_demo_scenario_refuses_the_default_demos_options(tmp_path: Path) -> None:
    """A scenario fixes its own guardians, challenges and ballots: options of the default demo are
    refused by name instead of being ignored, before any work."""
    for extra in (["--paper", "3"], ["--trustees", "4", "--challenged", "0"]):
        out = tmp_path / extra[0].strip("-")
        r = CliRunner().invoke(
            app,
            ["demo", "--scenario", "kg-referendum-2021", "--group", "test", "--out", str(out), *extra],
            env=ENV,
        )
        assert r.exit_code == 2, r.output
        named = [a for a in extra if a.startswith("--")]
        assert f"{', '.join(named)} apply to the default demo only" in r.output
        assert not out.exists()
