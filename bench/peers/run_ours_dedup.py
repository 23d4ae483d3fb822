"""cleaner's duplicate grouping alone, without cleaning: ``cleaner.cluster.cluster_texts``.

    python bench/peers/run_ours_dedup.py --input docs.jsonl --out result.json

Each document is repaired (mojibake), keyed (t2s, width, punctuation,
masks), shingled and sketched on every core (this process and forked
helpers), then clustered with the same verification and no-chaining rules
as the full pipeline. Accepted return shapes: an iterable of groups of ids, or a
mapping ``id -> cluster label``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from typing import Any

from _common import run_main


def _groups(out: Any) -> list[list[str]]:
    if isinstance(out, Mapping):
        by: dict[Any, list[str]] = {}
        for k, label in out.items():
            by.setdefault(label, []).append(str(k))
        groups: Iterable[Iterable[Any]] = by.values()
    else:
        groups = out
    return [sorted(str(x) for x in g) for g in groups if len(list(g)) > 1]


def dedup(args: argparse.Namespace, docs: list[tuple[str, str]]) -> tuple[list[list[str]], str]:
    try:
        from cleaner.cluster import cluster_texts  # type: ignore[attr-defined]
    except ImportError as exc:
        raise ImportError(f"cleaner.cluster.cluster_texts is not available yet ({exc})") from exc
    import cleaner
    from cleaner.parallel import resolve_workers

    out = cluster_texts([{"id": d, "text": t} for d, t in docs])
    return _groups(out), f"cleaner {cleaner.__version__}, cleaner.cluster.cluster_texts, {resolve_workers(0)} processes"


if __name__ == "__main__":
    raise SystemExit(run_main("ours (dedup only)", dedup, preload=("cleaner.cluster", "cleaner.fixes")))
