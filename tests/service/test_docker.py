"""No Docker engine runs here: check the Dockerfile against what the test suite
itself installs and runs (same extras as the Makefile's venv, non-root user, the
HEALTHCHECK command works against a real server, the CMD refuses a keyless bind)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib

from .conftest import ROOT

DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _extras(spec: str) -> set[str]:
    m = re.search(r"\.\[([a-z0-9_,-]+)\]", spec)
    assert m, spec
    return set(m.group(1).split(","))


def test_install_step_matches_the_test_venv():
    runs = [rest for word, rest in _instructions() if word == "RUN" and "pip install" in rest]
    assert len(runs) == 1
    docker_extras = _extras(runs[0])
    make = (ROOT / "Makefile").read_text(encoding="utf-8")
    make_line = next(ln for ln in make.splitlines() if "pip install" in ln and "-e" in ln)
    assert docker_extras <= _extras(make_line), "the image installs extras the tested venv does not"
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    assert docker_extras <= set(extras) and "service" in docker_extras


def test_base_user_cmd():
    ins = _instructions()
    assert ins[0] == ("FROM", "python:3.11-slim")
    users = [rest for word, rest in ins if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    cmd = json.loads(next(rest for word, rest in ins if word == "CMD"))
    assert cmd == ["cleaner", "serve", "--host", "0.0.0.0"]
    assert not any(word == "ENTRYPOINT" for word, _ in ins)


def test_healthcheck_command_against_a_real_server(server_factory):
    hc = next(rest for word, rest in _instructions() if word == "HEALTHCHECK")
    argv = json.loads(hc[hc.index("CMD") + 3 :].strip())
    assert argv[0] == "python"
    srv = server_factory().start()
    env = {**os.environ, "CLEANER_PORT": str(srv.port)}
    ok = subprocess.run([sys.executable, *argv[1:]], env=env, timeout=30)
    assert ok.returncode == 0
    srv.stop()
    down = subprocess.run([sys.executable, *argv[1:]], env=env, timeout=30, capture_output=True)
    assert down.returncode != 0


def test_container_cmd_without_keys_exits_with_a_message(tmp_path):
    cmd = json.loads(next(rest for word, rest in _instructions() if word == "CMD"))
    env = {**os.environ, "CLEANER_API_KEYS": "", "CLEANER_DB_PATH": str(tmp_path / "d.sqlite3")}
    p = subprocess.run([sys.executable, "-m", "cleaner.cli", *cmd[1:]], env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "CLEANER_API_KEYS" in p.stderr
