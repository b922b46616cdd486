"""The ``e2evote`` command (specs/11-cli.md): ``verify``, ``demo`` and the role groups
``official``, ``trustee`` and ``voter``.

Exit codes: 0 success; 1 a verification found failures; 2 a one-line error (bad input, wrong
passphrase, a step run out of order, a tampered message). No command prints a traceback.
"""

from __future__ import annotations

import sys
from typing import NoReturn


def _interrupted() -> NoReturn:
    sys.stderr.write("error: interrupted\n")
    raise SystemExit(2)


try:  # a Ctrl-C while the (slow) imports run: one line, not a traceback (specs/11-cli.md §1)
    import json
    import time
    from pathlib import Path
    from typing import Annotated

    import typer
    from rich.markup import escape
    from rich.table import Table

    from cli import board, official, pre, trustee, voter
    from cli.common import cli_errors, fail, new_output_dir, out, parse_group, progress_bar
    from cli.demo import DemoConfig, Step, check_config, run_demo
    from e2evote.record.egk import is_egk_record
    from e2evote.record.native import is_native_record
    from e2evote.verifier import Report, verify_path
except KeyboardInterrupt:
    _interrupted()

__all__ = ["app", "verify", "demo", "print_report", "main"]

app = typer.Typer(
    name="e2evote",
    help="End-to-end verifiable elections (ElectionGuard 2.0): run, take part in and verify an election.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(official.app, name="official")
app.add_typer(trustee.app, name="trustee")
app.add_typer(voter.app, name="voter")
app.add_typer(board.app, name="board")
app.add_typer(pre.app, name="pre")

MAX_LISTED = 50


def print_report(report: Report) -> None:
    """A human-readable verification report on stdout."""
    s = report.summary
    if report.ok:
        out.print(
            f"[bold green]✓ verified[/] {escape(report.source)}: {s.get('ballots', 0)} ballots "
            f"({s.get('cast', 0)} cast, {s.get('challenged', 0)} challenged)"
        )
    else:
        out.print(
            f"[bold red]✗ verification failed[/] for {escape(report.source)}: "
            f"{len(report.failures)} failure(s)"
        )
        for f in report.failures[:MAX_LISTED]:
            out.print(f"  [{f.step}] {f.obj}" + (f": {f.detail}" if f.detail else ""), markup=False)
        if len(report.failures) > MAX_LISTED:
            out.print(f"  … and {len(report.failures) - MAX_LISTED} more (use --json for all)")
    for w in report.warnings:
        out.print(f"[bold yellow]warning:[/] {escape(w)}")
    if report.checks:
        out.print("checks: " + ", ".join(f"{k} {v}" for k, v in sorted(report.checks.items())), markup=False)


@app.command()
@cli_errors
def verify(
    path: Annotated[Path, typer.Argument(help="a native e2evote record or an egk-layout record directory")],
    json_out: Annotated[bool, typer.Option("--json", help="print the report as one JSON object")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
    partial: Annotated[
        bool,
        typer.Option("--partial", help="a record published mid-election: a missing tally or opening warns"),
    ] = False,
    processes: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="verify the ballot files on N local processes (default: one per core; 1: threads in one)",
        ),
    ] = None,
    dask: Annotated[
        str | None, typer.Option("--dask", help="verify the ballot chunks on the Dask scheduler at ADDRESS")
    ] = None,
) -> None:
    """Verify an election record independently; exit 0 iff every check passes."""
    if not path.exists():
        fail(f"{path}: no such file or directory")
    if not path.is_dir():
        fail(f"{path}: not a directory (a record is a directory)")
    if not is_native_record(path) and not is_egk_record(path):
        fail(f"{path} is neither an e2evote record nor an egk election record")
    with progress_bar(not quiet) as bar:
        task = bar.add_task("verifying", total=None)

        def step(phase: str, done: int, total: int) -> None:
            bar.update(task, description=f"verifying {phase}", completed=done, total=total or None)

        runner = None
        if dask is not None:
            from e2evote.verifier.distributed import dask_runner

            runner = dask_runner(dask)
        elif processes is None or processes > 1:
            from e2evote.verifier.distributed import process_runner

            runner = process_runner(processes)
        report = verify_path(path, progress=step, partial=partial, runner=runner)
    if json_out:
        typer.echo(report.to_json())
    else:
        print_report(report)
    raise typer.Exit(0 if report.ok else 1)


def _scenario(
    name: str, out_dir: Path, group_name: str, voters: int | None, seed: int, json_out: bool, quiet: bool
) -> None:
    """``e2evote demo --scenario NAME``: the field's election types end to end (specs/12)."""
    from e2evote.scenarios import run_scenario

    with progress_bar(not quiet) as bar, new_output_dir(out_dir):
        task = bar.add_task(name, total=None)

        def step(phase: str, done: int, total: int) -> None:
            bar.update(task, description=f"{name}: {phase}", completed=done, total=total or None)

        res = run_scenario(name, out_dir, group_name=group_name, voters=voters, seed=seed, progress=step)
    for r in res.rounds:
        mark = "[bold green]✓ verified[/]" if r.verified else "[bold red]✗ verification failed[/]"
        out.print(
            f"{mark} round {r.round}: {escape(r.manifest_label)} — {r.cast} ballots cast, record {r.path}"
        )
        for f in r.failures[:MAX_LISTED]:
            out.print(f"  {f}", markup=False)
        table = Table(title=f"Round {r.round}", title_justify="left")
        for col in ("contest", "counts", "outcome"):
            table.add_column(col)
        for c in r.contests:
            counts = ", ".join(f"{k} {v}" for k, v in c.counts.items())
            outcome = ""
            if c.outcome is not None:
                o = c.outcome
                if o.get("seats") is not None:
                    outcome = "seats: " + ", ".join(f"{k} {v}" for k, v in o["seats"].items() if v)
                elif o.get("runoff") is not None:
                    outcome = "runoff: " + " vs ".join(o["runoff"])
                elif o.get("winner") is not None:
                    outcome = f"winner: {o['winner']}"
            table.add_row(c.label, counts, outcome)
        out.print(table)
    if res.runoff_link is not None:
        out.print(
            "runoff link (V21): " + ("verified" if not res.runoff_link else f"FAILED: {res.runoff_link}")
        )
    if json_out:
        typer.echo(res.to_json())
    raise typer.Exit(0 if res.ok else 1)


@app.command()
@cli_errors
def demo(
    out_dir: Annotated[
        Path, typer.Option("--out", help="directory for the sealed election record (new or empty)")
    ],
    voters: Annotated[
        int | None, typer.Option(help="number of ballots [default: 100; a scenario's own size]")
    ] = None,
    scenario: Annotated[
        str | None,
        typer.Option(
            help="kg-parliament-2021, kg-referendum-2021 or tm-presidential-2022 (synthetic voters)"
        ),
    ] = None,
    trustees: Annotated[int | None, typer.Option(help="number of guardians n [default: 5]")] = None,
    quorum: Annotated[int | None, typer.Option(help="quorum k [default: 3]")] = None,
    missing: Annotated[int | None, typer.Option(help="guardians absent at decryption [default: 1]")] = None,
    group: Annotated[str, typer.Option(help="modp (EG 2.0, 4096-bit), ed25519 or test")] = "modp",
    challenged: Annotated[
        int | None,
        typer.Option(
            help="challenged ballots, half opened by nonce, half by guardians [default: min(4, voters - 1)]"
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="seed of the random votes (not of the cryptography)")
    ] = None,
    paper: Annotated[
        int | None,
        typer.Option(help="ballots voted on pre-encrypted paper (short codes) [default: voters // 10]"),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="end with one JSON line of results")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")] = False,
) -> None:
    """Run a complete election in-process, write its record to --out and verify it."""
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        fail(f"{out_dir} exists and is not an empty directory")
    if scenario is not None:
        given = [
            f"--{name}"
            for name, value in [
                ("trustees", trustees),
                ("quorum", quorum),
                ("missing", missing),
                ("challenged", challenged),
                ("paper", paper),
            ]
            if value is not None
        ]
        if given:  # a scenario fixes its own guardians and ballots (specs/12-election-types.md)
            fail(f"{', '.join(given)} apply to the default demo only, not to --scenario")
        _scenario(scenario, out_dir, parse_group(group).name, voters, seed or 1, json_out, quiet)
        return
    trustees = 5 if trustees is None else trustees
    quorum = 3 if quorum is None else quorum
    missing = 1 if missing is None else missing
    if voters is None:
        voters = 100
    if challenged is None:
        challenged = min(4, voters - 1)
    if paper is None:
        paper = voters // 10
    cfg = DemoConfig(out_dir, parse_group(group), voters, trustees, quorum, missing, challenged, seed, paper)
    try:
        check_config(cfg)  # before any work: a demo with nothing to tally would fail only at the end
    except ValueError as exc:
        fail(str(exc))
    t0 = time.perf_counter()
    with progress_bar(not quiet) as bar, new_output_dir(out_dir):

        def phase_bar(description: str, total: int) -> Step:
            task = bar.add_task(description, total=total)

            def step(_phase: str, done: int, total_: int) -> None:
                bar.update(task, completed=done, total=total_ or None)

            return step

        try:
            res = run_demo(cfg, phase_bar)
        except ValueError as exc:
            fail(str(exc))
    total = time.perf_counter() - t0
    report = res.report
    assert report is not None

    out.print(
        f"[bold]e2evote demo[/]: {cfg.group.name}, {trustees} guardians (quorum {quorum}, absent: "
        f"{', '.join(map(str, res.absent)) or 'none'}), {voters} ballots "
        f"({res.cast} cast, {res.opened_by_nonce} challenged and opened by nonce, "
        f"{res.opened_by_guardians} decrypted by the guardians; {res.paper} on pre-encrypted paper)"
    )
    out.print(f"H_E = {res.H_E.hex()}")
    counts = Table(title="Tally", title_justify="left")
    counts.add_column("contest")
    counts.add_column("option")
    counts.add_column("votes", justify="right")
    for contest, row in res.counts.items():
        for j, (option, n) in enumerate(row.items()):
            counts.add_row(contest if j == 0 else "", option, str(n))
    out.print(counts)
    for contest, outcome in res.outcomes.items():
        out.print(f"outcome of {contest}: winner {outcome.get('winner')}")
    timings = Table(title="Timings", title_justify="left")
    timings.add_column("phase")
    timings.add_column("seconds", justify="right")
    for name, secs in res.timings.items():
        timings.add_row(name, f"{secs:.2f}")
    timings.add_row("total", f"{total:.2f}")
    out.print(timings)
    print_report(report)
    out.print(f"record: {out_dir}  (check it again with: e2evote verify {out_dir})", markup=False)
    if json_out:
        typer.echo(
            json.dumps(
                {
                    "ok": report.ok,
                    "record": str(out_dir),
                    "group": cfg.group.name,
                    "guardians": trustees,
                    "quorum": quorum,
                    "absent": list(res.absent),
                    "ballots": voters,
                    "cast": res.cast,
                    "challenged": {"nonce": res.opened_by_nonce, "guardians": res.opened_by_guardians},
                    "paper": res.paper,
                    "counts": res.counts,
                    "outcomes": res.outcomes,
                    "H_E": res.H_E.hex(),
                    "timings": {k: round(v, 3) for k, v in {**res.timings, "total": total}.items()},
                    "failures": [
                        {"step": f.step, "object": f.obj, "detail": f.detail} for f in report.failures
                    ],
                },
                sort_keys=True,
            )
        )
    raise typer.Exit(0 if report.ok else 1)


def main() -> None:
    """Entry point of the ``e2evote`` console script and ``python -m cli.main``: a Ctrl-C that no
    command caught (e.g. while the arguments are parsed) is ``error: interrupted``, exit 2, like one
    inside a command (cli_errors), never a traceback."""
    try:
        app()
    except KeyboardInterrupt:
        _interrupted()


if __name__ == "__main__":
    main()
