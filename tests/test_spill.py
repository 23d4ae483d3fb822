"""Arrays on disk: what goes in comes back, in any order, past the cache."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaner.spill import SpilledArrays, sizes_of


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 2**32 - 1), max_size=40), max_size=30),
    st.lists(st.integers(0, 10**6), max_size=60),
)
def test_arrays_come_back_as_they_went_in(arrays: list[list[int]], reads: list[int]) -> None:
    with SpilledArrays(cache_bytes=64) as store:  # a tiny cache: most reads go to the file
        for a in arrays:
            store.append(np.array(a, dtype=np.uint32))
        assert len(store) == len(arrays)
        assert store.sizes.tolist() == sizes_of(store) == [len(a) for a in arrays]
        for r in reads:
            if arrays:
                i = r % len(arrays)
                assert store[i].tolist() == arrays[i]
                assert store[-1 - i].tolist() == arrays[-1 - i]
        assert [x.tolist() for x in store] == arrays


def test_a_bad_index_is_an_index_error() -> None:
    with SpilledArrays() as store:
        store.append(np.array([1], dtype=np.uint32))
        with pytest.raises(IndexError):
            store[1]


def test_clustering_spilled_sets_equals_clustering_lists() -> None:
    from cleaner.cluster import ArticleClusterer, text_features

    body = "这次全市工业园区建设工作会议开得很好。市长在会上作了主体报告,全面部署了下步工业园区建设。" * 3
    other = "今天召开全市金融工作会议,主要任务是总结去年金融工作,研究部署今年的金融工作任务。" * 3
    texts = [body, other, "同志们:" + body, body[:60], other.replace("金融", "财政")]
    feats = [text_features(t) for t in texts]
    keys = [(i,) for i in range(len(texts))]
    plain = ArticleClusterer().cluster(texts, keys, ([f.shingles for f in feats], [f.words for f in feats], [f.signature for f in feats]))
    with SpilledArrays() as sets:
        for f in feats:
            sets.append(f.shingles)
        spilled = ArticleClusterer().cluster(texts, keys, (sets, [f.words for f in feats], [f.signature for f in feats]))
    assert spilled == plain
