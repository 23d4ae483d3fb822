"""Writing a run's results to an output folder.

``OUT/articles.jsonl`` (one record per line), ``OUT/text/<id>.txt`` (the
canonical text alone) and ``OUT/report.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from .types import CanonicalArticle


def dump_record(record: dict[str, Any]) -> str:
    """One JSONL line; non-ASCII kept readable.

    >>> dump_record({"id": "a-1", "text": "同志们"})
    '{"id": "a-1", "text": "同志们"}'
    """
    return json.dumps(record, ensure_ascii=False)


def write_jsonl(records: Iterable[dict[str, Any]], stream: IO[str]) -> int:
    n = 0
    for rec in records:
        stream.write(dump_record(rec) + "\n")
        n += 1
    return n


def _atomic_write(path: Path, text: str) -> None:
    # Write then rename, so an interrupted run never leaves half a file that
    # looks complete.
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    os.replace(tmp, path)


class OutputWriter:
    """Writes an output folder record by record, as a run makes them.

    ``articles.jsonl`` is written to ``articles.jsonl.part`` and renamed
    when :meth:`close` writes the report, so an interrupted run never leaves
    a file that looks complete; each text goes to ``text/<id>.txt`` at once.
    Text files left by an earlier run into the same folder are removed at
    the end, so ``text/`` always matches ``articles.jsonl``.

    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> with OutputWriter(out) as w:
    ...     w.close({"records": 0})
    >>> sorted(p.name for p in out.iterdir())
    ['articles.jsonl', 'report.json', 'text']
    """

    def __init__(self, out: Path) -> None:
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.text_dir = out / "text"
        self.text_dir.mkdir(exist_ok=True)
        self._part = out / "articles.jsonl.part"
        self._jsonl: IO[str] | None = open(self._part, "w", encoding="utf-8", newline="\n")
        self._written: set[str] = set()

    def add(self, article: CanonicalArticle) -> None:
        """Write one record and its text."""
        assert self._jsonl is not None, "writer is closed"
        _atomic_write(self.text_dir / f"{article.id}.txt", article.text + "\n")
        self._written.add(f"{article.id}.txt")
        self._jsonl.write(dump_record(article.to_dict()) + "\n")

    def close(self, report: dict[str, Any]) -> None:
        """Finish ``articles.jsonl``, drop stale texts, write the report."""
        if self._jsonl is None:
            return
        self._jsonl.close()
        self._jsonl = None
        os.replace(self._part, self.out / "articles.jsonl")
        for old in self.text_dir.glob("*.txt"):
            if old.name not in self._written:
                old.unlink()
        _atomic_write(self.out / "report.json", json.dumps(report, ensure_ascii=False, indent=2) + "\n")

    def __enter__(self) -> "OutputWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._jsonl is not None:  # not closed: the run failed; keep the .part
            self._jsonl.close()
            self._jsonl = None


def write_output_dir(out: Path, articles: Iterable[CanonicalArticle], report: dict[str, Any]) -> None:
    """Write records, texts and report into ``out`` (created if needed)."""
    with OutputWriter(out) as writer:
        for a in articles:
            writer.add(a)
        writer.close(report)
