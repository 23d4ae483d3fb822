"""Both cores: map a function over chunks of work in worker processes.

OpenCC, ftfy and most of the pipeline are Python or hold the GIL, so threads
do not help; processes do. :func:`map_ordered` hands *chunks* (not single
items: one pickling round trip per chunk) to helper processes, works on
chunks itself while they are busy, and yields the results in input order,
so callers stream: they can write or fold each result before the rest are
done, and memory stays bounded by the chunks in flight.

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
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from itertools import chain
from multiprocessing.connection import wait
from typing import Any, TypeVar

__all__ = ["HELD_GC_THRESHOLDS", "default_workers", "hold_long_lived", "long_lived", "map_ordered", "refreeze_long_lived", "release_free_memory", "release_long_lived", "resolve_workers"]

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
    helper_queue: int = 2,
) -> Iterator[R]:
    """``map(fn, items)`` over ``workers`` processes (this one and
    ``workers - 1`` helpers), results in input order.

    ``fn`` must be a module-level function (it is pickled by reference) and
    its items and results picklable. At most ``in_flight`` chunks per
    process are taken ahead of the one being yielded, so a long input
    streams through in bounded memory. An exception in ``fn`` is raised
    here, at its item's turn; a helper that dies raises RuntimeError.
    ``inherit``: ``fn`` reads module state set before this call (the
    helpers are forked now, so they see it); where processes cannot fork,
    the work runs in this process instead. With ``inherit`` and a
    sequence of items (a ``range`` of indices, say), nothing is sent to
    the helpers: every process claims the next chunk from a shared
    counter as soon as it is free (see :func:`_claimed`), and
    ``helper_queue`` does not apply. ``helper_queue``: chunks a
    helper holds (running and waiting) before this process takes one
    itself; 2 keeps a helper busy on a stream of small chunks, 1 shares a
    few large ones evenly (with 2, the first two would both go to it).

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
    if inherit and isinstance(items, Sequence):
        if len(items) > max(1, chunk_size):
            with long_lived():
                yield from _claimed(fn, items, max(1, chunk_size), n, in_flight)
        else:
            yield from _run_chunk(fn, items)
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
        yield from _pooled(fn, first, second, chunks, n, in_flight, max(1, helper_queue))


_holds = 0  # open hold_long_lived() calls; the heap is unfrozen when the last one ends
_holds_lock = threading.Lock()  # the service runs requests on threads
# The collector's thresholds while a hold is open (each at least this):
# generation 0 every 100,000 net allocations instead of 700, and full
# collections almost never; at most about 100,000 objects of cyclic garbage
# wait for a collection, and the pipeline makes almost none. On the 50 MiB
# corpus the collector's time went from 0.93-0.99 s to 0.16-0.23 s.
HELD_GC_THRESHOLDS = (100_000, 50, 1000)
_saved_thresholds: tuple[int, int, int] | None = None  # the thresholds to put back


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

    While held, the collector also runs less often (see
    :data:`HELD_GC_THRESHOLDS`): a run makes long-lived objects faster than
    it can freeze them (each block's record while labelling, each clean
    article), and with the young generations collected every 700
    allocations, those were traversed again and again and each full
    collection (11 on the 50 MiB corpus) walked every one made since the
    last freeze: 1.0 s of the run's 12 went to the collector.

    >>> hold_long_lived(); release_long_lived(); gc.get_freeze_count() >= 0
    True
    """
    global _holds, _saved_thresholds
    with _holds_lock:
        _holds += 1
        if _holds == 1:
            _saved_thresholds = gc.get_threshold()
            gc.set_threshold(*(max(a, b) for a, b in zip(_saved_thresholds, HELD_GC_THRESHOLDS)))
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
    global _holds, _saved_thresholds
    with _holds_lock:
        _holds = max(0, _holds - 1)
        if _holds == 0:
            gc.unfreeze()
            if _saved_thresholds is not None:
                gc.set_threshold(*_saved_thresholds)
                _saved_thresholds = None


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
    helper_queue: int,
) -> Iterator[R]:
    """``n`` processes in all: ``n - 1`` helpers, and this one, which works
    on a chunk itself whenever every helper holds ``helper_queue``.

    Why not a ``ProcessPoolExecutor`` of ``n``: this process then only
    unpickled results, through the executor's threads, which wait for the
    GIL (5 ms a switch) at each hop; the workers sat idle between chunks,
    and on 2 cores the per-file stage ran no faster than in one process
    (50 MiB: 2.8 s against 2.4 s). A chunk done here costs no pickling,
    and the helpers' pipes are read and written by this thread directly.
    """
    helpers: list[_Helper] = []
    done: dict[int, tuple[bool, Any]] = {}  # chunk number -> (ok, results or error)
    limit = max(2, n * in_flight)  # chunks between the next to yield and the newest
    sent = yielded = 0
    try:
        for _ in range(n - 1):
            helpers.append(_Helper(fn))  # (in the try: one that fails to start stops the others)

        def collect(block: bool) -> None:
            for h in _ready(helpers, block):
                number, ok, value = h.receive()
                done[number] = (ok, value)

        def ready() -> Iterator[R]:
            nonlocal yielded
            while yielded in done:
                ok, value = done.pop(yielded)
                yielded += 1
                if not ok:
                    raise value
                yield from value

        for chunk in chain([first, second], chunks):
            collect(block=False)
            yield from ready()
            while sent - yielded >= limit:
                collect(block=yielded not in done)
                yield from ready()
            h = min(helpers, key=lambda h: h.outstanding)
            if h.outstanding < helper_queue:
                h.send(sent, chunk)
            else:
                done[sent] = _run_here(fn, chunk)
            sent += 1
        while yielded < sent:
            collect(block=yielded not in done)
            yield from ready()
    finally:
        for h in helpers:
            h.close()


def _claimed(fn: Callable[[T], R], items: Sequence[T], size: int, n: int, in_flight: int) -> Iterator[R]:
    """``n`` processes in all, each claiming the next chunk of ``items``
    (inherited by the forked helpers) from a shared counter when it is
    free; results in order.

    Why not :func:`_pooled` for inherited work: there a helper gets its
    next chunk only when this process is between chunks of its own, so
    with a few long, uneven chunks (one cluster each when merging) the
    helper sat idle while this process worked: on the 50 MiB corpus this
    process merged 22 of the 32 clusters, 2.6 s of work against the
    helpers' 1.9 s. Claiming needs nothing from this process.

    At most ``n * in_flight`` chunks are claimed beyond the next one to
    yield (a ticket each, returned as it is yielded), so results wait in
    memory for a bounded number of chunks.
    """
    ctx = _context()
    total = -(-len(items) // size)
    limit = max(2, n * in_flight)
    tickets = ctx.BoundedSemaphore(limit)
    counter = ctx.RawValue("q", 0)
    lock = ctx.Lock()
    helpers: list[_Claimer] = []
    done: dict[int, tuple[bool, Any]] = {}
    yielded = 0

    def claim(block: bool) -> int | None:
        if not tickets.acquire(block):
            return None
        with lock:
            number = counter.value
            if number >= total:
                tickets.release()
                return None
            counter.value = number + 1
        return number

    def chunk_of(number: int) -> Sequence[T]:
        return items[number * size : (number + 1) * size]

    def work(number: int) -> tuple[int, bool, Any]:
        return (number, *_run_here(fn, chunk_of(number)))

    try:
        for _ in range(n - 1):
            helpers.append(_Claimer(claim, work))
        while yielded < total:
            if yielded not in done:
                for h in _ready(helpers, block=False):
                    h.receive(done)
            if yielded not in done:
                number = claim(block=False)
                if number is not None:
                    done[number] = _run_here(fn, chunk_of(number))
                    continue
                for h in _ready(helpers, block=True):
                    h.receive(done)
                if yielded not in done and not any(h.expecting for h in helpers):
                    raise RuntimeError("a worker process stopped unexpectedly before its chunk was done")
                continue
            ok, value = done.pop(yielded)
            yielded += 1
            tickets.release()
            if not ok:
                raise value
            yield from value
    finally:
        for h in helpers:
            h.close(force=yielded < total)


class _Claimer:
    """A helper of :func:`_claimed`: claims chunks until none is left, and
    sends ``(number, ok, results or error)`` back, then ``None``."""

    def __init__(self, claim: Callable[[bool], int | None], work: Callable[[int], tuple[int, bool, Any]]) -> None:
        ctx = _context()
        self.conn, outbox = ctx.Pipe(duplex=False)
        _widen(self.conn)
        self._proc = ctx.Process(target=_claimer_main, args=(claim, work, outbox), daemon=True)
        self._proc.start()
        outbox.close()
        self.running = True

    def receive(self, done: dict[int, tuple[bool, Any]]) -> None:
        try:
            got = self.conn.recv()
        except (EOFError, OSError) as exc:
            self.running = False
            raise _stopped_error(self._proc) from exc
        if got is None:
            self.running = False
        else:
            number, ok, value = got
            done[number] = (ok, value)

    @property
    def expecting(self) -> bool:
        """Has this helper more to send?"""
        return self.running

    def close(self, force: bool) -> None:
        if force and self._proc.is_alive():
            self._proc.terminate()
        _reap(self._proc)
        self.conn.close()


def _claimer_main(claim: Callable[[bool], int | None], work: Callable[[int], tuple[int, bool, Any]], outbox: Any) -> None:
    """A claiming helper's life. Results go out on a thread, so a full
    pipe (this process is busy with a chunk of its own and not reading)
    does not stop the work."""
    import queue
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def send() -> None:
        while (msg := out.get()) is not None:
            if not _send_result(outbox, msg):
                return  # the caller is gone
        _send_result(outbox, None)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    while (number := claim(True)) is not None:
        out.put(work(number))
    out.put(None)
    sender.join()


# Pipe capacity asked for (Linux; the default is 64 KiB): a chunk or its
# results usually fit, so neither side waits on the other to read.
_PIPE_BYTES = 1 << 20


def _run_here(fn: Callable[[T], R], chunk: Sequence[T]) -> tuple[bool, Any]:
    try:
        return True, _run_chunk(fn, chunk)
    except Exception as exc:  # noqa: BLE001 (raised at the chunk's turn, as a helper's is)
        return False, exc


def _widen(conn: Any) -> None:
    try:
        import fcntl

        fcntl.fcntl(conn.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), _PIPE_BYTES)
    except (ImportError, OSError):
        pass  # not Linux, or above the system's limit: the default size works, more slowly


class _Helper:
    """One helper process: chunks go in through one pipe, ``(number, ok,
    results or error)`` come back through another."""

    def __init__(self, fn: Callable[[T], R]) -> None:
        ctx = _context()
        inbox_r, self._inbox = ctx.Pipe(duplex=False)
        self.conn, outbox_w = ctx.Pipe(duplex=False)
        _widen(inbox_r)
        _widen(self.conn)
        self._proc = ctx.Process(target=_helper_main, args=(fn, inbox_r, outbox_w), daemon=True)
        self._proc.start()
        inbox_r.close()
        outbox_w.close()
        self.outstanding = 0

    def send(self, number: int, chunk: list[Any]) -> None:
        try:
            self._inbox.send((number, chunk))
        except OSError as exc:
            raise _stopped_error(self._proc) from exc
        self.outstanding += 1

    def receive(self) -> tuple[int, bool, Any]:
        try:
            got: tuple[int, bool, Any] = self.conn.recv()
        except (EOFError, OSError) as exc:
            raise _stopped_error(self._proc) from exc
        self.outstanding -= 1
        return got

    def close(self) -> None:
        """Stop the helper: at once if it still has work (the caller gave up
        on the results), else once it reads the end of its queue."""
        try:
            if self.outstanding:
                self._proc.terminate()
            else:
                self._inbox.send(None)
        except OSError:
            pass
        _reap(self._proc)
        self._inbox.close()
        self.conn.close()

    @property
    def expecting(self) -> bool:
        """Has this helper results still to send?"""
        return self.outstanding > 0


def _stopped_error(proc: Any) -> RuntimeError:
    """The error for a helper that died before sending all it owed."""
    proc.join(1)  # for its exit code
    return RuntimeError(f"a worker process stopped unexpectedly (exit code {proc.exitcode})")


def _send_result(outbox: Any, msg: tuple[int, bool, Any] | None) -> bool:
    """Send a chunk's ``(number, ok, results or error)`` to the caller; an
    error that cannot be pickled goes as a RuntimeError naming it. False
    when the caller is gone."""
    try:
        outbox.send(msg)
    except (EOFError, OSError):
        return False
    except Exception as exc:  # noqa: BLE001 (a result or error that cannot be pickled)
        assert msg is not None
        number, _, value = msg
        outbox.send((number, False, RuntimeError(f"{type(value).__name__}: {value}; not picklable: {exc}")))
    return True


def _reap(proc: Any) -> None:
    """Wait for a helper process to end, killing it after 5 s."""
    proc.join(5)
    if proc.is_alive():
        proc.kill()
        proc.join()


H = TypeVar("H", "_Helper", "_Claimer")


def _ready(helpers: list[H], block: bool) -> list[H]:
    """The helpers with a message waiting (``block``: wait for one)."""
    by_conn = {h.conn: h for h in helpers if h.expecting}
    if not by_conn:
        return []
    return [by_conn[c] for c in wait(list(by_conn), timeout=None if block else 0)]


def _helper_main(fn: Callable[[T], R], inbox: Any, outbox: Any) -> None:
    """A helper's life: run each chunk that arrives, send back its results.

    A thread empties the inbox as chunks arrive, so the caller's send never
    waits on this process's own blocked send of results (a chunk larger
    than the pipe would otherwise deadlock the two). Ctrl-C is the
    caller's to handle: it stops the helpers itself.
    """
    import queue
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    todo: queue.SimpleQueue[Any] = queue.SimpleQueue()

    def receive() -> None:
        try:
            while True:
                msg = inbox.recv()
                todo.put(msg)
                if msg is None:
                    return
        except (EOFError, OSError):
            todo.put(None)

    threading.Thread(target=receive, daemon=True).start()
    while (msg := todo.get()) is not None:
        number, chunk = msg
        if not _send_result(outbox, (number, *_run_here(fn, chunk))):
            return  # the caller is gone
