"""rensa (RMinHash + RMinHashLSH) on character 5-grams.

    python bench/peers/run_rensa.py --input docs.jsonl --out result.json

Shingles: :func:`_common.char_shingles` (whitespace removed). rensa needs
``num_perm`` divisible by the band count, so it runs 125 permutations in
25 bands x 5 rows (the band layout datasketch picks for threshold 0.5 out of
128). ``RMinHash.from_token_sets`` (rensa's batch path, fed lazily), ``insert_many``,
``query_all``; candidates closed transitively (union-find). One process.
"""

from __future__ import annotations

import argparse

from _common import BANDS, NGRAM, ROWS, THRESHOLD, char_shingles, clusters_from_candidates, run_main


def dedup(args: argparse.Namespace, docs: list[tuple[str, str]]) -> tuple[list[list[str]], str]:
    import rensa

    num_perm = BANDS * ROWS
    ids = [d for d, _ in docs]
    # a generator: materialising every document's shingle list first would cost
    # ~1.5 GiB of Python strings on the default corpus, which is not rensa's doing
    token_sets = (list(char_shingles(t, NGRAM)) for _, t in docs)
    mhs = rensa.RMinHash.from_token_sets(token_sets, num_perm, 42)
    lsh = rensa.RMinHashLSH(threshold=THRESHOLD, num_perm=num_perm, num_bands=BANDS)
    lsh.insert_many(mhs)
    cands = lsh.query_all(mhs)
    clusters = clusters_from_candidates(ids, enumerate(cands))
    from importlib.metadata import version

    return clusters, f"rensa {version('rensa')}, RMinHash num_perm={num_perm}, RMinHashLSH bands={BANDS} (r={ROWS}), 1 process"


if __name__ == "__main__":
    raise SystemExit(run_main("rensa", dedup, preload=("rensa",)))
