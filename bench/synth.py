"""Synthetic scraped corpora with gold, built from the seed files.

The clean side comes from the seeds: each seed article (found by
:func:`cleaner.segment.segment_text`) becomes one *source article* (a gold
cluster), after a conservative filter that drops seed paragraphs carrying the
seeds' own noise (see :func:`load_pool`). Seed articles that overlap an
already-kept one (the seeds repeat speeches) are dropped, so distinct clusters
are really distinct.

:func:`generate` then writes scraped "files": each holds 1-4 article copies
(a compilation with part markers of many styles when more than one), each copy
a near-duplicate variant of its source (exact, character edits, masked names,
dropped paragraphs, truncation, half-width punctuation), with noise injected
from a grammar (site preambles and trailers, inline watermarks, markup, page
footers, ``?`` artefacts, zero-width characters, U+FFFD), in a script
(original, traditional, simplified), with mojibake lines, and saved in an
encoding (UTF-8, UTF-8-BOM, GB18030, Big5, UTF-16). Every injected noise span
and every article copy's clean paragraphs are recorded in ``gold.json``.

Layout of a corpus folder::

    files/0000_1a2b3c4d.txt   bytes in the file's encoding
    gold.json                 see :meth:`Corpus.to_json`

Everything is deterministic for a given ``seed`` (a :class:`random.Random`
seeded once; no hash-randomised iteration).

CLI::

    python -m bench.synth OUT_DIR [--seed 1] [--docs 200] [--scale 1]
"""

from __future__ import annotations

import argparse
import codecs
import hashlib
import json
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

# Make `python bench/synth.py` work as well as `python -m bench.synth`.
if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cleaner.decode import decode_bytes
from cleaner.normalize import convert_script, match_key
from cleaner.segment import segment_text

__all__ = [
    "NOISE_KINDS",
    "NoiseSpan",
    "GoldArticle",
    "GoldFile",
    "SourceArticle",
    "Corpus",
    "SEED_DIR",
    "load_pool",
    "is_seed_noise",
    "generate",
    "main",
]

#: Default location of the seed files.
SEED_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "seeds"

#: Every noise kind the generator injects.
NOISE_KINDS: tuple[str, ...] = (
    "preamble",  # site notice at the head of a file
    "trailer",  # site notice / related-links block at a file's or article's tail
    "watermark",  # ownership claim inserted mid-sentence
    "markup",  # <image>…评级…</image>, &nbsp;, <img src=…>, <br/>
    "page-number",  # page footer lines between paragraphs
    "artefact",  # "?" at line ends (a lost character re-encoded)
    "zero-width",  # U+200B/C/D, U+2060, U+FEFF inside text
    "replacement-char",  # U+FFFD inside text
    "mojibake",  # a whole content line damaged (UTF-8 read as GBK or latin-1)
)


# ---------------------------------------------------------------------------
# Gold types
# ---------------------------------------------------------------------------


@dataclass
class NoiseSpan:
    """One injected noise span.

    ``text`` is the span exactly as written into the file's decoded text
    (after script conversion); ``start``/``end`` are code-point offsets into
    that decoded text. For ``mojibake``, ``repaired`` holds the clean line the
    damaged text stands for.
    """

    kind: str
    text: str
    start: int = -1
    end: int = -1
    repaired: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"kind": self.kind, "text": self.text, "start": self.start, "end": self.end}
        if self.repaired is not None:
            d["repaired"] = self.repaired
        return d


@dataclass
class GoldArticle:
    """One article copy inside a file.

    ``paragraphs`` is the clean gold text of this copy (in the file's script,
    with the copy's deliberate edits/masks, without any noise).
    ``start``/``end`` cover the copy from its marker/title line to its last
    line (article trailer included) in the decoded text.
    """

    cluster: str
    index: int
    title: str
    paragraphs: list[str]
    variant: list[str]
    meta: dict[str, str] = field(default_factory=dict)
    noise: list[NoiseSpan] = field(default_factory=list)
    start: int = -1
    end: int = -1

    def to_dict(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "index": self.index,
            "title": self.title,
            "meta": dict(self.meta),
            "variant": list(self.variant),
            "start": self.start,
            "end": self.end,
            "paragraphs": list(self.paragraphs),
            "noise": [n.to_dict() for n in self.noise],
        }


@dataclass
class GoldFile:
    """One generated file: name, how it was saved, its articles and file-level noise."""

    name: str
    encoding: str
    script: str  # "original", "traditional" (s2t), "traditional-tw" (s2tw) or "simplified" (t2s)
    mojibake: str | None  # None, "gbk", "latin1-line", "latin1-file"
    newline: str
    articles: list[GoldArticle]
    noise: list[NoiseSpan] = field(default_factory=list)
    # In memory only (not in gold.json): the decoded text and the bytes.
    text: str = field(default="", repr=False)
    data: bytes = field(default=b"", repr=False)

    def all_noise(self) -> list[NoiseSpan]:
        """File-level and article-level noise spans, in file order."""
        spans = list(self.noise) + [n for a in self.articles for n in a.noise]
        return sorted(spans, key=lambda s: (s.start, s.end))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "encoding": self.encoding,
            "script": self.script,
            "mojibake": self.mojibake,
            "newline": self.newline,
            "chars": len(self.text),
            "bytes": len(self.data),
            "noise": [n.to_dict() for n in self.noise],
            "articles": [a.to_dict() for a in self.articles],
        }


@dataclass(frozen=True)
class SourceArticle:
    """A clean seed article: one gold cluster."""

    id: str
    file: str
    index: int
    title: str
    paragraphs: tuple[str, ...]
    meta: dict[str, str] = field(default_factory=dict)

    @property
    def chars(self) -> int:
        return sum(len(p) for p in self.paragraphs)


@dataclass
class Corpus:
    """A generated corpus: gold for every file, plus the source clusters."""

    seed: int
    clusters: dict[str, SourceArticle]
    files: list[GoldFile]
    root: Path | None = None

    def to_json(self) -> dict[str, Any]:
        """The content of ``gold.json``.

        ``{"version": 1, "seed", "clusters": {id: {"file", "index", "title",
        "paragraphs"}}, "files": [GoldFile.to_dict()...]}``
        """
        return {
            "version": 1,
            "seed": self.seed,
            "clusters": {
                cid: {"file": s.file, "index": s.index, "title": s.title, "paragraphs": list(s.paragraphs)}
                for cid, s in self.clusters.items()
            },
            "files": [f.to_dict() for f in self.files],
        }

    def write(self, out_dir: str | Path) -> Path:
        """Write ``files/*.txt`` and ``gold.json`` under ``out_dir``; return it."""
        root = Path(out_dir)
        fdir = root / "files"
        fdir.mkdir(parents=True, exist_ok=True)
        for old in fdir.glob("*.txt"):
            old.unlink()
        for f in self.files:
            (fdir / f.name).write_bytes(f.data)
        (root / "gold.json").write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")
        self.root = root
        return root

    @property
    def total_bytes(self) -> int:
        return sum(len(f.data) for f in self.files)


# ---------------------------------------------------------------------------
# The clean pool, from the seeds
# ---------------------------------------------------------------------------

# Seed paragraphs matching this are dropped from the gold pool: they carry the
# seeds' own site noise (notices, watermarks, links, markup).
_SEED_NOISE = re.compile(
    r"<image>|<img|&nbsp|www\.|https?://|\.com|本站|本網|本网会员|小编|小編|投稿|来源于|來源於|"
    r"看过.{0,40}的人还看了|看過.{0,40}的人還看了|文档为|文檔為|仅供参考|僅供參考|欢迎阅读|歡迎閱讀|"
    r"权属|權屬|版权|版權|转载|轉載|:image>|data:image|上一篇|下一篇|相关文章|相關文章|查看全文"
)
# A numbered link title of a related-articles list: "10.半年工作会议讲话".
_LINK_TITLE = re.compile(r"^[0-9]{1,2}[.．、][^。！？!?,，；;]{1,30}$")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_TRAIL_Q = re.compile(r"[?\s\u3000]+$")
_PAGE_LINE = re.compile(r"^[\s—–\-－·0-9]+$")


def is_seed_noise(paragraph: str) -> bool:
    """True if a seed paragraph is too noisy to be gold content.

    Rules (kept simple and conservative; this is the gold side): the paragraph
    contains a site-notice, link, markup or ownership word (``<image>``,
    ``www.``, ``本站``, ``小编``, ``投稿``, ``来源于``, ``看过…的人还看了``,
    ``文档为``, ``版权``, ``转载``, ``上一篇``, ``相关文章``, image data, ...), or it
    has no CJK character, or it is a page-footer-like run of dashes and digits,
    or a numbered link title (``10.半年工作会议讲话``).

    >>> is_seed_noise("同志们:"), is_seed_noise("文档为doc格式"), is_seed_noise("— — 6")
    (False, True, True)
    """
    return (
        bool(_SEED_NOISE.search(paragraph))
        or not _CJK.search(paragraph)
        or bool(_PAGE_LINE.match(paragraph))
        or bool(_LINK_TITLE.match(paragraph))
    )


def _seed_paragraphs(article: Any) -> list[str]:
    """Paragraph texts of a segmented article (sentence runs re-joined)."""
    paras: list[str] = []
    for b in article.blocks:
        if paras and b.continues:
            paras[-1] += b.text
        else:
            paras.append(b.text)
    return paras


def _shingles(text: str, k: int = 5) -> set[str]:
    key = match_key(text)
    return {key[i : i + k] for i in range(max(0, len(key) - k + 1))}


def load_pool(
    seed_dir: str | Path = SEED_DIR,
    min_chars: int = 400,
    max_overlap: float = 0.3,
) -> list[SourceArticle]:
    """Clean source articles from the seed files, one per distinct seed article.

    1. Each seed is decoded (:func:`cleaner.decode.decode_bytes`) and segmented
       (:func:`cleaner.segment.segment_text`); an article's body paragraphs
       are its candidate gold paragraphs.
    2. In an article where more than 20% of paragraphs end with an ASCII ``?``
       (the seeds' line-end artefact), trailing ``?`` runs are stripped from
       every paragraph.
    3. Paragraphs failing :func:`is_seed_noise` are dropped.
    4. Articles with fewer than ``min_chars`` characters are dropped.
    5. Longest first, an article whose 5-gram shingles (of the match key)
       overlap an already kept article by more than ``max_overlap``
       (containment in the smaller one) is dropped: the seeds repeat speeches
       with edits, and a gold cluster must be distinct from every other one.

    The result is in seed file order; ids are ``s<file prefix>-<index>``.
    """
    cands: list[SourceArticle] = []
    for path in sorted(Path(seed_dir).glob("*.txt")):
        decoded = decode_bytes(path.read_bytes(), path.name)
        seg = segment_text(decoded.text, path.name)
        for art in seg.articles:
            paras = _seed_paragraphs(art)
            if paras and sum(1 for p in paras if p.endswith("?")) > 0.2 * len(paras):
                paras = [_TRAIL_Q.sub("", p) for p in paras]
            paras = [p.strip() for p in paras if p.strip() and not is_seed_noise(p)]
            if sum(len(p) for p in paras) < min_chars:
                continue
            title = _TRAIL_Q.sub("", art.title or "").strip() or "讲话稿"
            meta = {k: v for k, v in art.meta.items() if k in ("author", "date")}
            sid = f"s{path.name[:3]}-{art.index:02d}"
            cands.append(SourceArticle(sid, path.name, art.index, title, tuple(paras), meta))
    order = sorted(range(len(cands)), key=lambda i: (-cands[i].chars, i))
    kept: list[int] = []
    kept_sh: list[set[str]] = []
    for i in order:
        sh = _shingles("".join(cands[i].paragraphs))
        if any(len(sh & o) > max_overlap * min(len(sh), len(o)) for o in kept_sh):
            continue
        kept.append(i)
        kept_sh.append(sh)
    return [cands[i] for i in sorted(kept)]


# ---------------------------------------------------------------------------
# Surface-form grammar for noise
# ---------------------------------------------------------------------------

_SITE_A = ("爱学", "好", "优", "快乐", "易", "第一", "大众", "新", "文秘之", "写写", "精品", "中国", "星火", "学习", "蓝天", "百度")
_SITE_B = ("范文", "文秘", "公文", "写作", "文库", "材料", "讲话稿", "秘书", "文章", "报告")
_SITE_C = ("网", "站", "之家", "之音", "吧", "在线", "天地", "中心", "帮")
_DOM_A = ("fanwen", "wenmi", "xiexiebang", "gongwen", "wenku", "mishu", "zuowen", "cailiao", "jianghua", "haowen", "yuwen", "51test", "diyifanwen", "aixue", "oh100", "unjs", "xuexila")
_DOM_B = (".com", ".cn", ".net", ".com.cn", ".org")
_USER_A = ("queen", "king", "sunny", "xiaoyu", "lucky", "tiger", "moon", "wang", "li", "happy", "admin", "dragon", "rose", "apple")
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
_GIVEN = "建文明华国强军平伟志勇海涛斌林峰刚杰东红玉兰芳英丽敏静秀德新少玄懿彪安春伯成松涛宏亮振兴"
_ROLES = ("市长", "副市长", "市委书记", "县长", "区长", "局长", "主任", "常务副市长", "市委副书记")
_TOPICS = ("工作会议讲话", "领导讲话稿", "年终总结讲话", "经济工作会议讲话", "表彰大会发言", "动员大会讲话", "座谈会发言", "工作报告", "讲话材料")
_EXTRA_TITLES = ("在全市经济工作会议上的讲话", "在安全生产工作会议上的讲话", "县长在全县工作会议上的讲话", "在党风廉政建设会议上的讲话",
                 "在招商引资工作会议上的讲话", "领导在年终总结会上的讲话", "在全区教育工作会议上的讲话", "在农村工作会议上的讲话",
                 "国庆节领导讲话稿", "在项目建设推进会上的讲话", "在优化营商环境大会上的讲话", "在春节团拜会上的致辞")
_WIDE = str.maketrans({",": "，", ":": "：", ";": "；", "!": "！", "?": "？", "(": "（", ")": "）"})
_NARROW = str.maketrans({"，": ",", "：": ":", "；": ";", "！": "!", "？": "?", "（": "(", "）": ")"})


class Grammar:
    """Draws noise surface forms (site names, users, numbers, templates) from one RNG."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, seq: tuple[str, ...] | list[str]) -> str:
        return seq[self.rng.randrange(len(seq))]

    def site(self) -> str:
        return self.pick(_SITE_A) + self.pick(_SITE_B) + self.pick(_SITE_C)

    def domain(self) -> str:
        r = self.rng
        stem = self.pick(_DOM_A) + (str(r.randint(1, 999)) if r.random() < 0.3 else "")
        return ("www." if r.random() < 0.8 else "m.") + stem + self.pick(_DOM_B)

    def user(self) -> str:
        r = self.rng
        return self.pick(_USER_A) + str(r.choice((r.randint(1, 99), r.randint(100, 9999), r.randint(1900, 2020))))

    def name(self) -> str:
        n = self.rng.choice((1, 2, 2))
        return self.pick(_SURNAMES) + "".join(self.pick(_GIVEN) for _ in range(n))

    def punct(self, s: str) -> str:
        """Randomly full-width or half-width punctuation, as scrapes mix them."""
        r = self.rng.random()
        if r < 0.4:
            return s.translate(_WIDE)
        if r < 0.8:
            return s.translate(_NARROW)
        return s

    def related_titles(self, k: int) -> list[str]:
        return [self.pick(_EXTRA_TITLES) + (self.pick(("", "(精选)", "范文", "稿", "3篇")) if self.rng.random() < 0.5 else "") for _ in range(k)]

    def preamble(self, topic: str, n: int) -> list[str]:
        """A site preamble: one to three lines."""
        r, g = self.rng, self
        site = g.site()
        forms: list[Callable[[], list[str]]] = [
            lambda: [f"“{g.user()}”通过精心收集,向本站投稿了{n}篇{topic},下面是小编给各位读者分享的{topic},欢迎大家分享。"],
            lambda: [f"前言:本站为你精心整理了{topic}范文,希望能为你的创作提供参考价值,我们的客服老师可以帮助你提供个性化的参考范文,欢迎咨询。"],
            lambda: [f"下面是{site}小编给大家整理的{topic},仅供参考。"],
            lambda: [f"以下是{site}为大家精心整理的{topic}{n}篇,欢迎阅读参考!"],
            lambda: [f"【导语】{site}整理的{topic},希望对大家有所帮助。更多相关内容请关注{site}!"],
            lambda: [f"本文是{site}为您精选的{topic},供您参考学习,希望对您有帮助。"],
            lambda: [f"{topic}(精选{n}篇)", f"{topic}是我们工作中常用的材料。下面是小编为大家整理的{topic},欢迎大家借鉴与参考,希望对大家有所帮助。"],
            lambda: [f"{site}({g.domain()})为您整理了{n}篇{topic},欢迎收藏本站!"],
            lambda: [f"网友“{g.user()}”投稿的{topic},本站编辑整理后发布,欢迎下载参考。"],
            lambda: [f"{topic}【{n}篇】", f"导读:{topic}由{site}网友投稿,经小编精心整理,希望大家喜欢。"],
        ]
        lines = forms[r.randrange(len(forms))]()
        return [g.punct(x) for x in lines]

    def trailer(self, title: str, topic: str) -> list[str]:
        """A trailer block: one notice line, or a heading plus related titles."""
        r, g = self.rng, self
        forms: list[Callable[[], list[str]]] = [
            lambda: [f"看过《{title}》的人还看了:", *g.related_titles(r.randint(2, 5))],
            lambda: [f"看过{title}的人还看了:", *g.related_titles(r.randint(2, 4))],
            lambda: [f"《{title}》来源于本网会员分享,欢迎阅读{title}。"],
            lambda: [f"《{title}》来源于{g.site()},欢迎阅读{title}。"],
            lambda: ["文档为doc格式"],
            lambda: [g.pick(("查看全文", "点击查看全文>>", "展开阅读全文", "查看更多>>"))],
            lambda: ["相关推荐:" + "、".join(g.related_titles(r.randint(2, 4)))],
            lambda: ["相关推荐:", *g.related_titles(r.randint(2, 4))],
            lambda: ["本文关键词:" + ",".join((topic, g.pick(_TOPICS), g.pick(_ROLES) + "讲话"))],
            lambda: [f"【{topic}】相关文章:", *g.related_titles(r.randint(2, 4))],
            lambda: [f"更多{topic}请访问{g.domain()}"],
            lambda: [f"本文由{g.user()}上传分享,版权归原作者所有。"],
            lambda: [f"感谢您的阅读,{g.site()}祝您工作顺利!"],
            lambda: [f"免费下载这篇{topic}word格式文档", "下载全文"],
        ]
        lines = forms[r.randrange(len(forms))]()
        return [g.punct(x) for x in lines]

    def watermark(self) -> str:
        """An inline ownership claim, with one of several bracket styles."""
        r, g = self.rng, self
        site, dom = g.site(), g.domain()
        bodies = (
            f"本文权属{site}所有,更多文章请登陆{dom}查看",
            f"版权归{site}所有,转载请注明出处",
            f"原创文章,尽在{site}{dom}",
            f"转载请注明出处:{dom}",
            f"本文来自{site}{dom}",
            f"更多精彩内容请访问{dom}",
            f"此文由{site}收集整理,{dom}",
            f"文章来源:{site}",
            f"本文由{site}整理,未经许可不得转载",
            f"{site}版权所有",
        )
        body = g.punct(bodies[r.randrange(len(bodies))])
        o, c = g.pick(("()", "（）", "【】", "[]", "()", "（）", "〔〕", "  "))
        return (o + body + c).strip()

    def image_tag(self) -> str:
        r = self.rng
        return self.pick((
            f"<image>范文评级{r.randint(1, 5)}星</image>",
            f"<image>本文评级:{r.randint(1, 5)}星,共{r.randint(2, 999)}人评价</image>",
            f"<image>评级{r.randint(1, 5)}星 {self.site()}</image>",
            f"<image>data:image/png;base64,{''.join(r.choice('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') for _ in range(r.randint(16, 40)))}"
            f" alt=\"评级{r.randint(1, 5)}星\"</image>",
            f"<img src=\"http://{self.domain()[4:]}/uploads/{r.randint(2010, 2023)}/{r.randint(1, 12):02d}/{r.randint(1000, 99999)}.jpg\">",
            f"<img src='/images/pic{r.randint(1, 99)}.png' alt=''>",
        ))

    def page_footer(self, page: int, pages: int) -> str:
        return self.pick((
            f"— — {page}",
            f"- {page} -",
            f"第 {page} 页 共 {pages} 页",
            f"第{page}页/共{pages}页",
            f"— {page} —",
            f"·{page}·",
            f"{page}/{pages}",
        ))


# ---------------------------------------------------------------------------
# Part markers
# ---------------------------------------------------------------------------

_CN = "零一二三四五六七八九十"


def _cn_num(n: int) -> str:
    if n <= 10:
        return _CN[n]
    if n < 20:
        return "十" + (_CN[n - 10] if n > 10 else "")
    return _CN[n // 10] + "十" + (_CN[n % 10] if n % 10 else "")


def _fw_num(n: int) -> str:
    return "".join(chr(ord(c) + 0xFEE0) for c in str(n))


# (template, numeral kinds allowed, position) -- {n} numeral, {t} title.
_MARKER_STYLES: tuple[tuple[str, str, str], ...] = (
    ("第{n}篇:{t}", "acf", "inline"),
    ("第{n}篇 {t}", "ac", "inline"),
    ("篇{n}:{t}", "a", "inline"),
    ("【范文{n}】{t}", "ac", "inline"),
    ("【第{n}篇】{t}", "ac", "inline"),
    ("范例{n}:{t}", "ac", "inline"),
    ("范文{n}：{t}", "a", "inline"),
    ("例文{n}:{t}", "a", "inline"),
    ("文章{n}:{t}", "c", "inline"),
    ("精选范文{n}:{t}", "a", "inline"),
    ("No.{n} {t}", "a", "inline"),
    ("第{n}则 {t}", "ac", "inline"),
    ("第{n}则：{t}", "a", "inline"),
    ("{t} 第{n}篇", "a", "inline"),
    ("{t}篇{n}", "a", "inline"),
    ("{t}材料篇{n}", "a", "inline"),
    ("第{n}篇", "ac", "own-line"),
    ("【范文{n}】", "a", "own-line"),
    ("篇{n}", "a", "own-line"),
    ("范文{n}", "ac", "own-line"),
)


def _numeral(n: int, kind: str) -> str:
    return {"a": str(n), "c": _cn_num(n), "f": _fw_num(n)}[kind]


# ---------------------------------------------------------------------------
# Variants of an article copy
# ---------------------------------------------------------------------------

_MASKS = ("__", "XX", "※※", "**", "××", "XXX", "___")
_NAME_BEFORE_ROLE = re.compile(r"([\u4e00-\u9fff]{2,3})(?=同志|市长|书记|省长|主任|局长|厅长|县长|区长)")
_NAME_AFTER_ROLE = re.compile(r"(?<=市长|书记|省长|主任|局长|厅长|县长)([\u4e00-\u9fff]{2,3})(?=同志)")
_FULL_PUNCT = str.maketrans({"，": ",", "：": ":", "；": ";", "！": "!", "？": "?", "（": "(", "）": ")"})


def _edit_chars(paras: list[str], rate: float, rng: random.Random) -> list[str]:
    """Random substitutions, deletions and insertions of CJK characters."""
    pool = [c for p in paras for c in p if _CJK.match(c)] or list("的一是在")
    out = []
    for p in paras:
        chars = list(p)
        n = int(round(rate * len(chars)))
        for _ in range(n):
            if len(chars) < 4:
                break
            i = rng.randrange(1, len(chars) - 1)
            op = rng.random()
            if op < 0.5:
                chars[i] = rng.choice(pool)
            elif op < 0.75:
                del chars[i]
            else:
                chars.insert(i, rng.choice(pool))
        out.append("".join(chars))
    return out


def _mask_names(paras: list[str], rng: random.Random) -> list[str]:
    mask = rng.choice(_MASKS)
    out = []
    hits = 0
    for p in paras:
        def sub(m: re.Match[str]) -> str:
            nonlocal hits
            if rng.random() < 0.7:
                hits += 1
                return mask
            return m.group(0)

        p = _NAME_BEFORE_ROLE.sub(lambda m: sub(m) if m.group(1)[-1] not in "的市省县区全我在和了副" else m.group(0), p)
        p = _NAME_AFTER_ROLE.sub(sub, p)
        out.append(p)
    if hits == 0:  # no name found: mask a few place/name-like 2-char spans
        for _ in range(rng.randint(2, 5)):
            k = rng.randrange(len(out))
            m = list(re.finditer(r"[\u4e00-\u9fff]{2}(?=市|县|区|省)", out[k]))
            if m:
                mm = rng.choice(m)
                out[k] = out[k][: mm.start()] + mask + out[k][mm.end() :]
    return out


def make_variant(src: SourceArticle, rng: random.Random) -> tuple[list[str], list[str]]:
    """A near-duplicate copy of ``src``: (paragraphs, variant tags)."""
    paras = list(src.paragraphs)
    r = rng.random()
    tags: list[str]
    if r < 0.35:
        tags = ["exact"]
    elif r < 0.58:
        tags = ["edit"]
    elif r < 0.72:
        tags = ["mask"]
    elif r < 0.82:
        tags = ["drop"]
    elif r < 0.87:
        tags = ["truncate"]
    elif r < 0.95:
        tags = ["halfwidth"]
    else:
        tags = ["mask", "edit"]
    for t in tags:
        if t == "edit":
            paras = _edit_chars(paras, rng.uniform(0.005, 0.08), rng)
        elif t == "mask":
            paras = _mask_names(paras, rng)
        elif t == "drop" and len(paras) >= 3:
            for _ in range(rng.randint(1, max(1, len(paras) // 10))):
                if len(paras) >= 3:
                    del paras[rng.randrange(1, len(paras))]
        elif t == "truncate" and len(paras) >= 4:
            paras = paras[: max(2, int(len(paras) * rng.uniform(0.5, 0.85)))]
        elif t == "halfwidth":
            paras = [p.translate(_FULL_PUNCT) for p in paras]
    return paras, tags


# ---------------------------------------------------------------------------
# Building one file
# ---------------------------------------------------------------------------

# A piece of a line: (text, kind). kind None = content, "header" = marker,
# title, byline, date, "layout" = indentation, else a noise kind.
Piece = tuple[str, str | None]
_ZW = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
_MID = re.compile(r"(?<=[\u4e00-\u9fff])(?=[\u4e00-\u9fff])")


@dataclass
class _Line:
    pieces: list[Piece]
    article: int | None = None  # index of the article copy it belongs to
    content: bool = False  # a paragraph line


def _insert_inline(line: _Line, piece: Piece, rng: random.Random) -> bool:
    """Insert ``piece`` between two CJK characters of a content piece."""
    idx = [i for i, (t, k) in enumerate(line.pieces) if k is None and len(t) >= 12]
    if not idx:
        return False
    i = rng.choice(idx)
    text = line.pieces[i][0]
    spots = [m.start() for m in _MID.finditer(text, 3, len(text) - 3)]
    if not spots:
        return False
    p = rng.choice(spots)
    line.pieces[i : i + 1] = [(text[:p], None), piece, (text[p:], None)]
    return True


_S2TW: Any = None


def _s2tw(text: str) -> str:
    """OpenCC ``s2tw`` (Taiwan forms such as 為/著/群, which Big5 can encode)."""
    global _S2TW
    if _S2TW is None:
        import opencc

        _S2TW = opencc.OpenCC("s2tw")
    return _S2TW.convert(text) if text else text


def _gbk_mojibake(line: str) -> str | None:
    """``line`` as UTF-8 bytes read as GBK, or None if not exactly reversible."""
    raw = line.encode("utf-8")
    try:
        moji = raw.decode("gbk")
        if moji.encode("gbk") != raw or moji == line:
            return None
    except (UnicodeDecodeError, UnicodeEncodeError):
        return None
    return moji


def _latin1_mojibake(line: str) -> str:
    return line.encode("utf-8").decode("latin-1")


class _FileBuilder:
    """Builds one file's lines, then its text, offsets and gold."""

    def __init__(self, rng: random.Random, grammar: Grammar, script: str) -> None:
        self.rng = rng
        self.g = grammar
        self.script = script
        self.lines: list[_Line] = []
        self.articles: list[GoldArticle] = []
        self.file_noise_lines: list[int] = []

    def conv(self, s: str) -> str:
        if self.script == "traditional":
            return convert_script(s, "traditional")
        if self.script == "traditional-tw":
            return _s2tw(s)
        if self.script == "simplified":
            return convert_script(s, "simplified")
        return s

    def add(self, pieces: list[Piece], article: int | None = None, content: bool = False) -> _Line:
        line = _Line([(self.conv(t), k) for t, k in pieces], article, content)
        self.lines.append(line)
        return line

    def build(self, copies: list[tuple[SourceArticle, list[str], list[str]]]) -> None:
        r, g = self.rng, self.g
        n = len(copies)
        topic = copies[0][0].title if r.random() < 0.6 else g.pick(_TOPICS)
        if r.random() < 0.6:
            for s in g.preamble(topic, n if n > 1 else r.randint(3, 20)):
                self.add([(s, "preamble")])
        style = _MARKER_STYLES[r.randrange(len(_MARKER_STYLES))]
        kind = r.choice(style[1])
        indent = r.random() < 0.25
        art_tail_p = r.choice((0.0, 0.15, 0.4))
        artefact_p = 0.6 if r.random() < 0.15 else 0.0
        zw = r.random() < 0.2
        markup_p = r.choice((0.0, 0.0, 0.1, 0.3))
        footer_p = r.choice((0.0, 0.0, 0.05, 0.12))
        wm_p = r.choice((0.0, 0.02, 0.05, 0.1))
        pages = max(2, sum(len(p) for _, ps, _ in copies for p in ps) // 1500)
        page = 1
        for ai, (src, paras, tags) in enumerate(copies):
            title = src.title
            art = GoldArticle(src.id, ai, self.conv(title), [self.conv(p) for p in paras], tags, dict(src.meta))
            self.articles.append(art)
            if n > 1:
                tmpl, _, pos = style
                num = _numeral(ai + 1, kind)
                if pos == "inline":
                    head = tmpl.format(n=num, t=title)
                    # the title inside the marker line is header too
                    self.add([(head, "header")], ai)
                else:
                    self.add([(tmpl.format(n=num, t=""), "header")], ai)
                    self.add([(title, "header")], ai)
            else:
                self.add([(title, "header")], ai)
            if artefact_p and r.random() < artefact_p:
                self.lines[-1].pieces.append(("?" * r.choice((1, 1, 2)), "artefact"))
            if r.random() < 0.3:
                meta_lines = []
                if r.random() < 0.5:
                    nm = src.meta.get("author") or g.name()
                    meta_lines.append(nm if r.random() < 0.5 else f"{g.pick(_ROLES)} {nm}")
                if r.random() < 0.7:
                    y, mo, d = r.randint(2003, 2022), r.randint(1, 12), r.randint(1, 28)
                    meta_lines.append(g.pick((f"({y}年{mo}月{d}日)", f"{y}年{mo}月{d}日", f"{y}-{mo:02d}-{d:02d}")))
                for m in meta_lines:
                    self.add([(m, "header")], ai)
            if markup_p and r.random() < markup_p:
                self.add([(g.image_tag(), "markup")], ai)
            for pi, para in enumerate(art.paragraphs):
                pieces: list[Piece] = []
                if indent:
                    pieces.append(("\u3000\u3000", "layout"))
                if markup_p and r.random() < markup_p * 0.5:
                    pieces.append(("&nbsp;" * r.choice((1, 2, 4)), "markup"))
                pieces.append((para, None))
                line = _Line(pieces, ai, True)
                self.lines.append(line)
                if wm_p and r.random() < wm_p:
                    _insert_inline(line, (self.conv(g.watermark()), "watermark"), r)
                if zw and r.random() < 0.15:
                    for _ in range(r.randint(1, 3)):
                        _insert_inline(line, (r.choice(_ZW), "zero-width"), r)
                if zw and r.random() < 0.05:
                    _insert_inline(line, ("\ufffd", "replacement-char"), r)
                if markup_p and r.random() < markup_p * 0.2:
                    _insert_inline(line, (r.choice(("&nbsp;", "<br/>", "<br>")), "markup"), r)
                if artefact_p and r.random() < artefact_p:
                    line.pieces.append(("?" * r.choice((1, 1, 1, 2)), "artefact"))
                if footer_p and pi < len(art.paragraphs) - 1 and r.random() < footer_p:
                    page += 1
                    self.add([(g.page_footer(page, max(pages, page)), "page-number")], ai)
            if art_tail_p and r.random() < art_tail_p:
                for s in g.trailer(title, topic):
                    self.add([(s, "trailer")], ai)
        if r.random() < 0.5:
            for s in g.trailer(copies[-1][0].title, topic):
                self.add([(s, "trailer")])

    def apply_mojibake(self, mode: str | None) -> str | None:
        """Damage content lines (content-only pieces). Returns the mode used."""
        if mode is None:
            return None
        r = self.rng
        eligible: list[tuple[_Line, int]] = []
        for ln in self.lines:
            kinds = [k for _, k in ln.pieces]
            if ln.content and kinds.count(None) == 1 and all(k in (None, "layout") for k in kinds):
                eligible.append((ln, kinds.index(None)))

        def damage(ln: _Line, i: int, moji: str) -> None:
            ln.pieces[i] = (moji, "mojibake:" + ln.pieces[i][0])

        if mode == "gbk":
            cands = [(ln, i, m) for ln, i in eligible if (m := _gbk_mojibake(ln.pieces[i][0])) is not None]
            if not cands:
                mode = "latin1-line"
            else:
                chosen = cands if r.random() < 0.3 else r.sample(cands, min(len(cands), r.randint(1, 3)))
                for ln, i, m in chosen:
                    damage(ln, i, m)
                return mode
        if not eligible:
            return None
        chosen_l = r.sample(eligible, min(len(eligible), r.randint(1, 3))) if mode == "latin1-line" else eligible
        for ln, i in chosen_l:
            damage(ln, i, _latin1_mojibake(ln.pieces[i][0]))
        return mode

    def assemble(self, newline: str, blank: bool) -> tuple[str, list[NoiseSpan]]:
        """Join the lines; fill offsets of articles and noise spans."""
        out: list[str] = []
        pos = 0
        file_noise: list[NoiseSpan] = []
        sep = newline * (2 if blank else 1)
        for li, line in enumerate(self.lines):
            if li:
                out.append(sep)
                pos += len(sep)
            line_start = pos
            for text, kind in line.pieces:
                if kind not in (None, "header", "layout"):
                    repaired = None
                    k = kind
                    if kind.startswith("mojibake:"):
                        k, repaired = "mojibake", kind[len("mojibake:") :]
                    span = NoiseSpan(k, text, pos, pos + len(text), repaired)
                    if line.article is None:
                        file_noise.append(span)
                    else:
                        self.articles[line.article].noise.append(span)
                out.append(text)
                pos += len(text)
            if line.article is not None:
                art = self.articles[line.article]
                if art.start < 0:
                    art.start = line_start
                art.end = pos
        return "".join(out) + newline, file_noise


# ---------------------------------------------------------------------------
# Encodings
# ---------------------------------------------------------------------------


def _encode(text: str, encoding: str) -> bytes | None:
    """Bytes of ``text`` in ``encoding`` (our names), or None if not encodable."""
    try:
        if encoding == "utf-8":
            return text.encode("utf-8")
        if encoding == "utf-8-sig":
            return codecs.BOM_UTF8 + text.encode("utf-8")
        if encoding == "gb18030":
            return text.encode("gb18030")
        if encoding == "big5":
            return text.encode("big5")
        if encoding == "utf-16":
            return codecs.BOM_UTF16_LE + text.encode("utf-16-le")
        if encoding == "utf-16-be":
            return codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    except UnicodeEncodeError:
        return None
    raise ValueError(f"unknown encoding {encoding!r}")


def _pick_encoding(rng: random.Random, script: str, mojibake: str | None) -> str:
    if mojibake:
        return rng.choice(("utf-8", "utf-8", "utf-8-sig"))
    if script.startswith("traditional") and rng.random() < 0.6:
        return "big5"
    r = rng.random()
    if r < 0.5:
        return "utf-8"
    if r < 0.62:
        return "utf-8-sig"
    if r < 0.82:
        return "gb18030"
    if r < 0.95:
        return "utf-16"
    return "utf-16-be"


# ---------------------------------------------------------------------------
# The generator
# ---------------------------------------------------------------------------


def generate(
    seed: int = 1,
    n_docs: int = 200,
    scale: int = 1,
    pool: list[SourceArticle] | None = None,
    seed_dir: str | Path = SEED_DIR,
    max_articles: int = 4,
) -> Corpus:
    """Generate a corpus of ``n_docs`` files (times ``scale``), deterministically.

    Each file holds 1-``max_articles`` article copies, drawn so that every
    source article appears at least once when ``n_docs`` allows. With
    ``scale`` > 1 the corpus is ``scale`` independent rounds of ``n_docs``
    files over the same pool (for speed runs: more duplicates, same clusters).

    Mixture per file (approximate): 60% preamble, 50% file trailer; 15%
    traditional script (s2t) and simplified copies of traditional sources;
    11% mojibake (GBK lines where exactly reversible, else latin-1 lines or a
    whole file's content lines); encodings UTF-8 50%, UTF-8-BOM 12%, GB18030
    20%, UTF-16 LE/BE with BOM 18%, Big5 for half of the traditional files.
    """
    pool = list(pool) if pool is not None else load_pool(seed_dir)
    if not pool:
        raise ValueError("empty source pool")
    rng = random.Random(seed)
    grammar = Grammar(rng)
    files: list[GoldFile] = []
    total = n_docs * max(1, scale)
    order: list[SourceArticle] = []
    for i in range(total):
        k = rng.choice((1, 1, 2, 2, 3, 4)) if max_articles >= 4 else rng.randint(1, max_articles)
        copies: list[SourceArticle] = []
        for _ in range(k):
            if not order:
                order = list(pool)
                rng.shuffle(order)
            if copies and rng.random() < 0.08:
                copies.append(rng.choice(copies))  # a repeat inside one compilation
            else:
                copies.append(order.pop())
        rs = rng.random()
        script = "traditional" if rs < 0.08 else "traditional-tw" if rs < 0.15 else "original"
        if any(_looks_traditional(c) for c in copies) and rng.random() < 0.4:
            script = "simplified"
        variants = [(c, *make_variant(c, rng)) for c in copies]
        fb = _FileBuilder(rng, grammar, script)
        fb.build(variants)
        rm = rng.random()
        mode = None
        if rm < 0.06:
            mode = "gbk"
        elif rm < 0.10:
            mode = "latin1-line"
        elif rm < 0.11:
            mode = "latin1-file"
        mode = fb.apply_mojibake(mode)
        newline = "\r\n" if rng.random() < 0.1 else "\n"
        text, file_noise = fb.assemble(newline, blank=rng.random() < 0.2)
        enc = _pick_encoding(rng, script, mode)
        data = _encode(text, enc)
        if data is None:
            enc = "utf-8"
            data = _encode(text, enc)
        assert data is not None
        digest = hashlib.blake2b(f"{seed}:{i}".encode() + data[:256], digest_size=4).hexdigest()
        name = f"{i:04d}_{digest}.txt"
        files.append(GoldFile(name, enc, script, mode, "crlf" if newline == "\r\n" else "lf",
                              fb.articles, file_noise, text=text, data=data))
    return Corpus(seed, {s.id: s for s in pool}, files)


def _looks_traditional(src: SourceArticle) -> bool:
    sample = "".join(src.paragraphs)[:400]
    return convert_script(sample, "simplified") != sample and sum(
        a != b for a, b in zip(sample, convert_script(sample, "simplified"))
    ) > 10


def main(argv: Iterable[str] | None = None) -> int:
    """CLI: write a corpus folder and print a one-line summary."""
    ap = argparse.ArgumentParser(prog="python -m bench.synth", description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="output folder (files/ and gold.json are written there)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--docs", type=int, default=200, help="files per round")
    ap.add_argument("--scale", type=int, default=1, help="rounds of --docs files (for speed runs)")
    ap.add_argument("--seeds-dir", default=str(SEED_DIR))
    args = ap.parse_args(list(argv) if argv is not None else None)
    corpus = generate(args.seed, args.docs, args.scale, seed_dir=args.seeds_dir)
    corpus.write(args.out)
    n_art = sum(len(f.articles) for f in corpus.files)
    n_noise = sum(len(f.all_noise()) for f in corpus.files)
    print(f"{len(corpus.files)} files, {corpus.total_bytes / 2**20:.2f} MiB, {n_art} article copies of "
          f"{len(corpus.clusters)} clusters, {n_noise} noise spans -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
