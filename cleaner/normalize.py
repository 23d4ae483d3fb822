"""Match keys and script conversion.

A *match key* is a folded form of a text used only to decide whether two
passages are the same (dedup, boilerplate, watermarks). It is never output:
the output keeps the source's own characters (see :func:`convert_script`).

Key pipeline (see docs/normalization.md):

1. OpenCC ``t2s`` (traditional -> simplified; also normalises CJK
   compatibility ideographs), one call per text.
2. Width folding (full-width ASCII -> ASCII, ideographic space -> space) and
   case folding (1:1 lower-casing of Latin, Greek, Cyrillic ...), one numpy
   table look-up over the code points.
3. Mask folding: runs of template masks (``__``, ``**``, ``XX``, ``※※``,
   ``○○``, ``××``, ``□□``, ``某某``, ``20xx`` ...) become one :data:`WILDCARD`.
   ``○`` right after a Chinese numeral is a zero (``二○○五`` -> ``二〇〇五``).
4. Dropping: every punctuation (P*), symbol (S*), separator/whitespace (Z*)
   and control/format character (Cc, Cf, Cs) is removed. What is left:
   letters, numbers, marks, private-use/unassigned code points and the
   wildcard.
5. Adjacent wildcards (``__、__`` -> ``□□``) collapse to one.

Steps 1-3 preserve length (OpenCC falls back to per-character conversion on
the rare lines where a phrase changes length), which is what lets
:func:`match_key_with_map` give every key character its source offset.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import threading
import unicodedata
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import opencc

from .tablecache import cached_codes, fingerprint

__all__ = ["KEY_VERSION", "WILDCARD", "SCRIPTS", "match_key", "match_key_with_map", "convert_script"]

# Bumped whenever keys of the same text change (stored signatures made from
# older keys are recomputed): 2 = one key character per class of
# traditional / simplified forms instead of OpenCC's phrase conversion.
KEY_VERSION = 2

#: The one symbol every mask run folds to. It is itself a common mask
#: (``□□市``), so keys are stable under re-keying.
WILDCARD = "\u25a1"  # □
_WILD_CODE = ord(WILDCARD)

SCRIPTS: tuple[str, ...] = ("original", "simplified", "traditional")
_SCRIPT_CONFIG = {"simplified": "t2s", "traditional": "s2t"}

# --------------------------------------------------------------------------
# OpenCC converters.
# The native binding holds the GIL for the whole conversion and the C++
# Converter::Convert is const, so one shared converter per config is safe on
# a GIL build. On a free-threaded build (PEP 703) we keep one per thread.
_GIL_ENABLED: bool = getattr(sys, "_is_gil_enabled", lambda: True)()
_converters: dict[str, Any] = {}
_converters_lock = threading.Lock()
_local = threading.local()


def _converter(config: str) -> Any:
    if not _GIL_ENABLED:
        cache = getattr(_local, "converters", None)
        if cache is None:
            cache = _local.converters = {}
        cc = cache.get(config)
        if cc is None:
            cc = cache[config] = opencc.OpenCC(config)
        return cc
    cc = _converters.get(config)
    if cc is None:
        with _converters_lock:
            cc = _converters.get(config)
            if cc is None:
                cc = _converters[config] = opencc.OpenCC(config)
    return cc


_SURROGATES = re.compile("[\ud800-\udfff]+")


def _opencc(config: str, text: str) -> str:
    """Convert ``text``; lone surrogates (which OpenCC cannot take) pass through.

    A text with no character that the config's dictionaries rewrite comes
    back as it is without calling OpenCC (:func:`opencc_changers`): most
    scraped Chinese is simplified already, and the check costs a tenth of a
    conversion.
    """
    changers = opencc_changers(config)
    if changers is not None and not changers[_to_codes(text)].any():
        return text
    return _opencc_reference(config, text)


def _opencc_reference(config: str, text: str) -> str:
    """:func:`_opencc` without the gate: always calls OpenCC."""
    cc = _converter(config)
    try:
        return cc.convert(text)
    except UnicodeEncodeError:
        out: list[str] = []
        pos = 0
        for m in _SURROGATES.finditer(text):
            out.append(cc.convert(text[pos : m.start()]))
            out.append(m.group())
            pos = m.end()
        out.append(cc.convert(text[pos:]))
        return "".join(out)


_CHANGERS: dict[str, np.ndarray | None] = {}


def opencc_changers(config: str) -> np.ndarray | None:
    """A boolean table over code points: True for every character that some
    dictionary entry of OpenCC ``config`` rewrites (``長`` of ``長 -> 长``,
    ``乾`` of ``乾燥 -> 干燥``; every character of an entry that changes
    length); None when the installed dictionaries cannot be read, and then
    every text is converted.

    OpenCC changes a text only by applying an entry whose value differs from
    its key, and the characters where they differ are then in the text, so
    a text with none of these characters converts to itself. The dictionaries are read from the
    installed OpenCC (its ``opencc_dict`` tool exports them as text), so the
    table always matches the converter in use. Built once per process
    (about 30 ms).

    >>> table = opencc_changers("t2s")
    >>> [bool(table[ord(c)]) for c in "長长乾燥"] if table is not None else "no table"
    [True, False, True, False]
    """
    if config not in _CHANGERS:
        _CHANGERS[config] = _read_changers(config)  # None when the dictionaries can't be read
    return _CHANGERS[config]


def _read_changers(config: str) -> np.ndarray | None:
    codes = cached_codes(f"changers-{config}", _dictionaries_fingerprint(config), lambda: _changer_codes(config))
    if codes is None or not len(codes):
        return None
    table = np.zeros(0x110000, dtype=bool)
    table[codes] = True  # one assignment: per entry, it was most of the build
    return table


def _changer_codes(config: str) -> np.ndarray | None:
    entries = _dictionary_entries(config)
    if entries is None:
        return None
    codes: list[int] = []
    for key, values in entries:
        for value in values:
            if len(value) != len(key):
                codes.extend(map(ord, key))
            elif value != key:  # only the characters it rewrites: 乾 of 乾燥 -> 干燥, not 燥
                codes.extend([ord(k) for k, v in zip(key, value) if k != v])
    return np.unique(np.array(codes, dtype=np.int32))


def preload_conversions() -> None:
    """Load what :func:`convert_script` needs for both scripts (converters
    and :func:`opencc_changers` tables, about 0.3 s) now, so that processes
    forked afterwards inherit them instead of each loading its own.

    >>> preload_conversions()
    >>> sorted(_CHANGERS)
    ['s2t', 't2s']
    """
    for config in _SCRIPT_CONFIG.values():
        _converter(config)
        opencc_changers(config)


_ENTRIES: dict[str, list[tuple[str, list[str]]] | None] = {}


def _dictionary_entries(config: str) -> list[tuple[str, list[str]]] | None:
    """Every ``(key, values)`` entry of the dictionaries OpenCC ``config``
    uses, read from the installed OpenCC (its ``opencc_dict`` tool exports
    them as text); None when they cannot be read. Cached per process."""
    if config not in _ENTRIES:
        try:
            _ENTRIES[config] = _read_entries(config)
        except (OSError, ValueError, subprocess.SubprocessError):
            _ENTRIES[config] = None
    return _ENTRIES[config]


# OpenCC's bundled dictionaries and tools.
_OPENCC_CLIB = Path(opencc.__file__).parent / "clib"


def _opencc_share() -> Path:
    return _OPENCC_CLIB / "share" / "opencc"


def _dictionary_files(config: str) -> list[tuple[str, Path]]:
    """``(type, path)`` of every dictionary OpenCC ``config`` names, at any
    depth of its JSON (empty when it names none)."""
    share = _opencc_share()
    spec = json.loads((share / f"{config}.json").read_text(encoding="utf-8"))
    files: list[tuple[str, Path]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") in ("ocd2", "text") and "file" in node:
                files.append((node["type"], share / node["file"]))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(spec)
    return files


def _dictionaries_fingerprint(config: str) -> str | None:
    """What the tables built from ``config``'s dictionaries depend on (see
    :mod:`cleaner.tablecache`): the config, its dictionaries, the OpenCC
    version and this module; None when they cannot be listed."""
    try:
        sources = _dictionary_sources(config)
    except (OSError, ValueError):
        return None
    return fingerprint([*sources, Path(__file__)], [config, str(getattr(opencc, "__version__", "")), str(KEY_VERSION)])


def _dictionary_sources(config: str) -> list[Path]:
    """The files OpenCC ``config`` is built from: its JSON and every
    dictionary it names (OSError or ValueError when they cannot be listed)."""
    return [_opencc_share() / f"{config}.json", *(path for _, path in _dictionary_files(config))]


def _read_entries(config: str) -> list[tuple[str, list[str]]] | None:
    tool = _OPENCC_CLIB / "bin" / "opencc_dict"
    files = _dictionary_files(config)
    if not files:
        return None
    entries: list[tuple[str, list[str]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, source in files:
            if kind == "ocd2":
                if not tool.is_file():
                    return None
                source, exported = Path(tmp) / f"{source.stem}.txt", source
                subprocess.run([str(tool), "-i", str(exported), "-o", str(source), "-f", "ocd2", "-t", "text"],
                               check=True, capture_output=True, timeout=60)
            for line in source.read_text(encoding="utf-8").splitlines():
                key, _, values = line.partition("\t")
                entries.append((key, values.split(" ")))
    return entries


# --------------------------------------------------------------------------
# Tables, built once at import (about 30 ms).


def _build_fold_table() -> dict[int, int]:
    table: dict[int, int] = {}
    for cp in range(0xFF01, 0xFF5F):  # full-width ASCII
        table[cp] = cp - 0xFEE0
    table[0x3000] = 0x20  # ideographic space
    # Mask look-alikes to their canonical mask character.
    for ch in "\ufe4d\ufe4e\ufe4f\uff3f":  # ﹍ ﹎ ﹏ ＿
        table[ord(ch)] = ord("_")
    for ch in "\ufe61\u2217\u204e":  # ﹡ ∗ ⁎
        table[ord(ch)] = ord("*")
    for ch in "\u2573\u2715\u2716":  # ╳ ✕ ✖
        table[ord(ch)] = ord("\u00d7")
    table[0x25EF] = 0x25CB  # ◯ -> ○
    table[0x2610] = _WILD_CODE  # ☐ -> □
    # 1:1 lower-casing (Latin, Greek, Cyrillic, ...); multi-char foldings skipped.
    for cp in range(0x20000):
        if cp in table:
            continue
        ch = chr(cp)
        low = ch.lower()
        if low != ch and len(low) == 1:
            table[cp] = ord(low)
    for src, dst in list(table.items()):  # full-width letters straight to lower case
        low = chr(dst).lower()
        if len(low) == 1:
            table[src] = ord(low)
    return table


_FOLD = _build_fold_table()
_FOLD_ARRAY = np.arange(0x110000, dtype=np.uint32)
_FOLD_ARRAY[np.fromiter(_FOLD.keys(), dtype=np.int64)] = np.fromiter(_FOLD.values(), dtype=np.uint32)


def _to_codes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def _from_codes(codes: np.ndarray) -> str:
    return codes.tobytes().decode("utf-32-le", "surrogatepass")

_DROP_CATEGORIES = frozenset(
    ("Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs")
)


def _build_keep_table() -> np.ndarray:
    keep = np.ones(0x110000, dtype=bool)
    # Planes 3 and up hold no P/S/Z/C(c,f,s) except the tag block (Cf) in plane 14.
    for lo, hi in ((0, 0x20000), (0xE0000, 0xE0080)):
        for cp in range(lo, hi):
            if unicodedata.category(chr(cp)) in _DROP_CATEGORIES:
                keep[cp] = False
    keep[_WILD_CODE] = True
    return keep


_KEEP = _build_keep_table()

_CN_DIGITS = "〇零一二三四五六七八九十"
# Applied to width- and case-folded text, so only lower-case ``x`` is seen.
# Every branch starts with a character of the leading look-ahead's class and
# puts its look-behind *after* that first character, so a match can start
# only on one of those characters (:func:`_mask_matches` tries only there).
_MASK_BRANCHES = (
    rf"(?P<zero>○(?<=[{_CN_DIGITS}]○)○*)",  # 二○○五: a zero, not a mask
    r"(?:19|20)(?<![0-9a-z]..)(?:[0-9]x+|x+)(?![a-z])",  # 20xx, 201x years
    # Runs of x not touching Latin letters (next, xml, windows xp keep
    # theirs) and not followed by a digit (x86, 3x4); X光 / X射线 /
    # X轴 / X染色体 are words.
    r"x(?<![a-z]x)(?!光|射线|轴|染色体)x*(?![a-z0-9])",
    r"_+",
    r"\*+",
    r"※+",
    r"○+",
    r"×+",
    r"□+",
    r"某某+",
)
# The characters a mask can start with: the look-ahead's class, and as a
# table: candidates are found with numpy, and the pattern is tried only
# there (re scans about 5 ns a character; Chinese text has digits everywhere).
_MASK_LEADS = "12x_*※○×□某"
_MASK = re.compile(f"(?=[{_MASK_LEADS}])(?:" + "|".join(_MASK_BRANCHES) + ")")
_MASK_LEAD = np.zeros(0x110000, dtype=bool)
_MASK_LEAD[[ord(c) for c in _MASK_LEADS]] = True


def _mask_matches(text: str, codes: np.ndarray) -> list[re.Match[str]]:
    """``list(_MASK.finditer(text))`` (``codes``: ``text``'s code points),
    trying the pattern only where a mask can start. Same matches: finditer
    tries every position left to right and resumes after each match, and
    the pattern cannot match where its look-ahead fails.

    >>> t = "20xx年_某某同志"
    >>> [m.group() for m in _mask_matches(t, _to_codes(t))] == [m.group() for m in _MASK.finditer(t)]
    True
    """
    out: list[re.Match[str]] = []
    end = 0
    match = _MASK.match
    for p in np.flatnonzero(_MASK_LEAD[codes]).tolist():
        if p >= end and (m := match(text, p)) is not None:
            out.append(m)
            end = m.end()
    return out


# --------------------------------------------------------------------------
# Key computation.


_KEY_TABLES: dict[str, np.ndarray] = {}
_KEY_TABLES_LOCK = threading.Lock()


def _key_table() -> np.ndarray:
    """Code point -> key code point: traditional and simplified forms of a
    character to one, then width and case folding (:data:`_FOLD`). Built
    once per process from OpenCC's own t2s dictionaries (about 50 ms), so a
    key costs one array look-up instead of a conversion (which was half of
    the key's time).

    Keys only match text against text, so characters are enough: both
    copies of a passage go through this one table whatever their script.
    """
    table = _KEY_TABLES.get("t2s")
    if table is None:
        with _KEY_TABLES_LOCK:
            table = _KEY_TABLES.get("t2s")
            if table is None:
                table = _KEY_TABLES["t2s"] = _build_key_table()
    return table


def _gb2312_level(c: str) -> int:
    """1 for GB2312's 3,755 common characters, 2 for its other 3,008, 3 for
    the rest: how common a simplified character is.

    >>> _gb2312_level("资"), _gb2312_level("赀"), _gb2312_level("資")
    (1, 2, 3)
    """
    try:
        code = c.encode("gb2312")
    except UnicodeEncodeError:
        return 3
    return 1 if len(code) == 2 and 0xB0 <= code[0] <= 0xD7 else 2


def _build_key_table() -> np.ndarray:
    pairs = cached_codes("key-t2s", _dictionaries_fingerprint("t2s"), _key_pairs)
    if pairs is None:
        pairs = _key_pairs_char_by_char()
    # The folding table with the pairs' sources folded as their targets
    # (_FOLD_ARRAY gathered through a t2s table of every code point made
    # the same values, in twice the time).
    table = _FOLD_ARRAY.copy()
    table[pairs[0]] = _FOLD_ARRAY[pairs[1]]
    return table


def _key_pairs_char_by_char() -> np.ndarray:
    """``[sources, targets]`` when the dictionaries cannot be read: OpenCC's
    t2s on each CJK character alone, where it gives one other character."""
    cps = np.concatenate([np.arange(lo, hi) for lo, hi in ((0x2E80, 0xA000), (0xF900, 0xFB00), (0x20000, 0x32400))])
    src = [chr(c) for c in cps.tolist()]
    # Newlines keep every character its own segment: no entry spans one.
    dst = _opencc_reference("t2s", "\n".join(src)).split("\n")
    changed = [(ord(a), ord(b)) for a, b in zip(src, dst) if len(b) == 1 and b != a] if len(dst) == len(src) else []
    return np.array(changed, dtype=np.uint32).reshape(-1, 2).T


def _key_pairs() -> np.ndarray | None:
    """``[sources, targets]``: each character OpenCC's t2s dictionaries
    rewrite (or are rewritten to), and the one character standing for its
    class; None when the dictionaries cannot be read."""
    entries = _dictionary_entries("t2s")
    if entries is None:
        return None
    # Characters that some entry puts in each other's place are one key
    # character: 藉 and 借 (藉助 -> 借助), 乾, 幹 and 干. Char by char
    # alone, the traditional 藉助 would keep its 藉 and miss the
    # simplified 借助. The classes are small (7 characters at most).
    parent: dict[str, str] = {}

    def root(c: str) -> str:
        while parent.get(c, c) != c:
            up = parent[c]
            parent[c] = parent.get(up, up)  # path halving
            c = up
        return c

    # Each (from, to) character pair once, counted: entries repeat them.
    pairs = Counter(
        (a, b)
        for key, values in entries
        for value in values
        if len(value) == len(key)
        for a, b in zip(key, value)
        if a != b
    )
    rewritten = {a for a, _ in pairs}
    targets: Counter[str] = Counter()
    for (a, b), n in pairs.items():
        targets[b] += n
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[ra] = rb
    members: dict[str, list[str]] = {}
    for c in set(parent) | {root(c) for c in list(parent)}:
        members.setdefault(root(c), []).append(c)
    src: list[int] = []
    dst: list[int] = []
    for group in members.values():
        # The simplified form (one no entry rewrites) in most common use
        # stands for the class: 资, not 赀, for 資.
        plain = [c for c in group if c not in rewritten]
        rep = plain[0] if len(plain) == 1 else min(plain or group, key=lambda c: (_gb2312_level(c), -targets[c], ord(c)))
        src.extend(map(ord, group))
        dst.extend([ord(rep)] * len(group))
    return np.array([src, dst], dtype=np.int32).reshape(2, -1)


def _mask_sub(m: re.Match[str]) -> str:
    if m.group("zero") is not None:
        return "〇" * (m.end() - m.start())
    return WILDCARD


def _key(text: str, want_map: bool) -> tuple[str, np.ndarray | None]:
    key_codes, offsets = _key_codes(text, want_map)
    return _from_codes(key_codes), offsets


def _key_codes(text: str, want_map: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """The match key's code points (``uint32``) and, with ``want_map``, the
    source offset of each."""
    codes = _key_table()[_to_codes(text)]
    folded = _from_codes(codes)
    offsets = np.arange(len(folded), dtype=np.int64) if want_map else None

    # Mask folding (length changes only here, so track offsets per match).
    matches = _mask_matches(folded, codes)
    if matches:
        pieces: list[str] = []
        keep_idx: list[np.ndarray] = []
        pos = 0
        for m in matches:
            a, b = m.span()
            pieces.append(folded[pos:a])
            rep = _mask_sub(m)
            pieces.append(rep)
            if want_map:
                keep_idx.append(np.arange(pos, a, dtype=np.int64))
                keep_idx.append(np.arange(a, b, dtype=np.int64) if len(rep) == b - a else np.array([a], dtype=np.int64))
            pos = b
        pieces.append(folded[pos:])
        folded = "".join(pieces)
        codes = _to_codes(folded)
        if want_map:
            assert offsets is not None
            keep_idx.append(np.arange(pos, len(offsets), dtype=np.int64))
            offsets = offsets[np.concatenate(keep_idx)]

    # Drop punctuation, symbols, whitespace, controls; collapse wildcard runs.
    keep = _KEEP[codes]
    wild = codes == _WILD_CODE
    key_codes = codes[keep]
    out_offsets = offsets[keep] if offsets is not None else None
    if wild.any():
        kw = key_codes == _WILD_CODE
        single = np.ones(len(key_codes), dtype=bool)
        single[1:] = ~(kw[1:] & kw[:-1])
        key_codes = key_codes[single]
        out_offsets = out_offsets[single] if out_offsets is not None else None
    return key_codes, out_offsets


def match_key(text: str) -> str:
    """The normalised key used to match passages; never output.

    Traditional and simplified, full- and half-width, upper and lower case,
    and all punctuation and whitespace compare equal; template masks fold to
    one :data:`WILDCARD`.

    >>> match_key("XX市長在會上說：“同志們，ＡＢＣ！”")
    '□市长在会上说同志们abc'
    """
    return _key(text, False)[0]


def match_key_codes(text: str) -> np.ndarray:
    """:func:`match_key` as code points (``uint32``), for callers that hash
    the key rather than read it (no string made to be taken apart again).

    >>> "".join(map(chr, match_key_codes("XX市長：ＡＢＣ"))) == match_key("XX市長：ＡＢＣ")
    True
    """
    return _key_codes(text, False)[0]


def match_key_with_map(text: str) -> tuple[str, list[int]]:
    """:func:`match_key` plus the source offset of every key character.

    ``offsets[i]`` is the index in ``text`` of the character key character
    ``i`` came from; a wildcard points at the first character of its
    (collapsed) mask run. Offsets never decrease. A key span ``[i, j)``
    maps back to ``text[offsets[i]:offsets[j - 1] + 1]``; when the span ends
    on a wildcard, or should take in trailing punctuation, extend the end to
    ``offsets[j]`` (the next key character's source) or ``len(text)``.

    >>> match_key_with_map("__市，長")
    ('□市长', [0, 2, 4])
    """
    key, offsets = _key(text, True)
    assert offsets is not None
    return key, offsets.tolist()


def may_convert(texts: Sequence[str], script: str) -> list[bool]:
    """For each text, whether :func:`convert_script` may change it: False
    means it comes back as it is (it has no character that the script's
    dictionaries rewrite, see :func:`opencc_changers`). One table look-up
    over all the texts, so that a batch converts only the texts that need it.

    >>> may_convert(["资源型城市", "資源型城市", ""], "simplified")
    [False, True, False]
    """
    config = _script_config(script)
    if config is None:
        return [False] * len(texts)
    changers = opencc_changers(config)
    if changers is None:
        return [bool(t) for t in texts]
    lens = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    out = np.zeros(len(texts), dtype=bool)
    filled = np.flatnonzero(lens)
    if len(filled):
        hits = changers[_to_codes("".join(texts))]
        starts = (np.cumsum(lens) - lens)[filled]
        out[filled] = np.logical_or.reduceat(hits, starts)
    return out.tolist()


def convert_script(text: str, script: str) -> str:
    """Convert output text to the requested script.

    ``"original"`` returns ``text`` unchanged, ``"simplified"`` applies
    OpenCC ``t2s``, ``"traditional"`` OpenCC ``s2t``. Anything else raises
    :class:`ValueError`. Punctuation, width and masks are left alone.

    >>> convert_script("資源型城市轉型", "simplified")
    '资源型城市转型'
    >>> convert_script("资源型城市转型", "traditional")
    '資源型城市轉型'
    """
    config = _script_config(script)
    if config is None or not text:
        return text
    return _opencc(config, text)


def _script_config(script: str) -> str | None:
    """The OpenCC config that converts to ``script`` (None for ``"original"``);
    ValueError for a script that is not one of :data:`SCRIPTS`."""
    if script == "original":
        return None
    config = _SCRIPT_CONFIG.get(script)
    if config is None:
        raise ValueError(f"script must be one of {', '.join(SCRIPTS)}, not {script!r}")
    return config
