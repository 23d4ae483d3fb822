"""text-dedup's MinHash deduplication (``text_dedup.minhash``) on pre-spaced characters.

    python bench/peers/run_textdedup.py --input docs.jsonl --out result.json [--workers 2] [--workdir DIR]

text-dedup splits text into words on ``\\W`` and shingles word n-grams, so a
Chinese sentence is one "word". The runner therefore pre-spaces the text:
every word character (``\\w``, which includes CJK) separated by one space,
punctuation and whitespace dropped (text-dedup would treat them as
separators anyway; keeping them would create empty tokens). Then it runs
the tool's own command, in process, as::

    python -m text_dedup.minhash --path json --data_files spaced.jsonl --split train
        --column text --ngram 5 --num_perm 128 --threshold 0.5 --num_proc 2
        --output OUT --cache_dir CACHE

(text-dedup picks 25 bands x 5 rows for 0.5 / 128, like datasketch; SHA-1,
its defaults otherwise). Clusters are read from the module's union-find
(``text_dedup.minhash.uf``) after the run, by row index. Pre-spacing and
writing the spaced JSONL count in the work time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from _common import NGRAM, NUM_PERM, THRESHOLD, run_main

_WORD_CHAR = re.compile(r"\w")


def dedup(args: argparse.Namespace, docs: list[tuple[str, str]]) -> tuple[list[list[str]], str]:
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    import text_dedup.minhash as tdm

    work = Path(args.workdir or tempfile.mkdtemp(prefix="textdedup-"))
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    spaced = work / "spaced.jsonl"
    with open(spaced, "w", encoding="utf-8") as fh:
        for d, t in docs:
            fh.write(json.dumps({"id": d, "text": " ".join(_WORD_CHAR.findall(t))}, ensure_ascii=False) + "\n")
    argv = [
        "--path", "json", "--data_files", str(spaced), "--split", "train", "--cache_dir", str(work / "cache"),
        "--column", "text", "--ngram", str(NGRAM), "--num_perm", str(NUM_PERM), "--threshold", str(THRESHOLD),
        "--num_proc", str(max(1, args.workers)), "--output", str(work / "out"),
    ]
    tdm.main.main(args=argv, standalone_mode=False)
    uf = tdm.uf
    groups: dict[int, list[str]] = {}
    for idx in list(uf.parent):
        groups.setdefault(uf.find(idx), []).append(docs[idx][0])
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    from importlib.metadata import version

    notes = (f"text-dedup {version('text-dedup')}, text_dedup.minhash on pre-spaced \\w characters, ngram={NGRAM}, "
             f"num_perm={NUM_PERM}, threshold={THRESHOLD}, num_proc={args.workers}")
    return [sorted(g) for g in groups.values() if len(g) > 1], notes


if __name__ == "__main__":
    raise SystemExit(run_main("text-dedup", dedup, preload=("text_dedup.minhash",)))
