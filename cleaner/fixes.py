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

import re
import unicodedata
from dataclasses import dataclass
from typing import Callable

from .config import RepairConfig
from .mojibake import analyse_gbk_mojibake, ftfy_fix, repair_gbk_mojibake
from .types import Edit, OffsetMap, Problem, Repair

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
    steps = ftfy_fix(before)[1]
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
    r = analyse_gbk_mojibake(before)
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


register(Fixer("ftfy", "mojibake", fix_ftfy, lambda c: c.ftfy, _describe_ftfy))
register(Fixer("gbk-mojibake", "mojibake", fix_gbk, lambda c: c.mojibake,
               lambda b, a: "utf-8 read as gbk", _diagnose_gbk))
register(Fixer("nfc", "unicode", fix_nfc, lambda c: c.ftfy, lambda b, a: "nfc"))


# --- the driver ---------------------------------------------------------------


def _trim_edit(old: str, new: str) -> tuple[int, int, int]:
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


def _char_edits(old: str, new: str) -> list[tuple[int, int, int, int]] | None:
    """Per-character edits from ``old`` (damaged line) to ``new`` (repaired),
    when every repaired character can be found, in order, as itself or its
    mojibake form: then a span of the repaired line maps back to exactly its
    raw characters (a watermark cut inside a repaired line points at the
    watermark's own damaged bytes, not the whole line). None when the repair
    is not such a character-for-bytes one (GBK-type mojibake, NFC); the
    caller then records one edit for the changed run.

    >>> _char_edits("cafÃ© ok", "café ok")
    [(3, 5, 3, 4)]
    """
    import ftfy.bad_codecs  # noqa: F401  registers sloppy-windows-1252

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


def _append(edits: list[Edit], e: Edit) -> None:
    """Append an edit. Adjacent edits are deliberately not merged: a line's
    body edit and its line-end edit stay separate, so a span that starts on a
    repaired line never maps back into the line before it."""
    edits.append(e)


def repair_text(text: str, config: RepairConfig | None = None) -> RepairResult:
    """Repair ``text`` line by line with the registered fixers.

    Returns the repaired text, an offset map back to ``text``, one
    :class:`Repair` per fixer per changed line (offsets into ``text``), one
    whole-text ``newline`` repair if line ends were normalised, and problems
    for damage that could not be undone.

    >>> repair_text("同志们：\\n“你好”，ＡＢＣ。\\n").repairs
    ()
    """
    cfg = config or RepairConfig()
    fixers = [f for f in FIXERS if f.enabled(cfg)]
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
                p, a_end, b_end = _trim_edit(cur, nxt)
                a, b = p, a_end
                for step in reversed(steps):  # back to the body's own offsets
                    a, b = step.to_source(a, "start"), step.to_source(b, "end")
                repairs.append(Repair(fx.kind, fx.detail(cur, nxt), src + a, src + b))
                steps.append(OffsetMap((Edit(p, a_end, p, b_end),)))
                cur = nxt
        if cur != body:
            fine = _char_edits(body, cur)
            if fine is not None:
                for a0, a1, b0, b1 in fine:
                    _append(edits, Edit(src + a0, src + a1, dst + b0, dst + b1))
            else:
                p, a_end, b_end = _trim_edit(body, cur)
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
