"""Reading a request body into documents: multipart ``files`` or JSON
``{"documents": [{"id", "text"}]}``.

Uploaded archives are written to a private temporary folder and expanded
with :func:`cleaner.inputs.plan_inputs` / :func:`~cleaner.inputs.read_input`,
the CLI's own reader: the same path-traversal, link and decompression-bomb
checks apply, and a refused member is reported (not extracted).
"""

from __future__ import annotations

import json
import posixpath
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from fastapi import Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from cleaner.config import InputConfig
from cleaner.errors import InputError
from cleaner.inputs import plan_inputs, read_input
from cleaner.store import NewDocument
from cleaner.types import Problem

from .errors import ApiError, validation_message
from .schemas import DocumentsRequest
from .settings import Settings

# Media types of parts that are never text: refused with 415 before reading.
REFUSED_MAIN_TYPES = ("image/", "audio/", "video/", "font/", "model/")
# Problems of a whole uploaded file (not an archive member) that refuse the request.
REJECTING_PROBLEMS = ("binary", "undecodable", "empty")


@dataclass
class Upload:
    """What a request carried: documents to clean, problems of archive
    members that could not be read, and the names of the top-level inputs."""

    documents: list[NewDocument] = field(default_factory=list)
    problems: list[tuple[str, Problem, int]] = field(default_factory=list)
    top_level: set[str] = field(default_factory=set)


def safe_name(raw: str | None, n: int) -> str:
    """A document name from an upload's filename: no directories, no control
    characters, never empty.

    >>> safe_name("../../etc/passwd", 1), safe_name("C:\\\\x\\\\a.txt", 2), safe_name("", 3)
    ('passwd', 'a.txt', 'file-3')
    """
    name = (raw or "").replace("\\", "/")
    name = posixpath.basename(name)
    name = "".join(ch for ch in name if ch.isprintable() and ch not in "!").strip().lstrip(".")
    return name[:200] or f"file-{n}"


def _check_media_type(request: Request) -> str:
    ctype = request.headers.get("content-type", "")
    main = ctype.split(";", 1)[0].strip().lower()
    if main == "multipart/form-data":
        return "multipart"
    if main == "application/json" or (main.startswith("application/") and main.endswith("+json")):
        return "json"
    raise ApiError(
        415, "unsupported-media-type",
        f"Content-Type {main or '(none)'} is not supported: send multipart/form-data with 'files' parts, "
        'or application/json {"documents": [{"id", "text"}]}',
    )


async def read_upload(request: Request, settings: Settings, input_config: InputConfig) -> Upload:
    kind = _check_media_type(request)
    if kind == "json":
        return await _read_json(request, settings)
    return await _read_multipart(request, settings, input_config)


async def _read_json(request: Request, settings: Settings) -> Upload:
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise ApiError(422, "invalid-json", f"request body is not valid JSON{where}") from None
    try:
        req = DocumentsRequest.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "invalid-request", validation_message(exc.errors())) from None
    if len(req.documents) > settings.max_documents:
        raise ApiError(413, "too-many-files", f"{len(req.documents)} documents exceed the limit of {settings.max_documents}")
    up = Upload()
    seen: set[str] = set()
    for doc in req.documents:
        if doc.id in seen:
            raise ApiError(422, "duplicate-id", f"document id {doc.id!r} appears more than once")
        seen.add(doc.id)
        if not doc.text.strip():
            raise ApiError(422, "empty", f"document {doc.id!r}: text is empty")
        up.documents.append(NewDocument(doc.id, text=doc.text, meta=doc.meta))
        up.top_level.add(doc.id)
    return up


async def _read_multipart(request: Request, settings: Settings, input_config: InputConfig) -> Upload:
    parser = MultiPartParser(request.headers, request.stream(), max_files=settings.max_files, max_fields=100,
                             max_part_size=1024 * 1024)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        if "Too many files" in exc.message:
            raise ApiError(413, "too-many-files", f"more than {settings.max_files} files in one request") from None
        raise ApiError(400, "bad-multipart", f"malformed multipart body: {exc.message}") from None
    try:
        uploads = [v for k, v in form.multi_items() if isinstance(v, UploadFile)]
        others = [k for k, v in form.multi_items() if not isinstance(v, UploadFile)]
        if not uploads:
            hint = f" (got fields: {', '.join(sorted(set(others)))})" if others else ""
            raise ApiError(422, "no-files", f"multipart body has no file parts; send one or more 'files' parts{hint}")
        for i, up in enumerate(uploads, start=1):
            ctype = (up.content_type or "").lower()
            if ctype.startswith(REFUSED_MAIN_TYPES):
                raise ApiError(415, "unsupported-media-type",
                               f"{safe_name(up.filename, i)}: {ctype} is not a text, HTML or archive file")
        return await _expand(uploads, settings, input_config)
    finally:
        await form.close()


async def _expand(uploads: list[UploadFile], settings: Settings, input_config: InputConfig) -> Upload:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_expand_sync, uploads, settings, input_config)


def _expand_sync(uploads: list[UploadFile], settings: Settings, input_config: InputConfig) -> Upload:
    out = Upload()
    cfg = replace(input_config, max_archive_members=min(input_config.max_archive_members, settings.max_files))
    leaves = 0
    with tempfile.TemporaryDirectory(prefix="cleaner-upload-") as tmp:
        for i, up in enumerate(uploads, start=1):
            name = safe_name(up.filename, i)
            suffix = "".join(Path(name).suffixes[-2:]) if name.lower().endswith((".tar.gz", ".tar.bz2", ".tar.xz")) else Path(name).suffix
            path = Path(tmp) / f"u{i}{suffix[:16]}"
            up.file.seek(0)
            with open(path, "wb") as fh:
                while chunk := up.file.read(1 << 20):
                    fh.write(chunk)
            out.top_level.add(name)
            prefix = str(path)
            for ref in plan_inputs([path], cfg):
                leaves += 1
                if leaves > settings.max_files:
                    raise ApiError(413, "too-many-files",
                                   f"uploads expand to more than {settings.max_files} files (archive members count)")
                leaf = name + ref.name[len(prefix):] if ref.name.startswith(prefix) else name
                ref = replace(ref, name=leaf)
                try:
                    data = read_input(ref, cfg)
                except InputError as exc:
                    problem = exc.problem
                    message = problem.message.replace(prefix, name)
                    if leaf == name:  # the upload itself, not a member
                        status = 413 if problem.code in ("too-large", "too-many-members") else 422
                        raise ApiError(status, problem.code, message) from None
                    out.problems.append((leaf, replace(problem, message=message), ref.size or 0))
                    continue
                out.documents.append(NewDocument(leaf, data=data))
    return out
