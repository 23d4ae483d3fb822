"""Grouping articles that are copies of one another.

Candidates come from two indexes over each article's shingles (character
5-grams of the boilerplate-free match key; word 3-grams for Latin text):

* **MinHash LSH** (banded, :class:`~cleaner.index.BandIndex`) finds
  near-duplicates: copies with edits, masks, other punctuation or script;
* a **sampled-shingle index** finds containment: a truncated copy shares all
  of its shingles with the full one, so it shares every *sampled* shingle
  (those whose hash is 0 modulo ``sample_mod``) too, whatever its Jaccard.

Every candidate pair is **verified** on the exact shingle sets: Jaccard at
least ``jaccard_min``, or the smaller one contained in the larger at least
``containment_min`` (and long enough, ``min_shingles``, that a short text
cannot collide by accident).

Clusters are built **without chaining**: the best-connected article (then the
most complete) starts a cluster; its verified neighbours join if they are far
from no member already in (two noisy copies of one article may fall below the
verification thresholds with each other, but distinct articles share almost
nothing: Jaccard under ``compatible_jaccard`` and containment under
``compatible_containment``), except that two pieces of the centre (truncated or
partial copies) may be far from each other when they come from overlapping
parts of it. A~B and B~C with A far from C therefore never puts A and C
together.
"""

from __future__ import annotations

import multiprocessing as mp
import re
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import chain, islice
from typing import Any, NamedTuple

import numpy as np
import xxhash

from .config import ClusterConfig
from .index import BandIndex
from .mojibake import clear_line_caches
from .normalize import match_key_codes
from .parallel import long_lived, map_ordered, refreeze_long_lived, release_free_memory, resolve_workers
from .segment import parse_ordinal
from .shingle import key_code_hashes, match_keys, shingle_hashes, shingle_hashes_text
from .sketch import MinHasher, sorted_unique
from .spill import SpilledArrays, sizes_of



_ASCII_LETTERS = bytes(range(ord("A"), ord("Z") + 1)) + bytes(range(ord("a"), ord("z") + 1))


def _mostly_latin(text: str) -> bool:
    """More than half of the first 2000 characters are ASCII letters.

    >>> _mostly_latin("The cat sat."), _mostly_latin("同志们: hello")
    (True, False)
    """
    head = text[:2000]
    ascii_bytes = head.encode("ascii", "ignore")  # C speed, not a loop per character
    letters = len(ascii_bytes) - len(ascii_bytes.translate(None, _ASCII_LETTERS))
    return letters > 0.5 * max(1, len(head))


# A top-level section heading: 三、… / 3、… (not (三), which is a sub-level).
_SECTION = re.compile(r"^\s*([一二三四五六七八九十百]{1,3}|[0-9０-９]{1,2})\s*、")
_OPENING = re.compile(r"^[^。！？!?]{1,30}[:：]\s*[?？]*$")


def section_ordinals(paragraphs: Sequence[str]) -> list[int]:
    """Ordinals of the top-level section headings, in order.

    >>> section_ordinals(["同志们:", "一、认清形势", "正文。", "二、明确目标"])
    [1, 2]
    """
    out: list[int] = []
    for p in paragraphs:
        m = _SECTION.match(p)
        if m:
            value = parse_ordinal(m.group(1))
            if value is not None:
                out.append(value)
    return out


def continues(prev_title: str, prev: Sequence[str], title: str, cur: Sequence[str]) -> bool:
    """Is ``cur`` the rest of the speech ``prev`` (the part right before it in
    the same file)? Compilations split a long speech over two parts: the
    second has the same title (or none), no opening salutation, and its
    first section heading carries on the first part's numbering.

    >>> continues("讲话", ["同志们:", "一、甲", "二、乙"], "讲话", ["三、丙", "正文。"])
    True
    >>> continues("讲话", ["同志们:", "一、甲", "二、乙"], "讲话", ["同志们:", "一、丙"])
    False
    """
    if title and prev_title and title != prev_title:
        return False
    if not cur or _OPENING.match(cur[0]):
        return False
    before, after = section_ordinals(prev), section_ordinals(cur)
    if not before or not after:
        return False
    # The continuation opens with (or within its first paragraphs reaches)
    # the next section number.
    first_heading = next((i for i, p in enumerate(cur) if _SECTION.match(p)), None)
    return first_heading is not None and first_heading <= 2 and after[0] == before[-1] + 1


@dataclass(frozen=True, slots=True)
class Similarity:
    """Verified similarity of two articles' shingle sets."""

    jaccard: float
    containment: float  # of the smaller set in the larger
    smaller: int  # size of the smaller set

    def same_article(self, cfg: ClusterConfig, words: bool = False) -> bool:
        """Verified copies? ``words``: both are shingled by word n-grams,
        which are far more specific than character 5-grams, so a smaller
        share of reused text already is reuse."""
        if self.jaccard >= cfg.jaccard_min:
            return True
        floor = cfg.word_containment_min if words else cfg.containment_min
        return self.smaller >= cfg.min_shingles and self.containment >= floor


def intersection_size(a: np.ndarray, b: np.ndarray) -> int:
    """``|A ∩ B|`` of two sorted unique arrays.

    Sets of similar size are merged: a stable sort of the two sorted runs
    laid end to end is one linear merge (timsort), and every common value
    then sits next to itself: about 5x faster than a binary search per
    value, which still wins when one set is much smaller.

    >>> intersection_size(np.array([1, 3, 5], dtype=np.uint64), np.array([2, 3, 4, 5], dtype=np.uint64))
    2
    """
    if len(a) > len(b):
        a, b = b, a
    if len(a) == 0:
        return 0
    if len(a) * 16 < len(b):
        pos = np.searchsorted(b, a)
        pos[pos == len(b)] = len(b) - 1
        return int(np.count_nonzero(b[pos] == a))
    merged = np.concatenate((a, b))
    merged.sort(kind="stable")
    return int(np.count_nonzero(merged[1:] == merged[:-1]))


def intersection_size_reference(a: np.ndarray, b: np.ndarray) -> int:
    """The plain definition, for tests: ``len(set(a) & set(b))``.

    >>> intersection_size_reference(np.array([1, 3]), np.array([3, 4]))
    1
    """
    return len(set(np.asarray(a).tolist()) & set(np.asarray(b).tolist()))


def similarity(a: np.ndarray, b: np.ndarray) -> Similarity:
    """Exact Jaccard and containment of two sorted unique hash arrays.

    >>> s = similarity(np.array([1, 2, 3], dtype=np.uint64), np.array([1, 2, 3, 4, 5, 6], dtype=np.uint64))
    >>> round(s.jaccard, 2), s.containment, s.smaller
    (0.5, 1.0, 3)
    """
    return _similarity_of(intersection_size(a, b), len(a), len(b))


def _similarity_of(inter: int, na: int, nb: int) -> Similarity:
    """The :class:`Similarity` of two sets of ``na`` and ``nb`` hashes that
    share ``inter``."""
    if na == 0 or nb == 0:
        return Similarity(0.0, 0.0, 0)
    smaller = min(na, nb)
    return Similarity(inter / (na + nb - inter), inter / smaller, smaller)


# Half-width of the Jaccard interval trusted from a 128-value MinHash
# estimate: its standard error is at most 0.045, so 0.15 is over 3 of them.
ESTIMATE_MARGIN = 0.15


class _Leaders(NamedTuple):
    """What the leader pass leaves for linking: the leaders, each one's
    satellites and guard, and leader pairs linked through a common copy."""

    leaders: list[int]
    satellites: dict[int, list[int]]
    guards: dict[int, list[int]]
    bridges: set[tuple[int, int]]


class _SampleOwners:
    """The texts indexed under each sampled shingle hash. Leaders are
    always added; satellites only while a hash has fewer than ``cap``
    owners (enough to be found through, without growing with the copies).

    Kept in numpy arrays, not a dict of lists (70 MB of Python objects at
    200 MiB). An entry is one ``uint64``: the hash in the high 32 bits, then
    the arrival number of the :meth:`add` that made it and a leader bit, so
    that sorting entries sorts them by hash and, within a hash, by arrival.
    Entries are appended to a log; the log is sorted into a *level* when it
    holds ``log_size`` entries, or ``SCAN_LIMIT`` when :meth:`counts` is
    asked, and the newest level is merged into the one before while that
    one is under ``GROWTH`` times its size. A look-up then searches a few
    sorted levels and a short log, and only for hashes whose bit is set in
    a bitmap of the hashes added: a log of up to 65,536 entries searched at
    every look-up took most of the pass on texts that copy nothing, where
    every text is looked up and every leader's samples logged. Hashes are
    the low 32 bits that clustering's shingle sets keep
    (:func:`shingle_set32`), and stored so; wider values raise. An entry
    counts if it is a leader's or among its hash's first ``cap``: that is
    the dict's rule, since a hash takes every entry until it has ``cap``
    (tested against :class:`_SampleOwnersReference`). Entries that can
    never count are dropped whenever the oldest level takes a merge.

    >>> owners = _SampleOwners(cap=1)
    >>> owners.add(0, np.array([8, 16], dtype=np.uint32), capped=False)
    >>> owners.add(1, np.array([16, 24], dtype=np.uint32), capped=True)
    >>> sorted(owners.counts(np.array([16, 24], dtype=np.uint32)).items())
    [(0, 1), (1, 1)]
    """

    GROWTH = 4
    # A look-up searches a log of up to this many entries as it is, and
    # sorts a longer one into a level first.
    SCAN_LIMIT = 1024

    def __init__(self, cap: int, log_size: int = 1 << 16, owners: int = 2**31) -> None:
        """``owners``: a bound on the texts' numbers (narrower arrays below 2**31)."""
        self.cap = cap
        self.log_size = log_size
        # Arrival number -> the text that added (an entry holds the number).
        self._owners = np.zeros(1024, dtype=np.int32 if owners <= 2**31 else np.int64)
        self._arrivals = 0
        # Sorted levels of entries, oldest first.
        self._levels: list[np.ndarray] = []
        # Hashes with ``cap`` entries or more in the oldest level: a
        # satellite's entries for them would not count, so they are not kept.
        # Copies share most samples, so most of a satellite's go here.
        self._full = np.zeros(0, dtype=np.uint32)
        # The log: entries in arrival order, in an array grown as needed.
        self._log = np.zeros(1024, dtype=np.uint64)
        self._logged = 0
        # One bit per range of hashes, set when an entry of the range is
        # added: a look-up searches the levels only for hashes whose bit is
        # set (texts that copy nothing find few). 2 MiB at most.
        bits = min(max((owners * 4096 - 1).bit_length(), 16), 24)  # 4,096 a text, a power of two
        self._seen = np.zeros(1 << (bits - 3), dtype=np.uint8)
        self._seen_shift = np.uint32(32 - bits)

    def add(self, x: int, sampled: np.ndarray, capped: bool) -> None:
        """Index ``x`` under ``sampled`` (sorted, unique)."""
        sampled = _hashes32(sampled)
        if capped and len(self._full) and len(sampled):
            at = np.searchsorted(self._full, sampled)
            at[at == len(self._full)] = 0
            sampled = sampled[self._full[at] != sampled]
        if not len(sampled):
            return
        arrival = self._arrivals
        if arrival >= _MAX_ARRIVALS:
            raise ValueError(f"more than {_MAX_ARRIVALS} texts indexed")
        self._arrivals += 1
        if arrival == len(self._owners):
            self._owners = np.resize(self._owners, 2 * arrival)
        self._owners[arrival] = x
        a, b = self._logged, self._logged + len(sampled)
        if b > len(self._log):
            self._log = np.resize(self._log, max(b, 2 * len(self._log)))
        np.left_shift(sampled, 32, out=self._log[a:b], dtype=np.uint64)
        self._log[a:b] |= np.uint64(arrival << 1 | (not capped))
        self._logged = b
        if b >= self.log_size:
            self._sort_log()

    def _sort_log(self) -> None:
        """The log becomes the newest level; levels are merged, newest into
        the one before, while that one is under ``GROWTH`` times its size."""
        if not self._logged:
            return
        levels = self._levels
        # Entries are distinct, so any sort will do: a short log is a few
        # long sorted runs (a leader's samples), which timsort merges 4x
        # faster; a long one is a satellite's few at a time (quicksort).
        n = self._logged
        level = np.sort(self._log[:n], kind="stable" if n <= 4 * self.SCAN_LIMIT else None)
        levels.append(level)
        self._logged = 0
        at = (level >> np.uint64(32 + int(self._seen_shift))).astype(np.uint32)
        np.bitwise_or.at(self._seen, at >> np.uint32(3), np.left_shift(1, at & np.uint32(7), dtype=np.uint8))
        while len(levels) > 1 and len(levels[-2]) < self.GROWTH * len(levels[-1]):
            newer = levels.pop()
            levels.append(self._merged(levels.pop(), newer, oldest=not levels))

    def _merged(self, older: np.ndarray, newer: np.ndarray, oldest: bool) -> np.ndarray:
        merged = np.concatenate((older, newer))
        del older
        merged.sort(kind="stable")  # two sorted runs: one linear merge
        if not oldest:
            return merged
        # Ranks here are the hashes' own (nothing is older): a hash is full
        # once it has an entry at rank cap - 1, and satellites' entries past
        # cap never count.
        # Views, not copies: this merge's peak bounds the pass's memory on
        # large runs (at 200 MiB its temporaries were a few MB of the peak).
        ranks = run_ranks(_field(merged, np.uint32, 32))
        self._full = _field(merged, np.uint32, 32)[ranks == self.cap - 1]
        keep = ranks < self.cap
        del ranks
        keep |= (_field(merged, np.uint8, 0) & np.uint8(1)).view(bool)
        return merged if keep.all() else merged[keep]  # (leaders only: no copy)

    def counts(self, sampled: np.ndarray) -> Counter[int]:
        """How many of ``sampled`` (sorted, unique) each indexed text has."""
        sampled = _hashes32(sampled)
        if not len(sampled):
            return Counter()
        if self._logged > self.SCAN_LIMIT:
            self._sort_log()
        found: list[np.ndarray] = []
        # The hashes' entries in the levels, oldest first: ``before`` of them
        # precede a hash's entries in the next level. Only hashes whose bit
        # is set can be in a level.
        at = sampled >> self._seen_shift
        bit = (self._seen[at >> np.uint32(3)] >> (at & np.uint32(7)).astype(np.uint8)) & np.uint8(1)
        maybe = np.flatnonzero(bit)
        keys = sampled[maybe]
        before_keys = np.zeros(len(keys), dtype=np.int64)
        starts = np.left_shift(keys, 32, dtype=np.uint64)  # a hash's entries: (hash, 0) up to (hash, all ones)
        for level in self._levels if len(keys) else ():
            lo = np.searchsorted(level, starts)
            # Most hashes are in no level (texts that copy nothing): their
            # ends are not searched for.
            there = np.flatnonzero(lo < len(level))
            there = there[(level[lo[there]] >> np.uint64(32)) == keys[there]]
            if not len(there):
                continue
            n = np.zeros(len(keys), dtype=np.int64)
            n[there] = np.searchsorted(level, starts[there] | np.uint64(0xFFFFFFFF)) - lo[there]
            total = int(n.sum())
            first = np.cumsum(n) - n  # where each hash's entries start among those taken
            within = np.arange(total) - np.repeat(first, n)
            entries = level[np.repeat(lo, n) + within]
            counted = (within + np.repeat(before_keys, n)) < self.cap
            counted |= (entries & np.uint64(1)).astype(bool)
            found.append(entries[counted])
            before_keys += n
        if self._logged:
            # The log, newer than every level, in arrival order: its entries
            # of each hash come after the levels'.
            before = np.zeros(len(sampled), dtype=np.int64)
            before[maybe] = before_keys
            log = self._log[: self._logged]
            hashes = (log >> np.uint64(32)).astype(np.uint32)
            at = np.searchsorted(sampled, hashes)
            at[at == len(sampled)] = 0
            hit = np.flatnonzero(sampled[at] == hashes)
            if len(hit):
                order = hit[np.argsort(at[hit], kind="stable")]  # by hash, arrival order kept
                which = at[order]
                entries = log[order]
                counted = (run_ranks(which) + before[which]) < self.cap
                counted |= (entries & np.uint64(1)).astype(bool)
                found.append(entries[counted])
        if not found:
            return Counter()
        arrivals = (np.concatenate(found) & np.uint64(0xFFFFFFFF)) >> np.uint64(1)
        ids, times = np.unique(self._owners[arrivals.astype(np.int64)], return_counts=True)
        return Counter(dict(zip(ids.tolist(), times.tolist())))


def _field(a: np.ndarray, dtype: type, shift: int) -> np.ndarray:
    """``((a >> shift) & dtype's all ones).astype(dtype)`` of a ``uint64``
    array, as a view where the byte order allows (``shift`` a multiple of
    the width of ``dtype``).

    >>> a = np.array([5 << 32 | 257], dtype=np.uint64)
    >>> _field(a, np.uint32, 32).tolist(), _field(a, np.uint8, 0).tolist()
    ([5], [1])
    """
    width = np.dtype(dtype).itemsize
    if np.little_endian and a.flags.c_contiguous:
        return a.view(dtype)[shift // (8 * width) :: 8 // width]
    return ((a >> np.uint64(shift)) & np.uint64(np.iinfo(dtype).max)).astype(dtype)


# An entry's arrival number and leader bit share its low 32 bits; all ones
# there stays free, so that (hash, all ones) ends every hash's entries.
_MAX_ARRIVALS = 2**31 - 1


def _hashes32(values: np.ndarray) -> np.ndarray:
    """``values`` as ``uint32`` (no copy when they are), refusing any that
    would not fit.

    >>> _hashes32(np.array([2**32], dtype=np.uint64))
    Traceback (most recent call last):
    ...
    ValueError: sampled shingle hashes must fit in 32 bits
    """
    values = np.asarray(values)
    if values.dtype == np.uint32:
        return values
    if len(values) and (values.min() < 0 or values.max() > 0xFFFFFFFF):
        raise ValueError("sampled shingle hashes must fit in 32 bits")
    return values.astype(np.uint32)


def run_ranks(sorted_values: np.ndarray) -> np.ndarray:
    """Each element's position within its run of equal values.

    >>> run_ranks(np.array([3, 3, 5, 7, 7, 7])).tolist()
    [0, 1, 0, 0, 1, 2]
    """
    n = len(sorted_values)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    idx = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)
    start = np.empty(n, dtype=bool)
    start[0] = True
    np.not_equal(sorted_values[1:], sorted_values[:-1], out=start[1:])
    first = np.where(start, idx, 0)
    del start
    np.maximum.accumulate(first, out=first)
    idx -= first
    return idx


class _SampleOwnersReference:
    """The plain version of :class:`_SampleOwners`, a dict of lists, kept as
    the reference its arrays are tested against: leaders are always added,
    satellites only while a hash has fewer than ``cap`` owners.

    >>> owners = _SampleOwnersReference(cap=1)
    >>> owners.add(0, np.array([8, 16], dtype=np.uint32), capped=False)
    >>> owners.add(1, np.array([16, 24], dtype=np.uint32), capped=True)
    >>> sorted(owners.counts(np.array([16, 24], dtype=np.uint32)).items())
    [(0, 1), (1, 1)]
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.owners: dict[int, list[int]] = defaultdict(list)

    def counts(self, sampled: np.ndarray) -> Counter[int]:
        """How many of ``sampled`` each indexed text has."""
        owners = self.owners
        return Counter(chain.from_iterable(owners.get(h, ()) for h in sampled.tolist()))

    def add(self, x: int, sampled: np.ndarray, capped: bool) -> None:
        for h in sampled.tolist():
            hs = self.owners[h]
            if not capped or len(hs) < self.cap:
                hs.append(x)


class _Prefetcher:
    """A forked process computing, ahead of the leader pass, the exact
    intersections it is about to ask for.

    Texts come in order of size, and copies of one article have similar
    sizes, so a new leader is followed by the texts that will be verified
    against it. When a text becomes a leader, the texts of the next
    ``window`` positions that share an LSH band with it are queued;
    :meth:`pump`, called before each text, collects finished sizes into the
    graph's cache and sends more work. Only a cache: a pair not ready in
    time is computed by the pass itself, so the clusters cannot change.
    At most ``limit`` pairs are out at once, so neither side ever blocks on
    a full pipe.
    """

    window = 2048
    limit = 1024
    chunk = 128
    min_texts = 1024

    def __init__(self, sets: Sequence[np.ndarray], bands: np.ndarray, ordered: list[int]) -> None:
        ctx = mp.get_context("fork")
        # A free page left mapped is shared with the helper; reused here, it
        # is copied for the helper too (see parallel.release_free_memory).
        release_free_memory()
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_prefetch_intersections, args=(child, sets), daemon=True)
        self._proc.start()
        child.close()
        self.bands, self.ordered = bands, ordered
        self.lost = False  # the helper died; nothing more is asked of it
        self._queue: deque[tuple[int, int, int]] = deque()  # (position, text, leader)
        self._out: deque[np.ndarray] = deque()  # pairs sent, answers not yet read
        self._outstanding = 0

    @classmethod
    def start(cls, sets: Sequence[np.ndarray], workers: int, bands: np.ndarray | None,
              ordered: list[int]) -> "_Prefetcher | None":
        """A prefetcher when it can pay (another core, fork, ``min_texts``
        texts: below that, starting the process costs what it saves), else
        None."""
        if (bands is None or resolve_workers(workers) < 2 or len(ordered) < cls.min_texts
                or "fork" not in mp.get_all_start_methods()):
            return None
        return cls(sets, bands, ordered)

    def leader(self, pos: int, x: int) -> None:
        """``x``, at ``pos``, became a leader: queue the texts soon after it
        that share a band with it."""
        ahead = self.bands[pos + 1 : pos + 1 + self.window]
        near = np.flatnonzero((ahead == self.bands[pos]).any(axis=1)) + pos + 1
        self._queue.extend((q, self.ordered[q], x) for q in near.tolist())

    def pump(self, pos: int, graph: "_Graph") -> None:
        """Collect finished sizes into ``graph``; send queued pairs of texts
        not yet reached (those before ``pos`` are done without them)."""
        if self.lost:
            return
        conn = self._conn
        try:
            while self._out and conn.poll():
                sizes = conn.recv()
                if isinstance(sizes, BaseException):
                    raise sizes
                pairs = self._out.popleft()
                self._outstanding -= len(pairs)
                graph.add_intersections(pairs, sizes)
            queue = self._queue
            while queue and self._outstanding < self.limit:
                batch: list[tuple[int, int]] = []
                while queue and len(batch) < self.chunk:
                    q, y, r = queue.popleft()
                    if q > pos:
                        batch.append((y, r))
                if batch:
                    arr = np.array(batch, dtype=np.int64)
                    conn.send(arr)
                    self._out.append(arr)
                    self._outstanding += len(arr)
        except (EOFError, OSError):
            # The helper is gone (killed, out of memory): the pass computes
            # everything itself from here, as without one.
            self.lost = True
            self._queue.clear()

    def close(self) -> None:
        self._proc.terminate()  # nothing of its work is needed any more
        self._proc.join()
        self._conn.close()


def shares_a_band(bands: np.ndarray) -> np.ndarray:
    """Whether each row of ``(n, b)`` band hashes has, in some column, the
    value of another row there: whether it can be any text's LSH candidate.

    >>> shares_a_band(np.array([[1, 2], [3, 2], [4, 5]], dtype=np.uint64)).tolist()
    [True, True, False]
    """
    shared = np.zeros(len(bands), dtype=bool)
    for column in np.asarray(bands).T:
        order = np.argsort(column)
        same = column[order[1:]] == column[order[:-1]]
        shared[order[1:][same]] = True
        shared[order[:-1][same]] = True
    return shared


def _prefetch_intersections(conn: Any, sets: Sequence[np.ndarray]) -> None:
    while True:
        pairs = conn.recv()
        try:
            out = np.fromiter((intersection_size(sets[a], sets[b]) for a, b in pairs.tolist()),
                              dtype=np.int64, count=len(pairs))
        except BaseException as exc:  # reported in the parent, at its next pump()
            conn.send(exc)
            return
        conn.send(out)


class _Picked(Sequence[np.ndarray]):
    """``[arrays[i] for i in picks]`` without reading them all now."""

    def __init__(self, arrays: Sequence[np.ndarray], picks: list[int]) -> None:
        self.arrays, self.picks = arrays, picks

    def __len__(self) -> int:
        return len(self.picks)

    def __getitem__(self, x: int) -> np.ndarray:  # type: ignore[override]
        return self.arrays[self.picks[x]]


def _bucket_add(table: dict[int, int | list[int]], h: int, x: int, cap: int | None) -> None:
    """Put ``x`` in bucket ``h`` (a text alone, or a list of them) unless the
    bucket holds ``cap`` texts already (``None``: no cap).

    >>> t = {}
    >>> _bucket_add(t, 7, 1, None); _bucket_add(t, 7, 2, 2); _bucket_add(t, 7, 3, 2); _bucket_add(t, 8, 4, 1)
    >>> t
    {7: [1, 2], 8: 4}
    """
    _bucket_put(table, h, table.get(h), x, cap)


def _bucket_put(table: dict[int, int | list[int]], h: int, b: int | list[int] | None, x: int, cap: int | None) -> None:
    """:func:`_bucket_add` when bucket ``h``'s content ``b`` has been looked
    up already."""
    if b is None:
        if cap is None or cap > 0:
            table[h] = x
    elif type(b) is int:
        if cap is None or cap > 1:
            table[h] = [b, x]
    elif cap is None or len(b) < cap:
        b.append(x)


class _Rows:
    """``array[rows]`` of a 2-D array without copying it: one row for an
    int, a copy for a list or array of them (signatures of distinct texts,
    which are most of a corpus, would otherwise be held twice).

    >>> r = _Rows(np.arange(6).reshape(3, 2), [2, 0])
    >>> r[0].tolist(), r[[1, 0]].tolist(), r.shape
    ([4, 5], [[0, 1], [4, 5]], (2, 2))
    """

    def __init__(self, array: np.ndarray, rows: Sequence[int]) -> None:
        self.array, self.rows = array, np.asarray(rows, dtype=np.int64)
        self.shape = (len(self.rows), array.shape[1])

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: Any) -> np.ndarray:
        return self.array[self.rows[i]]


class _Graph:
    """Verified relations between nodes (distinct shingle sets), cached."""

    def __init__(
        self,
        cfg: ClusterConfig,
        sets: Sequence[np.ndarray],
        words: Sequence[bool],
        text_of: Callable[[int], str],
        counters: dict[str, int],
        sigs: "np.ndarray | _Rows | None" = None,
        sizes: Sequence[int] | None = None,
    ) -> None:
        self.cfg = cfg
        # Set sizes, so that sets kept on disk (SpilledArrays) are not read for them.
        self.sizes = list(sizes) if sizes is not None else [len(x) for x in sets]
        # MinHash signatures: with them, decisions that the estimate already
        # makes beyond doubt skip the exact set intersection.
        self.sigs = sigs
        self.sets = sets
        self.words = words
        self.text_of = text_of
        self.counters = counters
        # A pair is one int key, x << 32 | y with x < y: a tuple key and its
        # two ints were most of these caches' memory (hundreds of thousands
        # of pairs on a large run).
        self._same: dict[int, bool] = {}
        # The intersection size, not the Similarity made from it (an object
        # and two floats): the sizes make it again when asked.
        self._inter: dict[int, int] = {}
        self._positional: dict[int, np.ndarray] = {}

    def add_intersections(self, pairs: np.ndarray, inters: np.ndarray) -> None:
        """Intersection sizes computed elsewhere (:class:`_Prefetcher`)."""
        cache = self._inter
        for (x, y), inter in zip(pairs.tolist(), inters.tolist()):
            pair = x << 32 | y if x < y else y << 32 | x
            if pair not in cache:
                cache[pair] = inter

    def similarity(self, x: int, y: int) -> Similarity:
        pair = x << 32 | y if x < y else y << 32 | x
        inter = self._inter.get(pair)
        if inter is None:
            inter = self._inter[pair] = intersection_size(self.sets[x], self.sets[y])
        return _similarity_of(inter, self.sizes[x], self.sizes[y])

    def estimate(self, x: int, y: int) -> tuple[float, float] | None:
        """Bounds ``(low, high)`` on the Jaccard of ``x`` and ``y`` from their
        signatures, ``ESTIMATE_MARGIN`` (over 3 standard errors at 128
        permutations) either side; ``None`` without signatures. Used only
        to rule links *out* (and to rank): a link is always verified."""
        if self.sigs is None:
            return None
        est = self._estimated(x, y)
        return max(0.0, est - ESTIMATE_MARGIN), min(1.0, est + ESTIMATE_MARGIN)

    def _estimated(self, x: int, y: int) -> float:
        assert self.sigs is not None
        return float(np.count_nonzero(self.sigs[x] == self.sigs[y])) / self.sigs.shape[1]

    def _containment_at(self, x: int, y: int, jac: float) -> float:
        """Containment of the smaller set implied by Jaccard ``jac``."""
        a, b = self.sizes[x], self.sizes[y]
        return jac * (a + b) / ((1.0 + jac) * max(1, min(a, b)))

    def rank(self, x: int, y: int) -> float:
        """Jaccard for ranking: exact when known, else the estimate."""
        pair = x << 32 | y if x < y else y << 32 | x
        if pair in self._inter or self.sigs is None:
            return self.similarity(x, y).jaccard
        return self._estimated(x, y)

    def same(self, x: int, y: int) -> bool:
        pair = x << 32 | y if x < y else y << 32 | x
        if pair not in self._same:
            cfg = self.cfg
            bounds = self.estimate(x, y)
            words = self.words[x] and self.words[y]
            decided: bool | None = None
            if bounds is not None:
                high = bounds[1]
                floor = cfg.word_containment_min if words else cfg.containment_min
                # Only "not the same" is taken from the estimate: anything
                # that links two texts is verified on the exact sets.
                if high < cfg.jaccard_min and (
                    min(self.sizes[x], self.sizes[y]) < cfg.min_shingles
                    or self._containment_at(x, y, high) < floor
                ):
                    decided = False
            if decided is None:
                decided = self.similarity(x, y).same_article(cfg, words)
                self.counters["verified_pairs"] += 1
            else:
                self.counters["estimated_pairs"] += 1
            self._same[pair] = decided
        return self._same[pair]

    def coverage(self, center: int, piece: int) -> np.ndarray:
        """Positions of the centre's shingles that the piece shares."""
        cfg = self.cfg
        if center not in self._positional:
            self._positional[center] = _window_hashes(self.text_of(center), self.words[center], cfg).astype(np.uint32)
        return np.flatnonzero(np.isin(self._positional[center], self.sets[piece], assume_unique=False))

    def far(self, y: int, m: int) -> bool:
        """Clearly different texts: two noisy copies of one article are
        not "the same" by the verification thresholds, but never far."""
        cfg = self.cfg
        bounds = self.estimate(y, m)
        if bounds is not None:
            if bounds[0] >= cfg.compatible_jaccard:
                return False
        sim = self.similarity(y, m)
        if sim.jaccard >= cfg.compatible_jaccard:
            return False
        return not (sim.smaller >= cfg.min_shingles and sim.containment >= cfg.compatible_containment)

    def overlapping_pieces(self, center: int, y: int, m: int) -> bool:
        cfg = self.cfg
        floor = cfg.word_containment_min if self.words[center] else cfg.containment_min
        for piece in (y, m):
            sim = self.similarity(piece, center)
            if sim.smaller < cfg.min_shingles or sim.containment < floor:
                return False
        cy, cm = self.coverage(center, y), self.coverage(center, m)
        if len(cy) == 0 or len(cm) == 0:
            return False
        # Overlap of the centre regions the two pieces come from; the
        # region is the central 90% of matched positions, so a few
        # common phrases elsewhere do not stretch it.
        y0, y1 = np.percentile(cy, [5, 95])
        m0, m1 = np.percentile(cm, [5, 95])
        lo, hi = max(y0, m0), min(y1, m1)
        return bool(hi > lo and (hi - lo) >= 0.3 * min(y1 - y0, m1 - m0))

    def compatible(self, center: int, y: int, m: int) -> bool:
        """May ``y`` join the cluster of ``center`` that holds ``m``?"""
        # "not far" first: for copies of one article the signatures settle
        # it without an exact intersection.
        return not self.far(y, m) or self.same(y, m) or self.overlapping_pieces(center, y, m)

    def compatible_with_all(self, center: int, y: int, members: Sequence[int]) -> bool:
        """``all(self.compatible(center, y, m) for m in members)``, the
        members whose signature estimate alone rules out "far" settled in
        one numpy pass (a leader's guard is checked for every text that
        joins it: one call each was most of those checks' time)."""
        if self.sigs is not None and len(members) > 1:
            agree = np.count_nonzero(self.sigs[list(members)] == self.sigs[y], axis=1).tolist()
            width, floor = self.sigs.shape[1], self.cfg.compatible_jaccard
            # far()'s own test, on the same floats: settled ones have no
            # side effect to keep, the rest keep their order.
            members = [m for m, a in zip(members, agree) if not max(0.0, a / width - ESTIMATE_MARGIN) >= floor]
        return all(self.compatible(center, y, m) for m in members)


class ArticleClusterer:
    """Finds clusters of copies among articles given as texts.

    >>> body = "这次全市工业园区建设工作会议开得很好。市长在会上作了主体报告,全面部署了下步工业园区建设。" * 3
    >>> other = "今天召开全市金融工作会议,主要任务是总结去年金融工作,研究部署今年的金融工作任务。" * 3
    >>> ArticleClusterer().cluster([body, other, "同志们:" + body], [(0,), (1,), (2,)])
    [[2, 0], [1]]
    """

    def __init__(self, config: ClusterConfig | None = None) -> None:
        self.config = config or ClusterConfig()
        self.hasher = _hasher(self.config.num_perm, self.config.scheme)
        self.counters: dict[str, int] = defaultdict(int)

    def shingles(self, texts: Sequence[str]) -> tuple[list[np.ndarray], list[bool]]:
        """Sorted unique shingle hashes per text: key 5-grams, or word
        3-grams where the text is mostly Latin (and which ones those are)."""
        cfg = self.config
        keys = match_keys(texts)
        out: list[np.ndarray] = []
        words: list[bool] = []
        for text, key in zip(texts, keys):
            latin = _mostly_latin(text)
            words.append(latin)
            out.append(shingle_set32(_window_hashes(text, latin, cfg, key)))
        return out, words

    def cluster(
        self,
        texts: Sequence[str],
        sort_keys: Sequence[tuple],
        features: tuple[Sequence[Any], ...] | None = None,
        workers: int = 1,
    ) -> list[list[int]]:
        """Clusters (lists of indices into ``texts``), each sorted by
        completeness then ``sort_keys``; clusters ordered by their first member.

        ``features``: the :meth:`shingles` of ``texts`` when the caller has
        them already (computed in worker processes, say), optionally with
        their signatures as a third element and the sets' digests
        (:func:`collect_features`) as a fourth. With ``workers`` > 1
        (0: every core) a second process computes the leader pass's exact
        intersections ahead of it (same clusters, less waiting).

        Up to ``exact_nodes`` distinct texts every candidate pair is verified
        and linked (:meth:`cluster_reference`); beyond that a *leader pass*
        first folds each text into an earlier, more complete one it is
        verified to copy (its satellite), so the pairwise work grows with the
        number of distinct readings, not with the square of the copies.
        """
        return self._cluster(texts, sort_keys, features, self.config.exact_nodes, workers)

    def cluster_reference(
        self,
        texts: Sequence[str],
        sort_keys: Sequence[tuple],
        features: tuple[Sequence[Any], ...] | None = None,
    ) -> list[list[int]]:
        """:meth:`cluster` verifying and linking every candidate pair, whatever
        the size (quadratic in the copies of an article: the reference that
        the leader pass is tested against)."""
        return self._cluster(texts, sort_keys, features, None, 1)

    def _cluster(
        self,
        texts: Sequence[str],
        sort_keys: Sequence[tuple],
        features: tuple[Sequence[Any], ...] | None,
        exact_nodes: int | None,
        workers: int,
    ) -> list[list[int]]:
        cfg = self.config
        n = len(texts)
        if n == 0:
            return []
        sigs: Sequence[np.ndarray] | None = None
        digests: Sequence[bytes] | None = None
        if features is None:
            sets, words = self.shingles(texts)
        elif len(features) == 4:
            sets, words, sigs, digests = features  # type: ignore[misc]
        elif len(features) == 3:
            sets, words, sigs = features  # type: ignore[misc]
        else:
            sets, words = features  # type: ignore[misc]
        # Identical shingle sets are one node: big exact-copy groups cost nothing.
        sizes = sizes_of(sets)
        by_content: dict[bytes, list[int]] = defaultdict(list)
        # A digest, not the bytes: keys would double the sets' memory. Made
        # in the workers when they sent them (no second read of every set).
        for i, d in enumerate(digests if digests is not None else map(_digest, sets)):
            by_content[d if sizes[i] else f"empty-{i}".encode()].append(i)
        nodes = [sorted(g, key=lambda i: sort_keys[i]) for g in _equal_sets(by_content.values(), sets)]
        node_sets = _Picked(sets, [g[0] for g in nodes])
        node_sizes = [sizes[g[0]] for g in nodes]
        node_words = [words[g[0]] for g in nodes]
        self.counters["exact_copies"] += n - len(nodes)
        estimate = exact_nodes is not None and len(nodes) > exact_nodes
        if sigs is not None:
            firsts = [g[0] for g in nodes]
            node_sigs = _Rows(sigs, firsts) if isinstance(sigs, np.ndarray) else np.stack([sigs[i] for i in firsts])
        else:
            node_sigs = self.hasher.signatures(list(node_sets)) if len(node_sets) else None
        graph = _Graph(cfg, node_sets, node_words, lambda x: texts[nodes[x][0]], self.counters,
                       node_sigs if estimate else None, node_sizes)

        def order(x: int) -> tuple:
            return (-node_sizes[x], sort_keys[nodes[x][0]])

        if estimate:
            assert node_sigs is not None
            units, satellites, guards, bridges = self._leader_pass(
                graph, sorted(range(len(nodes)), key=order), node_sigs, workers
            )
        else:
            units, satellites, guards, bridges = list(range(len(nodes))), {}, {}, set()
        # Read one at a time (the containment index keeps only their
        # samples): where nothing is copied every text is a unit, and the
        # list of all their sets held the whole corpus's sets at once.
        unit_sets = _Picked(node_sets, units)
        unit_sigs = node_sigs[units] if node_sigs is not None and len(units) > 1 else None
        candidates = {
            (units[a], units[b])
            for a, b in self._lsh_candidates(unit_sigs) | self._containment_candidates(unit_sets)
        }
        self.counters["candidate_pairs"] += len(candidates)
        neighbours: dict[int, set[int]] = defaultdict(set)
        for x, y in candidates:
            if graph.same(x, y):
                neighbours[x].add(y)
                neighbours[y].add(x)
        for x, y in bridges:
            neighbours[x].add(y)
            neighbours[y].add(x)

        assigned: dict[int, int] = {}
        clusters: list[list[int]] = []
        # Centres first: the best-connected node (the source its copies
        # hang on), then the most complete.
        for x in sorted(units, key=lambda x: (-len(neighbours[x]), order(x))):
            if x in assigned:
                continue
            members = [x]
            assigned[x] = len(clusters)
            for y in sorted(neighbours[x], key=order):
                if y in assigned:
                    continue
                # Complete linkage: y must be the same article as every
                # member, except that two pieces of the centre (truncated or
                # partial copies) may differ from each other as long as they
                # come from overlapping parts of it; pieces from disjoint
                # parts would make the centre a bridge between two articles.
                # Members stand for their satellites through each one's
                # guard (its satellites least like it).
                guard = members[1:] + [s for m in members for s in guards.get(m, ())]
                if graph.compatible_with_all(x, y, guard):
                    members.append(y)
                    assigned[y] = len(clusters)
                else:
                    self.counters["chain_refused"] += 1
            clusters.append(members)
        out = [[i for x in members for s in (x, *satellites.get(x, ())) for i in nodes[s]] for members in clusters]
        out = [sorted(c, key=lambda i: (-sizes[i], sort_keys[i])) for c in out]
        out.sort(key=lambda c: min(sort_keys[i] for i in c))
        self.counters["clusters"] += len(out)
        self.counters["merged_clusters"] += sum(1 for c in out if len(c) > 1)
        return out

    def _leader_pass(self, graph: "_Graph", ordered: list[int], sigs: "np.ndarray | _Rows", workers: int = 1) -> "_Leaders":
        """Fold texts into leaders.

        In order of completeness, each text becomes a satellite of the
        leader it is most like (highest Jaccard) among those it is verified
        to copy and compatible with that leader's guard; otherwise it leads.
        Candidates are looked up among leaders only (their LSH bands, then
        their sampled shingles), so each text costs a few verifications. A
        leader's *guard* is the ``guard_size`` satellites least like it
        (pieces, heavy edits): the ones a later text or leader must not be
        far from, which keeps the no-chaining rule for the folded copies.
        """
        cfg = self.config
        index = BandIndex(cfg.candidate_threshold, cfg.num_perm)
        sets = graph.sets
        bands = index.band_hashes(sigs[ordered]) if ordered else None
        # A text that shares no band with any other finds nothing in the
        # buckets and is found by no one there: it is neither looked up nor
        # put in them, nor does the prefetcher look ahead for it. In a
        # collection of distinct texts that is nearly every text.
        in_a_band = shares_a_band(bands) if bands is not None else None
        # Band hash -> the text in its bucket, or a list once there are more
        # (most buckets hold one text: a list each was most of the pass's
        # memory on a large run).
        tables: list[dict[int, int | list[int]]] = [{} for _ in range(index.b)]
        by_sample = _SampleOwners(cfg.bucket_probes, owners=len(ordered))
        share = min(cfg.containment_min, cfg.word_containment_min) / 2
        leaders: list[int] = []
        satellites: dict[int, list[int]] = defaultdict(list)
        guards: dict[int, list[tuple[float, int]]] = defaultdict(list)

        def best(x: int, cands: set[int], through: int | None = None) -> int | None:
            """The leader among ``cands`` that ``x`` copies most (or, with
            ``through``, copies by way of that satellite) and may join."""
            found: tuple[float, int] | None = None
            copied: list[int] = []
            for r in sorted(cands):
                if through is None and not graph.same(x, r):
                    continue
                jac = graph.rank(x, r if through is None else through)
                copied.append(r)
                if found is not None and jac <= found[0]:
                    continue
                # Pieces are compared inside a text that holds x: the leader,
                # or the satellite x was found through (which may hold a
                # passage the leader lacks).
                center = r if through is None else through
                if graph.compatible_with_all(center, x, [s for _, s in guards[r]]):
                    found = (jac, r)
            if found is None:
                return None
            jac, r = found
            # x copies these leaders too: they are linked through it (the
            # way the reference links a noisy copy to a typical one).
            for other in copied:
                if other != r:
                    bridges.add((min(r, other), max(r, other)))
            guard = guards[r]
            if len(guard) < cfg.guard_size or jac < guard[-1][0]:
                guard.append((jac, x))
                guard.sort()
                del guard[cfg.guard_size :]
            return r

        leader_of: dict[int, int] = {}
        bridges: set[tuple[int, int]] = set()
        n_samples: dict[int, int] = {}  # sampled shingles of each indexed text

        mod = cfg.sample_mod
        pow2 = mod > 0 and mod & (mod - 1) == 0  # then a bit mask: several times faster than %

        def sample(x: int) -> np.ndarray:
            s = sets[x]
            if len(s) < cfg.min_shingles:
                return s[:0]
            return s[(s & s.dtype.type(mod - 1)) == 0] if pow2 else s[s % s.dtype.type(mod) == 0]

        def through_copies(x: int, copies: list[int]) -> int | None:
            # A text may fall short of every leader (the most complete copy
            # carries the most noise; a piece may come from a passage the
            # leader lacks) yet clearly copy one of its satellites: follow the
            # best few to their leader.
            for y in copies[: cfg.probes]:
                if graph.same(x, y):
                    r = best(x, {leader_of[y]}, through=y)
                    if r is not None:
                        return r
            return None

        prefetch = _Prefetcher.start(sets, workers, bands, ordered)
        try:
            for pos, x in enumerate(ordered):
                if prefetch is not None:
                    prefetch.pump(pos, graph)
                row = bands[pos].tolist() if in_a_band is not None and in_a_band[pos] and graph.sizes[x] else []
                # The texts sharing a bucket with x; how many buckets each
                # shares is counted only when needed.
                buckets = list(map(dict.get, tables, row))
                found = [b for b in buckets if b is not None]
                singles = [b for b in found if type(b) is int]
                many = [b for b in found if type(b) is not int]
                hits = set(singles).union(*many)
                r = best(x, {y for y in hits if leader_of[y] == y})
                if r is None and hits:
                    shared = Counter(singles)
                    for b in many:
                        shared.update(b)
                    r = through_copies(x, sorted((y for y in hits if leader_of[y] != y), key=lambda y: (-shared[y], y)))
                sampled: np.ndarray | None = None
                if r is None:
                    sampled = sample(x)
                    counts = by_sample.counts(sampled)
                    enough = [
                        y
                        for y, c in counts.items()
                        if y not in hits and c >= max(cfg.min_shared_samples, share * min(len(sampled), n_samples[y]))
                    ]
                    r = best(x, {y for y in enough if leader_of[y] == y})
                    if r is None and enough:
                        r = through_copies(x, sorted((y for y in enough if leader_of[y] != y), key=lambda y: (-counts[y], y)))
                if sampled is None:
                    sampled = sample(x)
                n_samples[x] = len(sampled)
                if r is not None:
                    satellites[r].append(x)
                    leader_of[x] = r
                    self.counters["satellites"] += 1
                    # Satellites are indexed too, a few per bucket: enough to be
                    # found through, without growing with the copies.
                    # (The buckets looked up above: nothing since has changed them.)
                    for table, h, b in zip(tables, row, buckets):
                        _bucket_put(table, h, b, x, cfg.bucket_probes)
                    by_sample.add(x, sampled, capped=True)
                    continue
                leaders.append(x)
                leader_of[x] = x
                for table, h in zip(tables, row):
                    _bucket_add(table, h, x, None)
                if prefetch is not None and row:
                    prefetch.leader(pos, x)
                by_sample.add(x, sampled, capped=False)
        finally:
            if prefetch is not None:
                prefetch.close()
        return _Leaders(leaders, dict(satellites), {r: [s for _, s in g] for r, g in guards.items()}, bridges)

    def _lsh_candidates(self, sigs: np.ndarray | None) -> set[tuple[int, int]]:
        cfg = self.config
        if sigs is None or len(sigs) < 2:
            return set()
        index = BandIndex(cfg.candidate_threshold, cfg.num_perm)
        index.add_many([str(i) for i in range(len(sigs))], sigs)
        pairs: set[tuple[int, int]] = set()
        for bucket in index.buckets():
            ids = sorted(int(b) for b in bucket)
            if len(ids) > cfg.max_bucket:
                continue  # a degenerate bucket (tiny texts); the sampled index still sees them
            for a in range(len(ids)):
                for b in range(a + 1, len(ids)):
                    pairs.add((ids[a], ids[b]))
        return pairs

    def _containment_candidates(self, node_sets: Sequence[np.ndarray]) -> set[tuple[int, int]]:
        cfg = self.config
        mod = np.uint64(cfg.sample_mod)
        hashes: list[np.ndarray] = []
        owner_of: list[int] = []
        for i, s in enumerate(node_sets):
            if len(s) < cfg.min_shingles:
                continue
            hashes.append(s[s % mod == 0])
            owner_of.append(i)
        if not hashes:
            return set()
        sizes = np.fromiter(map(len, hashes), dtype=np.int64, count=len(hashes))
        if all(a.dtype == np.uint32 for a in hashes):
            # Clustering's 32-bit sets: (hash, owner) packed in one integer
            # and sorted is the order of a stable sort by hash, without an
            # argsort and two gathers (and a fraction of their memory).
            packed = np.empty(int(sizes.sum()), dtype=np.uint64)
            at = 0
            for i, a in zip(owner_of, hashes):
                np.left_shift(a, 32, out=packed[at : at + len(a)], dtype=np.uint64)
                packed[at : at + len(a)] |= np.uint64(i)
                at += len(a)
            del hashes
            packed.sort()
            h = (packed >> np.uint64(32)).astype(np.uint32)
            o = (packed & np.uint64(0xFFFFFFFF)).astype(np.int64)
            del packed
        else:
            h = np.concatenate(hashes)
            o = np.repeat(np.asarray(owner_of, dtype=np.int64), sizes)
            del hashes
            order = np.argsort(h, kind="stable")
            h, o = h[order], o[order]
        # Counted before the samples that no other text has are dropped:
        # in a collection of distinct texts, nearly all of them.
        per_text = np.bincount(o, minlength=len(node_sets)).tolist()
        in_run = np.zeros(len(h), dtype=bool)
        np.equal(h[1:], h[:-1], out=in_run[1:])
        in_run[:-1] |= in_run[1:]
        h, o = h[in_run], o[in_run]
        del in_run
        starts = np.flatnonzero(np.r_[True, h[1:] != h[:-1]])
        sizes = np.diff(np.r_[starts, len(h)])
        keep = (sizes >= 2) & (sizes <= cfg.max_bucket)
        member = np.flatnonzero(np.repeat(keep, sizes))  # positions in kept buckets
        starts, sizes = starts[keep], sizes[keep]
        # Every pair inside every bucket at once: for bucket member k, its
        # partners are the members after it. Pairs are coded x * n + y.
        n = len(node_sets)
        if len(starts):
            ends = np.repeat(starts + sizes, sizes)
            partners = ends - member - 1
            first = np.repeat(member, partners)
            offset = np.arange(len(first)) - np.repeat(np.cumsum(partners) - partners, partners)
            second = first + 1 + offset
            x, y = o[first], o[second]
            lo, hi = np.minimum(x, y), np.maximum(x, y)
            codes, counts = np.unique(lo * n + hi, return_counts=True)
            shared = dict(zip(codes.tolist(), counts.tolist()))
        else:
            shared = {}
        # A piece contained in another shares most of its samples with it:
        # require a share of the smaller side's samples, not just a few common
        # phrases (which long unrelated speeches always have).
        share = min(cfg.containment_min, cfg.word_containment_min) / 2
        out: set[tuple[int, int]] = set()
        for code, c in shared.items():
            x, y = divmod(code, n)
            if x != y and c >= max(cfg.min_shared_samples, share * min(per_text[x], per_text[y])):
                out.add((x, y))
        return out


def _window_hashes(text: str, latin: bool, cfg: ClusterConfig, key: str | None = None) -> np.ndarray:
    """64-bit shingle hashes in window order (repeats kept): word n-grams of
    Latin text, else character n-grams of its match key (``key`` when the
    caller has it)."""
    if latin:
        return shingle_hashes_text(text, cfg.shingle_k, cfg.word_k, unique=False)
    if key is None:
        return key_code_hashes(match_key_codes(text), cfg.shingle_k, unique=False)
    return shingle_hashes(key, cfg.shingle_k, unique=False)


def _equal_sets(groups: Iterable[list[int]], sets: Sequence[np.ndarray]) -> Iterator[list[int]]:
    """Each group of texts whose set digests agree, split into runs of
    truly equal sets (a digest collision must not make two texts one).

    >>> sets = [np.array([1, 2]), np.array([1, 3]), np.array([1, 2])]
    >>> list(_equal_sets([[0, 1, 2]], sets))
    [[0, 2], [1]]
    """
    for group in groups:
        if len(group) == 1:
            yield group
            continue
        parts: list[tuple[np.ndarray, list[int]]] = []
        for i in group:
            s = sets[i]
            for first, members in parts:
                if np.array_equal(first, s):
                    members.append(i)
                    break
            else:
                parts.append((s, [i]))
        yield from (members for _, members in parts)


def _digest(arr: np.ndarray) -> bytes:
    """A 128-bit hash of an array's contents and type: equal sets, equal
    digests. Not a proof of equality (xxh3 is not collision-resistant):
    clustering compares the sets of texts whose digests agree.

    >>> a = np.array([3, 5], dtype=np.uint32)
    >>> _digest(a) == _digest(a.copy()), _digest(a) == _digest(a.astype(np.uint64))
    (True, False)
    """
    h = xxhash.xxh3_128(arr.dtype.str.encode())
    h.update(np.ascontiguousarray(arr).data)
    return h.digest()


def shingle_set32(hashes: np.ndarray) -> np.ndarray:
    """The sorted unique low 32 bits of 64-bit shingle hashes: the sets that
    clustering keeps and intersects. Half the memory and work of 64 bits;
    two 5,000-shingle texts get one false common shingle (two distinct
    shingles with the same low bits) about once in 170 pairs of texts,
    nothing to a Jaccard.
    Affine32 MinHash and the ``% sample_mod`` sample read only these bits,
    so signatures and samples are what the 64-bit hashes give.

    >>> shingle_set32(np.array([2**40 + 5, 5, 3], dtype=np.uint64)).tolist()
    [3, 5]
    """
    # astype makes a copy, ours to sort in place.
    return sorted_unique(np.asarray(hashes).astype(np.uint32), copy=False)


class TextFeatures(NamedTuple):
    """What clustering needs of one text, computed where the text is."""

    shingles: np.ndarray  # sorted unique shingle hashes (low 32 bits, shingle_set32)
    words: bool  # shingled by word n-grams (mostly Latin)
    signature: np.ndarray  # MinHash of ``shingles``
    digest: bytes  # of ``shingles``: equal sets, equal digests


_HASHERS: dict[tuple[int, str], MinHasher] = {}


def _hasher(num_perm: int, scheme: str) -> MinHasher:
    # One per process and setting: forked workers inherit the parent's.
    hasher = _HASHERS.get((num_perm, scheme))
    if hasher is None:
        hasher = _HASHERS[(num_perm, scheme)] = MinHasher(num_perm, scheme=scheme)
    return hasher


def text_features(text: str, config: ClusterConfig | None = None, repair: bool = True) -> TextFeatures:
    """Repair (optional), key, shingle and sketch one text: the per-text half
    of clustering, run in worker processes by :func:`cluster_texts`.

    >>> f = text_features("同志们这次会议开得很好")
    >>> len(f.shingles), f.words, f.signature.shape
    (7, False, (128,))
    """
    from .fixes import repaired_text

    cfg = config or ClusterConfig()
    if repair:
        text = repaired_text(text)
    latin = _mostly_latin(text)
    sh = shingle_set32(_window_hashes(text, latin, cfg))
    return TextFeatures(sh, latin, _hasher(cfg.num_perm, cfg.scheme).signature(sh), _digest(sh))


def utf8_text_features(data: bytes, config: ClusterConfig | None = None, repair: bool = True) -> TextFeatures:
    """:func:`text_features` of a text sent as UTF-8 (``surrogatepass``).

    Callers that keep their texts send them to worker processes this way:
    pickling a ``str`` stores its UTF-8 form inside the ``str`` for good,
    so every text sent would keep a second copy of itself alive (1.5x its
    size for Chinese). The bytes made to send it are dropped once sent.

    >>> a, b = utf8_text_features("同志们这次会议开得很好".encode()), text_features("同志们这次会议开得很好")
    >>> bool((a.shingles == b.shingles).all() and (a.signature == b.signature).all())
    True
    """
    return text_features(data.decode("utf-8", "surrogatepass"), config, repair)


class _Repaired(Sequence[str]):
    """``[repaired_text(t) for t in texts]``, each made when read. Clustering
    reads a text only to place a piece inside a leader (rarely), so the
    repaired copies are not kept: a corpus' worth of memory."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = texts

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i: int) -> str:  # type: ignore[override]
        from .fixes import repaired_text

        return repaired_text(self.texts[i])


def cluster_texts(
    records: Iterable[Mapping[str, str]], config: ClusterConfig | None = None, *, workers: int = 0
) -> list[list[str]]:
    """Duplicate detection alone: groups of record ids whose texts are copies.

    No segmentation, boilerplate removal or merging: each ``{"id", "text"}``
    record is one document, repaired (mojibake, newlines) and keyed (t2s,
    width, punctuation, masks) before clustering, so script, width and
    mojibake variants still match. Groups of one are included. The per-text
    work runs on ``workers`` processes (0: every core).

    >>> body = "这次全市工业园区建设工作会议开得很好。市长在会上作了主体报告,全面部署了下步工业园区建设。" * 3
    >>> cluster_texts([{"id": "a", "text": body}, {"id": "b", "text": body.replace("市长", "XX")}])
    [['a', 'b']]
    """
    cfg = config or ClusterConfig()
    clusterer = ArticleClusterer(cfg)
    ids: list[str] = []
    originals: list[str] = []

    def texts() -> Iterator[str]:
        for r in records:
            ids.append(str(r["id"]))
            originals.append(str(r["text"]))
            yield originals[-1]

    if resolve_workers(workers) > 1:
        # Load OpenCC and build the tables and lazy patterns (the mojibake
        # paths' too) once, before the workers fork, not once in each.
        text_features("预热 warm-up\n鍒氭墠璇寸殑\ncafÃ© 20XX年\r\n", cfg)
    # Held out of the cyclic GC (see parallel.hold_long_lived): a full
    # collection writes to every object it scans, here or in a forked worker
    # or helper, and each page written is then a copy in both processes
    # (peak at 50 MiB: 152-154 MiB without the hold, 136-138 with it).
    with SpilledArrays() as sets, long_lived():
        # As bytes: see utf8_text_features (a str sent would keep a copy).
        utf8 = (t.encode("utf-8", "surrogatepass") for t in texts())
        words, sigs, digests = collect_features(features_in_pools(utf8, cfg, workers), sets)
        clear_line_caches()  # repairing is done (this process repaired texts too)
        refreeze_long_lived()  # the features, before the helper forks
        clusters = clusterer.cluster(
            _Repaired(originals), [(i,) for i in ids], (sets, words, sigs, digests), workers=workers
        )
    return [[ids[i] for i in c] for c in clusters]


# Texts per pool of feature workers (see features_in_pools).
_FEATURE_POOL_TEXTS = 4096


def features_in_pools(
    utf8: Iterable[bytes], cfg: ClusterConfig, workers: int, *, repair: bool = True, chunk_size: int = 32
) -> Iterator[TextFeatures]:
    """:func:`utf8_text_features` of each text, in order, on ``workers``
    processes, a fresh pool every ``_FEATURE_POOL_TEXTS`` texts.

    Reading a caller's text to send it writes to its reference count, on a
    page the forked workers share: the kernel copies the page, and while
    those workers live every text read costs a page twice (60 MB at
    200 MiB). Workers forked later share the copies instead. ``utf8`` is
    read as the pool asks for texts, so a caller can make them while the
    helpers work on earlier ones.

    >>> [f.words for f in features_in_pools(iter([b"hello world again", "\u540c\u5fd7\u4eec".encode()]), ClusterConfig(), 1)]
    [True, False]
    """
    fn = partial(utf8_text_features, config=cfg, repair=repair)
    texts = iter(utf8)
    while (head := next(texts, None)) is not None:
        batch = chain([head], islice(texts, _FEATURE_POOL_TEXTS - 1))
        yield from map_ordered(fn, batch, workers=workers, chunk_size=chunk_size)


def collect_features(
    feats: Iterable[TextFeatures], sets: SpilledArrays
) -> tuple[list[bool], np.ndarray, list[bytes]]:
    """Keep each text's features as they arrive: its shingle set goes to
    ``sets`` (a temporary file: 4 bytes a character of the corpus), the
    rest is returned as ``(words, signatures, digests)``, the signatures
    one row each of a 2-D array (not an array object per text):
    ``(sets, words, signatures, digests)`` is what
    :meth:`ArticleClusterer.cluster` takes as ``features``.

    >>> with SpilledArrays() as sets:
    ...     words, sigs, digests = collect_features([text_features("同志们这次会议开得很好")], sets)
    ...     len(sets), sets.sizes.tolist(), words, sigs.shape
    (1, [7], [False], (1, 128))
    """
    words: list[bool] = []
    digests: list[bytes] = []
    blocks: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    for f in feats:
        sets.append(f.shingles)
        words.append(f.words)
        digests.append(f.digest)
        rows.append(f.signature)
        if len(rows) == 4096:
            blocks.append(np.stack(rows))
            rows.clear()
    if rows:
        blocks.append(np.stack(rows))
    return words, np.concatenate(blocks) if blocks else np.zeros((0, 0), dtype=np.uint32), digests
