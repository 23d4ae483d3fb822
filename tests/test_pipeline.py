"""The library pipeline end to end: records, offsets, stable ids, the Python API."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz

import cleaner
from cleaner import CleanConfig, clean_files, clean_texts
from cleaner.decode import decode_bytes
from cleaner.fixes import repair_text
from cleaner.normalize import match_key

from .conftest import SEED_NAMES, SEEDS_DIR


@pytest.fixture(scope="module")
def seed_result() -> cleaner.CleanResult:
    return clean_files([str(SEEDS_DIR / n) for n in SEED_NAMES])


def _decoded_by_file(result: cleaner.CleanResult) -> dict[str, str]:
    return {fa.decoded.name: fa.decoded.decoded for fa in result.files}


def test_every_seed_yields_articles_and_is_accounted_for(seed_result: cleaner.CleanResult) -> None:
    report = seed_result.report.to_dict()
    assert report["totals"]["inputs"] == 5 and report["totals"]["failed"] == 0
    assert all(f["articles"] >= 1 for f in report["files"])
    assert report["totals"]["articles"] == sum(len(r.sources) for r in seed_result.articles)


def _replay(text: str, start: int, end: int, removed: list[dict]) -> str:
    """text[start:end] with the removals inside it applied."""
    out, at = [], start
    for rem in sorted(removed, key=lambda r: r["start"]):
        if rem["start"] >= at and rem["end"] <= end:
            out.append(text[at : rem["start"]])
            out.append(rem.get("replacement", ""))
            at = rem["end"]
    out.append(text[at:end])
    return "".join(out)


def test_offsets_point_at_the_raw_text(seed_result: cleaner.CleanResult) -> None:
    decoded = _decoded_by_file(seed_result)
    for rec in seed_result.records():
        for para in rec["paragraphs"]:
            ptext = rec["text"][para["start"] : para["end"]]
            for src in para["sources"]:
                # A paragraph is its raw lines with PDF breaks rejoined and
                # every removal inside it replayed: exactly, for an article
                # with one source; a merged paragraph is supported by each
                # copy's aligned paragraph (edits, masks, truncation).
                raw = _replay(decoded[src["file"]], src["start"], src["end"], rec["removed"])
                raw = raw.replace("\n", "").strip()
                if len(rec["sources"]) == 1:
                    assert raw == ptext.replace("\n", ""), (rec["id"], src)
                else:
                    assert max(fuzz.ratio(raw, ptext), fuzz.partial_ratio(raw, ptext)) >= 60, (rec["id"], src)
        for rem in rec["removed"]:
            assert decoded[rem["file"]][rem["start"] : rem["end"]] == rem["text"]
        # The base copy (first source) holds the canonical opening paragraph.
        base = rec["sources"][0]
        article_raw = decoded[base["file"]][base["start"] : base["end"]]
        opening = rec["text"].split("\n")[0]
        assert fuzz.partial_ratio(opening, article_raw.replace("\n", "")) >= 90


def test_nothing_is_silently_dropped(seed_result: cleaner.CleanResult) -> None:
    """Every non-space character of every seed is in an article's span or a removal."""
    decoded = _decoded_by_file(seed_result)
    covered = {name: bytearray(len(text)) for name, text in decoded.items()}
    for rec in seed_result.records():
        for span in rec["sources"] + rec["removed"]:
            covered[span["file"]][span["start"] : span["end"]] = b"\1" * (span["end"] - span["start"])
    for name, text in decoded.items():
        lost = [i for i, ch in enumerate(text) if not ch.isspace() and not covered[name][i]]
        assert not lost, f"{name}: {len(lost)} characters in no article and no removal, e.g. {text[lost[0]:lost[0]+30]!r}"


def test_body_has_no_title_marker_or_preamble(seed_result: cleaner.CleanResult) -> None:
    for rec in seed_result.records():
        first = rec["text"].split("\n", 1)[0]
        assert not first.startswith(("篇", "第一篇", "前言")), first
        assert "投稿" not in rec["text"][:200] and "小编" not in rec["text"][:200]
        # The title is lifted out of the body (003 has no title line at all).
        assert rec["title"] not in rec["text"].split("\n")[:1]
    assert sum(1 for rec in seed_result.records() if rec["title"]) >= len(seed_result.articles) - 3


def test_ids_are_stable_across_runs_and_input_order() -> None:
    paths = [str(SEEDS_DIR / n) for n in SEED_NAMES]
    first = clean_files(paths).records()
    shuffled = paths[:]
    random.Random(7).shuffle(shuffled)
    second = clean_files(shuffled).records()
    assert sorted(r["id"] for r in first) == sorted(r["id"] for r in second)
    by_id = {r["id"]: r for r in second}
    for rec in first:
        assert by_id[rec["id"]]["text"] == rec["text"]
        assert by_id[rec["id"]]["sources"] == rec["sources"]


def test_ids_are_unique_and_content_derived(seed_result: cleaner.CleanResult) -> None:
    ids = [r.id for r in seed_result.articles]
    assert len(ids) == len(set(ids))
    assert all(i.startswith("a-") for i in ids)


def test_script_option_converts_output_only() -> None:
    path = str(SEEDS_DIR / "003_8f6810d6e151e3ce.txt")
    original = clean_files([path]).articles
    simplified = clean_files([path], CleanConfig().with_script("simplified")).articles
    assert "同志們" in original[0].text
    assert "同志们" in simplified[0].text and "們" not in simplified[0].text
    # Same content, same id: the key ignores script.
    assert [a.id for a in original] == [a.id for a in simplified]


def test_clean_texts_matches_clean_files(seed_texts: dict[str, str]) -> None:
    name = "004_fbd69bd8294d9448.txt"
    via_files = clean_files([str(SEEDS_DIR / name)]).records()
    via_texts = clean_texts([{"id": str(SEEDS_DIR / name), "text": seed_texts[name]}]).records()
    for a, b in zip(via_files, via_texts, strict=True):
        a.pop("repairs"), b.pop("repairs")
        assert a == b


@pytest.mark.parametrize("encoding", ["gb18030", "utf-16"])
def test_other_encodings_give_the_same_records(tmp_path: Path, seed_texts: dict[str, str], encoding: str) -> None:
    name = "000_4acff1a94245f79e.txt"
    (tmp_path / name).write_bytes(seed_texts[name].encode(encoding))
    utf8 = clean_files([str(SEEDS_DIR / name)]).records()
    other = clean_files([str(tmp_path / name)]).records()
    assert [r["text"] for r in other] == [r["text"] for r in utf8]
    assert [r["id"] for r in other] == [r["id"] for r in utf8]
    assert other[0]["repairs"][0]["detail"].startswith(encoding.split("-")[0][:3])


def _damage(text: str, every: int, how) -> str:
    lines = text.split("\n")
    return "\n".join(how(ln) if i % every == 1 and ln else ln for i, ln in enumerate(lines))


def test_reversible_mojibake_is_repaired_and_offsets_point_into_the_damaged_text(seed_texts: dict[str, str]) -> None:
    clean = seed_texts["004_fbd69bd8294d9448.txt"]
    # Every third line saved as UTF-8 and read back as latin-1: fully reversible.
    damaged = _damage(clean, 3, lambda ln: ln.encode("utf-8").decode("latin-1"))
    assert damaged != clean
    res = clean_texts([{"id": "d", "text": damaged}])
    ref = clean_texts([{"id": "d", "text": clean}])
    assert [r.text for r in res.articles] == [r.text for r in ref.articles]
    assert [r.id for r in res.articles] == [r.id for r in ref.articles]
    assert sum(1 for rec in res.records() for r in rec["repairs"] if r["kind"] == "mojibake") > 5
    for rec in res.records():
        for para in rec["paragraphs"]:
            ptext = rec["text"][para["start"] : para["end"]]
            [src] = para["sources"]
            raw = damaged[src["start"] : src["end"]]
            # The span covers the damaged bytes of exactly this paragraph.
            fixed = raw.encode("latin-1", errors="ignore").decode("utf-8", errors="ignore") if raw != ptext else raw
            assert fixed.replace("\n", "") == ptext or raw == ptext


def test_lossy_gbk_mojibake_is_flagged_and_text_kept(seed_texts: dict[str, str]) -> None:
    clean = seed_texts["004_fbd69bd8294d9448.txt"]
    # Body lines only: a part marker that lost bytes is no longer a marker.
    damaged = _damage(clean, 3, lambda ln: ln.encode("utf-8").decode("gbk", errors="replace") if len(ln) > 40 else ln)
    res = clean_texts([{"id": "d", "text": damaged}])
    [file_report] = res.report.to_dict()["files"]
    assert any(p["code"] == "mojibake-unrepaired" for p in file_report["problems"])
    assert len(res.articles) == len(clean_texts([{"id": "d", "text": clean}]).articles)
    from rapidfuzz import fuzz

    joined = "\n".join(r.text for r in res.articles)
    reference = "\n".join(r.text for r in clean_texts([{"id": "d", "text": clean}]).articles)
    # Most characters come back; only those whose bytes were lost are missing.
    assert fuzz.ratio(joined, reference) > 90


def test_decoded_file_text_round_trip(seed_texts: dict[str, str]) -> None:
    for name, text in seed_texts.items():
        d = decode_bytes(text.encode("utf-8"), name)
        assert d.decoded == text and d.text == text


# -- property: offsets survive repairs -------------------------------------

_SEED_LINES = [
    ln
    for name in SEED_NAMES
    for ln in (SEEDS_DIR / name).read_text(encoding="utf-8").split("\n")
    if len(ln) > 30 and "?" not in ln
][:400]

_DAMAGE = {
    "none": lambda ln: ln,
    "latin-1": lambda ln: ln.encode("utf-8").decode("latin-1"),
    "cp1252": lambda ln: ln.encode("utf-8").decode("cp1252", errors="strict")
    if all(b not in ln.encode("utf-8") for b in (0x81, 0x8D, 0x8F, 0x90, 0x9D))
    else ln,
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    picks=st.lists(st.tuples(st.integers(0, len(_SEED_LINES) - 1), st.sampled_from(sorted(_DAMAGE))), min_size=2, max_size=12),
    newline=st.sampled_from(["\n", "\r\n", "\n\n"]),
)
def test_every_span_points_at_its_raw_text_through_repairs(picks: list[tuple[int, str]], newline: str) -> None:
    """Random speeches with damaged lines and mixed newlines: every paragraph
    source span, repaired, is exactly the paragraph; every removal is raw text."""
    lines = ["测试会议讲话", "同志们:"] + [_DAMAGE[how](_SEED_LINES[i]) for i, how in picks]
    raw = newline.join(lines)
    res = clean_texts([{"id": "p", "text": raw}])
    for rec in res.records():
        for para in rec["paragraphs"]:
            ptext = rec["text"][para["start"] : para["end"]]
            for src in para["sources"]:
                span = raw[src["start"] : src["end"]]
                assert span.strip() == span and span
                # With its removals replayed and repaired on its own, the raw
                # span is exactly the paragraph, or, for a source flagged as
                # holding part of it, a passage inside it (by match key).
                replayed = _replay(raw, src["start"], src["end"], rec["removed"])
                got = repair_text(replayed.replace("\r\n", "\n")).text.replace("\n", "").strip()
                if src.get("part"):
                    assert match_key(got) in match_key(ptext) and len(match_key(got)) < len(match_key(ptext))
                else:
                    assert got == ptext.replace("\n", "")
        for rem in rec["removed"]:
            assert raw[rem["start"] : rem["end"]] == rem["text"]


def test_a_copy_of_part_of_a_paragraph_is_flagged_as_a_part() -> None:
    """Found by the property above: the file splits into two parts, [A] and
    [B, A] where B ends with a comma, so B and the second A are one
    paragraph. Merging the parts aligns the first A with that paragraph; its
    span holds only the paragraph's second half, so it is a ``part`` source."""
    picks = [(0, "none"), (101, "none"), (279, "none"), (0, "none")]
    assert _SEED_LINES[279].endswith(",")  # B runs on into the repeated A
    test_every_span_points_at_its_raw_text_through_repairs.hypothesis.inner_test(picks=picks, newline="\n")
    raw = "\n".join(["测试会议讲话", "同志们:"] + [_SEED_LINES[i] for i, _ in picks])
    (rec,) = clean_texts([{"id": "p", "text": raw}]).records()
    flags = [src.get("part", False) for para in rec["paragraphs"] for src in para["sources"]]
    assert flags.count(True) == 1


def test_records_leave_the_collector_as_they_found_it(seed_result: cleaner.CleanResult) -> None:
    """records() runs under the long-lived hold (the run's data is all
    alive): afterwards nothing stays frozen, the thresholds are back, and
    the dicts are the records' own."""
    import gc

    before = gc.get_threshold()
    records = seed_result.records()
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before
    assert records == [a.to_dict() for a in seed_result.articles] and records


@pytest.mark.parametrize("workers", [1, 2])
def test_progress_counts_every_phase_to_its_end(
    monkeypatch: pytest.MonkeyPatch, seed_texts: dict[str, str], workers: int
) -> None:
    """iter_records reports each phase's units as they are done: the files
    labelling's rules went through, the articles sketched for clustering,
    the clusters merged; counts start at 0, rise within a phase and end at
    its total."""
    import cleaner.boilerplate
    import cleaner.emit

    monkeypatch.setattr(cleaner.boilerplate, "PROGRESS_FILES", 2)
    monkeypatch.setattr(cleaner.emit, "PROGRESS_ARTICLES", 4)
    c = cleaner.Cleaner(workers=workers)
    found = c.add_texts((name, text, None) for name, text in sorted(seed_texts.items()))
    events: list[str | tuple[int, int | None]] = []
    merged: list[tuple[int, int]] = []
    records = list(c.iter_records(on_cluster=lambda d, t: merged.append((d, t)), on_phase=events.append,
                                  on_step=lambda d, t: events.append((d, t))))
    phases = [e for e in events if isinstance(e, str)]
    assert phases == ["labelling", "clustering", "merging"]
    steps: dict[str, list[tuple[int, int | None]]] = {p: [] for p in phases}
    for e in events:
        if isinstance(e, str):
            phase = e
        else:
            steps[phase].append(e)
    for phase, seen in steps.items():
        done = [d for d, _ in seen]
        assert done == sorted(done) and len(set(done)) == len(done), phase
        assert seen[-1][0] == seen[-1][1], phase  # ends at its total
    assert steps["labelling"][0] == (0, len(seed_texts)) and steps["labelling"][-1] == (len(seed_texts),) * 2
    assert len(steps["labelling"]) == 2 + len(seed_texts) // 2  # start, every 2 files, the last
    kept = steps["clustering"][-1][0]
    assert steps["clustering"][0] == (0, None)
    assert 0 < kept <= found and [d for d, _ in steps["clustering"][1:-1]] == list(range(4, kept, 4))
    assert steps["merging"] == merged and merged[0] == (0, len(records)) and merged[-1] == (len(records),) * 2
