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
from .types import (
    Article,
    Block,
    CanonicalArticle,
    DecodedFile,
    Paragraph,
    Problem,
    Removal,
    Source,
    SourceSpan,
    Span,
)


@dataclass(frozen=True)
class FileArticles:
    """A decoded file and the articles found in it, offsets into ``decoded.decoded``."""

    decoded: DecodedFile
    articles: tuple[Article, ...]
    removed: tuple[Removal, ...]


@dataclass
class CleanResult:
    """What a run produced: canonical records plus the report."""

    articles: list[CanonicalArticle]
    report: Report
    files: list[FileArticles] = field(default_factory=list, repr=False)

    def records(self) -> list[dict[str, Any]]:
        """The records as JSON-ready dicts, exactly as ``articles.jsonl`` holds them."""
        return [a.to_dict() for a in self.articles]


def _map_block(block: Block, decoded: DecodedFile) -> Block:
    start, end = decoded.offsets.span_to_source(block.start, block.end)
    return replace(block, start=start, end=end)


def _map_removal(rem: Removal, decoded: DecodedFile) -> Removal:
    start, end = decoded.offsets.span_to_source(rem.start, rem.end)
    return replace(rem, file=decoded.name, start=start, end=end, text=decoded.decoded[start:end])


def _map_article(article: Article, decoded: DecodedFile) -> Article:
    start, end = decoded.offsets.span_to_source(article.start, article.end)
    title_span = article.title_span
    if title_span is not None:
        ts, te = decoded.offsets.span_to_source(title_span.start, title_span.end)
        title_span = replace(title_span, start=ts, end=te)
    header = tuple(
        Span(*decoded.offsets.span_to_source(h.start, h.end)) for h in article.header
    )
    return replace(
        article,
        file=decoded.name,
        start=start,
        end=end,
        title_span=title_span,
        header=header,
        blocks=tuple(_map_block(b, decoded) for b in article.blocks),
        removed=tuple(_map_removal(r, decoded) for r in article.removed),
    )


def segment_file(decoded: DecodedFile, config: CleanConfig) -> FileArticles:
    """Split a decoded file into articles with offsets into its decoded text."""
    seg = segment_text(decoded.text, decoded.name, config.segment)
    if decoded.offsets.is_identity:
        return FileArticles(decoded, tuple(replace(a, file=decoded.name) for a in seg.articles), seg.removed)
    return FileArticles(
        decoded,
        tuple(_map_article(a, decoded) for a in seg.articles),
        tuple(_map_removal(r, decoded) for r in seg.removed),
    )


def _paragraph_texts(article: Article) -> list[tuple[str, list[Block]]]:
    """Group blocks into output paragraphs: sentence runs of one long
    paragraph are blocks for matching but one paragraph for readers."""
    paragraphs: list[tuple[str, list[Block]]] = []
    for block in article.blocks:
        if paragraphs and block.continues:
            text, blocks = paragraphs[-1]
            paragraphs[-1] = (text + block.text, blocks + [block])
        else:
            paragraphs.append((block.text, [block]))
    return paragraphs


def article_id(text: str) -> str:
    """A stable id from canonical content: the same text always gets the same id.

    The hash is taken over the match key, so script, width and punctuation
    variants of one text share an id.

    >>> article_id("同志们:今天开会。") == article_id("同志們：今天開會。")
    True
    """
    return "a-" + hashlib.blake2b(match_key(text).encode("utf-8"), digest_size=10).hexdigest()


def _file_repairs(decoded: DecodedFile, article: Article) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in decoded.repairs:
        if r.start is not None and r.end is not None and (r.end <= article.start or r.start >= article.end):
            continue  # a local repair elsewhere in the file
        item: dict[str, Any] = {"file": decoded.name, "kind": r.kind, "detail": r.detail}
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
        return self._add_decoded(decoded)

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
                removed=Counter(r.reason for r in found.removed)
                + Counter(r.reason for a in found.articles for r in a.removed),
            )
        )
        return len(found.articles)

    # -- output ----------------------------------------------------------
    def finish(self) -> CleanResult:
        """Build canonical records from everything added so far."""
        records = build_records(self.files, self.config)
        self.report.records = len(records)
        return CleanResult(records, self.report, list(self.files))


def build_records(files: Iterable[FileArticles], config: CleanConfig) -> list[CanonicalArticle]:
    """One canonical record per distinct article.

    Until near-duplicate merging exists, only articles whose match keys are
    identical share a record (they would share an id anyway); every copy is
    listed in ``sources``. The record's text comes from the copy that sorts
    first by (file, index), so the choice does not depend on input order.
    """
    groups: dict[str, list[tuple[FileArticles, Article, list[tuple[str, list[Block]]]]]] = {}
    order: list[str] = []
    for fa in files:
        for art in fa.articles:
            paras = _paragraph_texts(art)
            body = "\n".join(t for t, _ in paras)
            aid = article_id(body)
            if aid not in groups:
                groups[aid] = []
                order.append(aid)
            groups[aid].append((fa, art, paras))

    records: list[CanonicalArticle] = []
    preamble_by_file = _preamble_owner(files)
    for aid in order:
        members = sorted(groups[aid], key=lambda m: (m[1].file, m[1].index))
        records.append(_record(aid, members, preamble_by_file, config))
    # Output order follows the sources, not the order inputs were given in.
    records.sort(key=lambda r: (r.sources[0].file, r.sources[0].article))
    return records


def _preamble_owner(files: Iterable[FileArticles]) -> dict[tuple[str, int], list[Removal]]:
    """Spans outside every article go with the article that follows them (or
    the last one), so each removed character is reported exactly once."""
    owner: dict[tuple[str, int], list[Removal]] = {}
    for fa in files:
        if not fa.articles:
            continue
        for rem in fa.removed:
            target = next((a for a in fa.articles if a.start >= rem.end), fa.articles[-1])
            owner.setdefault((fa.decoded.name, target.index), []).append(rem)
    return owner


def _record(
    aid: str,
    members: list[tuple[FileArticles, Article, list[tuple[str, list[Block]]]]],
    preamble_by_file: dict[tuple[str, int], list[Removal]],
    config: CleanConfig,
) -> CanonicalArticle:
    fa0, art0, paras0 = members[0]
    script = config.output.script
    texts = [convert_script(t, script) for t, _ in paras0]
    paragraphs: list[Paragraph] = []
    pos = 0
    for (_, blocks), text in zip(paras0, texts):
        spans: list[SourceSpan] = []
        for fa, art, paras in members:
            # Identical keys mean identical paragraph structure: paragraph i of
            # every copy supports paragraph i of the canonical text.
            i = len(paragraphs)
            if i < len(paras):
                bl = paras[i][1]
                spans.append(SourceSpan(art.file, bl[0].start, bl[-1].end))
        paragraphs.append(Paragraph(pos, pos + len(text), tuple(spans)))
        pos += len(text) + 1
    removed: list[Removal] = []
    repairs: list[dict[str, Any]] = []
    for fa, art, _ in members:
        removed.extend(preamble_by_file.get((fa.decoded.name, art.index), []))
        removed.extend(art.removed)
        repairs.extend(_file_repairs(fa.decoded, art))
    meta: dict[str, Any] = {}
    for fa, art, _ in reversed(members):
        meta.update(fa.decoded.meta)
        meta.update(art.meta)
    return CanonicalArticle(
        id=aid,
        title=convert_script(art0.title, script),
        text="\n".join(texts),
        sources=tuple(
            Source(art.file, art.index, art.start, art.end, _source_title(fa.decoded, art), 1.0)
            for fa, art, _ in members
        ),
        paragraphs=tuple(paragraphs),
        removed=tuple(sorted(removed, key=lambda r: (r.file, r.start, r.end))),
        repairs=tuple(repairs),
        meta=meta,
    )


def _source_title(decoded: DecodedFile, art: Article) -> str:
    """The source's own heading as the file spells it, marker included."""
    if art.title_span is None:
        return art.title
    line_start = decoded.decoded.rfind("\n", 0, art.title_span.start) + 1
    line_end = decoded.decoded.find("\n", art.title_span.end)
    line = decoded.decoded[line_start : line_end if line_end >= 0 else len(decoded.decoded)]
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
