"""A shared worker pool for GIL-free exponentiation (specs/02-groups.md §Parallelism).

gmpy2's ``powmod_exp_list``/``powmod_base_list`` and libsodium calls through cffi release the GIL,
so variable-base exponentiations run on every core from threads. The pool is process-wide
infrastructure, not protocol state: groups stay values.

``run_chunks`` submits work and returns futures; ``start_shared``/``map_shared`` hand chunks out from a
shared counter so that the thread waiting for the result computes the chunks no worker has started
(work that is many short GIL-free calls, e.g. libsodium's, gains most from that).
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

__all__ = [
    "pool",
    "workers",
    "set_workers",
    "run_chunks",
    "map_shared",
    "start_shared",
    "SharedJob",
    "in_worker",
]

T = TypeVar("T")
R = TypeVar("R")

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_local = threading.local()
_override: int | None = None


def _mark_worker() -> None:
    _local.worker = True


def in_worker() -> bool:
    """True on one of the pool's threads (work submitted from there must not wait on the pool)."""
    return getattr(_local, "worker", False)


def _reset_after_fork() -> None:
    """A forked child inherits the pool object but none of its threads: start afresh (its one thread
    is not a pool worker, even if a worker forked it)."""
    global _pool, _lock, _local
    _pool = None  # the override (set_workers) is kept: a forked worker sets its own
    _lock = threading.Lock()
    _local = threading.local()


os.register_at_fork(after_in_child=_reset_after_fork)


def set_workers(n: int | None) -> None:
    """Fix this process's number of worker threads (``None``: back to the default). A worker
    process that has a core to itself sets 1 before its first exponentiation; the pool, created on
    first use, then has one thread, and the range checks use shared-squaring powers."""
    global _override
    if n is not None and n < 1:
        raise ValueError("the number of worker threads must be at least 1")
    if _pool is not None:
        raise RuntimeError("set_workers must be called before the pool is first used in this process")
    _override = n


def workers() -> int:
    """Number of worker threads: :func:`set_workers`, else E2EVOTE_THREADS, else the number of
    usable cores."""
    if _override is not None:
        return _override
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
            _pool = ThreadPoolExecutor(
                max_workers=workers(), thread_name_prefix="e2evote-pow", initializer=_mark_worker
            )
        return _pool


def run_chunks(
    fn: Callable[[Sequence[T]], list[R]], items: Sequence[T], chunk: int = 8
) -> list[Future[list[R]]]:
    """Submit ``fn`` over consecutive chunks of ``items``; results in order via the futures."""
    p = pool()
    return [p.submit(fn, items[i : i + chunk]) for i in range(0, len(items), chunk)]


class SharedJob(Generic[T, R]):
    """``fn`` over consecutive chunks of ``items``, started on the pool's threads at once; the thread
    that calls :meth:`result` takes the chunks no worker has started yet instead of only waiting.

    Chunks are handed out from a shared counter, so the work spreads over whichever threads are free
    (a pool busy with earlier work leaves it to the caller). If ``fn`` raises, the exception of the
    lowest-numbered failing chunk is re-raised by :meth:`result` once every started chunk has
    finished (the chunks before a failing one were all handed out before it, so they all ran).
    """

    __slots__ = ("_fn", "_items", "_chunk", "_n", "_results", "_errors", "_counter", "_helpers")

    def __init__(
        self, fn: Callable[[Sequence[T]], list[R]], items: Sequence[T], chunk: int, helpers: int
    ) -> None:
        self._fn = fn
        self._items = items
        self._chunk = chunk
        self._n = (len(items) + chunk - 1) // chunk
        self._results: list[list[R] | None] = [None] * self._n
        self._errors: dict[int, BaseException] = {}
        self._counter = itertools.count()  # next() on a count is atomic under the GIL
        helpers = min(helpers, self._n)
        self._helpers = [pool().submit(self._drain) for _ in range(helpers)] if helpers > 0 else []

    def _drain(self) -> None:
        n, chunk, items, fn = self._n, self._chunk, self._items, self._fn
        while True:
            k = next(self._counter)
            if k >= n or self._errors:
                return
            try:
                self._results[k] = fn(items[k * chunk : (k + 1) * chunk])
            except BaseException as exc:  # re-raised by result(), in chunk order
                self._errors[k] = exc
                return

    def result(self) -> list[R]:
        """Help with the chunks left, wait for the rest; the results concatenated in order."""
        self._drain()
        for f in self._helpers:
            f.result()
        if self._errors:
            raise self._errors[min(self._errors)]
        out: list[R] = []
        for r in self._results:
            assert r is not None
            out.extend(r)
        return out


def start_shared(fn: Callable[[Sequence[T]], list[R]], items: Sequence[T], chunk: int = 8) -> SharedJob[T, R]:
    """Start ``fn`` over chunks of ``items`` on the pool (see :class:`SharedJob`). On a pool thread
    (nested use), or in a process with one worker thread (a worker process that has one core: a helper
    thread would only take turns with the caller), nothing is submitted and :meth:`SharedJob.result`
    runs every chunk inline."""
    return SharedJob(fn, items, chunk, 0 if in_worker() or workers() == 1 else workers())


def map_shared(fn: Callable[[Sequence[T]], list[R]], items: Sequence[T], chunk: int = 8) -> list[R]:
    """``fn`` over consecutive chunks of ``items`` on the pool's threads *and* the calling thread
    (which takes chunks too instead of only waiting); the results concatenated in order, the first
    failure re-raised (see :class:`SharedJob`). On a pool thread everything runs inline."""
    n = (len(items) + chunk - 1) // chunk
    if n <= 1 or in_worker():
        return fn(items) if items else []
    return SharedJob(fn, items, chunk, min(workers(), n - 1)).result()
