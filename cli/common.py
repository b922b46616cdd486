"""Shared pieces of the ``e2evote`` command: consoles, one-line errors, progress bars, options.

The CLI does no cryptography and touches no files itself: it parses options, calls the library
(e2evote.protocol, e2evote.record, e2evote.verifier) and prints (specs/11-cli.md).
"""

from __future__ import annotations

import fcntl
import functools
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Literal, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from e2evote.errors import E2EVoteError
from e2evote.groups import group_by_name
from e2evote.groups.base import Group

__all__ = [
    "out",
    "err",
    "CliError",
    "fail",
    "cli_errors",
    "progress_bar",
    "parse_group",
    "GROUP_ALIASES",
    "passphrase",
    "EXIT_ERROR",
    "new_output_dir",
]

#: exit code of a one-line error (bad input, wrong passphrase, step out of order); 1 = verification failed
EXIT_ERROR = 2

out = Console(highlight=False, soft_wrap=True)
"""standard output: results"""
err = Console(stderr=True, highlight=False, soft_wrap=True)
"""standard error: progress, notes, errors"""

GROUP_ALIASES = {
    "modp": "modp-4096",
    "modp-4096": "modp-4096",
    "ed25519": "ed25519",
    "test": "modp-test-511",
    "modp-test-511": "modp-test-511",
}


class CliError(Exception):
    """An error the CLI reports as one line (exit code 2)."""


def fail(message: str) -> NoReturn:
    raise CliError(message)


P = ParamSpec("P")
R = TypeVar("R")


def cli_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn library and OS errors into ``error: <one line>`` on stderr and exit code 2 (no traceback)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except typer.Exit:
            raise
        except CliError as exc:
            _die(str(exc))
        except E2EVoteError as exc:
            _die(str(exc))
        except OSError as exc:
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            _die(f"{where}{exc.strerror or exc}")
        except (ValueError, TypeError, KeyError, IndexError) as exc:  # bad input the library let through
            _die(f"malformed input ({type(exc).__name__}: {exc})")
        except (KeyboardInterrupt, typer.Abort):  # Ctrl-C, or end of input at a prompt
            _die("interrupted")

    return wrapper


def _die(message: str) -> NoReturn:
    first = " ".join(message.split())
    err.print(f"[bold red]error:[/] {escape(first)}", markup=True, highlight=False)
    raise typer.Exit(EXIT_ERROR)


@contextmanager
def new_output_dir(path: Path) -> Iterator[None]:
    """Guard a command that fills the output directory ``path`` (which must not exist or be empty):
    if the command fails or is interrupted, what it wrote is removed — the directory itself only if
    this command created it — so that a retry with the same ``--out`` works."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        fail(f"{path} exists and is not an empty directory")
    existed = path.exists()
    try:
        yield
    except BaseException:
        if not existed:
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_dir():
            for child in path.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        raise


LOCK_FILE = ".lock"
"""a private (trustee) directory's lock file"""
ELECTION_LOCK_FILE = ".election-lock"
"""the shared election directory's lock file (another name than a trustee's, so that one process never
waits for itself, whatever directories it is given)"""
ELECTION_LOCK_WAIT = 60.0
"""seconds a command waits for another one holding the election directory's lock"""


def lock_dir(
    d: Path, *, wait: float = 0.0, shared: bool = False, mode: int = 0o644, name: str = LOCK_FILE
) -> IO[bytes] | None:
    """A lock on directory ``d`` (``flock`` on ``d/name``), held while the returned file is open.

    ``wait``: seconds to wait for another e2evote command holding it, polling; then the command fails
    naming ``d``. ``shared``: a reader's lock, taken together with other readers; in a directory
    where the lock file cannot be created (read-only, so no e2evote writer can change it either) a
    reader gets None and goes on unlocked."""
    path = d / name
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW, mode)
    except OSError as exc:
        if shared and not path.exists():
            return None
        fail(f"cannot lock {d}: {exc.strerror or exc}")
    fh = os.fdopen(fd, "rb")
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fh, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
            return fh
        except BlockingIOError:
            if time.monotonic() >= deadline:
                fh.close()
                waited = f" (waited {wait:.0f} s)" if wait else ""
                fail(f"{d} is in use by another e2evote command{waited}; wait for it to finish")
            time.sleep(0.05)


@contextmanager
def election_locked(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Hold the election directory's lock (specs/11-cli.md §2) around a command's reads and writes of
    the ballot box and the tally: the checks a command makes (no such ballot yet, no tally yet, the
    device's last code) then still hold when it writes. Waits up to :data:`ELECTION_LOCK_WAIT`."""
    fh = lock_dir(path, wait=ELECTION_LOCK_WAIT, shared=shared, name=ELECTION_LOCK_FILE)
    try:
        yield
    finally:
        if fh is not None:
            fh.close()


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[Progress]:
    """A transient Rich progress display on stderr; nothing is drawn when ``enabled`` is false or
    stderr is not a terminal (updates are still accepted)."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not enabled,
    )
    with progress:
        yield progress


def parse_board_key(text: str, option: str = "--public-key") -> bytes:
    """A board's Ed25519 public key given in hex on the command line (32 bytes)."""
    if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
        fail(f"{option} must be 32 bytes in hex (64 hex digits)")
    return bytes.fromhex(text)


def parse_group(name: str) -> Group:
    """``modp`` (the EG 2.0 4096-bit group), ``ed25519`` or ``test`` (the 511-bit test group)."""
    full = GROUP_ALIASES.get(name.lower())
    if full is None:
        fail(f"unknown group {name!r} (choose modp, ed25519 or test)")
    return group_by_name(full)


PassphraseRole = Literal["trustee", "voter", "board", "printer"]


def passphrase(role: PassphraseRole, confirm: bool = False) -> str:
    """The passphrase of a keystore or sealed file (specs/11-cli.md §4.1): $E2EVOTE_<ROLE>_PASSPHRASE
    (``role`` upper-cased: one machine can hold a trustee's keystore and a board key under different
    passphrases), else $E2EVOTE_PASSPHRASE, else a hidden prompt (never a command-line argument)."""
    for name in (f"E2EVOTE_{role.upper()}_PASSPHRASE", "E2EVOTE_PASSPHRASE"):
        env = os.environ.get(name)
        if env is not None:
            if not env:
                fail(f"{name} is empty")
            return env
    value: Any = typer.prompt(
        f"{role.capitalize()} passphrase", hide_input=True, confirmation_prompt=confirm, err=True
    )
    if not isinstance(value, str) or not value:
        fail("the passphrase must not be empty")
    return value
