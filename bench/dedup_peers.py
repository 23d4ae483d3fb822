"""Duplicate detection, ours beside the peers, on one document-level corpus built from the seeds.

Every tool runs in its own process (``bench/peers/run_*.py``) on the same
``{"id", "text"}`` JSONL; the harness measures its wall time and peak memory
and scores its clusters against the gold clusters. Run it in the bench
environment (``bash bench/setup_peers.sh`` creates ``.bench-venv/``)::

    .bench-venv/bin/python -m bench.dedup_peers [--docs 3000] [--seed 1] [--json out.json]
    .bench-venv/bin/python -m bench.dedup_peers --docs 300          # quick mode
    .bench-venv/bin/python -m bench.dedup_peers --mib 10 --repeat 3 # median of 3 runs per tool

**Corpus** (:func:`make_doc_corpus`): one document per article copy (no
compilations, so that document-level tools are judged on what they are
for). Each document copies one clean seed article (a gold cluster; see
:func:`bench.synth.load_pool`) through :mod:`bench.synth`'s own building
blocks: a variant (exact copy, 0.5-8% character edits, masked names, a
dropped paragraph, truncation, half-width punctuation), site notices at the
head (60%) or tail (50%), inline watermarks, markup, page footers, ``?``
artefacts and zero-width characters at the file's rates, a script
(traditional s2t 8%, Taiwan s2tw 7%, simplified copies of traditional
sources), and mojibake: whole document UTF-8 read as latin-1 (5%), lines
UTF-8 read as GBK where exactly reversible (5%), a few lines read as
latin-1 (3%). Texts are handed over decoded (mojibake stays mojibake).

**Scores**: pairwise over documents. A predicted pair is two documents in
one cluster; a gold pair two copies of one source article. *recall* = found
gold pairs / gold pairs, *precision* = true pairs / predicted pairs,
*false pairs* = predicted pairs of documents from different sources,
*mixed* = predicted clusters holding more than one source, *merged
articles* = distinct source pairs found together in some cluster. For ours
a cluster is a record and every source it cites counts (a document split
across two records is in both), so a record citing copies of two articles
is mixed even when each document's main part went to the right record. For ours
the canonical text of each gold cluster (the record holding most of its
documents) is compared with the clean original (rapidfuzz ``fuzz.ratio`` of
:func:`bench.score.norm_content` forms: NFC, t2s, width folded, whitespace
removed): mean and minimum. Speed is MiB of UTF-8 text per second of work
(input already in memory, tool imported); wall time includes start-up.
Peak memory is the tool's process tree's sum of PSS (forked workers not
double-counted), sampled every 50 ms, or less often for big trees so that
sampling takes under a tenth of the time, in a run of its own after the
timed ones: reading PSS stalls a large process (:class:`PeakMemory`), so
the timed runs read only RSS (``--memory same-run`` measures both in one
run, quicker and slower). "max RSS" is the largest single process
(``wait4`` ``ru_maxrss``).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import itertools
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.score import norm_content
from bench.synth import (
    SEED_DIR,
    Grammar,
    SourceArticle,
    _FileBuilder,
    _looks_traditional,
    load_pool,
    make_variant,
)

__all__ = ["Doc", "DocCorpus", "TOOLS", "make_doc_corpus", "run_tool", "score_clusters", "canonical_quality", "main"]

ROOT = Path(__file__).resolve().parent.parent
PEERS = Path(__file__).resolve().parent / "peers"
MIB = float(1 << 20)


# ---------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Doc:
    """One document: an article copy, with its gold cluster and how it was made."""

    id: str
    text: str
    cluster: str
    variant: tuple[str, ...]
    script: str
    mojibake: str | None
    noise: tuple[str, ...]  # noise kinds present (preamble, trailer, watermark, ...)


@dataclass
class DocCorpus:
    """Documents plus the clean original text of every source article."""

    seed: int
    docs: list[Doc]
    originals: dict[str, str]

    @property
    def nbytes(self) -> int:
        return sum(len(d.text.encode("utf-8")) for d in self.docs)

    def gold(self) -> dict[str, str]:
        return {d.id: d.cluster for d in self.docs}

    def write(self, folder: Path) -> Path:
        """``docs.jsonl`` (``{"id", "text"}``) and ``gold.json``; returns the JSONL path."""
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "docs.jsonl"
        with open(path, "w", encoding="utf-8") as fh:
            for d in self.docs:
                fh.write(json.dumps({"id": d.id, "text": d.text}, ensure_ascii=False) + "\n")
        gold = {
            "seed": self.seed,
            "docs": [{k: v for k, v in asdict(d).items() if k != "text"} for d in self.docs],
            "originals": self.originals,
        }
        (folder / "gold.json").write_text(json.dumps(gold, ensure_ascii=False), encoding="utf-8")
        return path


def make_doc_corpus(
    seed: int = 1,
    n_docs: int = 3000,
    pool: Sequence[SourceArticle] | None = None,
    mojibake_rates: Mapping[str, float] | None = None,
) -> DocCorpus:
    """A deterministic document-level corpus of ``n_docs`` article copies.

    Sources are drawn in shuffled rounds over the pool, so every source has
    about ``n_docs / len(pool)`` copies. ``mojibake_rates`` maps
    :meth:`bench.synth._FileBuilder.apply_mojibake` modes to probabilities
    (default: ``latin1-file`` 5%, ``gbk`` 5%, ``latin1-line`` 3%).
    """
    pool = list(pool) if pool is not None else load_pool(SEED_DIR)
    rates = dict(mojibake_rates or {"latin1-file": 0.05, "gbk": 0.05, "latin1-line": 0.03})
    rng = random.Random(seed)
    grammar = Grammar(rng)
    order: list[SourceArticle] = []
    docs: list[Doc] = []
    for i in range(n_docs):
        if not order:
            order = list(pool)
            rng.shuffle(order)
        src = order.pop()
        rs = rng.random()
        script = "traditional" if rs < 0.08 else "traditional-tw" if rs < 0.15 else "original"
        if _looks_traditional(src) and rng.random() < 0.4:
            script = "simplified"
        paras, tags = make_variant(src, rng)
        fb = _FileBuilder(rng, grammar, script)
        fb.build([(src, paras, tags)])
        rm, acc, mode = rng.random(), 0.0, None
        for m, p in rates.items():
            acc += p
            if rm < acc:
                mode = m
                break
        mode = fb.apply_mojibake(mode)
        text, file_noise = fb.assemble("\r\n" if rng.random() < 0.1 else "\n", blank=rng.random() < 0.2)
        kinds = sorted({n.kind for n in file_noise} | {n.kind for a in fb.articles for n in a.noise})
        docs.append(Doc(f"d{i:05d}", text, src.id, tuple(tags), script, mode, tuple(kinds)))
    originals = {s.id: "\n".join(s.paragraphs) for s in pool}
    return DocCorpus(seed, docs, originals)


# ---------------------------------------------------------------------------
# Running one tool in its own process
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Tool:
    name: str
    script: str
    args: tuple[str, ...] = ()
    ours: bool = False


TOOLS: tuple[Tool, ...] = (
    Tool("ours", "run_ours.py", ours=True),
    Tool("ours (dedup only)", "run_ours_dedup.py", ours=True),
    Tool("datasketch", "run_datasketch.py"),
    Tool("datasketch+xxhash", "run_datasketch.py", ("--hash", "xxhash")),
    Tool("rensa", "run_rensa.py"),
    Tool("datatrove", "run_datatrove.py"),
    Tool("text-dedup", "run_textdedup.py"),
)


@dataclass
class Run:
    """What one tool's process did."""

    tool: str
    ok: bool
    error: str | None = None
    clusters: list[list[str]] = field(default_factory=list)
    work_s: float = 0.0
    wall_s: float = 0.0
    peak_pss_mib: float = 0.0
    peak_rss_tree_mib: float = 0.0
    max_rss_mib: float = 0.0
    notes: str = ""
    records_path: str | None = None


def _tree(proc: Any) -> list[Any]:
    """A psutil process and its descendants (just the process if it is gone)."""
    import psutil

    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return [proc]


def _tree_rss(procs: Sequence[Any]) -> float:
    """Sum of RSS in bytes (``/proc/<pid>/statm``: a counter, no page-table walk)."""
    import psutil

    total = 0.0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            continue
    return total


def _tree_pss(procs: Sequence[Any]) -> float:
    """Sum of PSS in bytes (``smaps_rollup``: walks every page table of every process)."""
    import psutil

    total = 0.0
    for p in procs:
        try:
            info = p.memory_full_info()
        except psutil.Error:
            continue
        total += getattr(info, "pss", info.rss)
    return total


class PeakMemory:
    """Peak memory of a process tree: RSS always, PSS when asked for.

    RSS is a counter (cheap). PSS is what the table compares (pages a forked
    helper shares with its parent counted once), but reading it walks every
    page table under the process's memory-map lock, which a process mapping
    or unmapping memory then waits for. Read at up to ``duty`` of the time
    (``None``: never), it slowed ours at 200 MiB from 48.3-50.4 s to 63.6 s.
    Reading it only when RSS grew missed peaks (186 against 222 MiB at
    10 MiB): copy-on-write raises PSS, not RSS. Hence the harness's
    separate timed and memory runs (:func:`run_size`).

    >>> m = PeakMemory(duty=0.1)
    >>> m.due(now=0.0)
    True
    >>> m.record(rss=100.0, pss=80.0, at=0.0, cost=0.02)
    >>> m.due(now=0.1), m.due(now=0.2), PeakMemory(duty=None).due(now=0.0)
    (False, True, False)
    """

    def __init__(self, duty: float | None = 0.1) -> None:
        self.duty = duty
        self.peak_pss = self.peak_rss = 0.0
        self._at = 0.0  # when the last PSS reading was taken
        self._cost = -1.0  # how long it took (none yet)

    def due(self, now: float) -> bool:
        """Whether a PSS reading is due at ``now``."""
        if self.duty is None:
            return False
        return self._cost < 0 or (now - self._at) * self.duty >= self._cost

    def record(self, rss: float, pss: float, at: float, cost: float) -> None:
        """A PSS reading of ``pss`` bytes with the tree at ``rss``, taken ``at`` in ``cost`` seconds."""
        self._at, self._cost = at, cost
        self.peak_pss = max(self.peak_pss, pss)
        self.peak_rss = max(self.peak_rss, rss)

    def sample(self, proc: Any) -> None:
        """Read the tree under ``proc``: RSS always, PSS when :meth:`due`."""
        procs = _tree(proc)
        rss = _tree_rss(procs)
        self.peak_rss = max(self.peak_rss, rss)
        now = time.perf_counter()
        if self.due(now):
            pss = _tree_pss(procs)
            self.record(rss, pss, now, time.perf_counter() - now)


def run_tool(tool: Tool, docs_path: Path, out_dir: Path, workers: int = 2, timeout: float = 1200.0,
             pss: bool = True) -> Run:
    """Run one runner script in a subprocess; measure time and memory; read its result.

    ``pss``: sample the tree's PSS (slows a large tree down: :class:`PeakMemory`);
    otherwise only RSS, and the run's ``peak_pss_mib`` is 0.
    """
    import psutil

    out_dir.mkdir(parents=True, exist_ok=True)
    slug = tool.name.replace(" ", "_").replace("(", "").replace(")", "").replace("+", "_")
    out = out_dir / f"{slug}.json"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, str(PEERS / tool.script), *tool.args, "--input", str(docs_path), "--out", str(out),
           "--workers", str(workers), "--workdir", str(out_dir / f"{slug}.work")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    log = open(out_dir / f"{slug}.log", "wb")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(ROOT))
    ps = psutil.Process(proc.pid)
    memory = PeakMemory(0.1 if pss else None)
    status, ru = None, None
    ticks = 0
    while True:
        pid, st, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            status, ru = st, usage
            break
        # Finding the tree reads every process's /proc entry (about 2 ms
        # here): in a timed run, where the tree's RSS is only informational,
        # a few times a second is enough.
        if pss or ticks % 5 == 0:
            memory.sample(ps)
        ticks += 1
        if time.perf_counter() - t0 > timeout:
            proc.kill()
            os.wait4(proc.pid, 0)
            log.close()
            return Run(tool.name, False, f"timed out after {timeout:.0f} s", wall_s=timeout)
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    log.close()
    run = Run(tool.name, False, wall_s=wall, peak_pss_mib=memory.peak_pss / MIB, peak_rss_tree_mib=memory.peak_rss / MIB,
              max_rss_mib=(ru.ru_maxrss / 1024.0) if ru else 0.0)
    result: dict[str, Any] = {}
    if out.exists():
        result = json.loads(out.read_text(encoding="utf-8"))
    if proc.returncode != 0 or "error" in result or "clusters" not in result:
        tail = (out_dir / f"{slug}.log").read_text(encoding="utf-8", errors="replace").strip().splitlines()
        run.error = result.get("error") or (tail[-1] if tail else f"exit status {proc.returncode}")
        return run
    run.ok = True
    run.clusters = result["clusters"]
    run.work_s = float(result["work_s"])
    run.notes = result.get("notes", "")
    if tool.ours and tool.name == "ours":
        run.records_path = str(out) + ".records.jsonl"
    return run


# ---------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def score_clusters(corpus: DocCorpus, clusters: Iterable[Sequence[str]]) -> dict[str, Any]:
    """Pairwise precision/recall/F1 of predicted clusters against the gold clusters.

    Also false pairs, mixed clusters, merged source pairs, and recall by
    document kind (each document's share of its gold partners found with it,
    averaged over the documents of that kind).
    """
    gold = corpus.gold()
    pred_of: dict[str, int] = {}
    groups = [list(dict.fromkeys(g)) for g in clusters]
    for gi, g in enumerate(groups):
        for d in g:
            pred_of.setdefault(d, gi)
    gold_sizes = Counter(gold.values())
    gold_pairs = sum(_pairs(n) for n in gold_sizes.values())
    pred_pairs = tp = mixed = 0
    merged: set[tuple[str, str]] = set()
    # same-gold partners found, per document
    found: dict[str, int] = defaultdict(int)
    for g in groups:
        members = [d for d in g if d in gold]
        cnt = Counter(gold[d] for d in members)
        pred_pairs += _pairs(len(members))
        tp += sum(_pairs(n) for n in cnt.values())
        if len(cnt) > 1:
            mixed += 1
            merged.update(itertools.combinations(sorted(cnt), 2))
        for d in members:
            found[d] = cnt[gold[d]] - 1
    p = tp / pred_pairs if pred_pairs else 1.0
    r = tp / gold_pairs if gold_pairs else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    by_kind: dict[str, list[float]] = defaultdict(list)
    for d in corpus.docs:
        partners = gold_sizes[d.cluster] - 1
        if partners <= 0:
            continue
        share = found.get(d.id, 0) / partners
        for k in _kinds(d):
            by_kind[k].append(share)
    return {
        "recall": r,
        "precision": p,
        "f1": f1,
        "gold_pairs": gold_pairs,
        "predicted_pairs": pred_pairs,
        "true_pairs": tp,
        "false_pairs": pred_pairs - tp,
        "mixed_clusters": mixed,
        "merged_articles": len(merged),
        "clusters": len(groups),
        "recall_by_kind": {k: sum(v) / len(v) for k, v in sorted(by_kind.items())},
    }


def _kinds(d: Doc) -> list[str]:
    """Kinds a document counts under in the recall-by-kind breakdown."""
    out = list(d.variant)
    if d.script.startswith("traditional"):
        out.append("traditional")
    elif d.script == "simplified":
        out.append("simplified")
    if d.mojibake:
        out.append("mojibake-doc" if d.mojibake == "latin1-file" else "mojibake-lines")
    if "preamble" in d.noise or "trailer" in d.noise:
        out.append("notice")
    if "watermark" in d.noise:
        out.append("watermark")
    out.append("all")
    return out


def _read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def canonical_quality(corpus: DocCorpus, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Similarity of our canonical text to the clean original, per gold cluster.

    The canonical record of a gold cluster is the record that holds most of
    its documents (each document assigned to the record with its longest
    source span, as ``run_ours.py`` does). Also counts records whose sources
    span several gold clusters.
    """
    from rapidfuzz import fuzz

    gold = corpus.gold()
    # record index of each document (longest source span), as the runner assigns
    best: dict[str, tuple[int, int]] = {}
    mixed_records = 0
    merged: set[tuple[str, str]] = set()
    for ri, rec in enumerate(records):
        cs = set()
        for src in rec.get("sources", []):
            fid = str(src["file"])
            if fid in gold:
                cs.add(gold[fid])
            length = int(src.get("end", 0)) - int(src.get("start", 0))
            if fid not in best or length > best[fid][0]:
                best[fid] = (length, ri)
        if len(cs) > 1:
            mixed_records += 1
            merged.update(itertools.combinations(sorted(cs), 2))
    votes: dict[str, Counter[int]] = defaultdict(Counter)
    for fid, (_, ri) in best.items():
        votes[gold[fid]][ri] += 1
    sims: dict[str, float] = {}
    for cid, original in corpus.originals.items():
        if cid not in votes:
            continue
        ri = votes[cid].most_common(1)[0][0]
        sims[cid] = fuzz.ratio(norm_content(records[ri].get("text", "")), norm_content(original)) / 100.0
    vals = list(sims.values())
    return {
        "canonical_mean": sum(vals) / len(vals) if vals else 0.0,
        "canonical_min": min(vals) if vals else 0.0,
        "canonical_at_least_0.99": sum(1 for v in vals if v >= 0.99),
        "canonical_clusters": len(vals),
        "records": len(records),
        "mixed_records": mixed_records,
        "merged_articles_any_source": len(merged),
        "per_cluster": sims,
    }


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def format_table(rows: list[dict[str, Any]]) -> str:
    """The main markdown table."""
    ours = next((r for r in rows if r["tool"] == "ours" and r.get("ok")), None)
    head = ("| tool | MiB/s | work s | wall s | peak MiB (PSS) | max RSS MiB | recall | precision | F1 "
            "| false pairs | mixed clusters | merged articles | speed vs ours | memory vs ours |")
    lines = [head, "|" + "|".join(["---"] * (head.count("|") - 1)) + "|"]
    for r in rows:
        if not r.get("ok"):
            lines.append(f"| {r['tool']} | could not run: {r['error']} |" + " |" * 13)
            continue
        s = r["score"]
        mixed, merged = s["mixed_clusters"], s["merged_articles"]
        if "canonical" in r:  # ours: a record citing copies of two articles is a merge, whatever the main copy
            mixed = max(mixed, r["canonical"]["mixed_records"])
            merged = max(merged, r["canonical"]["merged_articles_any_source"])
        sp = f"{r['mib_s'] / ours['mib_s']:.2f}x" if ours and ours["mib_s"] else "-"
        mem = f"{r['peak_pss_mib'] / ours['peak_pss_mib']:.2f}x" if ours and ours["peak_pss_mib"] and r["peak_pss_mib"] else "-"
        peak = f"{r['peak_pss_mib']:.0f}" if r["peak_pss_mib"] else "-"  # 0: its memory run failed
        lines.append(
            f"| {r['tool']} | {r['mib_s']:.2f} | {r['work_s']:.1f} | {r['wall_s']:.1f} | {peak} "
            f"| {r['max_rss_mib']:.0f} | {s['recall']:.3f} | {s['precision']:.3f} | {s['f1']:.3f} | {s['false_pairs']} "
            f"| {mixed} | {merged} | {sp} | {mem} |"
        )
    return "\n".join(lines)


def format_kinds(rows: list[dict[str, Any]]) -> str:
    """Recall by document kind, one row per tool."""
    ok = [r for r in rows if r.get("ok")]
    if not ok:
        return ""
    kinds = ["all", "exact", "edit", "mask", "drop", "truncate", "halfwidth", "notice", "watermark",
             "traditional", "simplified", "mojibake-lines", "mojibake-doc"]
    kinds = [k for k in kinds if any(k in r["score"]["recall_by_kind"] for r in ok)]
    lines = ["| tool | " + " | ".join(kinds) + " |", "|" + "|".join(["---"] * (len(kinds) + 1)) + "|"]
    for r in ok:
        rb = r["score"]["recall_by_kind"]
        lines.append(f"| {r['tool']} | " + " | ".join(f"{rb[k]:.3f}" if k in rb else "-" for k in kinds) + " |")
    return "\n".join(lines)


def _git_state() -> str:
    """HEAD commit, plus "with uncommitted changes in cleaner/" when the tree differs."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "cleaner"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"
    return head + (" with uncommitted changes in cleaner/" if dirty else "")


# Measured on seed 1: 3000 documents make 38.5 MiB.
_DOCS_PER_MIB = 3000 / 38.5


def _relative(path: Path) -> Path:
    """``path`` relative to the checkout when inside it (output is pasted into docs)."""
    try:
        return Path(path).resolve().relative_to(ROOT)
    except ValueError:
        return Path(path)


def format_targets(rows: list[dict[str, Any]]) -> str:
    """The issue's targets, checked on this run's rows."""
    by = {r["tool"]: r for r in rows if r.get("ok")}
    peers = [r for r in by.values() if not r["tool"].startswith("ours")]
    lines: list[str] = []
    full, dedup = by.get("ours"), by.get("ours (dedup only)")
    if full:
        lines.append(f"- full pipeline: {full['mib_s']:.2f} MiB/s (target >= 10)")
    if dedup and peers:
        fastest = max(peers, key=lambda r: r["mib_s"])
        ratio = dedup["mib_s"] / fastest["mib_s"] if fastest["mib_s"] else 0.0
        lines.append(f"- duplicate detection alone: {dedup['mib_s']:.2f} MiB/s = {ratio:.2f}x the fastest peer "
                     f"({fastest['tool']}, {fastest['mib_s']:.2f} MiB/s; target >= 2x)")
    ds = by.get("datasketch")
    if ds and ds["peak_pss_mib"]:
        for r in (full, dedup):
            if r and r["peak_pss_mib"]:
                lines.append(f"- peak memory, {r['tool']}: {r['peak_pss_mib']:.0f} MiB = "
                             f"{r['peak_pss_mib'] / ds['peak_pss_mib']:.2f}x datasketch's {ds['peak_pss_mib']:.0f} MiB (target <= 1x)")
    return "\n".join(lines)


def format_scaling(runs: list[tuple[float, list[dict[str, Any]]]]) -> str:
    """Seconds of work per MiB for each tool at each corpus size, and the
    spread (largest / smallest; the target for ours is within 1.2)."""
    tools = [r["tool"] for r in runs[0][1]]
    head = "| tool | " + " | ".join(f"{mib:.0f} MiB: s/MiB" for mib, _ in runs) + " | largest / smallest |"
    lines = [head, "|" + "|".join(["---"] * (len(runs) + 2)) + "|"]
    for tool in tools:
        per: list[float | None] = []
        for mib, rows in runs:
            r = next((x for x in rows if x["tool"] == tool and x.get("ok")), None)
            per.append(r["work_s"] / mib if r else None)
        ok = [x for x in per if x]
        spread = f"{max(ok) / min(ok):.2f}" if len(ok) > 1 else "-"
        lines.append(f"| {tool} | " + " | ".join(f"{x:.3f}" if x else "-" for x in per) + f" | {spread} |")
    return "\n".join(lines)


def combine_runs(tool: str, runs: list[Run], mib: float, memory: Run | None = None) -> dict[str, Any]:
    """One table row from a tool's runs on one corpus: the median work and
    wall time of the runs that worked (with every run's MiB/s listed), the
    largest peak memory; an error row when none worked. With a ``memory``
    run (PSS sampled, its time not counted), peak PSS is that run's (0 when
    it failed, with ``memory_error``).

    >>> r = combine_runs("t", [Run("t", True, work_s=2.0, peak_pss_mib=90), Run("t", True, work_s=1.0, peak_pss_mib=80),
    ...                        Run("t", True, work_s=4.0, peak_pss_mib=85)], 10.0)
    >>> r["work_s"], r["mib_s"], r["peak_pss_mib"], r["mib_s_runs"]
    (2.0, 5.0, 90, [5.0, 10.0, 2.5])
    """
    ok = [r for r in runs if r.ok]
    if not ok:
        failed = runs[0] if runs else Run(tool, False, error="not run")
        return {"tool": tool, "ok": False, "error": failed.error, "wall_s": failed.wall_s, "work_s": failed.work_s,
                "peak_pss_mib": failed.peak_pss_mib, "peak_rss_tree_mib": failed.peak_rss_tree_mib,
                "max_rss_mib": failed.max_rss_mib, "notes": failed.notes}
    work = statistics.median(r.work_s for r in ok)
    row: dict[str, Any] = {
        "tool": tool,
        "ok": True,
        "error": None,
        "wall_s": statistics.median(r.wall_s for r in ok),
        "work_s": work,
        "peak_pss_mib": max(r.peak_pss_mib for r in ok),
        "peak_rss_tree_mib": max(r.peak_rss_tree_mib for r in ok),
        "max_rss_mib": max(r.max_rss_mib for r in ok),
        "notes": ok[0].notes,
        "mib_s": mib / work if work > 0 else 0.0,
        "mib_s_runs": [mib / r.work_s if r.work_s > 0 else 0.0 for r in ok],
        "failed_runs": len(runs) - len(ok),
    }
    if memory is not None:
        row["peak_pss_mib"] = memory.peak_pss_mib if memory.ok else 0.0
        row["peak_rss_tree_mib"] = max(row["peak_rss_tree_mib"], memory.peak_rss_tree_mib)
        row["max_rss_mib"] = max(row["max_rss_mib"], memory.max_rss_mib)
        row["memory_run_mib_s"] = mib / memory.work_s if memory.ok and memory.work_s > 0 else 0.0
        if not memory.ok:
            row["memory_error"] = memory.error
    return row


# Documents of the warm-up corpus.
_WARMUP_DOCS = 40


def selected_tools(args: argparse.Namespace) -> list[Tool]:
    """The tools ``--tools`` names (all when it is empty), in table order."""
    wanted = {s.strip() for s in args.tools.split(",") if s.strip()}
    return [tool for tool in TOOLS if not wanted or tool.name in wanted]


def warm_up(args: argparse.Namespace) -> None:
    """Run every selected tool once, untimed, on a small corpus of the same kind.

    A tool's first run after others would otherwise pay alone for what
    stays cached afterwards: its libraries and data files read from disk
    into the page cache, cleaner's tables from OpenCC's dictionaries when
    another environment last wrote the table cache. Every tool gets the
    same warm-up, as benchmark tools give (hyperfine's ``--warmup``).
    """
    work = Path(args.workdir) / "warmup"
    path = make_doc_corpus(args.seed, _WARMUP_DOCS).write(work)
    print(f"warm-up, untimed, {_WARMUP_DOCS} documents:", end="", flush=True)
    for tool in selected_tools(args):
        run = run_tool(tool, path, work / "runs", args.workers, args.timeout, pss=False)
        print(f" {tool.name} {'ok' if run.ok else 'failed'};", end="", flush=True)
    print(flush=True)


def run_size(args: argparse.Namespace, n_docs: int, git_state: str) -> tuple[float, list[dict[str, Any]]]:
    """Generate one corpus, run every selected tool on it, print its tables."""
    t = time.perf_counter()
    corpus = make_doc_corpus(args.seed, n_docs)
    work = Path(args.workdir) / f"seed{args.seed}-docs{n_docs}"
    docs_path = corpus.write(work)
    mib = corpus.nbytes / MIB
    n_clusters = len(set(corpus.gold().values()))
    print(f"corpus: {len(corpus.docs)} documents, {mib:.1f} MiB UTF-8, {n_clusters} source articles, "
          f"{sum(_pairs(n) for n in Counter(corpus.gold().values()).values())} gold pairs "
          f"({time.perf_counter() - t:.1f} s) -> {_relative(docs_path)}", flush=True)
    mix = Counter(k for d in corpus.docs for k in _kinds(d))
    print("mix: " + ", ".join(f"{k} {v}" for k, v in sorted(mix.items())), flush=True)

    tools = selected_tools(args)
    repeat = args.repeat  # (1 or more: main checks)
    own_memory_run = args.memory == "own-run"
    runs: dict[str, list[Run]] = {tool.name: [] for tool in tools}
    memory_runs: dict[str, Run] = {}
    scores: dict[str, dict[str, Any]] = {}  # of each tool's first run that worked
    # Rounds of every tool, not one tool n times: the machine's speed drifts
    # over minutes, and each round then meets it alike.
    for round_no in range(1, repeat + 1):
        for tool in tools:
            label = tool.name if repeat == 1 else f"{tool.name} ({round_no}/{repeat})"
            print(f"running {label} ...", end=" ", flush=True)
            run = run_tool(tool, docs_path, work / "runs", args.workers, args.timeout, pss=not own_memory_run)
            runs[tool.name].append(run)
            if run.ok:
                speed = mib / run.work_s if run.work_s > 0 else 0.0
                peak = "" if own_memory_run else f", peak {run.peak_pss_mib:.0f} MiB"
                print(f"{speed:.2f} MiB/s{peak}", end="", flush=True)
                if tool.name not in scores:  # scored once: the clusters do not change between runs
                    scores[tool.name] = score_clusters(corpus, run.clusters)
                    print(f", recall {scores[tool.name]['recall']:.3f}", end="")
                print(flush=True)
            else:
                print(f"could not run: {run.error}", flush=True)
    # Peak PSS from a run of its own: reading PSS slows a large tree down
    # (PeakMemory), so the timed runs above read only RSS.
    for tool in tools if own_memory_run else ():
        if not any(r.ok for r in runs[tool.name]):
            continue
        print(f"memory of {tool.name} ...", end=" ", flush=True)
        mem = run_tool(tool, docs_path, work / "runs", args.workers, args.timeout, pss=True)
        memory_runs[tool.name] = mem
        if mem.ok:
            print(f"peak {mem.peak_pss_mib:.0f} MiB ({mib / mem.work_s if mem.work_s > 0 else 0.0:.2f} MiB/s "
                  "while sampled)", flush=True)
        else:
            print(f"could not run: {mem.error}", flush=True)
    rows: list[dict[str, Any]] = []
    for tool in tools:
        row = combine_runs(tool.name, runs[tool.name], mib, memory_runs.get(tool.name))
        first = next((r for r in runs[tool.name] if r.ok), None)
        if first is not None:
            row["score"] = scores[tool.name]
            if first.records_path:
                row["canonical"] = canonical_quality(corpus, _read_jsonl(first.records_path))
        rows.append(row)

    print()
    print(f"{len(corpus.docs)} documents, {mib:.1f} MiB, seed {args.seed}, {os.cpu_count()} cores, "
          f"{_dt.date.today().isoformat()}, cleaner at {git_state}")
    print()
    print(format_table(rows))
    if any(len(r.get("mib_s_runs", ())) > 1 for r in rows):
        print()
        print("MiB/s of each run (the table gives the median; peak memory is the largest of the runs):")
        print()
        for r in rows:
            if r.get("mib_s_runs"):
                failed = f" ({r['failed_runs']} run(s) failed)" if r.get("failed_runs") else ""
                print(f"- {r['tool']}: " + " / ".join(f"{x:.2f}" for x in r["mib_s_runs"]) + failed)
    print()
    print("recall by document kind")
    print()
    print(format_kinds(rows))
    for r in rows:
        if "canonical" in r:
            c = r["canonical"]
            print(f"\n{r['tool']}: canonical text vs clean original over {c['canonical_clusters']} clusters: "
                  f"mean {c['canonical_mean']:.4f}, min {c['canonical_min']:.4f}, "
                  f">= 0.99: {c['canonical_at_least_0.99']}; records {c['records']}, "
                  f"records mixing sources {c['mixed_records']}")
    targets = format_targets(rows)
    if targets:
        print("\ntargets\n\n" + targets)
    print()
    for r in rows:
        if r.get("notes"):
            print(f"- {r['tool']}: {r['notes']}")
    return mib, rows


def main(argv: Iterable[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.dedup_peers", description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=3000, help="documents (300 for a quick run)")
    ap.add_argument(
        "--mib",
        default=None,
        help="size the corpus in MiB instead (about 78 documents a MiB); several sizes, "
        "comma-separated (10,50,200), run one after the other and add a time-per-MiB table",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2, help="processes for datatrove and text-dedup")
    ap.add_argument("--tools", default="", help="comma-separated subset of: " + ", ".join(t.name for t in TOOLS))
    ap.add_argument("--timeout", type=float, default=1200.0, help="seconds per tool")
    ap.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run every tool this many times (in rounds) and report the median speed and the largest peak",
    )
    ap.add_argument(
        "--memory",
        choices=("own-run", "same-run"),
        default="own-run",
        help="own-run (default): peak PSS from one more run of each tool, the timed runs read only RSS; "
        "same-run: PSS sampled during the timed runs (quicker, but slows large process trees)",
    )
    ap.add_argument(
        "--warmup",
        type=int,
        choices=(0, 1),
        default=1,
        help="1 (default): run every tool once, untimed, on a small corpus before the first timed run; 0: do not",
    )
    ap.add_argument("--workdir", default=str(ROOT / "bench" / ".cache" / "dedup-peers"))
    ap.add_argument("--json", dest="json_out", default=None, help="write every figure to this JSON file")
    args = ap.parse_args(list(argv) if argv is not None else None)
    if args.repeat < 1:
        ap.error(f"--repeat takes a number of runs, 1 or more, not {args.repeat}")
    sizes: list[int] = [args.docs]
    if args.mib is not None:
        try:
            mibs = [float(x) for x in str(args.mib).split(",") if x.strip()]
        except ValueError:
            ap.error(f"--mib takes sizes in MiB, comma-separated, not {args.mib!r}")
        if not mibs or any(m <= 0 for m in mibs):
            ap.error("--mib sizes must be positive")
        sizes = [max(1, round(m * _DOCS_PER_MIB)) for m in mibs]

    git_state = _git_state()  # before the runs: others may commit meanwhile
    runs: list[tuple[float, list[dict[str, Any]]]] = []
    if args.warmup:
        warm_up(args)
        print()
    for n_docs in sizes:
        runs.append(run_size(args, n_docs, git_state))
        print()
    if len(runs) > 1:
        print("time per MiB by corpus size (work seconds / MiB)")
        print()
        print(format_scaling(runs))
    if args.json_out:
        payload = {
            "date": _dt.datetime.now().isoformat(timespec="seconds"),
            "cleaner": git_state,
            "machine": {"cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
            "command": " ".join([Path(sys.executable).name, "-m", "bench.dedup_peers", *(argv or sys.argv[1:])]),
            "runs": [{"mib": mib, "rows": rows} for mib, rows in runs],
        }
        Path(args.json_out).write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
