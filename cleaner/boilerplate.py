"""Labelling noise: the rule pack per block, then repetition across the corpus.

Repetition alone is not proof of boilerplate (``同志们:`` opens most speeches;
template sites remix whole content paragraphs). A block or span is removed
when it repeats **and** there is evidence:

1. **Rules** (:mod:`cleaner.rules`): inline spans (watermarks, markup,
   artefacts) anywhere; whole-block rules (page footers, image lines)
   anywhere; notice rules only within ``edge_blocks`` of an article's head or
   tail.
2. **Repeated blocks**: every block gets a MinHash signature of its match key
   (with titles in 《》 and digits templated away, since notices are stamped
   with the article's own title and counts); LSH buckets, verified by exact
   Jaccard, group near-identical blocks. A group that spans at least
   ``min_unrelated`` *unrelated* articles (articles that are not copies of
   one another) and speaks about the site (a site-vocabulary cue or a URL) is
   boilerplate, in every copy.
3. **Repeated inline spans** (learned watermarks): character n-grams that
   recur across at least ``inline_min_unrelated`` unrelated articles mark
   runs inside blocks; a run inserted into otherwise unrepeated text, with a
   site cue or a URL, is a watermark.

"Unrelated" comes from the same block groups: two articles sharing at least
``related_share`` of their blocks are copies, and copies form one cluster
(union-find), so a paragraph repeated among copies of one speech is content.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .config import BoilerplateConfig
from .index import BandIndex
from .rules import Rule, RulePack, default_pack, glued_page_number
from .shingle import match_keys, shingle_hashes, shingle_hashes_many
from .sketch import MinHasher, exact_jaccard
from .types import Article, Block, Cut

BlockRef = tuple[int, int, int]  # (file index, article index, block index)

_TITLE_IN_BOOK = re.compile(r"《[^《》\n]{1,60}》")
_DIGITS = re.compile(r"[0-9０-９]+")
_OPEN = "(（【[〔「『"
# Edge rules that head a list of links; the list goes with them.
LIST_HEADINGS = frozenset({"seen-also", "related-heading", "invite-more"})
_SENTENCE_END = re.compile(r"[。！？!?；;]")
_CLOSE = ")）】]〕」』"


@dataclass(frozen=True)
class _BlockInfo:
    ref: BlockRef
    text: str  # block text after rule cuts
    origin: tuple[int, ...]  # for each char of text (and its end), the offset in the block text
    length: int  # length of the block text


class UnionFind:
    """Disjoint sets over ``0..n-1``.

    >>> uf = UnionFind(3); uf.union(0, 2); uf.find(2) == uf.find(0) != uf.find(1)
    True
    """

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


class BoilerplateLabeler:
    """Decides the cuts of every block in a corpus of segmented files.

    Long-lived: build once with a config and a rule pack, call :meth:`label`
    per batch. ``counters`` counts what each mechanism removed.
    """

    def __init__(
        self,
        config: BoilerplateConfig | None = None,
        rules: RulePack | None = None,
        known: dict[str, str] | None = None,
    ) -> None:
        self.config = config or BoilerplateConfig()
        self.rules = rules or (RulePack.load(self.config.rules_path) if self.config.rules_path else default_pack())
        self.hasher = MinHasher(self.config.num_perm)
        site = self.rules.get("site-notice")
        self._cues = tuple(site.cues) if site is not None and site.cues else ()
        url = self.rules.get("url")
        self._url = url.pattern if url is not None else None
        self.counters: dict[str, int] = defaultdict(int)
        # Learned boilerplate: templated block key -> learned rule id. ``known``
        # comes from earlier batches (a collection remembers it); ``learned``
        # collects what this labeler found, for the caller to remember.
        self.known: dict[str, str] = dict(known or {})
        self.learned: dict[str, str] = {}

    # -- evidence ---------------------------------------------------------
    def site_evidence(self, text: str) -> bool:
        """Does the text speak about the site (a strong cue or a URL)?

        >>> BoilerplateLabeler().site_evidence("更多精彩内容请访问www.example.com")
        True
        >>> BoilerplateLabeler().site_evidence("以上几点意见供大家参考")
        False
        """
        if self._url is not None and self._url.search(text):
            return True
        return any(c.search(text) for c in self._cues)

    def speaks_about_site(self, text: str) -> bool:
        """Evidence that a repeated text is about the site, not the subject:
        a URL, or a site cue in a short text; a long paragraph needs two
        different cues (one 本站 in a long speech paragraph is content).

        >>> lab = BoilerplateLabeler()
        >>> lab.speaks_about_site("喜欢的朋友记得常来本站看看")
        True
        >>> lab.speaks_about_site("本站全年接发列车一万余列,安全生产无事故,得到了上级的表彰,"
        ...                       "职工的积极性空前高涨,各项工作都走在了全局的前列,为全市经济发展作出了贡献。")
        False
        """
        if self._url is not None and self._url.search(text):
            return True
        hits = sum(1 for c in self._cues if c.search(text))
        return hits >= (1 if len(text) <= self.config.short_notice_chars else 2)

    # -- the step ----------------------------------------------------------
    def label(self, articles_by_file: Sequence[Sequence[Article]]) -> dict[BlockRef, list[Cut]]:
        """Cuts per block for every article of every file (index order as given)."""
        cuts: dict[BlockRef, list[Cut]] = {}
        infos: list[_BlockInfo] = []
        for fi, articles in enumerate(articles_by_file):
            for art in articles:
                self._rule_cuts(fi, art, cuts, infos)
        if not self.config.repetition or not infos:
            return cuts
        cluster_of = self._repeated_blocks(infos, cuts)
        self._repeated_spans(infos, cluster_of, cuts)
        return cuts

    # -- 1. rules ----------------------------------------------------------
    def _rule_cuts(self, fi: int, art: Article, cuts: dict[BlockRef, list[Cut]], infos: list[_BlockInfo]) -> None:
        rules = self.rules
        blocks = art.blocks
        whole: dict[int, Cut] = {}
        memo: dict[int, Rule | None] = {}

        def edge(bi: int) -> Rule | None:
            # Peeling and link lists ask about the same blocks: scan each once.
            if bi not in memo:
                memo[bi] = rules.match_edge(blocks[bi].text)
            return memo[bi]

        for bi, block in enumerate(blocks):
            rule = rules.match_line(block.text)
            if rule is not None:
                whole[bi] = Cut(0, len(block.text), rule.category, rule.id)
        # Notices sit at the edges: peel each end inward, taking every notice
        # and already-noisy block, until edge_n content blocks were passed.
        # A link list under a related-articles heading is taken too; it may
        # sit above the last notice, so peel again once it is gone.
        self._peel(blocks, whole, edge)
        before = len(whole)
        self._link_list(blocks, whole, edge)
        if len(whole) > before:
            self._peel(blocks, whole, edge)
        for bi, block in enumerate(blocks):
            if bi in whole:
                continue
            text = block.text
            if bi > 0:
                glued = glued_page_number(blocks[bi - 1].text, text)
                if glued:
                    cuts.setdefault((fi, art.index, bi), []).append(Cut(0, glued, "page-number", "glued-page-number"))
            for m in rules.find_inline(text):
                cuts.setdefault((fi, art.index, bi), []).append(
                    Cut(m.start, m.end, m.rule.category, m.rule.id, m.replacement)
                )
        for bi, cut in whole.items():
            cuts[(fi, art.index, bi)] = [cut]
            self.counters[f"rule:{cut.rule}"] += 1
        for bi, block in enumerate(blocks):
            if bi in whole:
                continue
            ref = (fi, art.index, bi)
            text, origin = apply_cuts(block.text, cuts.get(ref, ()))
            for c in cuts.get(ref, ()):
                self.counters[f"rule:{c.rule}"] += 1
            infos.append(_BlockInfo(ref, text, origin, len(block.text)))

    def _peel(self, blocks: Sequence[Block], whole: dict[int, Cut], edge: Callable[[int], Rule | None]) -> None:
        n = len(blocks)
        for order in (range(n), range(n - 1, -1, -1)):
            passed = 0
            for bi in order:
                if bi in whole:
                    continue
                rule = edge(bi)
                if rule is not None:
                    whole[bi] = Cut(0, len(blocks[bi].text), rule.category, rule.id)
                    continue
                passed += 1
                if passed >= self.config.edge_blocks:
                    break

    def _link_list(self, blocks: Sequence[Block], whole: dict[int, Cut], edge: Callable[[int], Rule | None]) -> None:
        """A "related articles" heading takes the list of titles after it:
        when every block after the heading is a link-like line (short, no
        sentence punctuation) or already noise, they all go, however many.
        Sites stack such lists, so this repeats upward while it finds one."""
        while True:
            j = len(blocks)
            while j > 0 and (j - 1 in whole or _link_like(blocks[j - 1].text)):
                j -= 1
            # blocks[j:] are links or noise; the heading is just before them,
            # or among them when lists are stacked.
            found = False
            for bi in range(max(0, j - 1), len(blocks)):
                cut = whole.get(bi)
                if cut is None:
                    rule = edge(bi)
                    if rule is None or rule.id not in LIST_HEADINGS:
                        continue
                    cut = Cut(0, len(blocks[bi].text), rule.category, rule.id)
                elif cut.rule not in LIST_HEADINGS:
                    continue
                if any(k not in whole for k in range(bi, len(blocks))):
                    whole[bi] = cut
                    for k in range(bi + 1, len(blocks)):
                        whole.setdefault(k, Cut(0, len(blocks[k].text), cut.reason, f"{cut.rule}:list"))
                    found = True
                break
            if not found:
                break
        # A related-articles heading is unmistakable anywhere (sites also
        # paste the list between pages): take it and the links under it.
        bi = 0
        while bi < len(blocks):
            if bi not in whole:
                rule = edge(bi)
                if rule is not None and rule.id in LIST_HEADINGS:
                    whole[bi] = Cut(0, len(blocks[bi].text), rule.category, rule.id)
                    k = bi + 1
                    while k < len(blocks) and k not in whole and _link_like(blocks[k].text):
                        whole[k] = Cut(0, len(blocks[k].text), rule.category, f"{rule.id}:list")
                        k += 1
                    bi = k
                    continue
            bi += 1

    # -- 2. repeated blocks -------------------------------------------------
    def _repeated_blocks(self, infos: list[_BlockInfo], cuts: dict[BlockRef, list[Cut]]) -> dict[tuple[int, int], int]:
        cfg = self.config
        templated = [_DIGITS.sub("0", _TITLE_IN_BOOK.sub("《》", i.text)) for i in infos]
        keys = match_keys(templated)
        hashes, offsets = shingle_hashes_many(keys, cfg.shingle_k)
        sigs = self.hasher.signatures_flat(hashes, offsets)
        index = BandIndex(cfg.block_threshold, cfg.num_perm)
        index.add_many([str(i) for i in range(len(infos))], sigs)
        uf = UnionFind(len(infos))
        sets: dict[int, np.ndarray] = {}

        def shingles(i: int) -> np.ndarray:
            if i not in sets:
                sets[i] = shingle_hashes(keys[i], cfg.shingle_k)
            return sets[i]

        for bucket in index.buckets():
            ids = [int(x) for x in bucket]
            head = ids[0]
            for other in ids[1:]:
                if uf.find(other) == uf.find(head):
                    continue
                if keys[other] == keys[head] or exact_jaccard(shingles(head), shingles(other)) >= cfg.block_threshold:
                    uf.union(head, other)
        groups: dict[int, list[int]] = defaultdict(list)
        for i in range(len(infos)):
            if keys[i]:
                groups[uf.find(i)].append(i)

        # Articles that share a good part of their blocks are copies.
        article_ids: dict[tuple[int, int], int] = {}
        blocks_per_article: dict[int, int] = defaultdict(int)
        for info in infos:
            aid = article_ids.setdefault(info.ref[:2], len(article_ids))
            blocks_per_article[aid] += 1
        shared: dict[tuple[int, int], int] = defaultdict(int)
        for members in groups.values():
            # Only content counts towards "these two articles are copies":
            # shared notices and salutations would relate everything.
            head = infos[members[0]]
            if len(keys[members[0]]) < cfg.related_min_key or self.site_evidence(head.text):
                continue
            arts = sorted({article_ids[infos[i].ref[:2]] for i in members})
            if 1 < len(arts) <= cfg.max_group_articles:
                for x in range(len(arts)):
                    for y in range(x + 1, len(arts)):
                        shared[(arts[x], arts[y])] += 1
        auf = UnionFind(len(article_ids))
        for (a, b), s in shared.items():
            if s >= 2 and s >= cfg.related_share * min(blocks_per_article[a], blocks_per_article[b]):
                auf.union(a, b)
        cluster_of = {ref: auf.find(aid) for ref, aid in article_ids.items()}

        for members in groups.values():
            if len(members) < 2:
                continue
            clusters = {cluster_of[infos[i].ref[:2]] for i in members}
            if len(clusters) < cfg.min_unrelated:
                continue
            if not any(self.speaks_about_site(infos[i].text) for i in members[:8]):
                continue
            rule = "learned-block:" + hashlib.blake2b(keys[members[0]].encode(), digest_size=5).hexdigest()
            self.learned[keys[members[0]]] = rule
            for i in members:
                cuts[infos[i].ref] = [Cut(0, infos[i].length, "boilerplate", rule)]
                self.counters["learned-block"] += 1
        # Patterns learned earlier (a collection's memory) apply to new text
        # even where it does not repeat within this batch.
        if self.known:
            for i, key in enumerate(keys):
                rule = self.known.get(key)
                if rule is not None and not _whole_cut(cuts.get(infos[i].ref), infos[i].length):
                    cuts[infos[i].ref] = [Cut(0, infos[i].length, "boilerplate", rule)]
                    self.counters["known-block"] += 1
        return cluster_of

    # -- 3. repeated inline spans -------------------------------------------
    def _repeated_spans(
        self, infos: list[_BlockInfo], cluster_of: dict[tuple[int, int], int], cuts: dict[BlockRef, list[Cut]]
    ) -> None:
        cfg = self.config
        k = cfg.inline_ngram
        live = [i for i, info in enumerate(infos) if len(info.text) > k and not _whole_cut(cuts.get(info.ref), info.length)]
        if not live:
            return
        texts = [infos[i].text for i in live]
        hashes, offsets = shingle_hashes_many(texts, k)
        owner = np.repeat(np.arange(len(live)), np.diff(offsets))
        clusters = np.array([cluster_of[infos[i].ref[:2]] for i in live], dtype=np.int64)[owner]
        # Distinct (n-gram, cluster) pairs, then clusters per n-gram.
        order = np.lexsort((clusters, hashes))
        h_sorted, c_sorted = hashes[order], clusters[order]
        first_pair = np.ones(len(order), dtype=bool)
        first_pair[1:] = (h_sorted[1:] != h_sorted[:-1]) | (c_sorted[1:] != c_sorted[:-1])
        uh = h_sorted[first_pair]
        starts = np.flatnonzero(np.r_[True, uh[1:] != uh[:-1]])
        counts = np.diff(np.r_[starts, len(uh)])
        repeated = uh[starts[counts >= cfg.inline_min_unrelated]]
        if len(repeated) == 0:
            return
        is_rep = np.isin(hashes, repeated)
        for j, i in enumerate(live):
            a, b = int(offsets[j]), int(offsets[j + 1])
            flags = is_rep[a:b]
            if not flags.any():
                continue
            info = infos[i]
            block_cuts = cuts.get(info.ref, [])
            # Positions in info.text covered by a repeated window.
            cover = np.zeros(len(info.text) + 1, dtype=np.int32)
            w = np.flatnonzero(flags)
            np.add.at(cover, w, 1)
            np.add.at(cover, w + k, -1)
            covered = np.cumsum(cover)[: len(info.text)] > 0
            for s, e in _runs(covered):
                if e - s < cfg.inline_min_chars or e - s > len(info.text) - cfg.inline_min_chars:
                    continue  # too short, or the whole block (that is step 2's business)
                s, e = _widen_to_brackets(info.text, s, e)
                span = info.text[s:e]
                if not self.speaks_about_site(span):
                    continue
                rule = "learned-inline:" + hashlib.blake2b(span.encode(), digest_size=5).hexdigest()
                block_cuts = block_cuts + [Cut(info.origin[s], info.origin[e - 1] + 1, "watermark", rule)]
                self.counters["learned-inline"] += 1
            if block_cuts:
                cuts[info.ref] = block_cuts


def _link_like(text: str) -> bool:
    """A line that reads like a link title: short, no sentence punctuation."""
    t = text.strip()
    return 0 < len(t) <= 60 and not _SENTENCE_END.search(t) and not t.endswith((":", "："))


def _whole_cut(block_cuts: Iterable[Cut] | None, length: int) -> bool:
    return any(c.start == 0 and c.end >= length for c in block_cuts or ())


def apply_cuts(text: str, block_cuts: Iterable[Cut]) -> tuple[str, tuple[int, ...]]:
    """The text with cuts applied, and for each of its characters (plus the
    end) the offset it came from (a replacement maps to its cut's start).

    >>> apply_cuts("ab(x)cd", [Cut(2, 5, "watermark", "r")])
    ('abcd', (0, 1, 5, 6, 7))
    """
    out: list[str] = []
    origin: list[int] = []
    at = 0
    for c in sorted(block_cuts, key=lambda c: c.start):
        if c.start < at:
            continue
        out.append(text[at : c.start])
        origin.extend(range(at, c.start))
        out.append(c.replacement)
        origin.extend([c.start] * len(c.replacement))
        at = c.end
    out.append(text[at:])
    origin.extend(range(at, len(text) + 1))
    return "".join(out), tuple(origin)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    if not mask.any():
        return []
    d = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def _widen_to_brackets(text: str, s: int, e: int) -> tuple[int, int]:
    """A watermark is usually stamped with its own brackets: take them too."""
    lo = max(0, s - 3)
    for i in range(s - 1, lo - 1, -1):
        if text[i] in _OPEN:
            close = _CLOSE[_OPEN.index(text[i])]
            j = text.find(close, e - 1, e + 3)
            if j >= 0:
                return i, j + 1
            break
    return s, e
