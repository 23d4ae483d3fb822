"""Shingles: the hashed n-gram sets that MinHash sketches are built from.

Two entry points, one hash function:

* :func:`shingle_hashes` takes a **match key** (see
  :func:`cleaner.normalize.match_key`). A key has no spaces or punctuation,
  so it carries no word boundaries: every key character is one *unit* and
  the shingles are character ``k``-grams over the whole key (CJK, the mask
  wildcard ``□``, digits and Latin letters alike).
* :func:`shingle_hashes_text` takes **raw text**, keys it itself with
  :func:`cleaner.normalize.match_key_with_map` and uses the source offsets to
  recover word boundaries (a key position whose source offset jumps by more
  than one had a space or punctuation dropped before it). Runs of at least
  ``word_k`` words of a space-separated script (Latin, Greek, Cyrillic,
  Arabic, Indic, ...; see :data:`SPACED`) become *word runs*, shingled by word
  ``word_k``-grams; everything else (CJK and other unspaced scripts, ``□``,
  and short Latin runs such as ``2019`` or ``GDP`` inside Chinese) stays
  character units, shingled by character ``k``-grams. A Chinese text without
  word runs therefore gives exactly ``shingle_hashes(match_key(text))``.

Units are laid out as a sequence of *segments* (maximal runs of character
units or of word units); shingles never cross a segment boundary. A segment
shorter than its shingle length yields **one** hash of the whole segment:
short texts are hashed exactly rather than all colliding on a constant, and
an empty key yields an empty array.

The hash of a window of ``m`` units ``u[0..m)`` is
``fmix64(sum(u[j] * P**j) + m * LEN_SALT + kind * KIND_SALT)`` modulo
``2**64``, where a character unit is its code point, a word unit is
``sum(fmix64(cp + (pos + 1) * POS_SALT))`` over its characters, ``kind`` is 0
for character windows and 1 for word windows, and ``fmix64`` is the
MurmurHash3 finaliser. The fast path evaluates all windows at once from a
prefix sum of ``u[t] * P**t`` (``P`` is odd, so ``P**-i`` exists modulo
``2**64`` and shifts a window back to position 0); the ``*_reference``
functions compute the same values with plain Python ints and are what the
tests compare against.

For many blocks at once, :func:`match_keys` keys them in one call and
:func:`shingle_hashes_many` shingles them in one numpy pass, returning the
flat ``(hashes, offsets)`` form :meth:`cleaner.sketch.MinHasher.signatures_flat`
takes: per-block calls cost ~20 us each, which dominates on paragraphs.

Results are ``uint64`` arrays of **unique values in ascending order** (the
default, ``unique=True``); ``unique=False`` skips the sort and returns one
hash per window, in text order, which is all MinHash needs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import numpy as np

from cleaner.normalize import match_key, match_key_with_map
from cleaner.sketch import sorted_unique

__all__ = [
    "SPACED",
    "match_keys",
    "shingle_hashes",
    "shingle_hashes_many",
    "shingle_hashes_text",
    "shingle_hashes_reference",
    "shingle_set",
    "tokens",
]

_M64 = (1 << 64) - 1
# Odd multiplier of the window polynomial (2**64 / golden ratio); odd so that
# it has an inverse modulo 2**64.
_P = 0x9E3779B97F4A7C15
_PINV = pow(_P, -1, 1 << 64)
_LEN_SALT = 0xD6E8FEB86659FD93  # separates window lengths (short segments)
_KIND_SALT = 0xA0761D6478BD642F  # separates word windows from char windows
_POS_SALT = 0xE7037ED1A0B428DB  # position of a character inside a word
_F1 = 0xFF51AFD7ED558CCD  # MurmurHash3 fmix64 constants
_F2 = 0xC4CEB9FE1A85EC53

_U_F1 = np.uint64(_F1)
_U_F2 = np.uint64(_F2)
_U_33 = np.uint64(33)
_U_P = np.uint64(_P)
_U_LEN = np.uint64(_LEN_SALT)
_U_KIND = np.uint64(_KIND_SALT)
_U_POS = np.uint64(_POS_SALT)

_EMPTY = np.zeros(0, dtype=np.uint64)


def _build_spaced() -> np.ndarray:
    """Code points of scripts written with spaces between words."""
    t = np.zeros(0x110000, dtype=bool)
    t[:0x2E80] = True  # Latin ... letterlike symbols; CJK starts at U+2E80
    for lo, hi in (
        (0x0E00, 0x1000),  # Thai, Lao, Tibetan
        (0x1000, 0x10A0),  # Myanmar
        (0x1100, 0x1200),  # Hangul Jamo (keyed as characters, like CJK)
        (0x1780, 0x1800),  # Khmer
        (0x1950, 0x1A20),  # Tai Le, New Tai Lue, Khmer symbols
        (0x1A20, 0x1AB0),  # Tai Tham
        (0x2000, 0x2C00),  # punctuation, symbols, arrows, boxes (incl. the wildcard)
    ):
        t[lo:hi] = False
    for lo, hi in (
        (0xA720, 0xA800),  # Latin Extended-D
        (0xAB30, 0xAB70),  # Latin Extended-E
        (0xFB00, 0xFE00),  # alphabetic presentation forms (Latin, Hebrew, Arabic)
        (0xFE70, 0xFF00),  # Arabic presentation forms-B
        (0x10000, 0x10A00),  # old alphabetic scripts
    ):
        t[lo:hi] = True
    return t


#: ``SPACED[cp]`` is true when code point ``cp`` belongs to a script written
#: with spaces between words (its key characters can form words).
SPACED: np.ndarray = _build_spaced()

# ---------------------------------------------------------------------------
# Powers of P and P**-1 modulo 2**64, grown on demand (doubling) and shared.
_pow_lock = threading.Lock()
_ppow = np.zeros(0, dtype=np.uint64)
_pinv = np.zeros(0, dtype=np.uint64)


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(P**t, P**-t)`` for ``t < n`` (views of a cached table)."""
    global _ppow, _pinv
    ppow, pinv = _ppow, _pinv
    if len(ppow) < n:
        with _pow_lock:
            ppow, pinv = _ppow, _pinv
            if len(ppow) < n:
                size = max(1024, 1 << (n - 1).bit_length())
                ppow = np.full(size, _P, dtype=np.uint64)
                ppow[0] = 1
                np.cumprod(ppow, out=ppow)  # wraps modulo 2**64, as intended
                pinv = np.full(size, _PINV, dtype=np.uint64)
                pinv[0] = 1
                np.cumprod(pinv, out=pinv)
                # Publish the pair together so readers never mix sizes.
                _ppow, _pinv = ppow, pinv
    return ppow[:n], pinv[:n]


def _fmix64_(x: np.ndarray) -> np.ndarray:
    """MurmurHash3 finaliser, in place on a uint64 array (a bijection)."""
    x ^= x >> _U_33
    x *= _U_F1
    x ^= x >> _U_33
    x *= _U_F2
    x ^= x >> _U_33
    return x


def _fmix64_int(x: int) -> int:
    x ^= x >> 33
    x = (x * _F1) & _M64
    x ^= x >> 33
    x = (x * _F2) & _M64
    return x ^ (x >> 33)


def _codes(key: str) -> np.ndarray:
    # surrogatepass: keys may keep lone surrogates (normalize does the same).
    return np.frombuffer(key.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _finish(h: np.ndarray, unique: bool) -> np.ndarray:
    """With ``unique``: sorted, repeats dropped (``h`` is ours to sort)."""
    return sorted_unique(h, copy=False) if unique else h


# Units per prefix-sum block: bounds the cached power tables (2 x 8 bytes per
# unit) and the temporaries however long the input is.
_BLOCK = 1 << 16


def _window_hashes(
    units: np.ndarray, starts: np.ndarray, lengths: np.ndarray, kinds: np.ndarray | None
) -> np.ndarray:
    """Hash of each window ``units[starts[i] : starts[i] + lengths[i]]``;
    ``starts`` must be ascending."""
    n = len(units)
    if n <= _BLOCK or len(starts) == 0:
        return _window_hashes_block(units, starts, lengths, kinds)
    # A window's hash does not depend on its position, so blocks of windows
    # can be hashed against their own slice of the units.
    out = np.empty(len(starts), dtype=np.uint64)
    reach = int(lengths.max())
    cuts = np.searchsorted(starts, np.arange(0, n + _BLOCK, _BLOCK)).tolist()
    for b, (i0, i1) in enumerate(zip(cuts[:-1], cuts[1:])):
        if i0 == i1:
            continue
        c0 = b * _BLOCK
        out[i0:i1] = _window_hashes_block(
            units[c0 : c0 + _BLOCK + reach],
            starts[i0:i1] - c0,
            lengths[i0:i1],
            None if kinds is None else kinds[i0:i1],
        )
    return out


def _window_hashes_block(
    units: np.ndarray, starts: np.ndarray, lengths: np.ndarray, kinds: np.ndarray | None
) -> np.ndarray:
    n = len(units)
    ppow, pinv = _powers(n + 1)
    prefix = np.empty(n + 1, dtype=np.uint64)
    prefix[0] = 0
    np.multiply(units, ppow[:n], out=prefix[1:])
    np.cumsum(prefix[1:], out=prefix[1:])
    h = prefix[starts + lengths]
    h -= prefix[starts]
    h *= pinv[starts]  # shift the window back to position 0
    h += lengths.astype(np.uint64) * _U_LEN
    if kinds is not None:
        h += kinds.astype(np.uint64) * _U_KIND
    return _fmix64_(h)


def shingle_hashes(key: str, k: int = 5, word_k: int = 3, *, unique: bool = True) -> np.ndarray:
    """Hashes of the character ``k``-grams of a match key.

    A key has no word boundaries, so every character is a unit (``word_k``
    is accepted for a uniform signature and unused). A key shorter than ``k``
    gives one hash of the whole key; an empty key gives an empty array.
    Returns unique ``uint64`` values in ascending order (``unique=False``:
    one hash per window, in key order).

    >>> h = shingle_hashes("同志们这次会议")
    >>> h.dtype, len(h)
    (dtype('uint64'), 3)
    >>> len(shingle_hashes("同志们")), len(shingle_hashes(""))
    (1, 0)
    """
    return key_code_hashes(_codes(key), k, unique=unique)


def key_code_hashes(codes: np.ndarray, k: int = 5, *, unique: bool = True) -> np.ndarray:
    """:func:`shingle_hashes` of a key given as its code points
    (:func:`cleaner.normalize.match_key_codes`).

    >>> bool((key_code_hashes(np.array([ord(c) for c in "同志们这次会议"])) == shingle_hashes("同志们这次会议")).all())
    True
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, not {k}")
    if not len(codes):
        return _EMPTY.copy()
    units = codes.astype(np.uint64)
    n = len(units)
    if n <= k:
        starts = np.zeros(1, dtype=np.int64)
        lengths = np.full(1, n, dtype=np.int64)
        return _finish(_window_hashes(units, starts, lengths, None), unique)
    # Every window has length k: Horner's rule over k shifted views gives
    # the prefix-sum hash sum(u[s + j] * P**j) exactly (both are that sum
    # modulo 2**64), in k - 1 multiply-adds instead of the prefix sums and
    # gathers (twice as fast).
    m = n - k + 1
    h = units[k - 1 :].copy()
    for j in range(k - 2, -1, -1):
        h *= _U_P
        h += units[j : j + m]
    h += np.uint64((k * _LEN_SALT) & _M64)
    return _finish(_fmix64_(h), unique)


# Joins texts for one keying call. A private-use character survives keying
# as itself and stops every context-dependent rule (OpenCC phrases, mask
# look-arounds, wildcard collapsing) just as a text boundary does.
_SEP = "\ue000"
_KEY_BATCH_CHARS = 1 << 22


def match_keys(texts: Sequence[str]) -> list[str]:
    """``[match_key(t) for t in texts]`` in one call (one OpenCC and regex
    pass instead of one per block: several times faster for paragraphs).

    >>> match_keys(["XX市長：", "", "ＡＢＣ！"]) == [match_key("XX市長："), "", "abc"]
    True
    """
    texts = list(texts)
    if len(texts) < 2 or any(_SEP in t for t in texts):
        return [match_key(t) for t in texts]
    keys: list[str] = []
    # Batches of about _KEY_BATCH_CHARS: one call's working arrays (code
    # points, tables, masks) stay bounded however many texts there are.
    for b in char_batches(texts, _KEY_BATCH_CHARS):
        batch = texts[b]
        got = match_key(_SEP.join(batch)).split(_SEP)
        keys.extend(got if len(got) == len(batch) else [match_key(t) for t in batch])  # (cannot differ; be safe)
    return keys


def char_batches(texts: Sequence[str], limit: int) -> Iterator[slice]:
    """Consecutive slices of ``texts`` of about ``limit`` characters each
    (a text is never split), so that work over all of them at once keeps
    its working arrays bounded.

    >>> list(char_batches(["ab", "cd", "efgh", "i"], 4))
    [slice(0, 2, None), slice(2, 3, None), slice(3, 4, None)]
    """
    start = size = 0
    for end, text in enumerate(texts, 1):
        size += len(text) + 1
        if size >= limit or end == len(texts):
            yield slice(start, end)
            start, size = end, 0


def shingle_hashes_many(
    keys: Sequence[str], k: int = 5, *, unique: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`shingle_hashes` of many keys in one numpy pass.

    Returns ``(hashes, offsets)``: the hashes of key ``i`` are
    ``hashes[offsets[i]:offsets[i + 1]]`` (``len(offsets) == len(keys) + 1``),
    the form :meth:`cleaner.sketch.MinHasher.signatures_flat` takes. With
    ``unique=False`` (default; MinHash does not care) each key's hashes are
    in window order with repeats; ``unique=True`` makes each slice equal
    :func:`shingle_hashes`.

    >>> h, off = shingle_hashes_many(["同志们这次会议", "", "同志"], unique=True)
    >>> off.tolist(), bool((h[off[0]:off[1]] == shingle_hashes("同志们这次会议")).all())
    ([0, 3, 3, 4], True)
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, not {k}")
    keys = list(keys)
    lens = np.fromiter((len(key) for key in keys), dtype=np.int64, count=len(keys))
    nwin = np.where(lens > k, lens - k + 1, np.minimum(lens, 1))
    offsets = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum(nwin, out=offsets[1:])
    total = int(offsets[-1])
    if total == 0:
        return _EMPTY.copy(), offsets
    h = _many_window_hashes(keys, lens, nwin, total, k)
    if unique:
        bounds = offsets.tolist()
        for a, b in zip(bounds[:-1], bounds[1:]):
            if b - a > 1:
                h[a:b].sort()
        keep = np.ones(total, dtype=bool)
        np.not_equal(h[1:], h[:-1], out=keep[1:])
        keep[offsets[:-1][nwin > 0]] = True  # a key's first hash always stays
        h = h[keep]
        offsets = np.zeros(len(keys) + 1, dtype=np.int64)
        doc = np.repeat(np.arange(len(keys)), nwin)[keep]
        np.cumsum(np.bincount(doc, minlength=len(keys)), out=offsets[1:])
    return h, offsets


def _many_window_hashes(keys: list[str], lens: np.ndarray, nwin: np.ndarray, total: int, k: int) -> np.ndarray:
    """The hashes :func:`shingle_hashes_many` returns before ``unique``:
    every window of every key, in order (``nwin`` windows a key, ``total``
    in all).

    The keys of at least ``k`` characters are hashed as one run of units, a
    block of window starts at a time (:func:`_window_hashes_block` on the
    block's own units: a window's hash does not depend on its position),
    leaving out the windows that cross from one key into the next. No array
    of every window's start and length is made for the whole run: for the
    5.5 million windows of labelling's step 3 on the 50 MiB bench corpus
    that took 0.15-0.55 s, and takes 0.15-0.20 s this way (on their own,
    warm). Shorter keys (one window of the whole key) go through
    :func:`_window_hashes`.
    """
    units = _codes("".join(keys))  # uint32: widened a block at a time below
    n = len(units)
    starts = np.cumsum(lens) - lens
    whole = lens >= k  # keys with windows of k units
    out: list[np.ndarray] = []
    if n >= k and whole.any():
        # valid[p]: a window of k units starting at p lies inside one key.
        edge = np.zeros(n - k + 2, dtype=np.int8)
        edge[starts[whole]] = 1
        edge[(starts + lens - k + 1)[whole]] -= 1  # may cancel the next key's start: still valid
        valid = np.cumsum(edge[:-1], dtype=np.int8).view(bool)
        del edge
        offsets = np.arange(_BLOCK)
        lengths = np.full(_BLOCK, k, dtype=np.int64)
        for c0 in range(0, n - k + 1, _BLOCK):
            w = min(_BLOCK, n - k + 1 - c0)  # window starts c0 .. c0 + w - 1
            inside = valid[c0 : c0 + w]
            out.append(_window_hashes_block(units[c0 : c0 + w + k - 1], offsets[:w][inside], lengths[:w][inside], None))
    hashes = np.concatenate(out) if out else _EMPTY.copy()
    short = ~whole & (lens > 0)
    if not short.any():
        return hashes
    # One hash of the whole key for each short one, placed among the rest.
    short_lens = lens[short]
    short_units = _codes("".join(key for key, s in zip(keys, short.tolist()) if s)).astype(np.uint64)
    short_h = _window_hashes(short_units, np.cumsum(short_lens) - short_lens, short_lens, None)
    h = np.empty(total, dtype=np.uint64)
    in_whole = np.repeat(whole, nwin)
    h[in_whole] = hashes
    h[~in_whole] = short_h
    return h


# ---------------------------------------------------------------------------
# Raw text: units with word boundaries.


def _text_units(
    text: str, word_k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Key codes, unit start positions, unit values, unit kinds (True=word),
    and for every key position whether it starts a word of a word run."""
    key, offsets = match_key_with_map(text)
    c = _codes(key)
    n = len(c)
    if n == 0:
        z = np.zeros(0, dtype=np.int64)
        return c, z, _EMPTY.copy(), np.zeros(0, dtype=bool), np.zeros(0, dtype=bool)
    o = np.asarray(offsets, dtype=np.int64)
    w = SPACED[c]
    prev_w = np.zeros(n, dtype=bool)
    prev_w[1:] = w[:-1]
    gap = np.ones(n, dtype=bool)
    gap[1:] = (o[1:] - o[:-1]) > 1  # something (space, punctuation) was dropped here
    run_start = w & ~prev_w
    word_start = run_start | (w & gap)
    if w.any():
        run_id = np.cumsum(run_start) - 1
        words_per_run = np.bincount(run_id[word_start], minlength=int(run_start.sum()))
        in_run = w & (words_per_run[np.maximum(run_id, 0)] >= word_k)
    else:  # pure CJK: no words at all
        in_run = w
    word_start &= in_run
    unit_start = ~in_run | word_start
    ustarts = np.flatnonzero(unit_start)
    # Per-position contributions: a code point for character units, a mixed
    # (character, position-in-word) value for characters of word units.
    vals = c.astype(np.uint64)
    if in_run.any():
        idx = np.arange(n, dtype=np.int64)
        wbeg = np.maximum.accumulate(np.where(word_start, idx, 0))
        pos = (idx - wbeg + 1).astype(np.uint64)
        mixed = _fmix64_(vals + pos * _U_POS)
        vals = np.where(in_run, mixed, vals)
        units = np.add.reduceat(vals, ustarts)
    else:
        units = vals
    kinds = in_run[ustarts]
    return c, ustarts, units, kinds, word_start


def shingle_hashes_text(
    text: str, k: int = 5, word_k: int = 3, *, unique: bool = True
) -> np.ndarray:
    """Hashes of the shingles of raw text: character ``k``-grams over CJK
    (and other unspaced) runs, word ``word_k``-grams over runs of at least
    ``word_k`` words of spaced scripts. Keys the text itself.

    Same conventions as :func:`shingle_hashes`, which it equals when the text
    has no word run.

    >>> t = "会议指出 the quick brown fox jumps 要加快发展"
    >>> len(shingle_hashes_text(t))  # 1 (会议指出) + 3 word 3-grams + 2 (要加快发展)
    5
    >>> bool((shingle_hashes_text("同志们：这次会议") == shingle_hashes("同志们这次会议")).all())
    True
    """
    if k < 1 or word_k < 1:
        raise ValueError(f"k and word_k must be >= 1, not {k}, {word_k}")
    _, ustarts, units, kinds, _ = _text_units(text, word_k)
    nu = len(units)
    if nu == 0:
        return _EMPTY.copy()
    seg_start = np.ones(nu, dtype=bool)
    seg_start[1:] = kinds[1:] != kinds[:-1]
    sstarts = np.flatnonzero(seg_start)
    slens = np.diff(np.append(sstarts, nu))
    skind = kinds[sstarts]
    kk = np.where(skind, word_k, k)
    wlen = np.minimum(slens, kk)
    nwin = slens - wlen + 1
    total = int(nwin.sum())
    first = np.cumsum(nwin) - nwin
    starts = np.repeat(sstarts, nwin) + (np.arange(total) - np.repeat(first, nwin))
    lengths = np.repeat(wlen, nwin)
    kinds_w = np.repeat(skind, nwin)
    return _finish(_window_hashes(units, starts, lengths, kinds_w), unique)


def tokens(text: str, word_k: int = 3) -> list[str]:
    """The units :func:`shingle_hashes_text` shingles, as strings.

    >>> tokens("GDP增长5%, see the annual report here")
    ['g', 'd', 'p', '增', '长', '5', 'see', 'the', 'annual', 'report', 'here']
    """
    key = match_key(text)
    c, ustarts, _, kinds, _ = _text_units(text, word_k)
    ends = np.append(ustarts[1:], len(c))
    out: list[str] = []
    for s, e, is_word in zip(ustarts.tolist(), ends.tolist(), kinds.tolist()):
        out.append(key[s:e] if is_word else key[s])
    return out


def shingle_set(key: str, k: int = 5) -> set[int]:
    """The shingle hashes of a match key as a Python set (for exact Jaccard).

    >>> shingle_set("同志们") == {int(shingle_hashes("同志们")[0])}
    True
    """
    return set(shingle_hashes(key, k, unique=False).tolist())


# ---------------------------------------------------------------------------
# Reference: the same function in plain Python ints, one window at a time.


def _window_ref(units: list[int], kind: int) -> int:
    acc = 0
    p = 1
    for u in units:
        acc = (acc + u * p) & _M64
        p = (p * _P) & _M64
    acc = (acc + len(units) * _LEN_SALT + kind * _KIND_SALT) & _M64
    return _fmix64_int(acc)


def _segments_ref(segs: list[tuple[int, list[int]]], k: int, word_k: int) -> np.ndarray:
    out: set[int] = set()
    for kind, units in segs:
        kk = word_k if kind else k
        if len(units) <= kk:
            out.add(_window_ref(units, kind))
        else:
            for i in range(len(units) - kk + 1):
                out.add(_window_ref(units[i : i + kk], kind))
    return np.array(sorted(out), dtype=np.uint64)


def shingle_hashes_reference(
    key: str, k: int = 5, word_k: int = 3, *, text: bool = False
) -> np.ndarray:
    """Plain-Python twin of :func:`shingle_hashes` (``text=False``) and of
    :func:`shingle_hashes_text` (``text=True``), for tests.

    >>> bool((shingle_hashes_reference("同志们这次会议") == shingle_hashes("同志们这次会议")).all())
    True
    """
    if not text:
        if not key:
            return _EMPTY.copy()
        return _segments_ref([(0, [ord(ch) for ch in key])], k, word_k)
    keystr, offsets = match_key_with_map(key)
    n = len(keystr)
    spaced = [bool(SPACED[ord(ch)]) for ch in keystr]
    # Words: (start, end) of maximal spaced runs split at dropped characters.
    runs: list[list[tuple[int, int]]] = []
    i = 0
    while i < n:
        if not spaced[i]:
            i += 1
            continue
        run: list[tuple[int, int]] = []
        ws = i
        i += 1
        while i < n and spaced[i]:
            if offsets[i] - offsets[i - 1] > 1:
                run.append((ws, i))
                ws = i
            i += 1
        run.append((ws, i))
        runs.append(run)
    word_at: dict[int, int] = {}  # start position -> end, for words of word runs
    for run in runs:
        if len(run) >= word_k:
            word_at.update(run)
    segs: list[tuple[int, list[int]]] = []
    i = 0
    while i < n:
        if i in word_at:
            e = word_at[i]
            acc = 0
            for pos in range(i, e):
                acc = (acc + _fmix64_int((ord(keystr[pos]) + (pos - i + 1) * _POS_SALT) & _M64)) & _M64
            unit, kind = acc, 1
            i = e
        else:
            unit, kind = ord(keystr[i]), 0
            i += 1
        if segs and segs[-1][0] == kind:
            segs[-1][1].append(unit)
        else:
            segs.append((kind, [unit]))
    return _segments_ref(segs, k, word_k)
