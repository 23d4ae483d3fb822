"""datasketch (default hash function, SHA-1) MinHash + MinHashLSH on character 5-grams.

    python bench/peers/run_datasketch.py --input docs.jsonl --out result.json [--hash sha1|xxhash]

Shingles: :func:`_common.char_shingles` (whitespace removed, nothing else
normalised), UTF-8 encoded. One process. ``MinHash.bulk`` (datasketch's own
batch path), ``MinHashLSH(threshold=0.5, num_perm=128)`` with its default
band optimiser (25 x 5). Each document is inserted, then queried; the
candidate lists are closed transitively (union-find), as datatrove and
text-dedup do. With ``--hash xxhash`` the hash function is
``xxhash.xxh32_intdigest`` (the "datasketch + xxhash" peer).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from _common import NGRAM, NUM_PERM, THRESHOLD, char_shingles, clusters_from_candidates, run_main

HASH = "sha1"
if "--hash" in sys.argv:  # consumed here so that the shared parser stays simple
    i = sys.argv.index("--hash")
    HASH = sys.argv[i + 1]
    del sys.argv[i : i + 2]


def dedup(args: argparse.Namespace, docs: list[tuple[str, str]]) -> tuple[list[list[str]], str]:
    from datasketch import MinHash, MinHashLSH

    kwargs: dict[str, Any] = {"num_perm": NUM_PERM}
    if HASH == "xxhash":
        import xxhash

        kwargs["hashfunc"] = xxhash.xxh32_intdigest
    ids = [d for d, _ in docs]
    sets = ([s.encode("utf-8") for s in char_shingles(t, NGRAM)] for _, t in docs)
    mhs = MinHash.bulk(sets, **kwargs)
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    with lsh.insertion_session() as sess:
        for i, m in enumerate(mhs):
            sess.insert(i, m, check_duplication=False)
    clusters = clusters_from_candidates(ids, ((i, lsh.query(m)) for i, m in enumerate(mhs)))
    import datasketch

    notes = (f"datasketch {datasketch.__version__}, hashfunc={'xxh32_intdigest' if HASH == 'xxhash' else 'default (sha1_hash32)'}, "
             f"scheme={mhs[0].scheme if mhs else '?'}, MinHash.bulk, MinHashLSH b={lsh.b} r={lsh.r}, 1 process")
    return clusters, notes


if __name__ == "__main__":
    raise SystemExit(run_main("datasketch+xxhash" if HASH == "xxhash" else "datasketch", dedup, preload=("datasketch",)))
