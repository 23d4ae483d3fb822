"""Bad input never gets a 500: each refusal is a JSON error naming the problem."""

from __future__ import annotations

import io
import zipfile

import pytest
from fastapi.testclient import TestClient

from .conftest import SPEECH


def err(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]


def test_body_too_large_by_content_length(app_factory):
    with TestClient(app_factory(max_body_bytes=1000)) as c:
        e = err(c.post("/v1/clean", files=[("files", ("a.txt", b"x" * 5000, "text/plain"))]), 413, "body-too-large")
        assert "1000" in e["message"]


def test_body_too_large_while_streaming(app_factory):
    def chunks():
        for _ in range(20):
            yield b'{"documents": [' + b" " * 500

    with TestClient(app_factory(max_body_bytes=1000)) as c:  # chunked: no Content-Length
        err(c.post("/v1/clean", content=chunks(), headers={"content-type": "application/json"}), 413, "body-too-large")
        assert c.get("/healthz").status_code == 200


def test_too_many_files(app_factory):
    with TestClient(app_factory(max_files=2)) as c:
        files = [("files", (f"{i}.txt", SPEECH.encode(), "text/plain")) for i in range(3)]
        err(c.post("/v1/clean", files=files), 413, "too-many-files")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for i in range(3):
                zf.writestr(f"{i}.txt", SPEECH)
        err(c.post("/v1/clean", files=[("files", ("a.zip", buf.getvalue(), "application/zip"))]), 413)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"content": b"hello", "headers": {"content-type": "text/plain"}},
        {"content": b"a=1", "headers": {"content-type": "application/x-www-form-urlencoded"}},
        {"content": b"hello"},
        {"files": [("files", ("a.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png"))]},
    ],
)
def test_unsupported_media_type(client, kwargs):
    err(client.post("/v1/clean", **kwargs), 415, "unsupported-media-type")


def test_binary_and_empty_files_are_named(client):
    e = err(client.post("/v1/clean", files=[("files", ("photo.bin", b"\x89PNG\r\n\x1a\n" + b"\0" * 300, "application/octet-stream"))]), 422, "binary")
    assert "photo.bin" in e["message"]
    e = err(client.post("/v1/clean", files=[("files", ("nothing.txt", b"", "text/plain"))]), 422, "empty")
    assert "nothing.txt" in e["message"]
    e = err(client.post("/v1/collections/c/files", files=[("files", ("ok.txt", SPEECH.encode(), "text/plain")),
                                                          ("files", ("junk.dat", bytes(range(256)) * 8, "application/octet-stream"))]), 422)
    assert "junk.dat" in e["message"]
    err(client.get("/v1/collections/c"), 404)  # nothing was stored


def test_not_an_archive(client):
    e = err(client.post("/v1/clean", files=[("files", ("a.zip", b"PK\x03\x04garbage", "application/zip"))]), 422)
    assert "a.zip" in e["message"]


@pytest.mark.parametrize(
    "body",
    [b"{bad json", b"[]", b'{"documents": []}', b'{"documents": [{"id": "a"}]}', b'{"documents": [{"id": 1, "text": "x"}]}',
     b'{"documents": [{"id": "a", "text": "   "}]}', b'{"documents": "x"}', b"\xff\xfe", b'{"docs": []}'],
)
def test_malformed_json(client, body):
    err(client.post("/v1/clean", content=body, headers={"content-type": "application/json"}), 422)


def test_duplicate_ids(client):
    doc = {"id": "a", "text": SPEECH}
    err(client.post("/v1/clean", json={"documents": [doc, doc]}), 422, "duplicate-id")


def test_multipart_without_files(client):
    r = client.post("/v1/clean", content=b"--xyz\r\ngarbage", headers={"content-type": "multipart/form-data; boundary=xyz"})
    err(r, r.status_code if r.status_code in (400, 422) else 400)
    err(client.post("/v1/clean", content=b"x", headers={"content-type": "multipart/form-data"}), 400, "bad-multipart")
    r = client.post("/v1/clean", files={"notfiles": (None, "text")})
    err(r, 422, "no-files")


def test_unknown_things_are_404(client):
    err(client.get("/v1/collections/none/articles"), 404, "collection-not-found")
    client.post("/v1/collections/c/files", json={"documents": [{"id": "a", "text": SPEECH}]})
    err(client.get("/v1/collections/c/articles/a-nope"), 404, "article-not-found")
    err(client.get("/v1/nothing-here"), 404, "not-found")
    err(client.delete("/v1/clean"), 405, "method-not-allowed")


@pytest.mark.parametrize("name", ["..", ".hidden", "a" * 65, "a b", "a%2F..%2Fb", "-x", "名字"])
def test_invalid_collection_names(client, name):
    r = client.get(f"/v1/collections/{name}/articles")
    # Path tricks do not even route (404); other bad names are named (422).
    err(r, 404 if name in ("..", "a%2F..%2Fb") else 422, None if name in ("..", "a%2F..%2Fb") else "invalid-collection-name")
    r = client.post(f"/v1/collections/{name}/files", json={"documents": [{"id": "a", "text": SPEECH}]})
    assert r.status_code in (404, 422)


def test_bad_query_values(client):
    err(client.post("/v1/clean?script=klingon", json={"documents": [{"id": "a", "text": SPEECH}]}), 422, "invalid-request")
    err(client.get("/v1/collections/c/articles?limit=0"), 422, "invalid-request")


def test_a_full_temporary_folder_is_507_json(client, monkeypatch):
    import errno
    import os

    import cleaner.spill as spill

    def full(fd, data, offset):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(spill.os, "pwrite", full)
    files = [("files", (f"{i}.txt", SPEECH.encode(), "text/plain")) for i in range(2)]
    e = err(client.post("/v1/clean", files=files), 507, "insufficient-storage")
    assert "temporary" in e["message"] and "/" not in e["message"]  # no server path leaks out
