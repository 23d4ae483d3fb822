"""Metrics (Prometheus text, written by hand), JSON-lines logs, and the two
ASGI wrappers every request passes: the body-size limit and the request meter."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections import Counter
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import BodyTooLarge, error_body

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and extras."""

    _SKIP = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k, v in record.__dict__.items():
            if k not in self._SKIP:
                out[k] = v
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def setup_logging(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("cleaner", "uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers[:] = [handler]
        lg.setLevel(level.upper())
        lg.propagate = False
    logging.getLogger("uvicorn.access").disabled = True  # our access log is structured


def _esc(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Counters and a latency histogram, rendered in Prometheus text format."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str, int]] = Counter()
        self.latency: dict[tuple[str, str], list[float]] = {}  # bucket counts + [sum, count]
        self.articles: Counter[str] = Counter()  # endpoint kind -> records produced
        self.removals: Counter[str] = Counter()  # reason -> spans removed
        self.documents: Counter[str] = Counter()  # status -> documents
        self.in_flight = 0

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(method, route, status)] += 1
            h = self.latency.setdefault((method, route), [0.0] * (len(LATENCY_BUCKETS) + 2))
            for i, b in enumerate(LATENCY_BUCKETS):
                if seconds <= b:
                    h[i] += 1
            h[-2] += seconds
            h[-1] += 1

    def count_records(self, kind: str, records: list[dict[str, Any]]) -> None:
        with self._lock:
            self.articles[kind] += len(records)
            for rec in records:
                for rem in rec.get("removed", ()):
                    self.removals[rem.get("reason", "other")] += 1

    def count_documents(self, statuses: list[str]) -> None:
        with self._lock:
            self.documents.update(statuses)

    def render(self) -> str:
        lines: list[str] = []
        with self._lock:
            lines += ["# HELP cleaner_http_requests_total HTTP requests by method, route and status.",
                      "# TYPE cleaner_http_requests_total counter"]
            for (m, r, s), n in sorted(self.requests.items()):
                lines.append(f'cleaner_http_requests_total{{method="{m}",route="{_esc(r)}",status="{s}"}} {n}')
            lines += ["# HELP cleaner_http_request_duration_seconds Request latency.",
                      "# TYPE cleaner_http_request_duration_seconds histogram"]
            for (m, r), h in sorted(self.latency.items()):
                labels = f'method="{m}",route="{_esc(r)}"'
                for i, b in enumerate(LATENCY_BUCKETS):
                    lines.append(f'cleaner_http_request_duration_seconds_bucket{{{labels},le="{b}"}} {int(h[i])}')
                lines.append(f'cleaner_http_request_duration_seconds_bucket{{{labels},le="+Inf"}} {int(h[-1])}')
                lines.append(f"cleaner_http_request_duration_seconds_sum{{{labels}}} {h[-2]:.6f}")
                lines.append(f"cleaner_http_request_duration_seconds_count{{{labels}}} {int(h[-1])}")
            lines += ["# HELP cleaner_http_requests_in_flight Requests being served.",
                      "# TYPE cleaner_http_requests_in_flight gauge", f"cleaner_http_requests_in_flight {self.in_flight}"]
            lines += ["# HELP cleaner_articles_total Canonical records returned, by endpoint kind.",
                      "# TYPE cleaner_articles_total counter"]
            for k, n in sorted(self.articles.items()):
                lines.append(f'cleaner_articles_total{{kind="{k}"}} {n}')
            lines += ["# HELP cleaner_removals_total Removed spans in returned records, by reason.",
                      "# TYPE cleaner_removals_total counter"]
            for k, n in sorted(self.removals.items()):
                lines.append(f'cleaner_removals_total{{reason="{_esc(k)}"}} {n}')
            lines += ["# HELP cleaner_documents_total Documents offered to collections, by outcome.",
                      "# TYPE cleaner_documents_total counter"]
            for k, n in sorted(self.documents.items()):
                lines.append(f'cleaner_documents_total{{status="{_esc(k)}"}} {n}')
        return "\n".join(lines) + "\n"


class RequestMeter:
    """ASGI wrapper: counts requests by route template and status, times them,
    and writes one structured access-log line each."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        self.log = logging.getLogger("cleaner.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        self.metrics.in_flight += 1

        async def _send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            self.metrics.in_flight -= 1
            elapsed = time.perf_counter() - start
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope["method"], template, status, elapsed)
            self.log.info(
                "%s %s %s", scope["method"], scope["path"], status,
                extra={"method": scope["method"], "path": scope["path"], "route": template,
                       "status": status, "ms": round(elapsed * 1000, 2),
                       "client": (scope.get("client") or ("", 0))[0]},
            )


class BodyLimit:
    """ASGI wrapper: refuses bodies over ``max_bytes`` (413), by Content-Length
    up front and by counting bytes while the app reads (chunked uploads)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for k, v in scope.get("headers", ()):
            if k == b"content-length":
                try:
                    declared = int(v)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes or declared < 0:
                    msg = (f"request body of {declared} bytes exceeds the limit of {self.max_bytes} bytes"
                           if declared >= 0 else "invalid Content-Length header")
                    await _send_json(send, 413 if declared >= 0 else 400,
                                     error_body("body-too-large" if declared >= 0 else "bad-request", msg))
                    return
        seen = 0

        async def _receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, _receive, send)


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": data})
