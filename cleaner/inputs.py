"""Finding and reading inputs: files, folders, ``.zip``/``.tar``/``.tar.gz`` archives, JSONL.

Reading is split in two so a progress bar can know the total: :func:`plan_inputs`
lists every leaf (a file, or an archive member) cheaply, then :func:`read_input`
loads one leaf's bytes under the limits of :class:`~cleaner.config.InputConfig`.
Anything that cannot be read becomes an :class:`InputRef` carrying a
:class:`~cleaner.types.Problem`, never an exception, so a run goes on and the
report lists it.
"""

from __future__ import annotations

import io
import json
import os
import posixpath
import stat
import tarfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .config import InputConfig
from .errors import InputError
from .types import Problem

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
# Members that are never scraped text: OS litter inside archives and folders.
_LITTER = ("__MACOSX/", ".DS_Store", "Thumbs.db", "desktop.ini")


@dataclass(frozen=True)
class InputRef:
    """One leaf input: a file on disk, or a member of an archive on disk.

    ``name`` is what reports and records call it: the path as given, or
    ``archive.zip!member/path.txt`` for an archive member.
    """

    name: str
    path: str | None = None
    archive: str | None = None
    member: str | None = None
    size: int | None = None
    problem: Problem | None = None


@dataclass(frozen=True)
class TextRecord:
    """A JSONL input record: text that needs no charset decoding."""

    id: str
    text: str
    meta: dict | None = None


def is_archive_name(name: str) -> bool:
    """True if the name ends like an archive we expand.

    >>> is_archive_name("scrape.tar.gz"), is_archive_name("a.txt")
    (True, False)
    """
    lower = name.lower()
    return lower.endswith(ARCHIVE_SUFFIXES)


def unsafe_member_reason(member: str) -> str | None:
    """Why an archive member path would escape the extraction root, or None.

    >>> unsafe_member_reason("../etc/passwd")
    "member path escapes the archive ('..' component)"
    >>> unsafe_member_reason("docs/a.txt") is None
    True
    """
    if not member:
        return "empty member name"
    if member.startswith(("/", "\\")) or (len(member) > 1 and member[1] == ":"):
        return "absolute member path"
    parts = member.replace("\\", "/").split("/")
    if ".." in parts:
        return "member path escapes the archive ('..' component)"
    if "\x00" in member:
        return "NUL byte in member name"
    return None


def _is_litter(name: str) -> bool:
    base = posixpath.basename(name.rstrip("/"))
    return name.startswith("__MACOSX/") or "/__MACOSX/" in name or base in _LITTER or base.startswith("._")


def _problem_ref(name: str, code: str, message: str, **kw: str | None) -> InputRef:
    return InputRef(name=name, problem=Problem(code, message), **kw)  # type: ignore[arg-type]


def plan_inputs(paths: Iterable[str | os.PathLike[str]], config: InputConfig | None = None) -> Iterator[InputRef]:
    """List every leaf input under ``paths`` in a stable order.

    Folders are walked recursively (sorted); archives are listed member by
    member with path-traversal and bomb checks; missing paths yield a ref with
    a ``missing`` problem.
    """
    cfg = config or InputConfig()
    for raw in paths:
        path = Path(raw)
        name = str(raw)
        if not path.exists():
            yield _problem_ref(name, "missing", f"{name}: no such file or directory")
        elif path.is_dir():
            yield from _plan_dir(path, cfg)
        else:
            yield from _plan_file(path, name, cfg)


def _plan_dir(root: Path, cfg: InputConfig) -> Iterator[InputRef]:
    entries: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        entries.extend(Path(dirpath) / f for f in sorted(filenames) if not f.startswith(".") and not _is_litter(f))
    for p in entries:
        yield from _plan_file(p, str(p), cfg)


def _plan_file(path: Path, name: str, cfg: InputConfig) -> Iterator[InputRef]:
    try:
        st = path.stat()
    except OSError as exc:
        yield _problem_ref(name, "unreadable", f"{name}: {exc.strerror}")
        return
    if not stat.S_ISREG(st.st_mode):
        yield _problem_ref(name, "not-a-file", f"{name}: not a regular file")
        return
    kind = _archive_kind(path)
    if kind == "zip":
        yield from _plan_zip(path, name, cfg)
    elif kind == "tar":
        yield from _plan_tar(path, name, cfg)
    elif st.st_size > cfg.max_file_bytes:
        yield _problem_ref(name, "too-large", f"{name}: {st.st_size} bytes exceeds the limit of {cfg.max_file_bytes}")
    else:
        yield InputRef(name=name, path=str(path), size=st.st_size)


def _archive_kind(path: Path) -> str | None:
    """Decide by content, not only by name: scrapers save archives under odd names."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError:
        return None
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    lower = path.name.lower()
    if is_archive_name(lower) or head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ")) or (
        len(head) >= 262 and head[257:262] == b"ustar"
    ):
        try:
            if tarfile.is_tarfile(path):
                return "tar"
        except (OSError, tarfile.TarError, EOFError):
            return None
        # A .gz that is not a tar is an ordinary compressed file; we leave it to
        # the decoder, which will call it binary with a clear message.
    return None


def _plan_zip(path: Path, name: str, cfg: InputConfig) -> Iterator[InputRef]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        yield _problem_ref(name, "bad-archive", f"{name}: not a readable zip archive ({exc})")
        return
    with zf:
        infos = sorted(
            (i for i in zf.infolist() if not i.is_dir() and not _is_litter(i.filename)), key=lambda i: i.filename
        )
        if not infos:
            yield _problem_ref(name, "empty", f"{name}: archive holds no files")
            return
        if len(infos) > cfg.max_archive_members:
            yield _problem_ref(
                name, "too-many-members", f"{name}: {len(infos)} members exceed the limit of {cfg.max_archive_members}"
            )
            return
        total = 0
        for info in infos:
            member_name = f"{name}!{info.filename}"
            reason = unsafe_member_reason(info.filename)
            if reason:
                yield _problem_ref(member_name, "unsafe-path", f"{member_name}: {reason}; not extracted")
                continue
            bomb = _bomb_reason(info.file_size, info.compress_size, total, cfg)
            if bomb:
                yield _problem_ref(member_name, "zip-bomb", f"{member_name}: {bomb}; not extracted")
                continue
            total += info.file_size
            yield InputRef(name=member_name, archive=str(path), member=info.filename, size=info.file_size)


def _bomb_reason(size: int, compressed: int, total_so_far: int, cfg: InputConfig) -> str | None:
    if size > cfg.max_file_bytes:
        return f"expands to {size} bytes, over the per-file limit of {cfg.max_file_bytes}"
    if size >= cfg.bomb_min_bytes and compressed > 0 and size / compressed > cfg.max_compression_ratio:
        return f"compression ratio {size / compressed:.0f}:1 exceeds {cfg.max_compression_ratio:.0f}:1 (decompression bomb)"
    if total_so_far + size > cfg.max_archive_total_bytes:
        return f"archive expands past the total limit of {cfg.max_archive_total_bytes} bytes"
    return None


def _plan_tar(path: Path, name: str, cfg: InputConfig) -> Iterator[InputRef]:
    try:
        tf = tarfile.open(path)
        members = tf.getmembers()
    except (tarfile.TarError, OSError, EOFError) as exc:
        yield _problem_ref(name, "bad-archive", f"{name}: not a readable tar archive ({exc})")
        return
    with tf:
        files = sorted((m for m in members if not m.isdir() and not _is_litter(m.name)), key=lambda m: m.name)
        if not files:
            yield _problem_ref(name, "empty", f"{name}: archive holds no files")
            return
        if len(files) > cfg.max_archive_members:
            yield _problem_ref(
                name, "too-many-members", f"{name}: {len(files)} members exceed the limit of {cfg.max_archive_members}"
            )
            return
        archive_bytes = max(path.stat().st_size, 1)
        total = 0
        for m in files:
            member_name = f"{name}!{m.name}"
            reason = unsafe_member_reason(m.name)
            if reason:
                yield _problem_ref(member_name, "unsafe-path", f"{member_name}: {reason}; not extracted")
                continue
            if not m.isreg():
                kind = "link" if (m.issym() or m.islnk()) else "special file"
                yield _problem_ref(member_name, "unsafe-member", f"{member_name}: {kind} in archive; not followed")
                continue
            # A tar's members share one compressed stream, so the bomb test
            # compares what we have expanded so far with the archive's size.
            bomb = _bomb_reason(m.size, archive_bytes, total, cfg) if m.size > cfg.max_file_bytes else None
            if bomb is None and total + m.size >= cfg.bomb_min_bytes and (total + m.size) / archive_bytes > cfg.max_compression_ratio:
                bomb = (
                    f"archive expands to {total + m.size} bytes from {archive_bytes}, "
                    f"over {cfg.max_compression_ratio:.0f}:1 (decompression bomb)"
                )
            if bomb is None and total + m.size > cfg.max_archive_total_bytes:
                bomb = f"archive expands past the total limit of {cfg.max_archive_total_bytes} bytes"
            if bomb:
                yield _problem_ref(member_name, "zip-bomb", f"{member_name}: {bomb}; not extracted")
                continue
            total += m.size
            yield InputRef(name=member_name, archive=str(path), member=m.name, size=m.size)


def _read_bounded(fh: IO[bytes], limit: int, name: str) -> bytes:
    # Headers can lie about sizes; never trust them, read at most limit + 1.
    data = fh.read(limit + 1)
    if len(data) > limit:
        raise InputError(Problem("zip-bomb", f"{name}: expands past the per-file limit of {limit} bytes"))
    return data


def read_input(ref: InputRef, config: InputConfig | None = None) -> bytes:
    """Read the bytes of one planned input.

    Raises :class:`~cleaner.errors.InputError` (with the ref's problem, or a
    new one) when it cannot be read.
    """
    cfg = config or InputConfig()
    if ref.problem is not None:
        raise InputError(ref.problem)
    try:
        if ref.archive is None:
            assert ref.path is not None
            with open(ref.path, "rb") as fh:
                return _read_bounded(fh, cfg.max_file_bytes, ref.name)
        if zipfile.is_zipfile(ref.archive):
            with zipfile.ZipFile(ref.archive) as zf, zf.open(ref.member or "") as fh:
                return _read_bounded(fh, cfg.max_file_bytes, ref.name)
        with tarfile.open(ref.archive) as tf:
            fh = tf.extractfile(ref.member or "")
            if fh is None:
                raise InputError(Problem("unsafe-member", f"{ref.name}: not a regular file"))
            with fh:
                return _read_bounded(fh, cfg.max_file_bytes, ref.name)
    except InputError:
        raise
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError, KeyError, RuntimeError) as exc:
        raise InputError(Problem("unreadable", f"{ref.name}: cannot read ({exc})")) from None


@dataclass(frozen=True)
class JsonlLine:
    """One line of a JSONL input: a record, or the problem with that line."""

    source: str
    line: int
    record: TextRecord | None = None
    problem: Problem | None = None


def iter_jsonl(stream: IO[str] | IO[bytes], source: str) -> Iterator[JsonlLine]:
    """Parse ``{"id": ..., "text": ...}`` lines; a bad line yields a problem naming it.

    >>> [l.record.id for l in iter_jsonl(io.StringIO('{"id": "a", "text": "x"}\\n'), "-")]
    ['a']
    """
    seen: set[str] = set()
    for lineno, raw in enumerate(stream, start=1):
        if isinstance(raw, bytes):
            try:
                raw = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield JsonlLine(source, lineno, problem=_jsonl_problem(source, lineno, f"not UTF-8 ({exc.reason})"))
                continue
        line = raw.lstrip("\ufeff").strip()
        if not line:
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield JsonlLine(source, lineno, problem=_jsonl_problem(source, lineno, f"invalid JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(obj, dict):
            yield JsonlLine(source, lineno, problem=_jsonl_problem(source, lineno, "expected a JSON object"))
            continue
        text = obj.get("text")
        if not isinstance(text, str):
            yield JsonlLine(source, lineno, problem=_jsonl_problem(source, lineno, 'missing string field "text"'))
            continue
        rid = obj.get("id")
        if rid is None:
            rid = f"{source}:{lineno}"
        elif not isinstance(rid, (str, int)):
            yield JsonlLine(source, lineno, problem=_jsonl_problem(source, lineno, 'field "id" must be a string or number'))
            continue
        rid = str(rid)
        if rid in seen:
            yield JsonlLine(source, lineno, problem=_jsonl_problem(source, lineno, f"duplicate id {rid!r}"))
            continue
        seen.add(rid)
        meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else None
        yield JsonlLine(source, lineno, record=TextRecord(rid, text, meta))


def _jsonl_problem(source: str, lineno: int, what: str) -> Problem:
    return Problem("invalid-jsonl", f"{source} line {lineno}: {what}", line=lineno)


def open_jsonl(path: str) -> IO[bytes]:
    """Open a JSONL source: ``-`` is standard input."""
    import sys

    if path == "-":
        return sys.stdin.buffer
    return open(path, "rb")


__all__ = [
    "InputRef",
    "JsonlLine",
    "TextRecord",
    "is_archive_name",
    "iter_jsonl",
    "open_jsonl",
    "plan_inputs",
    "read_input",
    "unsafe_member_reason",
]

_ = io  # doctest namespace
