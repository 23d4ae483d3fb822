"""Building blocks for merging article variants (see docs/merge.md).

* :func:`match_paragraphs` pairs the paragraphs of two variants in order
  (a monotone alignment over a rapidfuzz ``process.cdist`` score matrix);
  :func:`match_paragraphs_reference` is the slow plain-Python twin the tests
  compare it with.
* :func:`char_segments` lists where two paragraphs differ (rapidfuzz
  Levenshtein opcodes); :func:`union_regions` and :func:`project` put the
  differences of several variants on the base paragraph's coordinates so a
  vote can be taken per region.
* :func:`noise_spans` / :func:`noise_score` find template masks, stray ``?``
  artefacts and U+FFFD / mojibake runs: readings carrying them lose votes.
* :func:`comparable` is the length-preserving form two paragraphs are aligned
  on (width and Latin case folded, optionally OpenCC ``t2s``), so offsets in
  it are offsets in the raw text.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple, Sequence

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import Indel, Levenshtein

from .normalize import WILDCARD, convert_script

__all__ = [
    "Segment",
    "comparable",
    "match_paragraphs",
    "match_paragraphs_reference",
    "masked_ratio",
    "rescore_masked",
    "score_matrix",
    "pair_scores",
    "monotone_pairs",
    "char_segments",
    "union_regions",
    "project",
    "map_position",
    "noise_spans",
    "noise_score",
    "reading_key",
    "reading_key_reference",
    "reading_keys",
]

# --------------------------------------------------------------------------
# Comparable form.


def _build_fold() -> dict[int, int]:
    table = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}  # full-width ASCII
    table[0x3000] = 0x20  # ideographic space
    for cp in range(ord("A"), ord("Z") + 1):
        table[cp] = cp + 32
        table[cp + 0xFEE0] = cp + 32  # full-width A-Z straight to a-z
    return table


_FOLD = _build_fold()
# Exactly the characters _FOLD maps; runs of them are rare enough that
# translating only those beats str.translate's per-character table look-up.
_FOLDABLE = re.compile("[A-Z\uff01-\uff5e\u3000]+")


def _fold_run(m: re.Match[str]) -> str:
    return m.group().translate(_FOLD)


def fold(text: str) -> str:
    """``text.translate(_FOLD)``: full-width ASCII to ASCII, Latin to lower case.

    >>> fold("ＡＢ，Cd。")
    'ab,cd。'
    """
    return _FOLDABLE.sub(_fold_run, text)


def comparable(text: str, to_simplified: bool = False) -> str:
    """The form two paragraphs are aligned on; same length as ``text``.

    Full-width ASCII and Latin case are folded (so ``，`` equals ``,`` and a
    width difference never shows up as an edit: the base's punctuation stays).
    With ``to_simplified`` OpenCC ``t2s`` is applied too, which lets a
    traditional variant align against a simplified base. Every step is 1:1
    per character, so offsets in the result are offsets in ``text``; if t2s
    ever changes the length (not seen with OpenCC 1.x), it is skipped.

    >>> comparable("會議，ＡＢ", to_simplified=True)
    '会议,ab'
    """
    if to_simplified and text:
        conv = convert_script(text, "simplified")
        if len(conv) == len(text):
            text = conv
    return fold(text)


# --------------------------------------------------------------------------
# Paragraph matching.


def monotone_pairs(scores: np.ndarray, min_ratio: float) -> list[tuple[int, int]]:
    """Order-preserving pairs ``(i, j)`` maximising the summed score.

    Only cells with ``scores[i, j] >= min_ratio`` may pair. The DP is the LCS
    recurrence with weights, one numpy row at a time:
    ``D[i, j] = max(D[i-1, j], D[i-1, j-1] + w[i-1, j-1], D[i, j-1])``; the
    last term is a running maximum along the row. Ties in the back-trace
    skip a base row first, then an other column, then pair.

    >>> monotone_pairs(np.array([[90.0, 10.0], [70.0, 80.0]]), 60.0)
    [(0, 0), (1, 1)]
    """
    n, m = scores.shape
    if n == 0 or m == 0:
        return []
    rows, cols = np.nonzero(scores >= min_ratio)
    weights = scores[rows, cols]
    if (
        np.all(rows[1:] > rows[:-1])
        and np.all(cols[1:] > cols[:-1])
        and (not len(weights) or (weights.min() >= 1.0 and weights.sum() < 1e12))
    ):
        # At most one candidate per row and per column, all in order: they
        # are the matching (any other leaves one out, at least 1 lighter),
        # and the back-trace below walks to exactly them (the DP's values
        # are the chain's prefix sums, far apart next to float rounding).
        return list(zip(rows.tolist(), cols.tolist()))
    w = np.where(scores >= min_ratio, scores.astype(np.float64), -np.inf)
    D = np.zeros((n + 1, m + 1), dtype=np.float64)
    for i in range(1, n + 1):
        prev = D[i - 1]
        row = prev.copy()
        np.maximum(prev[1:], prev[:-1] + w[i - 1], out=row[1:])
        D[i] = np.maximum.accumulate(row)
    return _backtrace(D.tolist())


def _backtrace(D: list[list[float]]) -> list[tuple[int, int]]:
    pairs: list[tuple[int, int]] = []
    i, j = len(D) - 1, len(D[0]) - 1
    while i > 0 and j > 0:
        if D[i][j] == D[i - 1][j]:
            i -= 1
        elif D[i][j] == D[i][j - 1]:
            j -= 1
        else:
            pairs.append((i - 1, j - 1))
            i -= 1
            j -= 1
    pairs.reverse()
    return pairs


def score_matrix(
    base_keys: Sequence[str], other_keys: Sequence[str], score_cutoff: float | None = None
) -> np.ndarray:
    """``fuzz.ratio`` of every (base, other) key pair, via ``process.cdist``.

    Scores under ``score_cutoff`` come back as 0 (rapidfuzz then skips work).

    ``partial_ratio`` is deliberately not used here: in a matrix it is about
    100x slower, and containment is checked only for the few leftovers.
    """
    if not base_keys or not other_keys:
        return np.zeros((len(base_keys), len(other_keys)), dtype=np.float64)
    return process.cdist(
        list(base_keys),
        list(other_keys),
        scorer=fuzz.ratio,
        workers=1,
        dtype=np.float64,
        score_cutoff=score_cutoff,
    )


def rescore_masked(
    scores: np.ndarray, base_keys: Sequence[str], other_keys: Sequence[str], min_ratio: float
) -> np.ndarray:
    """Re-score with :func:`masked_ratio` the cells just under ``min_ratio``
    (at least half of it) whose keys hold a wildcard. Returns a new matrix.

    Only those few cells are touched, so the matrix stays a cdist product.

    >>> rescore_masked(score_matrix(["□同志讲话"], ["王君文同志讲话"]), ["□同志讲话"], ["王君文同志讲话"], 80.0)
    array([[100.]])
    """
    out = scores.copy()
    if out.size == 0:
        return out
    hb = np.fromiter((WILDCARD in k for k in base_keys), dtype=bool, count=len(base_keys))
    ho = np.fromiter((WILDCARD in k for k in other_keys), dtype=bool, count=len(other_keys))
    cand = (out < min_ratio) & (out >= min_ratio / 2) & (hb[:, None] | ho[None, :])
    for i, j in np.argwhere(cand).tolist():
        out[i, j] = masked_ratio(base_keys[i], other_keys[j])
    return out


# Characters of a key's head or tail that pick its pivot in pair_scores.
_PIVOT_CHARS = 6


def pair_scores(base_keys: Sequence[str], other_keys: Sequence[str], min_ratio: float) -> np.ndarray:
    """The score matrix :func:`match_paragraphs` pairs on with ``masked=True``,
    exact where it matters: every cell that is ``>= min_ratio`` in
    ``rescore_masked(score_matrix(base, other, min_ratio / 2), ...)`` has that
    value here and every other cell stays under ``min_ratio``, so
    :func:`monotone_pairs` gives the same pairs.

    Most cells are ruled out without computing them. Indel distance (what
    ``fuzz.ratio`` normalises) is a metric, so with a *pivot* base key ``p``
    close to other key ``k``, ``d(k, b) >= |d(p, b) - d(k, p)|``: with the
    base-to-base distances (one symmetric cdist) that bounds ``fuzz.ratio(b,
    k)`` from above for every base key ``b``, at the cost of the pivot's own
    cell. Only cells whose bound reaches the threshold that matters
    (``min_ratio``, or ``min_ratio / 2`` where a wildcard may get the cell
    re-scored) are computed. The pivot is a base key with the same first or
    last few characters, or else holding a piece of the middle (copies keep
    most of a paragraph); keys without one get their whole column from cdist.

    >>> pair_scores(["同志们好", "今年的工作"], ["同志们好啊"], 60.0)
    array([[88.88888889],
           [ 0.        ]])
    """
    n, m = len(base_keys), len(other_keys)
    if n == 0 or m == 0:
        return np.zeros((n, m), dtype=np.float64)
    half = min_ratio / 2
    out = np.zeros((n, m), dtype=np.float64)

    def probes(k: str) -> tuple[str, str, str]:
        return (k, "\x00" + k[:_PIVOT_CHARS], "\x01" + k[-_PIVOT_CHARS:])

    index: dict[str, int] = {}
    for i, k in enumerate(base_keys):
        for probe in probes(k):
            index.setdefault(probe, i)
    pivots: list[int] = []  # per pivoted key: its pivot, ...
    dists: list[int] = []  # ... their Indel distance, ...
    pivoted: list[int] = []  # ... and its column
    known: set[tuple[int, int]] = set()  # cells already filled
    full: list[int] = []  # columns without a pivot
    for j, k in enumerate(other_keys):
        cands = {i for i in map(index.get, probes(k)) if i is not None}
        if not cands and len(k) >= 2 * _PIVOT_CHARS:
            # Head and tail both edited: look for a piece of the middle.
            for at in (len(k) // 4, len(k) // 2, 3 * len(k) // 4):
                piece = k[at : at + _PIVOT_CHARS]
                cands.update(i for i, b in enumerate(base_keys) if piece in b)
                if cands:
                    break
        if not cands:
            full.append(j)
            continue
        best: tuple[int, int] | None = None
        for i in cands:
            b = base_keys[i]
            r = fuzz.ratio(b, k)
            out[i, j] = _cut(r, b, k, half)
            known.add((i, j))
            d = _indel_from_ratio(r, b, k)
            if best is None or (d, i) < best:
                best = (d, i)
        assert best is not None
        dists.append(best[0])
        pivots.append(best[1])
        pivoted.append(j)
    if full:
        out[:, full] = score_matrix(base_keys, [other_keys[j] for j in full], half)
    if pivoted:
        base_len = np.fromiter(map(len, base_keys), dtype=np.int64, count=n)
        key_len = np.fromiter((len(other_keys[j]) for j in pivoted), dtype=np.int64, count=len(pivoted))
        listed = list(base_keys)
        # The same list twice: cdist computes a symmetric scorer's half only.
        base_dist = process.cdist(listed, listed, scorer=Indel.distance, workers=1, dtype=np.int64)
        # Lower bound of d(b_i, k_j): reverse triangle via the pivot, and the length difference.
        low = np.maximum(
            np.abs(base_dist[:, pivots] - np.asarray(dists, dtype=np.int64)[None, :]),
            np.abs(base_len[:, None] - key_len[None, :]),
        )
        total = base_len[:, None] + key_len[None, :]
        bound = np.where(total > 0, 100.0 * (1.0 - low / np.maximum(total, 1)), 100.0)
        wild_b = np.fromiter((WILDCARD in k for k in base_keys), dtype=bool, count=n)
        wild_k = np.fromiter((WILDCARD in other_keys[j] for j in pivoted), dtype=bool, count=len(pivoted))
        threshold = np.where(wild_b[:, None] | wild_k[None, :], half, min_ratio)
        # A margin for rounding: rapidfuzz's float may sit an ulp off the exact ratio.
        for i, c in np.argwhere(bound >= threshold - 1e-6).tolist():
            j = pivoted[c]
            if (i, j) not in known:
                out[i, j] = fuzz.ratio(base_keys[i], other_keys[j], score_cutoff=half)
    return rescore_masked(out, base_keys, other_keys, min_ratio)


def _cut(r: float, a: str, b: str, cutoff: float) -> float:
    """``fuzz.ratio(a, b, score_cutoff=cutoff)`` given ``r = fuzz.ratio(a, b)``:
    the same value, or 0 under the cut-off; asked again when within
    rounding of it."""
    if abs(r - cutoff) < 1e-6:
        return fuzz.ratio(a, b, score_cutoff=cutoff)
    return r if r >= cutoff else 0.0


def _indel_from_ratio(r: float, a: str, b: str) -> int:
    """``Indel.distance(a, b)`` given ``r = fuzz.ratio(a, b)``, which is
    ``100 * (1 - d / (len(a) + len(b)))`` up to float rounding (so ``d``
    comes back as a near-integer); asked directly otherwise."""
    d = (1.0 - r / 100.0) * (len(a) + len(b))
    if abs(d - round(d)) < 1e-6:
        return round(d)
    return Indel.distance(a, b)


def match_paragraphs(
    base_keys: Sequence[str], other_keys: Sequence[str], min_ratio: float = 60.0, *, masked: bool = False
) -> list[tuple[int, int]]:
    """Monotone paragraph pairs ``(base_index, other_index)``.

    Keys are :func:`cleaner.normalize.match_key` values; a pair needs
    ``fuzz.ratio >= min_ratio`` and paragraph order is preserved in both
    variants; among such matchings the one with the largest summed ratio is
    returned. With ``masked``, near-miss cells holding a wildcard are
    re-scored by :func:`masked_ratio` (:func:`rescore_masked`).

    >>> match_paragraphs(["同志们", "今年工作很好", "明年继续努力"],
    ...                  ["同志们", "今年工作很好啊", "新加的一段话", "明年继续努力"])
    [(0, 0), (1, 1), (2, 3)]
    """
    # Cells under the cut-off can neither pair nor be re-scored.
    scores = score_matrix(base_keys, other_keys, min_ratio / 2 if masked else min_ratio)
    if masked:
        scores = rescore_masked(scores, base_keys, other_keys, min_ratio)
    return monotone_pairs(scores, min_ratio)


def match_paragraphs_reference(
    base_keys: Sequence[str], other_keys: Sequence[str], min_ratio: float = 60.0, *, masked: bool = False
) -> list[tuple[int, int]]:
    """Slow, obviously-correct twin of :func:`match_paragraphs` (for tests).

    Plain loops: ``fuzz.ratio`` per pair (``masked_ratio`` where the fast path
    re-scores) and the same DP and back-trace.

    >>> match_paragraphs_reference(["甲乙丙", "丁戊己"], ["丁戊己"])
    [(1, 0)]
    """
    n, m = len(base_keys), len(other_keys)
    if n == 0 or m == 0:
        return []
    ninf = float("-inf")
    D = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            a, b = base_keys[i - 1], other_keys[j - 1]
            s = fuzz.ratio(a, b)
            if masked and min_ratio / 2 <= s < min_ratio and (WILDCARD in a or WILDCARD in b):
                s = masked_ratio(a, b)
            diag = D[i - 1][j - 1] + s if s >= min_ratio else ninf
            D[i][j] = max(max(D[i - 1][j], diag), D[i][j - 1])
    return _backtrace(D)


def masked_ratio(a: str, b: str) -> float:
    """``fuzz.ratio`` of two keys, where a :data:`~cleaner.normalize.WILDCARD`
    run aligned against up to four characters per wildcard counts as equal.

    Used only on the few paragraphs the matrix left unmatched: a short
    paragraph whose name is masked (``□讲话`` vs ``王君文讲话``) falls under the
    plain ratio threshold although it is the same paragraph.

    >>> round(fuzz.ratio("□同志讲话", "王君文同志讲话")), masked_ratio("□同志讲话", "王君文同志讲话")
    (67, 100.0)
    """
    plain = fuzz.ratio(a, b)
    if WILDCARD not in a and WILDCARD not in b:
        return plain
    credit = 0
    spans: list[tuple[int, int, int, int]] = []
    for tag, i1, i2, j1, j2 in Levenshtein.opcodes(a, b).as_list():
        if tag == "equal":
            credit += 2 * (i2 - i1)
            continue
        if spans and spans[-1][1] == i1 and spans[-1][3] == j1:
            spans[-1] = (spans[-1][0], i2, spans[-1][2], j2)
        else:
            spans.append((i1, i2, j1, j2))
    for i1, i2, j1, j2 in spans:
        sa, sb = a[i1:i2], b[j1:j2]
        for mask, other in ((sa, sb), (sb, sa)):
            if mask and mask.strip(WILDCARD) == "" and WILDCARD not in other and len(other) <= 4 * len(mask):
                credit += len(sa) + len(sb)
                break
    return max(plain, 100.0 * credit / (len(a) + len(b)))


# --------------------------------------------------------------------------
# Character segments and regions.


class Segment(NamedTuple):
    """One differing stretch: ``a[a_start:a_end]`` reads ``b[b_start:b_end]``."""

    tag: str  # "replace", "delete" or "insert"
    a_start: int
    a_end: int
    b_start: int
    b_end: int


def char_segments(a: str, b: str) -> list[Segment]:
    """The differing segments of ``a`` against ``b`` (Levenshtein opcodes).

    Everything between two segments is equal, with a constant offset.

    >>> char_segments("__市长在会上", "王市长在会上")
    [Segment(tag='replace', a_start=0, a_end=1, b_start=0, b_end=1), Segment(tag='delete', a_start=1, a_end=2, b_start=1, b_end=1)]
    """
    if a == b:
        return []
    return [Segment(*op) for op in Levenshtein.opcodes(a, b).as_list() if op[0] != "equal"]


def union_regions(segment_lists: Sequence[Sequence[Segment]]) -> list[tuple[int, int]]:
    """Merge the base-side spans of all variants' segments into regions.

    Overlapping *or touching* spans merge (an insertion at ``p`` touches a
    replacement starting at ``p``), so every segment of every variant falls
    inside exactly one region, and outside regions all variants agree with
    the base. A region ``(p, p)`` is a pure insertion point.

    >>> union_regions([[Segment("replace", 2, 4, 2, 3)], [Segment("insert", 4, 4, 4, 6)]])
    [(2, 4)]
    """
    spans = sorted((s.a_start, s.a_end) for segs in segment_lists for s in segs)
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def project(segments: Sequence[Segment], regions: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Each base region's span in the other text (regions from :func:`union_regions`).

    >>> segs = char_segments("王市长说", "__市长说了")
    >>> project(segs, union_regions([segs]))
    [(0, 2), (5, 6)]
    """
    out: list[tuple[int, int]] = []
    k = 0
    delta = 0  # b - a along the equal run we are in
    for s, e in regions:
        first = k
        while k < len(segments) and segments[k].a_start <= e:
            k += 1
        if k > first:
            head, last = segments[first], segments[k - 1]
            out.append((head.b_start - (head.a_start - s), last.b_end + (e - last.a_end)))
            delta = last.b_end - last.a_end
        else:
            out.append((s + delta, e + delta))
    return out


def map_position(segments: Sequence[Segment], p: int) -> int:
    """Where base position ``p`` falls in the other text (insertions at ``p``
    go before it); inside a replaced stretch, proportionally clipped.

    >>> map_position(char_segments("甲乙丙丁", "甲乙x丙丁"), 3)
    4
    """
    delta = 0
    for seg in segments:
        if seg.a_end <= p:
            delta = seg.b_end - seg.a_end
            continue
        if seg.a_start < p:
            return seg.b_start + min(p - seg.a_start, seg.b_end - seg.b_start)
        break
    return p + delta


# --------------------------------------------------------------------------
# Noise.

_CN_NUM = "〇零一二三四五六七八九十百千"
_LATIN = "A-Za-zＡ-Ｚａ-ｚ"
_MASK_PATTERNS = (
    # Masked years and numbers: 20xx, 201x, １９ＸＸ.
    rf"(?<![0-9０-９])(?:19|20|１９|２０)[0-9０-９]?[xXｘＸ]+(?![{_LATIN}])",
    # Runs of x/X not touching Latin letters or digits (next, x86 keep
    # theirs); X光, X射线, X轴, X染色体 are words.
    rf"(?<![{_LATIN}])[xXｘＸ]+(?![{_LATIN}0-9０-９]|光|射线|轴|染色体)",
    r"[_＿﹍﹎﹏]+",
    r"[*＊﹡∗⁎]+",
    r"※+",
    rf"(?<![{_CN_NUM}○◯])[○◯]+",  # 二○○五 is a year, not a mask
    r"(?<![0-9])[×╳✕✖]+(?![0-9])",  # 3×4 is arithmetic
    r"[□☐]+",
    r"某某+",
)
_ARTEFACT_PATTERNS = (
    # Stray question marks: at a line end, after other punctuation (。?),
    # or inside a number (29?4 was 29.4).
    r"[?？]+(?=[ \t\u3000]*$)",
    r"(?<=[。，,；;：:！!、）)”」』])[?？]+",
    r"(?<=[0-9])\?+(?=[0-9])",
    r"\ufffd+",
    r"(?:锟斤拷)+|(?:烫烫)+烫?|(?:屯屯)+屯?",
)
# The leading look-ahead lists every character a match can start with, so
# the engine scans for candidates with a fast character-set search.
_FIRST = "12１２xXｘＸ_＿﹍﹎﹏*＊﹡∗⁎※○◯×╳✕✖□☐某?？\ufffd锟烫屯"
_NOISE = re.compile(f"(?=[{_FIRST}])(?:" + "|".join(_MASK_PATTERNS + _ARTEFACT_PATTERNS) + ")", re.M)
_MASKS = re.compile(f"(?=[{_FIRST}])(?:" + "|".join(_MASK_PATTERNS) + ")")
_DROP = frozenset("PSZC")


class _DropTable(dict):  # type: ignore[type-arg]
    """``str.translate`` table of :func:`reading_key`: code point -> ``None``
    (dropped: P*, S*, Z*, C* except the wildcard) or itself.

    Filled on first sight of a code point (``__missing__``), so the filter
    runs in C instead of a Python loop over ``unicodedata.category``.
    """

    def __missing__(self, cp: int) -> int | None:
        keep = cp == _WILD_CP or unicodedata.category(chr(cp))[0] not in _DROP
        self[cp] = cp if keep else None
        return self[cp]


_WILD_CP = ord(WILDCARD)
_DROP_TABLE = _DropTable()


def reading_key(text: str, to_simplified: bool = False) -> str:
    """A light match key for short readings: :func:`comparable`, mask runs
    folded to one wildcard, punctuation, symbols, spaces and controls dropped.

    Cheaper than :func:`cleaner.normalize.match_key` on the many tiny
    strings a vote compares; used only to group equivalent readings.
    :func:`reading_key_reference` is the plain per-character twin.

    >>> reading_key("XX市長，"), reading_key("__市長。", True)
    ('□市長', '□市长')
    """
    if not text:
        return ""
    return _MASKS.sub(WILDCARD, comparable(text, to_simplified)).translate(_DROP_TABLE)


def reading_keys(texts: Sequence[str], to_simplified: bool = False) -> list[str]:
    """``[reading_key(t, to_simplified) for t in texts]``, in one pass over
    the texts joined by newlines instead of one per text.

    Exact because no step looks across a newline: OpenCC converts it to
    itself and no dictionary entry spans one (so a joined text converts
    piece by piece, and a piece whose conversion changes its length keeps
    its own text, as in :func:`comparable`); width folding is per
    character; no mask pattern matches a newline and each look-around sees
    one as it sees the start or end of a text. Texts holding a newline
    themselves take the plain path.

    >>> reading_keys(["XX市長，", "", "會議。"], True)
    ['□市长', '', '会议']
    """
    if not texts:
        return []
    if any("\n" in t for t in texts):
        return [reading_key(t, to_simplified) for t in texts]
    joined = "\n".join(texts)
    if to_simplified:
        parts = convert_script(joined, "simplified").split("\n")
        if len(parts) != len(texts):  # not seen: a newline did not convert to itself
            return [reading_key(t, to_simplified) for t in texts]
        joined = "\n".join([p if len(p) == len(t) else t for p, t in zip(parts, texts)])
    folded = _MASKS.sub(WILDCARD, fold(joined))
    return [p.translate(_DROP_TABLE) for p in folded.split("\n")]


def reading_key_reference(text: str, to_simplified: bool = False) -> str:
    """Plain twin of :func:`reading_key` (for tests): one
    ``unicodedata.category`` call per character.

    >>> reading_key_reference("XX市長，")
    '□市長'
    """
    if not text:
        return ""
    folded = _MASKS.sub(WILDCARD, comparable(text, to_simplified))
    return "".join(ch for ch in folded if ch == WILDCARD or unicodedata.category(ch)[0] not in _DROP)


def noise_spans(text: str) -> list[tuple[int, int]]:
    """Spans of masks, ``?`` artefacts and U+FFFD/mojibake runs in ``text``.

    >>> t = "__市长在XX会上讲话。?"
    >>> [t[s:e] for s, e in noise_spans(t)]
    ['__', 'XX', '?']
    """
    return [m.span() for m in _NOISE.finditer(text)]


def noise_score(text: str) -> float:
    """How noisy ``text`` is: the number of noise runs (:func:`noise_spans`).

    A legitimate question mark inside a sentence (``干什么的?园区…``) does
    not count; one at a line end does, as the scrapes have hundreds of those.

    >>> noise_score("王市长在会上作了报告")
    0.0
    >>> noise_score("__市长在会上作了报告?\\n20xx年\\ufffd")
    4.0
    """
    return float(sum(1 for _ in _NOISE.finditer(text)))
