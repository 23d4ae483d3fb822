"""The run report: every input accounted for, with counters per step.

``report.json`` is :meth:`Report.to_dict`; the CLI prints :meth:`Report.summary`.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .types import Problem, Repair

REPORT_VERSION = 1


@dataclass(frozen=True)
class FileReport:
    """What happened to one input file (or archive member, or JSONL record).

    ``status`` is ``ok`` (articles found), ``empty`` (decoded, but no article
    text) or ``error`` (could not be processed; ``problems`` says why).
    """

    file: str
    status: str
    bytes: int = 0
    encoding: str | None = None
    confidence: float | None = None
    articles: int = 0
    repairs: tuple[Repair, ...] = ()
    problems: tuple[Problem, ...] = ()
    removed: Counter[str] = field(default_factory=Counter)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file, "status": self.status, "bytes": self.bytes}
        if self.encoding is not None:
            out["encoding"] = self.encoding
            out["confidence"] = round(self.confidence or 0.0, 3)
        out["articles"] = self.articles
        out["repairs"] = [_repair_dict(r) for r in self.repairs]
        out["problems"] = [_problem_dict(p) for p in self.problems]
        out["removed"] = dict(sorted(self.removed.items()))
        return out


def _repair_dict(r: Repair) -> dict[str, Any]:
    d: dict[str, Any] = {"kind": r.kind, "detail": r.detail}
    if r.start is not None:
        d["start"], d["end"] = r.start, r.end
    return d


def _problem_dict(p: Problem) -> dict[str, Any]:
    d: dict[str, Any] = {"code": p.code, "message": p.message}
    if p.line is not None:
        d["line"] = p.line
    return d


@dataclass
class Report:
    """Accumulates per-file reports and totals for one run.

    >>> r = Report(); r.add_file(FileReport("a.txt", "ok", bytes=10, articles=2))
    >>> r.to_dict()["totals"]["articles"]
    2
    """

    files: list[FileReport] = field(default_factory=list)
    records: int = 0
    counters: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    finished: float | None = None

    def add_file(self, file_report: FileReport) -> None:
        self.files.append(file_report)

    @property
    def processed(self) -> int:
        """Inputs that decoded to text (with or without articles)."""
        return sum(1 for f in self.files if f.status != "error")

    @property
    def failed(self) -> int:
        return sum(1 for f in self.files if f.status == "error")

    def totals(self) -> dict[str, Any]:
        problems: Counter[str] = Counter()
        repairs: Counter[str] = Counter()
        removed: Counter[str] = Counter()
        encodings: Counter[str] = Counter()
        for f in self.files:
            problems.update(p.code for p in f.problems)
            repairs.update(r.kind for r in f.repairs if r.kind != "encoding")
            removed.update(f.removed)
            if f.encoding:
                encodings[f.encoding] += 1
        return {
            "inputs": len(self.files),
            "processed": self.processed,
            "failed": self.failed,
            "empty": sum(1 for f in self.files if f.status == "empty"),
            "bytes": sum(f.bytes for f in self.files),
            "articles": sum(f.articles for f in self.files),
            "records": self.records,
            "encodings": dict(sorted(encodings.items())),
            "repairs_by_kind": dict(sorted(repairs.items())),
            "removed_by_reason": dict(sorted(removed.items())),
            "problems_by_code": dict(sorted(problems.items())),
        }

    def to_dict(self) -> dict[str, Any]:
        end = self.finished or time.time()
        return {
            "version": REPORT_VERSION,
            "elapsed_seconds": round(end - self.started, 3),
            "totals": self.totals(),
            "counters": dict(self.counters),
            "files": [f.to_dict() for f in self.files],
        }

    def summary(self) -> str:
        """A few human lines for the terminal."""
        t = self.totals()
        lines = [
            f"{t['inputs']} input(s): {t['processed']} processed, {t['failed']} failed, {t['empty']} without article text",
            f"{t['articles']} article(s) found, {t['records']} canonical record(s)",
        ]
        if t["repairs_by_kind"]:
            lines.append("repairs: " + ", ".join(f"{k} {v}" for k, v in t["repairs_by_kind"].items()))
        if t["removed_by_reason"]:
            lines.append("removed: " + ", ".join(f"{k} {v}" for k, v in t["removed_by_reason"].items()))
        for f in self.files:
            for p in f.problems:
                lines.append(f"  ! {p.message if f.file in p.message else f.file + ': ' + p.message}")
        return "\n".join(lines)
