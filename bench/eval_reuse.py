"""Clustering on real English text reuse: the Clough-Stevenson corpus.

95 short answers to five tasks, each labelled against its task's source text
(``orig_task*.txt``): ``cut`` (copy-paste), ``light`` (light rewording),
``heavy`` (paraphrase) and ``non`` (written independently). Runs the whole
pipeline (``cleaner.clean_files``) on the 100 files and reports, per category,
how many answers share a record with their source, and how many ``non`` answers
share a record with anything.

    python -m bench.eval_reuse
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections import Counter, defaultdict
from pathlib import Path

import cleaner

DATA = Path(__file__).resolve().parents[2] / "shared" / "external" / "clough-stevenson-reuse"


def run(data: Path = DATA) -> dict[str, object]:
    with open(data / "file_information.csv", encoding="utf-8") as fh:
        rows = [(r["File"].strip(), r["Task"].strip(), r["Category"].strip()) for r in csv.DictReader(fh)]
    paths = [str(data / "texts" / f) for f, _, _ in rows]
    t0 = time.perf_counter()
    result = cleaner.clean_files(paths)
    elapsed = time.perf_counter() - t0
    record_of: dict[str, int] = {}
    size: Counter[int] = Counter()
    for n, rec in enumerate(result.records()):
        for src in rec["sources"]:
            record_of[Path(src["file"]).name] = n
            size[n] += 1
    orig = {task: record_of.get(f) for f, task, cat in rows if cat == "orig"}
    with_source: dict[str, list[str]] = defaultdict(list)
    apart: dict[str, list[str]] = defaultdict(list)
    merged_non: list[str] = []
    for f, task, cat in rows:
        if cat == "orig":
            continue
        rec = record_of.get(f)
        (with_source if rec is not None and rec == orig[task] else apart)[cat].append(f)
        if cat == "non" and rec is not None and size[rec] > 1:
            merged_non.append(f)
    return {
        "files": len(rows),
        "records": len(result.articles),
        "seconds": round(elapsed, 2),
        "with_source": {c: len(v) for c, v in with_source.items()},
        "apart": {c: sorted(v) for c, v in apart.items()},
        "totals": dict(Counter(cat for _, _, cat in rows if cat != "orig")),
        "non_merged_with_anything": merged_non,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    res = run()
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"{res['files']} files -> {res['records']} records in {res['seconds']} s")
    print("| category | answers | clustered with their source |")
    print("|---|---:|---:|")
    for cat in ("cut", "light", "heavy", "non"):
        total = res["totals"].get(cat, 0)  # type: ignore[union-attr]
        got = res["with_source"].get(cat, 0)  # type: ignore[union-attr]
        print(f"| {cat} | {total} | {got} |")
    print(f"non answers merged with anything: {len(res['non_merged_with_anything'])}")  # type: ignore[arg-type]
    for cat, files in res["apart"].items():  # type: ignore[union-attr]
        if cat != "non":
            print(f"  {cat} not with source: {', '.join(files)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
