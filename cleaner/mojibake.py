"""Detect and reverse mojibake, above all the Chinese kind: UTF-8 read as GBK.

When UTF-8 bytes of Chinese text are decoded as GBK/GB18030, each 3-byte
character turns into one and a half rare-looking hanzi (``刚才`` becomes
``鍒氭墠``, ``，`` becomes ``锛``). ftfy does not fix this, so we do: re-encode
the damaged run as GBK and decode it as strict UTF-8. Because clean Chinese
text also re-encodes as GBK, every repair is gated on a plausibility score:
the candidate must be made of *common* Chinese characters and be much more
plausible than the text it replaces.

>>> fix_gbk_mojibake("鍒氭墠")
'刚才'
>>> fix_gbk_mojibake("刚才") is None
True
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import ftfy
import ftfy.chardata
import numpy as np
from ftfy.badness import BADNESS_RE

from .normalize import _from_codes, _to_codes  # text <-> code points (UTF-32)
from .rules import _class_char  # a class character, ASCII punctuation escaped
from .tablecache import cached_codes, fingerprint

# The ~800 most frequent simplified hanzi (modern written Chinese, roughly in
# frequency order), then the traditional forms of those that differ (opencc
# s2t). Hardcoded rather than derived from our fixtures so the score is not
# tuned to the test data. In ordinary prose these cover ~80% of hanzi; in
# GBK-read UTF-8 they are rare, because UTF-8 lead bytes E4-E9 land in GB2312
# level 2 ("less common") rows.
TOP_SIMPLIFIED = (
    "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自之年过发后作里用道行所然家种事成方"
    "多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心她本前开但因只从想实日军者意无力它与长把机十民第公此已工使情"
    "明性知全三又关点正业外将两高间由问很最重并物手应战向头文体政美相见被利什二等产或新己制身果加西斯月话合回特代内信表化老给"
    "世位次度门任常先海通教儿原东声提立及比员解水名真论处走义各入几口认条平系气题活尔更别打女变四神总何电数安少报才结反受目太"
    "量再感建务做接必场件计管期市直德资命山金指克许统区保至队形社便空决治展马科司五基眼书非则听白却界达光放强即像难且权思王象"
    "完设式色路记南品住告类求据程北边死张该交规万取拉格望觉术领共确传师观清今切院让识候带导争运笑飞风步改收根干造言联持组每济"
    "车亲极林服快办议往元英士证近失转夫令准布始怎呢存未远叫台单影具罗字爱击流备兵连调深商算质团集百需价花党华城石级整府离况亚"
    "请技际约示复病息究线似官火断精满支视消越器容照须九增研写称企八功吗包片史委乎查轻易早曾除农找装广显吧阿李标谈吃图念六引历"
    "首医局突专费号尽另周较注语仅考落青随选列武红响虽推势参希古众构房半节土投某案黑维革划敌致陈律足态护七兴派孩验责营星够章音"
    "跟志底站严巴例防族供效续施留讲型料终答紧黄绝奇察母京段依批群项故按河米围江织害斗双境客纪采举杀攻父苏密低朝友诉止细愿千值"
    "仍男钱破网热助倒育属坐帝限船脸职速刻乐否刚威毛状率甚独球般普怕弹校苦创假久错承印晚兰试股拿脑预谁益阳若哪微尼继送急血惊伤"
    "素药适波夜省初喜卫源食险待述陆习置居劳财环排福纳欢雷警获模充负云停木游龙树疑层冷洲冲射略范竟句室异激汉村哈策演简卡罪判担"
    "州静退既衣您宗积余痛检差富灵协角占配征修皮挥胜降阶审沉坚善妈刘读啊超免压银买皇养伊怀执副乱抗犯追帮宣佛岁航优怪香著田铁控"
    "税左右份穿艺背阵草脚概恶块顿敢守酒岛托央"
)
TOP_TRADITIONAL = (
    "這個們來爲國說時會對於過發後裏種經麼學現當沒動還進樣開從實軍無與長機關點業將兩間問並應戰頭體見產話內給門兒東聲員論處義幾"
    "認條氣題爾別變總電數報結務場計資許統區隊決馬書則聽卻達強難權設記類據邊張該規萬覺術領確傳師觀讓識帶導爭運飛風乾聯組濟車親"
    "極辦議證轉準遠臺單羅愛擊備連調質團價黨華級離況亞請際約覆線斷滿視須寫稱嗎輕農裝廣顯標談喫圖歷醫專費號盡較語僅隨選紅響雖勢"
    "參衆構節維劃敵陳態護興驗責營夠嚴續講終緊黃絕羣項圍織鬥雙紀採舉殺蘇訴細願錢網熱屬臉職樂剛狀獨彈創錯蘭試腦預誰陽繼驚傷藥適"
    "衛險陸習勞財環納歡獲負雲龍樹層衝範異漢簡擔靜積餘檢靈協佔徵揮勝階審堅媽劉讀壓銀買養懷執亂幫歲優鐵稅藝陣腳惡塊頓島"
)
TOP_HANZI: frozenset[str] = frozenset(TOP_SIMPLIFIED + TOP_TRADITIONAL)

# Full-width punctuation of Chinese prose: plausible in any candidate.
CJK_PUNCTUATION: frozenset[str] = frozenset("，。、：；！？“”‘’《》〈〉（）【】「」『』…—·～　﹏％＋－")

# The literal mark of lost data: U+FFFD U+FFFD written as UTF-8 and read as GBK.
KUNJINKAO = "锟斤拷"


def _codec_block(codec: str, leads: range, trails: list[int]) -> frozenset[str]:
    """Every character a double-byte codec assigns to ``leads`` x ``trails``."""
    out: set[str] = set()
    for lead in leads:
        for trail in trails:
            try:
                out.add(bytes((lead, trail)).decode(codec))
            except UnicodeDecodeError:
                pass
    return frozenset(out)


# GB2312 level 1 (rows B0-D7: the 3755 common simplified hanzi) and Big5
# level 1 (A440-C67E: the 5401 common traditional hanzi). Both standards sort
# their first level by frequency of use, so membership is a cheap, data-free
# "is this a common character" test for either script.
COMMON_HANZI: frozenset[str] = (
    _codec_block("gb2312", range(0xB0, 0xD8), list(range(0xA1, 0xFF)))
    | _codec_block("big5", range(0xA4, 0xC7), list(range(0x40, 0x7F)) + list(range(0xA1, 0xFF)))
    | TOP_HANZI
)


def is_cjk(ch: str) -> bool:
    """True for a CJK unified ideograph (BMP blocks and extension A).

    >>> is_cjk("中"), is_cjk("a")
    (True, False)
    """
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"


def plausibility(text: str) -> float:
    """Score in [0, 1]: how much ``text`` looks like ordinary Chinese prose.

    Averages over non-ASCII, non-space characters: a top-frequency hanzi or
    Chinese punctuation scores 1, another common hanzi 0.5, anything else
    (rare hanzi, kana, Greek, private use, U+FFFD) 0. Returns 0.0 when there
    is nothing to score.

    >>> plausibility("我们的工作") > 0.9, plausibility("鍒氭墠銆") < 0.3
    (True, True)
    """
    total = 0
    score = 0.0
    for ch in text:
        if ch < "\x80" or ch.isspace():
            continue
        total += 1
        if ch in TOP_HANZI or ch in CJK_PUNCTUATION:
            score += 1.0
        elif ch in COMMON_HANZI:
            score += 0.5
    return score / total if total else 0.0


def _cjk_share(text: str) -> tuple[int, float]:
    """(number of non-ASCII chars, share of them that are hanzi or CJK punctuation)."""
    n = 0
    cjk = 0
    for ch in text:
        if ch < "\x80" or ch.isspace():
            continue
        n += 1
        if is_cjk(ch) or ch in CJK_PUNCTUATION:
            cjk += 1
    return n, (cjk / n if n else 0.0)


def _gbk_pair(ch: str) -> bytes | None:
    """The two GBK bytes a character was decoded from, or None if it is not
    a double-byte GBK character (so it cannot be part of GBK-read mojibake)."""
    if ch < "\x80" or ch == "\ufffd":
        return None
    try:
        b = ch.encode("gbk")
    except UnicodeEncodeError:
        try:  # gb18030 maps GBK's user-defined area to the private use area
            b = ch.encode("gb18030")
        except UnicodeEncodeError:  # lone surrogates
            return None
    return b if len(b) == 2 else None


# Bytes that are never part of valid UTF-8.
_NOT_UTF8_BYTES = frozenset([0xC0, 0xC1, *range(0xF5, 0x100)])


@functools.cache
def gbk_mojibake_chars() -> str:
    """Regex character-class body of the non-ASCII characters that can occur
    in UTF-8 text read as GBK: U+FFFD, and each character whose
    :func:`_gbk_pair` is two bytes that may occur in UTF-8.

    A line holding any other non-ASCII character is not such mojibake (unless
    it contains ``锟斤拷``): :func:`_line_bytes` rejects it, or one of its bytes
    can never be UTF-8 and :func:`_utf8_with_losses` rejects it. Most hanzi
    of clean text are outside this set, so most lines are ruled out at
    their first few characters. Built by encoding every BMP character in
    two bulk calls (~15 ms) instead of one call per character, and kept on
    disk between runs (:mod:`cleaner.tablecache`) as the class itself:
    writing 3,371 code points as ranges took another 4-5 ms per process.

    >>> import re
    >>> c = re.compile("[" + gbk_mojibake_chars() + "]")
    >>> [bool(c.match(ch)) for ch in "鍒\ufffd国了a"]  # 国 is B9 FA, 了 C1 CB in GBK
    [True, True, False, False, False]
    """
    # Python's codecs decide the set: kept on disk per Python version, as the
    # class body's code points (it holds no surrogate: UTF-32 takes it whole).
    key = fingerprint([Path(__file__)], [sys.version])
    body = cached_codes("gbk-mojibake-class", key, lambda: _to_codes(_char_class(_gbk_mojibake_codes().tolist())))
    assert body is not None
    return _from_codes(body)


def _gbk_mojibake_codes() -> np.ndarray:
    cps = np.arange(0x80, 0x10000, dtype=np.uint32)
    cps = cps[((cps < 0xD800) | (cps >= 0xE000)) & (cps != 0xFFFD)]
    # A GBK or GB18030 code never contains byte 0x0A, so "\n" splits the
    # bulk encodings back into one encoding per character; numpy then finds
    # the two-byte codes and checks their bytes, no Python step per character.
    first, second, length = _bulk_encode(cps, "gbk")
    failed = (length == 1) & (first == ord("?"))  # only "?" itself encodes to "?"
    first[failed], second[failed], length[failed] = _bulk_encode(cps[failed], "gb18030")
    bad = np.zeros(256, dtype=bool)
    bad[list(_NOT_UTF8_BYTES)] = True
    ok = (length == 2) & ~bad[first] & ~bad[second]
    return np.r_[0xFFFD, cps[ok]].astype(np.int32)


def _bulk_encode(cps: np.ndarray, codec: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each code point: the first two bytes of its encoding (0 past the
    end) and the encoding's length, from one bulk ``encode`` (errors
    replaced) of the characters joined by newlines."""
    joined = np.full(2 * len(cps), 0x0A, dtype=np.uint32)
    joined[0::2] = cps
    data = np.frombuffer(joined.tobytes().decode("utf-32-le").encode(codec, errors="replace"), dtype=np.uint8)
    ends = np.flatnonzero(data == 0x0A)
    starts = np.r_[0, ends[:-1] + 1]
    length = ends - starts
    pad = np.r_[data, 0, 0]
    first = np.where(length > 0, pad[starts], 0).astype(np.uint8)
    second = np.where(length > 1, pad[starts + 1], 0).astype(np.uint8)
    return first, second, length


def _is_cont(byte: int) -> bool:
    return 0x80 <= byte <= 0xBF


@dataclass(frozen=True, slots=True)
class GbkRepair:
    """Result of analysing one line for UTF-8-read-as-GBK mojibake.

    ``text`` is the repaired line (equal to the input when nothing was
    repaired); ``lost`` counts characters whose bytes were destroyed by the
    wrong decoding (U+FFFD or ``锟斤拷`` left in place); ``complete`` is True
    when every mojibake run was reversed exactly.
    """

    text: str
    repaired: bool
    complete: bool
    lost: int
    kunjinkao: int


_LOST = -1  # a byte the GBK decoder replaced with U+FFFD


def _line_bytes(line: str) -> list[int | str] | None:
    """The byte stream a GBK decoder turned into ``line``.

    ASCII characters are their own byte, double-byte GBK characters their two
    bytes, each U+FFFD one lost byte (Python's GBK decoder replaces exactly
    one byte per error), and each aligned ``锟斤拷`` is kept as an opaque
    string. Returns None if the line holds a character a GBK decoder cannot
    have produced (so it is not, or not only, GBK-read mojibake).
    """
    out: list[int | str] = []
    i = 0
    n = len(line)
    while i < n:
        if line.startswith(KUNJINKAO, i):
            out.append(KUNJINKAO)
            i += 3
            continue
        ch = line[i]
        if ch < "\x80":
            out.append(ord(ch))
        elif ch == "\ufffd":
            out.append(_LOST)
        else:
            pair = _gbk_pair(ch)
            if pair is None:
                return None
            out.extend(pair)
        i += 1
    return out


def _utf8_with_losses(stream: list[int | str]) -> tuple[str, int] | None:
    """Decode a byte stream with lost bytes as UTF-8: (text, characters lost).

    A character with any lost byte becomes one U+FFFD. Returns None when a
    known byte breaks UTF-8 structure: then the line was not UTF-8 to begin
    with (clean GBK-encodable Chinese lands here almost always).
    """
    out: list[str] = []
    lost = 0
    i = 0
    n = len(stream)
    while i < n:
        b = stream[i]
        if isinstance(b, str):  # 锟斤拷, at a character boundary
            out.append(b)
            i += 1
            continue
        if 0 <= b < 0x80:
            out.append(chr(b))
            i += 1
            continue
        if b == _LOST:
            # A lost lead byte (or a lone lost byte): swallow the continuation
            # bytes that belonged to it.
            j = i + 1
            while j < n and j - i <= 3 and isinstance(stream[j], int) and (
                stream[j] == _LOST or _is_cont(stream[j])  # type: ignore[arg-type]
            ):
                j += 1
            out.append("\ufffd")
            lost += 1
            i = j
            continue
        if 0xC2 <= b <= 0xDF:
            need = 2
        elif 0xE0 <= b <= 0xEF:
            need = 3
        elif 0xF0 <= b <= 0xF4:
            need = 4
        else:
            return None  # a continuation byte where a character must start
        chunk = stream[i:i + need]
        if len(chunk) < need:
            return None
        if any(isinstance(x, str) or (x != _LOST and not _is_cont(x)) for x in chunk[1:]):
            return None
        if _LOST in chunk:
            out.append("\ufffd")
            lost += 1
        else:
            try:
                out.append(bytes(chunk).decode("utf-8"))  # type: ignore[arg-type]
            except UnicodeDecodeError:  # overlong forms, surrogates
                return None
        i += need
    return "".join(out), lost


def _non_ascii(text: str) -> str:
    return "".join(ch for ch in text.replace(KUNJINKAO, "") if ch >= "\x80" and ch != "\ufffd")


def _gbk_bytes_cannot_be_utf8(line: str) -> bool:
    """True when ``line`` provably is not GBK-read UTF-8 (a C-speed check).

    Only for lines without U+FFFD and ``锟斤拷``: then, if the line encodes as
    GBK at all, the byte stream :func:`_line_bytes` would build is exactly
    ``line.encode("gbk")`` (or it is None because a character encodes to one
    byte), and :func:`_utf8_with_losses` accepts it only if it is valid UTF-8.
    Clean Chinese almost never is, so this skips the plausibility scoring.

    >>> _gbk_bytes_cannot_be_utf8("我们都听到了"), _gbk_bytes_cannot_be_utf8("鎴戜滑")
    (True, False)
    """
    try:
        data = line.encode("gbk")
    except UnicodeEncodeError:
        return False  # gb18030-only characters: let the full analysis decide
    # Valid UTF-8 survives decoding with errors="ignore" byte for byte;
    # anything invalid loses bytes. (Cheaper than raising an exception.)
    return len(data.decode("utf-8", "ignore").encode("utf-8")) != len(data)


@functools.lru_cache(maxsize=4096)
def analyse_gbk_mojibake(line: str) -> GbkRepair | None:
    """Analyse ``line`` for UTF-8 text that was decoded as GBK.

    Returns None when the line does not look like that kind of mojibake (the
    usual case, and always for clean Chinese text); otherwise a
    :class:`GbkRepair` whose ``text`` is the line re-decoded as UTF-8, with
    one U+FFFD per character whose bytes were lost and ``锟斤拷`` kept.

    >>> r = analyse_gbk_mojibake("鍒氭墠璇寸殑锟斤拷")
    >>> r.text, r.complete
    ('刚才说的锟斤拷', False)
    """
    if line.isascii():
        return None
    if KUNJINKAO not in line:
        # Two C-speed rejections with the same answer as the analysis below
        # (None), without its scoring: a character no GBK-read UTF-8 holds
        # (see gbk_mojibake_chars), or GBK bytes that are not UTF-8.
        if _gbk_text_re().fullmatch(line) is None:
            return None
        if "\ufffd" not in line and _gbk_bytes_cannot_be_utf8(line):
            return None
    return _analyse_gbk_mojibake_reference(line)


@functools.cache
def _gbk_text_re() -> re.Pattern[str]:
    """Texts made of ASCII and :func:`gbk_mojibake_chars` only."""
    return re.compile("[\x00-\x7f" + gbk_mojibake_chars() + "]*+")


def _analyse_gbk_mojibake_reference(line: str) -> GbkRepair | None:
    """:func:`analyse_gbk_mojibake` without its fast rejection (the original
    algorithm; kept as the reference the fast path is tested against)."""
    if line.isascii():
        return None
    kjk = line.count(KUNJINKAO)
    # Cheap gate: a line of ordinary Chinese is far above this.
    if not kjk and plausibility(line) >= 0.8:
        return None
    flagged = GbkRepair(line, False, False, 0, kjk) if kjk else None
    stream = _line_bytes(line)
    if stream is None:
        return flagged
    decoded = _utf8_with_losses(stream)
    if decoded is None:
        return flagged
    text, lost = decoded
    orig = _non_ascii(line)
    cand = _non_ascii(text)
    n_cand, cjk_share = _cjk_share(cand)
    cand_score = plausibility(cand)
    orig_score = plausibility(orig)
    complete = not (lost or kjk)
    # The gate. Clean Chinese re-encoded as GBK almost never forms valid
    # UTF-8, and when a short line does by chance it yields Latin/Cyrillic
    # letters or rare hanzi, not common Chinese: demand common Chinese and a
    # clear gain over the input.
    if n_cand >= 2 and cjk_share >= 0.8 and cand_score >= 0.6 and cand_score >= orig_score + 0.3:
        return GbkRepair(text, True, complete, lost, kjk)
    if n_cand < 2 and lost >= 2 and orig_score < 0.6 and len(orig) <= 2 * lost:
        # Every character lost a byte ("(2005骞\ufffd5鏈\ufffd18鏃\ufffd)"):
        # nothing to restore, but the fragments are garbage; keep one U+FFFD
        # per lost character instead.
        return GbkRepair(text, True, False, lost, kjk)
    return flagged


def looks_like_gbk_mojibake(line: str) -> bool:
    """True if ``line`` looks like UTF-8 text decoded as GBK (repairable or not).

    >>> looks_like_gbk_mojibake("鍒氭墠璇寸殑"), looks_like_gbk_mojibake("刚才说的")
    (True, False)
    """
    return analyse_gbk_mojibake(line) is not None


def fix_gbk_mojibake(line: str) -> str | None:
    """Reverse UTF-8-read-as-GBK mojibake in ``line`` exactly.

    Returns the repaired line, or None when the line is not such mojibake or
    cannot be fully reversed (bytes lost: U+FFFD, ``锟斤拷``).

    >>> fix_gbk_mojibake("鎴戜滑閮藉惉鍒颁簡")
    '我们都听到了'
    >>> fix_gbk_mojibake("浠婂ぉ澶╂皵寰堝ソ銆\ufffd") is None  # last byte lost
    True
    """
    r = analyse_gbk_mojibake(line)
    if r is None or not r.repaired or not r.complete:
        return None
    return r.text


def repair_gbk_mojibake(line: str) -> str:
    """Best-effort repair: every reversible run fixed, lost bytes left as-is.

    Returns ``line`` unchanged when it is not GBK-read mojibake.

    >>> repair_gbk_mojibake("鍒氭墠銆\ufffd,涓栫晫")
    '刚才\ufffd,世界'
    """
    r = analyse_gbk_mojibake(line)
    return r.text if r is not None and r.repaired else line


# --- UTF-8 read as Latin-1 / Windows-1252 ------------------------------------

# ftfy, made safe for Chinese: it must repair encodings only. No width folding
# (full-width ，：（） are the source's own characters), no quote uncurling
# (“” are correct Chinese quotes), no ligature or HTML-entity changes, no line
# break changes (we do those, with offsets), and no normalisation here (our
# own NFC step runs separately and never NFKC).
FTFY_CONFIG = ftfy.TextFixerConfig(
    unescape_html=False,
    fix_latin_ligatures=False,
    fix_character_width=False,
    uncurl_quotes=False,
    fix_line_breaks=False,
    # A lone C1 control is not proof of mojibake (see _c1_only below).
    fix_c1_controls=False,
    normalization=None,
    explain=True,
)


# --- proof that ftfy leaves a line alone, at C speed ---------------------------
#
# With FTFY_CONFIG, ftfy.fix_and_explain can change a line in only four
# ways: fix_encoding (only if ftfy.badness.is_bad finds a match of
# BADNESS_RE), fix_surrogates (needs a surrogate), remove_terminal_escapes
# (needs ESC) and remove_control_chars (needs a key of CONTROL_CHARS). Every
# alternative of BADNESS_RE must match at least one character of a set we
# derive from the regex itself below, so a line without any of those
# characters, surrogates or control characters is returned unchanged. Deriving
# the set from ftfy's own pattern (instead of copying it) keeps the proof true
# for another ftfy version; where the derivation does not apply, the gate is
# off and ftfy runs on every line as before.

# How common characters that occur in BADNESS_RE are in clean Chinese text
# (quotes, dashes and ellipses in nearly every article, some symbols now and
# then). They only make a match next to rarer characters, so the derivation
# picks a rarer item of each alternative as its witness. (A preference only:
# the result is a true necessary condition whatever this table holds.)
_COMMON_IN_CHINESE: dict[str, int] = {
    **dict.fromkeys("“”‘’—…·", 1000),
    **dict.fromkeys("×°±•№≤≥²³€¥£§©®™", 1),
}

# Expected FTFY_CONFIG for which the gate's reasoning above holds.
_GATE_CONFIG = ftfy.TextFixerConfig(
    unescape_html=False, fix_latin_ligatures=False, fix_character_width=False,
    uncurl_quotes=False, fix_line_breaks=False, fix_c1_controls=False,
    normalization=None, explain=True,
)


def _char_class(codes: Iterable[int]) -> str:
    """A regex character-class body for the code points ``codes`` (as ranges).

    Characters are written as themselves, ASCII punctuation escaped: the
    regex parser reads an escape several times slower than a character, and
    the GBK mojibake class has 1,459 ranges (compiling it took 12 ms).

    >>> _char_class(map(ord, "abcx-]"))
    '\\\\-\\\\]a-cx'
    """
    out: list[str] = []
    run: list[int] = []

    def flush() -> None:
        lo, hi = run
        out.append(_class_char(lo) if lo == hi else f"{_class_char(lo)}{'-' if hi > lo + 1 else ''}{_class_char(hi)}")

    for c in sorted(set(codes)):
        if run and c == run[1] + 1:
            run[1] = c
            continue
        if run:
            flush()
        run = [c, c]
    if run:
        flush()
    return "".join(out)


def _regex_witness(pattern: re.Pattern[str], avoid: dict[str, int]) -> tuple[frozenset[str], int] | None:
    """(W, width): every match of ``pattern`` contains a character of W and is
    at most ``width`` characters long; None if that cannot be shown.

    Works on the parsed pattern: a sequence's witness is the witness of one of
    its required items (a literal or a plain character class without ASCII;
    the one least common by ``avoid``, a weight per character), an
    alternation's is the union over its branches. Only patterns without
    lookarounds, back references or case folding qualify, so a match found in
    a window around a witness character is a match in the whole text.

    >>> w, width = _regex_witness(re.compile("a[éè]|xö{1,3}"), {})
    >>> sorted(w), width
    (['è', 'é', 'ö'], 4)
    >>> _regex_witness(re.compile("xö+"), {}) is None  # unbounded
    True
    """
    try:
        from re import _constants as C  # type: ignore[attr-defined]
        from re import _parser as P  # type: ignore[attr-defined]

        parsed = P.parse(pattern.pattern, pattern.flags)
    except (ImportError, AttributeError, re.error):  # pragma: no cover - other sre internals
        return None
    if pattern.flags & re.IGNORECASE:
        return None
    plain = {C.LITERAL, C.IN, C.ANY, C.BRANCH, C.SUBPATTERN, C.MAX_REPEAT, C.MIN_REPEAT}
    anchors = {C.AT_BEGINNING, C.AT_BEGINNING_STRING}

    def charset(op: object, av: object) -> set[str] | None:
        if op is C.LITERAL:
            return {chr(av)}  # type: ignore[arg-type]
        if op is C.IN:
            chars: set[str] = set()
            for o, a in av:  # type: ignore[union-attr]
                if o is C.LITERAL:
                    chars.add(chr(a))
                elif o is C.RANGE:
                    chars.update(map(chr, range(a[0], a[1] + 1)))
                else:  # NEGATE, CATEGORY (\s, \w): not a finite, plain set
                    return None
            return chars
        return None

    def ok(seq: object) -> bool:  # only operators whose matches we can reason about
        for op, av in seq.data:  # type: ignore[attr-defined]
            if op is C.AT:
                fine = av in anchors
            elif op is C.BRANCH:
                fine = all(ok(b) for b in av[1])
            elif op is C.SUBPATTERN:
                fine = not av[1] and not av[2] and ok(av[-1])  # no inline flags
            elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
                fine = ok(av[2])
            else:
                fine = op in plain
            if not fine:
                return False
        return True

    def witness(seq: object) -> set[str] | None:
        best: tuple[tuple[int, int], set[str]] | None = None
        for op, av in seq.data:  # type: ignore[attr-defined]
            if op in (C.MAX_REPEAT, C.MIN_REPEAT):
                cand = witness(av[2]) if av[0] >= 1 else None
            elif op is C.SUBPATTERN:
                cand = witness(av[-1])
            elif op is C.BRANCH:
                subs = [witness(b) for b in av[1]]
                cand = None if any(x is None for x in subs) else set().union(*subs)  # type: ignore[arg-type]
            else:
                cand = charset(op, av)
            if not cand or any(ch < "\x80" for ch in cand):
                continue  # ASCII witnesses would make a useless gate
            key = (sum(avoid.get(ch, 0) for ch in cand), len(cand))  # rarest first
            if best is None or key < best[0]:
                best = (key, cand)
        return None if best is None else best[1]

    if not ok(parsed):
        return None
    found = witness(parsed)
    _, hi = parsed.getwidth()
    if found is None or hi >= 1000:
        return None
    return frozenset(found), hi


def _ftfy_gate() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str], int] | None:
    """(trigger, badness-witness, control, width) regexes for the fast ftfy path,
    or None when FTFY_CONFIG or ftfy's internals are not what the proof assumes."""
    if FTFY_CONFIG != _GATE_CONFIG:
        return None
    control = ftfy.chardata.CONTROL_CHARS
    if any(v is not None for v in control.values()):
        return None  # the deletion-only argument below would not hold
    found = _regex_witness(BADNESS_RE, _COMMON_IN_CHINESE)
    if found is None:
        return None
    witness, width = found
    hard = [0x1B, *range(0xD800, 0xE000)]  # terminal escapes, surrogates
    trigger = re.compile("[" + _char_class([*map(ord, witness), *control, *hard]) + "]")
    bad = re.compile("[" + _char_class(map(ord, witness)) + "]")
    ctrl = re.compile("[" + _char_class([*control, *hard]) + "]")
    return trigger, bad, ctrl, width


_GATE = _ftfy_gate()
_TRIGGER_CHARS = None if _GATE is None else _GATE[0].pattern[1:-1]
_HARD_RE = re.compile("[\x1b\ud800-\udfff]")
# ftfy's single step of encoding repair; private, so only used if present.
_ONE_STEP = getattr(ftfy, "_fix_encoding_one_step_and_explain", None)
_REMOVE_CONTROL = (("apply", "remove_control_chars"),)


def ftfy_trigger_pattern() -> re.Pattern[str] | None:
    """One character class: a text without a match is returned unchanged by
    ftfy with FTFY_CONFIG (see above). None when that cannot be shown (then
    every text might change).

    >>> p = ftfy_trigger_pattern()
    >>> p.search("“你好”，世界……") is None, p.search("cafÃ©") is not None
    (True, True)
    """
    return None if _GATE is None else _GATE[0]


def ftfy_trigger_chars() -> str | None:
    """The body of :func:`ftfy_trigger_pattern`'s character class, to build
    larger classes from (None: every text might change).

    >>> re.fullmatch("[" + ftfy_trigger_chars() + "]", "Ã") is not None
    True
    """
    return _TRIGGER_CHARS


def is_bad(text: str) -> bool:
    """Exactly ``ftfy.badness.is_bad(text)``, scanning only around the rare
    characters every BADNESS_RE match must contain.

    >>> is_bad("“你好”……"), is_bad("cafÃ©"), is_bad("×2")
    (False, True, False)
    """
    if _GATE is None:
        return ftfy.badness.is_bad(text)
    _, witness_re, _, width = _GATE
    n = len(text)
    search = BADNESS_RE.search
    # A match holding the witness at p lies in [p - width + 1, p + width).
    # BADNESS_RE has no lookarounds or end anchors, so a match found in such
    # a window is a match in the text. Windows are searched left to right;
    # ``done`` is where the searched stretch ends: a later window only needs
    # searching from ``done - width + 1`` (a match ending beyond ``done``
    # starts there at the earliest), and not at all if it ends by ``done``.
    done = -1
    for m in witness_re.finditer(text):
        p = m.start()
        hi = min(p + width, n)
        if hi <= done:
            continue
        lo = max(p - width + 1, done - width + 1, 0)
        if search(text, lo, hi) is not None:
            return True
        done = hi
    return False


def _ftfy_fix_fast(line: str) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    """ftfy_fix for the common cases, or None to run ftfy itself.

    Mirrors ftfy.fix_and_explain step by step: nothing to do; only control
    characters to delete (remove_control_chars is a plain str.translate); or
    one encoding step after which nothing is left for ftfy to find (it would
    then run is_bad over the repaired line twice more just to find nothing).
    """
    assert _GATE is not None
    trigger, _, ctrl, _ = _GATE
    if trigger.search(line) is None:
        return line, ()
    c = ctrl.search(line)  # control characters, ESC and surrogates
    if c is not None and _HARD_RE.search(line, c.start()):
        return None
    has_ctrl = c is not None
    bad = is_bad(line)
    if not bad:
        if not has_ctrl:
            return line, ()
        # fix_encoding is a no-op (not bad); the other fixers have nothing to
        # do; remove_control_chars deletes. That can join two characters
        # into mojibake ftfy's second pass then fixes ("‚Ä®\x7f¬Ö"): if so,
        # let ftfy itself answer.
        deleted = line.translate(ftfy.chardata.CONTROL_CHARS)
        return None if is_bad(deleted) else (deleted, _REMOVE_CONTROL)
    if has_ctrl or _ONE_STEP is None:
        return None
    fixed, steps = _ONE_STEP(line, FTFY_CONFIG)
    plan = tuple((s.action, s.parameter) for s in steps or ())
    if fixed == line:
        # ftfy stops here too; a plan without a change never happens, but if
        # it did ftfy would report it, so let ftfy itself answer.
        return (line, ()) if not plan else None
    if is_bad(fixed) or ctrl.search(fixed):
        return None  # more for ftfy to do
    return fixed, plan


def clear_line_caches() -> None:
    """Forget the per-line answers kept by :func:`ftfy_fix` and
    :func:`analyse_gbk_mojibake` (up to 4,096 lines each, with their
    repairs: 10-15 MiB on mojibake-heavy input).

    They speed up repairing copies of the same lines; a run calls this once
    its repairing is done, so that the memory is not held (and shared with
    the processes it forks) through clustering and merging.

    >>> _ = ftfy_fix("cafÃ©"); clear_line_caches(); ftfy_fix.cache_info().currsize
    0
    """
    ftfy_fix.cache_clear()
    analyse_gbk_mojibake.cache_clear()


@functools.lru_cache(maxsize=4096)
def ftfy_fix(line: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Run ftfy (CJK-safe config) on one line: (fixed text, ftfy's steps).

    Same result as :func:`ftfy_fix_reference`, but lines ftfy provably leaves
    alone (nearly all) cost one regex scan instead of ftfy's passes.

    >>> ftfy_fix("å\\x88\\x9aæ\\x89\\x8d")[0]
    '刚才'
    >>> ftfy_fix("“你好”，世界")[0]
    '“你好”，世界'
    """
    if _GATE is not None:
        fast = _ftfy_fix_fast(line)
        if fast is not None:
            fixed, steps = fast
            if fixed != line and _c1_only(line, fixed):
                return line, ()
            return fixed, steps
    return ftfy_fix_reference(line)


def ftfy_fix_reference(line: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """:func:`ftfy_fix` by running ftfy itself on the line (the original code).

    >>> ftfy_fix_reference("cafÃ©")
    ('café', (('encode', 'latin-1'), ('decode', 'utf-8')))
    """
    fixed, steps = ftfy.fix_and_explain(line, FTFY_CONFIG)
    if fixed != line and _c1_only(line, fixed):
        return line, ()
    return fixed, tuple((s.action, s.parameter) for s in (steps or ()))


# C1 control -> its cp1252 character; the five bytes cp1252 leaves undefined
# stay as they are.
_C1_TABLE = {c: bytes((c,)).decode("cp1252", errors="ignore") or chr(c) for c in range(0x80, 0xA0)}


def _c1_to_cp1252(text: str) -> str:
    return text.translate(_C1_TABLE)


def _c1_only(before: str, after: str) -> bool:
    """True when ftfy's only change was reading C1 controls as cp1252
    (``parlé\\x85`` -> ``parlé…``). Our decoder already prefers cp1252 to
    latin-1 for legacy bytes, so a C1 control that survives decoding is
    not evidence enough to rewrite text that is otherwise clean."""
    return len(before) == len(after) and _c1_to_cp1252(before) == after


def fix_latin1_mojibake(line: str) -> str | None:
    """Reverse UTF-8-read-as-Latin-1/cp1252 mojibake via ftfy; None if no change.

    >>> fix_latin1_mojibake("è¿™æ˜¯ä¸€ä¸ªæµ‹è¯•")
    '这是一个测试'
    >>> fix_latin1_mojibake("这是一个测试") is None
    True
    """
    fixed, _ = ftfy_fix(line)
    return fixed if fixed != line else None
