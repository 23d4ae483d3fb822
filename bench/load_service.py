"""Bounded load against ``cleaner serve`` on loopback: requests/s and latency.

Starts its own server (``python -m cleaner.cli serve``) on a free loopback
port with a temporary database, then, for 1, 8 and 32 concurrent clients
(``httpx.AsyncClient``):

* **clean**: ``POST /v1/clean`` with one ~50 KB file (the first 50 KB of
  ``fixtures/seeds/000_4acff1a94245f79e.txt``, cut at a line end);
* **ingest**: ``POST /v1/collections/load-<c>/files`` with one new document
  per request (a speech of 10 seed paragraphs; every fifth an edited copy of
  an earlier one, so the dedup path runs too).

Each run is bounded by a request count and a time limit; any non-2xx or
transport error counts as an error (the target is zero). Loopback only::

    python -m bench.load_service [--requests 200] [--seconds 30] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "fixtures" / "seeds" / "000_4acff1a94245f79e.txt"


def payload_50k() -> bytes:
    data = SEED.read_bytes()[: 50 * 1024]
    return data[: data.rfind(b"\n") + 1]


def paragraphs() -> list[str]:
    return [
        ln
        for p in sorted((ROOT / "fixtures" / "seeds").glob("*.txt"))
        for ln in p.read_text(encoding="utf-8").split("\n")
        if 80 < len(ln) < 400 and ln.endswith("。")
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "CLEANER_LOG_LEVEL": "warning", "CLEANER_API_KEYS": ""}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cleaner.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--db", str(db)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, max(0, int(round(q * (len(v) - 1)))))]


async def run(url: str, concurrency: int, total: int, seconds: float, make_request) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    issued = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        async def worker() -> None:
            nonlocal issued
            while issued < total and time.monotonic() < deadline:
                n = issued
                issued += 1
                method, path, kwargs = make_request(n)
                t = time.perf_counter()
                try:
                    r = await client.request(method, path, **kwargs)
                    if r.status_code // 100 != 2:
                        errors.append(f"{r.status_code}: {r.text[:200]}")
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                latencies.append(time.perf_counter() - t)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - start
    return {
        "concurrency": concurrency,
        "requests": len(latencies),
        "errors": len(errors),
        "error_samples": errors[:3],
        "seconds": round(wall, 2),
        "rps": round(len(latencies) / wall, 1) if wall else 0.0,
        "p50_ms": round(pct(latencies, 0.50) * 1000, 1),
        "p99_ms": round(pct(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=200, help="requests per run (at most)")
    ap.add_argument("--seconds", type=float, default=30.0, help="time limit per run")
    ap.add_argument("--levels", default="1,8,32", help="concurrency levels")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args(argv)

    body = payload_50k()
    paras = paragraphs()
    rng = random.Random(1)
    levels = [int(x) for x in args.levels.split(",")]
    results: dict = {"payload_bytes": len(body), "cpus": os.cpu_count(), "clean": [], "ingest": []}

    with tempfile.TemporaryDirectory(prefix="cleaner-load-") as tmp:
        proc, url = start_server(Path(tmp) / "load.sqlite3")
        try:
            for _ in range(5):  # warm the worker
                httpx.post(url + "/v1/clean", files=[("files", ("seed.txt", body, "text/plain"))], timeout=60)

            def clean_req(n: int):
                return "POST", "/v1/clean", {"files": [("files", (f"seed-{n}.txt", body, "text/plain"))]}

            for c in levels:
                res = asyncio.run(run(url, c, args.requests, args.seconds, clean_req))
                results["clean"].append(res)
                print(f"clean   c={c:>2}: {res['requests']} req, {res['errors']} errors, {res['rps']} req/s, "
                      f"p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms", flush=True)

            for c in levels:
                speeches: list[str] = []

                def ingest_req(n: int, speeches=speeches):
                    if n % 5 == 4 and speeches:
                        base = rng.choice(speeches).split("\n")
                        base[2] = base[2][:10] + "XX" + base[2][12:]
                        del base[-1]
                        text = "\n".join(base) + f"\n(转载{n})"
                    else:
                        text = "\n".join([f"在第{n}次工作会议上的讲话", "同志们:", *rng.sample(paras, 10)])
                        speeches.append(text)
                    return "POST", f"/v1/collections/load-{c}/files", {"json": {"documents": [{"id": f"doc-{n}", "text": text}]}}

                res = asyncio.run(run(url, c, args.requests, args.seconds, ingest_req))
                results["ingest"].append(res)
                print(f"ingest  c={c:>2}: {res['requests']} req, {res['errors']} errors, {res['rps']} req/s, "
                      f"p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms", flush=True)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    errors = sum(r["errors"] for k in ("clean", "ingest") for r in results[k])
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
