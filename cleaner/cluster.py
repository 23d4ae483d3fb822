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

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .config import ClusterConfig
import re

from .index import BandIndex
from .segment import parse_ordinal
from .shingle import match_keys, shingle_hashes, shingle_hashes_text
from .sketch import MinHasher



def _mostly_latin(text: str) -> bool:
    letters = sum(1 for ch in text[:2000] if ch.isascii() and ch.isalpha())
    return letters > 0.5 * max(1, len(text[:2000]))


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


@dataclass(frozen=True)
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
    """``|A ∩ B|`` of two sorted unique arrays, by binary search of the smaller
    in the larger (no sort: ``np.intersect1d`` re-sorts both every call).

    >>> intersection_size(np.array([1, 3, 5], dtype=np.uint64), np.array([2, 3, 4, 5], dtype=np.uint64))
    2
    """
    if len(a) > len(b):
        a, b = b, a
    if len(a) == 0:
        return 0
    pos = np.searchsorted(b, a)
    pos[pos == len(b)] = len(b) - 1
    return int(np.count_nonzero(b[pos] == a))


def similarity(a: np.ndarray, b: np.ndarray) -> Similarity:
    """Exact Jaccard and containment of two sorted unique hash arrays.

    >>> s = similarity(np.array([1, 2, 3], dtype=np.uint64), np.array([1, 2, 3, 4, 5, 6], dtype=np.uint64))
    >>> round(s.jaccard, 2), s.containment, s.smaller
    (0.5, 1.0, 3)
    """
    if len(a) == 0 or len(b) == 0:
        return Similarity(0.0, 0.0, 0)
    inter = intersection_size(a, b)
    smaller = min(len(a), len(b))
    return Similarity(inter / (len(a) + len(b) - inter), inter / smaller, smaller)


class ArticleClusterer:
    """Finds clusters of copies among articles given as texts.

    >>> body = "这次全市工业园区建设工作会议开得很好。市长在会上作了主体报告,全面部署了下步工业园区建设。" * 3
    >>> other = "今天召开全市金融工作会议,主要任务是总结去年金融工作,研究部署今年的金融工作任务。" * 3
    >>> ArticleClusterer().cluster([body, other, "同志们:" + body], [(0,), (1,), (2,)])
    [[2, 0], [1]]
    """

    def __init__(self, config: ClusterConfig | None = None) -> None:
        self.config = config or ClusterConfig()
        self.hasher = MinHasher(self.config.num_perm)
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
            if latin:
                out.append(shingle_hashes_text(text, cfg.shingle_k, cfg.word_k))
            else:
                out.append(shingle_hashes(key, cfg.shingle_k))
        return out, words

    def cluster(self, texts: Sequence[str], sort_keys: Sequence[tuple]) -> list[list[int]]:
        """Clusters (lists of indices into ``texts``), each sorted by
        completeness then ``sort_keys``; clusters ordered by their first member."""
        cfg = self.config
        n = len(texts)
        if n == 0:
            return []
        sets, words = self.shingles(texts)
        # Identical shingle sets are one node: big exact-copy groups cost nothing.
        by_content: dict[bytes, list[int]] = defaultdict(list)
        for i, s in enumerate(sets):
            by_content[s.tobytes() if len(s) else f"empty-{i}".encode()].append(i)
        nodes = [sorted(g, key=lambda i: sort_keys[i]) for g in by_content.values()]
        node_sets = [sets[g[0]] for g in nodes]
        node_words = [words[g[0]] for g in nodes]
        self.counters["exact_copies"] += n - len(nodes)

        candidates = self._lsh_candidates(node_sets) | self._containment_candidates(node_sets)
        self.counters["candidate_pairs"] += len(candidates)
        verified: dict[tuple[int, int], bool] = {}

        def same(x: int, y: int) -> bool:
            pair = (x, y) if x < y else (y, x)
            if pair not in verified:
                verified[pair] = similarity(node_sets[x], node_sets[y]).same_article(
                    cfg, node_words[x] and node_words[y]
                )
                self.counters["verified_pairs"] += 1
            return verified[pair]

        neighbours: dict[int, set[int]] = defaultdict(set)
        for x, y in candidates:
            if same(x, y):
                neighbours[x].add(y)
                neighbours[y].add(x)

        positional: dict[int, np.ndarray] = {}

        def coverage(center: int, piece: int) -> np.ndarray:
            """Positions of the centre's shingles that the piece shares."""
            if center not in positional:
                i = nodes[center][0]
                positional[center] = (
                    shingle_hashes_text(texts[i], cfg.shingle_k, cfg.word_k, unique=False)
                    if words[i]
                    else shingle_hashes(match_keys([texts[i]])[0], cfg.shingle_k, unique=False)
                )
            return np.flatnonzero(np.isin(positional[center], node_sets[piece], assume_unique=False))

        def far(y: int, m: int) -> bool:
            """Clearly different texts: two noisy copies of one article are
            not "the same" by the verification thresholds, but never far."""
            sim = similarity(node_sets[y], node_sets[m])
            if sim.jaccard >= cfg.compatible_jaccard:
                return False
            return not (sim.smaller >= cfg.min_shingles and sim.containment >= cfg.compatible_containment)

        def overlapping_pieces(center: int, y: int, m: int) -> bool:
            floor = cfg.word_containment_min if node_words[center] else cfg.containment_min
            for piece in (y, m):
                sim = similarity(node_sets[piece], node_sets[center])
                if sim.smaller < cfg.min_shingles or sim.containment < floor:
                    return False
            cy, cm = coverage(center, y), coverage(center, m)
            if len(cy) == 0 or len(cm) == 0:
                return False
            # Overlap of the centre regions the two pieces come from; the
            # region is the central 90% of matched positions, so a few
            # common phrases elsewhere do not stretch it.
            y0, y1 = np.percentile(cy, [5, 95])
            m0, m1 = np.percentile(cm, [5, 95])
            lo, hi = max(y0, m0), min(y1, m1)
            return bool(hi > lo and (hi - lo) >= 0.3 * min(y1 - y0, m1 - m0))

        def order(x: int) -> tuple:
            return (-len(node_sets[x]), sort_keys[nodes[x][0]])

        assigned: dict[int, int] = {}
        clusters: list[list[int]] = []
        # Centres first: the best-connected node (the source its copies
        # hang on), then the most complete.
        for x in sorted(range(len(nodes)), key=lambda x: (-len(neighbours[x]), order(x))):
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
                if all(same(y, m) or not far(y, m) or overlapping_pieces(x, y, m) for m in members[1:]):
                    members.append(y)
                    assigned[y] = len(clusters)
                else:
                    self.counters["chain_refused"] += 1
            clusters.append(members)
        out = [[i for x in members for i in nodes[x]] for members in clusters]
        out = [sorted(c, key=lambda i: (-len(sets[i]), sort_keys[i])) for c in out]
        out.sort(key=lambda c: min(sort_keys[i] for i in c))
        self.counters["clusters"] += len(out)
        self.counters["merged_clusters"] += sum(1 for c in out if len(c) > 1)
        return out

    def _lsh_candidates(self, node_sets: list[np.ndarray]) -> set[tuple[int, int]]:
        cfg = self.config
        if len(node_sets) < 2:
            return set()
        sigs = self.hasher.signatures(node_sets)
        index = BandIndex(cfg.candidate_threshold, cfg.num_perm)
        index.add_many([str(i) for i in range(len(node_sets))], sigs)
        pairs: set[tuple[int, int]] = set()
        for bucket in index.buckets():
            ids = sorted(int(b) for b in bucket)
            if len(ids) > cfg.max_bucket:
                continue  # a degenerate bucket (tiny texts); the sampled index still sees them
            for a in range(len(ids)):
                for b in range(a + 1, len(ids)):
                    pairs.add((ids[a], ids[b]))
        return pairs

    def _containment_candidates(self, node_sets: list[np.ndarray]) -> set[tuple[int, int]]:
        cfg = self.config
        mod = np.uint64(cfg.sample_mod)
        hashes: list[np.ndarray] = []
        owners: list[np.ndarray] = []
        for i, s in enumerate(node_sets):
            if len(s) < cfg.min_shingles:
                continue
            sampled = s[s % mod == 0]
            hashes.append(sampled)
            owners.append(np.full(len(sampled), i, dtype=np.int64))
        if not hashes:
            return set()
        h = np.concatenate(hashes)
        o = np.concatenate(owners)
        order = np.argsort(h, kind="stable")
        h, o = h[order], o[order]
        starts = np.flatnonzero(np.r_[True, h[1:] != h[:-1]])
        ends = np.r_[starts[1:], len(h)]
        shared: dict[tuple[int, int], int] = defaultdict(int)
        for s, e in zip(starts.tolist(), ends.tolist()):
            if e - s < 2 or e - s > cfg.max_bucket:
                continue
            ids = o[s:e].tolist()
            for a in range(len(ids)):
                for b in range(a + 1, len(ids)):
                    x, y = ids[a], ids[b]
                    shared[(x, y) if x < y else (y, x)] += 1
        # A piece contained in another shares most of its samples with it:
        # require a share of the smaller side's samples, not just a few common
        # phrases (which long unrelated speeches always have).
        counts = np.bincount(o, minlength=len(node_sets))
        share = min(cfg.containment_min, cfg.word_containment_min) / 2
        return {
            (x, y)
            for (x, y), c in shared.items()
            if c >= max(cfg.min_shared_samples, share * min(counts[x], counts[y]))
        }


def cluster_texts(records: Sequence[Mapping[str, str]], config: ClusterConfig | None = None) -> list[list[str]]:
    """Duplicate detection alone: groups of record ids whose texts are copies.

    No segmentation, boilerplate removal or merging: each ``{"id", "text"}``
    record is one document, repaired (mojibake, newlines) and keyed (t2s,
    width, punctuation, masks) before clustering, so script, width and
    mojibake variants still match. Groups of one are included.

    >>> body = "这次全市工业园区建设工作会议开得很好。市长在会上作了主体报告,全面部署了下步工业园区建设。" * 3
    >>> cluster_texts([{"id": "a", "text": body}, {"id": "b", "text": body.replace("市长", "XX")}])
    [['a', 'b']]
    """
    from .fixes import repair_text

    ids = [str(r["id"]) for r in records]
    texts = [repair_text(str(r["text"])).text for r in records]
    clusters = ArticleClusterer(config).cluster(texts, [(i,) for i in ids])
    return [[ids[i] for i in c] for c in clusters]
