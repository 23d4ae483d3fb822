"""The fast merge against its plain reference: `merge_variants` ==
`merge_variants_reference` on generated copies (hypothesis) and on many
copies of a seed article; the vote alone (`_vote_all` == `_vote`); the
shortcuts the fast path rests on (batched keys, noise and OpenCC calls,
script and noise from paragraphs, source buckets); cost linear in the
number of copies."""

from __future__ import annotations

import dataclasses
import random
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleaner import merge as merge_mod
from cleaner.align import noise_score
from cleaner.merge import MergedArticle, Variant, merge_variants, merge_variants_reference
from cleaner.normalize import convert_script

SEED = Path(__file__).resolve().parent.parent / "fixtures" / "seeds" / "001_66774ca9e7b2c39c.txt"

# Characters with distinct traditional forms (so copies mix scripts), a few
# that are the same in both, and punctuation in both widths.
HAN = "的一是在不了有和人这中大为上个国我以要他时来用们说会发经进实现关开长问题门义东车见区"
PUNCT = "，,。.：:；;！!"
MASKS = ["__", "XX", "※※", "**", "○○", "某某", "□"]


def _variant(name: str, paragraphs: list[str], source: Any = None) -> Variant:
    src = source or (lambda i: (name, i))
    return Variant(tuple((t, src(i)) for i, t in enumerate(paragraphs)), (name,))


def _same(variants: list[Variant]) -> MergedArticle:
    fast = merge_variants(variants)
    ref = merge_variants_reference(variants)
    assert fast == ref
    return fast


def _copy(rng: random.Random, article: list[str]) -> list[str]:
    """One copy of `article` with a random mix of the damage scrapes show."""
    out = list(article)
    for _ in range(rng.randint(0, 3)):
        kind = rng.randrange(10)
        if not out:
            break
        k = rng.randrange(len(out))
        p = out[k]
        if not p:
            continue
        if kind == 0:  # mask a name
            i = rng.randrange(len(p))
            out[k] = p[:i] + rng.choice(MASKS) + p[i + rng.randint(1, 3) :]
        elif kind == 1:  # artefacts
            out[k] = p + rng.choice(["?", "？", "\ufffd", "锟斤拷"])
        elif kind == 2 and len(out) > 1:  # drop a paragraph
            del out[k]
        elif kind == 3:  # char edit
            i = rng.randrange(len(p))
            out[k] = p[:i] + rng.choice(HAN) + p[i + rng.randint(0, 2) :]
        elif kind == 4:  # truncate
            out = out[: max(1, len(out) // 2)]
        elif kind == 5:  # split a paragraph / join two
            if len(p) > 4 and rng.random() < 0.5:
                i = rng.randrange(1, len(p) - 1)
                out[k : k + 1] = [p[:i], p[i:]]
            elif k + 1 < len(out):
                out[k : k + 2] = [out[k] + out[k + 1]]
        elif kind == 6:  # a site's notice
            notice = rng.choice(["本文来源于网络，版权归原作者所有。", "查看更多>>", "责任编辑：某某"])
            out.insert(rng.randrange(len(out) + 1), notice)
        elif kind == 7:  # punctuation width
            out[k] = p.translate(str.maketrans("，。：；！,.:;!", ",.:;!，。：；！"))
        elif kind == 8:  # drop a sentence (completeness vote)
            i = rng.randrange(len(p))
            out[k] = p[:i] + p[i + rng.randint(6, 12) :]
    if rng.random() < 0.25:  # a traditional copy
        out = [convert_script(p, "traditional") for p in out]
    return out


PARA = st.text(alphabet=HAN + PUNCT, min_size=3, max_size=40).map(lambda s: s + "。")
ARTICLE = st.lists(PARA, min_size=1, max_size=6)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(ARTICLE, st.integers(2, 14), st.randoms(use_true_random=False))
def test_fast_equals_reference_on_random_copies(article, n_copies, rnd):
    copies = [_copy(rnd, article) for _ in range(n_copies)]
    # Verbatim duplicates of whole copies and of single paragraphs are the
    # fast path's main lever: make them common.
    for k in range(1, len(copies)):
        if rnd.random() < 0.3:
            copies[k] = list(copies[rnd.randrange(k)])
    variants = [_variant(f"v{k}", c) for k, c in enumerate(copies)]
    _same(variants)


@SETTINGS
@given(ARTICLE, st.integers(2, 6), st.randoms(use_true_random=False))
def test_fast_equals_reference_with_unhashable_dataclass_sources(article, n_copies, rnd):
    """Sources like the pipeline's: frozen dataclasses holding a dict (so not
    hashable), some equal without being the same object."""
    shared = {"site": "x"}
    variants = []
    for k in range(n_copies):
        paras = _copy(rnd, article)
        name = f"f{rnd.randrange(3)}"  # copies from the same file share sources
        variants.append(_variant(f"v{k}", paras, lambda i, name=name: _Src(_File(name, {"meta": dict(shared)}), i)))
    _same(variants)


@dataclasses.dataclass(frozen=True)
class _File:
    name: str
    meta: dict


@dataclasses.dataclass(frozen=True)
class _Src:
    file: _File
    index: int


def test_equal_sources_are_listed_once():
    a = _variant("a", ["同志们好。", "今年的工作很好。"], lambda i: _Src(_File("f", {"k": [1]}), i))
    b = _variant("b", ["同志们好.", "今年的工作很好。"], lambda i: _Src(_File("f", {"k": [1]}), i))
    m = _same([a, b])
    assert [len(p.sources) for p in m.paragraphs] == [1, 1]


class _Weird:
    """Unhashable, with its own ==: all such sources share one bucket."""

    __hash__ = None  # type: ignore[assignment]

    def __init__(self, k: int) -> None:
        self.k = k

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Weird) and self.k == other.k


def test_unhashable_sources_are_compared():
    a = _variant("a", ["同志们好。", "今年的工作很好。"], lambda i: _Weird(i))
    b = _variant("b", ["同志们好.", "今年的工作很好。"], lambda i: _Weird(i))
    m = _same([a, b])
    assert [len(p.sources) for p in m.paragraphs] == [1, 1]


def test_equal_sources_share_a_bucket():
    buckets = merge_mod._Buckets()
    f1, f2 = _File("f", {"a": (1, 2)}), _File("f", {"a": (1, 2)})
    assert buckets.of(_Src(f1, 1)) == buckets.of(_Src(f2, 1)) != buckets.of(_Src(f2, 2))
    assert buckets.of(_Src(f1, 1)) != buckets.of(_Src(_File("g", {}), 1))
    assert buckets.of(("a", 1)) == buckets.of(("a", 1.0)) != buckets.of(("a", 2))
    assert buckets.of(_Weird(1)) == buckets.of(_Weird(2))  # one bucket for the unhashable


# --------------------------------------------------------------------------
# Per-paragraph shortcuts.

TEXT = st.text(alphabet=HAN + "們說會發經進實現關開長問題門義東車見區乾燥麼著" + PUNCT + "\n ?_X2０", max_size=30)


@settings(max_examples=300, deadline=None)
@given(st.lists(TEXT, max_size=5))
def test_script_and_noise_from_paragraphs(texts):
    memo = merge_mod._Memo()
    joined = "\n".join(texts)
    assert memo.script(texts) == merge_mod._script(joined)
    assert float(sum(len(memo.noise(t)) for t in texts)) == noise_score(joined)


@settings(max_examples=100, deadline=None)
@given(st.lists(TEXT, max_size=8))
def test_opencc_converts_joined_text_piece_by_piece(texts):
    """What the per-paragraph script test and `reading_keys` rest on."""
    for script in ("simplified", "traditional"):
        joined = convert_script("\n".join(texts), script)
        assert joined == "\n".join(convert_script(t, script) for t in texts)


# The batched helpers: one call on the texts joined, the same as one per text.
BATCH_TEXT = st.text(alphabet=HAN + "們說會發經乾燥麼" + "，。?？XxX2019二○○某□_*※\ue000\n\ufffd a", max_size=12)


@settings(max_examples=300, deadline=None)
@given(st.lists(BATCH_TEXT, max_size=8))
def test_batched_keys_noise_and_conversions(texts):
    from cleaner.align import noise_spans
    from cleaner.normalize import match_key

    assert merge_mod._batch_keys(texts) == [match_key(t) for t in texts]
    assert merge_mod._batch_noise(texts) == [noise_spans(t) for t in texts]
    for script in ("simplified", "traditional"):
        assert merge_mod._batch_convert(texts, script) == [convert_script(t, script) for t in texts]


# --------------------------------------------------------------------------
# The vote alone: random slots, fast against plain.

READING = st.text(alphabet="王市长在会上说了__XX※?？，,。甲乙們說", min_size=0, max_size=14)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(READING, st.lists(READING, max_size=9), st.booleans()), min_size=1, max_size=4),
    st.randoms(use_true_random=False),
)
def test_vote_all_equals_vote(specs, rnd):
    slots = []
    for lead, readings, trad in specs:
        slot = merge_mod._Slot(merge_mod._Member(0, lead, "simplified", []))
        for rank, text in enumerate(readings, start=1):
            # Repeat readings often (copies agree); some in the other script.
            if slot.members and rnd.random() < 0.4:
                text = rnd.choice(slot.members).text
            script = "traditional" if trad and rnd.random() < 0.3 else "simplified"
            slot.members.append(merge_mod._Member(rank, text, script, []))
        slots.append(slot)
    fast = merge_mod._vote_all(slots, "simplified", merge_mod._Memo())
    assert fast == [merge_mod._vote(s, "simplified") for s in slots]


def test_vote_with_a_repeated_rank_takes_the_plain_path():
    slot = merge_mod._Slot(merge_mod._Member(0, "王市长说", "simplified", []))
    slot.members += [
        merge_mod._Member(1, "__市长说", "simplified", []),
        merge_mod._Member(1, "李市长说", "simplified", []),
    ]
    assert merge_mod._vote_all([slot], "simplified", merge_mod._Memo()) == [merge_mod._vote(slot, "simplified")]


def test_reading_key_cache_starts_afresh_when_full(monkeypatch):
    monkeypatch.setattr(merge_mod, "_READING_KEYS_MAX", 4)
    monkeypatch.setattr(merge_mod, "_READING_KEYS", {False: {}, True: {}})
    variants = _seed_copies(6)
    assert merge_variants(variants) == merge_variants_reference(variants)


# --------------------------------------------------------------------------
# Realistic: many copies of a seed article.


def _seed_article() -> list[str]:
    lines = SEED.read_text(encoding="utf-8").splitlines()
    start = lines.index("篇1:工业园区工作会议讲话") + 1
    end = lines.index("篇2:工业园区工作会议讲话")
    return [ln for ln in lines[start:end] if ln.strip()]


def _seed_copies(n: int, seed: int = 5) -> list[Variant]:
    rng = random.Random(seed)
    article = _seed_article()
    return [_variant(f"v{k}", _copy(rng, article)) for k in range(n)]


def test_fast_equals_reference_on_many_seed_copies():
    _same(_seed_copies(30))


@pytest.mark.slow
def test_cost_is_linear_in_copies():
    """8x the copies must not cost much more than 8x the CPU."""
    small, big = _seed_copies(12, seed=1), _seed_copies(96, seed=1)
    merge_variants(small)  # warm-up (OpenCC, caches)

    def cpu(variants: list[Variant]) -> float:
        best = float("inf")
        for _ in range(2):
            t0 = time.process_time()
            merge_variants(variants)
            best = min(best, time.process_time() - t0)
        return best

    t_small, t_big = cpu(small), cpu(big)
    print(f"\n12 copies {t_small * 1000:.0f} ms, 96 copies {t_big * 1000:.0f} ms ({t_big / t_small:.1f}x)")
    assert t_big < 12 * t_small
