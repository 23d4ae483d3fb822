"""Tests for cleaner.align: the fast paragraph matcher against its plain
reference, character segments/regions/projection, noise detection."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaner.align import (
    _FOLD,
    char_segments,
    comparable,
    fold,
    map_position,
    masked_ratio,
    match_paragraphs,
    match_paragraphs_reference,
    monotone_pairs,
    noise_score,
    noise_spans,
    pair_scores,
    project,
    reading_key,
    reading_key_reference,
    reading_keys,
    rescore_masked,
    score_matrix,
    union_regions,
)
from rapidfuzz import fuzz

# Small alphabets so random keys are often similar (and often tied).
KEY = st.text(alphabet="甲乙丙丁戊□", min_size=0, max_size=12)
KEYS = st.lists(KEY, min_size=0, max_size=9)


@settings(max_examples=300, deadline=None)
@given(KEYS, KEYS, st.sampled_from([0.0, 40.0, 60.0, 80.0, 100.0]), st.booleans())
def test_match_paragraphs_equals_reference(base, other, min_ratio, masked):
    assert match_paragraphs(base, other, min_ratio, masked=masked) == match_paragraphs_reference(
        base, other, min_ratio, masked=masked
    )


@settings(max_examples=200, deadline=None)
@given(KEYS, KEYS)
def test_match_paragraphs_is_monotone_and_above_threshold(base, other):
    pairs = match_paragraphs(base, other, 60.0)
    for (i0, j0), (i1, j1) in zip(pairs, pairs[1:]):
        assert i0 < i1 and j0 < j1
    for i, j in pairs:
        assert fuzz.ratio(base[i], other[j]) >= 60.0


@settings(max_examples=100, deadline=None)
@given(KEYS)
def test_match_paragraphs_identity(keys):
    assert match_paragraphs(keys, keys, 60.0) == [(i, i) for i in range(len(keys))]


def test_masked_ratio():
    assert masked_ratio("□同志讲话", "王君文同志讲话") == 100.0
    assert masked_ratio("同志讲话", "同志讲话") == 100.0
    # A wildcard never stands for a long stretch.
    assert masked_ratio("□", "这是一段很长的完全不同的话") < 60.0
    assert masked_ratio("甲乙", "丙丁") == 0.0


def test_cdist_scores_equal_ratio():
    a, b = ["同志们", "今年工作很好", ""], ["同志们好", "", "今年工作"]
    m = score_matrix(a, b)
    assert m.dtype == np.float64
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            assert m[i, j] == fuzz.ratio(x, y)


def test_match_paragraphs_skips_dropped_and_added():
    base = ["同志们", "这次会议开得很好", "应该说今年以来成绩显著", "我再强调三个问题"]
    other = ["同志们", "这次会议开得很好啊", "我再强调三个问题", "新增的结束语一段"]
    assert match_paragraphs(base, other) == [(0, 0), (1, 1), (3, 2)]


def test_monotone_pairs_prefers_more_total_score():
    # Pairing (0,1) alone (95) loses to (0,0)+(1,1) (70+70).
    scores = np.array([[70.0, 95.0], [10.0, 70.0]])
    assert monotone_pairs(scores, 60.0) == [(0, 0), (1, 1)]


def _rebuild(a: str, b: str) -> str:
    """b, rebuilt from a by replacing every region with its projection."""
    segs = char_segments(a, b)
    regions = union_regions([segs])
    spans = project(segs, regions)
    out, pos = [], 0
    for (s, e), (bs, be) in zip(regions, spans):
        out.append(a[pos:s])
        out.append(b[bs:be])
        pos = e
    out.append(a[pos:])
    return "".join(out)


TEXT = st.text(alphabet="甲乙丙丁_?，,。", max_size=30)


@settings(max_examples=300, deadline=None)
@given(TEXT, TEXT)
def test_projection_rebuilds_other(a, b):
    assert _rebuild(a, b) == b


@settings(max_examples=200, deadline=None)
@given(TEXT, st.lists(TEXT, min_size=1, max_size=4))
def test_projection_with_many_variants(a, others):
    """Regions from several variants still project each variant exactly."""
    seg_lists = [char_segments(a, b) for b in others]
    regions = union_regions(seg_lists)
    for b, segs in zip(others, seg_lists):
        out, pos = [], 0
        for (s, e), (bs, be) in zip(regions, project(segs, regions)):
            out.append(a[pos:s])
            out.append(b[bs:be])
            pos = e
        out.append(a[pos:])
        assert "".join(out) == b
    for (s0, e0), (s1, e1) in zip(regions, regions[1:]):
        assert e0 < s1  # disjoint and not touching


@settings(max_examples=200, deadline=None)
@given(TEXT, TEXT, st.integers(min_value=0, max_value=30))
def test_map_position_is_in_range_and_monotone(a, b, p):
    p = min(p, len(a))
    segs = char_segments(a, b)
    q = map_position(segs, p)
    assert 0 <= q <= len(b)
    if p < len(a):
        assert map_position(segs, p + 1) >= q


def test_char_segments_equal_texts():
    assert char_segments("同志们", "同志们") == []


def test_comparable_preserves_length_and_folds():
    assert comparable("同志們，ＸＸ市", to_simplified=True) == "同志们,xx市"
    assert comparable("同志們", to_simplified=False) == "同志們"
    s = "資源型城市轉型發展，１２３"
    assert len(comparable(s, True)) == len(s)


@pytest.mark.parametrize(
    "text, noise",
    [
        ("__市长在会上作了报告", ["__"]),
        ("XX市长和※※同志", ["XX", "※※"]),
        ("省委xx届x次全会于20xx年召开", ["xx", "x", "20xx"]),
        ("**工业的核心板块", ["**"]),
        ("○○同志和二○○五年", ["○○"]),
        ("建设工业强市的发展目标。?", ["?"]),
        ("增加值同比增长29?4),", ["?"]),
        ("工业人才的培训。?六、加快", ["?"]),
        ("园区是干什么的?园区就是", []),
        ("能行吗？", ["？"]),
        ("增长\ufffd\ufffd12.4", ["\ufffd\ufffd"]),
        ("锟斤拷锟斤拷文字", ["锟斤拷锟斤拷"]),
        ("Windows XP和x86和X光", []),
        ("3×4=12", []),
        ("王市长在会上作了报告。", []),
    ],
)
def test_noise_spans(text, noise):
    assert [text[s:e] for s, e in noise_spans(text)] == noise
    assert noise_score(text) == float(len(noise))


# --------------------------------------------------------------------------
# Fast twins: fold, reading keys, pair scores, the monotone matching.

# Characters every step treats specially: width/case folding, masks (x, _,
# ○ after a numeral, 19xx), punctuation, traditional forms, newlines.
ODD = "ＡＢａｂABab，,。.：:\u3000 xX_＿*※○◯二三19２０某□☐甲乙們說會議\n?？\ufffd\ud800"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ODD, max_size=30))
def test_fold_is_the_translate_table(text):
    assert fold(text) == text.translate(_FOLD)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=ODD, max_size=8), max_size=8), st.booleans())
def test_reading_keys_equal_reading_key_reference(texts, to_simplified):
    expected = [reading_key_reference(t, to_simplified) for t in texts]
    assert [reading_key(t, to_simplified) for t in texts] == expected
    assert reading_keys(texts, to_simplified) == expected


def _masked_reference(base, other, min_ratio):
    return rescore_masked(score_matrix(base, other, min_ratio / 2), base, other, min_ratio)


# Longer keys than KEY, so that head/tail pivots exist and bounds prune.
LONG_KEY = st.text(alphabet="甲乙丙丁戊己庚辛□", min_size=0, max_size=30)


@settings(max_examples=300, deadline=None)
@given(st.lists(LONG_KEY, max_size=8), st.lists(LONG_KEY, max_size=10), st.sampled_from([40.0, 60.0, 80.0]))
def test_pair_scores_agree_with_the_full_matrix_where_it_matters(base, other, min_ratio):
    fast, ref = pair_scores(base, other, min_ratio), _masked_reference(base, other, min_ratio)
    assert fast.shape == ref.shape
    assert ((fast >= min_ratio) == (ref >= min_ratio)).all()
    assert (fast[fast >= min_ratio] == ref[ref >= min_ratio]).all()
    assert monotone_pairs(fast, min_ratio) == match_paragraphs_reference(base, other, min_ratio, masked=True)


def test_pair_scores_on_copies():
    base = ["同志们今年的工作很好大家辛苦了", "明年继续努力把工作做得更好", "□市长讲话全文如下"]
    other = ["同志们今年的工作很好大家辛苦", "王君文市长讲话全文如下", "明年继续努力把工作做得更好啊"]
    assert (pair_scores(base, other, 60.0) >= 60.0).sum() == 3
    assert monotone_pairs(pair_scores(base, other, 60.0), 60.0) == match_paragraphs(base, other, 60.0, masked=True)


def _monotone_reference(scores, min_ratio):
    """The DP of monotone_pairs in plain loops, with the same back-trace."""
    n, m = scores.shape
    if n == 0 or m == 0:
        return []
    D = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            s = float(scores[i - 1, j - 1])
            diag = D[i - 1][j - 1] + s if s >= min_ratio else float("-inf")
            D[i][j] = max(max(D[i - 1][j], diag), D[i][j - 1])
    pairs = []
    i, j = n, m
    while i > 0 and j > 0:
        if D[i][j] == D[i - 1][j]:
            i -= 1
        elif D[i][j] == D[i][j - 1]:
            j -= 1
        else:
            pairs.append((i - 1, j - 1))
            i -= 1
            j -= 1
    return pairs[::-1]


@settings(max_examples=400, deadline=None)
@given(
    st.integers(0, 7),
    st.integers(0, 7),
    st.lists(st.sampled_from([0.0, 0.5, 30.0, 59.9, 60.0, 70.0, 85.5, 100.0]), min_size=49, max_size=49),
    st.sampled_from([0.0, 0.5, 60.0]),
)
def test_monotone_pairs_equals_plain_dp(n, m, cells, min_ratio):
    scores = np.array(cells[: n * m], dtype=np.float64).reshape(n, m)
    assert monotone_pairs(scores, min_ratio) == _monotone_reference(scores, min_ratio)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 8), st.data())
def test_monotone_pairs_shortcut_on_diagonal_chains(n, data):
    """One candidate per row and column, in order (the common case, which
    monotone_pairs answers without the DP)."""
    cols = sorted(data.draw(st.lists(st.integers(0, 9), min_size=n, max_size=n, unique=True)))
    scores = np.zeros((n, 10))
    for i, c in enumerate(cols):
        scores[i, c] = data.draw(st.sampled_from([60.0, 75.0, 100.0]))
    assert monotone_pairs(scores, 60.0) == _monotone_reference(scores, 60.0) == list(enumerate(cols))
