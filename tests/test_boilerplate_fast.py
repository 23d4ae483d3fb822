"""The fast labelling path gives exactly what the plain one gives.

``BoilerplateLabeler(reference=True)`` runs the plain algorithms (every
block keyed and indexed on its own, n-grams counted per block, every rule
and cue searched); the default path dedupes texts and keys, gates searches
by the characters a text has, and counts n-grams in one numpy pass. Cuts,
learned rules and counters must be identical: on generated corpora
(hypothesis), on the seeds, and on the 779-document benchmark corpus.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cleaner import boilerplate
from cleaner.boilerplate import (
    BoilerplateLabeler,
    UnionFind,
    _jaccard_sorted,
    _related_articles,
    _repeated_runs,
    apply_cuts,
    apply_cuts_reference,
)
from cleaner.config import BoilerplateConfig
from cleaner.pipeline import Cleaner
from cleaner.shingle import shingle_hashes_many
from cleaner.sketch import exact_jaccard
from cleaner.types import Article, Block, Cut

from .conftest import ROOT, SEED_NAMES, SEEDS_DIR

CASES = json.loads((Path(__file__).parent / "cases" / "boilerplate.json").read_text(encoding="utf-8"))
RULE_CASES = json.loads((Path(__file__).parent / "cases" / "rules.json").read_text(encoding="utf-8"))["rules"]

_PARAGRAPHS = [
    ln
    for n in SEED_NAMES
    for ln in (SEEDS_DIR / n).read_text(encoding="utf-8").split("\n")
    if 40 < len(ln) < 300
]
# Noise the rules know (positives of every rule), and noise only repetition
# can find (a trailer, a watermark), plus site words and URLs in content.
_RULE_STAMPS = [c["text"] for r in RULE_CASES.values() for c in r.get("positives", [])]
_SITE_STAMPS = [
    CASES["learned_trailer"],
    CASES["learned_inline"],
    CASES["shared_slogan"],
    "更多精彩内容请访问www.example.com",
    "(来源:星光文苑 www.xgwy.net)",
    "本站小编精心整理,欢迎下载收藏",
    "同志们:",
    "— —",
    "2大项目投产拉动",
]


def _stamp(rng: random.Random) -> str:
    return rng.choice(_SITE_STAMPS if rng.random() < 0.6 else _RULE_STAMPS)


def _mutate(rng: random.Random, text: str) -> str:
    """A copy as scraped: character edits, a stamp inside, digits changed."""
    chars = list(text)
    for _ in range(rng.choice([0, 0, 1, 3])):
        i = rng.randrange(len(chars) + 1)
        chars.insert(i, rng.choice("的了是在有和?□本站网"))
    if chars and rng.random() < 0.3:
        del chars[rng.randrange(len(chars))]
    out = "".join(chars)
    if rng.random() < 0.3:
        i = rng.randrange(len(out) + 1)
        out = out[:i] + _stamp(rng) + out[i:]
    if rng.random() < 0.2:
        out = out.replace("1", "7").replace("2", "9")
    return out


def _corpus(seed: int, n_sources: int, n_articles: int) -> list[list[Article]]:
    """Copies of a few source articles, with stamps at the edges and inside,
    spread over files: the shape of a scraped corpus, in small."""
    rng = random.Random(seed)
    sources = [rng.sample(_PARAGRAPHS, rng.randint(2, 6)) for _ in range(n_sources)]
    files: list[list[Article]] = []
    for ai in range(n_articles):
        paras = [_mutate(rng, p) for p in rng.choice(sources)]
        if rng.random() < 0.5:
            paras.insert(0, _stamp(rng))
        for _ in range(rng.choice([0, 1, 2])):
            paras.append(_stamp(rng))
        if rng.random() < 0.2:  # a related-articles list
            paras += ["相关文章", "在全县工作会议上的讲话", "在工业园区工作会议上的讲话"]
        blocks = tuple(Block(0, len(p), p) for p in paras)
        if not files or rng.random() < 0.4:
            files.append([])
        files[-1].append(Article(f"f{len(files)}", len(files[-1]), 0, 0, "", blocks))
    return files


def _label(articles: list[list[Article]], reference: bool, **kw: Any) -> tuple[Any, ...]:
    lab = BoilerplateLabeler(reference=reference, **kw)
    cuts = lab.label(articles)
    return cuts, dict(lab.learned), dict(lab.counters)


def _assert_same(articles: list[list[Article]], **kw: Any) -> tuple[Any, ...]:
    fast = _label(articles, False, **kw)
    ref = _label(articles, True, **kw)
    assert fast[0] == ref[0]
    assert list(fast[0]) == list(ref[0])  # same order too
    assert fast[1] == ref[1]
    assert fast[2] == ref[2]
    return fast


def _segmented(docs: list[dict[str, str]]) -> list[list[Article]]:
    c = Cleaner()
    for d in docs:
        c.add_text(d["id"], d["text"])
    return [fa.articles for fa in c.files]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10**6),
    n_sources=st.integers(1, 4),
    n_articles=st.integers(1, 14),
    ngram=st.sampled_from([4, 6, 8]),
    min_unrelated=st.sampled_from([2, 3]),
    threshold=st.sampled_from([0.5, 0.8, 0.95]),
)
def test_fast_labels_equal_reference_on_generated_corpora(
    seed: int, n_sources: int, n_articles: int, ngram: int, min_unrelated: int, threshold: float
) -> None:
    config = BoilerplateConfig(
        inline_ngram=ngram,
        inline_min_unrelated=min_unrelated,
        min_unrelated=min_unrelated,
        block_threshold=threshold,
        related_min_key=10,
    )
    _assert_same(_corpus(seed, n_sources, n_articles), config=config)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6))
def test_fast_equals_reference_with_known_boilerplate_and_batches(seed: int) -> None:
    """What one batch learned applies to the next; counters accumulate."""
    first = _corpus(seed, 3, 10)
    learned = _assert_same(first, config=BoilerplateConfig(min_unrelated=2, inline_min_unrelated=2))[1]
    second = _corpus(seed + 1, 2, 6)
    _assert_same(second, known=learned)
    fast, ref = BoilerplateLabeler(), BoilerplateLabeler(reference=True)
    for batch in (first, second):
        assert fast.label(batch) == ref.label(batch)
    assert fast.counters == ref.counters and fast.learned == ref.learned


def test_fast_equals_reference_without_repetition_and_on_empty_input() -> None:
    articles = _corpus(7, 2, 5)
    _assert_same(articles, config=BoilerplateConfig(repetition=False))
    _assert_same([])
    _assert_same([[Article("e", 0, 0, 0, "", ())]])


@pytest.mark.parametrize("batched", [False, True])
def test_fast_equals_reference_on_the_seeds(
    seed_texts: dict[str, str], batched: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if batched:  # keys sketched and windows counted in many small batches, as on a large corpus
        monkeypatch.setattr(boilerplate, "_KEY_BATCH_CHARS", 300)
        monkeypatch.setattr(boilerplate, "_PART_WINDOWS", 2000)
    docs = [{"id": n, "text": t} for n, t in seed_texts.items()]
    # The seeds on their own, and four copies of them (so they repeat).
    _assert_same(_segmented(docs))
    copies = [{"id": f"{d['id']}#{i}", "text": d["text"]} for i in range(4) for d in docs]
    cuts, _, counters = _assert_same(_segmented(copies))
    assert cuts and counters


@pytest.mark.parametrize("chunk_files", [1, 3])
def test_rule_step_on_two_processes_equals_the_reference(
    seed_texts: dict[str, str], chunk_files: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Step 1 (the rules) decided on forked processes, a few files per
    claimed chunk, each process keeping its own scanner across chunks:
    the same cuts (in the same order), learned rules and counters."""
    monkeypatch.setattr(boilerplate, "_PARALLEL_RULE_BLOCKS", 0)
    monkeypatch.setattr(boilerplate, "_RULE_CHUNK_FILES", chunk_files)
    docs = [{"id": f"{n}#{i}", "text": t} for i in range(3) for n, t in seed_texts.items()]
    files = _segmented(docs) + _corpus(11, 3, 30)
    _, _, counters = _assert_same(files, workers=2)
    assert sum(1 for c in counters if c.startswith("rule:")) >= 5  # many rules took part
    assert boilerplate._RULING is None and boilerplate._RULING_STATE is None  # nothing kept after


def test_steps_two_and_three_on_two_processes_equal_the_reference(
    seed_texts: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Block keys sketched and repeated n-grams counted on forked
    processes (as on a large corpus): the same cuts, rules and counters."""
    monkeypatch.setattr(boilerplate, "_PARALLEL_KEY_CHARS", 0)
    monkeypatch.setattr(boilerplate, "_PARALLEL_WINDOWS", 0)
    spread: list[str] = []
    map_ordered = boilerplate.map_ordered

    def recorded(fn, items, **kw):  # type: ignore[no-untyped-def]
        spread.append(fn.__name__)
        return map_ordered(fn, items, **kw)

    monkeypatch.setattr(boilerplate, "map_ordered", recorded)
    docs = [{"id": f"{n}#{i}", "text": t} for i in range(3) for n, t in seed_texts.items()]
    cuts, _, counters = _assert_same(_segmented(docs) + _corpus(12, 3, 30), workers=2)
    assert cuts and {"_sketch_batch", "_repeated_in_part"} <= set(spread)
    assert boilerplate._SKETCHING is None and boilerplate._COUNTING is None  # nothing kept after


def test_learned_spans_in_blocks_a_helper_cut_point_at_their_own_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """A block cut by a rule on a step-1 helper comes back as its cut text
    alone; a watermark learned later inside it must still be cut at its own
    offsets in the block (the rule's cut before it shifts them)."""
    monkeypatch.setattr(boilerplate, "_PARALLEL_RULE_BLOCKS", 0)
    claim = "(本文权属文秘之音所有,更多文章请登陆www.xiexiebang.com查看)"
    mark = CASES["learned_inline"]
    files = []
    for i in range(8):  # unrelated articles, one a file
        a, b, c = _PARAGRAPHS[3 * i : 3 * i + 3]
        text = a + claim + b + mark + c
        files.append([Article(f"f{i}", 0, 0, 0, "", (Block(0, len(text), text), Block(0, len(c), c)))])
    cuts, _, _ = _assert_same(files, workers=2)
    for fi, articles in enumerate(files):
        text = articles[0].blocks[0].text
        # (the learned span takes in the full stop every paragraph before it ends with)
        found = {(c.rule.split(":")[0], text[c.start : c.end].lstrip("。")) for c in cuts[(fi, 0, 0)]}
        assert found == {("ownership-claim", claim), ("learned-inline", mark)}


def _docs779() -> list[dict[str, str]]:
    cached = ROOT / "bench" / ".cache" / "dedup-peers" / "seed1-docs779" / "docs.jsonl"
    if cached.is_file():
        # By "\n" only: mojibake texts hold U+0085 and friends.
        return [json.loads(line) for line in cached.read_text(encoding="utf-8").split("\n") if line]
    try:  # the same corpus, made again (bench/dedup_peers.py)
        from bench.dedup_peers import make_doc_corpus
    except ImportError as exc:  # pragma: no cover - bench not importable
        pytest.skip(f"benchmark corpus not available: {exc}")
    return [{"id": d.id, "text": d.text} for d in make_doc_corpus(1, 779).docs]


@pytest.mark.slow
def test_fast_equals_reference_on_the_benchmark_corpus() -> None:
    """779 scraped-like documents, ~24 noisy copies of each of 32 articles
    (the corpus the speed work was measured on)."""
    cuts, _, counters = _assert_same(_segmented(_docs779()))
    assert len(cuts) > 1000 and counters.get("learned-inline", 0) > 0


# -- the pieces ---------------------------------------------------------------


def _runs_reference(
    texts: list[str], owner: list[int], clusters: list[int], k: int, min_clusters: int, wanted: list[bool]
) -> list[tuple[int, int, int]]:
    """_repeated_runs the obvious way: a dict of n-gram hash -> clusters."""
    hashes, offsets = shingle_hashes_many(texts, k)
    seen: dict[int, set[int]] = {}
    for t, c in zip(owner, clusters):
        for h in hashes[offsets[t] : offsets[t + 1]].tolist():
            seen.setdefault(h, set()).add(c)
    out: list[tuple[int, int, int]] = []
    for t, text in enumerate(texts):
        if not wanted[t]:
            continue
        covered = [False] * len(text)
        for w, h in enumerate(hashes[offsets[t] : offsets[t + 1]].tolist()):
            if len(seen.get(h, ())) >= min_clusters:
                covered[w : w + k] = [True] * k
        s = None
        for i, c in enumerate(covered + [False]):
            if c and s is None:
                s = i
            elif not c and s is not None:
                out.append((t, s, i))
                s = None
    return out


@pytest.mark.parametrize("part_windows", [1 << 23, 4])
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.data(),
    k=st.integers(1, 5),
    min_clusters=st.integers(1, 3),
)
def test_repeated_runs_equal_a_dict_count(
    data: st.DataObject, k: int, min_clusters: int, part_windows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # part_windows 4: windows are counted in several parts by hash, as on
    # a large corpus; the runs must not change.
    monkeypatch.setattr(boilerplate, "_PART_WINDOWS", part_windows)
    # A tiny alphabet makes n-grams repeat.
    texts = data.draw(st.lists(st.text("甲乙丙丁", min_size=k + 1, max_size=20), min_size=1, max_size=8, unique=True))
    n_blocks = data.draw(st.integers(len(texts), 3 * len(texts)))
    owner = list(range(len(texts))) + data.draw(
        st.lists(st.integers(0, len(texts) - 1), min_size=n_blocks - len(texts), max_size=n_blocks - len(texts))
    )
    clusters = data.draw(st.lists(st.integers(0, 4), min_size=len(owner), max_size=len(owner)))
    wanted = data.draw(st.lists(st.booleans(), min_size=len(texts), max_size=len(texts)))
    got = _repeated_runs(texts, owner, clusters, k, min_clusters, wanted)
    assert got == _runs_reference(texts, owner, clusters, k, min_clusters, wanted)


@pytest.mark.parametrize("part_windows", [1 << 23, 50])
def test_repeated_runs_counted_on_two_processes_equal_a_dict_count(
    part_windows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large counts run in parts on forked workers; the runs must not change."""
    monkeypatch.setattr(boilerplate, "_PART_WINDOWS", part_windows)
    monkeypatch.setattr(boilerplate, "_PARALLEL_WINDOWS", 0)
    rng = random.Random(7)
    alphabet = "甲乙丙丁戊己庚辛壬癸子丑"  # about half the characters end up in repeated runs
    texts = list(dict.fromkeys("".join(rng.choice(alphabet) for _ in range(rng.randint(6, 30))) for _ in range(60)))
    owner = list(range(len(texts))) + [rng.randrange(len(texts)) for _ in range(80)]
    clusters = [rng.randrange(12) for _ in owner]
    wanted = [rng.random() < 0.7 for _ in texts]
    for k, min_clusters in ((4, 3), (3, 3)):
        want = _runs_reference(texts, owner, clusters, k, min_clusters, wanted)
        assert want  # something repeats: the comparison means something
        assert _repeated_runs(texts, owner, clusters, k, min_clusters, wanted, workers=2) == want


@given(st.lists(st.integers(0, 50), max_size=30), st.lists(st.integers(0, 50), max_size=30))
def test_jaccard_of_sorted_sets_equals_exact_jaccard(a: list[int], b: list[int]) -> None:
    x = np.array(sorted(set(a)), dtype=np.uint64)
    y = np.array(sorted(set(b)), dtype=np.uint64)
    assert _jaccard_sorted(x, y) == exact_jaccard(x, y)


@given(st.text("本站小编网欢迎访问精心整理的了是www.com(): ", max_size=80))
def test_gated_site_questions_equal_the_plain_ones(text: str) -> None:
    lab = BoilerplateLabeler()
    mask = lab._site_gate.mask(text)
    assert lab._speaks_gated(text, mask) == lab._speaks_about_site_reference(text)
    assert lab._evidence_gated(text, mask) == lab._site_evidence_reference(text)
    # A containing text's mask is a superset: it may stand in for the span's.
    wider = lab._site_gate.mask("前" + text + "后")
    assert mask & ~wider == 0
    assert lab._speaks_gated(text, wider) == lab._speaks_about_site_reference(text)


def _related_reference(content: list[list[int]], sizes: list[int], share: float) -> list[int]:
    """_related_articles pair by pair, as the reference labeler counts."""
    shared: dict[tuple[int, int], int] = {}
    for arts in content:
        for x in range(len(arts)):
            for y in range(x + 1, len(arts)):
                shared[(arts[x], arts[y])] = shared.get((arts[x], arts[y]), 0) + 1
    uf = UnionFind(len(sizes))
    for (a, b), s in shared.items():
        if s >= 2 and s >= share * min(sizes[a], sizes[b]):
            uf.union(a, b)
    return [uf.find(a) for a in range(len(sizes))]


@settings(max_examples=300, deadline=None)
@given(data=st.data(), share=st.sampled_from([0.0, 0.3, 0.6, 1.0]))
def test_related_articles_by_profile_equal_pair_counting(data: st.DataObject, share: float) -> None:
    n = data.draw(st.integers(2, 12))
    sizes = data.draw(st.lists(st.integers(1, 4), min_size=n, max_size=n))
    groups = st.lists(st.integers(0, n - 1), min_size=2, max_size=n, unique=True).map(sorted)
    content = data.draw(st.lists(groups, max_size=10))
    assert _related_articles(content, sizes, share) == _related_reference(content, sizes, share)


@st.composite
def _texts_and_cuts(draw: st.DrawFn) -> tuple[str, list[Cut]]:
    text = draw(st.text("甲乙丙丁", max_size=30))
    cuts = []
    for _ in range(draw(st.integers(0, 4))):
        start = draw(st.integers(0, len(text)))
        end = draw(st.integers(start, len(text)))
        cuts.append(Cut(start, end, "watermark", "r", draw(st.sampled_from(["", "-", "——"]))))
    return text, cuts


@given(_texts_and_cuts())
def test_cut_origins_equal_one_offset_per_character(case: tuple[str, list[Cut]]) -> None:
    """Cuts overlapping, touching, empty, at either end, with and without
    replacements: the pieces give every position the reference's offset."""
    text, cuts = case
    got_text, origin = apply_cuts(text, cuts)
    want_text, want = apply_cuts_reference(text, cuts)
    assert got_text == want_text
    assert len(origin) == len(want) and tuple(origin) == want
    assert [origin[i] for i in range(-len(want), 0)] == list(want)
    with pytest.raises(IndexError):
        origin[len(want)]
