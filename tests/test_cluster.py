"""Clustering copies: verification, containment, no chaining, short texts, real reuse data."""

from __future__ import annotations

import csv
import random
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cleaner.cluster import (
    _SampleOwners,
    _SampleOwnersReference,
    ArticleClusterer,
    continues,
    intersection_size,
    intersection_size_reference,
    similarity,
)
from cleaner.config import ClusterConfig
from cleaner.decode import decode_bytes

from .conftest import SEEDS_DIR

_PARAS = [
    ln
    for ln in (SEEDS_DIR / "000_4acff1a94245f79e.txt").read_text(encoding="utf-8").split("\n")
    + (SEEDS_DIR / "002_1cb92b5575a556ec.txt").read_text(encoding="utf-8").split("\n")
    if len(ln) > 60 and "www" not in ln
]


def _edit(text: str, rate: float, rng: random.Random) -> str:
    chars = list(text)
    for _ in range(int(len(chars) * rate)):
        i = rng.randrange(len(chars))
        chars[i] = rng.choice("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处理世府")
    return "".join(chars)


# Every behaviour holds for both ways of linking: every pair verified
# ("exact", small inputs) and the leader pass (large inputs, forced here).
_MODES = {"exact": ClusterConfig(), "leader": ClusterConfig(exact_nodes=0)}


@pytest.fixture(params=sorted(_MODES))
def clusterer(request):  # type: ignore[no-untyped-def]
    return lambda: ArticleClusterer(_MODES[request.param])


def _article(rng: random.Random, n: int = 8) -> str:
    return "\n".join(rng.sample(_PARAS, n))


def test_near_copies_cluster_and_distinct_articles_do_not(clusterer) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(1)
    a, b = _article(rng), _article(rng)
    texts = [a, _edit(a, 0.08, rng), b, _edit(b, 0.03, rng), a.replace("市", "__")]
    clusters = clusterer().cluster(texts, [(i,) for i in range(len(texts))])
    assert sorted(map(sorted, clusters)) == [[0, 1, 4], [2, 3]]


def test_truncated_copy_joins_by_containment(clusterer) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(2)
    full = _article(rng, 10)
    head = full[: len(full) // 6]
    clusters = clusterer().cluster([full, head], [(0,), (1,)])
    assert sorted(map(sorted, clusters)) == [[0, 1]]
    sets, _ = ArticleClusterer().shingles([full, head])
    sim = similarity(sets[0], sets[1])
    assert sim.jaccard < 0.35 and sim.containment == 1.0


def test_chaining_cannot_merge_unrelated_articles(clusterer) -> None:  # type: ignore[no-untyped-def]
    """B contains both A and C; A and C share nothing: A and C never end up together."""
    rng = random.Random(3)
    paras = rng.sample(_PARAS, 10)
    a, c = "\n".join(paras[:5]), "\n".join(paras[5:])
    b = a + "\n" + c
    clusters = clusterer().cluster([a, b, c], [(0,), (1,), (2,)])
    assert not any({0, 2} <= set(cl) for cl in clusters)


def test_short_texts_never_collide_by_accident(clusterer) -> None:  # type: ignore[no-untyped-def]
    texts = ["同志们:", "谢谢大家!", "一、提高认识", "同志们好", "散会。"] * 3
    clusters = clusterer().cluster(texts, [(i,) for i in range(len(texts))])
    # Identical short texts are the same text; different ones stay apart.
    assert sorted(sorted(set(texts[i] for i in cl)) for cl in clusters) == sorted([t] for t in set(texts))


def test_texts_whose_set_digests_collide_stay_apart(clusterer) -> None:  # type: ignore[no-untyped-def]
    """Equal digests group texts as exact copies only when their shingle
    sets are equal too: a collision (forced here) merges nothing."""
    rng = random.Random(5)
    a, b = _article(rng), _article(rng)
    texts = [a, b, a]
    c = clusterer()
    sets, words = c.shingles(texts)
    sigs = c.hasher.signatures(list(sets))
    clusters = c.cluster(texts, [(i,) for i in range(3)], (sets, words, sigs, [b"same"] * 3))
    assert sorted(map(sorted, clusters)) == [[0, 2], [1]]
    assert c.counters["exact_copies"] == 1


def test_cluster_order_does_not_depend_on_input_order(clusterer) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(4)
    a, b = _article(rng), _article(rng)
    texts = [a, _edit(a, 0.05, rng), b, _edit(b, 0.05, rng), a[:300]]
    keys = [(f"f{i}",) for i in range(len(texts))]
    first = clusterer().cluster(texts, keys)
    perm = list(range(len(texts)))
    rng.shuffle(perm)
    shuffled = clusterer().cluster([texts[i] for i in perm], [keys[i] for i in perm])
    assert sorted(sorted(keys[i] for i in c) for c in first) == sorted(
        sorted(keys[perm[i]] for i in c) for c in shuffled
    )


def test_continuation_needs_the_next_section_number() -> None:
    prev = ["同志们:", "一、认清形势", "正文。", "二、明确目标", "正文。"]
    assert continues("讲话", prev, "讲话", ["三、扩大投入", "正文。"])
    assert continues("讲话", prev, "", ["三、扩大投入", "正文。"])
    assert not continues("讲话", prev, "另一篇讲话", ["三、扩大投入"])
    assert not continues("讲话", prev, "讲话", ["一、新的讲话", "正文。"])
    assert not continues("讲话", prev, "讲话", ["同志们:", "三、扩大投入"])


@pytest.fixture(scope="module")
def reuse(external):  # type: ignore[no-untyped-def]
    root = external / "clough-stevenson-reuse"
    with open(root / "file_information.csv", encoding="utf-8") as fh:
        rows = [(r["File"].strip(), r["Task"].strip(), r["Category"].strip()) for r in csv.DictReader(fh)]
    texts = [decode_bytes((root / "texts" / f).read_bytes(), f).text for f, _, _ in rows]
    clusters = ArticleClusterer().cluster(texts, [(f,) for f, _, _ in rows])
    where = {rows[i][0]: n for n, cl in enumerate(clusters) for i in cl}
    return rows, where


def test_reuse_non_answers_are_never_merged(reuse) -> None:  # type: ignore[no-untyped-def]
    rows, where = reuse
    sizes: dict[int, int] = {}
    for c in where.values():
        sizes[c] = sizes.get(c, 0) + 1
    merged_non = [f for f, _, cat in rows if cat == "non" and sizes[where[f]] > 1]
    assert merged_non == []


def test_reuse_cut_answers_cluster_with_their_source(reuse) -> None:  # type: ignore[no-untyped-def]
    rows, where = reuse
    orig = {task: where[f] for f, task, cat in rows if cat == "orig"}
    cut = [(f, where[f] == orig[task]) for f, task, cat in rows if cat == "cut"]
    found = sum(ok for _, ok in cut)
    missed = {f for f, ok in cut if not ok}
    # Two "cut" answers copy a different Wikipedia article than their task's
    # source (g2pE_taskc, g4pD_taskb: 0.0 and 0.013 of their word 3-grams are
    # in it); two more take only 30-34% of their word 3-grams from it, no more
    # than the two "non" answers of task d share with each other (31%, both
    # copied from one outside text), which must stay apart.
    assert missed <= {"g2pE_taskc.txt", "g4pD_taskb.txt", "g1pA_taskd.txt", "g1pD_taskb.txt"}, missed
    assert found >= 15


@given(
    st.lists(st.integers(0, 2**64 - 1), max_size=300),
    st.lists(st.integers(0, 2**64 - 1), max_size=300),
    st.lists(st.integers(0, 2**64 - 1), max_size=60),
)
@settings(max_examples=200, deadline=None)
def test_intersection_size_equals_the_set_definition(xs: list[int], ys: list[int], common: list[int]) -> None:
    a = np.unique(np.array(xs + common, dtype=np.uint64))
    b = np.unique(np.array(ys + common, dtype=np.uint64))
    assert intersection_size(a, b) == intersection_size_reference(a, b)
    assert intersection_size(b[:3], a) == intersection_size_reference(b[:3], a)


def test_chaining_is_refused_among_many_copies_too() -> None:
    """The leader pass folds copies into leaders; the no-chaining rule must
    survive that: with many copies of A and of C and of the compilation
    A+C, no cluster holds both an A copy and a C copy."""
    rng = random.Random(5)
    paras = rng.sample(_PARAS, 12)
    a, c = "\n".join(paras[:6]), "\n".join(paras[6:])
    texts = [_edit(t, 0.02, rng) for t in [a, c, a + "\n" + c] for _ in range(8)]
    keys = [(i,) for i in range(len(texts))]
    for mode in _MODES.values():
        clusters = ArticleClusterer(mode).cluster(texts, keys)
        assert not any(set(cl) & set(range(8)) and set(cl) & set(range(8, 16)) for cl in clusters), mode


@pytest.mark.parametrize("seed", [2, 3])
def test_leader_pass_equals_every_pair_linked(seed: int) -> None:
    """Fast path against the reference: on a corpus of article copies (edits,
    masks, notices, watermarks, script and mojibake variants; about 15
    copies an article), folding copies into leaders gives exactly the
    clusters that verifying and linking every candidate pair gives."""
    from bench.dedup_peers import make_doc_corpus

    from cleaner.fixes import repair_text

    corpus = make_doc_corpus(seed, 160)
    texts = [repair_text(d.text).text for d in corpus.docs]
    keys = [(d.id,) for d in corpus.docs]
    fast = ArticleClusterer(ClusterConfig(exact_nodes=0))
    slow = ArticleClusterer()
    got = fast.cluster(texts, keys)
    want = slow.cluster_reference(texts, keys)
    assert sorted(map(sorted, got)) == sorted(map(sorted, want))
    assert fast.counters["satellites"] > 100  # the leader pass did fold copies
    assert fast.counters["verified_pairs"] < slow.counters["verified_pairs"] / 2


def test_guard_checked_at_once_equals_one_member_at_a_time() -> None:
    """The leader pass checks a text against a whole guard in one call;
    the answer must be what checking each member in turn gives, for texts
    the estimate settles (copies) and those it cannot (pieces, unrelated)."""
    from cleaner.cluster import _Graph

    rng = random.Random(11)
    a, b = _article(rng, 10), _article(rng, 10)
    lines = a.split("\n")
    texts = [_edit(a, 0.02, rng) for _ in range(4)] + [_edit(b, 0.03, rng) for _ in range(3)]
    texts += ["\n".join(lines[:4]), "\n".join(lines[6:]), "\n".join(lines[3:7]), a + "\n" + b]
    clusterer = ArticleClusterer()
    sets, words = clusterer.shingles(texts)
    sigs = clusterer.hasher.signatures(sets)

    def graph() -> _Graph:
        return _Graph(clusterer.config, sets, words, texts.__getitem__, defaultdict(int), sigs, [len(x) for x in sets])

    n, checked, refused = len(texts), 0, 0
    for _ in range(300):
        center, y = rng.randrange(n), rng.randrange(n)
        members = rng.sample(range(n), rng.randrange(0, 6))
        want = all(graph().compatible(center, y, m) for m in members)
        assert graph().compatible_with_all(center, y, members) == want, (center, y, members)
        checked += 1
        refused += not want
    assert 0 < refused < checked  # both answers were exercised


def _containment_candidates_naive(clusterer: ArticleClusterer, sets: list[np.ndarray]) -> set[tuple[int, int]]:
    """The sampled-shingle rule written out pair by pair."""
    cfg = clusterer.config
    mod = np.uint64(cfg.sample_mod)
    sampled = [set(s[s % mod == 0].tolist()) if len(s) >= cfg.min_shingles else set() for s in sets]
    owners: dict[int, int] = {}
    for smp in sampled:
        for h in smp:
            owners[h] = owners.get(h, 0) + 1
    share = min(cfg.containment_min, cfg.word_containment_min) / 2
    out = set()
    for x in range(len(sets)):
        for y in range(x + 1, len(sets)):
            common = sum(1 for h in sampled[x] & sampled[y] if owners[h] <= cfg.max_bucket)
            if common and common >= max(cfg.min_shared_samples, share * min(len(sampled[x]), len(sampled[y]))):
                out.add((x, y))
    return out


@given(
    st.lists(st.lists(st.integers(0, 400), min_size=0, max_size=120), min_size=0, max_size=12),
    st.sampled_from([0, 2**32 - 402, 2**40]),
)
@settings(max_examples=150, deadline=None)
def test_containment_candidates_equal_the_pairwise_rule(raw: list[list[int]], base: int) -> None:
    # Clustering's sets are 32-bit (packed path, up to the top value); wider
    # sets take the plain path.
    clusterer = ArticleClusterer(ClusterConfig(sample_mod=2, min_shingles=5, max_bucket=6))
    dtype = np.uint32 if base < 2**32 else np.uint64
    sets = [np.unique(np.array([base + x for x in xs], dtype=dtype)) for xs in raw]
    assert clusterer._containment_candidates(sets) == _containment_candidates_naive(clusterer, sets)


@given(st.lists(st.integers(0, 2**64 - 1), max_size=200), st.lists(st.integers(0, 2**64 - 1), max_size=50))
@settings(max_examples=200, deadline=None)
def test_shingle_set32_is_the_sorted_unique_low_bits(xs: list[int], repeats: list[int]) -> None:
    from cleaner.cluster import shingle_set32

    arr = np.array(xs + repeats + repeats, dtype=np.uint64)
    want = sorted({x & 0xFFFFFFFF for x in xs + repeats})
    got = shingle_set32(arr)
    assert got.dtype == np.uint32 and got.tolist() == want


def test_leader_pass_equals_every_pair_linked_on_cleaned_articles(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The full pipeline's case: cleaned article bodies of a synthetic file
    corpus (compilations, pieces, copies; 640 articles). A short piece found
    only inside a satellite (a passage its leader lacks) must still join."""
    from bench.eval_clean import generate

    from cleaner.emit import RecordBuilder
    from cleaner.inputs import plan_inputs
    from cleaner.pipeline import Cleaner

    root = generate(2, 300).write(tmp_path)
    c = Cleaner(workers=1)
    c.add_refs(plan_inputs([str(root / "files")], c.config.input))
    articles = list(RecordBuilder(c.config)._iter_clean(c.files, c.label(c.files), {}))
    bodies, keys = [a.body for a in articles], [a.sort_key for a in articles]
    fast = ArticleClusterer(c.config.cluster)
    got = fast.cluster(bodies, keys)
    want = ArticleClusterer(c.config.cluster).cluster_reference(bodies, keys)
    assert fast.counters["satellites"] > 200
    assert sorted(map(sorted, got)) == sorted(map(sorted, want))


_OPS = st.lists(
    st.tuples(
        st.sampled_from(["leader", "satellite", "counts"]),
        # The top values too: a hash of all ones ends the packed entries' range.
        st.lists(st.integers(0, 40).map(lambda v: v if v < 38 else 2**32 - 41 + v), max_size=12, unique=True).map(sorted),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(
    ops=_OPS,
    cap=st.integers(1, 4),
    log_size=st.integers(1, 20),
    growth=st.sampled_from([1, 2, 8]),
    scan_limit=st.sampled_from([0, 5, 4096]),
)
def test_sample_owner_arrays_equal_the_dict_of_lists(
    ops: list[tuple[str, list[int]]], cap: int, log_size: int, growth: int, scan_limit: int
) -> None:
    # Tiny logs are sorted into levels at every step and in between, looked
    # up as they are or sorted first, and levels merge at every growth
    # factor: the rule "a leader's, or among a hash's first cap entries"
    # must hold across the log, levels and merges.
    fast, ref = _SampleOwners(cap, log_size=log_size), _SampleOwnersReference(cap)
    fast.GROWTH, fast.SCAN_LIMIT = growth, scan_limit
    for x, (op, hashes) in enumerate(ops):
        sampled = np.array(hashes, dtype=np.uint32)
        if op == "counts":
            assert fast.counts(sampled) == ref.counts(sampled)
        else:
            fast.add(x, sampled, capped=op == "satellite")
            ref.add(x, sampled, capped=op == "satellite")
    everything = np.concatenate([np.arange(38), 2**32 - 41 + np.arange(38, 41)]).astype(np.uint32)
    assert fast.counts(everything) == ref.counts(everything)


def test_prefetched_intersections_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The leader pass with a second process computing its intersections
    ahead gives the clusters and counters it gives alone. A tiny window,
    limit and chunk make the queue wait, drop passed texts and refill."""
    from bench.dedup_peers import make_doc_corpus

    from cleaner import cluster as cluster_mod
    from cleaner.fixes import repair_text

    corpus = make_doc_corpus(3, 300)
    texts = [repair_text(d.text).text for d in corpus.docs]
    keys = [(d.id,) for d in corpus.docs]
    alone = ArticleClusterer(ClusterConfig(exact_nodes=0))
    want = alone.cluster(texts, keys, workers=1)
    for name, value in (("min_texts", 0), ("window", 16), ("limit", 8), ("chunk", 3)):
        monkeypatch.setattr(cluster_mod._Prefetcher, name, value)
    received: list[int] = []
    add = cluster_mod._Graph.add_intersections

    def counted(self, pairs, sizes):  # type: ignore[no-untyped-def]
        received.append(len(pairs))
        for (x, y), size in zip(pairs.tolist(), sizes.tolist()):
            assert size == intersection_size_reference(self.sets[x], self.sets[y])
        return add(self, pairs, sizes)

    monkeypatch.setattr(cluster_mod._Graph, "add_intersections", counted)
    helped = ArticleClusterer(ClusterConfig(exact_nodes=0))
    assert helped.cluster(texts, keys, workers=2) == want
    assert dict(helped.counters) == dict(alone.counters)
    assert sum(received) > 50  # the other process did answer


def test_a_helper_that_dies_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the intersection helper is killed, the pass goes on alone: same
    clusters, no error."""
    import os

    from bench.dedup_peers import make_doc_corpus

    from cleaner import cluster as cluster_mod
    from cleaner.fixes import repair_text

    corpus = make_doc_corpus(4, 200)
    texts = [repair_text(d.text).text for d in corpus.docs]
    keys = [(d.id,) for d in corpus.docs]
    want = ArticleClusterer(ClusterConfig(exact_nodes=0)).cluster(texts, keys, workers=1)

    def dies(conn, sets):  # type: ignore[no-untyped-def]
        conn.recv()
        os._exit(1)

    monkeypatch.setattr(cluster_mod, "_prefetch_intersections", dies)
    monkeypatch.setattr(cluster_mod._Prefetcher, "min_texts", 0)
    started: list[cluster_mod._Prefetcher] = []
    real_start = cluster_mod._Prefetcher.start.__func__  # type: ignore[attr-defined]

    def start(cls, *args):  # type: ignore[no-untyped-def]
        helper = real_start(cls, *args)
        started.append(helper)
        return helper

    monkeypatch.setattr(cluster_mod._Prefetcher, "start", classmethod(start))
    assert ArticleClusterer(ClusterConfig(exact_nodes=0)).cluster(texts, keys, workers=2) == want
    assert started and started[0].lost


@pytest.mark.parametrize("pool_texts", [4096, 70])
def test_cluster_texts_groups_alike_on_one_process_and_two(pool_texts: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Duplicate detection alone, on worker processes (a fresh pool every
    ``pool_texts`` texts, as on a large run) against one process."""
    from cleaner import cluster as cluster_module
    from cleaner.cluster import cluster_texts
    from cleaner.normalize import convert_script

    from .conftest import SEED_NAMES

    monkeypatch.setattr(cluster_module, "_FEATURE_POOL_TEXTS", pool_texts)
    texts = [(SEEDS_DIR / n).read_text(encoding="utf-8") for n in SEED_NAMES]
    records = []
    for i, text in enumerate(texts):
        records.append({"id": f"{i}", "text": text})
        records.append({"id": f"{i}-traditional", "text": convert_script(text, "traditional")})
        records.append({"id": f"{i}-half", "text": text[: len(text) // 2]})
        # Enough texts for several chunks of 32 per pool (one chunk runs here).
        records += [{"id": f"{i}-edited-{k}", "text": text.replace("的", "得", k + 1)} for k in range(40)]
    one = cluster_texts(records, workers=1)
    two = cluster_texts(records, workers=2)
    assert two == one
    assert sum(len(g) for g in one) == len(records)
    assert any({f"{i}", f"{i}-traditional"} <= set(g) for g in one for i in range(len(texts)))


@given(st.lists(st.integers(0, 2**64 - 1), max_size=50))
@settings(max_examples=100, deadline=None)
def test_packed_entry_fields_equal_shifts_through_views_and_copies(values: list[int]) -> None:
    from cleaner.cluster import _field

    a = np.array(values, dtype=np.uint64)
    for arr in (a, a[::2]):  # a view where it can, a copy where it is strided
        assert _field(arr, np.uint32, 32).tolist() == [v >> 32 for v in arr.tolist()]
        assert _field(arr, np.uint8, 0).tolist() == [v & 0xFF for v in arr.tolist()]
