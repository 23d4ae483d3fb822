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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from operator import attrgetter
from typing import Any

from .boilerplate import BoilerplateLabeler
from .config import CleanConfig
from .decode import decode_bytes
from .emit import RecordBuilder, article_id
from .errors import InputError
from .fixes import repair_text
from .html import extract_html, looks_like_html
from .inputs import InputRef, plan_inputs, read_input
from .mojibake import clear_line_caches
from .normalize import match_key, preload_conversions
from .parallel import long_lived, map_ordered, refreeze_long_lived, resolve_workers
from .report import FileReport, Report
from .rules import RulePack, default_pack
from .segment import segment_text
from .types import CanonicalArticle, DecodedFile, FileArticles, Labels, Problem, Repair


HTML_SUFFIXES = (".html", ".htm", ".xhtml", ".shtml")
_FILE_AND_REASON = attrgetter("file", "reason")  # a removal's key in the report's per-file counts
# Also takes the repair paths (GBK and Latin-1 mojibake), which build their
# own tables on first use.
_WARM_UP = "工作会议讲话\n同志们:\n今天我们召开全市工作会议,部署下半年的工作任务。(本文来源于网络)\n鍒氭墠璇寸殑\ncafÃ© 20XX年\r\n"

# What next() gives once Cleaner._later_stage_loads is done (its steps
# yield None, so None cannot tell the end).
_LOADED = object()


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
        # Under the long-lived hold (see parallel.hold_long_lived), as the run
        # was: its files and records are all still alive, and the first burst
        # of allocations after the run otherwise sets off a full collection
        # over them (50 MiB corpus: 0.225 s for this call, 0.045 s held).
        with long_lived():
            return [a.to_dict() for a in self.articles]


def segment_file(decoded: DecodedFile, config: CleanConfig) -> FileArticles:
    """Split a decoded file into articles (offsets into its repaired text)."""
    seg = segment_text(decoded.text, decoded.name, config.segment)
    return FileArticles(decoded, tuple(replace(a, file=decoded.name) for a in seg.articles), seg.removed)


@dataclass(frozen=True)
class Prepared:
    """One input after the per-file stage (decode, repair, segment): what
    :meth:`Cleaner.add_prepared` keeps. Built by :func:`prepare_bytes` or
    :func:`prepare_text`, in this process or a worker."""

    report: FileReport
    found: FileArticles | None = None
    counters: tuple[tuple[str, int], ...] = ()


def prepare_bytes(name: str, data: bytes, config: CleanConfig) -> Prepared:
    """Decode, repair and segment one file. Bad content never raises: the
    report says what was wrong.

    >>> p = prepare_bytes("a.txt", "讲话\\n同志们:\\n今天我们召开全市工作会议,部署下半年的工作任务。".encode("gb18030"), CleanConfig())
    >>> p.report.encoding, len(p.found.articles)
    ('gb18030', 1)
    """
    try:
        decoded = decode_bytes(data, name, config)
    except InputError as exc:
        return Prepared(FileReport(file=name, status="error", bytes=len(data), problems=(exc.problem,)))
    counters: tuple[tuple[str, int], ...] = ()
    if name.lower().endswith(HTML_SUFFIXES) or looks_like_html(decoded.decoded):
        decoded = _from_html(decoded, config)
        counters = (("html_pages", 1),)
    return replace(_segmented(decoded, config), counters=counters)


def prepare_text(name: str, text: str, config: CleanConfig, meta: Mapping[str, Any] | None = None) -> Prepared:
    """Repair and segment text that needs no charset decoding (JSONL input).

    >>> prepare_text("r1", "", CleanConfig()).report.status
    'error'
    """
    if not text.strip():
        return Prepared(FileReport(file=name, status="error", bytes=0, problems=(Problem("empty", f"{name}: text is empty"),)))
    repaired = repair_text(text, config.repair)
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
    return _segmented(decoded, config)


def _as_utf8(items: Iterable[tuple[str, str, Any, Any]]) -> Iterator[tuple[str, str, Any, Any]]:
    for kind, name, payload, meta in items:
        yield ("utf8", name, payload.encode("utf-8", "surrogatepass"), meta) if kind == "text" else (kind, name, payload, meta)


def _prepare_item(item: tuple[str, str, Any, Any], config: CleanConfig) -> Prepared:
    kind, name, payload, meta = item
    if kind == "bytes":
        return prepare_bytes(name, payload, config)
    if kind == "utf8":
        payload = payload.decode("utf-8", "surrogatepass")
    return prepare_text(name, payload, config, meta)


def _from_html(page: DecodedFile, config: CleanConfig) -> DecodedFile:
    """Reduce an HTML page to its main text before anything else.

    From here on the page's "decoded text" is the extracted text: record
    offsets index it (the HTML source has no spans for extracted
    paragraphs), and the record's repairs say so.
    """
    extracted = extract_html(page.decoded)
    repaired = repair_text(extracted.text, config.repair)
    meta = dict(page.meta)
    for key in ("author", "date"):
        if extracted.meta.get(key):
            meta[key] = extracted.meta[key]
    if extracted.title:
        meta["page_title"] = extracted.title
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


def _segmented(decoded: DecodedFile, config: CleanConfig) -> Prepared:
    found = segment_file(decoded, config)
    problems = list(decoded.problems)
    if not found.articles:
        problems.append(Problem("no-articles", f"{decoded.name}: no article text found"))
    report = FileReport(
        file=decoded.name,
        status="ok" if found.articles else "empty",
        bytes=decoded.size,
        encoding=decoded.encoding,
        confidence=decoded.confidence,
        articles=len(found.articles),
        repairs=decoded.repairs,
        problems=tuple(problems),
    )
    return Prepared(report, found)


class Cleaner:
    """Feeds inputs through decode → repair → segment, then builds records.

    >>> c = Cleaner()
    >>> c.add_text("doc-1", "工作会议讲话\\n同志们:\\n今天我们召开全市工作会议,部署下半年的工作任务。")
    1
    >>> [a.title for a in c.finish().articles]
    ['工作会议讲话']
    """

    def __init__(
        self,
        config: CleanConfig | None = None,
        known_boilerplate: Mapping[str, str] | None = None,
        *,
        workers: int = 1,
    ) -> None:
        """``known_boilerplate``: learned patterns from earlier runs (see
        :attr:`CleanResult.learned`), applied to these inputs too.
        ``workers``: processes for the batch verbs (:meth:`add_refs`,
        :meth:`add_texts`) and for :meth:`finish`; 0 means every core. The
        default, 1, never starts a process (a server's request handler)."""
        self.config = config or CleanConfig()
        self.known_boilerplate = dict(known_boilerplate or {})
        self.workers = workers
        self.report = Report()
        self.files: list[FileArticles] = []
        self.counters: Counter[str] = Counter()
        self._labeler: BoilerplateLabeler | None = None

    # -- feeding ---------------------------------------------------------
    def add_prepared(self, prepared: Prepared) -> int:
        """Keep one input's per-file result; return its number of articles."""
        self.report.add_file(prepared.report)
        for name, n in prepared.counters:
            self.counters[name] += n
        if prepared.found is None:
            return 0
        self.files.append(prepared.found)
        if len(self.files) % 64 == 0:
            refreeze_long_lived()  # (inside _add_many's hold)
        return len(prepared.found.articles)

    def add_bytes(self, name: str, data: bytes) -> int:
        """Decode, repair and segment one file; return the number of articles found.

        A file that cannot be processed is recorded in the report with its
        problem and yields 0 articles; nothing raises for bad content.
        """
        return self.add_prepared(prepare_bytes(name, data, self.config))

    def add_text(self, name: str, text: str, meta: Mapping[str, Any] | None = None) -> int:
        """Repair and segment text that needs no charset decoding (JSONL input)."""
        return self.add_prepared(prepare_text(name, text, self.config, meta))

    def add_ref(self, ref: InputRef) -> int:
        """Read and add one planned input (file or archive member)."""
        try:
            data = read_input(ref, self.config.input)
        except InputError as exc:
            self.add_problem(ref.name, exc.problem, size=ref.size or 0)
            return 0
        return self.add_bytes(ref.name, data)

    def add_refs(self, refs: Iterable[InputRef], on_progress: Callable[[str], None] | None = None) -> int:
        """:meth:`add_ref` for many inputs, the per-file stage on ``workers``
        processes (inputs are read here, in order; results kept in order).
        ``on_progress(name)`` is called as each input is done."""

        def items() -> Iterable[tuple[str, str, Any, Any]]:
            for ref in refs:
                try:
                    data = read_input(ref, self.config.input)
                except InputError as exc:
                    yield ("problem", ref.name, exc.problem, ref.size or 0)
                    continue
                yield ("bytes", ref.name, data, None)

        return self._add_many(items(), on_progress)

    def add_texts(
        self,
        records: Iterable[tuple[str, str, Mapping[str, Any] | None]],
        on_progress: Callable[[str], None] | None = None,
    ) -> int:
        """:meth:`add_text` for many ``(name, text, meta)`` records, on
        ``workers`` processes, results kept in input order."""
        return self._add_many((("text", n, t, m) for n, t, m in records), on_progress)

    def _add_many(self, items: Iterable[tuple[str, str, Any, Any]], on_progress: Callable[[str], None] | None) -> int:
        problems: list[tuple[str, Problem, int]] = []

        def work() -> Iterable[tuple[str, str, Any, Any]]:
            for item in items:
                if item[0] == "problem":
                    problems.append((item[1], item[2], item[3]))
                    continue
                yield item

        found = 0
        work_fn = partial(_prepare_item, config=self.config)
        todo: Iterable[tuple[str, str, Any, Any]] = work()
        if resolve_workers(self.workers) > 1:
            # Texts travel as UTF-8 bytes: pickling a str would store its
            # UTF-8 form inside the caller's str for good (a copy of every
            # text the caller keeps; see cluster.utf8_text_features).
            todo = _as_utf8(todo)
            # Load OpenCC, the rule pack and their tables here, once, so the
            # forked workers inherit them instead of each loading its own
            # (the pack alone is 0.2 s; segmentation reads it only for some
            # texts, so the warm-up text alone would not load it).
            prepare_text("warm-up", _WARM_UP, self.config)
            default_pack()
        # Between results, this process loads what labelling and merging
        # need, a step per result (not at once: its helper's queue could run
        # dry meanwhile), so that labelling starts with them loaded.
        preload = self._later_stage_loads() if resolve_workers(self.workers) > 1 else None
        with long_lived():  # the files kept (see iter_records)
            for prepared in map_ordered(work_fn, todo, workers=self.workers, chunk_size=8):
                while problems:  # inputs that failed to read, in their turn
                    name, problem, size = problems.pop(0)
                    self.add_problem(name, problem, size)
                    if on_progress is not None:
                        on_progress(name)
                found += self.add_prepared(prepared)
                if on_progress is not None:
                    on_progress(prepared.report.file)
                if preload is not None and next(preload, _LOADED) is _LOADED:
                    preload = None
        for name, problem, size in problems:
            self.add_problem(name, problem, size)
            if on_progress is not None:
                on_progress(name)
        return found

    def add_problem(self, name: str, problem: Problem, size: int = 0) -> None:
        """Record an input that could not be processed at all."""
        self.report.add_file(FileReport(file=name, status="error", bytes=size, problems=(problem,)))

    def _later_stage_loads(self) -> Iterator[None]:
        """Load what labelling and merging build on first use, one step
        (0.05-0.2 s) per ``next``: the rule pack, its scanner tables, the
        match-key table and the script conversions. Only a warm-up: a problem
        here (a rule file that cannot be read) is raised where it was, by
        :meth:`label`."""
        try:
            cfg = self.config.boilerplate
            pack = RulePack.load(cfg.rules_path) if cfg.rules_path else default_pack()  # cached: the labeler's
            yield
            pack._scan_setup()
        except (OSError, ValueError):
            return
        yield
        match_key("预热")
        yield
        preload_conversions()

    # -- labelling --------------------------------------------------------
    def label(self, files: list[FileArticles], on_file: Callable[[int, int], None] | None = None) -> Labels:
        """Decide the cuts for every block of every file: the rule pack, then
        repetition across unrelated articles (see :mod:`cleaner.boilerplate`).
        ``on_file(done, total)`` reports the rules' pass over the files."""
        if self._labeler is None:
            self._labeler = BoilerplateLabeler(self.config.boilerplate, known=self.known_boilerplate, workers=self.workers)
        labels = self._labeler.label([fa.articles for fa in files], on_file)
        for name, n in self._labeler.counters.items():
            self.counters[name] = n
        return labels

    # -- output ----------------------------------------------------------
    def iter_records(
        self,
        on_cluster: Callable[[int, int], None] | None = None,
        on_phase: Callable[[str], None] | None = None,
        on_step: Callable[[int, int | None], None] | None = None,
    ) -> Iterator[CanonicalArticle]:
        """Label, cluster and merge everything added so far; yield records
        as each cluster is merged (clusters in the order of their first
        member), so they can be written as they come. Once the last is out,
        :attr:`report` is complete.

        Progress: ``on_phase(name)`` announces ``labelling``, ``clustering``
        and ``merging`` as each begins; ``on_step(done, total)`` counts the
        current phase's units as they are done, starting with 0 as each
        phase begins: files (labelling's rules), articles (sketched for
        clustering; ``total`` None until the last, as cleaning may drop some)
        and clusters (merged). ``on_cluster(done, total)`` reports merging
        alone.

        >>> c = Cleaner()
        >>> _ = c.add_text("d", "讲话\\n同志们:\\n今天我们召开全市工作会议,部署下半年的工作任务。")
        >>> steps = []
        >>> _ = list(c.iter_records(on_phase=steps.append, on_step=lambda d, t: steps.append((d, t))))
        >>> steps
        ['labelling', (0, 1), (1, 1), 'clustering', (0, None), (1, 1), 'merging', (0, 1), (1, 1)]
        """
        def on_merged(done: int, total: int) -> None:
            if on_step is not None:
                on_step(done, total)
            if on_cluster is not None:
                on_cluster(done, total)

        if on_phase is not None:
            on_phase("labelling")
        clear_line_caches()  # repairing is done: no need to hold them through the rest
        # Files, labels and clusters live until the records are out: keep
        # them out of the cyclic GC's full collections (a quarter of a large
        # run's time otherwise; see parallel.hold_long_lived).
        with long_lived():
            labels = self.label(self.files, on_step)
            refreeze_long_lived()
            builder = RecordBuilder(self.config)
            by_file: dict[str, Counter[str]] = {}
            n = 0
            for rec in builder.iter_records(
                self.files, labels, workers=self.workers, on_cluster=on_merged, on_phase=on_phase, on_article=on_step
            ):
                n += 1
                # Counted in C, then per file: a record holds every removal
                # of every copy (24,000 at 200 MiB), and counting them one
                # by one here was 0.6 s of the run's serial time there.
                for (file, reason), k in Counter(map(_FILE_AND_REASON, rec.removed)).items():
                    counts = by_file.get(file)
                    if counts is None:  # (setdefault would make a Counter per pair: 1.6x slower)
                        counts = by_file[file] = Counter()
                    counts[reason] += k
                yield rec
        self.counters.update(builder.counters)
        self.report.records = n
        self.report.counters = dict(sorted(self.counters.items()))
        for fr in self.report.files:
            fr.removed.clear()
            fr.removed.update(by_file.get(fr.file, {}))

    @property
    def learned(self) -> dict[str, str]:
        """Boilerplate learned from repetition so far (see :attr:`CleanResult.learned`)."""
        return dict(self._labeler.learned) if self._labeler is not None else {}

    def finish(self, on_cluster: Callable[[int, int], None] | None = None) -> CleanResult:
        """Build canonical records from everything added so far, in the order
        :meth:`iter_records` makes them (which does not depend on input order)."""
        records = list(self.iter_records(on_cluster))
        return CleanResult(records, self.report, list(self.files), self.learned)


def clean_files(
    paths: Iterable[str],
    config: CleanConfig | None = None,
    on_progress: Callable[[str], None] | None = None,
    *,
    workers: int = 0,
) -> CleanResult:
    """Clean files, folders and archives; return records and report.

    ``workers``: processes to use (0: every core; 1: none started).
    ``on_progress(name)`` is called as each input is done.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "a.txt").write_text("讲话\\n同志们:\\n今天我们召开全市工作会议,部署下半年的工作任务。", encoding="utf-8")
    >>> len(clean_files([str(d)]).articles)
    1
    """
    cleaner = Cleaner(config, workers=workers)
    cleaner.add_refs(plan_inputs(paths, cleaner.config.input), on_progress)
    return cleaner.finish()


def clean_texts(
    records: Iterable[Mapping[str, Any]],
    config: CleanConfig | None = None,
    *,
    workers: int = 0,
) -> CleanResult:
    """Clean ``{"id", "text"}`` records (the JSONL contract) already in memory.

    ``workers``: processes to use (0: every core; 1: none started).

    >>> res = clean_texts([{"id": "r1", "text": "讲话\\n同志们:\\n今天我们召开全市工作会议,部署下半年的工作任务。"}])
    >>> res.articles[0].sources[0].file
    'r1'
    """
    cleaner = Cleaner(config, workers=workers)

    def texts() -> Iterable[tuple[str, str, Mapping[str, Any] | None]]:
        for n, rec in enumerate(records, start=1):
            rid = str(rec.get("id", f"record-{n}"))
            text = rec.get("text")
            if not isinstance(text, str):
                cleaner.add_problem(rid, Problem("invalid-record", f'{rid}: record has no string "text"'))
                continue
            meta = rec.get("meta")
            yield rid, text, meta if isinstance(meta, Mapping) else None

    cleaner.add_texts(texts())
    return cleaner.finish()


__all__ = ["Cleaner", "CleanResult", "Prepared", "prepare_bytes", "prepare_text", "FileArticles", "article_id", "clean_files", "clean_texts", "segment_file"]
