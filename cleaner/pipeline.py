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

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .boilerplate import BoilerplateLabeler
from .config import CleanConfig
from .decode import decode_bytes
from .emit import RecordBuilder, article_id
from .errors import InputError
from .fixes import repair_text
from .html import extract_html, looks_like_html
from .inputs import InputRef, plan_inputs, read_input
from .report import FileReport, Report
from .segment import segment_text
from .types import CanonicalArticle, DecodedFile, FileArticles, Labels, Problem, Repair


HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".shtml")


@dataclass
class CleanResult:
    """What a run produced: canonical records plus the report."""

    articles: list[CanonicalArticle]
    report: Report
    files: list[FileArticles] = field(default_factory=list, repr=False)
    # Boilerplate learned from repetition in this run: templated block key ->
    # rule id. Pass it as ``known_boilerplate`` to a later Cleaner to apply it.
    learned: dict[str, str] = field(default_factory=dict)

    def records(self) -> list[dict[str, Any]]:
        """The records as JSON-ready dicts, exactly as ``articles.jsonl`` holds them."""
        return [a.to_dict() for a in self.articles]


def segment_file(decoded: DecodedFile, config: CleanConfig) -> FileArticles:
    """Split a decoded file into articles (offsets into its repaired text)."""
    seg = segment_text(decoded.text, decoded.name, config.segment)
    return FileArticles(decoded, tuple(replace(a, file=decoded.name) for a in seg.articles), seg.removed)


class Cleaner:
    """Feeds inputs through decode → repair → segment, then builds records.

    >>> c = Cleaner()
    >>> c.add_text("doc-1", "工作会议讲话\\n同志们:\\n今天我们召开全市工作会议,部署下半年的工作任务。")
    1
    >>> [a.title for a in c.finish().articles]
    ['工作会议讲话']
    """

    def __init__(self, config: CleanConfig | None = None, known_boilerplate: Mapping[str, str] | None = None) -> None:
        """``known_boilerplate``: learned patterns from earlier runs (see
        :attr:`CleanResult.learned`), applied to these inputs too."""
        self.config = config or CleanConfig()
        self.known_boilerplate = dict(known_boilerplate or {})
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
            self._labeler = BoilerplateLabeler(self.config.boilerplate, known=self.known_boilerplate)
        labels = self._labeler.label([fa.articles for fa in files])
        for name, n in self._labeler.counters.items():
            self.counters[name] = n
        return labels

    # -- output ----------------------------------------------------------
    def finish(self) -> CleanResult:
        """Build canonical records from everything added so far."""
        labels = self.label(self.files)
        builder = RecordBuilder(self.config)
        records = builder.build(self.files, labels)
        self.counters.update(builder.counters)
        self.report.records = len(records)
        self.report.counters = dict(sorted(self.counters.items()))
        by_file: dict[str, Counter[str]] = {}
        for rec in records:
            for rem in rec.removed:
                by_file.setdefault(rem.file, Counter())[rem.reason] += 1
        for fr in self.report.files:
            fr.removed.clear()
            fr.removed.update(by_file.get(fr.file, {}))
        learned = dict(self._labeler.learned) if self._labeler is not None else {}
        return CleanResult(records, self.report, list(self.files), learned)


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


__all__ = ["Cleaner", "CleanResult", "FileArticles", "article_id", "clean_files", "clean_texts", "segment_file"]
