"""From labelled articles to canonical records.

1. **Clean** every article: apply its blocks' cuts, group blocks into
   paragraphs, collect removals (spans outside every article, and articles
   that were all noise, go to the kept article that follows them).
2. **Join continuations**: a part that carries on the previous part's speech
   (same title, no salutation, section numbering continues) is one article.
3. **Cluster** copies (:mod:`cleaner.cluster`): LSH and containment
   candidates, verified, complete linkage.
4. **Merge** each cluster (:mod:`cleaner.merge`) into one canonical text with
   paragraph provenance; with ``merge`` off, every article stays its own
   record and says which cluster it belongs to.

Every offset written here is mapped to the file's decoded text.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .cluster import (
    ArticleClusterer,
    TextFeatures,
    collect_features,
    continues,
    features_in_pools,
)
from .config import CleanConfig
from .merge import PartSource, Variant, merge_variants
from .normalize import convert_script, match_key, preload_conversions
from .parallel import map_ordered, refreeze_long_lived, resolve_workers
from .spill import SpilledArrays
from .strip import strip_block
from .types import (
    Article,
    Block,
    CanonicalArticle,
    FileArticles,
    Labels,
    Paragraph,
    Removal,
    Source,
    SourceSpan,
)


@dataclass(frozen=True)
class ParagraphSource:
    """Where a cleaned paragraph came from: its blocks in one file."""

    fa: FileArticles
    blocks: tuple[Block, ...]

    def span(self, part: bool = False) -> SourceSpan:
        start, end = self.fa.to_decoded(self.blocks[0].start, self.blocks[-1].end)
        return SourceSpan(self.fa.name, start, end, part)


@dataclass(frozen=True)
class CleanArticle:
    """An article after its cuts: one part, or a part and its continuations."""

    fa: FileArticles
    parts: tuple[Article, ...]
    paragraphs: tuple[tuple[str, ParagraphSource], ...]
    removed: tuple[Removal, ...]

    @property
    def article(self) -> Article:
        return self.parts[0]

    @property
    def body(self) -> str:
        return "\n".join(t for t, _ in self.paragraphs)

    @property
    def sort_key(self) -> tuple[str, int]:
        return (self.fa.name, self.article.index)

    @property
    def title(self) -> str:
        return self.article.title or self.fa.decoded.meta.get("page_title", "")


def clean_article(fa: FileArticles, fi: int, article: Article, labels: Labels) -> CleanArticle:
    """Apply the cuts of every block; group blocks into output paragraphs
    (sentence runs of one long paragraph are blocks for matching but one
    paragraph for readers)."""
    paragraphs: list[tuple[str, ParagraphSource]] = []
    removed: list[Removal] = [fa.remap(r) for r in article.removed]
    for bi, block in enumerate(article.blocks):
        cuts = labels.get((fi, article.index, bi))
        if cuts:
            stripped = strip_block(block, fa.decoded.text, cuts)
            text = stripped.text.strip()
            removed.extend(fa.removal(s, e, c.reason, c.rule, c.replacement) for s, e, c in stripped.removed)
        else:
            text = block.text
        if not text:
            continue
        if paragraphs and block.continues:
            ptext, src = paragraphs[-1]
            # Sentence runs of one paragraph: keep the spaces that separated
            # them in the source (a line break there was rejoined: none).
            gap = fa.decoded.text[src.blocks[-1].end : block.start]
            sep = gap if gap and not gap.strip() and "\n" not in gap and "\r" not in gap else ""
            paragraphs[-1] = (ptext + sep + text, ParagraphSource(fa, src.blocks + (block,)))
        else:
            paragraphs.append((text, ParagraphSource(fa, (block,))))
    return CleanArticle(fa, (article,), tuple(paragraphs), tuple(removed))


def article_id(text: str) -> str:
    """A stable id from canonical content: the same text always gets the same id.

    The hash is taken over the match key, so script, width and punctuation
    variants of one text share an id.

    >>> article_id("同志们:今天开会。") == article_id("同志們：今天開會。")
    True
    """
    return "a-" + hashlib.blake2b(match_key(text).encode("utf-8"), digest_size=10).hexdigest()


def _cluster_id(base: CleanArticle) -> str:
    return "c-" + hashlib.blake2b(match_key(base.body).encode("utf-8"), digest_size=8).hexdigest()


def _file_repairs(fa: FileArticles, article: Article) -> list[dict[str, Any]]:
    start, end = fa.to_decoded(article.start, article.end)
    out: list[dict[str, Any]] = []
    for r in fa.decoded.repairs:
        if r.start is not None and r.end is not None and (r.end <= start or r.start >= end):
            continue  # a local repair elsewhere in the file
        item: dict[str, Any] = {"file": fa.name, "kind": r.kind, "detail": r.detail}
        if r.start is not None:
            item["start"], item["end"] = r.start, r.end
        out.append(item)
    return out


def sorted_removals(removed: Iterable[Removal]) -> tuple[Removal, ...]:
    """Removals once each, by file and span; two cuts of one span (a
    zero-width character and a replacement character in the same block)
    stay in the order they were made, so a run's output does not depend on
    the process's string hashing.

    >>> a, b = Removal("f", 4, 9, "x", "artefact", "zero-width"), Removal("f", 0, 2, "y", "markup", "nbsp")
    >>> [r.rule for r in sorted_removals([a, b, a])]
    ['nbsp', 'zero-width']
    """
    return tuple(sorted(dict.fromkeys(removed), key=lambda r: (r.file, r.start, r.end)))


class RecordBuilder:
    """Turns labelled files into canonical records (long-lived: keeps counters)."""

    def __init__(self, config: CleanConfig | None = None) -> None:
        self.config = config or CleanConfig()
        self.clusterer = ArticleClusterer(self.config.cluster)
        self.counters: Counter[str] = Counter()

    def build(self, files: Sequence[FileArticles], labels: Labels | None = None) -> list[CanonicalArticle]:
        """Records for every file, in an order that does not depend on input order."""
        records = list(self.iter_records(files, labels))
        records.sort(key=lambda r: (r.sources[0].file, r.sources[0].article))
        return records

    def iter_records(
        self,
        files: Sequence[FileArticles],
        labels: Labels | None = None,
        *,
        workers: int = 1,
        on_cluster: Callable[[int, int], None] | None = None,
        on_phase: Callable[[str], None] | None = None,
        on_article: Callable[[int, int | None], None] | None = None,
    ) -> Iterator[CanonicalArticle]:
        """Records as each cluster is merged, cluster by cluster (clusters in
        the order of their first member), so a caller can write them as they
        come. ``workers``: processes for shingling and merging (0: every
        core). ``on_cluster(done, total)`` reports merging (from 0);
        ``on_article(done, total)`` the articles sketched for clustering
        (from 0, then every :data:`PROGRESS_ARTICLES`; ``total`` None until
        the last); ``on_phase`` announces ``clustering`` and ``merging``.

        >>> from cleaner.pipeline import prepare_text
        >>> p = prepare_text("d", "讲话\\n同志们:\\n今天我们召开全市工作会议,部署下半年的工作任务。", CleanConfig())
        >>> [r.title for r in RecordBuilder().iter_records([p.found])]
        ['讲话']
        """
        if on_phase is not None:
            on_phase("clustering")
        articles: list[CleanArticle] = []
        bodies: list[str] = []
        outside: dict[tuple[str, int], list[Removal]] = {}

        def utf8() -> Iterator[bytes]:
            # Cleaned as the feature pool asks for them, so the helpers
            # shingle the first articles while this process cleans the
            # next. As bytes: see utf8_text_features (a str sent would
            # keep a copy).
            for a in self._iter_clean(files, labels or {}, outside):
                articles.append(a)
                bodies.append(a.body)
                yield bodies[-1].encode("utf-8", "surrogatepass")

        cfg = self.config.cluster
        with SpilledArrays() as sets:
            feats = features_in_pools(utf8(), cfg, workers, repair=False, chunk_size=_FEATURE_CHUNK_ARTICLES)
            words, sigs, digests = collect_features(feats if on_article is None else _counted(feats, on_article), sets)
            refreeze_long_lived()  # the clean articles live as long as the files
            clusters = self.clusterer.cluster(
                bodies, [a.sort_key for a in articles], (sets, words, sigs, digests), workers=workers
            )
        for name, n in self.clusterer.counters.items():
            self.counters[f"cluster:{name}"] = n
        if on_phase is not None:
            on_phase("merging")
        if on_cluster is not None:
            on_cluster(0, len(clusters))
        if resolve_workers(workers) == 1:
            for done, members in enumerate(clusters, start=1):
                yield from self.records_for([articles[i] for i in members], outside)
                if on_cluster is not None:
                    on_cluster(done, len(clusters))
            return
        # Merging tells each variant's script by converting it both ways:
        # load the conversions here once, not in every worker of every pool.
        preload_conversions()
        global _BUILD
        _BUILD = (self, articles, outside, clusters)  # forked workers inherit it
        try:
            done = 0
            sizes = [len(c) for c in clusters]
            for batch in _merge_batches(sizes, _MERGE_POOL_ARTICLES):
                # A fresh pool per batch: a forked worker copies the pages of
                # the articles it touches (reference counts are writes), and
                # a worker that lived through the whole run would end up
                # holding a copy of most of the corpus.
                # Claimed a few clusters at a time, up to _MERGE_CHUNK_ARTICLES
                # articles (a bigger cluster alone): a cluster of one article
                # costs less to build than to claim and send back on its own.
                chunks = [range(batch.start + r.start, batch.start + r.stop)
                          for r in _merge_batches(sizes[batch.start : batch.stop], _MERGE_CHUNK_ARTICLES)]
                for results in map_ordered(_chunk_records, chunks, workers=workers, chunk_size=1, inherit=True):
                    for records, counters in results:
                        self.counters.update(counters)
                        done += 1
                        if on_cluster is not None:
                            on_cluster(done, len(clusters))
                        yield from records
        finally:
            _BUILD = None

    def records_for(
        self, group: list[CleanArticle], outside: dict[tuple[str, int], list[Removal]]
    ) -> list[CanonicalArticle]:
        """The record(s) of one cluster: merged, or one per article with ``merge`` off."""
        if self.config.cluster.merge:
            return [self._merged_record(group, outside)]
        cid = _cluster_id(group[0])
        return [self._single_record(a, outside, cid) for a in group]

    # -- 1 and 2: clean, join continuations ---------------------------------
    def _iter_clean(
        self, files: Sequence[FileArticles], labels: Labels, outside: dict[tuple[str, int], list[Removal]]
    ) -> Iterator[CleanArticle]:
        """The kept articles, file by file; removals outside them go to
        ``outside`` (complete for a file once its articles are yielded)."""
        min_chars = self.config.segment.min_article_chars
        for fi, fa in enumerate(files):
            cleaned = [clean_article(fa, fi, art, labels) for art in fa.articles]
            kept = [ca for ca in cleaned if ca.paragraphs]
            if not kept:
                continue
            joined: list[CleanArticle] = []
            for ca in kept:
                prev = joined[-1] if joined else None
                if (
                    prev is not None
                    and prev.parts[-1].index + 1 == ca.article.index
                    and continues(prev.title, [t for t, _ in prev.paragraphs], ca.article.title, [t for t, _ in ca.paragraphs])
                ):
                    joined[-1] = CleanArticle(fa, prev.parts + ca.parts, prev.paragraphs + ca.paragraphs, prev.removed + ca.removed)
                    self.counters["continuations_joined"] += 1
                else:
                    joined.append(ca)
            # What the cuts left of an article can be a scrap ("分享，", a
            # heading whose speech follows as the next article): too little
            # to be an article of its own (segmentation's min_article_chars),
            # and identical scraps of different articles would be merged.
            # Beside a real article of the same file it goes out as a
            # removal there (structure, short-part); a file of scraps only
            # keeps them.
            short = [len(joined) > 1 and len(match_key(ca.body)) < min_chars for ca in joined]
            if all(short):
                short = [False] * len(joined)
            whole = [ca for ca, s in zip(joined, short) if not s]
            parts = [part for ca in whole for part in ca.parts]

            def owner(pos: int) -> int:
                return next((part.index for part in parts if part.start >= pos), parts[-1].index)

            for rem in fa.removed:
                outside.setdefault((fa.name, owner(rem.end)), []).append(fa.remap(rem))
            for ca in cleaned:
                if not ca.paragraphs:
                    outside.setdefault((fa.name, owner(ca.article.end)), []).extend(ca.removed)
            for ca, s in zip(joined, short):
                if s:
                    scrap = outside.setdefault((fa.name, owner(ca.article.end)), [])
                    scrap.extend(ca.removed)
                    scrap.extend(
                        fa.removal(b.start, b.end, "structure", "short-part") for _, src in ca.paragraphs for b in src.blocks
                    )
                    self.counters["short_parts_removed"] += 1
            yield from whole

    # -- 4: records -----------------------------------------------------------
    def _sources(self, a: CleanArticle, similarity: float) -> list[Source]:
        out = []
        for part in a.parts:
            start, end = a.fa.to_decoded(part.start, part.end)
            out.append(Source(a.fa.name, part.index, start, end, _source_title(a.fa, part), similarity))
        return out

    def _extras(
        self, group: Sequence[CleanArticle], outside: dict[tuple[str, int], list[Removal]]
    ) -> tuple[tuple[Removal, ...], tuple[dict[str, Any], ...], dict[str, Any]]:
        removed: list[Removal] = []
        repairs: list[dict[str, Any]] = []
        meta: dict[str, Any] = {}
        for a in group:
            for part in a.parts:
                removed.extend(outside.get((a.fa.name, part.index), []))
                repairs.extend(_file_repairs(a.fa, part))
            removed.extend(a.removed)
        for a in reversed(group):  # the first (base) article's meta wins
            meta.update(a.fa.decoded.meta)
            meta.update(a.article.meta)
        meta.pop("page_title", None)
        unique_repairs = tuple({tuple(sorted(r.items())): r for r in repairs}.values())
        return sorted_removals(removed), unique_repairs, meta

    def _merged_record(self, group: list[CleanArticle], outside: dict[tuple[str, int], list[Removal]]) -> CanonicalArticle:
        script = self.config.output.script
        # Exact copies vote once: merge one representative per distinct text
        # (in the group's order), then give each copy its representative's
        # paragraph provenance and similarity.
        reps: dict[str, int] = {}
        rep_of = [reps.setdefault(a.body, i) for i, a in enumerate(group)]
        unique = sorted(set(rep_of))
        merged = merge_variants([Variant(group[i].paragraphs, group[i].sort_key) for i in unique])
        position = {r: k for k, r in enumerate(unique)}
        similarity = {i: merged.similarity[position[rep_of[i]]] for i in range(len(group))}
        base_index = unique[merged.base]
        copies: dict[int, list[int]] = {}
        for i, r in enumerate(rep_of):
            if i != r:
                copies.setdefault(r, []).append(i)
        where = {id(src): (r, j) for r in unique for j, (_, src) in enumerate(group[r].paragraphs)}
        base = group[base_index]
        order = [base_index] + [i for i in range(len(group)) if i != base_index]
        texts = [convert_script(p.text, script) for p in merged.paragraphs]
        paragraphs: list[Paragraph] = []
        pos = 0
        for p, text in zip(merged.paragraphs, texts):
            srcs: list[tuple[ParagraphSource, bool]] = []
            for src in p.sources:
                part = isinstance(src, PartSource)
                if part:
                    src = src.source
                srcs.append((src, part))
                r, j = where[id(src)]
                srcs.extend((group[c].paragraphs[j][1], part) for c in copies.get(r, ()))
            spans = tuple(dict.fromkeys(src.span(part) for src, part in srcs))
            paragraphs.append(Paragraph(pos, pos + len(text), spans))
            pos += len(text) + 1
        body = "\n".join(texts)
        removed, repairs, meta = self._extras([group[i] for i in order], outside)
        title = base.title or next((group[i].title for i in order if group[i].title), "")
        if len(group) > 1:
            self.counters["articles_merged"] += len(group)
        return CanonicalArticle(
            id=article_id(body),
            title=convert_script(title, script),
            text=body,
            sources=tuple(s for i in order for s in self._sources(group[i], similarity[i])),
            paragraphs=tuple(paragraphs),
            removed=removed,
            repairs=repairs,
            meta=meta,
        )

    def _single_record(
        self, a: CleanArticle, outside: dict[tuple[str, int], list[Removal]], cluster: str
    ) -> CanonicalArticle:
        script = self.config.output.script
        texts = [convert_script(t, script) for t, _ in a.paragraphs]
        paragraphs: list[Paragraph] = []
        pos = 0
        for (_, src), text in zip(a.paragraphs, texts):
            paragraphs.append(Paragraph(pos, pos + len(text), (src.span(),)))
            pos += len(text) + 1
        removed, repairs, meta = self._extras([a], outside)
        body = "\n".join(texts)
        # Copies kept apart may share their text: the id also names the source.
        rid = "a-" + hashlib.blake2b(
            f"{match_key(body)}\x00{a.fa.name}\x00{a.article.index}".encode("utf-8"), digest_size=10
        ).hexdigest()
        return CanonicalArticle(
            id=rid,
            title=convert_script(a.title, script),
            text=body,
            sources=tuple(self._sources(a, 1.0)),
            paragraphs=tuple(paragraphs),
            removed=removed,
            repairs=repairs,
            meta=meta,
            cluster=cluster,
        )


# Articles shingled and sketched per chunk sent to a feature worker.
_FEATURE_CHUNK_ARTICLES = 64

# Articles merged by one pool of forked workers before it is replaced.
_MERGE_POOL_ARTICLES = 2000
# Articles a merge worker claims at a time, in whole clusters (see iter_records).
_MERGE_CHUNK_ARTICLES = 16

# Articles sketched between two reports of clustering's progress.
PROGRESS_ARTICLES = 256


def _counted(items: Iterable[TextFeatures], on_article: Callable[[int, int | None], None]) -> Iterator[TextFeatures]:
    """``items``, reporting ``on_article``: ``(0, None)`` first, ``(done,
    None)`` every :data:`PROGRESS_ARTICLES` and ``(n, n)`` after the last.

    >>> seen = []
    >>> list(_counted(iter("abc"), lambda d, t: seen.append((d, t)))), seen
    (['a', 'b', 'c'], [(0, None), (3, 3)])
    """
    on_article(0, None)
    done = 0
    for done, item in enumerate(items, start=1):
        if done % PROGRESS_ARTICLES == 0:
            on_article(done, None)
        yield item
    on_article(done, done)


def _merge_batches(sizes: Sequence[int], limit: int) -> list[range]:
    """Consecutive runs of cluster indices holding about ``limit`` articles
    each (a cluster is never split; a bigger one is a batch of its own).

    >>> _merge_batches([3, 3, 3, 9, 1], 6)
    [range(0, 2), range(2, 3), range(3, 4), range(4, 5)]
    """
    out: list[range] = []
    start = total = 0
    for i, n in enumerate(sizes):
        if total and total + n > limit:
            out.append(range(start, i))
            start, total = i, 0
        total += n
    if start < len(sizes):
        out.append(range(start, len(sizes)))
    return out


# What cluster workers need, set by RecordBuilder.iter_records before its
# pool forks: (builder, articles, outside removals, clusters).
_BUILD: tuple[RecordBuilder, list[CleanArticle], dict[tuple[str, int], list[Removal]], list[list[int]]] | None = None


def _cluster_records(index: int) -> tuple[list[CanonicalArticle], Counter[str]]:
    """Records of cluster ``index`` of the build in progress, with the
    counters they moved (a worker's own counters never reach the parent)."""
    assert _BUILD is not None, "no build in progress"
    builder, articles, outside, clusters = _BUILD
    before = Counter(builder.counters)
    records = builder.records_for([articles[i] for i in clusters[index]], outside)
    after = Counter(builder.counters)
    after.subtract(before)
    builder.counters = before
    return records, +after


def _chunk_records(indices: range) -> list[tuple[list[CanonicalArticle], Counter[str]]]:
    """:func:`_cluster_records` of each cluster in ``indices``, in order."""
    return [_cluster_records(i) for i in indices]


def _source_title(fa: FileArticles, art: Article) -> str:
    """The source's own heading as the file spells it, marker included."""
    if art.title_span is None:
        return art.title
    text = fa.decoded.text
    line_start = text.rfind("\n", 0, art.title_span.start) + 1
    line_end = text.find("\n", art.title_span.end)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    return line.strip() or art.title
