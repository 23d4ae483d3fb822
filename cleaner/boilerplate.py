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

Speed. A scraped corpus is mostly copies of few articles, so the same block
texts, match keys and spans come back again and again. :meth:`label` asks
each text-only question (rule matches, site cues) once per distinct text,
groups blocks by distinct match key before LSH, and counts n-grams with numpy
over distinct (text, cluster) pairs. ``BoilerplateLabeler(reference=True)``
runs the plain algorithms instead (one question per block, every block in
the LSH index); tests assert both give identical labels.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NamedTuple, overload

import numpy as np

from .cluster import run_ranks
from .config import BoilerplateConfig
from .index import BandIndex
from .parallel import map_ordered, resolve_workers
from .rules import (
    Rule,
    RuleMatch,
    RulePack,
    RuleScanner,
    TextGate,
    default_pack,
    glued_page_number,
)
from .shingle import char_batches, match_keys, shingle_hashes, shingle_hashes_many
from .sketch import MinHasher, exact_jaccard, sorted_unique
from .types import Article, Block, Cut

BlockRef = tuple[int, int, int]  # (file index, article index, block index)

_TITLE_IN_BOOK = re.compile(r"《[^《》\n]{1,60}》")
_DIGITS = re.compile(r"[0-9０-９]+")
_OPEN = "(（【[〔「『"
# Edge rules that head a list of links; the list goes with them.
LIST_HEADINGS = frozenset({"seen-also", "related-heading", "invite-more"})
_SENTENCE_END = re.compile(r"[。！？!?；;]")
_CLOSE = ")）】]〕」』"


class _BlockInfo(NamedTuple):
    # A tuple, not a frozen dataclass: one is made per block (96,000 on the
    # 50 MiB corpus), and a frozen dataclass's __init__ costs 2.4x as much.
    ref: BlockRef
    text: str  # block text after rule cuts
    # For each char of text (and its end), the offset in the block text;
    # None when no cut applied (the identity: most blocks).
    origin: CutOrigin | _OriginLater | None
    length: int  # length of the block text

    def at(self, i: int) -> int:
        """Offset in the block text of position ``i`` of :attr:`text`."""
        return i if self.origin is None else self.origin[i]


class _OriginLater:
    """The :class:`CutOrigin` of a block's cuts, made when first read: a
    text cut on a rule-step helper comes back without it, and only the few
    blocks a learned span falls in are ever asked."""

    __slots__ = ("_cuts", "_origin", "_text")

    def __init__(self, text: str, cuts: Sequence[Cut]) -> None:
        self._text, self._cuts = text, cuts
        self._origin: CutOrigin | None = None

    def __getitem__(self, i: int) -> int:
        if self._origin is None:
            self._origin = apply_cuts(self._text, self._cuts)[1]
        return self._origin[i]


class _Scan:
    """The text-only questions one :meth:`BoilerplateLabeler.label` call
    asks. Fast (``cache=True``): rule questions go to a
    :class:`~cleaner.rules.RuleScanner` primed with every block text, site
    questions are gated by the labeler's :class:`~cleaner.rules.TextGate`
    masks, read for many texts at once, and every answer is kept per
    distinct text. Reference (``cache=False``): the plain implementations,
    asked every time.

    Caches live for one call only: a long-lived labeler must not grow with
    every batch it has seen.
    """

    def __init__(self, labeler: BoilerplateLabeler, texts: Iterable[str], cache: bool, rules: bool = True) -> None:
        """``rules=False``: the rule questions are answered elsewhere (on
        every process, see :func:`_rule_decisions_of`), so no scanner is
        primed here."""
        self.labeler = labeler
        self.cached = cache
        pack = labeler.rules
        self.line: Callable[[str], Rule | None] = pack._match_line_reference
        self.edge: Callable[[str], Rule | None] = pack.match_edge
        self.inline: Callable[[str], list[RuleMatch]] = pack.find_inline
        self._cut: dict[tuple[str, tuple[Cut, ...]], tuple[str, CutOrigin]] = {}
        self._site_masks: dict[str, int] = {}
        self._speaks: dict[str, bool] = {}
        self._evidence: dict[str, bool] = {}
        if cache and rules:
            scanner = pack.scanner(texts)
            self.line, self.edge, self.inline = scanner.match_line, scanner.match_edge, scanner.find_inline

    def cut(self, text: str, block_cuts: Sequence[Cut]) -> tuple[str, CutOrigin]:
        """:func:`apply_cuts`, once per distinct (text, cuts)."""
        if not self.cached:
            return apply_cuts(text, block_cuts)
        key = (text, tuple(block_cuts))
        out = self._cut.get(key)
        if out is None:
            out = self._cut[key] = apply_cuts(text, block_cuts)
        return out

    def prepare_site(self, texts: Iterable[str]) -> None:
        """Read the site gate's masks of many texts in one pass."""
        if self.cached:
            todo = [t for t in dict.fromkeys(texts) if t not in self._site_masks]
            self._site_masks.update(zip(todo, self.labeler._site_gate.masks(todo)))

    def know_site_masks(self, texts: Iterable[str], masks: Iterable[int]) -> None:
        """Take the site gate's masks of these texts as worked out elsewhere."""
        self._site_masks.update(zip(texts, masks))

    def site_mask(self, text: str) -> int:
        """The site gate's mask of ``text`` (see :meth:`prepare_site`)."""
        mask = self._site_masks.get(text)
        if mask is None:
            mask = self._site_masks[text] = self.labeler._site_gate.mask(text)
        return mask

    def speaks(self, text: str, mask: int | None = None) -> bool:
        """:meth:`BoilerplateLabeler.speaks_about_site`. ``mask``: the site
        gate's mask of ``text`` or of a text containing it (a superset)."""
        if not self.cached:
            return self.labeler._speaks_about_site_reference(text)
        out = self._speaks.get(text)
        if out is None:
            out = self._speaks[text] = self.labeler._speaks_gated(text, self.site_mask(text) if mask is None else mask)
        return out

    def evidence(self, text: str, mask: int | None = None) -> bool:
        """:meth:`BoilerplateLabeler.site_evidence` (``mask`` as for :meth:`speaks`)."""
        if not self.cached:
            return self.labeler._site_evidence_reference(text)
        out = self._evidence.get(text)
        if out is None:
            out = self._evidence[text] = self.labeler._evidence_gated(text, self.site_mask(text) if mask is None else mask)
        return out


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
    ``reference=True`` runs the plain (slow) algorithms, for tests.

    >>> from cleaner.types import Article, Block
    >>> art = Article("a.txt", 0, 0, 9, "", (Block(0, 5, "同志们:"), Block(6, 9, "— — 6")))
    >>> BoilerplateLabeler().label([[art]])[(0, 0, 1)][0].rule
    'page-dash'
    """

    def __init__(
        self,
        config: BoilerplateConfig | None = None,
        rules: RulePack | None = None,
        known: dict[str, str] | None = None,
        *,
        reference: bool = False,
        workers: int = 1,
    ) -> None:
        """``workers``: processes for the largest counting step (0: every
        core); 1 starts none."""
        self.config = config or BoilerplateConfig()
        self.workers = workers
        self.rules = rules or (RulePack.load(self.config.rules_path) if self.config.rules_path else default_pack())
        self.hasher = MinHasher(self.config.num_perm)
        self.reference = reference
        site = self.rules.get("site-notice")
        self._cues = tuple(site.cues) if site is not None and site.cues else ()
        url = self.rules.get("url")
        self._url = url.pattern if url is not None else None
        # Bit 0: the URL pattern, bit i + 1: cue i. Most texts asked about
        # lack what all but a few need, which alone are searched.
        self._site_gate = TextGate(([self._url] if self._url is not None else []) + list(self._cues))
        self._cue_bits = tuple((c, 1 << (i + (self._url is not None))) for i, c in enumerate(self._cues))
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
        return self._site_evidence_reference(text)

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
        return self._speaks_about_site_reference(text)

    def _site_evidence_reference(self, text: str) -> bool:
        """:meth:`site_evidence` the plain way: every pattern in turn."""
        if self._url is not None and self._url.search(text):
            return True
        return any(c.search(text) for c in self._cues)

    def _speaks_about_site_reference(self, text: str) -> bool:
        """:meth:`speaks_about_site` the plain way: every pattern in turn."""
        if self._url is not None and self._url.search(text):
            return True
        hits = sum(1 for c in self._cues if c.search(text))
        return hits >= (1 if len(text) <= self.config.short_notice_chars else 2)

    def _evidence_gated(self, text: str, mask: int) -> bool:
        """:meth:`site_evidence`, searching only the patterns ``mask`` (the
        site gate's mask of the text or of a text containing it) allows."""
        if not mask:
            return False
        if self._url is not None and mask & 1 and self._url.search(text):
            return True
        return any(mask & bit and c.search(text) for c, bit in self._cue_bits)

    def _speaks_gated(self, text: str, mask: int) -> bool:
        """:meth:`speaks_about_site`, searching only what ``mask`` allows."""
        if not mask:
            return False
        if self._url is not None and mask & 1 and self._url.search(text):
            return True
        need = 1 if len(text) <= self.config.short_notice_chars else 2
        hits = 0
        for c, bit in self._cue_bits:
            if mask & bit and c.search(text):
                hits += 1
                if hits >= need:  # more cues change nothing
                    return True
        return False

    # -- the step ----------------------------------------------------------
    def label(
        self, articles_by_file: Sequence[Sequence[Article]], on_file: Callable[[int, int], None] | None = None
    ) -> dict[BlockRef, list[Cut]]:
        """Cuts per block for every article of every file (index order as given).

        ``on_file(done, total)`` reports step 1 (the rules) over the files:
        at the start, every :data:`PROGRESS_FILES` files and at the last.
        Steps 2 and 3 then look at the whole collection at once and report
        nothing.
        """
        n = resolve_workers(self.workers)
        total = len(articles_by_file)

        def file_done(fi: int) -> None:
            if on_file is not None and ((fi + 1) % PROGRESS_FILES == 0 or fi + 1 == total):
                on_file(fi + 1, total)

        if on_file is not None:
            on_file(0, total)
        blocks = sum(len(art.blocks) for articles in articles_by_file for art in articles)
        spread = not self.reference and n > 1 and blocks >= _PARALLEL_RULE_BLOCKS and len(articles_by_file) > 1
        texts = () if spread else (b.text for articles in articles_by_file for art in articles for b in art.blocks)
        scan = _Scan(self, texts, not self.reference, rules=not spread)
        cuts: dict[BlockRef, list[Cut]] = {}
        infos: list[_BlockInfo] = []
        keys: list[str] | None = None
        if spread:
            # Step 1 asks only about each article's own text: every process
            # decides the rule cuts of some files (and the match key and site
            # mask of each text kept, which steps 2 and 3 ask for), this one
            # records them.
            keys = []
            same: dict[str, str] = {}  # one object per distinct key, as _block_keys gives
            for fi, (decided, file_keys, masks, cut_texts) in enumerate(_spread_rule_decisions(self, articles_by_file, n)):
                start = len(infos)
                texts_left = iter(cut_texts)
                for art, (whole, inline) in zip(articles_by_file[fi], decided):
                    self._record_rule_cuts(fi, art, whole, inline, cuts, infos, scan, texts_left)
                keys.extend(same.setdefault(k, k) for k in file_keys)
                scan.know_site_masks((info.text for info in infos[start:]), masks)
                file_done(fi)
        else:
            for fi, articles in enumerate(articles_by_file):
                for art in articles:
                    whole, inline = self._rule_decisions(art, scan.line, scan.edge, scan.inline)
                    self._record_rule_cuts(fi, art, whole, inline, cuts, infos, scan)
                file_done(fi)
        if not self.config.repetition or not infos:
            return cuts
        if self.reference:
            cluster_of = self._repeated_blocks_reference(infos, cuts, scan)
            self._repeated_spans_reference(infos, cluster_of, cuts, scan)
        else:
            cluster_of = self._repeated_blocks(infos, cuts, scan, keys)
            self._repeated_spans(infos, cluster_of, cuts, scan)
        return cuts

    # -- 1. rules ----------------------------------------------------------
    def _rule_decisions(
        self,
        art: Article,
        line: Callable[[str], Rule | None],
        match_edge: Callable[[str], Rule | None],
        inline: Callable[[str], list[RuleMatch]],
    ) -> tuple[dict[int, Cut], dict[int, list[Cut]]]:
        """What the rules cut in one article: whole blocks (block index ->
        cut), and spans of the other blocks (block index -> cuts, in block
        order). Asks only about the article's own text."""
        blocks = art.blocks
        whole: dict[int, Cut] = {}

        def edge(bi: int) -> Rule | None:
            return match_edge(blocks[bi].text)

        for bi, block in enumerate(blocks):
            rule = line(block.text)
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
        spans: dict[int, list[Cut]] = {}
        for bi, block in enumerate(blocks):
            if bi in whole:
                continue
            text = block.text
            if bi > 0:
                glued = glued_page_number(blocks[bi - 1].text, text)
                if glued:
                    spans.setdefault(bi, []).append(Cut(0, glued, "page-number", "glued-page-number"))
            for m in inline(text):
                spans.setdefault(bi, []).append(Cut(m.start, m.end, m.rule.category, m.rule.id, m.replacement))
        return whole, spans

    def _record_rule_cuts(
        self,
        fi: int,
        art: Article,
        whole: dict[int, Cut],
        spans: dict[int, list[Cut]],
        cuts: dict[BlockRef, list[Cut]],
        infos: list[_BlockInfo],
        scan: _Scan,
        cut_texts: Iterator[str] | None = None,
    ) -> None:
        """Enter one article's rule decisions: its cuts, counters, and the
        text each block keeps for steps 2 and 3. ``cut_texts``: the texts
        the blocks with span cuts keep, in order, when already cut
        elsewhere (their origins are then made only if asked for)."""
        for bi, block_cuts in spans.items():
            cuts[(fi, art.index, bi)] = block_cuts
        counters = self.counters
        for bi, cut in whole.items():
            cuts[(fi, art.index, bi)] = [cut]
            counters[f"rule:{cut.rule}"] += 1
        for bi, block, block_cuts in _kept_blocks(art, whole, spans):
            ref = (fi, art.index, bi)
            if block_cuts:
                if cut_texts is None:
                    text, origin = scan.cut(block.text, block_cuts)
                else:
                    text, origin = next(cut_texts), _OriginLater(block.text, block_cuts)
                for c in block_cuts:
                    counters[f"rule:{c.rule}"] += 1
                infos.append(_BlockInfo(ref, text, origin, len(block.text)))
            else:
                infos.append(_BlockInfo(ref, block.text, None, len(block.text)))

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

    # -- 2. repeated blocks (reference) ---------------------------------------
    def _repeated_blocks_reference(
        self, infos: list[_BlockInfo], cuts: dict[BlockRef, list[Cut]], scan: _Scan
    ) -> dict[tuple[int, int], int]:
        """Step 2 the plain way: every block is keyed and indexed on its own.
        :meth:`_repeated_blocks` must give the same cuts, learned rules,
        counters and clusters."""
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
            if len(keys[members[0]]) < cfg.related_min_key or scan.evidence(head.text):
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
        self._learn_blocks(infos, keys, groups.values(), cluster_of, cuts, scan)
        return cluster_of

    def _learn_blocks(
        self,
        infos: list[_BlockInfo],
        keys: Sequence[str],
        groups: Iterable[list[int]],
        cluster_of: dict[tuple[int, int], int],
        cuts: dict[BlockRef, list[Cut]],
        scan: _Scan,
    ) -> None:
        """Cut the groups of near-identical blocks that repeat across
        unrelated articles and speak about the site, then what earlier
        batches learned (both paths of step 2 end here)."""
        cfg = self.config
        for members in groups:
            if len(members) < 2:
                continue
            clusters = {cluster_of[infos[i].ref[:2]] for i in members}
            if len(clusters) < cfg.min_unrelated:
                continue
            if not any(scan.speaks(infos[i].text) for i in members[:8]):
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

    # -- 3. repeated inline spans (reference) ---------------------------------
    def _repeated_spans_reference(
        self,
        infos: list[_BlockInfo],
        cluster_of: dict[tuple[int, int], int],
        cuts: dict[BlockRef, list[Cut]],
        scan: _Scan,
    ) -> None:
        """Step 3 the plain way: n-grams of every block, a loop per block.
        :meth:`_repeated_spans` must give the same cuts and counters."""
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
                if not scan.speaks(span):
                    continue
                rule = "learned-inline:" + hashlib.blake2b(span.encode(), digest_size=5).hexdigest()
                block_cuts = block_cuts + [Cut(info.at(s), info.at(e - 1) + 1, "watermark", rule)]
                self.counters["learned-inline"] += 1
            if block_cuts:
                cuts[info.ref] = block_cuts

    # -- 2. repeated blocks ---------------------------------------------------
    def _repeated_blocks(
        self, infos: list[_BlockInfo], cuts: dict[BlockRef, list[Cut]], scan: _Scan, keys: list[str] | None = None
    ) -> dict[tuple[int, int], int]:
        """Group near-identical blocks, relate copies, learn repeated notices.

        Same result as :meth:`_repeated_blocks_reference`, but blocks with
        the same match key are keyed, sketched and compared once: copies of
        a block cost a dict lookup, not an LSH entry and a Jaccard each.
        Returns the cluster of every article (``(file, article)`` -> id).
        ``keys``: :func:`_block_keys` of the infos' texts, when known.
        """
        cfg = self.config
        if keys is None:
            keys = _block_keys([info.text for info in infos])
        scan.prepare_site(info.text for info in infos)  # steps 2 and 3 ask about these
        key_ids: dict[str, int] = {}
        kid = [key_ids.setdefault(key, len(key_ids)) for key in keys]
        roots = _key_roots(list(key_ids), kid, self.hasher, cfg, self.workers)
        groups: dict[int, list[int]] = defaultdict(list)
        for i, key in enumerate(keys):
            if key:
                r = roots[kid[i]]
                groups[i if r < 0 else r].append(i)

        # Articles that share a good part of their blocks are copies.
        article_ids: dict[tuple[int, int], int] = {}
        aid_of: list[int] = []
        blocks_per_article: dict[int, int] = defaultdict(int)
        for info in infos:
            aid = article_ids.setdefault(info.ref[:2], len(article_ids))
            aid_of.append(aid)
            blocks_per_article[aid] += 1
        content: list[list[int]] = []  # article ids of each group that may relate articles
        for members in groups.values():
            # Only content counts towards "these two articles are copies":
            # shared notices and salutations would relate everything.
            # (The cheap tests first: a lone block relates nothing.)
            if len(members) < 2 or len(keys[members[0]]) < cfg.related_min_key:
                continue
            arts = sorted({aid_of[i] for i in members})
            if 1 < len(arts) <= cfg.max_group_articles and not scan.evidence(infos[members[0]].text):
                content.append(arts)
        sizes = [blocks_per_article[a] for a in range(len(article_ids))]
        article_root = _related_articles(content, sizes, cfg.related_share)
        cluster_of = {ref: article_root[aid] for ref, aid in article_ids.items()}
        self._learn_blocks(infos, keys, groups.values(), cluster_of, cuts, scan)
        return cluster_of

    # -- 3. repeated inline spans -------------------------------------------
    def _repeated_spans(
        self,
        infos: list[_BlockInfo],
        cluster_of: dict[tuple[int, int], int],
        cuts: dict[BlockRef, list[Cut]],
        scan: _Scan,
    ) -> None:
        """Learn watermarks: runs of repeated n-grams that speak about the site.

        Same result as :meth:`_repeated_spans_reference`. Whether an n-gram
        repeats depends only on its text, so runs, spans and their verdicts
        are worked out once per distinct block text, for all texts in one
        numpy pass; only blocks whose text has a watermark are visited.
        """
        cfg = self.config
        k = cfg.inline_ngram
        text_ids: dict[str, int] = {}
        live: list[int] = []
        owner: list[int] = []
        for i, info in enumerate(infos):
            if len(info.text) > k and not _whole_cut(cuts.get(info.ref), info.length):
                live.append(i)
                owner.append(text_ids.setdefault(info.text, len(text_ids)))
        if not live:
            return
        texts = list(text_ids)
        clusters = [cluster_of[infos[i].ref[:2]] for i in live]
        # A watermark must speak about the site, and a span can only do so
        # if its text can: runs are only wanted in such texts (though every
        # text's n-grams count towards what repeats).
        masks = [scan.site_mask(t) for t in texts]
        runs = _repeated_runs(texts, owner, clusters, k, cfg.inline_min_unrelated, [m != 0 for m in masks],
                              workers=self.workers)
        # Per distinct text: the learned spans it carries, in text order.
        found: dict[int, list[tuple[int, int, str]]] = {}
        rule_of: dict[str, str] = {}
        for t, s, e in runs:
            text = texts[t]
            if e - s < cfg.inline_min_chars or e - s > len(text) - cfg.inline_min_chars:
                continue  # too short, or the whole block (that is step 2's business)
            s, e = _widen_to_brackets(text, s, e)
            span = text[s:e]
            if not scan.speaks(span, masks[t]):
                continue
            rule = rule_of.get(span)
            if rule is None:
                rule = rule_of[span] = "learned-inline:" + hashlib.blake2b(span.encode(), digest_size=5).hexdigest()
            found.setdefault(t, []).append((s, e, rule))
        if not found:
            return
        for i, t in zip(live, owner):
            spans = found.get(t)
            if spans is None:
                continue
            info = infos[i]
            block_cuts = list(cuts.get(info.ref, ()))
            for s, e, rule in spans:
                block_cuts.append(Cut(info.at(s), info.at(e - 1) + 1, "watermark", rule))
                self.counters["learned-inline"] += 1
            cuts[info.ref] = block_cuts


def _kept_blocks(
    art: Article, whole: dict[int, Cut], spans: dict[int, list[Cut]]
) -> Iterator[tuple[int, Block, list[Cut] | None]]:
    """The blocks of ``art`` that step 1 does not cut whole, in order, each
    with its span cuts (None: no cut)."""
    for bi, block in enumerate(art.blocks):
        if bi not in whole:
            yield bi, block, spans.get(bi)


def _link_like(text: str) -> bool:
    """A line that reads like a link title: short, no sentence punctuation."""
    t = text.strip()
    return 0 < len(t) <= 60 and not _SENTENCE_END.search(t) and not t.endswith((":", "："))


def _whole_cut(block_cuts: Iterable[Cut] | None, length: int) -> bool:
    return any(c.start == 0 and c.end >= length for c in block_cuts or ())


class CutOrigin(Sequence[int]):
    """For each character of a cut text (and its end), the offset in the
    block text it came from, as :func:`apply_cuts` gives it: kept pieces
    and replacements, not one integer per character (a labelling of the
    50 MiB corpus cut 13,786 distinct texts, 2.8M characters, and the
    integers were made for the few positions a learned span ever asks for).

    >>> origin = apply_cuts("ab(x)cd", [Cut(2, 5, "watermark", "r", "-")])[1]
    >>> list(origin), origin[3], len(origin)
    ([0, 1, 2, 5, 6, 7], 5, 6)
    """

    __slots__ = ("_kept", "_length", "_starts", "_values")

    def __init__(self, starts: list[int], values: list[int], kept: list[bool], length: int) -> None:
        # Piece k starts at position starts[k] of the cut text; a kept piece
        # maps position i to i + values[k], a replacement to values[k].
        self._starts, self._values, self._kept, self._length = starts, values, kept, length

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, i: int) -> int: ...
    @overload
    def __getitem__(self, i: slice) -> list[int]: ...
    def __getitem__(self, i: int | slice) -> int | list[int]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._length))]
        if i < 0:
            i += self._length
        if not 0 <= i < self._length:
            raise IndexError("cut origin index out of range")
        k = bisect.bisect_right(self._starts, i) - 1
        return i + self._values[k] if self._kept[k] else self._values[k]


def apply_cuts(text: str, block_cuts: Iterable[Cut]) -> tuple[str, CutOrigin]:
    """The text with cuts applied, and for each of its characters (plus the
    end) the offset it came from (a replacement maps to its cut's start).

    >>> text, origin = apply_cuts("ab(x)cd", [Cut(2, 5, "watermark", "r")])
    >>> text, tuple(origin)
    ('abcd', (0, 1, 5, 6, 7))
    """
    out: list[str] = []
    starts: list[int] = []
    values: list[int] = []
    kept: list[bool] = []
    at = pos = 0  # in the block text, in the cut text
    for c in sorted(block_cuts, key=lambda c: c.start):
        if c.start < at:
            continue
        if c.start > at:
            starts.append(pos)
            values.append(at - pos)
            kept.append(True)
            pos += c.start - at
            out.append(text[at : c.start])
        if c.replacement:
            starts.append(pos)
            values.append(c.start)
            kept.append(False)
            pos += len(c.replacement)
            out.append(c.replacement)
        at = c.end
    starts.append(pos)  # the rest, and the end
    values.append(at - pos)
    kept.append(True)
    out.append(text[at:])
    return "".join(out), CutOrigin(starts, values, kept, pos + len(text) - at + 1)


def apply_cuts_reference(text: str, block_cuts: Iterable[Cut]) -> tuple[str, tuple[int, ...]]:
    """Plain twin of :func:`apply_cuts` (for tests): one offset per character.

    >>> apply_cuts_reference("ab(x)cd", [Cut(2, 5, "watermark", "r")])
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


def _block_keys(texts: Sequence[str]) -> list[str]:
    """The templated match key of each block text (titles in 《》 and digits
    templated away), keying each distinct text once.

    >>> _block_keys(["见《关于2019年的通知》第3条", "见《另一个通知》第45条", "见《关于2019年的通知》第3条"])
    ['见第0条', '见第0条', '见第0条']
    """
    text_ids: dict[str, int] = {}
    tid = [text_ids.setdefault(t, len(text_ids)) for t in texts]
    templated_ids: dict[str, int] = {}
    to_templated = [
        templated_ids.setdefault(_DIGITS.sub("0", _TITLE_IN_BOOK.sub("《》", t)), len(templated_ids)) for t in text_ids
    ]
    keys = match_keys(list(templated_ids))
    key_of_text = [keys[j] for j in to_templated]
    return [key_of_text[t] for t in tid]


def _key_signatures(keys: Sequence[str], hasher: MinHasher, k: int, workers: int = 1) -> list[np.ndarray]:
    """MinHash signatures of ``keys``' ``k``-grams, as arrays of rows for
    consecutive batches of keys. In batches because the window hashes of
    all keys at once would be 8 bytes per character of the corpus; with
    ``workers`` > 1 and ``_PARALLEL_KEY_CHARS`` characters or more, the
    batches are smaller and sketched on every process (labelling's steps 2
    and 3 are otherwise this process's alone).

    >>> sigs = _key_signatures(["同志们这次会议开得很好", ""], MinHasher(128), 5)
    >>> [s.shape for s in sigs]
    [(2, 128)]
    """
    global _SKETCHING
    n = resolve_workers(workers)
    chars = sum(map(len, keys))
    if n == 1 or chars < _PARALLEL_KEY_CHARS:
        return [_signatures_of(keys[b], hasher, k) for b in char_batches(keys, _KEY_BATCH_CHARS)]
    # A few batches per process, so that the last one to finish ends soon
    # after the others.
    batches = list(char_batches(keys, min(_KEY_BATCH_CHARS, max(1, chars // (4 * n)))))
    _SKETCHING = (keys, hasher, k)
    try:
        return list(map_ordered(_sketch_batch, batches, workers=n, chunk_size=1, inherit=True))
    finally:
        _SKETCHING = None


def _sketch_batch(batch: slice) -> np.ndarray:
    """Signatures of one batch of the keys being sketched (``_SKETCHING``,
    inherited by fork)."""
    assert _SKETCHING is not None, "no sketching in progress"
    keys, hasher, k = _SKETCHING
    return _signatures_of(keys[batch], hasher, k)


def _signatures_of(keys: Sequence[str], hasher: MinHasher, k: int) -> np.ndarray:
    return hasher.signatures_flat(*shingle_hashes_many(keys, k))


def _key_roots(
    keys: Sequence[str], kid: Sequence[int], hasher: MinHasher, cfg: BoilerplateConfig, workers: int = 1
) -> list[int]:
    """For each distinct match key, the block (index into ``kid``) its blocks
    are grouped under, or -1 when each of its blocks stays on its own.

    Reproduces, on distinct keys, what indexing every block does (see
    :meth:`BoilerplateLabeler._repeated_blocks_reference`): blocks with one
    key share all band hashes, so they share every LSH bucket; the head of
    a bucket (its first block) takes every block of its own key and of each
    key within ``block_threshold`` Jaccard of it. A key that never heads a
    bucket nor joins one leaves its blocks apart: possible, if unlikely,
    when all its buckets are headed by earlier, less similar keys.

    ``keys`` must be in order of first block (``kid`` maps block -> key).

    >>> cfg = BoilerplateConfig()
    >>> _key_roots(["同志们这次会议开得很好", "完全不同的另外一段内容"], [0, 1, 0, 1, 1], MinHasher(cfg.num_perm), cfg)
    [0, 1]
    """
    n = len(keys)
    first = [-1] * n
    for i, j in enumerate(kid):
        if first[j] < 0:
            first[j] = i
    batches = _key_signatures(keys, hasher, cfg.shingle_k, workers)
    sigs = np.concatenate(batches) if batches else hasher.signatures([])
    index = BandIndex(cfg.block_threshold, cfg.num_perm)
    bands = index.band_hashes(sigs)
    # As BandIndex.add_many: empty signatures (empty keys) are not indexed.
    empty = (sigs == np.iinfo(sigs.dtype).max).all(axis=1) if sigs.dtype.kind == "u" else np.zeros(n, dtype=bool)
    # Buckets as runs of one band hash, keys ascending within each (numpy:
    # a dict of lists filled key by key was most of this step's time on a
    # large corpus). The links made below do not depend on the order the
    # buckets are visited in: a pair is skipped only when already linked.
    indexed = np.flatnonzero(~empty)
    hs = np.asarray(bands)[indexed].ravel()
    js = np.repeat(indexed, bands.shape[1] if len(indexed) else 0)
    order = np.lexsort((js, hs))
    hs, js = hs[order], js[order]
    starts = np.flatnonzero(np.r_[True, hs[1:] != hs[:-1]]) if len(hs) else np.zeros(0, dtype=np.int64)
    ends = np.r_[starts[1:], len(hs)] if len(hs) else starts
    uf = UnionFind(n)
    grouped = [False] * n
    for head in js[starts].tolist():
        grouped[head] = True
    shared = ends - starts > 1  # buckets of two or more
    multi = np.flatnonzero(shared)
    # The shingle sets of every key such a bucket holds (the only ones
    # compared below), sorted and unique, made in one pass: made one key at
    # a time, they were a fifth of this step (6,052 keys at 50 MiB).
    compared = sorted_unique(js[np.repeat(shared, ends - starts)]).tolist()
    flat, bounds = shingle_hashes_many([keys[j] for j in compared], cfg.shingle_k, unique=True)
    bound = bounds.tolist()
    span_of = {j: (bound[i], bound[i + 1]) for i, j in enumerate(compared)}

    def shingles(j: int) -> np.ndarray:
        a, b = span_of[j]
        return flat[a:b]

    for a, b in zip(starts[multi].tolist(), ends[multi].tolist()):
        # The bucket's head is the first block of its first key; it takes
        # the other blocks of that key (a bucket of one key included, which
        # holds two or more blocks whenever the key has several: grouped
        # above).
        bucket = js[a:b].tolist()
        head = bucket[0]
        for other in bucket[1:]:
            if other == head or uf.find(other) == uf.find(head):
                continue
            if _jaccard_sorted(shingles(head), shingles(other)) >= cfg.block_threshold:
                uf.union(head, other)
                grouped[other] = True
    # UnionFind keeps the smallest key as root, whose first block is the
    # smallest block of the group: the reference's root.
    return [first[uf.find(j)] if grouped[j] else -1 for j in range(n)]


def _jaccard_sorted(a: np.ndarray, b: np.ndarray) -> float:
    """:func:`~cleaner.sketch.exact_jaccard` of two sorted sets of unique
    values, without sorting them again (same formula, so the same float).

    >>> _jaccard_sorted(np.array([1, 2, 3]), np.array([2, 3, 4]))
    0.5
    """
    if len(a) == 0 or len(b) == 0:
        return 0.0
    if len(a) > len(b):
        a, b = b, a
    at = np.searchsorted(b, a)
    at[at == len(b)] = 0
    inter = int(np.count_nonzero(b[at] == a))
    return inter / (len(a) + len(b) - inter)


def _related_articles(content: Sequence[Sequence[int]], sizes: Sequence[int], share: float) -> list[int]:
    """Cluster articles into copies: two articles are copies when they share
    at least two content groups and at least ``share`` of the smaller one's
    blocks; copies of copies are copies. Returns each article's cluster id
    (its smallest member).

    ``content`` lists the (sorted, distinct) articles of each content group;
    ``sizes`` is each article's number of blocks.

    Articles with the same groups and size (a *profile*: copies whose noise
    left every paragraph in its group) relate to everyone alike, so pairs
    are counted between profiles: the work grows with the distinct profiles
    in a group, not with the square of its copies.

    >>> _related_articles([[0, 1], [0, 1], [1, 2]], [4, 4, 4], 0.3)
    [0, 0, 2]
    """
    n = len(sizes)
    groups_of: list[list[int]] = [[] for _ in range(n)]
    for g, arts in enumerate(content):
        for a in arts:
            groups_of[a].append(g)
    profile_ids: dict[tuple[tuple[int, ...], int], int] = {}
    members: list[list[int]] = []
    profile = [-1] * n
    for a, gs in enumerate(groups_of):
        if gs:
            p = profile[a] = profile_ids.setdefault((tuple(gs), sizes[a]), len(profile_ids))
            if p == len(members):
                members.append([])
            members[p].append(a)
    psize = [sizes[ms[0]] for ms in members]
    linked = [False] * len(members)  # every member of the profile is one cluster
    for p, ms in enumerate(members):
        # Two articles of one profile share all its groups.
        s = len(groups_of[ms[0]])
        if len(ms) > 1 and s >= 2 and s >= share * psize[p]:
            linked[p] = True
    shared: dict[tuple[int, int], int] = defaultdict(int)
    for arts in content:
        ps = sorted({profile[a] for a in arts})
        for x in range(len(ps)):
            px = ps[x]
            for y in range(x + 1, len(ps)):
                shared[(px, ps[y])] += 1
    uf = UnionFind(n)
    for (p, q), s in shared.items():
        if s >= 2 and s >= share * min(psize[p], psize[q]):
            # Every member of p is a copy of every member of q: all are one.
            uf.union(members[p][0], members[q][0])
            linked[p] = linked[q] = True
    for p, ms in enumerate(members):
        if linked[p]:
            for a in ms[1:]:
                uf.union(ms[0], a)
    return [uf.find(a) for a in range(n)]


# Characters of block keys sketched at once by _key_roots.
_KEY_BATCH_CHARS = 1 << 22
# From this many characters of distinct block keys, they are sketched on
# every process (_key_signatures).
_PARALLEL_KEY_CHARS = 1 << 20
# The keys being sketched, with the hasher and n-gram size (inherited by fork).
_SKETCHING: tuple[Sequence[str], MinHasher, int] | None = None

# Windows counted at once by _repeated_runs: about 1 GiB of working arrays.
_PART_WINDOWS = 1 << 23
# From this many windows, _repeated_runs counts parts on worker processes.
# The 50 MiB bench corpus keeps 1.81M (10 MiB: 383k, where spreading gained
# nothing): its count took 0.54-0.75 s spread, 0.62-0.84 s in one process.
_PARALLEL_WINDOWS = 1 << 20
# The arrays of the count in progress, for forked workers (_repeated_in_part).
_COUNTING: tuple | None = None

# Files between two reports of step 1's progress (BoilerplateLabeler.label's
# on_file): often enough for a progress bar, rarely enough to cost nothing.
PROGRESS_FILES = 64

# Step 1 goes to every process from this many blocks on (below, starting a
# helper costs more than it saves). On the 10 MiB bench corpus (19,201
# blocks) labelling took 0.51-0.56 s spread, 0.57-0.59 s in one process.
_PARALLEL_RULE_BLOCKS = 5_000
# Files per claimed chunk of step 1: each chunk's texts are gated in one
# numpy pass.
_RULE_CHUNK_FILES = 48
# The labeler and files of the step 1 in progress (inherited by fork), and
# this process's state for it, built on first use and kept across chunks so
# that a text repeated in later files is asked about once per process: the
# rule scanner, the texts left by cuts, each kept text's (key, site mask).
_RULING: tuple[BoilerplateLabeler, Sequence[Sequence[Article]]] | None = None
_RULING_STATE: tuple[RuleScanner, dict[tuple[str, tuple[Cut, ...]], str], dict[str, tuple[str, int]]] | None = None


# A file's step 1 as decided on some process: per article, the whole blocks
# and the spans cut; per kept block (in order), its match key and site mask
# (empty when repetition is off); the text each block with span cuts keeps,
# in order (one object per distinct text within a chunk: pickled once).
_FileRules = tuple[list[tuple[dict[int, Cut], dict[int, list[Cut]]]], list[str], list[int], list[str]]


def _spread_rule_decisions(
    labeler: BoilerplateLabeler, articles_by_file: Sequence[Sequence[Article]], workers: int
) -> Iterator[_FileRules]:
    """:meth:`BoilerplateLabeler._rule_decisions` of every article (and the
    keys and site masks of what it keeps), one per file in file order,
    decided on ``workers`` processes."""
    global _RULING, _RULING_STATE
    _RULING, _RULING_STATE = (labeler, articles_by_file), None
    try:
        n = len(articles_by_file)
        chunks = [range(a, min(n, a + _RULE_CHUNK_FILES)) for a in range(0, n, _RULE_CHUNK_FILES)]
        for decided in map_ordered(_rule_decisions_of, chunks, workers=workers, chunk_size=1, inherit=True):
            yield from decided
    finally:
        _RULING = _RULING_STATE = None


def _rule_decisions_of(files: range) -> list[_FileRules]:
    """Step 1 for some files of ``_RULING`` (see :func:`_spread_rule_decisions`)."""
    global _RULING_STATE
    assert _RULING is not None, "no rule step in progress"
    labeler, articles_by_file = _RULING
    texts = [b.text for fi in files for art in articles_by_file[fi] for b in art.blocks]
    if _RULING_STATE is None:
        _RULING_STATE = (labeler.rules.scanner(texts), {}, {})
    else:
        _RULING_STATE[0].prime(texts)
    scanner, cut_texts, known = _RULING_STATE
    out: list[_FileRules] = []
    kept: list[list[str]] = []
    for fi in files:
        decided = [
            labeler._rule_decisions(art, scanner.match_line, scanner.match_edge, scanner.find_inline)
            for art in articles_by_file[fi]
        ]
        texts_cut: list[str] = []
        out.append((decided, [], [], texts_cut))
        texts_kept: list[str] = []
        for art, (whole, spans) in zip(articles_by_file[fi], decided):
            for _, block, block_cuts in _kept_blocks(art, whole, spans):
                if block_cuts:
                    ck = (block.text, tuple(block_cuts))
                    text = cut_texts.get(ck)
                    if text is None:
                        text = cut_texts[ck] = apply_cuts(block.text, block_cuts)[0]
                    texts_kept.append(text)
                    texts_cut.append(text)
                else:
                    texts_kept.append(block.text)
        kept.append(texts_kept)
    if not labeler.config.repetition:
        return out
    # Per distinct text, once per process: its match key and site mask.
    todo = list(dict.fromkeys(t for texts_kept in kept for t in texts_kept if t not in known))
    if todo:
        known.update(zip(todo, zip(_block_keys(todo), labeler._site_gate.masks(todo))))
    for (_, keys, masks, _), texts_kept in zip(out, kept):
        for t in texts_kept:
            key, mask = known[t]
            keys.append(key)
            masks.append(mask)
    return out


def _mark_repeated(
    hashes: np.ndarray,
    offsets: np.ndarray,
    kept: np.ndarray,
    ntext: int,
    pcl: np.ndarray,
    ptext: np.ndarray,
    min_clusters: int,
    is_rep: np.ndarray,
) -> None:
    """Set ``is_rep`` for the windows among ``kept`` whose hash occurs in
    at least ``min_clusters`` clusters, counting only ``kept`` windows
    (which hold every window of each of their hashes)."""
    kept_text = np.searchsorted(offsets, kept, side="right") - 1
    kept_count = np.bincount(kept_text, minlength=ntext)
    del kept_text
    kept_start = np.cumsum(kept_count) - kept_count
    reps = kept_count[ptext]
    total = int(reps.sum())
    if total == 0:
        return
    at = np.repeat(kept_start[ptext] - (np.cumsum(reps) - reps), reps) + np.arange(total)
    win = kept[at]  # window of each kept (window, cluster) pair
    del at
    pair_cluster = np.repeat(pcl, reps)
    order = np.argsort(hashes[win], kind="stable")
    win_sorted = win[order]
    del win
    c_sorted = pair_cluster[order]
    del pair_cluster, order
    h_sorted = hashes[win_sorted]
    new_hash = np.empty(total, dtype=bool)
    new_hash[0] = True
    np.not_equal(h_sorted[1:], h_sorted[:-1], out=new_hash[1:])
    del h_sorted
    new_cluster = new_hash.copy()
    new_cluster[1:] |= c_sorted[1:] != c_sorted[:-1]
    del c_sorted
    run_id = np.cumsum(new_hash) - 1
    per_hash = np.bincount(run_id, weights=new_cluster).astype(np.int64)
    is_rep[win_sorted[per_hash[run_id] >= min_clusters]] = True


def _repeated_in_part(part: int) -> np.ndarray:
    """The windows :func:`_mark_repeated` marks in part ``part`` of the count
    in progress (``_COUNTING``, inherited by fork)."""
    assert _COUNTING is not None, "no count in progress"
    hashes, offsets, kept, ntext, pcl, ptext, min_clusters, parts = _COUNTING
    some = kept[hashes[kept] % np.uint64(parts) == part]
    marked = np.zeros(len(hashes), dtype=bool)
    _mark_repeated(hashes, offsets, some, ntext, pcl, ptext, min_clusters, marked)
    return np.flatnonzero(marked)


def _repeated_runs(
    texts: Sequence[str],
    owner: Sequence[int],
    clusters: Sequence[int],
    k: int,
    min_clusters: int,
    wanted: Sequence[bool] | None = None,
    *,
    workers: int = 1,
) -> list[tuple[int, int, int]]:
    """Runs of characters covered by repeated ``k``-grams, per distinct text.

    ``texts`` are distinct block texts (each longer than ``k``); block ``j``
    has text ``owner[j]`` and lies in article cluster ``clusters[j]``. A
    ``k``-gram (compared by its 64-bit hash) is repeated when blocks of at
    least ``min_clusters`` different clusters contain it. Returns
    ``(text, start, end)`` for each maximal run of characters of a text
    inside some repeated ``k``-gram, by text then position; only for the
    texts ``wanted`` marks (default: all). ``workers`` > 1: large counts
    run in parts on that many forked processes (the same runs).

    >>> _repeated_runs(["甲乙丙丁戊己", "子甲乙丙丁丑"], [0, 1, 1], [0, 1, 2], 4, 3)
    [(0, 0, 4), (1, 1, 5)]
    """
    ntext = len(texts)
    want = np.ones(ntext, dtype=bool) if wanted is None else np.asarray(wanted, dtype=bool)
    if not want.any():
        return []
    hashes, offsets = shingle_hashes_many(texts, k)
    nwin = np.diff(offsets)
    want_win = np.repeat(want, nwin)
    if want.all():
        kept = np.arange(len(hashes))
    else:
        # Only n-grams of wanted texts need counting: keep the windows whose
        # hash may be one of theirs (a bitmap of low hash bits: no misses,
        # a few strays), which sorts far fewer values.
        mine = hashes[want_win]
        bits = int(min(24, max(16, (8 * len(mine)).bit_length())))
        low = np.uint64((1 << bits) - 1)
        seen = np.zeros(1 << bits, dtype=bool)
        seen[(mine & low).astype(np.int64)] = True
        kept = np.flatnonzero(seen[(hashes & low).astype(np.int64)])
    tid = np.asarray(owner, dtype=np.int64)
    cl = np.asarray(clusters, dtype=np.int64)
    # Each (cluster, text) pair once, cluster-major: copies within a
    # cluster add nothing, and a stable sort by hash then leaves each hash's
    # windows ordered by cluster, so distinct clusters are changes of value.
    pairs = sorted_unique(cl * ntext + tid)
    if min_clusters >= 1:
        # Whether an n-gram is in min_clusters clusters needs only
        # min_clusters of each text's clusters: if any text holding it keeps
        # that many, it is; if none has more, none lost any. On the 200 MiB
        # bench corpus every copy is its own cluster (copies of one article
        # outnumber max_group_articles, so none are related) and the pairs
        # held 66.9M windows; kept to three clusters a text, 21.3M.
        by_text = np.argsort(pairs % ntext, kind="stable")
        pairs = np.sort(pairs[by_text[run_ranks(pairs[by_text] % ntext) < min_clusters]])
    pcl, ptext = pairs // ntext, pairs % ntext
    is_rep = np.zeros(len(hashes), dtype=bool)
    # Windows are counted in parts by hash (every window of one hash is in
    # the same part), so the sort's working arrays stay bounded on large
    # corpora; one part below _PART_WINDOWS.
    parts = max(1, -(-len(kept) // _PART_WINDOWS))
    n = resolve_workers(workers)
    if n > 1 and len(kept) >= _PARALLEL_WINDOWS:
        # The rest of labelling is this process's alone: count the parts on
        # every process, n at a time, each 1/n the size, so the working
        # arrays alive at once stay those of one part.
        global _COUNTING
        _COUNTING = (hashes, offsets, kept, ntext, pcl, ptext, min_clusters, parts * n)
        try:
            for found in map_ordered(_repeated_in_part, range(parts * n), workers=n, chunk_size=1, inherit=True):
                is_rep[found] = True
        finally:
            _COUNTING = None
    else:
        for part in range(parts):
            some = kept if parts == 1 else kept[hashes[kept] % np.uint64(parts) == part]
            _mark_repeated(hashes, offsets, some, ntext, pcl, ptext, min_clusters, is_rep)
    del kept
    is_rep &= want_win
    if not is_rep.any():
        return []
    # Runs of characters covered by repeated windows. The windows come text
    # by text, positions rising, each k characters long: a run goes on while
    # the next window of the same text starts at most k after the previous
    # one (touching or overlapping it), and ends k after its last window.
    # (Over the windows found, not over every character of the corpus.)
    w = np.flatnonzero(is_rep)
    wtext = np.searchsorted(offsets, w, side="right") - 1
    pos = w - offsets[wtext]
    fresh = np.ones(len(w), dtype=bool)
    fresh[1:] = (wtext[1:] != wtext[:-1]) | (pos[1:] > pos[:-1] + k)
    first = np.flatnonzero(fresh)
    last = np.append(first[1:] - 1, len(w) - 1)
    return list(zip(wtext[first].tolist(), pos[first].tolist(), (pos[last] + k).tolist()))
