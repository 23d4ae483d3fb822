"""Tests for cleaner.segment: seeds, marker grammar, rejoining, offsets contract."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaner.config import SegmentConfig
from cleaner.segment import Segmentation, parse_date, parse_marker, segment_text

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "fixtures" / "seeds"
CASES = Path(__file__).resolve().parent / "cases"
SEED_CASES = json.loads((CASES / "segment_seeds.json").read_text(encoding="utf-8"))
MARKER_CASES = json.loads((CASES / "segment_markers.json").read_text(encoding="utf-8"))
REJOIN_CASES = json.loads((CASES / "segment_rejoin.json").read_text(encoding="utf-8"))
SEED_NAMES = sorted(k for k in SEED_CASES if not k.startswith("_"))

BODY = (
    "同志们:\n"
    "今天我们召开这次会议,主要任务是总结上半年工作,部署下半年任务。\n"
    "一、统一思想,提高认识\n"
    "做好今年的工作,意义重大,各级各部门要切实增强责任感和紧迫感。"
)


# ---------------------------------------------------------------------------
# The contract checker (used on seeds, cases and generated text)
# ---------------------------------------------------------------------------


def _rejoined(raw: str) -> str:
    """A block's raw slice with its line breaks rejoined, as the contract says."""

    def repl(m: re.Match[str]) -> str:
        left = raw[m.start() - 1] if m.start() else ""
        right = raw[m.end()] if m.end() < len(raw) else ""
        return " " if left.isascii() and right.isascii() and left.strip() and right.strip() else ""

    return re.sub(r"[ \t\r\u3000]*\n\s*", repl, raw)


def check_contract(text: str, seg: Segmentation) -> None:
    owner = [0] * len(text)

    def claim(s: int, e: int, what: str) -> None:
        assert 0 <= s <= e <= len(text), (what, s, e)
        for k in range(s, e):
            owner[k] += 1

    prev_article_end = 0
    prev_block_end = 0
    for i, a in enumerate(seg.articles):
        assert a.index == i
        assert a.start >= prev_article_end, "articles overlap or are out of order"
        assert a.start < a.end
        prev_article_end = a.end
        assert a.blocks, "an article without body blocks must be dropped"
        for b in a.blocks:
            assert b.start >= prev_block_end, "blocks overlap or are out of order"
            assert a.start <= b.start < b.end <= a.end
            assert b.text == _rejoined(text[b.start : b.end])
            assert b.text == b.text.strip()
            prev_block_end = b.end
            claim(b.start, b.end, "block")
        for h in a.header:
            assert a.start <= h.start < h.end <= a.end
            claim(h.start, h.end, "header")
        if a.title_span is not None:
            assert text[a.title_span.start : a.title_span.end] == a.title
            assert any(h.start <= a.title_span.start and a.title_span.end <= h.end for h in a.header)
        else:
            assert a.title == ""
    for r in seg.removed:
        assert r.text == text[r.start : r.end]
        assert r.start < r.end
        claim(r.start, r.end, "removal")
    for k, c in enumerate(text):
        assert owner[k] <= 1, f"offset {k} ({c!r}) claimed twice"
        if not c.isspace():
            assert owner[k] == 1, f"offset {k} ({c!r}) silently dropped: {text[max(0, k - 20) : k + 20]!r}"


# ---------------------------------------------------------------------------
# Seeds
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeds() -> dict[str, tuple[str, Segmentation]]:
    out = {}
    for name in SEED_NAMES:
        text = (SEEDS / name).read_text(encoding="utf-8")
        out[name] = (text, segment_text(text, name))
    return out


@pytest.mark.parametrize("name", SEED_NAMES)
def test_seed_articles(name: str, seeds: dict[str, tuple[str, Segmentation]]) -> None:
    text, seg = seeds[name]
    want = SEED_CASES[name]["articles"]
    got = [(a.title, a.marker) for a in seg.articles]
    assert got == [(w["title"], w["marker"]) for w in want]
    for a, w in zip(seg.articles, want):
        assert a.file == name
        assert a.meta == w["meta"], a.title
        assert a.blocks[0].text.startswith(w["first"]), (a.title, a.blocks[0].text[:30])
        if w["last"] is not None:
            # the raw line the article ends on
            last_line = text[text.rfind("\n", 0, a.end) + 1 : a.end].strip()
            assert last_line.startswith(w["last"]), (a.title, last_line[:30])


@pytest.mark.parametrize("name", SEED_NAMES)
def test_seed_preamble_never_in_an_article(name: str, seeds: dict[str, tuple[str, Segmentation]]) -> None:
    text, seg = seeds[name]
    want = SEED_CASES[name]["preamble"]
    pre = [r for r in seg.removed if r.rule == "preamble"]
    if want is None:
        assert not pre
        return
    assert len(pre) == 1 and pre[0].reason == "boilerplate"
    assert pre[0].text.startswith(want)
    assert pre[0].start == len(text) - len(text.lstrip())
    for a in seg.articles:
        assert a.start >= pre[0].end
        for b in a.blocks:
            assert want.split("\n")[-1] not in b.text


@pytest.mark.parametrize("name", SEED_NAMES)
def test_seed_offsets_contract(name: str, seeds: dict[str, tuple[str, Segmentation]]) -> None:
    text, seg = seeds[name]
    check_contract(text, seg)


def test_seed_bodies_hold_no_header_lines(seeds: dict[str, tuple[str, Segmentation]]) -> None:
    for text, seg in seeds.values():
        for a in seg.articles:
            for b in a.blocks:
                assert parse_marker(b.text) is None or a.marker is None
                assert parse_date(b.text) is None
            if a.title:
                assert a.blocks[0].text != a.title


def test_seed_long_paragraphs_are_split_into_sentence_runs(seeds: dict[str, tuple[str, Segmentation]]) -> None:
    text, seg = seeds["000_4acff1a94245f79e.txt"]
    cfg = SegmentConfig()
    blocks = [b for a in seg.articles for b in a.blocks]
    assert max(len(b.text) for b in blocks) <= cfg.max_block_chars
    # the longest line (over 1000 chars) became several runs, each ending a sentence
    lines = text.split("\n")
    longest = max(range(len(lines)), key=lambda k: len(lines[k]))
    assert len(lines[longest]) > 1000
    line_start = sum(len(x) + 1 for x in lines[:longest])
    line_end = line_start + len(lines[longest])
    runs = [b for b in blocks if b.start < line_end and b.end > line_start]
    assert len(runs) >= len(lines[longest]) // cfg.max_block_chars + 1
    assert lines[longest].strip() in "".join(b.text for b in runs)
    assert all(re.search(r"[。！？!?][”’」』)）]*$", b.text) for b in runs[:-1])


def test_seed_pdf_breaks_rejoined(seeds: dict[str, tuple[str, Segmentation]]) -> None:
    text, seg = seeds["001_66774ca9e7b2c39c.txt"]
    hit = [b for a in seg.articles for b in a.blocks if "增长8.7%,农民人均纯收入" in b.text]
    assert len(hit) == 1 and "\n" in text[hit[0].start : hit[0].end]
    text0, seg0 = seeds["000_4acff1a94245f79e.txt"]
    assert any("百分点。全市工业项目" in b.text for a in seg0.articles for b in a.blocks)
    # headings stay their own blocks
    assert any(b.text == "一、认清形势,自加压力" for a in seg.articles for b in a.blocks)


# ---------------------------------------------------------------------------
# Marker grammar and sequence validation
# ---------------------------------------------------------------------------


def _compilation(parts: list[list[str | None]]) -> str:
    chunks = []
    for marker_line, title_line in parts:
        chunks.append(marker_line)
        if title_line:
            chunks.append(title_line)
        chunks.append(BODY)
    return "\n".join(chunks)


@pytest.mark.parametrize("case", MARKER_CASES["positives"], ids=lambda c: c["name"])
def test_marker_positives_split(case: dict) -> None:
    text = _compilation(case["parts"])
    seg = segment_text(text, "t.txt")
    check_contract(text, seg)
    assert [[a.marker, a.title] for a in seg.articles] == case["expect"]
    for a in seg.articles:
        assert a.text == BODY


@pytest.mark.parametrize("line", MARKER_CASES["negatives"])
def test_marker_negatives_do_not_split(line: str) -> None:
    body = BODY.split("\n")
    text = "\n".join(["在全市工作会议上的讲话", *body[:2], line, *body[2:]])
    seg = segment_text(text, "t.txt")
    check_contract(text, seg)
    assert len(seg.articles) == 1
    assert not seg.removed
    assert any(b.text == line for b in seg.articles[0].blocks)


def test_two_markers_of_the_same_number_do_not_make_a_sequence() -> None:
    text = "\n".join(["第2篇:甲", BODY, "第2篇:乙", BODY])
    seg = segment_text(text, "t.txt")
    check_contract(text, seg)
    assert all(a.marker is None for a in seg.articles)


def test_parse_marker_details() -> None:
    m = parse_marker("【范文12】 在大会上的讲话")
    assert m is not None and (m.marker, m.ordinal, m.title) == ("范文12", 12, "在大会上的讲话")
    assert parse_marker("第二十三篇:讲话").ordinal == 23  # type: ignore[union-attr]
    assert parse_marker("篇一百零五:讲话").ordinal == 105  # type: ignore[union-attr]
    assert parse_marker("第5页") is None
    assert parse_marker("第3篇文章指出，要加强基层组织建设。") is None
    assert parse_marker("(一)加强金融生态环境建设") is None
    a, b = parse_marker("篇1:甲"), parse_marker("篇2：乙")
    assert a is not None and b is not None and a.style == b.style
    assert parse_marker("甲篇1").style != a.style  # type: ignore[union-attr]


def test_preamble_without_markers_is_generic() -> None:
    text = "下面是小编为大家整理的会议讲话范文,仅供参考,欢迎阅读。\n" + BODY
    seg = segment_text(text, "t.txt")
    check_contract(text, seg)
    assert [(r.reason, r.rule) for r in seg.removed] == [("boilerplate", "preamble")]
    assert seg.articles[0].text == BODY
    # a speech's own first line is never a preamble
    seg2 = segment_text(BODY, "t.txt")
    assert not seg2.removed and seg2.articles[0].text == BODY


def test_sub_speeches_split_on_title_byline_date() -> None:
    text = "\n".join([
        "第一篇:在全市大会上的讲话", BODY,
        "在全市信息化工作会议上的讲话", "彭 建 文", "(2005年5月18日)", BODY,
        "常务副市长的讲话??", "(8月22日)??", BODY,
        "第二篇:在全市金融会议上的讲话", BODY,
    ])
    seg = segment_text(text, "t.txt")
    check_contract(text, seg)
    assert [(a.title, a.meta) for a in seg.articles] == [
        ("在全市大会上的讲话", {}),
        ("在全市信息化工作会议上的讲话", {"author": "彭建文", "date": "2005-05-18"}),
        ("常务副市长的讲话", {"date": "--08-22", "date_raw": "(8月22日)"}),
        ("在全市金融会议上的讲话", {}),
    ]


def test_empty_part_is_dropped_and_recorded() -> None:
    text = "\n".join(["篇1:甲讲话", "篇2:乙讲话", BODY, "篇3:丙讲话", BODY])
    seg = segment_text(text, "t.txt")
    check_contract(text, seg)
    assert [a.marker for a in seg.articles] == ["篇2", "篇3"]
    assert [a.index for a in seg.articles] == [0, 1]
    assert [(r.reason, r.rule, r.text) for r in seg.removed] == [("structure", "empty-part", "篇1:甲讲话")]


@pytest.mark.parametrize(
    ("line", "want"),
    [
        ("(2005年5月18日)", ("2005-05-18", True)),
        ("（2012年2月17日）", ("2012-02-17", True)),
        ("2024-07-07", ("2024-07-07", True)),
        ("(208月22日)??", ("--08-22", False)),
        ("(年8月22日)??", ("--08-22", False)),
        ("2019年2月", ("2019-02", False)),
        ("同志们:", None),
        ("(13月40日)", None),
    ],
)
def test_parse_date(line: str, want: tuple[str, bool] | None) -> None:
    assert parse_date(line) == want


# ---------------------------------------------------------------------------
# PDF line rejoining
# ---------------------------------------------------------------------------


def _rejoin_doc(case: dict) -> str:
    sep = "\n\n" if case.get("blank_lines") else "\n"
    return sep.join(["同志们:", *case["lines"]])


@pytest.mark.parametrize("case", REJOIN_CASES["join"], ids=lambda c: c["name"])
def test_rejoin_positive(case: dict) -> None:
    text = _rejoin_doc(case)
    seg = segment_text(text, "t.txt")
    check_contract(text, seg)
    assert [b.text for b in seg.articles[0].blocks[1:]] == case["blocks"]


@pytest.mark.parametrize("case", REJOIN_CASES["keep"], ids=lambda c: c["name"])
def test_rejoin_negative(case: dict) -> None:
    text = _rejoin_doc(case)
    seg = segment_text(text, "t.txt")
    check_contract(text, seg)
    assert [b.text for b in seg.articles[0].blocks[1:]] == case["lines"]


def test_rejoin_can_be_switched_off() -> None:
    case = REJOIN_CASES["join"][0]
    seg = segment_text(_rejoin_doc(case), "t.txt", SegmentConfig(rejoin_broken_lines=False))
    assert [b.text for b in seg.articles[0].blocks[1:]] == case["lines"]


# ---------------------------------------------------------------------------
# Property tests
# ---------------------------------------------------------------------------

_HAN = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理"
_SENTENCE = st.text(alphabet=_HAN, min_size=6, max_size=30).map(lambda s: s + "。")
_PARAGRAPH = st.lists(_SENTENCE, min_size=3, max_size=40).map("".join)
_TITLE = st.text(alphabet=_HAN, min_size=3, max_size=15).map(lambda s: s + "讲话")
_STYLES = [
    lambda n, t: f"篇{n}:{t}",
    lambda n, t: f"第{'一二三四五六七八九'[n - 1]}篇：{t}",
    lambda n, t: f"{t} 第{n}篇",
    lambda n, t: f"{t}篇{n}",
    lambda n, t: f"【范文{n}】{t}",
    lambda n, t: f"No.{n} {t}",
]


@st.composite
def _compilations(draw: st.DrawFn) -> tuple[str, list[str]]:
    style = draw(st.sampled_from(_STYLES))
    n_parts = draw(st.integers(min_value=2, max_value=5))
    sep = draw(st.sampled_from(["\n", "\n\n"]))
    pad = st.sampled_from(["", " ", "\u3000\u3000", "\t"])
    chunks: list[str] = []
    titles: list[str] = []
    if draw(st.booleans()):
        chunks.append("本站小编为大家精心整理了范文,欢迎阅读参考。")
    for n in range(1, n_parts + 1):
        title = draw(_TITLE)
        titles.append(title)
        chunks.append(draw(pad) + style(n, title) + draw(pad))
        if draw(st.booleans()):
            chunks.append("同志们:")
        for _ in range(draw(st.integers(min_value=1, max_value=4))):
            para = draw(_PARAGRAPH)
            kind = draw(st.sampled_from(["plain", "broken", "heading", "noise"]))
            if kind == "broken" and len(para) > 60:
                # a PDF break: cut mid-sentence, far from the ends
                cut = draw(st.integers(min_value=45, max_value=len(para) - 5))
                if para[cut - 1] not in "。" and para[cut] not in "。":
                    para = para[:cut] + "\n" + para[cut:]
            elif kind == "heading":
                chunks.append(draw(st.sampled_from(["一、", "(二)", "三是"])) + draw(_TITLE)[:8])
            elif kind == "noise":
                chunks.append(draw(st.sampled_from(["— —", "— — 6", "???"])))
            chunks.append(draw(pad) + para + draw(pad))
        chunks.append(draw(st.sampled_from(["", "", "\n"])))
    return sep.join(chunks), titles


@settings(max_examples=150, deadline=None)
@given(_compilations())
def test_property_compilations(doc: tuple[str, list[str]]) -> None:
    text, titles = doc
    seg = segment_text(text, "gen.txt")
    check_contract(text, seg)
    assert [a.title for a in seg.articles] == titles
    for a in seg.articles:
        assert "本站" not in a.text


_FUZZ_ALPHABET = "第篇范文1２三一、()（）:：。！?？\n \u3000同志们讲话年月日—【】No.政府工作会议本站小编"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_FUZZ_ALPHABET, max_size=300), st.integers(min_value=5, max_value=80))
def test_property_contract_on_arbitrary_text(text: str, max_block: int) -> None:
    seg = segment_text(text, "fuzz.txt", SegmentConfig(max_block_chars=max_block, min_article_chars=1))
    check_contract(text, seg)


def test_crlf_text_keeps_the_contract() -> None:
    text = "\r\n".join(["篇1:甲讲话", *BODY.split("\n"), "篇2:乙讲话", *BODY.split("\n")])
    seg = segment_text(text, "t.txt")
    check_contract(text, seg)
    assert [a.text for a in seg.articles] == [BODY, BODY]


def test_salutation_without_colon_is_not_a_byline() -> None:
    text = "\n".join(["篇1:甲讲话", "同志们", BODY, "篇2:乙讲话", BODY])
    seg = segment_text(text, "t.txt")
    check_contract(text, seg)
    assert seg.articles[0].meta == {}
    assert seg.articles[0].blocks[0].text == "同志们"


def test_short_heading_before_a_colon_line_is_not_a_new_speech() -> None:
    # `四种精神:` opens a list, not a speech; `加强作风建设` is a heading
    text = "\n".join([BODY, "加强作风建设", "四种精神:", "一是认真负责的精神。办公室工作无小事,大到安排一次会议。"])
    seg = segment_text(text, "t.txt")
    check_contract(text, seg)
    assert len(seg.articles) == 1


def test_site_notice_inside_a_part_ends_the_piece() -> None:
    notice = "《会议讲话》来源于本网会员分享,欢迎阅读会议讲话。"
    rest = "服务要跟上来。开发区这几年加大了投入和招商的力度,新增项目不多。"
    text = "\n".join(["篇1:甲讲话", BODY, notice, rest, "篇2:乙讲话", BODY])
    seg = segment_text(text, "t.txt")
    check_contract(text, seg)
    assert [(a.marker, a.title) for a in seg.articles] == [("篇1", "甲讲话"), (None, ""), ("篇2", "乙讲话")]
    assert seg.articles[0].blocks[-1].text == notice  # left for the boilerplate step
    assert seg.articles[1].text == rest


@given(st.text(alphabet="ab同?？ \u3000\t\n.", max_size=20))
@settings(max_examples=400, deadline=None)
def test_core_strip_equals_the_regex(s: str) -> None:
    from cleaner.segment import _core, _core_reference

    assert _core(s) == _core_reference(s)


_MARKER_PIECES = ["第", "篇", "3", "十二", "３", "范文", "範文", "例文", "文章", "材料", "精选", "样文", "No.", "Part ",
                  "iv", "【", "】", "(", ")", ":", "、", " ", "讲话", "工作会议", "同志们", "?", "则", "一、"]


@given(st.lists(st.sampled_from(_MARKER_PIECES), max_size=8))
@settings(max_examples=600, deadline=None)
def test_marker_gate_never_hides_a_marker(pieces: list[str]) -> None:
    """parse_marker skips lines without a marker's trigger characters; it
    must answer what the ungated grammar answers."""
    from cleaner.segment import parse_marker_reference

    line = "".join(pieces)
    assert parse_marker(line) == parse_marker_reference(line)


def test_marker_gate_on_every_seed_line(seed_texts: dict[str, str]) -> None:
    from cleaner.segment import parse_marker_reference

    lines = [ln for text in seed_texts.values() for ln in text.splitlines()]
    assert sum(parse_marker(ln) is not None for ln in lines) > 20
    assert all(parse_marker(ln) == parse_marker_reference(ln) for ln in lines)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=_FUZZ_ALPHABET + "ab ,", max_size=400), st.integers(min_value=5, max_value=80), st.integers(0, 2))
def test_one_line_block_shortcut_equals_the_general_path(text: str, max_block: int, sep: int) -> None:
    """_blocks makes a one-line paragraph that needs no split a block
    directly; the general path (rejoin, sentence runs, offsets through the
    pieces) must give the same blocks."""
    from cleaner.segment import _blocks, _lines

    for rejoin in (True, False):
        cfg = SegmentConfig(max_block_chars=max_block, rejoin_broken_lines=rejoin)
        lines = _lines(text)
        assert _blocks(text, lines, cfg, sep) == _blocks(text, lines, cfg, sep, fast=False)


def test_one_line_block_shortcut_on_every_seed(seed_texts: dict[str, str]) -> None:
    from cleaner.segment import _blocks, _lines

    cfg = SegmentConfig()
    for text in seed_texts.values():
        lines = _lines(text)
        assert _blocks(text, lines, cfg, 1) == _blocks(text, lines, cfg, 1, fast=False)
