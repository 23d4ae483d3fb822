"""Quality evaluation of the cleaning pipeline: synthetic corpus + the seeds.

1. Generates a synthetic corpus (:mod:`bench.synth`, default seed 1, 200
   files), runs :func:`cleaner.clean_files` on it and scores the records
   (:mod:`bench.score`): noise left by kind, content kept, dedup P/R/F1 and
   false merges.
2. Runs the pipeline on the five seed files with a small *seed gold* derived
   by rules from the raw seeds (:func:`seed_gold`) and prints noise left and
   content kept for them.

Usage::

    python -m bench.eval_clean [--seed 1] [--docs 200] [--out DIR] [--json FILE]

See docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.score import format_table, score, score_gold
from bench.synth import SEED_DIR, generate
from cleaner import clean_files
from cleaner.decode import decode_bytes
from cleaner.segment import parse_date, parse_marker

__all__ = ["seed_gold", "run_synthetic", "run_seeds", "main"]

# --- seed gold rules ---------------------------------------------------------

# A whole line that talks about the site (notices, navigation, download links).
_NOTICE = re.compile(
    r"本站|本網|小编|小編|投稿|来源于|來源於|看过.{0,60}的人还看了|看過.{0,60}的人還看了|文档为|文檔為|"
    r"查看全文|上一篇|下一篇|仅供参考|僅供參考|欢迎阅读|歡迎閱讀|www\.|https?://"
)
_MARKUP_LINE = re.compile(r"^\s*(?:<[\w:]*image\b|<img\b|</?(?:p|br|div|span)\b|&nbsp;|false$|true$|null$)", re.I)
_PAGE_LINE = re.compile(r"^[\s—–\-－·]+[0-9]*\s*$|^\s*第\s*\d+\s*页")
_WATERMARK = re.compile(r"[(（][^()（）\n]{0,40}(?:www\.|权属|權屬|版权|版權)[^()（）\n]{0,60}[)）]")
_TRAIL_Q = re.compile(r"\?+\s*$")
_QUESTION_PARTICLE = "吗呢么吧啊嘛嗎麼"
_SENTENCE_PUNCT = re.compile(r"[。！？!?；;:：,，、]")


def seed_gold(seed_dir: str | Path = SEED_DIR) -> dict[str, Any]:
    """A gold (same shape as ``gold.json``) for the raw seed files, by rules.

    Per decoded line of each seed:

    * **noise** -- a line matching a site-notice rule (``本站``, ``小编``,
      ``投稿``, ``来源于``, ``看过…的人还看了``, ``文档为``, ``查看全文``,
      ``上一篇``/``下一篇``, links) is ``preamble`` before the first content line
      and ``trailer`` after it; image-tag lines (``<image>``, also namespaced
      ``<x:image>data:image/…``), ``<img>``/tag lines and stray
      ``false`` are ``markup``; dash-and-digit lines (``— — 6``) are
      ``page-number``; a parenthesised ownership claim or link inside a line is a
      ``watermark``; in a file where at least 20% of lines end with ASCII ``?``,
      a trailing ``?`` run not after a question particle (吗呢么吧啊) is an
      ``artefact``, as is a line of only ``?``.
    * **content** -- every other line that is not a part marker or date
      (:func:`cleaner.segment.parse_marker`/``parse_date``) and that has
      sentence punctuation or more than 40 characters, minus its watermark
      and artefact spans. Titles and headings without punctuation are neither
      content nor noise (not measured).

    The whole file is one pseudo-article (no clusters), so only content kept
    and noise left are meaningful on the seeds.
    """
    files = []
    for path in sorted(Path(seed_dir).glob("*.txt")):
        text = decode_bytes(path.read_bytes(), path.name).decoded
        lines: list[tuple[int, str]] = []
        pos = 0
        for raw in text.split("\n"):
            lines.append((pos, raw))
            pos += len(raw) + 1
        q_lines = sum(1 for _, ln in lines if ln.rstrip().endswith("?"))
        q_file = q_lines >= 0.2 * sum(1 for _, ln in lines if ln.strip())
        noise: list[dict[str, Any]] = []
        paragraphs: list[str] = []
        unmeasured: list[str] = []  # titles, headings, markers: output may keep them
        seen_content = False

        def add(kind: str, start: int, s: str) -> None:
            noise.append({"kind": kind, "text": s, "start": start, "end": start + len(s)})

        for start, raw in lines:
            s = raw.strip()
            if not s:
                continue
            off = start + raw.index(s)
            if _NOTICE.search(s) and not _WATERMARK.search(s):
                add("trailer" if seen_content else "preamble", off, s)
                continue
            if _MARKUP_LINE.search(s):
                add("markup", off, s)
                continue
            if _PAGE_LINE.match(s):
                add("page-number", off, s)
                continue
            if set(s) <= set("?？"):
                add("artefact", off, s)
                continue
            body = s
            m = _TRAIL_Q.search(body)
            if q_file and m and m.start() > 0 and body[m.start() - 1] not in _QUESTION_PARTICLE:
                add("artefact", off + m.start(), body[m.start() : m.end()].rstrip())
                body = body[: m.start()]
            pieces = []
            last = 0
            for w in _WATERMARK.finditer(body):
                add("watermark", off + w.start(), w.group(0))
                pieces.append(body[last : w.start()])
                last = w.end()
            pieces.append(body[last:])
            body = "".join(pieces).strip()
            if not body:
                continue
            if parse_marker(body) or parse_date(body):
                unmeasured.append(body)
                continue
            if _SENTENCE_PUNCT.search(body) or len(body) > 40:
                paragraphs.append(body)
                seen_content = True
            else:
                unmeasured.append(body)
        files.append({
            "name": path.name, "encoding": "utf-8", "script": "original", "mojibake": None, "newline": "lf",
            "noise": noise,
            "articles": [{"cluster": path.name, "index": 0, "title": "", "meta": {}, "variant": ["seed"],
                          "start": 0, "end": len(text), "paragraphs": paragraphs, "noise": [],
                          "unmeasured": unmeasured}],
        })
    return {"version": 1, "seed": None, "clusters": {}, "files": files}


# --- runs -------------------------------------------------------------------


def run_synthetic(seed: int = 1, docs: int = 200, out: str | Path | None = None) -> dict[str, Any]:
    """Generate, clean and score one synthetic corpus; return the result plus timings."""
    t0 = time.perf_counter()
    corpus = generate(seed, docs)
    tmp = None
    if out is None:
        tmp = tempfile.TemporaryDirectory(prefix="cleaner-bench-")
        out = tmp.name
    root = corpus.write(out)
    t1 = time.perf_counter()
    result = clean_files([str(root / "files")])
    t2 = time.perf_counter()
    scored = score(root, result.records())
    t3 = time.perf_counter()
    scored["timing"] = {"generate_s": t1 - t0, "clean_s": t2 - t1, "score_s": t3 - t2,
                        "mib": corpus.total_bytes / 2**20, "clean_mib_per_s": corpus.total_bytes / 2**20 / max(t2 - t1, 1e-9)}
    if tmp is not None:
        tmp.cleanup()
    return scored


def run_seeds(seed_dir: str | Path = SEED_DIR) -> dict[str, Any]:
    """Clean the raw seeds and score them against :func:`seed_gold`."""
    gold = seed_gold(seed_dir)
    result = clean_files([str(Path(seed_dir))])
    return score_gold(gold, result.records())


def main(argv: Iterable[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.eval_clean", description="Quality figures of the pipeline.")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--docs", type=int, default=200)
    ap.add_argument("--out", help="keep the generated corpus in this folder")
    ap.add_argument("--json", help="also write all figures (per-file included) to this JSON file")
    ap.add_argument("--no-seeds", action="store_true", help="skip the run on the seed files")
    args = ap.parse_args(list(argv) if argv is not None else None)

    syn = run_synthetic(args.seed, args.docs, args.out)
    t = syn["timing"]
    print(format_table(syn, f"synthetic corpus (seed {args.seed}, {args.docs} files, {t['mib']:.2f} MiB)"))
    print(f"timing: generate {t['generate_s']:.1f}s, clean {t['clean_s']:.1f}s "
          f"({t['clean_mib_per_s']:.2f} MiB/s), score {t['score_s']:.1f}s")
    out: dict[str, Any] = {"synthetic": syn}
    if not args.no_seeds:
        seeds = run_seeds()
        print()
        print(format_table(seeds, "seed files (rule-derived gold)", breakdown=False, dedup=False))
        out["seeds"] = seeds
    if args.json:
        Path(args.json).write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
