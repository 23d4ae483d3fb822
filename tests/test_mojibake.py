"""Mojibake detection and reversal (cleaner.mojibake)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaner.mojibake import (
    KUNJINKAO,
    analyse_gbk_mojibake,
    fix_gbk_mojibake,
    fix_latin1_mojibake,
    looks_like_gbk_mojibake,
    plausibility,
    repair_gbk_mojibake,
)

ROOT = Path(__file__).resolve().parents[1]
SEEDS = sorted((ROOT / "fixtures" / "seeds").glob("*.txt"))
CASES = json.loads((ROOT / "tests" / "cases" / "mojibake.json").read_text(encoding="utf-8"))
NEGATIVE = json.loads((ROOT / "tests" / "cases" / "fixes_negative.json").read_text(encoding="utf-8"))


def gbk_damage(s: str) -> str:
    """What a GBK reader makes of UTF-8 bytes."""
    return s.encode("utf-8").decode("gbk", errors="replace")


def seed_lines() -> list[str]:
    return [ln for p in SEEDS for ln in p.read_text(encoding="utf-8").split("\n") if ln]


def test_brief_examples() -> None:
    assert fix_gbk_mojibake("鍒氭墠") == "刚才"
    assert fix_latin1_mojibake("å\x88\x9aæ\x89\x8d") == "刚才"
    assert fix_gbk_mojibake("刚才") is None
    assert not looks_like_gbk_mojibake("刚才")


@pytest.mark.parametrize("case", [c for c in CASES if "gbk" in c["label"] or KUNJINKAO in c["damaged"]],
                         ids=lambda c: c["label"])
def test_gbk_cases(case: dict) -> None:
    assert repair_gbk_mojibake(case["damaged"]) == case["fixed"]
    r = analyse_gbk_mojibake(case["damaged"])
    assert r is not None
    assert r.complete == case["complete"]
    if case["complete"]:
        assert fix_gbk_mojibake(case["damaged"]) == case["fixed"]
    else:
        assert fix_gbk_mojibake(case["damaged"]) is None


@pytest.mark.parametrize("case", [c for c in CASES if "gbk" not in c["label"] and KUNJINKAO not in c["damaged"]],
                         ids=lambda c: c["label"])
def test_latin1_cases(case: dict) -> None:
    assert fix_latin1_mojibake(case["damaged"]) == case["fixed"]
    assert not looks_like_gbk_mojibake(case["damaged"])


@pytest.mark.parametrize("text", NEGATIVE)
def test_negative_not_mojibake(text: str) -> None:
    assert fix_gbk_mojibake(text) is None
    assert repair_gbk_mojibake(text) == text
    assert fix_latin1_mojibake(text) is None


def test_no_clean_seed_line_is_mojibake() -> None:
    """The crucial guarantee: clean Chinese (simplified and traditional) is never touched."""
    for line in seed_lines():
        assert analyse_gbk_mojibake(line) is None, line
        assert fix_latin1_mojibake(line) is None, line


def test_every_damaged_seed_line_is_detected_and_consistent() -> None:
    """Each GBK-damaged seed line is detected; the repair equals the original
    except that each character whose bytes were lost is one U+FFFD."""
    detected = exact = 0
    for line in seed_lines():
        damaged = gbk_damage(line)
        if damaged == line:
            continue
        r = analyse_gbk_mojibake(damaged)
        assert r is not None and r.repaired, damaged
        detected += 1
        if "\ufffd" not in damaged:  # every byte survived: exact reversal
            assert r.complete and r.text == line
            exact += 1
        else:
            assert not r.complete
            assert len(r.text) == len(line), (line, r.text)
            assert all(a == b for a, b in zip(r.text, line) if a != "\ufffd")
    assert detected > 700 and exact >= 5


def test_kunjinkao_is_flagged_not_repaired() -> None:
    r = analyse_gbk_mojibake(gbk_damage("\ufffd\ufffd"))
    assert gbk_damage("\ufffd\ufffd") == KUNJINKAO
    assert r is not None and not r.complete and r.kunjinkao == 1
    assert fix_gbk_mojibake(KUNJINKAO) is None


def test_plausibility_separates_clean_and_damaged() -> None:
    for p in SEEDS:
        text = p.read_text(encoding="utf-8")
        assert plausibility(text) > 0.9
        assert plausibility(gbk_damage(text)) < 0.3


@settings(max_examples=300, deadline=None)
@given(st.sets(st.integers(0, 0x10FFFF).filter(lambda c: not 0xD800 <= c < 0xE000)
               | st.sampled_from([0, 9, 10, 13, 45, 91, 92, 93, 94, 38, 126, 124, 0x7F, 0x80, 0xFFFD]), min_size=1))
def test_a_character_class_matches_exactly_its_code_points(codes: set[int]) -> None:
    """Written with the characters themselves (ASCII punctuation escaped),
    the class must still hold exactly the code points it was made from."""
    import re

    from cleaner.mojibake import _char_class

    cls = re.compile("[" + _char_class(codes) + "]")
    probes = codes | {c + d for c in codes for d in (-1, 1) if 0 <= c + d <= 0x10FFFF and not 0xD800 <= c + d < 0xE000}
    for c in probes:
        assert (cls.fullmatch(chr(c)) is not None) == (c in codes), hex(c)
