"""The pipeline: bytes in, canonical article records out.

A :class:`Cleaner` is a long-lived object with small verbs: ``add_bytes`` and
``add_text`` feed it one input at a time (decode, repair, segment), ``finish``
builds the canonical records and the report. :func:`clean_files` and
:func:`clean_texts` wrap it for the common cases; the CLI and the service drive
it directly so they can show progress.

Offsets: segmentation runs on the repaired text; every span is mapped back
through the file's :class:`~cleaner.types.OffsetMap` so records point into the
*decoded* text, as the output contract requires.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .config import CleanConfig
from .decode import decode_bytes
from .errors import InputError
from .fixes import repair_text
from .inputs import InputRef, plan_inputs, read_input
from .normalize import convert_script, match_key
from .report import FileReport, Report
from .segment import segment_text
from .boilerplate import BoilerplateLabeler
from .html import extract_html, looks_like_html
from .strip import strip_block
from .types import (
    Article,
    Block,
    CanonicalArticle,
    Cut,
    DecodedFile,
    Paragraph,
    Problem,
    Removal,
    Repair,
    Source,
    SourceSpan,
)


HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".shtml")


@dataclass(frozen=True)
class FileArticles:
    """A decoded file and the articles found in it.

    Offsets of ``articles`` and ``removed`` index ``decoded.text`` (the
    repaired text); :meth:`to_decoded` maps them to ``decoded.decoded`` when
    records are emitted.
    """

    decoded: DecodedFile
    articles: tuple[Article, ...]
    removed: tuple[Removal, ...]

    @property
    def name(self) -> str:
        return self.decoded.name

    def to_decoded(self, start: int, end: int) -> tuple[int, int]:
        """Map a span of the repaired text to the decoded text."""
        return self.decoded.offsets.span_to_source(start, end)

    def removal(self, start: int, end: int, reason: str, rule: str, replacement: str = "") -> Removal:
        """A removal record for a span of the repaired text, pointing at the raw text."""
        ds, de = self.to_decoded(start, end)
        return Removal(self.name, ds, de, self.decoded.decoded[ds:de], reason, rule, replacement)

    def remap(self, rem: Removal) -> Removal:
        """Map a removal made on the repaired text to the decoded text."""
        return self.removal(rem.start, rem.end, rem.reason, rem.rule)


# (file index, article index, block index) -> cuts in that block's text
BlockRef = tuple[int, int, int]
Labels = dict[BlockRef, list[Cut]]


@dataclass
class CleanResult:
    """What a run produced: canonical records plus the report."""

    articles: list[CanonicalArticle]
    report: Report
    files: list[FileArticles] = field(default_factory=list, repr=False)

    def records(self) -> list[dict[str, Any]]:
        """The records as JSON-ready dicts, exactly as ``articles.jsonl`` holds them."""
        return [a.to_dict() for a in self.articles]


def segment_file(decoded: DecodedFile, config: CleanConfig) -> FileArticles:
    """Split a decoded file into articles (offsets into its repaired text)."""
    seg = segment_text(decoded.text, decoded.name, config.segment)
    return FileArticles(decoded, tuple(replace(a, file=decoded.name) for a in seg.articles), seg.removed)


@dataclass(frozen=True)
class _CleanArticle:
    """An article after its cuts, ready to become (part of) a record."""

    fa: FileArticles
    article: Article
    paragraphs: tuple[tuple[str, tuple[Block, ...]], ...]
    removed: tuple[Removal, ...]

    @property
    def body(self) -> str:
        return "\n".join(t for t, _ in self.paragraphs)


def _clean_article(fa: FileArticles, fi: int, article: Article, labels: Labels) -> _CleanArticle:
    """Apply the cuts of every block; group blocks into output paragraphs
    (sentence runs of one long paragraph are blocks for matching but one
    paragraph for readers)."""
    paragraphs: list[tuple[str, tuple[Block, ...]]] = []
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
            ptext, blocks = paragraphs[-1]
            paragraphs[-1] = (ptext + text, blocks + (block,))
        else:
            paragraphs.append((text, (block,)))
    return _CleanArticle(fa, article, tuple(paragraphs), tuple(removed))


def article_id(text: str) -> str:
    """A stable id from canonical content: the same text always gets the same id.

    The hash is taken over the match key, so script, width and punctuation
    variants of one text share an id.

    >>> article_id("同志们:今天开会。") == article_id("同志們：今天開會。")
    True
    """
    return "a-" + hashlib.blake2b(match_key(text).encode("utf-8"), digest_size=10).hexdigest()


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


class Cleaner:
    """Feeds inputs through decode → repair → segment, then builds records.

    >>> c = Cleaner()
    >>> c.add_text("doc-1", "工作会议讲话\\n同志们:\\n今天我们召开全市工作会议,部署下半年的工作任务。")
    1
    >>> [a.title for a in c.finish().articles]
    ['工作会议讲话']
    """

    def __init__(self, config: CleanConfig | None = None) -> None:
        self.config = config or CleanConfig()
        self.report = Report()
        self.files: list[FileArticles] = []
        self.counters: Counter[str] = Counter()
        self._labeler: BoilerplateLabeler | None = None

    # -- feeding ---------------------------------------------------------
    def add_bytes(self, name: str, data: bytes) -> int:
        """Decode, repair and segment one file; return the number of articles found.

        A file that cannot be processed is recorded in the report with its
        problem and yields 0 articles; nothing raises for bad content.
        """
        try:
            decoded = decode_bytes(data, name, self.config)
        except InputError as exc:
            self.add_problem(name, exc.problem, size=len(data))
            return 0
        if name.lower().endswith(HTML_SUFFIXES) or looks_like_html(decoded.decoded):
            decoded = self._from_html(decoded)
        return self._add_decoded(decoded)

    def _from_html(self, page: DecodedFile) -> DecodedFile:
        """Reduce an HTML page to its main text before anything else.

        From here on the page's "decoded text" is the extracted text: record
        offsets index it (the HTML source has no spans for extracted
        paragraphs), and the record's repairs say so.
        """
        extracted = extract_html(page.decoded)
        repaired = repair_text(extracted.text, self.config.repair)
        meta = dict(page.meta)
        for key in ("author", "date"):
            if extracted.meta.get(key):
                meta[key] = extracted.meta[key]
        if extracted.title:
            meta["page_title"] = extracted.title
        self.counters["html_pages"] += 1
        return DecodedFile(
            name=page.name,
            encoding=page.encoding,
            decoded=extracted.text,
            text=repaired.text,
            offsets=repaired.offsets,
            repairs=(
                *[r for r in page.repairs if r.start is None],
                Repair("html", f"main text extracted with {extracted.extractor}; offsets index the extracted text"),
                *repaired.repairs,
            ),
            problems=page.problems + repaired.problems,
            confidence=page.confidence,
            size=page.size,
            meta=meta,
        )

    def add_text(self, name: str, text: str, meta: Mapping[str, Any] | None = None) -> int:
        """Repair and segment text that needs no charset decoding (JSONL input)."""
        if not text.strip():
            self.add_problem(name, Problem("empty", f"{name}: text is empty"), size=0)
            return 0
        repaired = repair_text(text, self.config.repair)
        decoded = DecodedFile(
            name=name,
            encoding="text",
            decoded=text,
            text=repaired.text,
            offsets=repaired.offsets,
            repairs=repaired.repairs,
            problems=repaired.problems,
            size=len(text.encode("utf-8", "surrogatepass")),
            meta=dict(meta or {}),
        )
        return self._add_decoded(decoded)

    def add_ref(self, ref: InputRef) -> int:
        """Read and add one planned input (file or archive member)."""
        try:
            data = read_input(ref, self.config.input)
        except InputError as exc:
            self.add_problem(ref.name, exc.problem, size=ref.size or 0)
            return 0
        return self.add_bytes(ref.name, data)

    def add_problem(self, name: str, problem: Problem, size: int = 0) -> None:
        """Record an input that could not be processed at all."""
        self.report.add_file(FileReport(file=name, status="error", bytes=size, problems=(problem,)))

    def _add_decoded(self, decoded: DecodedFile) -> int:
        found = segment_file(decoded, self.config)
        problems = list(decoded.problems)
        if not found.articles:
            problems.append(Problem("no-articles", f"{decoded.name}: no article text found"))
        self.files.append(found)
        self.report.add_file(
            FileReport(
                file=decoded.name,
                status="ok" if found.articles else "empty",
                bytes=decoded.size,
                encoding=decoded.encoding,
                confidence=decoded.confidence,
                articles=len(found.articles),
                repairs=decoded.repairs,
                problems=tuple(problems),
            )
        )
        return len(found.articles)

    # -- labelling --------------------------------------------------------
    def label(self, files: list[FileArticles]) -> Labels:
        """Decide the cuts for every block of every file: the rule pack, then
        repetition across unrelated articles (see :mod:`cleaner.boilerplate`)."""
        if self._labeler is None:
            self._labeler = BoilerplateLabeler(self.config.boilerplate)
        labels = self._labeler.label([fa.articles for fa in files])
        for name, n in self._labeler.counters.items():
            self.counters[name] = n
        return labels

    # -- output ----------------------------------------------------------
    def finish(self) -> CleanResult:
        """Build canonical records from everything added so far."""
        labels = self.label(self.files)
        records = build_records(self.files, self.config, labels)
        self.report.records = len(records)
        self.report.counters = dict(sorted(self.counters.items()))
        by_file: dict[str, Counter[str]] = {}
        for rec in records:
            for rem in rec.removed:
                by_file.setdefault(rem.file, Counter())[rem.reason] += 1
        for fr in self.report.files:
            fr.removed.clear()
            fr.removed.update(by_file.get(fr.file, {}))
        return CleanResult(records, self.report, list(self.files))


def build_records(files: list[FileArticles], config: CleanConfig, labels: Labels | None = None) -> list[CanonicalArticle]:
    """One canonical record per distinct article, after the cuts in ``labels``.

    Until near-duplicate merging exists, only articles whose cleaned match
    keys are identical share a record (they would share an id anyway); every
    copy is listed in ``sources``. The record's text comes from the copy that
    sorts first by (file, index), and records are ordered by their first
    source, so neither depends on input order.
    """
    groups: dict[str, list[_CleanArticle]] = {}
    outside: dict[tuple[str, int], list[Removal]] = {}
    for fi, fa in enumerate(files):
        cleaned = [_clean_article(fa, fi, art, labels or {}) for art in fa.articles]
        kept = [ca for ca in cleaned if ca.paragraphs]
        if not kept:
            continue
        # Spans outside every article (a preamble), and articles that were
        # all noise, are reported on the kept article that follows them (or
        # the last one), so each removed character is reported exactly once.
        def owner(pos: int) -> int:
            return next((ca.article.index for ca in kept if ca.article.start >= pos), kept[-1].article.index)

        for rem in fa.removed:
            outside.setdefault((fa.name, owner(rem.end)), []).append(fa.remap(rem))
        for ca in cleaned:
            if not ca.paragraphs:
                outside.setdefault((fa.name, owner(ca.article.end)), []).extend(ca.removed)
        for ca in kept:
            groups.setdefault(article_id(ca.body), []).append(ca)
    records = [
        _record(aid, sorted(members, key=lambda m: (m.article.file, m.article.index)), outside, config)
        for aid, members in groups.items()
    ]
    # Output order follows the sources, not the order inputs were given in.
    records.sort(key=lambda r: (r.sources[0].file, r.sources[0].article))
    return records


def _record(
    aid: str,
    members: list[_CleanArticle],
    outside: dict[tuple[str, int], list[Removal]],
    config: CleanConfig,
) -> CanonicalArticle:
    first = members[0]
    script = config.output.script
    texts = [convert_script(t, script) for t, _ in first.paragraphs]
    paragraphs: list[Paragraph] = []
    pos = 0
    for i, text in enumerate(texts):
        spans: list[SourceSpan] = []
        for m in members:
            # Identical keys mean identical paragraph structure: paragraph i of
            # every copy supports paragraph i of the canonical text.
            if i < len(m.paragraphs):
                blocks = m.paragraphs[i][1]
                ds, de = m.fa.to_decoded(blocks[0].start, blocks[-1].end)
                spans.append(SourceSpan(m.fa.name, ds, de))
        paragraphs.append(Paragraph(pos, pos + len(text), tuple(spans)))
        pos += len(text) + 1
    removed: list[Removal] = []
    repairs: list[dict[str, Any]] = []
    meta: dict[str, Any] = {}
    for m in members:
        removed.extend(outside.get((m.fa.name, m.article.index), []))
        removed.extend(m.removed)
        repairs.extend(_file_repairs(m.fa, m.article))
    for m in reversed(members):
        meta.update(m.fa.decoded.meta)
        meta.update(m.article.meta)
    return CanonicalArticle(
        id=aid,
        title=convert_script(first.article.title or first.fa.decoded.meta.get("page_title", ""), script),
        text="\n".join(texts),
        sources=tuple(_source(m) for m in members),
        paragraphs=tuple(paragraphs),
        removed=tuple(sorted(set(removed), key=lambda r: (r.file, r.start, r.end))),
        repairs=tuple(repairs),
        meta=meta,
    )


def _source(m: _CleanArticle) -> Source:
    art = m.article
    start, end = m.fa.to_decoded(art.start, art.end)
    return Source(m.fa.name, art.index, start, end, _source_title(m.fa, art), 1.0)


def _source_title(fa: FileArticles, art: Article) -> str:
    """The source's own heading as the file spells it, marker included."""
    if art.title_span is None:
        return art.title
    text = fa.decoded.text
    line_start = text.rfind("\n", 0, art.title_span.start) + 1
    line_end = text.find("\n", art.title_span.end)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    return line.strip() or art.title


def clean_files(
    paths: Iterable[str],
    config: CleanConfig | None = None,
    on_progress: Callable[[InputRef], None] | None = None,
) -> CleanResult:
    """Clean files, folders and archives; return records and report.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a.txt").write_text("讲话\\n同志们:\\n今天我们召开全市工作会议,部署下半年的工作任务。", encoding="utf-8")
    >>> len(clean_files([str(d)]).articles)
    1
    """
    cleaner = Cleaner(config)
    for ref in plan_inputs(paths, cleaner.config.input):
        cleaner.add_ref(ref)
        if on_progress is not None:
            on_progress(ref)
    return cleaner.finish()


def clean_texts(
    records: Iterable[Mapping[str, Any]],
    config: CleanConfig | None = None,
) -> CleanResult:
    """Clean ``{"id", "text"}`` records (the JSONL contract) already in memory.

    >>> res = clean_texts([{"id": "r1", "text": "讲话\\n同志们:\\n今天我们召开全市工作会议,部署下半年的工作任务。"}])
    >>> res.articles[0].sources[0].file
    'r1'
    """
    cleaner = Cleaner(config)
    for n, rec in enumerate(records, start=1):
        rid = str(rec.get("id", f"record-{n}"))
        text = rec.get("text")
        if not isinstance(text, str):
            cleaner.add_problem(rid, Problem("invalid-record", f'{rid}: record has no string "text"'))
            continue
        cleaner.add_text(rid, text, rec.get("meta") if isinstance(rec.get("meta"), Mapping) else None)
    return cleaner.finish()


__all__ = ["Cleaner", "CleanResult", "FileArticles", "article_id", "build_records", "clean_files", "clean_texts", "segment_file"]
