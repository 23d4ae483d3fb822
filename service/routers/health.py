"""Liveness, readiness, metrics."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, PlainTextResponse

from ..deps import MetricsDep, StoreDep, require_api_key
from ..schemas import ERROR_RESPONSES, Health

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers", response_model=Health)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the store answers",
    response_model=Health,
    responses={503: {"model": Health, "description": "store unreachable"}},
)
async def readyz(store: StoreDep) -> JSONResponse:
    ok = await to_thread.run_sync(store.ping)
    return JSONResponse({"status": "ok" if ok else "store unavailable"}, status_code=200 if ok else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics (text format)",
    response_class=PlainTextResponse,
    dependencies=[Depends(require_api_key)],
    responses={401: ERROR_RESPONSES[401]},
)
async def metrics(m: MetricsDep) -> PlainTextResponse:
    return PlainTextResponse(m.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
