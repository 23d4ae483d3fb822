"""Persistent collections: ingest with deduplication against everything stored,
browse, export, delete."""

from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from cleaner.store import CollectionNotFound, DocumentRejected

from ..deps import CollectionName, ConfigDep, LimiterDep, MetricsDep, SettingsDep, StoreDep, require_api_key
from ..errors import ApiError
from ..schemas import (
    ERROR_RESPONSES,
    UPLOAD_BODY,
    ArticlePage,
    ArticleRecord,
    CollectionInfo,
    CollectionList,
    Deleted,
    IngestResponse,
)
from ..uploads import REJECTING_PROBLEMS, read_upload

router = APIRouter(prefix="/v1/collections", tags=["collections"], dependencies=[Depends(require_api_key)])


def _not_found(name: str) -> ApiError:
    return ApiError(404, "collection-not-found", f"no collection named {name!r}")


@router.get("", summary="List collections", response_model=CollectionList, responses=ERROR_RESPONSES)
async def list_collections(store: StoreDep) -> dict[str, Any]:
    return {"collections": await to_thread.run_sync(store.list_collections)}


@router.post(
    "/{name}/files",
    summary="Add files to a collection (deduplicated against everything stored)",
    response_model=IngestResponse,
    responses=ERROR_RESPONSES,
    openapi_extra=UPLOAD_BODY,
)
async def add_files(
    request: Request,
    name: CollectionName,
    settings: SettingsDep,
    config: ConfigDep,
    store: StoreDep,
    metrics: MetricsDep,
    limiter: LimiterDep,
) -> JSONResponse:
    """Creates the collection on first use. A copy of an article already stored
    updates that record (its sources grow, its id stays: ``updated``); other
    articles are ``created``; a file already stored is acknowledged as a
    ``duplicate``. Boilerplate learned from the collection applies to new files."""
    upload = await read_upload(request, settings, config.input)
    try:
        result = await to_thread.run_sync(
            lambda: store.ingest(name, upload.documents, upload.problems, reject=upload.top_level), limiter=limiter
        )
    except DocumentRejected as exc:
        code = exc.problem.code if exc.problem.code in REJECTING_PROBLEMS else "unprocessable"
        msg = exc.problem.message if exc.name in exc.problem.message else f"{exc.name}: {exc.problem.message}"
        raise ApiError(422, code, msg) from None
    metrics.count_records("created", result.created)
    metrics.count_records("updated", result.updated)
    metrics.count_documents([d["status"] for d in result.documents])
    body = {
        "collection": name,
        "created": result.created,
        "updated": result.updated,
        "merged": result.merged,
        "documents": result.documents,
        "report": result.report,
    }
    return JSONResponse(body)


@router.get("/{name}", summary="Describe a collection", response_model=CollectionInfo, responses=ERROR_RESPONSES)
async def get_collection(name: CollectionName, store: StoreDep) -> dict[str, Any]:
    info = await to_thread.run_sync(store.collection_info, name)
    if info is None:
        raise _not_found(name)
    return info


@router.get("/{name}/articles", summary="List a collection's articles", response_model=ArticlePage, responses=ERROR_RESPONSES)
async def list_articles(
    name: CollectionName,
    store: StoreDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=10_000, description="page size (capped by the server's max_page_size)")] = 50,
    cursor: Annotated[str | None, Query(max_length=200, description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    limit = min(limit, settings.max_page_size)
    try:
        page, nxt = await to_thread.run_sync(store.list_records, name, limit, cursor)
    except CollectionNotFound:
        raise _not_found(name) from None
    return {"collection": name, "articles": page, "next_cursor": nxt}


@router.get(
    "/{name}/articles/{article_id}",
    summary="One article, with provenance",
    response_model=ArticleRecord,
    responses=ERROR_RESPONSES,
)
async def get_article(name: CollectionName, article_id: str, store: StoreDep) -> JSONResponse:
    try:
        rec = await to_thread.run_sync(store.get_record, name, article_id)
    except CollectionNotFound:
        raise _not_found(name) from None
    if rec is None:
        raise ApiError(404, "article-not-found", f"no article {article_id[:100]!r} in collection {name!r}")
    return JSONResponse(rec)


@router.get(
    "/{name}/export",
    summary="Every article as NDJSON (one record per line)",
    responses={**ERROR_RESPONSES, 200: {"content": {"application/x-ndjson": {}}, "description": "records"}},
    response_class=StreamingResponse,
)
async def export(name: CollectionName, store: StoreDep) -> StreamingResponse:
    if not await to_thread.run_sync(store.exists, name):
        raise _not_found(name)

    def lines() -> Any:
        for text in store.iter_records(name):
            yield text.encode("utf-8") + b"\n"

    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{name}.jsonl"'},
    )


@router.delete("/{name}", summary="Delete a collection and everything in it", response_model=Deleted, responses=ERROR_RESPONSES)
async def delete_collection(name: CollectionName, store: StoreDep) -> dict[str, Any]:
    if not await to_thread.run_sync(store.delete_collection, name):
        raise _not_found(name)
    return {"deleted": name}


