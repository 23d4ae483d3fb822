"""Shared helpers for the peer runners in this folder.

Every runner is a script run in its own process by ``bench/dedup_peers.py``
(so that its wall time and peak memory are measured in isolation)::

    python bench/peers/run_X.py --input docs.jsonl --out result.json [--workers 2]

It reads ``{"id", "text"}`` JSON lines, finds duplicate clusters with its
tool, and writes ``result.json``::

    {"tool": ..., "clusters": [[id, id, ...], ...],   # groups of 2+ documents
     "work_s": seconds spent deduplicating (input already in memory),
     "notes": "how the tool was configured"}

Documents in no cluster are singletons. A runner that cannot run writes
``{"error": "..."}`` instead and exits with status 3.

Shared LSH setting: 5-gram shingles, 128 permutations, Jaccard threshold 0.5.
datasketch's own optimiser (equal false-positive/negative weights) picks
25 bands x 5 rows for that threshold, i.e. 125 of the 128 hash values;
text-dedup computes the same pair. Tools that need ``bands * rows ==
num_perm`` (rensa, datatrove) therefore use 125 permutations in 25 x 5, so
that every peer has the same LSH curve.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

NGRAM = 5
NUM_PERM = 128
THRESHOLD = 0.5
BANDS = 25
ROWS = 5


def parse_args(description: str) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--input", required=True, help="JSONL of {id, text}")
    ap.add_argument("--out", required=True, help="result JSON to write")
    ap.add_argument("--workers", type=int, default=2, help="processes, for the tools that use several")
    ap.add_argument("--workdir", default=None, help="scratch folder for tools that write to disk")
    return ap.parse_args()


def read_docs(path: str | Path) -> list[tuple[str, str]]:
    """(id, text) pairs of a ``{"id", "text"}`` JSONL file."""
    out: list[tuple[str, str]] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rec = json.loads(line)
                out.append((str(rec["id"]), rec["text"]))
    return out


def char_shingles(text: str, k: int = NGRAM) -> set[str]:
    """Character k-grams of ``text`` with all whitespace removed (no other normalisation).

    >>> sorted(char_shingles("同志 们:今天", 5))
    ['同志们:今', '志们:今天']
    """
    s = "".join(text.split())
    if len(s) <= k:
        return {s} if s else set()
    return {s[i : i + k] for i in range(len(s) - k + 1)}


def space_chars(text: str) -> str:
    """Text with a space between every non-space character (for word-tokenising tools).

    >>> space_chars("同志们: 今天")
    '同 志 们 : 今 天'
    """
    return " ".join("".join(text.split()))


class UnionFind:
    """Union-find over hashable keys (path halving, union by size)."""

    def __init__(self) -> None:
        self.parent: dict[Any, Any] = {}
        self.size: dict[Any, int] = {}

    def find(self, x: Any) -> Any:
        parent = self.parent
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, a: Any, b: Any) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        sa, sb = self.size.get(ra, 1), self.size.get(rb, 1)
        if sa < sb:
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.size[ra] = sa + sb

    def groups(self) -> list[list[Any]]:
        """Groups of two or more keys."""
        out: dict[Any, list[Any]] = {}
        for x in list(self.parent):
            out.setdefault(self.find(x), []).append(x)
        return [g for g in out.values() if len(g) > 1]


def clusters_from_candidates(ids: Sequence[str], candidates: Iterable[tuple[int, Iterable[int]]]) -> list[list[str]]:
    """Transitive closure of LSH candidate lists: ``(doc index, [candidate indexes])``."""
    uf = UnionFind()
    for i, cands in candidates:
        for j in cands:
            if j != i:
                uf.union(i, j)
    return [[ids[i] for i in sorted(g)] for g in uf.groups()]


def write_result(path: str | Path, tool: str, clusters: list[list[str]], work_s: float, notes: str, **extra: Any) -> None:
    payload = {"tool": tool, "clusters": clusters, "work_s": work_s, "notes": notes, **extra}
    Path(path).write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")


def write_error(path: str | Path, tool: str, error: str) -> None:
    Path(path).write_text(json.dumps({"tool": tool, "error": error}, ensure_ascii=False), encoding="utf-8")


def run_main(
    tool: str,
    fn: Callable[[argparse.Namespace, list[tuple[str, str]]], tuple[list[list[str]], str]],
    preload: Sequence[str] = (),
) -> int:
    """Read the input, time ``fn(args, docs) -> (clusters, notes)``, write the result.

    ``preload``: modules imported before the clock starts, so that every
    tool is timed on its work and none on its import (the same rule for all).

    An ``ImportError`` (tool not installed) is reported as an error result,
    status 3; any other exception propagates (non-zero status, traceback on
    stderr), and the harness records it.
    """
    args = parse_args(f"{tool} duplicate clusters of a JSONL corpus")
    docs = read_docs(args.input)
    try:
        for module in preload:
            importlib.import_module(module)
        t0 = time.perf_counter()
        clusters, notes = fn(args, docs)
    except ImportError as exc:
        write_error(args.out, tool, f"{type(exc).__name__}: {exc}")
        print(f"{tool}: could not run: {exc}", file=sys.stderr)
        return 3
    work = time.perf_counter() - t0
    write_result(args.out, tool, clusters, work, notes)
    return 0
