"""Worker processes: same results as one process, in order, errors surface."""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import threading
import time
from pathlib import Path

import pytest

from cleaner import clean_texts, cluster, emit
from cleaner.parallel import HELD_GC_THRESHOLDS, hold_long_lived, map_ordered, release_long_lived, resolve_workers
from cleaner.pipeline import Cleaner

from .conftest import SEED_NAMES, SEEDS_DIR


def _square(x: int) -> int:
    return x * x


def _fail_on_seven(x: int) -> int:
    if x == 7:
        raise ValueError("seven")
    return x


_STATE: list[int] = []


def _from_state(i: int) -> int:
    return _STATE[i] + 1


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("chunk_size", [1, 3, 50])
def test_results_come_back_in_input_order(workers: int, chunk_size: int) -> None:
    assert list(map_ordered(_square, range(40), workers=workers, chunk_size=chunk_size)) == [x * x for x in range(40)]


def test_an_error_in_a_worker_is_raised_in_the_caller() -> None:
    got: list[int] = []
    with pytest.raises(ValueError, match="seven"):
        for x in map_ordered(_fail_on_seven, range(20), workers=2, chunk_size=2):
            got.append(x)
    assert got == list(range(6))  # everything before the failing chunk arrived


def test_forked_workers_see_state_set_before_the_call() -> None:
    _STATE[:] = [10, 20, 30, 40]
    try:
        assert list(map_ordered(_from_state, range(4), workers=2, chunk_size=1, inherit=True)) == [11, 21, 31, 41]
    finally:
        _STATE.clear()


def _pid_after_a_nap(x: int) -> int:
    time.sleep(0.05)
    return os.getpid()


def test_the_caller_works_too_while_its_helper_is_busy() -> None:
    # Chunks 0 and 1 queue at the helper; chunk 2 finds it busy and runs here.
    pids = list(map_ordered(_pid_after_a_nap, range(6), workers=2, chunk_size=1))
    assert os.getpid() in pids and len(set(pids)) == 2


def test_two_large_chunks_are_shared_when_a_helper_holds_one() -> None:
    pids = list(map_ordered(_pid_after_a_nap, range(2), workers=2, chunk_size=1, helper_queue=1))
    assert pids[1] == os.getpid() != pids[0]


def _echo(x: str) -> str:
    return x


def test_chunks_larger_than_a_pipe_go_both_ways() -> None:
    # 3 MB items, results as large: neither side may wait for the other to read.
    items = [chr(0x4E00 + i) * 1_000_000 for i in range(6)]
    done: list[list[str]] = []
    t = threading.Thread(target=lambda: done.append(list(map_ordered(_echo, items, workers=2, chunk_size=1))), daemon=True)
    t.start()
    t.join(60)
    assert done == [items], "map_ordered deadlocked on large chunks"


_MAIN_PID = os.getpid()


def _die_in_a_helper(x: int) -> int:
    if os.getpid() != _MAIN_PID:
        os._exit(3)
    return x


def test_a_helper_that_dies_is_an_error_not_a_hang() -> None:
    with pytest.raises(RuntimeError, match="worker process stopped unexpectedly"):
        list(map_ordered(_die_in_a_helper, range(10), workers=2, chunk_size=1))
    assert mp.active_children() == []


def test_a_caller_that_stops_early_leaves_no_helper_behind() -> None:
    results = map_ordered(_pid_after_a_nap, range(40), workers=2, chunk_size=1)
    next(results)
    results.close()
    assert mp.active_children() == []


# -- inherited work, claimed from a shared counter ----------------------------


def _slow_in_the_caller(i: int) -> int:
    # The caller's first chunk is long; every other chunk is short.
    if os.getpid() == _MAIN_PID and not _STATE:
        _STATE.append(i)
        time.sleep(1.0)
    else:
        time.sleep(0.005)
    return os.getpid()


@pytest.mark.parametrize("chunk_size", [1, 3, 7])
def test_inherited_work_comes_back_in_order(chunk_size: int) -> None:
    _STATE[:] = list(range(50))
    try:
        got = list(map_ordered(_from_state, range(50), workers=2, chunk_size=chunk_size, inherit=True))
    finally:
        _STATE.clear()
    assert got == [x + 1 for x in range(50)]


def test_a_helper_goes_on_claiming_while_the_caller_is_busy() -> None:
    """With inherited items nothing is sent: the helper takes the next chunk
    as soon as it is free, so one long chunk in the caller does not leave
    it idle (handed out by the caller, it would get one chunk per chunk
    the caller finishes)."""
    try:
        pids = list(map_ordered(_slow_in_the_caller, range(20), workers=2, chunk_size=1, inherit=True))
    finally:
        _STATE.clear()
    # 8 chunks may be out at once (2 processes x in_flight 4): while the
    # caller sleeps on one of them, the helper does the seven others.
    assert pids[:8].count(os.getpid()) == 1 and len(set(pids)) == 2


def test_an_error_in_inherited_work_is_raised_at_its_turn() -> None:
    got: list[int] = []
    with pytest.raises(ValueError, match="seven"):
        for x in map_ordered(_fail_on_seven, range(20), workers=2, chunk_size=2, inherit=True):
            got.append(x)
    assert got == list(range(6))
    assert mp.active_children() == []


def _nap_or_die(x: int) -> int:
    if os.getpid() != _MAIN_PID:
        os._exit(3)
    time.sleep(0.05)  # (so that the helper has started before the work is done)
    return x


def test_a_claiming_helper_that_dies_is_an_error_not_a_hang() -> None:
    with pytest.raises(RuntimeError, match="worker process stopped unexpectedly"):
        list(map_ordered(_nap_or_die, range(10), workers=2, chunk_size=1, inherit=True))
    assert mp.active_children() == []


def test_a_caller_that_stops_claimed_work_early_leaves_no_helper_behind() -> None:
    results = map_ordered(_pid_after_a_nap, range(40), workers=2, chunk_size=1, inherit=True)
    next(results)
    results.close()
    assert mp.active_children() == []


_STARTED: list[object] = []


def _count_start(i: int) -> int:
    started = _STARTED[0]
    with started.get_lock():  # type: ignore[attr-defined]
        started.value += 1  # type: ignore[attr-defined]
    return i


def test_claimed_work_runs_a_bounded_number_of_chunks_ahead() -> None:
    """A slow reader holds the results back: at most ``workers * in_flight``
    chunks are claimed beyond those it has read."""
    _STARTED[:] = [mp.get_context("fork").Value("i", 0)]
    try:
        for read, _ in enumerate(map_ordered(_count_start, range(30), workers=2, chunk_size=1, inherit=True, in_flight=2), start=1):
            time.sleep(0.01)
            assert _STARTED[0].value <= read + 4  # type: ignore[attr-defined]
        assert _STARTED[0].value == 30  # type: ignore[attr-defined]
    finally:
        _STARTED.clear()


def test_reading_on_two_processes_loads_what_labelling_and_merging_need(monkeypatch: pytest.MonkeyPatch) -> None:
    """Between results, the main process loads the rule pack's scanner
    tables, the match-key table and both script conversions, so that
    labelling and the merge pools start with them (a sentinel bug once
    stopped this after its first step, unnoticed: results were the same)."""
    from cleaner import normalize
    from cleaner.rules import default_pack

    monkeypatch.setattr(default_pack(), "_scan_parts", None)
    monkeypatch.setattr(normalize, "_KEY_TABLES", {})
    monkeypatch.setattr(normalize, "_CHANGERS", {})
    monkeypatch.setattr(normalize, "_converters", {})
    texts = [(f"{n}#{i}", (SEEDS_DIR / n).read_text(encoding="utf-8", errors="replace"), None) for i in range(2) for n in SEED_NAMES]
    Cleaner(workers=2).add_texts(texts)
    assert default_pack()._scan_parts is not None
    assert "t2s" in normalize._KEY_TABLES
    assert sorted(normalize._CHANGERS) == ["s2t", "t2s"] and sorted(normalize._converters) == ["s2t", "t2s"]


def test_workers_zero_means_every_core() -> None:
    assert resolve_workers(0) >= 1 and resolve_workers(5) == 5


@pytest.mark.parametrize(("pool_articles", "chunk_articles"), [(4000, 16), (5, 1), (5, 3)])
def test_the_pipeline_gives_the_same_records_on_two_processes_as_on_one(
    pool_articles: int, chunk_articles: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parallel path against the one-process reference, record for record
    (text, provenance offsets, removals, order) and report counters; also
    with feature and merge pools replaced every few articles, as on a large
    run (articles are cleaned while the feature pools work), and merge
    workers claiming one cluster or a few at a time."""
    monkeypatch.setattr(emit, "_MERGE_POOL_ARTICLES", pool_articles)
    monkeypatch.setattr(emit, "_MERGE_CHUNK_ARTICLES", chunk_articles)
    if pool_articles < 100:
        monkeypatch.setattr(emit, "_FEATURE_CHUNK_ARTICLES", 4)
        monkeypatch.setattr(cluster, "_FEATURE_POOL_TEXTS", 20)
    records = [{"id": n, "text": (SEEDS_DIR / n).read_text(encoding="utf-8")} for n in SEED_NAMES]
    # Each seed twice, renamed: clusters with copies, so merging runs in workers.
    records += [{"id": "copy-" + r["id"], "text": r["text"]} for r in records]
    one = clean_texts(records, workers=1)
    two = clean_texts(records, workers=2)
    assert two.records() == one.records()
    assert two.report.counters == one.report.counters
    assert [f.to_dict() for f in two.report.files] == [f.to_dict() for f in one.report.files]


def test_a_rule_file_that_cannot_be_read_fails_alike_on_one_process_and_two(tmp_path: Path) -> None:
    """With workers, the rule pack is loaded early while files are prepared
    (a warm-up); the error must still come where it comes without them."""
    from dataclasses import replace

    from cleaner.config import CleanConfig

    base = CleanConfig()
    config = replace(base, boilerplate=replace(base.boilerplate, rules_path=str(tmp_path / "missing.toml")))
    records = [{"id": f"r{i}", "text": f"讲话{i}\n同志们:\n今天我们召开全市工作会议,部署下半年的工作任务。"} for i in range(40)]
    for workers in (1, 2):
        with pytest.raises(ValueError, match="missing.toml: cannot read rule file"):
            clean_texts(records, config, workers=workers)


def test_files_come_back_from_workers_unchanged() -> None:
    """FileArticles pickles compactly (block texts that are plain slices are
    not sent); what arrives must equal what was sent, blocks with rejoined
    line breaks included."""
    import pickle

    from cleaner.config import CleanConfig
    from cleaner.pipeline import prepare_text

    texts = [(SEEDS_DIR / n).read_text(encoding="utf-8") for n in SEED_NAMES]
    texts.append("讲话\n同志们:\n今天我们召开全市工作会议,部署下半\n年的工作任务。This line was\nbroken by a PDF export.")
    rejoined = 0
    for i, text in enumerate(texts):
        found = prepare_text(f"t{i}", text, CleanConfig()).found
        assert found is not None
        back = pickle.loads(pickle.dumps(found))
        assert back == found
        rejoined += sum(b.text != found.decoded.text[b.start : b.end] for a in found.articles for b in a.blocks)
    assert rejoined > 0  # the case where a block's text is sent whole is exercised


def test_records_come_back_from_workers_unchanged() -> None:
    """Records pickle as plain tuples (see CanonicalArticle.__reduce__): what
    arrives must equal what was sent, field for field."""
    import dataclasses
    import pickle

    from cleaner.types import Removal, SourceSpan

    records = [{"id": n, "text": (SEEDS_DIR / n).read_text(encoding="utf-8")} for n in SEED_NAMES]
    articles = clean_texts(records + [{"id": "copy", "text": records[0]["text"][:3000]}], workers=1).articles
    # Every optional field set somewhere, so that a field the pickling drops fails.
    first = articles[0]
    para = first.paragraphs[0]
    articles.append(dataclasses.replace(
        first, cluster="c-x", meta={"url": "u"},
        paragraphs=(dataclasses.replace(para, sources=(SourceSpan("f", 1, 2, True),)),) + first.paragraphs[1:],
        removed=(Removal("f", 3, 4, "?", "artefact", "decimal", "."),) + first.removed,
        repairs=({"file": "f", "kind": "mojibake", "detail": "gbk", "start": 0, "end": 2},),
    ))
    assert all(r.paragraphs and r.sources for r in articles) and sum(len(r.removed) for r in articles) > 10
    for rec in articles:
        back = pickle.loads(pickle.dumps(rec))
        assert back == rec and back.to_dict() == rec.to_dict()


def test_values_pickled_by_their_fields_come_back_unchanged() -> None:
    """Span, Repair, Cut and Removal pickle as their constructor's arguments
    (labelling's helper sends cuts back, reading's send repairs and
    removals): every field, optional ones set or not, must survive."""
    import dataclasses
    import pickle

    from cleaner.types import Cut, Removal, Repair, Span

    values = [
        Span(0, 3), Cut(1, 9, "watermark", "learned-inline:ab"), Cut(0, 4, "artefact", "decimal", "."),
        Repair("encoding", "gb18030"), Repair("mojibake", "latin-1 line", 5, 17),
        Removal("f.txt", 3, 4, "?", "artefact", "decimal", "."), Removal("f.txt", 0, 6, "本站投稿", "boilerplate", "preamble"),
    ]
    for value in values:
        back = pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
        assert type(back) is type(value) and back == value
        assert dataclasses.astuple(back) == dataclasses.astuple(value)


def test_long_lived_holds_nest_and_the_last_release_unfreezes() -> None:
    keep = [[i] for i in range(1000)]  # noqa: F841  (objects to freeze)
    assert gc.get_freeze_count() == 0
    before = gc.get_threshold()
    hold_long_lived()
    hold_long_lived()
    assert gc.get_freeze_count() > 0
    # The collector runs less often while held, and as before after.
    assert gc.get_threshold() == tuple(max(a, b) for a, b in zip(before, HELD_GC_THRESHOLDS))
    # A pool with inherited state holds and releases too, inside ours.
    _STATE[:] = [1, 2, 3]
    assert list(map_ordered(_from_state, range(3), workers=2, chunk_size=1, inherit=True)) == [2, 3, 4]
    assert gc.get_freeze_count() > 0
    release_long_lived()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold() != before
    release_long_lived()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


@pytest.mark.parametrize("workers", [1, 2])
def test_a_run_leaves_no_object_frozen(workers: int) -> None:
    # Records read to the end, and a caller that stops after the first one.
    texts = [(n, (SEEDS_DIR / n).read_text(encoding="utf-8", errors="replace"), None) for n in SEED_NAMES]
    before = gc.get_threshold()
    cleaner = Cleaner(workers=workers)
    cleaner.add_texts(texts)
    assert gc.get_freeze_count() == 0
    assert len(list(cleaner.iter_records())) > 1
    assert gc.get_freeze_count() == 0
    again = Cleaner(workers=workers)
    again.add_texts(texts)
    records = again.iter_records()
    next(records)
    assert gc.get_freeze_count() > 0  # held while records are being made
    records.close()
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_holds_from_many_threads_all_end_unfrozen() -> None:
    # The service makes records on worker threads: the count of holds must
    # not lose an update, or the heap would stay frozen for good.
    import threading

    def churn() -> None:
        for _ in range(2000):
            hold_long_lived()
            release_long_lived()

    threads = [threading.Thread(target=churn) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert gc.get_freeze_count() == 0
    hold_long_lived()
    release_long_lived()
    assert gc.get_freeze_count() == 0
