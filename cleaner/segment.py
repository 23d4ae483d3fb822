"""Segment a decoded file into articles, and articles into blocks.

The input is the text of one file (after decoding and repair). The output is a
:class:`Segmentation`: the articles found, in file order, and the spans that
belong to no article (site preambles, part-marker lines, noise between parts),
each as a :class:`~cleaner.types.Removal` with a reason.

Every offset is a code-point offset into the ``text`` given to
:func:`segment_text`, and ``text[start:end]`` is always the raw passage:

* ``Block.start/end`` cover the block's raw lines (a rejoined PDF line break is
  inside the slice); ``Block.text`` is that slice with each line break (and the
  whitespace around it) removed, or replaced by one space between two ASCII
  characters.
* ``Article.start/end`` cover the article's marker, title, byline/date and body
  lines; ``Article.header`` holds the spans of the non-body lines kept as
  title/marker/meta, ``Article.title_span`` the title itself.
* Every non-whitespace character of ``text`` lies in exactly one of: a block,
  an article's header span, or a removal.

See docs/segmentation.md for the rules (marker grammar, sequence validation,
sub-speech split, preamble heuristic, line rejoining).

>>> body = "同志们:\\n今天召开全市工作会议,部署下半年的各项工作任务。"
>>> seg = segment_text(f"篇1:甲讲话\\n{body}\\n篇2:乙讲话\\n{body}", "a.txt")
>>> [(a.index, a.marker, a.title, a.blocks[1].text[:6]) for a in seg.articles]
[(0, '篇1', '甲讲话', '今天召开全市'), (1, '篇2', '乙讲话', '今天召开全市')]
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable

from .config import SegmentConfig
from .types import Article, Block, Removal, Span

__all__ = [
    "Segmentation",
    "MarkerMatch",
    "segment_text",
    "parse_marker",
    "parse_date",
    "parse_ordinal",
]


# ---------------------------------------------------------------------------
# Result type
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Segmentation:
    """Articles of one file plus the spans that belong to no article."""

    articles: tuple[Article, ...]
    removed: tuple[Removal, ...]


# ---------------------------------------------------------------------------
# Lines
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Line:
    index: int
    cs: int  # content start (after leading whitespace)
    ce: int  # content end (before trailing whitespace)
    text: str  # text[cs:ce]


def _lines(text: str) -> list[_Line]:
    """Non-blank lines with the offsets of their stripped content."""
    out: list[_Line] = []
    pos = 0
    n = len(text)
    idx = 0
    while pos <= n:
        nl = text.find("\n", pos)
        end = n if nl < 0 else nl
        raw = text[pos:end]
        stripped = raw.strip()
        if stripped:
            lead = len(raw) - len(raw.lstrip())
            cs = pos + lead
            out.append(_Line(idx, cs, cs + len(stripped), stripped))
        idx += 1
        if nl < 0:
            break
        pos = nl + 1
    return out


# Trailing "?" (ASCII) and whitespace are scrape artefacts on short lines
# (`市长的讲话??`, `同志们:?`): a lost character re-encoded as "?".
_TRAIL_ART = re.compile(r"[?\s\u3000]+$")


def _core(s: str) -> str:
    """``s`` without trailing ``?`` and whitespace (``_TRAIL_ART``), by
    ``rstrip`` (the regex scans the whole line for every ``?`` or space)."""
    while True:
        t = s.rstrip().rstrip("?")
        if t == s:
            return s
        s = t


def _core_reference(s: str) -> str:
    return _TRAIL_ART.sub("", s)


_WORD = re.compile(r"[\w]", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def _has_word(s: str) -> bool:
    return bool(_WORD.search(s))


# ---------------------------------------------------------------------------
# Part markers: grammar
# ---------------------------------------------------------------------------

_NUM = r"[0-9]{1,4}|[０-９]{1,4}|[零〇一二两三四五六七八九十百]{1,4}"
_ROMAN = r"[IVXivx]{1,5}"
# Label words that number whole pieces of a compilation (simplified and
# traditional). Units after 第N: 篇 (piece), 则 (item), 例 (example). 章/节/条/页
# are deliberately absent: they number parts *inside* one text.
_LABELS = (
    "精选范文|参考范文|优秀范文|范文|范例|例文|文章|材料|精选|样文|范本|"
    "精選範文|參考範文|優秀範文|範文|範例|精選|樣文|範本"
)
_CORE_FORMS: tuple[tuple[str, str], ...] = (
    ("第N篇", rf"第\s*(?P<n>{_NUM})\s*(?P<u>[篇则則例])"),
    ("篇N", rf"篇\s*(?P<n>{_NUM})"),
    ("LN", rf"(?P<l>{_LABELS})\s*(?P<n>{_NUM})"),
    ("No.N", rf"(?P<l>No|NO|no)\s*[.．]?\s*(?P<n>{_NUM}|{_ROMAN})"),
    ("PartN", rf"(?P<l>Part|PART|part)\s*(?P<n>{_NUM}|{_ROMAN})"),
)
_BRACKETS = {"【": "】", "[": "]", "「": "」", "『": "』", "〔": "〕", "(": ")", "（": "）", "《": "》"}
_SEP = r"[:：、.．,，\-—–_|\s]"
_SENT_PUNCT = re.compile(r"[。！？!?；;]")


@dataclass(frozen=True, slots=True)
class MarkerMatch:
    """A part marker parsed from one line.

    ``style`` identifies the marker's form (position, bracket and template,
    ignoring the numeral script and separators) so markers of one compilation
    can be grouped; ``ordinal`` is its number; ``marker`` the marker text
    (without brackets and separators); ``title`` the rest of the line, with
    ``title_start/title_end`` its offsets inside the line.
    """

    style: str
    ordinal: int
    marker: str
    title: str
    title_start: int
    title_end: int


_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10}


def parse_ordinal(s: str) -> int | None:
    """Value of an arabic, full-width, Chinese or roman numeral.

    >>> parse_ordinal("十二"), parse_ordinal("３"), parse_ordinal("iv"), parse_ordinal("甲")
    (12, 3, 4, None)
    """
    return _ordinal(s)


def _ordinal(s: str) -> int | None:
    """Value of an arabic, full-width, Chinese or roman numeral."""
    s = s.strip()
    if not s:
        return None
    if all(unicodedata.digit(c, -1) >= 0 for c in s):
        return int("".join(str(unicodedata.digit(c)) for c in s))
    if all(c in _CN_DIGITS or c in "十百" for c in s):
        if "十" not in s and "百" not in s:
            return int("".join(str(_CN_DIGITS[c]) for c in s))  # 一二 -> 12 (rare)
        total, cur = 0, 0
        for c in s:
            if c == "百":
                total += (cur or 1) * 100
                cur = 0
            elif c == "十":
                total += (cur or 1) * 10
                cur = 0
            else:
                cur = _CN_DIGITS[c]
        return total + cur
    low = s.lower()
    if all(c in _ROMAN_VALUES for c in low):
        vals = [_ROMAN_VALUES[c] for c in low]
        total = 0
        for i, v in enumerate(vals):
            total += -v if i + 1 < len(vals) and vals[i + 1] > v else v
        return total if total > 0 else None
    return None


def _title_ok(title: str) -> bool:
    """A marker's title must look like a title, not a body sentence."""
    t = _core(title)
    return len(t) <= 60 and not _SENT_PUNCT.search(t)


def _compile_marker_res() -> list[tuple[str, str, re.Pattern[str]]]:
    res: list[tuple[str, str, re.Pattern[str]]] = []
    for name, core in _CORE_FORMS:
        # prefix form: [bracket] CORE [bracket] [sep] [title]
        res.append(("pre", name, re.compile(
            rf"^(?P<ob>[【\[「『〔(（《]?)\s*(?:{core})\s*(?P<cb>[】\]」』〕)）》]?)"
            rf"(?P<sep>{_SEP}*)(?P<title>.*)$")))
        # suffix form: title [sep] [bracket] CORE [bracket]
        res.append(("suf", name, re.compile(
            rf"^(?P<title>.*?[^\s:：、.．,，\-—–_|])(?P<sep>{_SEP}*)"
            rf"(?P<ob>[【\[「『〔(（《]?)\s*(?:{core})\s*(?P<cb>[】\]」』〕)）》]?)$")))
    return res


_MARKER_RES = _compile_marker_res()
# Every core form holds one of these (第/篇, a label word's first or only
# CJK character, No, Part): lines without any skip the grammar.
_MARKER_GATE = re.compile(r"[第篇范範例文材精样樣]|[Nn][Oo]|[Pp](?:art|ART)")


# Segmenting one file asks about a line up to five times (markers, sub-speech
# starts, headers, titles, continuations), and copies of an article share
# their lines: remembered per process, segmentation took 12 % less time on
# 2,000 documents of the 50 MiB bench corpus.
@functools.lru_cache(maxsize=1 << 16)
def parse_marker(line: str) -> MarkerMatch | None:
    """Parse a part marker at the start or end of ``line``.

    Grammar: an optional bracket, an ordinal with a unit (``第N篇``, ``第N则``,
    ``篇N``) or a label word (``范文N``, ``范例N``, ``例文N``, ``文章N``, ``No.N``,
    ``Part N``…), the closing bracket, then a separator and a title; or a title
    followed by the marker. Section headings (``一、``, ``(一)``) have neither a
    unit nor a label, so they never parse. Whether a parsed marker really
    splits the file is decided by sequence validation in :func:`segment_text`.

    >>> m = parse_marker("篇1:工业园区工作会议讲话")
    >>> (m.marker, m.ordinal, m.title)
    ('篇1', 1, '工业园区工作会议讲话')
    >>> parse_marker("市长在市政府全体经济会议上的讲话 第2篇").marker
    '第2篇'
    >>> parse_marker("一、提高思想认识") is None
    True
    """
    s = _core(line.strip())
    if not s or len(s) > 80 or not _MARKER_GATE.search(s):
        return None
    return _parse_core(s)


def parse_marker_reference(line: str) -> MarkerMatch | None:
    """:func:`parse_marker` without the gate (for tests)."""
    s = _core(line.strip())
    if not s or len(s) > 80:
        return None
    return _parse_core(s)


def _parse_core(s: str) -> MarkerMatch | None:
    for pos, name, rx in _MARKER_RES:
        m = rx.match(s)
        if not m:
            continue
        ob, cb = m.group("ob"), m.group("cb")
        if (ob or cb) and _BRACKETS.get(ob) != cb:
            continue
        title = m.group("title")
        sep = m.group("sep")
        if pos == "pre":
            if title and not (sep or ob or s[m.start("title") - 1].isspace()):
                continue  # `第3篇文章…`: a marker needs a separator before its title
            title_start = m.start("title")
        else:
            if not title.strip():
                continue
            title_start = m.start("title")
        if not _title_ok(title):
            continue
        ordinal = _ordinal(m.group("n"))
        if ordinal is None:
            continue
        label = m.groupdict().get("l") or ""
        unit = m.groupdict().get("u") or ""
        if name == "第N篇":
            marker = f"第{m.group('n')}{unit}"
            template = f"第N{unit.replace('則', '则')}"
        elif name == "篇N":
            marker, template = f"篇{m.group('n')}", "篇N"
        elif name == "LN":
            marker, template = f"{label}{m.group('n')}", f"{label}N"
        elif name == "No.N":
            marker, template = f"No.{m.group('n')}", "No.N"
        else:
            marker, template = f"Part {m.group('n')}", "PartN"
        # Leading/trailing spaces of the title are not title text.
        t_lead = len(title) - len(title.lstrip())
        t_clean = title.strip()
        ts = title_start + t_lead
        return MarkerMatch(
            style=f"{pos}:{ob}{cb}:{template}",
            ordinal=ordinal,
            marker=marker,
            title=t_clean,
            title_start=ts,
            title_end=ts + len(t_clean),
        )
    return None


# ---------------------------------------------------------------------------
# Line classes: headings, dates, bylines, salutations, titles
# ---------------------------------------------------------------------------

_CN_NUM = "零〇一二三四五六七八九十百"
# Section headings inside an article: never part splits, never rejoined into
# the previous line.
_HEADING = re.compile(
    rf"^(?:[{_CN_NUM}]+\s*[、.．]"
    rf"|[(（][{_CN_NUM}0-9０-９]+[)）]"
    r"|[㈠㈡㈢㈣㈤㈥㈦㈧㈨㈩]"
    r"|[0-9０-９]{1,2}\s*[、.．](?![0-9０-９])"
    rf"|第[{_CN_NUM}]+[,，、:：]"
    rf"|[{_CN_NUM}]要|[{_CN_NUM}]是"
    r"|首先|其次|再次|最后[,，]"
    r"|[-—]{2,3}(?=\S))"
)

_DATE_FULL = re.compile(r"^(\d{0,4})\s*年?\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日$")
_DATE_YM = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月$")
_DATE_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_DATE_STRIP = re.compile(r"[\s\u3000()（）\[\]【】〔〕?？]")


def parse_date(line: str) -> tuple[str, bool] | None:
    """Parse a date line; return ``(iso, complete)`` or ``None``.

    Full dates become ``YYYY-MM-DD``; a date without a (valid four-digit) year
    becomes the ISO 8601 truncated form ``--MM-DD`` and ``complete`` is False,
    so the caller keeps the raw string too.

    >>> parse_date("(2005年5月18日)")
    ('2005-05-18', True)
    >>> parse_date("(8月21日)??")
    ('--08-21', False)
    >>> parse_date("今天是5月18日") is None
    True
    """
    s = _DATE_STRIP.sub("", line)
    if not s or len(s) > 16:
        return None
    m = _DATE_FULL.match(s) or _DATE_ISO.match(s)
    if m:
        y, mo, d = m.group(1), int(m.group(2)), int(m.group(3))
        if not (1 <= mo <= 12 and 1 <= d <= 31):
            return None
        if len(y) == 4 and 1900 <= int(y) <= 2100:
            return f"{y}-{mo:02d}-{d:02d}", True
        return f"--{mo:02d}-{d:02d}", False
    m = _DATE_YM.match(s)
    if m and 1 <= int(m.group(2)) <= 12:
        return f"{m.group(1)}-{int(m.group(2)):02d}", False
    return None


_ADDRESS = re.compile(r"^(?:同志|各位|尊敬|女士|先生|朋友|老师|老師|同学|同學|亲爱|親愛|大家)")
# Office words that end a byline naming a role (`江西吉安市长`).
_ROLE_END = re.compile(r"(?:长|记|任|员|席|理|委|官|主任|同志|代表|总监|经理|校长|局长)$")


def _byline(s: str) -> tuple[str, str] | None:
    """``("author", name)`` or ``("role", text)`` for a byline line."""
    c = _core(s)
    tokens = c.split()
    joined = "".join(tokens)
    if not joined or len(joined) > 14 or not all(_CJK.match(ch) or ch == "·" for ch in joined):
        return None
    if _ADDRESS.match(joined):
        return None  # `同志们`, `大家好` without punctuation open the body
    if len(tokens) > 1 and all(len(t) == 1 for t in tokens):
        return ("author", joined)  # `彭 建 文`
    if 2 <= len(joined) <= 4 and len(tokens) == 1:
        return ("author", joined)
    if len(tokens) == 2 and 2 <= len(tokens[1]) <= 4 and _ROLE_END.search(tokens[0]):
        return ("author", tokens[1])  # role + name on one line; the name is what we keep
    if _ROLE_END.search(joined) and len(joined) <= 14:
        return ("role", joined)
    return None


_SALUTATION = re.compile(
    r"^(?:同志们|同志們|各位|尊敬的|女士们|女士們|先生们|先生們|朋友们|朋友們|老师们|"
    r"老師們|同学们|同學們|亲爱的|親愛的|大家好)[^。！？!?]{0,24}?[:：!！]"
)


def _is_salutation(s: str) -> bool:
    return bool(_SALUTATION.match(s))


_SPEECH_END = re.compile(
    r"(?:讲话|講話|发言|發言|报告|報告|致辞|致辭|致词|致詞|讲稿|講稿|讲话稿|发言稿|演讲|演講|"
    r"讲话材料|总结|總結)(?:稿|材料)?(?:[(（][^()（）]{1,4}[)）])?$"
)


def _is_title_like(s: str) -> bool:
    """Short, no sentence punctuation, not a heading/date/salutation."""
    c = _core(s)
    if not c or len(c) > 40 or not _CJK.search(c):
        return False
    if re.search(r"[。！？!?；;:：]", c):
        return False
    if _HEADING.match(c) or parse_date(c) or _is_salutation(c) or _ADDRESS.match(c):
        return False
    return True


def _ends_sentence(s: str) -> bool:
    """Does the line end a sentence (so a new speech may follow)?"""
    c = s.rstrip()
    c = re.sub(r"[”’」』)）】》\"']+$", "", c)
    return bool(c) and c[-1] in "。！？!?；;…:："


# ---------------------------------------------------------------------------
# Preamble heuristic
# ---------------------------------------------------------------------------

# Words that talk about the site or the act of compiling, not the subject.
# Each distinct hit scores one point; a line scoring >= 2 is about the site.
_SITE_WORDS = re.compile(
    r"本站|本網|本网|小编|小編|投稿|精心整理|整理了|整理的|为你|為你|为您|為您|给大家|給大家|为大家|為大家|"
    r"欢迎|歡迎|仅供参考|僅供參考|参考价值|參考價值|范文网|範文網|网友|網友|收集|分享|"
    r"下载|下載|前言[:：]|点击|點擊|www\.|https?://|\.com|精选\d+篇|精選\d+篇"
)


def _site_score(s: str) -> int:
    return len({m.group(0) for m in _SITE_WORDS.finditer(s)})


# ---------------------------------------------------------------------------
# Segmentation
# ---------------------------------------------------------------------------


@dataclass
class _Part:
    """Lines [a, b) of the non-blank line list, with the marker of line a."""

    a: int
    b: int
    marker: MarkerMatch | None = None
    sub_title: bool = False  # line a is a sub-speech title line


def _accepted_markers(lines: list[_Line]) -> dict[int, MarkerMatch]:
    """Marker lines that form an ordinal sequence of one style.

    A style's markers are chained in file order where each ordinal is the
    previous one + 1 (or + 2: a missing part). The longest chain of each style
    wins if it has at least two markers; a lone marker numbered 1 is accepted
    only among the first five lines (a file that holds just part one).
    """
    cands: dict[str, list[tuple[int, MarkerMatch]]] = {}
    for i, ln in enumerate(lines):
        m = parse_marker(ln.text)
        if m:
            cands.setdefault(m.style, []).append((i, m))
    accepted: dict[int, MarkerMatch] = {}
    for group in cands.values():
        n = len(group)
        # Longest chain ending at each candidate, via the best chain ending at
        # ordinal-1 (or ordinal-2, a missing part) seen so far: linear time.
        score = [1.0] * n
        prev = [-1] * n
        best_at: dict[int, int] = {}  # ordinal -> candidate with the best chain ending there
        for i in range(n):
            o = group[i][1].ordinal
            for step, penalty in ((1, 0.0), (2, 0.1)):
                j = best_at.get(o - step)
                if j is not None and score[j] + 1 - penalty > score[i]:
                    score[i], prev[i] = score[j] + 1 - penalty, j
            if o not in best_at or score[i] > score[best_at[o]]:
                best_at[o] = i
        end = max(range(n), key=lambda k: score[k])
        chain: list[int] = []
        k = end
        while k >= 0:
            chain.append(k)
            k = prev[k]
        chain.reverse()
        first = group[chain[0]][1].ordinal
        if len(chain) >= 2 and first <= 3:
            for k in chain:
                accepted[group[k][0]] = group[k][1]
        elif len(chain) == 1 and first == 1 and group[chain[0]][0] < 5:
            accepted[group[chain[0]][0]] = group[chain[0]][1]
    return accepted


def _sub_speech_start(lines: list[_Line], i: int, b: int) -> bool:
    """Does non-blank line i start a new speech inside a part?

    A short title-like line, then up to three byline/date lines, then a
    salutation (`同志们:`…). Without byline/date lines the title must end with
    a speech word (讲话/发言/报告…) and the previous line must end a sentence.
    """
    t = lines[i].text
    m = parse_marker(t)
    title = m.title if m and m.title else t
    if not _is_title_like(title) or _byline(t):
        return False
    j = i + 1
    n_meta = 0
    while j < b and n_meta < 3 and (parse_date(lines[j].text) or _byline(lines[j].text)):
        n_meta += 1
        j += 1
    if j >= b or not _is_salutation(lines[j].text):
        return False
    speechy = bool(_SPEECH_END.search(_core(title)))
    if n_meta:
        return True
    prev_ok = i == 0 or _ends_sentence(lines[i - 1].text) or not _has_word(lines[i - 1].text)
    return speechy and prev_ok


def _without_inline_stamps(line: str) -> str:
    from .rules import default_pack  # rules never import segment: no cycle

    out: list[str] = []
    at = 0
    for m in default_pack().find_inline(line):
        if m.rule.category == "watermark":
            out.append(line[at : m.start])
            at = m.end
    out.append(line[at:])
    return "".join(out)


_LEADING_JUNK = re.compile(r"^(?:&nbsp;?|&#160;|\s)+")
_BRACKETED = re.compile(r"[(（【\[〔][^()（）【】\[\]〔〕\n]{0,80}[)）】\]〕]")


def _after_site_notice(lines: list[_Line], i: int, p: _Part) -> bool:
    """Does line i follow a site notice that closed the previous piece?

    A short line about the site (site score >= 2, e.g. `《…》来源于本网会员分享,
    欢迎阅读…`) that ends a sentence, after a line that ends one, is an
    article's edge: what follows is another piece (typically the second page
    of a scrape), not more of the same article.
    """
    if i - 1 <= p.a or i - 2 < p.a:
        return False
    notice, before = lines[i - 1].text, lines[i - 2].text
    return (
        len(notice) <= 80
        # A section heading is content, whatever got stamped into it.
        and not _HEADING.match(_LEADING_JUNK.sub("", notice))
        and _site_score(notice) >= 2
        and _ends_sentence(notice)
        and _ends_sentence(before)
        and _has_word(lines[i].text)
        # A stamp inside a content line (an inline watermark, bracketed or
        # not) does not make the line a notice: score what the inline rules
        # leave. Last, since it runs the rule pack.
        and _site_score(_BRACKETED.sub("", _without_inline_stamps(notice))) >= 2
    )


_PREAMBLE_MAX_CHARS = 300


def _preamble_end(lines: list[_Line], a: int, b: int) -> int:
    """Index after the last leading preamble line in lines[a:b] (a if none).

    Only the first three lines are looked at, and only before the first
    salutation; a line scoring >= 2 site words ends the preamble there
    (a title line above it goes with it: it is the page's title).
    """
    end = a
    for k in range(a, min(b, a + 3)):
        if _is_salutation(lines[k].text):
            break
        # A site notice is a sentence or two; a long line with site words
        # is content that mentions the site (or a whole extracted page).
        if len(lines[k].text) <= _PREAMBLE_MAX_CHARS and _site_score(lines[k].text) >= 2:
            end = k + 1
    return end


def segment_text(text: str, file: str, config: SegmentConfig | None = None) -> Segmentation:
    """Split ``text`` into articles and blocks; see the module docstring.

    >>> s = segment_text("前言:本站为你精心整理了范文,欢迎参考。\\n同志们:\\n今天召开全市工作会议,部署下半年工作。", "f")
    >>> [(r.reason, r.rule) for r in s.removed], s.articles[0].text
    ([('boilerplate', 'preamble')], '同志们:\\n今天召开全市工作会议,部署下半年工作。')
    """
    cfg = config or SegmentConfig()
    lines = _lines(text)
    removed: list[Removal] = []
    if not lines:
        return Segmentation((), ())

    def rem(a: int, b: int, reason: str, rule: str) -> Removal:
        """A removal covering non-blank lines [a, b)."""
        s, e = lines[a].cs, lines[b - 1].ce
        return Removal(file, s, e, text[s:e], reason, rule)

    markers = _accepted_markers(lines)
    starts = sorted(markers)
    n = len(lines)

    # 1. Parts between accepted markers, and the region before the first.
    parts: list[_Part] = []
    first = starts[0] if starts else n
    if first > 0:
        region_chars = sum(len(lines[k].text) for k in range(first))
        has_speech = any(_is_salutation(lines[k].text) for k in range(first))
        if starts and not has_speech and (first <= 6 and region_chars <= 400 or any(
                _site_score(lines[k].text) >= 2 for k in range(first))):
            removed.append(rem(0, first, "boilerplate", "preamble"))
        else:
            pe = _preamble_end(lines, 0, first)
            if pe > 0:
                removed.append(rem(0, pe, "boilerplate", "preamble"))
            if pe < first:
                parts.append(_Part(pe, first))
    for k, s in enumerate(starts):
        e = starts[k + 1] if k + 1 < len(starts) else n
        parts.append(_Part(s, e, markers[s]))

    # 2. Split parts at sub-speeches.
    split: list[_Part] = []
    for p in parts:
        # The part's own header (marker, title, byline/date lines) and each
        # sub-speech's header are skipped: a byline is not a new title.
        cuts: list[int] = []
        i = max(_header(lines, p)[0], p.a + 1)
        while i < p.b:
            if _after_site_notice(lines, i, p):
                cuts.append(i)
                i += 1
            elif _sub_speech_start(lines, i, p.b):
                cuts.append(i)
                i = max(_header(lines, _Part(i, p.b, sub_title=True))[0], i + 1)
            else:
                i += 1
        bounds = [p.a, *cuts, p.b]
        for k in range(len(bounds) - 1):
            if k == 0:
                split.append(_Part(bounds[0], bounds[1], p.marker))
            else:
                split.append(_Part(bounds[k], bounds[k + 1], None, sub_title=True))

    # 3. Build articles.
    sep = _paragraph_gap(lines)
    articles: list[Article] = []
    for p in split:
        art, rems = _build_article(text, file, lines, p, cfg, sep, len(articles))
        if art is None:
            removed.extend(rems)
            continue
        articles.append(art)
        removed.extend(rems)
    removed.sort(key=lambda r: (r.start, r.end))
    return Segmentation(tuple(articles), tuple(removed))


def _header(lines: list[_Line], p: _Part) -> tuple[int, int | None, str | None, dict[str, str], list[int]]:
    """Parse the header of part ``p``.

    Returns (first body line, title line index or None, title source —
    "marker"/"line"/None, meta, meta line indices).
    """
    i = p.a
    title_line: int | None = None
    source: str | None = None
    if p.marker is not None:
        i += 1
        mt = p.marker.title
        if i < p.b and _is_title_like(lines[i].text):
            nxt = lines[i + 1].text if i + 1 < p.b else ""
            cand = _core(lines[i].text)
            if (not mt or _SPEECH_END.search(cand) or _is_salutation(nxt) or parse_date(nxt)
                    or _byline(nxt) or cand == mt or cand in mt or mt in cand):
                title_line, source = i, "line"
                i += 1
        if title_line is None and mt:
            title_line, source = p.a, "marker"
    else:
        # Sub-speech or un-marked article: a title-like first line followed by
        # byline/date or a salutation is the title.
        m0 = parse_marker(lines[i].text) if i < p.b else None
        if i < p.b and _is_title_like(m0.title if m0 and m0.title else lines[i].text):
            nxt = lines[i + 1].text if i + 1 < p.b else ""
            if p.sub_title or _is_salutation(nxt) or parse_date(nxt) or _byline(nxt):
                title_line, source = i, "line"
                i += 1
    meta: dict[str, str] = {}
    meta_lines: list[int] = []
    # Byline/date lines only follow a marker or a title line: a short first
    # line of an untitled text is body.
    while (title_line is not None or p.marker is not None) and i < p.b and len(meta_lines) < 4:
        s = lines[i].text
        d = parse_date(s)
        if d and "date" not in meta:
            meta["date"] = d[0]
            if not d[1]:
                meta["date_raw"] = _core(s)
        else:
            bl = _byline(s)
            if not bl or (bl[0] in meta) or i + 1 >= p.b:
                break
            if bl[0] == "author" and "author" in meta:
                break
            meta[bl[0]] = bl[1]
        meta_lines.append(i)
        i += 1
    return i, title_line, source, meta, meta_lines


def _title_text(lines: list[_Line], k: int | None) -> str:
    """The title carried by line ``k`` (a stray marker stripped)."""
    if k is None:
        return ""
    m = parse_marker(lines[k].text)
    return m.title if m and m.title else _core(lines[k].text)


def _build_article(
    text: str, file: str, lines: list[_Line], p: _Part, cfg: SegmentConfig, sep: int, index: int
) -> tuple[Article | None, list[Removal]]:
    body_start, title_line, source, meta, meta_lines = _header(lines, p)
    rems: list[Removal] = []
    header: list[Span] = []
    title = ""
    title_span: Span | None = None
    marker = p.marker.marker if p.marker else None

    if p.marker is not None:
        if source == "marker":
            header.append(Span(lines[p.a].cs, lines[p.a].ce))
            title = p.marker.title
            title_span = Span(lines[p.a].cs + p.marker.title_start, lines[p.a].cs + p.marker.title_end)
        else:
            ln = lines[p.a]
            rems.append(Removal(file, ln.cs, ln.ce, ln.text, "structure", "part-marker"))
            if p.marker.title and p.marker.title != _title_text(lines, title_line):
                meta["part_title"] = p.marker.title
    if source == "line" and title_line is not None:
        ln = lines[title_line]
        m = parse_marker(ln.text)
        if m and m.title:
            # A title line carrying a stray marker that sequence validation
            # rejected (`…讲话篇3` copied from another compilation): the title
            # is the line without it; the marker text stays in the header.
            title, ts, te = m.title, ln.cs + m.title_start, ln.cs + m.title_end
        else:
            title = _core(ln.text)
            ts, te = ln.cs, ln.cs + len(title)
        title_span = Span(ts, te)
        header.append(Span(ln.cs, ln.ce))
    for k in meta_lines:
        header.append(Span(lines[k].cs, lines[k].ce))

    # Noise lines (no letter, digit or CJK: `???`, `— —`) at the body's edges
    # belong to no paragraph.
    a, b = body_start, p.b
    while a < b and not _has_word(lines[a].text):
        rems.append(Removal(file, lines[a].cs, lines[a].ce, lines[a].text, "artefact", "noise-line"))
        a += 1
    tail: list[Removal] = []
    while b > a and not _has_word(lines[b - 1].text):
        tail.append(Removal(file, lines[b - 1].cs, lines[b - 1].ce, lines[b - 1].text, "artefact", "noise-line"))
        b -= 1
    rems.extend(reversed(tail))

    blocks = _blocks(text, lines[a:b], cfg, sep)
    body_chars = sum(len(bl.text) for bl in blocks)
    start = lines[p.a].cs
    if not blocks or body_chars < cfg.min_article_chars:
        # An empty part: one removal for its whole span (header and edge
        # noise included), replacing the part-marker and noise removals.
        end = lines[p.b - 1].ce
        return None, [Removal(file, start, end, text[start:end], "structure", "empty-part")]
    end = blocks[-1].end
    art = Article(
        file=file,
        index=index,
        start=start,
        end=end,
        title=title,
        blocks=tuple(blocks),
        title_span=title_span,
        marker=marker,
        meta=meta,
        header=tuple(header),
    )
    return art, rems


# ---------------------------------------------------------------------------
# Blocks: paragraphs, PDF line rejoining, sentence runs
# ---------------------------------------------------------------------------


def _paragraph_gap(lines: list[_Line]) -> int:
    """1 if the file separates paragraphs by blank lines, else 0.

    In a blank-line-separated file a single blank line is an ordinary line
    break, so a broken line may be rejoined across it.
    """
    gaps = [lines[k + 1].index - lines[k].index - 1 for k in range(len(lines) - 1)]
    if not gaps:
        return 0
    blank = sum(1 for g in gaps if g >= 1)
    return 1 if blank / len(gaps) > 0.6 else 0


_OPENERS = "“‘「『(（【《\"'"
_CLOSERS_ONLY = re.compile(r"^[^“‘「『(（【《]*?[”’」』)）】》]")

# Lines shorter than this are never the first half of a PDF break: a broken
# line fills the page width, a short unpunctuated line is a heading.
_MIN_BROKEN_LINE = 40


# A page footer a PDF export left on its own line: `第 7 页 共 8 页`, `3/9`,
# `Page 2 of 5`, `- 4 -`. Such a line never continues a sentence.
_PAGE_FOOTER = re.compile(r"[\s0-9０-９\-—–－―·•/／第页頁共of]*[0-9０-９][\s0-9０-９\-—–－―·•/／第页頁共of]*|(?i:page)\s*[0-9]+(?:\s*(?:of|/)\s*[0-9]+)?")


def _is_page_footer(line: str) -> bool:
    """`第 7 页 共 8 页`, `3/9`, `- 4 -`: digits with page words only, short.

    >>> _is_page_footer("第 7 页 共 8 页"), _is_page_footer("2021年")
    (True, False)
    """
    return len(line) <= 24 and _PAGE_FOOTER.fullmatch(line.strip()) is not None


def _continues(prev: str, nxt: str) -> bool:
    """Is ``nxt`` the rest of a sentence that ``prev`` broke off?"""
    if len(prev) < _MIN_BROKEN_LINE or not _has_word(prev) or not nxt:
        return False
    last = prev[-1]
    if last in "。！？!?；;:：…”’」』)）】》\"'>":
        return False
    if _HEADING.match(prev) and not _SENT_PUNCT.search(prev):
        return False  # a pure heading line (`三、着眼…两大园区`) is its own block
    first = nxt[0]
    if not (_WORD.match(first) or first in _OPENERS):
        return False  # `— —`, `???`: not words, not a continuation
    if _is_salutation(nxt) or parse_date(nxt) or parse_marker(nxt) or _is_page_footer(nxt) or _is_page_footer(prev):
        return False
    if len(nxt) <= 40 and nxt.rstrip().endswith((":", "：")):
        return False  # a short label line (`相关推荐:`, `四种精神:`) opens something new
    # A line that closes a quote it never opened continues the previous one,
    # even when it looks like a heading (`一、山东省最好”自居…`).
    if _CLOSERS_ONLY.match(nxt):
        return True
    if _HEADING.match(nxt):
        return False
    return True


def _joiner(left: str, right: str) -> str:
    """What replaces a rejoined line break: a space in Latin text, nothing in
    CJK text (``工作制度,`` + ``4级政府`` joins without a space).

    >>> _joiner("the quick", "brown fox"), _joiner("建立健全工作制度,", "4级政府")
    (' ', '')
    """
    if not (left and right and left[-1].isascii() and right[0].isascii() and left[-1].strip() and right[0].strip()):
        return ""
    tail = left[-20:]
    latin = sum(1 for ch in tail if ch.isascii() and ch.isalpha())
    return " " if latin * 2 >= len(tail.replace(" ", "")) else ""


_SENT_END = re.compile(r"[。！？!?]+[”’」』)）\"']*(?=[^”’」』)）\"'。！？!?]|$)")


def _blocks(text: str, lines: list[_Line], cfg: SegmentConfig, sep: int, *, fast: bool = True) -> list[Block]:
    """Paragraph blocks (rejoined) from body lines, long ones split.
    ``fast=False``: every paragraph through the general path (the reference
    the one-line shortcut is tested against)."""
    paras: list[list[_Line]] = []
    for ln in lines:
        if (
            paras
            and cfg.rejoin_broken_lines
            and ln.index - paras[-1][-1].index - 1 <= sep
            and _continues(paras[-1][-1].text, ln.text)
        ):
            paras[-1].append(ln)
        else:
            paras.append([ln])
    out: list[Block] = []
    max_chars = cfg.max_block_chars
    for para in paras:
        if fast and len(para) == 1 and len(para[0].text) <= max_chars:
            # Most paragraphs: one line, one run; what the general path
            # below makes of them.
            ln = para[0]
            out.append(Block(ln.cs, ln.ce, ln.text))
            continue
        # pieces: (text start, raw start, raw end)
        pieces: list[tuple[int, int, int]] = []
        buf: list[str] = []
        t = 0
        for k, ln in enumerate(para):
            if k:
                j = _joiner(para[k - 1].text, ln.text)
                buf.append(j)
                t += len(j)
            pieces.append((t, ln.cs, ln.ce))
            buf.append(ln.text)
            t += len(ln.text)
        ptext = "".join(buf)
        first = True
        for s, e in _runs(ptext, max_chars):
            rs = _to_raw(pieces, s, start=True)
            re_ = _to_raw(pieces, e, start=False)
            if e > s:
                out.append(Block(rs, re_, ptext[s:e], continues=not first))
                first = False
    return out


def _to_raw(pieces: list[tuple[int, int, int]], pos: int, start: bool) -> int:
    for k, (ts, rs, rend) in enumerate(pieces):
        te = ts + (rend - rs)
        if start and ts <= pos < te or not start and ts < pos <= te:
            return rs + (pos - ts)
        if start and pos < ts:
            return rs  # inside a joiner: the next piece starts the run
    return pieces[-1][2]


def _runs(s: str, max_chars: int) -> Iterable[tuple[int, int]]:
    """Sentence runs of at most ``max_chars`` (a longer sentence stays whole)."""
    if len(s) <= max_chars:
        yield 0, len(s)
        return
    cuts = [m.end() for m in _SENT_END.finditer(s) if m.end() < len(s)]
    bounds = [0, *cuts, len(s)]
    start = 0
    prev = 0
    for b in bounds[1:]:
        if b - start > max_chars and prev > start:
            yield _trim(s, start, prev)
            start = prev
        prev = b
    yield _trim(s, start, len(s))


def _trim(s: str, a: int, b: int) -> tuple[int, int]:
    while a < b and s[a].isspace():
        a += 1
    while b > a and s[b - 1].isspace():
        b -= 1
    return a, b
