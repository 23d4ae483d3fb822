"""The ``cleaner`` command line.

``cleaner clean INPUT... -o OUT`` cleans files, folders and archives;
``cleaner clean --jsonl - < raw.jsonl > clean.jsonl`` is the pipeline mode;
``cleaner explain FILE`` shows what would be removed from one file and why.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .config import SCRIPTS, CleanConfig, ConfigError, load_config
from .inputs import iter_jsonl, open_jsonl, plan_inputs
from .output import OutputWriter, dump_record
from .pipeline import Cleaner
from .rules import RulePack
from .spill import SpillError

EXIT_OK = 0
EXIT_NOTHING_PROCESSED = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"cleaner: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cleaner", description="Clean and deduplicate scraped article collections.")
    parser.add_argument("--version", action="version", version=f"cleaner {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    clean = sub.add_parser(
        "clean",
        help="clean files, folders, archives or JSONL",
        description="Clean scraped files into canonical article records.",
    )
    clean.add_argument("inputs", nargs="*", metavar="INPUT", help="files, folders, .zip/.tar/.tar.gz archives; with --jsonl, JSONL files or - for stdin")
    clean.add_argument("-o", "--output", metavar="OUT", help="output folder (articles.jsonl, text/, report.json)")
    clean.add_argument("--jsonl", action="store_true", help='inputs are JSONL {"id","text"} lines; records go to stdout unless -o is given')
    clean.add_argument("--script", choices=SCRIPTS, help="convert output text (default: keep the source's characters)")
    clean.add_argument("--config", metavar="FILE.toml", help="settings file (see docs/tuning.md)")
    clean.add_argument(
        "--no-merge",
        action="store_true",
        help="keep every article as its own record (still cleaned); each says which cluster of copies it belongs to",
    )
    clean.add_argument(
        "--threshold",
        type=_unit_float,
        metavar="J",
        help="shingle Jaccard at which two articles count as copies (default 0.35; containment rules apply too)",
    )
    progress = clean.add_mutually_exclusive_group()
    progress.add_argument("--progress", dest="progress", action="store_true", default=None, help="always show a progress bar")
    progress.add_argument("--no-progress", dest="progress", action="store_false", help="never show a progress bar")
    clean.add_argument(
        "-j",
        "--workers",
        type=_workers,
        default=0,
        metavar="N",
        help="processes to use (default 0: every core; 1: all in this process)",
    )
    clean.add_argument("-q", "--quiet", action="store_true", help="print no summary")

    explain = sub.add_parser("explain", help="show what would be removed from one file and why")
    explain.add_argument("file", metavar="FILE")
    explain.add_argument("--json", action="store_true", help="machine-readable output")
    explain.add_argument("--config", metavar="FILE.toml")

    serve = sub.add_parser(
        "serve",
        help="run the HTTP service (see docs/service.md)",
        description="Run the HTTP service on the embedded SQLite store. Every setting can also come from "
        "CLEANER_* environment variables (CLEANER_API_KEYS=key1,key2 for bearer tokens); flags override them.",
    )
    serve.add_argument("--host", help="address to bind (default 127.0.0.1; others need API keys or --insecure)")
    serve.add_argument("--port", type=int, help="port (default 8000)")
    serve.add_argument("--db", dest="db_path", metavar="PATH", help="SQLite file (default ./cleaner-data/cleaner.sqlite3)")
    serve.add_argument("--insecure", action="store_true", default=None, help="allow a non-loopback bind without API keys")
    serve.add_argument("--log-level", choices=("debug", "info", "warning", "error"))
    return parser


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        from service.main import serve
        from service.settings import Settings
    except ImportError as exc:
        print(f"cleaner: error: the service needs its extra: pip install 'cleaner[service]' ({exc})", file=sys.stderr)
        return EXIT_USAGE
    overrides = {k: getattr(args, k) for k in ("host", "port", "db_path", "insecure", "log_level")}
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValueError as exc:
        print(f"cleaner: error: invalid settings: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return serve(settings)


def _config(args: argparse.Namespace) -> CleanConfig:
    config = load_config(args.config) if getattr(args, "config", None) else CleanConfig()
    if getattr(args, "script", None):
        config = config.with_script(args.script)
    if getattr(args, "no_merge", False):
        config = replace(config, cluster=replace(config.cluster, merge=False))
    if getattr(args, "threshold", None) is not None:
        config = replace(config, cluster=replace(config.cluster, jaccard_min=args.threshold))
    if config.boilerplate.rules_path:
        # Read it now: a bad rule file is a usage error before any input is read.
        try:
            RulePack.load(config.boilerplate.rules_path)
        except ValueError as exc:
            raise ConfigError(f"boilerplate.rules_path: {exc}") from None
    return config


def _unit_float(value: str) -> float:
    try:
        f = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0.0 < f <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], not {value}")
    return f


def _workers(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if n < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (every core) or more, not {n}")
    return n


# What each phase of Cleaner.iter_records counts (its on_step).
_PHASE_UNITS = {"labelling": "file", "clustering": "article", "merging": "cluster"}
# What a phase does once its units are counted (a step with no count).
_PHASE_THEN = {"labelling": "learning repeated text", "clustering": "grouping copies"}


def _progress_bar(enabled: bool | None, total: int | None, unit: str, desc: str = "cleaning") -> Any:
    from tqdm import tqdm

    show = sys.stderr.isatty() if enabled is None else enabled
    return tqdm(total=total, unit=unit, disable=not show, file=sys.stderr, dynamic_ncols=True, desc=desc)


def cmd_clean(args: argparse.Namespace) -> int:
    config = _config(args)
    if not args.inputs:
        if args.jsonl:
            args.inputs = ["-"]
        else:
            print("cleaner: error: no INPUT given (files, folders, archives, or --jsonl -)", file=sys.stderr)
            return EXIT_USAGE
    if not args.jsonl and not args.output:
        print("cleaner: error: -o OUT is required (or use --jsonl to write records to stdout)", file=sys.stderr)
        return EXIT_USAGE
    if "-" in args.inputs and not args.jsonl:
        print("cleaner: error: '-' (stdin) is read as JSONL: add --jsonl", file=sys.stderr)
        return EXIT_USAGE
    if args.output and Path(args.output).exists() and not Path(args.output).is_dir():
        print(f"cleaner: error: output {args.output} exists and is not a folder", file=sys.stderr)
        return EXIT_USAGE

    cleaner = Cleaner(config, workers=args.workers)
    if args.jsonl:
        bar = _progress_bar(args.progress, None, "rec", "reading")
        with bar:

            def records() -> Iterator[tuple[str, str, Any]]:
                for source in args.inputs:
                    try:
                        stream = open_jsonl(source)
                    except OSError as exc:
                        cleaner.add_problem(source, _problem("missing", f"{source}: {exc.strerror}"))
                        continue
                    for line in iter_jsonl(stream, "stdin" if source == "-" else source):
                        if line.problem is not None:
                            cleaner.add_problem(f"{line.source}:{line.line}", line.problem)
                            bar.update(1)
                        elif line.record is not None:
                            yield line.record.id, line.record.text, line.record.meta
                    if source != "-":
                        stream.close()

            cleaner.add_texts(records(), on_progress=lambda _name: bar.update(1))
    else:
        refs = list(plan_inputs(args.inputs, config.input))
        with _progress_bar(args.progress, len(refs), "file", "reading") as bar:
            cleaner.add_refs(refs, on_progress=lambda _name: bar.update(1))

    # Records are written as each cluster is merged, not held to the end.
    writer: OutputWriter | None = None
    if args.output:
        out = Path(args.output)
        try:
            writer = OutputWriter(out)
        except OSError as exc:
            print(f"cleaner: error: cannot write to {out}: {exc.strerror}", file=sys.stderr)
            return EXIT_NOTHING_PROCESSED
    to_stdout = args.jsonl and not args.output
    # A bar per phase, each counting its own unit: labelling counts the
    # files its rules have been through, clustering the articles sketched,
    # merging the clusters merged. Once labelling's and clustering's units
    # are all done, a step over the whole collection follows that reports
    # nothing: the bar says which, and its clock runs.
    # A phase's bar is drawn at its first count (0, given as it begins), so
    # that it starts with its total when there is one.
    bars: list[tuple[str, Any]] = []
    phase: list[str] = []

    def on_phase(name: str) -> None:
        if bars:
            bars[-1][1].close()
        phase[:] = [name]

    def on_step(done: int, total: int | None) -> None:
        if phase:
            name = phase.pop()
            bars.append((name, _progress_bar(args.progress, total, _PHASE_UNITS.get(name, "step"), name)))
        name, bar = bars[-1]
        if total is not None and bar.total != total:
            bar.total = total
        bar.update(done - bar.n)
        if done == total and name in _PHASE_THEN:
            bar.set_postfix_str(_PHASE_THEN[name])

    try:
        for rec in cleaner.iter_records(on_phase=on_phase, on_step=on_step):
            if writer is not None:
                writer.add(rec)
            if to_stdout:
                sys.stdout.write(dump_record(rec.to_dict()) + "\n")
    except SpillError as exc:
        print(f"cleaner: error: {exc.strerror}", file=sys.stderr)
        return EXIT_NOTHING_PROCESSED
    except OSError as exc:
        print(f"cleaner: error: cannot write output: {exc.strerror}", file=sys.stderr)
        return EXIT_NOTHING_PROCESSED
    finally:
        for _, bar in bars:
            bar.close()
    report = cleaner.report
    import time

    report.finished = time.time()
    if to_stdout:
        sys.stdout.flush()
    if writer is not None:
        try:
            writer.close(report.to_dict())
        except OSError as exc:
            print(f"cleaner: error: cannot write to {args.output}: {exc.strerror}", file=sys.stderr)
            return EXIT_NOTHING_PROCESSED
    if not args.quiet:
        print(report.summary(), file=sys.stderr)
        if args.output:
            print(f"results written to {Path(args.output).resolve()}/ (articles.jsonl, text/, report.json)", file=sys.stderr)
    if report.processed == 0:
        print("cleaner: error: no input could be processed", file=sys.stderr)
        return EXIT_NOTHING_PROCESSED
    return EXIT_OK


def _problem(code: str, message: str) -> Any:
    from .types import Problem

    return Problem(code, message)


def cmd_explain(args: argparse.Namespace) -> int:
    config = _config(args)
    refs = list(plan_inputs([args.file], config.input))
    if len(refs) != 1 or refs[0].archive is not None:
        print(f"cleaner: error: explain takes one text file, not {args.file}", file=sys.stderr)
        return EXIT_USAGE
    cleaner = Cleaner(config)
    cleaner.add_ref(refs[0])
    [file_report] = cleaner.report.files
    if file_report.status == "error":
        print(f"cleaner: error: {file_report.problems[0].message}", file=sys.stderr)
        return EXIT_NOTHING_PROCESSED
    result = cleaner.finish()
    fa = result.files[0]
    decoded = fa.decoded
    removals = sorted({r for rec in result.articles for r in rec.removed}, key=lambda r: (r.start, r.end))
    articles = []
    for a in fa.articles:
        start, end = fa.to_decoded(a.start, a.end)
        articles.append({"index": a.index, "title": a.title, "start": start, "end": end, "meta": a.meta, "blocks": len(a.blocks)})
    if args.json:
        json.dump(
            {
                "file": decoded.name,
                "encoding": decoded.encoding,
                "repairs": [{"kind": r.kind, "detail": r.detail, "start": r.start, "end": r.end} for r in decoded.repairs],
                "problems": [{"code": p.code, "message": p.message} for p in decoded.problems],
                "articles": articles,
                "removed": [r.to_dict() for r in removals],
            },
            sys.stdout,
            ensure_ascii=False,
            indent=2,
        )
        print()
        return EXIT_OK
    print(f"{decoded.name}: {decoded.encoding}, {len(decoded.decoded)} characters, {len(articles)} article(s)")
    for r in decoded.repairs:
        where = f" [{r.start}:{r.end}]" if r.start is not None else ""
        print(f"  repair  {r.kind}: {r.detail}{where}")
    for p in decoded.problems:
        print(f"  problem {p.code}: {p.message}")
    for a in articles:
        meta = " ".join(f"{k}={v}" for k, v in a["meta"].items())
        print(f"  article {a['index']} [{a['start']}:{a['end']}] {a['title']}" + (f"  ({meta})" if meta else ""))
    if not removals:
        print("  nothing removed")
    for r in removals:
        snippet = r.text.replace("\n", "⏎")
        if len(snippet) > 60:
            snippet = snippet[:57] + "…"
        print(f"  removed [{r.start}:{r.end}] {r.reason}/{r.rule}: {snippet}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "clean":
            return cmd_clean(args)
        if args.command == "explain":
            return cmd_explain(args)
        if args.command == "serve":
            return cmd_serve(args)
    except ConfigError as exc:
        print(f"cleaner: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("cleaner: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    parser.error(f"unknown command {args.command}")
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
