"""Tests for cleaner.merge: data-driven cases (tests/cases/merge.json),
properties (hypothesis), a realistic merge of seed-derived variants, speed."""

from __future__ import annotations

import itertools
import json
import random
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz

from cleaner.merge import MergedArticle, Variant, merge_variants, merge_variants_reference

CASES = json.loads((Path(__file__).parent / "cases" / "merge.json").read_text(encoding="utf-8"))["cases"]
SEED = Path(__file__).resolve().parent.parent / "fixtures" / "seeds" / "001_66774ca9e7b2c39c.txt"


def _variant(name: str, paragraphs: list[str]) -> Variant:
    return Variant(tuple((t, (name, i)) for i, t in enumerate(paragraphs)), (name,))


def _texts(m: MergedArticle) -> list[str]:
    return [p.text for p in m.paragraphs]


# --------------------------------------------------------------------------
# Data-driven cases.


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(case):
    variants = [_variant(name, paras) for name, paras in case["variants"].items()]
    for order in itertools.permutations(variants):
        m = merge_variants(list(order))
        assert _texts(m) == case["expected"], [v.sort_key for v in order]
        if "base" in case:
            assert order[m.base].sort_key == (case["base"],)
        assert all(p.sources for p in m.paragraphs)
        assert len(m.similarity) == len(variants)
        assert all(0.0 <= s <= 1.0 for s in m.similarity)


def test_single_variant_unchanged():
    v = _variant("a", ["__市长说:?", "同志们好"])
    m = merge_variants([v])
    assert _texts(m) == ["__市长说:?", "同志们好"]
    assert [p.sources for p in m.paragraphs] == [(("a", 0),), (("a", 1),)]
    assert m.base == 0 and m.similarity == (1.0,)


def test_no_variants_is_an_error():
    with pytest.raises(ValueError):
        merge_variants([])


def test_sources_of_matched_and_inserted_paragraphs():
    a = _variant("a", ["同志们:", "这次全市工业园区建设工作会议开得很好。", "根据调研情况,我再强调三个问题。"])
    b = _variant("b", ["同志们：", "这次全市工业园区建设工作会议开得很好。", "新增加的一段内容,只有这个版本才有。", "根据调研情况,我再强调三个问题。"])
    m = merge_variants([a, b])
    assert _texts(m)[2] == "新增加的一段内容,只有这个版本才有。"
    assert m.paragraphs[2].sources == (("b", 2),)
    # Base (b: more complete) first, then the other variant.
    assert m.paragraphs[0].sources == (("b", 0), ("a", 0))
    assert m.similarity[1] == 1.0 and m.similarity[0] < 1.0


def test_split_paragraph_sources_point_at_both_pieces():
    a = _variant("a", ["这次全市工业园区建设工作会议开得很好。", "区县和市直部门负责同志在会上的发言很好,有些成功经验值得相互学习借鉴。"])
    b = _variant("b", ["这次全市工业园区建设工作会议开得很好。区县和市直部门负责同志在会上的发言很好,有些成功经验值得相互学习借鉴。"])
    m = merge_variants([b, a])
    assert _texts(m) == [p for p, _ in a.paragraphs]
    assert ("b", 0) in m.paragraphs[0].sources and ("b", 0) in m.paragraphs[1].sources


# --------------------------------------------------------------------------
# Properties.

# No x/X, ○, 某, digits, ? or masks: generated "clean" text must be clean.
HAN = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理"
PARA = st.text(alphabet=HAN, min_size=4, max_size=40).map(lambda s: s + "。")
ARTICLE = st.lists(PARA, min_size=1, max_size=7)
MASKS = ["__", "XX", "※※", "**", "_"]


def _noisy(rng: random.Random, paragraphs: list[str]) -> list[str]:
    """Inject masks (a mask for 1-3 characters, one per 8 characters at
    most, as names are masked in real copies) and line-end '?'."""
    out = []
    for p in paragraphs:
        chars = list(p[:-1])
        for _ in range(rng.randint(0, len(chars) // 8)):
            a = rng.randrange(len(chars))
            b = min(len(chars), a + rng.randint(1, 3))
            chars[a:b] = [rng.choice(MASKS)]
        p = "".join(chars) + p[-1]
        if rng.random() < 0.4:
            p += "?"
        out.append(p)
    return out


def _edited(rng: random.Random, paragraphs: list[str]) -> list[str]:
    """A random kind of copy: noisy, one paragraph dropped, a char edited, truncated."""
    kind = rng.randrange(4)
    if kind == 0:
        return _noisy(rng, paragraphs)
    if kind == 1 and len(paragraphs) > 1:
        k = rng.randrange(len(paragraphs))
        return paragraphs[:k] + paragraphs[k + 1 :]
    if kind == 2:
        k = rng.randrange(len(paragraphs))
        p = paragraphs[k]
        i = rng.randrange(len(p))
        return paragraphs[:k] + [p[:i] + rng.choice(HAN) + p[i + 1 :]] + paragraphs[k + 1 :]
    return paragraphs[: max(1, len(paragraphs) // 2)]


SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(ARTICLE, st.integers(1, 3), st.randoms(use_true_random=False))
def test_merge_is_independent_of_input_order(article, n_copies, rnd):
    variants = [_variant("v0", article)]
    variants += [_variant(f"v{k + 1}", _edited(rnd, article)) for k in range(n_copies)]
    m0 = merge_variants(variants)
    shuffled = variants[:]
    rnd.shuffle(shuffled)
    m1 = merge_variants(shuffled)
    assert _texts(m0) == _texts(m1)
    assert variants[m0.base] is shuffled[m1.base]
    sim0 = dict(zip((v.sort_key for v in variants), m0.similarity))
    sim1 = dict(zip((v.sort_key for v in shuffled), m1.similarity))
    assert sim0 == sim1
    assert all(p.sources for p in m0.paragraphs)


@SETTINGS
@given(ARTICLE)
def test_merge_with_itself_gives_itself(article):
    m = merge_variants([_variant("a", article), _variant("b", article)])
    assert _texts(m) == article
    assert m.similarity == (1.0, 1.0)
    assert all(p.sources == (("a", i), ("b", i)) for i, p in enumerate(m.paragraphs))


@SETTINGS
@given(ARTICLE, st.integers(2, 5))
def test_identical_copies_give_the_copy(article, n):
    m = merge_variants([_variant(f"v{k}", article) for k in range(n)])
    assert _texts(m) == article
    assert all(len(p.sources) == n for p in m.paragraphs)


@SETTINGS
@given(ARTICLE, st.randoms(use_true_random=False), st.booleans())
def test_noisy_copy_plus_clean_copy_gives_clean(article, rnd, clean_first):
    noisy = _noisy(rnd, article)
    clean_v, noisy_v = _variant("clean", article), _variant("noisy", noisy)
    pair = [clean_v, noisy_v] if clean_first else [noisy_v, clean_v]
    m = merge_variants(pair)
    assert _texts(m) == article


@SETTINGS
@given(ARTICLE, st.integers(1, 3), st.randoms(use_true_random=False))
def test_every_paragraph_has_a_source_and_content_is_kept(article, n_copies, rnd):
    variants = [_variant("v0", article)] + [_variant(f"v{k + 1}", _edited(rnd, article)) for k in range(n_copies)]
    m = merge_variants(variants)
    assert all(p.sources for p in m.paragraphs)
    # No paragraph of any variant is lost: each is close to some output paragraph
    # (the output has every paragraph of the most complete copy).
    assert len(m.paragraphs) >= max(len(v.paragraphs) for v in variants) - 1


# --------------------------------------------------------------------------
# Realistic: seed article, three damaged copies.


def _seed_article() -> list[str]:
    lines = SEED.read_text(encoding="utf-8").splitlines()
    start = lines.index("篇1:工业园区工作会议讲话") + 1
    end = lines.index("篇2:工业园区工作会议讲话")
    return [ln for ln in lines[start:end] if ln.strip()]


NAMES = ["君文", "春贤", "伯华", "德山", "创元", "灌溪", "金健", "石门"]


def _char_edits(rng: random.Random, text: str, rate: float) -> str:
    chars = list(text)
    pool = [c for c in text if "\u4e00" <= c <= "\u9fff"]
    for _ in range(int(len(chars) * rate)):
        i = rng.randrange(len(chars))
        op = rng.randrange(3)
        if op == 0:
            chars[i] = rng.choice(pool)
        elif op == 1:
            del chars[i]
        else:
            chars.insert(i, rng.choice(pool))
    return "".join(chars)


def test_seed_article_three_damaged_copies():
    original = _seed_article()
    assert len(original) >= 20 and sum(map(len, original)) > 5000
    rng = random.Random(20240611)
    masked = []
    for k, p in enumerate(original):
        for name in NAMES:
            p = p.replace(name, "__")
        masked.append(p + "?" if k % 2 else p)
    dropped = original[:8] + original[9:]
    edited = [_char_edits(rng, p, 0.03) for p in original]
    variants = [_variant("masked", masked), _variant("dropped", dropped), _variant("edited", edited)]
    t0 = time.perf_counter()
    m = merge_variants(variants)
    elapsed = time.perf_counter() - t0
    canon = m.text
    sim = fuzz.ratio(canon, "\n".join(original)) / 100
    print(f"\nseed merge: {len(canon)} chars, similarity {sim:.4f}, base {variants[m.base].sort_key}, {elapsed * 1000:.1f} ms")
    assert sim >= 0.99
    assert len(m.paragraphs) == len(original)
    # Each damaged copy alone is further from the original than the merge.
    for v in variants:
        alone = fuzz.ratio("\n".join(t for t, _ in v.paragraphs), "\n".join(original)) / 100
        assert alone < sim
    for name in NAMES:
        assert canon.count(name) == "\n".join(original).count(name)


# --------------------------------------------------------------------------
# Speed.


def test_speed_five_variants_of_10k_chars():
    text = "".join(_seed_article())
    text = (text * 2)[:10_000]
    article = [text[k : k + 250] for k in range(0, 10_000, 250)]
    assert len(article) == 40
    rng = random.Random(7)
    variants = [_variant("v0", article)]
    variants.append(_variant("v1", _noisy(rng, article)))
    variants.append(_variant("v2", article[:10] + article[11:30] + article[31:]))
    variants.append(_variant("v3", [_char_edits(rng, p, 0.02) for p in article]))
    variants.append(_variant("v4", [_char_edits(rng, p, 0.05) for p in _noisy(rng, article)]))
    merge_variants(variants)  # warm-up (OpenCC converters, caches)
    t0 = time.perf_counter()
    m = merge_variants(variants)
    elapsed = time.perf_counter() - t0
    sim = fuzz.ratio(m.text, "\n".join(article)) / 100
    print(f"\n5 variants x 10,000 chars / 40 paragraphs: {elapsed * 1000:.1f} ms, similarity {sim:.4f}")
    assert elapsed < 2.0
    assert sim >= 0.99


@pytest.mark.parametrize("merge", [merge_variants, merge_variants_reference])
def test_one_copy_that_breaks_a_mask_does_not_impose_its_edits_on_a_long_region(merge) -> None:
    # With many edited copies their differences join into one region the
    # length of the paragraph. The original keeps a template mask ([20XX]),
    # so its reading is "noisy"; a copy whose random edits hit the mask
    # reads "clean", and used to win the whole region with its other edits.
    text = ("1、加强学习,领会文件精神。文件不领会,任务不明确,工作就没有方向。大家要通过学习传达辽教发[20XX]25号"
            "《关于加强全省教育系统关工委组织建设的意见》,以及省、市有关文件,统一思想,提高认识。")
    rng = random.Random(3)

    def edited(n: int) -> str:
        chars = list(text)
        for i in rng.sample(range(len(chars)), n):
            chars[i] = rng.choice("甲乙丙丁戊己庚")
        return "".join(chars)

    head = ("各位老领导、老同志:", "h")
    variants = [Variant([head, (text, "b1"), ("谢谢大家!", "b2")], ("base",))]
    variants += [Variant([head, (text, f"o{k}")], (f"o{k}",)) for k in range(10)]
    variants += [Variant([head, (edited(8), f"e{k}")], (f"e{k}",)) for k in range(80)]
    assert merge(variants).paragraphs[1].text == text


def test_a_real_name_still_beats_its_masks() -> None:
    # The short-region rule is unchanged: one copy's real name beats the
    # other copies' masks of it.
    masked = [Variant([("__市长在会上作了报告。", f"m{k}")], (f"m{k}",)) for k in range(5)]
    real = Variant([("王市长在会上作了报告。", "r")], ("r",))
    for merge in (merge_variants, merge_variants_reference):
        assert merge([*masked, real]).text == "王市长在会上作了报告。"
