"""LSH indexes: near-duplicates found, unrelated text not; BandIndex == LSHIndex."""

from __future__ import annotations

import random

import numpy as np
import pytest
from datasketch import MinHashLSH

from cleaner.index import BandIndex, LSHIndex, candidate_pairs, optimal_params
from cleaner.normalize import match_key
from cleaner.shingle import shingle_hashes
from cleaner.sketch import MinHasher

SEED = "001_66774ca9e7b2c39c.txt"


def _edit(text: str, rate: float, rng: random.Random, alphabet: str) -> str:
    """``rate * len(text)`` random substitutions, insertions and deletions."""
    chars = list(text)
    for _ in range(int(len(text) * rate)):
        i = rng.randrange(len(chars))
        op = rng.random()
        if op < 1 / 3:
            chars[i] = rng.choice(alphabet)
        elif op < 2 / 3:
            chars.insert(i, rng.choice(alphabet))
        else:
            del chars[i]
    return "".join(chars)


def _sig(mh: MinHasher, text: str) -> np.ndarray:
    return mh.signature(shingle_hashes(match_key(text)))


@pytest.fixture(scope="module")
def corpus(seed_texts: dict[str, str]) -> dict[str, str]:
    """One 2000-char paragraph, 10 copies with 5% character edits, and
    unrelated 2000-char paragraphs from other seeds and other parts of 001."""
    text = seed_texts[SEED]
    para = text[3000:5000]
    alphabet = "".join(sorted({c for c in text if "\u4e00" <= c <= "\u9fff"}))
    rng = random.Random(42)
    docs = {"orig": para}
    for i in range(10):
        docs[f"edit{i}"] = _edit(para, 0.05, rng, alphabet)
    docs["u-001a"] = text[20000:22000]
    docs["u-001b"] = text[40000:42000]
    docs["u-000"] = seed_texts["000_4acff1a94245f79e.txt"][5000:7000]
    docs["u-002"] = seed_texts["002_1cb92b5575a556ec.txt"][10000:12000]
    docs["u-003"] = seed_texts["003_8f6810d6e151e3ce.txt"][2000:4000]
    return docs


@pytest.mark.parametrize("cls", [BandIndex, LSHIndex])
def test_near_duplicates_found_unrelated_not(cls: type, corpus: dict[str, str]) -> None:
    # 5% character edits leave about 0.63 Jaccard of 5-gram sets (0.95**5 of
    # the shingles survive), so the index threshold sits below that: at 0.4
    # (32 bands of 4) a pair at 0.63 is a candidate with probability 0.994.
    mh = MinHasher(128)
    index = cls(0.4, 128)
    keys = list(corpus)
    index.add_many(keys, np.stack([_sig(mh, corpus[k]) for k in keys]))
    edits = {k for k in keys if k.startswith("edit")}
    unrelated = set(keys) - edits - {"orig"}
    assert set(index.query(_sig(mh, corpus["orig"]))) == edits | {"orig"}
    for k in keys:
        found = set(index.query(_sig(mh, corpus[k])))
        if k in edits:  # two edited copies differ by ~10%: they may or may not meet
            assert "orig" in found and k in found and not found & unrelated, k
        elif k in unrelated:
            assert found == {k}, k


def test_params_match_datasketch() -> None:
    for threshold in (0.3, 0.5, 0.8):
        lsh = MinHashLSH(threshold=threshold, num_perm=128)
        assert optimal_params(threshold, 128) == (lsh.b, lsh.r)
        band = BandIndex(threshold, 128)
        assert (band.b, band.r) == (lsh.b, lsh.r)


def _random_corpus(seed_texts: dict[str, str], n: int, rng: random.Random) -> dict[str, str]:
    """Random slices of the seeds plus lightly and heavily edited copies."""
    texts = list(seed_texts.values())
    alphabet = "".join(sorted({c for t in texts for c in t if "\u4e00" <= c <= "\u9fff"}))
    docs: dict[str, str] = {}
    for i in range(n):
        t = rng.choice(texts)
        size = rng.randint(3, 400)
        start = rng.randrange(max(1, len(t) - size))
        base = t[start : start + size]
        docs[f"d{i}"] = base
        if rng.random() < 0.5:
            docs[f"d{i}-e"] = _edit(base, rng.choice([0.01, 0.05, 0.15, 0.3]), rng, alphabet)
    return docs


@pytest.mark.parametrize("scheme", ["affine64", "affine32"])
def test_band_index_equals_lsh_index(seed_texts: dict[str, str], scheme: str) -> None:
    rng = random.Random(1)
    docs = _random_corpus(seed_texts, 300, rng)
    docs["empty"] = "，，。"
    mh = MinHasher(128, scheme=scheme)
    keys = list(docs)
    sigs = mh.signatures([shingle_hashes(match_key(docs[k])) for k in keys])
    band, lsh = BandIndex(0.5, 128), LSHIndex(0.5, 128)
    band.add_many(keys[:200], sigs[:200])  # bulk, then one at a time
    lsh.add_many(keys[:200], sigs[:200])
    for k, s in zip(keys[200:], sigs[200:]):
        band.add(k, s)
        lsh.add(k, s)
    assert len(band) == len(lsh) == len(keys)

    def same() -> None:
        for s in sigs:
            assert sorted(band.query(s)) == sorted(lsh.query(s))
        assert band.query_many(sigs) == [sorted(band.query(s), key=keys.index) for s in sigs]
        pairs = candidate_pairs(band)
        assert pairs == candidate_pairs(lsh)
        assert pairs  # the edited copies collide with their originals
        assert all(a < b for a, b in pairs)

    same()
    for k in rng.sample(keys, 60):
        band.remove(k)
        lsh.remove(k)
        assert k not in band and k not in lsh
    assert len(band) == len(lsh) == len(keys) - 60
    same()


def test_buckets_and_pairs() -> None:
    mh = MinHasher(128)
    a = mh.signature(shingle_hashes("同志们这次全市工业园区工作会议的主要任务是"))
    index = BandIndex(0.5, 128)
    index.add_many(["x", "y", "z"], np.stack([a, a, a]))
    index.add("w", mh.signature(shingle_hashes("加快推进新型工业化进程努力实现")))
    assert index.buckets() == [["x", "y", "z"]]
    assert index.pairs() == {("x", "y"), ("x", "z"), ("y", "z")}
    index.remove("y")
    assert index.buckets() == [["x", "z"]]
    assert index.pairs() == {("x", "z")}
    index.remove("z")
    assert index.buckets() == [] and index.pairs() == set()
    assert index.query(a) == ["x"]


@pytest.mark.parametrize("cls", [BandIndex, LSHIndex])
def test_errors(cls: type) -> None:
    mh = MinHasher(128)
    index = cls(0.5, 128)
    s = mh.signature(shingle_hashes("同志们这次会议"))
    index.add("a", s)
    with pytest.raises(ValueError):
        index.add("a", s)
    with pytest.raises(ValueError):
        index.add_many(["b", "b"], np.stack([s, s]))
    with pytest.raises(ValueError):
        index.remove("missing")
    with pytest.raises(ValueError):
        index.add("short", s[:64])
    assert "a" in index and "b" not in index and len(index) == 1


@pytest.mark.parametrize("threshold", [0.1, 0.25, 0.3, 0.35, 0.5, 0.7, 0.8, 0.9])
@pytest.mark.parametrize("num_perm", [32, 128, 256])
def test_optimal_params_equal_datasketchs(threshold: float, num_perm: int) -> None:
    """Our numpy grid search picks datasketch's bands and rows."""
    from datasketch.lsh import _optimal_param

    from cleaner.index import optimal_params

    assert optimal_params(threshold, num_perm) == tuple(_optimal_param(threshold, num_perm, 0.5, 0.5))
