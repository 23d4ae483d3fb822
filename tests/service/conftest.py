"""Fixtures for the service tests: an in-process app (TestClient) on a
temporary store, and a real ``cleaner serve`` process on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

warnings.filterwarnings("ignore", message=".*httpx.*starlette.testclient.*")

from fastapi.testclient import TestClient  # noqa: E402

from service.main import create_app  # noqa: E402
from service.settings import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "fixtures" / "seeds"
SPEECH = "工业园区工作会议讲话\n同志们:\n这次全市工业园区建设工作会议开得很好。市长在会上作了主体报告,全面部署了下步工业园区建设。\n"


def make_settings(tmp_path: Path, **kw: object) -> Settings:
    kw.setdefault("db_path", tmp_path / "db.sqlite3")
    kw.setdefault("warmup", False)
    return Settings(**kw)  # type: ignore[arg-type]


@pytest.fixture
def app_factory(tmp_path: Path):
    def make(**kw: object):
        return create_app(make_settings(tmp_path, **kw))

    return make


@pytest.fixture
def client(app_factory) -> Iterator[TestClient]:
    with TestClient(app_factory()) as c:
        yield c


@pytest.fixture(scope="session")
def seed_bytes() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(SEEDS.glob("*.txt"))}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A ``cleaner serve`` subprocess on a free loopback port."""

    def __init__(self, db: Path, env: dict[str, str] | None = None, *args: str) -> None:
        self.db = db
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "CLEANER_LOG_LEVEL": "warning", **(env or {})}
        self.args = args
        self.log = db.parent / f"server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> "Server":
        cmd = [sys.executable, "-m", "cleaner.cli", "serve", "--port", str(self.port), "--db", str(self.db), *self.args]
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=subprocess.DEVNULL, stderr=open(self.log, "wb"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not become ready: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def server_factory(tmp_path: Path):
    started: list[Server] = []

    def make(db: Path | None = None, env: dict[str, str] | None = None, *args: str) -> Server:
        s = Server(db or tmp_path / "server.sqlite3", env, *args)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()
