"""API keys, refusing unsafe binds, archive traversal and bombs through the API."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile

import pytest
from fastapi.testclient import TestClient

from service.settings import Settings

from .conftest import SPEECH

DOC = {"documents": [{"id": "a", "text": SPEECH}]}


@pytest.fixture
def keyed(app_factory):
    with TestClient(app_factory(api_keys="k1,k2")) as c:
        yield c


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic azE6"}, {"Authorization": "k1"}])
def test_missing_or_wrong_key_is_401(keyed, headers):
    for method, path, kw in [("post", "/v1/clean", {"json": DOC}), ("get", "/v1/collections", {}),
                             ("get", "/v1/collections/x/articles", {}), ("delete", "/v1/collections/x", {}),
                             ("get", "/metrics", {})]:
        r = getattr(keyed, method)(path, headers=headers, **kw)
        assert r.status_code == 401, (path, r.text)
        assert r.json()["error"]["code"] == "unauthorized"
        assert r.headers["www-authenticate"] == "Bearer"


def test_right_key_passes_and_probes_are_exempt(keyed):
    assert keyed.post("/v1/clean", json=DOC, headers={"Authorization": "Bearer k2"}).status_code == 200
    assert keyed.get("/healthz").status_code == 200
    assert keyed.get("/readyz").status_code == 200


def test_api_keys_from_the_environment(monkeypatch):
    monkeypatch.setenv("CLEANER_API_KEYS", " alpha , beta ")
    monkeypatch.setenv("CLEANER_MAX_BODY_BYTES", "1234")
    s = Settings()
    assert s.api_keys == ["alpha", "beta"] and s.max_body_bytes == 1234


@pytest.mark.parametrize(
    "kw,refused",
    [({"host": "0.0.0.0"}, True), ({"host": "192.168.1.5"}, True), ({"host": "0.0.0.0", "insecure": True}, False),
     ({"host": "0.0.0.0", "api_keys": "k"}, False), ({"host": "127.0.0.1"}, False), ({"host": "::1"}, False),
     ({"host": "localhost"}, False)],
)
def test_bind_refusal(kw, refused):
    assert (Settings(**kw).bind_refusal() is not None) is refused


def test_serve_refuses_a_public_bind_without_keys(tmp_path):
    p = subprocess.run([sys.executable, "-m", "cleaner.cli", "serve", "--host", "0.0.0.0", "--db", str(tmp_path / "x.db")],
                       capture_output=True, text=True, timeout=60, env={"PATH": "", "CLEANER_API_KEYS": ""})
    assert p.returncode == 2
    assert "--insecure" in p.stderr and "CLEANER_API_KEYS" in p.stderr
    assert not (tmp_path / "x.db").exists()


def test_archive_traversal_and_bomb_members_are_refused(client):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ok.txt", SPEECH)
        zf.writestr("../../outside.txt", SPEECH)
        zf.writestr("/etc/abs.txt", SPEECH)
        zf.writestr("bomb.txt", b"\0" * (3 * 1024 * 1024))  # 3 MiB of zeros: ratio far over 200:1
    r = client.post("/v1/collections/z/files", files=[("files", ("up.zip", buf.getvalue(), "application/zip"))])
    assert r.status_code == 200, r.text
    files = {f["file"]: f for f in r.json()["report"]["files"]}
    assert files["up.zip!../../outside.txt"]["problems"][0]["code"] == "unsafe-path"
    assert files["up.zip!/etc/abs.txt"]["problems"][0]["code"] == "unsafe-path"
    assert files["up.zip!bomb.txt"]["problems"][0]["code"] == "zip-bomb"
    stored = [d["name"] for d in client.app.state.store.documents("z")]
    assert stored == ["up.zip!ok.txt"]
