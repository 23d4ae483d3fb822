"""Fuzz every operation of the API against its own OpenAPI schema (schemathesis,
in-process ASGI): whatever arrives, no 5xx, and responses match the schema."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from service.main import create_app
from service.settings import Settings

_TMP = Path(tempfile.mkdtemp(prefix="cleaner-fuzz-"))
APP = create_app(Settings(db_path=_TMP / "fuzz.sqlite3", warmup=False, max_body_bytes=256 * 1024, max_files=20))
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _cleanup():
    yield
    APP.state.store.close()
    shutil.rmtree(_TMP, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    # No 5xx, and every response (errors included) is what the schema documents.
    # Not run: the negative/positive "data acceptance" checks, which would
    # need the schema to encode every business rule (name patterns, limits).
    case.call_and_validate(checks=[not_a_server_error, response_schema_conformance, content_type_conformance])
