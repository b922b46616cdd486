"""A shared worker pool for GIL-free exponentiation (specs/02-groups.md §Parallelism).

gmpy2's ``powmod_exp_list``/``powmod_base_list`` and libsodium calls through cffi release the GIL,
so variable-base exponentiations run on every core from threads. The pool is process-wide
infrastructure, not protocol state: groups stay values.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

__all__ = ["pool", "workers", "run_chunks"]

T = TypeVar("T")
R = TypeVar("R")

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _reset_after_fork() -> None:
    """A forked child inherits the pool object but none of its threads: start afresh."""
    global _pool, _lock
    _pool = None
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)


def workers() -> int:
    """Number of worker threads: E2EVOTE_THREADS, else the number of usable cores."""
    env = os.environ.get("E2EVOTE_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def pool() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=workers(), thread_name_prefix="e2evote-pow")
        return _pool


def run_chunks(
    fn: Callable[[Sequence[T]], list[R]], items: Sequence[T], chunk: int = 8
) -> list[Future[list[R]]]:
    """Submit ``fn`` over consecutive chunks of ``items``; results in order via the futures."""
    p = pool()
    return [p.submit(fn, items[i : i + chunk]) for i in range(0, len(items), chunk)]
