"""Tests of the evaluation harness itself: bench/synth.py, bench/score.py and
bench/dedup_peers.py's combining of repeated runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench.score import gold_records, norm_content, raw_records, score, score_gold
from bench.synth import NOISE_KINDS, Corpus, generate, is_seed_noise, load_pool
from cleaner.decode import decode_bytes

N_DOCS = 40


@pytest.fixture(scope="module")
def pool():
    return load_pool()


@pytest.fixture(scope="module")
def corpus(pool) -> Corpus:
    return generate(seed=1, n_docs=N_DOCS, pool=pool)


@pytest.fixture(scope="module")
def written(corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return corpus.write(tmp_path_factory.mktemp("synth"))


def _nows(s: str) -> str:
    return "".join(s.split())


def test_pool_is_clean_and_distinct(pool) -> None:
    assert len(pool) >= 25
    assert len({s.id for s in pool}) == len(pool)
    for s in pool:
        assert s.chars >= 400
        assert not any(is_seed_noise(p) for p in s.paragraphs)
    # distinct: no two sources share a long passage
    keys = [norm_content("".join(s.paragraphs)) for s in pool]
    for i, a in enumerate(keys):
        grams = {a[k : k + 30] for k in range(0, len(a) - 30, 15)}
        for b in keys[i + 1 :]:
            assert sum(g in b for g in grams) < 0.3 * len(grams)


def test_deterministic(pool, corpus: Corpus) -> None:
    again = generate(seed=1, n_docs=N_DOCS, pool=pool)
    assert [f.name for f in again.files] == [f.name for f in corpus.files]
    assert [f.data for f in again.files] == [f.data for f in corpus.files]
    assert json.dumps(again.to_json(), ensure_ascii=False) == json.dumps(corpus.to_json(), ensure_ascii=False)
    other = generate(seed=2, n_docs=N_DOCS, pool=pool)
    assert [f.data for f in other.files] != [f.data for f in corpus.files]


def test_written_layout(written: Path, corpus: Corpus) -> None:
    gold = json.loads((written / "gold.json").read_text(encoding="utf-8"))
    assert len(gold["files"]) == N_DOCS == len(list((written / "files").glob("*.txt")))
    for f in corpus.files:
        assert (written / "files" / f.name).read_bytes() == f.data
    kinds = {n["kind"] for f in gold["files"] for n in f["noise"] + [m for a in f["articles"] for m in a["noise"]]}
    assert kinds <= set(NOISE_KINDS)
    assert {"preamble", "trailer", "watermark", "markup"} <= kinds
    assert len({f["encoding"] for f in gold["files"]}) >= 3


def test_files_decode_to_text_holding_gold(corpus: Corpus) -> None:
    for f in corpus.files:
        d = decode_bytes(f.data, f.name)
        assert d.decoded == f.text, (f.name, f.encoding)
        spans = f.all_noise()
        clean: list[str] = []
        last = 0
        for s in spans:
            assert f.text[s.start : s.end] == s.text
            assert s.start >= last
            clean.append(f.text[last : s.start])
            if s.kind == "mojibake":
                assert s.repaired
                raw = s.repaired.encode("utf-8")
                assert s.text == (raw.decode("gbk") if _is_gbk(s.text) else raw.decode("latin-1"))
                clean.append(s.repaired)
            last = s.end
        clean.append(f.text[last:])
        flat = _nows("".join(clean))
        for a in f.articles:
            assert f.text[a.start : a.end].strip()
            for p in a.paragraphs:
                assert _nows(p) in flat, (f.name, a.index, p[:30])


def _is_gbk(s: str) -> bool:
    return not re.search(r"[\x80-\xff]", s)


def test_scorer_on_gold_is_perfect(written: Path) -> None:
    res = score(written, gold_records(json.loads((written / "gold.json").read_text(encoding="utf-8"))))
    assert res["content_kept"] == pytest.approx(1.0)
    assert res["noise_left"] == 0.0
    assert res["dedup"]["false_merges"] == 0
    assert res["dedup"]["precision"] == 1.0


def test_scorer_on_merged_gold(written: Path) -> None:
    gold = json.loads((written / "gold.json").read_text(encoding="utf-8"))
    res = score_gold(gold, gold_records(gold, merge=True))
    assert res["content_kept"] == pytest.approx(1.0)
    assert res["noise_left"] == 0.0
    d = res["dedup"]
    assert (d["precision"], d["recall"], d["f1"], d["false_merges"]) == (1.0, 1.0, 1.0, 0)


def test_scorer_on_raw_text_finds_all_noise(written: Path) -> None:
    gold = json.loads((written / "gold.json").read_text(encoding="utf-8"))
    res = score_gold(gold, raw_records(written, gold))
    # Not exactly 1: a few notice characters also occur in gold content
    # (titles quoted in preambles, a legitimate "?"); see docs/evaluation.md.
    assert res["noise_left"] >= 0.99
    for kind, v in res["noise_by_kind"].items():
        assert v["left"] >= 0.95, kind
    # one record per file mixes every article of a compilation
    assert res["dedup"]["false_merges"] > 0


def test_scorer_counts_partial_removal(written: Path) -> None:
    gold = json.loads((written / "gold.json").read_text(encoding="utf-8"))
    recs = raw_records(written, gold)
    # remove every watermark from the raw text: watermark noise drops to 0
    for rec, f in zip(recs, gold["files"]):
        for s in sorted((n for a in f["articles"] for n in a["noise"] if n["kind"] == "watermark"),
                        key=lambda n: -n["start"]):
            rec["text"] = rec["text"][: s["start"]] + rec["text"][s["end"] :]
    res = score_gold(gold, recs)
    assert res["noise_by_kind"]["watermark"]["left"] == 0.0
    assert res["noise_by_kind"]["preamble"]["left"] >= 0.95


def test_repeated_runs_combine_into_the_median_speed_and_the_largest_peak():
    from bench.dedup_peers import Run, combine_runs

    runs = [
        Run("t", True, work_s=2.0, wall_s=3.0, peak_pss_mib=90, max_rss_mib=100),
        Run("t", False, error="timed out", work_s=0.0),
        Run("t", True, work_s=1.0, wall_s=1.5, peak_pss_mib=80, max_rss_mib=120),
        Run("t", True, work_s=4.0, wall_s=5.0, peak_pss_mib=85, max_rss_mib=90),
    ]
    row = combine_runs("t", runs, 10.0)
    assert row["ok"] and row["work_s"] == 2.0 and row["wall_s"] == 3.0 and row["mib_s"] == 5.0
    assert row["peak_pss_mib"] == 90 and row["max_rss_mib"] == 120
    assert row["mib_s_runs"] == [5.0, 10.0, 2.5] and row["failed_runs"] == 1
    # No run worked: the row says why, with no speed.
    bad = combine_runs("t", [Run("t", False, error="could not import")], 10.0)
    assert not bad["ok"] and bad["error"] == "could not import" and "mib_s" not in bad


def test_a_memory_run_gives_the_peak_and_the_timed_runs_the_speed():
    from bench.dedup_peers import Run, combine_runs, format_table

    timed = [Run("t", True, work_s=2.0, wall_s=3.0, peak_rss_tree_mib=150, max_rss_mib=100)]
    memory = Run("t", True, work_s=3.0, wall_s=4.0, peak_pss_mib=120, peak_rss_tree_mib=160, max_rss_mib=110)
    row = combine_runs("t", timed, 10.0, memory)
    assert row["mib_s"] == 5.0 and row["peak_pss_mib"] == 120  # speed from the timed run only
    assert row["peak_rss_tree_mib"] == 160 and row["max_rss_mib"] == 110
    assert abs(row["memory_run_mib_s"] - 10.0 / 3.0) < 1e-9
    # A memory run that failed leaves the peak unknown, not 0 MiB.
    row = combine_runs("t", timed, 10.0, Run("t", False, error="killed"))
    assert row["peak_pss_mib"] == 0.0 and row["memory_error"] == "killed"
    row["score"] = {"recall": 1.0, "precision": 1.0, "f1": 1.0, "false_pairs": 0, "mixed_clusters": 0,
                    "merged_articles": 0}
    line = format_table([row]).splitlines()[-1]
    assert line.split("|")[5].strip() == "-"


_ALLOCATING_TOOL = """
import argparse, json, time
ap = argparse.ArgumentParser()
for name in ("--input", "--out", "--workers", "--workdir"):
    ap.add_argument(name)
args = ap.parse_args()
t = time.perf_counter()
block = bytearray(96 * 2**20)
for i in range(0, len(block), 4096):  # a page is resident once written
    block[i] = 1
time.sleep(0.6)
with open(args.out, "w") as fh:
    json.dump({"tool": "alloc", "clusters": [], "work_s": time.perf_counter() - t, "notes": ""}, fh)
"""


@pytest.mark.parametrize("pss", [True, False])
def test_the_harness_measures_a_real_process_tree(tmp_path, pss):
    from bench.dedup_peers import Tool, run_tool

    script = tmp_path / "alloc.py"
    script.write_text(_ALLOCATING_TOOL, encoding="utf-8")
    docs = tmp_path / "docs.jsonl"
    docs.write_text("", encoding="utf-8")
    run = run_tool(Tool("alloc", str(script)), docs, tmp_path / "runs", pss=pss)
    assert run.ok and run.work_s >= 0.6
    assert run.peak_rss_tree_mib >= 96 and run.max_rss_mib >= 96
    if pss:  # read while the block was held
        assert 96 <= run.peak_pss_mib <= run.peak_rss_tree_mib
    else:  # the timed run never walks the page tables
        assert run.peak_pss_mib == 0.0


def test_the_warm_up_runs_each_selected_tool_once_untimed_on_a_small_corpus(tmp_path, capsys):
    import argparse
    import json

    from bench.dedup_peers import _WARMUP_DOCS, warm_up

    args = argparse.Namespace(tools="ours (dedup only)", workdir=str(tmp_path), seed=1, workers=1, timeout=300.0)
    warm_up(args)
    docs = (tmp_path / "warmup" / "docs.jsonl").read_text(encoding="utf-8").split("\n")  # (texts hold U+2028)
    assert len([line for line in docs if line]) == _WARMUP_DOCS
    result = json.loads((tmp_path / "warmup" / "runs" / "ours_dedup_only.json").read_text(encoding="utf-8"))
    assert result["clusters"] and "error" not in result  # it really ran
    assert sorted(p.name for p in (tmp_path / "warmup" / "runs").glob("*.json")) == ["ours_dedup_only.json"]
    assert "warm-up" in capsys.readouterr().out


def test_distinct_documents_benchmark_runs_ours_and_finds_no_copy(tmp_path, capsys):
    """bench.distinct_docs: documents that copy nothing (every text leads and
    is looked up in the sampled-shingle index); a cluster would be a false merge."""
    from bench.distinct_docs import distinct_docs, main

    docs = distinct_docs(40, 600)
    assert len({d["text"] for d in docs}) == 40
    assert main(["--docs", "240", "--chars", "600", "--repeat", "1", "--tools", "ours (dedup only)",
                 "--workers", "1", "--workdir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("| ours (dedup only) |"))
    assert row.split("|")[5].strip() == "0"  # false pairs
    with pytest.raises(SystemExit):
        main(["--tools", "no such tool", "--workdir", str(tmp_path)])
