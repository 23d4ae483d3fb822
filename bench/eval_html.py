"""HTML main-text extraction quality: peers vs. ours, on two gold sets.

Usage (from the repo root, venv active)::

    python bench/eval_html.py                # both sets, markdown tables on stdout
    python bench/eval_html.py --zh-only      # only the 69 Chinese pages
    python bench/eval_html.py --pages 10     # a quick subset

**Set 1: zh-web-content-extraction** (``../shared/external/zh-web-content-extraction``;
69 Chinese pages, ``original/*.html`` raw bytes, ``cleaned/*.txt`` hand-cleaned gold).
Score = character 4-gram precision / recall / F1 of the extracted text against
the gold: both texts have *all* whitespace removed (``str.isspace``, so also
U+3000 and U+00A0), then each becomes a *bag* (multiset) of its character
4-grams; overlap = size of the multiset intersection; P = overlap / |pred|,
R = overlap / |gold|, F1 their harmonic mean (0 when the prediction is
empty). Figures are means over pages (a page an extractor fails on scores 0).

Rows: peers given raw bytes or text decoded by charset-normalizer or by our
``decode_bytes``; ``extract_html`` with several trafilatura settings; and
OURS, the full pipeline (``cleaner.clean_files([page])``, record texts joined
with newlines). If the pipeline does not route HTML through
``extract_html`` yet, OURS is ``extract_html`` on our decoded text followed
by ``cleaner.clean_texts`` and the table says so.

Also measured: decoding only. A page is "covered" when the visible text of
its decoded HTML (tag-stripped, whitespace removed) holds >= 95% of the
gold's distinct character 6-grams; compared for our decoder, the charset
the page declares, and charset-normalizer.

**Set 2: trafilatura-eval-subset** (``html/*.html.gz`` + ``evaldata_subset.json``):
upstream-style snippet scoring. Per page, each ``with`` snippet found in the
output is a TP (else FN), each ``without`` snippet found is a FP (else TN);
precision, recall, accuracy and F1 over all snippets.
"""

from __future__ import annotations

import argparse
import gzip
import inspect
import json
import platform
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cleaner.decode import decode_bytes  # noqa: E402
from cleaner.html import declared_charset, extract_html, render_text  # noqa: E402

EXTERNAL = ROOT.parent / "shared" / "external"
ZH = EXTERNAL / "zh-web-content-extraction"
TRAF = EXTERNAL / "trafilatura-eval-subset"

warnings.filterwarnings("ignore")
import logging  # noqa: E402

logging.disable(logging.CRITICAL)


# ---------------------------------------------------------------- scoring

def _squash(text: str) -> str:
    return "".join(ch for ch in text if not ch.isspace())


def ngram_bag(text: str, n: int = 4) -> Counter[str]:
    s = _squash(text)
    return Counter(s[i : i + n] for i in range(len(s) - n + 1))


def prf(pred: str, gold: str, n: int = 4) -> tuple[float, float, float]:
    """Bag-of-character-n-gram precision, recall, F1 (whitespace ignored).

    >>> prf("同志们好啊", "同志们好")
    (0.5, 1.0, 0.667)
    """
    p_bag, g_bag = ngram_bag(pred, n), ngram_bag(gold, n)
    if not p_bag or not g_bag:
        return 0.0, 0.0, 0.0
    overlap = sum((p_bag & g_bag).values())
    p, r = overlap / sum(p_bag.values()), overlap / sum(g_bag.values())
    f = 0.0 if overlap == 0 else 2 * p * r / (p + r)
    return round(p, 3), round(r, 3), round(f, 3)


def coverage(decoded_html: str, gold: str, n: int = 6) -> float:
    """Share of the gold's distinct character n-grams found in the page's visible text."""
    g = set(ngram_bag(gold, n))
    if not g:
        return 1.0
    page = _squash(render_text(decoded_html))
    return sum(1 for x in g if x in page) / len(g)


# ---------------------------------------------------------------- decoders

def dec_ours(data: bytes) -> str:
    try:
        return decode_bytes(data, "page.html").text
    except Exception:
        return data.decode("utf-8", "replace")


def dec_cn(data: bytes) -> str:
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    return str(best) if best is not None else data.decode("utf-8", "replace")


def dec_declared(data: bytes) -> str:
    """The declared charset, strictly; our decoder when none is declared or it fails."""
    cs = declared_charset(data)
    if cs:
        try:
            return data.decode(cs)
        except (UnicodeDecodeError, LookupError):
            pass
    return dec_ours(data)


def dec_declared_lenient(data: bytes) -> str:
    """The declared charset with bad bytes replaced; our decoder when none is declared."""
    cs = declared_charset(data)
    if cs:
        try:
            return data.decode(cs, "replace")
        except LookupError:
            pass
    return dec_ours(data)


def dec_ours_then_declared(data: bytes) -> str:
    """Our decoder; the declared charset (bad bytes replaced) only when ours
    fails or falls back to a Western code page, and the declared charset
    leaves at most 0.5% replacement characters (proposed policy)."""
    try:
        d = decode_bytes(data, "page.html")
        if d.encoding not in ("cp1252", "latin-1"):
            return d.text
        fallback = d.text
    except Exception:
        fallback = data.decode("utf-8", "replace")
    cs = declared_charset(data)
    if cs:
        try:
            text = data.decode(cs, "replace")
        except LookupError:
            return fallback
        if text.count("\ufffd") <= 0.005 * len(text):
            return text
    return fallback


# ---------------------------------------------------------------- extractors

def traf(content: bytes | str, **kw: Any) -> str:
    import trafilatura

    try:
        return trafilatura.extract(content, output_format="txt", include_comments=False, **kw) or ""
    except Exception:
        return ""


def readability(html: str) -> str:
    from readability import Document

    try:
        return render_text(Document(html).summary(html_partial=True))
    except Exception:
        return ""


def resiliparse(html: str) -> str:
    from resiliparse.extract.html2text import extract_plain_text

    try:
        return extract_plain_text(html, main_content=True)
    except Exception:
        return ""


def _available(module: str) -> bool:
    try:
        __import__(module)
        return True
    except Exception:
        return False


def pipeline_integrated() -> bool:
    """True if cleaner's pipeline routes HTML through cleaner.html itself."""
    try:
        import cleaner.pipeline as pl

        src = inspect.getsource(pl)
    except Exception:
        return False
    return "extract_html" in src or "from .html" in src or "cleaner.html" in src


def ours_pipeline(path: Path, data: bytes, integrated: bool, decoded: str) -> str:
    import cleaner

    try:
        if integrated:
            res = cleaner.clean_files([str(path)])
        else:
            text = extract_html(decoded).text
            res = cleaner.clean_texts([{"id": path.name, "text": text}])
        return "\n".join(a.text for a in res.articles)
    except Exception as exc:  # pragma: no cover - report, don't crash the bench
        print(f"  OURS failed on {path.name}: {exc!r}", file=sys.stderr)
        return ""


# ---------------------------------------------------------------- set 1

def run_zh(limit: int | None) -> tuple[list[tuple[str, float, float, float, float]], dict[str, Any]]:
    pages = sorted((ZH / "original").glob("*.html"))[:limit]
    integrated = pipeline_integrated()
    systems: dict[str, Callable[[Path, bytes, dict[str, str]], str]] = {
        "trafilatura, raw bytes (its own decoding)": lambda p, b, d: traf(b),
        "trafilatura, charset-normalizer text": lambda p, b, d: traf(d["cn"]),
        "trafilatura, our decode_bytes text": lambda p, b, d: traf(d["ours"]),
    }
    if _available("readability"):
        systems["readability-lxml, charset-normalizer text"] = lambda p, b, d: readability(d["cn"])
        systems["readability-lxml, our decode_bytes text"] = lambda p, b, d: readability(d["ours"])
    if _available("resiliparse"):
        systems["resiliparse, charset-normalizer text"] = lambda p, b, d: resiliparse(d["cn"])
        systems["resiliparse, our decode_bytes text"] = lambda p, b, d: resiliparse(d["ours"])
    pipe = "OURS: cleaner pipeline" + ("" if integrated else " (extract_html + clean_texts; clean_files does not route HTML yet)")
    systems.update({
        "extract_html, favor_recall": lambda p, b, d: extract_html(d["ours"], favor_precision=False, favor_recall=True).text,
        "extract_html, balanced (trafilatura default)": lambda p, b, d: extract_html(d["ours"], favor_precision=False, favor_recall=False).text,
        "extract_html, favor_precision, no tables": lambda p, b, d: extract_html(d["ours"], include_tables=False).text,
        "extract_html, shipped (favor_precision, tables, recall retry)": lambda p, b, d: extract_html(d["ours"]).text,
        "extract_html, shipped, on ours+declared-charset decoding": lambda p, b, d: extract_html(d["ours+declared"]).text,
        pipe: lambda p, b, d: ours_pipeline(p, b, integrated, d["ours"]),
    })
    if not integrated:
        systems[pipe + ", on ours+declared-charset decoding"] = lambda p, b, d: ours_pipeline(p, b, integrated, d["ours+declared"])
    scores: dict[str, list[tuple[float, float, float]]] = {k: [] for k in systems}
    times: dict[str, float] = dict.fromkeys(systems, 0.0)
    decoders = {
        "ours": ("our decode_bytes (utf-8 with replacement if it refuses the page)", dec_ours),
        "declared": ("declared charset, strict; else ours", dec_declared),
        "declared-lenient": ("declared charset, bad bytes replaced; else ours", dec_declared_lenient),
        "ours-then-declared": ("ours; declared (lenient) only if ours fails or gives cp1252/latin-1", dec_ours_then_declared),
        "cn": ("charset-normalizer", dec_cn),
    }
    cov: dict[str, list[float]] = {k: [] for k in decoders}
    refused = 0
    disagree = 0
    fallbacks = 0
    for page in pages:
        data = page.read_bytes()
        gold = (ZH / "cleaned" / (page.stem + ".txt")).read_text(encoding="utf-8")
        decoded = {key: fn(data) for key, (_, fn) in decoders.items()}
        decoded["ours+declared"] = decoded["ours-then-declared"]
        for key in cov:
            cov[key].append(coverage(decoded[key], gold))
        try:
            d = decode_bytes(data, page.name)
            declared = declared_charset(data)
            if declared and d.encoding.removesuffix("-sig") != declared:
                disagree += 1
        except Exception:
            refused += 1
        if extract_html(decoded["ours"]).extractor == "fallback":
            fallbacks += 1
        for name, fn in systems.items():
            t0 = time.perf_counter()
            out = fn(page, data, decoded)
            times[name] += time.perf_counter() - t0
            scores[name].append(prf(out, gold))
    rows = []
    n = len(pages)
    for name, vals in scores.items():
        p = sum(v[0] for v in vals) / n
        r = sum(v[1] for v in vals) / n
        f = sum(v[2] for v in vals) / n
        rows.append((name, p, r, f, times[name] / n * 1000))
    extra = {
        "pages": n,
        "integrated": integrated,
        "fallbacks": fallbacks,
        "disagree": disagree,
        "refused": refused,
        "decoders": {k: v[0] for k, v in decoders.items()},
        "covered": {k: sum(1 for c in v if c >= 0.95) for k, v in cov.items()},
        "mean_cov": {k: sum(v) / n for k, v in cov.items()},
    }
    return rows, extra


# ---------------------------------------------------------------- set 2

def run_traf(limit: int | None) -> list[tuple[str, int, int, int, int]]:
    data = json.loads((TRAF / "evaldata_subset.json").read_text(encoding="utf-8"))
    items = list(data.items())[:limit]
    integrated = pipeline_integrated()
    systems: dict[str, Callable[[Path, bytes, str], str]] = {
        "trafilatura, raw bytes (its own decoding)": lambda p, b, d: traf(b),
        "trafilatura, our decoding (+ declared-charset fallback)": lambda p, b, d: traf(d),
        "extract_html, favor_recall": lambda p, b, d: extract_html(d, favor_precision=False, favor_recall=True).text,
        "extract_html, shipped (favor_precision, tables, recall retry)": lambda p, b, d: extract_html(d).text,
        "OURS: cleaner pipeline" + ("" if integrated else " (extract_html + clean_texts)"):
            lambda p, b, d: ours_pipeline(p, b, integrated, d),
    }
    counts = {k: [0, 0, 0, 0] for k in systems}  # TP FN TN FP
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for url, entry in items:
            raw = gzip.decompress((TRAF / entry["file"]).read_bytes())
            path = Path(tmp) / (Path(entry["file"]).name.removesuffix(".gz"))
            path.write_bytes(raw)
            decoded = dec_ours_then_declared(raw)
            for name, fn in systems.items():
                out = fn(path, raw, decoded)
                c = counts[name]
                for snip in entry.get("with", []):
                    if snip in out:
                        c[0] += 1
                    else:
                        c[1] += 1
                for snip in entry.get("without", []):
                    if snip in out:
                        c[3] += 1
                    else:
                        c[2] += 1
    return [(k, *v) for k, v in counts.items()]


# ---------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=None, help="only the first N pages of each set")
    ap.add_argument("--zh-only", action="store_true")
    args = ap.parse_args(argv)
    import trafilatura

    t0 = time.perf_counter()
    print(f"# HTML extraction bench — {time.strftime('%Y-%m-%d')}, {platform.machine()}, "
          f"Python {platform.python_version()}, trafilatura {trafilatura.__version__}\n")
    rows, extra = run_zh(args.pages)
    print(f"## zh-web-content-extraction ({extra['pages']} pages): mean character 4-gram scores vs gold\n")
    print("| system | precision | recall | F1 | ms/page |")
    print("|---|---:|---:|---:|---:|")
    for name, p, r, f, ms in rows:
        print(f"| {name} | {p:.3f} | {r:.3f} | {f:.3f} | {ms:.0f} |")
    print(f"\nextract_html fell back to plain rendering on {extra['fallbacks']} page(s).")
    n = extra["pages"]
    print("\n### Decoding: pages whose visible text holds >= 95% of the gold's 6-grams\n")
    print("| decoder | pages covered | mean 6-gram coverage |")
    print("|---|---:|---:|")
    for key, label in extra["decoders"].items():
        print(f"| {label} | {extra['covered'][key]}/{n} | {extra['mean_cov'][key]:.4f} |")
    print(f"\nOur decoder picks another encoding than the declared one on {extra['disagree']}/{n} page(s) "
          f"and refuses {extra['refused']} page(s) as undecodable.")
    if not args.zh_only:
        trows = run_traf(args.pages)
        print("\n## trafilatura-eval-subset (128 pages): upstream-style snippet scoring\n")
        print("| system | TP | FN | TN | FP | precision | recall | accuracy | F1 |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, tp, fn, tn, fp in trows:
            p = tp / (tp + fp) if tp + fp else 0.0
            r = tp / (tp + fn) if tp + fn else 0.0
            acc = (tp + tn) / (tp + fn + tn + fp)
            f = 2 * p * r / (p + r) if p + r else 0.0
            print(f"| {name} | {tp} | {fn} | {tn} | {fp} | {p:.3f} | {r:.3f} | {acc:.3f} | {f:.3f} |")
    print(f"\nTotal bench time: {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
