"""Board monitor: detect forks and rollbacks from signed tree heads (specs/08-board.md §10, B3).

Each run fetches the latest STH, checks its signature, and proves it consistent with the STH stored
in ``state_file`` by the previous run; only then is the new STH stored. Any failure raises
:class:`~e2evote.board.errors.MonitorAlarm` — and leaves the state file untouched, so the evidence (two
signed, inconsistent heads) is kept.

With ``max_age_s``, a run also alarms when the latest STH is older than that by the monitor's clock
(B3.E): an idle board re-signs its head periodically (freshness STHs, specs/08-board.md §4.1), so an
old head means a frozen board or one withholding new events from this monitor.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from e2evote.board.errors import MonitorAlarm
from e2evote.board.merkle import verify_consistency
from e2evote.board.signing import SignedTreeHead
from e2evote.errors import E2EVoteError, EncodingError, VerificationError

__all__ = ["TreeHeadSource", "MonitorReport", "monitor", "load_state"]

STATE_VERSION = 1


class TreeHeadSource(Protocol):
    """Where a monitor reads tree heads: a :class:`Board` or a :class:`BoardClient`."""

    def latest_sth(self) -> SignedTreeHead: ...

    def consistency_proof(self, first: int, second: int) -> list[bytes]: ...


@dataclass(frozen=True, slots=True)
class MonitorReport:
    """Outcome of one monitor run: ``status`` is ``initial``, ``unchanged`` or ``extended``."""

    status: str
    previous: SignedTreeHead | None
    current: SignedTreeHead


def load_state(state_file: str | os.PathLike[str]) -> SignedTreeHead | None:
    """The STH stored by the last successful run (``None`` if there is no state file)."""
    path = Path(state_file)
    if not path.exists():
        return None
    try:
        d = json.loads(path.read_text("utf-8"))
        if not isinstance(d, dict) or d.get("version") != STATE_VERSION:
            raise EncodingError("unknown state-file version")
        return SignedTreeHead.from_json(d.get("sth"))
    except (ValueError, EncodingError) as exc:
        raise EncodingError(f"monitor state file {path}: {exc}") from None


def _save_state(state_file: Path, sth: SignedTreeHead) -> None:
    data = json.dumps({"version": STATE_VERSION, "sth": sth.to_json()}, indent=2, sort_keys=True)
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=state_file.parent, prefix=state_file.name, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, state_file)
    except OSError as exc:  # name the state file, not the temporary file next to it
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise type(exc)(exc.errno, exc.strerror, os.fspath(state_file)) from None
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def monitor(
    source: str | TreeHeadSource,
    state_file: str | os.PathLike[str],
    public_key: bytes,
    *,
    board_id: str | None = None,
    max_age_s: float | None = None,
    clock: Callable[[], int] | None = None,
) -> MonitorReport:
    """One monitor run against ``source`` (a board URL, a BoardClient or a Board); steps B3.A-B3.E.

    ``max_age_s``: alarm (B3.E, ``stale``) if the latest STH's timestamp is more than that many seconds
    behind ``clock()`` (milliseconds since the epoch; default the system clock). Without it, B3.E is
    skipped. Raises :class:`MonitorAlarm` with ``reason`` ``bad_signature``, ``wrong_board``,
    ``rollback``, ``fork``, ``time_reversal``, ``stale`` or ``unreachable``.
    """
    if max_age_s is not None and not max_age_s >= 0:
        raise ValueError("max_age_s must be >= 0")
    if isinstance(source, str):
        from e2evote.board.client import BoardClient

        with BoardClient(source) as client:
            return monitor(
                client, state_file, public_key, board_id=board_id, max_age_s=max_age_s, clock=clock
            )
    path = Path(state_file)
    previous = load_state(path)
    try:
        current = source.latest_sth()
    except (E2EVoteError, OSError) as exc:
        raise MonitorAlarm("unreachable", "B3.A", f"cannot fetch the tree head: {exc}") from None
    try:
        current.verify(public_key, step="B3.A")
    except VerificationError as exc:
        raise MonitorAlarm("bad_signature", "B3.A", exc.detail) from None
    want_id = board_id or (previous.board_id if previous else None)
    if want_id is not None and current.board_id != want_id:
        raise MonitorAlarm("wrong_board", "B3.A", f"board id {current.board_id!r} != {want_id!r}")
    status = "initial"
    if previous is not None:
        if current.tree_size < previous.tree_size:
            raise MonitorAlarm(
                "rollback", "B3.B", f"tree shrank from {previous.tree_size} to {current.tree_size} events"
            )
        if current.timestamp_ms < previous.timestamp_ms:
            raise MonitorAlarm("time_reversal", "B3.B", "tree head timestamp went backwards")
        if current.tree_size == previous.tree_size:
            if current.root_hash != previous.root_hash:
                raise MonitorAlarm("fork", "B3.C", f"two different roots for size {current.tree_size}")
            status = "unchanged"
        else:
            try:
                proof = source.consistency_proof(previous.tree_size, current.tree_size)
            except E2EVoteError as exc:
                raise MonitorAlarm("fork", "B3.C", f"no consistency proof: {exc}") from None
            try:
                verify_consistency(
                    previous.tree_size,
                    current.tree_size,
                    previous.root_hash,
                    current.root_hash,
                    proof,
                    step="B3.C",
                )
            except VerificationError as exc:
                raise MonitorAlarm("fork", "B3.C", exc.detail) from None
            status = "extended"
    if max_age_s is not None:  # B3.E, before B3.D: a stale head is not stored
        now_ms = (clock or _now_ms)()
        age_ms = now_ms - current.timestamp_ms
        if age_ms > max_age_s * 1000:
            raise MonitorAlarm(
                "stale", "B3.E", f"tree head is {age_ms / 1000:.1f} s old (more than {max_age_s:g} s)"
            )
    _save_state(path, current)  # B3.D
    return MonitorReport(status, previous, current)
