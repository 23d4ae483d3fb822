"""The OpenCC gate: a text with no character the dictionaries rewrite is not
sent to OpenCC, and the result is what OpenCC itself gives."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaner import normalize
from cleaner.normalize import _opencc, _opencc_reference, convert_script, match_key, opencc_changers

CONFIGS = ("t2s", "s2t")
# Every block OpenCC's dictionaries draw from: CJK radicals and symbols,
# Extension A, the unified block, compatibility ideographs, full-width
# forms, and the supplementary ideographic planes.
_RANGES = [(0x2E80, 0xA000), (0xF900, 0xFB00), (0xFF00, 0xFFF0), (0x20000, 0x2FA20)]


@pytest.mark.parametrize("config", CONFIGS)
def test_the_installed_dictionaries_are_read(config):
    table = opencc_changers(config)
    assert table is not None, "the gate is off: OpenCC's dictionaries could not be read"
    assert table.sum() > 1000
    assert table[ord("長" if config == "t2s" else "长")]
    assert not table[ord("的")]  # the same in both scripts


@pytest.mark.parametrize("config", CONFIGS)
def test_every_character_outside_the_table_converts_to_itself(config):
    table = opencc_changers(config)
    assert table is not None
    kept = "".join(chr(c) for lo, hi in _RANGES for c in range(lo, hi) if not table[c])
    assert len(kept) > 50_000
    assert _opencc_reference(config, kept) == kept


def _alphabet(config: str) -> list[str]:
    table = opencc_changers(config)
    assert table is not None
    changers = [chr(c) for c in np.flatnonzero(table)[:3000:7]]
    # Characters of phrase entries that rewrite only some of their
    # characters (乾燥 -> 干燥), and everyday text around them.
    return changers + list("乾燥干燥著着的了是在会议同志们发展经济，。“”\n 　ABCabc123") + ["\ud800"]


@pytest.mark.parametrize("config", CONFIGS)
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_gated_conversion_equals_opencc(config, data):
    text = data.draw(st.lists(st.sampled_from(_alphabet(config)), max_size=40).map("".join))
    assert _opencc(config, text) == _opencc_reference(config, text)


@pytest.mark.parametrize("script", ["simplified", "traditional"])
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_a_text_that_may_not_convert_is_what_opencc_gives_back(script, data):
    """``may_convert`` per text of a batch: False only where OpenCC itself
    (no gate) returns the text as it is."""
    config = "t2s" if script == "simplified" else "s2t"
    texts = data.draw(st.lists(st.lists(st.sampled_from(_alphabet(config)), max_size=12).map("".join), max_size=8))
    need = normalize.may_convert(texts, script)
    assert len(need) == len(texts)
    for text, may in zip(texts, need):
        if not may:
            assert _opencc_reference(config, text) == text if text else True
    assert normalize.may_convert(texts, "original") == [False] * len(texts)


@pytest.mark.parametrize(
    "text",
    [
        "同志们:今天我们召开全市工作会议。",  # simplified: skipped by the gate, unchanged
        "資源型城市轉型",
        "天氣乾燥",  # a phrase entry that rewrites one of its characters
        "",
    ],
)
def test_gated_and_ungated_agree_on_examples(text):
    for config in CONFIGS:
        assert _opencc(config, text) == _opencc_reference(config, text)
    assert convert_script("資源型城市轉型", "simplified") == "资源型城市转型"
    assert match_key("XX市長") == "□市长"


def test_without_the_dictionary_tool_every_text_is_converted(monkeypatch):
    def missing(*args, **kwargs):
        raise FileNotFoundError("opencc_dict")

    monkeypatch.setattr(normalize, "_CHANGERS", {})
    monkeypatch.setattr(normalize, "_ENTRIES", {})
    monkeypatch.setattr(normalize, "_KEY_TABLES", {})
    monkeypatch.setenv("CLEANER_CACHE_DIR", "")  # tables kept on disk would hide the missing tool
    monkeypatch.setattr(subprocess, "run", missing)
    assert opencc_changers("t2s") is None
    assert _opencc("t2s", "資源型城市轉型") == "资源型城市转型"
    assert _opencc("t2s", "资源型城市") == "资源型城市"
    # Keys fall back to OpenCC on each character alone: still script-blind.
    assert match_key("XX市長：資源型城市轉型") == match_key("XX市长:资源型城市转型") == "□市长资源型城市转型"
