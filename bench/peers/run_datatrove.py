"""datatrove's MinHash deduplication (signatures -> buckets -> clusters) with a per-character tokenizer.

    python bench/peers/run_datatrove.py --input docs.jsonl --out result.json [--workers 2] [--workdir DIR]

datatrove tokenises into words (its ``language`` picks a word tokenizer)
and shingles word n-grams. ``MinhashDedupSignature`` also accepts a
``WordTokenizer`` instance in place of a language, so this runner passes
:class:`CharTokenizer`, which returns every non-space character as a token:
n-grams of 5 tokens are then character 5-grams, computed by datatrove's own
code after its own text normalisation (``simplify_text``: lower case, digits
to 0, punctuation removed, whitespace collapsed). No pre-spacing is needed.

``MinhashConfig(n_grams=5, num_buckets=25, hashes_per_bucket=5)`` = 125
hash values in the 25 x 5 layout datasketch picks for threshold 0.5 (datatrove
needs buckets x hashes == number of hashes, so 128 cannot be split 25 x 5);
default hash config (xxhash, 64-bit; datatrove 0.10 needs xxhash<4 for it). The input is split into one JSONL file
per worker; stage 1 runs one task per file, stage 2 one task per bucket, both
on ``--workers`` processes (``LocalPipelineExecutor``); stage 3 is one task
and writes cluster ids (``save_cluster_id=True``), which map back to
document ids by (task, position in its file). Work time includes datatrove
reading its JSONL shards and writing its intermediate files, as it always does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import tempfile
from pathlib import Path

from _common import BANDS, NGRAM, ROWS, run_main

try:
    from datatrove.utils.word_tokenizers import WordTokenizer
except ImportError:  # reported by run_main when dedup() imports datatrove
    WordTokenizer = object  # type: ignore[misc,assignment]


class CharTokenizer(WordTokenizer):  # type: ignore[misc,valid-type]
    """Every non-space character is a token (for Chinese: character n-grams)."""

    def __init__(self) -> None:
        super().__init__("zh-chars")

    def word_tokenize(self, text: str) -> list[str]:
        return [c for c in text if not c.isspace()]

    def sent_tokenize(self, text: str) -> list[str]:
        return [text]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return [(0, len(text))]


def dedup(args: argparse.Namespace, docs: list[tuple[str, str]]) -> tuple[list[list[str]], str]:

    from datatrove.executor.local import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (
        MinhashConfig,
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.readers import JsonlReader

    work = Path(args.workdir or tempfile.mkdtemp(prefix="datatrove-"))
    if work.exists():
        shutil.rmtree(work)
    inp = work / "input"
    inp.mkdir(parents=True)
    n = max(1, args.workers)
    shards: list[list[str]] = [[] for _ in range(n)]
    # contiguous shards, one file per stage-1 task
    per = (len(docs) + n - 1) // n
    for k in range(n):
        part = docs[k * per : (k + 1) * per]
        shards[k] = [d for d, _ in part]
        with open(inp / f"{k:05d}.jsonl", "w", encoding="utf-8") as fh:
            for d, t in part:
                fh.write(json.dumps({"id": d, "text": t}, ensure_ascii=False) + "\n")

    config = MinhashConfig(n_grams=NGRAM, num_buckets=BANDS, hashes_per_bucket=ROWS)
    sigs, buckets, clusters_dir, logs = work / "sigs", work / "buckets", work / "clusters", work / "logs"
    LocalPipelineExecutor(
        pipeline=[JsonlReader(str(inp)), MinhashDedupSignature(output_folder=str(sigs), config=config, language=CharTokenizer())],
        tasks=n, workers=n, logging_dir=str(logs / "s1"),
    ).run()
    LocalPipelineExecutor(
        pipeline=[MinhashDedupBuckets(input_folder=str(sigs), output_folder=str(buckets), config=config)],
        tasks=config.num_buckets, workers=n, logging_dir=str(logs / "s2"),
    ).run()
    LocalPipelineExecutor(
        pipeline=[MinhashDedupCluster(input_folder=str(buckets), output_folder=str(clusters_dir), config=config, save_cluster_id=True)],
        tasks=1, workers=1, logging_dir=str(logs / "s3"),
    ).run()

    groups: dict[int, list[str]] = {}
    for path in sorted(clusters_dir.glob("*.clusters")):
        rank = int(path.name.split(".")[0])
        raw = path.read_bytes()
        for doc, cid in struct.iter_unpack("<II", raw):
            groups.setdefault(cid, []).append(shards[rank][doc])
    if not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    from importlib.metadata import version

    notes = (f"datatrove {version('datatrove')}, per-character WordTokenizer, n_grams={NGRAM}, "
             f"{BANDS} buckets x {ROWS} hashes, {config.hash_config}, {n} workers")
    return [sorted(g) for g in groups.values() if len(g) > 1], notes


if __name__ == "__main__":
    os.environ.setdefault("DATATROVE_COLORIZE_LOGS", "0")
    raise SystemExit(run_main("datatrove", dedup, preload=("datatrove.pipeline.dedup.minhash", "datatrove.executor.local", "datatrove.pipeline.readers", "datatrove.utils.word_tokenizers")))
