"""LSH indexes over MinHash signatures: candidates for near-duplicate blocks.

Two indexes with the same verbs (``add``, ``add_many``, ``query``,
``remove``, ``len``, ``in``, ``pairs``) and the same banding, so they return
the same candidates:

* :class:`LSHIndex` wraps ``datasketch.MinHashLSH``; its ``backend`` dict is
  datasketch's ``storage_config`` (in-memory by default; ``{"type": "redis",
  ...}`` for the shared Redis storage), so several workers can share it.
* :class:`BandIndex` is the in-process fast path: band hashes for many
  signatures are computed at once with numpy, and buckets are one plain dict
  from a 64-bit band hash to the id(s) in it. It can also list every
  colliding pair (:meth:`BandIndex.pairs`) or bucket
  (:meth:`BandIndex.buckets`) without a query per block.

Both take signatures from :class:`cleaner.sketch.MinHasher` (any scheme; the
dtype tells which). An empty signature (see :func:`cleaner.sketch.is_empty`)
is remembered as a key but put in no bucket, so it never becomes anyone's
candidate, and querying with it returns nothing. Candidates are only
candidates: verify with exact similarity before merging or removing.
"""

from __future__ import annotations

import functools
import itertools
import pickle
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .shingle import _fmix64_  # the same MurmurHash3 finaliser as the shingles
from .tablecache import cached_codes, drawn_once, fingerprint

from cleaner.sketch import is_empty

__all__ = ["optimal_params", "LSHIndex", "BandIndex", "candidate_pairs"]


@functools.lru_cache(maxsize=64)
def optimal_params(
    threshold: float, num_perm: int, weights: tuple[float, float] = (0.5, 0.5)
) -> tuple[int, int]:
    """datasketch's optimal ``(bands, rows)`` for a Jaccard threshold: the
    same grid search over the false positive and negative areas, done here
    with numpy so that runs never import datasketch (and scipy, about a
    second). Cached; ``tests/test_index.py`` checks it against datasketch.

    >>> optimal_params(0.5, 128)
    (25, 5)
    """
    # ~12 ms, in every run: kept on disk too (see cleaner.tablecache).
    name = f"lsh-params-{float(threshold)!r}-{int(num_perm)}-{float(weights[0])!r}-{float(weights[1])!r}"
    got = cached_codes(
        name,
        fingerprint([Path(__file__)], []),
        lambda: np.array(_optimal_params_numpy(threshold, num_perm, weights), dtype=np.int32),
    )
    assert got is not None
    return int(got[0]), int(got[1])


def _optimal_params_numpy(threshold: float, num_perm: int, weights: tuple[float, float]) -> tuple[int, int]:
    # Every (bands, rows) pair at once (about 700 for 128 permutations):
    # the same trapezoid sums as datasketch's loop, 10x faster than a
    # call per pair. Ties go to the first pair in datasketch's order.
    pairs = np.array([(b, r) for b in range(1, num_perm + 1) for r in range(1, num_perm // b + 1)], dtype=np.float64)
    b, r = pairs[:, :1], pairs[:, 1:]
    xs_fp = np.linspace(0.0, threshold, 513)[None, :]
    xs_fn = np.linspace(threshold, 1.0, 513)[None, :]
    fp = np.trapezoid(1 - (1 - xs_fp**r) ** b, xs_fp, axis=1)
    fn = np.trapezoid((1 - xs_fn**r) ** b, xs_fn, axis=1)
    err = fp * weights[0] + fn * weights[1]
    best = int(np.argmin(err))
    return int(pairs[best, 0]), int(pairs[best, 1])


def _sorted_pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


# ---------------------------------------------------------------------------


class LSHIndex:
    """``datasketch.MinHashLSH`` behind our verbs; keys are strings.

    >>> from cleaner.sketch import MinHasher
    >>> mh = MinHasher(128)
    >>> idx = LSHIndex(0.5, 128)
    >>> idx.add("a", mh.signature(np.arange(100, dtype=np.uint64)))
    >>> idx.query(mh.signature(np.arange(5, 100, dtype=np.uint64)))
    ['a']
    """

    def __init__(
        self,
        threshold: float = 0.5,
        num_perm: int = 128,
        backend: dict[str, Any] | None = None,
        *,
        params: tuple[int, int] | None = None,
        weights: tuple[float, float] = (0.5, 0.5),
        seed: int = 1,
    ) -> None:
        from datasketch import MinHashLSH

        self.threshold = threshold
        self.num_perm = num_perm
        self.b, self.r = params if params is not None else optimal_params(threshold, num_perm, tuple(weights))
        self.seed = seed  # only labels the LeanMinHash objects; LSH ignores it
        self._lsh = MinHashLSH(
            threshold=threshold,
            num_perm=num_perm,
            weights=weights,
            params=(self.b, self.r),
            storage_config=backend,
        )
        # Empty signatures: known keys that sit in no bucket. Kept in process
        # (with a shared backend, each worker knows only its own empties).
        self._empty: set[str] = set()

    def _minhash(self, sig: np.ndarray) -> Any:
        from datasketch import LeanMinHash

        sig = np.asarray(sig)
        if sig.shape != (self.num_perm,):
            raise ValueError(f"expected a signature of {self.num_perm} values, got shape {sig.shape}")
        scheme = "affine32" if sig.dtype == np.uint32 else "affine64"
        return LeanMinHash(seed=self.seed, hashvalues=sig, scheme=scheme)

    def add(self, key: str, sig: np.ndarray) -> None:
        """Index ``sig`` under ``key``; a key may be added once (ValueError)."""
        if key in self:
            raise ValueError(f"key already indexed: {key!r}")
        if is_empty(sig):
            self._minhash(sig)  # validate the shape
            self._empty.add(key)
            return
        self._lsh.insert(key, self._minhash(sig), check_duplication=False)

    def add_many(self, keys: Iterable[str], sigs: Iterable[np.ndarray]) -> None:
        """Bulk :meth:`add` through datasketch's buffered insertion session."""
        keys = list(keys)
        if len(set(keys)) != len(keys) or any(k in self for k in keys):
            raise ValueError("keys must be new and distinct")
        with self._lsh.insertion_session() as session:
            for key, sig in zip(keys, sigs, strict=True):
                if is_empty(sig):
                    self._minhash(sig)
                    self._empty.add(key)
                else:
                    session.insert(key, self._minhash(sig), check_duplication=False)

    def query(self, sig: np.ndarray) -> list[str]:
        """Keys sharing at least one band with ``sig`` (none for empty)."""
        mh = self._minhash(sig)
        if is_empty(sig):
            return []
        return list(self._lsh.query(mh))

    def remove(self, key: str) -> None:
        """Forget ``key`` (ValueError if absent)."""
        if key in self._empty:
            self._empty.discard(key)
        else:
            self._lsh.remove(key)

    def __contains__(self, key: object) -> bool:
        return key in self._empty or key in self._lsh

    def __len__(self) -> int:
        return self._lsh.keys.size() + len(self._empty)

    def pairs(self) -> set[tuple[str, str]]:
        """All pairs of keys sharing a bucket, each as ``(smaller, larger)``.

        >>> from cleaner.sketch import MinHasher
        >>> mh = MinHasher(128)
        >>> idx = LSHIndex(0.5, 128)
        >>> idx.add_many(["x", "y", "z"], [mh.signature(np.arange(100, dtype=np.uint64)),
        ...     mh.signature(np.arange(1, 100, dtype=np.uint64)), mh.signature(np.arange(500, 600, dtype=np.uint64))])
        >>> sorted(idx.pairs())
        [('x', 'y')]
        """
        out: set[tuple[str, str]] = set()
        unpickle = self._lsh.prepickle
        for table in self._lsh.hashtables:
            for h in table.keys():
                members = table.get(h)
                if len(members) < 2:
                    continue
                ks = sorted(pickle.loads(m) if unpickle else m for m in members)
                out.update(itertools.combinations(ks, 2))
        return out


# ---------------------------------------------------------------------------



class BandIndex:
    """Numpy banding LSH (datasketch's bands and rows), the fast path.

    Band ``i`` of a signature is ``sig[i*r:(i+1)*r]``, as in datasketch; it
    is reduced to one 64-bit value ``fmix64(sum_j sig[i*r+j] * M[i, j] + i * C)``
    (``M`` random odd constants), and one dict maps that value to the id, or
    list of ids, in its bucket. Two different bands share a bucket only with
    probability about ``2**-64``, so candidates equal :class:`LSHIndex`'s.

    >>> from cleaner.sketch import MinHasher
    >>> mh = MinHasher(128)
    >>> idx = BandIndex(0.5, 128)
    >>> idx.add_many(["x", "y"], mh.signatures([np.arange(100, dtype=np.uint64),
    ...                                          np.arange(1, 100, dtype=np.uint64)]))
    >>> sorted(idx.query(mh.signature(np.arange(100, dtype=np.uint64)))), sorted(idx.pairs())
    (['x', 'y'], [('x', 'y')])
    """

    def __init__(
        self,
        threshold: float = 0.5,
        num_perm: int = 128,
        *,
        params: tuple[int, int] | None = None,
        weights: tuple[float, float] = (0.5, 0.5),
    ) -> None:
        self.threshold = threshold
        self.num_perm = num_perm
        self.b, self.r = params if params is not None else optimal_params(threshold, num_perm, tuple(weights))
        if self.b * self.r > num_perm or self.b < 1 or self.r < 1:
            raise ValueError(f"bad params b={self.b}, r={self.r} for num_perm={num_perm}")
        b, r = self.b, self.r

        def draw() -> np.ndarray:
            rng = np.random.default_rng(0x5EED)  # fixed: band hashes are stable across runs
            mult = rng.integers(0, 1 << 63, size=(b, r), dtype=np.uint64) * np.uint64(2) + np.uint64(1)
            salt = rng.integers(0, 1 << 63, size=b, dtype=np.uint64)
            return np.concatenate([mult, salt[:, None]], axis=1)

        drawn = drawn_once(f"band-coefficients-{b}-{r}", Path(__file__), draw)
        self._mult, self._salt = np.ascontiguousarray(drawn[:, :r]), np.ascontiguousarray(drawn[:, r])
        self._buckets: dict[int, int | list[int]] = {}
        self._ids: dict[str, int] = {}
        self._keys: list[str | None] = []
        self._bands = np.zeros((0, self.b), dtype=np.uint64)
        self._banded: list[bool] = []  # False for empty signatures

    # -- band hashes ----------------------------------------------------------

    def band_hashes(self, sigs: np.ndarray) -> np.ndarray:
        """``(n, b)`` uint64 band hashes of ``(n, num_perm)`` signatures.

        >>> BandIndex(0.5, 128).band_hashes(np.zeros((2, 128), dtype=np.uint64)).shape
        (2, 25)
        """
        sigs = np.asarray(sigs)
        if sigs.ndim != 2 or sigs.shape[1] != self.num_perm:
            raise ValueError(f"expected signatures of {self.num_perm} values, got shape {sigs.shape}")
        out = np.empty((len(sigs), self.b), dtype=np.uint64)
        # In slices of rows: widened to uint64, the signatures of a large
        # corpus would be a transient copy 2-4x their size.
        for a in range(0, len(sigs), 4096):
            x = sigs[a : a + 4096, : self.b * self.r].astype(np.uint64).reshape(-1, self.b, self.r)
            x *= self._mult  # wraps modulo 2**64, as intended
            h = x.sum(axis=2, dtype=np.uint64)
            h += self._salt
            out[a : a + 4096] = _fmix64_(h)
        return out

    # -- verbs ----------------------------------------------------------------

    def _register(self, key: str) -> int:
        if key in self._ids:
            raise ValueError(f"key already indexed: {key!r}")
        i = len(self._keys)
        self._ids[key] = i
        self._keys.append(key)
        return i

    def add(self, key: str, sig: np.ndarray) -> None:
        """Index ``sig`` under ``key``; a key may be added once (ValueError)."""
        self.add_many([key], np.asarray(sig)[None, :])

    def add_many(self, keys: Sequence[str], sigs: np.ndarray | Sequence[np.ndarray]) -> None:
        """Index many signatures at once (band hashes in one numpy pass)."""
        keys = list(keys)
        sigs = np.asarray(sigs)
        if sigs.ndim != 2 or len(sigs) != len(keys):
            raise ValueError("need one signature row per key")
        if len(set(keys)) != len(keys) or any(k in self._ids for k in keys):
            raise ValueError("keys must be new and distinct")
        if not keys:
            return
        bands = self.band_hashes(sigs)
        maxv = np.iinfo(sigs.dtype).max if sigs.dtype.kind == "u" else None
        empty = (sigs == maxv).all(axis=1) if maxv is not None else np.zeros(len(keys), dtype=bool)
        first = len(self._keys)
        for key in keys:
            self._register(key)
        if len(self._keys) > len(self._bands):  # grow by doubling: add() stays O(1)
            grown = np.zeros((max(64, 2 * len(self._bands), len(self._keys)), self.b), dtype=np.uint64)
            grown[:first] = self._bands[:first]
            self._bands = grown
        self._bands[first : first + len(keys)] = bands
        self._banded.extend((~empty).tolist())
        buckets = self._buckets
        for j, row in enumerate(bands.tolist()):
            if empty[j]:
                continue
            i = first + j
            for h in row:
                cur = buckets.get(h)
                if cur is None:
                    buckets[h] = i
                elif isinstance(cur, int):
                    buckets[h] = [cur, i]
                else:
                    cur.append(i)

    def _query_ids(self, row: list[int]) -> set[int]:
        found: set[int] = set()
        for h in row:
            cur = self._buckets.get(h)
            if cur is None:
                continue
            if isinstance(cur, int):
                found.add(cur)
            else:
                found.update(cur)
        return found

    def query(self, sig: np.ndarray) -> list[str]:
        """Keys sharing at least one band with ``sig``, in insertion order
        (none for an empty signature)."""
        sig = np.asarray(sig)
        row = self.band_hashes(sig[None, :])[0].tolist()
        if is_empty(sig):
            return []
        return [self._keys[i] for i in sorted(self._query_ids(row))]  # type: ignore[misc]

    def query_many(self, sigs: np.ndarray) -> list[list[str]]:
        """:meth:`query` for each row of ``sigs`` (band hashes in one pass)."""
        sigs = np.asarray(sigs)
        bands = self.band_hashes(sigs).tolist()
        out: list[list[str]] = []
        for sig, row in zip(sigs, bands):
            if is_empty(sig):
                out.append([])
            else:
                out.append([self._keys[i] for i in sorted(self._query_ids(row))])  # type: ignore[misc]
        return out

    def remove(self, key: str) -> None:
        """Forget ``key`` (ValueError if absent)."""
        i = self._ids.pop(key, None)
        if i is None:
            raise ValueError(f"key not indexed: {key!r}")
        self._keys[i] = None
        if self._banded[i]:
            self._banded[i] = False
            for h in self._bands[i].tolist():
                cur = self._buckets.get(h)
                if cur == i:
                    del self._buckets[h]
                elif isinstance(cur, list):
                    cur.remove(i)
                    if len(cur) == 1:
                        self._buckets[h] = cur[0]

    def __contains__(self, key: object) -> bool:
        return key in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def buckets(self) -> list[list[str]]:
        """Every bucket holding two or more keys (insertion order inside),
        each distinct member set once. Linear in the index size, unlike
        :meth:`pairs`, which is quadratic in bucket size.

        >>> idx = BandIndex(0.5, 8, params=(2, 4))
        >>> idx.add_many(["p", "q"], np.array([[1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 3, 4, 0, 0, 0, 0]], dtype=np.uint64))
        >>> idx.buckets()
        [['p', 'q']]
        """
        seen: set[tuple[int, ...]] = set()
        out: list[list[str]] = []
        for cur in self._buckets.values():
            if isinstance(cur, list):
                t = tuple(sorted(cur))
                if t not in seen:
                    seen.add(t)
                    out.append([self._keys[i] for i in t])  # type: ignore[misc]
        return out

    def pairs(self) -> set[tuple[str, str]]:
        """All pairs of keys sharing a bucket, each as ``(smaller, larger)``
        by string order. A bucket of ``g`` keys contributes ``g*(g-1)/2``
        pairs: for widely repeated blocks prefer :meth:`buckets`.

        >>> idx = BandIndex(0.5, 8, params=(2, 4))
        >>> idx.add_many(["q", "p"], np.array([[1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 3, 4, 0, 0, 0, 0]], dtype=np.uint64))
        >>> idx.pairs()
        {('p', 'q')}
        """
        ids: set[tuple[int, int]] = set()
        for cur in self._buckets.values():
            if isinstance(cur, list):
                ids.update(itertools.combinations(sorted(cur), 2))
        keys = self._keys
        return {_sorted_pair(keys[a], keys[b]) for a, b in ids}  # type: ignore[arg-type]


def candidate_pairs(index: LSHIndex | BandIndex) -> set[tuple[str, str]]:
    """All colliding key pairs of either index, as ``(smaller, larger)``.

    >>> candidate_pairs(BandIndex(0.5, 128))
    set()
    """
    return index.pairs()
