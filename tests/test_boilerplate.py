"""Noise labelling: rules at the edges and inline, repetition across unrelated
articles, and the legitimate repetition that must survive."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from cleaner import clean_texts
from cleaner.boilerplate import BoilerplateLabeler

from .conftest import SEED_NAMES, SEEDS_DIR

CASES = json.loads((Path(__file__).parent / "cases" / "boilerplate.json").read_text(encoding="utf-8"))
_SEED_PARAGRAPHS = [
    ln
    for n in SEED_NAMES
    for ln in (SEEDS_DIR / n).read_text(encoding="utf-8").split("\n")
    if 80 < len(ln) < 400 and ln.endswith("。") and "?" not in ln and "www" not in ln and "权属" not in ln
]


def _speech(rng: random.Random, n: int = 5, extra: list[str] | None = None, tail: str | None = None) -> str:
    paras = rng.sample(_SEED_PARAGRAPHS, n)
    if extra:
        for p in extra:
            paras.insert(rng.randrange(1, len(paras)), p)
    body = "\n".join(["同志们:", *paras])
    title = f"在第{rng.randrange(1, 99)}次工作会议上的讲话"
    return f"{title}\n{body}" + (f"\n{tail}" if tail else "")


def _texts(records: list[dict]) -> str:
    return "\n".join(r["text"] for r in records)


def test_a_notice_repeated_across_unrelated_articles_is_learned() -> None:
    """A site trailer no rule knows, stamped on unrelated speeches, goes;
    a slogan shared by the same unrelated speeches stays."""
    rng = random.Random(3)
    trailer = CASES["learned_trailer"]
    slogan = CASES["shared_slogan"]
    docs = [{"id": f"d{i}", "text": _speech(rng, extra=[slogan], tail=trailer)} for i in range(4)]
    # Without the others, the trailer is not known to be noise.
    alone = clean_texts(docs[:1]).records()
    assert trailer in _texts(alone)
    records = clean_texts(docs).records()
    text = _texts(records)
    assert trailer not in text
    assert text.count(slogan) == 4
    assert text.count("同志们:") == 4
    learned = [r for rec in records for r in rec["removed"] if r["rule"].startswith("learned-block:")]
    assert len(learned) == 4 and {r["text"] for r in learned} == {trailer}


def test_a_notice_repeated_only_among_copies_of_one_article_is_not_learned() -> None:
    """Repetition inside one cluster of copies is the article's own content."""
    rng = random.Random(5)
    line = CASES["learned_trailer"]
    base = _speech(rng, tail=line)
    docs = [{"id": f"c{i}", "text": base} for i in range(3)]
    assert line in _texts(clean_texts(docs).records())


def test_an_inline_watermark_repeated_across_unrelated_articles_is_learned() -> None:
    rng = random.Random(11)
    mark = CASES["learned_inline"]
    docs = []
    for i in range(4):
        text = _speech(rng)
        cut = text.index("。", text.index("同志们:") + 10) + 1
        docs.append({"id": f"w{i}", "text": text[:cut] + mark + text[cut:]})
    records = clean_texts(docs).records()
    assert mark not in _texts(records)
    assert "星光文苑" not in _texts(records)
    rules = {r["rule"].split(":")[0] for rec in records for r in rec["removed"] if r["reason"] == "watermark"}
    assert "learned-inline" in rules
    # The sentence around it is rejoined: no trace of the brackets.
    assert "【】" not in _texts(records)


@pytest.mark.parametrize("case", CASES["must_survive"], ids=lambda c: c["why"])
def test_legitimate_repetition_survives(case: dict) -> None:
    rng = random.Random(17)
    docs = [{"id": f"s{i}", "text": _speech(rng, extra=[case["text"]])} for i in range(5)]
    text = _texts(clean_texts(docs).records())
    assert text.count(case["text"]) == 5


def test_seed_watermark_is_removed_and_sentence_rejoined(seed_texts: dict[str, str]) -> None:
    name = "000_4acff1a94245f79e.txt"
    records = clean_texts([{"id": name, "text": seed_texts[name]}]).records()
    text = _texts(records)
    assert "本文权属" not in text and "xiexiebang" not in text
    assert "信息化的发展关键靠人才" in text
    [wm] = [r for rec in records for r in rec["removed"] if "本文权属" in r["text"]]
    assert wm["reason"] == "watermark" and seed_texts[name][wm["start"] : wm["end"]] == wm["text"]


def test_seed_notices_and_markup_are_removed_but_masks_and_salutations_stay(seed_texts: dict[str, str]) -> None:
    records = clean_texts([{"id": n, "text": t} for n, t in seed_texts.items()]).records()
    text = _texts(records)
    for noise in ("<image>", "人还看了", "会员分享", "文档为doc格式", "查看全文", "— — 6", "投稿", "本站"):
        assert noise not in text, noise
    for content in ("※※", "__市长", "XX年", "20xx年", "同志们:", "同志們:"):
        assert content in text, content
    reasons = {r["reason"] for rec in records for r in rec["removed"]}
    assert {"boilerplate", "watermark", "markup", "page-number", "artefact"} <= reasons


def test_counters_say_what_each_mechanism_removed(seed_texts: dict[str, str]) -> None:
    labeler = BoilerplateLabeler()
    from cleaner.pipeline import Cleaner

    c = Cleaner()
    for n, t in seed_texts.items():
        c.add_text(n, t)
    res = c.finish()
    counters = res.report.to_dict()["counters"]
    assert counters.get("rule:image-element", 0) >= 3
    assert any(k.startswith("rule:") for k in counters)
    assert labeler.site_evidence("本文由某某网小编整理") and not labeler.site_evidence("同志们:")


def test_learned_boilerplate_is_remembered_for_later_batches() -> None:
    """What one batch learned (a collection's memory) applies to a lone new file."""
    from cleaner.pipeline import Cleaner

    rng = random.Random(23)
    trailer = CASES["learned_trailer"]
    first = Cleaner()
    for i in range(4):
        first.add_text(f"d{i}", _speech(rng, tail=trailer))
    learned = first.finish().learned
    assert learned and all(rule.startswith("learned-block:") for rule in learned.values())
    lone = {"id": "new", "text": _speech(rng, tail=trailer)}
    assert trailer in _texts(clean_texts([lone]).records())
    later = Cleaner(known_boilerplate=learned)
    later.add_text(lone["id"], lone["text"])
    records = later.finish().records()
    assert trailer not in _texts(records)
    assert any(r["rule"] in learned.values() for rec in records for r in rec["removed"])
