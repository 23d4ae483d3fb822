"""Duplicate detection on documents that copy nothing, ours beside the peers.

    .bench-venv/bin/python -m bench.distinct_docs [--docs 8000] [--repeat 2] [--tools "..."]

:mod:`bench.dedup_peers` measures a corpus of copies (about 490 copies of
each of 32 articles at 200 MiB), where most texts join the copy before them
at the first look. A crawl is mostly documents that copy nothing. There every
text leads a cluster of its own, is looked up in the sampled-shingle index
and is indexed whole, and work that is cheap on copies becomes the bulk
of the run. This corpus is that case taken to its end: ``--docs`` documents
of ``--chars`` characters drawn at random from 3,000 common CJK code points
(U+4E00 on), lines of 100. No two share a passage, so every cluster a tool
reports is a false merge (counted as false pairs).

Each tool runs in its own process through :func:`bench.dedup_peers.run_tool`,
in rounds (``--repeat``), and the table gives the median MiB/s, each round's,
the largest peak memory (PSS, sampled during the run) and the ratio to ours.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
from collections.abc import Iterable
from pathlib import Path

from bench.dedup_peers import MIB, ROOT, TOOLS, Run, run_tool

_FIRST, _COMMON = 0x4E00, 3000
_DEFAULT_TOOLS = "ours (dedup only),rensa,datasketch"


def distinct_docs(n_docs: int, chars: int, seed: int = 1) -> list[dict[str, str]]:
    """``n_docs`` ``{"id", "text"}`` documents that share no passage.

    >>> docs = distinct_docs(2, 250)
    >>> [d["id"] for d in docs], len(docs[0]["text"].split("\\n")), docs[0]["text"] != docs[1]["text"]
    (['u00000', 'u00001'], 3, True)
    """
    rng = random.Random(seed)
    alphabet = [chr(_FIRST + i) for i in range(_COMMON)]
    out = []
    for i in range(n_docs):
        body = "".join(rng.choices(alphabet, k=chars))
        out.append({"id": f"u{i:05d}", "text": "\n".join(body[j : j + 100] for j in range(0, chars, 100))})
    return out


def _false_pairs(clusters: Iterable[Iterable[str]]) -> int:
    return sum(len(c) * (len(c) - 1) // 2 for c in map(list, clusters))


def main(argv: Iterable[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.distinct_docs", description=__doc__.split("\n\n")[0])
    ap.add_argument("--docs", type=int, default=8000, help="documents (8,000 of 3,000 characters: 69 MiB)")
    ap.add_argument("--chars", type=int, default=3000, help="characters a document")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=2, help="rounds of every tool")
    ap.add_argument("--tools", default=_DEFAULT_TOOLS, help="comma-separated subset of: " + ", ".join(t.name for t in TOOLS))
    ap.add_argument("--workers", type=int, default=2, help="processes for the tools that use several")
    ap.add_argument("--timeout", type=float, default=1200.0, help="seconds per run")
    ap.add_argument("--workdir", default=str(ROOT / "bench" / ".cache" / "distinct-docs"))
    args = ap.parse_args(list(argv) if argv is not None else None)
    if args.docs < 1 or args.chars < 1 or args.repeat < 1:
        ap.error("--docs, --chars and --repeat must be 1 or more")
    wanted = [s.strip() for s in args.tools.split(",") if s.strip()]
    unknown = sorted(set(wanted) - {t.name for t in TOOLS})
    if unknown:
        ap.error(f"unknown tool(s): {', '.join(unknown)}")
    tools = [t for t in TOOLS if t.name in wanted]

    work = Path(args.workdir) / f"seed{args.seed}-docs{args.docs}-chars{args.chars}"
    work.mkdir(parents=True, exist_ok=True)
    path = work / "docs.jsonl"
    docs = distinct_docs(args.docs, args.chars, args.seed)
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(d, ensure_ascii=False) + "\n" for d in docs)
    mib = sum(len(d["text"].encode("utf-8")) for d in docs) / MIB
    print(f"corpus: {len(docs)} distinct documents, {mib:.1f} MiB UTF-8 -> {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")

    runs: dict[str, list[Run]] = {t.name: [] for t in tools}
    for round_no in range(1, args.repeat + 1):
        for tool in tools:
            print(f"running {tool.name} ({round_no}/{args.repeat}) ...", end=" ", flush=True)
            run = run_tool(tool, path, work / "runs", args.workers, args.timeout, pss=True)
            runs[tool.name].append(run)
            print(f"{mib / run.work_s:.2f} MiB/s" if run.ok and run.work_s > 0 else f"could not run: {run.error}", flush=True)

    speed = {name: statistics.median(mib / r.work_s for r in rs if r.ok and r.work_s > 0)
             for name, rs in runs.items() if any(r.ok and r.work_s > 0 for r in rs)}
    ours = speed.get("ours (dedup only)") or speed.get("ours")
    print()
    print("| tool | MiB/s (median) | each round | peak MiB (PSS) | false pairs | ours / tool |")
    print("|---|---|---|---|---|---|")
    for name, rs in runs.items():
        ok = [r for r in rs if r.ok and r.work_s > 0]
        if not ok:
            print(f"| {name} | could not run: {rs[-1].error} | | | | |")
            continue
        rounds = " / ".join(f"{mib / r.work_s:.2f}" for r in ok)
        ratio = f"{ours / speed[name]:.2f}x" if ours else "-"
        print(f"| {name} | {speed[name]:.2f} | {rounds} | {max(r.peak_pss_mib for r in ok):.0f} | "
              f"{_false_pairs(ok[0].clusters)} | {ratio} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
