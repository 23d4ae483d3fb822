"""Both cores: map a function over chunks of work in worker processes.

OpenCC, ftfy and most of the pipeline are Python or hold the GIL, so threads
do not help; processes do. :func:`map_ordered` sends *chunks* (not single
items: one pickling round trip per chunk) to a pool and yields the results
in input order, so callers stream: they can write or fold each result
before the rest are done, and memory stays bounded by the chunks in flight.

With one worker (or little work) everything runs in this process: no pool
start-up for small inputs, and the same code path for tests.

>>> list(map_ordered(len, ["a", "bb", "ccc"], workers=1))
[1, 2, 3]
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager, nullcontext
from typing import Any, TypeVar

__all__ = ["default_workers", "hold_long_lived", "long_lived", "map_ordered", "refreeze_long_lived", "release_free_memory", "release_long_lived", "resolve_workers"]

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """Processes to use when the caller says 0 ("auto"): the usable cores.

    >>> default_workers() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_workers(workers: int) -> int:
    """``workers`` itself when positive, else :func:`default_workers`.

    >>> resolve_workers(3), resolve_workers(0) == default_workers()
    (3, True)
    """
    return workers if workers > 0 else default_workers()


def _run_chunk(fn: Callable[[T], R], chunk: Sequence[T]) -> list[R]:
    return [fn(item) for item in chunk]


def _context() -> Any:
    # fork: workers inherit the imported modules and loaded tables (OpenCC,
    # the rule pack) instead of importing them again; spawn elsewhere.
    methods = mp.get_all_start_methods()
    return mp.get_context("fork" if "fork" in methods else "spawn")


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def map_ordered(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int = 0,
    chunk_size: int = 16,
    in_flight: int = 4,
    inherit: bool = False,
) -> Iterator[R]:
    """``map(fn, items)`` over ``workers`` processes, results in input order.

    ``fn`` must be a module-level function (it is pickled by reference) and
    its items and results picklable. At most ``in_flight`` chunks per worker
    are submitted ahead of the one being yielded, so a long input streams
    through in bounded memory. An exception in ``fn`` is raised here, at its
    item's turn. ``inherit``: ``fn`` reads module state set before this
    call (the workers are forked now, so they see it); where processes
    cannot fork, the work runs in this process instead.

    >>> list(map_ordered(abs, [-1, 2, -3], workers=2, chunk_size=1))
    [1, 2, 3]
    """
    n = resolve_workers(workers)
    if inherit and "fork" not in mp.get_all_start_methods():
        n = 1
    chunks = _chunks(items, max(1, chunk_size))
    if n == 1:
        for chunk in chunks:
            yield from _run_chunk(fn, chunk)
        return
    first = next(chunks, None)
    if first is None:
        return
    second = next(chunks, None)
    if second is None:  # one chunk: not worth a pool
        yield from _run_chunk(fn, first)
        return
    # Forked workers share the parent's pages until written; the cyclic GC
    # writes to every object it scans, so frozen objects (never scanned)
    # stay shared, and the parent stops rescanning them too.
    with long_lived() if inherit else nullcontext():
        yield from _pooled(fn, first, second, chunks, n, in_flight)


_holds = 0  # open hold_long_lived() calls; the heap is unfrozen when the last one ends
_holds_lock = threading.Lock()  # the service runs requests on threads


def hold_long_lived() -> None:
    """Leave every object alive now out of the cyclic GC (``gc.freeze``)
    until the matching :func:`release_long_lived`; call it again as more
    long-lived data arrives (each call is O(1)). Holds nest: the heap is
    unfrozen only when the last one is released.

    A run keeps millions of blocks and articles alive for its whole
    length; every full collection used to walk all of them (a quarter of
    a 50 MiB run's time) and, in forked workers, copy the pages it touched.
    They are freed by reference counting as usual when dropped; only
    collecting reference cycles among them waits for the release.

    >>> hold_long_lived(); release_long_lived(); gc.get_freeze_count() >= 0
    True
    """
    global _holds
    with _holds_lock:
        _holds += 1
        gc.freeze()


@contextmanager
def long_lived() -> Iterator[None]:
    """:func:`hold_long_lived` for the block, released however it ends.

    >>> with long_lived():
    ...     gc.get_freeze_count() >= 0
    True
    """
    hold_long_lived()
    try:
        yield
    finally:
        release_long_lived()


def refreeze_long_lived() -> None:
    """Freeze what was added since, inside an open :func:`hold_long_lived`."""
    with _holds_lock:
        if _holds:
            gc.freeze()


def release_long_lived() -> None:
    """End one :func:`hold_long_lived`; the last one unfreezes the heap."""
    global _holds
    with _holds_lock:
        _holds = max(0, _holds - 1)
        if _holds == 0:
            gc.unfreeze()


_LIBC: Any = None


def release_free_memory() -> bool:
    """Give the allocator's free pages back to the system (glibc's
    ``malloc_trim``); False where there is no such call.

    Before a fork: a free page that stays mapped is shared with the child,
    and when this process reuses it, the kernel copies it for the child
    too, which then holds a page it never uses. A released page is simply
    new memory of this process when reused.

    >>> release_free_memory() in (True, False)
    True
    """
    global _LIBC
    if _LIBC is None:
        try:
            import ctypes

            _LIBC = ctypes.CDLL("libc.so.6")
            _LIBC.malloc_trim.argtypes = [ctypes.c_size_t]
        except (OSError, AttributeError):
            _LIBC = False
    if not _LIBC:
        return False
    _LIBC.malloc_trim(0)
    return True


def _pooled(
    fn: Callable[[T], R],
    first: list[T],
    second: list[T],
    chunks: Iterator[list[T]],
    n: int,
    in_flight: int,
) -> Iterator[R]:
    with ProcessPoolExecutor(max_workers=n, mp_context=_context()) as pool:
        pending: deque[Future[list[R]]] = deque()
        pending.append(pool.submit(_run_chunk, fn, first))
        pending.append(pool.submit(_run_chunk, fn, second))
        limit = max(2, n * in_flight)
        for chunk in chunks:
            while len(pending) >= limit:
                yield from pending.popleft().result()
            pending.append(pool.submit(_run_chunk, fn, chunk))
        while pending:
            yield from pending.popleft().result()
