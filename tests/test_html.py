"""Tests for cleaner.html: HTML detection, main-text extraction, declared charsets."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from cleaner.decode import decode_bytes
from cleaner.html import HtmlText, declared_charset, extract_html, looks_like_html, render_text

pytest.importorskip("trafilatura")

REPO = Path(__file__).resolve().parents[1]
EXTERNAL = Path(__file__).resolve().parents[2] / "shared" / "external"
ZH = EXTERNAL / "zh-web-content-extraction"

PARAS = [
    "同志们：今天我们召开全市工业园区建设工作会议，主要任务是总结去年以来园区建设的成绩，分析当前面临的形势，部署今年的重点工作。",
    "过去一年，全市上下紧紧围绕发展目标，坚持项目带动，狠抓招商引资，园区基础设施不断完善，入园企业快速增长，工业经济保持了平稳较快发展的良好态势。",
    "新的一年，我们要进一步解放思想，创新机制，优化环境，强化服务，集中力量抓好重大项目建设，推动园区经济实现新的跨越，为全市经济社会发展作出更大贡献。",
]

PAGE = f"""<!DOCTYPE html>
<html lang="zh-CN">
<head><meta charset="{{charset}}"><title>工业园区建设工作会议讲话</title></head>
<body>
<div id="nav"><ul>
  <li><a href="/">首页</a></li><li><a href="/news">新闻中心</a></li>
  <li><a href="/gov">政务公开</a></li><li><a href="/about">关于我们</a></li>
</ul></div>
<div class="main"><article>
  <h1>工业园区建设工作会议讲话</h1>
  <p>{PARAS[0]}</p>
  <p>{PARAS[1]}</p>
  <p>{PARAS[2]}</p>
</article></div>
<div id="footer"><p>版权所有 © 2024 某某市人民政府办公室 京ICP备12345678号</p>
<p><a href="/contact">联系我们</a> | <a href="/map">网站地图</a></p></div>
</body></html>
"""


def f1_4gram(pred: str, gold: str) -> float:
    """Bag-of-character-4-gram F1, whitespace ignored (as bench/eval_html.py)."""

    def bag(s: str) -> Counter[str]:
        s = "".join(ch for ch in s if not ch.isspace())
        return Counter(s[i : i + 4] for i in range(len(s) - 3))

    p, g = bag(pred), bag(gold)
    overlap = sum((p & g).values())
    if not overlap:
        return 0.0
    prec, rec = overlap / sum(p.values()), overlap / sum(g.values())
    return 2 * prec * rec / (prec + rec)


# ------------------------------------------------------------- looks_like_html

@pytest.mark.parametrize(
    "text",
    [
        "<!DOCTYPE html><html><body><p>正文</p></body></html>",
        "\ufeff  <!-- saved page -->\n<html>\n<head><title>t</title></head></html>",
        '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN"><html></html>',
        "<HEAD><META http-equiv=Content-Type content='text/html; charset=gb2312'></HEAD><BODY>x</BODY>",
        '<text id="http://example.cn/a.htm" title="标题" encoding="gb2312">\n<html><head></head><body><div>正文</div></body></html>',
        "<div class='a'><p>第一段</p><p>第二段</p><p>第三段</p><span>尾</span></div>",
    ],
)
def test_looks_like_html_positive(text: str) -> None:
    assert looks_like_html(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "同志们:\n今天我们召开全市工作会议。",
        "<image>评级2星</image>\n第一篇:在全市工作会议上的讲话\n同志们:<br>今天开会。<br>\n散会。<br/>",
        "使用 <html> 标签开始一个网页,用 <body> 放正文。这是一篇讲 HTML 的文章,不是网页。",
        "a < b 且 c > d,数学课上讲过。" * 50,
    ],
)
def test_looks_like_html_negative(text: str) -> None:
    assert not looks_like_html(text)


def test_seed_files_are_not_html() -> None:
    seeds = sorted((REPO / "fixtures" / "seeds").glob("*.txt"))
    assert seeds, "fixtures/seeds is missing"
    for path in seeds:
        assert not looks_like_html(decode_bytes(path.read_bytes(), path.name).text), path.name


# ------------------------------------------------------------- extract_html

def test_extract_keeps_paragraphs_in_order_and_drops_chrome() -> None:
    res = extract_html(PAGE.format(charset="utf-8"), url="http://example.gov.cn/a.html")
    assert isinstance(res, HtmlText)
    assert res.extractor == "trafilatura"
    lines = res.text.split("\n")
    positions = [lines.index(p) for p in PARAS]  # each paragraph is one line
    assert positions == sorted(positions)
    for noise in ("新闻中心", "政务公开", "版权所有", "ICP备", "网站地图"):
        assert noise not in res.text
    assert res.title == "工业园区建设工作会议讲话"


def test_gb2312_page_decoded_by_our_decoder() -> None:
    data = PAGE.format(charset="gb2312").replace("©", "(c)").encode("gb2312")
    assert declared_charset(data) == "gb18030"
    decoded = decode_bytes(data, "page.html")
    assert decoded.encoding == "gb18030"
    assert looks_like_html(decoded.text)
    res = extract_html(decoded.text)
    for p in PARAS:
        assert p in res.text.split("\n")


@pytest.mark.parametrize(
    "html",
    ["", "   \n", "<", "<html><body></body></html>", "<<<>>>&&&", "<p>未闭合<div><span>残缺的网页",
     "\x00\x01<html>", '<?xml version="1.0" encoding="gb2312"?><html><body><p>短</p></body></html>'],
)
def test_malformed_or_empty_does_not_raise(html: str) -> None:
    res = extract_html(html)
    assert isinstance(res.text, str)
    assert res.extractor in ("trafilatura", "fallback")
    if not html.strip():
        assert res.text == "" and res.extractor == "fallback"


def test_broken_markup_keeps_its_text() -> None:
    res = extract_html("<p>未闭合<div><span>残缺的网页")
    assert res.text.startswith("未闭合")


def test_fallback_keeps_text_when_trafilatura_finds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    import cleaner.html as h

    monkeypatch.setattr(h, "_trafilatura", lambda source, url, settings: ("", None, {}))
    res = h.extract_html(PAGE.format(charset="utf-8"))
    assert res.extractor == "fallback"
    assert res.title == "工业园区建设工作会议讲话"
    lines = res.text.split("\n")
    assert [lines.index(p) for p in PARAS] == sorted(lines.index(p) for p in PARAS)
    assert "版权所有" in res.text  # nothing silently lost: the fallback keeps everything visible


def test_render_text_block_newlines() -> None:
    out = render_text("<html><head><title>T</title><style>p{}</style></head><body>"
                      "<p>一</p><p>二<br>三</p><table><tr><td>四</td><td>五</td></tr></table></body></html>")
    assert out.split("\n") == ["一", "二", "三", "四", "五"]


# ------------------------------------------------------------- declared_charset

@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'<meta http-equiv="Content-Type" content="text/html; charset=gb2312">', "gb18030"),
        (b"<META HTTP-EQUIV=Content-Type CONTENT=text/html;charset=GBK>", "gb18030"),
        (b'<meta charset="Big5">', "big5hkscs"),
        (b'<meta charset="utf-8" />', "utf-8"),
        (b'<meta charset="iso-8859-1">', "cp1252"),
        (b'<?xml version="1.0" encoding="GB2312"?><html>', "gb18030"),
        (b'<text id="http://a.cn/" title="x" encoding="gb2312">\n<html>', "gb18030"),
        (b'<meta charset="no-such-charset">', None),
        (b"<html><body>plain</body></html>", None),
        (b"", None),
    ],
)
def test_declared_charset(data: bytes, expected: str | None) -> None:
    assert declared_charset(data) == expected


# ------------------------------------------------------------- a real page

REAL = "4fa9dfe4"  # a GB2312 news page of zh-web-content-extraction


@pytest.mark.skipif(not (ZH / "original").is_dir(), reason="../shared/external not available")
def test_real_page_f1() -> None:
    page = next((ZH / "original").glob(REAL + "*.html"))
    gold = (ZH / "cleaned" / (page.stem + ".txt")).read_text(encoding="utf-8")
    decoded = decode_bytes(page.read_bytes(), page.name)
    res = extract_html(decoded.text)
    assert res.extractor == "trafilatura"
    assert f1_4gram(res.text, gold) >= 0.8
