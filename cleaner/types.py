"""Value types shared by every pipeline step.

All offsets are code-point offsets. Unless a docstring says otherwise, offsets
stored in these types point into a file's *decoded* text: the text right after
charset decoding and before any repair, so ``decoded[start:end]`` is the raw
passage a user can find in the file they gave us.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any


def _fields_row(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    """Every field of a ``cls`` instance, in order, as a tuple (built in C).
    ``cls`` must have at least two fields (``attrgetter`` of one name gives
    the value itself)."""
    names = [f.name for f in fields(cls)]
    assert len(names) >= 2, cls
    return attrgetter(*names)


def _pickled_by_fields(cls: type) -> type:
    """Class decorator (above ``@dataclass``): pickle instances as the
    constructor's arguments. A frozen, slotted dataclass otherwise pickles
    through the ``__getstate__``/``__setstate__`` dataclasses adds, which
    look the fields up for every instance: 20,000 cuts took 81-87 ms to
    dump and load that way, 30-36 ms this way. Labelling brings that many
    back from its helper at 50 MiB; reading brings repairs and removals.

    >>> import pickle
    >>> pickle.loads(pickle.dumps(Span(1, 4)))
    Span(start=1, end=4)
    """
    row = _fields_row(cls)

    def __reduce__(self: Any) -> tuple[Any, ...]:
        return (cls, row(self))

    cls.__reduce__ = __reduce__  # type: ignore[method-assign]
    return cls


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Span:
    """A half-open ``[start, end)`` range of code points.

    >>> Span(2, 5).length
    3
    """

    start: int
    end: int

    @property
    def length(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class Edit:
    """One replacement made by a repair: ``src[src_start:src_end]`` became
    ``dst[dst_start:dst_end]``."""

    src_start: int
    src_end: int
    dst_start: int
    dst_end: int


# OffsetMap's columns, in Edit's field order (how they are built, compared,
# pickled and turned back into edits).
_OFFSET_COLUMNS = ("_src_starts", "_src_ends", "_dst_starts", "_dst_ends")


class OffsetMap:
    """Maps offsets in a repaired text back to the text it was repaired from.

    Built from the non-overlapping, sorted edits a repair made. Positions
    outside any edit shift by the running length difference; a position inside
    an edited region maps to the start (or, with ``side="end"``, the end) of the
    source region, so a span never points into the middle of a replaced run.
    Immutable.

    >>> m = OffsetMap((Edit(2, 5, 2, 3),))   # "ab???cd" -> "ab?cd"
    >>> m.to_source(4), m.to_source(3, side="end")
    (6, 5)
    """

    # The edits as four integer columns, not one Edit each: a CRLF file has
    # an edit per line end (660k on the 50 MiB bench corpus), and as objects
    # they held 120 MB and took the main process 0.2-0.3 s to unpickle as
    # files came back from workers.
    __slots__ = ("_dst_ends", "_dst_starts", "_src_ends", "_src_starts")
    _src_starts: array[int]
    _src_ends: array[int]
    _dst_starts: array[int]
    _dst_ends: array[int]

    def __init__(self, edits: Iterable[Edit] = ()) -> None:
        es = tuple(edits)
        self._fill(
            [e.src_start for e in es], [e.src_end for e in es], [e.dst_start for e in es], [e.dst_end for e in es]
        )

    def _fill(self, *cols: Iterable[int]) -> None:
        for name, col in zip(_OFFSET_COLUMNS, cols):
            object.__setattr__(self, name, col if isinstance(col, array) else array("q", col))

    @classmethod
    def from_columns(
        cls, src_starts: Iterable[int], src_ends: Iterable[int], dst_starts: Iterable[int], dst_ends: Iterable[int]
    ) -> OffsetMap:
        """The map of the edits ``Edit(src_starts[i], src_ends[i],
        dst_starts[i], dst_ends[i])``, without making an Edit each.

        >>> OffsetMap.from_columns([2], [5], [2], [3]) == OffsetMap((Edit(2, 5, 2, 3),))
        True
        """
        m = cls.__new__(cls)
        m._fill(src_starts, src_ends, dst_starts, dst_ends)
        return m

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"OffsetMap is immutable: cannot set {name}")

    @property
    def edits(self) -> tuple[Edit, ...]:
        """The edits, made when asked for."""
        return tuple(map(Edit, *self._columns()))

    def to_source(self, pos: int, side: str = "start") -> int:
        """Map ``pos`` in the repaired text to the source text.

        ``side="start"`` maps a position inside a replaced run to the run's
        source start, ``side="end"`` to its source end, so mapped spans always
        cover whole replaced runs.
        """
        if side == "end":
            i = bisect.bisect_left(self._dst_starts, pos) - 1
            if i < 0:
                return pos
            end = self._dst_ends[i]
            return self._src_ends[i] if pos <= end else pos - end + self._src_ends[i]
        i = bisect.bisect_right(self._dst_starts, pos) - 1
        if i < 0:
            return pos
        end = self._dst_ends[i]
        return self._src_starts[i] if pos < end else pos - end + self._src_ends[i]

    def span_to_source(self, start: int, end: int) -> tuple[int, int]:
        """Map a ``[start, end)`` span of the repaired text to the source."""
        return self.to_source(start, "start"), self.to_source(end, "end")

    @property
    def is_identity(self) -> bool:
        return not self._dst_starts

    def _columns(self) -> tuple[array[int], ...]:
        return tuple(getattr(self, name) for name in _OFFSET_COLUMNS)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OffsetMap):
            return NotImplemented
        return self._columns() == other._columns()

    def __hash__(self) -> int:
        return hash(tuple(col.tobytes() for col in self._columns()))

    def __repr__(self) -> str:
        return f"OffsetMap(edits={self.edits!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Maps travel back from worker processes with every file: the four
        # columns as one block of bytes.
        return (_offset_map_from_columns, (b"".join(col.tobytes() for col in self._columns()),))


def _offset_map_from_columns(data: bytes) -> OffsetMap:
    """Inverse of :meth:`OffsetMap.__reduce__`.

    >>> import pickle
    >>> m = OffsetMap((Edit(2, 5, 2, 3), Edit(9, 11, 7, 8)))
    >>> pickle.loads(pickle.dumps(m)) == m
    True
    """
    flat = array("q")
    flat.frombytes(data)
    n = len(flat) // 4
    return OffsetMap.from_columns(flat[:n], flat[n : 2 * n], flat[2 * n : 3 * n], flat[3 * n :])


IDENTITY_MAP = OffsetMap()  # the map of a text no repair changed (immutable: shared)


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Repair:
    """One repair applied to a file: what kind, and a short detail.

    ``start``/``end`` are offsets into the decoded text when the repair is
    local (a line re-decoded), or ``None`` for a whole-file fact such as the
    detected encoding.
    """

    kind: str  # "encoding", "bom", "mojibake", "unicode", "newline", ...
    detail: str
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong with an input that a user must hear about."""

    code: str  # "missing", "empty", "binary", "undecodable", "unsafe-path", ...
    message: str
    line: int | None = None


@dataclass(frozen=True)
class DecodedFile:
    """A file after charset detection and repair.

    ``decoded`` is the charset-decoded text (what offsets in records point
    into); ``text`` is the repaired text the later steps read; ``offsets``
    maps positions in ``text`` back into ``decoded``.
    """

    name: str
    encoding: str
    decoded: str
    text: str
    offsets: OffsetMap = IDENTITY_MAP
    repairs: tuple[Repair, ...] = ()
    problems: tuple[Problem, ...] = ()
    confidence: float = 1.0
    size: int = 0  # bytes read
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph (or a sentence run of a long one) of an article.

    ``start``/``end`` are offsets into the text that was segmented; ``text``
    is the block's content with PDF line breaks rejoined.
    """

    start: int
    end: int
    text: str
    # True when this block is a later sentence run of the same paragraph as
    # the block before it: separate for matching, one paragraph for readers.
    continues: bool = False


@dataclass(frozen=True)
class Article:
    """One article found in a file.

    ``start``/``end`` cover the whole article including its marker and title
    lines; ``body`` is where the body text begins and ends; ``blocks`` hold the
    body only. ``title_span`` points at the title text itself.
    """

    file: str
    index: int
    start: int
    end: int
    title: str
    blocks: tuple[Block, ...]
    title_span: Span | None = None
    marker: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    removed: tuple["Removal", ...] = ()
    # Content spans of the non-body lines kept as marker/title/byline/date
    # (set by segment.py), so every character of the article is accounted for.
    header: tuple[Span, ...] = ()

    @property
    def text(self) -> str:
        return "\n".join(b.text for b in self.blocks)


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Cut:
    """A decision to remove ``[start, end)`` of a block's text (offsets into
    ``Block.text``), optionally putting ``replacement`` in its place.

    >>> Cut(3, 9, "watermark", "ownership-claim").replacement
    ''
    """

    start: int
    end: int
    reason: str
    rule: str
    replacement: str = ""


@_pickled_by_fields
@dataclass(frozen=True, slots=True)
class Removal:
    """A span left out of the output, and why.

    >>> Removal("a.txt", 0, 4, "本站投稿", "boilerplate", "preamble").reason
    'boilerplate'
    """

    file: str
    start: int
    end: int
    text: str
    reason: str
    rule: str
    replacement: str = ""  # what took the span's place, if anything (29?4 -> 29.4)

    def to_dict(self) -> dict[str, Any]:
        out = {
            "file": self.file,
            "start": self.start,
            "end": self.end,
            "text": self.text,
            "reason": self.reason,
            "rule": self.rule,
        }
        if self.replacement:
            out["replacement"] = self.replacement
        return out


@dataclass(frozen=True, slots=True)
class Source:
    """An article that contributed to a canonical record."""

    file: str
    article: int
    start: int
    end: int
    title: str
    similarity: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "article": self.article,
            "start": self.start,
            "end": self.end,
            "title": self.title,
            "similarity": round(self.similarity, 4),
        }


@dataclass(frozen=True, slots=True)
class SourceSpan:
    file: str
    start: int
    end: int
    # Only part of the paragraph is here (merge.PartSource).
    part: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file, "start": self.start, "end": self.end}
        if self.part:
            out["part"] = True
        return out


@dataclass(frozen=True, slots=True)
class Paragraph:
    """A paragraph of canonical text (offsets into ``text``) and its sources."""

    start: int
    end: int
    sources: tuple[SourceSpan, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "sources": [s.to_dict() for s in self.sources]}


@dataclass(frozen=True)
class CanonicalArticle:
    """The output record: one canonical, clean article with provenance."""

    id: str
    title: str
    text: str
    sources: tuple[Source, ...]
    paragraphs: tuple[Paragraph, ...]
    removed: tuple[Removal, ...] = ()
    repairs: tuple[dict[str, Any], ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    cluster: str | None = None

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "meta": dict(self.meta),
            "text": self.text,
            "sources": [s.to_dict() for s in self.sources],
            "paragraphs": [p.to_dict() for p in self.paragraphs],
            "removed": [r.to_dict() for r in self.removed],
            "repairs": [dict(r) for r in self.repairs],
        }
        if self.cluster is not None:
            record["cluster"] = self.cluster
        return record

    def __reduce__(self) -> tuple[Any, ...]:
        # Records travel back from the merge workers: as plain tuples, not
        # one dataclass state per removal and source span (tens of
        # thousands a cluster), pickling both ways is several times faster.
        return (
            _rebuild_canonical_article,
            (
                self.id, self.title, self.text,
                tuple(map(_SOURCE_ROW, self.sources)),
                tuple((p.start, p.end, tuple(map(_SPAN_ROW, p.sources))) for p in self.paragraphs),
                tuple(map(_REMOVAL_ROW, self.removed)),
                self.repairs, self.meta, self.cluster,
            ),
        )


_SOURCE_ROW, _SPAN_ROW, _REMOVAL_ROW = (_fields_row(c) for c in (Source, SourceSpan, Removal))


def _rebuild_canonical_article(
    id: str, title: str, text: str, sources: tuple[tuple[Any, ...], ...],
    paragraphs: tuple[tuple[Any, ...], ...], removed: tuple[tuple[Any, ...], ...],
    repairs: tuple[dict[str, Any], ...], meta: dict[str, Any], cluster: str | None,
) -> CanonicalArticle:
    """Inverse of :meth:`CanonicalArticle.__reduce__`."""
    return CanonicalArticle(
        id, title, text,
        tuple(Source(*s) for s in sources),
        tuple(Paragraph(start, end, tuple(SourceSpan(*x) for x in spans)) for start, end, spans in paragraphs),
        tuple(Removal(*r) for r in removed),
        repairs, meta, cluster,
    )


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

    def __reduce__(self) -> tuple[Any, ...]:
        # Files travel back from worker processes: send each block's text
        # only where it is not simply its slice of the file's text (a line
        # break rejoined), which halves the bytes and the unpickling time.
        text = self.decoded.text
        articles = tuple(
            (
                a.file, a.index, a.start, a.end, a.title,
                tuple((b.start, b.end, None if text[b.start : b.end] == b.text else b.text, b.continues) for b in a.blocks),
                a.title_span, a.marker, a.meta, a.removed, a.header,
            )
            for a in self.articles
        )
        return (_rebuild_file_articles, (self.decoded, articles, self.removed))


def _rebuild_file_articles(decoded: DecodedFile, articles: tuple[tuple[Any, ...], ...], removed: tuple[Removal, ...]) -> FileArticles:
    """Inverse of :meth:`FileArticles.__reduce__`."""
    text = decoded.text
    out = []
    for file, index, start, end, title, blocks, title_span, marker, meta, rem, header in articles:
        bl = tuple(Block(bs, be, text[bs:be] if bt is None else bt, cont) for bs, be, bt, cont in blocks)
        out.append(Article(file, index, start, end, title, bl, title_span, marker, meta, rem, header))
    return FileArticles(decoded, tuple(out), removed)


# (file index, article index, block index) -> cuts in that block's text
BlockRef = tuple[int, int, int]
Labels = dict[BlockRef, list["Cut"]]
