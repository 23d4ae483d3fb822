"""Collections that remember: dedup across ingests with id continuity, learned
boilerplate, browsing, export, deletion, persistence, concurrency."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path

from fastapi.testclient import TestClient

from cleaner.pipeline import clean_texts
from cleaner.store import Store

from .conftest import SEEDS, make_settings
from service.main import create_app

CASES = json.loads((Path(__file__).parents[1] / "cases" / "boilerplate.json").read_text(encoding="utf-8"))
TRAILER = CASES["learned_trailer"]
PARAGRAPHS = [
    ln
    for p in sorted(SEEDS.glob("*.txt"))
    for ln in p.read_text(encoding="utf-8").split("\n")
    if 80 < len(ln) < 400 and ln.endswith("。") and "?" not in ln and "www" not in ln and "权属" not in ln
]


def speech(rng: random.Random, n: int = 6, tail: str | None = TRAILER) -> str:
    title = f"在第{rng.randrange(1, 99)}次工作会议上的讲话"
    body = "\n".join(["同志们:", *rng.sample(PARAGRAPHS, n)])
    return f"{title}\n{body}" + (f"\n{tail}" if tail else "")


def edited(text: str) -> str:
    """A scraped copy: a name masked, a stray ? at a line end, a sentence dropped."""
    lines = text.split("\n")
    lines[2] = lines[2][: len(lines[2]) // 2] + "XX" + lines[2][len(lines[2]) // 2 + 2 :]
    lines[3] = lines[3] + "?"
    del lines[4]
    return "\n".join(lines)


def ingest(client: TestClient, name: str, docs: list[dict]) -> dict:
    r = client.post(f"/v1/collections/{name}/files", json={"documents": docs})
    assert r.status_code == 200, r.text
    return r.json()


def test_a_repeat_updates_the_stored_article_and_learned_boilerplate_applies(client):
    rng = random.Random(7)
    day1 = [{"id": f"day1-{i}", "text": speech(rng)} for i in range(4)]
    first = ingest(client, "speeches", day1)
    assert len(first["created"]) == 4 and not first["updated"]
    assert TRAILER not in "".join(r["text"] for r in first["created"])  # learned across unrelated speeches
    target = next(r for r in first["created"] if r["sources"][0]["file"] == "day1-1")

    lone = speech(rng)
    assert TRAILER in clean_texts([{"id": "x", "text": lone}]).records()[0]["text"]  # alone it is not known noise
    day2 = [{"id": "day2-copy", "text": edited(day1[1]["text"])}, {"id": "day2-new", "text": lone}]
    second = ingest(client, "speeches", day2)
    [updated] = second["updated"]
    assert updated["id"] == target["id"]
    assert {s["file"] for s in updated["sources"]} == {"day1-1", "day2-copy"}
    [created] = second["created"]
    assert {s["file"] for s in created["sources"]} == {"day2-new"}
    assert TRAILER not in created["text"]  # the collection's learned boilerplate applied
    assert any(r["rule"].startswith("learned-block:") for r in created["removed"])
    assert [d["status"] for d in second["documents"]] == ["added", "added"]

    page = client.get("/v1/collections/speeches/articles").json()
    assert len(page["articles"]) == 5 and page["next_cursor"] is None
    rec = client.get(f"/v1/collections/speeches/articles/{target['id']}").json()
    assert rec == updated
    info = client.get("/v1/collections/speeches").json()
    assert info["documents"] == 6 and info["records"] == 5 and info["learned_rules"] >= 1


def test_same_file_again_is_idempotent_and_name_clash_is_renamed(client):
    rng = random.Random(1)
    doc = {"id": "a.txt", "text": speech(rng, tail=None)}
    first = ingest(client, "c", [doc])
    again = ingest(client, "c", [doc])
    assert again["created"] == [] and again["updated"] == []
    assert again["documents"] == [{"name": "a.txt", "status": "duplicate", "stored_as": "a.txt",
                                   "sha256": first["documents"][0]["sha256"]}]
    other = ingest(client, "c", [{"id": "a.txt", "text": speech(rng, tail=None)}])
    [d] = other["documents"]
    assert d["status"] == "added" and d["name"].startswith("a~") and d["uploaded_as"] == "a.txt"
    assert other["created"][0]["sources"][0]["file"] == d["name"]


def test_seed_files_day_by_day_match_one_batch(client, seed_bytes):
    """Ingesting the seeds one file per request ends with as many records as
    cleaning them all at once, and every stored part in exactly one record."""
    for name, data in seed_bytes.items():
        r = client.post("/v1/collections/seeds/files", files=[("files", (name, data, "text/plain"))])
        assert r.status_code == 200, r.text
    from cleaner.pipeline import Cleaner

    c = Cleaner()
    for name, data in seed_bytes.items():
        c.add_bytes(name, data)
    batch = c.finish().records()
    lines = client.get("/v1/collections/seeds/export").text.splitlines()
    stored = [json.loads(ln) for ln in lines]
    assert abs(len(stored) - len(batch)) <= 1
    parts = [(s["file"], s["article"]) for rec in stored for s in rec["sources"]]
    assert len(parts) == len(set(parts))
    assert client.app.state.store.check() == []


def test_pagination_export_and_delete(client):
    rng = random.Random(3)
    ingest(client, "p", [{"id": f"d{i}", "text": speech(rng, tail=None)} for i in range(7)])
    seen, cursor = [], None
    while True:
        page = client.get("/v1/collections/p/articles", params={"limit": 3, **({"cursor": cursor} if cursor else {})}).json()
        seen += [a["id"] for a in page["articles"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 7 and seen == sorted(seen)
    r = client.get("/v1/collections/p/export")
    assert r.headers["content-type"].startswith("application/x-ndjson")
    assert sorted(json.loads(ln)["id"] for ln in r.text.splitlines()) == seen
    assert client.get("/v1/collections").json()["collections"][0]["name"] == "p"
    assert client.delete("/v1/collections/p").json() == {"deleted": "p"}
    for path in ("/v1/collections/p/articles", "/v1/collections/p/export", f"/v1/collections/p/articles/{seen[0]}"):
        assert client.get(path).status_code == 404
    assert client.delete("/v1/collections/p").status_code == 404


def test_everything_is_still_there_after_a_restart(tmp_path):
    rng = random.Random(5)
    docs = [{"id": f"d{i}", "text": speech(rng)} for i in range(4)]
    settings = make_settings(tmp_path)
    with TestClient(create_app(settings)) as c:
        first = ingest(c, "keep", docs)
    with TestClient(create_app(settings)) as c:  # a new process would do the same
        store = c.app.state.store
        assert len(store._indexes["keep"].lsh) == 4  # index rebuilt from stored signatures
        target = next(r for r in first["created"] if r["sources"][0]["file"] == "d2")
        second = ingest(c, "keep", [{"id": "copy", "text": edited(docs[2]["text"])}])
        assert [r["id"] for r in second["updated"]] == [target["id"]]
        assert store.learned("keep")


def test_signatures_made_another_way_are_recomputed_on_open(tmp_path):
    # A store written with another MinHash scheme (an older release's
    # default, say): its signatures would never collide with new ones.
    from cleaner.config import CleanConfig, ClusterConfig
    from cleaner.store import NewDocument

    rng = random.Random(23)
    base = speech(rng, tail=None)
    db = tmp_path / "old.sqlite3"
    old = Store(db, CleanConfig(cluster=ClusterConfig(scheme="affine32")))
    first = old.ingest("s", [NewDocument("orig", text=base)])
    old.close()
    store = Store(db)
    conn = store._conn()
    assert conn.execute("SELECT value FROM meta WHERE key='sketch'").fetchone()[0].startswith("oph32/")
    (text, sig), = conn.execute("SELECT json, sig FROM records WHERE collection='s'").fetchall()
    _, _, fresh, _ = store._sketch([json.loads(text)["text"]])
    assert bytes(sig) == fresh[0].astype("uint64").tobytes()
    second = store.ingest("s", [NewDocument("copy", text=edited(base))])
    assert [r["id"] for r in second.updated] == [r["id"] for r in first.created]
    store.close()


def test_a_truncated_copy_is_found_by_containment(client):
    rng = random.Random(11)
    full = speech(rng, n=10, tail=None)
    ingest(client, "t", [{"id": "full", "text": full}])
    lines = full.split("\n")
    piece = "\n".join(lines[:1] + lines[1:6])
    second = ingest(client, "t", [{"id": "piece", "text": piece}])
    assert len(second["updated"]) == 1 and not second["created"]
    assert {s["file"] for s in second["updated"][0]["sources"]} == {"full", "piece"}


def test_concurrent_ingests_into_one_collection(tmp_path):
    rng = random.Random(13)
    base = [speech(rng, tail=None) for _ in range(6)]
    store = Store(tmp_path / "conc.sqlite3")
    from cleaner.store import NewDocument

    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for i, text in enumerate(base):
                closing = ["谢谢大家!", "谢谢!", "散会。", "完。"][k]
                store.ingest("shared", [NewDocument(f"w{k}-{i}", text=(edited(text) if k % 2 else text) + "\n" + closing)])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    info = store.collection_info("shared")
    assert info["documents"] == 24
    assert info["records"] == 6  # every copy found its speech, whatever the interleaving
    assert store.check() == []
    store.close()


def test_export_streams_across_batches_and_threads(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from cleaner.store import NewDocument

    rng = random.Random(17)
    store = Store(tmp_path / "exp.sqlite3")
    store.ingest("e", [NewDocument(f"d{i}", text=speech(rng, tail=None)) for i in range(5)])
    gen = store.iter_records("e", batch=2)
    with ThreadPoolExecutor(4) as pool:  # as StreamingResponse resumes it: any worker thread
        lines = []
        while True:
            item = pool.submit(next, gen, None).result()
            if item is None:
                break
            lines.append(json.loads(item)["id"])
    assert len(lines) == 5 and lines == sorted(lines)
    store.close()
