"""Dependencies: the long-lived objects the lifespan built, the API-key check,
and collection-name validation."""

from __future__ import annotations

import hmac
import re
from typing import Annotated

import anyio
from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cleaner.config import CleanConfig
from cleaner.store import Store

from .errors import ApiError
from .observability import Metrics
from .settings import Settings

COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

_bearer = HTTPBearer(auto_error=False, description="one of CLEANER_API_KEYS (when configured)")


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_config(request: Request) -> CleanConfig:
    return request.app.state.config


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


def get_limiter(request: Request) -> anyio.CapacityLimiter:
    return request.app.state.limiter


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
ConfigDep = Annotated[CleanConfig, Depends(get_config)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
LimiterDep = Annotated[anyio.CapacityLimiter, Depends(get_limiter)]


def require_api_key(
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """401 unless a configured key is presented as ``Authorization: Bearer KEY``."""
    if not settings.api_keys:
        return
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiError(401, "unauthorized", "missing API key: send Authorization: Bearer <key>", challenge)
    given = credentials.credentials.encode()
    if not any(hmac.compare_digest(given, k.encode()) for k in settings.api_keys):
        raise ApiError(401, "unauthorized", "invalid API key", challenge)


def collection_name(
    name: Annotated[
        str,
        Path(
            description="collection name: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            json_schema_extra={"pattern": COLLECTION_NAME.pattern},
        ),
    ],
) -> str:
    if not COLLECTION_NAME.fullmatch(name):
        raise ApiError(
            422, "invalid-collection-name",
            f"collection name {name[:80]!r} is invalid: 1-64 characters of letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
        )
    return name


CollectionName = Annotated[str, Depends(collection_name)]
