"""``POST /v1/clean``: stateless cleaning, the same records as the CLI."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from cleaner.config import CleanConfig
from cleaner.pipeline import Cleaner

from ..deps import ConfigDep, LimiterDep, MetricsDep, SettingsDep, require_api_key
from ..errors import ApiError
from ..schemas import ERROR_RESPONSES, UPLOAD_BODY, CleanResponse, Script
from ..uploads import REJECTING_PROBLEMS, Upload, read_upload

router = APIRouter(prefix="/v1", tags=["clean"], dependencies=[Depends(require_api_key)])


def run_config(config: CleanConfig, script: str, merge: bool) -> CleanConfig:
    config = config.with_script(script)
    if merge != config.cluster.merge:
        config = replace(config, cluster=replace(config.cluster, merge=merge))
    return config


def rejected(upload: Upload, report: Any) -> ApiError | None:
    """The first top-level input that could not be processed at all (binary,
    empty, undecodable), as a 422; archive members only go in the report."""
    for fr in report.files:
        if fr.status == "error" and fr.file in upload.top_level:
            for p in fr.problems:
                if p.code in REJECTING_PROBLEMS:
                    msg = p.message if fr.file in p.message else f"{fr.file}: {p.message}"
                    return ApiError(422, p.code, msg)
    return None


def clean_upload(upload: Upload, config: CleanConfig) -> dict[str, Any]:
    cleaner = Cleaner(config)
    for name, problem, size in upload.problems:
        cleaner.add_problem(name, problem, size)
    for doc in upload.documents:
        doc.feed(cleaner)
    result = cleaner.finish()
    err = rejected(upload, result.report)
    if err is not None:
        raise err
    import time

    result.report.finished = time.time()
    return {"articles": result.records(), "report": result.report.to_dict()}


@router.post(
    "/clean",
    summary="Clean files or documents (stateless)",
    response_model=CleanResponse,
    responses=ERROR_RESPONSES,
    openapi_extra=UPLOAD_BODY,
)
async def clean(
    request: Request,
    settings: SettingsDep,
    config: ConfigDep,
    metrics: MetricsDep,
    limiter: LimiterDep,
    script: Annotated[Script, Query(description="convert output text")] = "original",
    merge: Annotated[bool, Query(description="merge copies into one record (false: one record per article)")] = True,
) -> JSONResponse:
    """Multipart ``files`` (any encoding; .txt, .html, .zip, .tar, .tar.gz) or JSON
    ``{"documents": [{"id", "text"}]}`` in; ``{"articles", "report"}`` out, the
    records exactly as ``cleaner clean`` writes them."""
    upload = await read_upload(request, settings, config.input)
    out = await to_thread.run_sync(clean_upload, upload, run_config(config, script, merge), limiter=limiter)
    metrics.count_records("clean", out["articles"])
    return JSONResponse(out)
