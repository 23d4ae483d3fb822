"""Merge the variants of one article into one canonical text (see docs/merge.md).

A cluster holds two or more copies of one article scraped from different
places. :func:`merge_variants` picks a base variant (most complete, least
noisy, then the caller's ``sort_key``), matches every other variant's
paragraphs to it in order, aligns matched paragraphs character by character
and votes per differing region, preferring readings without masks, ``?``
artefacts or mojibake; paragraphs only some variants have are inserted where
those variants have them. Output keeps the base variant's script.

Cost: with many copies most paragraphs recur verbatim and most copies agree
with the base almost everywhere, so the merge works per *distinct* paragraph
text and, in a vote, per *differing* reading (see "Fast path" below); its
cost grows linearly with the number of copies. :func:`merge_variants_reference`
is the plain algorithm (every copy aligned and polled in every region), kept
for the tests, which check that both give the same result.
"""

from __future__ import annotations

import dataclasses
import operator
from bisect import bisect_right
from dataclasses import dataclass, field
from itertools import chain
from typing import Any, Callable, Sequence

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.distance import Indel, Levenshtein

from .align import (
    char_segments,
    comparable,
    fold,
    map_position,
    match_paragraphs,
    monotone_pairs,
    noise_score,
    noise_spans,
    pair_scores,
    project,
    reading_key,
    reading_keys,
    union_regions,
)
from .normalize import convert_script, match_key, may_convert

__all__ = ["Variant", "MergedParagraph", "MergedArticle", "PartSource", "merge_variants", "merge_variants_reference"]

# A clean reading at least this many key characters longer than the vote's
# winner wins anyway: copies drop sentences far more often than they invent
# them, and the goal is the most complete text.
KEEP_LONGER = 6
# Regions up to this many characters let a clean reading beat a noisy
# majority on its own (a real name against its masks); longer ones need a
# fair share of the copies (minority_support) for it.
CLEAN_REGION = 20
# An unmatched paragraph whose key is this contained (fuzz.partial_ratio) in
# a neighbouring canonical paragraph is a split-off piece, not new content.
CONTAINED_RATIO = 90.0
# Split/join extensions must improve the ratio by more than this.
_EXTEND_GAIN = 1.0


@dataclass(frozen=True)
class Variant:
    """One copy of the article: paragraphs ``(text, source)`` in order.

    ``source`` is opaque provenance (e.g. ``(file, start, end)``), passed
    through to :attr:`MergedParagraph.sources`. ``sort_key`` breaks ties
    deterministically (e.g. ``(file, article_index)``); input order never
    matters.

    >>> Variant([("同志们:", ("a.txt", 0, 4))], ("a.txt", 0)).paragraphs[0][0]
    '同志们:'
    """

    paragraphs: tuple[tuple[str, Any], ...]
    sort_key: tuple = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "paragraphs", tuple((t, s) for t, s in self.paragraphs))
        object.__setattr__(self, "sort_key", tuple(self.sort_key))


@dataclass(frozen=True)
class MergedParagraph:
    """A canonical paragraph and the sources of every variant paragraph behind it."""

    text: str
    sources: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class PartSource:
    """A source that holds only part of its canonical paragraph: a copy's
    paragraph whose match key lies strictly inside the paragraph's (a
    truncated copy's last paragraph, one line of a paragraph that another
    copy runs on from a comma-ended line), or one of several paragraphs of
    a copy that together make the paragraph."""

    source: Any


@dataclass(frozen=True)
class MergedArticle:
    """The merge result.

    ``base`` is the input index of the base variant; ``similarity[k]`` is
    ``fuzz.ratio`` / 100 between the match keys of variant ``k`` and of the
    canonical text.
    """

    paragraphs: tuple[MergedParagraph, ...]
    base: int
    similarity: tuple[float, ...]

    @property
    def text(self) -> str:
        return "\n".join(p.text for p in self.paragraphs)


# --------------------------------------------------------------------------
# Internals.


@dataclass
class _Info:
    index: int  # position in the caller's sequence
    variant: Variant
    texts: list[str]
    sources: list[Any]
    keys: list[str]
    keylen: int
    noise: float
    script: str  # "simplified" or "traditional"
    rank: int = 0


@dataclass
class _Member:
    rank: int  # rank of the variant it comes from (0 = base)
    text: str
    script: str
    sources: list[Any]
    key: str | None = None  # match key of `text`, when already known
    part: bool = False  # its sources hold only part of the slot's paragraph (PartSource)

    def marked_sources(self) -> list[Any]:
        """Its sources, each wrapped in :class:`PartSource` when it holds only part."""
        return [PartSource(s) for s in self.sources] if self.part else self.sources


@dataclass
class _Slot:
    """A canonical paragraph in the making: a lead text (in the base's
    script) plus aligned readings from other variants."""

    lead: _Member
    members: list[_Member] = field(default_factory=list)
    # Contained leftovers: (rank, source, key).
    support: list[tuple[int, Any, str]] = field(default_factory=list)
    key: str = ""  # match key of the lead, for matching extras


def _codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _changed(text: str, conv: str) -> int:
    if len(conv) != len(text):  # not seen with OpenCC 1.x; count roughly
        return sum(1 for a, b in zip(text, conv) if a != b)
    return int(np.count_nonzero(_codes(text) != _codes(conv)))


def _script(text: str) -> str:
    """``"traditional"`` when OpenCC t2s changes more characters than s2t."""
    if not text:
        return "simplified"
    changed_t = _changed(text, convert_script(text, "simplified"))
    changed_s = _changed(text, convert_script(text, "traditional"))
    return "traditional" if changed_t > changed_s else "simplified"


def _rank(infos: list[_Info]) -> list[_Info]:
    """Order variants: the first is the base.

    Near-complete variants (key length within 1% or 4 characters of the
    longest) come first; among them the least noisy, then the longest, then
    the caller's sort key, then the texts themselves (so identical stats
    still give one order whatever the input order).
    """
    longest = max(i.keylen for i in infos)
    tol = max(4.0, 0.01 * longest)
    ordered = sorted(
        infos,
        key=lambda i: (i.keylen < longest - tol, i.noise, -i.keylen, i.variant.sort_key, i.texts),
    )
    for r, info in enumerate(ordered):
        info.rank = r
    return ordered


def _ratio(a: str, b: str) -> float:
    return fuzz.ratio(a, b)


def _grow(
    bk: Sequence[str], ok: Sequence[str], pairs: list[tuple[int, int]], ratio: Callable[[str, str], float]
) -> list[list[int]]:
    """Monotone groups ``[i0, i1, j0, j1]``: base paragraphs ``i0:i1`` match
    other paragraphs ``j0:j1``.

    Starts from the 1:1 ``pairs`` and grows a group over unmatched neighbours
    while that raises the ratio: a paragraph split in two in one variant and
    joined in the other then aligns as a whole instead of leaving half of it
    as an "extra" paragraph.
    """
    groups = [[i, i + 1, j, j + 1] for i, j in pairs]
    for g_idx, g in enumerate(groups):
        prev = groups[g_idx - 1] if g_idx else None
        nxt = groups[g_idx + 1] if g_idx + 1 < len(groups) else None
        lo_i = prev[1] if prev else 0
        hi_i = nxt[0] if nxt else len(bk)
        lo_j = prev[3] if prev else 0
        hi_j = nxt[2] if nxt else len(ok)
        if g[0] == lo_i and g[1] == hi_i and g[2] == lo_j and g[3] == hi_j:
            continue  # no free neighbour on any side
        cur = None  # the group's ratio, computed once a neighbour is free to join
        changed = True
        while changed:
            changed = False
            for cand in (
                (g[0], g[1], g[2], g[3] + 1),
                (g[0], g[1], g[2] - 1, g[3]),
                (g[0], g[1] + 1, g[2], g[3]),
                (g[0] - 1, g[1], g[2], g[3]),
            ):
                if cand[0] < lo_i or cand[1] > hi_i or cand[2] < lo_j or cand[3] > hi_j:
                    continue
                if cur is None:
                    cur = ratio("".join(bk[g[0] : g[1]]), "".join(ok[g[2] : g[3]]))
                r = ratio("".join(bk[cand[0] : cand[1]]), "".join(ok[cand[2] : cand[3]]))
                if r > cur + _EXTEND_GAIN:
                    g[:] = cand
                    cur = r
                    changed = True
                    break
    return groups


def _contained(key: str, container: str) -> bool:
    if not key:
        return True  # punctuation-only leftovers add nothing
    if len(key) > len(container):
        return False
    if len(key) <= 4:
        return key in container
    return fuzz.partial_ratio(key, container) >= CONTAINED_RATIO


def _in_script(text: str, script: str, target: str) -> str:
    return text if script == target else convert_script(text, target)


def minority_support(copies: int) -> int:
    """How many copies must share a reading that is not the majority's for it
    to count: any one of two or three copies, a fifth of more.

    >>> minority_support(2), minority_support(3), minority_support(10), minority_support(94)
    (1, 1, 2, 19)
    """
    return 1 if copies <= 3 else -(-copies // 5)


# --------------------------------------------------------------------------
# Reference path: the plain algorithm.


def _info(index: int, v: Variant) -> _Info:
    """Key, noise and script of one variant (reference path: on the joined text)."""
    texts = [t for t, _ in v.paragraphs]
    keys = [match_key(t) for t in texts]
    joined = "\n".join(texts)
    return _Info(
        index=index,
        variant=v,
        texts=texts,
        sources=[s for _, s in v.paragraphs],
        keys=keys,
        keylen=sum(len(k) for k in keys),
        noise=noise_score(joined),
        script=_script(joined),
    )


def _groups(base: _Info, other: _Info, min_ratio: float) -> list[list[int]]:
    """:func:`_grow` over the mask-aware paragraph matching of two variants
    (reference path; the fast path gets the same pairs from :class:`_Matcher`).
    """
    # Mask-aware: a short paragraph with a masked name falls under the plain
    # ratio threshold although it is the same paragraph.
    pairs = match_paragraphs(base.keys, other.keys, min_ratio, masked=True)
    return _grow(base.keys, other.keys, pairs, _ratio)


def _noise_mask(text: str) -> bytearray:
    mask = bytearray(len(text))
    for s, e in noise_spans(text):
        mask[s:e] = b"\x01" * (e - s)
    return mask


def _vote(slot: _Slot, base_script: str) -> str:
    """Canonical text of one slot: the lead with every differing region
    replaced by the winning reading (reference path: every member aligned
    and polled in every region; :func:`_vote_all` is the one in use)."""
    lead = slot.lead.text
    if not slot.members:
        return lead
    seg_lists = []
    for m in slot.members:
        conv = m.script != base_script
        seg_lists.append(char_segments(comparable(lead, conv), comparable(m.text, conv)))
    regions = union_regions(seg_lists)
    if not regions:
        return lead
    projections = [project(segs, regions) for segs in seg_lists]
    # Readings are grouped by a light key; t2s in it only when scripts mix.
    mixed = any(m.script != base_script for m in slot.members)
    keys: dict[str, str] = {}
    lead_noise = _noise_mask(lead)
    member_noise = [_noise_mask(m.text) for m in slot.members]

    def noisy(mask: bytearray, s: int, e: int) -> int:
        # A reading is noisy when it touches any character of a noise run.
        return 1 if 1 in mask[s:e] else 0

    out: list[str] = []
    pos = 0
    for r_idx, (s, e) in enumerate(regions):
        # (reading, noise, is_lead, rank, script)
        cands = [(lead[s:e], noisy(lead_noise, s, e), True, slot.lead.rank, base_script)]
        for m, proj, spans in zip(slot.members, projections, member_noise):
            bs, be = proj[r_idx]
            cands.append((m.text[bs:be], noisy(spans, bs, be), False, m.rank, m.script))
        groups: dict[str, list[tuple[str, int, bool, int, str]]] = {}
        for c in cands:
            k = keys.get(c[0])
            if k is None:
                k = keys[c[0]] = reading_key(c[0], mixed)
            groups.setdefault(k, []).append(c)

        need = minority_support(len(cands))

        def order(item: tuple[str, list]) -> tuple:
            key, members = item
            # A clean reading beats a noisy majority (a real name beats its
            # masks) in a short region; in a long one (where many copies'
            # differences join up) only with a fair share of the copies, or
            # one copy whose edits happen to break a mask would impose all
            # its other edits too.
            clean = any(c[1] == 0 for c in members) and (e - s <= CLEAN_REGION or len(members) >= need)
            return (not clean, -len(members), not any(c[2] for c in members), min(c[3] for c in members))

        ranked = sorted(groups.items(), key=order)
        win_key, win = ranked[0]
        # Completeness beats the vote (a dropped sentence comes back), but
        # among many copies only a reading a fair share of them have: one
        # site's stamp or insertion must not win by being longer.
        longer = [
            g
            for g in ranked
            if any(c[1] == 0 for c in g[1]) and len(g[0]) >= len(win_key) + KEEP_LONGER and len(g[1]) >= need
        ]
        if longer:
            win_key, win = longer[0]
        # The group's cleanest form; the lead's (base punctuation) on a tie.
        reading, _, _, _, script = min(win, key=lambda c: (c[1], not c[2], c[3]))
        out.append(lead[pos:s])
        out.append(_in_script(reading, script, base_script))
        pos = e
    out.append(lead[pos:])
    return "".join(out)


def _sources(slot: _Slot) -> tuple[Any, ...]:
    """The slot's sources by variant rank, equal ones once (reference path:
    each compared with every one kept)."""
    items: list[tuple[int, Any]] = [(slot.lead.rank, s) for s in slot.lead.sources]
    for m in slot.members:
        items.extend((m.rank, s) for s in m.marked_sources())
    items.extend((r, PartSource(s)) for r, s, _ in slot.support)
    items.sort(key=lambda x: x[0])  # stable: within a variant, paragraph order
    out: list[Any] = []
    for _, s in items:
        if not any(s is o or s == o for o in out):
            out.append(s)
    return tuple(out)


# --------------------------------------------------------------------------
# Fast path: work per distinct paragraph and per differing reading.
#
# Copies of an article share most paragraphs verbatim, and in most places
# where some copy differs the others agree with the base. So each string
# function runs once per distinct text, batched (`_Memo`); paragraphs are
# scored against the base once per distinct key, most cells ruled out by a
# bound (`_Matcher`, `align.pair_scores`); and the vote aligns each
# distinct reading once and, per region, polls only the readings that
# differ from the lead there (`_vote_all`). Each step is exact: the tests
# compare every result with the reference path above.


class _Memo:
    """Values derived from strings, each computed once per merge.

    Copies share most paragraphs verbatim, so everything is keyed by string
    value; all values are pure functions of their strings, so caching cannot
    change a result. The ``prime*`` methods compute many values in a few
    calls on the texts joined by newlines (:func:`_batch_keys`,
    :func:`_batch_noise`, :func:`_batch_convert`): for one paragraph, a
    call's own overhead is most of its cost.

    >>> memo = _Memo()
    >>> memo.prime(["會議，ＡＢ", "__市长"])
    >>> memo.key("會議，ＡＢ"), memo.comparable("會議，ＡＢ", True), memo.noise("__市长")
    ('会议ab', '会议,ab', [(0, 2)])
    """

    def __init__(self) -> None:
        self._key: dict[str, str] = {}
        self._noise: dict[str, list[tuple[int, int]]] = {}
        self._conv: dict[tuple[str, str], str] = {}
        self._comparable: dict[tuple[str, bool], str] = {}
        self._changed: dict[tuple[str, str], int | None] = {}
        self._ratio: dict[tuple[str, str], float] = {}
        self._contained: dict[tuple[str, str], bool] = {}
        self.sources = _Buckets()

    def prime(self, texts: Sequence[str]) -> None:
        """Keys, noise runs and t2s conversions of many texts at once."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._key]
        if todo:
            self._key.update(zip(todo, _batch_keys(todo)))
            self._noise.update(zip(todo, _batch_noise(todo)))
            self.prime_convert(todo, "simplified")

    def prime_keys(self, texts: Sequence[str]) -> None:
        """The keys of many texts at once."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._key]
        self._key.update(zip(todo, _batch_keys(todo)))

    def prime_convert(self, texts: Sequence[str], script: str) -> None:
        """:func:`~cleaner.normalize.convert_script` of many texts at once."""
        todo = [t for t in dict.fromkeys(texts) if (t, script) not in self._conv]
        self._conv.update(zip([(t, script) for t in todo], _batch_convert(todo, script)))

    def prime_comparable(self, pairs: Sequence[tuple[str, bool]]) -> None:
        """:meth:`comparable` of many ``(text, to_simplified)`` at once (t2s
        and width folding neither change a newline nor look across one)."""
        todo = [p for p in dict.fromkeys(pairs) if p not in self._comparable]
        if not todo:
            return
        self.prime_convert([t for t, conv in todo if conv and t], "simplified")
        sources = []
        for text, conv in todo:
            src = text
            if conv and text:
                converted = self._conv[(text, "simplified")]
                if len(converted) == len(text):  # as comparable: t2s only when 1:1
                    src = converted
            sources.append(src)
        plain = [k for k, src in enumerate(sources) if "\n" not in src]
        folded = fold("\n".join([sources[k] for k in plain])).split("\n") if plain else []
        for k, f in zip(plain, folded):
            self._comparable[todo[k]] = f
        for k, src in enumerate(sources):
            if "\n" in src:
                self._comparable[todo[k]] = fold(src)

    def key(self, text: str) -> str:
        """:func:`~cleaner.normalize.match_key`."""
        k = self._key.get(text)
        if k is None:
            k = self._key[text] = match_key(text)
        return k

    def noise(self, text: str) -> list[tuple[int, int]]:
        """:func:`~cleaner.align.noise_spans`."""
        n = self._noise.get(text)
        if n is None:
            n = self._noise[text] = noise_spans(text)
        return n

    def comparable(self, text: str, to_simplified: bool) -> str:
        """:func:`~cleaner.align.comparable`."""
        c = self._comparable.get((text, to_simplified))
        if c is None:
            self.prime_comparable([(text, to_simplified)])
            c = self._comparable[(text, to_simplified)]
        return c

    def script(self, texts: Sequence[str]) -> str:
        """``_script("\\n".join(texts))``, from per-paragraph counts.

        OpenCC converts a newline to itself and no dictionary entry spans
        one, so a joined text converts paragraph by paragraph and the
        changed characters add up. Where a conversion changes a paragraph's
        length, :func:`_changed` counts roughly on the whole text, which
        does not add up: then the whole text is converted. s2t is skipped
        when t2s changes nothing (the text is simplified whatever s2t does):
        only traditional copies pay for it.
        """
        if not texts or (len(texts) == 1 and not texts[0]):
            return "simplified"
        counts = {"simplified": 0, "traditional": 0}
        for script in counts:
            self._prime_changed(texts, script)
            for t in texts:
                c = self._changed[(t, script)]
                if c is None:
                    return _script("\n".join(texts))
                counts[script] += c
            if not counts["simplified"]:
                return "simplified"
        return "traditional" if counts["simplified"] > counts["traditional"] else "simplified"

    def _prime_changed(self, texts: Sequence[str], script: str) -> None:
        """Characters ``convert_script(t, script)`` changes in each text
        (``None`` when it changes the length): one conversion call, one numpy
        comparison."""
        todo = [t for t in dict.fromkeys(texts) if (t, script) not in self._changed]
        if not todo:
            return
        self.prime_convert(todo, script)
        differ: list[tuple[str, str]] = []
        for t in todo:
            conv = self._conv[(t, script)]
            if len(conv) != len(t):
                self._changed[(t, script)] = None
            elif conv == t:
                self._changed[(t, script)] = 0
            else:
                differ.append((t, conv))
        if differ:
            lens = np.fromiter((len(t) for t, _ in differ), dtype=np.int64, count=len(differ))
            neq = _codes("".join([t for t, _ in differ])) != _codes("".join([c for _, c in differ]))
            counts = np.add.reduceat(neq, np.cumsum(lens) - lens).tolist()  # no text here is empty
            self._changed.update(zip([(t, script) for t, _ in differ], counts))

    def ratio(self, a: str, b: str) -> float:
        """``fuzz.ratio``."""
        r = self._ratio.get((a, b))
        if r is None:
            r = self._ratio[(a, b)] = fuzz.ratio(a, b)
        return r

    def contained(self, key: str, container: str) -> bool:
        """:func:`_contained`."""
        c = self._contained.get((key, container))
        if c is None:
            c = self._contained[(key, container)] = _contained(key, container)
        return c


def _batch_convert(texts: Sequence[str], script: str) -> list[str]:
    """``[convert_script(t, script) for t in texts]`` in one OpenCC call.

    OpenCC converts a newline to itself and no dictionary entry spans one
    (normalize's t2s fallback relies on the same), so the texts joined by
    newlines convert piece by piece. Texts holding a newline themselves are
    converted alone.
    """
    out = list(texts)
    # Only texts with a character the script's dictionaries rewrite are
    # converted (the rest would come back as they are): joined, one such
    # character anywhere sent every text through OpenCC.
    need = may_convert(texts, script)
    batch = [k for k, t in enumerate(texts) if need[k] and "\n" not in t]
    for k, t in enumerate(texts):
        if need[k] and "\n" in t:
            out[k] = convert_script(t, script)
    if batch:
        parts = convert_script("\n".join(texts[k] for k in batch), script).split("\n")
        if len(parts) != len(batch):  # not seen: a newline did not convert to itself
            parts = [convert_script(texts[k], script) for k in batch]
        for k, p in zip(batch, parts):
            out[k] = p
    return out


def _batch_noise(texts: Sequence[str]) -> list[list[tuple[int, int]]]:
    """``[noise_spans(t) for t in texts]`` in one regex pass.

    No noise pattern matches a newline, and each look-around and ``$``
    (under ``re.M``) sees one as it sees the start or end of a text, so the
    runs of the texts joined by newlines are the runs of each text.
    """
    starts: list[int] = []
    pos = 0
    for t in texts:
        starts.append(pos)
        pos += len(t) + 1
    out: list[list[tuple[int, int]]] = [[] for _ in texts]
    for s, e in noise_spans("\n".join(texts)):
        k = bisect_right(starts, s) - 1
        out[k].append((s - starts[k], e - starts[k]))
    return out


# Between two texts in _batch_keys: a private-use character, which every
# step of a key keeps as it is, fenced by newlines, which every step treats
# as a text boundary.
_KEY_MARK = "\ue000"
_KEY_SEPARATOR = "\n" + _KEY_MARK + "\n"


def _batch_keys(texts: Sequence[str]) -> list[str]:
    """``[match_key(t) for t in texts]`` in one :func:`match_key` call.

    Every step of a match key works per character or per line (OpenCC with
    its per-line fallback, width and case folding, mask patterns that never
    match a newline and whose look-arounds see one as a text boundary,
    dropping), except that adjacent wildcards merge: the separator's mark
    keeps the last wildcard of one text from merging with the first of the
    next, and splits the joined key. Texts holding the mark take the plain
    path.
    """
    if len(texts) <= 1 or any(_KEY_MARK in t for t in texts):
        return [match_key(t) for t in texts]
    keys = match_key(_KEY_SEPARATOR.join(texts)).split(_KEY_MARK)
    if len(keys) != len(texts):  # not seen: a mark did not come through
        return [match_key(t) for t in texts]
    return keys


def _info_fast(index: int, v: Variant, memo: _Memo) -> _Info:
    """:func:`_info` from per-paragraph values.

    The noise patterns never match a newline and treat one like the start
    or end of the text (look-arounds and ``$`` under ``re.M``), so the noise
    runs of the joined text are those of its paragraphs.
    """
    texts = [t for t, _ in v.paragraphs]
    keys = [memo.key(t) for t in texts]
    return _Info(
        index=index,
        variant=v,
        texts=texts,
        sources=[s for _, s in v.paragraphs],
        keys=keys,
        keylen=sum(len(k) for k in keys),
        noise=float(sum(len(memo.noise(t)) for t in texts)),
        script=memo.script(texts),
    )


class _Matcher:
    """Paragraph matching of every other variant against the base.

    The base keys are scored once against the distinct keys of all other
    variants (:func:`~cleaner.align.pair_scores`; cells are independent, so
    a variant's matrix is a column selection of it) instead of once per
    variant. Variants with the same key sequence share their groups.
    """

    def __init__(self, base_keys: list[str], others: Sequence[Sequence[str]], min_ratio: float, memo: _Memo) -> None:
        col: dict[str, int] = {}
        for keys in others:
            for k in keys:
                if k not in col:
                    col[k] = len(col)
        distinct = list(col)
        # What match_paragraphs(..., masked=True) pairs on, exact where it matters.
        self._scores = pair_scores(base_keys, distinct, min_ratio)
        self._col = col
        self._base_keys = base_keys
        self._min_ratio = min_ratio
        self._memo = memo
        self._groups: dict[tuple[str, ...], list[list[int]]] = {}

    def groups(self, other_keys: list[str]) -> list[list[int]]:
        """:func:`_groups` for a variant with these keys (shared: do not modify)."""
        sig = tuple(other_keys)
        got = self._groups.get(sig)
        if got is None:
            scores = self._scores[:, [self._col[k] for k in other_keys]]
            pairs = monotone_pairs(scores, self._min_ratio)
            got = self._groups[sig] = _grow(self._base_keys, other_keys, pairs, self._memo.ratio)
        return got


# reading_key values by `to_simplified`, across slots and merges: most
# readings are one or two characters that recur in every paragraph. Only
# short readings are kept (long ones rarely recur), at most this many.
_READING_KEYS: dict[bool, dict[str, str]] = {False: {}, True: {}}
_READING_KEYS_MAX = 1 << 16
_READING_KEY_CACHED_LEN = 16


def _reading_keys(readings: set[str], mixed: bool) -> dict[str, str]:
    """:func:`reading_key` ``(r, mixed)`` of every reading ``r``, as a map."""
    cache = _READING_KEYS[mixed]
    out: dict[str, str] = {}
    missing: list[str] = []
    for r in readings:
        k = cache.get(r)
        if k is None:
            missing.append(r)
        else:
            out[r] = k
    if missing:
        keys = reading_keys(missing, mixed)
        out.update(zip(missing, keys))
        short = [(r, k) for r, k in zip(missing, keys) if len(r) <= _READING_KEY_CACHED_LEN]
        if len(cache) + len(short) > _READING_KEYS_MAX:
            # A fresh map, not clear(): another thread may be reading the old one.
            cache = _READING_KEYS[mixed] = {}
        cache.update(short)
    return out


def _vote_all(slots: Sequence[_Slot], base_script: str, memo: _Memo) -> list[str]:
    """``[_vote(s, base_script) for s in slots]``, polling per region only the
    readings that differ from the lead.

    * Members with the same text and script read the same everywhere: they
      are aligned once and vote with their count and lowest rank (among
      equal readings the lowest rank is what every tie-break looks at).
    * A member reads exactly what the lead reads in a region when it has no
      segment there and its raw text and noise mask equal the lead's along
      it (the alignment folds width, case and script, the vote does not).
      Such members only add to the lead's count; they are never the form
      picked, as the lead wins ties within its group.
    * A region is settled without polling when the lead's reading is clean
      and has a strict majority (its group is first), and every differing
      reading is shorter than ``KEEP_LONGER`` (a key is never longer than its
      reading, so none can win by completeness): the lead's text stays.

    The bookkeeping runs on numpy arrays over all slots at once: the leads
    are laid end to end (one position apart, so no region spans two) and
    every position below is in that global frame, except reading spans
    (``b``), which are in the reader's own text.

    >>> s = _Slot(_Member(0, "王市长说", "simplified", []))
    >>> s.members += [_Member(1, "__市长说", "simplified", []), _Member(2, "王市长说", "simplified", [])]
    >>> _vote_all([s], "simplified", _Memo())
    ['王市长说']
    """
    out: list[str] = [s.lead.text for s in slots]
    texts: list[str] = []  # distinct readings ("readers") of all slots
    scripts: list[str] = []
    counts: list[int] = []
    ranks_of: list[int] = []
    slot_of: list[int] = []  # reader -> voting slot
    blocks: list[Any] = []  # per reader: the matching blocks of its alignment with the lead
    reader_off: list[int] = []  # reader -> where its lead starts
    voting: list[int] = []  # voting slot -> index in `slots`
    offsets: list[int] = []  # voting slot -> where its lead starts
    totals: list[int] = []
    mixed_of: list[bool] = []
    leads: list[str] = []
    # Distinct readings per slot; slots whose ranks repeat take the plain vote.
    polled: list[tuple[int, dict[tuple[str, str], list[int]]]] = []
    for idx, slot in enumerate(slots):
        if not slot.members:
            continue
        ranks = {slot.lead.rank}
        readers: dict[tuple[str, str], list[int]] = {}  # (text, script) -> [count, lowest rank]
        for m in slot.members:
            ranks.add(m.rank)
            got = readers.get((m.text, m.script))
            if got is None:
                readers[(m.text, m.script)] = [1, m.rank]
            else:
                got[0] += 1
                got[1] = min(got[1], m.rank)
        if len(ranks) != 1 + len(slot.members):
            # Not seen (a variant gives a slot one reading); ties would then
            # depend on member order, which only the plain vote follows.
            out[idx] = _vote(slot, base_script)
            continue
        polled.append((idx, readers))
    memo.prime_comparable(
        [
            pair
            for idx, readers in polled
            for text, script in readers
            for pair in ((text, script != base_script), (slots[idx].lead.text, script != base_script))
        ]
    )
    off = 0
    for idx, readers in polled:
        lead = slots[idx].lead.text
        v = len(voting)
        for (text, script), (count, rank) in readers.items():
            if text == lead:
                continue  # same raw text, same masks: agrees everywhere
            conv = script != base_script
            a, b = memo.comparable(lead, conv), memo.comparable(text, conv)
            # The alignment char_segments makes, as its equal runs (the
            # segments are the gaps between them). Equal folded forms: one run.
            blocks.append(Levenshtein.opcodes(a, b).as_matching_blocks() if a != b else ((0, 0, len(a)),))
            texts.append(text)
            scripts.append(script)
            counts.append(count)
            ranks_of.append(rank)
            slot_of.append(v)
            reader_off.append(off)
        voting.append(idx)
        offsets.append(off)
        totals.append(len(slots[idx].members))
        mixed_of.append(any(script != base_script for _, script in readers))
        leads.append(lead)
        off += len(lead) + 1
    if not texts:
        return out  # every reading is its lead's
    n_readers = len(texts)
    text_len = np.fromiter(map(len, texts), dtype=np.int64, count=n_readers)
    text_off = np.cumsum(text_len) - text_len  # where each reader's text starts in `texts` joined
    per_reader = np.fromiter(map(len, blocks), dtype=np.int64, count=n_readers)
    block_reader = np.repeat(np.arange(n_readers), per_reader)
    block_a, block_b, block_len = (
        np.fromiter(chain.from_iterable(chain.from_iterable(blocks)), dtype=np.int64).reshape(-1, 3).T
    )
    block_a = block_a + np.asarray(reader_off, dtype=np.int64)[block_reader]  # into the leads' frame
    # Segments: the gaps before each block (from the previous block's end, or
    # the texts' starts); char_segments may split one into a replace and an
    # insert, which touch, so regions and reading spans come out the same.
    opens = np.append(True, block_reader[1:] != block_reader[:-1])
    gap_a0 = np.where(opens, np.asarray(reader_off, dtype=np.int64)[block_reader], np.roll(block_a + block_len, 1))
    gap_b0 = np.where(opens, 0, np.roll(block_b + block_len, 1))
    is_gap = (gap_a0 < block_a) | (gap_b0 < block_b)
    if not is_gap.any():
        return out  # no region anywhere: every reading agrees with its lead, up to folding
    seg_reader, a0, a1, b0, b1 = (
        block_reader[is_gap], gap_a0[is_gap], block_a[is_gap], gap_b0[is_gap], block_b[is_gap]
    )
    # Regions: union_regions on the segments' lead-side spans.
    order = np.lexsort((a1, a0))
    s_sorted = a0[order]
    run_end = np.maximum.accumulate(a1[order])
    fresh = np.ones(len(order), dtype=bool)
    fresh[1:] = s_sorted[1:] > run_end[:-1]
    starts = s_sorted[fresh]
    ends = run_end[np.append(np.flatnonzero(fresh)[1:] - 1, len(order) - 1)]
    n_regions = len(starts)
    offsets_np = np.asarray(offsets, dtype=np.int64)
    region_slot = np.searchsorted(offsets_np, starts, side="right") - 1

    # A reader with segments in a region reads from its first to its last
    # segment there, widened to the region (what `project` gives).
    seg_region = np.searchsorted(starts, a0, side="right") - 1
    seg_key = seg_reader * n_regions + seg_region  # non-decreasing: readers in order, opcodes in order
    first = np.flatnonzero(np.append(True, seg_key[1:] != seg_key[:-1]))
    last = np.append(first[1:] - 1, len(seg_key) - 1)
    hit_key = seg_key[first]
    hit_region = seg_region[first]
    hit_reader = seg_reader[first]
    hit_bs = b0[first] - (a0[first] - starts[hit_region])
    hit_be = b1[last] + (ends[hit_region] - a1[last])

    # Where an equal run differs from the lead in raw character or noise mask.
    lead_codes = _codes("\x00".join(leads))
    lead_masks = _joined_mask(memo, leads, 1)
    # The equal runs: where raw text or noise mask may still differ.
    run_a, run_len = block_a, block_len
    run_b = block_b + text_off[block_reader]
    run_reader = block_reader
    pos = np.arange(int(run_len.sum()), dtype=np.int64) + np.repeat(run_a - (np.cumsum(run_len) - run_len), run_len)
    other = pos + np.repeat(run_b - run_a, run_len)
    reader_codes = _codes("".join(texts))
    reader_masks = _joined_mask(memo, texts, 0)
    diff = (lead_codes[pos] != reader_codes[other]) | (lead_masks[pos] != reader_masks[other])
    pts = pos[diff]
    pts_reader = np.repeat(run_reader, run_len)[diff]
    pts_region = np.searchsorted(starts, pts, side="right") - 1
    inside = (pts_region >= 0) & (pts < ends[np.maximum(pts_region, 0)])
    extra = pts_reader[inside] * n_regions + pts_region[inside]  # sorted: readers in order, positions rising
    if len(extra):
        extra = extra[np.append(True, extra[1:] != extra[:-1])]
        # Drop the (reader, region) pairs that have a segment (hit_key is sorted).
        extra = extra[hit_key[np.minimum(np.searchsorted(hit_key, extra), len(hit_key) - 1)] != extra]
    if len(extra):
        # Inside an equal run: the offset left by the reader's last segment
        # before it, or none (then the lead's own start).
        reader_x, region_x = np.divmod(extra, n_regions)
        prev = np.maximum(np.searchsorted(seg_key, extra, side="left") - 1, 0)
        mine = seg_reader[prev] == reader_x
        own_start = -offsets_np[np.asarray(slot_of)[reader_x]]
        delta = np.where(mine & (seg_key[prev] < extra), b1[prev] - a1[prev], own_start)
        hit_region = np.concatenate([hit_region, region_x])
        hit_reader = np.concatenate([hit_reader, reader_x])
        hit_bs = np.concatenate([hit_bs, starts[region_x] + delta])
        hit_be = np.concatenate([hit_be, ends[region_x] + delta])

    # Regions the lead's reading settles (see above); only the rest are polled.
    counts_np = np.asarray(counts, dtype=np.int64)
    total_np = np.asarray(totals, dtype=np.int64)[region_slot]
    agree = total_np - np.bincount(hit_region, weights=counts_np[hit_reader], minlength=n_regions).astype(np.int64)
    longest = np.zeros(n_regions, dtype=np.int64)
    np.maximum.at(longest, hit_region, hit_be - hit_bs)
    noise_sum = np.concatenate(([0], np.cumsum(lead_masks, dtype=np.int64)))
    lead_noise = noise_sum[ends] > noise_sum[starts]
    todo = np.flatnonzero((2 * agree + 1 <= total_np) | (longest >= KEEP_LONGER) | lead_noise)
    if not len(todo):
        return out

    # Poll the rest, all regions at once. A candidate is a region's lead
    # reading or one of its differing readings; it votes with its copies.
    n_polls = len(todo)
    poll_of = np.full(n_regions, -1, dtype=np.int64)
    poll_of[todo] = np.arange(n_polls)
    hits = np.flatnonzero(poll_of[hit_region] >= 0)
    h_reader = hit_reader[hits]
    h_start, h_end = text_off[h_reader] + hit_bs[hits], text_off[h_reader] + hit_be[hits]
    # Whether each reading touches a noise run of its reader's text.
    reader_noise = np.concatenate(([0], np.cumsum(reader_masks, dtype=np.int64)))
    poll_slot = region_slot[todo]
    lead_rank = np.asarray([slots[i].lead.rank for i in voting], dtype=np.int64)
    ranks_np = np.asarray(ranks_of, dtype=np.int64)
    cand_poll = np.concatenate([np.arange(n_polls), poll_of[hit_region[hits]]])
    cand_noise = np.concatenate([lead_noise[todo], reader_noise[h_end] > reader_noise[h_start]]).astype(np.int64)
    cand_lead = np.concatenate([np.ones(n_polls, dtype=np.int64), np.zeros(len(hits), dtype=np.int64)])
    cand_rank = np.concatenate([lead_rank[poll_slot], ranks_np[h_reader]])
    cand_count = np.concatenate([1 + agree[todo], counts_np[h_reader]])
    all_texts = "".join(texts)
    p_start, p_end = starts[todo], ends[todo]
    lead_start = p_start - offsets_np[poll_slot]
    lead_end = p_end - offsets_np[poll_slot]
    cand_text = [
        *(leads[v][s:e] for v, s, e in zip(poll_slot.tolist(), lead_start.tolist(), lead_end.tolist())),
        *(all_texts[b:e] for b, e in zip(h_start.tolist(), h_end.tolist())),
    ]
    cand_script = [base_script] * n_polls + [scripts[i] for i in h_reader.tolist()]
    # Reading keys (t2s in them only where the slot mixes scripts), as small ints.
    mixed_np = np.asarray(mixed_of, dtype=bool)[poll_slot[cand_poll]]
    key_ids: dict[str, int] = {}
    cand_key = np.empty(len(cand_text), dtype=np.int64)
    for mixed in (False, True):
        which = np.flatnonzero(mixed_np == mixed).tolist()
        if which:
            texts_m = [cand_text[i] for i in which]
            keys = _reading_keys(set(texts_m), mixed)
            cand_key[which] = [key_ids.setdefault(keys[t], len(key_ids)) for t in texts_m]
    key_len = np.fromiter(map(len, key_ids), dtype=np.int64, count=len(key_ids))
    # Groups: a region's candidates with one key. Sorted by (noise, not the
    # lead, rank) within a group, its first candidate is its cleanest form.
    top = int(cand_rank.max()) + 1
    pick = cand_noise * (2 * top) + (1 - cand_lead) * top + cand_rank
    order = np.lexsort((pick, cand_key, cand_poll))
    sp, sk = cand_poll[order], cand_key[order]
    first = np.flatnonzero(np.append(True, (sp[1:] != sp[:-1]) | (sk[1:] != sk[:-1])))
    g_poll = sp[first]
    g_best = order[first]
    g_noisy = np.minimum.reduceat(cand_noise[order], first)  # 1: every reading noisy
    g_count = np.add.reduceat(cand_count[order], first)
    g_lead = np.maximum.reduceat(cand_lead[order], first)
    g_rank = np.minimum.reduceat(cand_rank[order], first)
    g_key_len = key_len[sk[first]]
    # Per region: clean first (in a region longer than CLEAN_REGION, only
    # with a fair share of the copies; see _vote), more copies, the lead's
    # group, the best rank (ranks are unique within a slot, so no ties);
    # then the completeness rule.
    copies = 1 + np.asarray(totals, dtype=np.int64)[poll_slot]
    need = np.where(copies <= 3, 1, -(-copies // 5))
    long_region = (p_end - p_start) > CLEAN_REGION
    g_unclean = g_noisy | (long_region[g_poll] & (g_count < need[g_poll])).astype(g_noisy.dtype)
    ranked = np.lexsort((g_rank, 1 - g_lead, -g_count, g_unclean, g_poll))
    rp = g_poll[ranked]
    lead_of_poll = np.flatnonzero(np.append(True, rp[1:] != rp[:-1]))
    winner = ranked[lead_of_poll]
    longer = (g_noisy == 0) & (g_key_len >= g_key_len[winner][g_poll] + KEEP_LONGER) & (g_count >= need[g_poll])
    eligible = np.flatnonzero(longer[ranked])
    if len(eligible):
        polls_e, first_e = np.unique(rp[eligible], return_index=True)
        winner[polls_e] = ranked[eligible[first_e]]
    chosen = g_best[winner].tolist()

    # Winning readings from a copy in the other script, converted in one call.
    winning = [cand_text[c] for c in chosen]
    foreign = [k for k, c in enumerate(chosen) if cand_script[c] != base_script]
    for k, conv in zip(foreign, _batch_convert([winning[k] for k in foreign], base_script)):
        winning[k] = conv
    pieces: dict[int, list[str]] = {}
    ends_at: dict[int, int] = {}
    for v, s, e, reading in zip(poll_slot.tolist(), p_start.tolist(), p_end.tolist(), winning):
        lead = leads[v]
        s, e = s - offsets[v], e - offsets[v]
        parts = pieces.setdefault(v, [])
        parts.append(lead[ends_at.get(v, 0) : s])
        parts.append(reading)
        ends_at[v] = e
    for v, parts in pieces.items():
        parts.append(leads[v][ends_at[v] :])
        out[voting[v]] = "".join(parts)
    return out


def _joined_mask(memo: _Memo, texts: Sequence[str], gap: int) -> np.ndarray:
    """The noise masks (:func:`_noise_mask`) of ``texts`` end to end, ``gap``
    zeros between two, as one uint8 array built from the noise runs."""
    edges: list[int] = []
    pos = 0
    for t in texts:
        for s, e in memo.noise(t):
            edges.append(pos + s)
            edges.append(pos + e)
        pos += len(t) + gap
    size = max(pos - gap, 0)
    if not edges:
        return np.zeros(size, dtype=np.uint8)
    # +1 where a run starts, -1 where it ends; runs never overlap.
    step = np.zeros(size + 1, dtype=np.int8)
    at = np.asarray(edges, dtype=np.int64)
    np.add.at(step, at[0::2], 1)
    np.add.at(step, at[1::2], -1)
    return np.cumsum(step[:-1], dtype=np.int8).astype(np.uint8)


def _ranked_sources(slot: _Slot) -> list[Any]:
    """The slot's sources by variant rank, as :func:`_sources` orders them."""
    if not slot.support:
        # Members come in rank order after their lead: the sort keeps this order.
        ranks = [slot.lead.rank] + [m.rank for m in slot.members]
        if all(a <= b for a, b in zip(ranks, ranks[1:])):
            return [*slot.lead.sources, *(s for m in slot.members for s in m.marked_sources())]
    items: list[tuple[int, Any]] = [(slot.lead.rank, s) for s in slot.lead.sources]
    for m in slot.members:
        items.extend((m.rank, s) for s in m.marked_sources())
    items.extend((r, PartSource(s)) for r, s, _ in slot.support)
    items.sort(key=lambda x: x[0])  # stable: within a variant, paragraph order
    return [s for _, s in items]


class _Buckets:
    """Bucket keys for sources: equal sources always get equal keys, and
    different ones mostly different keys, cheaply.

    :func:`_sources` lists equal sources once by comparing each with every
    one kept, which is quadratic in copies; comparing only within a bucket
    gives the same result. The pipeline's sources are not hashable
    (dataclasses holding a file's meta dict), so a dataclass with the
    generated ``__eq__`` (same class, compared fields equal) is keyed by its
    class and a *shallow* key of each field: a dataclass by its class and
    the shallow key of its first field (for a source's file: the file's
    name), memoised by object; a tuple by its length; another hashable value
    by itself; anything else by nothing (equal to anything). A hashable
    source stands for itself; any other source goes to one common bucket.
    """

    def __init__(self) -> None:
        self._shallow: dict[int, Any] = {}  # id(dataclass value) -> its shallow key

    def of(self, source: Any) -> Any:
        t = type(source)
        fields = _eq_fields(t)
        if fields is not None:
            return (t, tuple(map(self._shallow_key, fields(source))))
        try:
            hash(source)
        except TypeError:
            return _ANY
        return (_ANY, source)

    def _shallow_key(self, value: Any) -> Any:
        got = self._shallow.get(id(value))
        if got is not None:
            return got
        t = type(value)
        fields = _eq_fields(t)
        if fields is not None:  # checked first: hashing a frozen one hashes all it holds
            parts = fields(value)
            got = (t, self._shallow_key(parts[0]) if parts else None)
            self._shallow[id(value)] = got  # the value lives as long as the merge
            return got
        if t is tuple:
            # Its length only: hashing it would hash what it holds (for a
            # source, its blocks, in Python), and the bucket is small anyway.
            return (tuple, len(value))
        try:
            hash(value)
        except TypeError:
            return _ANY
        return (_ANY, value)


# Stands for "some value" in bucket keys; equal only to itself.
_ANY = ("any",)


def _eq_fields(t: type) -> Callable[[Any], tuple] | None:
    """For a class whose ``==`` is the one ``@dataclass`` generates (same
    class, compared fields equal): a getter of those fields as a tuple.
    ``None`` for any other class."""
    try:
        return _EQ_FIELDS[t]
    except KeyError:
        pass
    getter = None
    if dataclasses.is_dataclass(t):
        owner = next((c for c in t.__mro__ if "__eq__" in c.__dict__), None)
        params = owner.__dict__.get("__dataclass_params__") if owner is not None else None
        code = getattr(owner.__dict__["__eq__"], "__code__", None) if params is not None else None
        # Generated methods are compiled from a string; a hand-written
        # __eq__, which @dataclass keeps, is not.
        if params is not None and params.eq and code is not None and code.co_filename == "<string>":
            names = [f.name for f in dataclasses.fields(t) if f.compare]
            getter = operator.attrgetter(*names) if len(names) > 1 else _fields_getter(names)
    _EQ_FIELDS[t] = getter
    return getter


_EQ_FIELDS: dict[type, Callable[[Any], tuple] | None] = {}


def _fields_getter(names: list[str]) -> Callable[[Any], tuple]:
    """A getter of none or one attribute as a tuple (attrgetter returns one
    attribute bare)."""
    get = operator.attrgetter(*names) if names else None

    def getter(obj: Any) -> tuple:
        return (get(obj),) if get is not None else ()

    return getter


def _sources_fast(slot: _Slot, buckets: _Buckets) -> tuple[Any, ...]:
    """:func:`_sources`, comparing each source only with the kept ones in
    its bucket (:class:`_Buckets`), where any equal one is."""
    kept: dict[Any, list[Any]] = {}
    out: list[Any] = []
    for s in _ranked_sources(slot):
        key = buckets.of(s)
        bucket = kept.get(key)
        if bucket is None:
            kept[key] = [s]
        elif not any(s is o or s == o for o in bucket):
            bucket.append(s)
        else:
            continue
        out.append(s)
    return tuple(out)


# --------------------------------------------------------------------------
# Public entry points.


def merge_variants(variants: Sequence[Variant], *, min_ratio: float = 60.0) -> MergedArticle:
    """Merge variants of one article into the most complete clean text.

    >>> a = Variant([("同志们:", "a0"), ("__市长在会上作了报告。", "a1")], ("a", 0))
    >>> b = Variant([("同志们：", "b0"), ("王市长在会上作了报告。?", "b1")], ("b", 0))
    >>> m = merge_variants([a, b])
    >>> m.text
    '同志们:\\n王市长在会上作了报告。'
    >>> m.paragraphs[1].sources, m.base
    (('a1', 'b1'), 0)
    """
    return _merge(variants, min_ratio, _Memo())


def merge_variants_reference(variants: Sequence[Variant], *, min_ratio: float = 60.0) -> MergedArticle:
    """Plain twin of :func:`merge_variants` (for tests): variant statistics
    on the joined text, one paragraph matching per variant, every copy polled
    in every region, sources compared pairwise. Same result, cost quadratic
    in the number of copies.

    >>> a, b = Variant([("同志们:", "a0")], ("a",)), Variant([("同志们：", "b0")], ("b",))
    >>> merge_variants_reference([a, b]) == merge_variants([a, b])
    True
    """
    return _merge(variants, min_ratio, None)


def _merge(variants: Sequence[Variant], min_ratio: float, memo: _Memo | None) -> MergedArticle:
    """:func:`merge_variants` (``memo`` given) or its reference (``memo`` None)."""
    if not variants:
        raise ValueError("merge_variants needs at least one variant")
    if len(variants) == 1:
        v = variants[0]
        return MergedArticle(
            paragraphs=tuple(MergedParagraph(t, (s,)) for t, s in v.paragraphs),
            base=0,
            similarity=(1.0,),
        )

    if memo is not None:
        memo.prime([t for v in variants for t, _ in v.paragraphs])
    infos = [_info(k, v) if memo is None else _info_fast(k, v, memo) for k, v in enumerate(variants)]
    ranked = _rank(infos)
    base = ranked[0]
    bscript = base.script
    n = len(base.texts)
    matcher = None if memo is None else _Matcher(base.keys, [o.keys for o in ranked[1:]], min_ratio, memo)
    contained: Callable[[str, str], bool] = _contained if memo is None else memo.contained
    comparable_: Callable[[str, bool], str] = comparable if memo is None else memo.comparable

    slots = [
        _Slot(_Member(0, t, bscript, [s], k), key=k) for t, s, k in zip(base.texts, base.sources, base.keys)
    ]
    # extras[k]: paragraphs no base paragraph matched, placed after base paragraph k
    # (k = -1: before the first one).
    extras: dict[int, list[_Slot]] = {}

    for other in ranked[1:]:
        groups = _groups(base, other, min_ratio) if matcher is None else matcher.groups(other.keys)
        for i0, i1, j0, j1 in groups:
            text = "".join(other.texts[j0:j1])
            srcs = other.sources[j0:j1]
            if i1 - i0 == 1:
                key = "".join(other.keys[j0:j1])
                lead_key = base.keys[i0]
                part = j1 - j0 > 1 or (len(key) < len(lead_key) and key in lead_key)
                slots[i0].members.append(_Member(other.rank, text, other.script, list(srcs), key, part))
                continue
            # One paragraph of `other` spans several base paragraphs: cut it
            # where the alignment puts the base paragraph boundaries.
            conv = other.script != bscript
            segs = char_segments(comparable_("".join(base.texts[i0:i1]), conv), comparable_(text, conv))
            cuts = [0]
            edge = 0
            for i in range(i0, i1 - 1):
                edge += len(base.texts[i])
                cuts.append(max(cuts[-1], map_position(segs, edge)))
            cuts.append(len(text))
            for i, a, b in zip(range(i0, i1), cuts, cuts[1:]):
                slots[i].members.append(_Member(other.rank, text[a:b], other.script, list(srcs)))

        # Leftover paragraphs of `other`: contained in a neighbour, or extra.
        matched = [False] * len(other.texts)
        after = [-1] * len(other.texts)  # base paragraph each one follows
        for i0, i1, j0, j1 in groups:
            for j in range(j0, j1):
                matched[j] = True
        last = -1
        g = 0
        for j in range(len(other.texts)):
            while g < len(groups) and groups[g][3] <= j:
                last = groups[g][1] - 1
                g += 1
            after[j] = last
        pending: dict[int, list[int]] = {}
        for j in range(len(other.texts)):
            if matched[j]:
                continue
            k = after[j]
            key = other.keys[j]
            host = next((i for i in (k, k + 1) if 0 <= i < n and contained(key, base.keys[i])), None)
            if host is not None:
                slots[host].support.append((other.rank, other.sources[j], key))
                continue
            pending.setdefault(k, []).append(j)

        for k, js in pending.items():
            here = extras.setdefault(k, [])
            pairs = match_paragraphs([s.key for s in here], [other.keys[j] for j in js], min_ratio)
            paired = dict((b, a) for a, b in pairs)
            for idx, j in enumerate(js):
                if idx in paired:
                    here[paired[idx]].members.append(
                        _Member(other.rank, other.texts[j], other.script, [other.sources[j]], other.keys[j])
                    )
            # New extras go right after the extra they follow in `other`.
            offset = 0
            insert_at = 0
            for idx, j in enumerate(js):
                if idx in paired:
                    insert_at = paired[idx] + 1 + offset
                    continue
                lead = _Member(
                    other.rank,
                    _in_script(other.texts[j], other.script, bscript),
                    bscript,
                    [other.sources[j]],
                    other.keys[j],
                )
                here.insert(insert_at, _Slot(lead, key=other.keys[j]))
                insert_at += 1
                offset += 1

    # Paragraphs only some copies have are kept; among many copies, only if
    # a fair share of them have it (one site's leftover notice is not content).
    need = minority_support(len(infos))

    def kept(extra: list[_Slot]) -> list[_Slot]:
        return [x for x in extra if 1 + len(x.members) >= need]

    ordered = kept(extras.get(-1, []))
    for i in range(n):
        ordered.append(slots[i])
        ordered.extend(kept(extras.get(i, [])))
    if memo is None:
        paragraphs = tuple(MergedParagraph(_vote(s, bscript), _sources(s)) for s in ordered)
    else:
        texts = _vote_all(ordered, bscript, memo)
        paragraphs = tuple(MergedParagraph(t, _sources_fast(s, memo.sources)) for t, s in zip(texts, ordered))
    by_rank = _similarity(ordered, paragraphs, ranked, memo)
    similarity = tuple(by_rank[i.rank] for i in infos)
    return MergedArticle(paragraphs=paragraphs, base=base.index, similarity=similarity)


def _lcs(a: str, b: str) -> int:
    return (len(a) + len(b) - Indel.distance(a, b)) // 2


def _similarity(
    slots: list[_Slot], paragraphs: tuple[MergedParagraph, ...], ranked: list[_Info], memo: _Memo | None = None
) -> list[float]:
    """Per variant rank: ``fuzz.ratio``-style similarity of its key to the
    canonical key, ``2 * LCS / (len_a + len_b)``.

    The LCS is summed over the canonical paragraphs the variant contributed
    to (a whole-text ratio on 10,000 characters costs ~7 ms per variant, this
    well under 1 ms); it is exact when the variant's paragraphs align in
    order, which the merge guarantees, and otherwise a lower bound. With a
    ``memo``, each distinct key is measured once per paragraph.
    """
    key_of = match_key if memo is None else memo.key
    if memo is not None:
        memo.prime_keys([p.text for p in paragraphs] + [m.text for s in slots for m in s.members if m.key is None])
    canon_keys = [key_of(p.text) for p in paragraphs]
    total = sum(len(k) for k in canon_keys)
    lcs = [0] * len(ranked)
    for slot, ck in zip(slots, canon_keys):
        pairs = [(m.rank, m.key if m.key is not None else key_of(m.text)) for m in (slot.lead, *slot.members)]
        pairs.extend((rank, key) for rank, _, key in slot.support)
        if memo is None:
            for rank, key in pairs:
                lcs[rank] += _lcs(ck, key)
            continue
        # Copies share keys: each distinct one is measured once (an equal one for free).
        done: dict[str, int] = {ck: len(ck)}
        for rank, key in pairs:
            got = done.get(key)
            if got is None:
                got = done[key] = _lcs(ck, key)
            lcs[rank] += got
    out = []
    for info, common_chars in zip(ranked, lcs):
        denom = total + info.keylen
        out.append(min(1.0, 2.0 * common_chars / denom) if denom else 1.0)
    return out
