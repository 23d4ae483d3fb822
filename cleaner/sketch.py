"""MinHash signatures of shingle-hash sets, compatible with datasketch.

:class:`MinHasher` uses datasketch 2.0's *affine* permutation schemes, not the
legacy Mersenne-prime one: every input hash is pre-mixed once with the
MurmurHash3 finaliser, then permutation ``k`` maps it to ``a[k] * h + b[k]``
modulo ``2**w`` (``a[k]`` odd, so a bijection: the permutation step adds no
collisions), and the signature keeps the minimum per permutation. The
modulo is the hardware wraparound, which is what makes this fast in numpy
(the Mersenne scheme needs a 128-bit product and a ``%`` per value).

* ``scheme="affine64"`` (default): ``w = 64``; signatures are ``uint64``;
  the 64-bit shingle hashes are used whole.
* ``scheme="affine32"``: ``w = 32``; signatures are ``uint32`` (half the
  memory, about 1.5x faster); the low 32 bits of each shingle hash are used.
* ``scheme="oph32"``: *one permutation hashing* with optimal densification
  (Li, Owen and Zhang 2012; Shrivastava 2017). The same pre-mixed 32-bit
  values are dealt into ``num_perm`` bins by their high bits and each bin
  keeps its minimum: one pass over the set instead of ``num_perm`` (about
  7x faster than affine32 for a 4,000-shingle text). A bin that got no value
  copies the value of the first non-empty bin on its fixed probe sequence
  (random bins drawn from ``seed``, then the bins to its right), so two
  sets still agree on a position with probability about their Jaccard.
  Signatures are ``uint32``, the same shape as affine32's, and go into
  datasketch's ``MinHashLSH`` / ``LeanMinHash`` unchanged, but the values
  are not ``datasketch.MinHash``'s.

For the affine schemes our values are bit-for-bit datasketch's: the permutation parameters are
taken from ``datasketch.MinHash(num_perm, seed, scheme=scheme)``, and
``MinHash(num_perm, seed, scheme=scheme, hashfunc=f).update_batch(hashes)``
gives :meth:`MinHasher.signature` ``(hashes)`` with ``f = int`` for affine64
and ``f = lambda v: int(v) & 0xFFFFFFFF`` for affine32.

The **empty signature** (of an empty shingle set) is all maximum values, as
in datasketch; :func:`is_empty` tests for it. It must never match anything:
:func:`jaccard` returns 0.0 for it, and the indexes in :mod:`cleaner.index`
store it without buckets; callers should skip empty blocks anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .tablecache import drawn_once

__all__ = ["MinHasher", "affine_permutations", "SCHEMES", "is_empty", "jaccard", "exact_jaccard", "containment", "sorted_unique"]

SCHEMES: tuple[str, ...] = ("affine64", "affine32", "oph32")

# MurmurHash3 finaliser constants per width: (shift1, mult1, shift2, mult2, shift3)
# (the same as datasketch.minhash._FMIX_CONSTANTS).
_FMIX = {
    32: (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16)),
    64: (np.uint64(33), np.uint64(0xFF51AFD7ED558CCD), np.uint64(33), np.uint64(0xC4CEB9FE1A85EC53), np.uint64(33)),
}
_MASK32 = np.uint64(0xFFFFFFFF)

# Columns per block of the (num_perm, chunk) work array: 128 x 8192 values
# (4 or 8 MiB) measured fastest here (4096: 1.5x slower); it also bounds
# memory for long documents.
_CHUNK = 8192

# Random probes per empty bin before oph32 falls back to the bins on its
# right: with half the bins filled, all 32 miss once in 4 billion.
_OPH_PROBES = 32


def _fmix_(x: np.ndarray, width: int) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX[width]
    x ^= x >> s1
    x *= m1
    x ^= x >> s2
    x *= m2
    x ^= x >> s3
    return x


def is_empty(sig: np.ndarray) -> bool:
    """True for the signature of an empty set (all values at the maximum).

    >>> is_empty(MinHasher(8).signature(np.zeros(0, dtype=np.uint64)))
    True
    """
    sig = np.asarray(sig)
    return bool(sig.size) and bool((sig == np.iinfo(sig.dtype).max).all())


def affine_permutations(num_perm: int, seed: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The affine permutation parameters ``(a, b)`` datasketch 2.0 draws for
    ``MinHash(num_perm, seed, scheme=f"affine{width}")``, drawn the same way
    here so that ``import datasketch`` (about a second: it pulls in scipy)
    stays out of every run. ``tests/test_sketch.py`` checks them against
    datasketch itself.

    >>> a, b = affine_permutations(4, 1, 32)
    >>> a.dtype, bool((a % 2 == 1).all())
    (dtype('uint32'), True)
    """
    dtype = np.uint64 if width == 64 else np.uint32

    def draw() -> np.ndarray:
        gen = np.random.RandomState(seed)
        a = gen.randint(0, 1 << (width - 1), num_perm, dtype=dtype) * dtype(2) + dtype(1)
        b = gen.randint(0, 1 << width, num_perm, dtype=dtype)
        return np.stack([a, b])

    a, b = drawn_once(f"affine-{num_perm}-{seed}-{width}", Path(__file__), draw)
    return a, b


class MinHasher:
    """Long-lived MinHash permutations; turns shingle hashes into signatures.

    >>> mh = MinHasher(num_perm=16, seed=1)
    >>> sig = mh.signature(np.array([1, 2, 3], dtype=np.uint64))
    >>> sig.shape, sig.dtype
    ((16,), dtype('uint64'))
    >>> jaccard(sig, mh.signature(np.array([1, 2, 3, 4], dtype=np.uint64))) > 0.3
    True
    """

    def __init__(self, num_perm: int = 128, seed: int = 1, scheme: str = "affine64") -> None:
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, not {scheme!r}")
        if num_perm < 1:
            raise ValueError("num_perm must be positive")
        self.num_perm = num_perm
        self.seed = seed
        self.scheme = scheme
        self.width = 64 if scheme == "affine64" else 32
        self.dtype: type[np.unsignedinteger[Any]] = np.uint64 if self.width == 64 else np.uint32
        a, b = affine_permutations(num_perm, seed, self.width)
        self._a = np.ascontiguousarray(a, dtype=self.dtype)[:, None]
        self._b = np.ascontiguousarray(b, dtype=self.dtype)[:, None]
        self.max_value = np.iinfo(self.dtype).max
        self._oph = scheme == "oph32"
        self._probes = oph_probes(num_perm, seed) if self._oph else np.zeros((0, 0), dtype=np.int64)

    # -- signatures ---------------------------------------------------------

    def empty(self) -> np.ndarray:
        """The signature of the empty set (all maximum values).

        >>> MinHasher(4, scheme="affine32").empty().tolist()
        [4294967295, 4294967295, 4294967295, 4294967295]
        """
        return np.full(self.num_perm, self.max_value, dtype=self.dtype)

    def _premix(self, hashes: np.ndarray) -> np.ndarray:
        h = np.asarray(hashes)
        if h.dtype != np.uint64:
            h = h.astype(np.uint64)
        if self.width == 32:
            x = (h & _MASK32).astype(np.uint32)
        else:
            x = h.copy()
        return _fmix_(x, self.width)

    def signature(self, hashes: np.ndarray) -> np.ndarray:
        """MinHash signature (``num_perm`` values of the scheme's dtype) of a
        set of 64-bit hashes; repeats are harmless. Empty input gives
        :meth:`empty`.

        >>> mh = MinHasher(8)
        >>> bool((mh.signature(np.array([5, 7], dtype=np.uint64))
        ...       == mh.signature(np.array([7, 5, 5], dtype=np.uint64))).all())
        True
        """
        x = self._premix(hashes)
        out = self.empty()
        if len(x) == 0:
            return out
        if self._oph:
            self._oph_fill(out[None, :], x, np.array([len(x)]))
            return out
        a, b = self._a, self._b
        buf = np.empty((self.num_perm, min(_CHUNK, len(x))), dtype=self.dtype)
        for s in range(0, len(x), _CHUNK):
            c = x[s : s + _CHUNK]
            w = buf[:, : len(c)]
            np.multiply(a, c, out=w)  # wraps modulo 2**width, as intended
            np.add(w, b, out=w)
            np.minimum(out, w.min(axis=1), out=out)
        return out

    def signatures(self, hash_arrays: Sequence[np.ndarray]) -> np.ndarray:
        """Signatures of many hash sets, one row each (``(n, num_perm)``).

        All documents are processed together in fixed-size column blocks
        (``np.minimum.reduceat`` per document segment), so many small blocks
        cost about what one long document of the same total size does.
        Empty inputs give :meth:`empty` rows.

        >>> mh = MinHasher(8)
        >>> hs = [np.array([1, 2], dtype=np.uint64), np.zeros(0, dtype=np.uint64)]
        >>> sigs = mh.signatures(hs)
        >>> sigs.shape, bool((sigs[0] == mh.signature(hs[0])).all()), is_empty(sigs[1])
        ((2, 8), True, True)
        """
        n = len(hash_arrays)
        lens = np.fromiter((len(h) for h in hash_arrays), dtype=np.int64, count=n)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lens, out=offsets[1:])
        if n == 0 or offsets[-1] == 0:
            return np.full((n, self.num_perm), self.max_value, dtype=self.dtype)
        flat = np.concatenate([np.asarray(h, dtype=np.uint64) for h in hash_arrays])
        return self.signatures_flat(flat, offsets)

    def signatures_flat(self, hashes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """:meth:`signatures` of documents laid end to end: document ``i`` is
        ``hashes[offsets[i]:offsets[i + 1]]`` (the output of
        :func:`cleaner.shingle.shingle_hashes_many`).

        >>> mh = MinHasher(8)
        >>> sigs = mh.signatures_flat(np.array([4, 5, 6], dtype=np.uint64), np.array([0, 2, 2, 3]))
        >>> sigs.shape, bool((sigs[2] == mh.signature(np.array([6], dtype=np.uint64))).all())
        ((3, 8), True)
        """
        offsets = np.asarray(offsets, dtype=np.int64)
        n = len(offsets) - 1
        out = np.full((n, self.num_perm), self.max_value, dtype=self.dtype)
        total = int(offsets[-1] - offsets[0]) if n > 0 else 0
        if total == 0:
            return out
        x = self._premix(hashes[offsets[0] : offsets[-1]])
        lens = np.diff(offsets)
        if self._oph:
            self._oph_fill(out, x, lens)
            return out
        nz = np.flatnonzero(lens)  # empty documents own no columns
        dstarts = offsets[:-1][nz] - offsets[0]
        a, b = self._a, self._b
        buf = np.empty((self.num_perm, min(_CHUNK, total)), dtype=self.dtype)
        for s in range(0, total, _CHUNK):
            e = min(s + _CHUNK, total)
            w = buf[:, : e - s]
            np.multiply(a, x[s:e], out=w)
            np.add(w, b, out=w)
            # The document running into this block, and those starting in it.
            first = int(np.searchsorted(dstarts, s, side="right")) - 1
            last = int(np.searchsorted(dstarts, e, side="left"))
            docs = nz[first:last]
            local = np.maximum(dstarts[first:last] - s, 0)
            mins = np.minimum.reduceat(w, local, axis=1)
            np.minimum(out[docs], mins.T, out=mins.T)
            out[docs] = mins.T
        return out

    def _oph_fill(self, sigs: np.ndarray, x: np.ndarray, lens: np.ndarray) -> None:
        """oph32 signatures, in place, of the pre-mixed values ``x`` laid out
        as ``len(lens)`` sets of ``lens[i]`` values (``sigs`` starts as
        :meth:`empty` rows): each value to the bin its high bits name, each
        bin its minimum, then every empty bin of a non-empty set from the
        first filled bin on its probe sequence."""
        n, k = sigs.shape
        cell = np.repeat(np.arange(n, dtype=np.int64) * k, lens)
        cell += ((x.astype(np.uint64) * np.uint64(k)) >> np.uint64(32)).astype(np.int64)
        np.minimum.at(sigs.reshape(-1), cell, x)
        filled = (np.bincount(cell, minlength=n * k) > 0).reshape(n, k)
        rows, cols = np.nonzero(~filled & filled.any(axis=1, keepdims=True))
        probes = self._probes
        for step in range(probes.shape[1]):
            if len(rows) == 0:
                break
            src = probes[cols, step]
            hit = filled[rows, src]
            sigs[rows[hit], cols[hit]] = sigs[rows[hit], src[hit]]
            rows, cols = rows[~hit], cols[~hit]

    # -- interop ------------------------------------------------------------

    def to_datasketch(self, sig: np.ndarray) -> Any:
        """A ``datasketch.LeanMinHash`` holding ``sig`` (usable in MinHashLSH).

        >>> mh = MinHasher(16)
        >>> s1 = mh.signature(np.arange(10, dtype=np.uint64))
        >>> s2 = mh.signature(np.arange(5, 15, dtype=np.uint64))
        >>> mh.to_datasketch(s1).jaccard(mh.to_datasketch(s2)) == jaccard(s1, s2)
        True
        """
        from datasketch import LeanMinHash

        # oph32 values are compared like affine32's (equal positions), and
        # datasketch knows only its own scheme names.
        scheme = "affine32" if self._oph else self.scheme
        return LeanMinHash(seed=self.seed, hashvalues=np.asarray(sig, dtype=self.dtype), scheme=scheme)

    def __repr__(self) -> str:
        return f"MinHasher(num_perm={self.num_perm}, seed={self.seed}, scheme={self.scheme!r})"


def oph_probes(num_perm: int, seed: int) -> np.ndarray:
    """The fixed probe sequence of every oph32 bin: row ``i`` lists the bins
    an empty bin ``i`` copies from, first hit wins: ``_OPH_PROBES`` random
    bins (drawn from ``seed``), then ``i + 1``, ``i + 2``, ... around, so a
    set with any value fills every bin.

    >>> p = oph_probes(4, 1)
    >>> p.shape, p[1, -3:].tolist()
    ((4, 35), [2, 3, 0])
    """

    def draw() -> np.ndarray:
        gen = np.random.RandomState(seed ^ 0x0F0F)
        return gen.randint(0, num_perm, (num_perm, _OPH_PROBES)).astype(np.int64)

    rand = drawn_once(f"oph-probes-{num_perm}-{seed}-{_OPH_PROBES}", Path(__file__), draw)
    bins = np.arange(num_perm, dtype=np.int64)[:, None]
    rotate = (bins + np.arange(1, num_perm, dtype=np.int64)[None, :]) % num_perm
    return np.ascontiguousarray(np.concatenate([rand, rotate], axis=1))


def signature_reference(hasher: MinHasher, hashes: Iterable[int]) -> list[int]:
    """Plain-Python twin of :meth:`MinHasher.signature`, for tests.

    >>> mh = MinHasher(4)
    >>> signature_reference(mh, [3, 9]) == mh.signature(np.array([3, 9], dtype=np.uint64)).tolist()
    True
    """
    w = hasher.width
    mask = (1 << w) - 1
    s1, m1, s2, m2, s3 = (int(v) for v in _FMIX[w])
    a = [int(v) for v in hasher._a[:, 0]]
    b = [int(v) for v in hasher._b[:, 0]]
    out = [mask] * hasher.num_perm
    bins: dict[int, int] = {}  # oph32: bin -> its minimum
    for h in hashes:
        x = int(h) & mask
        x ^= x >> s1
        x = (x * m1) & mask
        x ^= x >> s2
        x = (x * m2) & mask
        x ^= x >> s3
        if hasher.scheme == "oph32":
            i = x * hasher.num_perm >> 32
            bins[i] = min(bins.get(i, mask), x)
            continue
        for k in range(hasher.num_perm):
            v = (a[k] * x + b[k]) & mask
            if v < out[k]:
                out[k] = v
    if bins:
        probes = oph_probes(hasher.num_perm, hasher.seed).tolist()
        out = [bins[i] if i in bins else bins[next(j for j in probes[i] if j in bins)] for i in range(hasher.num_perm)]
    return out


def jaccard(sig_a: np.ndarray, sig_b: np.ndarray) -> float:
    """Jaccard estimate: the fraction of equal positions; 0.0 when either
    signature is empty (empty sets match nothing).

    >>> jaccard(np.array([1, 2, 3, 4]), np.array([1, 2, 0, 0]))
    0.5
    """
    a = np.asarray(sig_a)
    b = np.asarray(sig_b)
    if a.shape != b.shape:
        raise ValueError(f"signatures differ in shape: {a.shape} vs {b.shape}")
    if a.size == 0 or is_empty(a) or is_empty(b):
        return 0.0
    return float(np.count_nonzero(a == b)) / a.size


def _as_set(x: Any) -> Any:
    if isinstance(x, (set, frozenset)):
        return x
    return set(x.tolist() if isinstance(x, np.ndarray) else x)


def _as_sets(a: Any, b: Any) -> tuple[Any, Any, bool]:
    """Two numpy arrays stay arrays (intersected with numpy); else sets."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
        return a, b, True
    return _as_set(a), _as_set(b), False


def sorted_unique(x: np.ndarray, *, copy: bool = True) -> np.ndarray:
    """Sorted unique values, by a sort and a compare. ``np.unique`` without
    ``return_*`` takes a hash path in numpy 2: 13x slower on 400,000
    int64 values here (0.38 against 0.027 s). ``copy=False``: ``x`` is
    sorted in place (for a caller that owns it).

    >>> sorted_unique(np.array([5, 3, 5, 1])).tolist()
    [1, 3, 5]
    """
    if copy:
        x = np.sort(x)
    else:
        x.sort()
    if len(x) < 2:
        return x
    keep = np.empty(len(x), dtype=bool)
    keep[0] = True
    np.not_equal(x[1:], x[:-1], out=keep[1:])
    return x[keep]


def exact_jaccard(set_a: Any, set_b: Any) -> float:
    """``|A ∩ B| / |A ∪ B|`` of two sets (or two hash arrays); 0.0 if either
    is empty (empty texts never match).

    >>> exact_jaccard({1, 2, 3}, {2, 3, 4})
    0.5
    """
    a, b, arrays = _as_sets(set_a, set_b)
    if arrays:
        a, b = sorted_unique(a), sorted_unique(b)
    if len(a) == 0 or len(b) == 0:
        return 0.0
    inter = len(np.intersect1d(a, b, assume_unique=True)) if arrays else len(a & b)
    return inter / (len(a) + len(b) - inter)


def containment(set_a: Any, set_b: Any) -> float:
    """``|A ∩ B| / |A|``: how much of A is in B (a truncated copy A of B
    scores 1.0); 0.0 if A is empty.

    >>> containment({1, 2}, {1, 2, 3, 4})
    1.0
    """
    a, b, arrays = _as_sets(set_a, set_b)
    if arrays:
        a, b = sorted_unique(a), sorted_unique(b)
    if len(a) == 0:
        return 0.0
    inter = len(np.intersect1d(a, b, assume_unique=True)) if arrays else len(a & b)
    return inter / len(a)
