"""Shingle hashes: k-grams of keys and of raw text, and fast == reference."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaner.normalize import WILDCARD, match_key
from cleaner.shingle import (
    match_keys,
    shingle_hashes,
    shingle_hashes_many,
    shingle_hashes_reference,
    shingle_hashes_text,
    shingle_set,
    tokens,
)


def _window(text: str, k: int = 5) -> int:
    """Hash of one window = the hash of a key exactly that long."""
    h = shingle_hashes(text, k)
    assert len(h) == 1
    return int(h[0])


def test_cjk_char_kgrams_are_position_independent() -> None:
    key = "同志们这次会议主要任务"
    h = shingle_hashes(key)
    assert h.dtype == np.uint64
    assert len(h) == len(key) - 5 + 1
    assert set(h.tolist()) == {_window(key[i : i + 5]) for i in range(len(key) - 4)}
    assert (np.diff(h.astype(np.float64)) > 0).all()  # sorted, unique


def test_repeated_kgrams_are_unique() -> None:
    key = "发展发展发展发展发展发展"
    assert len(shingle_hashes(key)) == 2  # 发展发展发, 展发展发展
    assert len(shingle_hashes(key, unique=False)) == len(key) - 4


def test_short_key_gives_one_exact_hash() -> None:
    assert len(shingle_hashes("同志们")) == 1
    assert len(shingle_hashes("同")) == 1
    shorts = ["同志们", "同志", "志们", "同", "□", "ab", "12"]
    values = [_window(s) for s in shorts]
    assert len(set(values)) == len(shorts)
    # A short key never equals a full-length window of a longer key.
    assert not set(values) & set(shingle_hashes("同志们同志们同志").tolist())


def test_empty_key_gives_empty_array() -> None:
    for f in (shingle_hashes, shingle_hashes_text):
        h = f("")
        assert h.dtype == np.uint64 and len(h) == 0
    assert len(shingle_hashes_text("，。！ ")) == 0  # nothing survives keying
    assert shingle_set("") == set()


def test_mask_is_a_character_unit() -> None:
    assert match_key("XX市长在会上") == match_key("__市长在会上") == f"{WILDCARD}市长在会上"
    key = match_key("XX市长在会上")
    assert len(shingle_hashes(key)) == 2
    assert tokens("XX市长") == [WILDCARD, "市", "长"]
    assert (shingle_hashes_text("※※市长在会上") == shingle_hashes(key)).all()


def test_latin_word_kgrams() -> None:
    text = "the quick brown fox jumps"
    h = shingle_hashes_text(text)
    assert len(h) == 3
    parts = ["the quick brown", "quick brown fox", "brown fox jumps"]
    assert set(h.tolist()) == {int(shingle_hashes_text(p)[0]) for p in parts}
    # Case, width and punctuation do not matter; word boundaries do.
    assert (shingle_hashes_text("The QUICK, brown fox; ｊｕｍｐｓ!") == h).all()
    assert not set(shingle_hashes_text("the quickbrown fox jumps").tolist()) & set(h.tolist())


def test_mixed_text_runs() -> None:
    text = "会议指出 the quick brown fox jumps 要加快发展"
    assert tokens(text) == list("会议指出") + ["the", "quick", "brown", "fox", "jumps"] + list("要加快发展")
    h = set(shingle_hashes_text(text).tolist())
    assert _window("会议指出") in h  # short CJK run: one exact hash
    assert _window("要加快发展") in h
    assert set(shingle_hashes_text("the quick brown fox jumps").tolist()) <= h
    assert len(h) == 5


def test_short_latin_inside_chinese_stays_characters() -> None:
    text = "2019年GDP增长5%，比上年提高"
    assert tokens(text)[:4] == ["2", "0", "1", "9"]
    assert (shingle_hashes_text(text) == shingle_hashes(match_key(text))).all()


def test_text_mode_equals_key_mode_for_chinese(seed_texts: dict[str, str]) -> None:
    text = seed_texts["001_66774ca9e7b2c39c.txt"][3000:4000]
    assert (shingle_hashes_text(text) == shingle_hashes(match_key(text))).all()


def test_traditional_equals_simplified() -> None:
    assert (shingle_hashes_text("資源型城市轉型發展") == shingle_hashes_text("资源型城市转型发展")).all()


def test_bad_k() -> None:
    with pytest.raises(ValueError):
        shingle_hashes("同志们", 0)
    with pytest.raises(ValueError):
        shingle_hashes_text("同志们", 5, 0)


_CHARS = list("同志们这次会議□市XxAb z9 ,.，。_*é") + ["\U00020000", "ก"]
_ALPHABET = st.sampled_from(_CHARS)
_TEXTS = st.text(alphabet=_ALPHABET, max_size=40)


@settings(max_examples=200, deadline=None)
@given(text=_TEXTS, k=st.integers(1, 6), word_k=st.integers(1, 4))
def test_fast_equals_reference_text(text: str, k: int, word_k: int) -> None:
    fast = shingle_hashes_text(text, k, word_k)
    ref = shingle_hashes_reference(text, k, word_k, text=True)
    assert fast.tolist() == ref.tolist()


@settings(max_examples=200, deadline=None)
@given(key=st.text(min_size=0, max_size=60), k=st.integers(1, 7))
def test_fast_equals_reference_key(key: str, k: int) -> None:
    # Any string, including lone surrogates and astral characters.
    fast = shingle_hashes(key, k)
    assert fast.tolist() == shingle_hashes_reference(key, k).tolist()
    assert shingle_set(key, k) == set(fast.tolist())


@settings(max_examples=100, deadline=None)
@given(keys=st.lists(st.text(alphabet=_ALPHABET, max_size=12), max_size=8), k=st.integers(1, 6))
def test_many_equals_one_at_a_time(keys: list[str], k: int) -> None:
    flat, offsets = shingle_hashes_many(keys, k)
    assert len(offsets) == len(keys) + 1
    uflat, uoffsets = shingle_hashes_many(keys, k, unique=True)
    for i, key in enumerate(keys):
        window_order = flat[offsets[i] : offsets[i + 1]]
        assert window_order.tolist() == shingle_hashes(key, k, unique=False).tolist()
        assert uflat[uoffsets[i] : uoffsets[i + 1]].tolist() == shingle_hashes(key, k).tolist()


@pytest.mark.parametrize("k", [1, 2, 5, 8])
def test_many_equals_one_at_a_time_past_a_block_of_units(k: int) -> None:
    # More units than two blocks of window starts (65,536 each), keys of
    # every length around k side by side, and empty keys between them.
    rng = random.Random(k)
    keys = ["".join(rng.choice(_CHARS) for _ in range(rng.choice([0, 1, k - 1, k, k + 1, 40, 3000]))) for _ in range(400)]
    assert sum(map(len, keys)) > 2 * 65_536
    flat, offsets = shingle_hashes_many(keys, k)
    for i, key in enumerate(keys):
        assert flat[offsets[i] : offsets[i + 1]].tolist() == shingle_hashes(key, k, unique=False).tolist()


def test_match_keys_equals_match_key(seed_texts: dict[str, str]) -> None:
    lines = [ln for t in seed_texts.values() for ln in t.splitlines()]
    lines += ["20xx年", "XX", "二○○五年", "x", "某某", "", "a\ue000b"]
    assert match_keys(lines) == [match_key(ln) for ln in lines]
    assert match_keys(lines[:-1]) == [match_key(ln) for ln in lines[:-1]]


def test_match_keys_in_small_batches_equal_match_key(seed_texts: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    import cleaner.shingle as shingle

    # Batches of a few texts (a large corpus keys in batches of ~4M characters).
    monkeypatch.setattr(shingle, "_KEY_BATCH_CHARS", 50)
    lines = [ln for t in seed_texts.values() for ln in t.splitlines()][:400] + ["XX", "XX", "二", "○○五", "", "發展"]
    assert match_keys(lines) == [match_key(ln) for ln in lines]


def test_match_keys_boundaries_stop_context_rules() -> None:
    # Masks, years and zeros must not join across the boundary between texts.
    texts = ["abc20", "xx年", "XX", "XX", "二", "○○五", "某", "某", "__", "x86", "發", "展", "x", "光"]
    assert match_keys(texts) == [match_key(t) for t in texts]


def test_long_input_blocks_do_not_change_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    import cleaner.shingle as shingle

    keys = ["同志们这次会议□ab" * 7, "", "同志", "发展" * 40]
    text = "会议指出 the quick brown fox jumps over it 要加快发展" * 3
    before = shingle_hashes_many(keys), shingle_hashes(keys[3]), shingle_hashes_text(text)
    monkeypatch.setattr(shingle, "_BLOCK", 13)  # many prefix-sum blocks
    after = shingle_hashes_many(keys), shingle_hashes(keys[3]), shingle_hashes_text(text)
    assert (before[0][0] == after[0][0]).all() and (before[0][1] == after[0][1]).all()
    assert (before[1] == after[1]).all() and (before[2] == after[2]).all()
