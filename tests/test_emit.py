"""Records from clusters: the seeds' copies merged, provenance, --no-merge."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz

import cleaner
from cleaner import CleanConfig, clean_files, clean_texts
from cleaner.cli import main
from cleaner.config import ClusterConfig
from cleaner.emit import RecordBuilder, sorted_removals
from cleaner.pipeline import prepare_text
from cleaner.types import Article, Cut, FileArticles, Removal

from .conftest import SEED_NAMES, SEEDS_DIR

SEED_001 = "001_66774ca9e7b2c39c.txt"


@pytest.fixture(scope="module")
def seeds() -> cleaner.CleanResult:
    return clean_files([str(SEEDS_DIR / n) for n in SEED_NAMES])


def _groups(result: cleaner.CleanResult) -> list[set[tuple[str, int]]]:
    return [{(s.file.rsplit("/", 1)[-1], s.article) for s in rec.sources} for rec in result.articles]


def test_each_distinct_speech_of_001_comes_out_once_with_all_its_copies(seeds: cleaner.CleanResult) -> None:
    groups = [g for g in _groups(seeds) if len(g) > 1]
    expected = [
        # 篇1 and the 市委书记 speech of 篇5, plus the untitled fragment of its page 2
        {(SEED_001, 0), (SEED_001, 5), (SEED_001, 9)},
        # 篇3 (the county speech), 篇4 continuing it, 篇2 a truncated copy of its start
        {(SEED_001, 1), (SEED_001, 2), (SEED_001, 3)},
        # the four 2006 speeches of 篇5 pasted twice
        {(SEED_001, 6), (SEED_001, 10)},
        {(SEED_001, 7), (SEED_001, 11)},
        {(SEED_001, 8), (SEED_001, 12)},
    ]
    assert sorted(map(sorted, groups)) == sorted(map(sorted, expected))
    # Everything else is its own record: 38 articles found, 31 records.
    assert sum(len(g) for g in _groups(seeds)) == 38
    assert len(seeds.articles) == 31


def test_continuation_is_joined_in_order(seeds: cleaner.CleanResult) -> None:
    [rec] = [r for r in seeds.articles if {(s.file.rsplit("/", 1)[-1], s.article) for s in r.sources} >= {(SEED_001, 2), (SEED_001, 3)}]
    text = rec.text
    assert text.index("一、我县工业板块优势突起") < text.index("二、正确评估园区发展现状") < text.index("三、着眼**工业长远发展")


def test_no_two_different_speeches_are_merged(seeds: cleaner.CleanResult) -> None:
    """Every source of a merged record is the canonical text or a piece of it
    (the distinct speeches of the seeds share under 0.03 Jaccard)."""
    decoded = {fa.decoded.name: fa.decoded.decoded for fa in seeds.files}
    for rec in seeds.articles:
        if len(rec.sources) < 2:
            continue
        for s in rec.sources:
            raw = decoded[s.file][s.start : s.end]
            # Whole copies are similar; pieces (a truncated copy, a
            # continuation, a page-2 fragment) are found inside it.
            assert s.similarity >= 0.8 or fuzz.partial_ratio(raw[-200:], rec.text) >= 80, (rec.title, s)


def test_every_paragraph_has_provenance(seeds: cleaner.CleanResult) -> None:
    decoded = {fa.decoded.name: fa.decoded.decoded for fa in seeds.files}
    for rec in seeds.records():
        covered = 0
        for p in rec["paragraphs"]:
            assert p["sources"], rec["id"]
            for span in p["sources"]:
                assert 0 <= span["start"] < span["end"] <= len(decoded[span["file"]])
            covered += p["end"] - p["start"] + 1
        assert covered == len(rec["text"]) + 1


def test_merged_canonical_is_closer_to_the_original_than_any_copy(seed_texts: dict[str, str]) -> None:
    rng = random.Random(8)
    original = clean_texts([{"id": "o", "text": seed_texts["000_4acff1a94245f79e.txt"]}]).articles[3]
    paras = original.text.split("\n")
    masked = [p.replace("市", "__", 1) if i % 2 else p for i, p in enumerate(paras)]
    question = [p + "?" if i % 3 == 0 and p.endswith("。") else p for i, p in enumerate(paras)]
    dropped = paras[:4] + paras[5:]
    edited = []
    for p in paras:
        chars = list(p)
        for _ in range(len(chars) // 40):
            chars[rng.randrange(len(chars))] = "的"
        edited.append("".join(chars))
    copies = [masked, question, dropped, edited]
    docs = [{"id": f"copy{i}", "text": original.title + "\n" + "\n".join(c)} for i, c in enumerate(copies)]
    [rec] = clean_texts(docs).articles
    assert len(rec.sources) == 4
    ratio = fuzz.ratio(rec.text, original.text) / 100
    assert ratio >= 0.99
    assert all(ratio >= fuzz.ratio("\n".join(c), original.text) / 100 for c in copies)


def test_ids_stay_when_inputs_are_shuffled(seed_texts: dict[str, str]) -> None:
    docs = [{"id": n, "text": t} for n, t in seed_texts.items()]
    first = {r["id"]: r for r in clean_texts(docs).records()}
    random.Random(2).shuffle(docs)
    second = {r["id"]: r for r in clean_texts(docs).records()}
    assert first.keys() == second.keys()
    assert all(first[k]["text"] == second[k]["text"] for k in first)


def test_no_merge_keeps_articles_apart_and_names_their_cluster(tmp_path, seeds: cleaner.CleanResult) -> None:  # type: ignore[no-untyped-def]
    apart = clean_files([str(SEEDS_DIR / SEED_001)], CleanConfig(cluster=ClusterConfig(merge=False)))
    assert all(len(r.sources) == 1 or r.sources[0].article + 1 == r.sources[1].article for r in apart.articles)
    by_cluster: dict[str, set[int]] = {}
    for r in apart.articles:
        assert r.cluster and r.cluster.startswith("c-")
        by_cluster.setdefault(r.cluster, set()).update(s.article for s in r.sources)
    assert {6, 10} in by_cluster.values() and {0, 5, 9} in by_cluster.values()
    assert len({r.id for r in apart.articles}) == len(apart.articles)
    out = tmp_path / "o"
    assert main(["clean", str(SEEDS_DIR / SEED_001), "-o", str(out), "--no-merge", "-q", "--no-progress"]) == 0
    assert (out / "articles.jsonl").read_text(encoding="utf-8").count('"cluster": "c-') == len(apart.articles)


@given(st.text(alphabet="ab \n\r同志们", max_size=30))
@settings(max_examples=300, deadline=None)
def test_text_to_raw_fast_path_equals_the_walk(raw: str) -> None:
    """Blocks whose text is their raw slice take a shortcut; it must give
    what walking both strings gives."""
    from cleaner.strip import _walk, text_to_raw

    assert list(text_to_raw(raw, raw)) == _walk(raw, raw)
    joined = raw.replace("\r", "").replace("\n", "")
    assert list(text_to_raw(joined, raw)) == _walk(joined, raw)


def test_sentence_runs_keep_the_spaces_between_them() -> None:
    """A long paragraph is split into sentence runs for matching; joined back
    for readers, the spaces between its sentences stay (they used to vanish,
    so a paragraph no longer equalled its raw span)."""
    body = "".join(f"第{i}句话说明今天全市工作会议的安排和要求。 " for i in range(60)).rstrip()
    rec = cleaner.clean_texts([{"id": "d", "text": "讲话\n同志们:\n" + body}], workers=1).records()[0]
    assert body in rec["text"]
    para = next(p for p in rec["paragraphs"] if len(p["sources"][0]) and p["end"] - p["start"] > 600)
    src = para["sources"][0]
    assert rec["text"][para["start"] : para["end"]] == ("讲话\n同志们:\n" + body)[src["start"] : src["end"]]


def test_cuts_of_one_span_keep_the_order_they_were_made_in() -> None:
    # Several cuts of the same span used to come out in set order, which
    # follows the process's string hashing: two runs could differ.
    cuts = [Removal("f", 3, 9, "text", "artefact", f"rule-{i}") for i in range(8)]
    before = Removal("f", 0, 2, "ab", "markup", "nbsp")
    got = sorted_removals([*cuts, before, cuts[2]])
    assert [r.rule for r in got] == ["nbsp"] + [f"rule-{i}" for i in range(8)]


def _two_part_file(notice: str) -> tuple[FileArticles, dict]:
    """One file, two articles: a speech, then a heading and a notice that the
    labels cut (what a scrape's second part often is)."""
    speech = "全市工业园区建设工作会议讲话\n同志们:\n今天我们召开全市工业园区建设工作会议,主要任务是总结上半年的工作,研究部署下半年的工作任务。"
    text = speech + "\n全市金融工作会议讲话\n" + notice
    found = prepare_text("f", text, CleanConfig()).found
    assert found is not None
    blocks = [b for a in found.articles for b in a.blocks]
    second = next(i for i, b in enumerate(blocks) if b.text == "全市金融工作会议讲话")
    first, rest = tuple(blocks[:second]), tuple(blocks[second:])
    articles = (
        Article("f", 0, first[0].start, first[-1].end, "", first),
        Article("f", 1, rest[0].start, rest[-1].end, "", rest),
    )
    labels = {(0, 1, len(rest) - 1): [Cut(0, len(rest[-1].text), "boilerplate", "test-notice")]}
    return FileArticles(found.decoded, articles, ()), labels


def test_a_part_the_cuts_left_too_short_goes_out_beside_the_real_article() -> None:
    fa, labels = _two_part_file("本文来源于网络,版权归原作者所有,如有侵权请联系删除。")
    builder = RecordBuilder()
    records = list(builder.iter_records([fa], labels))
    # One record: the scrap (a heading whose notice was cut) would otherwise
    # be a record of its own, and merge with the same scrap of other articles.
    assert len(records) == 1 and records[0].text.startswith("同志们")
    short = [r for r in records[0].removed if r.rule == "short-part"]
    assert [(r.reason, r.text) for r in short] == [("structure", "全市金融工作会议讲话")]
    assert fa.decoded.decoded[short[0].start : short[0].end] == "全市金融工作会议讲话"
    assert any(r.rule == "test-notice" for r in records[0].removed)
    assert builder.counters["short_parts_removed"] == 1


def test_a_file_of_short_parts_only_keeps_them() -> None:
    fa, labels = _two_part_file("本文来源于网络,版权归原作者所有,如有侵权请联系删除。")
    only_scrap = FileArticles(fa.decoded, (replace(fa.articles[1], index=0),), ())
    labels = {(0, 0, k[2]): v for k, v in labels.items()}
    records = list(RecordBuilder().iter_records([only_scrap], labels))
    assert [r.text for r in records] == ["全市金融工作会议讲话"]
