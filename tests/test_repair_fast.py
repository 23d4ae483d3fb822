"""The fast repair driver gives exactly what the reference driver gives.

``repair_text`` skips lines no fixer can change (proved by C-speed scans),
asks ftfy only what it must, and builds offsets a stretch at a time;
``repair_text_reference`` is the original line-by-line driver running ftfy
and the full GBK analysis on every line. Every test here compares the two
(the whole RepairResult: text, offsets, repairs, problems), or a fast helper
with the reference helper it replaces.
"""

from __future__ import annotations

import json
import pickle
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ftfy
import ftfy.bad_codecs  # registers sloppy-windows-1252
import ftfy.badness
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cleaner import fixes, mojibake
from cleaner.config import RepairConfig
from cleaner.fixes import FIXERS, Fixer, repair_text, repair_text_reference
from cleaner.mojibake import KUNJINKAO
from cleaner.types import Edit, OffsetMap

ROOT = Path(__file__).resolve().parents[1]
SEEDS = sorted((ROOT / "fixtures" / "seeds").glob("*.txt"))
EXTERNAL = ROOT.parent / "shared" / "external"

CONFIGS = [
    None,
    RepairConfig(ftfy=False),
    RepairConfig(mojibake=False),
    RepairConfig(normalize_newlines=False),
    RepairConfig(ftfy=False, mojibake=False),
]


def assert_same(text: str, config: RepairConfig | None = None) -> fixes.RepairResult:
    fast = repair_text(text, config)
    ref = repair_text_reference(text, config)
    assert fast == ref
    assert repr(fast) == repr(ref)  # OffsetMap equality ignores nothing that repr shows
    assert fixes.repaired_text(text, config) == ref.text  # the text-only path
    return fast


def damage(text: str, codec: str, errors: str = "strict") -> str:
    """What a reader using ``codec`` makes of ``text``'s UTF-8 bytes."""
    return text.encode("utf-8").decode(codec, errors)


def seed_text(p: Path) -> str:
    return p.read_text(encoding="utf-8")


# --- corpora -------------------------------------------------------------------


def _docs779() -> list[str]:
    cached = ROOT / "bench" / ".cache" / "dedup-peers" / "seed1-docs779" / "docs.jsonl"
    if cached.is_file():
        # By "\n" only: the JSON holds U+0085 and U+2028 unescaped.
        return [json.loads(line)["text"] for line in cached.read_text(encoding="utf-8").split("\n") if line]
    try:  # the same corpus, made again (bench/dedup_peers.py)
        from bench.dedup_peers import make_doc_corpus
    except ImportError as exc:  # pragma: no cover - bench not importable
        pytest.skip(f"benchmark corpus not available: {exc}")
    return [d.text for d in make_doc_corpus(1, 779).docs]


@pytest.mark.slow
def test_benchmark_corpus() -> None:
    """The 779-document corpus the speed work was measured on (whole-file
    latin-1 mojibake, embedded mojibake, control characters, CRLF files)."""
    kinds: dict[str, int] = {}
    for text in _docs779():
        res = assert_same(text)
        for r in res.repairs:
            kinds[r.detail.split(":")[0]] = kinds.get(r.detail.split(":")[0], 0) + 1
    # The corpus exercises the paths that matter.
    assert kinds.get("utf-8 read as latin-1", 0) > 200
    assert kinds.get("ftfy", 0) > 100
    assert any(k.endswith("normalised to \\n") for k in kinds)


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_seeds_and_their_damage(path: Path) -> None:
    assert_same(seed_text(path))
    text = seed_text(path)[:15000]  # the reference is slow; the corpus test covers size
    variants = [
        text,
        text.replace("\n", "\r\n"),
        damage(text, "latin-1"),
        damage(text, "sloppy-windows-1252"),
        damage(text, "cp1252", "replace"),
        damage(text, "gbk", "replace"),
        damage(text, "gbk", "ignore"),
        damage(text, "gb18030", "replace"),
    ]
    lines = text.split("\n")
    codecs = [("gbk", "replace"), ("latin-1", "strict"), ("sloppy-windows-1252", "strict"), ("big5", "replace")]
    variants.append("\n".join(damage(ln, *codecs[i % 4]) if i % 3 else ln for i, ln in enumerate(lines)))
    # Embedded mojibake: part of a line damaged, the rest clean.
    variants.append("\n".join(ln[:7] + damage(ln[7:20], "sloppy-windows-1252") + ln[20:] for ln in lines))
    for v in variants:
        assert_same(v)
    for config in CONFIGS[1:]:
        assert_same(variants[1][:5000], config)
        assert_same(variants[-2][:5000], config)


def _strings(obj: Any) -> Iterator[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def test_ftfy_external_cases() -> None:
    folder = EXTERNAL / "ftfy-testcases"
    if not folder.is_dir():
        pytest.skip(f"ftfy test cases not found at {folder}")
    texts = [s for f in sorted(folder.glob("*.json")) for s in _strings(json.loads(f.read_text(encoding="utf-8")))]
    assert len(texts) > 200
    for text in texts:
        assert_same(text)
        for line in fixes._LINE_RE.findall(text):
            body = line.rstrip("\r\n")
            assert mojibake.ftfy_fix(body) == mojibake.ftfy_fix_reference(body), body


def test_opencc_external_cases() -> None:
    folder = EXTERNAL / "opencc-testcases"
    if not folder.is_dir():
        pytest.skip(f"OpenCC test cases not found at {folder}")
    raw = (folder / "testcases.json").read_text(encoding="utf-8")
    texts = list(_strings(json.loads(re.sub(r",(\s*[}\]])", r"\1", raw))))  # upstream has trailing commas
    texts += [p.read_text(encoding="utf-8") for p in sorted((folder / "golden").rglob("*.txt"))]
    assert len(texts) > 100
    for text in texts:
        assert_same(text)
    assert_same("\n".join(damage(t, "gbk", "replace") for t in texts[:200]))


def test_case_files() -> None:
    for f in sorted((ROOT / "tests" / "cases").glob("*.json")):
        for text in _strings(json.loads(f.read_text(encoding="utf-8"))):
            assert_same(text)


# --- generated strings ---------------------------------------------------------

_POOL = [ln for p in SEEDS for ln in seed_text(p).split("\n")[:60] if ln]
_CP1252 = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"
ALPHABETS = {
    "ascii": "".join(map(chr, range(0x20, 0x7F))),
    "latin-1": "".join(map(chr, range(0x80, 0x100))),
    "cp1252": _CP1252,
    "controls": "\x00\x01\x08\x0b\x0c\x1a\x1b\x7f\t\u206a\ufeff\ufff9\ufffc\x85\u2028",
    "badness": "¦¤¨¬¯¸ƒˆˇ˘˛˜†‡‰⌐◊\ufffdªº¢£¥€×÷°±²³µ¶§©®™«»¿¡•√∞≈≠≤≥№ΒΓΞΟβвЂВГРС│┌┐═║▀▄█░ÂÃÎÐØÙàÅŒœﬁ",
    "chinese": "“”‘’—…·，。、：；！？（）《》【】\u3000ＡＢＣ１２３的一是不了人我在有他这们中来上大为和国地到以说时要就出会",
    "gbk-looking": "鎴戜滑閮藉惉鍒颁簡锟斤拷銆佺殑鏄笉浜嗕汉",
    "combining": "e\u0300\u0301\u0308\u0327\u0334\u3099\u309a\u1100\u1161\u11a8가",
    "compat": "\uf900\uf901\ufa10\U0002f800\u212b",
    "other": "\u200b\u200d\u2060😀𠀀𝄞\ud800\udc00\udbff",
}
_CODECS = [("latin-1", "strict"), ("sloppy-windows-1252", "strict"), ("cp1252", "replace"),
           ("cp1252", "ignore"), ("gbk", "replace"), ("gbk", "ignore"), ("gb18030", "replace"),
           ("big5", "replace"), ("macroman", "strict")]

_plain = st.one_of(
    st.sampled_from(_POOL).flatmap(lambda ln: st.tuples(st.just(ln), st.integers(0, 40), st.integers(1, 60)))
    .map(lambda t: t[0][t[1]:t[1] + t[2]]),
    st.sampled_from(sorted(ALPHABETS)).flatmap(lambda k: st.text(alphabet=ALPHABETS[k], max_size=12)),
)
_damaged = st.tuples(_plain, st.sampled_from(_CODECS)).map(
    lambda t: t[0].encode("utf-8", "surrogatepass").decode(*t[1]))
_twice = st.tuples(_plain, st.sampled_from(_CODECS[:2])).map(  # mojibake of mojibake
    lambda t: damage(damage(t[0].encode("utf-8", "surrogatepass").decode("utf-8", "replace"), t[1][0]), t[1][0]))
_segment = st.one_of(_plain, _damaged, _twice, st.sampled_from(["\n", "\r\n", "\r", KUNJINKAO, "\ufffd"]))
TEXTS = st.lists(_segment, max_size=14).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXTS, st.sampled_from(CONFIGS))
@example("cafÃ©\r\nÃ©ok\n锟斤拷\n鍒氭墠\n\ufeffx\x1b[1m\n", None)
@example("è¯´: åˆšæ‰\x8d 刚才 åˆš\r同志们:", None)
@example("‚Ä®\x7f¬Ö", None)  # deleting the control character leaves mojibake for a second pass
def test_random_texts(text: str, config: RepairConfig | None) -> None:
    assert_same(text, config)


@settings(max_examples=300, deadline=None)
@given(TEXTS)
def test_ftfy_fix_and_analysis_per_line(text: str) -> None:
    for line in fixes._LINE_RE.findall(text):
        body = line.rstrip("\r\n")
        assert mojibake.ftfy_fix(body) == mojibake.ftfy_fix_reference(body)
        assert mojibake.analyse_gbk_mojibake(body) == mojibake._analyse_gbk_mojibake_reference(body)
        assert mojibake.is_bad(body) == ftfy.badness.is_bad(body)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=ALPHABETS["badness"] + ALPHABETS["latin-1"] + "abc \n", max_size=40))
def test_is_bad_equals_ftfy(text: str) -> None:
    """Witness windows must find every BADNESS_RE match, at any offset."""
    assert mojibake.is_bad(text) == ftfy.badness.is_bad(text)
    assert mojibake.is_bad("你好" * 5 + text) == ftfy.badness.is_bad("你好" * 5 + text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.from_regex(ftfy.badness.BADNESS_RE))
def test_every_badness_match_holds_a_witness(text: str) -> None:
    """The derivation behind the ftfy gate: whatever BADNESS_RE matches
    contains a witness character and is at most ``width`` long."""
    gate = mojibake._GATE
    assert gate is not None
    _, witness_re, _, width = gate
    m = ftfy.badness.BADNESS_RE.search(text)
    assert m is not None
    assert witness_re.search(m.group(0)) is not None
    assert len(m.group(0)) <= width


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_plain, st.sampled_from(["clean", "latin-1", "sloppy-windows-1252"])), max_size=8))
def test_char_edits_and_trim_equal_reference(parts: list[tuple[str, str]]) -> None:
    new = "".join(p for p, _ in parts)
    old = "".join(p if how == "clean" else p.encode("utf-8", "surrogatepass").decode(how) for p, how in parts)
    assert fixes._char_edits(old, new) == fixes._char_edits_reference(old, new)
    assert fixes._trim_edit(old, new) == fixes._trim_edit_reference(old, new)
    assert fixes._trim_edit(new, old + new[:3]) == fixes._trim_edit_reference(new, old + new[:3])


# --- the proofs' building blocks -----------------------------------------------


def test_gbk_mojibake_chars_exhaustive() -> None:
    """The character class equals its definition, for every BMP character."""
    allowed = re.compile("[" + mojibake.gbk_mojibake_chars() + "]")
    for c in range(0x80, 0x10000):
        ch = chr(c)
        pair = mojibake._gbk_pair(ch)
        expect = ch == "\ufffd" or (pair is not None and not any(b in mojibake._NOT_UTF8_BYTES for b in pair))
        assert (allowed.match(ch) is not None) == expect, hex(c)


def test_clean_text_never_reaches_ftfy_or_scoring(monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of the gates: clean Chinese costs scans, not ftfy passes."""
    calls: list[str] = []
    real_ftfy, real_score = ftfy.fix_and_explain, mojibake.plausibility
    monkeypatch.setattr(ftfy, "fix_and_explain", lambda *a, **k: calls.append("ftfy") or real_ftfy(*a, **k))
    monkeypatch.setattr(mojibake, "plausibility", lambda t: calls.append("score") or real_score(t))
    mojibake.ftfy_fix.cache_clear()
    mojibake.analyse_gbk_mojibake.cache_clear()
    for path in SEEDS:
        assert repair_text(seed_text(path)).repairs == ()
    assert calls == []


def test_a_fixer_without_a_scan_runs_on_every_line() -> None:
    """A fixer registered from outside has no proof of what it leaves alone:
    the driver then visits every line with every fixer, like the reference."""
    extra = Fixer("shout", "test", lambda s: s.replace("ok", "OK"), lambda c: True)
    saved = list(FIXERS)
    FIXERS.append(extra)
    try:
        res = assert_same("ok\r\ncafÃ©ok\n鍒氭墠 ok")
        assert res.text == "ok\ncaféOK\n刚才 OK"  # an ASCII line: no fixer runs, as before
        assert assert_same(seed_text(SEEDS[0])[:500] + "\n好 ok").text.endswith("好 OK")
    finally:
        FIXERS[:] = saved
    assert fixes._suspect_lines("ok", FIXERS) == {}


def test_offset_maps_from_columns_equal_maps_from_edits() -> None:
    """The column constructor (what repair_text and unpickling use) against
    the constructor from Edit objects: same edits, same mapping, same pickle."""
    cols = [list(range(i, i + 30_000, 10)) for i in (0, 5, 0, 2)]
    fast = OffsetMap.from_columns(*cols)
    slow = OffsetMap(tuple(map(Edit, *cols)))
    assert fast == slow and hash(fast) == hash(slow)
    assert fast.edits == tuple(map(Edit, *cols))
    assert [fast.span_to_source(p, p + 7) for p in range(0, 30_100, 3)] == [
        slow.span_to_source(p, p + 7) for p in range(0, 30_100, 3)
    ]
    assert pickle.loads(pickle.dumps(fast)) == slow
    assert OffsetMap() == OffsetMap.from_columns([], [], [], []) and OffsetMap().is_identity
    with pytest.raises(AttributeError, match="immutable"):
        fast._dst_starts = slow._dst_starts  # type: ignore[misc]
