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


def write_output_dir(out: Path, articles: list[CanonicalArticle], report: dict[str, Any]) -> None:
    """Write records, texts and report into ``out`` (created if needed).

    Text files left by an earlier run into the same folder are removed, so
    ``text/`` always matches ``articles.jsonl``.
    """
    out.mkdir(parents=True, exist_ok=True)
    text_dir = out / "text"
    text_dir.mkdir(exist_ok=True)
    keep = {f"{a.id}.txt" for a in articles}
    for old in text_dir.glob("*.txt"):
        if old.name not in keep:
            old.unlink()
    for a in articles:
        _atomic_write(text_dir / f"{a.id}.txt", a.text + "\n")
    _atomic_write(out / "articles.jsonl", "".join(dump_record(a.to_dict()) + "\n" for a in articles))
    _atomic_write(out / "report.json", json.dumps(report, ensure_ascii=False, indent=2) + "\n")
