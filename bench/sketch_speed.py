"""Speed of the sketch path (key -> shingles -> MinHash -> band index), beside
datasketch + xxhash on the same shingles. Not a test.

    python bench/sketch_speed.py [--mib 20] [--peer-mib 5]

The seeds are concatenated and replicated to ``--mib`` MiB of UTF-8, split
into blocks at line breaks (paragraphs, as the pipeline sketches them), and
every rate is MiB of that UTF-8 input per second, single thread.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import xxhash
from datasketch import MinHash, MinHashLSH

from cleaner.index import BandIndex
from cleaner.normalize import match_key
from cleaner.shingle import match_keys, shingle_hashes, shingle_hashes_many, shingle_hashes_text
from cleaner.sketch import MinHasher

ROOT = Path(__file__).resolve().parent.parent
MIB = 1 << 20


def load_blocks(mib: float) -> list[str]:
    seeds = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "fixtures" / "seeds").glob("*.txt"))]
    lines = [ln for t in seeds for ln in t.splitlines() if ln.strip()]
    size = sum(len(ln.encode()) for ln in lines)
    reps = max(1, round(mib * MIB / size))
    return lines * reps


def timed(label: str, nbytes: int, fn: Callable[[], Any], repeat: int = 3) -> Any:
    """Best of ``repeat`` runs (the machine is shared; the best is the least noisy)."""
    dt = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        dt = min(dt, time.perf_counter() - t)
    print(f"  {label:<52} {nbytes / MIB / dt:8.1f} MiB/s  ({dt:6.2f} s)")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=float, default=20.0)
    ap.add_argument("--peer-mib", type=float, default=5.0, help="input size for the slower datasketch runs")
    args = ap.parse_args()

    blocks = load_blocks(args.mib)
    nbytes = sum(len(b.encode()) for b in blocks)
    print(f"{len(blocks)} blocks, {nbytes / MIB:.1f} MiB UTF-8, mean {nbytes / len(blocks):.0f} bytes/block")

    print("ours")
    keys = timed("match_key (per block)", nbytes, lambda: [match_key(b) for b in blocks])
    timed("match_keys (all blocks, one call)", nbytes, lambda: match_keys(blocks))
    hashes = timed("shingle_hashes (per key, k=5, unique)", nbytes, lambda: [shingle_hashes(k) for k in keys])
    timed("shingle_hashes (unique=False)", nbytes, lambda: [shingle_hashes(k, unique=False) for k in keys])
    flat, offsets = timed("shingle_hashes_many (all keys, one call)", nbytes, lambda: shingle_hashes_many(keys))
    timed("shingle_hashes_many (unique=True)", nbytes, lambda: shingle_hashes_many(keys, unique=True))
    timed("shingle_hashes_text (raw text, keys itself)", nbytes, lambda: [shingle_hashes_text(b) for b in blocks])
    n_sh = sum(len(h) for h in hashes)
    print(f"  ({n_sh / 1e6:.1f} M shingles, {n_sh / (nbytes / MIB) / 1e3:.0f} k per MiB)")
    sigs = {}
    for scheme in ("affine64", "affine32"):
        mh = MinHasher(128, scheme=scheme)
        sigs[scheme] = timed(f"MinHasher.signatures ({scheme}, batched)", nbytes, lambda: mh.signatures(hashes))
        timed(f"MinHasher.signatures_flat ({scheme})", nbytes, lambda: mh.signatures_flat(flat, offsets))
        timed(f"MinHasher.signature ({scheme}, per block)", nbytes, lambda: [mh.signature(h) for h in hashes])
    keys_ = [f"b{i}" for i in range(len(blocks))]

    def build(s: Any) -> BandIndex:
        idx = BandIndex(0.5, 128)
        idx.add_many(keys_, s)
        return idx

    for scheme, s in sigs.items():
        idx = timed(f"BandIndex.add_many ({scheme}, 25x5)", nbytes, lambda: build(s))
        timed(f"BandIndex.buckets ({len(idx)} keys)", nbytes, idx.buckets)
    # Every block is repeated ~100x here: pairs() is quadratic in bucket size.
    timed(f"BandIndex.pairs ({len(idx)} keys, ~100 copies each)", nbytes, idx.pairs, repeat=1)

    def ours_end_to_end(scheme: str) -> None:
        mh = MinHasher(128, scheme=scheme)
        idx = BandIndex(0.5, 128)
        h, off = shingle_hashes_many(match_keys(blocks))
        idx.add_many([f"b{i}" for i in range(len(blocks))], mh.signatures_flat(h, off))

    for scheme in ("affine64", "affine32"):
        timed(f"end to end, batched: keys+shingles+sigs({scheme})+index", nbytes, lambda: ours_end_to_end(scheme))

    # Peer: datasketch MinHash with xxhash on the same shingles (k=5 over keys).
    sub: list[str] = []
    size = 0
    for b in blocks:
        if size >= args.peer_mib * MIB:
            break
        sub.append(b)
        size += len(b.encode())
    sub_keys = [match_key(b) for b in sub]
    print(f"datasketch 2.0 + xxhash (first {size / MIB:.1f} MiB)")

    def grams(k: str) -> list[bytes]:
        return [k[i : i + 5].encode() for i in range(max(1, len(k) - 4))] if k else []

    g = timed("5-gram strings + utf-8 encode", size, lambda: [grams(k) for k in sub_keys])

    def ds_sigs() -> list[MinHash]:
        out = []
        for gs in g:
            m = MinHash(num_perm=128, hashfunc=xxhash.xxh32_intdigest)  # affine32
            m.update_batch(gs)
            out.append(m)
        return out

    ms = timed("MinHash.update_batch (xxh32, affine32)", size, ds_sigs)

    def ds_lsh() -> None:
        lsh = MinHashLSH(threshold=0.5, num_perm=128)
        with lsh.insertion_session() as s:
            for i, m in enumerate(ms):
                s.insert(f"b{i}", m, check_duplication=False)

    timed("MinHashLSH insertion_session", size, ds_lsh)

    def ds_end_to_end() -> None:
        lsh = MinHashLSH(threshold=0.5, num_perm=128)
        with lsh.insertion_session() as s:
            for i, b in enumerate(sub):
                m = MinHash(num_perm=128, hashfunc=xxhash.xxh32_intdigest)
                m.update_batch(grams(match_key(b)))
                s.insert(f"b{i}", m, check_duplication=False)

    timed("end to end: key+grams+MinHash+MinHashLSH", size, ds_end_to_end)


if __name__ == "__main__":
    main()
