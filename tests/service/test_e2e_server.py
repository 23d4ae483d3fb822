"""Through a real server: ``cleaner serve`` as a process on a free loopback port."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time

import httpx

from cleaner.store import Store

from .conftest import SPEECH
from .test_collections import edited, speech


def test_clean_and_collections_over_http(server_factory, seed_bytes):
    srv = server_factory(None, {"CLEANER_LOG_LEVEL": "info"}).start()
    with httpx.Client(base_url=srv.url, timeout=60) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        assert c.get("/docs").status_code == 200
        assert "/v1/clean" in c.get("/openapi.json").json()["paths"]
        name, data = next(iter(seed_bytes.items()))
        r = c.post("/v1/clean", files=[("files", (name, data, "text/plain"))])
        assert r.status_code == 200 and r.json()["articles"]
        r = c.post("/v1/collections/web/files", json={"documents": [{"id": "a", "text": SPEECH}]})
        assert r.status_code == 200 and len(r.json()["created"]) == 1
        assert c.post("/v1/clean", content=b"{", headers={"content-type": "application/json"}).status_code == 422
        metrics = c.get("/metrics").text
        assert 'cleaner_http_requests_total{method="POST",route="/v1/clean",status="200"} 1' in metrics
        assert "cleaner_http_request_duration_seconds_bucket" in metrics
        assert 'cleaner_articles_total{kind="created"} 1' in metrics
        assert "cleaner_removals_total" in metrics
    srv.stop()
    lines = [json.loads(ln) for ln in srv.log.read_text(encoding="utf-8").splitlines() if ln.strip()]  # all JSON
    access = [ln for ln in lines if ln["logger"] == "cleaner.access"]
    assert any(ln["route"] == "/v1/clean" and ln["status"] == 200 and ln["ms"] > 0 for ln in access)


def test_healthz_answers_during_a_large_clean(server_factory, seed_bytes):
    srv = server_factory().start()
    files = [("files", (f"{i}-{n}", d, "text/plain")) for i in range(12) for n, d in seed_bytes.items()]
    done: dict[str, float] = {}

    def big() -> None:
        t = time.perf_counter()
        r = httpx.post(srv.url + "/v1/clean", files=files, timeout=120)
        assert r.status_code == 200
        done["clean"] = time.perf_counter() - t

    th = threading.Thread(target=big)
    th.start()
    time.sleep(0.3)  # the clean is under way
    worst = 0.0
    with httpx.Client(base_url=srv.url, timeout=10) as c:
        while th.is_alive() and worst < 5:
            t = time.perf_counter()
            assert c.get("/healthz").status_code == 200
            worst = max(worst, time.perf_counter() - t)
            time.sleep(0.05)
    th.join()
    assert done["clean"] > 0.5, "the clean was too small to prove anything"
    assert worst < 0.5, f"/healthz took {worst:.3f}s during a {done['clean']:.1f}s clean"


def test_sigkill_mid_ingest_loses_nothing_acknowledged(server_factory, tmp_path):
    db = tmp_path / "crash.sqlite3"
    srv = server_factory(db).start()
    rng = random.Random(99)
    texts = [speech(rng, tail=None) for _ in range(12)]
    acked: list[dict] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(k: int) -> None:
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            i = 0
            while not stop.is_set():
                text = texts[(i + k) % len(texts)]
                doc = {"id": f"c{k}-{i}", "text": (edited(text) if i % 2 else text) + f"\n第{k}-{i}稿"}
                try:
                    r = c.post("/v1/collections/crash/files", json={"documents": [doc]})
                except httpx.HTTPError:
                    return  # the server died under us: not acknowledged
                if r.status_code // 100 == 2:
                    with lock:
                        acked.append({"doc": doc["id"], "body": r.json()})
                i += 1

    threads = [threading.Thread(target=client, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(acked) < 15 and time.monotonic() < deadline:
        time.sleep(0.02)
    srv.kill()  # SIGKILL, mid-stream
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) >= 15

    srv2 = server_factory(db).start()
    with httpx.Client(base_url=srv2.url, timeout=30) as c:
        for a in acked:
            for rec in a["body"]["created"] + a["body"]["updated"]:
                got = c.get(f"/v1/collections/crash/articles/{rec['id']}")
                # A later ingest may have merged it into another record; the
                # document must still be cited by some record (checked below).
                assert got.status_code in (200, 404)
        exported = [json.loads(ln) for ln in c.get("/v1/collections/crash/export").text.splitlines()]
    cited = {s["file"] for rec in exported for s in rec["sources"]}
    srv2.stop()

    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = {n for (n,) in conn.execute("SELECT name FROM documents WHERE collection='crash'")}
    conn.close()
    for a in acked:
        assert a["doc"] in stored, f"acknowledged document {a['doc']} lost"
        assert a["doc"] in cited, f"acknowledged document {a['doc']} is in no record"
    store = Store(db)
    assert store.check() == []
    store.close()
