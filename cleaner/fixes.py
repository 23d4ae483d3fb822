"""Text repair: small pure ``str -> str`` fixers applied line by line, with offsets.

Every fixer is registered by name in :data:`FIXERS` and runs on one line's
body (the text between line ends), so a damaged line is repaired without
touching its clean neighbours and each change stays local. Every change is
recorded as an :class:`~cleaner.types.Edit`; the resulting
:class:`~cleaner.types.OffsetMap` maps positions in the repaired text back to
the input text, which is what provenance offsets are measured in.

>>> r = repair_text("ok\\r\\n鎴戜滑閮藉惉鍒颁簡\\n")
>>> r.text
'ok\\n我们都听到了\\n'
>>> [x.kind for x in r.repairs]
['mojibake', 'newline']
>>> r.offsets.span_to_source(3, 9)   # the repaired line maps to the damaged one
(4, 13)
"""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import ftfy.bad_codecs  # noqa: F401  registers sloppy-windows-1252
import numpy as np

from .config import RepairConfig
from .mojibake import (
    KUNJINKAO,
    GbkRepair,
    _analyse_gbk_mojibake_reference,
    _gbk_bytes_cannot_be_utf8,
    analyse_gbk_mojibake,
    ftfy_fix,
    ftfy_fix_reference,
    ftfy_trigger_chars,
    ftfy_trigger_pattern,
    gbk_mojibake_chars,
    repair_gbk_mojibake,
)
from .types import IDENTITY_MAP, Edit, OffsetMap, Problem, Repair

# One line with its terminator; the last line may have none. Only \n and \r
# end lines: U+0085 (NEL) must not, it is what cp1252 mojibake makes of "…".
_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")

# CJK compatibility ideographs: NFC maps them to unified ideographs, which
# would silently change a character the source chose; we leave them alone.
_COMPAT_IDEOGRAPHS = re.compile(r"([\uf900-\ufaff\U0002f800-\U0002fa1f]+)")


@dataclass(frozen=True)
class RepairResult:
    """What :func:`repair_text` did.

    ``offsets`` maps positions in ``text`` back to the input; ``repairs``
    carry ``start``/``end`` offsets into the input.
    """

    text: str
    offsets: OffsetMap
    repairs: tuple[Repair, ...]
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class Fixer:
    """A named, pure line fixer.

    ``func`` maps a line body to its repaired form (returning the same string
    when there is nothing to do). ``describe`` gives the repair's detail text;
    ``diagnose`` reports a problem the fixer saw but could not (fully) fix.
    """

    name: str
    kind: str
    func: Callable[[str], str]
    enabled: Callable[[RepairConfig], bool]
    describe: Callable[[str, str], str] | None = None
    diagnose: Callable[[str, str], str | None] | None = None

    def detail(self, before: str, after: str) -> str:
        return self.describe(before, after) if self.describe else self.name


FIXERS: list[Fixer] = []


def register(fixer: Fixer) -> Fixer:
    """Add ``fixer`` to the registry (fixers run in registration order)."""
    FIXERS.append(fixer)
    return fixer


# --- the fixers ---------------------------------------------------------------


def fix_ftfy(line: str) -> str:
    """ftfy with the CJK-safe config: Latin-1/cp1252 mojibake, C1 controls,
    terminal escapes, surrogates; never width, quotes or NFKC.

    >>> fix_ftfy("åˆšæ‰\\x8dè¯´"), fix_ftfy("《你好》：“世界”，ＡＢＣ")
    ('刚才说', '《你好》：“世界”，ＡＢＣ')
    """
    if line.isascii() and line.isprintable():
        return line  # nothing ftfy (with HTML unescaping off) would change
    return ftfy_fix(line)[0]


def _describe_ftfy(before: str, after: str) -> str:
    return _describe_steps(ftfy_fix(before)[1])


def _describe_steps(steps: tuple[tuple[str, str], ...]) -> str:
    """What ftfy's steps did, for a repair's ``detail``.

    >>> _describe_steps((("encode", "latin-1"), ("decode", "utf-8"))), _describe_steps(())
    ('utf-8 read as latin-1', 'ftfy')
    """
    enc = [p for a, p in steps if a == "encode"]
    dec = [p for a, p in steps if a == "decode"]
    if enc and dec:
        return f"{dec[-1]} read as {enc[0]}"
    return "ftfy: " + ", ".join(p for _, p in steps) if steps else "ftfy"


def fix_gbk(line: str) -> str:
    """UTF-8 read as GBK, reversed where the bytes survive (see mojibake.py).

    >>> fix_gbk("鎴戜滑閮藉惉鍒颁簡"), fix_gbk("我们都听到了")
    ('我们都听到了', '我们都听到了')
    """
    return repair_gbk_mojibake(line)


def _diagnose_gbk(before: str, after: str) -> str | None:
    return _gbk_problem(analyse_gbk_mojibake(before))


def _gbk_problem(r: GbkRepair | None) -> str | None:
    """The problem message for a GBK analysis, or None if there is none."""
    if r is None or r.complete:
        return None
    if not r.repaired:
        if r.kunjinkao:
            return ("contains 锟斤拷 (replacement characters written as UTF-8 and read "
                    "as GBK): the original text was lost before this file was made")
        return "looks like GBK-decoded UTF-8 but cannot be reversed"
    return (f"looks like GBK-decoded UTF-8 and was only partly reversed: "
            f"{r.lost + r.kunjinkao} character(s) lost, left as \ufffd"
            + (" / 锟斤拷" if r.kunjinkao else ""))


def fix_nfc(line: str) -> str:
    """Unicode NFC (never NFKC), leaving CJK compatibility ideographs as they are.

    >>> fix_nfc("e\\u0301"), fix_nfc("\\uf900")
    ('é', '\\uf900')
    """
    if line.isascii() or unicodedata.is_normalized("NFC", line):
        return line
    parts = _COMPAT_IDEOGRAPHS.split(line)
    return "".join(p if i % 2 else unicodedata.normalize("NFC", p) for i, p in enumerate(parts))


_FTFY = register(Fixer("ftfy", "mojibake", fix_ftfy, lambda c: c.ftfy, _describe_ftfy))
_GBK = register(Fixer("gbk-mojibake", "mojibake", fix_gbk, lambda c: c.mojibake,
                      lambda b, a: "utf-8 read as gbk", _diagnose_gbk))
_NFC = register(Fixer("nfc", "unicode", fix_nfc, lambda c: c.ftfy, lambda b, a: "nfc"))


# The original, ungated fixers: what repair_text_reference runs.

def _fix_ftfy_reference(line: str) -> str:
    if line.isascii() and line.isprintable():
        return line
    return ftfy_fix_reference(line)[0]


def _describe_ftfy_reference(before: str, after: str) -> str:
    return _describe_steps(ftfy_fix_reference(before)[1])


def _fix_gbk_reference(line: str) -> str:
    r = _analyse_gbk_mojibake_reference(line)
    return r.text if r is not None and r.repaired else line


def _diagnose_gbk_reference(before: str, after: str) -> str | None:
    return _gbk_problem(_analyse_gbk_mojibake_reference(before))


_REFERENCE_FIXERS: dict[int, Fixer] = {
    id(_FTFY): dataclasses.replace(_FTFY, func=_fix_ftfy_reference, describe=_describe_ftfy_reference),
    id(_GBK): dataclasses.replace(_GBK, func=_fix_gbk_reference, diagnose=_diagnose_gbk_reference),
}


# --- the driver ---------------------------------------------------------------
#
# repair_text is the fast driver; repair_text_reference is the original one
# (every line through every fixer), kept as the oracle the tests compare
# against. Both give identical results: the fast one only skips lines for
# which each enabled fixer provably returns the line unchanged and reports no
# problem (see _suspect_lines), and its helpers compute exactly what the
# reference helpers compute.


def _trim_edit_reference(old: str, new: str) -> tuple[int, int, int]:
    """Common prefix/suffix trim: returns (prefix, old_end, new_end) so that
    ``old[prefix:old_end]`` became ``new[prefix:new_end]``."""
    n = min(len(old), len(new))
    p = 0
    while p < n and old[p] == new[p]:
        p += 1
    s = 0
    while s < n - p and old[len(old) - 1 - s] == new[len(new) - 1 - s]:
        s += 1
    return p, len(old) - s, len(new) - s


def _common_prefix(a: str, i: int, b: str, j: int, limit: int) -> int:
    """Largest k <= limit with ``a[i:i+k] == b[j:j+k]``, by galloping slice
    comparisons (C memcmp) instead of a Python loop per character."""
    if limit <= 0 or a[i] != b[j]:
        return 0
    lo, step = 1, 1  # a[i:i+lo] == b[j:j+lo]
    while lo < limit:
        hi = min(lo + step, limit)
        if a[i + lo:i + hi] != b[j + lo:j + hi]:
            break
        lo, step = hi, step * 2
    else:
        return lo
    hi -= 1  # the answer is in [lo, hi]
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[i + lo:i + mid] == b[j + lo:j + mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: str, b: str, limit: int) -> int:
    """Largest k <= limit with ``a[len(a)-k:] == b[len(b)-k:]`` (galloping)."""
    la, lb = len(a), len(b)
    if limit <= 0 or a[la - 1] != b[lb - 1]:
        return 0
    lo, step = 1, 1
    while lo < limit:
        hi = min(lo + step, limit)
        if a[la - hi:la - lo] != b[lb - hi:lb - lo]:
            break
        lo, step = hi, step * 2
    else:
        return lo
    hi -= 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[la - mid:la - lo] == b[lb - mid:lb - lo]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _trim_edit(old: str, new: str) -> tuple[int, int, int]:
    """Common prefix/suffix trim: returns (prefix, old_end, new_end) so that
    ``old[prefix:old_end]`` became ``new[prefix:new_end]``.

    >>> _trim_edit("abXYcd", "abZcd")
    (2, 4, 3)
    """
    n = min(len(old), len(new))
    p = _common_prefix(old, 0, new, 0, n)
    s = _common_suffix(old, new, n - p)
    return p, len(old) - s, len(new) - s


@functools.lru_cache(maxsize=8192)
def _raw_forms(ch: str) -> tuple[str, ...]:
    """How one repaired character can look in the damaged text: itself, or
    its UTF-8 bytes read as latin-1 or as (sloppy) Windows-1252."""
    if ch.isascii():
        return (ch,)
    data = ch.encode("utf-8", "surrogatepass")
    forms = [ch, data.decode("latin-1")]
    try:
        forms.append(data.decode("sloppy-windows-1252"))
    except (LookupError, UnicodeDecodeError):
        pass
    return tuple(dict.fromkeys(forms))


def _char_edits_reference(old: str, new: str) -> list[tuple[int, int, int, int]] | None:
    """The original :func:`_char_edits`: one greedy step per repaired character."""
    out: list[tuple[int, int, int, int]] = []
    i = 0
    n = len(old)
    for j, ch in enumerate(new):
        for form in _raw_forms(ch):
            if old.startswith(form, i):
                if form != ch:
                    out.append((i, i + len(form), j, j + 1))
                i += len(form)
                break
        else:
            return None
    return out if i == n else None


# Every character a byte can become when read as latin-1 or as sloppy
# Windows-1252: what the mojibake forms in _raw_forms are made of.
_BYTE_CHARS = frozenset(bytes(range(256)).decode("latin-1") + bytes(range(256)).decode("sloppy-windows-1252"))
# A run of characters none of which is such a byte character.
_NON_BYTE_RUN = re.compile("[^" + "".join(sorted(map(re.escape, _BYTE_CHARS))) + "]+")

Columns = tuple[list[int], list[int], list[int], list[int]]
# Repaired characters a mojibake form can start with (U+00C3), and ASCII
# characters a byte reader does not read as themselves (sloppy Windows-1252
# reads 1A as U+FFFD): lines holding them get the character-by-character walk.
_WALK_ONLY = re.compile("[\u00c3" + "".join(
    re.escape(chr(b)) for b in range(0x80)
    if bytes((b,)).decode("latin-1") != chr(b) or bytes((b,)).decode("sloppy-windows-1252") != chr(b)
) + "]")
# Characters whose UTF-8 (surrogatepass for lone surrogates) is 3 bytes.
_THREE_BYTES = re.compile("[\u0800-\uffff]*")


def _run_columns(run: str, i: int, j: int) -> Columns:
    """Edit columns for ``run``, non-ASCII characters starting at position
    ``j`` of the repaired text whose mojibake starts at ``i`` of the damaged
    text: each character's UTF-8 byte span there, and its own position."""
    n = len(run)
    b0 = list(range(j, j + n))
    b1 = list(range(j + 1, j + n + 1))
    if _THREE_BYTES.fullmatch(run):  # hanzi: 3 bytes each
        return list(range(i, i + 3 * n, 3)), list(range(i + 3, i + 3 * n + 3, 3)), b0, b1
    a0: list[int] = []
    a1: list[int] = []
    for ch in run:
        a0.append(i)
        i += 2 if ch < "\u0800" else 3 if ch < "\U00010000" else 4
        a1.append(i)
    return a0, a1, b0, b1


def _whole_line_columns(old: str, new: str, src: int = 0, dst: int = 0) -> Columns | None:
    """The whole-line case of :func:`_char_edits`: ``old`` is all of ``new``
    as UTF-8 read as latin-1, or all of it read as Windows-1252.

    Then the greedy walk takes each non-ASCII character's mojibake form (its
    first byte's character differs from the character itself, except for
    "Ã", U+00C3, whose UTF-8 starts with byte C3: those lines take the walk)
    and each ASCII character as itself (sloppy Windows-1252 reads byte 1A
    as U+FFFD, not as itself: those lines take the walk too), so the edits
    are the non-ASCII characters' UTF-8 byte spans (offset by ``src``) and
    positions (offset by ``dst``). None when the line is not of this kind.
    """
    if _WALK_ONLY.search(new) is not None:
        return None
    data = new.encode("utf-8", "surrogatepass")
    if len(data) != len(old):
        return None
    if data.decode("latin-1") != old and data.decode("sloppy-windows-1252") != old:
        return None
    codes = np.frombuffer(data, dtype=np.uint8)
    starts = ((codes & 0xC0) != 0x80).nonzero()[0]  # one per character, in order
    leads = codes[starts]
    idx = (leads >= 0x80).nonzero()[0]  # the non-ASCII characters
    leads = leads[idx]
    a0 = starts[idx] + src
    a1 = a0 + 2 + (leads >= 0xE0) + (leads >= 0xF0)  # 2-4 bytes, by lead byte
    return a0.tolist(), a1.tolist(), (idx + dst).tolist(), (idx + (dst + 1)).tolist()


def _walk_columns(old: str, new: str, src: int = 0, dst: int = 0) -> Columns | None:
    """The greedy walk of :func:`_char_edits_reference`, a stretch at a time,
    as columns offset by ``src`` (damaged side) and ``dst`` (repaired side).

    Runs of identical characters are skipped with slice comparisons (the
    walk tries each character as itself first). A run of repaired characters
    that are never byte characters (hanzi, say) whose damaged counterpart is
    the run's UTF-8 read as latin-1, or as Windows-1252, is taken whole: the
    walk could not take any of them as itself (the damaged side holds only
    byte characters there) and takes each one's mojibake form.
    """
    a0: list[int] = []
    a1: list[int] = []
    b0: list[int] = []
    b1: list[int] = []
    i = j = 0
    n, m = len(old), len(new)
    no_run_until = 0  # a run that did not match is stepped through
    while j < m:
        k = _common_prefix(old, i, new, j, min(n - i, m - j))
        if k:
            i += k
            j += k
            continue
        if j >= no_run_until and (run := _NON_BYTE_RUN.match(new, j)) is not None:
            text = run.group(0)
            data = text.encode("utf-8", "surrogatepass")
            seg = old[i:i + len(data)]
            if seg == data.decode("latin-1") or seg == data.decode("sloppy-windows-1252"):
                c0, c1, d0, d1 = _run_columns(text, i + src, j + dst)
                a0 += c0
                a1 += c1
                b0 += d0
                b1 += d1
                i += len(data)
                j = run.end()
                continue
            no_run_until = run.end()
        for form in _raw_forms(new[j])[1:]:  # [0] is the character itself: no match
            if old.startswith(form, i):
                a0.append(i + src)
                i += len(form)
                a1.append(i + src)
                b0.append(j + dst)
                b1.append(j + dst + 1)
                break
        else:
            return None
        j += 1
    return (a0, a1, b0, b1) if i == n else None


def _char_edits(old: str, new: str) -> list[tuple[int, int, int, int]] | None:
    """Per-character edits from ``old`` (damaged line) to ``new`` (repaired),
    when every repaired character can be found, in order, as itself or its
    mojibake form: then a span of the repaired line maps back to exactly its
    raw characters (a watermark cut inside a repaired line points at the
    watermark's own damaged bytes, not the whole line). None when the repair
    is not such a character-for-bytes one (GBK-type mojibake, NFC); the
    caller then records one edit for the changed run.

    Same result as the one-character-at-a-time greedy walk it replaces
    (:func:`_char_edits_reference`), computed a stretch at a time.

    >>> _char_edits("cafÃ© ok", "café ok")
    [(3, 5, 3, 4)]
    >>> _char_edits("è¯´: åˆšæ‰\\x8d", "说: 刚才")
    [(0, 3, 0, 1), (5, 8, 3, 4), (8, 11, 4, 5)]
    """
    cols = _whole_line_columns(old, new) or _walk_columns(old, new)
    return None if cols is None else list(zip(*cols))


def _append(edits: list[Edit], e: Edit) -> None:
    """Append an edit. Adjacent edits are deliberately not merged: a line's
    body edit and its line-end edit stay separate, so a span that starts on a
    repaired line never maps back into the line before it."""
    edits.append(e)


# --- which lines can change -----------------------------------------------------
#
# For each built-in fixer, a scan of the whole text (C speed) that finds
# every line on which the fixer might do anything: change the line or report
# a problem. Every other line is provably left alone by every fixer, and
# since a fixer that does nothing hands the next one the same line, the
# union of the fixers' suspects is all the driver has to run them on.

_ASCII_BODY = r"\x00-\x09\x0b\x0c\x0e-\x7f"  # any ASCII but the line ends


@functools.cache
def _gbk_line_re() -> re.Pattern[str]:
    """Lines that may be UTF-8 read as GBK, each matched from the line end
    before it: only ASCII and :func:`~cleaner.mojibake.gbk_mojibake_chars`,
    at least one of the latter. Possessive loops: a line fails at its first
    impossible character. Starting with a literal lets the regex engine find
    candidates with a fast character search."""
    return re.compile(f"\n[{_ASCII_BODY}]*+(?![\r\n]|\\Z)[{_ASCII_BODY}{gbk_mojibake_chars()}]*+(?![^\r\n])")


def _line_start(text: str, pos: int) -> int:
    """Start of the line holding ``pos`` (lines end at \\n, \\r or \\r\\n)."""
    return max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos)) + 1


def _line_end(text: str, pos: int) -> int:
    """Index of the first \\n or \\r at or after ``pos`` (len(text) if none)."""
    n = text.find("\n", pos)
    r = text.find("\r", pos, n if n >= 0 else len(text))
    if r >= 0:
        return r
    return n if n >= 0 else len(text)


@functools.cache
def _scan_re(trigger_chars: str, kjk: bool) -> re.Pattern[str]:
    """One character class for the whole-text scan: ftfy's triggers, plus
    the first character of 锟斤拷 when the GBK fixer runs."""
    return re.compile("[" + trigger_chars + (KUNJINKAO[0] if kjk else "") + "]")


def _suspect_lines(text: str, fixers: list[Fixer]) -> dict[int, int] | None:
    """The lines any of ``fixers`` might change or diagnose: line start offset
    -> bit mask of the fixers (by position in ``fixers``) that might. None
    when some fixer has no such scan (then every line runs every fixer).

    >>> _suspect_lines("我们都听到了\\ncafÃ©\\n鍒氭墠\\n", FIXERS)  # ftfy; could be GBK
    {7: 1, 13: 2}
    """
    found: dict[int, int] = {}

    def add(start: int, bit: int) -> None:
        found[start] = found.get(start, 0) | bit

    known = {id(_FTFY): 0, id(_GBK): 1, id(_NFC): 2}
    bit_of = [0, 0, 0]  # ftfy, gbk, nfc
    for k, fx in enumerate(fixers):
        slot = known.get(id(fx))
        if slot is None or bit_of[slot]:
            return None  # a fixer without a scan (or one listed twice)
        bit_of[slot] = 1 << k
    ftfy_bit, gbk_bit, nfc_bit = bit_of
    trigger = ftfy_trigger_pattern()
    if ftfy_bit and trigger is None:
        return None
    if ftfy_bit or gbk_bit:
        # ftfy's trigger characters and 锟斤拷 (which analyse_gbk_mojibake
        # flags on any line) in one scan; one search per line with a hit.
        scan = _scan_re((ftfy_trigger_chars() or "") if ftfy_bit else "", bool(gbk_bit))
        pos = 0
        while (m := scan.search(text, pos)) is not None:
            start, end = _line_start(text, m.start()), _line_end(text, m.start())
            if ftfy_bit and trigger.search(text, m.start(), end) is not None:  # type: ignore[union-attr]
                add(start, ftfy_bit)
            if gbk_bit and text.find(KUNJINKAO, start, end) >= 0:
                add(start, gbk_bit)
            pos = end + 1
    if gbk_bit:
        # Otherwise analyse_gbk_mojibake needs a line of ASCII and
        # gbk_mojibake_chars() only, which without U+FFFD is also valid UTF-8
        # once encoded as GBK (see there and _gbk_bytes_cannot_be_utf8).
        # Lines start after "\n", after a lone "\r" and at 0: with every "\r"
        # made "\n" (same offsets; CRLF adds an empty line, never a match),
        # all of them follow a "\n", the first after the one put before it.
        lines_re = _gbk_line_re()
        found_lines = [(m.start() + 1, m.group(0)[1:])
                       for m in lines_re.finditer(text.replace("\r", "\n") if "\r" in text else text)]
        if (m := lines_re.match("\n" + text[:_line_end(text, 0)])) is not None:
            found_lines.append((0, m.group(0)[1:]))
        for start, line in found_lines:
            if "\ufffd" in line or not _gbk_bytes_cannot_be_utf8(line):
                add(start, gbk_bit)
    if nfc_bit and not unicodedata.is_normalized("NFC", text):
        # \n and \r never combine with a neighbour, so a text in NFC has
        # every line in NFC; only otherwise look at the lines.
        for m in _LINE_RE.finditer(text):
            body = m.group(0).rstrip("\r\n")
            if not body.isascii() and not unicodedata.is_normalized("NFC", body):
                add(m.start(), nfc_bit)
    return found


def _line_number(text: str, start: int) -> int:
    """1-based number of the line starting at ``start``."""
    return text.count("\n", 0, start) + text.count("\r", 0, start) - text.count("\r\n", 0, start) + 1


def _fix_line(text: str, body: str, src: int, fixers: list[Fixer], mask: int,
              repairs: list[Repair], problems: list[Problem]) -> str:
    """Run ``fixers`` on one line body (at offset ``src`` of the input
    ``text``): the repaired body; repairs and problems are appended.

    A fixer whose bit in ``mask`` is clear provably leaves ``body`` alone and
    reports nothing, so it is skipped while the line is still ``body``."""
    cur = body
    if body.isascii() and body.isprintable():
        return cur
    steps: list[OffsetMap] = []  # one single-edit map per changing fixer
    for k, fx in enumerate(fixers):
        if cur is body and not mask >> k & 1:
            continue
        nxt = fx.func(cur)
        if fx.diagnose is not None:
            msg = fx.diagnose(cur, nxt)
            if msg:
                n = _line_number(text, src)  # counted only when needed
                problems.append(Problem("mojibake-unrepaired", f"line {n} {msg}", n))
        if nxt == cur:
            continue
        p, a_end, b_end = _trim_edit(cur, nxt)
        a, b = p, a_end
        for step in reversed(steps):  # back to the body's own offsets
            a, b = step.to_source(a, "start"), step.to_source(b, "end")
        repairs.append(Repair(fx.kind, fx.detail(cur, nxt), src + a, src + b))
        steps.append(OffsetMap((Edit(p, a_end, p, b_end),)))
        cur = nxt
    return cur


def _body_edits(cols: Columns, body: str, cur: str, src: int, dst: int) -> None:
    """Append to the edit columns ``cols`` the edits that turn ``body`` (at
    ``src``) into ``cur`` (at ``dst``)."""
    fine = _whole_line_columns(body, cur, src, dst) or _walk_columns(body, cur, src, dst)
    if fine is not None:
        for col, part in zip(cols, fine):
            col += part
    else:
        p, a_end, b_end = _trim_edit(body, cur)
        for col, x in zip(cols, (src + p, src + a_end, dst + p, dst + b_end)):
            col.append(x)


def repair_text(text: str, config: RepairConfig | None = None) -> RepairResult:
    """Repair ``text`` line by line with the registered fixers.

    Returns the repaired text, an offset map back to ``text``, one
    :class:`Repair` per fixer per changed line (offsets into ``text``), one
    whole-text ``newline`` repair if line ends were normalised, and problems
    for damage that could not be undone.

    Only lines a fixer might change are visited (see
    :func:`_suspect_lines`); the result is identical to
    :func:`repair_text_reference`, which runs every fixer on every line.

    >>> repair_text("同志们：\\n“你好”，ＡＢＣ。\\n").repairs
    ()
    >>> r = repair_text("ok\\r\\ncafÃ©\\n")
    >>> r.text, [x.kind for x in r.repairs], r.offsets.span_to_source(3, 7)
    ('ok\\ncafé\\n', ['mojibake', 'newline'], (4, 9))
    """
    cfg = config or RepairConfig()
    fixers = [f for f in FIXERS if f.enabled(cfg)]
    suspects = _suspect_lines(text, fixers)
    crlf = cfg.normalize_newlines and "\r" in text
    if suspects is not None and not suspects and not crlf:
        return RepairResult(text, IDENTITY_MAP, (), ())
    lines: Iterator[re.Match[str]]
    if suspects is None or crlf:
        lines = _LINE_RE.finditer(text)  # every line: all may change, or line ends do
    else:
        lines = (m for s in sorted(suspects) if (m := _LINE_RE.match(text, s)) is not None)
    everything = (1 << len(fixers)) - 1
    out: list[str] = []
    # The edits, in order, as four columns: built in one go at the end.
    cols: Columns = ([], [], [], [])
    src_starts, src_ends, dst_starts, dst_ends = cols
    repairs: list[Repair] = []
    problems: list[Problem] = []
    newline_fixes = 0
    pos = dst = 0  # text[:pos] is done; dst = len of its repaired form
    for m in lines:
        src = m.start()
        if src > pos:  # untouched lines in between
            out.append(text[pos:src])
            dst += src - pos
        raw = m.group(0)
        body = raw.rstrip("\r\n")
        ending = raw[len(body):]
        cur = body
        mask = everything if suspects is None else suspects.get(src, 0)
        if mask:
            cur = _fix_line(text, body, src, fixers, mask, repairs, problems)
            if cur != body:
                _body_edits(cols, body, cur, src, dst)
        new_ending = ending
        if crlf and ending in ("\r\n", "\r"):
            new_ending = "\n"
            newline_fixes += 1
            s0, d0 = src + len(body), dst + len(cur)
            src_starts.append(s0)
            src_ends.append(s0 + len(ending))
            dst_starts.append(d0)
            dst_ends.append(d0 + 1)
        out.append(cur)
        out.append(new_ending)
        dst += len(cur) + len(new_ending)
        pos = m.end()
    out.append(text[pos:])
    if newline_fixes:
        repairs.append(Repair("newline", f"{newline_fixes} line end(s) normalised to \\n"))
    return RepairResult("".join(out), OffsetMap.from_columns(*cols), tuple(repairs), tuple(problems))


def repaired_text(text: str, config: RepairConfig | None = None) -> str:
    """``repair_text(text, config).text`` without the offsets, repairs and
    problems, for callers that only read the repaired text (duplicate
    detection alone): about half the work on scraped text, where a CRLF
    file otherwise has every line visited for its offsets.

    >>> repaired_text("ok\\r\\ncafÃ©\\n") == repair_text("ok\\r\\ncafÃ©\\n").text == "ok\\ncafé\\n"
    True
    """
    cfg = config or RepairConfig()
    if cfg.normalize_newlines and "\r" in text:
        # A fixer sees a line's body only, never its end, so the line ends
        # can be made \n first (what repair_text does to each of them).
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    fixers = [f for f in FIXERS if f.enabled(cfg)]
    suspects = _suspect_lines(text, fixers)
    if suspects is None:
        return repair_text(text, cfg).text
    if not suspects:
        return text
    out: list[str] = []
    pos = 0
    unused_repairs: list[Repair] = []
    unused_problems: list[Problem] = []
    for start in sorted(suspects):
        m = _LINE_RE.match(text, start)
        if m is None:
            continue
        body = m.group(0).rstrip("\r\n")
        out.append(text[pos:start])
        out.append(_fix_line(text, body, start, fixers, suspects[start], unused_repairs, unused_problems))
        pos = start + len(body)
    out.append(text[pos:])
    return "".join(out)


def repair_text_reference(text: str, config: RepairConfig | None = None) -> RepairResult:
    """:func:`repair_text` as first written: every fixer (ftfy itself, the
    full GBK analysis) on every line, one greedy step per character for
    the edits. Slow; kept as the oracle the fast path is tested against.

    >>> src = "ok\\r\\ncafÃ©\\n鎴戜滑閮藉惉鍒颁簡\\n"
    >>> repair_text_reference(src) == repair_text(src)
    True
    """
    cfg = config or RepairConfig()
    fixers = [_REFERENCE_FIXERS.get(id(f), f) for f in FIXERS if f.enabled(cfg)]
    out: list[str] = []
    edits: list[Edit] = []
    repairs: list[Repair] = []
    problems: list[Problem] = []
    newline_fixes = 0
    dst = 0
    for lineno, m in enumerate(_LINE_RE.finditer(text), start=1):
        raw = m.group(0)
        src = m.start()
        body = raw.rstrip("\r\n")
        ending = raw[len(body):]
        cur = body
        steps: list[OffsetMap] = []  # one single-edit map per changing fixer
        if not (body.isascii() and body.isprintable()):
            for fx in fixers:
                nxt = fx.func(cur)
                if fx.diagnose is not None:
                    msg = fx.diagnose(cur, nxt)
                    if msg:
                        problems.append(Problem("mojibake-unrepaired", f"line {lineno} {msg}", lineno))
                if nxt == cur:
                    continue
                p, a_end, b_end = _trim_edit_reference(cur, nxt)
                a, b = p, a_end
                for step in reversed(steps):  # back to the body's own offsets
                    a, b = step.to_source(a, "start"), step.to_source(b, "end")
                repairs.append(Repair(fx.kind, fx.detail(cur, nxt), src + a, src + b))
                steps.append(OffsetMap((Edit(p, a_end, p, b_end),)))
                cur = nxt
        if cur != body:
            fine = _char_edits_reference(body, cur)
            if fine is not None:
                for a0, a1, b0, b1 in fine:
                    _append(edits, Edit(src + a0, src + a1, dst + b0, dst + b1))
            else:
                p, a_end, b_end = _trim_edit_reference(body, cur)
                _append(edits, Edit(src + p, src + a_end, dst + p, dst + b_end))
        new_ending = ending
        if cfg.normalize_newlines and ending in ("\r\n", "\r"):
            new_ending = "\n"
            newline_fixes += 1
            s0, d0 = src + len(body), dst + len(cur)
            _append(edits, Edit(s0, s0 + len(ending), d0, d0 + 1))
        out.append(cur)
        out.append(new_ending)
        dst += len(cur) + len(new_ending)
    if newline_fixes:
        repairs.append(Repair("newline", f"{newline_fixes} line end(s) normalised to \\n"))
    return RepairResult("".join(out), OffsetMap(tuple(edits)), tuple(repairs), tuple(problems))
