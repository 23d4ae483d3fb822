"""Score cleaner output against a synthetic corpus's gold (see bench/synth.py).

Three families of figures, all computed from ``gold.json`` and the output
records (dicts shaped like ``articles.jsonl`` lines; only ``text``, ``title``
and ``sources[].file/start/end`` are read):

**Content kept** -- for every gold article copy, the share of its gold content
characters found in our output for it. "Our output for it" is the text of
every record with a source in that file whose ``[start, end)`` overlaps the
copy's span (all records of the file when no source has offsets). Both sides
are normalised (:func:`norm_content`: NFC, OpenCC t2s, full-width ASCII
folded to ASCII, whitespace, zero-width characters and U+FFFD removed). A gold
character counts as kept when it lies inside some K-gram (K = 8) of the gold
text that also occurs in the output; this is order-insensitive and robust to
inserted noise and paragraph re-breaking. A copy's score is the better of its
own gold text and its cluster's clean original (so a canonical text that
prefers the unmasked, unedited reading is not penalised). Reported as kept
chars / gold chars, overall and by variant, encoding, script and mojibake mode.

**Noise left** -- for every injected noise span, how many of its characters
remain in the output of its file (record titles and texts of every record
with a source in the file). Texts are normalised with :func:`norm_noise`
(as above but zero-width characters and U+FFFD are kept). A span of length
L is cut into k-grams, k = min(8, L); a k-gram is *left* while the output
holds more occurrences of it than the file's gold content (paragraphs and
titles) does; each occurrence is consumed by one span position, so a
watermark stamped three times and left once counts once. Left chars are the
span characters covered by left k-grams. Reported per kind and overall, as
noise chars left / noise chars injected.

**Dedup** -- each gold copy is assigned to the record whose source overlaps
its span most. Pairwise precision/recall/F1 over gold copies: predicted pairs
share a record, gold pairs share a cluster. *False merges* are distinct gold
cluster pairs found in one record (any source overlapping a copy by at least
50 characters or half the copy), which also catches two articles left
unsplit by segmentation.

CLI::

    python -m bench.score CORPUS_DIR RECORDS.jsonl [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import posixpath
import sys
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cleaner.normalize import convert_script

__all__ = [
    "K",
    "norm_content",
    "norm_noise",
    "coverage",
    "load_gold",
    "score",
    "score_gold",
    "gold_records",
    "raw_records",
    "format_table",
    "main",
]

#: k-gram length for content and noise matching.
K = 8

_WIDTH = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_INVISIBLE = {ord(c): None for c in ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\ufffd")}


def _base(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = convert_script(text, "simplified") if text else text
    text = text.translate(_WIDTH)
    return "".join(text.split())


def norm_noise(text: str) -> str:
    """NFC, t2s, full-width ASCII -> ASCII, whitespace removed.

    >>> norm_noise("（本文 來源：ＡＢ）")
    '(本文来源:AB)'
    """
    return _base(text)


def norm_content(text: str) -> str:
    """:func:`norm_noise`, then zero-width characters and U+FFFD removed.

    >>> norm_content("同志\\u200b們：\\n今天")
    '同志们:今天'
    """
    return _base(text).translate(_INVISIBLE)


def _grams(text: str, k: int) -> set[str]:
    return {text[i : i + k] for i in range(len(text) - k + 1)}


def coverage(gold: str, out_grams: set[str], out_text: str, k: int = K) -> int:
    """Number of characters of ``gold`` inside some k-gram found in the output.

    ``out_grams`` must be the k-grams of ``out_text``; a gold text shorter than
    k counts as covered when it is a substring of ``out_text``.

    >>> o = "甲乙丙丁戊己庚辛壬癸"
    >>> coverage("乙丙丁戊己庚辛壬X", _grams(o, 8), o)
    8
    """
    n = len(gold)
    if n < k:
        return n if gold and gold in out_text else 0
    covered = 0
    run_end = 0
    last = n - k
    for i in range(n):
        if i <= last and gold[i : i + k] in out_grams:
            run_end = i + k
        if i < run_end:
            covered += 1
    return covered


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------


def load_gold(corpus_dir: str | Path) -> dict[str, Any]:
    """Read ``gold.json`` of a corpus folder."""
    return json.loads((Path(corpus_dir) / "gold.json").read_text(encoding="utf-8"))


def _base_name(name: str) -> str:
    return posixpath.basename(str(name).replace("\\", "/"))


def gold_records(gold: Mapping[str, Any], merge: bool = False) -> list[dict[str, Any]]:
    """Records built from the gold itself (for testing the scorer).

    ``merge=False``: one record per gold copy with its own gold text.
    ``merge=True``: one record per cluster with the clean original text and a
    source for every copy (a perfect cleaner and deduplicator).
    """
    if not merge:
        return [
            {
                "title": a["title"],
                "text": "\n".join(a["paragraphs"]),
                "sources": [{"file": f["name"], "article": a["index"], "start": a["start"], "end": a["end"]}],
            }
            for f in gold["files"]
            for a in f["articles"]
        ]
    by_cluster: dict[str, dict[str, Any]] = {}
    for f in gold["files"]:
        for a in f["articles"]:
            c = gold["clusters"][a["cluster"]]
            rec = by_cluster.setdefault(
                a["cluster"], {"title": c["title"], "text": "\n".join(c["paragraphs"]), "sources": []}
            )
            rec["sources"].append({"file": f["name"], "article": a["index"], "start": a["start"], "end": a["end"]})
    return list(by_cluster.values())


def raw_records(corpus_dir: str | Path, gold: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """One record per file holding the file's whole decoded text (no cleaning)."""
    from cleaner.decode import decode_bytes

    gold = gold or load_gold(corpus_dir)
    out = []
    for f in gold["files"]:
        data = (Path(corpus_dir) / "files" / f["name"]).read_bytes()
        text = decode_bytes(data, f["name"]).decoded
        out.append({"title": "", "text": text, "sources": [{"file": f["name"], "article": 0, "start": 0, "end": len(text)}]})
    return out


# ---------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def _overlap(a0: int, a1: int, b0: int, b1: int) -> int:
    return max(0, min(a1, b1) - max(a0, b0))


def score(corpus_dir: str | Path, records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Score ``records`` against the gold of the corpus in ``corpus_dir``."""
    return score_gold(load_gold(corpus_dir), records)


def score_gold(gold: Mapping[str, Any], records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Score ``records`` against an already loaded gold (see module doc)."""
    recs = list(records)
    files = {f["name"]: f for f in gold["files"]}
    clusters = gold["clusters"]
    # file -> [(record index, start, end)]
    by_file: dict[str, list[tuple[int, int | None, int | None]]] = defaultdict(list)
    for ri, rec in enumerate(recs):
        for s in rec.get("sources", []) or []:
            name = _base_name(s.get("file", ""))
            if name in files:
                by_file[name].append((ri, s.get("start"), s.get("end")))

    norm_cache: dict[int, str] = {}

    def rec_content(ri: int) -> str:
        if ri not in norm_cache:
            norm_cache[ri] = norm_content(recs[ri].get("text", "") or "")
        return norm_cache[ri]

    orig_norm = {cid: norm_content("".join(c["paragraphs"])) for cid, c in clusters.items()}
    orig_noise = {cid: "\x00".join([norm_noise(c["title"]), *map(norm_noise, c["paragraphs"])]) for cid, c in clusters.items()}

    content = Counter()  # kept / total overall
    breakdown: dict[str, Counter] = defaultdict(Counter)
    noise_inj: Counter = Counter()
    noise_left: Counter = Counter()
    per_file: list[dict[str, Any]] = []
    # dedup bookkeeping
    assign: dict[tuple[str, int], int | None] = {}
    rec_clusters: dict[int, set[str]] = defaultdict(set)

    for name, f in files.items():
        srcs = by_file.get(name, [])
        f_kept = f_total = 0
        for a in f["articles"]:
            # records overlapping this copy
            over: dict[int, int] = {}
            for ri, s0, s1 in srcs:
                if s0 is None or s1 is None:
                    continue
                ov = _overlap(a["start"], a["end"], int(s0), int(s1))
                if ov > 0:
                    over[ri] = max(over.get(ri, 0), ov)
            alen = max(1, a["end"] - a["start"])
            for ri, ov in over.items():
                if ov >= min(50, max(1, alen // 2)):
                    rec_clusters[ri].add(a["cluster"])
            assign[(name, a["index"])] = max(over, key=lambda r: (over[r], -r)) if over else None
            rids = sorted(over) if over else ([] if any(s0 is not None for _, s0, _ in srcs) else sorted({r for r, _, _ in srcs}))
            out = "\x00".join(rec_content(r) for r in rids)
            grams = _grams(out, K)
            g = norm_content("".join(a["paragraphs"]))
            o = orig_norm.get(a["cluster"], "")
            kept_g = coverage(g, grams, out)
            share = _ratio(kept_g, len(g))
            if o:
                share = max(share, _ratio(coverage(o, grams, out), len(o)))
            kept = round(share * len(g))
            content["kept"] += kept
            content["total"] += len(g)
            f_kept += kept
            f_total += len(g)
            keys = [f"variant:{'+'.join(a['variant'])}", f"encoding:{f['encoding']}", f"script:{f['script']}",
                    f"mojibake:{f['mojibake'] or 'none'}"]
            for key in keys:
                breakdown[key]["kept"] += kept
                breakdown[key]["total"] += len(g)

        # noise of this file
        rids_f = sorted({r for r, _, _ in srcs})
        out_n = "\x00".join(
            norm_noise((recs[r].get("title", "") or "") + "\n" + (recs[r].get("text", "") or "")) for r in rids_f
        )
        excl = "\x00".join(
            [norm_noise(p) for a in f["articles"] for p in a["paragraphs"]]
            + [norm_noise(a["title"]) for a in f["articles"]]
            # Text a gold marks as neither content nor noise (seed headings).
            + [norm_noise(t) for a in f["articles"] for t in a.get("unmeasured", [])]
            + [orig_noise[c] for c in sorted({a["cluster"] for a in f["articles"]}) if c in orig_noise]
        )
        spans = list(f["noise"]) + [n for a in f["articles"] for n in a["noise"]]
        spans.sort(key=lambda s: (s.get("start", 0), s.get("end", 0)))
        f_inj, f_left = _noise_left(spans, out_n, excl, noise_inj, noise_left)
        per_file.append({"file": name, "content_kept": _ratio(f_kept, f_total), "noise_left": _ratio(f_left, f_inj),
                         "records": len(rids_f)})

    dedup = _dedup(gold, assign, rec_clusters)
    canonical = _canonical_similarity(recs, rec_clusters, clusters)
    kinds = sorted(noise_inj)
    return {
        "files": len(files),
        "records": len(recs),
        "content_kept": _ratio(content["kept"], content["total"]),
        "content_chars": content["total"],
        "content_by": {k: {"kept": _ratio(v["kept"], v["total"]), "chars": v["total"]} for k, v in sorted(breakdown.items())},
        "noise_left": _ratio(sum(noise_left.values()), sum(noise_inj.values())),
        "noise_left_macro": _ratio(sum(_ratio(noise_left[k], noise_inj[k]) for k in kinds), len(kinds)),
        "noise_chars": sum(noise_inj.values()),
        "noise_by_kind": {k: {"left": _ratio(noise_left[k], noise_inj[k]), "chars": noise_inj[k], "left_chars": noise_left[k]}
                          for k in kinds},
        "dedup": dedup,
        "canonical": canonical,
        "per_file": per_file,
    }


def _canonical_similarity(
    recs: Sequence[Mapping[str, Any]], rec_clusters: Mapping[int, set[str]], clusters: Mapping[str, Any]
) -> dict[str, Any]:
    """How close each record's canonical text is to the clean original of the
    one gold article it holds (records mixing articles are dedup's business):
    rapidfuzz ``fuzz.ratio`` of whitespace-free simplified texts, per record."""
    from rapidfuzz import fuzz

    from cleaner.normalize import convert_script

    def norm(t: str) -> str:
        return "".join(convert_script(t, "simplified").split())

    sims: list[float] = []
    for ri, cids in rec_clusters.items():
        if len(cids) != 1:
            continue
        (cid,) = cids
        if cid not in clusters or not clusters[cid].get("paragraphs"):
            continue  # a gold without originals (the seeds' rule-derived gold)
        original = norm("".join(clusters[cid]["paragraphs"]))
        sims.append(fuzz.ratio(norm(recs[ri].get("text", "") or ""), original) / 100)
    if not sims:
        return {"records": 0, "mean": 0.0, "min": 0.0, "at_least_0.99": 0.0}
    return {
        "records": len(sims),
        "mean": sum(sims) / len(sims),
        "min": min(sims),
        "at_least_0.99": sum(1 for x in sims if x >= 0.99) / len(sims),
    }


def _noise_left(
    spans: Sequence[Mapping[str, Any]], out: str, excl: str, inj: Counter, left: Counter
) -> tuple[int, int]:
    """Count injected/left noise chars of one file's spans (see module doc)."""
    normed = [(s["kind"], norm_noise(s["text"])) for s in spans]
    # budgets: gram -> occurrences in output beyond those in the gold content
    needed: dict[int, set[str]] = defaultdict(set)
    for _, t in normed:
        if not t:
            continue
        k = min(K, len(t))
        needed[k].update(_grams(t, k) if k == K else {t})
    budget: dict[tuple[int, str], int] = {}
    for k, gs in needed.items():
        if k < K:
            for g in gs:
                budget[(k, g)] = max(0, out.count(g) - excl.count(g))
        else:
            cnt_o: Counter = Counter()
            cnt_e: Counter = Counter()
            for src, cnt in ((out, cnt_o), (excl, cnt_e)):
                for i in range(len(src) - k + 1):
                    g = src[i : i + k]
                    if g in gs:
                        cnt[g] += 1
            for g in gs:
                budget[(k, g)] = max(0, cnt_o[g] - cnt_e[g])
    f_inj = f_left = 0
    for kind, t in normed:
        n = len(t)
        if not n:
            continue
        k = min(K, n)
        covered = 0
        if k < K:
            if budget.get((k, t), 0) > 0:
                budget[(k, t)] -= 1
                covered = n
        else:
            run_end = 0
            for i in range(n):
                if i <= n - k:
                    key = (k, t[i : i + k])
                    if budget.get(key, 0) > 0:
                        budget[key] -= 1
                        run_end = i + k
                if i < run_end:
                    covered += 1
        inj[kind] += n
        left[kind] += covered
        f_inj += n
        f_left += covered
    return f_inj, f_left


def _dedup(
    gold: Mapping[str, Any],
    assign: Mapping[tuple[str, int], int | None],
    rec_clusters: Mapping[int, set[str]],
) -> dict[str, Any]:
    items = [((f["name"], a["index"]), a["cluster"]) for f in gold["files"] for a in f["articles"]]
    gold_of = dict(items)
    # predicted groups: record id -> items; unassigned items are singletons
    pred: dict[Any, list[tuple[str, int]]] = defaultdict(list)
    for it, _ in items:
        r = assign.get(it)
        pred[("r", r) if r is not None else ("u", it)].append(it)
    by_cluster: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for it, c in items:
        by_cluster[c].append(it)
    gold_pairs = sum(len(v) * (len(v) - 1) // 2 for v in by_cluster.values())
    pred_pairs = tp = 0
    for members in pred.values():
        pred_pairs += len(members) * (len(members) - 1) // 2
        cnt = Counter(gold_of[m] for m in members)
        tp += sum(n * (n - 1) // 2 for n in cnt.values())
    p = _ratio(tp, pred_pairs) if pred_pairs else 1.0
    r = _ratio(tp, gold_pairs) if gold_pairs else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    merged_pairs: set[tuple[str, str]] = set()
    mixed = 0
    for cs in rec_clusters.values():
        if len(cs) > 1:
            mixed += 1
            merged_pairs.update(itertools.combinations(sorted(cs), 2))
    return {
        "precision": p,
        "recall": r,
        "f1": f1,
        "gold_pairs": gold_pairs,
        "predicted_pairs": pred_pairs,
        "true_pairs": tp,
        "false_merges": len(merged_pairs),
        "mixed_records": mixed,
        "unassigned_copies": sum(1 for it, _ in items if assign.get(it) is None),
        "copies": len(items),
        "clusters": len(by_cluster),
    }


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def format_table(result: Mapping[str, Any], title: str = "", breakdown: bool = True, dedup: bool = True) -> str:
    """A plain-text table of a :func:`score` result."""
    lines = []
    if title:
        lines.append(f"== {title} ==")
    lines.append(f"files {result['files']}, records {result['records']}")
    lines.append(f"content kept   {100 * result['content_kept']:7.2f} %  of {result['content_chars']:,} gold chars")
    lines.append(f"noise left     {100 * result['noise_left']:7.2f} %  of {result['noise_chars']:,} injected chars"
                 f"  (mean over kinds {100 * result['noise_left_macro']:.2f} %)")
    for k, v in result["noise_by_kind"].items():
        lines.append(f"  {k:<18} {100 * v['left']:7.2f} %  of {v['chars']:>8,}")
    d = result["dedup"]
    if dedup:
        lines.append(
            f"dedup          P {d['precision']:.3f}  R {d['recall']:.3f}  F1 {d['f1']:.3f}  "
            f"false merges {d['false_merges']} (mixed records {d['mixed_records']}), "
            f"{d['copies']} copies / {d['clusters']} clusters, unassigned {d['unassigned_copies']}"
        )
        c = result.get("canonical")
        if c and c["records"]:
            lines.append(
                f"canonical      vs clean original: mean {c['mean']:.4f}  min {c['min']:.4f}  "
                f">=0.99 for {100 * c['at_least_0.99']:.1f} % of {c['records']} records"
            )
    if breakdown and result.get("content_by"):
        lines.append("content kept by condition:")
        for k, v in result["content_by"].items():
            lines.append(f"  {k:<28} {100 * v['kept']:7.2f} %  of {v['chars']:>9,}")
    return "\n".join(lines)


def _read_records(path: str) -> list[dict[str, Any]]:
    fh = sys.stdin if path == "-" else open(path, encoding="utf-8")
    try:
        return [json.loads(line) for line in fh if line.strip()]
    finally:
        if fh is not sys.stdin:
            fh.close()


def main(argv: Iterable[str] | None = None) -> int:
    """CLI: score an ``articles.jsonl`` (or ``-``) against a corpus folder."""
    ap = argparse.ArgumentParser(prog="python -m bench.score", description="Score cleaner output against gold.")
    ap.add_argument("corpus", help="corpus folder (with gold.json)")
    ap.add_argument("records", help="articles.jsonl from `cleaner clean`, or - for stdin")
    ap.add_argument("--json", action="store_true", help="print the full result as JSON")
    args = ap.parse_args(list(argv) if argv is not None else None)
    result = score(args.corpus, _read_records(args.records))
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=1))
    else:
        print(format_table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
