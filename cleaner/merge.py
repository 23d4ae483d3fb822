"""Merge the variants of one article into one canonical text (see docs/merge.md).

A cluster holds two or more copies of one article scraped from different
places. :func:`merge_variants` picks a base variant (most complete, least
noisy, then the caller's ``sort_key``), matches every other variant's
paragraphs to it in order, aligns matched paragraphs character by character
and votes per differing region, preferring readings without masks, ``?``
artefacts or mojibake; paragraphs only some variants have are inserted where
those variants have them. Output keeps the base variant's script.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.distance import Indel

from .align import (
    char_segments,
    comparable,
    map_position,
    match_paragraphs,
    noise_score,
    noise_spans,
    project,
    reading_key,
    union_regions,
)
from .normalize import convert_script, match_key

__all__ = ["Variant", "MergedParagraph", "MergedArticle", "merge_variants"]

# A clean reading at least this many key characters longer than the vote's
# winner wins anyway: copies drop sentences far more often than they invent
# them, and the goal is the most complete text.
KEEP_LONGER = 6
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


def _info(index: int, v: Variant) -> _Info:
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


def _groups(base: _Info, other: _Info, min_ratio: float) -> list[list[int]]:
    """Monotone groups ``[i0, i1, j0, j1]``: base paragraphs ``i0:i1`` match
    other paragraphs ``j0:j1``.

    Starts from 1:1 pairs and grows a group over unmatched neighbours while
    that raises the ratio: a paragraph split in two in one variant and
    joined in the other then aligns as a whole instead of leaving half of it
    as an "extra" paragraph.
    """
    bk, ok = base.keys, other.keys
    # Mask-aware: a short paragraph with a masked name falls under the plain
    # ratio threshold although it is the same paragraph.
    pairs = match_paragraphs(bk, ok, min_ratio, masked=True)
    groups = [[i, i + 1, j, j + 1] for i, j in pairs]
    for g_idx, g in enumerate(groups):
        prev = groups[g_idx - 1] if g_idx else None
        nxt = groups[g_idx + 1] if g_idx + 1 < len(groups) else None
        lo_i = prev[1] if prev else 0
        hi_i = nxt[0] if nxt else len(bk)
        lo_j = prev[3] if prev else 0
        hi_j = nxt[2] if nxt else len(ok)
        cur = _ratio("".join(bk[g[0] : g[1]]), "".join(ok[g[2] : g[3]]))
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
                r = _ratio("".join(bk[cand[0] : cand[1]]), "".join(ok[cand[2] : cand[3]]))
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


def _noise_mask(text: str) -> bytearray:
    mask = bytearray(len(text))
    for s, e in noise_spans(text):
        mask[s:e] = b"\x01" * (e - s)
    return mask


def minority_support(copies: int) -> int:
    """How many copies must share a reading that is not the majority's for it
    to count: any one of two or three copies, a fifth of more.

    >>> minority_support(2), minority_support(3), minority_support(10), minority_support(94)
    (1, 1, 2, 19)
    """
    return 1 if copies <= 3 else -(-copies // 5)


def _vote(slot: _Slot, base_script: str) -> str:
    """Canonical text of one slot: the lead with every differing region
    replaced by the winning reading."""
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

        def order(item: tuple[str, list]) -> tuple:
            key, members = item
            clean = any(c[1] == 0 for c in members)
            return (not clean, -len(members), not any(c[2] for c in members), min(c[3] for c in members))

        ranked = sorted(groups.items(), key=order)
        win_key, win = ranked[0]
        # Completeness beats the vote (a dropped sentence comes back), but
        # among many copies only a reading a fair share of them have: one
        # site's stamp or insertion must not win by being longer.
        need = minority_support(len(cands))
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
    items: list[tuple[int, Any]] = [(slot.lead.rank, s) for s in slot.lead.sources]
    for m in slot.members:
        items.extend((m.rank, s) for s in m.sources)
    items.extend((r, s) for r, s, _ in slot.support)
    items.sort(key=lambda x: x[0])  # stable: within a variant, paragraph order
    out: list[Any] = []
    for _, s in items:
        if not any(s is o or s == o for o in out):
            out.append(s)
    return tuple(out)


# --------------------------------------------------------------------------
# Public entry point.


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
    if not variants:
        raise ValueError("merge_variants needs at least one variant")
    if len(variants) == 1:
        v = variants[0]
        return MergedArticle(
            paragraphs=tuple(MergedParagraph(t, (s,)) for t, s in v.paragraphs),
            base=0,
            similarity=(1.0,),
        )

    infos = [_info(k, v) for k, v in enumerate(variants)]
    ranked = _rank(infos)
    base = ranked[0]
    bscript = base.script
    n = len(base.texts)

    slots = [
        _Slot(_Member(0, t, bscript, [s], k), key=k) for t, s, k in zip(base.texts, base.sources, base.keys)
    ]
    # extras[k]: paragraphs no base paragraph matched, placed after base paragraph k
    # (k = -1: before the first one).
    extras: dict[int, list[_Slot]] = {}

    for other in ranked[1:]:
        groups = _groups(base, other, min_ratio)
        for i0, i1, j0, j1 in groups:
            text = "".join(other.texts[j0:j1])
            srcs = other.sources[j0:j1]
            if i1 - i0 == 1:
                key = "".join(other.keys[j0:j1])
                slots[i0].members.append(_Member(other.rank, text, other.script, list(srcs), key))
                continue
            # One paragraph of `other` spans several base paragraphs: cut it
            # where the alignment puts the base paragraph boundaries.
            conv = other.script != bscript
            segs = char_segments(
                comparable("".join(base.texts[i0:i1]), conv), comparable(text, conv)
            )
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
            host = next(
                (i for i in (k, k + 1) if 0 <= i < n and _contained(key, base.keys[i])), None
            )
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
    paragraphs = tuple(MergedParagraph(_vote(s, bscript), _sources(s)) for s in ordered)
    by_rank = _similarity(ordered, paragraphs, ranked)
    similarity = tuple(by_rank[i.rank] for i in infos)
    return MergedArticle(paragraphs=paragraphs, base=base.index, similarity=similarity)


def _lcs(a: str, b: str) -> int:
    return (len(a) + len(b) - Indel.distance(a, b)) // 2


def _similarity(
    slots: list[_Slot], paragraphs: tuple[MergedParagraph, ...], ranked: list[_Info]
) -> list[float]:
    """Per variant rank: ``fuzz.ratio``-style similarity of its key to the
    canonical key, ``2 * LCS / (len_a + len_b)``.

    The LCS is summed over the canonical paragraphs the variant contributed
    to (a whole-text ratio on 10,000 characters costs ~7 ms per variant, this
    well under 1 ms); it is exact when the variant's paragraphs align in
    order, which the merge guarantees, and otherwise a lower bound.
    """
    canon_keys = [match_key(p.text) for p in paragraphs]
    total = sum(len(k) for k in canon_keys)
    lcs = [0] * len(ranked)
    for slot, ck in zip(slots, canon_keys):
        for m in (slot.lead, *slot.members):
            lcs[m.rank] += _lcs(ck, m.key if m.key is not None else match_key(m.text))
        for rank, _, key in slot.support:
            lcs[rank] += _lcs(ck, key)
    out = []
    for info, common in zip(ranked, lcs):
        denom = total + info.keylen
        out.append(min(1.0, 2.0 * common / denom) if denom else 1.0)
    return out
