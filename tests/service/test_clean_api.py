"""POST /v1/clean: the same records as the CLI, multipart or JSON, archives."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile

from cleaner.pipeline import Cleaner, clean_texts

from .conftest import SPEECH


def _records_like_cli(files: dict[str, bytes], **cfg) -> list[dict]:
    c = Cleaner()
    for name, data in files.items():
        c.add_bytes(name, data)
    return c.finish().records()


def test_multipart_files_give_the_cli_records(client, seed_bytes):
    files = {n: seed_bytes[n] for n in list(seed_bytes)[3:5]}
    r = client.post("/v1/clean", files=[("files", (n, d, "text/plain")) for n, d in files.items()])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["articles"] == _records_like_cli(files)
    assert body["report"]["totals"]["inputs"] == 2
    assert {f["file"] for f in body["report"]["files"]} == set(files)


def test_json_documents_give_the_jsonl_records(client):
    docs = [{"id": "d1", "text": SPEECH}, {"id": "d2", "text": SPEECH.replace("很好", "很成功")}]
    r = client.post("/v1/clean", json={"documents": docs})
    assert r.status_code == 200, r.text
    assert r.json()["articles"] == clean_texts(docs).records()
    [rec] = r.json()["articles"]
    assert {s["file"] for s in rec["sources"]} == {"d1", "d2"}


def test_any_encoding(client):
    gbk = SPEECH.encode("gb18030")
    r = client.post("/v1/clean", files=[("files", ("gbk.txt", gbk, "application/octet-stream"))])
    assert r.status_code == 200, r.text
    [rec] = r.json()["articles"]
    assert "工业园区" in rec["text"]
    assert r.json()["report"]["files"][0]["encoding"] == "gb18030"


def test_script_and_merge_options(client):
    docs = [{"id": "d1", "text": SPEECH}, {"id": "d2", "text": SPEECH.replace("很好", "很成功")}]
    r = client.post("/v1/clean?script=traditional", json={"documents": docs[:1]})
    assert "園區" in r.json()["articles"][0]["text"]
    r = client.post("/v1/clean?merge=false", json={"documents": docs})
    recs = r.json()["articles"]
    assert len(recs) == 2 and recs[0]["cluster"] == recs[1]["cluster"]


def test_zip_and_tar_archives_are_expanded_with_member_names(client, seed_bytes):
    name, data = next(iter(seed_bytes.items()))
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"day1/{name}", data)
        zf.writestr("../evil.txt", SPEECH)  # traversal: refused, reported
    tbuf = io.BytesIO()
    with tarfile.open(fileobj=tbuf, mode="w:gz") as tf:
        info = tarfile.TarInfo("speech.txt")
        raw = SPEECH.encode()
        info.size = len(raw)
        tf.addfile(info, io.BytesIO(raw))
    r = client.post(
        "/v1/clean",
        files=[("files", ("scrape.zip", zbuf.getvalue(), "application/zip")),
               ("files", ("more.tar.gz", tbuf.getvalue(), "application/gzip"))],
    )
    assert r.status_code == 200, r.text
    files = {f["file"]: f for f in r.json()["report"]["files"]}
    assert f"scrape.zip!day1/{name}" in files
    assert "more.tar.gz!speech.txt" in files
    evil = files["scrape.zip!../evil.txt"]
    assert evil["status"] == "error" and evil["problems"][0]["code"] == "unsafe-path"
    cited = {s["file"] for a in r.json()["articles"] for s in a["sources"]}
    assert "more.tar.gz!speech.txt" in cited and not any("evil" in c for c in cited)


def test_upload_names_are_never_paths(client):
    r = client.post("/v1/clean", files=[("files", ("../../etc/passwd.txt", SPEECH.encode(), "text/plain"))])
    assert r.status_code == 200
    assert r.json()["report"]["files"][0]["file"] == "passwd.txt"


def test_html_upload(client):
    html = f"<html><head><title>t</title></head><body><article><h1>工作会议讲话</h1>{''.join(f'<p>{p}</p>' for p in SPEECH.splitlines()[1:])}</article></body></html>"
    r = client.post("/v1/clean", files=[("files", ("page.html", html.encode(), "text/html"))])
    assert r.status_code == 200, r.text
    assert r.json()["report"]["files"][0]["status"] in ("ok", "empty")


def test_response_is_json_with_unicode(client):
    r = client.post("/v1/clean", json={"documents": [{"id": "x", "text": SPEECH}]})
    assert r.headers["content-type"].startswith("application/json")
    assert json.loads(r.content)["articles"][0]["title"] == "工业园区工作会议讲话"
