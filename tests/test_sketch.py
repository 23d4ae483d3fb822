"""MinHash signatures: accuracy, determinism, datasketch interop, fast == reference."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

import cleaner.sketch as sketch
from cleaner.index import BandIndex, LSHIndex
from cleaner.normalize import match_key
from cleaner.shingle import shingle_hashes
from cleaner.sketch import (
    SCHEMES,
    MinHasher,
    containment,
    exact_jaccard,
    is_empty,
    jaccard,
    signature_reference,
)

_DS_HASHFUNC = {"affine64": int, "affine32": lambda v: int(v) & 0xFFFFFFFF}


def _random_hashes(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)


@pytest.mark.parametrize("scheme", ["affine64", "affine32"])
def test_equals_datasketch_update_batch(scheme: str) -> None:
    rng = np.random.default_rng(7)
    hashes = _random_hashes(rng, 3000)
    mh = MinHasher(128, seed=3, scheme=scheme)
    ds = MinHash(num_perm=128, seed=3, scheme=scheme, hashfunc=_DS_HASHFUNC[scheme])
    ds.update_batch(hashes.tolist())
    sig = mh.signature(hashes)
    assert sig.dtype == ds.hashvalues.dtype
    assert (sig == ds.hashvalues).all()


@pytest.mark.parametrize("scheme", SCHEMES)
@settings(max_examples=50, deadline=None)
@given(values=st.lists(st.integers(0, 2**64 - 1), max_size=30))
def test_fast_equals_reference(scheme: str, values: list[int]) -> None:
    mh = MinHasher(16, seed=5, scheme=scheme)
    fast = mh.signature(np.array(values, dtype=np.uint64))
    assert fast.tolist() == signature_reference(mh, values)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_signatures_batch_equals_single(scheme: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A tiny block size makes documents straddle many block boundaries.
    monkeypatch.setattr(sketch, "_CHUNK", 7)
    rng = np.random.default_rng(11)
    sizes = [0, 1, 6, 7, 8, 0, 20, 3, 0, 50, 1, 0]
    docs = [_random_hashes(rng, n) for n in sizes]
    mh = MinHasher(32, scheme=scheme)
    sigs = mh.signatures(docs)
    assert sigs.shape == (len(docs), 32)
    for doc, sig in zip(docs, sigs):
        assert sig.tolist() == signature_reference(mh, doc.tolist())
    assert mh.signatures([]).shape == (0, 32)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("sizes", [(200, 3000), (3, 150)])
def test_estimate_tracks_true_jaccard(scheme: str, sizes: tuple[int, int]) -> None:
    # (3, 150): fewer values than oph32 has bins, so most of its bins are
    # filled by densification.
    rng = np.random.default_rng(0)
    mh = MinHasher(128, scheme=scheme)
    universe = _random_hashes(rng, 20000)
    for _ in range(30):
        n_a, n_b = rng.integers(*sizes, 2)
        shared = int(rng.integers(0, min(n_a, n_b)))
        pick = rng.permutation(len(universe))
        a = universe[pick[:n_a]]
        b = np.concatenate([a[:shared], universe[pick[n_a : n_a + n_b - shared]]])
        true = exact_jaccard(a, b)
        assert true == exact_jaccard(set(a.tolist()), set(b.tolist()))
        assert abs(jaccard(mh.signature(a), mh.signature(b)) - true) < 0.1


def test_estimate_on_real_text(seed_texts: dict[str, str]) -> None:
    text = seed_texts["001_66774ca9e7b2c39c.txt"]
    a = shingle_hashes(match_key(text[3000:5000]))
    b = shingle_hashes(match_key(text[3500:5500]))  # 75% overlap of the text
    mh = MinHasher(128)
    assert abs(jaccard(mh.signature(a), mh.signature(b)) - exact_jaccard(a, b)) < 0.1


def test_deterministic_across_instances() -> None:
    h = shingle_hashes("同志们这次全市工业园区工作会议")
    assert (MinHasher(128, seed=1).signature(h) == MinHasher(128, seed=1).signature(h)).all()
    assert not (MinHasher(128, seed=1).signature(h) == MinHasher(128, seed=2).signature(h)).all()


@pytest.mark.parametrize("scheme", SCHEMES)
def test_empty_signature(scheme: str) -> None:
    mh = MinHasher(128, scheme=scheme)
    empty = mh.signature(np.zeros(0, dtype=np.uint64))
    assert is_empty(empty) and (empty == mh.empty()).all()
    assert not is_empty(mh.signature(np.array([1], dtype=np.uint64)))
    assert jaccard(empty, empty) == 0.0
    # It collides with nothing in either index, not even another empty one.
    sigs = [mh.signature(shingle_hashes(s)) for s in ("同志们这次会议", "同志们这次会议上")]
    for index in (BandIndex(0.5, 128), LSHIndex(0.5, 128)):
        index.add("e1", empty)
        index.add("a", sigs[0])
        index.add_many(["e2", "b"], np.stack([empty, sigs[1]]))
        assert len(index) == 4 and "e1" in index and "e2" in index
        assert index.query(empty) == []
        assert sorted(index.query(sigs[0])) == ["a", "b"]
        assert index.pairs() == {("a", "b")}
        index.remove("e1")
        assert "e1" not in index and len(index) == 3


@pytest.mark.parametrize("scheme", SCHEMES)
def test_datasketch_interop(scheme: str) -> None:
    mh = MinHasher(128, seed=1, scheme=scheme)
    s1 = mh.signature(shingle_hashes("同志们这次全市工业园区工作会议的主要任务"))
    s2 = mh.signature(shingle_hashes("同志们这次全市工业园区工作会议主要任务是"))
    d1, d2 = mh.to_datasketch(s1), mh.to_datasketch(s2)
    assert d1.scheme == ("affine32" if scheme == "oph32" else scheme) and len(d1) == 128
    assert d1.jaccard(d2) == jaccard(s1, s2)
    assert 0.0 < jaccard(s1, s2) < 1.0


def test_oph_bins_are_filled_from_the_probe_sequence() -> None:
    mh = MinHasher(16, seed=2, scheme="oph32")
    one = mh.signature(np.array([12345], dtype=np.uint64))
    assert len(set(one.tolist())) == 1 and not is_empty(one)  # one value fills every bin
    probes = sketch.oph_probes(16, 2)
    assert probes.shape == (16, sketch._OPH_PROBES + 15)
    for i in range(16):  # the tail of every probe row visits every other bin
        assert sorted(probes[i, sketch._OPH_PROBES :].tolist()) == [j for j in range(16) if j != i]
    # Equal sets, equal signatures, whatever the order and repeats.
    h = _random_hashes(np.random.default_rng(4), 40)
    assert (mh.signature(h) == mh.signature(np.concatenate([h[::-1], h[:5]]))).all()


def test_exact_jaccard_and_containment() -> None:
    assert exact_jaccard({1, 2, 3}, {2, 3, 4}) == 0.5
    assert exact_jaccard(set(), set()) == 0.0
    assert exact_jaccard({1}, set()) == 0.0
    assert containment({1, 2}, {1, 2, 3, 4}) == 1.0
    assert containment({1, 2, 3, 4}, {1, 2}) == 0.5
    assert containment(set(), {1}) == 0.0
    a = np.array([3, 1, 2, 2], dtype=np.uint64)
    b = np.array([2, 3, 4], dtype=np.uint64)
    assert exact_jaccard(a, b) == 0.5
    assert containment(b, a) == pytest.approx(2 / 3)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        MinHasher(128, scheme="legacy")
    with pytest.raises(ValueError):
        jaccard(np.zeros(4), np.zeros(5))


@pytest.mark.parametrize("scheme,width", [("affine64", 64), ("affine32", 32)])
@pytest.mark.parametrize("num_perm,seed", [(128, 1), (16, 7), (256, 42)])
def test_permutations_are_datasketchs_own(scheme: str, width: int, num_perm: int, seed: int) -> None:
    """We draw the parameters ourselves (no datasketch import per run); they
    must stay datasketch's, or signatures would stop being compatible."""
    from datasketch import MinHash

    from cleaner.sketch import affine_permutations

    a, b = affine_permutations(num_perm, seed, width)
    da, db = MinHash(num_perm=num_perm, seed=seed, scheme=scheme).permutations
    assert a.dtype == np.asarray(da).dtype
    assert np.array_equal(a, da) and np.array_equal(b, db)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=2**64 - 1), max_size=60),
    st.sampled_from(["uint64", "int64", "uint32"]),
)
def test_sorted_unique_is_numpys_unique(values: list[int], dtype: str) -> None:
    x = np.array(values, dtype=np.uint64).astype(dtype)  # (wraps into the narrower types)
    got, want = sketch.sorted_unique(x), np.unique(x)
    assert got.dtype == want.dtype and got.tolist() == want.tolist()
