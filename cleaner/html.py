"""HTML pages to main text: detection, extraction, declared charsets.

Scraped collections mix plain-text files with saved web pages. A page is
reduced to its main text *before* segmentation, with a real boilerplate
extractor (trafilatura), on text that **our** decoder produced: trafilatura's
own charset handling fails on many GB2312 pages (see ``docs/html.md``).

- :func:`looks_like_html` tells a page from plain text that merely holds a
  few tags (our scraped ``.txt`` files carry ``<image>…</image>`` rating tags
  and stray ``<br>``);
- :func:`extract_html` returns the main text, one paragraph a line, plus
  title and metadata; when trafilatura finds nothing it falls back to a plain
  tag-stripping rendering so that nothing is silently lost;
- :func:`declared_charset` reads the ``<meta charset>`` a page declares.

>>> page = "<html><body><p>第一段。</p><p>第二段。</p></body></html>"
>>> looks_like_html(page), looks_like_html("正文<br>更多正文")
(True, False)
"""

from __future__ import annotations

import codecs
import html as _html
import re
from dataclasses import dataclass, field

__all__ = ["HtmlText", "declared_charset", "extract_html", "looks_like_html", "render_text"]


@dataclass(frozen=True)
class HtmlText:
    """The main text of an HTML page.

    ``text`` holds paragraphs separated by ``"\\n"``; ``title`` is the page
    title if one was found; ``meta`` holds ``author``/``date`` (and
    ``sitename``/``description`` when found); ``extractor`` names what
    produced ``text``: ``"trafilatura"``, or ``"fallback"`` for the plain
    tag-stripping rendering (also used for empty or unparsable input).
    """

    text: str
    title: str | None = None
    meta: dict[str, str] = field(default_factory=dict)
    extractor: str = "trafilatura"


# --------------------------------------------------------------------------
# Detection

_HEAD = 8192  # characters of a file looked at by looks_like_html
_PREFIX = re.compile(
    r"(?:\s|\ufeff|<\?xml[^>]*>|<!--.*?-->)*"  # BOM, XML declaration, comments
    r"<(?:!doctype\s+html|html[\s>]|head[\s>]|body[\s>])",
    re.IGNORECASE | re.DOTALL,
)
_DOC_TAG = re.compile(r"<(?:!doctype\s+html|html|head|body)[\s>]", re.IGNORECASE)
# Tags that make up real page markup. <br> and <img> are left out on purpose:
# plain scraped text carries a few of them (and our own <image>…</image>).
_BLOCK_TAG = re.compile(
    r"</?(?:html|head|body|p|div|span|a|table|tbody|tr|td|th|ul|ol|li|dl|dt|dd|h[1-6]|section|article|"
    r"header|footer|nav|aside|main|form|input|script|style|meta|link|title|iframe|font|center|strong|em|b|i)"
    r"(?:\s[^<>]*)?/?>",
    re.IGNORECASE,
)


def looks_like_html(text: str) -> bool:
    """True if ``text`` is an HTML document (or a large HTML fragment).

    A document starts (after a BOM, XML declaration or comments) with a
    doctype, ``<html``, ``<head`` or ``<body``; or has one of those near the
    start together with other markup; or its first 8 KiB are dense with
    structural tags (``<p>``, ``<div>``, ``<td>``…). ``<br>`` and image tags
    do not count, so scraped plain text holding ``<image>…</image>`` or a few
    ``<br>`` stays plain text.

    >>> looks_like_html("<!DOCTYPE html><title>t</title><p>正文</p>")
    True
    >>> looks_like_html("<image>评级2星</image>\\n同志们:<br>今天开会。<br>")
    False
    """
    if not text:
        return False
    head = text[:_HEAD]
    if "<" not in head:
        return False
    if _PREFIX.match(head):
        return True
    tags = _BLOCK_TAG.findall(head)
    if _DOC_TAG.search(head) and len(tags) >= 3:
        return True
    if len(tags) >= 20:
        return True
    # A short fragment: markup must be a large share of the characters.
    return len(tags) >= 4 and sum(map(len, tags)) >= 0.15 * len(head.strip())


# --------------------------------------------------------------------------
# Declared charset

_META_CHARSET = re.compile(
    rb"""<meta[^>]*?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.IGNORECASE
)
# An XML declaration, or a crawler's wrapper tag (``<text id=… encoding="gb2312">``),
# declaring the encoding in the very first tag.
_FIRST_TAG_ENCODING = re.compile(
    rb"""^(?:\xef\xbb\xbf)?\s*<[?]?[a-zA-Z][^<>]*?\bencoding\s*=\s*["']?([a-zA-Z0-9_.:-]+)""", re.IGNORECASE
)

# Labels mapped the way browsers do (WHATWG Encoding Standard): every GB
# label means GBK, which GB18030 extends; Latin-1/ASCII mean windows-1252.
_LABELS = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030",
    "gb_2312": "gb18030", "chinese": "gb18030", "csgb2312": "gb18030", "iso-ir-58": "gb18030",
    "gb18030": "gb18030", "cp936": "gb18030", "windows-936": "gb18030",
    "big5": "big5hkscs", "big5-hkscs": "big5hkscs", "cn-big5": "big5hkscs", "x-x-big5": "big5hkscs",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "us-ascii": "cp1252",
    "ascii": "cp1252", "windows-1252": "cp1252",
    "utf8": "utf-8", "unicode-1-1-utf-8": "utf-8",
}


def declared_charset(data: bytes, limit: int = 4096) -> str | None:
    """The charset a page declares in its first ``limit`` bytes, as a Python codec name.

    Reads an ``encoding`` attribute in the first tag (an XML declaration,
    or a crawler's wrapper such as ``<text id=… encoding="gb2312">``), else
    ``<meta charset=…>`` or ``<meta http-equiv="Content-Type"
    content="…; charset=…">``. Labels
    are mapped as browsers map them: every GB label (gb2312, gbk, …) becomes
    ``gb18030``, its superset, because pages declared GB2312 routinely hold
    GBK characters; Big5 becomes ``big5hkscs``; Latin-1/ASCII become
    ``cp1252``. Returns ``None`` if nothing (known) is declared.

    >>> declared_charset(b'<meta http-equiv="Content-Type" content="text/html; charset=gb2312">')
    'gb18030'
    >>> declared_charset(b"<meta charset='UTF-8'>"), declared_charset(b"<p>none</p>")
    ('utf-8', None)
    """
    head = data[:limit]
    m = _FIRST_TAG_ENCODING.match(head) or _META_CHARSET.search(head)
    if m is None:
        return None
    label = m.group(1).decode("ascii", "replace").strip().lower()
    if label in _LABELS:
        return _LABELS[label]
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


# --------------------------------------------------------------------------
# Fallback rendering

_BLOCK_ELEMENTS = frozenset(
    "address article aside blockquote br dd div dl dt fieldset figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tbody thead tfoot tr td th ul "
    "center title option".split()
)
_DROP_ELEMENTS = ("script", "style", "noscript", "template", "head", "iframe", "object", "embed", "svg")
_TAG_RE = re.compile(r"<[^>]*>")
_SCRIPT_RE = re.compile(r"<(script|style|noscript|template)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BLOCK_RE = re.compile(r"</?(?:" + "|".join(sorted(_BLOCK_ELEMENTS)) + r")\b[^>]*>", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\f\v\u00a0\u3000]+")


def _tidy(text: str) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def render_text(html: str) -> str:
    """All visible text of ``html``, one block element a line (no boilerplate removal).

    Used when the extractor finds nothing; never raises.

    >>> render_text("<html><head><title>T</title></head><body><p>一段</p><div>二<b>段</b></div><script>x()</script></body></html>")
    '一段\\n二段'
    """
    if not html or not html.strip():
        return ""
    try:
        import lxml.html
        from lxml import etree

        # lxml refuses str input that carries an XML encoding declaration.
        source = re.sub(r"^\s*<\?xml[^>]*>", "", html, count=1)
        root = lxml.html.document_fromstring(source)
        etree.strip_elements(root, *_DROP_ELEMENTS, etree.Comment, etree.ProcessingInstruction, with_tail=False)
        for el in root.iter():
            if isinstance(el.tag, str) and el.tag.lower() in _BLOCK_ELEMENTS:
                el.tail = "\n" + (el.tail or "")
                el.text = "\n" + (el.text or "")
        return _tidy(root.text_content())
    except Exception:  # malformed beyond lxml's repair: strip tags by regex
        text = _SCRIPT_RE.sub(" ", html)
        text = _BLOCK_RE.sub("\n", text)
        return _tidy(_html.unescape(_TAG_RE.sub("", text)))


# --------------------------------------------------------------------------
# Extraction

# Chosen by bench/eval_html.py on the 69 Chinese pages (docs/html.md):
# favor_precision scores best there, tables are kept (older Chinese pages
# lay out their article in a <table>), comments are dropped. When this finds
# nothing, extraction is retried with favor_recall before falling back.
TRAFILATURA_OPTIONS: dict[str, bool] = {
    "include_comments": False,
    "include_tables": True,
    "favor_precision": True,
    "favor_recall": False,
}
_RETRY_OPTIONS: dict[str, bool] = {"favor_precision": False, "favor_recall": True}


def _strip_xml_declaration(html: str) -> str:
    return re.sub(r"^\s*(?:\ufeff)?<\?xml[^>]*>", "", html, count=1)


_TABLE_ROW = re.compile(r"^\|.*\|$")
_TABLE_RULE = re.compile(r"^\|(?:\s*:?-{3,}:?\s*\|)+$")


def _untable(text: str) -> str:
    """Turn trafilatura's ``| a | b |`` table rows into plain lines.

    Old Chinese pages lay the whole article out in a table, which trafilatura
    renders as one row with the article in a cell. Separator rows go; a row
    of short cells (a data table, a calendar) becomes one space-joined line;
    otherwise every non-empty cell becomes its own line.

    >>> print(_untable("| 导航 | | 正文第一段很长很长很长很长很长很长很长很长很长很长。 |\\n|---|---|---|\\n| 1 | 2 | 3 |"))
    导航
    正文第一段很长很长很长很长很长很长很长很长很长很长。
    1 2 3
    """
    out: list[str] = []
    for line in text.split("\n"):
        stripped = line.strip()
        if not _TABLE_ROW.match(stripped):
            out.append(line)
            continue
        if _TABLE_RULE.match(stripped):
            continue
        cells = [c.strip() for c in stripped[1:-1].split(" | ")]
        cells = [c.replace("\\|", "|").strip("| ") for c in cells]
        cells = [c for c in cells if c]
        if not cells:
            continue
        if max(len(c) for c in cells) <= 20:
            out.append(" ".join(cells))
        else:
            out.extend(cells)
    return "\n".join(line.replace("\\|", "|") for line in out)


def _trafilatura(source: str, url: str | None, settings: dict[str, bool]) -> tuple[str, str | None, dict[str, str]]:
    """Text, title and metadata from trafilatura; empty text if it finds nothing or fails."""
    try:
        import trafilatura

        doc = trafilatura.bare_extraction(
            source,
            url=url,
            output_format="python",
            with_metadata=True,
            include_images=False,
            include_links=False,
            include_formatting=False,
            deduplicate=False,
            **settings,
        )
    except Exception:  # trafilatura must never take a run down
        doc = None
    if doc is None:
        return "", None, {}
    get = doc.get if isinstance(doc, dict) else (lambda k: getattr(doc, k, None))
    text = _tidy(_untable(get("text") or ""))
    title = (get("title") or "").strip() or None
    meta: dict[str, str] = {}
    for key in ("author", "date", "sitename", "description"):
        value = get(key)
        if isinstance(value, str) and value.strip():
            meta[key] = value.strip()
    return text, title, meta


def extract_html(html: str, url: str | None = None, **options: bool) -> HtmlText:
    """The main text of an HTML page, one paragraph a line.

    ``html`` must already be decoded (by :func:`cleaner.decode.decode_bytes`):
    trafilatura's own decoding fails on GB2312 pages. Extraction uses
    trafilatura with :data:`TRAFILATURA_OPTIONS` (override with keyword
    arguments, e.g. ``favor_recall=True, favor_precision=False``). If
    trafilatura finds nothing with the default options it is retried with
    ``favor_recall``; if it still returns nothing, or fails, the page's
    visible text is rendered instead
    (:func:`render_text`) and ``extractor`` is ``"fallback"``. Never raises.

    >>> page = ("<html><head><title>会议通知</title></head><body><p>同志们:</p>"
    ...         "<p>今天我们召开全市工作会议,部署下半年的工作任务。</p></body></html>")
    >>> r = extract_html(page)
    >>> r.text.splitlines()[-1], r.extractor in ("trafilatura", "fallback")
    ('今天我们召开全市工作会议,部署下半年的工作任务。', True)
    >>> extract_html("").extractor
    'fallback'
    """
    if not isinstance(html, str) or not html.strip():
        return HtmlText("", None, {}, "fallback")
    source = _strip_xml_declaration(html)
    settings = {**TRAFILATURA_OPTIONS, **options}
    text, title, meta = _trafilatura(source, url, settings)
    if not text and not options:
        retry, title2, meta2 = _trafilatura(source, url, {**settings, **_RETRY_OPTIONS})
        if retry:
            text, title, meta = retry, title2, meta2
    if text:
        return HtmlText(text, title, meta, "trafilatura")
    fallback = render_text(source)
    if title is None:
        m = re.search(r"<title[^>]*>(.*?)</title>", source, re.IGNORECASE | re.DOTALL)
        if m:
            title = _tidy(_html.unescape(_TAG_RE.sub("", m.group(1)))).replace("\n", " ") or None
    return HtmlText(fallback, title, meta, "fallback")
