"""Tests for the rule pack (cleaner/rules.toml) and its engine (cleaner/rules.py).

Per-rule positives and negatives live in tests/cases/rules.json; the seed
files check that real noise is caught and real content is left alone.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleaner.rules import (
    CATEGORIES,
    SCOPES,
    Rule,
    RuleMatch,
    RulePack,
    RuleScanner,
    TextGate,
    _uncased,
    any_of,
    default_pack,
    glued_page_number,
    required_strings,
)

CASES = json.loads((Path(__file__).parent / "cases" / "rules.json").read_text(encoding="utf-8"))
RULE_CASES: dict[str, dict] = CASES["rules"]


@pytest.fixture(scope="module")
def pack() -> RulePack:
    return RulePack.load()


def _untouched(pack: RulePack, text: str) -> None:
    """The whole pack must leave ``text`` alone."""
    cleaned, matches = pack.clean(text)
    assert cleaned == text, [(m.rule.id, text[m.start : m.end]) for m in matches]
    assert pack.match_line(text) is None, pack.match_line(text)
    assert pack.match_edge(text) is None, pack.match_edge(text)


# ---------------------------------------------------------------------------
# The pack itself
# ---------------------------------------------------------------------------


def test_every_rule_has_id_category_scope_and_description(pack: RulePack) -> None:
    ids = [r.id for r in pack.rules]
    assert len(ids) == len(set(ids))
    for r in pack.rules:
        assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", r.id), r.id
        assert r.category in CATEGORIES
        assert r.scope in SCOPES
        assert r.description
        assert isinstance(r.pattern, re.Pattern)


def test_every_rule_has_cases_and_every_case_has_a_rule(pack: RulePack) -> None:
    ids = {r.id for r in pack.rules}
    assert set(RULE_CASES) == ids
    for rid, case in RULE_CASES.items():
        assert len(case["positives"]) >= 3, f"{rid}: needs >= 3 positives"
        assert len(case["negatives"]) >= 2, f"{rid}: needs >= 2 negatives"


def test_every_category_is_used(pack: RulePack) -> None:
    assert {r.category for r in pack.rules} == set(CATEGORIES)


def test_load_is_cached_and_get(pack: RulePack) -> None:
    assert RulePack.load() is pack is default_pack()
    assert pack.get("url") is not None and pack.get("url").category == "watermark"
    assert pack.get("no-such-rule") is None


def test_load_from_path(tmp_path: Path) -> None:
    f = tmp_path / "r.toml"
    f.write_text(
        '[[rule]]\nid = "tilde"\ncategory = "artefact"\nscope = "inline"\n'
        'description = "tildes"\npattern = "~+"\n',
        encoding="utf-8",
    )
    p = RulePack.load(f)
    assert p.clean("a~~b") == ("ab", [RuleMatch(1, 3, p.get("tilde"))])
    assert RulePack.load(f) is p


@pytest.mark.parametrize(
    "body, message",
    [
        ('id = "bad-re"\ncategory = "artefact"\nscope = "inline"\ndescription = "d"\npattern = "(["', "bad-re"),
        ('id = "no-pat"\ncategory = "artefact"\nscope = "inline"\ndescription = "d"', "no-pat.*pattern"),
        ('id = "no-cat"\nscope = "inline"\ndescription = "d"\npattern = "a"', "no-cat.*category"),
        ('id = "bad-cat"\ncategory = "junk"\nscope = "inline"\ndescription = "d"\npattern = "a"', "bad-cat.*category"),
        ('id = "bad-scope"\ncategory = "markup"\nscope = "page"\ndescription = "d"\npattern = "a"', "bad-scope.*scope"),
        ('id = "typo"\ncategory = "markup"\nscope = "inline"\ndescription = "d"\npattern = "a"\npatern = "b"', "typo.*patern"),
        ('id = "named"\ncategory = "markup"\nscope = "inline"\ndescription = "d"\npattern = "(?P<x>a)"', "named"),
        ('id = "def"\ncategory = "markup"\nscope = "inline"\ndescription = "d"\npattern = "{{nope}}"', "def.*nope"),
        ('category = "markup"\nscope = "inline"\ndescription = "d"\npattern = "a"', "rule #1.*id"),
    ],
)
def test_bad_rule_files_name_the_rule(body: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RulePack.from_toml("[[rule]]\n" + body + "\n")


def test_duplicate_ids_rejected() -> None:
    one = '[[rule]]\nid = "x"\ncategory = "markup"\nscope = "inline"\ndescription = "d"\npattern = "a"\n'
    with pytest.raises(ValueError, match="'x'.*duplicate"):
        RulePack.from_toml(one + one)


def test_rule_dataclass_interface() -> None:
    r = Rule("x", "artefact", "inline", re.compile("~"), "d", None)
    assert (r.id, r.category, r.scope, r.description, r.replacement) == ("x", "artefact", "inline", "d", None)
    m = RuleMatch(0, 1, r)
    assert m.replacement == ""
    with pytest.raises(AttributeError):
        m.start = 3  # type: ignore[misc]


def test_traditional_forms_follow_from_simplified_patterns(pack: RulePack) -> None:
    # 为 in a pattern also matches 為 and 爲; no traditional text in the TOML.
    assert pack.match_edge("本站為你精心整理了范文,歡迎閱讀。").id == "site-notice"
    assert pack.match_edge("本站爲你精心整理了范文,欢迎阅读。").id == "site-notice"


# ---------------------------------------------------------------------------
# Data-driven per-rule cases
# ---------------------------------------------------------------------------


def _positive_params() -> list:
    out = []
    for rid, case in RULE_CASES.items():
        for i, pos in enumerate(case["positives"]):
            out.append(pytest.param(rid, pos, id=f"{rid}+{i}"))
    return out


def _negative_params() -> list:
    out = []
    for rid, case in RULE_CASES.items():
        for i, text in enumerate(case["negatives"]):
            out.append(pytest.param(text, id=f"{rid}-{i}"))
    for i, text in enumerate(CASES["masks"]):
        out.append(pytest.param(text, id=f"mask-{i}"))
    for i, text in enumerate(CASES["content"]):
        out.append(pytest.param(text, id=f"content-{i}"))
    return out


@pytest.mark.parametrize("rid, case", _positive_params())
def test_positive(pack: RulePack, rid: str, case: dict) -> None:
    rule = pack.get(rid)
    assert rule is not None
    text = case["text"]
    if rule.scope == "inline":
        cleaned, matches = pack.clean(text)
        assert cleaned == case["clean"]
        assert rid in {m.rule.id for m in matches}
        for m in matches:
            assert m.rule.category in CATEGORIES
    elif rule.scope == "line":
        got = pack.match_line(text)
        assert got is not None and got.id == rid, got
    else:
        got = pack.match_edge(text)
        assert got is not None and got.id == rid, got


@pytest.mark.parametrize("text", _negative_params())
def test_negative_must_not_change(pack: RulePack, text: str) -> None:
    _untouched(pack, text)


@pytest.mark.parametrize("case", CASES["glued_page_number"], ids=lambda c: f"{c['prev']}|{c['line'][:6]}")
def test_glued_page_number(case: dict) -> None:
    assert glued_page_number(case["prev"], case["line"]) == case["expect"]


# ---------------------------------------------------------------------------
# Engine behaviour
# ---------------------------------------------------------------------------


def test_find_inline_sorted_non_overlapping_with_offsets(pack: RulePack) -> None:
    text = "<p>信息化(本文权属文秘之音所有,更多文章请登陆www.xiexiebang.com查看)增长29?4%&nbsp;好</p>"
    matches = pack.find_inline(text)
    assert [m.rule.id for m in matches] == [
        "html-tag", "ownership-claim", "decimal-question", "nbsp-entity", "html-tag",
    ]
    for a, b in zip(matches, matches[1:]):
        assert a.end <= b.start
    claim = matches[1]
    assert text[claim.start : claim.end].startswith("(本文权属") and text[claim.end - 1] == ")"
    assert pack.clean(text)[0] == "信息化增长29.4%好"


def test_wider_rule_wins_over_the_url_inside_it(pack: RulePack) -> None:
    # The whole bracketed claim goes, not just its URL.
    (m,) = pack.find_inline("甲(更多范文请访问www.example.com)乙")
    assert m.rule.id == "ownership-claim"


def test_guard_rejection_lets_later_rules_try(pack: RulePack) -> None:
    # 什么事? is a question (kept); the second ? is still an artefact.
    cleaned, matches = pack.clean("还能办成什么事??")
    assert cleaned == "还能办成什么事?"
    assert [m.rule.id for m in matches] == ["question-doubled"]


def test_line_end_rules_work_per_line_in_multiline_text(pack: RulePack) -> None:
    text = "同志们:?\n这是为什么?\n一、认清形势,自加压力?\n增长29?4%"
    assert pack.clean(text)[0] == "同志们:\n这是为什么?\n一、认清形势,自加压力\n增长29.4%"


def test_match_line_by_inline_coverage(pack: RulePack) -> None:
    assert pack.match_line("www.example.com。").id == "url"
    assert pack.match_line("  <image>评级3星</image>  ").id == "image-element"
    # A replacement (decoding an entity) is not a removal.
    assert pack.match_line("&ldquo;") is None
    assert pack.match_line("") is None and pack.match_line("   ") is None


def test_edge_length_limit(pack: RulePack) -> None:
    notice = "下面是小编给大家整理的讲话材料,仅供参考。"
    assert pack.match_edge(notice).id == "site-notice"
    assert pack.match_edge("同志们," + "要加强领导。" * 40 + notice) is None


def test_empty_and_plain_texts(pack: RulePack) -> None:
    assert pack.find_inline("") == []
    assert pack.clean("") == ("", [])
    assert pack.match_edge("") is None


def test_speed_smoke(pack: RulePack, seed_texts: dict[str, str]) -> None:
    """A loose bound (the real figure is ~30 MiB/s): catches a pattern that
    backtracks badly, not a slow machine."""
    import time

    lines = [line for t in seed_texts.values() for line in t.split("\n")]
    start = time.perf_counter()
    for line in lines:
        pack.find_inline(line)
    elapsed = time.perf_counter() - start
    size = sum(len(t.encode()) for t in seed_texts.values())
    assert size / elapsed > 2 * 2**20, f"{size / elapsed / 2**20:.1f} MiB/s"


# ---------------------------------------------------------------------------
# The seeds
# ---------------------------------------------------------------------------

_IMAGE_TAG = re.compile(r"<(?:\w+:)?image>")
_WATERMARK = re.compile(r"www\.|权属|\.com|http")
_HEADING = re.compile(r"^(?:同志们|[一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[)）])")
# Real seed notices, by the text they start with: every edge match in the
# seeds must be one of them (and each of them must match).
_SEED_EDGE_NOTICES = (
    "“queen1900”通过精心收集",
    "看过在工业园区工作会议上的讲话的人还看了",
    "《市委各级领导市工业园区建设工作会议分别讲话》来源于本网会员分享",
    "【工业园区工作会议讲话】相关文章",
    "文档为doc格式",
    "上一篇:我敬佩的人范文350",
    "前言:本站為你精心整理了",
    "政务指政府的事务性工作; 泛指行政事务。下面是爱学范文网小编",
)


def _seed_lines(seed_texts: dict[str, str]) -> list[tuple[str, int, str]]:
    return [
        (name, i, line)
        for name, text in seed_texts.items()
        for i, line in enumerate(text.split("\n"), 1)
        if line.strip()
    ]


def test_seed_image_tags_and_watermarks_all_caught(pack: RulePack, seed_texts: dict[str, str]) -> None:
    images = watermarks = 0
    for name, i, line in _seed_lines(seed_texts):
        cleaned, _ = pack.clean(line)
        images += len(_IMAGE_TAG.findall(line))
        watermarks += len(_WATERMARK.findall(line))
        assert not _IMAGE_TAG.search(cleaned), (name, i)
        assert not _WATERMARK.search(cleaned), (name, i, cleaned)
    assert images >= 6 and watermarks >= 2


def test_seed_page_footers_caught(pack: RulePack, seed_texts: dict[str, str]) -> None:
    footers = [
        (name, i, line)
        for name, i, line in _seed_lines(seed_texts)
        if re.fullmatch(r"[—\s\d]+", line.strip()) and "—" in line
    ]
    assert len(footers) >= 3
    for name, i, line in footers:
        rule = pack.match_line(line)
        assert rule is not None and rule.category == "page-number", (name, i, line)
    # The glued numbers in 000: "— —" then "2大项目…" / "4级政府…".
    lines = seed_texts["000_4acff1a94245f79e.txt"].split("\n")
    glued = [lines[k + 1][:3] for k in range(len(lines) - 1) if glued_page_number(lines[k], lines[k + 1])]
    assert glued == ["2大项", "4级政"]


def test_seed_edge_notices_exactly(pack: RulePack, seed_texts: dict[str, str]) -> None:
    found = [line for _, _, line in _seed_lines(seed_texts) if pack.match_edge(line)]
    for line in found:
        assert line.startswith(_SEED_EDGE_NOTICES), line
    for start in _SEED_EDGE_NOTICES:
        assert any(line.startswith(start) for line in found), start


def test_seed_speech_openings_and_headings_unchanged(pack: RulePack, seed_texts: dict[str, str]) -> None:
    """No 同志们 line or 一、/（一） heading is changed, beyond its trailing ?
    artefacts and an inline watermark; none is taken as a notice or footer."""
    checked = 0
    for name, i, line in _seed_lines(seed_texts):
        if not _HEADING.match(line):
            continue
        checked += 1
        assert pack.match_line(line) is None, (name, i)
        assert pack.match_edge(line) is None, (name, i)
        for m in pack.find_inline(line):
            artefact = m.rule.id.startswith("question-") and line[m.start : m.end].strip("?") == ""
            assert artefact or m.rule.category == "watermark", (name, i, m.rule.id, line[m.start : m.end])
            assert m.start >= 4, (name, i)  # the opening itself stays
    assert checked > 50


def test_seed_question_marks(pack: RulePack, seed_texts: dict[str, str]) -> None:
    """Every ? left after cleaning the seeds follows a question word."""
    text = seed_texts["001_66774ca9e7b2c39c.txt"]
    # Lines that go whole (the ??? line) are not part of the text.
    cleaned = "\n".join(pack.clean(line)[0] for line in text.split("\n") if not pack.match_line(line))
    assert "29.4" in cleaned and "2.16亿元" in cleaned and "18.18亿元" in cleaned
    left = [m.start() for m in re.finditer(r"\?", cleaned)]
    assert left, "the real questions stay"
    question = re.compile(r"(?:[吗呢吧嘛么谁哪岂]|什么|怎|为何|何|几|多少|难道|是否|能否|如何)[^。！？!?，,；;：:\n]{0,12}\?+$")
    for pos in left:
        assert question.search(cleaned, max(0, pos - 40), pos + 1), cleaned[max(0, pos - 20) : pos + 1]


def test_docs_list_every_rule(pack: RulePack) -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "rules.md").read_text(encoding="utf-8")
    missing = [r.id for r in pack.rules if f"| `{r.id}` |" not in doc]
    assert not missing, f"add to docs/rules.md: {missing}"


# ---------------------------------------------------------------------------
# Speed machinery: gates, alternations and the scanner answer as the pack does
# ---------------------------------------------------------------------------

_PACK = RulePack.load()
# Every pattern a search may run: rule patterns, cues, guards.
_PATTERNS = [
    p
    for r in _PACK.rules
    for p in (r.pattern, *r.cues, *r.weak_cues, r.unless_before, r.unless_match)
    if p is not None
]
# Pieces of text that rules match or nearly match, to build texts from.
_FRAGMENTS = sorted(
    {c["text"] for r in RULE_CASES.values() for c in r.get("positives", [])}
    | {t for r in RULE_CASES.values() for t in r.get("negatives", [])}
)
_texts = st.lists(
    st.one_of(st.sampled_from(_FRAGMENTS), st.text("?？&<>/.:()（）本站网文章小编www.com0123 \n□同志们", max_size=6)),
    max_size=5,
).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texts)
def test_every_match_contains_its_required_strings(text: str) -> None:
    for p in _PATTERNS:
        m = p.search(text)
        if m is not None:
            for strings in required_strings(p):
                assert any(s in m.group(0) for s in strings), (p.pattern, m.group(0), sorted(strings))


def test_required_strings_of_known_shapes() -> None:
    assert required_strings(re.compile("(?i)abc")) == []  # cased letters under IGNORECASE
    assert [sorted(s) for s in required_strings(re.compile("(?i)a:/"))] == [[":/"]]
    assert required_strings(re.compile(r"(a)\1?")) == [frozenset("a")]
    assert required_strings(re.compile("x|y?")) == []  # a branch that may be empty


_GATE = TextGate(_PATTERNS)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_texts, min_size=1, max_size=6))
def test_text_gate_never_rules_out_a_pattern_that_matches(texts: list[str]) -> None:
    gate = _GATE
    masks = gate.masks(texts)
    assert masks == [gate.mask(t) for t in texts]  # batches read texts apart
    for text, mask in zip(texts, masks):
        for i, p in enumerate(_PATTERNS):
            if p.search(text):
                assert mask >> i & 1, (p.pattern, text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**128 - 1) | st.sampled_from([0, 2**128 - 1]), min_size=1, max_size=40))
def test_text_gate_reads_many_rows_of_bits_as_one_at_a_time(rows: list[int]) -> None:
    gate = TextGate([r.pattern for r in _PACK.rules] + _PATTERNS)  # over 64 sets: two words
    words = [[row >> (64 * w) & (2**64 - 1) for w in range(gate._words)] for row in rows]
    bits = np.array(words, dtype=np.uint64).reshape(len(rows), gate._words)
    width = (1 << (64 * gate._words)) - 1
    assert gate._patterns_of(bits) == [gate._patterns_of_reference(row & width) for row in rows]


def test_uncased_characters_take_part_in_no_case_mapping() -> None:
    """IGNORECASE matches a character whose lowercase equals the pattern's:
    a character required_strings keeps under IGNORECASE must be no
    character's lowercase but its own (checked against sre's own tables)."""
    import _sre

    lower = _sre.unicode_tolower
    for cp in range(0x110000):
        low = lower(cp)
        if low != cp:
            assert not _uncased(low) and not _uncased(cp), hex(cp)
    from re import _casefix  # type: ignore[attr-defined]

    for cp, extra in _casefix._EXTRA_CASES.items():
        assert not _uncased(cp) and not any(_uncased(x) for x in extra)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texts)
def test_any_of_matches_where_one_pattern_does(text: str) -> None:
    for group in (
        [r.pattern for r in _PACK.rules if r.scope == "line"],
        [r.pattern for r in _PACK.rules if r.scope == "edge"],
    ):
        combined = any_of(group)
        assert combined is not None
        t = text.strip()
        assert (combined.fullmatch(t) is not None) == any(p.fullmatch(t) for p in group)
        assert (combined.search(text) is not None) == any(p.search(text) for p in group)
    assert any_of([re.compile(r"(a)\1")]) is None  # a back-reference would be renumbered
    assert any_of([re.compile("a", re.VERBOSE)]) is None


def test_match_line_with_its_prefilter_equals_the_plain_one(seed_texts: dict[str, str]) -> None:
    lines = [ln for t in seed_texts.values() for ln in t.split("\n")] + _FRAGMENTS
    for line in lines:
        assert _PACK.match_line(line) == _PACK._match_line_reference(line), line


def _assert_scanner_agrees(sc: RuleScanner, texts: list[str]) -> None:
    for t in texts:
        assert sc.find_inline(t) == _PACK.find_inline(t), t
        assert sc.match_line(t) == _PACK.match_line(t), t
        assert sc.match_edge(t) == _PACK.match_edge(t), t


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_texts, min_size=1, max_size=6), _texts)
def test_scanner_answers_as_the_pack(texts: list[str], outsider: str) -> None:
    sc = _PACK.scanner(texts)
    _assert_scanner_agrees(sc, texts + [t.strip() for t in texts] + [" " + t + "\n" for t in texts])
    _assert_scanner_agrees(sc, [outsider])  # a text the scanner was not primed with


def test_scanner_answers_as_the_pack_on_the_seeds(seed_texts: dict[str, str]) -> None:
    lines = [ln for t in seed_texts.values() for ln in t.split("\n")]
    texts = lines + list(seed_texts.values()) + _FRAGMENTS
    _assert_scanner_agrees(_PACK.scanner(texts), texts)
