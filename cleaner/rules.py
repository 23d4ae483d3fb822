"""Built-in cleaning rules: a rule pack kept as data, and a small engine.

The rules live in ``cleaner/rules.toml`` (format: docs/rules.md). Each rule
has an id, a *category* (the removal reason written into records:
``boilerplate``, ``watermark``, ``markup``, ``page-number``, ``artefact``) and a
*scope*, which says how the caller uses it:

* ``inline``: a span inside a text (a watermark mid-sentence, a tag, a stray
  ``?``): :meth:`RulePack.find_inline` finds them, :meth:`RulePack.clean`
  removes or replaces them and rejoins the text;
* ``line``: a whole block that is noise (``— — 6``, ``查看全文``):
  :meth:`RulePack.match_line`;
* ``edge``: a site notice that is noise only at an article's head or tail
  (``下面是小编给大家整理的…,仅供参考。``): :meth:`RulePack.match_edge`; the
  caller decides whether the block is at an edge.

>>> pack = RulePack.load()
>>> pack.clean("信息化(本文权属文秘之音所有,更多文章请登陆www.xiexiebang.com查看)的发展")[0]
'信息化的发展'
>>> pack.match_line("— — 6").id
'page-dash'
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import itertools
import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

__all__ = [
    "CATEGORIES",
    "SCOPES",
    "Rule",
    "RuleMatch",
    "RulePack",
    "RuleScanner",
    "TextGate",
    "any_of",
    "default_pack",
    "glued_page_number",
    "required_strings",
]

#: Removal reasons a rule may carry (the ``reason`` of a record's removal).
CATEGORIES: tuple[str, ...] = ("boilerplate", "watermark", "markup", "page-number", "artefact")
#: How a rule is applied (see the module docstring).
SCOPES: tuple[str, ...] = ("inline", "line", "edge")

#: ``replacement`` value asking the engine to decode an HTML entity.
UNESCAPE = "@html-unescape"

# Inline rules that cover at least this share of a trimmed block make the
# whole block noise for match_line (an <image> line, a lone URL line).
_LINE_COVERAGE = 0.9
# find_inline searches rule by rule when a text's characters allow at most
# this many inline rules, else scans with the combined alternation.
_FEW_RULES = 4
# Default length limit of an edge notice, when a rule gives none.
_EDGE_MAX_LEN = 200
# How far back an ``unless_before`` guard looks (its pattern is anchored
# with $ at the match start).
_GUARD_WINDOW = 40

_RULE_KEYS = frozenset(
    {
        "id",
        "category",
        "scope",
        "description",
        "pattern",
        "replacement",
        "ignorecase",
        "traditional",
        "unless_before",
        "unless_match",
        "cues",
        "weak_cues",
        "min_cues",
        "max_len",
    }
)


@dataclass(frozen=True)
class Rule:
    """One rule of a :class:`RulePack`.

    ``replacement`` is ``None`` (or ``""``) to remove the span, a literal
    string to put in its place, or ``"@html-unescape"`` to decode an HTML
    entity. The optional fields refine matching: ``unless_before`` rejects
    an inline match when it matches the text just before it (a real question
    before a ``?``), ``unless_match`` when it is found inside the match (a
    ``.gov`` domain); ``cues``, ``weak_cues`` and ``min_cues`` score an edge
    notice (at least one cue, and ``min_cues`` cues and weak cues together);
    ``max_len`` caps the length of an edge block.

    >>> Rule("x", "artefact", "inline", re.compile("a"), "an a", None).category
    'artefact'
    """

    id: str
    category: str
    scope: str
    pattern: re.Pattern[str]
    description: str
    replacement: str | None = None
    unless_before: re.Pattern[str] | None = None
    unless_match: re.Pattern[str] | None = None
    cues: tuple[re.Pattern[str], ...] = ()
    weak_cues: tuple[re.Pattern[str], ...] = ()
    min_cues: int = 1
    max_len: int | None = None

    @property
    def guarded(self) -> bool:
        """Whether a guard may veto a match of this rule."""
        return self.unless_before is not None or self.unless_match is not None


@dataclass(frozen=True)
class RuleMatch:
    """A span ``[start, end)`` of the text given, matched by ``rule``.

    ``replacement`` is what :meth:`RulePack.clean` puts in its place
    (``""``: removed).

    >>> m = RulePack.load().find_inline("增长29?4%")[0]
    >>> (m.start, m.end, m.rule.id, m.replacement)
    (4, 5, 'decimal-question', '.')
    """

    start: int
    end: int
    rule: Rule
    replacement: str = ""


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_DEFINE_REF = re.compile(r"\{\{([A-Za-z_][A-Za-z0-9_]*)\}\}")


@functools.lru_cache(maxsize=1)
def _opencc_converters() -> tuple[Any, ...]:
    import opencc  # a core dependency; imported lazily to keep import cheap

    return tuple(opencc.OpenCC(c) for c in _VARIANT_CONFIGS)


_VARIANT_CONFIGS = ("s2t", "s2tw", "s2hk", "t2s")


def _han_variants(chars: set[str]) -> dict[str, str]:
    """Other script forms of each Han character (为 -> 爲為), via OpenCC.

    Kept in the table cache (:mod:`cleaner.tablecache`), one table per set
    of characters, keyed on the four configs' dictionaries: built, it needs
    four OpenCC converters, two of which (s2tw, s2hk) nothing else uses, and
    every run that loads a rule pack paid for them (0.08-0.3 s).

    >>> _han_variants({"为", "的"})
    {'为': '為爲'}
    """
    ordered = sorted(chars)
    if not ordered:
        return {}
    from .tablecache import cached_codes

    joined = "\n".join(ordered)
    name = "han-variants-" + hashlib.sha1(joined.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    codes = cached_codes(name, _variants_fingerprint(joined), lambda: _variant_codes(_han_variants_built(ordered)))
    assert codes is not None  # (the build always gives an array)
    return _variants_from_codes(codes)


def _variants_fingerprint(joined: str) -> str | None:
    """What :func:`_han_variants_built` reads: the configs and their
    dictionaries, the OpenCC version, this module, the characters."""
    import opencc

    from .normalize import _dictionary_sources
    from .tablecache import fingerprint

    try:
        sources = [p for c in _VARIANT_CONFIGS for p in _dictionary_sources(c)]
    except (OSError, ValueError):
        return None
    return fingerprint([*sources, Path(__file__)], [str(getattr(opencc, "__version__", "")), joined])


def _variant_codes(variants: dict[str, str]) -> np.ndarray:
    """``variants`` as one array: per character, its code point, the number
    of its variants and their code points."""
    flat: list[int] = []
    for c, v in variants.items():
        flat += [ord(c), len(v), *map(ord, v)]
    return np.array(flat, dtype=np.int32)


def _variants_from_codes(codes: np.ndarray) -> dict[str, str]:
    """Inverse of :func:`_variant_codes`."""
    flat = codes.tolist()
    out: dict[str, str] = {}
    i = 0
    while i < len(flat):
        n = flat[i + 1]
        out[chr(flat[i])] = "".join(map(chr, flat[i + 2 : i + 2 + n]))
        i += 2 + n
    return out


def _han_variants_built(ordered: list[str]) -> dict[str, str]:
    """:func:`_han_variants` from OpenCC itself. One conversion call per
    config for all characters: joined by newlines, which no conversion
    crosses, so each converts on its own."""
    found: dict[str, set[str]] = {c: set() for c in ordered}
    joined = "\n".join(ordered)
    for cc in _opencc_converters():
        out = cc.convert(joined).split("\n")
        if len(out) != len(ordered):  # should not happen; be safe
            out = [cc.convert(c) for c in ordered]
        for c, v in zip(ordered, out):
            if len(v) == 1 and v != c:
                found[c].add(v)
    return {c: "".join(sorted(v)) for c, v in found.items() if v}


def _expand_traditional(pattern: str, variants: dict[str, str]) -> str:
    """Let every literal Han character of ``pattern`` match its variants.

    Outside a character class ``为`` becomes ``[为爲為]``; inside one the
    variants are appended, except for a range end point (``[一-龥]``).
    Escapes are copied untouched.

    >>> _expand_traditional("[^为]欢迎", {"为": "爲為", "欢": "歡"})
    '[^为爲為][欢歡]迎'
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
                out.append(c)
            elif c in variants and pattern[i - 1 : i] != "-" and pattern[i + 1 : i + 2] != "-":
                out.append(c + variants[c])
            else:
                out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            if pattern[i : i + 1] == "^":
                out.append("^")
                i += 1
            if pattern[i : i + 1] == "]":  # a literal ] first in a class
                out.append("]")
                i += 1
            continue
        out.append(f"[{c}{variants[c]}]" if c in variants else c)
        i += 1
    return "".join(out)


def _expand_defines(text: str, defines: dict[str, str], where: str) -> str:
    for _ in range(10):  # defines may use defines; bounded against cycles
        if "{{" not in text:
            return text

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in defines:
                raise ValueError(f"{where}: unknown define {{{{{name}}}}}")
            return f"(?:{defines[name]})"

        text = _DEFINE_REF.sub(sub, text)
    raise ValueError(f"{where}: defines nest too deep (a cycle?)")


def _compile(source: str, flags: int, where: str) -> re.Pattern[str]:
    try:
        compiled = re.compile(source, flags)
    except re.error as exc:
        raise ValueError(f"{where}: bad regular expression: {exc}") from None
    if compiled.groupindex:
        # Named groups would collide in the combined inline regex.
        raise ValueError(f"{where}: named groups are not allowed; use (?:...)")
    return compiled


def _parse_rules(data: dict[str, Any], source: str) -> list[Rule]:
    """Validate the parsed TOML and build the rules (ValueError on a fault)."""
    raw_rules = data.get("rule")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise ValueError(f"{source}: no [[rule]] tables")
    defines = data.get("define", {})
    if not isinstance(defines, dict) or not all(isinstance(v, str) for v in defines.values()):
        raise ValueError(f"{source}: [define] must map names to strings")
    pack_traditional = bool(data.get("traditional", True))

    # Pass 1: check fields and gather the pattern sources.
    specs: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_rules):
        rid = raw.get("id") if isinstance(raw, dict) else None
        where = f"{source}: rule {rid!r}" if rid else f"{source}: rule #{i + 1}"
        if not isinstance(raw, dict):
            raise ValueError(f"{where}: not a table")
        if not isinstance(rid, str) or not rid:
            raise ValueError(f"{where}: missing field 'id'")
        if rid in seen:
            raise ValueError(f"{where}: duplicate id")
        seen.add(rid)
        unknown = set(raw) - _RULE_KEYS
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        for key in ("category", "scope", "description"):
            if not isinstance(raw.get(key), str) or not raw[key]:
                raise ValueError(f"{where}: missing field {key!r}")
        if raw["category"] not in CATEGORIES:
            raise ValueError(f"{where}: category must be one of {', '.join(CATEGORIES)}")
        if raw["scope"] not in SCOPES:
            raise ValueError(f"{where}: scope must be one of {', '.join(SCOPES)}")
        cues = raw.get("cues", [])
        weak = raw.get("weak_cues", [])
        for key, value in (("cues", cues), ("weak_cues", weak)):
            if not isinstance(value, list) or not all(isinstance(c, str) and c for c in value):
                raise ValueError(f"{where}: {key!r} must be a list of patterns")
            if value and raw["scope"] != "edge":
                raise ValueError(f"{where}: only edge rules take {key!r}")
        if weak and not cues:
            raise ValueError(f"{where}: 'weak_cues' need 'cues'")
        pattern = raw.get("pattern")
        if pattern is None and cues:
            pattern = "|".join(f"(?:{c})" for c in cues)
        if not isinstance(pattern, str) or not pattern:
            raise ValueError(f"{where}: missing field 'pattern'")
        replacement = raw.get("replacement")
        if replacement is not None and not isinstance(replacement, str):
            raise ValueError(f"{where}: 'replacement' must be a string")
        if replacement and raw["scope"] != "inline":
            raise ValueError(f"{where}: only inline rules take a 'replacement'")
        guards = []
        for key in ("unless_before", "unless_match"):
            g = raw.get(key)
            if g is not None and (not isinstance(g, str) or not g or raw["scope"] != "inline"):
                raise ValueError(f"{where}: {key!r} must be a pattern on an inline rule")
            guards.append(g)
        min_cues = raw.get("min_cues", 1)
        max_len = raw.get("max_len")
        if not isinstance(min_cues, int) or min_cues < 1 or (cues and min_cues > len(cues) + len(weak)):
            raise ValueError(f"{where}: bad 'min_cues'")
        if max_len is not None and (not isinstance(max_len, int) or max_len < 1):
            raise ValueError(f"{where}: bad 'max_len'")
        sources = [
            _expand_defines(p, defines, where) for p in [pattern, *cues, *weak, *[g for g in guards if g]]
        ]
        specs.append(
            {
                "raw": raw,
                "where": where,
                "sources": sources,
                "traditional": bool(raw.get("traditional", pack_traditional)),
                "n_cues": len(cues),
                "n_weak": len(weak),
                "guards": [g is not None for g in guards],
            }
        )

    # Pass 2: script variants for every Han character, in one batch.
    han: set[str] = set()
    for spec in specs:
        if spec["traditional"]:
            for s in spec["sources"]:
                han.update(_HAN.findall(s))
    variants = _han_variants(han) if han else {}

    rules: list[Rule] = []
    for spec in specs:
        raw, where = spec["raw"], spec["where"]
        flags = re.MULTILINE | (re.IGNORECASE if raw.get("ignorecase") else 0)
        srcs = spec["sources"]
        if spec["traditional"]:
            srcs = [_expand_traditional(s, variants) for s in srcs]
        compiled = [_compile(s, flags, where) for s in srcs]
        pattern_c = compiled[0]
        n_cues, n_weak = spec["n_cues"], spec["n_weak"]
        cue_c = tuple(compiled[1 : 1 + n_cues])
        weak_c = tuple(compiled[1 + n_cues : 1 + n_cues + n_weak])
        rest = iter(compiled[1 + n_cues + n_weak :])
        before_c, within_c = (next(rest) if has else None for has in spec["guards"])
        max_len = raw.get("max_len")
        if raw["scope"] == "edge" and max_len is None:
            max_len = _EDGE_MAX_LEN
        rules.append(
            Rule(
                id=raw["id"],
                category=raw["category"],
                scope=raw["scope"],
                pattern=pattern_c,
                description=raw["description"],
                replacement=raw.get("replacement") or None,
                unless_before=before_c,
                unless_match=within_c,
                cues=cue_c,
                weak_cues=weak_c,
                min_cues=raw.get("min_cues", 2 if cue_c else 1),
                max_len=max_len,
            )
        )
    return rules


# ---------------------------------------------------------------------------
# First characters of a pattern (for the inline prefilter)
# ---------------------------------------------------------------------------


def _class_char(cp: int) -> str:
    ch = chr(cp)
    # Escape ASCII punctuation: [ ] ^ - \\ and the doubled & ~ | that future
    # Pythons read as set operations.
    return "\\" + ch if cp < 128 and not ch.isalnum() and ch != " " else ch


def _case_variants(cp: int) -> set[int]:
    ch = chr(cp)
    return {ord(c) for c in (ch, ch.lower(), ch.upper(), ch.swapcase()) if len(c) == 1}


def _first_chars(pattern: re.Pattern[str]) -> str | None:
    r"""A character-class body holding every character a match can start with.

    Reads the parsed pattern (the ``re`` module's parser, an internal API;
    any surprise returns ``None`` and the caller scans without a prefilter).
    ``None`` too when a match can start with any character or be empty.

    >>> _first_chars(re.compile(r"(?<=[0-9])\?|ab?|[x-z]+"))
    '\\?ax-z'
    """
    try:
        from re import _constants as C, _parser as P  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - other Python versions
        return None
    categories = {
        C.CATEGORY_DIGIT: r"\d",
        C.CATEGORY_NOT_DIGIT: r"\D",
        C.CATEGORY_SPACE: r"\s",
        C.CATEGORY_NOT_SPACE: r"\S",
        C.CATEGORY_WORD: r"\w",
        C.CATEGORY_NOT_WORD: r"\W",
    }
    items: list[str] = []

    def add_char(cp: int, icase: bool) -> None:
        for v in _case_variants(cp) if icase else {cp}:
            items.append(_class_char(v))

    def add_range(lo: int, hi: int, icase: bool) -> None:
        items.append(f"{_class_char(lo)}-{_class_char(hi)}")
        if icase:  # letters of the range in the other case (ASCII and full width)
            for a, b, shift in ((65, 90, 32), (97, 122, -32), (0xFF21, 0xFF3A, 32), (0xFF41, 0xFF5A, -32)):
                x, y = max(lo, a), min(hi, b)
                if x <= y:
                    items.append(f"{_class_char(x + shift)}-{_class_char(y + shift)}")

    def seq(sub: Any, icase: bool) -> bool:
        """Add the first characters of a sequence; True if it can be empty."""
        for op, av in sub:
            if not one(op, av, icase):
                return False
        return True

    def one(op: Any, av: Any, icase: bool) -> bool:
        """Add the first characters of one node; True if it can be empty."""
        if op is C.LITERAL:
            add_char(av, icase)
            return False
        if op is C.IN:
            for iop, iav in av:
                if iop is C.LITERAL:
                    add_char(iav, icase)
                elif iop is C.RANGE:
                    add_range(iav[0], iav[1], icase)
                elif iop is C.CATEGORY and iav in categories:
                    items.append(categories[iav])
                else:  # NEGATE and friends: could be anything
                    raise LookupError
            return False
        if op is C.BRANCH:
            empty = False
            for alt in av[1]:
                empty |= seq(alt, icase)
            return empty
        if op is C.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            icase = bool((icase or add_flags & re.IGNORECASE) and not del_flags & re.IGNORECASE)
            return seq(sub, icase)
        if op in (C.MAX_REPEAT, C.MIN_REPEAT, getattr(C, "POSSESSIVE_REPEAT", None)):
            lo, _hi, sub = av
            return seq(sub, icase) or lo == 0
        if op is getattr(C, "ATOMIC_GROUP", None):
            return seq(av, icase)
        if op in (C.AT, C.ASSERT, C.ASSERT_NOT):
            return True  # zero width: look at what follows
        raise LookupError  # ANY, NOT_LITERAL, group references ...

    try:
        parsed = P.parse(pattern.pattern, pattern.flags)
        if seq(parsed, bool(pattern.flags & re.IGNORECASE)):
            return None  # may match the empty string
    except (LookupError, AttributeError, TypeError, ValueError, re.error):
        return None
    return "".join(dict.fromkeys(items))


# ---------------------------------------------------------------------------
# Alternations (one scan instead of one per pattern)
# ---------------------------------------------------------------------------


def _has_group_refs(pattern: re.Pattern[str]) -> bool:
    """Whether ``pattern`` refers back to one of its groups (``\\1``,
    ``(?(1)...)``): such a pattern changes meaning inside an alternation,
    where its groups are renumbered. ``True`` when unsure."""
    if pattern.groups == 0:
        return False  # nothing to refer to (and named groups are refused)
    try:
        from re import _constants as C  # type: ignore[attr-defined]
        from re import _parser as P  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - other Python versions
        return True
    refs = [getattr(C, n) for n in dir(C) if n.startswith("GROUPREF")]

    def walk(node: Any) -> bool:
        if isinstance(node, P.SubPattern):
            node = node.data
        if isinstance(node, (list, tuple)):
            # Opcodes are singletons: compare by identity, since an opcode
            # equals any plain int of its value.
            if node and any(node[0] is r for r in refs):
                return True
            return any(walk(x) for x in node)
        return False

    try:
        return walk(P.parse(pattern.pattern, pattern.flags))
    except (LookupError, AttributeError, TypeError, ValueError, RecursionError, re.error):
        return True  # the parser is internal: any surprise means "unsure"


def any_of(patterns: Sequence[re.Pattern[str]]) -> re.Pattern[str] | None:
    """One regex that matches (``search``, ``match``, ``fullmatch``) exactly
    where at least one of ``patterns`` does, or ``None`` when they cannot be
    combined safely (mixed flags other than IGNORECASE, verbose patterns,
    back-references, global inline flags); callers then test each pattern.

    Meant as a filter: one scan of a text instead of one per pattern. The
    match it returns says nothing about *which* pattern matched.

    >>> p = any_of([re.compile("ab"), re.compile("c", re.IGNORECASE)])
    >>> bool(p.search("xxC")), p.search("xb") is None, bool(p.fullmatch("ab"))
    (True, True, True)
    >>> any_of([re.compile(r"(a)\\1")]) is None
    True
    """
    if not patterns:
        return None
    base = patterns[0].flags & ~re.IGNORECASE
    if base & re.VERBOSE:
        return None  # a trailing comment would swallow the closing parenthesis
    parts: list[str] = []
    for p in patterns:
        if p.flags & ~re.IGNORECASE != base or _has_group_refs(p):
            return None
        # Scoped flags keep each pattern's own case folding.
        scoped = "(?i:" if p.flags & re.IGNORECASE else "(?:"
        parts.append(f"{scoped}{p.pattern})")
    try:
        return re.compile("(?:" + "|".join(parts) + ")", base)
    except re.error:  # e.g. a global inline flag such as (?i) mid-pattern
        return None


def _uncased(cp: int) -> bool:
    """A character that IGNORECASE matching treats like any other: no case
    mapping leads to or from it."""
    ch = chr(cp)
    return ch.lower() == ch and ch.upper() == ch and ch.casefold() == ch


# Limits of required_strings: larger sets say too little to be worth a bit.
_MAX_CLASS = 64  # characters of a class
_MAX_STRINGS = 64  # strings of one set
_MAX_COMBOS = 4  # sets an alternation may distribute into


def _strength(strings: frozenset[str]) -> tuple[int, int]:
    """How much a required set tells: longer strings, then fewer of them."""
    return (min(map(len, strings)), -len(strings))


def required_strings(pattern: re.Pattern[str]) -> list[frozenset[str]]:
    r"""Sets of strings every match of ``pattern`` contains: at least one
    string of each set (an empty list: nothing is known). A text that lacks
    every string of one set cannot match. Strings are one or two characters:
    pairs come from two characters the pattern must match side by side.

    Read from the parsed pattern (the ``re`` parser, an internal API; any
    surprise gives an empty list, which is always safe). Only what a match
    must consume counts: optional parts, look-arounds, negated and large
    classes give nothing. An alternation gives, for a few combinations of
    one set per branch, their unions. Under IGNORECASE only characters
    without case forms count.

    >>> [sorted(s) for s in required_strings(re.compile(r"[^\s]{1,8}(?:站|吧)(?:小编)?(?:整理|收集)"))]
    [['吧', '站'], ['收集', '整理']]
    >>> [sorted(s) for s in required_strings(re.compile(r"相[关關]文章|上一篇"))]
    [['上一', '文章']]
    >>> required_strings(re.compile(r"a?b*"))
    []
    """
    try:
        from re import _constants as C  # type: ignore[attr-defined]
        from re import _parser as P  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - other Python versions
        return []
    repeats = tuple(getattr(C, n) for n in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") if hasattr(C, n))
    atomic = getattr(C, "ATOMIC_GROUP", None)

    def chars(op: Any, av: Any, icase: bool) -> frozenset[str] | None:
        """The characters one node matches, when it matches exactly one."""
        if op is C.LITERAL:
            return frozenset(chr(av)) if not icase or _uncased(av) else None
        if op is not C.IN:
            return None
        found: set[str] = set()
        for iop, iav in av:
            if iop is C.LITERAL and (not icase or _uncased(iav)):
                found.add(chr(iav))
            elif iop is C.RANGE and iav[1] - iav[0] < _MAX_CLASS:
                if icase and not all(_uncased(cp) for cp in range(iav[0], iav[1] + 1)):
                    return None
                found.update(chr(cp) for cp in range(iav[0], iav[1] + 1))
            else:  # NEGATE, categories, wide ranges, cased letters
                return None
        return frozenset(found) if 0 < len(found) <= _MAX_CLASS else None

    def seq(sub: Any, icase: bool) -> list[frozenset[str]]:
        out: list[frozenset[str]] = []
        run: list[frozenset[str]] = []  # consecutive one-character nodes

        def flush() -> None:
            # Side by side characters give pairs: keep the smallest pair set
            # (else the smallest single set).
            pairs = [frozenset(x + y for x in a for y in b) for a, b in itertools.pairwise(run) if len(a) * len(b) <= _MAX_STRINGS]
            if pairs:
                out.append(min(pairs, key=len))
            elif run:
                out.append(min(run, key=len))
            run.clear()

        for op, av in sub:
            cs = chars(op, av, icase)
            if cs is not None:
                run.append(cs)
                continue
            flush()
            out.extend(one(op, av, icase))
        flush()
        return out

    def one(op: Any, av: Any, icase: bool) -> list[frozenset[str]]:
        if op is C.BRANCH:
            options: list[list[frozenset[str]]] = []
            for alt in av[1]:
                sets = seq(alt, icase)
                if not sets:
                    return []  # this branch may match without any known string
                options.append(sorted(sets, key=_strength, reverse=True))
            # Each combination of one set per branch is required (a match
            # takes some branch); try the strongest few.
            combos: list[frozenset[str]] = [frozenset()]
            for sets in options:
                wider = [c | s for c in combos for s in sets[:_MAX_COMBOS]]
                combos = sorted(wider, key=_strength, reverse=True)[:_MAX_COMBOS]
            return [c for c in combos if len(c) <= _MAX_STRINGS]
        if op is C.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            icase = bool((icase or add_flags & re.IGNORECASE) and not del_flags & re.IGNORECASE)
            return seq(sub, icase)
        if op in repeats:
            lo, _hi, sub = av
            return seq(sub, icase) if lo >= 1 else []
        if atomic is not None and op is atomic:
            return seq(av, icase)
        return []  # look-arounds, anchors, ANY, back-references ...

    try:
        found = seq(P.parse(pattern.pattern, pattern.flags), bool(pattern.flags & re.IGNORECASE))
    except (LookupError, AttributeError, TypeError, ValueError, RecursionError, re.error):
        return []  # the parser is internal: any surprise means "nothing known"
    return list(dict.fromkeys(found))


class TextGate:
    """Which of several patterns may match a text, judged from the
    characters and character pairs it contains (see
    :func:`required_strings`): a cheap necessary condition, so callers
    search only the patterns that can match.

    Each distinct required set is one bit; a text's bits are the sets it
    has a string of; a pattern may match when all its sets' bits are there.
    At most ``max_sets`` sets are used, the strongest first; a pattern left
    with none may always match. :meth:`masks` reads many texts in one numpy
    pass (use it for batches: one text costs tens of microseconds).

    >>> gate = TextGate([re.compile("本站"), re.compile("小[编編]"), re.compile(".")])
    >>> [bin(m) for m in gate.masks(["欢迎来本站", "小編推荐", "本小站"])]
    ['0b101', '0b110', '0b100']
    """

    def __init__(self, patterns: Sequence[re.Pattern[str]], max_sets: int = 128) -> None:
        # Sets with characters beyond the BMP are left out (codes are read
        # clamped to 0x10000, where pairs could not be told apart).
        per_pattern = [[s for s in required_strings(p) if max(map(ord, "".join(s))) < 0x10000] for p in patterns]
        sets = sorted({s for ss in per_pattern for s in ss}, key=lambda s: (_strength(s), sorted(s)), reverse=True)
        sets = sets[:max_sets]
        index = {s: i for i, s in enumerate(sets)}
        self._need = [sum(1 << index[s] for s in ss if s in index) for ss in per_pattern]
        self._all = (1 << len(patterns)) - 1
        self._words = max(1, (len(sets) + 63) // 64)
        # Characters with bits get a row id (0: none) in a dense table over
        # the BMP (entry 0x10000, where every character beyond it is read,
        # stays 0); pairs are sorted codes, searched.
        singles: dict[int, np.ndarray] = {}
        pairs: dict[int, np.ndarray] = {}
        for s, i in index.items():
            word, bit = divmod(i, 64)
            for string in s:
                key = ord(string) if len(string) == 1 else ord(string[0]) << 21 | ord(string[1])
                row = (singles if len(string) == 1 else pairs).setdefault(key, np.zeros(self._words, dtype=np.uint64))
                row[word] |= np.uint64(1 << bit)
        self._char_row = np.zeros(0x10000 + 1, dtype=np.int32)
        for r, cp in enumerate(sorted(singles), 1):
            self._char_row[cp] = r
        self._row_bits = np.zeros((len(singles) + 1, self._words), dtype=np.uint64)
        for r, cp in enumerate(sorted(singles), 1):
            self._row_bits[r] = singles[cp]
        self._pair_keys = np.array(sorted(pairs), dtype=np.int64)
        self._pair_bits = np.array([pairs[k] for k in sorted(pairs)], dtype=np.uint64).reshape(-1, self._words)
        self._pair_first = np.zeros(0x10000 + 1, dtype=bool)
        self._pair_second = np.zeros(0x10000 + 1, dtype=bool)
        for key in pairs:
            self._pair_first[key >> 21] = True
            self._pair_second[key & 0x1FFFFF] = True
        # Each pattern's sets as words, for reading many texts' bits at once.
        self._need_words = np.array(
            [[need >> (64 * w) & (2**64 - 1) for w in range(self._words)] for need in self._need], dtype=np.uint64
        ).reshape(len(self._need), self._words)

    def mask(self, text: str) -> int:
        """Bit ``i`` is set when pattern ``i`` may match ``text``; a clear
        bit means it cannot."""
        return self.masks([text])[0]

    def masks(self, texts: Sequence[str]) -> list[int]:
        """:meth:`mask` of each text, all in one pass."""
        texts = list(texts)
        if not texts:
            return []
        lens = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
        codes = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype="<u4")
        if len(codes) != int(lens.sum()):  # cannot happen; be safe: everything may match
            return [self._all] * len(texts)
        codes = np.minimum(codes, 0x10000)
        ends = np.cumsum(lens)  # exclusive end of each text in codes
        # Only positions holding a gate character or pair carry bits: find
        # them, then OR their bits into their text's row.
        rows = self._char_row[codes]
        at = np.flatnonzero(rows)
        where = [at]
        bits = [self._row_bits[rows[at]]]
        if len(self._pair_keys) and len(codes) > 1:
            # A pair starts at its first character, not at a text's last one
            # (the next character belongs to the next text).
            first = self._pair_first[codes[:-1]]
            first &= self._pair_second[codes[1:]]  # few positions are left to search
            last = ends[(ends > 0) & (ends <= len(first))] - 1
            first[last] = False
            pos = np.flatnonzero(first)
            keys = codes[pos].astype(np.int64) << 21 | codes[pos + 1].astype(np.int64)
            j = np.searchsorted(self._pair_keys, keys)
            j[j == len(self._pair_keys)] = 0
            hit = self._pair_keys[j] == keys
            where.append(pos[hit])
            bits.append(self._pair_bits[j[hit]])
        positions = np.concatenate(where)
        per_text = np.zeros((len(texts), self._words), dtype=np.uint64)
        if len(positions):
            np.bitwise_or.at(per_text, np.searchsorted(ends, positions, side="right"), np.concatenate(bits))
        return self._patterns_of(per_text)

    def _patterns_of(self, bits: np.ndarray) -> list[int]:
        """The pattern mask of each row of text bits: few distinct rows
        occur (a few thousand in 35,000 texts), each read against every
        pattern's sets in one numpy pass."""
        rows, inverse = np.unique(bits, axis=0, return_inverse=True)
        need = self._need_words
        ok = ((rows[:, None, :] & need[None, :, :]) == need[None, :, :]).all(axis=2)
        packed = np.packbits(ok, axis=1, bitorder="little")
        masks = [int.from_bytes(row, "little") for row in packed.tolist()] if ok.shape[1] else [0] * len(rows)
        return [masks[i] for i in inverse.reshape(-1).tolist()]

    def _patterns_of_reference(self, bits: int) -> int:
        """:meth:`_patterns_of` of one row, written as an int: pattern ``i``
        may match when the text has every set it needs."""
        return sum(1 << i for i, need in enumerate(self._need) if need & bits == need)


# ---------------------------------------------------------------------------
# The pack
# ---------------------------------------------------------------------------


# Named entities the html-entity rule decodes. Kept here rather than taken
# from the stdlib ``html`` module, which cleaner/html.py shadows when this
# file runs as a script (python -m doctest cleaner/rules.py). A name missing
# here is left as it is.
_ENTITIES: dict[str, str] = {
    "ldquo": "\u201c", "rdquo": "\u201d", "lsquo": "\u2018", "rsquo": "\u2019",
    "laquo": "\u00ab", "raquo": "\u00bb", "lsaquo": "\u2039", "rsaquo": "\u203a",
    "bdquo": "\u201e", "sbquo": "\u201a", "hellip": "\u2026", "mdash": "\u2014",
    "ndash": "\u2013", "middot": "\u00b7", "bull": "\u2022", "quot": '"', "amp": "&",
    "lt": "<", "gt": ">", "apos": "'", "copy": "\u00a9", "reg": "\u00ae",
    "trade": "\u2122", "times": "\u00d7", "divide": "\u00f7", "deg": "\u00b0",
    "plusmn": "\u00b1", "yen": "\u00a5", "sect": "\u00a7", "para": "\u00b6",
    "permil": "\u2030", "prime": "\u2032", "larr": "\u2190", "rarr": "\u2192",
    "uarr": "\u2191", "darr": "\u2193", "harr": "\u2194", "shy": "", "zwj": "",
    "zwnj": "", "lrm": "", "rlm": "", "sup1": "\u00b9", "sup2": "\u00b2",
    "sup3": "\u00b3", "frac12": "\u00bd", "frac14": "\u00bc", "frac34": "\u00be",
    "micro": "\u00b5", "alpha": "\u03b1", "beta": "\u03b2", "gamma": "\u03b3",
    "delta": "\u03b4", "pi": "\u03c0", "sigma": "\u03c3", "omega": "\u03c9",
    "le": "\u2264", "ge": "\u2265", "ne": "\u2260", "asymp": "\u2248",
    "infin": "\u221e", "radic": "\u221a", "sum": "\u2211", "minus": "\u2212",
    "nbsp": "", "ensp": "", "emsp": "", "thinsp": "",
}
_ENTITY = re.compile(r"&(?:amp;)*(?:#(?P<dec>[0-9]+)|#[xX](?P<hex>[0-9a-fA-F]+)|(?P<name>[A-Za-z][A-Za-z0-9]*));?")


def _unescape(entity: str) -> str:
    """Decode a possibly double-escaped HTML entity; invisible results vanish.

    >>> _unescape("&amp;ldquo;"), _unescape("&#20013;"), _unescape("&#8203;"), _unescape("&foo;")
    ('“', '中', '', '&foo;')
    """
    m = _ENTITY.fullmatch(entity)
    if m is None:
        return entity
    if m.group("name") is not None:
        out = _ENTITIES.get(m.group("name").lower())
        return entity if out is None else out
    code = int(m.group("dec"), 10) if m.group("dec") is not None else int(m.group("hex"), 16)
    if code > 0x10FFFF or code == 0 or 0xD800 <= code <= 0xDFFF:
        return ""
    ch = chr(code)
    # Invisible or broken characters (zero-width, controls, spaces, U+FFFD)
    # are noise in Chinese text: the entity goes with nothing in its place.
    if unicodedata.category(ch) in ("Cc", "Cf", "Zs", "Zl", "Zp") or ch == "\ufffd":
        return ""
    return ch


class RulePack:
    """An ordered set of rules with the verbs the pipeline needs.

    Build one with :meth:`load`; the default pack is loaded once and cached.

    >>> pack = RulePack.load()
    >>> pack.get("url").category
    'watermark'
    """

    def __init__(self, rules: Sequence[Rule], source: str = "<rules>") -> None:
        self.source = source
        self.rules: tuple[Rule, ...] = tuple(rules)
        self._by_id = {r.id: r for r in self.rules}
        if len(self._by_id) != len(self.rules):
            raise ValueError(f"{source}: duplicate rule ids")
        self._inline = tuple(r for r in self.rules if r.scope == "inline")
        self._line = tuple(r for r in self.rules if r.scope == "line")
        self._edge = tuple(r for r in self.rules if r.scope == "edge")
        # A necessary condition for match_line: most blocks fullmatch no line
        # rule, and one anchored attempt rejects them (None when the patterns
        # cannot be combined: every rule is then tried). Not done for edge
        # rules: their searches each skip ahead on a literal prefix, which an
        # alternation loses (measured 5x slower).
        self._line_any = any_of([r.pattern for r in self._line])
        # One alternation of every inline rule, in file order: one scan per
        # text instead of one per rule. Each rule sits in its own group, so
        # the outermost group that matched names the rule; scoped flags keep
        # per-rule case folding.
        parts: list[str] = []
        for i, r in enumerate(self._inline):
            scoped = "(?i:" if r.pattern.flags & re.IGNORECASE else "(?:"
            parts.append(f"(?P<r{i}>{scoped}{r.pattern.pattern}))")
        # A look-ahead on the characters a match can start with lets the
        # engine reject most positions with one set test instead of trying
        # every alternative there (several times faster on Chinese text).
        firsts = [_first_chars(r.pattern) for r in self._inline]
        lead = "" if None in firsts else "(?=[" + "".join(firsts) + "])"  # type: ignore[arg-type]
        self._combined: re.Pattern[str] | None = (
            re.compile(lead + "(?:" + "|".join(parts) + ")", re.MULTILINE) if parts else None
        )
        self._group_rule: dict[int, tuple[int, Rule]] = {}
        if self._combined is not None:
            for name, gi in self._combined.groupindex.items():
                idx = int(name[1:])
                self._group_rule[gi] = (idx, self._inline[idx])
        self._firsts = firsts
        self._parts = parts
        self._scan_parts: tuple[TextGate, tuple[re.Pattern[str], ...], tuple[Any, ...]] | None = None
        self._few: dict[int, list[tuple[int, re.Pattern[str]]]] = {}  # mask -> its rules, alone

    # -- construction -----------------------------------------------------

    @classmethod
    def load(cls, path: str | Path | None = None) -> "RulePack":
        """Load a rule file (default: the packaged ``cleaner/rules.toml``).

        Packs are cached by path and modification time, so call this freely.
        A malformed rule raises :class:`ValueError` naming the rule id.

        >>> RulePack.load() is RulePack.load()
        True
        """
        if path is None:
            return _default_pack()
        p = Path(path).resolve()
        try:
            mtime = p.stat().st_mtime_ns
        except OSError as exc:
            raise ValueError(f"{path}: cannot read rule file: {exc.strerror or exc}") from None
        return _load_path(str(p), mtime)

    @classmethod
    def from_toml(cls, text: str, source: str = "<string>") -> "RulePack":
        """Build a pack from TOML text (for tests and user rule files).

        >>> toml = 'traditional = false\\n[[rule]]\\nid = "x"\\ncategory = "artefact"\\n'
        >>> toml += 'scope = "inline"\\ndescription = "d"\\npattern = "~+"\\n'
        >>> RulePack.from_toml(toml).clean("a~~b")[0]
        'ab'
        """
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{source}: not valid TOML: {exc}") from None
        return cls(_parse_rules(data, source), source)

    # -- lookup -------------------------------------------------------------

    def get(self, rule_id: str, default: Rule | None = None) -> Rule | None:
        """The rule with this id, or ``default``."""
        return self._by_id.get(rule_id, default)

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)

    def __repr__(self) -> str:
        return f"RulePack({self.source!r}, {len(self.rules)} rules)"

    # -- verbs --------------------------------------------------------------

    def find_inline(self, text: str) -> list[RuleMatch]:
        """Non-overlapping inline matches in ``text``, sorted by position.

        When two rules could match at one position the earlier rule in the
        file wins; a match rejected by its ``unless_before`` guard lets the
        later rules try the same position.

        >>> [(m.rule.id, m.start, m.end) for m in RulePack.load().find_inline("同志们:?")]
        [('question-after-punct', 4, 5)]
        """
        combined = self._combined
        if combined is None or not text:
            return []
        out: list[RuleMatch] = []
        search = combined.search
        group_rule = self._group_rule
        pos, n = 0, len(text)
        while pos <= n:
            m = search(text, pos)
            if m is None:
                break
            s, e = m.span()
            idx, rule = group_rule[m.lastindex]  # type: ignore[index]
            pos = self._take(text, s, e, idx, rule, out)
        return out

    def _find_few(self, text: str, mask: int) -> list[RuleMatch]:
        """:meth:`find_inline` with only the rules in ``mask`` able to match.

        Emulates the combined alternation: its match is the leftmost start
        over all rules, the earliest rule winning a tie, with that rule's
        own match there. Each rule's next match is kept until the scan
        passes its start (a match at a position does not depend on where
        the search began: anchors and look-behinds see the whole text).
        """
        rules = self._few.get(mask)
        if rules is None:
            alone = self._scan_setup()[1]
            rules = [(i, alone[i]) for i in range(len(alone)) if mask >> i & 1]
            if len(self._few) < 4096:  # bounded; dict writes are atomic
                self._few[mask] = rules
        heads: list[re.Match[str] | None] = [p.search(text) for _, p in rules]
        out: list[RuleMatch] = []
        if not any(heads):
            return out  # the usual case: no rule matches at all
        pos, n = 0, len(text)
        while pos <= n:
            best: re.Match[str] | None = None
            at = 0
            for j, (i, p) in enumerate(rules):
                m = heads[j]
                if m is not None and m.start() < pos:
                    m = heads[j] = p.search(text, pos)
                if m is not None and (best is None or m.start() < best.start()):
                    best, at = m, i
            if best is None:
                break
            s, e = best.span()
            pos = self._take(text, s, e, at, self._inline[at], out)
        return out

    def _take(self, text: str, s: int, e: int, idx: int, rule: Rule, out: list[RuleMatch]) -> int:
        """Record inline rule ``idx``'s match at ``s:e`` (a guarded rule that
        is rejected there falls back to a later rule's match); return where
        the scan goes on."""
        if rule.guarded and self._rejected(rule, text, s, e):
            hit = self._match_after(text, s, idx)
            if hit is None:
                return s + 1
            rule, e = hit
        if e <= s:  # never report an empty match
            return s + 1
        out.append(RuleMatch(s, e, rule, self._replacement(rule, text, s, e)))
        return e

    def clean(self, text: str) -> tuple[str, list[RuleMatch]]:
        """Apply every inline match; return the cleaned text and the matches.

        >>> RulePack.load().clean("增长29?4%,税收2?16亿元&ldquo;好&rdquo;")[0]
        '增长29.4%,税收2.16亿元“好”'
        """
        matches = self.find_inline(text)
        if not matches:
            return text, matches
        pieces: list[str] = []
        pos = 0
        for m in matches:
            pieces.append(text[pos : m.start])
            pieces.append(m.replacement)
            pos = m.end
        pieces.append(text[pos:])
        return "".join(pieces), matches

    def match_line(self, text: str, *, find_inline: Callable[[str], Sequence[RuleMatch]] | None = None) -> Rule | None:
        """The rule that makes this whole block noise, or ``None``.

        A ``line`` rule must match the whole trimmed block; otherwise inline
        removals covering at least 90% of it count (an ``<image>`` line).
        ``find_inline`` replaces :meth:`find_inline` for that (a caller's
        memo of it: the same text is usually scanned again for its cuts).

        >>> pack = RulePack.load()
        >>> pack.match_line("第 3 页 共 9 页").id, pack.match_line("2021年") is None
        ('page-of-total', True)
        """
        t = text.strip()
        if not t:
            return None
        line_any = self._line_any
        if line_any is None or line_any.fullmatch(t):
            for r in self._line:
                if r.pattern.fullmatch(t):
                    return r
        removed = [m for m in (find_inline or self.find_inline)(t) if not m.replacement]
        if removed and sum(m.end - m.start for m in removed) >= _LINE_COVERAGE * len(t):
            return max(removed, key=lambda m: m.end - m.start).rule
        return None

    def match_edge(self, text: str) -> Rule | None:
        """The ``edge`` rule this block matches, or ``None``.

        The caller decides whether the block sits at an article's head or
        tail; a notice is only noise there.

        >>> RulePack.load().match_edge("看过在工业园区工作会议上的讲话的人还看了:").id
        'seen-also'
        """
        t = text.strip()
        if not t:
            return None
        n = len(t)
        for r in self._edge:
            if r.max_len is not None and n > r.max_len:
                continue
            if r.cues:
                # pattern is the alternation of the (strong) cues: one scan
                # rejects almost every block.
                if r.pattern.search(t) is None:
                    continue
                hits = 0
                for cue in r.cues + r.weak_cues:
                    if cue.search(t):
                        hits += 1
                        if hits >= r.min_cues:
                            return r
            elif r.pattern.search(t):
                return r
        return None

    def scanner(self, texts: Iterable[str] = ()) -> RuleScanner:
        """The verbs of this pack for a batch of texts known up front (see
        :class:`RuleScanner`): same answers, faster over many texts.

        >>> sc = RulePack.load().scanner(["第 3 页 共 9 页", "增长29?4%"])
        >>> sc.match_line("第 3 页 共 9 页").id, sc.find_inline("增长29?4%")[0].replacement
        ('page-of-total', '.')
        """
        return RuleScanner(self, texts)

    def _scan_setup(self) -> tuple[TextGate, tuple[re.Pattern[str], ...], tuple[Any, ...]]:
        """What scanners share, built on first use: the gate, each inline
        rule compiled alone, and the plan of edge rules over gate bits."""
        if self._scan_parts is None:
            # Each inline rule alone, exactly as it sits in the combined
            # regex (same flags) behind its own look-ahead.
            alone = tuple(
                re.compile(("" if f is None else f"(?=[{f}])") + part, re.MULTILINE)
                for f, part in zip(self._firsts, self._parts)
            )
            # One gate for every pattern a scanner may search (bit i: inline
            # rule i; then each edge rule's pattern and its cues).
            gated = [r.pattern for r in self._inline]
            plan: list[tuple[Rule, int, tuple[tuple[re.Pattern[str], int], ...]]] = []
            for r in self._edge:
                gated.append(r.pattern)
                bit = 1 << (len(gated) - 1)
                cues: list[tuple[re.Pattern[str], int]] = []
                for cue in r.cues + r.weak_cues:
                    gated.append(cue)
                    cues.append((cue, 1 << (len(gated) - 1)))
                plan.append((r, bit, tuple(cues)))
            self._scan_parts = (TextGate(gated), alone, tuple(plan))  # one assignment: thread-safe
        return self._scan_parts

    def _match_line_reference(self, text: str) -> Rule | None:
        """:meth:`match_line` the plain way (every rule, no gate), for tests."""
        t = text.strip()
        if not t:
            return None
        for r in self._line:
            if r.pattern.fullmatch(t):
                return r
        removed = [m for m in self.find_inline(t) if not m.replacement]
        if removed and sum(m.end - m.start for m in removed) >= _LINE_COVERAGE * len(t):
            return max(removed, key=lambda m: m.end - m.start).rule
        return None

    # -- helpers -------------------------------------------------------------

    @staticmethod
    def _rejected(rule: Rule, text: str, start: int, end: int) -> bool:
        """True when a guard of ``rule`` vetoes the match ``[start, end)``."""
        before = rule.unless_before
        # endpos=start makes $ in the guard anchor at the match start.
        if before is not None and before.search(text, max(0, start - _GUARD_WINDOW), start):
            return True
        within = rule.unless_match
        return within is not None and within.search(text, start, end) is not None

    def _match_after(self, text: str, pos: int, idx: int) -> tuple[Rule, int] | None:
        """The first inline rule after ``idx`` that matches at ``pos``."""
        for r in self._inline[idx + 1 :]:
            m = r.pattern.match(text, pos)
            if m is None or m.end() <= pos:
                continue
            if r.guarded and self._rejected(r, text, pos, m.end()):
                continue
            return r, m.end()
        return None

    @staticmethod
    def _replacement(rule: Rule, text: str, start: int, end: int) -> str:
        rep = rule.replacement
        if not rep:
            return ""
        if rep == UNESCAPE:
            return _unescape(text[start:end])
        return rep


_UNSET: Any = object()  # a memo's "not asked yet" (None is an answer)


class RuleScanner:
    """A :class:`RulePack`'s verbs for a batch of texts known up front:
    :meth:`find_inline`, :meth:`match_line` and :meth:`match_edge` answer
    exactly as the pack's do, each once per distinct text.

    Faster over many texts: which rules each text's characters allow (see
    :class:`TextGate`) is worked out for the whole batch in one numpy pass,
    and only those rules are searched, one by one when few are left (most
    texts), with the pack's combined alternation otherwise. A text outside
    the batch is gated on its own (slower, still right). Answers are kept
    for the scanner's life: do not mutate the lists returned.

    >>> sc = RulePack.load().scanner(["信息化(本文权属文秘之音所有)的发展", "同志们:"])
    >>> [m.rule.id for m in sc.find_inline("信息化(本文权属文秘之音所有)的发展")], sc.match_edge("同志们:")
    (['ownership-claim'], None)
    """

    def __init__(self, pack: RulePack, texts: Iterable[str] = ()) -> None:
        self.pack = pack
        self._gate, _alone, self._plan = pack._scan_setup()
        self._inline_bits = (1 << len(pack._inline)) - 1
        distinct = list(dict.fromkeys(texts))
        self._masks: dict[str, int] = dict(zip(distinct, self._gate.masks(distinct)))
        self._inline: dict[str, list[RuleMatch]] = {}
        self._line: dict[str, Rule | None] = {}
        self._edge: dict[str, Rule | None] = {}

    def prime(self, texts: Iterable[str]) -> None:
        """Gate more texts known up front in one numpy pass (those already
        gated are skipped)."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._masks]
        if todo:
            self._masks.update(zip(todo, self._gate.masks(todo)))

    def _mask(self, text: str) -> int:
        mask = self._masks.get(text)
        if mask is None:
            mask = self._masks[text] = self._gate.mask(text)
        return mask

    def find_inline(self, text: str) -> list[RuleMatch]:
        """:meth:`RulePack.find_inline`."""
        out = self._inline.get(text)
        if out is None:
            out = self._inline[text] = self._find(text, self._mask(text))
        return out

    def _find(self, text: str, mask: int) -> list[RuleMatch]:
        mask &= self._inline_bits
        if not mask or not text:
            return []  # the text lacks what every inline rule's match needs
        if mask.bit_count() <= _FEW_RULES:
            return self.pack._find_few(text, mask)
        return self.pack.find_inline(text)

    def match_line(self, text: str) -> Rule | None:
        """:meth:`RulePack.match_line`."""
        out = self._line.get(text, _UNSET)
        if out is not _UNSET:
            return out  # type: ignore[return-value]
        # The trimmed text has a subset of the text's characters, so the
        # text's gate holds for it too.
        mask = self._mask(text)
        t = text.strip()
        if t is text:
            out = self.pack.match_line(text, find_inline=self.find_inline)
        else:
            out = self.pack.match_line(text, find_inline=lambda s: self._find(s, mask))
        self._line[text] = out
        return out

    def match_edge(self, text: str) -> Rule | None:
        """:meth:`RulePack.match_edge`."""
        out = self._edge.get(text, _UNSET)
        if out is _UNSET:
            out = self._edge[text] = self._match_edge(text)
        return out  # type: ignore[return-value]

    def _match_edge(self, text: str) -> Rule | None:
        t = text.strip()
        if not t:
            return None
        n = len(t)
        mask = -1  # read on first need: long blocks pass no edge rule
        for r, bit, cues in self._plan:
            if r.max_len is not None and n > r.max_len:
                continue
            if mask == -1:
                mask = self._mask(text)  # the trimmed text's superset
            if not mask & bit:
                continue  # the block lacks what every match of the rule needs
            if cues:
                # A notice needs its pattern and min_cues cues: count the
                # cues the gate lets through first, and search the pattern
                # (the slow alternation of every cue) only when they suffice.
                hits = 0
                for cue, cue_bit in cues:
                    if mask & cue_bit and cue.search(t):
                        hits += 1
                        if hits >= r.min_cues:
                            break
                if hits >= r.min_cues and r.pattern.search(t):
                    return r
            elif r.pattern.search(t):
                return r
        return None


@functools.lru_cache(maxsize=1)
def _default_pack() -> RulePack:
    res = importlib.resources.files("cleaner").joinpath("rules.toml")
    return RulePack.from_toml(res.read_text(encoding="utf-8"), "cleaner/rules.toml")


@functools.lru_cache(maxsize=16)
def _load_path(path: str, mtime_ns: int) -> RulePack:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{path}: cannot read rule file: {exc}") from None
    return RulePack.from_toml(text, path)


def default_pack() -> RulePack:
    """The built-in rule pack, loaded once.

    >>> len(default_pack().rules) > 20
    True
    """
    return _default_pack()


# ---------------------------------------------------------------------------
# Page numbers glued to the next line
# ---------------------------------------------------------------------------

# A page footer that lost its number: the number went to the next line.
_BARE_FOOTER = re.compile(r"(?:[-—–－―─~～]\s*){1,6}")
# Leading digits (1-999, no leading zero) followed by a Chinese character
# that does not continue a number: a unit (年, 个, 万 …) or a digit, decimal
# point, range or percent sign means the digits are content.
_GLUED = re.compile(
    r"\s*([1-9１-９][0-9０-９]{0,2})"
    r"(?=[\u3400-\u4dbf\u4e00-\u9fff“《（(])"
    r"(?![年月日号时点个项条次届万亿千百十元角岁人名位家所种件户倍吨米度期批轮章节页天周座栋台辆套])"
)


def glued_page_number(prev_line: str, line: str) -> int:
    """How many leading characters of ``line`` are a glued page number.

    A PDF page footer like ``— — 2`` sometimes loses its number to the next
    line (``— —`` then ``2大项目投产拉动``). Only when ``prev_line`` is such a
    number-less dash footer and ``line`` starts with 1-3 digits glued to a
    Chinese word is the number stripped; ``2021年``, ``3个方面``, ``1-7月``,
    ``8.7%`` stay. Returns 0 when nothing should be stripped.

    >>> glued_page_number("— —", "2大项目投产拉动"), glued_page_number("— —", "3个方面")
    (1, 0)
    """
    if not _BARE_FOOTER.fullmatch(prev_line.strip()):
        return 0
    m = _GLUED.match(line)
    return m.end(1) if m else 0
