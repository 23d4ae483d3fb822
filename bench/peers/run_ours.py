"""cleaner's full pipeline through its public API: ``cleaner.clean_texts``.

    python bench/peers/run_ours.py --input docs.jsonl --out result.json [--records records.jsonl]

The same ``{"id", "text"}`` records the peers get go to
``cleaner.clean_texts``; every output record lists the input records it
groups in ``sources[].file``. A document belongs to the record holding its
longest source span (a document split into several records counts once,
with its main part); documents in no record are singletons. The records are
also written to ``--records`` (default: ``<out>.records.jsonl``) so that the
harness can score the canonical texts and count records that mix articles.
Work time is the ``clean_texts`` call (decode repair, segmentation,
boilerplate, grouping, canonical text: everything, not only deduplication).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
from typing import Any

from _common import run_main

RECORDS: str | None = None
if "--records" in sys.argv:
    i = sys.argv.index("--records")
    RECORDS = sys.argv[i + 1]
    del sys.argv[i : i + 2]


def clusters_from_records(records: list[dict[str, Any]]) -> list[list[str]]:
    """Groups of input ids: each id goes to the record with its longest source span."""
    best: dict[str, tuple[int, int]] = {}  # id -> (span length, record index)
    for ri, rec in enumerate(records):
        for src in rec.get("sources", []):
            fid = str(src["file"])
            length = int(src.get("end", 0)) - int(src.get("start", 0))
            if fid not in best or length > best[fid][0]:
                best[fid] = (length, ri)
    groups: dict[int, list[str]] = {}
    for fid, (_, ri) in best.items():
        groups.setdefault(ri, []).append(fid)
    return [sorted(g) for g in groups.values() if len(g) > 1]


def _shown(path: str) -> str:
    """``path`` relative to the checkout when inside it (notes end up in docs)."""
    root = Path(__file__).resolve().parents[2]
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        return path


def dedup(args: argparse.Namespace, docs: list[tuple[str, str]]) -> tuple[list[list[str]], str]:
    import cleaner
    from cleaner.parallel import resolve_workers

    result = cleaner.clean_texts({"id": d, "text": t} for d, t in docs)
    records = result.records()
    path = RECORDS or args.out + ".records.jsonl"
    with open(path, "w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return clusters_from_records(records), f"cleaner {cleaner.__version__}, clean_texts (full pipeline), {resolve_workers(0)} processes; records: {_shown(path)}"


if __name__ == "__main__":
    raise SystemExit(run_main("ours", dedup, preload=("cleaner.pipeline",)))
