"""The app factory and the server entry point.

``create_app(settings)`` builds the FastAPI app: the store (opened here, its
candidate indexes rebuilt from stored signatures), the cleaning config and the
metrics live on ``app.state`` and reach handlers through ``Depends``; the
lifespan warms the pipeline up and closes the store. ``serve(settings)`` runs
it with uvicorn (``cleaner serve``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from anyio import to_thread
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from cleaner import __version__
from cleaner.config import CleanConfig
from cleaner.pipeline import Cleaner
from cleaner.store import Store

from . import errors
from .observability import BodyLimit, Metrics, RequestMeter, setup_logging
from .routers import clean, collections, health
from .schemas import DocumentsRequest
from .settings import Settings

log = logging.getLogger("cleaner.service")


def _warm_up() -> None:
    c = Cleaner()
    c.add_text("warm-up", "讲话\n同志们:\n今天我们召开全市工作会议,部署下半年的工作任务。")
    c.finish()


def create_app(settings: Settings | None = None, config: CleanConfig | None = None) -> FastAPI:
    settings = settings or Settings()
    config = config or CleanConfig()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.warmup:
            await to_thread.run_sync(_warm_up)
        log.info("ready", extra={"db": str(settings.db_path), "collections": len(app.state.store._indexes)})
        try:
            yield
        finally:
            app.state.store.close()

    app = FastAPI(
        title="cleaner",
        version=__version__,
        description="Clean and deduplicate scraped article collections. See docs/service.md.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.config = config
    app.state.metrics = Metrics()
    app.state.limiter = anyio.CapacityLimiter(settings.clean_threads)
    app.state.store = Store(settings.db_path, config, synchronous=settings.sqlite_synchronous)

    errors.install(app)
    app.include_router(health.router)
    app.include_router(clean.router)
    app.include_router(collections.router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestMeter, metrics=app.state.metrics)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            comps = schema.setdefault("components", {}).setdefault("schemas", {})
            extra = DocumentsRequest.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in extra.pop("$defs", {}).items():
                comps.setdefault(name, sub)
            comps["DocumentsRequest"] = extra
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def serve(settings: Settings) -> int:
    """Run the server until interrupted; refuse unsafe binds (exit code 2)."""
    refusal = settings.bind_refusal()
    if refusal:
        print(f"cleaner serve: error: {refusal}", file=sys.stderr)
        return 2
    import uvicorn

    setup_logging(settings.log_level)
    try:
        app = create_app(settings)
    except Exception as exc:  # e.g. an unwritable database path
        print(f"cleaner serve: error: cannot open the store at {settings.db_path}: {exc}", file=sys.stderr)
        return 1
    log.info("starting", extra={"host": settings.host, "port": settings.port, "db": str(settings.db_path),
                                "auth": bool(settings.api_keys)})
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False,
                log_level=settings.log_level, timeout_graceful_shutdown=10)
    return 0
